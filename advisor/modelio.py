"""Validate a located YAML document against a pydantic model and word every error for a trainer."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import AdvisorError, Problem, did_you_mean, one_of, suggest
from .yamlio import Located

M = TypeVar("M", bound=BaseModel)
# The error type of a PydanticCustomError whose message is shown as written, without the dotted location.
WORDED = "worded"


def dotted(loc: tuple[Any, ...]) -> str:
    """('stakeholders', 2, 'level') -> 'stakeholders[2].level'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "the document"


def models_in(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, list and dict)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, typing.Annotated):
        found = []
        for arg in typing.get_args(annotation):
            found.extend(models_in(arg))
        return found
    if origin is dict:
        return models_in(typing.get_args(annotation)[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (list indexes and dict keys skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int) or part not in current.model_fields:
            if isinstance(part, int):
                continue
            # A dict key (e.g. a case name) keeps the value model found one step earlier.
            continue
        candidates = models_in(current.model_fields[part].annotation)
        current = candidates[0] if candidates else None
    return current


def _public_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch and function tags from a location."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def problems_from(
    exc: ValidationError, doc: Located, model: type[BaseModel], rule_id_at=None, prefix: tuple = ()
) -> list[Problem]:
    """One Problem per pydantic error, positioned on the offending YAML node (`prefix` locates a sub-document)."""
    problems: dict[tuple, Problem] = {}
    for err in exc.errors(include_url=False):
        inner = _public_loc(tuple(err["loc"]))
        loc = prefix + inner
        kind = err["type"]
        where = dotted(loc)
        rid = rule_id_at(loc) if rule_id_at else ""
        if kind == WORDED:  # a validator that words its whole message itself, position included
            problem = doc.problem(loc, err["msg"], rule_id=rid)
        elif kind == "extra_forbidden":
            owner = model_at(model, inner[:-1])
            valid = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
            listing = f"; expected one of: {', '.join(valid)}" if valid else "; remove it"
            msg = f"unknown key '{loc[-1]}' in {dotted(loc[:-1])}" + suggest(str(loc[-1]), valid, listing)
            problem = doc.problem(loc, msg, key=True, rule_id=rid)
        elif kind == "missing":
            problem = doc.problem(loc[:-1], f"{dotted(loc[:-1])} is missing the required key '{loc[-1]}'", rule_id=rid)
        elif kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
            got = err.get("input")
            hint = did_you_mean(str(got), choices) if isinstance(got, str) else ""
            problem = doc.problem(loc, f"{where} must be {one_of(choices)}; got {got!r}{hint}", rule_id=rid)
        elif kind == "string_pattern_mismatch":
            # Every pattern in our formats is an id: say what an id looks like, not the regex.
            problem = doc.problem(
                loc,
                f"{where} must be an id of lower-case letters, digits, - and _ (no spaces); got {err.get('input')!r}",
                rule_id=rid,
            )
        elif kind in ("model_type", "dict_type"):
            problem = doc.problem(
                loc, f"{where} must be a mapping of keys to values; got {_kind(err.get('input'))}", rule_id=rid
            )
        elif kind == "list_type":
            problem = doc.problem(loc, f"{where} must be a list; got {_kind(err.get('input'))}", rule_id=rid)
        else:
            text = err["msg"]
            for noise in ("Value error, ", "Assertion failed, "):
                text = text.removeprefix(noise)
            problem = doc.problem(loc, f"{where}: {text[0].lower() + text[1:] if text else text}", rule_id=rid)
        problems.setdefault((problem.line, problem.col, problem.message), problem)
    return sorted(problems.values())


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    if isinstance(value, str):  # free text may be personal data: never echo it back (SECURITY.md)
        return "text"
    return f"{value!r}"


def validate(doc: Located, model: type[M], rule_id_at=None, at: tuple = ()) -> M:
    """The document (or its part at `at`) as `model`, or an AdvisorError listing every problem at once."""
    data = doc.data
    for part in at:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AdvisorError(problems_from(exc, doc, model, rule_id_at, at)) from None
