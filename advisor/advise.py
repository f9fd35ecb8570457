"""Fired rules -> ordered, de-duplicated recommendations with their provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .engine import Firing
from .facts import Record
from .rules import RuleBase, fill_parts, split_say
from .vocabulary import PRIORITIES

PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}


class Recommendation:
    """One piece of advice and where it comes from. Treat it as read-only.

    recommend() fills in its text when it is first read: a Markdown brief shows about one in six of
    a hundred recommendations, so most are never filled. (A plain class with slots, not a frozen
    dataclass: that sets each field through object.__setattr__ and builds several times slower.)
    """

    __slots__ = ("rule_id", "source", "section", "aspect", "priority", "stakeholder", "record_id", "_text", "_fill")

    rule_id: str
    source: tuple[str, ...]
    section: str
    aspect: str
    priority: str
    stakeholder: str | None  # the person it is about, for stakeholder-scoped rules
    record_id: str

    def __init__(
        self, rule_id: str, source: tuple[str, ...], section: str, aspect: str, priority: str,
        stakeholder: str | None, record_id: str, text: str,
    ) -> None:  # fmt: skip
        self.rule_id, self.source, self.section, self.aspect = rule_id, source, section, aspect
        self.priority, self.stakeholder, self.record_id = priority, stakeholder, record_id
        self._text: str | None = text
        self._fill: tuple[tuple[str, ...], dict[str, Any], Callable[[str], str]] | None = None

    @property
    def text(self) -> str:
        text = self._text
        if text is None:
            parts, values, quote = self._fill  # type: ignore[misc]  # kept: another thread may be filling too
            text = self._text = fill_parts(parts, values, quote)
        return text

    def _key(self) -> tuple:
        return (self.rule_id, self.source, self.section, self.aspect, self.priority, self.stakeholder,
                self.record_id, self.text)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Recommendation) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        names = ("rule_id", "source", "section", "aspect", "priority", "stakeholder", "record_id", "text")
        return f"Recommendation({', '.join(f'{n}={v!r}' for n, v in zip(names, self._key(), strict=True))})"


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
    # The rules in its section (this one included) whose text could fill in to the same text as this
    # one's: recommend() compares texts only with theirs, so most texts need never be filled in.
    alike: frozenset[str]


Sayings = dict[str, Advice | None]  # rule id -> what it says in one language (None: it only derives facts)


def sayings(base: RuleBase, lang: str) -> Sayings:
    """What every rule says in `lang`, worked out once per rule base (the Advisor keeps it) rather
    than once per firing: a brief has about a hundred."""
    texts: dict[str, list[tuple[str, tuple[str, ...]]]] = {}  # section -> (rule id, split text)
    for loaded in base.rules:
        if loaded.rule.say is not None:
            texts.setdefault(loaded.rule.section, []).append(
                (loaded.rule.id, split_say(getattr(loaded.rule.say, lang)))
            )
    table: Sayings = {}
    for loaded in base.rules:
        rule = loaded.rule
        table[rule.id] = None
        if rule.say is not None:
            parts = split_say(getattr(rule.say, lang))
            alike = frozenset(other for other, theirs in texts[rule.section] if _may_read_alike(parts, theirs))
            table[rule.id] = Advice(
                (PRIORITY_RANK[rule.priority], loaded.index), rule.id, tuple(rule.source), rule.section,
                rule.aspect, rule.priority, rule.scope == "stakeholder", parts, alike,
            )  # fmt: skip
    return table


def _may_read_alike(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two advice texts could fill in to the same text. Each starts with its first literal
    part and ends with its last, so for the same text one first part must start the other, and one
    last part must end the other; texts that differ there never need filling to tell them apart."""
    return (a[0].startswith(b[0]) or b[0].startswith(a[0])) and (a[-1].endswith(b[-1]) or b[-1].endswith(a[-1]))


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
        if said is not None:
            # Records are ordered by what they are (their id), not where they stand in the file, so
            # list order never matters; n keeps the sort stable and never lets it compare the rest.
            ranked.append((said.rank, firing.record_id, n, said))
    ranked.sort()
    # What was said already, by (section, person), and by which rules: a text is filled in only to
    # compare it with one that could read alike (see Advice.alike), or when the brief shows it.
    said_in: dict[tuple[str, str | None], tuple[list[Recommendation], set[str]]] = {}
    out: list[Recommendation] = []
    for _, record_id, _, said in ranked:
        record = by_id[record_id]
        subject = record.subject if said.about_person else None
        parts = said.parts
        r = Recommendation(said.rule_id, said.source, said.section, said.aspect, said.priority, subject, record_id,
                           parts[0] if len(parts) == 1 else None)  # type: ignore[arg-type]  # fmt: skip
        if len(parts) > 1:
            r._fill = (parts, record.values, quote)
        earlier = said_in.get((said.section, subject))
        if earlier is None:
            said_in[said.section, subject] = ([r], {said.rule_id})
        else:
            alike = said.alike
            if not alike.isdisjoint(earlier[1]) and any(e.rule_id in alike and e.text == r.text for e in earlier[0]):
                continue
            earlier[0].append(r)
            earlier[1].add(said.rule_id)
        out.append(r)
    return out
