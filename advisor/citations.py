"""The reviewed citations (rules/citations.yaml): for each (rule, course item) a rule cites, the course's words it relies on.

Every rule cites course items in `source`, and its advice must teach what it cites in every
situation its conditions select. A trainer checks that once per pair and records it here, with the
sentence of the course (Chinese, verbatim from advisor/data/course-source.txt) that the advice
relies on. `advisor lint` then refuses a pair nobody has reviewed, refuses a quote the course does
not contain, and warns of entries whose rule or citation is gone. The runtime never reads this file:
it changes no brief.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .course import SOURCE_FILE, Course, course_text, normalised
from .errors import AdvisorError, Problem, did_you_mean
from .modelio import validate
from .rules import CITATIONS_FILE
from .yamlio import Located, load_file


class Citation(BaseModel):
    """One reviewed (rule, course item) pair: the course's words the advice relies on."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    quote: str = Field(
        description="the course's own words the advice relies on: Chinese, verbatim from the course text "
        f"({SOURCE_FILE}); runs of whitespace count as one space",
        json_schema_extra={"minLength": 1},
    )
    en: str = Field("", description="a short English gloss: what the course says, or how the advice uses it")

    @field_validator("quote")
    @classmethod
    def _not_blank(cls, quote: str) -> str:
        if not quote.strip():
            raise ValueError(f"the quote is empty; copy the course's sentence from {SOURCE_FILE}")
        return quote


class CitationsFile(BaseModel):
    """`citations.yaml`: rule id -> course item code -> the reviewed citation."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    note: str = ""
    citations: dict[str, dict[str, Citation]] = Field(
        description="for each rule id, for each course item it cites: the course sentence its advice relies on"
    )


@dataclass(frozen=True)
class Cited:
    """A course item one rule cites, and where the rule file cites it."""

    code: str
    path: str
    line: int
    col: int


def load_citations(rules_dir: Path) -> tuple[CitationsFile, Located] | None:
    """The reviewed list beside the rules, with its positions; None when the folder keeps none."""
    path = rules_dir / CITATIONS_FILE
    if not path.is_file():
        return None
    doc = load_file(path, positions=True, what="a citations file")
    return validate(doc, CitationsFile), doc


def check_citations(rules_dir: Path, cited: dict[str, list[Cited]], course: Course) -> list[Problem]:
    """Every problem between the rules' citations (`cited`: rule id -> what it cites) and the
    reviewed list. A folder without a citations.yaml keeps no list, and has nothing to check."""
    try:
        loaded = load_citations(rules_dir)
    except AdvisorError as exc:
        return list(exc.problems)
    if loaded is None:
        return []
    reviewed, doc = loaded
    problems: list[Problem] = []
    for rule_id, codes in cited.items():
        entries = reviewed.citations.get(rule_id, {})
        for at in codes:
            code = at.code
            if code not in entries:
                problems.append(
                    Problem(at.path, at.line, at.col, "error",
                            f"the citation of {code} ({course.items[code].zh}) is not reviewed: check that the advice "
                            f"teaches it wherever the conditions hold, then add it under {rule_id} in {CITATIONS_FILE} "
                            "with the course's sentence it relies on", rule_id)
                )  # fmt: skip
    text = course_text()
    for rule_id, entries in reviewed.citations.items():
        if rule_id not in cited:
            hint = did_you_mean(rule_id, cited) or "; remove its entries, or rename them if the rule was renamed"
            problems.append(doc.problem(("citations", rule_id), f"there is no rule '{rule_id}'{hint}", key=True, rule_id=rule_id, level="warning"))  # fmt: skip
            continue
        codes = {at.code for at in cited[rule_id]}
        for code, citation in entries.items():
            if code not in course.items:
                message = f"'{code}' is no course item; remove this entry"
                problems.append(doc.problem(("citations", rule_id, code), message, key=True, rule_id=rule_id, level="warning"))  # fmt: skip
            elif code not in codes:
                message = f"{rule_id} no longer cites {code}; remove this entry"
                problems.append(doc.problem(("citations", rule_id, code), message, key=True, rule_id=rule_id, level="warning"))  # fmt: skip
            if normalised(citation.quote) not in text:
                message = f"the quote is not in the course text; copy the course's words verbatim from {SOURCE_FILE}"
                problems.append(doc.problem(("citations", rule_id, code, "quote"), message, rule_id=rule_id))
    return problems
