"""What a brief shows is chosen by relevance: never by file names or order, honest about what it cut,
never saying two opposite things, and the visit's purpose given or inferred."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from advisor.api import Advisor
from advisor.cli import main
from advisor.facts import visit_purpose
from advisor.profile import load_profile
from advisor.rules import rule_files
from advisor.workbench.lint import lint

from conftest import ROOT

PANEL = ROOT / "tests" / "panel"
HOLDOUT = ROOT / "tests" / "panel-holdout"
PROFILES = sorted((ROOT / "profiles").glob("*.yaml")) + sorted(
    p for folder in (PANEL, HOLDOUT) for p in folder.glob("*.yaml") if not p.name.endswith(".expect.yaml")
)
TODAY = dt.date(2026, 12, 1)


def today_for(path: Path) -> dt.date | None:
    expect = path.with_name(path.stem + ".expect.yaml")
    if expect.exists():
        return dt.date.fromisoformat(re.search(r"^today: (\S+)", expect.read_text(), re.M).group(1))
    return None if load_profile(path).visit else TODAY


FOOTER = re.compile(r"`[0-9a-f]{12}`\n$|\"rules_hash\": \"[0-9a-f]{12}\"")  # the rules-and-templates hash


def briefs(advisor: Advisor) -> dict[str, str]:
    out = {}
    for path in PROFILES:
        evaluation = advisor.evaluate(load_profile(path), today_for(path))
        for lang in ("en", "zh"):
            brief = advisor.prepare(evaluation, lang)
            for fmt in ("markdown", "json"):
                out[f"{path.stem}.{lang}.{fmt}"] = FOOTER.sub("<hash>", advisor.render(brief, format=fmt))
    return out


def shuffled_rules(tmp: Path) -> Path:
    """The shipped rules under other names, files in reversed order and each file's rules reversed.
    Case files follow their rule file; data files (policy, relevance, schemas) keep their names."""
    source, target = ROOT / "rules", tmp / "rules"
    target.mkdir()
    files = rule_files(source)
    for n, path in enumerate(reversed(files)):
        name = f"{n:02d}-{path.stem[::-1]}"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["rules"] = list(reversed(doc["rules"]))
        (target / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        cases = path.with_name(path.stem + ".cases.yaml")
        if cases.exists():
            (target / f"{name}.cases.yaml").write_text(cases.read_text(encoding="utf-8"), encoding="utf-8")
    for path in source.iterdir():
        if path.suffix == ".json" or (path.suffix == ".yaml" and path not in files and ".cases." not in path.name):
            shutil.copy(path, target / path.name)
    shutil.copytree(ROOT / "profiles", tmp / "profiles")
    return target


def test_relevance_briefs_do_not_depend_on_rule_file_names_or_order(advisor, tmp_path):
    rules = shuffled_rules(tmp_path)
    other = Advisor.load(rules, ROOT / "templates")
    assert [r.id for r in other.base.rules] != [r.id for r in advisor.base.rules]  # the order really differs
    assert sorted(r.id for r in other.base.rules) == sorted(r.id for r in advisor.base.rules)
    mine, theirs = briefs(advisor), briefs(other)
    differ = [k for k in mine if mine[k] != theirs[k]]
    assert differ == []


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_relevance_nothing_flagged_only_where_nothing_fired(advisor, path):
    evaluation = advisor.evaluate(load_profile(path), today_for(path))
    labels = advisor.templates.labels
    for lang in ("en", "zh"):
        brief = advisor.prepare(evaluation, lang)
        doc = json.loads(advisor.render(brief, format="json"))
        markdown = advisor.render(brief)
        L = labels[lang]
        headings = {L["sections"][k]: k for k in ("account", "gaps", "checklist", "next_steps", "penetration")}
        fired = {r["section"] for r in doc["recommendations"]}
        for heading, body in sections(markdown).items():
            part = headings.get(heading)
            if part is None:
                continue
            part = "checklist" if part == "next_steps" else part
            if L["nothing_here"] in body:
                assert part not in fired, f"{path.stem} {lang}: '{heading}' says nothing was flagged"
            elif part in fired:
                assert body.strip(), heading
        attending = set(doc["visit"]["attendees"]) if doc["visit"] else set()
        for sid in attending:
            about = [r for r in doc["recommendations"] if r["section"] == "person" and r["stakeholder"] == sid]
            person = next(s for s in brief.profile.stakeholders if s.id == sid)
            heading = re.escape(L["person_heading"].format(name="", title="", department="")[:0])
            block = re.search(rf"^### {re.escape(person.name)}.*?(?=^### |^## )", markdown, re.M | re.S)
            assert block, person.name
            assert (L["nothing_here"] in block.group(0)) == (not about), f"{path.stem}: {person.name}"
            del heading


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_relevance_json_marks_exactly_what_the_markdown_shows(advisor, path):
    brief = advisor.prepare(advisor.evaluate(load_profile(path), today_for(path)), "en")
    doc = json.loads(advisor.render(brief, format="json"))
    markdown = advisor.render(brief)
    why = markdown.split("\n## Why this advice\n", 1)[1]
    table = set(re.findall(r"^\| `([a-z0-9-]+)` \|", why, flags=re.M))
    assert {r["rule"] for r in doc["recommendations"] if r["shown"] or r["trait_shown"]} == table
    assert not any(r["shown"] and r["trait_shown"] for r in doc["recommendations"])
    full = advisor.render(brief, full=True)
    assert "--full" not in full.split("## Relationship map")[0]  # nothing left out
    # every recommendation is scored (emphasis may take routine advice down to zero or below)
    assert all(isinstance(r["score"], (int, float)) for r in doc["recommendations"])
    assert any(r["score"] > 0 for r in doc["recommendations"])


def opposite_pairs(advisor: Advisor) -> set[frozenset[str]]:
    sides: dict[str, dict[str, set[str]]] = {}
    for r in advisor.base.rules:
        if r.rule.tactic:
            sides.setdefault(r.rule.tactic, {}).setdefault(r.rule.stance, set()).add(r.id)
    return {frozenset((a, b)) for s in sides.values() for a in s.get("for", ()) for b in s.get("against", ())}


def test_relevance_no_brief_says_two_opposite_things(advisor):
    pairs = opposite_pairs(advisor)
    assert len(pairs) >= 4
    for path in PROFILES:
        brief = advisor.prepare(advisor.evaluate(load_profile(path), today_for(path)), "en")
        said = {r.rule_id for r in brief.recommendations}
        assert [set(p) for p in pairs if p <= said] == [], path.stem


def test_relevance_lint_reports_opposite_stances_without_an_override(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    for path in rules.glob("*.yaml"):
        path.write_text(
            re.sub(r"^    withdraws: .*\n", "", path.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8"
        )
    warned = {
        frozenset(re.findall(r"'([a-z0-9-]+)'", p.message)[::2][:1] + re.findall(r"and '([a-z0-9-]+)'", p.message))
        for p in lint(rules)
        if "both can fire for one account" in p.message
    }
    for pair in (
        {"private-price-first", "defend-under-threat"},
        {"insurance-price-first", "recovery-before-sales"},
        {"gap-senior-level", "gap-senior-level-attending"},
        {"free-range-drifting", "free-range-visit-planned"},
        {"frontline-daily-use", "frontline-daily-use-rival"},
    ):
        assert frozenset(pair) in warned, pair
    assert not [p for p in lint(ROOT / "rules") if "both can fire" in p.message]


def test_relevance_withdrawn_advice_is_listed_with_who_withdrew_it(advisor):
    profile = load_profile(ROOT / "profiles" / "yx-life-insurance.yaml")
    doc = json.loads(advisor.render(advisor.prepare(advisor.evaluate(profile), "en"), format="json"))
    withdrawn = {w["rule"]: w["withdrawn_by"] for w in doc["withdrawn"]}
    assert withdrawn["insurance-price-first"] == ["defend-under-threat"]
    assert "insurance-price-first" not in {r["rule"] for r in doc["recommendations"]}
    assert "defend-under-threat" in {r["rule"] for r in doc["recommendations"]}


def rules_with(tmp_path: Path, extra: str) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (rules / "extra.yaml").write_text("rules:\n" + extra, encoding="utf-8")
    return rules


RULE = """  - id: {id}
    source: [3.3.3.a]
    scope: account
    section: checklist
    withdraws: [{target}]
    say: {{en: x {id}, zh: x {id}}}
