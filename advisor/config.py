"""The project config: defaults for the command line, read from `advisor.toml` or the `[tool.advisor]`
table of a `pyproject.toml`, found upward from the current folder (as ruff and sqlfluff find theirs:
projectfile.py finds it).

Flags on the command line always win over the file; `advisor config` shows what is in force and where
each value came from. Paths in the file are relative to the file's folder, so a config works from
any subfolder of the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import AdvisorError, Problem, one_of
from .limits import NAMES, parse_item
from .projectfile import PYPROJECT, SETTINGS, TABLE
from .vocabulary import LANGS


class Config(BaseModel):
    """What a project may set once instead of on every command (`advisor.toml`, or `[tool.advisor]`)."""

    # Built when first validating: a file found is read by this module; most starts find none, and never import it.
    model_config = ConfigDict(extra="forbid", frozen=True, title="advisor project config", defer_build=True)

    rules: Path | None = Field(None, description="the rule folder (or one rule file) every command uses")
    templates: Path | None = Field(None, description="the templates folder briefs are rendered with")
    lang: Literal[LANGS] | None = Field(None, description="the language of briefs: en or zh")  # type: ignore[valid-type]
    limits: dict[str, int] = Field(
        default={},
        description="limits on what one profile may hold, by name (advisor --security lists the defaults)",
        json_schema_extra={"propertyNames": {"enum": list(NAMES)}},
    )

    @field_validator("limits")
    @classmethod
    def _known_limits(cls, limits: dict[str, int]) -> dict[str, int]:
        for name, value in limits.items():
            parse_item(f"{name}={value}")  # the same words as --limit NAME=N
        return limits


class ConfigError(AdvisorError):
    """A config file that cannot be read or holds a bad setting: every command would be wrong, so exit 2."""

    exit_code = 2  # what `advisor config` lists, in this order


@dataclass(frozen=True)
class Found:
    """The config in force: the file it came from (None: no file), its values, and each key's line."""

    path: Path | None = None
    config: Config = field(default_factory=Config.model_construct)  # no file: the defaults, nothing to validate
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """Where a set value comes from: `path:line`."""
        return f"{self.path}:{self.lines.get(key, 1)}"


def load(path: Path) -> Found:
    """Read and check one config file; every problem names the file and the line of its key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(Problem(str(path), 1, 1, "error", f"cannot read the config: {why}")) from None
    import tomllib  # only when there is a config file to read

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _position(str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(Problem(str(path), line, col, "error", f"invalid TOML: {message}")) from None
    table: Any = doc
    if path.name == PYPROJECT:  # any other file (advisor.toml, one named by --config) is the table itself
        for key in TABLE:
            table = table.get(key, {}) if isinstance(table, dict) else {}
    lines = {key: _line_of(text, key) for key in (table if isinstance(table, dict) else {})}
    try:
        config = Config.model_validate(table)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            problems.append(Problem(str(path), lines.get(key, 1), 1, "error", _message(key, error)))
        raise ConfigError(problems) from None
    base = path.parent
    resolved = {k: (base / v if isinstance(v, Path) and not v.is_absolute() else v) for k, v in config}
    return Found(path, Config.model_validate(resolved), lines)


def _message(key: str, error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown setting '{key}'; the settings are {one_of(SETTINGS)}"
    if key == "limits" and error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if key == "lang":
        return f"lang must be {one_of(LANGS)}; got {error['input']!r}"
    if key == "limits":
        return f"limits is a table of NAME = N, the names being {one_of(NAMES)}"
    return f"{key}: {error['msg']}"


def _position(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match[1]), int(match[2])) if match else (1, 1)


def _line_of(text: str, key: str) -> int:
    """The line that sets `key` (TOML keeps no positions: the first `key =` or `[...key]` line)."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}\s*=|\[\s*(?:tool\s*\.\s*advisor\s*\.\s*)?{re.escape(key)}\s*\])")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return 1
