"""Fired rules -> ordered, de-duplicated recommendations with their provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engine import Firing
from .facts import Record
from .rules import PRIORITIES, RuleBase, fill

PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}


@dataclass(frozen=True)
class Recommendation:
    rule_id: str
    source: tuple[str, ...]
    section: str
    aspect: str
    priority: str
    stakeholder: str | None  # the person it is about, for stakeholder-scoped rules
    record_id: str
    text: str


def recommend(
    base: RuleBase, records: list[Record], firings: list[Firing], lang: str, quote: Callable[[str], str] = str
) -> list[Recommendation]:
    """Every fired rule that says something, in reading order: priority, then rule order, then record order.

    The same text in the same section about the same person is said once, however many rules or
    records produced it.
    """
    rules = base.by_id()
    record_index = {r.id: (i, r) for i, r in enumerate(records)}
    ranked = []
    for firing in firings:
        loaded = rules[firing.rule_id]
        rule = loaded.rule
        if rule.say is None:
            continue
        position, record = record_index[firing.record_id]
        text = fill(getattr(rule.say, lang), record.values, quote)
        subject = record.subject if rule.scope == "stakeholder" else None
        rec = Recommendation(
            rule.id, tuple(rule.source), rule.section, rule.aspect, rule.priority, subject, record.id, text
        )
        ranked.append(((PRIORITY_RANK[rule.priority], loaded.index, _stable(record)), rec))
    ranked.sort(key=lambda pair: pair[0])
    seen: set[tuple] = set()
    out: list[Recommendation] = []
    for _, rec in ranked:
        key = (rec.section, rec.stakeholder, rec.text)
        if key in seen:
            continue
        seen.add(key)
        out.append(rec)
    return out


def _stable(record: Record) -> str:
    """Order records by what they are, not where they stand in the file, so list order never matters."""
    return record.id
