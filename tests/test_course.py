"""The whole course as rules: every item covered, advice specific to the account, briefs short."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from advisor.profile import load_profile
from advisor.workbench.coverage import measure

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))
MAX_WORDS_EN = 1900  # 20 points chosen by relevance (labels.yaml limits.total; the advice is about 1,100 words) and "+ N more" lines
MAX_CHARS_ZH = 5100  # as MAX_WORDS_EN


def test_course_every_item_is_encoded_by_a_rule_that_fires_in_a_case(advisor):
    items, problems = measure(advisor, ROOT / "rules")
    assert problems == []
    assert len(items) == 104
    uncovered = [i.code for i in items if not i.covered]
    assert uncovered == []


def test_course_rules_that_fire_on_every_profile_say_why(advisor):
    fired_on: dict[str, int] = {}
    records_hit: dict[str, set[str]] = {}
    records_of: dict[str, set[str]] = {}
    for path in PROFILES:
        profile = load_profile(path)
        evaluation = advisor.evaluate(profile, None if profile.visit else TODAY)
        for rule_id in {f.rule_id for f in evaluation.outcome.firings}:
            fired_on[rule_id] = fired_on.get(rule_id, 0) + 1
        for f in evaluation.outcome.firings:
            records_hit.setdefault(f.rule_id, set()).add(f"{path.stem}/{f.record_id}")
        for r in evaluation.records:
            records_of.setdefault(r.scope, set()).add(f"{path.stem}/{r.id}")
    always = [r for r in advisor.base.rules if fired_on.get(r.id) == len(PROFILES) and r.rule.say is not None]
    assert [r.id for r in always if not r.rule.note.strip()] == []
    # No rule says the same thing about everything it could: each is quiet for some account,
    # person, tie, competitor or event of the shipped examples.
    static = [r.id for r in advisor.base.rules if records_hit.get(r.id, set()) >= records_of.get(r.rule.scope, set())]
    assert static == []


def _reading(text: str) -> str:
    """The brief as read: without the Mermaid source (its table twin is counted)."""
    return re.sub(r"```mermaid\n.*?```\n", "", text, flags=re.S)


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_course_briefs_stay_short_enough_to_read_in_the_car_park(advisor, path):
    profile = load_profile(path)
    today = None if profile.visit else TODAY
    en = _reading(advisor.brief(profile, lang="en", today=today))
    zh = _reading(advisor.brief(profile, lang="zh", today=today))
    assert len(en.split()) <= MAX_WORDS_EN
    assert len(re.sub(r"\s", "", zh)) <= MAX_CHARS_ZH


def _leaf_items(node: dict) -> list[dict]:
    for key in ("units", "sections", "topics"):
        if key in node:
            return [item for child in node[key] for item in _leaf_items(child)]
    return node.get("items", [])


def test_course_every_item_has_exactly_a_code_and_both_titles():
    """An unquoted comma in a flow mapping cuts a title and makes the rest a key: caught here."""
    from advisor.yamlio import load_file

    items = _leaf_items(load_file(ROOT / "advisor" / "data" / "course.yaml").data)
    assert len(items) == 104
    for item in items:
        assert set(item) == {"code", "zh", "en"}, item
        assert all(isinstance(item[k], str) and item[k].strip() for k in ("code", "zh", "en")), item
    assert len({item["code"] for item in items}) == 104


def test_course_titles_cut_by_a_comma_are_whole(advisor):
    assert advisor.course.title("1.3.2.c", "en") == "More personal, emotional care"
    assert advisor.course.title("3.1.6.b", "en").endswith("a service incident, a holiday or anniversary)")


@pytest.mark.parametrize("name", ["course.yaml", "course-source.txt"])
def test_course_packaged_files_read_from_the_folder_or_the_packages_loader(name, monkeypatch):
    # Read from the package's folder (no importlib.resources at start); where there is no folder (a zip),
    # through the package's loader, with the same text.
    from importlib import resources

    from advisor import course

    expected = resources.files("advisor").joinpath("data", name).read_text(encoding="utf-8")
    assert course.packaged(name) == expected
    monkeypatch.setattr(course, "__file__", str(ROOT / "no-such.zip" / "advisor" / "course.py"))
    assert course.packaged(name) == expected
