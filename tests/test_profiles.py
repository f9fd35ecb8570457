"""The shipped example profiles: all valid, and together they exercise every kind of account and person."""

from __future__ import annotations

from advisor.facts import FUNCTIONS, LEVELS
from advisor.profile import INDUSTRY_GROUPS, load_profile

from conftest import ROOT

PROFILES = [load_profile(p) for p in sorted((ROOT / "profiles").glob("*.yaml"))]


def test_profiles_cover_every_industry_group_function_level_and_position():
    assert len(PROFILES) >= 6
    assert {INDUSTRY_GROUPS[p.account.industry] for p in PROFILES} == set(INDUSTRY_GROUPS.values())
    assert {p.account.industry for p in PROFILES} >= {
        "government",
        "education",
        "health",
        "finance",
        "insurance",
        "enterprise",
    }
    assert {p.account.ownership for p in PROFILES if p.account.industry == "enterprise"} == {
        "state",
        "foreign",
        "private",
    }
    assert {s.function for p in PROFILES for s in p.stakeholders} == set(FUNCTIONS)
    assert {s.level for p in PROFILES for s in p.stakeholders} == set(LEVELS)
    assert {p.account.position for p in PROFILES} == {"incumbent", "challenger"}
    assert {p.account.stage for p in PROFILES} == {"establish", "maintain", "consolidate", "develop"}


def test_profiles_include_a_secured_insider_none_at_all_and_an_account_brief():
    assert any(any(s.insider == "secured" for s in p.stakeholders) for p in PROFILES)
    assert any(all(s.insider == "none" for s in p.stakeholders) for p in PROFILES)
    assert any(p.visit is None for p in PROFILES)
    assert any(len(p.stakeholders) >= 12 and p.visit and len(p.visit.attendees) == 3 for p in PROFILES)


def test_profiles_use_chinese_and_english_names():
    names = [p.account.name for p in PROFILES]
    assert any(all(ord(ch) < 128 for ch in n) for n in names)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)
