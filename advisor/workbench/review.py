"""The expert panel: does a brief show what a trainer expects for the whole account? (`advisor review DIR`)

A panel is a folder of profiles, each beside `NAME.expect.yaml`, written from the course by a
trainer before looking at the advisor's output: the course items a brief for that account must
show (`must_cover`) and those no advice for it may cite (`must_not`). Rule cases test rules one
by one; the panel measures what a rep reads for a whole account:

- shown: a rule citing the item has its advice in the Markdown brief (its "why this advice"
  table lists exactly those rules);
- fired: a recommendation in the JSON output cites it, shown or not;
- a must-not violation: any recommendation in the JSON cites it, shown or not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..api import Advisor
from ..errors import AdvisorError, Problem, UnreadableInput, did_you_mean
from ..limits import DEFAULT, Limits
from ..modelio import validate
from ..profile import load_profile
from ..yamlio import load_file

EXPECT_SUFFIX = ".expect.yaml"
THRESHOLDS = {"fired": 0.95, "shown": 0.90}


class Expectation(BaseModel):
    """One `NAME.expect.yaml`: what a trainer expects of the brief for the profile beside it."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(min_length=1, description="the profile's file name, in the same folder")
    today: dt.date = Field(description="the date the brief is made as of")
    must_cover: list[str] = Field(default_factory=list, description="course items the brief must show")
    must_not: list[str] = Field(default_factory=list, description="course items no recommendation may cite")
    notes: dict[str, str] = Field(default_factory=dict, description="why, one line per code")

    @field_validator("must_cover", "must_not")
    @classmethod
    def _each_once(cls, codes: list[str]) -> list[str]:
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed twice; list each code once")
        return codes


@dataclass(frozen=True)
class Verdict:
    """One profile's result."""

    name: str
    expected: tuple[str, ...]
    shown: tuple[str, ...]  # expected and shown
    fired_only: tuple[str, ...]  # expected, fired, not shown
    missing: tuple[str, ...]  # expected, never fired
    violations: tuple[tuple[str, tuple[str, ...]], ...]  # must-not code, the rules that cite it

    @property
    def fired(self) -> int:
        return len(self.shown) + len(self.fired_only)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.name,
            "expected": len(self.expected),
            "shown": list(self.shown),
            "fired_only": list(self.fired_only),
            "missing": list(self.missing),
            "must_not_violations": [{"code": code, "rules": list(rules)} for code, rules in self.violations],
        }


@dataclass(frozen=True)
class Summary:
    verdicts: list[Verdict]

    @property
    def expected(self) -> int:
        return sum(len(v.expected) for v in self.verdicts)

    def rate(self, what: str) -> float:
        got = sum(v.fired if what == "fired" else len(v.shown) for v in self.verdicts)
        return got / self.expected if self.expected else 1.0

    @property
    def violations(self) -> int:
        return sum(len(v.violations) for v in self.verdicts)

    def passes(self) -> bool:
        return all(self.rate(k) >= t for k, t in THRESHOLDS.items()) and not self.violations

    def line(self) -> str:
        """The overall summary, one line."""
        shown = sum(len(v.shown) for v in self.verdicts)
        fired = sum(v.fired for v in self.verdicts)
        verdict = "pass" if self.passes() else "below the thresholds"
        return (
            f"{len(self.verdicts)} profiles, {self.expected} expected items: "
            f"fired {fired} ({100 * self.rate('fired'):.1f}%, needs {100 * THRESHOLDS['fired']:.0f}%), "
            f"shown {shown} ({100 * self.rate('shown'):.1f}%, needs {100 * THRESHOLDS['shown']:.0f}%), "
            f"{self.violations} must-not violation{'' if self.violations == 1 else 's'}: {verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "profiles": [v.as_dict() for v in self.verdicts],
            "expected": self.expected,
            "fired": round(self.rate("fired"), 4),
            "shown": round(self.rate("shown"), 4),
            "must_not_violations": self.violations,
            "thresholds": THRESHOLDS,
            "passes": self.passes(),
        }


def expectation_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UnreadableInput(Problem(str(folder), 1, 1, "error", "not a folder; give the panel's folder"))
    return sorted(folder.glob(f"*{EXPECT_SUFFIX}"))


