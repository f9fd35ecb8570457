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

from .vocabulary import OPERATORS, UNKNOWN_VALUE


@dataclass(frozen=True)
class Leaf:
    """A test of one fact: its operator (vocabulary.OPERATORS) and the value written under it."""

    fact: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class All:
    """Every item holds."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    """At least one item holds."""

    items: tuple[Node, ...]


Node = Leaf | All | Any_


def negate(node: Node) -> Node:
    """not(node), pushed down to the leaves (De Morgan), keeping unknown facts false."""
    if isinstance(node, Leaf):
        return Leaf(node.fact, OPERATORS[node.op].negation, node.value)
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
    """One test against one value (None: the fact is unknown, and only presence tests can hold)."""
    op = OPERATORS[leaf.op]
    if value is None and not op.presence:
        return False
    return op.holds(value, leaf.value)


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


def describe(leaf: Leaf, lang: str = "en") -> str:
    """A leaf in plain words: 'account.industry is one of party, government'."""
    op = OPERATORS[leaf.op]
    words = op.words[lang]
    if op.presence:
        return f"{leaf.fact} {words}"
    value = ", ".join(map(_show, leaf.value)) if isinstance(leaf.value, tuple) else _show(leaf.value)
    return f"{leaf.fact} {words} {value}"


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
    return f"{describe(node)}, but it is {UNKNOWN_VALUE['en'] if actual is None else _show(actual)}"


def matched(node: Node, values: dict[str, Any]) -> list[str]:
    """The tests that held, with the values they matched (for a rule that fired)."""
    if isinstance(node, Leaf):
        actual = values.get(node.fact)
        return (
            [f"{node.fact} = {UNKNOWN_VALUE['en'] if actual is None else _show(actual)}"]
            if leaf_holds(node, actual)
            else []
        )
    if isinstance(node, All):
        return [m for item in node.items for m in matched(item, values)]
    for item in node.items:  # the first alternative that held
        if holds(item, values):
            return matched(item, values)
    return []


def plain(node: Node, lang: str = "en") -> str:
    """A whole condition in words, for the rule catalogue."""
    if isinstance(node, Leaf):
        return describe(node, lang)
    joiner = {"en": (" and ", " or "), "zh": (" 且 ", " 或 ")}[lang][isinstance(node, Any_)]
    inner = joiner.join(plain(n, lang) if isinstance(n, Leaf) else f"({plain(n, lang)})" for n in node.items)
    return inner
