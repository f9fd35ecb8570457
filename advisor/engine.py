"""The only durable-rules adapter: register a compiled plan, evaluate records, clean up, surface errors.

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
* `start_action_for_state(handle, session)` gives the first pending action, `{rule: {"m": fact}}`,
  and `complete_and_start_action(handle, session)` retires it and gives the next, until None.
  After one batch they come rule by rule; sorted back to record by record, they are in the order
  durable's layer gave them with one assert per record.
  durable's layer also calls `update_state` between the two with the session state it was given;
  the state never changes here, and re-asserting it only replaces a state fact no rule tests, so we
  skip it (a test compares our firings, in order, with durable's own Host on hundreds of profiles).
* `delete_state(handle, sid)` afterwards. It crashes the process (an uninitialised field) in a
  session where no action ever started; the end marker's sentinel rule always fires, and a session
  in which none started is never deleted: its whole ruleset is replaced instead.

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
from dataclasses import dataclass
from typing import Any, NamedTuple

from .compiler import (
    END_MARKER,
    MAX_STRATA,
    Plan,
    Projection,
    Shard,
    compact_json,
    engine_fact,
    engine_key,
    fact_parts,
    fact_projection,
    key_sources,
    pattern_keys,
    text_projection,
)
from .errors import EngineError
from .facts import Catalogue, Record

try:
    import durable_rules_engine

    _IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - exercised where the extension did not build
    durable_rules_engine = None
    _IMPORT_ERROR = str(exc)

# Ruleset names are fresh per Engine (durable's Python layer registered a name once per process;
# the C core accepts repeats, but distinct names keep error reports and debugging unambiguous).
_names = itertools.count()
_names_lock = threading.Lock()

# A shard fires each rule at most once per condition chain per record (overlapping `any`
# branches fire a rule once per branch); more than this many times that is a runaway engine.
FIRINGS_PER_CHAIN = 2

SESSION = "0"  # durable's default session: facts asserted without a sid go there
SENTINEL = "zz_end"  # the rule (see Shard.definition) that matches the end marker
_BEGIN = {"id": "b", "t": "__begin__"}  # matches no rule: asserted first so the session always exists
_END = {"id": "e", "t": END_MARKER}
# A firing as durable serialises it: {"<rule>":{"m":{"id":<n>,"t":...}}} (records are sent id first,
# then t). _fire reads the rule from the text up to the id (`_fired_prefix`), the id up to the comma.
_SENTINEL_FIRED = '{"' + SENTINEL + '":'
# A shard's batch as text: _OPEN; per record `,{"id":<n>,"t":`, its scope, its fact_parts and "}";
# then _CLOSE. Exactly compact_json([_BEGIN, *facts, _END]) with each fact's id replaced by its message id.
_OPEN = compact_json([_BEGIN])[:-1]
_CLOSE = "," + compact_json([_END])[1:]
_AFTER_NAME = '":{"m":{"id":'
ID_SPAN = 7  # see _MessageIds.spans


def _fired_prefix(rule_name: str) -> str:
    return '{"' + rule_name + _AFTER_NAME


def _fnv1a(text: str) -> int:
    """durable's hash of a message id or property name (32-bit FNV-1a over its text, no quotes):
    durable tells ids, and names, apart by this hash alone."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ (byte - 256 if byte > 127 else byte)) * 16777619) & 0xFFFFFFFF  # C char is signed
    return h


class _MessageIds:
    """Numeric message ids no two of which durable confuses: the n-th record of a shard is sent as
    `ids[n]`. Skips any number whose hash equals an earlier id's, a marker's or the state fact's."""

    def __init__(self) -> None:
        reserved = [_BEGIN["id"], _END["id"], f"sid-{SESSION}"]
        self._taken = {_fnv1a(x) for x in reserved}
        self.ids: list[int] = []
        self.position: dict[str, int] = {}  # id as durable echoes it -> position
        self.heads: list[str] = []  # `,{"id":<id>,"t":`: how a record starts in a batch
        # the first ID_SPAN characters of a firing after `"id":` -> position, for ids short enough
        # that the span reaches the comma after them (the id, then `,"t":"`: t is always a string)
        self.spans: dict[str, int] = {}
        self._next = 0

    def first(self, count: int) -> list[int]:
        """At least `count` ids (worked out once and kept: an Engine sends shards of similar sizes)."""
        while len(self.ids) < count:
            text = str(self._next)
            h = _fnv1a(text)
            if h not in self._taken:
                self._taken.add(h)
                self.position[text] = len(self.ids)
                self.heads.append(',{"id":' + text + ',"t":')
                if len(text) < ID_SPAN:
                    self.spans[(text + ',"t":"')[:ID_SPAN]] = len(self.ids)
                self.ids.append(self._next)
            self._next += 1
        return self.ids


