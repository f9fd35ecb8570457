"""The values that travel from the API to rendering: what the engine concluded, and the brief built on it."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

from .advise import Recommendation, Withdrawn
from .engine import Outcome
from .facts import Record
from .profile import Profile


class Evaluation:
    """What the engine concluded about one profile. Treat it as read-only.

    (This and Brief are plain classes: as frozen dataclasses, whose six methods Python compiles when it
    creates them, they cost every start about 0.8 ms; neither is compared, hashed or printed.)"""

    def __init__(
        self,
        profile: Profile,
        today: dt.date,
        as_of_source: str,  # "today" (given), "visit" (the visit date) or "clock" (the current date)
        records: list[Record],
        outcome: Outcome,
    ) -> None:
        self.profile, self.today, self.as_of_source, self.records, self.outcome = (
            profile, today, as_of_source, records, outcome
        )  # fmt: skip

    def facts(self) -> dict[str, dict]:
        """Each record's values with the facts rules derived for it, by record id."""
        return {r.id: self.facts_of(r) for r in self.records}

    def facts_of(self, record: Record) -> dict[str, Any]:
        """One record's values with the facts rules derived for it."""
        derived = self.outcome.derived.get(record.id)
        return {**record.values, **derived} if derived else record.values

    @cached_property
    def _by_subject(self) -> dict[tuple[str, str | None], Record]:
        return {(r.scope, r.subject): r for r in self.records if r.scope in ("account", "stakeholder")}

    def about(self, scope: str, subject: str | None = None) -> dict[str, Any]:
        """The facts of the account (`about("account")`) or of one stakeholder (`about("stakeholder", id)`),
        derived ones included; empty for a subject the profile does not have."""
        record = self._by_subject.get((scope, subject))
        return self.facts_of(record) if record is not None else {}

    def of_scope(self, scope: str) -> list[Record]:
        """The records of one scope, in the (canonical) order of the profile's list they come from."""
        return [r for r in self.records if r.scope == scope]


class Brief:
    """One account's brief in one language, worked out once and then shown in any format. Treat it as
    read-only.

    The recommendations are plain text, every one that fired (JSON shows them all; a Markdown
    brief escapes its own text and selects what fits the car park).
    """

    __slots__ = ("evaluation", "lang", "recommendations", "tiers", "withdrawn", "may_read_alike")

    def __init__(
        self,
        evaluation: Evaluation,
        lang: str,
        recommendations: list[Recommendation],
        tiers: tuple[str, ...],  # the account's value tiers, by name, in labels.yaml's order
        withdrawn: tuple[Withdrawn, ...] = (),  # advice another rule's situation withdrew (listed in JSON only)
        # Whether any two recommendations may read alike once escaped: False when saying them once in plain
        # text compared no texts (advise.recommend_compared), and the Markdown brief's own pass is skipped.
        may_read_alike: bool = True,
    ) -> None:
        self.evaluation, self.lang, self.recommendations, self.tiers, self.withdrawn = (
            evaluation, lang, recommendations, tiers, withdrawn
        )  # fmt: skip
        self.may_read_alike = may_read_alike

    @property
    def profile(self) -> Profile:
        return self.evaluation.profile

    @property
    def attendees(self) -> tuple[str, ...]:
        """Who attends the visit (ids, as the profile lists them); none for an account brief."""
        visit = self.evaluation.profile.visit
        return tuple(visit.attendees) if visit else ()
