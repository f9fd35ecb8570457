"""How much a recommendation matters for this visit: its priority, the visit's purpose, and the situation.

A brief has room for about seventeen points. Which ones a rep reads is decided here, never by the
file a rule sits in or its place there. The score of a recommendation is

    priority weight                (relevance.yaml: priorities)
  + purpose weight                 (relevance.yaml: the visit's purpose -> course items; 0 to 3)
  + urgency                        (an event soon: up to 1.5, graded by days, never a cliff)
  + severity                       (an open incident, for advice on service: up to 1.5)
  + freshness                      (a competitor's move learned recently: up to 1; a strong one +0.5)
  + in the room                    (advice about a person who attends: +0.5)

The purpose weights are data beside the rules (`relevance.yaml`), so a trainer can say what a
renewal or a service-recovery visit must put first; the situation terms read the facts of the
record the advice is about.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .course import Course
from .errors import AdvisorError, Problem
from .modelio import validate
from .profile import Purpose
from .vocabulary import PRIORITIES
from .yamlio import load_file

if TYPE_CHECKING:
    from .advise import Advice

RELEVANCE_FILE = "relevance.yaml"
NO_VISIT = "account_brief"  # the purpose table used for a brief with no visit

# The situation terms (see the module docstring). Each is graded: it falls to nothing over its window.
EVENT_WINDOW, EVENT_WEIGHT = 60, 1.5  # days ahead an event starts to count, and its weight the day it happens
RECENT_EVENT_DAYS, RECENT_EVENT_WEIGHT = 14, 0.75  # an event just past still shapes the visit
INFO_WINDOW, INFO_WEIGHT, STRONG_COMPETITOR = 120, 1.0, 0.5
INCIDENT_WEIGHT = {"critical": 1.5, "high": 1.5, "other": 0.75}
ATTENDING_WEIGHT = 0.5

CourseCode = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,2}(\.[a-z])?$")]
Weight = Annotated[float, Field(ge=0, le=3)]


class RelevanceFile(BaseModel):
    """`relevance.yaml`: what each kind of visit puts first."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    priorities: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(
        description="the weight of each priority: the base of every score"
    )
    service_items: list[CourseCode] = Field(
        default_factory=list,
        description="course items (or topics) about the quality of our service: an open incident makes advice citing them urgent",
    )
    always: dict[CourseCode, Weight] = Field(
        default_factory=dict, description="course items that matter on every visit, whatever its purpose"
    )
    emphasis: dict[CourseCode, Annotated[float, Field(ge=-3, le=3)]] = Field(
        default_factory=dict,
        description="added to every score whatever the purpose: what an expert puts first (positive) or leaves to "
        "the full brief unless nothing more pressing fired (negative); the most specific entry matching a cited "
        "item counts, and of several cited items the highest",
    )
    purposes: dict[str, dict[CourseCode, Weight]] = Field(
        description="for each visit purpose (and account_brief, for a brief with no visit): course item, topic, "
        "section or unit -> weight 0 to 3; the most specific entry matching a cited item wins"
    )


def most_specific(table: dict[str, float], code: str) -> float | None:
    """The weight of the most specific entry of `table` matching a course item (3.3.3.a, then 3.3.3,
    3.3, 3), or None."""
    parts = code.split(".")
    for n in range(len(parts), 0, -1):
        weight = table.get(".".join(parts[:n]))
        if weight is not None:
            return weight
    return None


