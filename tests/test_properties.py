"""Properties every valid profile keeps, checked on generated ones (see strategies.py).

The advisor never raises on a valid profile; its output is the same bytes every time; every
attendee gets a section; renaming a person changes only the text that names them; a person tied
to no one removes no account-level advice; and the order lists are typed in changes nothing.
Run with `HYPOTHESIS_PROFILE=thorough` to fuzz with many fresh examples.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from strategies import ANCHOR, SETTINGS, newcomers, profile_data, shuffled, to_profile, todays

from advisor.api import Advisor, Evaluation
from advisor.canonical import canonical
from advisor.errors import AdvisorError
from advisor.escape import md
from advisor.profile import Profile, parse_profile
from advisor.render import LANGS
from advisor.yamlio import load_file, load_text

from conftest import ROOT

FORMATS = ("markdown", "json")
# Stand-in names no generated text contains and no escaping touches, so a plain substitution
# finds exactly the places a name is shown.
NAME_A, NAME_B = "Qxzvalpha", "Qxzvbravo"
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.fixture(scope="module")
def second_advisor() -> Advisor:
    """A separately loaded Advisor: its engine gets different ruleset names, the output must not differ."""
    return Advisor.load(ROOT / "rules", ROOT / "templates")


def all_outputs(advisor: Advisor, profile, today: dt.date | None) -> dict[tuple[str, str], str]:
    """The brief in every language and format, from one evaluation (what `brief` does four times)."""
    evaluation = advisor.evaluate(profile, today)
    briefs = {lang: advisor.prepare(evaluation, lang) for lang in LANGS}
    return {(lang, fmt): advisor.render(briefs[lang], format=fmt) for lang in LANGS for fmt in FORMATS}


def firings(evaluation: Evaluation) -> list[tuple[str, str]]:
    return [(f.rule_id, f.record_id) for f in evaluation.outcome.firings]


def as_of(profile, today: dt.date | None) -> dt.date | None:
    """`today` as drawn, except that a profile without a visit never falls back on the clock."""
    return today if today is not None or profile.visit else ANCHOR


@SETTINGS
@given(data=profile_data(), today=st.one_of(st.none(), todays()))
def test_brief_never_raises_and_is_deterministic(advisor, second_advisor, data, today):
    profile = to_profile(data)
    today = as_of(profile, today)
    first = {
        (lang, fmt): advisor.brief(profile, lang=lang, today=today, format=fmt) for lang in LANGS for fmt in FORMATS
    }
    assert all_outputs(advisor, to_profile(data), today) == first
    assert all_outputs(second_advisor, profile, today) == first
    for (lang, fmt), text in first.items():
        assert text.endswith("\n"), (lang, fmt)
        if fmt == "markdown":  # no invisible control from the profile reorders a line of the brief
            assert not BIDI_CONTROLS & set(text), lang


@SETTINGS
@given(data=profile_data(visit=True), today=st.one_of(st.none(), todays()))
def test_brief_gives_every_attendee_a_section_and_no_other_headings(advisor, data, today):
    profile = to_profile(data)
    people = {s.id: s for s in profile.stakeholders}
    for lang in LANGS:
        text = advisor.brief(profile, lang=lang, today=today)
        L = advisor.templates.labels[lang]
        expected = [
            L["person_heading"].format(name=md(s.name), title=md(s.title), department=md(s.department))
            for s in (people[a] for a in profile.visit.attendees)
        ]
        part = text.split(f"\n## {L['sections']['attendees']}\n", 1)[1].split("\n## ", 1)[0]
        assert Counter(re.findall(r"^### (.*)$", part, re.M)) == Counter(expected)
        # Profile text never opens a heading of its own anywhere in the brief.
        sections = {f"## {name}" for name in L["sections"].values()}
        headings = [line for line in text.splitlines()[1:] if line.startswith("#")]
        assert [h for h in headings if h not in sections and h[4:] not in expected] == []


@SETTINGS
@given(data=profile_data(), today=todays(), pick=st.integers(0, 100))
def test_renaming_a_stakeholder_changes_only_the_text_that_names_them(advisor, data, today, pick):
    if not data["stakeholders"]:
        return
    i = pick % len(data["stakeholders"])

    def renamed(name: str) -> dict:
        people = list(data["stakeholders"])
        people[i] = {**people[i], "name": name}
        return {**data, "stakeholders": people}

    original, a, b = (to_profile(d) for d in (data, renamed(NAME_A), renamed(NAME_B)))
    evaluations = [advisor.evaluate(x, today) for x in (original, a, b)]
    assert firings(evaluations[0]) == firings(evaluations[1]) == firings(evaluations[2])
    for lang in LANGS:
        recs_a, recs_b = (advisor.recommendations(e, lang) for e in evaluations[1:])
        assert [(r.rule_id, r.record_id, r.stakeholder, r.text.replace(NAME_A, NAME_B)) for r in recs_a] == [
            (r.rule_id, r.record_id, r.stakeholder, r.text) for r in recs_b
        ]
    briefs_a, briefs_b = all_outputs(advisor, a, today), all_outputs(advisor, b, today)
    for key, text in briefs_a.items():
        assert NAME_A in text, key
        assert briefs_b[key] == text.replace(NAME_A, NAME_B), key


@SETTINGS
@given(data=profile_data(), today=todays(), newcomer=newcomers())
def test_adding_an_unrelated_stakeholder_removes_no_account_advice(advisor, data, today, newcomer):
    before, after = (
        advisor.evaluate(to_profile(d), today)
        for d in (data, {**data, "stakeholders": [*data["stakeholders"], newcomer]})
    )
    for lang in LANGS:
        account_advice = [
            {r.rule_id for r in advisor.recommendations(e, lang) if r.record_id == "account"} for e in (before, after)
        ]
        assert account_advice[0] - account_advice[1] == set()


@SETTINGS
@given(pair=profile_data().flatmap(lambda d: st.tuples(st.just(d), shuffled(d))), today=todays())
def test_shuffling_lists_changes_no_byte_of_the_brief(advisor, pair, today):
    data, mixed = pair
    assert all_outputs(advisor, to_profile(mixed), today) == all_outputs(advisor, to_profile(data), today)


@SETTINGS
@given(pair=profile_data(max_people=12).flatmap(lambda d: st.tuples(st.just(d), shuffled(d))))
def test_canonical_order_ignores_input_order_and_keeps_everyone(pair):
    data, mixed = pair
    profile = canonical(to_profile(data))
    assert canonical(to_profile(mixed)) == profile
    assert canonical(profile) == profile
    assert Counter(s.id for s in profile.stakeholders) == Counter(s["id"] for s in data["stakeholders"])
    assert len(profile.interactions) == len(data["interactions"])


# --- Regressions the properties found, pinned as plain tests ---


def test_brief_of_a_shipped_profile_ignores_list_order(advisor):
    """Competitor and event records were numbered by list position and tables followed it."""
    data = load_file(ROOT / "profiles" / "sz-metro-group.yaml").data
    reversed_data = {
        **data,
        "stakeholders": [{**s, "interests": s.get("interests", [])[::-1]} for s in data["stakeholders"][::-1]],
        "interactions": data["interactions"][::-1],
        "competitors": data["competitors"][::-1],
        "events": data["events"][::-1],
        "visit": {**data["visit"], "attendees": data["visit"]["attendees"][::-1]},
    }
    assert all_outputs(advisor, to_profile(reversed_data), None) == all_outputs(advisor, to_profile(data), None)


def test_canonical_order_lists_people_as_an_org_chart_and_attendees_by_seniority():
    def person(sid: str, level: str, boss: str | None = None) -> dict:
        return {"id": sid, "name": sid.upper(), "title": "t", "department": "d", "function": "admin",
                "level": level, "reports_to": boss}  # fmt: skip

    data = {
        "account": {
            "id": "acme",
            "name": "Acme",
            "industry": "government",
            "stage": "maintain",
            "position": "incumbent",
        },
        "stakeholders": [
            person("zoe", "frontline", "amy"),
            person("amy", "middle", "bob"),
            person("bob", "senior"),
            person("cat", "senior"),
            person("dan", "middle"),
            person("loop-a", "middle", "loop-b"),
            person("loop-b", "frontline", "loop-a"),
        ],  # fmt: skip
        "visit": {"date": ANCHOR, "objective": "o", "attendees": ["zoe", "dan", "cat", "amy"]},
    }
    # A reporting cycle is refused when a profile is read (profile.cross_check); canonical() must
    # still order one without looping, so the model is validated here without the cross-checks.
    profile = canonical(Profile.model_validate(data))
    assert [s.id for s in profile.stakeholders] == ["bob", "amy", "zoe", "cat", "dan", "loop-a", "loop-b"]
    assert profile.visit.attendees == ["cat", "amy", "dan", "zoe"]


@pytest.mark.parametrize("revenue", [1e15, 999_999_999_999_999.9])
def test_brief_survives_the_largest_revenue_a_profile_may_hold(advisor, revenue):
    """durable's JSON parser rejects 1e+16 and inf: the engine failed on any such profile. Profiles
    now stop at 10^15 (below), and the largest they may hold still briefs."""
    account = {"id": "big", "name": "Big", "industry": "finance", "stage": "develop", "position": "incumbent"}
    profile = to_profile({"account": {**account, "annual_revenue": revenue}})
    evaluation = advisor.evaluate(profile, ANCHOR)
    assert evaluation.facts()["account"]["account.annual_revenue"] == round(revenue, 4)
    assert advisor.brief(profile, today=ANCHOR).startswith("# Account brief: Big")


@pytest.mark.parametrize("revenue", [1e16, 1e300, float("inf"), float("-inf"), float("nan")])
def test_a_revenue_beyond_the_cap_or_not_finite_is_refused(revenue):
    account = {"id": "big", "name": "Big", "industry": "finance", "stage": "develop", "position": "incumbent"}
    with pytest.raises(AdvisorError) as refused:
        to_profile({"account": {**account, "annual_revenue": revenue}})
    assert [p.message.split(": ", 1)[0] for p in refused.value.problems] == ["account.annual_revenue"]


@SETTINGS
@given(data=profile_data())
def test_profile_written_as_yaml_reads_back_the_same(data):
    """What the strategies build is what a file can say: the loader (limits, careful path and all)
    accepts it and gives back the same profile."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert parse_profile(load_text(text, "<generated>.yaml")) == to_profile(data)
