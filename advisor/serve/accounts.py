"""The accounts a server serves: profile files named at start, found by id, never by a path from a request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import Advisor
from ..batch.summary import account_summary
from ..brief import Evaluation
from ..errors import AdvisorError, Problem, UnreadableInput
from ..portfolio import Position, tiers
from ..profile import Profile, load_profile

PROFILE_SUFFIXES = (".yaml", ".yml")


def profile_files(inputs: list[Path]) -> list[Path]:
    """The profile files in `inputs` (files, and the *.yaml files directly inside folders), resolved.
    A file that a link in a folder leads to outside that folder is refused: the served folders are
    all a server may read."""
    found: list[Path] = []
    for given in inputs:
        if given.is_dir():
            root = given.resolve()
            for path in sorted(given.iterdir()):
                if path.suffix not in PROFILE_SUFFIXES or not path.is_file():
                    continue
                real = path.resolve()
                if not real.is_relative_to(root):
                    raise UnreadableInput(
                        Problem(str(path), 1, 1, "error", f"links outside {given}; serve the file it points to by name")
                    )
                found.append(real)
        elif given.is_file():
            found.append(given.resolve())
        else:
            raise UnreadableInput(Problem(str(given), 1, 1, "error", "no such profile file or folder; check the path"))
    return list(dict.fromkeys(found))


@dataclass
class Served:
    """Account id -> profile file, fixed at start; each request reads the file afresh (it may change)."""

    paths: dict[str, Path]
    positions: dict[str, Position]
    roots: tuple[Path, ...] = ()  # the folders and files named at start: all the server may write

    @classmethod
    def load(cls, inputs: list[Path]) -> Served:
        """Every profile, read and checked once: all problems at once, and two files with one id refused."""
        files = profile_files(inputs)
        if not files:
            raise UnreadableInput(Problem(str(inputs[0]), 1, 1, "error", "no profile files (*.yaml) to serve here"))
        paths: dict[str, Path] = {}
        revenues: list[tuple[str, float | None]] = []
        problems: list[Problem] = []
        for path in files:
            try:
                profile = load_profile(path)
            except AdvisorError as exc:
                problems += exc.problems
                continue
            acc = profile.account.id
            if acc in paths:
                problems.append(
                    Problem(str(path), 1, 1, "error", f"account id '{acc}' is also {paths[acc]}; ids must be unique")
                )
                continue
            paths[acc] = path
            revenues.append((acc, profile.account.annual_revenue))
        if problems:
            raise AdvisorError(problems)
        return cls(dict(sorted(paths.items())), tiers(revenues), tuple(p.resolve() for p in inputs))

    def profile(self, account_id: str) -> Profile:
        return load_profile(self.paths[account_id])

    def evaluation(self, advisor: Advisor, account_id: str, today: dt.date | None) -> Evaluation:
        """The account's profile, read afresh and evaluated with its place in the served portfolio."""
        return advisor.evaluate(self.profile(account_id), today, self.positions.get(account_id))


def account_item(advisor: Advisor, served: Served, account_id: str, today: dt.date | None) -> dict[str, Any]:
    """One account as the portfolio lists it: id, name, tier, next visit and flags."""
    evaluation = served.evaluation(advisor, account_id, today)
    profile = evaluation.profile
    summary = account_summary(profile, evaluation)
    flags = [
        name
        for name, on in (
            ("no_insider", not summary["has_insider"]),
            ("overdue_senior", bool(summary["overdue_senior"])),
            ("open_incidents", bool(evaluation.about("account").get("account.open_incidents"))),
            ("competitor_threat", bool(summary["threats"])),
        )
        if on
    ]
    return {
        "id": account_id,
        "name": profile.account.name,
        "tier": position.portfolio_class if (position := served.positions.get(account_id)) else None,
        "value_tiers": list(advisor.tiers(evaluation)),
        "next_visit": profile.visit.date.isoformat() if profile.visit else None,
        "flags": flags,
    }
