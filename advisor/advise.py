"""Fired rules -> ordered, de-duplicated recommendations with their provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engine import Firing
from .facts import Record
from .rules import PRIORITIES, RuleBase, fill_parts, split_say

PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}


@dataclass(frozen=True, slots=True)  # slots: a brief makes about a hundred; they build faster
class Recommendation:
    rule_id: str
    source: tuple[str, ...]
    section: str
    aspect: str
    priority: str
    stakeholder: str | None  # the person it is about, for stakeholder-scoped rules
    record_id: str
    text: str


@dataclass(frozen=True)
class Advice:
    """What an advice rule says in one language, and everything its recommendations share."""

    rank: tuple[int, int]  # priority, then rule order
    rule_id: str
    source: tuple[str, ...]
    section: str
    aspect: str
    priority: str
    about_person: bool
    parts: tuple[str, ...]  # the advice split by split_say


Sayings = dict[str, Advice | None]  # rule id -> what it says in one language (None: it only derives facts)


def sayings(base: RuleBase, lang: str) -> Sayings:
    """What every rule says in `lang`, worked out once per rule base (the Advisor keeps it) rather
    than once per firing: a brief has about a hundred."""
    table: Sayings = {}
    for loaded in base.rules:
        rule = loaded.rule
        table[rule.id] = None
        if rule.say is not None:
            table[rule.id] = Advice(
                (PRIORITY_RANK[rule.priority], loaded.index), rule.id, tuple(rule.source), rule.section,
                rule.aspect, rule.priority, rule.scope == "stakeholder", split_say(getattr(rule.say, lang)),
            )  # fmt: skip
    return table


class _Quoted(dict):
    """quote(text), worked out once per distinct text in one call: the same names recur in many rules."""

    def __init__(self, quote: Callable[[str], str]):
        super().__init__()
        self.quote = quote

    def __missing__(self, text: str) -> str:
        quoted = self[text] = self.quote(text)
        return quoted


def recommend(
    said_by: Sayings, records: list[Record], firings: list[Firing], quote: Callable[[str], str] = str
) -> list[Recommendation]:
    """Every fired rule that says something, in reading order: priority, then rule order, then record order.

    The same text in the same section about the same person is said once, however many rules or
    records produced it. `quote` escapes substituted values (it must give the same result for the
    same text: each distinct text is quoted once).
    """
    by_id = {r.id: r for r in records}
    if quote is not str:
        quote = _Quoted(quote).__getitem__
    ranked = []
    for n, firing in enumerate(firings):
        said = said_by[firing.rule_id]
        if said is None:
            continue
        # Records are ordered by what they are (their id), not where they stand in the file, so
        # list order never matters; n keeps the sort stable and never lets it compare the rest.
        ranked.append((said.rank, firing.record_id, n, said, by_id[firing.record_id]))
    ranked.sort()
    seen: set[tuple] = set()
    out: list[Recommendation] = []
    for _, _, _, said, record in ranked:
        text = fill_parts(said.parts, record.values, quote)
        subject = record.subject if said.about_person else None
        key = (said.section, subject, text)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Recommendation(
                said.rule_id, said.source, said.section, said.aspect, said.priority, subject, record.id, text
            )
        )
    return out