class Relevance:
    """Scores recommendations; built once per rule base (Advisor keeps it)."""

    def __init__(self, weights: RelevanceFile):
        self.priorities = weights.priorities
        self.purposes = weights.purposes
        self.always = weights.always
        self.emphasis = weights.emphasis
        self.service_items = tuple(weights.service_items)
        self._service_cache: dict[tuple[str, ...], bool] = {}
        self._purpose_cache: dict[tuple[str, tuple[str, ...]], float] = {}
        self._emphasis_cache: dict[tuple[str, ...], float] = {}
        self._weight_cache: dict[tuple[str, tuple[str, ...], str], float] = {}

    @classmethod
    def default(cls) -> Relevance:
        return cls(RelevanceFile(priorities={"high": 3, "medium": 2, "low": 1}, purposes={}))

    def purpose_weight(self, purpose: str, codes: tuple[str, ...]) -> float:
        """The best weight of any cited item under this purpose: the most specific matching entry wins."""
        key = (purpose, codes)
        weight = self._purpose_cache.get(key)
        if weight is None:
            tables = (self.always, self.purposes.get(purpose, {}))
            weight = self._purpose_cache[key] = max(
                [0.0, *(w for t in tables for code in codes if (w := most_specific(t, code)) is not None)]
            )
        return weight

    def emphasis_of(self, codes: tuple[str, ...]) -> float:
        """The emphasis of the cited items: for each, its most specific entry (none: 0); of several, the highest."""
        weight = self._emphasis_cache.get(codes)
        if weight is None:
            weight = self._emphasis_cache[codes] = max(
                (most_specific(self.emphasis, code) or 0.0 for code in codes), default=0.0
            )
        return weight

    def about_service(self, codes: tuple[str, ...]) -> bool:
        """Whether advice citing `codes` is about the quality of our service (relevance.yaml's service_items)."""
        found = self._service_cache.get(codes)
        if found is None:
            found = self._service_cache[codes] = any(
                code == item or code.startswith(item + ".") for code in codes for item in self.service_items
            )
        return found

    def weight(self, priority: str, codes: tuple[str, ...], purpose: str) -> float:
        """What advice of this priority citing `codes` weighs on a visit of this purpose before the
        situation is counted: priority, purpose and emphasis (the same for every brief; kept)."""
        key = (priority, codes, purpose)
        weight = self._weight_cache.get(key)
        if weight is None:
            weight = self.priorities.get(priority, 0.0) + self.purpose_weight(purpose, codes)
            weight = self._weight_cache[key] = weight + self.emphasis_of(codes)
        return weight

    def score(self, advice: Advice, values: dict[str, Any]) -> float:
        """How much one recommendation (`advice` about the record whose facts are `values`) matters."""
        purpose = values.get("account.visit_purpose") or NO_VISIT
        score = self.weight(advice.priority, advice.source, purpose)
        days = values.get("event.days_until")
        if days is not None:
            if 0 <= days <= EVENT_WINDOW:
                score += EVENT_WEIGHT * (1 - days / EVENT_WINDOW)
            elif -RECENT_EVENT_DAYS <= days < 0:
                score += RECENT_EVENT_WEIGHT * (1 + days / RECENT_EVENT_DAYS)
        incidents = values.get("account.open_incidents", 0)
        if incidents and self.about_service(advice.source):
            worst = values.get("account.worst_open_incident") or "other"
            score += INCIDENT_WEIGHT.get(worst, INCIDENT_WEIGHT["other"])
        if "competitor.strength" in values:
            age = values.get("competitor.days_since_info")
            if age is not None and 0 <= age <= INFO_WINDOW:
                score += INFO_WEIGHT * (1 - age / INFO_WINDOW)
            if values["competitor.strength"] == "strong":
                score += STRONG_COMPETITOR
        if values.get("stakeholder.is_attendee"):
            score += ATTENDING_WEIGHT
        return round(score, 4)


def load_relevance(rules_dir: Path, course: Course) -> tuple[Relevance, Path | None]:
    """The relevance table beside the rules, or priorities alone when the folder has none."""
    path = rules_dir / RELEVANCE_FILE
    if not path.is_file():
        return Relevance.default(), None
    doc = load_file(path, what="a relevance file")
    weights = validate(doc, RelevanceFile)
    problems = []
    known_purposes = (*Purpose.__args__, NO_VISIT)
    for name in weights.priorities:
        if name not in PRIORITIES:
            line, col = doc.where(("priorities", name), key=True)
            problems.append(Problem(str(path), line, col, "error", f"unknown priority '{name}'; use {', '.join(PRIORITIES)}"))  # fmt: skip
    for purpose in weights.purposes:
        if purpose not in known_purposes:
            line, col = doc.where(("purposes", purpose), key=True)
            problems.append(Problem(str(path), line, col, "error", f"unknown visit purpose '{purpose}'; use {', '.join(known_purposes)}"))  # fmt: skip
    # Each code with where it is written: list items by index, table entries by key.
    codes = [(("service_items", i), code, False) for i, code in enumerate(weights.service_items)]
    codes += [(("always", code), code, True) for code in weights.always]
    codes += [(("emphasis", code), code, True) for code in weights.emphasis]
    codes += [(("purposes", p, code), code, True) for p, table in weights.purposes.items() for code in table]
    for at, code, key in codes:
        if not any(item == code or item.startswith(code + ".") for item in course.items):
            line, col = doc.where(at, key=key)
            problems.append(Problem(str(path), line, col, "error", f"'{code}' is no course item, topic, section or unit; see `advisor coverage`"))  # fmt: skip
    if problems:
        raise AdvisorError(problems)
    return Relevance(weights), path
