"""Which recommendations a Markdown brief shows: at a glance, then per section within the budget, by relevance.

Relevance (relevance.py) orders everything; ties go to course order, then a fixed token of the
rule's id (advise._rank): never to the file a rule sits in, its place there, or the alphabet.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from .advise import Recommendation, said_once
from .brief import Brief
from .course import code_order, topic_of

GLANCE_MAX = 5
TOPIC_REPEAT = 1.5  # what each earlier point of the same course topic takes off a recommendation's relevance
RULE_REPEAT = 1.0  # and each earlier point of the same rule (the same advice for another person)
UNLIMITED = 10**6
_NONE_YET = itertools.repeat(0)  # counts.get's default, for every key map() looks up

Slot = tuple[str, ...]  # where a shown item counts: (section,), ("person", stakeholder id) or ("others",)


class Cares:
    """What a person's card says they care about: course items with a trait (labels.yaml's `traits`,
    "price-performance") that advice about them cites but the brief does not already say in full,
    in course order, and that advice. (A plain class: as a frozen dataclass it cost every start about
    0.37 ms to create.)"""

    __slots__ = ("items", "advice")

    def __init__(self, items: tuple[str, ...], advice: tuple[Recommendation, ...]):
        self.items, self.advice = items, advice


class Selection:
    """What a Markdown brief shows of a brief's recommendations, and what it leaves out. Treat it as
    read-only. (A plain class: as a frozen dataclass it cost every start about 0.5 ms to create.)"""

    __slots__ = ("said", "glance", "shown_in", "more", "cares")

    def __init__(
        self,
        said: list[Recommendation],  # every recommendation, each text said once as the brief escapes it, by relevance
        glance: list[Recommendation],  # "at a glance"
        shown_in: dict[str, list[Recommendation]],  # the rest it shows, by section, by relevance
        more: dict[Slot, int],  # advice that fired but does not fit, by where it would show (see `slot`)
        cares: dict[str, Cares] | None = None,  # whose card says what they care about, in the brief's order
    ) -> None:
        self.said, self.glance, self.shown_in, self.more = said, glance, shown_in, more
        self.cares: dict[str, Cares] = {} if cares is None else cares

    def shown_rules(self) -> set[str]:
        """The rules whose advice the brief shows, in full or as what a person cares about (its "why
        this advice" table lists exactly these)."""
        full = {r.rule_id for r in self.glance}.union(r.rule_id for rs in self.shown_in.values() for r in rs)
        return full.union(r.rule_id for card in self.cares.values() for r in card.advice)

    def shown_ids(self) -> set[int]:
        """The shown recommendations, by identity (the brief's own objects)."""
        return {id(r) for r in self.glance}.union(id(r) for rs in self.shown_in.values() for r in rs)


class Candidate:
    """A recommendation that may be shown, with where it counts, that slot's limit, and what it teaches.
    (A plain class with slots: a brief weighs dozens, and a frozen dataclass builds several times slower.)"""

    __slots__ = ("rec", "where", "limit", "topics", "items", "score", "rule_id")

    def __init__(self, rec: Recommendation, where: Slot, limit: int) -> None:
        self.rec, self.where, self.limit = rec, where, limit
        advice = rec.advice
        self.topics, self.items, self.score, self.rule_id = advice.topics, advice.items, rec.score, advice.rule_id


def topics_of(r: Recommendation) -> frozenset[str]:
    """The course topics a recommendation teaches (every item it cites)."""
    return r.advice.topics


def by_relevance(recs: list[Recommendation]) -> list[Recommendation]:
    """Most relevant first; ties in course order, then by the rule's token, then by record."""
    return sorted(recs, key=lambda r: (-r.score, r.advice.rank[1:], r.record_id))


def slot(r: Recommendation, attending: set[str]) -> Slot:
    """Where a recommendation shows: its section, its attendee's section, or "others" (people not attending)."""
    section = r.advice.section  # not r.section: a property, and this runs for every recommendation
    if section == "person" and r.stakeholder:
        return ("person", r.stakeholder) if r.stakeholder in attending else ("others",)
    return (section,)


def choose(
    brief: Brief,
    limits: dict,
    escape: Callable[[str], str],
    *,
    full: bool = False,
    traits: frozenset[str] = frozenset(),
) -> Selection:
    """What fits the car park (or, `full`, everything): at a glance first, then each part of the
    brief within `limits` (labels.yaml's), the most relevant first.

    1. Floors: each part the rep must not find empty (limits' `floors`: the account, each
       attendee, the checklist) gets its best items, on a course topic not yet shown if it can.
    2. The rest by relevance, one at a time, each earlier point of the same course topic or rule
       counting against a candidate, until the brief's total budget is spent.
    About people not attending, only high-priority advice competes, under "others".
    3. What each person cares about (`traits`: course items a card can state in a few words), from the
       advice about them left out: every attendee's, or with no visit, the people the most relevant
       such advice is about (limits' `people`).
    """
    # A Markdown brief says once what reads the same once escaped (values differing only in spacing);
    # when no two of its recommendations may read alike, there is nothing to look for.
    recs = brief.recommendations
    said = by_relevance(said_once(recs, escape) if brief.may_read_alike else recs)
    attending = set(brief.attendees)
    glance = at_a_glance(said, attending)
    in_glance = {id(r) for r in glance}
    rest = [r for r in said if id(r) not in in_glance]
    slots = [slot(r, attending) for r in rest]  # worked out once, for select and for what is left out
    if full:
        chosen = {id(r) for r in rest}
    else:
        budget = limits.get("total", len(said)) - len(glance)
        covered = {t for r in glance for t in topics_of(r)}
        shown_items = {c for r in glance for c in r.advice.source}
        chosen = select(rest, attending, limits, budget, covered, shown_items, slots=slots)
    shown_in: dict[str, list[Recommendation]] = {}
    more: dict[Slot, int] = {}
    left_out: list[Recommendation] = []
    for r, where in zip(rest, slots, strict=True):
        if id(r) in chosen:
            shown_in.setdefault(r.advice.section, []).append(r)
        else:
            more[where] = more.get(where, 0) + 1
            left_out.append(r)
    cares_limit = UNLIMITED if full or attending else limits.get("people", UNLIMITED)
    people = brief.attendees or tuple(s.id for s in brief.profile.stakeholders)
    in_full = [r for r in said if id(r) in chosen or id(r) in in_glance]
    return Selection(
        said, glance, shown_in, more, cares_about(left_out, in_full, people, bool(attending), traits, cares_limit)
    )


def cares_about(
    left_out: list[Recommendation],
    in_full: list[Recommendation],
    people: tuple[str, ...],
    visit: bool,
    traits: frozenset[str],
    limit: int,
) -> dict[str, Cares]:
    """Whose card says what they care about, in the order of `people`: with a visit, each attendee;
    without one, the `limit` people the most relevant such advice is about. A card states the traits
    that advice `left_out` (in relevance order) cites and advice shown `in_full` does not."""
    said: dict[str, set[str]] = {}
    for r in in_full:
        if r.stakeholder:
            said.setdefault(r.stakeholder, set()).update(r.advice.source)
    about: dict[str, list[Recommendation]] = {}
    for r in left_out:
        if r.stakeholder and any(c in traits and c not in said.get(r.stakeholder, ()) for c in r.advice.source):
            about.setdefault(r.stakeholder, []).append(r)
    chosen = set(about) if visit else set(list(about)[:limit])
    cards = {}
    for sid in people:
        if sid in chosen:
            items = {c for r in about[sid] for c in r.source if c in traits} - said.get(sid, set())
            cards[sid] = Cares(tuple(sorted(items, key=code_order)), tuple(about[sid]))
    return cards


def at_a_glance(recs: list[Recommendation], attending: set[str]) -> list[Recommendation]:
    """The most relevant high-priority points for this visit, one per rule and, while there are
    others, one per course topic (the same advice for a second person waits in their section);
    advice about absent people waits in "others". `recs` are in relevance order."""
    eligible = [
        r for r in recs if r.advice.priority == "high" and (r.stakeholder is None or r.stakeholder in attending)
    ]  # fmt: skip
    glance: list[Recommendation] = []
    rules: set[str] = set()
    topics: set[str] = set()
    for breadth in (True, False):
        for r in eligible:
            if len(glance) == GLANCE_MAX:
                return glance
            topic = topic_of(r.advice.source[0])
            if r.advice.rule_id in rules or (breadth and topic in topics):
                continue
            glance.append(r)
            rules.add(r.advice.rule_id)
            topics.add(topic)
    return glance


def select(
    recs: list[Recommendation],
    attending: set[str],
    limits: dict,
    budget: int,
    covered: set[str] = frozenset(),
    shown_items: set[str] = frozenset(),
    *,
    slots: list[Slot] | None = None,
) -> set[int]:
    """Which recommendations the brief shows (as ids): floors, then the rest by relevance with breadth
    (see choose). `recs` are in relevance order; `covered` and `shown_items` hold the course topics and
    items already shown at a glance; `slots`, where each of `recs` shows (see `slot`), if known."""
    floors = limits.get("floors", {})
    person_cap, others_cap = limits.get("person", UNLIMITED), limits.get("others", UNLIMITED)
    candidates: list[Candidate] = []
    floored: list[tuple[Candidate, int]] = []  # those in a part with a floor, and the floor there
    if slots is None:
        slots = [slot(r, attending) for r in recs]
    for r, where in zip(recs, slots, strict=True):
        if where[0] == "person":
            limit = person_cap
        elif where[0] == "others":
            if r.advice.priority != "high":
                continue
            limit = others_cap
        else:
            limit = limits.get(r.advice.section, UNLIMITED)
        c = Candidate(r, where, limit)
        candidates.append(c)
        floor = floors.get(r.advice.section, 0)
        if floor:
            floored.append((c, min(limit, floor)))

    counts: dict[Slot, int] = {}
    chosen: set[int] = set()
    topic_count: dict[str, int] = dict.fromkeys(covered, 1)
    rule_count: dict[str, int] = {}
    items: set[str] = set(shown_items)

    def take(c: Candidate) -> None:
        counts[c.where] = counts.get(c.where, 0) + 1
        chosen.add(id(c.rec))
        for t in c.topics:
            topic_count[t] = topic_count.get(t, 0) + 1
        rule_count[c.rule_id] = rule_count.get(c.rule_id, 0) + 1
        items.update(c.items)

    # Whether a candidate may still be taken, within `limit` of its slot, is written out where it is
    # asked (`counts.get(c.where, 0) < limit and id(c.rec) not in chosen`): a brief asks a hundred times.

    # 1. floors, advice on a course topic not yet shown first
    for fresh in (True, False):
        for c, limit in floored:
            if len(chosen) < budget and counts.get(c.where, 0) < limit and id(c.rec) not in chosen:
                if not fresh or not topic_count.keys() >= c.topics:
                    take(c)

    # 2. The rest, one at a time: the most relevant, less a step for each earlier point of its course
    # topic and of its rule, and a step when it teaches no course item not yet shown. Breadth without a
    # cliff: a strong second point of a topic still beats a weak first one.
    def value(c: Candidate) -> float:
        topic_repeats = min(map(topic_count.get, c.topics, _NONE_YET))
        return (
            c.score - TOPIC_REPEAT * topic_repeats - RULE_REPEAT * (rule_count.get(c.rule_id, 0) + (c.items <= items))
        )

    # Lazily (a heap of values worked out when last looked at): each take only adds to the counts, so
    # a value never rises, and a value worked out since the last take is the best there is. Ties go to
    # the earlier in relevance order, as a scan of every candidate at every step would pick. A value
    # is at most the score, so the heap starts from the scores (in relevance order, a heap already),
    # marked as never worked out: only the candidates that come near the top are ever valued.
    taken = 0
    heap = [(-c.score, n, -1) for n, c in enumerate(candidates)]
    heapq.heapify(heap)
    while heap and len(chosen) < budget:
        _, n, when = heapq.heappop(heap)
        while True:
            c = candidates[n]
            if counts.get(c.where, 0) >= c.limit or id(c.rec) in chosen:
                break  # its part filled up (or a floor took it): it never opens again
            if when == taken:
                take(c)
                taken += 1
                break
            # Its value now, back on the heap, and the best there is taken off: itself, if it still
            # leads (one call, not a push and then a pop).
            _, n, when = heapq.heappushpop(heap, (-value(c), n, taken))
    return chosen
