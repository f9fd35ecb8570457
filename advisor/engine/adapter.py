"""The engine's hot path: register a compiled plan, evaluate records, clean up, raise one-line errors.

This module drives durable-rules' C core, which native.py loads; wire.py writes what it sends and reads,
and diagnostics.py works out what to say when something fails (probing the core through Engine).
It drives durable-rules' C core (`durable_rules_engine`) directly. durable's Python layer (Host,
Ruleset, Closure, Promise) costs about 80 µs per firing: a Closure with a clock reading, a Promise,
and a JSON round-trip of the session state per action. Our actions only record (rule, record), so
that layer buys nothing, and it starts two timer threads per host. The protocol it runs, and we
run in its place, per shard and evaluation:

* `assert_facts(handle, json)` asserts a marker that matches nothing (so the session exists even if
  durable cannot read the first record), the records, and an end marker last, in one call. It
  returns (code, session): 0 all handled, 1 some record matched no rule (normal: no exception, and
  the others are stored with their actions pending), 2 a record id was seen before (ruled out
  below). C failures (303 and friends) raise. One call per shard, not one per record: the C core
  runs the same matching either way.
* `start_action_for_state(handle, session)` gives the first pending action, and
  `complete_and_start_action(handle, session)` retires it and gives the next, until None. Every
  rule is registered with a large `cap` (wire.CAP), so an action holds all of one rule's firings,
  `{rule: [{"m": fact}, ...]}`: one round trip per rule that fired, not per firing. Sorted back to
  record by record, the firings are in the order durable's layer gave them with one assert per
  record.
  durable's layer also calls `update_state` between the two with the session state it was given;
  the state never changes here, and re-asserting it only replaces a state fact no rule tests, so we
  skip it (a test compares our firings, in order, with durable's own Host on hundreds of profiles).
* `retract_facts(handle, ids)` afterwards retracts the end marker and every record by id (the begin
  marker is never stored), which leaves the session as a fresh one, and it is kept for the next
  evaluation. durable's layer deletes the session instead (`delete_state`), but creating and
  deleting a session costs more than the matching: durable allocates and clears state for every
  rule of the ruleset in each. A session is deleted only when its ruleset is freed (delete_ruleset
  leaves a session's memory behind), and only if an action ever started in it: `delete_state`
  crashes the process (an uninitialised field) in a session where none did. The end marker's
  sentinel rule always fires; a batch that did not run to its end is not retracted: its whole
  ruleset is replaced.

Sessions and records. Records are asserted without `sid`, so durable puts them in its default
session "0" (one live session per ruleset: an Engine is used by one thread, one shard at a time).
durable tells messages apart by a 32-bit hash of their id alone, so two records whose ids collide
would silently drop one; records are sent under small numeric ids chosen so that no two collide,
nor collide with the markers or the session's state fact, and mapped back to record ids here.

Every failure is an EngineError of one line that names the rules involved and where they are
written (`rules/x.yaml:3:5`): an action that raised, a ruleset durable refused, a C error code, a
record durable could not read. A shard whose session may be corrupt (a C error) is replaced by a
fresh ruleset, so the next evaluation starts clean and no session leaks.

Why evaluation cannot loop. Actions only record (rule, record); they never assert facts, so one
assert fires each rule at most once per condition chain per record. Chaining is done here, in
Python, one stratum after another: derived facts are carried forward, never fed back, so every
shard runs once per evaluation. The compiler refuses loops and chains deeper than MAX_STRATA, and
the Engine checks the plan again before running it (a plan built by hand could break the order).
As a last bound, a shard whose firings exceed what its condition chains allow stops with an
error naming its rules instead of running on.

No threads are started. An Engine belongs to one thread: durable's C sessions are not safe to share.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import NamedTuple

from ..errors import EngineError
from ..facts import Catalogue, Record
from .compiler import Plan, Shard
from .diagnostics import check_order, explain, one_line, refused_rules, rules_named, unread
from .native import available, durable_rules_engine
from .wire import (
    CLOSE,
    FIRED_ID,
    OPEN,
    SENTINEL_FIRED,
    SESSION,
    FactWriter,
    MessageIds,
    Projection,
    Wiring,
    compact_json,
    fact_projection,
    fact_writers,
    fired_prefix,
    key_sources,
    plan_wiring,
    text_projection,
)

# Ruleset names are fresh per Engine (durable's Python layer registered a name once per process;
# the C core accepts repeats, but distinct names keep error reports and debugging unambiguous).
_names = itertools.count()
_names_lock = threading.Lock()

# A shard fires each rule at most once per condition chain per record (overlapping `any`
# branches fire a rule once per branch); more than this many times that is a runaway engine.
FIRINGS_PER_CHAIN = 2


class Firing(NamedTuple):
    """One rule fired on one record (a named tuple: the engine makes a hundred per profile)."""

    rule_id: str
    record_id: str


_new_firing = tuple.__new__  # Firing's own constructor, without the Python call NamedTuple adds


class Outcome:
    """What one evaluation gives: the firings, and the derived facts each record ended with. (A plain
    class: as a dataclass it cost every start about 0.2 ms to create.)"""

    __slots__ = ("firings", "derived")

    def __init__(self, firings: list[Firing], derived: dict[str, dict[str, bool]]) -> None:
        self.firings = firings
        self.derived = derived  # record id -> derived facts that hold for it


class _Ruleset:
    """One shard registered in durable's C core."""

    def __init__(self, shard: Shard, name: str, handle: int, definition: str):
        self.shard, self.name, self.handle, self.definition = shard, name, handle, definition
        self.acted = False  # an action has run in its session (durable crashes deleting one where none has)


