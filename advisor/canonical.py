"""One canonical order for every list in a profile, so the order a rep typed things in never changes a fact or a byte of the brief.

Record ids, tables, the relationship map and the attendee sections all follow list order; sorting
once here, before facts are derived, keeps every later step free to rely on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from . import profile as p

M = TypeVar("M", bound=BaseModel)

LEVEL_RANK = {"senior": 0, "middle": 1, "frontline": 2}


def canonical(profile: p.Profile) -> p.Profile:
    """The same profile with its lists in canonical order: people as an org chart (each boss, then
    their reports, seniors and ids first), attendees by seniority, dated things by date, the rest
    by what they say.

    Stakeholders are ordered by level and id, never by name, so renaming a person moves nothing.
    """
    people = _org_chart(
        [
            _with_sorted(s, ties=lambda ties: _sorted(ties, lambda t: (t.with_, t.kind)), interests=sorted)
            for s in profile.stakeholders
        ]
    )
    update: dict[str, Any] = {
        "stakeholders": people,
        "interactions": _sorted(
            (_with_sorted(i, with_=sorted) for i in profile.interactions),
            lambda i: (i.date, i.kind),
        ),
        "service": _with_sorted(
            profile.service,
            issues=lambda issues: _sorted(issues, lambda i: (i.opened, i.severity)),
            satisfaction_history=lambda readings: _sorted(readings, lambda r: (r.date, r.score)),
            concerns=lambda concerns: _sorted(concerns, lambda c: (c.stakeholder, c.about)),
        ),
        "contracts": _sorted(
            (_with_sorted(c, users=sorted) for c in profile.contracts), lambda c: (c.ends or dt.date.max, c.service)
        ),
        "competitors": _sorted(profile.competitors, lambda c: (c.name,)),
        "events": _sorted(profile.events, lambda e: (e.date, e.kind)),
    }
    if profile.visit is not None:
        # The most senior first, as they would be introduced; then as in the org chart.
        rank = {s.id: (LEVEL_RANK[s.level], i) for i, s in enumerate(people)}
        attendees = sorted(profile.visit.attendees, key=lambda a: (rank.get(a, (len(LEVEL_RANK), 0)), a))
        update["visit"] = profile.visit.model_copy(update={"attendees": attendees})
    return profile.model_copy(update=update)


_FIRST = operator.itemgetter(0)


def _sorted(items: Iterable[M], key: Callable[[M], tuple]) -> list[M]:
    """Sorted by `key`, then by the whole content, so two items that differ anywhere never tie.

    The content (a JSON dump, the costly part) is only compared among items whose keys are equal;
    each key is worked out once.
    """
    keyed = sorted([(key(m), m) for m in items], key=_FIRST)
    if len({k for k, _ in keyed}) == len(keyed):  # no two keys equal (the usual case): no content to compare
        return [m for _, m in keyed]
    out: list[M] = []
    for _, group in itertools.groupby(keyed, key=_FIRST):
        tied = [m for _, m in group]
        out.extend(sorted(tied, key=lambda m: m.model_dump_json()) if len(tied) > 1 else tied)
    return out


def _with_sorted(model: M, **fields: Callable[[Any], list]) -> M:
    """`model` with each named list field sorted by its function; the model itself when nothing moves."""
    update = {}
    for name, sort in fields.items():
        value = getattr(model, name)
        if len(value) < 2:  # already in order, whatever the order is
            continue
        ordered = sort(value)
        if ordered != value:
            update[name] = ordered
    return model.model_copy(update=update) if update else model


def _org_chart(people: Sequence[p.Stakeholder]) -> list[p.Stakeholder]:
    """Depth-first through reporting lines: a boss, then each report's subtree; siblings and tops by
    level (senior first) and id. People in a reporting loop follow, from the first by the same order.

    Iterative, and by position rather than id, so a long chain cannot exhaust the stack and a
    duplicate id (in a profile that skipped validation) loses no one.
    """
    order = _sorted(people, lambda s: (LEVEL_RANK[s.level], s.id))
    ids = {s.id for s in order}
    children: dict[str, list[int]] = {}
    for i, s in enumerate(order):
        if s.reports_to in ids and s.reports_to != s.id:
            children.setdefault(s.reports_to, []).append(i)
    tops = [i for i, s in enumerate(order) if s.reports_to not in ids or s.reports_to == s.id]
    seen: set[int] = set()
    out: list[p.Stakeholder] = []
    for start in [*tops, *range(len(order))]:
        stack = [start]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            out.append(order[i])
            stack.extend(reversed(children.get(order[i].id, [])))
    return out
