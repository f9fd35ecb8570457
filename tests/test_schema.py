"""Editor support: the shipped JSON Schemas are what `advisor schema` prints, every shipped file
points at its schema, and every shipped file validates against it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from advisor.cli import main
from advisor.workbench.schema import SCHEMA_FILES

from conftest import ROOT

SHIPPED = {"profile": ROOT / "profiles", "rules": ROOT / "rules", "cases": ROOT / "rules"}


def files_of(kind: str):
    folder = SHIPPED[kind]
    if kind == "profile":
        return sorted(folder.glob("*.yaml"))
    if kind == "cases":
        return sorted(folder.glob("*.cases.yaml"))
    from advisor.rules import rule_files

    return rule_files(folder)


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_shipped_file_is_what_the_command_prints(kind, capsys):
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    assert (SHIPPED[kind] / SCHEMA_FILES[kind]).read_text(encoding="utf-8") == printed, (
        f"regenerate: advisor schema {kind} > {SHIPPED[kind].name}/{SCHEMA_FILES[kind]}"
    )


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_every_shipped_file_points_at_and_validates_against_it(kind):
    schema = json.loads((SHIPPED[kind] / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    files = files_of(kind)
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"# yaml-language-server: $schema={SCHEMA_FILES[kind]}\n"), path.name
        data = json.loads(json.dumps(yaml.safe_load(text), default=str))
        jsonschema.validate(data, schema)


def test_schema_rejects_what_the_loader_rejects():
    schema = json.loads((ROOT / "rules" / "rules.schema.json").read_text(encoding="utf-8"))
    bad = {
        "rules": [
            {
                "id": "x",
                "source": ["2.1.1.a"],
                "section": "account",
                "priority": "urgent",
                "say": {"en": "a", "zh": "b"},
            }
        ]
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
