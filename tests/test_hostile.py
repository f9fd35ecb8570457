"""Hostile and broken input: limits, the corpus through every profile-reading command, inert text in briefs.

The corpus is tests/fixtures/profiles/*.yaml (each names its exact expected error on its first
line, checked by test_profile_errors.py); inputs too big for a fixture are generated here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from test_profile_errors import expectation

from advisor import yamlio
from advisor.cli import main
from advisor.errors import AdvisorError, UnreadableInput
from advisor.limits import DEFAULT, Limits, parse_item
from advisor.profile import load_profile

from conftest import FIXTURES, ROOT

CORPUS = sorted((FIXTURES / "profiles").glob("*.yaml"))
BAD = [p for p in CORPUS if expectation(p) != "valid"]
VALID = [p for p in CORPUS if expectation(p) == "valid"]
TODAY = "2026-12-01"

# Exit codes: 2 when the file cannot be read as a safe YAML document or crosses a limit, 1 when it
# reads but its content is wrong.
UNREADABLE = {
    "alias-bomb", "custom-tag", "deep-nesting", "duplicate-key", "empty", "impossible-date", "impossible-month",
    "invalid-yaml", "merge-key", "not-utf8", "python-apply-tag", "python-name-tag", "tab-indent",
}  # fmt: skip
# Problems found while reading the bytes: a batch names their line, at column 1.
READ_ERRORS = {"not-utf8"}

ACCOUNT = "account: {id: acme, name: Acme, industry: party, stage: maintain, position: incumbent}\n"
PERSON = "  - {{id: p{i}, name: P, title: T, department: D, function: admin, level: middle}}\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(path: Path, expected: str, *, col1: bool = False) -> str:
    where, message = expected.split(": ", 1)
    if col1:
        where = where.split(":")[0] + ":1"
    return f"{path}:{where}: error: {message}"


# --- limits --------------------------------------------------------------------------------------


def people(n: int) -> str:
    return ACCOUNT + "stakeholders:\n" + "".join(PERSON.format(i=i) for i in range(n))


def interactions(n: int) -> str:
    return ACCOUNT + "interactions:\n" + "  - {date: 2026-01-01, kind: call}\n" * n


def write_50_mb(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(ACCOUNT + "stakeholders:\n")
        out.write(PERSON.format(i=0) * (50 * 2**20 // len(PERSON.format(i=0))))


GENERATED = {
    "10,000 stakeholders": (
        lambda p: p.write_text(people(10_000), encoding="utf-8"),
        "3:3: 10,000 stakeholders, over the limit of 1,000; keep the ones that matter, "
        "or raise the limit with --limit stakeholders=N",
    ),
    "20,001 interactions": (
        lambda p: p.write_text(interactions(20_001), encoding="utf-8"),
        "3:3: 20,001 interactions, over the limit of 20,000; keep the ones that matter, "
        "or raise the limit with --limit interactions=N",
    ),
    "50 MB profile": (
        write_50_mb,
        None,  # the size is in the message; filled in by the test
    ),
    "100,000 [ (libyaml stops at its own cap)": (
        lambda p: p.write_text("account: " + "[" * 100_000, encoding="utf-8"),
        "1:1009: nesting deeper than 40 levels; flatten the structure, or raise the limit with --limit depth=N",
    ),
    "1,200 nested block lists": (
        lambda p: p.write_text("account:\n" + "".join(" " * i + "-\n" for i in range(1, 1200)), encoding="utf-8"),
        "41:41: nesting deeper than 40 levels; flatten the structure, or raise the limit with --limit depth=N",
    ),
    "200,001 values": (
        lambda p: p.write_text("account: [" + "0," * 200_000 + "0]", encoding="utf-8"),
        "1:400007: the file holds more than 200,000 values; split it, or raise the limit with --limit values=N",
    ),
}


@pytest.mark.parametrize("name", GENERATED)
def test_hostile_generated_input_is_refused_with_its_exact_message(name, tmp_path, capsys):
    make, expected = GENERATED[name]
    path = tmp_path / "hostile.yaml"
    make(path)
    if expected is None:
        expected = (
            f"1:1: the file is {path.stat().st_size:,} bytes, over the limit of 1,000,000; trim it, "
            "or raise the limit with --limit record_bytes=N"
        )
    code, out, err = run(capsys, "brief", path)
    assert (code, out, err) == (2, "", error_line(path, expected) + "\n")


def test_hostile_deep_nesting_is_refused_by_the_pure_python_loader_too(tmp_path, monkeypatch):
    """Without libyaml, PyYAML's composer recurses; the limit is enforced on the event stream first."""

    class Pure(yamlio._Untagged, yaml.SafeLoader):
        pass

    monkeypatch.setattr(yamlio, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(yamlio, "_Composer", Pure)
    path = tmp_path / "deep.yaml"
    path.write_text("account: " + "[" * 100_000, encoding="utf-8")
    with pytest.raises(UnreadableInput) as info:
        load_profile(path)
    assert str(info.value) == (
        f"{path}:1:49: error: nesting deeper than 40 levels; flatten the structure, "
        "or raise the limit with --limit depth=N"
    )
    bomb = FIXTURES / "profiles" / "alias-bomb.yaml"
    with pytest.raises(UnreadableInput) as info:
        load_profile(bomb)
    assert f"{info.value.problems[0].line}:{info.value.problems[0].col}: {info.value.problems[0].message}" == (
        expectation(bomb)
    )


def test_hostile_a_file_without_a_size_is_read_no_further_than_the_limit(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    with pytest.raises(UnreadableInput) as info:
        load_profile(Path("/dev/zero"))
    assert str(info.value) == (
        "/dev/zero:1:1: error: the file is over the limit of 1,000,000 bytes; trim it, "
        "or raise the limit with --limit record_bytes=N"
    )


def test_hostile_limits_can_be_raised_and_lowered(tmp_path, capsys):
    path = tmp_path / "many.yaml"
    path.write_text(people(1_001), encoding="utf-8")
    with pytest.raises(UnreadableInput):
        load_profile(path)
    assert len(load_profile(path, Limits(stakeholders=1_001)).stakeholders) == 1_001
    tax = ROOT / "profiles" / "gz-tax-bureau.yaml"
    code, out, err = run(capsys, "brief", tax, "--limit", "stakeholders=2", "--limit", "interactions=3")
    assert code == 2 and out == ""
    assert [line.split(": error: ")[1] for line in err.splitlines()] == [
        "4 stakeholders, over the limit of 2; keep the ones that matter, or raise the limit with --limit stakeholders=N",
        "4 interactions, over the limit of 3; keep the ones that matter, or raise the limit with --limit interactions=N",
    ]
    code, _, err = run(capsys, "explain", tax, "--limit", "record_bytes=100")
    assert code == 2 and ": the file is " in err and "--limit record_bytes=N" in err
    deep = FIXTURES / "profiles" / "deep-nesting.yaml"  # a note nested 60 deep: refused, then merely invalid
    code, _, err = run(capsys, "brief", deep, "--limit", "depth=100")
    assert code == 1 and "account.note: input should be a valid string" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit", "stakeholder=5"], "argument --limit: unknown limit 'stakeholder'; did you mean 'stakeholders'?"),
        (["--limit", "speed=5"], "argument --limit: unknown limit 'speed'; the limits are record_bytes, "
         "stakeholders, interactions, depth, aliases or values"),
        (["--limit", "depth"], "argument --limit: expected NAME=N, like stakeholders=5000; got 'depth'"),
        (["--limit", "depth=deep"], "argument --limit: limit depth must be a whole number; got 'deep'"),
        (["--limit", "depth=0"], "argument --limit: limit depth must be 1 or more; got 0"),
    ],
)  # fmt: skip
def test_hostile_a_bad_limit_is_a_usage_error(argv, message, capsys):
    for command in ("brief", "explain"):
        with pytest.raises(SystemExit) as info:
            main([command, str(ROOT / "profiles" / "gz-tax-bureau.yaml"), *argv])
        assert info.value.code == 2
        assert capsys.readouterr().err == f"advisor {command}: error: {message}\n"


