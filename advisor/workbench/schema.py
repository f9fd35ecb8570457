"""JSON Schemas of the three file formats, generated from the pydantic models (the single source
of truth), for editors that autocomplete and check YAML as trainers type."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..profile import Profile
from ..rules import Rule
from .cases import CaseFile

SCHEMA_FILES = {"profile": "profile.schema.json", "rules": "rules.schema.json", "cases": "cases.schema.json"}


class RuleFileSchema(BaseModel):
    """A rule file as editors see it (the loader validates each rule on its own)."""

    model_config = ConfigDict(extra="forbid", title="advisor rule file")
    note: str = ""
    rules: list[Rule] = Field(min_length=1)


MODELS: dict[str, type[BaseModel]] = {"profile": Profile, "rules": RuleFileSchema, "cases": CaseFile}


def schema(kind: str) -> dict[str, Any]:
    doc = MODELS[kind].model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return doc


def schema_text(kind: str) -> str:
    """Stable text: the same models always give the same bytes."""
    return json.dumps(schema(kind), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
