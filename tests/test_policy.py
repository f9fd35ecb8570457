"""The gift and hospitality policy: which interactions in a profile's history it flags."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.errors import AdvisorError
from advisor.facts import derive
from advisor.policy import Compliance, Forbidden, Policy, breaches, load_policy
from advisor.profile import load_profile

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)
TAX = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")


def with_history(profile, *items, **account):
    from advisor.profile import Interaction

    history = [*profile.interactions, *(Interaction.model_validate(i) for i in items)]
    return profile.model_copy(update={"interactions": history, "account": profile.account.model_copy(update=account)})


def test_policy_flags_gifts_and_meals_for_public_sector_whatever_their_value():
    profile = with_history(TAX, {"date": "2026-10-01", "kind": "meal", "with": ["liu-min"], "value": 50})
    assert breaches(profile, TODAY, Policy()) == [len(TAX.interactions)]
    records = {r.id: r.values for r in derive(profile, TODAY, Policy())}
    assert records["account"]["account.compliance_breaches"] == 1
    assert records["stakeholder:liu-min"]["stakeholder.compliance_breaches"] == 1
    assert records["stakeholder:zhou-hai"]["stakeholder.compliance_breaches"] == 0


def test_policy_flags_private_firms_only_above_the_cap():
    small = with_history(
        TAX, {"date": "2026-10-01", "kind": "meal", "value": 150}, industry="enterprise", ownership="private"
    )
    big = with_history(
        TAX, {"date": "2026-10-01", "kind": "gift", "value": 900}, industry="enterprise", ownership="private"
    )
    unknown_value = with_history(
        TAX, {"date": "2026-10-01", "kind": "meal"}, industry="enterprise", ownership="private"
    )
    assert breaches(small, TODAY, Policy()) == []
    assert breaches(big, TODAY, Policy()) == [len(TAX.interactions)]
    assert breaches(unknown_value, TODAY, Policy()) == []


def test_policy_lookback_and_configuration():
    old = with_history(TAX, {"date": "2025-06-01", "kind": "gift", "value": 10})
    assert breaches(old, TODAY, Policy()) == []
    strict = Policy(compliance=Compliance(forbidden=Forbidden(everyone=["meal"]), gift_value_cap=0, lookback_days=1000))
    assert breaches(old, TODAY, strict) == [len(TAX.interactions)]
    relaxed = Policy(compliance=Compliance(forbidden=Forbidden(public_sector=[])))
    assert breaches(with_history(TAX, {"date": "2026-10-01", "kind": "meal", "value": 50}), TODAY, relaxed) == []


def test_policy_file_errors_name_file_and_line(tmp_path):
    (tmp_path / "policy.yaml").write_text("compliance:\n  gift_value_cap: -1\n  forbiden: {}\n", encoding="utf-8")
    with pytest.raises(AdvisorError) as info:
        load_policy(tmp_path)
    lines = [f"{p.line}:{p.col}: {p.message}" for p in info.value.problems]
    assert lines == [
        "2:19: compliance.gift_value_cap: input should be greater than or equal to 0",
        "3:3: unknown key 'forbiden' in compliance; did you mean 'forbidden'?",
    ]


def test_policy_shipped_file_matches_the_defaults():
    policy, path = load_policy(ROOT / "rules")
    assert path is not None and policy == Policy()