def available() -> str | None:
    """None when durable-rules can be used, else why not (for a one-line error)."""
    if _IMPORT_ERROR is None:
        return None
    return (
        f"durable-rules cannot be imported ({_IMPORT_ERROR}); it needs Python 3.11 or 3.12 and a C compiler: "
        "pip install durable-rules"
    )


class Firing(NamedTuple):
    """One rule fired on one record (a named tuple: the engine makes a hundred per profile)."""

    rule_id: str
    record_id: str


_new_firing = tuple.__new__  # Firing's own constructor, without the Python call NamedTuple adds


@dataclass
class Outcome:
    firings: list[Firing]
    derived: dict[str, dict[str, bool]]  # record id -> derived facts that hold for it


class _Ruleset:
    """One shard registered in durable's C core."""

    def __init__(self, shard: Shard, name: str, handle: int, definition: str):
        self.shard, self.name, self.handle, self.definition = shard, name, handle, definition


class _Prepared:
    """What evaluate needs of one shard, worked out once per Engine: how to write its records and
    how to read its firings back."""

    def __init__(self, shard: Shard, projection: Projection, reads_derived: bool, plan: Plan):
        self.shard, self.name, self.scope = shard, shard.name, shard.scope
        self.projection, self.reads_derived = projection, reads_derived
        self.text, self.scope_text = text_projection(projection), compact_json(shard.scope)
        self.rule_ids = list(shard.rule_ids)  # by position in the definition (durable's action order)
        # a firing's text up to its record id -> the rule's position
        self.rules = {_fired_prefix(name): at for at, name in enumerate(shard.conditions)}
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
    the order durable ran the actions), repeats included.
    """

    def __init__(self, plan: Plan, catalogue: Catalogue, on_fire: Callable[[str, str], None] | None = None):
        problem = available()
        if problem:
            raise EngineError(problem)
        self.plan = plan
        self.catalogue = catalogue
        self._on_fire = on_fire
        self._thread = threading.get_ident()
        self._ids = _MessageIds()  # message ids for records, by position in a shard
        with _names_lock:
            self._prefix = f"a{next(_names)}"
        self._rulesets: dict[str, _Ruleset] = {}
        self._broken: str | None = None  # why evaluate cannot run (closed, or a ruleset lost)
        check_order(plan)
        self._names = _property_names(sorted({key for shard in plan.shards for key in shard.keys}))
        sources, derived_names = key_sources(catalogue), frozenset(plan.derived_facts)
        prepared = {}
        for shard in plan.shards:
            projection = fact_projection(shard.keys, sources, derived_names, self._names)
            reads_derived = any(d for *_, d in projection)
            prepared[shard.name] = _Prepared(shard, projection, reads_derived, plan)
        self._strata = [[prepared[shard.name] for shard in stratum] for stratum in plan.strata()]
        # Firings are de-duplicated by position alone when no rule id is used twice in the plan.
        rule_ids = [rule_id for shard in plan.shards for rule_id in shard.rule_ids]
        self._unique_rules = len(rule_ids) == len(set(rule_ids))
        for shard in plan.shards:
            definition = compact_json(_definition(shard, self._names))
            try:
                self._rulesets[shard.name] = self._create(shard, definition)
            except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
                self.close()
                culprits = self._refused_rules(shard) or shard.rule_ids
                raise EngineError(f"durable-rules refused {_rules(culprits, plan.origins)}: {_explain(exc)}") from None

    def _create(self, shard: Shard, definition: str) -> _Ruleset:
        name = _fresh_name(f"{self._prefix}_{shard.name}")
        return _Ruleset(shard, name, durable_rules_engine.create_ruleset(name, definition), definition)

    def _refused_rules(self, shard: Shard) -> list[str]:
        """Which of a refused shard's rules durable refuses on their own (each tried in a throwaway ruleset)."""
        culprits = []
        for rule_id in shard.rule_ids:
            try:
                handle = durable_rules_engine.create_ruleset(
                    _fresh_name(f"{self._prefix}_probe"), compact_json(_definition(shard, self._names, [rule_id]))
                )
            except Exception:  # noqa: BLE001 - the refusal is what we are looking for
                culprits.append(rule_id)
                continue
            _free(handle)
        return culprits

    def _record(self, rule_id: str, record_id: str) -> None:
        """What an action does: note that `rule_id` fired on `record_id` (nothing else runs in the
        engine). evaluate makes the Firings itself, and calls this only when it does more (on_fire)."""
        if self._on_fire is not None:
            self._on_fire(rule_id, record_id)

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
        self._ids.first(len(members))
        projection, scope, parts = prepared.text, prepared.scope_text, [_OPEN]
        if prepared.reads_derived:
            for r, head in zip(members, self._ids.heads, strict=False):  # heads may run on past the records
                parts += (head, scope)
                parts += fact_parts(r.values, projection, {**account_flags, **derived[r.id]})
                parts += ("}",)
        else:  # derived facts are not read
            for r, head in zip(members, self._ids.heads, strict=False):
                parts += (head, scope)
                parts += fact_parts(r.values, projection, account_flags)
                parts += ("}",)
        parts.append(_CLOSE)
        try:
            fired, ended, over = self._fire(ruleset, prepared, "".join(parts), cap)
        except Exception as exc:  # noqa: BLE001 - C error codes arrive as bare Exceptions
            raise EngineError(
                f"the engine failed on {_rules(shard.rule_ids, self.plan.origins)}: {_explain(exc)}"
            ) from None
        if over is not None:
            raise EngineError(
                f"{_rules([over], self.plan.origins)} fired more than {cap} times on {len(members)} records, "
                f"more than the conditions of {_rules(shard.rule_ids, self.plan.origins, named=False)} allow; "
                "the engine was stopped instead of running on: please report it"
            )
        if not ended:
            raise EngineError(self._unread(ruleset, prepared, members, account_flags, derived))
        fired.sort()
        if self._on_fire is not None or type(self)._record is not _RECORD:
            for key in fired:  # our actions run here, after durable is done with the session
                rule_id = prepared.rule_ids[key % prepared.width]
                try:
                    self._record(rule_id, members[key // prepared.width].id)
                except Exception as exc:  # noqa: BLE001 - any failure of an action names its rule
                    detail = _one_line(f"{type(exc).__name__}: {exc}")
                    raise EngineError(f"{_rules([rule_id], self.plan.origins)} failed while firing: {detail}") from exc
        return sorted(set(fired)) if len(fired) > 1 else fired

    def _fire(self, ruleset: _Ruleset, prepared: _Prepared, text: str, cap: int) -> tuple[list[int], bool, str | None]:
        """Assert `text` (a JSON list of facts ending with the end marker) into a fresh session,
        take durable's pending actions one by one, and delete the session. Returns each firing as
        record position * width + rule position, whether the sentinel fired, and the rule that
        passed `cap` firings (the drain stops there) or None."""
        handle, rules, width = ruleset.handle, prepared.rules, prepared.width
        position, spans = self._ids.position, self._ids.spans
        fired: list[int] = []
        count = 0
        started = ended = finished = False
        over = None
        try:
            code, session = durable_rules_engine.assert_facts(handle, text)
            if code not in (0, 1):  # 2: an id seen before (ruled out by _MessageIds); 3: needs callbacks
                raise RuntimeError(f"assert_facts returned code {code}")
            result = durable_rules_engine.start_action_for_state(handle, session)
            started = bool(result)
            message = result[1] if result else None
            while message:
                # {"<rule>":{"m":{"id":<n>,"t":…: the text up to the id names the rule exactly (rule
                # names are words of one length per shard), and the id runs to the comma before "t".
                start = prepared.prefix_length or message.find('"', 2) + len(_AFTER_NAME)
                prefix = message[:start]
                if prefix in rules:
                    at = rules[prefix]
                    record = message[start : start + ID_SPAN]
                    if record in spans:
                        fired += (spans[record] * width + at,)
                    else:  # a long id: read it up to its comma
                        record = message[start : message.find(",", start)]
                        if record not in position:
                            raise RuntimeError(f"unexpected action {_one_line(message, 120)}")
                        fired += (position[record] * width + at,)
                    count += 1
                    if count > cap:
                        over = prepared.rule_ids[at]
                        break  # a runaway: stop here (deleting the session is still safe)
                elif message.startswith(_SENTINEL_FIRED):
                    ended = True
                else:
                    raise RuntimeError(f"unexpected action {_one_line(message, 120)}")
                message = durable_rules_engine.complete_and_start_action(handle, session)
            finished = True
        finally:
            if finished and started:
                durable_rules_engine.delete_state(handle, SESSION)
            else:  # a C error (the session may be corrupt, #312), an interrupt, or no action started
                self._replace(ruleset)  # (delete_state could crash): free the whole ruleset instead
        return fired, ended, over

    def _unread(
        self, ruleset: _Ruleset, prepared: _Prepared, members: list[Record], account_flags: dict, derived: dict
    ) -> str:
        """Why a shard's batch stopped short of its end marker: durable stops, silently, at the
        first record it cannot read. Find it by asserting the records one by one into a throwaway
        copy of the ruleset (freed whole: its session is never deleted), each as its engine_fact
        (the batch's text, record by record)."""
        where = _rules(ruleset.shard.rule_ids, self.plan.origins)
        facts = [
            engine_fact(
                r,
                prepared.projection,
                {**account_flags, **derived[r.id]} if prepared.reads_derived else account_flags,
                i,
            )
            for r, i in zip(members, self._ids.ids, strict=False)
        ]
        try:
            handle = durable_rules_engine.create_ruleset(_fresh_name(f"{self._prefix}_probe"), ruleset.definition)
        except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
            return f"the engine failed on {where}: {_explain(exc)}"
        try:
            for record, fact in zip(members, facts, strict=True):
                try:
                    durable_rules_engine.assert_fact(handle, compact_json(fact))
                except Exception as exc:  # noqa: BLE001 - the failure is what we are looking for
                    return (
                        f"the engine failed on {where}: durable-rules cannot read record {record.id}: {_explain(exc)}"
                    )
        finally:
            _free(handle)
        return f"the engine stopped before the end of the evaluation ({where})"

    def _replace(self, ruleset: _Ruleset) -> None:
        """Swap a shard's ruleset for a fresh copy, freeing the old one whole (no session deleted)."""
        _free(ruleset.handle)
        try:
            self._rulesets[ruleset.shard.name] = self._create(ruleset.shard, ruleset.definition)
        except Exception as exc:  # noqa: BLE001 - never raised while another error is on its way
            del self._rulesets[ruleset.shard.name]
            self._broken = f"durable-rules could not rebuild a ruleset after an error: {_explain(exc)}"

    def close(self) -> None:
        """Free the C rulesets (their names stay taken; their memory is returned)."""
        for ruleset in self._rulesets.values():
            _free(ruleset.handle)
        self._rulesets = {}
        self._broken = "this Engine was closed; build a new one"


_RECORD = Engine._record  # an action that only notes the firing need not run per firing


def _definition(shard: Shard, names: dict[str, str], only: list[str] | None = None) -> dict[str, dict]:
    """The shard's ruleset as durable's C core reads it (durable's Python layer strips the actions
    first), with property names shortened as in the facts (see _property_names)."""
    rules = shard.definition()
    if only is not None:
        ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
        rules = {k: v for k, v in rules.items() if k == SENTINEL or ids[k] in only}
    for body in rules.values():
        body["all"] = [{alias: _renamed(pattern, names) for alias, pattern in p.items()} for p in body["all"]]
    return rules


def _renamed(pattern: Any, names: dict[str, str]) -> Any:
    """A durable pattern with its property names replaced; operators (keys starting with $) stay."""
    if isinstance(pattern, list):
        return [_renamed(p, names) for p in pattern]
    if isinstance(pattern, dict):
        return {
            key: _renamed(value, names) if key.startswith("$") else value
            for key, value in ((k if k.startswith("$") else names.get(k, k), v) for k, v in pattern.items())
        }
    return pattern


def _property_names(keys: list[str]) -> dict[str, str]:
    """Short property names for the engine ("a", "b", … "aa", …) in place of keys like
    `account__functions_covered__tech_management`: durable parses every fact and echoes it whole in
    every firing, so long names cost time per firing. durable finds a property by a 32-bit hash of
    its name alone, so no name may share a hash with another or with id, sid or t."""
    taken = {_fnv1a(x) for x in ("id", "sid", "t")}
    out: dict[str, str] = {}
    n = 0
    for key in keys:
        while True:
            name, n = _letters(n), n + 1
            if _fnv1a(name) not in taken:
                break
        taken.add(_fnv1a(name))
        out[key] = name
    return out


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, …"""
    text = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        text = chr(97 + r) + text
    return text


def _fresh_name(prefix: str) -> str:
    with _names_lock:
        return f"{prefix}{next(_names)}"


def _free(handle: int) -> None:
    try:
        durable_rules_engine.delete_ruleset(handle)
    except Exception:  # noqa: BLE001,S110 - best effort: freeing is all it does
        pass


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
