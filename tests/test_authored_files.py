"""Files rule authors keep: a case file's base stays in the rules' repository and is never echoed,
rule ids are slugs with a suggested fix, and refusals never point at a --limit lint and test lack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from advisor.cli import main

from conftest import GIFT_BREACH_RULE, ROOT

TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"
SECRET = "SECRET-ROOT-LINE"
PASSWD = f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1:SECRET-DAEMON:/usr/sbin:/usr/sbin/nologin\n"
RULE = GIFT_BREACH_RULE


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if ": error: " in line]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """tmp/repo/{rules,profiles} with one rule and a valid profile; tmp/outside holds a valid
    profile and a passwd-like file; repo/profiles holds links out, a folder, a FIFO and a copy of passwd."""
    root, outside = tmp_path / "repo", tmp_path / "outside"
    for folder in (root / "rules", root / "profiles", outside):
        folder.mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(yaml.safe_dump({"rules": [RULE]}), encoding="utf-8")
    shutil.copy(TAX, root / "profiles" / "tax.yaml")
    shutil.copy(TAX, outside / "tax.yaml")
    (outside / "passwd").write_text(PASSWD, encoding="utf-8")
    (root / "profiles" / "passwd").write_text(PASSWD, encoding="utf-8")
    (root / "profiles" / "env.yaml").write_text("SECRET_KEY_NAME: SECRET-VALUE\naccount: {id: SECRET-ID}\n", "utf-8")
    (root / "profiles" / "link.yaml").symlink_to(outside / "tax.yaml")
    (root / "profiles" / "plink.yaml").symlink_to(Path("..", "..", "outside", "passwd"))
    (root / "profiles" / "inner.yaml").symlink_to(root / "profiles" / "tax.yaml")
    (root / "profiles" / "dir.yaml").mkdir()
    os.mkfifo(root / "profiles" / "fifo.yaml")
    return root


def write_cases(repo: Path, base: str, extra: str = "") -> Path:
    path = repo / "rules" / "r.cases.yaml"
    path.write_text(f"base: {base}\ntoday: 2026-12-01\ncases:\n  a:\n    quiet: [gift-breach]\n{extra}", "utf-8")
    return path


OUTSIDE = "is outside the rules' repository {repo}; move it there, or pass --allow-base-outside"
NOT_PROFILE = "is not a valid profile (its first problem is at {file}:1:1); `advisor explain` on it lists them all"


@pytest.mark.parametrize(
    "base,tail",
    [
        ("{tmp}/outside/tax.yaml", OUTSIDE),  # an absolute path outside
        ("../../outside/tax.yaml", OUTSIDE),  # a ../ escape
        ("../profiles/link.yaml", OUTSIDE),  # a symlink inside, pointing outside
        ("../profiles/plink.yaml", OUTSIDE),  # a relative symlink to a passwd-like file outside
        ("{tmp}/outside/passwd", OUTSIDE),
        ("/etc/passwd", OUTSIDE),
        ("../profiles/passwd", NOT_PROFILE.replace("{file}", "{repo}/profiles/passwd")),  # inside, not a profile
        ("../profiles/env.yaml", NOT_PROFILE.replace("{file}", "{repo}/profiles/env.yaml")),  # a mapping, not a profile
        ("../profiles/dir.yaml", "is a folder; name a profile file"),
        ("../profiles/missing.yaml", "not found; check the path"),
    ],
)  # fmt: skip
def test_authored_base_outside_or_not_a_profile_is_one_line_exit_2(repo, capsys, base, tail):
    tmp = repo.parent.resolve()
    base = base.format(tmp=tmp)
    cases = write_cases(repo, base)
    code, out, err = run(capsys, "test", str(repo / "rules"))
    assert code == 2
    assert errors(err) == [f"{cases}:1:7: error: base '{base}' " + tail.format(repo=tmp / "repo")]
    assert "SECRET" not in out + err and "daemon" not in out + err


def test_authored_base_passwd_outside_with_the_option_is_never_echoed(repo, capsys):
    passwd = repo.parent.resolve() / "outside" / "passwd"
    cases = write_cases(repo, str(passwd))
    code, out, err = run(capsys, "test", str(repo / "rules"), "--allow-base-outside")
    assert code == 2
    assert errors(err) == [f"{cases}:1:7: error: base '{passwd}' " + NOT_PROFILE.format(file=passwd)]
    assert SECRET not in out + err and "nologin" not in out + err


@pytest.mark.parametrize("base", ["../profiles/tax.yaml", "../profiles/inner.yaml"])
def test_authored_base_inside_passes_symlinks_included(repo, capsys, base):
    write_cases(repo, base)
    code, out, _ = run(capsys, "test", str(repo / "rules"))
    assert (code, out.strip()) == (0, "1 passed, 0 failed")


def test_authored_base_outside_passes_with_the_option(repo, capsys):
    write_cases(repo, "../../outside/tax.yaml")
    code, out, _ = run(capsys, "test", str(repo / "rules"), "--allow-base-outside")
    assert (code, out.strip()) == (0, "1 passed, 0 failed")


def test_authored_base_of_one_case_is_positioned_on_that_case(repo, capsys):
    cases = write_cases(
        repo, "../profiles/tax.yaml", "  b:\n    base: ../../outside/passwd\n    quiet: [gift-breach]\n"
    )
    code, out, err = run(capsys, "test", str(repo / "rules"))
    assert code == 2
    tail = OUTSIDE.format(repo=repo.parent.resolve() / "repo")
    assert errors(err) == [f"{cases}:7:11: error: base '../../outside/passwd' {tail}"]
    assert SECRET not in out + err


def test_authored_base_fifo_is_refused_without_waiting(repo):
    cases = write_cases(repo, "../profiles/fifo.yaml")
    run_ = subprocess.run(
        [sys.executable, "-m", "advisor", "test", str(repo / "rules")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run_.returncode == 2
    assert "Traceback" not in run_.stderr
    assert errors(run_.stderr) == [
        f"{cases}:1:7: error: base '../profiles/fifo.yaml' is not a regular file; name a profile file"
    ]


def test_authored_overlay_over_a_limit_does_not_offer_a_missing_option(repo, capsys):
    people = ", ".join(f"{{id: p{i}, name: P{i}, level: frontline}}" for i in range(1001))
    cases = write_cases(repo, "../profiles/tax.yaml", f"  b:\n    overlay: {{stakeholders: [{people}]}}\n")
    code, _, err = run(capsys, "test", str(repo / "rules"))
    assert code == 1
    assert errors(err) == [
        f"{cases}:7:14: error: case 'b' makes an invalid profile: 1,005 stakeholders, over the limit of 1,000; "
        "keep the ones that matter"
    ]


RULE_ID_CASES = [
    ("my_rule", "rule id 'my_rule' may use only a-z, 0-9 and -; did you mean 'my-rule'?"),
    ("'My Rule'", "rule id 'My Rule' may use only a-z, 0-9 and -; did you mean 'my-rule'?"),
    ("Gov.Continuity", "rule id 'Gov.Continuity' may use only a-z, 0-9 and -; did you mean 'gov-continuity'?"),
    ("-lead", "rule id '-lead' must start with a letter or digit; did you mean 'lead'?"),
    ("客户", "rule id '客户' may use only a-z, 0-9 and -"),
    ("a" * 94, f"rule id '{'a' * 80}…' is 94 characters long; keep it to 80; did you mean '{'a' * 80}'?"),
    ("12", "rule id must be text of a-z, 0-9 and -, such as 'gov-continuity'; got a number"),
    ("[a]", "rule id must be text of a-z, 0-9 and -, such as 'gov-continuity'; got a list"),
]


@pytest.mark.parametrize("written,message", RULE_ID_CASES, ids=[w[:12] for w, _ in RULE_ID_CASES])
@pytest.mark.parametrize("command", ["lint", "test"])
def test_authored_rule_id_is_a_slug_with_a_fix(tmp_path, capsys, written, message, command):
    rules = tmp_path / "rules"
    rules.mkdir()
    path = rules / "r.yaml"
    path.write_text(
        f"rules:\n  - id: {written}\n    source: [1.3.1.c]\n    section: checklist\n    say: {{en: x, zh: x}}\n",
        "utf-8",
    )
    code, out, err = run(capsys, command, str(rules))
    assert code == 1
    assert errors(out + err) == [f"{path}:2:9: error: {message}"]


def test_authored_shipped_rule_ids_are_slugs():
    ids = [r["id"] for p in sorted((ROOT / "rules").glob("*.yaml")) for r in (yaml.safe_load(p.read_text("utf-8")) or {}).get("rules", [])]  # fmt: skip
    assert len(ids) > 100
    assert [i for i in ids if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", i)] == []


LIMITS = [
    ("rule", "note: " + "x" * 1_100_000 + "\nrules: []\n", "1:1: error: the file is 1,100,017 bytes, over the limit of 1,000,000; trim it"),
    ("rule", "rules: " + "[" * 50 + "]" * 50 + "\n", "1:47: error: nesting deeper than 40 levels; flatten the structure"),
    ("cases", "base: x\ntoday: 2026-12-01\nn: " + "[" * 50 + "]" * 50 + "\ncases: {}\n", "3:43: error: nesting deeper than 40 levels; flatten the structure"),
]  # fmt: skip


@pytest.mark.parametrize("kind,text,tail", LIMITS, ids=["rule-bytes", "rule-depth", "cases-depth"])
@pytest.mark.parametrize("command", ["lint", "test"])
def test_authored_limit_refusals_never_offer_limit_to_lint_or_test(tmp_path, capsys, kind, text, tail, command):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(yaml.safe_dump({"rules": [RULE]}), encoding="utf-8")
    path = rules / ("r.yaml" if kind == "rule" else "r.cases.yaml")
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, command, str(rules))
    assert code in (1, 2)
    assert "--limit" not in out + err
    assert f"{path}:{tail}" in errors(out + err)


def test_authored_case_expectation_names_a_rule_id_with_the_fix(repo, capsys):
    cases = repo / "rules" / "r.cases.yaml"
    cases.write_text(
        "base: ../profiles/tax.yaml\ntoday: 2026-12-01\ncases:\n  a:\n    fires: [gift_breach, Gov@x]\n", "utf-8"
    )
    code, _, err = run(capsys, "test", str(repo / "rules"))
    assert code == 1
    assert errors(err) == [
        f"{cases}:5:13: error: rule id 'gift_breach' may use only a-z, 0-9 and -; did you mean 'gift-breach'?",
        f"{cases}:5:26: error: rule id 'Gov' may use only a-z, 0-9 and -; did you mean 'gov'?",
    ]
