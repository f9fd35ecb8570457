"""advisor review: the expert panel (tests/panel) measured, bad expectation files refused with positions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from advisor.cli import main
from advisor.workbench.review import THRESHOLDS, review

from conftest import ROOT

PANEL = ROOT / "tests" / "panel"

# The panel's figures (first measured: fired 179, shown 102, 14 violations): they may rise,
# never fall. Raise them when the rules get better.
FLOOR = {"fired": 241, "shown": 222, "violations": 0, "expected": 241, "profiles": 22}
# The held-out panel (tests/panel-holdout, never tuned on; first measured on the rules before the
# panel-driven changes: fired 83, shown 62, 1 violation).
HOLDOUT = ROOT / "tests" / "panel-holdout"
HOLDOUT_FLOOR = {"fired": 94, "shown": 87, "violations": 0, "expected": 96, "profiles": 8}


@pytest.fixture(scope="module")
def summary(advisor):
    return review(advisor, PANEL)


def test_review_panel_has_at_least_twenty_profiles_each_with_an_expectation():
    profiles = sorted(p for p in PANEL.glob("*.yaml") if not p.name.endswith(".expect.yaml"))
    expectations = sorted(PANEL.glob("*.expect.yaml"))
    assert len(expectations) >= 20
    assert [p.name.removesuffix(".expect.yaml") for p in expectations] == [p.stem for p in profiles]


def test_review_held_out_figures_do_not_fall(advisor):
    held_out = review(advisor, HOLDOUT)
    assert held_out.expected >= HOLDOUT_FLOOR["expected"] and len(held_out.verdicts) >= HOLDOUT_FLOOR["profiles"]
    assert sum(v.fired for v in held_out.verdicts) >= HOLDOUT_FLOOR["fired"], held_out.line()
    assert sum(len(v.shown) for v in held_out.verdicts) >= HOLDOUT_FLOOR["shown"], held_out.line()
    assert held_out.violations <= HOLDOUT_FLOOR["violations"], held_out.line()


def test_review_figures_do_not_fall_below_the_panels_first_measure(summary):
    fired = sum(v.fired for v in summary.verdicts)
    shown = sum(len(v.shown) for v in summary.verdicts)
    assert summary.expected >= FLOOR["expected"] and len(summary.verdicts) >= FLOOR["profiles"]
    assert fired >= FLOOR["fired"], summary.line()
    assert shown >= FLOOR["shown"], summary.line()
    assert summary.violations <= FLOOR["violations"], summary.line()


def test_review_panel_meets_the_thresholds(summary):
    assert summary.rate("fired") >= THRESHOLDS["fired"], summary.line()
    assert summary.rate("shown") >= THRESHOLDS["shown"], summary.line()
    assert summary.violations == 0, summary.line()
    assert summary.passes()


def why_table_rules(markdown: str) -> set[str]:
    why = markdown.split("\n## Why this advice\n", 1)[1]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", why, flags=re.M))


def test_review_shown_means_the_advice_is_in_the_markdown_brief(advisor):
    """What review counts as shown is what the brief's "why this advice" table lists of advice rules:
    each such rule has its advice text in the brief, or a trait it cites on its person's card
    ("What they care about: price-performance"), and the review counts nothing else."""
    from advisor.escape import md
    from advisor.profile import load_profile
    from advisor.workbench.review import judge, load_expectation

    traits = advisor.templates.labels["en"]["traits"]
    for path in sorted(PANEL.glob("*.expect.yaml")):
        expect = load_expectation(path, advisor)
        brief = advisor.prepare(advisor.evaluate(load_profile(PANEL / expect.profile), expect.today), "en")
        selection = advisor.selection(brief)
        markdown = advisor.render(brief)
        advice_rules = {r.rule_id for r in brief.recommendations}
        assert why_table_rules(markdown) & advice_rules == selection.shown_rules()
        cards = {r.rule_id: [traits[c] for c in card.items] for card in selection.cares.values() for r in card.advice}
        for rule in selection.shown_rules():
            texts = [r.text_in(md) for r in selection.said if r.rule_id == rule]
            assert any(t in markdown for t in texts) or any(t in markdown for t in cards.get(rule, ())), rule
        # an item counts as shown only through a listed rule that cites it
        verdict = judge(advisor, path, expect)
        for code in verdict.shown:
            assert any(code in r.source for r in selection.said if r.rule_id in selection.shown_rules()), code


def test_review_cli_prints_the_table_and_ends_with_the_summary(capsys):
    code = main(["review", str(PANEL)])
    out = capsys.readouterr().out.rstrip("\n").splitlines()
    assert code == 0  # the panel passes its thresholds
    assert out[0].startswith("| profile | expected | shown | fired only | missing | must-not violations |")
    assert re.fullmatch(
        r"\d+ profiles, \d+ expected items: fired \d+ \(\d+\.\d%, needs 95%\), shown \d+ \(\d+\.\d%, needs 90%\), "
        r"\d+ must-not violations?: (pass|below the thresholds)",
        out[-1],
    )


def test_review_json_for_machines(capsys):
    main(["review", str(PANEL), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"profiles", "expected", "fired", "shown", "must_not_violations", "thresholds", "passes"}
    assert doc["passes"] is True and doc["thresholds"] == {"fired": 0.95, "shown": 0.9}
    first = doc["profiles"][0]
    assert set(first) == {"profile", "expected", "shown", "fired_only", "missing", "must_not_violations"}
    assert first["expected"] == len(first["shown"]) + len(first["fired_only"]) + len(first["missing"])


GOOD = """\
profile: acct.yaml
today: 2026-12-01
must_cover: [2.1.1.a]
must_not: [2.1.4.b]
notes:
  2.1.1.a: "a government body"
  2.1.4.b: "not an insurer"