def test_hostile_limit_names_accept_dashes_and_thousands():
    assert parse_item("record-bytes=2,000,000") == ("record_bytes", 2_000_000)
    assert DEFAULT.override([("depth", 50), ("depth", 60)]).depth == 60


# --- every profile-reading command on the corpus --------------------------------------------------


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_hostile_corpus_brief_and_explain_fail_cleanly(path, tmp_path, capsys):
    expected = expectation(path)
    code_wanted = 2 if path.stem in UNREADABLE else 1
    out_file = tmp_path / "brief.md"
    for argv in (["brief", path, "-o", out_file], ["explain", path]):
        code, out, err = run(capsys, *argv)
        assert code == code_wanted, err
        assert out == ""
        assert "Traceback" not in err and "internal error" not in err
        lines = err.splitlines()
        assert error_line(path, expected) in lines
        assert all(line.startswith(f"{path}:") for line in lines)
    assert list(tmp_path.iterdir()) == [], "a failed brief leaves no file, not even half of one"


def test_hostile_corpus_batch_reports_every_bad_file_and_briefs_the_rest(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for path in CORPUS:
        shutil.copyfile(path, src / path.name)
    out = tmp_path / "out"
    code, _, err = run(capsys, "batch", src, "-o", out, "--quiet", "--today", TODAY)
    assert code == 1
    assert "Traceback" not in err and "internal error" not in err
    lines = err.splitlines()
    for path in BAD:
        copy = src / path.name
        assert error_line(copy, expectation(path), col1=path.stem in READ_ERRORS) in lines
    assert all(line.startswith(str(src)) for line in lines)
    index = [json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(e["status"] for e in index) == ["error"] * len(BAD) + ["ok"] * len(VALID)
    briefs = sorted(p.name for p in (out / "briefs").iterdir())
    assert briefs == sorted(f"{load_profile(p).account.id}.md" for p in VALID)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_hostile_valid_corpus_files_brief_and_explain(path, tmp_path, capsys):
    code, out, err = run(capsys, "brief", path, "--today", TODAY, "-o", tmp_path / "brief.md")
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / "brief.md").read_text(encoding="utf-8").startswith("# ")
    code, out, err = run(capsys, "explain", path, "--today", TODAY, "--fired")
    assert code == 0 and err == "" and out


def test_hostile_path_like_ids_write_nothing_outside_the_output_folder(tmp_path, capsys):
    src = tmp_path / "in"
    (src / "crm").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "profiles" / "path-like-id.yaml", src / "evil.yaml")
    record = {"account": {"id": "../../etc", "name": "x", "industry": "party", "stage": "maintain",
                          "position": "incumbent"}}  # fmt: skip
    (src / "evil.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (src / "crm" / "accounts.csv").write_text(
        "account_id,name,industry,stage,position\n/tmp/pwned,x,party,maintain,incumbent\n", encoding="utf-8"
    )
    before = sorted(p for p in tmp_path.rglob("*"))
    out = tmp_path / "work" / "out"
    code, _, err = run(capsys, "batch", src / "evil.yaml", src / "evil.jsonl", src / "crm", "-o", out, "--quiet")
    assert code == 1
    slug = "must be an id of lower-case letters, digits, - and _ (no spaces)"
    assert err.splitlines() == [
        f"{src / 'evil.yaml'}:3:7: error: account.id {slug}; got '../../etc'",
        f"{src / 'evil.jsonl'}:1:1: error: account.id {slug}; got '../../etc'",
        f"{src / 'crm' / 'accounts.csv'}:2:1: error: account.id {slug}; got '/tmp/pwned'",
    ]
    after = sorted(p for p in tmp_path.rglob("*") if out not in p.parents and p != out and p != out.parent)
    assert after == before
    assert not (out / "briefs").exists()


