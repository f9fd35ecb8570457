"""Problems and case results in the formats CI systems read: GitHub workflow annotations, SARIF 2.1.0
(code scanning) and JUnit XML (test reports). Pure functions over Problems and CaseResults."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import Problem
from .testing import CaseResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_GENERAL = "advisor-lint"  # the SARIF rule of a problem that names no rule (a file that cannot be read)


def _data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped (GitHub's rules for `::error ...::message`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value: the message escapes plus `:` and `,`, which end a property."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def github(problems: Iterable[Problem]) -> list[str]:
    """One `::error file=...,line=...,col=...,title=...::message` line per problem."""
    lines = []
    for p in problems:
        title = f",title={_property(p.rule_id)}" if p.rule_id else ""
        lines.append(f"::{p.level} file={_property(p.path)},line={p.line},col={p.col}{title}::{_data(p.message)}")
    return lines


def sarif(problems: Sequence[Problem], version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: a result per problem, a reporting rule per advisor rule id."""
    rule_ids = sorted({p.rule_id or _GENERAL for p in problems})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for p in problems:
        rule_id = p.rule_id or _GENERAL
        results.append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": "error" if p.level == "error" else "warning",
                "message": {"text": p.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": p.path.replace("\\", "/")},
                            "region": {"startLine": max(p.line, 1), "startColumn": max(p.col, 1)},
                        }
                    }
                ],
            }
        )
    driver = {
        "name": "advisor",
        "version": version,
        "rules": [{"id": rule_id, "shortDescription": {"text": _describe(rule_id)}} for rule_id in rule_ids],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


def _describe(rule_id: str) -> str:
    return (
        "a rule file that cannot be read or checked" if rule_id == _GENERAL else f"problems in advisor rule {rule_id}"
    )


def junit(results: Sequence[CaseResult], problems: Sequence[Problem], version: str) -> str:
    """JUnit XML: a <testsuite> per case file, a <testcase> per case (failures as <failure>), and the
    problems no case owns (a rule with no case, a file that cannot be read) as cases of their file:
    an error fails, a warning is shown as output."""
    owned = {(r.file, r.line, r.col) for r in results}
    by_file: dict[str, list[ET.Element]] = {}
    for r in results:
        case = ET.Element("testcase", name=r.name, classname=_classname(r.file), file=r.file, line=str(r.line))
        if r.failures:
            failure = ET.SubElement(case, "failure", message=r.failures[0], type="case")
            failure.text = "\n".join(str(p) for p in r.problems())
        by_file.setdefault(r.file, []).append(case)
    for p in problems:
        if (p.path, p.line, p.col) in owned:
            continue  # a failing case's own problem: already its <failure>
        name = f"{p.rule_id or 'file'} ({p.line}:{p.col})"
        case = ET.Element("testcase", name=name, classname=_classname(p.path), file=p.path, line=str(p.line))
        if p.level == "error":
            ET.SubElement(case, "failure", message=p.message, type="problem").text = str(p)
        else:  # a warning fails nothing: the report shows it as the case's output
            ET.SubElement(case, "system-out").text = str(p)
        by_file.setdefault(p.path, []).append(case)
    root = ET.Element("testsuites", name=f"advisor {version} rule cases")
    for file in sorted(by_file):
        cases = by_file[file]
        failures = sum(c.find("failure") is not None for c in cases)
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(cases)), failures=str(failures), errors="0")
        suite.extend(cases)
    root.set("tests", str(sum(int(s.get("tests", 0)) for s in root)))
    root.set("failures", str(sum(int(s.get("failures", 0)) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _classname(path: str) -> str:
    """A file as JUnit's dotted class name (reports group cases by it): rules/care.cases.yaml -> rules.care."""
    return path.replace("\\", "/").removesuffix(".yaml").removesuffix(".cases").replace("/", ".").strip(".")
