"""`advisor explain`: its reasons come from the reference semantics, which must agree with
durable-rules on every rule, for every shipped profile and every case."""

from __future__ import annotations

import datetime as dt

from advisor import conditions as c
from advisor.cli import main
from advisor.engine.compiler import ordered
from advisor.profile import load_profile, parse_profile
from advisor.workbench.cases import case_files, load_cases, overlay
from advisor.yamlio import Located, load_file

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)


def evaluations(advisor):
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        profile = load_profile(path)
        yield path.stem, advisor.evaluate(profile, None if profile.visit else TODAY)
    for path in case_files(ROOT / "rules"):
        _, spec = load_cases(path)
        for name, case in spec.cases.items():
            base = load_file((path.parent / (case.base or spec.base)).resolve())
            profile = parse_profile(Located(base.path, overlay(base.data, case.overlay)))
            yield f"{path.stem}::{name}", advisor.evaluate(profile, case.today or spec.today)


def test_explain_reasons_agree_with_the_engine_everywhere(advisor):
    catalogue = advisor.base.catalogue
    derived = {n: False for n, s in catalogue.specs.items() if s.derived_by_rules}
    checked = 0
    for label, evaluation in evaluations(advisor):
        facts = evaluation.facts()
        fired = {(f.rule_id, f.record_id) for f in evaluation.outcome.firings}
        for rule in advisor.base.rules:
            node = ordered(rule.condition, catalogue)
            for record in evaluation.records:
                if record.scope != rule.rule.scope:
                    continue
                reason = c.why_not(node, {**derived, **facts[record.id]}) if node is not None else None
                assert (reason is None) == ((rule.id, record.id) in fired), (label, rule.id, record.id, reason)
                checked += 1
    assert checked > 50_000


def test_explain_cli_names_the_failed_test_and_its_value(capsys):
    code = main(["explain", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--rule", "private-price-first",
                 "--rule", "techmgmt-bring-engineer"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "private-price-first  (" in out
        and ")  quiet\n    account: account.ownership equals private, but it is unknown\n" in out
    )
    assert "techmgmt-bring-engineer  (" in out and "fired for 刘敏 (liu-min)" in out
    assert "    刘敏 (liu-min): matched stakeholder.function = tech_management, stakeholder.is_attendee = true\n" in out
    assert "    周海 (zhou-hai): stakeholder.function equals tech_management, but it is admin\n" in out


def test_explain_cli_unknown_rule_is_a_usage_error(capsys):
    assert main(["explain", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--rule", "no-such-rule"]) == 2
    assert "unknown rule 'no-such-rule'" in capsys.readouterr().err
