"""The trainers' list of reasons for refusing advice (templates/reasons.yaml), read and matched here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import Problem, UnreadableInput, echo, one_of, suggest
from ..modelio import validate
from ..vocabulary import LANGS, REACTIONS, REFUSALS
from ..yamlio import load_file

REASONS_FILE = "reasons.yaml"


class Reason(BaseModel):
    """One reason: a stable code (what the ledger stores) and its text in each language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="what the ledger stores; never reuse one")
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class ReasonList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reasons: list[Reason] = Field(min_length=1)

    @field_validator("reasons")
    @classmethod
    def _unique(cls, reasons: list[Reason]) -> list[Reason]:
        seen: set[str] = set()
        for r in reasons:
            words = {r.code, r.en, r.zh}
            for word in sorted(words & seen):
                raise ValueError(f"'{word}' names two reasons; each code and text must name one")
            seen |= words
        return reasons


class UnknownChoice(ValueError):
    """A reaction or reason not on its list; the message says which are."""


@dataclass(frozen=True)
class Reasons:
    """The reasons, looked up by code or by their text in either language."""

    items: tuple[Reason, ...]

    @classmethod
    def load(cls, templates_dir: Path) -> Reasons:
        path = templates_dir / REASONS_FILE
        if not path.is_file():
            raise UnreadableInput(
                Problem(str(path), 1, 1, "error", "the reasons list is missing; copy the shipped templates folder")
            )
        return cls(tuple(validate(load_file(path, what="a reasons file"), ReasonList).reasons))

    def code_of(self, given: str | None, reaction: str) -> str | None:
        """The code of the reason `given` (a code or a text) for `reaction`; refusals need one."""
        if reaction not in REACTIONS:
            raise UnknownChoice(
                f"unknown reaction '{echo(reaction)}'" + suggest(reaction, REACTIONS, f"; use {one_of(REACTIONS)}")
            )
        if given is None or not given.strip():
            if reaction in REFUSALS:
                raise UnknownChoice(f"a reaction '{reaction}' needs a reason; use one of: {', '.join(self.codes())}")
            return None
        wanted = given.strip()
        for r in self.items:
            if wanted == r.code or any(wanted == getattr(r, lang) for lang in LANGS):
                return r.code
        raise UnknownChoice(
            f"unknown reason '{echo(wanted)}'"
            + suggest(wanted, self.codes(), f"; use one of: {', '.join(self.codes())}")
        )

    def codes(self) -> list[str]:
        return [r.code for r in self.items]

    def text(self, code: str, lang: str = "en") -> str:
        """A code's text in `lang` (a code no longer on the list is shown as itself)."""
        return next((getattr(r, lang) for r in self.items if r.code == code), code)
