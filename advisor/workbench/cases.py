"""Case files (`*.cases.yaml` beside each rule file): their model, the one loader every command uses, and overlays.

A case overlays a base profile. Mappings merge key by key, lists of items with ids merge by id,
other lists are replaced, and null deletes a key; `{append: [...]}` in place of a list adds items
to the base's list (for lists whose items have no ids, such as interactions) without restating it.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import stat
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from ..errors import AdvisorError, Problem, UnreadableInput
from ..layout import RuleSource, cases_of
from ..modelio import WORDED, validate
from ..profile import parse_profile
from ..rules import RULE_ID, bad_rule_id, read_authored
from ..yamlio import Located

CaseName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]


def _names_a_rule(expected: Any) -> Any:
    # The rule part is refused as a rule file refuses the id, with the fix, before the pattern's words.
    if isinstance(expected, str) and not re.fullmatch(RULE_ID, expected.partition("@")[0]):
        raise PydanticCustomError(WORDED, bad_rule_id(expected.partition("@")[0]))
    return expected


Expectation = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*(@[a-z0-9][a-z0-9_-]*)?$"),
    BeforeValidator(_names_a_rule),  # last, so it runs first
]
APPEND = "append"

OVERLAY_HELP = (
    "Deep-merged onto the base profile: mappings merge key by key, lists of items with ids merge by id, "
    "other lists are replaced, and null deletes a key. In place of a list, {append: [...]} adds items "
    "to the base's list without restating it."
)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str | None = None
    today: dt.date | None = None
    overlay: dict[str, Any] = Field({}, description=OVERLAY_HELP)
    fires: list[Expectation] = []
    quiet: list[Expectation] = []


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str
    today: dt.date
    cases: dict[CaseName, Case]


def case_files(directory: Path) -> list[Path]:
    """The case files under a rules folder; for a single rule file, its own (`x.yaml` -> `x.cases.yaml`)."""
    if directory.is_file():
        return [own] if (own := cases_of(directory)).is_file() else []
    return sorted(directory.rglob("*.cases.yaml"))


def load_cases(path: Path) -> tuple[Located, CaseFile]:
    """Read and validate one case file under the YAML limits profiles have: every command reads
    case files here, so a broken or hostile one gives the same positioned error in each."""
    doc = read_authored(path, what="a case file")
    return doc, validate(doc, CaseFile)


def repository(rules_dir: Path) -> Path:
    """The folder that holds the rules folder (and the profiles their cases use): case bases stay in it."""
    return RuleSource.of(rules_dir).folder.resolve().parent


def load_base(doc: Located, at: tuple, written: str, repo: Path | None) -> Located:
    """The base profile a case file names (`written`, at `at` in `doc`), read as a profile.

    A base must resolve, symlinks followed, inside `repo` (None: anywhere) and be a regular file,
    so a case file cannot make a test run read a file elsewhere on the machine, or wait on a pipe.
    A base that is not a valid profile is refused in one line naming its first problem's position,
    never its text: a file that is not a profile may hold anything (SECURITY.md).
    """
    path = (Path(doc.path).parent / written).resolve()

    def refuse(message: str) -> UnreadableInput:
        return UnreadableInput(doc.problem(at, f"base '{written}' {message}"))

    if repo is not None and not path.is_relative_to(repo):
        raise refuse(f"is outside the rules' repository {repo}; move it there, or pass --allow-base-outside")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise refuse("not found; check the path") from None
    except OSError as exc:
        raise refuse(f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise refuse(f"is {'a folder' if stat.S_ISDIR(mode) else 'not a regular file'}; name a profile file")
    try:
        base = read_authored(path, what="a profile")
        parse_profile(base)
    except AdvisorError as exc:
        first = exc.problems[0]
        raise refuse(
            f"is not a valid profile (its first problem is at {first.path}:{first.line}:{first.col}); "
            "`advisor explain` on it lists them all"
        ) from None
    return base


class OverlayError(ValueError):
    """A part of an overlay that cannot apply; `loc` is where it is written, under the case's overlay."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc


def overlay(base: Any, patch: Any, at: tuple = ()) -> Any:
    """Deep-merge `patch` onto `base` (see the module docstring); raises OverlayError for a bad append."""
    if isinstance(patch, dict) and APPEND in patch:
        if base is not None and not isinstance(base, list):
            raise OverlayError((*at, APPEND), f"'{APPEND}' adds items to a list, but the base has a {_kind(base)} here")
        return _append(base or [], patch, at)
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = overlay(out.get(key), value, (*at, key))
        return out
    if isinstance(base, list) and isinstance(patch, list) and _by_id(base) and _by_id(patch):
        out = [copy.deepcopy(x) for x in base]
        index = {x["id"]: i for i, x in enumerate(out)}
        for item in patch:
            if item["id"] in index:
                out[index[item["id"]]] = overlay(out[index[item["id"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _append(base: list, patch: dict, at: tuple) -> list:
    extra = sorted(str(k) for k in patch if k != APPEND)
    if extra:
        raise OverlayError((*at, extra[0]), f"'{APPEND}' stands alone in place of a list; got also '{extra[0]}'")
    items = patch[APPEND]
    if not isinstance(items, list):
        raise OverlayError((*at, APPEND), f"'{APPEND}' takes a list of items to add; got {type(items).__name__}")
    return [copy.deepcopy(x) for x in base] + copy.deepcopy(items)


def _kind(value: Any) -> str:
    return "mapping" if isinstance(value, dict) else "single value"


def _by_id(items: list) -> bool:
    return bool(items) and all(isinstance(x, dict) and "id" in x for x in items)


def case_expectations(directory: Path) -> tuple[set[str], set[str], list[Problem]]:
    """Rule ids some case expects to fire, rule ids some case expects to stay quiet, and the
    problems of case files that cannot be read."""
    fires: set[str] = set()
    quiet: set[str] = set()
    problems: list[Problem] = []
    for path in case_files(directory):
        try:
            _, spec = load_cases(path)
        except AdvisorError as exc:
            problems.extend(exc.problems)
            continue
        for case in spec.cases.values():
            fires |= {e.split("@")[0] for e in case.fires}
            quiet |= {e.split("@")[0] for e in case.quiet}
    return fires, quiet, problems
