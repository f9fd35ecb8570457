"""Rules -> durable-rules ruleset definitions, sharded so the engine's hard limits can never be reached.

durable-rules fails (C error 303) when one fact satisfies more than 64 sibling conditions under
one node, hangs at 512 children under one node, and caps identical chains (256), shared `$or`s
(129) and rules per ruleset (4,096). The compiler prevents all of these by construction:

* Each shard holds rules of one scope and one stratum, so only that scope's records are asserted
  into it and the root node has one child per shard (plus the end marker).
* Each rule's top-level conditions are ordered with enum equality/membership first, so a rule's
  chain starts with a discriminating node. Rules whose first test is on the same enum fact
  cannot all be satisfied by one record: a record with level=middle satisfies only the rules
  whose first test admits middle.
* The fan-out bound of a shard is therefore U + sum over grouping facts of the largest number of
  chains that admit one value, where U counts chains with no grouping test. It bounds the
  satisfied siblings under any node, because a deeper node is reached by no more chains than its
  parent. Shards are filled until the bound would pass FANOUT_BUDGET, well under 64.
* A shard holds at most MAX_CHAINS_PER_SHARD chains, far under 129, 256, 512 and 4,096.

Chaining. A rule that tests a derived fact runs in a later stratum than every rule that derives
it; the engine evaluates strata in order and carries derived facts forward, so a derived fact
reaches every shard that tests it. Chaining is therefore bounded by construction: each stratum
runs once, and a rule never sees a fact derived in its own or a later stratum. A loop (a rule
that, through other rules, tests its own conclusion) has no stratum: it is refused here, with
every rule in it named, and so is a chain deeper than MAX_STRATA. The engine checks both again
before it runs a plan (see engine.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from . import conditions as c
from .errors import AdvisorError
from .facts import Catalogue, Record
from .rules import LoadedRule, RuleBase

ENGINE_SIBLING_LIMIT = 64  # measured: 64 satisfied siblings work, 65 fail with 303
FANOUT_BUDGET = 40
MAX_CHAINS_PER_SHARD = 120
MAX_STRATA = 32  # derivation chains deeper than this are refused: each stratum is one more engine round
END_MARKER = "__end__"


def engine_key(fact: str) -> str:
    """durable treats dots as paths into nested objects; our records are flat."""
    return fact.replace(".", "__")


def leaf_to_engine(leaf: c.Leaf, catalogue: Catalogue) -> dict[str, Any]:
    key = engine_key(leaf.fact)
    op, v = leaf.op, leaf.value
    if op == "eq":
        return {key: v}
    if op == "neq":
        return {"$neq": {key: v}}
    if op == "in":
        # One regex node instead of an $or of equalities: enum values are plain words, and $mt
        # is a full match, so "(a|b)" matches exactly a or b.
        return {"$mt": {key: "(" + "|".join(v) + ")"}}
    if op == "nin":
        return {"$and": [{"$neq": {key: x}} for x in v]}
    if op in ("lt", "lte", "gt", "gte"):
        return {f"${op}": {key: v}}
    if op == "known":
        return {"$ex": {key: 1}}
    if op == "unknown":
        return {"$nex": {key: 1}}
    if op in ("has", "lacks"):
        return {f"{key}__{v}": op == "has"}
    raise ValueError(f"no engine form for operator {op}")


def node_to_engine(node: c.Node, catalogue: Catalogue) -> dict[str, Any]:
    if isinstance(node, c.Leaf):
        return leaf_to_engine(node, catalogue)
    parts = [node_to_engine(n, catalogue) for n in node.items]
    if len(parts) == 1:
        return parts[0]
    return {"$and" if isinstance(node, c.All) else "$or": parts}


def _grouping(node: c.Node | None, catalogue: Catalogue) -> tuple[str, tuple] | None:
    """(fact, admitted values) when the chain starts with an enum equality or membership test."""
    if isinstance(node, c.All) and node.items:
        node = node.items[0]
    if isinstance(node, c.Leaf) and node.op in ("eq", "in"):
        spec = catalogue.specs[node.fact]
        if spec.type == "enum":
            return node.fact, (node.value,) if node.op == "eq" else tuple(node.value)
    return None


def ordered(node: c.Node | None, catalogue: Catalogue) -> c.Node | None:
    """Put discriminating enum tests first in a top-level `all`, in a stable order."""
    if node is None:
        return None
    items = node.items if isinstance(node, c.All) else (node,)

    def rank(n: c.Node) -> tuple:
        if isinstance(n, c.Leaf):
            spec = catalogue.specs[n.fact]
            if spec.type == "enum" and n.op in ("eq", "in"):
                return (0, len(n.value) if n.op == "in" else 1, n.fact)
            return (1, 0, n.fact)
        return (2, 0, "")

    items = tuple(sorted(items, key=rank))
    return items[0] if len(items) == 1 else c.All(items)


def pattern_keys(pattern: Any) -> set[str]:
    """Every fact property a durable pattern (or list of patterns) reads, the scope tag excepted."""
    found: set[str] = set()
    work = [pattern]
    while work:
        node = work.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("$"):
                    work.append(value)
                else:
                    found.add(key)
        elif isinstance(node, list):
            work.extend(node)
    found.discard("t")
    return found


@dataclass
class Shard:
    """One durable ruleset: rules of one scope and one stratum, with its computed fan-out bound."""

    name: str
    scope: str
    stratum: int
    rule_ids: list[str] = field(default_factory=list)
    fanout: int = 0
    chains: int = 0
    conditions: dict[str, dict] = field(default_factory=dict)  # durable rule name -> pattern

    @property
    def keys(self) -> tuple[str, ...]:
        """Every fact property the shard's conditions read: records are asserted with these only,
        since durable's cost grows with the size of each fact it is given."""
        return tuple(sorted(pattern_keys(list(self.conditions.values()))))

    def definition(self) -> dict[str, dict]:
        """The ruleset as durable expects it, minus the actions (the engine adds them)."""
        rules = {name: {"all": [{"m": pattern}]} for name, pattern in self.conditions.items()}
        rules["zz_end"] = {"all": [{"m": {"t": END_MARKER}}]}
        return rules


