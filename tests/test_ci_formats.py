"""What CI systems read: `lint --format github` (workflow commands, escaped by GitHub's rules),
`lint --format sarif` (SARIF 2.1.0, for code scanning) and `test --junit FILE` (JUnit XML)."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

from advisor.cli import main
from advisor.errors import Problem
from advisor.workbench.reports import github, junit, sarif

from conftest import GIFT_BREACH_RULE, ROOT

# The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json, OASIS) that a log with results uses:
# its required properties, the enums we write, and that lines and columns start at 1.
SARIF_SHAPE = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                    "properties": {"text": {"type": "string"}},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                                    "properties": {"text": {"type": "string"}},
                                },
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "properties": {"uri": {"type": "string"}},
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {
                                                            "startLine": {"type": "integer", "minimum": 1},
                                                            "startColumn": {"type": "integer", "minimum": 1},
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def broken_rules(tmp_path):
    """A rules folder with one error (a misspelled fact) and one warning (a rule with no case)."""
    folder = tmp_path / "rules"
    folder.mkdir()
    bad = {**GIFT_BREACH_RULE, "id": "typo", "when": {"fact": "account.industy_group", "equals": "government"}}
    (folder / "r.yaml").write_text(yaml.safe_dump({"rules": [GIFT_BREACH_RULE, bad]}), encoding="utf-8")
    return folder


def test_github_annotations_escape_data_and_properties():
    problem = Problem("rules/a:b,c.yaml", 3, 5, "error", "100% sure\r\nsecond line", "rule,with:odd")
    assert github([problem]) == [
        "::error file=rules/a%3Ab%2Cc.yaml,line=3,col=5,title=rule%2Cwith%3Aodd::100%25 sure%0D%0Asecond line"
    ]


def test_github_annotations_from_lint(capsys, tmp_path):
    code = main(["lint", str(broken_rules(tmp_path)), "--format", "github"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert any(
        line.startswith(f"::error file={tmp_path / 'rules' / 'r.yaml'},line=") and "title=typo::" in line
        for line in out
    )
    assert all(line.startswith(("::error ", "::warning ")) for line in out)


def test_sarif_from_lint_has_the_published_shape(capsys, tmp_path):
    code = main(["lint", str(broken_rules(tmp_path)), "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    jsonschema.validate(log, SARIF_SHAPE)
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    typo = [r for r in run["results"] if r["ruleId"] == "typo"]
    assert typo and typo[0]["level"] == "error" and "account.industy_group" in typo[0]["message"]["text"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]  # ruleIndex points at its rule
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("r.yaml")


def test_sarif_of_clean_rules_is_a_valid_empty_run(capsys):
    assert main(["lint", "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    jsonschema.validate(log, SARIF_SHAPE)
    assert log["runs"][0]["results"] == []


def test_sarif_problem_without_a_rule_gets_a_rule_of_its_own():
    log = sarif([Problem("x.yaml", 0, 0, "error", "cannot read")], "1")
    jsonschema.validate(log, SARIF_SHAPE)
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "advisor-lint" and result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


@pytest.fixture
def one_failing_case(tmp_path):
    """The shipped care rules with one case expecting a rule that stays quiet."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "rules", repo / "rules")
    shutil.copytree(ROOT / "profiles", repo / "profiles")
    cases = repo / "rules" / "care.cases.yaml"
    doc = yaml.safe_load(cases.read_text(encoding="utf-8"))
    name = next(iter(doc["cases"]))
    doc["cases"][name]["fires"] = [*doc["cases"][name].get("fires", []), "gov-incumbent-continuity"]
    cases.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return repo / "rules" / "care.yaml", name


def test_junit_report_is_parseable_and_counts_failures(capsys, tmp_path, one_failing_case):
    rule_file, failing = one_failing_case
    report = tmp_path / "junit.xml"
    code = main(["test", str(rule_file), "--junit", str(report)])
    out = capsys.readouterr().out
    assert code == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    passed, failed = map(int, re.fullmatch(r"(\d+) passed, (\d+) failed\n", out).groups())
    assert int(suite.get("tests")) == len(cases) == passed + failed == int(root.get("tests"))
    failures = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == [failing] and int(suite.get("failures")) == 1 == failed
    assert "gov-incumbent-continuity" in failures[0].find("failure").get("message")
    assert all(c.get("classname") == f"{rule_file.parent}.care".replace("/", ".").strip(".") for c in cases)


def test_junit_problem_no_case_owns_is_a_failure_of_its_file():
    xml = junit([], [Problem("rules/x.yaml", 4, 3, "error", "rule 'r' has no case", "r"),
                     Problem("rules/x.yaml", 9, 3, "warning", "a note", "s")], "1")  # fmt: skip
    root = ET.fromstring(xml.split("\n", 1)[1])
    (suite,) = root
    assert suite.get("name") == "rules/x.yaml" and suite.get("tests") == "2" and suite.get("failures") == "1"
    assert suite[1].find("failure") is None and "a note" in suite[1].find("system-out").text
