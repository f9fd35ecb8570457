"""Profiles that are wrong in one way each: the exact one-line error, at the exact line and column."""

from __future__ import annotations

import re

import pytest

from advisor.errors import AdvisorError, UnreadableInput
from advisor.profile import load_profile

from conftest import FIXTURES

CASES = sorted((FIXTURES / "profiles").glob("*.yaml"))


def expectation(path) -> str:
    first = path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff").splitlines()[0]
    match = re.match(r"# expect: (.*)$", first)
    assert match, f"{path.name} must start with '# expect: LINE:COL: message' or '# expect: valid'"
    return match.group(1)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_profile_fixture_gives_its_exact_error(path):
    expected = expectation(path)
    if expected == "valid":
        load_profile(path)
        return
    with pytest.raises(AdvisorError) as info:
        load_profile(path)
    lines = [f"{p.line}:{p.col}: {p.message}" for p in info.value.problems]
    assert expected in lines, "\n".join(lines)
    assert all(str(p).startswith(f"{path}:") for p in info.value.problems)


def test_profile_unreadable_inputs_exit_2_and_problems_exit_1():
    assert UnreadableInput.exit_code == 2
    with pytest.raises(UnreadableInput):
        load_profile(FIXTURES / "profiles" / "tab-indent.yaml")
    with pytest.raises(AdvisorError) as info:
        load_profile(FIXTURES / "profiles" / "bad-level.yaml")
    assert info.value.exit_code == 1


def test_profile_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(
        "account:\n  id: Bad Id\n  name: x\n  industry: goverment\n  stage: maintain\n  position: incumbent\n",
        encoding="utf-8",
    )
    with pytest.raises(AdvisorError) as info:
        load_profile(path)
    messages = [f"{p.line}:{p.col}: {p.message}" for p in info.value.problems]
    assert len(messages) == 2, messages
    assert (
        messages[0] == "2:7: account.id must be an id of lower-case letters, digits, - and _ (no spaces); got 'Bad Id'"
    )
    assert messages[1] == (
        "4:13: account.industry must be party, government, military, science, education, culture, health, "
        "finance, insurance or enterprise; got 'goverment'; did you mean 'government'?"
    )
