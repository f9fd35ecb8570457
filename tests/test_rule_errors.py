"""Rule files that are wrong in one way each: the exact one-line error, at the exact line and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.course import load_course
from advisor.engine.compiler import compile_rules
from advisor.errors import AdvisorError
from advisor.rules import load_rules

from conftest import FIXTURES

CASES = sorted(p for p in (FIXTURES / "rules").iterdir() if p.is_dir())


def expectation(folder: Path) -> tuple[str, str]:
    for path in sorted(folder.glob("*.yaml")):
        match = re.match(r"# expect: (.*)$", path.read_text(encoding="utf-8").splitlines()[0])
        if match:
            return path.name, match.group(1)
    raise AssertionError(f"{folder.name} has no '# expect:' line")


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_rule_fixture_gives_its_exact_error(folder, monkeypatch):
    name, expected = expectation(folder)
    monkeypatch.chdir(folder)
    with pytest.raises(AdvisorError) as info:
        compile_rules(load_rules(Path("."), load_course()))
    lines = [str(p) for p in info.value.problems]
    assert f"{name}:{expected.replace(': ', ': error: ', 1)}" in lines, "\n".join(lines)


def test_rule_errors_are_all_reported_at_once(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "rules:\n"
        "  - id: one\n    source: [9.9.9.z]\n    section: account\n    say: {en: x, zh: x}\n"
        "  - id: two\n    source: [2.1.1.a]\n    section: nowhere\n    say: {en: x, zh: x}\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(AdvisorError) as info:
        load_rules(tmp_path, load_course())
    text = [f"{Path(p.path).name}:{p.line}:{p.col}: {p.message} [{p.rule_id}]" for p in info.value.problems]
    assert len(text) == 3, text
    assert text[0].startswith("a.yaml:3:14: unknown course item '9.9.9.z'")
    assert (
        text[1]
        == "a.yaml:8:14: rules[1].section must be account, person, penetration, gaps, cadence, competitors, checklist or after_visit; got 'nowhere' [two]"
    )
    assert text[2].startswith("b.yaml:2:1: invalid YAML")
