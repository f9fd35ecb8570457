"""The command line as a rep and a pipeline use it: exit codes, one-line errors, no tracebacks, safe writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advisor.cli import main
from advisor.profile import load_profile

from conftest import FIXTURES, ROOT

TAX = str(ROOT / "profiles" / "gz-tax-bureau.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_brief_prints_markdown_for_a_shipped_profile(capsys):
    code, out, err = run(capsys, "brief", TAX)
    assert code == 0, err
    assert out.startswith("# Pre-visit brief: 广州市税务局\n")
    assert "## Why this advice" in out


def test_cli_brief_json_carries_every_recommendation_with_provenance(capsys):
    code, out, _ = run(capsys, "brief", TAX, "--format", "json", "--lang", "zh")
    assert code == 0
    doc = json.loads(out)
    assert doc["lang"] == "zh" and doc["as_of"] == "2026-12-01" and doc["as_of_source"] == "visit"
    assert doc["recommendations"], "the tax bureau gets advice"
    for rec in doc["recommendations"]:
        assert set(rec) == {"rule", "source", "section", "aspect", "priority", "stakeholder", "stakeholder_name",
                            "text", "score", "shown", "trait_shown"}  # fmt: skip
        assert rec["source"] and rec["text"]


def test_cli_today_overrides_the_visit_date(capsys):
    code, out, _ = run(capsys, "brief", TAX, "--today", "2026-11-20")
    assert code == 0
    assert "| As of | 2026-11-20 (date given) |" in out


def test_cli_bad_profile_gives_one_line_per_problem_and_exit_1(capsys):
    path = FIXTURES / "profiles" / "bad-level.yaml"
    code, out, err = run(capsys, "brief", str(path))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{path}:14:12: error: stakeholders[0].level must be frontline, middle or senior; got 'manager'"
    ]


def test_cli_unreadable_input_exits_2(capsys):
    code, _, err = run(capsys, "brief", "no/such/profile.yaml")
    assert code == 2
    assert err == "no/such/profile.yaml:1:1: error: file not found; check the path\n"


def test_cli_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["brief", TAX, "--lang", "fr"])
    assert info.value.code == 2
    assert "invalid choice: 'fr'" in capsys.readouterr().err


def test_cli_output_file_is_written_whole_and_never_half(capsys, tmp_path):
    target = tmp_path / "brief.md"
    code, out, _ = run(capsys, "brief", TAX, "-o", str(target))
    assert code == 0 and out == ""
    good = target.read_text(encoding="utf-8")
    assert good.endswith("`\n")
    # A failing run (a broken rule folder) leaves the previous brief untouched and no temp files.
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "bad.yaml").write_text("rules:\n  - id: x\n", encoding="utf-8")
    code, _, err = run(capsys, "brief", TAX, "-o", str(target), "--rules", str(broken))
    assert code == 1 and "bad.yaml:2:5: error:" in err
    assert target.read_text(encoding="utf-8") == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brief.md", "rules"]


def test_cli_new_writes_a_valid_starter_and_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "mine.yaml"
    assert run(capsys, "new", str(target))[0] == 0
    assert load_profile(target).account.id == "my-account"
    code, _, err = run(capsys, "new", str(target))
    assert code == 2 and "file exists" in err
    code, out, _ = run(capsys, "brief", str(target))
    assert code == 0 and out.startswith("# Pre-visit brief")


def test_cli_facts_lists_the_catalogue(capsys):
    code, out, _ = run(capsys, "facts")
    assert code == 0
    assert "account.industry" in out and "stakeholder.days_since_contact" in out
    code, out, _ = run(capsys, "facts", "--format", "json")
    names = {row["name"] for row in json.loads(out)}
    assert {"account.industry", "tie.kind", "competitor.days_since_info", "event.days_until"} <= names


def test_cli_test_runs_the_shipped_cases(capsys):
    code, out, err = run(capsys, "test")
    assert code == 0, err
    passed, failed = out.strip().split(", ")
    assert failed == "0 failed" and int(passed.split()[0]) > 20


def test_cli_never_prints_a_traceback_from_a_real_process(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"account: [\n")
    proc = subprocess.run([sys.executable, "-m", "advisor", "brief", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{bad}:2:1: error: invalid YAML")


def test_cli_template_typo_names_file_and_line(capsys, tmp_path):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    brief = templates / "brief.md.j2"
    text = brief.read_text(encoding="utf-8")
    assert "{% for p in attendees %}{{ L.person_brief" in text
    brief.write_text(
        text.replace("{% for p in attendees %}{{ L.person_brief", "{% for p in atendees %}{{ L.person_brief"),
        encoding="utf-8",
    )
    line = next(i for i, s in enumerate(brief.read_text(encoding="utf-8").splitlines(), 1) if "atendees" in s)
    code, out, err = run(capsys, "brief", TAX, "--templates", str(templates))
    assert code == 1 and out == ""
    assert err.startswith(f"{brief}:{line}:1: error: undefined 'atendees'")


def test_cli_missing_translation_is_reported_with_its_position(capsys, tmp_path):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    labels = templates / "labels.yaml"
    lines = labels.read_text(encoding="utf-8").splitlines()
    zh_visit = next(i for i, s in enumerate(lines) if s.startswith("zh:")) + 1
    while not lines[zh_visit].startswith("  visit:"):
        zh_visit += 1
    del lines[zh_visit]
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    en_line = next(i for i, s in enumerate(lines, 1) if s.startswith("  visit:"))
    code, _, err = run(capsys, "brief", TAX, "--templates", str(templates))
    assert code == 1
    assert err == f"{labels}:{en_line}:10: error: label 'visit' has no zh translation; add it under zh\n"


def test_cli_coverage_text_json_and_min(capsys):
    code, out, _ = run(capsys, "coverage")
    assert code == 0
    assert "course items covered" in out.splitlines()[-1] or "uncovered:" in out.splitlines()[-1]
    code, out, _ = run(capsys, "coverage", "--format", "json")
    doc = json.loads(out)
    assert doc["total"] == 104 and len(doc["items"]) == 104
    assert doc["covered"] == sum(i["covered"] for i in doc["items"])
    first = doc["items"][0]
    assert first["code"] == "1.1.1.a" and first["zh"] == "放养式管理的弊端"
    code, _, err = run(capsys, "coverage", "--min", "100.1")
    assert code == 1 and "below --min 100.1%" in err


def test_cli_piping_into_head_is_not_an_error():
    """The reader closes the pipe before the brief is written (as `| head` does): no traceback, exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", "brief", TAX], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # nobody reads: the first write fails with a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait() == 0
    assert err == ""
