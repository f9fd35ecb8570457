"""Checks across rule files that the loader alone does not make: contradictions, unused
derivations, rules without cases, and engine headroom. Pure: no durable-rules needed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from . import conditions as c
from .compiler import FANOUT_BUDGET, compile_rules
from .course import load_course
from .errors import AdvisorError, Problem
from .facts import Catalogue
from .rules import LoadedRule, RuleBase, load_rules


def lint(rules_dir: Path, tier_labels: set[str] = frozenset()) -> list[Problem]:
    """Every problem in a rule folder: loading errors first (they stop the deeper checks)."""
    try:
        base = load_rules(rules_dir, load_course())
        plan = compile_rules(base)
    except AdvisorError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for r in base.rules:
        if r.condition is not None:
            clash = contradiction(r.condition, base.catalogue)
            if clash:
                problems.append(r.problem(f"these conditions can never all be true: {clash}", at="when"))
    problems += unused_derivations(base, tier_labels)
    problems += duplicated_advice(base)
    problems += rules_without_cases(base, rules_dir)
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


def _all_leaves(node: c.Node) -> list[c.Leaf]:
    """The leaves that must all hold: the top-level `all` (nested alls included)."""
    if isinstance(node, c.Leaf):
        return [node]
    if isinstance(node, c.All):
        return [leaf for item in node.items for leaf in _all_leaves(item)]
    return []


def contradiction(node: c.Node, catalogue: Catalogue) -> str:
    """A description of tests on one fact that exclude each other inside an `all`, or ''."""
    by_fact: dict[str, list[c.Leaf]] = defaultdict(list)
    for leaf in _all_leaves(node):
        by_fact[leaf.fact].append(leaf)
    for fact, leaves in sorted(by_fact.items()):
        if len(leaves) < 2:
            continue
        spec = catalogue.specs[fact]
        words = " and ".join(c.describe(leaf) for leaf in leaves)
        if any(leaf.op == "unknown" for leaf in leaves) and any(leaf.op != "unknown" for leaf in leaves):
            return words
        if spec.type in ("enum", "bool"):
            allowed: set[Any] = set(spec.values) if spec.type == "enum" else {True, False}
            for leaf in leaves:
                if leaf.op == "eq":
                    allowed &= {leaf.value}
                elif leaf.op == "neq":
                    allowed -= {leaf.value}
                elif leaf.op == "in":
                    allowed &= set(leaf.value)
                elif leaf.op == "nin":
                    allowed -= set(leaf.value)
            if not allowed:
                return words
        elif spec.type in ("int", "number"):
            low, high, low_open, high_open = float("-inf"), float("inf"), False, False
            for leaf in leaves:
                v = leaf.value
                if leaf.op in ("gt", "gte") and (v > low or (v == low and leaf.op == "gt")):
                    low, low_open = v, leaf.op == "gt"
                elif leaf.op in ("lt", "lte") and (v < high or (v == high and leaf.op == "lt")):
                    high, high_open = v, leaf.op == "lt"
                elif leaf.op == "eq":
                    if v > low or (v == low and not low_open):
                        low, low_open = v, False
                    if v < high or (v == high and not high_open):
                        high, high_open = v, False
            if low > high or (low == high and (low_open or high_open)):
                return words
        elif spec.type == "set":
            has = {leaf.value for leaf in leaves if leaf.op == "has"}
            lacks = {leaf.value for leaf in leaves if leaf.op == "lacks"}
            if has & lacks:
                return words
    return ""


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
    from .testing import case_expectations

    fires, quiet = case_expectations(rules_dir)
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
