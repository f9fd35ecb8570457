"""The JSON API's bodies and answers: pydantic models, which /openapi.json is generated from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..vocabulary import LANGS, Reaction

TIERS = ("a", "b", "c")  # portfolio.tiers' 80/20 classes
Lang = Literal[LANGS]  # type: ignore[valid-type]


def _text():
    """A short, non-empty text field (ids, names)."""
    return Field(min_length=1, max_length=200)


class Error(BaseModel):
    """Every 4xx answer: one line saying what was wrong and what to do."""

    detail: str


class Account(BaseModel):
    id: str
    name: str
    tier: Literal[TIERS] | None = Field(  # type: ignore[valid-type]
        description="80/20 class across the served portfolio; None: revenue unknown"
    )
    value_tiers: list[str] = Field(description="the value tiers the rules derived (labels.yaml's tiers)")
    next_visit: str | None = Field(description="the planned visit's date (ISO), if one is planned")
    flags: list[str] = Field(description="no_insider, overdue_senior, open_incidents, competitor_threat")


class ReactionIn(BaseModel):
    """What a rep did with one piece of advice. The server fills in the rules hash, course items and time."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = _text()
    rule_id: str = _text()
    reaction: Reaction
    reason: str | None = Field(
        None, max_length=200, description="a code or text from GET /api/reasons; refusals need one"
    )
    user: str = _text()
    brief_id: str | None = Field(None, max_length=32, description="the X-Brief-Id of the brief it was shown in")
    stakeholder: str | None = Field(None, max_length=200, description="the person the advice is about")
    note: str | None = Field(None, max_length=2000)


class ReactionOut(BaseModel):
    id: int
    account_id: str
    rule_id: str
    reaction: Reaction
    reason: str | None
    note: str | None
    user: str
    brief_id: str | None
    stakeholder: str | None
    rules_hash: str
    course_items: list[str]
    at: str


class ReasonOut(BaseModel):
    code: str
    en: str
    zh: str