def load_expectation(path: Path, advisor: Advisor, limits: Limits = DEFAULT) -> Expectation:
    """A validated expectation file: known course codes, a note for each, a profile beside it."""
    doc = load_file(path, limits, what="an expectation file")
    if not isinstance(doc.data, dict):
        raise AdvisorError(Problem(str(path), 1, 1, "error", "an expectation file is a mapping: profile, today, must_cover, must_not, notes"))  # fmt: skip
    expect = validate(doc, Expectation)
    problems = []
    known = advisor.course.items
    for key in ("must_cover", "must_not"):
        for i, code in enumerate(getattr(expect, key)):
            if code not in known:
                line, col = doc.where((key, i))
                hint = did_you_mean(code, known) or "; `advisor coverage` lists the course items"
                problems.append(Problem(str(path), line, col, "error", f"unknown course item '{code}'{hint}"))
    for code in sorted(set(expect.must_cover) & set(expect.must_not)):
        line, col = doc.where(("must_not", expect.must_not.index(code)))
        problems.append(Problem(str(path), line, col, "error", f"'{code}' is both expected and forbidden; keep one"))
    for key in ("must_cover", "must_not"):
        for i, code in enumerate(getattr(expect, key)):
            if code in known and code not in expect.notes:
                line, col = doc.where((key, i))
                problems.append(Problem(str(path), line, col, "error", f"no note for '{code}'; say why under notes"))
    for code in expect.notes:
        if code not in expect.must_cover and code not in expect.must_not:
            line, col = doc.where(("notes", code), key=True)
            problems.append(Problem(str(path), line, col, "error", f"note for '{code}', which is in neither list; remove it or list the code"))  # fmt: skip
    profile = path.parent / expect.profile
    if Path(expect.profile).name != expect.profile or not profile.is_file():
        line, col = doc.where(("profile",))
        problems.append(Problem(str(path), line, col, "error", f"no profile '{expect.profile}' beside this file; name a file in {path.parent}"))  # fmt: skip
    if problems:
        raise AdvisorError(problems)
    return expect


def judge(advisor: Advisor, path: Path, expect: Expectation, lang: str = "en", limits: Limits = DEFAULT) -> Verdict:
    """One profile's brief against its expectation."""
    profile = load_profile(path.parent / expect.profile, limits)
    brief = advisor.prepare(advisor.evaluate(profile, expect.today), lang)
    shown_rules = advisor.selection(brief).shown_rules()
    citing: dict[str, set[str]] = {}  # course item -> the rules of the JSON's recommendations that cite it
    for r in brief.recommendations:
        for code in r.source:
            citing.setdefault(code, set()).add(r.rule_id)
    shown, fired_only, missing = [], [], []
    for code in expect.must_cover:
        rules = citing.get(code, set())
        (shown if rules & shown_rules else fired_only if rules else missing).append(code)
    violations = tuple((code, tuple(sorted(citing[code]))) for code in expect.must_not if code in citing)
    name = path.name[: -len(EXPECT_SUFFIX)]
    return Verdict(name, tuple(expect.must_cover), tuple(shown), tuple(fired_only), tuple(missing), violations)


def review(advisor: Advisor, folder: Path, lang: str = "en", limits: Limits = DEFAULT) -> Summary:
    """Every expectation in `folder`; all bad expectation files are reported at once."""
    files = expectation_files(folder)
    if not files:
        raise UnreadableInput(Problem(str(folder), 1, 1, "error", f"no *{EXPECT_SUFFIX} files here; write one beside each profile"))  # fmt: skip
    loaded, problems = [], []
    for path in files:
        try:
            loaded.append((path, load_expectation(path, advisor, limits)))
        except AdvisorError as exc:
            problems.extend(exc.problems)
    if problems:
        raise AdvisorError(problems)
    return Summary([judge(advisor, path, expect, lang, limits) for path, expect in loaded])


def table(summary: Summary) -> list[str]:
    """The per-profile table, in Markdown."""
    rows = ["| profile | expected | shown | fired only | missing | must-not violations |", "|---|---|---|---|---|---|"]
    for v in summary.verdicts:
        violations = ", ".join(f"{code} ({', '.join(rules)})" for code, rules in v.violations) or "-"
        rows.append(
            f"| {v.name} | {len(v.expected)} | {len(v.shown)} | {', '.join(v.fired_only) or '-'} | "
            f"{', '.join(v.missing) or '-'} | {violations} |"
        )
    return rows
