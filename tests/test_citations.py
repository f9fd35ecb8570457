"""The reviewed citations (rules/citations.yaml): lint refuses unreviewed pairs and quotes the course lacks, warns of stale entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from advisor.api import Advisor
from advisor.citations import CITATIONS_FILE, CitationsFile
from advisor.cli import main
from advisor.course import course_text, load_course
from advisor.rules import load_rules, rule_files
from advisor.workbench.lint import lint

from conftest import ROOT

SOURCE_HINT = "copy the course's words verbatim from advisor/data/course-source.txt"


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    """A copy of the shipped rules (and the profiles their cases use) to break."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    return tmp_path / "rules"


def replace_entry(citations: Path, rule_id: str, new_lines: list[str]) -> int:
    """Put `new_lines` in place of `rule_id`'s entries (none: the rule's key goes too); returns the
    line of the first one."""
    lines = citations.read_text(encoding="utf-8").splitlines()
    at = lines.index(f"  {rule_id}:") + 1
    end = at
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    lines[at - (not new_lines) : end] = new_lines
    citations.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return at + 1


def cited_at(rule_file: Path, rule_id: str, code: str) -> tuple[int, int]:
    """Where `rule_id`'s `source:` list writes `code` (line, column), found in the file as it is."""
    lines = rule_file.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"  - id: {rule_id}")
    for n in range(start, len(lines)):
        if lines[n].lstrip().startswith("source:"):
            return n + 1, lines[n].index(code) + 1
    raise AssertionError(f"no source line for {rule_id}")


def messages(folder: Path) -> list[str]:
    """What `advisor lint` says of the folder (derived facts the brief shows count as used, as there)."""
    labels = yaml.safe_load((ROOT / "templates" / "labels.yaml").read_text(encoding="utf-8"))
    shown = set(labels.get("tiers", {})) | set(labels.get("portfolio_lists", {}))
    return [str(p) for p in lint(folder, shown)]


def test_citations_every_shipped_citation_is_reviewed_once_and_every_entry_is_cited():
    base = load_rules(ROOT / "rules", load_course())
    reviewed = CitationsFile.model_validate(
        yaml.safe_load((ROOT / "rules" / CITATIONS_FILE).read_text(encoding="utf-8"))
    )
    cited = {(r.id, code) for r in base.rules for code in r.rule.source}
    listed = {(rule_id, code) for rule_id, entries in reviewed.citations.items() for code in entries}
    assert cited == listed
    text = course_text()
    assert all(" ".join(c.quote.split()) in text for e in reviewed.citations.values() for c in e.values())


def test_citations_file_is_data_not_a_rule_file():
    assert ROOT / "rules" / CITATIONS_FILE not in rule_files(ROOT / "rules")


def test_citations_an_unreviewed_citation_is_an_error_at_the_code_in_the_rule_file(rules, capsys):
    replace_entry(rules / CITATIONS_FILE, "gov-conservative", [])
    line, col = cited_at(rules / "industry.yaml", "gov-conservative", "2.1.1.c")
    assert messages(rules) == [
        f"{rules / 'industry.yaml'}:{line}:{col}: error: the citation of 2.1.1.c (稳重保守少变化) is not reviewed: "
        "check that the advice teaches it wherever the conditions hold, then add it under gov-conservative in "
        "citations.yaml with the course's sentence it relies on [gov-conservative]"
    ]
    assert main(["lint", str(rules)]) == 1


def test_citations_a_new_citation_in_a_rule_file_is_refused_until_reviewed(rules):
    rule_file = rules / "industry.yaml"
    text = rule_file.read_text(encoding="utf-8")
    old = "  - id: gov-conservative\n    source: [2.1.1.c]"
    assert old in text
    rule_file.write_text(
        text.replace(old, "  - id: gov-conservative\n    source: [2.1.1.c, 2.1.1.b]"), encoding="utf-8"
    )
    line, col = cited_at(rule_file, "gov-conservative", "2.1.1.b")
    assert [m for m in messages(rules) if ": error: " in m] == [
        f"{rule_file}:{line}:{col}: error: the citation of 2.1.1.b (服务依赖程度强) is not reviewed: "
        "check that the advice teaches it wherever the conditions hold, then add it under gov-conservative in "
        "citations.yaml with the course's sentence it relies on [gov-conservative]"
    ]


def test_citations_entries_whose_rule_or_citation_is_gone_are_warnings(rules, capsys):
    citations = rules / CITATIONS_FILE
    first = replace_entry(
        citations,
        "gov-conservative",
        [
            "    2.1.1.c: {quote: 稳重保守少变化}",
            "    2.1.1.b: {quote: 服务依赖程度强}",
            "    9.9.9.z: {quote: 服务依赖程度强}",
        ],
    )
    with citations.open("a", encoding="utf-8") as out:
        out.write("  gov-conservatve:\n    2.1.1.c: {quote: 稳重保守少变化}\n")
        out.write("  retired-rule:\n    2.1.1.c: {quote: 稳重保守少变化}\n")
    end = len(citations.read_text(encoding="utf-8").splitlines())
    assert messages(rules) == [
        f"{citations}:{first + 1}:5: warning: gov-conservative no longer cites 2.1.1.b; remove this entry [gov-conservative]",
        f"{citations}:{first + 2}:5: warning: '9.9.9.z' is no course item; remove this entry [gov-conservative]",
        f"{citations}:{end - 3}:3: warning: there is no rule 'gov-conservatve'; did you mean 'gov-conservative'? [gov-conservatve]",
        f"{citations}:{end - 1}:3: warning: there is no rule 'retired-rule'; remove its entries, or rename them if the rule was renamed [retired-rule]",
    ]  # fmt: skip
    assert main(["lint", str(rules)]) == 0
    assert main(["lint", "--strict", str(rules)]) == 1


def test_citations_a_quote_the_course_does_not_contain_is_an_error_at_the_quote(rules):
    citations = rules / CITATIONS_FILE
    first = replace_entry(citations, "gov-conservative", ["    2.1.1.c: {quote: 稳重保守不变化, en: a paraphrase}"])
    assert messages(rules) == [
        f"{citations}:{first}:22: error: the quote is not in the course text; {SOURCE_HINT} [gov-conservative]"
    ]


def test_citations_quotes_compare_with_whitespace_normalised(rules):
    # The course text has one space between items; a quote may break the line or use more.
    replace_entry(
        rules / CITATIONS_FILE, "gov-conservative", ['    2.1.1.c: {quote: "2]服务依赖程度强\\n   3]稳重保守少变化"}']
    )
    assert messages(rules) == []


def test_citations_a_malformed_entry_is_a_positioned_error(rules):
    citations = rules / CITATIONS_FILE
    first = replace_entry(citations, "gov-conservative", ["    2.1.1.c: {qoute: 稳重保守少变化}"])
    assert messages(rules) == [
        f"{citations}:{first}:14: error: citations.gov-conservative.2.1.1.c is missing the required key 'quote'",
        f"{citations}:{first}:15: error: unknown key 'qoute' in citations.gov-conservative.2.1.1.c; did you mean 'quote'?",
    ]  # fmt: skip


def test_citations_a_folder_without_the_list_is_not_checked(rules):
    (rules / CITATIONS_FILE).unlink()
    assert messages(rules) == []


def test_citations_do_not_change_a_brief(rules):
    before = Advisor.load(rules).digest
    citations = rules / CITATIONS_FILE
    citations.write_text(
        citations.read_text(encoding="utf-8").replace("Keep a steady", "Keep a regular"), encoding="utf-8"
    )
    assert Advisor.load(rules).digest == before
