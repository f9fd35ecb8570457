"""Every case in every `*.cases.yaml`: the trainers' tests of their rules are CI's tests too."""

from __future__ import annotations

import pytest

from advisor.workbench.cases import case_files, load_cases
from advisor.workbench.testing import run_file, untested_rules

from conftest import ROOT

RULES = ROOT / "rules"
CASES = [(path, name) for path in case_files(RULES) for name in load_cases(path)[1].cases]


@pytest.fixture(scope="module")
def results(advisor):
    out = {}
    for path in case_files(RULES):
        for result in run_file(advisor, path):
            out[(path, result.name)] = result
    return out


@pytest.mark.parametrize("path,name", CASES, ids=[f"{p.stem}::{n}" for p, n in CASES])
def test_case(results, path, name):
    result = results[(path, name)]
    assert result.passed, "\n".join(str(p) for p in result.problems())


def test_cases_exist_for_every_rule_both_ways(advisor):
    assert len(CASES) >= 20
    assert untested_rules(advisor, RULES) == []