def test_hostile_json_lines_nested_too_deep_or_too_long_are_refused_per_record(tmp_path, capsys):
    good = json.dumps(yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8")),
                      default=str, ensure_ascii=False)  # fmt: skip
    people_record = json.dumps({"account": {"id": "many", "name": "x", "industry": "party", "stage": "maintain",
                                            "position": "incumbent"},
                                "stakeholders": [{"id": f"p{i}"} for i in range(1_001)]})  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "[" * 100_000 + "\n" + '{"a": ' * 50 + "1" + "}" * 50 + "\n" + '"' + "x" * 1_100_000 + '"\n'
        + people_record + "\n" + good + "\n",
        encoding="utf-8",
    )  # fmt: skip
    code, _, err = run(capsys, "batch", path, "-o", tmp_path / "out", "--quiet", "--today", TODAY)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:1:1: error: nesting deeper than 40 levels; flatten the structure, or raise the limit with --limit depth=N",
        f"{path}:2:1: error: nesting deeper than 40 levels; flatten the structure, or raise the limit with --limit depth=N",
        f"{path}:3:1: error: the record is over the limit of 1,000,000 bytes; trim it, "
        "or raise the limit with --limit record_bytes=N",
        f"{path}:4:1: error: 1,001 stakeholders, over the limit of 1,000; keep the ones that matter, "
        "or raise the limit with --limit stakeholders=N",
    ]
    assert [p.name for p in (tmp_path / "out" / "briefs").iterdir()] == ["gz-tax-bureau.md"]
    code, _, err = run(capsys, "batch", path, "-o", tmp_path / "out2", "--quiet", "--max-record-bytes", "100")
    assert f"{path}:5:1: error: the record is over the limit of 100 bytes" in err
    wide = tmp_path / "wide.jsonl"  # 42 characters, 122 bytes in UTF-8: the limit counts bytes
    wide.write_text('"' + "中" * 40 + '"\n', encoding="utf-8")
    code, _, err = run(capsys, "batch", wide, "-o", tmp_path / "out3", "--quiet", "--max-record-bytes", "100")
    assert f"{wide}:1:1: error: the record is over the limit of 100 bytes" in err


