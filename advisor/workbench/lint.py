"""Checks across rule files that the loader alone does not make: contradictions, unused
derivations, rules without cases, unreviewed citations, and engine headroom. Pure: no durable-rules needed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import conditions as c
from ..citations import Cited, check_citations
from ..course import load_course
from ..engine.compiler import FANOUT_BUDGET, compile_rules
from ..errors import AdvisorError, Problem
from ..facts import Catalogue, FactSpec
from ..rules import LoadedRule, RuleBase, load_rules
from .cases import case_expectations


def lint(rules_dir: Path, tier_labels: set[str] = frozenset()) -> list[Problem]:
    """Every problem in a rule folder: loading errors first (they stop the deeper checks)."""
    course = load_course()
    try:
        base = load_rules(rules_dir, course)
        plan = compile_rules(base)
    except AdvisorError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for r in base.rules:
        if r.condition is not None:
            clash = contradiction(r.condition, base.catalogue)
            if clash:
                problems.append(r.problem(f"these conditions can never all be true: {clash}", at="when"))
    problems += opposite_stances(base)
    problems += unused_derivations(base, tier_labels)
    problems += duplicated_advice(base)
    fires, quiet, unreadable = case_expectations(rules_dir)
    problems += unreadable
    problems += _without_cases(base, fires, quiet)
    cited = {
        r.id: [Cited(code, r.path, *at) for code, at in zip(r.rule.source, r.source_at, strict=True)]
        for r in base.rules
    }
    problems += check_citations(rules_dir, cited, course)
    for shard in plan.shards:
        if shard.fanout > 0.9 * FANOUT_BUDGET and len(shard.rule_ids) == 1:
            r = base.by_id()[shard.rule_ids[0]]
            problems.append(
                r.problem(
                    f"this rule has {shard.fanout} alternative chains, close to the engine budget of {FANOUT_BUDGET}; consider splitting it",
                    at="when",
                    level="warning",
                )
            )
    return sorted(problems)


def opposite_stances(base: RuleBase) -> list[Problem]:
    """Two rules that take opposite sides on one tactic, can fire for the same account, and have no
    override between them (neither withdraws the other): a brief could say both. A warning at each."""
    sides: dict[str, dict[str, list[LoadedRule]]] = defaultdict(lambda: defaultdict(list))
    for r in base.rules:
        if r.rule.tactic:
            sides[r.rule.tactic][r.rule.stance].append(r)
    problems = []
    for tactic, by_stance in sorted(sides.items()):
        for a in by_stance.get("for", ()):
            for b in by_stance.get("against", ()):
                if b.id in a.rule.withdraws or a.id in b.rule.withdraws:
                    continue
                if not can_fire_together(a, b, base.catalogue):
                    continue
                for this, other in ((a, b), (b, a)):
                    problems.append(this.problem(
                        f"'{this.id}' is {this.rule.stance} '{tactic}' and '{other.id}' ({other.path}:{other.line}) "
                        f"is {other.rule.stance} it, and both can fire for one account; make one withdraw the other "
                        "(withdraws: [...]) or narrow their conditions",
                        level="warning",
                    ))  # fmt: skip
    return problems


def can_fire_together(a: LoadedRule, b: LoadedRule, catalogue: Catalogue) -> bool:
    """Whether one account can make both rules fire. Only account facts are shared by every record,
    so only their tests (in the top-level `all` of each) can keep two rules apart."""
    leaves = [
        leaf for r in (a, b) if r.condition is not None for leaf in _all_leaves(r.condition)
        if leaf.fact.startswith("account.")
    ]  # fmt: skip
    return len(leaves) < 2 or not contradiction(c.All(tuple(leaves)), catalogue)


def _all_leaves(node: c.Node) -> list[c.Leaf]:
    """The leaves that must all hold: the top-level `all` (nested alls included)."""
    if isinstance(node, c.Leaf):
        return [node]
    if isinstance(node, c.All):
        return [leaf for item in node.items for leaf in _all_leaves(item)]
    return []


def contradiction(node: c.Node, catalogue: Catalogue) -> str:
    """A description of tests on one fact that exclude each other inside an `all`, or ''.

    Operator-blind: the tests exclude each other when no value the fact can take (unknown
    included) passes them all, and the reference evaluation decides what passes."""
    by_fact: dict[str, list[c.Leaf]] = defaultdict(list)
    for leaf in _all_leaves(node):
        by_fact[leaf.fact].append(leaf)
    for fact, leaves in sorted(by_fact.items()):
        if len(leaves) < 2:
            continue
        candidates = _candidates(catalogue.specs[fact], leaves)
        if not any(all(c.leaf_holds(leaf, value) for leaf in leaves) for value in candidates):
            return " and ".join(c.describe(leaf) for leaf in leaves)
    return ""


def _candidates(spec: FactSpec, leaves: list[c.Leaf]) -> list[Any]:
    """Values that stand for every way a fact of this type can meet these tests: if none passes
    them all, no value does. Unknown (None) is always one."""
    named = [x for leaf in leaves for x in (leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))]
    named = [x for x in named if x is not None]
    if spec.type == "enum":
        return [None, *spec.values]
    if spec.type == "bool":
        return [None, True, False]
    if spec.type == "set":  # the tests read single members: every choice of the members they name
        members = sorted(set(named))[:12]
        return [None] + [
            frozenset(m for k, m in enumerate(members) if bits >> k & 1) for bits in range(2 ** len(members))
        ]
    if spec.type in ("int", "number"):  # each bound, each gap between bounds, and beyond both ends
        points = sorted({float(x) for x in named if isinstance(x, (int, float))})
        if not points:
            return [None, 0]
        gaps = [(a + b) / 2 for a, b in zip(points, points[1:], strict=False)]
        return [None, points[0] - 1, *points, *gaps, points[-1] + 1]
    return [None]


def unused_derivations(base: RuleBase, tier_labels: set[str]) -> list[Problem]:
    tested = set()
    for r in base.rules:
        if r.condition is not None:
            tested |= c.facts_used(r.condition)
    problems = []
    for r in base.rules:
        for name in r.rule.derive:
            if name not in tested and name not in tier_labels:
                problems.append(
                    r.problem(
                        f"'{name}' is derived but no rule tests it (and the brief does not show it as a tier)",
                        at="derive",
                        level="warning",
                    )
                )
    return problems


def duplicated_advice(base: RuleBase) -> list[Problem]:
    """Two rules that say the same thing in the same section: one of them is redundant."""
    seen: dict[tuple, LoadedRule] = {}
    problems = []
    for r in base.rules:
        if r.rule.say is None:
            continue
        key = (r.rule.scope, r.rule.section, " ".join(r.rule.say.en.split()).lower())
        if key in seen:
            other = seen[key]
            problems.append(
                r.problem(
                    f"says the same as rule {other.id} ({Path(other.path).name}:{other.line}); merge them into one rule with both conditions under 'any'",
                    level="warning",
                )
            )
        else:
            seen[key] = r
    return problems


def rules_without_cases(base: RuleBase, rules_dir: Path) -> list[Problem]:
    """A warning for each rule with no case where it fires, or none where it stays quiet."""
    fires, quiet, _ = case_expectations(rules_dir)  # an unreadable case file is reported where it is run
    return _without_cases(base, fires, quiet)


def _without_cases(base: RuleBase, fires: set[str], quiet: set[str]) -> list[Problem]:
    problems = []
    for r in base.rules:
        missing = [w for w, have in (("fires", r.id in fires), ("stays quiet", r.id in quiet)) if not have]
        if missing:
            problems.append(
                r.problem(
                    f"no case where it {' or '.join(missing)}; add one to the case file beside it", level="warning"
                )
            )
    return problems
