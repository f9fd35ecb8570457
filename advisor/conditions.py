"""What a rule's `when:` means, in one place: negation normal form and a reference evaluator.

Unknown facts. A fact the profile leaves unknown is absent from its record. Every test of an
absent fact is false, *including under `not`*: `not: {fact: x, equals: 1}` holds only when x is
known and differs from 1. To act on a missing value, test it with `known: false`. This matches
durable-rules, where every comparison on a missing property is false (`$neq` included), so the
compiler and this evaluator agree by construction; a test checks that they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Leaf operators and their negations under the "unknown is never true" reading.
NEGATE = {
    "eq": "neq", "neq": "eq",
    "in": "nin", "nin": "in",
    "lt": "gte", "gte": "lt",
    "gt": "lte", "lte": "gt",
    "known": "unknown", "unknown": "known",
    "has": "lacks", "lacks": "has",
}  # fmt: skip


@dataclass(frozen=True)
class Leaf:
    fact: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Node, ...]


Node = Leaf | All | Any_


def negate(node: Node) -> Node:
    """not(node), pushed down to the leaves (De Morgan), keeping unknown facts false."""
    if isinstance(node, Leaf):
        return Leaf(node.fact, NEGATE[node.op], node.value)
    if isinstance(node, All):
        return Any_(tuple(negate(n) for n in node.items))
    return All(tuple(negate(n) for n in node.items))


def holds(node: Node, values: dict[str, Any]) -> bool:
    """Evaluate a normalised condition against one record's values (the reference semantics)."""
    if isinstance(node, All):
        return all(holds(n, values) for n in node.items)
    if isinstance(node, Any_):
        return any(holds(n, values) for n in node.items)
    return leaf_holds(node, values.get(node.fact))


def leaf_holds(leaf: Leaf, value: Any) -> bool:
    if leaf.op == "known":
        return value is not None
    if leaf.op == "unknown":
        return value is None
    if value is None:
        return False
    op, want = leaf.op, leaf.value
    if op == "eq":
        return value == want and type(value) is type(want) or (_num(value) and _num(want) and value == want)
    if op == "neq":
        return not leaf_holds(Leaf(leaf.fact, "eq", want), value)
    if op == "in":
        return value in want
    if op == "nin":
        return value not in want
    if op == "has":
        return want in value
    if op == "lacks":
        return want not in value
    if op == "lt":
        return value < want
    if op == "lte":
        return value <= want
    if op == "gt":
        return value > want
    if op == "gte":
        return value >= want
    raise ValueError(f"unknown operator {op}")


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def facts_used(node: Node) -> set[str]:
    if isinstance(node, Leaf):
        return {node.fact}
    return set().union(*(facts_used(n) for n in node.items)) if node.items else set()


def paths(node: Node) -> int:
    """How many alternative condition chains the engine builds for the node (its DNF size)."""
    if isinstance(node, Leaf):
        return 1
    if isinstance(node, All):
        total = 1
        for n in node.items:
            total *= paths(n)
        return total
    return sum(paths(n) for n in node.items)


OP_WORDS = {
    "eq": "equals", "neq": "differs from", "in": "is one of", "nin": "is none of", "lt": "<", "lte": "<=",
    "gt": ">", "gte": ">=", "known": "is known", "unknown": "is unknown", "has": "contains", "lacks": "does not contain",
}  # fmt: skip


def describe(leaf: Leaf) -> str:
    """A leaf in plain words: 'account.industry is one of party, government'."""
    if leaf.op in ("known", "unknown"):
        return f"{leaf.fact} {OP_WORDS[leaf.op]}"
    value = ", ".join(map(_show, leaf.value)) if isinstance(leaf.value, tuple) else _show(leaf.value)
    return f"{leaf.fact} {OP_WORDS[leaf.op]} {value}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(_show, value)) + "]"
    return str(value)


def why_not(node: Node, values: dict[str, Any]) -> str | None:
    """None when the condition holds; else the first test that failed, with the fact's actual value."""
    if isinstance(node, All):
        for item in node.items:
            reason = why_not(item, values)
            if reason is not None:
                return reason
        return None
    if isinstance(node, Any_):
        reasons = []
        for item in node.items:
            reason = why_not(item, values)
            if reason is None:
                return None
            reasons.append(reason)
        return "none of these held: " + "; ".join(reasons)
    actual = values.get(node.fact)
    if leaf_holds(node, actual):
        return None
    return f"{describe(node)}, but it is {'unknown' if actual is None else _show(actual)}"


def matched(node: Node, values: dict[str, Any]) -> list[str]:
    """The tests that held, with the values they matched (for a rule that fired)."""
    if isinstance(node, Leaf):
        actual = values.get(node.fact)
        return [f"{node.fact} = {'unknown' if actual is None else _show(actual)}"] if leaf_holds(node, actual) else []
    if isinstance(node, All):
        return [m for item in node.items for m in matched(item, values)]
    for item in node.items:  # the first alternative that held
        if holds(item, values):
            return matched(item, values)
    return []


def plain(node: Node) -> str:
    """A whole condition in words, for the rule catalogue."""
    if isinstance(node, Leaf):
        return describe(node)
    joiner = " and " if isinstance(node, All) else " or "
    inner = joiner.join(plain(n) if isinstance(n, Leaf) else f"({plain(n)})" for n in node.items)
    return inner
