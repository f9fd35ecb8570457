"""Which recommendations a Markdown brief shows: at a glance, then per section within the budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .advise import Recommendation, said_once
from .brief import Brief
from .vocabulary import PRIORITIES

GLANCE_MAX = 5


@dataclass(frozen=True)
class Selection:
    """What a Markdown brief shows of a brief's recommendations."""

    said: list[Recommendation]  # every recommendation, each text said once as the brief escapes it
    glance: list[Recommendation]  # "at a glance"
    shown_in: dict[str, list[Recommendation]]  # the rest it shows, by section, in reading order

    def shown_rules(self) -> set[str]:
        """The rules whose advice the brief shows (its "why this advice" table lists exactly these)."""
        return {r.rule_id for r in self.glance}.union(r.rule_id for rs in self.shown_in.values() for r in rs)


def choose(brief: Brief, limits: dict, escape: Callable[[str], str]) -> Selection:
    """What fits the car park: at a glance first, then each section within `limits` (labels.yaml's)."""
    # A Markdown brief says once what reads the same once escaped (values differing only in spacing).
    said = said_once(brief.recommendations, escape)
    glance = at_a_glance(said, set(brief.attendees))
    # said_once leaves no two recommendations equal, so identity tells them apart.
    in_glance = {id(r) for r in glance}
    rest = [r for r in said if id(r) not in in_glance]
    chosen = select(rest, list(brief.attendees), limits, limits.get("total", len(said)) - len(glance))
    shown_in: dict[str, list[Recommendation]] = {}
    for r in rest:
        if id(r) in chosen:
            shown_in.setdefault(r.section, []).append(r)
    return Selection(said, glance, shown_in)


def at_a_glance(recs: list[Recommendation], attending: set[str]) -> list[Recommendation]:
    """The highest-priority points for this visit, one per rule (the same advice for a second
    person waits in their section); advice about absent people waits in "others"."""
    glance: list[Recommendation] = []
    for r in recs:
        if len(glance) == GLANCE_MAX:
            break
        if r.priority != "high" or (r.stakeholder is not None and r.stakeholder not in attending):
            continue
        if r.rule_id not in {g.rule_id for g in glance}:
            glance.append(r)
    return glance


def select(recs: list[Recommendation], attendee_ids: list[str], limits: dict[str, int], budget: int) -> set[int]:
    """Which recommendations the brief shows (as ids), to keep it readable in the car park.

    First every part the rep must not find empty gets its floor (limits' `floors`: the account,
    each attendee, the checklist), best items first; then priority decides: every high item that
    fits its section's limit, then medium, then low, until the brief's total budget is spent.
    About people not attending, only high-priority advice is shown, under "others". The JSON
    output keeps every recommendation.
    """
    floors = limits.get("floors", {})
    attending = set(attendee_ids)
    unlimited = 10**6
    person_cap, others_cap = limits.get("person", unlimited), limits.get("others", unlimited)
    # Each shown candidate with the slot its count goes to and that slot's limit.
    slots: list[tuple[Recommendation, tuple, int]] = []
    for r in recs:
        section = r.section
        if section == "person":
            if r.stakeholder in attending:
                slots.append((r, ("person", r.stakeholder), person_cap))
            elif r.priority == "high":
                slots.append((r, ("others",), others_cap))
            # else: never shown
        else:
            slots.append((r, (section,), limits.get(section, unlimited)))

    counts: dict[tuple, int] = {}
    chosen: set[int] = set()
    if floors:
        for r, slot, limit in slots:
            if budget <= 0:
                break
            floor = floors.get(r.section, 0)
            if floor and id(r) not in chosen and counts.get(slot, 0) < min(limit, floor):
                counts[slot] = counts.get(slot, 0) + 1
                chosen.add(id(r))
                budget -= 1
    by_priority: dict[str, list[tuple[Recommendation, tuple, int]]] = {p: [] for p in PRIORITIES}
    for candidate in slots:
        same = by_priority.get(candidate[0].priority)
        if same is not None:  # an item of no known priority is never picked by priority
            same.append(candidate)
    for same in by_priority.values():
        for r, slot, limit in same:
            if budget <= 0:
                return chosen
            if id(r) not in chosen and counts.get(slot, 0) < min(limit, unlimited):
                counts[slot] = counts.get(slot, 0) + 1
                chosen.add(id(r))
                budget -= 1
    return chosen