"""


@pytest.mark.parametrize(
    "extra, message",
    [
        (RULE.format(id="w-one", target="w-two") + RULE.format(id="w-two", target="w-one"),
         "extra.yaml:12:17: error: withdrawals go round in a circle (w-one -> w-two -> w-one); remove one so one side of it stands [w-two]"),
        (RULE.format(id="w-one", target="private-price-frist"),
         "extra.yaml:6:17: error: withdraws unknown rule 'private-price-frist'; did you mean 'private-price-first'? [w-one]"),
        (RULE.format(id="w-one", target="w-one"), "extra.yaml:6:17: error: a rule cannot withdraw itself [w-one]"),
        (RULE.format(id="w-one", target="free-range-drifting").replace("    section", "    tactic: x\n    section"),
         "extra.yaml:2:5: error: rules[0]: a tactic needs a stance (for or against), and a stance needs its tactic"),
    ],
)  # fmt: skip
def test_relevance_bad_overrides_are_refused_with_a_position(tmp_path, capsys, extra, message):
    rules = rules_with(tmp_path, extra)
    assert main(["brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--rules", str(rules)]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_relevance_table_errors_are_positioned(tmp_path, capsys):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    text = (rules / "relevance.yaml").read_text(encoding="utf-8")
    text = text.replace("  renewal:", "  renewl:").replace('"3.3.3": 3\n', '"3.3.9": 3\n', 1)
    text = text.replace('service_items: ["3.3.3",', 'service_items: ["3.3.3", "7.1",', 1)
    (rules / "relevance.yaml").write_text(text, encoding="utf-8")
    assert main(["brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--rules", str(rules)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any(
        re.search(r"relevance.yaml:\d+:3: error: unknown visit purpose 'renewl'; use relationship", e) for e in err
    )
    assert any("'3.3.9' is no course item, topic, section or unit" in e for e in err), err
    assert any(re.search(r"relevance.yaml:\d+:\d+: error: '7.1' is no course item", e) for e in err), err


def profile_with(visit: dict, **changes):
    base = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    data = base.model_dump(by_alias=True)
    data["visit"] = {**data["visit"], **visit}
    data.update(changes)
    return type(base).model_validate(data)


@pytest.mark.parametrize(
    "visit, changes, purpose",
    [
        ({"purpose": "proposal"}, {}, ("proposal", False)),  # given: kept, even with an outage open
        ({}, {}, ("service_recovery", True)),  # the tax bureau's high-severity outage is open
        ({"objective": "续约谈判：专线合同年底到期"}, {"service": {"issues": []}}, ("renewal", True)),
        ({"objective": "Quarterly service review, then a word on the outage"}, {"service": {"issues": []}},
         ("periodic_review", True)),
        ({"objective": "技术交流：SD-WAN"}, {"service": {"issues": []}}, ("technical_exchange", True)),
        ({"objective": "拜访"}, {"service": {"issues": []}}, ("relationship", True)),
        ({"objective": "礼节性拜访", "attendees": ["chen-jianguo"]},
         {"service": {"issues": []}, "events": [{"date": "2026-11-20", "kind": "appointment", "summary": "到任", "stakeholder": "chen-jianguo"}]},
         ("introduction", True)),
    ],
)  # fmt: skip
def test_relevance_visit_purpose_is_given_or_inferred(visit, changes, purpose):
    assert visit_purpose(profile_with(visit, **changes), TODAY) == purpose


def test_relevance_header_says_which_purpose_and_whether_it_was_assumed(advisor):
    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    en = advisor.brief(profile)
    assert "| Purpose | service recovery: an open incident (assumed from the facts" in en
    zh = advisor.brief(profile, lang="zh")
    assert "| 拜访性质 | 服务补救（故障未结）（按现有信息推断" in zh
    given = profile_with({"purpose": "periodic_review"})
    assert "| Purpose | periodic service review |" in advisor.brief(given)


def test_relevance_emphasis_most_specific_entry_wins_and_the_highest_cited_item_counts():
    from advisor.relevance import Relevance, RelevanceFile

    table = Relevance(
        RelevanceFile(priorities={"medium": 2}, purposes={}, emphasis={"2.1": 1, "2.1.3": -0.5, "2.3.3.a": -1})
    )
    assert table.emphasis_of(("2.1.1.a",)) == 1  # the section's entry
    assert table.emphasis_of(("2.1.3.b",)) == -0.5  # the topic's entry is more specific
    assert table.emphasis_of(("2.3.3.a", "1.1.2.a")) == 0  # of two cited items, the higher (no entry: 0)
    assert table.emphasis_of(("2.3.3.a",)) == -1


@pytest.mark.parametrize(
    "entry, message",
    [
        ('"9.9": 1', r"relevance.yaml:\d+:3: error: '9.9' is no course item, topic, section or unit"),
        ('"2.2": 5', r"relevance.yaml:\d+:10: error: emphasis.2.2: input should be less than or equal to 3"),
    ],
)
def test_relevance_emphasis_errors_are_positioned(tmp_path, capsys, entry, message):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    text = (rules / "relevance.yaml").read_text(encoding="utf-8")
    (rules / "relevance.yaml").write_text(
        text.replace("\nemphasis:\n", f"\nemphasis:\n  {entry}\n", 1), encoding="utf-8"
    )
    assert main(["brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--rules", str(rules)]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err
