"""Where the project config is and what it may set: `advisor.toml`, or the `[tool.advisor]` table of a
`pyproject.toml`, found upward from the current folder (as ruff and sqlfluff find theirs).

Every command that takes a setting asks this at start; only a file found needs its model and checks
(config.py, which builds a pydantic model: most starts find no file, and import neither).
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "advisor.toml"
PYPROJECT = "pyproject.toml"
TABLE = ("tool", "advisor")
# What a project may set, in the order `advisor config` lists them: the fields of config.Config (a test
# holds them equal), named here so that a start without a config file need not build that model.
SETTINGS = ("rules", "templates", "lang", "limits")


def find(start: Path) -> Path | None:
    """The nearest `advisor.toml`, or `pyproject.toml` holding `[tool.advisor]`, in `start` or above it.
    In one folder, advisor.toml wins."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
    return None


def _has_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*advisor\s*[\].]", text, re.MULTILINE) is not None