@dataclass
class Plan:
    """Everything the engine needs, and nothing it must work out for itself."""

    shards: list[Shard]
    derives: dict[str, tuple[str, ...]]  # rule id -> derived fact names
    derived_facts: tuple[str, ...]
    digest: str
    origins: dict[str, str] = field(default_factory=dict)  # rule id -> "path:line:col", for messages

    def strata(self) -> list[list[Shard]]:
        out: dict[int, list[Shard]] = defaultdict(list)
        for s in self.shards:
            out[s.stratum].append(s)
        return [out[k] for k in sorted(out)]

    def summary(self) -> dict[str, Any]:
        return {
            "shards": len(self.shards),
            "strata": len(self.strata()),
            "max_fanout": max((s.fanout for s in self.shards), default=0),
            "max_chains": max((s.chains for s in self.shards), default=0),
            "fanout_budget": FANOUT_BUDGET,
            "engine_limit": ENGINE_SIBLING_LIMIT,
        }


def strata(rules: list[LoadedRule], max_strata: int = MAX_STRATA) -> dict[str, int]:
    """Each rule's stratum: one more than the deepest rule deriving a fact it tests.

    Iterative, so a long chain cannot exhaust Python's stack. Every loop is reported (naming each
    rule in it and the fact that links it to the next), and so is a chain deeper than `max_strata`.
    """
    producers: dict[str, list[LoadedRule]] = defaultdict(list)
    for r in rules:
        for name in r.rule.derive:
            producers[name].append(r)
    # rule -> [(fact it tests, rule deriving that fact)], in a stable order
    needs: dict[str, list[tuple[str, LoadedRule]]] = {}
    for r in rules:
        deps = c.facts_used(r.condition) if r.condition is not None else set()
        needs[r.id] = [(fact, p) for fact in sorted(deps) for p in producers.get(fact, [])]
    loops = _loops(rules, needs)
    if loops:
        raise AdvisorError(
            [
                loop[0].problem(
                    "derived facts form a loop: "
                    + ", ".join(f"{r.id} tests {fact} (derived by {nxt.id})" for r, fact, nxt in _links(loop, needs))
                    + "; break it so no rule depends on its own conclusion"
                )
                for loop in loops
            ]
        )
    level: dict[str, int] = {}
    below: dict[str, LoadedRule | None] = {}  # the producer that sets a rule's level, to show a deep chain
    for r in _topological(rules, needs):
        level[r.id], below[r.id] = 0, None
        for _, p in needs[r.id]:
            if level[p.id] + 1 > level[r.id]:
                level[r.id], below[r.id] = level[p.id] + 1, p
    deepest = max(rules, key=lambda r: (level[r.id], -r.index), default=None)
    if deepest is not None and level[deepest.id] >= max_strata:
        chain, at = [], deepest
        while at is not None:
            chain.append(at.id)
            at = below[at.id]
        raise AdvisorError(
            deepest.problem(
                f"derived facts chain {len(chain)} rules deep ({' <- '.join(chain)}), over the limit of "
                f"{max_strata}; each link is one more engine round: derive from profile facts directly"
            )
        )
    return level


