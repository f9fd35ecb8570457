"""Course coverage: which outline items the rules encode, counting an item only when a rule that
cites it fires in at least one case (a rule that never fires encodes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..api import Advisor
from ..errors import AdvisorError, Problem
from .cases import case_files
from .testing import run_file


@dataclass(frozen=True)
class ItemCoverage:
    code: str
    en: str
    zh: str
    rules: tuple[str, ...]  # rules citing the item
    firing: tuple[str, ...]  # of those, the ones that fire in some case

    @property
    def covered(self) -> bool:
        return bool(self.firing)


def measure(advisor: Advisor, rules_dir: Path) -> tuple[list[ItemCoverage], list[Problem]]:
    """Coverage of every course item, plus any problems met while running the cases."""
    fired: set[str] = set()
    problems: list[Problem] = []
    for path in case_files(rules_dir):
        try:
            for result in run_file(advisor, path, rules_dir):
                fired |= result.fired
        except AdvisorError as exc:
            problems.extend(exc.problems)
    citing: dict[str, list[str]] = {}
    for r in advisor.base.rules:
        for code in r.rule.source:
            citing.setdefault(code, []).append(r.id)
    items = []
    for code, item in advisor.course.items.items():
        rules = tuple(citing.get(code, ()))
        items.append(ItemCoverage(code, item.en, item.zh, rules, tuple(r for r in rules if r in fired)))
    return items, problems
