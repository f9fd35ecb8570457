"""The only durable-rules adapter: register a compiled plan, evaluate records, clean up, surface errors.

What durable-rules needs from us (see the project's notes on it):
* a host whose timer threads never run, so every action runs inside our own call;
* facts, not events, each with a unique id, and one fresh session per evaluation that is always
  deleted afterwards; deleting a session in which no action ran crashes the process, so an end
  marker is asserted last and a rule that always matches it proves the evaluation completed;
* actions with exactly one parameter that only record (rule, record); text is rendered later;
* exceptions caught in our own wrapper and raised after the call, because durable swallows them.

Every failure is an EngineError of one line that names the rules involved and where they are
written (`rules/x.yaml:3:5`): an action that raised, a ruleset durable refused, a C error code.

Why evaluation cannot loop. Actions only record (rule, record); they never assert facts, so one
assert fires each rule at most once per condition chain per record. Chaining is done here, in
Python, one stratum after another: derived facts are carried forward, never fed back, so every
shard runs once per evaluation. The compiler refuses loops and chains deeper than MAX_STRATA, and
the Engine checks the plan again before running it (a plan built by hand could break the order).
As a last bound, a shard whose firings exceed what its condition chains allow stops with an
error naming its rules instead of running on.

An Engine belongs to one thread: durable's C sessions are not safe to share.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .compiler import END_MARKER, MAX_STRATA, Plan, Shard, engine_fact, engine_key, key_sources, pattern_keys
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

# A shard fires each rule at most once per condition chain per record (overlapping `any`
# branches fire a rule once per branch); more than this many times that is a runaway engine.
FIRINGS_PER_CHAIN = 2


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
        self._cap = 0
        self._over: str | None = None
        check_order(plan)
        for shard in plan.shards:
            name = f"{prefix}_{shard.name}"
            try:
                self._host.register_rulesets({name: self._definition(shard)})
            except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
                self.close()
                culprits = self._refused_rules(shard, prefix) or shard.rule_ids
                raise EngineError(f"durable-rules refused {_rules(culprits, plan.origins)}: {_explain(exc)}") from None
            self._rulesets.append((name, shard))

    def _definition(self, shard: Shard, only: list[str] | None = None) -> dict[str, dict]:
        """The shard's ruleset with our actions attached (a fresh dict: durable consumes it)."""
        rules = shard.definition()
        ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
        if only is not None:
            rules = {k: v for k, v in rules.items() if k == "zz_end" or ids[k] in only}
        for rule_name, body in rules.items():
            body["run"] = self._end_action() if rule_name == "zz_end" else self._action(ids[rule_name])
        return rules

    def _refused_rules(self, shard: Shard, prefix: str) -> list[str]:
        """Which of a refused shard's rules durable refuses on their own (each tried in a throwaway ruleset)."""
        culprits = []
        for rule_id in shard.rule_ids:
            with _names_lock:
                name = f"{prefix}_probe{next(_names)}"
            try:
                self._host.register_rulesets({name: self._definition(shard, [rule_id])})
            except Exception:  # noqa: BLE001 - the refusal is what we are looking for
                culprits.append(rule_id)
                continue
            try:
                durable_rules_engine.delete_ruleset(self._host.get_ruleset(name)._handle)
            except Exception:  # noqa: BLE001,S110 - best effort: a probe's memory is small
                pass
        return culprits

    def _action(self, rule_id: str) -> Callable[[Any], None]:
        def action(c):  # exactly one parameter, or durable treats it as asynchronous
            self._ran = True
            try:
                self._record(rule_id, c.m.id)
            except BaseException as exc:  # noqa: BLE001 - re-raised after the engine call
                self._errors.append((rule_id, exc))

        return action

    def _record(self, rule_id: str, record_id: str) -> None:
        """What an action does: note that `rule_id` fired on `record_id` (nothing else runs in the engine)."""
        if len(self._sink) >= self._cap:
            self._over = self._over or rule_id
            return  # a runaway: the shard stops with an error once durable returns
        if self._on_fire is not None:
            self._on_fire(rule_id, record_id)
        self._sink.append((rule_id, record_id))

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
        for stratum in self.plan.strata():  # a bounded loop: check_order caps the strata
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
                cap = FIRINGS_PER_CHAIN * max(shard.chains, 1) * len(facts)
                batch.extend(self._run_shard(names[shard.name], shard.rule_ids, facts, cap))
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

    def _run_shard(self, ruleset: str, rule_ids: list[str], facts: list[dict], cap: int) -> list[tuple[str, str]]:
        sid = f"{ruleset}-{next(_names)}"
        sink: list[tuple[str, str]] = []
        self._sink, self._errors, self._ended, self._ran = sink, [], False, False
        self._cap, self._over = cap, None
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
            raise EngineError(f"the engine failed on {_rules(rule_ids, self.plan.origins)}: {_explain(exc)}") from None
        finally:
            if self._ran and not corrupt:  # deleting a session where no action ran crashes durable
                host.delete_state(ruleset, sid)
        self._raise_errors()
        if self._over is not None:
            raise EngineError(
                f"{_rules([self._over], self.plan.origins)} fired more than {cap} times on {len(facts)} records, "
                f"more than the conditions of {_rules(rule_ids, self.plan.origins, named=False)} allow; "
                "the engine was stopped instead of running on: please report it"
            )
        if not self._ended:
            raise EngineError(
                f"the engine stopped before the end of the evaluation ({_rules(rule_ids, self.plan.origins)})"
            )
        return sink

    def _raise_errors(self) -> None:
        if self._errors:
            rule_id, exc = self._errors[0]
            detail = _one_line(f"{type(exc).__name__}: {exc}")
            raise EngineError(f"{_rules([rule_id], self.plan.origins)} failed while firing: {detail}") from exc

    def _check_state(self, state: Any, ruleset: str, rule_ids: list[str]) -> None:
        self._raise_errors()
        if isinstance(state, dict) and state.get("exception"):
            raise EngineError(
                f"durable-rules reported an error in {_rules(rule_ids, self.plan.origins)}: "
                + _one_line(str(state["exception"]))
            )
        if state == 0:
            raise EngineError(f"an action timed out in {_rules(rule_ids, self.plan.origins)}")

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
    text = _one_line(str(exc))
    for code, meaning in _C_ERRORS.items():
        if text.endswith(f"error code: {code}"):
            return f"{meaning} (durable-rules error {code}); the compiler should have prevented this: please report it"
    return text


