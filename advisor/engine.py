"""The only durable-rules adapter: register a compiled plan, evaluate records, clean up, surface errors.

What durable-rules needs from us (see the project's notes on it):
* a host whose timer threads never run, so every action runs inside our own call;
* facts, not events, each with a unique id, and one fresh session per evaluation that is always
  deleted afterwards; deleting a session in which no action ran crashes the process, so an end
  marker is asserted last and a rule that always matches it proves the evaluation completed;
* actions with exactly one parameter that only record (rule, record); text is rendered later;
* exceptions caught in our own wrapper and raised after the call, because durable swallows them.

An Engine belongs to one thread: durable's C sessions are not safe to share.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .compiler import END_MARKER, Plan, engine_fact, key_sources
from .errors import EngineError
from .facts import Catalogue, Record

try:
    import durable_rules_engine
    from durable import engine as _durable

    _IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - exercised where the extension did not build
    _durable = None
    durable_rules_engine = None
    _IMPORT_ERROR = str(exc)

# durable registers a ruleset name once per process, so every Engine gets fresh names.
_names = itertools.count()
_names_lock = threading.Lock()


def available() -> str | None:
    """None when durable-rules can be used, else why not (for a one-line error)."""
    if _IMPORT_ERROR is None:
        return None
    return (
        f"durable-rules cannot be imported ({_IMPORT_ERROR}); it needs Python 3.11 or 3.12 and a C compiler: "
        "pip install durable-rules"
    )


@dataclass(frozen=True)
class Firing:
    rule_id: str
    record_id: str


@dataclass
class Outcome:
    firings: list[Firing]
    derived: dict[str, dict[str, bool]]  # record id -> derived facts that hold for it


if _durable is not None:

    class _SyncHost(_durable.Host):
        """A host whose timer threads never run: actions run inside our own calls, on our thread."""

        def _run(self) -> None:
            pass


class Engine:
    """A compiled plan registered with durable-rules, ready to evaluate profiles one after another."""

    def __init__(self, plan: Plan, catalogue: Catalogue, on_fire: Callable[[str, str], None] | None = None):
        problem = available()
        if problem:
            raise EngineError(problem)
        self.plan = plan
        self.catalogue = catalogue
        self._host = _SyncHost()
        self._sink: list[tuple[str, str]] | None = None
        self._errors: list[tuple[str, BaseException]] = []
        self._ended = False
        self._ran = False
        self._on_fire = on_fire
        self._thread = threading.get_ident()
        with _names_lock:
            prefix = f"a{next(_names)}"
        self._rulesets: list[tuple[str, Any]] = []
        self._keys = {shard.name: shard.keys for shard in plan.shards}
        self._sources = key_sources(catalogue)
        self._derived_names = frozenset(plan.derived_facts)
        definitions = {}
        for shard in plan.shards:
            name = f"{prefix}_{shard.name}"
            rules = shard.definition()
            ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
            for rule_name, body in rules.items():
                body["run"] = self._end_action() if rule_name == "zz_end" else self._action(ids[rule_name])
            definitions[name] = rules
            self._rulesets.append((name, shard))
        try:
            self._host.register_rulesets(definitions)
        except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
            raise EngineError(f"durable-rules refused the compiled rules: {exc}") from None

    def _action(self, rule_id: str) -> Callable[[Any], None]:
        def action(c):  # exactly one parameter, or durable treats it as asynchronous
            self._ran = True
            try:
                record_id = c.m.id
                if self._on_fire is not None:
                    self._on_fire(rule_id, record_id)
                self._sink.append((rule_id, record_id))
            except BaseException as exc:  # noqa: BLE001 - re-raised after the engine call
                self._errors.append((rule_id, exc))

        return action

    def _end_action(self) -> Callable[[Any], None]:
        def action(c):
            self._ran = True
            self._ended = True

        return action

    def evaluate(self, records: list[Record]) -> Outcome:
        """Fire every rule on every record, stratum by stratum, carrying derived facts forward."""
        if threading.get_ident() != self._thread:
            raise EngineError("an Engine was used from two threads; give each thread its own (Advisor does)")
        derived: dict[str, dict[str, bool]] = {r.id: {} for r in records}
        account_flags: dict[str, bool] = {}
        firings: list[Firing] = []
        seen: set[tuple[str, str]] = set()
        by_scope: dict[str, list[Record]] = {}
        for r in records:
            by_scope.setdefault(r.scope, []).append(r)
        names = {shard.name: name for name, shard in self._rulesets}
        for stratum in self.plan.strata():
            batch: list[tuple[str, str]] = []
            for shard in stratum:
                members = by_scope.get(shard.scope, [])
                if not members:
                    continue
                keys = self._keys[shard.name]
                facts = [
                    engine_fact(r, keys, self._sources, self._derived_names, {**account_flags, **derived[r.id]})
                    for r in members
                ]
                batch.extend(self._run_shard(names[shard.name], shard.rule_ids, facts))
            for rule_id, record_id in batch:
                if (rule_id, record_id) in seen:
                    continue  # overlapping $or branches fire a rule twice on one record
                seen.add((rule_id, record_id))
                firings.append(Firing(rule_id, record_id))
                for name in self.plan.derives.get(rule_id, ()):
                    if name.startswith("account."):
                        account_flags[name] = True
                    else:
                        derived[record_id][name] = True
        for rid in derived:
            derived[rid] = {**account_flags, **derived[rid]}
        return Outcome(firings, derived)

    def _run_shard(self, ruleset: str, rule_ids: list[str], facts: list[dict]) -> list[tuple[str, str]]:
        sid = f"{ruleset}-{next(_names)}"
        sink: list[tuple[str, str]] = []
        self._sink, self._errors, self._ended, self._ran = sink, [], False, False
        host = self._host
        corrupt = False
        try:
            for fact in facts:
                fact["sid"] = sid
                try:
                    state = host.assert_fact(ruleset, fact)
                except _durable.MessageNotHandledException:
                    continue  # this record matches no rule in this shard
                self._check_state(state, ruleset, rule_ids)
            state = host.assert_fact(ruleset, {"id": END_MARKER, "t": END_MARKER, "sid": sid})
            self._check_state(state, ruleset, rule_ids)
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - C error codes arrive as bare Exceptions
            corrupt = True  # a session that failed in C may crash delete_state (#312): leave it
            raise EngineError(f"the engine failed on rules {_some(rule_ids)}: {_explain(exc)}") from None
        finally:
            if self._ran and not corrupt:  # deleting a session where no action ran crashes durable
                host.delete_state(ruleset, sid)
        if self._errors:
            rule_id, exc = self._errors[0]
            raise EngineError(f"rule {rule_id} failed while firing: {type(exc).__name__}: {exc}") from exc
        if not self._ended:
            raise EngineError(f"the engine stopped before the end of the evaluation (rules {_some(rule_ids)})")
        return sink

    def _check_state(self, state: Any, ruleset: str, rule_ids: list[str]) -> None:
        if self._errors:
            rule_id, exc = self._errors[0]
            raise EngineError(f"rule {rule_id} failed while firing: {type(exc).__name__}: {exc}") from exc
        if isinstance(state, dict) and state.get("exception"):
            raise EngineError(f"durable-rules reported an error in rules {_some(rule_ids)}: {state['exception']}")
        if state == 0:
            raise EngineError(f"an action timed out in rules {_some(rule_ids)}")

    def close(self) -> None:
        """Free the C rulesets (durable cannot unregister a name, but can free its memory)."""
        for name, _ in self._rulesets:
            try:
                ruleset = self._host.get_ruleset(name)
                durable_rules_engine.delete_ruleset(ruleset._handle)
            except Exception:  # noqa: BLE001,S110 - best effort at shutdown
                pass
        self._rulesets = []


_C_ERRORS = {
    "303": "one record satisfies more conditions at once than durable-rules can follow (64)",
    "302": "a record has too many properties",
    "106": "too many rules in one ruleset",
    "107": "too many rules share one 'any' condition",
    "108": "too many rules share the same conditions",
}


def _explain(exc: Exception) -> str:
    text = str(exc)
    for code, meaning in _C_ERRORS.items():
        if text.endswith(f"error code: {code}"):
            return f"{meaning} (durable-rules error {code}); the compiler should have prevented this: please report it"
    return text


def _some(rule_ids: list[str], shown: int = 8) -> str:
    more = len(rule_ids) - shown
    return ", ".join(rule_ids[:shown]) + (f" and {more} more" if more > 0 else "")
