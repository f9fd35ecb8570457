"""JSON Schemas generated from the pydantic models (the single source of truth): of the files trainers
edit, for editors that autocomplete and check YAML as they type (each shipped file's first line points
at its schema, shipped beside it), and of what advisor writes for machines (the JSON brief, a line of
index.jsonl) and reads as its project config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..config import Config
from ..facts import Catalogue
from ..outputs import BriefDocument, IndexEntry
from ..policy import Policy
from ..profile import Profile
from ..rules import Rule
from ..vocabulary import LANGS
from .cases import CaseFile

# The files editors check, by kind: (the shipped folder the file lives in, the schema's file name there).
SCHEMA_FILES = {
    "profile": ("profiles", "profile.schema.json"),
    "rules": ("rules", "rules.schema.json"),
    "cases": ("rules", "cases.schema.json"),
    "policy": ("rules", "policy.schema.json"),
    "labels": ("templates", "labels.schema.json"),
}
SCHEMA_LINE = "# yaml-language-server: $schema={}\n"  # the first line that points an editor at a schema


class RuleFileSchema(BaseModel):
    """A rule file as editors see it (the loader validates each rule on its own)."""

    model_config = ConfigDict(extra="forbid", title="advisor rule file")
    note: str = ""
    rules: list[Rule] = Field(min_length=1)


class _Shown(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str
    zh: str


class LabelsSchema(BaseModel):
    """templates/labels.yaml as editors see it (the loader also checks that en and zh have the same keys)."""

    model_config = ConfigDict(extra="forbid", title="advisor labels file")
    en: dict[str, Any] = Field(description="every label of the brief in English")
    zh: dict[str, Any] = Field(description="the same labels in Chinese")
    tiers: dict[str, _Shown] = Field({}, description="derived account facts shown as the account's tier")
    portfolio_lists: dict[str, _Shown] = Field({}, description="derived facts the portfolio summary lists")
    limits: dict[str, int | dict[str, int]] = Field({}, description="how many items each part of the brief shows")


MODELS: dict[str, Any] = {
    "profile": Profile,
    "rules": RuleFileSchema,
    "cases": CaseFile,
    "policy": Policy,
    "labels": LabelsSchema,
    "brief": BriefDocument,
    "index": TypeAdapter(IndexEntry),
    "config": Config,
}
KINDS = tuple(MODELS)
_TITLES = {"index": "advisor batch index.jsonl line", "policy": "advisor gift and hospitality policy"}


def schema(kind: str, rules_dir: Path | None = None) -> dict[str, Any]:
    """The JSON Schema of one kind; a rule file's lists the facts conditions may test (those of
    the catalogue and those derived by the rules in `rules_dir`, by default the shipped ones)."""
    model = MODELS[kind]
    doc = model.json_schema(by_alias=True) if isinstance(model, TypeAdapter) else model.model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if kind in _TITLES:
        doc["title"] = _TITLES[kind]
    if kind == "rules":
        _with_fact_names(doc, rules_dir)
    if kind == "labels":
        for lang in LANGS:
            doc["properties"][lang]["required"] = sorted(_labels_keys())
    return doc


def _with_fact_names(doc: dict[str, Any], rules_dir: Path | None) -> None:
    """Editors complete `account.industry_group` and flag `account.industy_group`."""
    condition = doc["$defs"]["Condition"]["properties"]["fact"]
    names = sorted(name for name, spec in _catalogue(rules_dir).specs.items() if spec.testable)
    condition["anyOf"] = [{"enum": names}, {"type": "null"}]
    condition["description"] = "the fact this condition tests (`advisor facts` lists them)"


def _catalogue(rules_dir: Path | None) -> Catalogue:
    from ..api import shipped
    from ..course import load_course
    from ..rules import load_rules

    return load_rules(rules_dir or shipped("rules"), load_course()).catalogue


def _labels_keys() -> set[str]:
    """The top-level labels every language must have: those of the shipped English labels."""
    from ..api import shipped
    from ..yamlio import load_file

    return set(load_file(shipped("templates") / "labels.yaml").data["en"])


def schema_text(kind: str, rules_dir: Path | None = None) -> str:
    """Stable text: the same models always give the same bytes."""
    return json.dumps(schema(kind, rules_dir), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