def _one_line(text: str, limit: int = 300) -> str:
    """An exception's text as one line of bounded length (errors are printed one per line)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _some(rule_ids: list[str], shown: int = 8) -> str:
    more = len(rule_ids) - shown
    return ", ".join(rule_ids[:shown]) + (f" and {more} more" if more > 0 else "")


def _rules(rule_ids: list[str], origins: dict[str, str], *, named: bool = True) -> str:
    """'rule a (rules/x.yaml:3:5)' or 'rules a, b, …' for messages: one rule with where it is written."""
    if len(rule_ids) == 1:
        where = origins.get(rule_ids[0])
        return f"rule {rule_ids[0]}" + (f" ({where})" if where and named else "")
    return f"rules {_some(rule_ids)}"


def check_order(plan: Plan) -> None:
    """Refuse a plan whose chaining could loop or miss a derivation: every derived fact a shard
    tests must come from rules in earlier strata, and there are at most MAX_STRATA strata. The
    compiler guarantees both; this guards plans built or edited by hand."""
    stratum_of = {rule_id: shard.stratum for shard in plan.shards for rule_id in shard.rule_ids}
    producers: dict[str, list[str]] = {}
    for rule_id, names in plan.derives.items():
        for name in names:
            producers.setdefault(engine_key(name), []).append(rule_id)
    for shard in plan.shards:
        ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
        for name, pattern in shard.conditions.items():
            for key in sorted(pattern_keys(pattern)):
                late = [p for p in producers.get(key, []) if stratum_of.get(p, 0) >= shard.stratum]
                if late:
                    fact = key.replace("__", ".")
                    raise EngineError(
                        f"{_rules([ids[name]], plan.origins)} tests {fact}, derived by {_rules(late, plan.origins)} "
                        f"in the same or a later stratum: the rules loop or run out of order; compile them again"
                    )
    count = len({shard.stratum for shard in plan.shards})
    if count > MAX_STRATA:
        raise EngineError(f"the plan has {count} strata, over the limit of {MAX_STRATA}; compile the rules again")
