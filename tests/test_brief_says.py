"""What each shipped profile's brief must and must not say: the checks a golden file cannot make."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from advisor.profile import load_profile

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)

# profile -> (rules whose advice must appear, rules that must stay out, phrases the English brief must contain)
EXPECT = {
    "gz-tax-bureau": (
        {
            "gov-incumbent-continuity",
            "gov-service-dependence",
            "no-gifts-public-sector",
            "insider-secure",
            "tie-conflict-at-visit",
        },
        {"private-price-first", "no-gifts-foreign-firm", "insider-none", "soe-rapport"},
        ["| Tier | high value, high importance |", "### 刘敏: 信息中心主任, 信息中心", "### 周海: 办公室主任, 办公室"],
    ),
    "nh-party-org-dept": (
        # no senior relationship at a high-importance account: said as the tier's gap, not the general one
        {"gov-incumbent-continuity", "no-gifts-public-sector", "high-importance-senior-gap"},
        {"private-price-first", "soe-rapport", "no-gifts-foreign-firm", "gap-senior-level"},
        ["# Account brief:", "| Visit | No visit planned |", "## Next steps"],
    ),
    "sz-kessler-precision": (
        {"foreign-formal-process", "no-gifts-foreign-firm", "insider-candidate"},
        {
            "no-gifts-public-sector",
            "soe-rapport",
            "gov-incumbent-continuity",
            "insider-secure",
            "insider-protect-at-visit",
        },
        ["| Industry | enterprise (foreign-owned) |", "challenger: a competitor holds the account"],
    ),
    "sd-huarui-appliance": (
        {"private-price-first", "insider-protect-at-visit"},
        {"no-gifts-public-sector", "no-gifts-foreign-firm", "insider-none", "soe-rapport"},
        ["| Industry | enterprise (private) |"],
    ),
    "dg-abc-branch": (
        {"finance-service-quality", "soe-rapport", "no-gifts-public-sector", "insider-cultivate"},
        {"insurance-price-first", "private-price-first"},
        ["| Industry | banking and securities (state-owned) |"],
    ),
    # A strong rival and an open fault: the price-first pitches are withdrawn by defend-under-threat
    # ("a price cut alone will not cover a service failure"), not said next to it.
    "yx-life-insurance": (
        {"defend-under-threat"},
        {
            "finance-service-quality",
            "no-gifts-public-sector",
            "soe-rapport",
            "insurance-price-first",
            "private-price-first",
        },
        [],
    ),
    "sz-metro-group": (
        {"soe-rapport", "high-value-service-care", "senior-incident-ready", "no-gifts-public-sector"},
        {"private-price-first", "gov-incumbent-continuity"},
        ["| Tier | high value, high importance, high potential |"],
    ),
    "fs-first-hospital": (
        {"institution-service-quality", "institution-brand-image", "no-gifts-public-sector"},
        {"gov-incumbent-continuity", "finance-service-quality", "private-price-first"},
        [],
    ),
    "sz-bayview-intl-school": (
        {"institution-brand-image", "institution-service-quality"},
        {"no-gifts-public-sector", "private-price-first", "gov-incumbent-continuity"},
        ["Bayview International School Shenzhen"],
    ),
    "gd-provincial-museum": (
        {"institution-brand-image", "no-gifts-public-sector"},
        {"private-price-first", "soe-rapport"},
        [],
    ),
}


def test_brief_expectations_cover_every_shipped_profile():
    assert set(EXPECT) == {p.stem for p in (ROOT / "profiles").glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_brief_says_what_it_must_and_not_what_it_must_not(advisor, name):
    must, must_not, phrases = EXPECT[name]
    profile = load_profile(ROOT / "profiles" / f"{name}.yaml")
    today = None if profile.visit else TODAY
    doc = json.loads(advisor.brief(profile, today=today, format="json"))
    said = {r["rule"] for r in doc["recommendations"]}
    assert must <= said, f"missing: {sorted(must - said)}"
    assert not (must_not & said), f"should not say: {sorted(must_not & said)}"
    if name == "yx-life-insurance":
        assert {w["rule"] for w in doc["withdrawn"]} >= {"insurance-price-first", "private-price-first"}
    text = advisor.brief(profile, today=today)
    for phrase in phrases:
        assert phrase in text
    # Stakeholder advice names the person it is about, so two attendees' sections never read alike.
    people = {s.id: s.name for s in profile.stakeholders}
    for rec in doc["recommendations"]:
        if rec["stakeholder"]:
            assert people[rec["stakeholder"]] in rec["text"], (rec["rule"], rec["text"])


@pytest.mark.parametrize(
    ("today", "en", "zh"),
    [
        (dt.date(2026, 11, 24), "7 days to go. Today, book the colleagues", "离拜访还有7天"),
        (dt.date(2026, 11, 29), "Two days to go. Today, confirm the colleagues", "离拜访还有两天"),
        (dt.date(2026, 11, 30), "One day to go. Confirm who comes with you", "明天就要拜访"),
        (dt.date(2026, 12, 1), None, None),  # on the day, the visit's steps are the plan
    ],
)
def test_brief_visit_preparation_is_graded_by_the_days_left(advisor, today, en, zh):
    """The tax bureau's visit is on 2026-12-01: the plan a rep is told to make fits the time left."""
    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    for lang, phrase in (("en", en), ("zh", zh)):
        doc = json.loads(advisor.brief(profile, lang=lang, today=today, format="json"))
        texts = [r["text"] for r in doc["recommendations"] if r["rule"] == "visit-prep-window"]
        if phrase is None:
            assert texts == []
        else:
            assert len(texts) == 1 and texts[0].startswith(phrase), texts
            assert "{" not in texts[0] and "|" not in texts[0]
