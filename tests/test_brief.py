"""Golden briefs for every shipped profile in both languages, plus what each brief must and must not say.

The golden files catch any change; the assertions say which changes are wrong. Regenerate the
golden files with `pytest tests/test_brief.py --update-golden` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from advisor import __version__
from advisor.api import Advisor
from advisor.profile import load_profile

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)  # account briefs have no visit date: pin "today" for the golden files
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden"


def brief(advisor: Advisor, name: str, lang: str = "en", fmt: str = "markdown") -> str:
    profile = load_profile(ROOT / "profiles" / f"{name}.yaml")
    return advisor.brief(profile, lang=lang, today=None if profile.visit else TODAY, format=fmt)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_brief_matches_golden(advisor, update_golden, path, lang):
    text = brief(advisor, path.stem, lang)
    golden = GOLDEN / f"{path.stem}.{lang}.md"
    if update_golden:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run pytest --update-golden and review it"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_brief_structure_holds_for_every_profile(advisor, path):
    profile = load_profile(path)
    en = brief(advisor, path.stem, "en")
    zh = brief(advisor, path.stem, "zh")
    doc = json.loads(brief(advisor, path.stem, "en", "json"))
    # Deterministic: the same inputs give the same bytes, with a fresh Advisor too.
    assert en == brief(advisor, path.stem, "en")
    assert en == brief(Advisor.load(ROOT / "rules", ROOT / "templates"), path.stem, "en")
    # Header and footer.
    for text in (en, zh):
        assert re.search(rf"advisor {re.escape(__version__)} .*· .* `[0-9a-f]{{12}}`\n$", text)
    # Every attendee gets a section; an account brief has none.
    if profile.visit:
        assert "## Who you will meet" in en and "## 本次拜访对象" in zh
        for who in profile.visit.attendees:
            person = next(s for s in profile.stakeholders if s.id == who)
            assert re.search(rf"^### {re.escape(person.name)}", en, re.M), person.name
    else:
        assert en.startswith("# Account brief:") and zh.startswith("# 客户简报")
        assert "## Who you will meet" not in en and "## Next steps" in en
    # "Why this advice" lists exactly the rules whose advice the brief shows, with their course
    # items; what the brief leaves out (over a section's limit, or about absent people) and
    # derivations that only set a fact are not listed.
    why = en.split("## Why this advice")[1]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z0-9-]+)` \| ([0-9a-z., ]+) \|", why, re.M)}
    # Advice not shown in full may still be on a person's card as what they care about (labels' traits):
    # then its rule is listed too, and the card (the person's part of the brief) says the trait.
    traits = advisor.templates.labels["en"]["traits"]
    names = {s.id: s.name for s in profile.stakeholders}
    shown_rules = set()
    for rec in doc["recommendations"]:
        if rec["text"] in en:
            shown_rules.add(rec["rule"])
            assert rec["rule"] in rows, rec["rule"]
            assert rows[rec["rule"]].split(", ") == rec["source"]
        elif rec["trait_shown"]:
            shown_rules.add(rec["rule"])
            card = re.search(
                rf"^(### |- \*\*){re.escape(names[rec['stakeholder']])}(?!\w).*?(?=^### |^## |\Z)", en, re.M | re.S
            )
            assert card, rec
            stated = [traits[c] for c in rec["source"] if c in traits]
            assert stated and any(t in card.group(0) for t in stated), (rec["rule"], stated)
    assert set(rows) == shown_rules
    # At a glance: at most five points, all high priority.
    glance = en.split("## At a glance")[1].split("\n## ")[0]
    assert 1 <= len(re.findall(r"^\d+\. ", glance, re.M)) <= 5
    # The Chinese brief has no English labels, the English brief no Chinese ones.
    for label in ("At a glance", "Why this advice", "Relationship gaps", "What they care about", "days ago"):
        assert label not in zh
    for label in ("要点速览", "建议依据", "关系短板", "关注点"):
        assert label not in en
    # Nothing is said twice within one brief.
    lines = [line for line in en.splitlines() if line.startswith(("- ", "1. ", "2. ", "3. ", "4. ", "5. "))]
    bodies = [re.sub(r"^(\d+\.|-)( \[ \])? (\*\*[^*]+\*\* )?", "", line) for line in lines]
    assert len(bodies) == len(set(bodies)), [b for b in bodies if bodies.count(b) > 1]


COMPLIANCE_FORBIDDEN = re.compile(
    r"\b(gifts?|banquet|entertain\w*|red envelope|kickback)\b|送礼|礼品|宴请|请客|红包|回扣", re.I
)


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_brief_never_recommends_gifts_or_banquets_except_to_warn(advisor, path):
    for lang in ("en", "zh"):
        doc = json.loads(brief(advisor, path.stem, lang, "json"))
        for rec in doc["recommendations"]:
            if COMPLIANCE_FORBIDDEN.search(rec["text"]):
                assert rec["aspect"] == "avoid", (
                    f"{rec['rule']} mentions gifts or banquets outside an 'avoid': {rec['text']}"
                )


def test_brief_profile_text_cannot_break_the_markdown(advisor, tmp_path):
    source = (ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8")
    hostile = source.replace("name: 刘敏", 'name: "刘敏 | ## {{ 7*7 }} <script>x</script> `code` [a](b)"')
    path = tmp_path / "hostile.yaml"
    path.write_text(hostile, encoding="utf-8")
    text = advisor.brief(load_profile(path), lang="en")
    assert "<script>" not in text and "{{ 7*7 }}" not in text.replace("\\{\\{ 7\\*7 \\}\\}", "")
    # The people table keeps its column count on every row.
    table = [
        line for line in text.split("## Relationship map")[1].split("\n## ")[0].splitlines() if line.startswith("|")
    ]
    counts = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
    assert len(counts) == 1, table
    assert not re.search(r"^## \{", text, re.M)
    # The Mermaid diagram keeps its structure: the hostile name is one quoted label.
    diagram = text.split("```mermaid\n")[1].split("```")[0]
    label = next(line for line in diagram.splitlines() if "刘敏" in line)
    assert label.startswith('  p1["') and label.endswith('"]') and label.count('"') == 2
    assert "<script>" not in diagram and "`" not in diagram


def test_brief_languages_differ_only_in_words_not_in_advice(advisor):
    for path in PROFILES:
        en = json.loads(brief(advisor, path.stem, "en", "json"))
        zh = json.loads(brief(advisor, path.stem, "zh", "json"))
        strip = lambda doc: [(r["rule"], r["stakeholder"], r["section"]) for r in doc["recommendations"]]  # noqa: E731
        assert sorted(strip(en)) == sorted(strip(zh)), path.stem