def test_hostile_refusals_never_echo_personal_text(tmp_path, capsys):
    """SECURITY.md: errors name a position, never repeat names, titles or notes."""
    secret = "Zhang Secretname"
    cases = {
        "account-is-text.yaml": f"account: {secret}\n",
        "people-is-text.yaml": ACCOUNT + f"stakeholders: {secret}\n",
        "person-is-text.yaml": ACCOUNT + f"stakeholders:\n  - {secret}\n",
        "note-is-list.yaml": ACCOUNT.replace("Acme", f"[{secret}]"),
        "name-too-long.yaml": ACCOUNT.replace("Acme", secret * 200),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code, _, err = run(capsys, "brief", path)
        assert code in (1, 2) and err.startswith(f"{path}:"), err
        assert "Secretname" not in err, err


# --- profile text is data: escaped and inert in the brief ------------------------------------------

FREE_TEXT = {"name", "title", "department", "note", "objective", "form", "offers", "latest_move", "summary"}


def plain_twin(data, words=None):
    """The same profile with every free-text field replaced by a plain word, a different one each
    (as the hostile texts differ, so no two pieces of advice read alike in one and not the other):
    the brief's structure must not change when the text does."""
    words = iter(f"plain{n}x" for n in range(10**6)) if words is None else words
    if isinstance(data, dict):
        return {k: (next(words) if k in FREE_TEXT and isinstance(v, str) else plain_twin(v, words)) for k, v in data.items()}  # fmt: skip
    if isinstance(data, list):
        return [plain_twin(v, words) for v in data]
    return data


def structure(markdown: str) -> list[str]:
    """Each line reduced to what shapes Markdown: its opening marker and unescaped structural characters."""
    out, in_mermaid = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_mermaid = line == "```mermaid"
            out.append(line)
            continue
        if in_mermaid:
            out.append(re.sub(r'"[^"]*"', '"…"', line))  # a label must stay one quoted string
            continue
        bare = re.sub(r"\\.|&lt;|&gt;", "", line)
        start = re.match(r"#+ |- \[ \] |- |\d+\. |\| |", bare).group(0)
        out.append(start + "".join(ch for ch in bare if ch in "|`*_[]<>#"))
    return out


def brief_of(advisor, path: Path) -> str:
    return advisor.brief(load_profile(path), today=None)


@pytest.mark.parametrize("name", ["jinja-text", "markdown-html-text", "unicode-text"])
def test_hostile_text_cannot_change_the_structure_of_the_brief(name, advisor, tmp_path):
    data = yaml.safe_load((FIXTURES / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))
    if data.get("visit"):  # the objective's words say the purpose when none is given: pin it for both
        data["visit"]["purpose"] = "relationship"
    path, twin = tmp_path / "hostile.yaml", tmp_path / "twin.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    twin.write_text(yaml.safe_dump(plain_twin(data)), encoding="utf-8")
    hostile, plain = brief_of(advisor, path), brief_of(advisor, twin)
    assert structure(hostile) == structure(plain)


def test_hostile_template_syntax_stays_literal(advisor):
    text = brief_of(advisor, FIXTURES / "profiles" / "jinja-text.yaml")
    assert "# Pre-visit brief: \\{\\{ 7\\*191 \\}\\} Holdings \\{% if true %\\}yes\\{% endif %\\}\n" in text
    assert "1337" not in text and "6666" not in text, "{{ 7*191 }} and {{ 6*1111 }} were evaluated"
    assert "loop loop" not in text and "looplooploop" not in text
    assert "| Objective | \\{\\{ 7\\*191 \\}\\} review \\{% include 'brief.md.j2' %\\} |" in text


def test_hostile_markdown_and_html_stay_inert(advisor):
    text = brief_of(advisor, FIXTURES / "profiles" / "markdown-html-text.yaml")
    for raw in ("<script", "<img", "<iframe", "<style", "</details", "<b>", "![pic]"):
        assert raw not in text, raw
    assert not re.search(r"(?<!\\)\]\(javascript:", text), "an unescaped ](javascript: would make a link"
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Clerk" in text
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == "# Pre-visit brief: \\# Heading \\| extra \\| cells &lt;script&gt;alert(1)&lt;/script&gt;"
    assert not any(line.startswith(("# Chief", "# not", "# Heading")) for line in text.splitlines())
    assert "| **\\# Chief \\| Officer** | \\`rm -rf /\\` \\`\\`\\` | senior | - |" in text
    mermaid = text.split("```mermaid\n", 1)[1].split("\n```\n", 1)[0].splitlines()
    assert mermaid[0] == "graph TD"
    assert all(re.fullmatch(r'  (p\d+\["(?:[^"`<>\[\]|]|<br/>)*"\]|p\d+ --> p\d+|p\d+ -\.-\|"[^"]*"\| p\d+|class.*)', m)
               for m in mermaid[1:]), mermaid  # fmt: skip
    assert text.count("```") == 2, "only the Mermaid block opens and closes a fence"


def test_hostile_chinese_emoji_and_right_to_left_text_appear_as_given(advisor):
    text = brief_of(advisor, FIXTURES / "profiles" / "unicode-text.yaml")
    assert text.startswith("# Pre-visit brief: 广州市🎉税务局\n")
    for given in ("张伟 👨‍👩‍👧 (局长)", "سالم العلي (מנהל מערכות)", "年度回顾 🚀"):
        assert given in text


def test_hostile_bidi_overrides_cannot_reorder_the_brief(advisor):
    """A right-to-left override (U+202E) in a field would visually reverse the rest of its line
    ("IT ‮txt.exe" shows as "IT exe.txt"), spilling into the table cells after it."""
    text = brief_of(advisor, FIXTURES / "profiles" / "unicode-text.yaml")
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert control not in text, f"U+{ord(control):04X} reaches the brief"


def test_hostile_an_error_in_one_corpus_file_never_stops_the_others():
    """Every corpus file fails on its own with AdvisorError, never with another exception."""
    for path in BAD:
        with pytest.raises(AdvisorError):
            load_profile(path)