class _Prepared:
    """What evaluate needs of one shard, worked out once per Engine: how to write its records and
    how to read its firings back."""

    def __init__(self, shard: Shard, projection: Projection, reads_derived: bool, plan: Plan):
        self.shard, self.name, self.scope = shard, shard.name, shard.scope
        self.projection, self.reads_derived = projection, reads_derived
        self.text, self.scope_text = text_projection(projection), compact_json(shard.scope)
        # The account facts a record of another scope carries (they come first: keys sort by scope),
        # written once per evaluation for the records that share them (Record.base), or None.
        shared = 0
        if shard.scope != "account":
            while shared < len(projection) and projection[shared][1].startswith("account."):
                shared += 1
        # What its writers write (Engine makes them, for all shards at once: wire.fact_writers): the
        # whole record, and when account facts are shared, those and the record's own apart.
        self.texts = (self.text, self.text[:shared], self.text[shared:]) if shared else (self.text,)
        self.write: FactWriter
        self.write_account: FactWriter | None
        self.write_own: FactWriter | None
        self.rule_ids = list(shard.rule_ids)  # by position in the definition (durable's action order)
        # an action's text up to its first firing -> the rule's position
        self.rules = {fired_prefix(name): at for at, name in enumerate(shard.conditions)}
        self.width = max(len(self.rule_ids), 1)  # a firing is kept as record position * width + rule position
        # derived facts each rule sets: (account-wide ones, the record's own ones), or None
        self.derives: list[tuple[tuple[str, ...], tuple[str, ...]] | None] = []
        for rule_id in self.rule_ids:
            names = plan.derives.get(rule_id, ())
            account = tuple(n for n in names if n.startswith("account."))
            own = tuple(n for n in names if not n.startswith("account."))
            self.derives.append((account, own) if names else None)
        self.derives_any = any(self.derives)
        lengths = {len(prefix) for prefix in self.rules}
        self.prefix_length = lengths.pop() if len(lengths) == 1 else 0  # 0: find each firing's own


