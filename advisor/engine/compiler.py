"""Rules -> a plan of shards (rulesets) and ordered conditions, so the engine's hard limits can never be reached.

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
before it runs a plan (see diagnostics.check_order).

The compiler decides what goes where and in which order; wire.py writes each condition as
durable-rules' JSON.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .. import conditions as c
from ..errors import AdvisorError
from ..facts import Catalogue
from ..rules import LoadedRule, RuleBase
from ..vocabulary import OPERATORS, SCOPES
from .wire import rule_pattern

ENGINE_SIBLING_LIMIT = 64  # measured: 64 satisfied siblings work, 65 fail with 303
FANOUT_BUDGET = 40
MAX_CHAINS_PER_SHARD = 120
MAX_STRATA = 32  # derivation chains deeper than this are refused: each stratum is one more engine round


def _grouping(node: c.Node | None, catalogue: Catalogue) -> tuple[str, tuple] | None:
    """(fact, admitted values) when the chain starts with an enum equality or membership test."""
    if isinstance(node, c.All) and node.items:
        node = node.items[0]
    if isinstance(node, c.Leaf):
        admitted = _admitted(node, catalogue)
        if admitted is not None:
            return node.fact, admitted
    return None


def _admitted(leaf: c.Leaf, catalogue: Catalogue) -> tuple | None:
    """The values of an enum fact that a test admits, when it admits a known few (equality, membership)."""
    admits = OPERATORS[leaf.op].admits
    if admits is None or catalogue.specs[leaf.fact].type != "enum":
        return None
    return admits(leaf.value)


def ordered(node: c.Node | None, catalogue: Catalogue) -> c.Node | None:
    """Put discriminating enum tests first in a top-level `all`, in a stable order."""
    if node is None:
        return None
    items = node.items if isinstance(node, c.All) else (node,)

    def rank(n: c.Node) -> tuple:
        if isinstance(n, c.Leaf):
            admitted = _admitted(n, catalogue)
            return (1, 0, n.fact) if admitted is None else (0, len(admitted), n.fact)
        return (2, 0, "")

    items = tuple(sorted(items, key=rank))
    return items[0] if len(items) == 1 else c.All(items)


class Shard:
    """One durable ruleset: rules of one scope and one stratum, with its computed fan-out bound.

    (This and Plan are plain classes: as dataclasses they cost every start about 0.5 ms to create,
    though a start that finds the rules checked only unpickles them; neither is compared.)"""

    __slots__ = ("name", "scope", "stratum", "rule_ids", "fanout", "chains", "conditions")

    def __init__(
        self,
        name: str,
        scope: str,
        stratum: int,
        rule_ids: list[str] | None = None,
        fanout: int = 0,
        chains: int = 0,
        conditions: dict[str, dict] | None = None,  # durable rule name -> pattern (see wire.py)
    ) -> None:
        self.name, self.scope, self.stratum, self.fanout, self.chains = name, scope, stratum, fanout, chains
        self.rule_ids: list[str] = [] if rule_ids is None else rule_ids
        self.conditions: dict[str, dict] = {} if conditions is None else conditions


class Plan:
    """Everything the engine needs, and nothing it must work out for itself."""

    __slots__ = ("shards", "derives", "derived_facts", "origins")

    def __init__(
        self,
        shards: list[Shard],
        derives: dict[str, tuple[str, ...]],  # rule id -> derived fact names
        derived_facts: tuple[str, ...],
        origins: dict[str, str] | None = None,  # rule id -> "path:line:col", for messages
    ) -> None:
        self.shards, self.derives, self.derived_facts = shards, derives, derived_facts
        self.origins: dict[str, str] = {} if origins is None else origins

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
    for stratum, scope in sorted(groups, key=lambda k: (k[0], SCOPES.index(k[1]))):
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
            current.conditions[f"r{r.index:04d}"] = rule_pattern(node, scope)
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
    origins = {r.id: f"{r.path}:{r.line}:{r.col}" for r in base.rules}
    return Plan(shards, derives, derived, origins)


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
