"""Which recommendations a Markdown brief shows: at a glance, then per section within the budget, by relevance.

Relevance (relevance.py) orders everything; ties go to course order, then a fixed token of the
rule's id (advise._rank): never to the file a rule sits in, its place there, or the alphabet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .advise import Recommendation, said_once
from .brief import Brief
from .course import topic_of

GLANCE_MAX = 5
UNLIMITED = 10**6

Slot = tuple[str, ...]  # where a shown item counts: (section,), ("person", stakeholder id) or ("others",)


@dataclass(frozen=True)
class Selection:
    """What a Markdown brief shows of a brief's recommendations, and what it leaves out."""

    said: list[Recommendation]  # every recommendation, each text said once as the brief escapes it, by relevance
    glance: list[Recommendation]  # "at a glance"
    shown_in: dict[str, list[Recommendation]]  # the rest it shows, by section, by relevance
    more: dict[Slot, int]  # advice that fired but does not fit, by where it would show (see `slot`)

    def shown_rules(self) -> set[str]:
        """The rules whose advice the brief shows (its "why this advice" table lists exactly these)."""
        return {r.rule_id for r in self.glance}.union(r.rule_id for rs in self.shown_in.values() for r in rs)

    def shown_ids(self) -> set[int]:
        """The shown recommendations, by identity (the brief's own objects)."""
        return {id(r) for r in self.glance}.union(id(r) for rs in self.shown_in.values() for r in rs)


def topics_of(r: Recommendation) -> set[str]:
    """The course topics a recommendation teaches (every item it cites)."""
    return {topic_of(code) for code in r.source}


def by_relevance(recs: list[Recommendation]) -> list[Recommendation]:
    """Most relevant first; ties in course order, then by the rule's token, then by record."""
    return sorted(recs, key=lambda r: (-r.score, r.advice.rank[1:], r.record_id))


def slot(r: Recommendation, attending: set[str]) -> Slot:
    """Where a recommendation shows: its section, its attendee's section, or "others" (people not attending)."""
    if r.section == "person" and r.stakeholder:
        return ("person", r.stakeholder) if r.stakeholder in attending else ("others",)
    return (r.section,)


def choose(brief: Brief, limits: dict, escape: Callable[[str], str], *, full: bool = False) -> Selection:
    """What fits the car park (or, `full`, everything): at a glance first, then each part of the
    brief within `limits` (labels.yaml's), the most relevant first.

    1. Floors: each part the rep must not find empty (limits' `floors`: the account, each
       attendee, the checklist) gets its best items.
    2. Breadth: one item of each course topic that fired, before a second of any topic.
    3. Depth: the rest by relevance, until the brief's total budget is spent.
    About people not attending, only high-priority advice competes, under "others".
    """
    # A Markdown brief says once what reads the same once escaped (values differing only in spacing).
    said = by_relevance(said_once(brief.recommendations, escape))
    attending = set(brief.attendees)
    glance = at_a_glance(said, attending)
    in_glance = {id(r) for r in glance}
    rest = [r for r in said if id(r) not in in_glance]
    if full:
        chosen = {id(r) for r in rest}
    else:
        budget = limits.get("total", len(said)) - len(glance)
        covered = {t for r in glance for t in topics_of(r)}
        chosen = select(rest, attending, limits, budget, covered, {c for r in glance for c in r.source})
    shown_in: dict[str, list[Recommendation]] = {}
    more: dict[Slot, int] = {}
    for r in rest:
        if id(r) in chosen:
            shown_in.setdefault(r.section, []).append(r)
        else:
            where = slot(r, attending)
            more[where] = more.get(where, 0) + 1
    return Selection(said, glance, shown_in, more)


def at_a_glance(recs: list[Recommendation], attending: set[str]) -> list[Recommendation]:
    """The most relevant high-priority points for this visit, one per rule and, while there are
    others, one per course topic (the same advice for a second person waits in their section);
    advice about absent people waits in "others". `recs` are in relevance order."""
    eligible = [
        r for r in recs if r.priority == "high" and (r.stakeholder is None or r.stakeholder in attending)
    ]  # fmt: skip
    glance: list[Recommendation] = []
    rules: set[str] = set()
    topics: set[str] = set()
    for breadth in (True, False):
        for r in eligible:
            if len(glance) == GLANCE_MAX:
                return glance
            topic = topic_of(r.source[0])
            if r.rule_id in rules or (breadth and topic in topics):
                continue
            glance.append(r)
            rules.add(r.rule_id)
            topics.add(topic)
    return glance


def select(
    recs: list[Recommendation],
    attending: set[str],
    limits: dict,
    budget: int,
    covered: set[str] = frozenset(),
    shown_items: set[str] = frozenset(),
) -> set[int]:
    """Which recommendations the brief shows (as ids): floors, then breadth, then depth (see choose).
    `recs` are in relevance order; `covered` holds the course topics already shown at a glance."""
    floors = limits.get("floors", {})
    person_cap, others_cap = limits.get("person", UNLIMITED), limits.get("others", UNLIMITED)
    candidates: list[tuple[Recommendation, Slot, int]] = []  # each with the slot its count goes to, and its limit
    for r in recs:
        where = slot(r, attending)
        if where[0] == "person":
            candidates.append((r, where, person_cap))
        elif where[0] == "others":
            if r.priority == "high":
                candidates.append((r, where, others_cap))
        else:
            candidates.append((r, where, limits.get(r.section, UNLIMITED)))

    counts: dict[Slot, int] = {}
    chosen: set[int] = set()
    topics = set(covered)
    items: set[str] = set(shown_items)

    def take(r: Recommendation, where: Slot) -> None:
        counts[where] = counts.get(where, 0) + 1
        chosen.add(id(r))
        topics.update(topics_of(r))
        items.update(r.source)

    def new_topic(r: Recommendation) -> bool:
        return not topics_of(r) <= topics

    def new_item(r: Recommendation) -> bool:
        return not set(r.source) <= items

    def anything(r: Recommendation) -> bool:
        return True

    for fresh in (True, False):  # 1. floors, with advice on a topic not yet shown first
        for r, where, limit in candidates:
            floor = floors.get(r.section, 0)
            if len(chosen) >= budget or not floor or id(r) in chosen or counts.get(where, 0) >= min(limit, floor):
                continue
            if fresh and topics_of(r) <= topics:
                continue
            take(r, where)
    for adds in (new_topic, new_item, anything):  # 2. one per course topic, 3. new items, 4. the rest
        for r, where, limit in candidates:
            if len(chosen) >= budget:
                return chosen
            if id(r) in chosen or counts.get(where, 0) >= limit or not adds(r):
                continue
            take(r, where)
    return chosen
