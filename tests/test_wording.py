"""How rule texts read in both languages: counts and choices, lists, names, a brief without a visit, each industry."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

from advisor.profile import Profile, load_profile
from advisor.render import fill
from advisor.vocabulary import LANGS, LIST_SEPARATORS
from advisor.wording import choice, fill_parts, split_say

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)

# --- the text layer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, said",
    [(0, "no contact in 90 days"), (1, "one contact in 90 days"), (2, "2 contacts in 90 days"), (None, "? in 90 days")],
)
def test_wording_count_takes_the_form_its_value_keys(value, said):
    text = "{n|0=no contact|1=one contact|# contacts} in 90 days"
    assert fill_parts(split_say(text), {"n": value}) == said


def test_wording_word_and_yes_no_keys_and_a_default():
    text = "{i|party=Party bodies|military=Military units|Government bodies}; {b|true=yes|false=no}"
    assert fill_parts(split_say(text), {"i": "military", "b": True}) == "Military units; yes"
    assert fill_parts(split_say(text), {"i": "government", "b": False}) == "Government bodies; no"


def test_wording_forms_are_the_rules_words_and_the_value_is_quoted():
    text = "{n|1=*one*|# *items*}"
    assert fill_parts(split_say(text), {"n": 3}, lambda s: f"<{s}>") == "<3> *items*"
    assert fill_parts(split_say(text), {"n": 1.0}, lambda s: f"<{s}>") == "*one*"


def test_wording_lists_join_the_languages_way():
    parts = split_say("interests: {i}")
    assert fill_parts(parts, {"i": ["围棋", "羽毛球"]}, str, "、") == "interests: 围棋、羽毛球"
    assert fill_parts(parts, {"i": ["chess", "a*b"]}, lambda s: s.replace("*", "\\*")) == "interests: chess, a\\*b"


def test_wording_every_language_has_its_list_separator():
    assert set(LIST_SEPARATORS) == set(LANGS)


def test_wording_choice_spells_its_parts():
    chosen = choice("account.open_issues|1=One issue is|# issues are")
    assert chosen is not None and chosen.name == "account.open_issues"
    assert chosen.keyed == (("1", "One issue is"),) and chosen.default == "# issues are"
    assert choice("account.name") is None


@pytest.mark.parametrize(
    "label, n, said",
    [("{n|0=today|1=yesterday|# days ago}", 0, "today"), ("{n|0=today|1=yesterday|# days ago}", 1, "yesterday"),
     ("{n|0=today|1=yesterday|# days ago}", 12, "12 days ago"), ("{n|0=今天|1=昨天|#天前}", 3, "3天前")],
)  # fmt: skip
def test_wording_labels_fill_counts_like_rules(label, n, said):
    assert fill(label, n=n) == said


# --- every brief the shipped and the panel profiles make, with and without their visit -------------


def _panel() -> list[tuple[str, Path, dt.date]]:
    out = []
    for expect in sorted(
        e for folder in ("panel", "panel-holdout") for e in (ROOT / "tests" / folder).glob("*.expect.yaml")
    ):
        doc = yaml.safe_load(expect.read_text(encoding="utf-8"))
        out.append((expect.name.removesuffix(".expect.yaml"), expect.parent / doc["profile"], doc["today"]))
    return out


PROFILES = [(p.stem, p, TODAY) for p in sorted((ROOT / "profiles").glob("*.yaml"))] + _panel()


def _without_visit(profile: Profile) -> Profile:
    data = profile.model_dump(by_alias=True)
    data["visit"] = None
    return type(profile).model_validate(data)


@pytest.fixture(scope="module")
def briefs(advisor) -> dict[tuple[str, str, bool], tuple[str, list[str]]]:
    """(profile, language, has a visit) -> the Markdown brief and every recommendation's text."""
    out = {}
    for name, path, today in PROFILES:
        profile = load_profile(path)
        for visit, p in ((True, profile), (False, _without_visit(profile))):
            if visit and profile.visit is None:
                continue
            for lang in ("en", "zh"):
                evaluation = advisor.evaluate(p, today=today)
                texts, _ = advisor.render_all(evaluation, lang=lang, formats=("markdown", "json"))
                recs = [r["text"] for r in json.loads(texts["json"])["recommendations"]]
                out[name, lang, visit] = (texts["markdown"], recs)
    return out


def test_wording_briefs_cover_every_profile_both_languages_with_and_without_a_visit(briefs):
    assert len({k[0] for k in briefs}) == len(PROFILES) >= 30
    assert any(not visit for _, _, visit in briefs) and any(visit for _, _, visit in briefs)


