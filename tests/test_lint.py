"""`advisor lint`: one fixture per check, each with its exact expected line; formats and exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from advisor.cli import main

from conftest import FIXTURES, ROOT

CASES = sorted(p for p in (FIXTURES / "lint").iterdir() if p.is_dir())


def expected(folder: Path) -> str:
    first = (folder / "rules.yaml").read_text(encoding="utf-8").splitlines()[0]
    match = re.match(r"# expect: (.*)$", first)
    assert match
    return f"{folder / 'rules.yaml'}:{match.group(1)}"


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_lint_fixture_gives_its_exact_line(folder, capsys):
    code = main(["lint", str(folder)])
    out = capsys.readouterr().out.splitlines()
    assert expected(folder) in out, "\n".join(out)
    assert code == (1 if ": error: " in expected(folder) else 0)


def test_lint_strict_fails_on_warnings(capsys):
    folder = FIXTURES / "lint" / "unused-derivation"
    assert main(["lint", str(folder)]) == 0
    assert main(["lint", str(folder), "--strict"]) == 1


def test_lint_loader_errors_are_lint_errors_too(capsys):
    assert main(["lint", str(FIXTURES / "rules" / "unknown-fact")]) == 1
    assert "unknown fact 'account.industy'; did you mean 'account.industry'?" in capsys.readouterr().out


def test_lint_json_and_github_formats(capsys):
    folder = FIXTURES / "lint" / "contradiction"
    main(["lint", str(folder), "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert {"path", "line", "col", "level", "message", "rule"} == set(rows[0])
    assert any(r["level"] == "error" and r["rule"] == "never" for r in rows)
    main(["lint", str(folder), "--format", "github"])
    out = capsys.readouterr().out
    assert (
        f"::error file={folder / 'rules.yaml'},line=6,col=7,title=never::these conditions can never all be true" in out
    )


def test_lint_shipped_rules_are_clean(capsys):
    assert main(["lint", "--strict", str(ROOT / "rules")]) == 0
    assert capsys.readouterr().err == "0 errors, 0 warnings\n"


@pytest.mark.parametrize(
    "name, text, noun",
    [("zz.yaml", "rules:\n  - id: x\n---\nrules: []\n", "a rule file"),
     ("zz.cases.yaml", "base: x.yaml\ncases: {}\n---\ncases: {}\n", "a case file")],
)  # fmt: skip
def test_lint_a_second_yaml_document_is_named_for_the_file_it_is_in(tmp_path, name, text, noun):
    from advisor.workbench.lint import lint

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (rules / name).write_text(text, encoding="utf-8")
    messages = [str(p) for p in lint(rules) if p.path.endswith(name)]
    assert messages == [
        f"{rules / name}:3:1: error: {noun} is a single YAML document; remove the second document at line 3"
    ]
