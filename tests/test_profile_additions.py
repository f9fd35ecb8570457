"""The profile additions of issue 14: contracts per service, satisfaction over time, concerns, patrons and
supplier policies, as facts, as the visit's inferred purpose, and from a CRM export."""

from __future__ import annotations

import datetime as dt

from advisor.crm import crm_export
from advisor.facts import derive, visit_purpose
from advisor.profile import Profile

TODAY = dt.date(2026, 12, 1)


def profile(**extra) -> Profile:
    data = {
        "account": {"id": "acme", "name": "Acme", "industry": "health", "stage": "maintain", "position": "incumbent"},
        "stakeholders": [
            {"id": "li", "name": "Li", "title": "IT head", "department": "IT", "function": "tech_management",
             "level": "middle", "ties": [{"with": "wang", "kind": "patron"}]},
            {"id": "wang", "name": "Wang", "title": "Deputy director", "department": "Board", "function": "leadership",
             "level": "senior"},
            {"id": "zhao", "name": "Zhao", "title": "Operator", "department": "IT", "function": "tech_support",
             "level": "frontline"},
        ],
        "competitors": [{"name": "Rival Telecom", "strength": "strong"}],
        "visit": {"date": "2026-12-01", "objective": "courtesy call", "attendees": ["li"]},
    }  # fmt: skip
    data.update(extra)
    return Profile.model_validate(data)


def records(p: Profile) -> dict[str, dict]:
    return {r.id: r.values for r in derive(p, TODAY)}


def test_additions_without_new_fields_keep_the_old_meaning():
    a = records(profile())["account"]
    assert a["account.service_runner"] == "us"  # from position, as before
    assert a["account.contracts_ours"] == a["account.contracts_rival"] == 0
    assert "account.days_to_our_renewal" not in a and "account.satisfaction_trend" not in a


def test_additions_contracts_give_renewals_and_who_runs_what():
    p = profile(
        contracts=[
            {"service": "broadband", "holder": "us", "ends": "2027-02-28", "users": ["li"]},
            {"service": "lines", "holder": "us", "ends": "2026-11-30"},  # ended: ignored
            {"service": "core lines", "holder": "Rival Telecom", "ends": "2027-04-30", "users": ["zhao"]},
        ]
    )
    r = records(p)
    a = r["account"]
    assert (a["account.contracts_ours"], a["account.contracts_rival"]) == (1, 1)
    assert a["account.service_runner"] == "shared"
    assert (a["account.days_to_our_renewal"], a["account.our_renewal_service"]) == (89, "broadband")
    assert (a["account.days_to_rival_renewal"], a["account.rival_renewal_holder"]) == (150, "Rival Telecom")
    assert a["account.rival_services"] == ["core lines (Rival Telecom)"]  # a list: the text layer joins it
    assert r["stakeholder:li"]["stakeholder.service_runner"] == "us"
    assert r["stakeholder:zhao"]["stakeholder.service_runner"] == "rival"
    assert r["stakeholder:wang"]["stakeholder.service_runner"] == "shared"
    assert r["competitor:0"]["competitor.days_to_renewal"] == 150
    assert visit_purpose(p, TODAY) == ("renewal", True)  # ours ends within 90 days


def test_additions_purpose_renewal_comes_after_a_serious_incident_and_before_the_words():
    contracts = [{"service": "broadband", "holder": "us", "ends": "2027-01-31"}]
    incident = {"opened": "2026-11-30", "severity": "critical", "incident": True, "summary": "outage"}
    assert visit_purpose(profile(contracts=contracts, service={"issues": [incident]}), TODAY)[0] == "service_recovery"
    worded = {"date": "2026-12-01", "objective": "technical exchange on 5G", "attendees": []}
    assert visit_purpose(profile(contracts=contracts, visit=worded), TODAY)[0] == "renewal"
    later = [{"service": "broadband", "holder": "us", "ends": "2027-03-15"}]  # 104 days: the words decide
    assert visit_purpose(profile(contracts=later, visit=worded), TODAY)[0] == "technical_exchange"


