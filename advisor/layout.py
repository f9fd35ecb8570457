"""Where the files of a rules repository sit. A rule source is a folder of rule files, or one rule
file: that file stands for its folder (its rules are checked and run with their neighbours, whose
derived facts they may test), narrowed to the file where a command reports per file or per rule."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CASES_SUFFIX = ".cases.yaml"


@dataclass(frozen=True)
class RuleSource:
    folder: Path  # what is loaded
    only: Path | None = None  # a single rule file given: what is reported on

    @classmethod
    def of(cls, path: Path) -> RuleSource:
        return cls(path.parent, path) if path.is_file() else cls(path)

    def covers(self, path: str | Path) -> bool:
        """Whether a problem or rule in `path` is this source's to report: any, for a folder; for a
        single rule file, the file and its case file."""
        if self.only is None:
            return True
        return os.path.abspath(path) in {os.path.abspath(self.only), os.path.abspath(cases_of(self.only))}


def cases_of(rule_file: Path) -> Path:
    """A rule file's case file: `industry.yaml` -> `industry.cases.yaml`, beside it."""
    return rule_file.with_name(rule_file.name.removesuffix(".yaml") + CASES_SUFFIX)