# What the old wording wrote, by language: each pattern names what it catches.
BAD = {
    "en": {
        "a plural patched with (s)": re.compile(r"\w\(s\)"),
        "a count of zero": re.compile(r"(?<![\d.,])0 (?:contact|issue|fault|person|people|supporter|of the forms)"),
        "a possessive after a bracketed name": re.compile(r"\)'s\b"),
    },
    "zh": {
        "a plural patched with (s)": re.compile(r"\w\(s\)"),
        "a count of zero": re.compile(r"(?<![\d.])0(?:次|种|个问题|起|位)"),
        "a Chinese list joined with ', '": re.compile(r"[\u4e00-\u9fff], [\u4e00-\u9fff]"),
    },
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wording_no_brief_writes_the_old_wording(briefs, lang):
    found = []
    for (name, brief_lang, visit), (markdown, recs) in briefs.items():
        if brief_lang != lang:
            continue
        for what, pattern in BAD[lang].items():
            for text in (markdown, *recs):
                if m := pattern.search(text):
                    found.append(
                        f"{name} ({'visit' if visit else 'no visit'}): {what}: …{text[max(0, m.start() - 40) : m.end() + 20]}…"
                    )
    assert not found, "\n".join(sorted(set(found)))


AFTER_VISIT = {"en": "## After the visit", "zh": "## 拜访之后"}
# A brief with no visit speaks of no visit: neither a section after it nor advice for it.
VISIT_WORDS = {
    "en": re.compile(r"\b(?:this|the) visit\b|\bthe meeting\b"),
    "zh": re.compile(r"这次拜访|本次拜访|(?<!下次)拜访前|(?<!下次)拜访时"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wording_a_brief_without_a_visit_has_no_after_the_visit(briefs, lang):
    found = []
    for (name, brief_lang, visit), (markdown, recs) in briefs.items():
        if brief_lang == lang and not visit:
            if AFTER_VISIT[lang] in markdown:
                found.append(f"{name}: {AFTER_VISIT[lang]}")
            found += [f"{name}: {t[:90]}" for t in recs if VISIT_WORDS[lang].search(t)]
    assert not found, "\n".join(sorted(set(found)))


# --- each industry and ownership in its own words ---------------------------------------------------

INDUSTRIES = ("party", "government", "military", "science", "education", "culture", "health", "finance", "insurance",
              "enterprise")  # fmt: skip
OWNERSHIPS = {
    "party": [None], "government": [None], "military": [None],
    **{i: [None, "state", "foreign", "private"] for i in ("science", "education", "culture", "health")},
    **{i: ["state", "foreign", "private"] for i in ("finance", "insurance", "enterprise")},
}  # fmt: skip
# Words the group-wide texts wrote for every member of a group, and the only industries they fit.
ONLY_FOR = {
    "Private owners": {"enterprise"},
    "民企老板": {"enterprise"},
    "Government bodies": {"government"},
    "government bodies avoid": {"government"},
    "public-facing": {"government"},
    "党政机关": set(),
    "机关单位": set(),
    "对外办事": {"government"},
    "students": {"education"},
    "patients": {"health"},
    "visitors": {"culture"},
    "hospital grading": {"health"},
    "smart-campus": {"education"},
    "学生": set(),
    "师生": {"education"},
    "患者": {"health"},
    "观众": {"culture"},
    "智慧校园": {"education"},
    "Schools, hospitals": set(),
    "科教文卫": set(),
    "Foreign firms' staff": set(),
    "外企员工": {"enterprise"},
    "State-owned firms": {"enterprise"},
    "国企重感情": {"enterprise"},
}


@pytest.mark.parametrize(
    "industry, ownership", [(i, o) for i in INDUSTRIES for o in OWNERSHIPS[i]], ids=lambda v: str(v)
)
def test_wording_industry_texts_fit_the_industry(advisor, industry, ownership):
    base = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    data = base.model_dump(by_alias=True)
    data["account"] = {**data["account"], "industry": industry, "ownership": ownership}
    wrong = []
    for position in ("incumbent", "challenger"):
        data["account"]["position"] = position
        evaluation = advisor.evaluate(type(base).model_validate(data), today=TODAY)
        for lang in ("en", "zh"):
            texts, _ = advisor.render_all(evaluation, lang=lang, formats=("json",))
            for rec in json.loads(texts["json"])["recommendations"]:
                wrong += [
                    f"{rec['rule']}: '{w}'" for w, fits in ONLY_FOR.items() if w in rec["text"] and industry not in fits
                ]
    assert not wrong, "\n".join(sorted(set(wrong)))