def _loops(rules: list[LoadedRule], needs: dict[str, list[tuple[str, LoadedRule]]]) -> list[list[LoadedRule]]:
    """Every group of rules that depend on each other (Tarjan's strongly connected components,
    iteratively), as a list of rules starting with the first in file order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[LoadedRule] = []
    found: list[list[LoadedRule]] = []
    counter = 0
    for root in rules:
        if root.id in index:
            continue
        work = [(root, 0)]
        while work:
            r, i = work.pop()
            if i == 0:
                index[r.id] = low[r.id] = counter
                counter += 1
                stack.append(r)
                on_stack.add(r.id)
            deps = needs[r.id]
            if i < len(deps):
                work.append((r, i + 1))
                p = deps[i][1]
                if p.id not in index:
                    work.append((p, 0))
                elif p.id in on_stack:
                    low[r.id] = min(low[r.id], index[p.id])
                continue
            if low[r.id] == index[r.id]:
                group = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top.id)
                    group.append(top)
                    if top.id == r.id:
                        break
                if len(group) > 1 or any(p.id == r.id for _, p in deps):
                    found.append(sorted(group, key=lambda x: x.index))
            if work:
                parent = work[-1][0]
                low[parent.id] = min(low[parent.id], low[r.id])
    return sorted(found, key=lambda g: g[0].index)


def _links(
    group: list[LoadedRule], needs: dict[str, list[tuple[str, LoadedRule]]]
) -> list[tuple[LoadedRule, str, LoadedRule]]:
    """A path through a loop's rules back to the first: (rule, fact it tests, rule deriving it).

    Follows, from each rule, the first dependency inside the group not yet visited, so every
    rule of a simple loop is named in order; rules of a tangled group that the path skips are
    added with one of their links, so none goes unnamed."""
    members = {r.id for r in group}
    links, seen, at = [], set(), group[0]
    while at.id not in seen:
        seen.add(at.id)
        inside = [(f, p) for f, p in needs[at.id] if p.id in members]
        fact, nxt = next(((f, p) for f, p in inside if p.id not in seen), None) or next(
            ((f, p) for f, p in inside if p.id == group[0].id), inside[0]
        )
        links.append((at, fact, nxt))
        at = nxt
    for r in group:
        if r.id not in seen:
            fact, nxt = next((f, p) for f, p in needs[r.id] if p.id in members)
            links.append((r, fact, nxt))
    return links


def _topological(rules: list[LoadedRule], needs: dict[str, list[tuple[str, LoadedRule]]]) -> list[LoadedRule]:
    """Rules ordered so every producer comes before the rules that test its facts (no loops)."""
    done: set[str] = set()
    out: list[LoadedRule] = []
    for root in rules:
        work = [(root, 0)]
        while work:
            r, i = work.pop()
            if r.id in done:
                continue
            deps = needs[r.id]
            if i < len(deps):
                work.append((r, i + 1))
                if deps[i][1].id not in done:
                    work.append((deps[i][1], 0))
                continue
            done.add(r.id)
            out.append(r)
    return out


def compile_rules(
    base: RuleBase,
    *,
    budget: int = FANOUT_BUDGET,
    max_chains: int = MAX_CHAINS_PER_SHARD,
    max_strata: int = MAX_STRATA,
) -> Plan:
    """Shard the rule base into durable rulesets whose worst-case fan-out stays within `budget`."""
    catalogue = base.catalogue
    levels = strata(list(base.rules), max_strata)
    groups: dict[tuple[int, str], list[LoadedRule]] = defaultdict(list)
    for r in base.rules:
        groups[(levels[r.id], r.rule.scope)].append(r)
    shards: list[Shard] = []
    for stratum, scope in sorted(groups, key=lambda k: (k[0], SCOPE_ORDER[k[1]])):
        # Rules with the same grouping test sit together, so shards fill evenly and stay stable.
        members = sorted(groups[(stratum, scope)], key=lambda r: (_group_key(r, catalogue), r.index))
        current: Shard | None = None
        tally: _Tally | None = None
        for r in members:
            node = ordered(r.condition, catalogue)
            chains = c.paths(node) if node is not None else 1
            grouping = _grouping(node, catalogue)
            if current is None or not tally.fits(grouping, chains, budget, max_chains):
                current = Shard(f"s{len(shards):03d}_{scope}_{stratum}", scope, stratum)
                tally = _Tally()
                shards.append(current)
            tally.add(grouping, chains)
            pattern = (
                {"t": scope}
                if node is None
                else {"$and": [{"t": scope}, *_flatten_and(node_to_engine(node, catalogue))]}
            )
            current.conditions[f"r{r.index:04d}"] = pattern
            current.rule_ids.append(r.id)
            current.fanout, current.chains = tally.bound(), tally.chains
    too_wide = [s for s in shards if s.fanout > budget]
    if too_wide:  # only a single rule can overflow an empty shard: it must be split
        by_id = {r.id: r for r in base.rules}
        raise AdvisorError(
            [
                by_id[s.rule_ids[0]].problem(
                    f"this rule alone has {s.fanout} alternative condition chains, over the engine budget of {budget}; split its 'any' into several rules",
                    at="when",
                )
                for s in too_wide
            ]
        )
    derived = tuple(sorted(n for n, s in catalogue.specs.items() if s.derived_by_rules))
    derives = {r.id: tuple(r.rule.derive) for r in base.rules if r.rule.derive}
    digest = hashlib.sha256(
        json.dumps([(s.name, s.conditions) for s in shards], sort_keys=True, default=list).encode()
    ).hexdigest()
    origins = {r.id: f"{r.path}:{r.line}:{r.col}" for r in base.rules}
    return Plan(shards, derives, derived, digest, origins)


SCOPE_ORDER = {"account": 0, "stakeholder": 1, "tie": 2, "competitor": 3, "event": 4}


def _flatten_and(pattern: dict) -> list[dict]:
    return pattern["$and"] if list(pattern) == ["$and"] else [pattern]


def _group_key(r: LoadedRule, catalogue: Catalogue) -> tuple:
    g = _grouping(ordered(r.condition, catalogue), catalogue)
    return ("", ()) if g is None else (g[0], g[1])


class _Tally:
    """Running fan-out bound of a shard being filled."""

    def __init__(self) -> None:
        self.ungrouped = 0
        self.by_value: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        self.chains = 0

    def bound(self, extra: tuple | None = None, chains: int = 0) -> int:
        ungrouped = self.ungrouped
        per_fact = {f: dict(v) for f, v in self.by_value.items()}
        if chains:
            if extra is None:
                ungrouped += chains
            else:
                slot = per_fact.setdefault(extra[0], {})
                for value in extra[1]:
                    slot[value] = slot.get(value, 0) + chains
        return ungrouped + sum(max(v.values()) for v in per_fact.values() if v)

    def fits(self, grouping: tuple | None, chains: int, budget: int, max_chains: int) -> bool:
        return self.bound(grouping, chains) <= budget and self.chains + chains <= max_chains

    def add(self, grouping: tuple | None, chains: int) -> None:
        self.chains += chains
        if grouping is None:
            self.ungrouped += chains
        else:
            for value in grouping[1]:
                self.by_value[grouping[0]][value] += chains


def key_sources(catalogue: Catalogue) -> dict[str, tuple[str, str | None]]:
    """engine key -> (fact name, set value or None): how to read each key from a record."""
    out: dict[str, tuple[str, str | None]] = {}
    for name, spec in catalogue.specs.items():
        if spec.type == "text":
            continue
        if spec.type == "set":
            for v in spec.values:
                out[f"{engine_key(name)}__{v}"] = (name, v)
        else:
            out[engine_key(name)] = (name, None)
    return out


# How engine_fact reads one key: (property name sent to the engine, fact name, set value or None,
# derived by rules). Worked out once per shard, not once per record.
Projection = tuple[tuple[str, str, str | None, bool], ...]


def fact_projection(
    keys: tuple[str, ...],
    sources: dict[str, tuple[str, str | None]],
    derived_names: frozenset[str],
    names: dict[str, str] | None = None,
) -> Projection:
    """How engine_fact reads `keys` from a record; `names` renames keys on the way (the engine
    sends short property names: durable parses every fact, and echoes it whole in every firing)."""
    out = []
    for key in keys:
        name, member = sources[key]
        out.append((names[key] if names else key, name, member, name in derived_names))
    return tuple(out)


def engine_fact(record: Record, projection: Projection, derived: dict[str, bool], ident: Any = None) -> dict[str, Any]:
    """A record as one shard sees it: only the keys its conditions read, sets spread into one
    boolean per value, derived facts false unless a rule derived them, unknown facts absent.
    `ident` replaces the record's id (the engine sends numeric ids).

    The engine builds one per record and shard, so this is its busiest code: one comprehension,
    with operators in place of calls (`values.get`), which cost far more per key."""
    values = record.values
    return {
        "id": record.id if ident is None else ident,
        "t": record.scope,
        **{
            key: (
                (derived[name] if name in derived else False)
                if is_derived
                else value
                if member is None
                else member in value
            )
            for key, name, member, is_derived in projection
            if is_derived or (value := values[name] if name in values else None) is not None
        },
    }


# How fact_parts writes one key: (`,"<property>":`, fact name, set value or None, derived by rules,
# the key with true, the key with false, the key with each int or str value met so far).
TextProjection = tuple[tuple[str, str, str | None, bool, str, str, dict[Any, str]], ...]

compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_CACHED = 512  # values remembered per key (ints and enum words recur from profile to profile)


def text_projection(projection: Projection) -> TextProjection:
    """fact_projection's keys as fact_parts writes them: each key's JSON text made once. The
    result remembers values it has written: give each Engine (one thread) its own."""
    out = []
    for key, name, member, is_derived in projection:
        head = "," + compact_json(key) + ":"
        out.append((head, name, member, is_derived, head + "true", head + "false", {}))
    return tuple(out)


def fact_parts(values: dict[str, Any], projection: TextProjection, derived: dict[str, bool]) -> list[str]:
    """engine_fact's properties after id and t, as JSON text to join: `compact_json(engine_fact(...))`
    is `'{"id":' + compact_json(id) + ',"t":' + compact_json(scope) + "".join(fact_parts(...)) + "}"`, byte for
    byte (a test holds it to that). The engine writes one per record and shard, so this is its
    busiest code: one comprehension, with operators in place of calls wherever a value was seen."""
    return [
        known[value]  # the common case first: an int or a word written before
        if (value.__class__ is int or value.__class__ is str) and value in known
        else (yes if member in value else no)  # `in` always gives a bool
        if member is not None
        else yes
        if value is True
        else no
        if value is False
        else _value_part(head, value, known)
        for head, name, member, is_derived, yes, no, known in projection
        if (
            value := (
                (derived[name] if name in derived else False)
                if is_derived
                else values[name]
                if name in values
                else None
            )
        )
        is not None
        or is_derived
    ]


def _value_part(head: str, value: Any, known: dict[Any, str]) -> str:
    """`head` and `value` as json.dumps writes it; remembered in `known` when `value` is exactly an
    int or a str (1, True and 1.0 are equal keys, and 0.0 equals -0.0, so no bool or float is)."""
    kind = value.__class__
    if kind is str:
        text = head + encode_basestring(value)
    elif kind is int:
        text = head + int.__repr__(value)
    elif kind is float and value - value == 0.0:  # finite: json spells NaN and infinities its own way
        return head + float.__repr__(value)
    else:
        return head + compact_json(value)
    if len(known) < _CACHED:
        known[value] = text
    return text
