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

SHIPPED = {kind: ROOT / folder for kind, (folder, _) in SCHEMA_FILES.items()}


def files_of(kind: str):
    folder = SHIPPED[kind]
    if kind == "profile":
        return sorted(folder.glob("*.yaml"))
    if kind == "cases":
        return sorted(folder.glob("*.cases.yaml"))
    if kind == "policy":
        return [folder / "policy.yaml"]
    if kind == "labels":
        return [folder / "labels.yaml"]
    from advisor.rules import rule_files

    return rule_files(folder)


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_shipped_file_is_what_the_command_prints(kind, capsys):
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    assert (SHIPPED[kind] / SCHEMA_FILES[kind][1]).read_text(encoding="utf-8") == printed, (
        f"regenerate: advisor schema {kind} > {SHIPPED[kind].name}/{SCHEMA_FILES[kind][1]}"
    )


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_every_shipped_file_points_at_and_validates_against_it(kind):
    schema = json.loads((SHIPPED[kind] / SCHEMA_FILES[kind][1]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    files = files_of(kind)
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"# yaml-language-server: $schema={SCHEMA_FILES[kind][1]}\n"), path.name
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


def printed_schema(capsys, kind: str) -> dict:
    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_schema_rules_lists_the_fact_names_editors_complete():
    schema = json.loads((ROOT / "rules" / "rules.schema.json").read_text(encoding="utf-8"))
    rule = {"id": "x", "source": ["2.1.1.a"], "section": "account", "say": {"en": "a", "zh": "b"}}
    good = {"rules": [{**rule, "when": {"fact": "account.industry_group", "equals": "government"}}]}
    typo = {"rules": [{**rule, "when": {"fact": "account.industy_group", "equals": "government"}}]}
    derived = {"rules": [{**rule, "when": {"fact": "account.high_value", "equals": True}}]}  # tiering.yaml derives it
    jsonschema.validate(good, schema)
    jsonschema.validate(derived, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_schema_every_shipped_profile_brief_validates_against_the_brief_schema(capsys, advisor, lang):
    from advisor.outputs import SCHEMA_VERSION
    from advisor.profile import load_profile

    validator = jsonschema.Draft202012Validator(printed_schema(capsys, "brief"))
    profiles = sorted((ROOT / "profiles").glob("*.yaml"))
    assert len(profiles) >= 10
    for path in profiles:
        profile = load_profile(path)
        doc = json.loads(advisor.brief(profile, lang=lang, format="json"))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, (path.name, errors[:3])
        assert doc["schema_version"] == SCHEMA_VERSION
        # Names, not only ids: every person, every attendee and every piece of advice about a person.
        names = {s.id: s.name for s in profile.stakeholders}
        assert {p["id"]: p["name"] for p in doc["stakeholders"]} == names
        if doc["visit"]:
            attending = {p["id"] for p in doc["stakeholders"] if p["attending"]}
            assert attending == set(doc["visit"]["attendees"])
        for rec in doc["recommendations"] + doc["withdrawn"]:
            assert rec["stakeholder_name"] == (names[rec["stakeholder"]] if rec["stakeholder"] else None)


def test_schema_brief_keeps_the_names_readers_depend_on(capsys):
    """Add, do not rename: these fields are what pipelines read today."""
    schema = printed_schema(capsys, "brief")
    recommendation = schema["$defs"]["Recommendation"]
    assert {"rule", "source", "section", "shown", "trait_shown", "score", "text"} <= set(recommendation["required"])
    assert recommendation["additionalProperties"] is False
    assert "schema_version" in schema["required"]


def test_schema_brief_rejects_a_renamed_field(capsys, advisor):
    from advisor.profile import load_profile

    schema = printed_schema(capsys, "brief")
    doc = json.loads(advisor.brief(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml"), format="json"))
    doc["recommendations"][0]["rule_id"] = doc["recommendations"][0].pop("rule")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_schema_every_index_line_of_a_batch_validates(capsys, tmp_path):
    """Briefed accounts, a failed one and a CRM export's warnings and file tallies: every kind of line."""
    from conftest import FIXTURES

    validator = jsonschema.Draft202012Validator(printed_schema(capsys, "index"))
    bad = FIXTURES / "profiles" / "bad-level.yaml"
    crm = tmp_path / "crm"
    crm.mkdir()
    accounts = (ROOT / "profiles" / "crm-example" / "accounts.csv").read_text(encoding="utf-8")
    (crm / "accounts.csv").write_text(accounts + "\n,,,\n", encoding="utf-8")  # a row with no id: a warning
    out = tmp_path / "out"
    code = main(["batch", str(ROOT / "profiles"), str(bad), str(crm), "-o", str(out), "--quiet", "--today", "2026-12-01",
                 "--format", "markdown,json"])  # fmt: skip
    assert code == 1  # the bad profile
    lines = [json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["status"] for line in lines} >= {"ok", "error", "read"}
    for line in lines:
        errors = [e.message for e in validator.iter_errors(line)]
        assert not errors, (line.get("source"), errors[:3])
    # The briefs a batch writes are briefs of the published schema too.
    brief = jsonschema.Draft202012Validator(printed_schema(capsys, "brief"))
    for path in sorted((out / "briefs").glob("*.json")):
        assert not list(brief.iter_errors(json.loads(path.read_text(encoding="utf-8")))), path.name


def test_schema_starter_profile_points_at_the_installed_schema(tmp_path, capsys):
    target = tmp_path / "mine.yaml"
    assert main(["new", str(target)]) == 0
    first = target.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=") and first.endswith("profile.schema.json")
    schema_path = first.split("=", 1)[1]
    assert json.loads(open(schema_path, encoding="utf-8").read())["title"] == "Profile"