def test_additions_satisfaction_trend_concerns_patrons_and_supplier_policy():
    p = profile(
        service={
            "satisfaction": 2,
            "satisfaction_history": [{"date": "2026-06-30", "score": 3}, {"date": "2026-03-31", "score": 4}],
            "concerns": [{"stakeholder": "zhao", "about": "slow repairs"}],
        },
        events=[
            {"date": "2027-01-01", "kind": "policy_change", "supplier_policy": True, "summary": "rotation rule"},
            {"date": "2026-12-05", "kind": "policy_change", "summary": "not about suppliers"},
        ],
    )
    r = records(p)
    a = r["account"]
    assert (a["account.satisfaction_trend"], a["account.satisfaction_scores"]) == ("declining", "4 → 3 → 2")
    assert a["account.unhappy_people"] == 1
    assert r["stakeholder:zhao"]["stakeholder.unhappy_about"] == ["slow repairs"]
    assert r["stakeholder:li"]["stakeholder.unhappy"] is False
    assert (r["stakeholder:li"]["stakeholder.patron_name"], r["stakeholder:wang"]["stakeholder.proteges"]) == (
        "Wang",
        1,
    )
    assert a["account.patronage_ties"] == 1
    assert (a["account.days_to_supplier_policy"], a["account.supplier_policy_summary"]) == (31, "rotation rule")
    history_only = profile(service={"satisfaction_history": [{"date": "2026-09-30", "score": 3}]})
    assert records(history_only)["account"]["account.satisfaction"] == 3  # the latest reading stands in


def test_additions_crm_export_maps_the_new_columns(tmp_path):
    (tmp_path / "accounts.csv").write_text(
        "account_id,name,industry,stage,position,satisfaction,satisfaction_history,contracts\n"
        "acme,Acme,health,maintain,incumbent,2,2026-03-31|4; 2026-06-30|3,宽带|us|2027-01-31; 手机|联通|2027-03-31\n",
        encoding="utf-8",
    )
    (tmp_path / "contacts.csv").write_text(
        "account_id,contact_id,name,title,department,function,level,patron,unhappy_about\n"
        "acme,li,Li,IT head,IT,tech_management,middle,wang,slow repairs\n"
        "acme,wang,Wang,Deputy,Board,leadership,senior,,\n",
        encoding="utf-8",
    )
    (source,) = [s for s in crm_export(tmp_path) if s.kind == "data"]
    data = source.payload
    assert data["service"] == {
        "satisfaction": 2,
        "satisfaction_history": [{"date": "2026-03-31", "score": 4}, {"date": "2026-06-30", "score": 3}],
        "concerns": [{"stakeholder": "li", "about": "slow repairs"}],
    }
    assert data["contracts"] == [
        {"service": "宽带", "holder": "us", "ends": "2027-01-31"},
        {"service": "手机", "holder": "联通", "ends": "2027-03-31"},
    ]
    assert data["competitors"] == [{"name": "联通"}]
    assert data["stakeholders"][0]["ties"] == [{"with": "wang", "kind": "patron"}]
    assert Profile.model_validate(data).contracts[1].holder == "联通"


def test_additions_service_lists_are_joined_the_languages_way(advisor):
    """Two services of ours are said as a list: "a, b" in English, "a、b" in Chinese, never "a, b" in Chinese."""
    from advisor.profile import load_profile

    from conftest import ROOT

    base = load_profile(ROOT / "profiles" / "sd-huarui-appliance.yaml")
    data = base.model_dump(by_alias=True)
    data["contracts"] = [
        {"service": "宽带", "holder": "us", "ends": "2027-03-31"},
        {"service": "专线", "holder": "us", "ends": "2027-04-30"},
        {"service": "手机集团网", "holder": "中国联通佛山分公司", "ends": "2027-05-31"},
    ]
    evaluation = advisor.evaluate(Profile.model_validate(data))
    said = {
        lang: next(r.text for r in advisor.prepare(evaluation, lang).recommendations if r.rule_id == "split-incumbency")
        for lang in ("en", "zh")
    }
    assert "we run 宽带, 专线;" in said["en"]
    assert "我们负责宽带、专线；" in said["zh"]