"""


def panel_with(tmp_path: Path, expect: str, name: str = "acct") -> Path:
    folder = tmp_path / "panel"
    folder.mkdir(exist_ok=True)
    shutil.copy(ROOT / "profiles" / "gz-tax-bureau.yaml", folder / "acct.yaml")
    (folder / f"{name}.expect.yaml").write_text(expect, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "changes, message",
    [
        ([("2.1.1.a", "2.1.1.aa")], "3:14: error: unknown course item '2.1.1.aa'; did you mean '2.1.1.a'?"),
        ([("acct.yaml", "gone.yaml")], "1:10: error: no profile 'gone.yaml' beside this file; name a file in"),
        ([("acct.yaml", "../acct.yaml")], "1:10: error: no profile '../acct.yaml' beside this file"),
        ([("must_not:", "must_nto:")], "4:1: error: unknown key 'must_nto' in the document; did you mean 'must_not'?"),
        ([("[2.1.4.b]", "[2.1.1.a]"), ('  2.1.4.b: "not an insurer"\n', "")],
         "4:12: error: '2.1.1.a' is both expected and forbidden; keep one"),
        ([("[2.1.1.a]", "[2.1.1.a, 2.1.1.b]")], "3:23: error: no note for '2.1.1.b'; say why under notes"),
        ([("[2.1.1.a]", "[2.1.1.a, 2.1.1.a]")], "3:13: error: must_cover: 2.1.1.a listed twice; list each code once"),
        ([("today: 2026-12-01", "today: 2026-13-01")], "2:8: error: cannot read the value '2026-13-01'"),
        ([('  2.1.4.b: "not an insurer"\n', '  2.1.4.b: "not an insurer"\n  3.1.1.a: x\n')],
         "8:3: error: note for '3.1.1.a', which is in neither list; remove it or list the code"),
        ([("profile: acct.yaml\n", "")], "1:1: error: the document is missing the required key 'profile'"),
    ],
)  # fmt: skip
def test_review_bad_expectation_is_one_positioned_line(tmp_path, capsys, changes, message):
    text = GOOD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    folder = panel_with(tmp_path, text)
    assert main(["review", str(folder)]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{folder / 'acct.expect.yaml'}:{message}"), lines[0]


def test_review_good_expectation_is_judged(tmp_path, capsys):
    folder = panel_with(tmp_path, GOOD)
    code = main(["review", str(folder)])
    out = capsys.readouterr().out
    assert "| acct | 1 |" in out and "1 profiles, 1 expected items" in out
    assert code in (0, 1)


def test_review_every_bad_file_reported_at_once(tmp_path, capsys):
    folder = panel_with(tmp_path, GOOD.replace("2.1.1.a", "9.9.9.z"))
    (folder / "b.expect.yaml").write_text(GOOD.replace("acct.yaml", "nope.yaml"), encoding="utf-8")
    assert main(["review", str(folder)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0].rsplit("/", 1)[1] for line in lines] == ["acct.expect.yaml", "b.expect.yaml"]


def test_review_folder_without_expectations_or_missing_is_unreadable(tmp_path, capsys):
    assert main(["review", str(tmp_path)]) == 2
    assert "no *.expect.yaml files here" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