class Engine:
    """A compiled plan registered with durable-rules, ready to evaluate profiles one after another.

    `on_fire(rule_id, record_id)`, when given, is called for every firing once its shard has run:
    shard by shard in plan order, within a shard record by record and then rule by rule (not in
    the order durable ran the actions), repeats included. `wiring`, when given, is the plan's own
    (wire.plan_wiring(plan), kept with a cached plan): what would otherwise be worked out again.
    """

    def __init__(
        self,
        plan: Plan,
        catalogue: Catalogue,
        on_fire: Callable[[str, str], None] | None = None,
        wiring: Wiring | None = None,
    ):
        problem = available()
        if problem:
            raise EngineError(problem)
        self.plan = plan
        self._on_fire = on_fire
        self._thread = threading.get_ident()
        self.message_ids = MessageIds()  # message ids for records, by position in a shard
        with _names_lock:
            self._prefix = f"a{next(_names)}"
        self._rulesets: dict[str, _Ruleset] = {}
        self._broken: str | None = None  # why evaluate cannot run (closed, or a ruleset lost)
        check_order(plan, wiring.keys if wiring is not None else None)  # the wiring's keys: those of this plan
        if wiring is None:  # given: the plan's own, kept with it (checked.py)
            wiring = plan_wiring(plan)
        self.names = wiring.names
        sources, derived_names = key_sources(catalogue), frozenset(plan.derived_facts)
        prepared = {}
        for shard in plan.shards:
            projection = fact_projection(wiring.keys[shard.name], sources, derived_names, self.names)
            reads_derived = any(d for *_, d in projection)
            prepared[shard.name] = _Prepared(shard, projection, reads_derived, plan)
        writers = iter(fact_writers([text for p in prepared.values() for text in p.texts]))
        for p in prepared.values():  # in the order of p.texts
            p.write = next(writers)
            p.write_account, p.write_own = (next(writers), next(writers)) if len(p.texts) == 3 else (None, None)
        self._strata = [[prepared[shard.name] for shard in stratum] for stratum in plan.strata()]
        # Firings are de-duplicated by position alone when no rule id is used twice in the plan.
        rule_ids = [rule_id for shard in plan.shards for rule_id in shard.rule_ids]
        self._unique_rules = len(rule_ids) == len(set(rule_ids))
        for shard in plan.shards:
            definition = wiring.definitions[shard.name]
            try:
                self._rulesets[shard.name] = self._create(shard, definition)
            except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
                self.close()
                culprits = refused_rules(self, shard) or shard.rule_ids
                raise EngineError(
                    f"durable-rules refused {rules_named(culprits, plan.origins)}: {explain(exc)}"
                ) from None

    def _create(self, shard: Shard, definition: str) -> _Ruleset:
        name = _fresh_name(f"{self._prefix}_{shard.name}")
        return _Ruleset(shard, name, durable_rules_engine.create_ruleset(name, definition), definition)

    def probe(self, definition: str) -> int:
        """A throwaway ruleset, for diagnostics: free it with `release`, and never delete its sessions."""
        return durable_rules_engine.create_ruleset(_fresh_name(f"{self._prefix}_probe"), definition)

    @staticmethod
    def assert_one(handle: int, fact: str) -> None:
        """Assert one fact (JSON text) into a throwaway ruleset, for diagnostics."""
        durable_rules_engine.assert_fact(handle, fact)

    @staticmethod
    def release(handle: int) -> None:
        _free_handle(handle)

    def evaluate(self, records: list[Record]) -> Outcome:
        """Fire every rule on every record, stratum by stratum, carrying derived facts forward."""
        if threading.get_ident() != self._thread:
            raise EngineError("an Engine was used from two threads; give each thread its own (Advisor does)")
        if self._broken:
            raise EngineError(self._broken)
        derived: dict[str, dict[str, bool]] = {r.id: {} for r in records}
        account_flags: dict[str, bool] = {}
        firings: list[Firing] = []
        # Only a plan that uses a rule id twice, or records that share an id, need the
        # (rule id, record id) pairs themselves compared; otherwise positions tell firings apart.
        seen: set[tuple[str, str]] | None = None if self._unique_rules and len(derived) == len(records) else set()
        by_scope: dict[str, list[Record]] = {}
        for r in records:
            if r.scope in by_scope:
                by_scope[r.scope].append(r)
            else:
                by_scope[r.scope] = [r]
        for stratum in self._strata:  # a bounded loop: check_order caps the strata
            batch: list[tuple[_Prepared, list[Record], list[int]]] = []
            for prepared in stratum:
                members = by_scope.get(prepared.scope)
                if members:
                    batch.append((prepared, members, self._run_shard(prepared, members, account_flags, derived)))
            for prepared, members, fired in batch:
                rule_ids, width = prepared.rule_ids, prepared.width
                if seen is None:  # the common case: Firings made in C, no call per firing
                    pairs = [(rule_ids[key % width], members[key // width].id) for key in fired]
                    firings += map(_new_firing, itertools.repeat(Firing), pairs)
                else:
                    for key in fired:
                        pair = (rule_ids[key % width], members[key // width].id)
                        if pair not in seen:
                            seen.add(pair)
                            firings.append(_new_firing(Firing, pair))
                if prepared.derives_any:  # a repeat sets the same facts again: harmless
                    for key in fired:
                        sets = prepared.derives[key % width]
                        if sets is not None:
                            for name in sets[0]:
                                account_flags[name] = True
                            for name in sets[1]:
                                derived[members[key // width].id][name] = True
        if account_flags:
            for rid in derived:
                derived[rid] = {**account_flags, **derived[rid]}
        return Outcome(firings, derived)

    def _run_shard(
        self, prepared: _Prepared, members: list[Record], account_flags: dict[str, bool], derived: dict
    ) -> list[int]:
        """Evaluate one shard's records and return its firings, each as record position * width +
        rule position, sorted and without repeats (overlapping $or branches fire a rule twice on
        one record): the order durable's Python layer gave them, record by record, rules in shard
        order."""
        ruleset = self._rulesets[prepared.name]
        shard = prepared.shard
        cap = FIRINGS_PER_CHAIN * max(shard.chains, 1) * len(members)
        self.message_ids.first(len(members))
        write, own, scope, parts = prepared.write, prepared.write_own, prepared.scope_text, [OPEN]
        base = members[0].base if own is not None else None
        # account.* facts derived by rules are in account_flags alone (evaluate keeps them there)
        shared = "".join(prepared.write_account(base, account_flags)) if base is not None else ""
        reads_derived = prepared.reads_derived
        for r, head in zip(members, self.message_ids.heads, strict=False):  # heads may run on past the records
            flags = {**account_flags, **derived[r.id]} if reads_derived else account_flags
            if base is not None and r.base is base:
                parts += (head, scope, shared)
                parts += own(r.values, flags)
            else:
                parts += (head, scope)
                parts += write(r.values, flags)
            parts += ("}",)
        parts.append(CLOSE)
        try:
            fired, ended, over = self._fire(ruleset, prepared, "".join(parts), cap, len(members))
        except Exception as exc:  # noqa: BLE001 - C error codes arrive as bare Exceptions
            raise EngineError(
                f"the engine failed on {rules_named(shard.rule_ids, self.plan.origins)}: {explain(exc)}"
            ) from None
        if over is not None:
            raise EngineError(
                f"{rules_named([over], self.plan.origins)} fired more than {cap} times on {len(members)} records, "
                f"more than the conditions of {rules_named(shard.rule_ids, self.plan.origins, named=False)} allow; "
                "the engine was stopped instead of running on: please report it"
            )
        if not ended:
            raise EngineError(unread(self, ruleset, prepared, members, account_flags, derived))
        fired.sort()
        if self._on_fire is not None:
            for key in fired:  # our actions run here, after durable is done with the session
                rule_id = prepared.rule_ids[key % prepared.width]
                try:
                    self._on_fire(rule_id, members[key // prepared.width].id)
                except Exception as exc:  # noqa: BLE001 - any failure of an action names its rule
                    detail = one_line(f"{type(exc).__name__}: {exc}")
                    raise EngineError(
                        f"{rules_named([rule_id], self.plan.origins)} failed while firing: {detail}"
                    ) from exc
        return sorted(set(fired)) if len(fired) > 1 else fired

    def _fire(
        self, ruleset: _Ruleset, prepared: _Prepared, text: str, cap: int, count_records: int
    ) -> tuple[list[int], bool, str | None]:
        """Assert `text` (a JSON list of `count_records` facts ending with the end marker) into the
        shard's session, take durable's pending actions rule by rule, and retract the facts again.
        Returns each firing as record position * width + rule position, whether the sentinel
        fired, and the rule that passed `cap` firings (the drain stops there) or None."""
        handle, rules, width = ruleset.handle, prepared.rules, prepared.width
        position, find_ids = self.message_ids.position, FIRED_ID.findall
        fired: list[int] = []
        started = ended = drained = kept = False
        over = None
        try:
            code, session = durable_rules_engine.assert_facts(handle, text)
            if code not in (0, 1):  # 2: an id seen before (ruled out by MessageIds); 3: needs callbacks
                raise RuntimeError(f"assert_facts returned code {code}")
            result = durable_rules_engine.start_action_for_state(handle, session)
            started = bool(result)
            message = result[1] if result else None
            while message:
                # {"<rule>":[{"m":{"id":<n>,"t":…},…]}: one rule's firings (see wire.CAP); the text up
                # to the first firing names the rule exactly (rule names are words of one length per shard)
                prefix = message[: prepared.prefix_length or message.find('"', 2) + 3]
                if prefix in rules:
                    at = rules[prefix]
                    try:
                        fired += [position[record] * width + at for record in find_ids(message)]
                    except KeyError:
                        raise RuntimeError(f"unexpected action {one_line(message, 120)}") from None
                    if len(fired) > cap:
                        over = prepared.rule_ids[at]
                        break  # a runaway: stop here (the ruleset is replaced)
                elif message.startswith(SENTINEL_FIRED):
                    ended = True
                else:
                    raise RuntimeError(f"unexpected action {one_line(message, 120)}")
                message = durable_rules_engine.complete_and_start_action(handle, session)
            else:
                drained = True
        finally:
            ruleset.acted = ruleset.acted or started
            if drained and ended:  # read to its end and drained: retract the facts, keep the session
                try:
                    durable_rules_engine.retract_facts(handle, self.message_ids.retract(count_records))
                    kept = True
                except Exception:  # noqa: BLE001,S110 - a C error: the session is replaced below
                    pass
            if not kept:
                # a C error (the session may be corrupt, #312), an interrupt, a runaway, or a batch
                # durable stopped reading: free the whole ruleset, and its session where that is safe
                self._replace(ruleset, delete_session=drained and ruleset.acted)
        return fired, ended, over

    def _replace(self, ruleset: _Ruleset, delete_session: bool = False) -> None:
        """Swap a shard's ruleset for a fresh copy, freeing the old one whole, and its session when
        `delete_session` says that is safe (durable frees a ruleset, not the sessions in it)."""
        _free(ruleset, delete_session)
        try:
            self._rulesets[ruleset.shard.name] = self._create(ruleset.shard, ruleset.definition)
        except Exception as exc:  # noqa: BLE001 - never raised while another error is on its way
            del self._rulesets[ruleset.shard.name]
            self._broken = f"durable-rules could not rebuild a ruleset after an error: {explain(exc)}"

    def close(self) -> None:
        """Free the C rulesets (their names stay taken; their memory is returned)."""
        for ruleset in self._rulesets.values():
            _free(ruleset, ruleset.acted)
        self._rulesets = {}
        self._broken = "this Engine was closed; build a new one"


def _fresh_name(prefix: str) -> str:
    with _names_lock:
        return f"{prefix}{next(_names)}"


def _free(ruleset: _Ruleset, delete_session: bool) -> None:
    """Free a ruleset (best effort: freeing is all it does); its session first when asked, since
    durable's delete_ruleset leaves a session's memory behind. Only a session where an action ran
    and no C error struck may be deleted (see the module's docstring)."""
    try:
        if delete_session:
            durable_rules_engine.delete_state(ruleset.handle, SESSION)
    except Exception:  # noqa: BLE001,S110
        pass
    _free_handle(ruleset.handle)


def _free_handle(handle: int) -> None:
    try:
        durable_rules_engine.delete_ruleset(handle)
    except Exception:  # noqa: BLE001,S110
        pass
