"""The JSON that advisor writes for machines, as pydantic models: the brief (`--format json`) and a line
of a batch's `index.jsonl`. `advisor schema brief|index` prints their JSON Schemas; tests validate the
briefs of every shipped profile against them, so the writers (render.to_json, the batch runner) cannot
drift from what is published.

The brief carries `schema_version`, MAJOR.MINOR: MINOR grows when fields are added (readers ignore
what they do not know), MAJOR when a field is renamed or removed, or changes meaning.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .profile import Function, Industry, Level, Ownership, Position, Purpose, Stage
from .vocabulary import SCHEMA_VERSION, Aspect, Lang, Priority, Section


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Producer(_Out):
    version: str = Field(description="the advisor release that wrote the brief")
    rules_hash: str = Field(description="a hash of the rules, templates and course: equal hashes, equal advice")


class Account(_Out):
    id: str
    name: str
    industry: Industry
    ownership: Ownership | None
    stage: Stage
    position: Position
    tiers: list[str] = Field(description="the account's value tiers (labels.yaml `tiers`), by name")


class Visit(_Out):
    date: str = Field(description="YYYY-MM-DD")
    objective: str
    purpose: Purpose
    purpose_inferred: bool = Field(description="true when the profile left the purpose out and the advisor inferred it")
    attendees: list[str] = Field(description="ids of the people attending (see `stakeholders` for their names)")


class Person(_Out):
    id: str
    name: str
    title: str
    department: str
    function: Function
    level: Level
    attending: bool = Field(description="whether they attend the planned visit")


class Advice(_Out):
    rule: str = Field(description="the id of the rule that gave this advice")
    source: list[str] = Field(description="the course items the rule cites")
    section: Section
    aspect: Aspect
    priority: Priority
    stakeholder: str | None = Field(description="the id of the person it is about; null for the account")
    stakeholder_name: str | None = Field(description="that person's name; null for the account")
    text: str


class Recommendation(Advice):
    score: float = Field(description="relevance for this visit: what the brief puts first")
    shown: bool = Field(description="whether the Markdown brief shows it in full")
    trait_shown: bool = Field(description="not shown in full, but its person's card states the trait it cites")


class WithdrawnAdvice(Advice):
    withdrawn_by: list[str] = Field(description="the rules whose situation withdrew it")


class BriefDocument(_Out):
    """`advisor brief --format json`: every recommendation, with its provenance."""

    model_config = ConfigDict(title="advisor brief (JSON)")

    schema_version: Literal[SCHEMA_VERSION] = Field(description="MAJOR.MINOR of this format")  # type: ignore[valid-type]
    advisor: Producer
    account: Account
    as_of: str = Field(description="the date advised as of, YYYY-MM-DD")
    as_of_source: Literal["today", "visit", "clock"] = Field(
        description="where as_of came from: --today, the visit date, or the current date"
    )
    lang: Lang
    visit: Visit | None
    stakeholders: list[Person] = Field(description="everyone the profile names, with their names (in a stable order)")
    recommendations: list[Recommendation]
    withdrawn: list[WithdrawnAdvice] = Field(description="advice another rule's situation withdrew")


class Portfolio(_Out):
    share: float
    rank: int
    portfolio_class: str
    accounts: int


class Overdue(_Out):
    name: str
    days: int | None


class Threat(_Out):
    name: str
    strength: str
    move: str


class AccountSummary(_Out):
    name: str
    revenue: float | None
    has_insider: bool
    overdue_senior: list[Overdue]
    threats: list[Threat]
    has_visit: bool


class Briefed(_Out):
    """An account briefed (now, or unchanged since an earlier run with --resume)."""

    id: str
    source: str = Field(description="where the profile came from: file:line")
    status: Literal["ok"]
    outputs: list[str] = Field(description="the files written, relative to OUT")
    bytes: dict[str, int] = Field(description="each output's size in bytes")
    counts: dict[Literal["recommendations", "high", "stakeholders"], int]
    hash: str = Field(description="a hash of everything the outputs depend on (--resume compares it)")
    portfolio: Portfolio | None
    summary: AccountSummary


class Failed(_Out):
    """An account that could not be read, parsed or briefed."""

    id: str | None
    source: str
    status: Literal["error"]
    error: str = Field(description="one or more `path:line:col: error: message` lines")


class Warned(_Out):
    """A warning about an input (a CRM row), with no account."""

    id: None
    source: str
    status: Literal["warning"]
    warning: str


class FileRead(_Out):
    """A CRM export's file: rows read, unreadable and skipped, and why."""

    id: None
    source: str
    status: Literal["read"]
    rows: int
    unreadable: int
    skipped: int
    why: dict[str, int]


# One line of a batch's `index.jsonl`, told apart by its status.
IndexEntry = Annotated[Briefed | Failed | Warned | FileRead, Field(discriminator="status")]
