"""Hardening: outputs that are inputs or special files, bounded templates and indexes, odd values and
streams, cycles, and profile text that must stay inert in the Markdown brief.

Every case asserts the exact one-line message, the exit code, that no traceback was printed, and
that nothing outside the intended place changed (the folder's tree and its files, before and after).
Resource cases run in a child process under a time cap (timeout=) and a memory cap (RLIMIT_AS).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from jinja2.sandbox import SecurityError

from advisor.cli import main
from advisor.render import md

from conftest import ROOT

TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"
ADVISOR = [sys.executable, "-m", "advisor"]
TIME_CAP = 60  # seconds any child may take: a hang fails the test instead of stalling the suite
MEMORY_CAP = 2 << 30  # bytes of address space a child may map

ACCOUNT = "account: {id: acme, name: Acme, industry: party, stage: maintain, position: incumbent%s}\n"
PERSON = "  - {id: %s, name: N, title: T, department: D, function: admin, level: middle%s}\n"
INDEX_LINE = '{"id": "gz-tax-bureau", "portfolio": {"share": 0.5, "rank": 1, "portfolio_class": "a", "accounts": 2}}\n'


def tree(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` (links not followed): its kind, mode, inode, size and content hash."""
    out: dict[str, tuple] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        kind = stat.S_IFMT(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            body = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            body = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            body = ""
        out[str(path.relative_to(folder))] = (kind, stat.S_IMODE(st.st_mode), st.st_ino, st.st_size, body)
    return out


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def limited() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def child(*argv: object, **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """The CLI in a child process, under the time and memory caps; and how long it took."""
    start = time.monotonic()
    kwargs.setdefault("stdout", subprocess.PIPE)
    done = subprocess.run(
        [*ADVISOR, *map(str, argv)], stderr=subprocess.PIPE, timeout=TIME_CAP, preexec_fn=limited, cwd=ROOT, **kwargs
    )
    return done, time.monotonic() - start


def one_line(err: str, expected: str) -> None:
    assert "Traceback" not in err and "internal error" not in err
    assert err == expected + "\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A profile, links to it, a portfolio index, a copy of the templates, and a folder."""
    (tmp_path / "p.yaml").write_bytes(TAX.read_bytes())
    (tmp_path / "link.yaml").symlink_to("p.yaml")
    os.link(tmp_path / "p.yaml", tmp_path / "hard.yaml")
    (tmp_path / "index.jsonl").write_text(INDEX_LINE, encoding="utf-8")
    (tmp_path / "index-link.jsonl").symlink_to(tmp_path / "index.jsonl")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "sub").mkdir()
    return tmp_path


# --- A. never overwrite what the advisor did not make ---------------------------------------------

READS = "which the command reads; write the output to another file"


@pytest.mark.parametrize(
    "output, source",
    [
        ("p.yaml", "p.yaml"),
        ("sub/../p.yaml", "p.yaml"),
        ("./p.yaml", "p.yaml"),
        ("link.yaml", "p.yaml"),
        ("hard.yaml", "p.yaml"),
        ("index.jsonl", "index.jsonl"),
        ("index-link.jsonl", "index.jsonl"),
        ("templates/brief.md.j2", "templates/brief.md.j2"),
        ("templates/labels.yaml", "templates/labels.yaml"),
    ],
)
def test_hardening_brief_refuses_an_output_that_is_one_of_its_inputs(capsys, work, monkeypatch, output, source):
    monkeypatch.chdir(work)
    before = tree(work)
    code, out, err = run(
        capsys, "brief", "p.yaml", "--portfolio", "index.jsonl", "--templates", "templates", "-o", output
    )
    assert (code, out) == (2, "")
    one_line(err, f"{Path(output)}:1:1: error: this is {Path(source)}, {READS}")
    assert tree(work) == before


def test_hardening_brief_refuses_an_absolute_spelling_of_its_profile(capsys, work):
    before = tree(work)
    code, _, err = run(capsys, "brief", work / "link.yaml", "-o", work / "sub" / ".." / "hard.yaml")
    assert code == 2
    one_line(err, f"{work / 'sub' / '..' / 'hard.yaml'}:1:1: error: this is {work / 'link.yaml'}, {READS}")
    assert tree(work) == before


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda w: None, "sub:1:1: error: is a folder; give a file name to write to"),
        (
            lambda w: (w / "out.md").symlink_to(w / "nowhere.md"),
            "out.md:1:1: error: a symbolic link to nothing; remove the link or write elsewhere",
        ),
        (lambda w: os.mkfifo(w / "out.md"), "out.md:1:1: error: a pipe that nobody reads from; start its reader first"),
    ],
    ids=["folder", "dangling-link", "fifo-without-reader"],
)
def test_hardening_brief_refuses_outputs_it_cannot_write_with_one_line(capsys, work, monkeypatch, make, message):
    monkeypatch.chdir(work)
    make(work)
    before = tree(work)
    target = "sub" if message.startswith("sub:") else "out.md"
    code, out, err = run(capsys, "brief", "p.yaml", "-o", target)
    assert (code, out) == (2, "")
    one_line(err, message)
    assert tree(work) == before


def expected_brief(capsys) -> str:
    code, out, _ = run(capsys, "brief", TAX)
    assert code == 0
    return out


def test_hardening_brief_writes_a_fifo_in_place_for_its_reader(capsys, work):
    brief = expected_brief(capsys)
    fifo = work / "pipe.md"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    time.sleep(0.2)  # the reader opens first: a FIFO without one is refused (see above)
    before = tree(work)
    try:
        code, out, err = run(capsys, "brief", work / "p.yaml", "-o", fifo)
    finally:
        reader.join(timeout=TIME_CAP)
    assert (code, out, err) == (0, "", "")
    assert got == [brief.encode("utf-8")]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert tree(work) == before


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_hardening_brief_to_dev_null_leaves_the_device_a_device(capsys, work):
    before_dev = os.stat("/dev/null")
    before = tree(work)
    code, out, err = run(capsys, "brief", work / "p.yaml", "-o", "/dev/null")
    assert (code, out, err) == (0, "", "")
    after_dev = os.stat("/dev/null")
    assert stat.S_ISCHR(after_dev.st_mode) and after_dev.st_ino == before_dev.st_ino
    assert tree(work) == before


def test_hardening_brief_writes_through_a_link_and_keeps_the_link(capsys, work):
    brief = expected_brief(capsys)
    (work / "target.md").write_text("old\n", encoding="utf-8")
    os.chmod(work / "target.md", 0o600)
    (work / "latest.md").symlink_to("target.md")
    before = tree(work)
    code, out, err = run(capsys, "brief", work / "p.yaml", "-o", work / "latest.md")
    assert (code, out, err) == (0, "", "")
    after = tree(work)
    assert os.readlink(work / "latest.md") == "target.md"  # still the link, not a file in its place
    assert (work / "target.md").read_text(encoding="utf-8") == brief
    assert stat.S_IMODE((work / "target.md").stat().st_mode) == 0o600  # a private file stays private
    assert {k: v for k, v in after.items() if k != "target.md"} == {k: v for k, v in before.items() if k != "target.md"}


@pytest.mark.skipif(not hasattr(os, "umask"), reason="POSIX modes")
def test_hardening_write_atomically_modes_temp_names_and_failures(tmp_path, monkeypatch):
    """A new file takes 0666 less the umask, a replaced one keeps its mode; the temporary file is named
    as the batch's journal recognises it, and a failed write leaves neither it nor a target behind."""
    from advisor import files
    from advisor.batch.journal import _TEMP
    from advisor.errors import UnwritableOutput

    mask = os.umask(0o027)
    try:
        size = files.write_atomically(tmp_path / "new" / "a.md", "café\n")  # its folder is made too
        fd, tmp = files._temp(str(tmp_path), "b.md")
    finally:
        os.umask(mask)
    os.close(fd)
    assert size == len("café\n".encode()) and (tmp_path / "new" / "a.md").read_text(encoding="utf-8") == "café\n"
    assert stat.S_IMODE((tmp_path / "new" / "a.md").stat().st_mode) == 0o640
    assert _TEMP.fullmatch(Path(tmp).name) and Path(tmp).name.startswith(".b.md.")
    os.unlink(tmp)
    (tmp_path / "c.md").write_text("old\n", encoding="utf-8")
    os.chmod(tmp_path / "c.md", 0o604)
    files.write_atomically(tmp_path / "c.md", b"new\n", durable=False)
    assert stat.S_IMODE((tmp_path / "c.md").stat().st_mode) == 0o604
    assert (tmp_path / "c.md").read_bytes() == b"new\n"
    files.write_atomically(tmp_path / "d.jsonl", iter(["x\n"] * 3000))  # a stream: buffered
    assert (tmp_path / "d.jsonl").read_text(encoding="utf-8") == "x\n" * 3000

    def refused(*_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(UnwritableOutput, match="cannot write the file: Permission denied"):
        files.write_atomically(tmp_path / "e.md", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.md", "d.jsonl", "new"]


def test_hardening_brief_to_dev_stdout_reaches_the_pipe(work):
    done, _ = child("brief", work / "p.yaml", "-o", "/dev/stdout")
    reference, _ = child("brief", work / "p.yaml")
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == reference.stdout and done.stdout.startswith(b"# ")


# --- B. bounded time and memory: templates and --portfolio ------------------------------------------

LIMIT = "error: template limit:"
TOO_BIG = "would be too large (over 1,000,000 characters or items); use smaller values"
STEPS = (
    "more than 250,000 loop steps, calls and outputs in one brief; a loop or a macro that calls itself runs too long"
)

# (what the template's line 3 says, the message after "template limit: ")
TEMPLATES = {
    "power": ("{{ 9**(9**9) }}", "this power would be a number of more than 19,200 digits"),
    "power-in-if": ("{% if 9**(9**9) %}x{% endif %}", "this power would be a number of more than 19,200 digits"),
    "power-of-big-base": ("{% set x = (10**1000)**100 %}", "this power would be a number of more than 19,200 digits"),
    "string-repetition": ("{{ 'a' * 10**10 }}", f"this repetition {TOO_BIG}"),
    "list-repetition": ("{{ [0] * 10**10 }}", f"this repetition {TOO_BIG}"),
    "nested-ranges": ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", STEPS),
    "recursive-macro": (
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "a macro or loop calls itself too deeply; stop the recursion",
    ),
    "branching-macro": (
        "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}",
        STEPS,
    ),
    "huge-output": (
        "{% for i in range(99999) %}{% for j in range(99) %}{{ 'x' * 99999 }}{% endfor %}{% endfor %}",
        "the template writes more than 10,000,000 characters; a brief is far shorter",
    ),
    "doubling-join": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        f"this joined text {TOO_BIG}",
    ),
    "doubling-plus": (
        "{% set ns = namespace(s=['ab']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        f"this concatenation {TOO_BIG}",
    ),
    "doubling-percent": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = '%s%s' % (ns.s, ns.s) %}{% endfor %}",
        f"this formatted text {TOO_BIG}",
    ),
    "doubling-format": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = '{}{}'.format(ns.s, ns.s) %}{% endfor %}",
        f"this formatted text {TOO_BIG}",
    ),
    "doubling-join-filter": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}",
        f"the result of |join {TOO_BIG}",
    ),
    "doubling-str-join": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ''.join([ns.s, ns.s]) %}{% endfor %}",
        f"the result of join() {TOO_BIG}",
    ),
    "doubling-sum": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l]|sum(start=[]) %}{% endfor %}",
        f"the result of |sum {TOO_BIG}",
    ),
    "integer-squaring": (
        "{% set ns = namespace(n=10) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "this product would be a number of more than 19,200 digits",
    ),
    "center-filter": ("{{ 'a'|center(9999999999) }}", f"the result of |center {TOO_BIG}"),
    "str-method": ("{{ 'a'.ljust(9999999999) }}", f"the result of ljust() {TOO_BIG}"),
    "format-width": ("{{ '{:>9999999999}'.format(1) }}", f"this formatted text {TOO_BIG}"),
    "nested-format-width": ("{{ '{:{}}'.format('a', 9999999999) }}", f"this formatted text {TOO_BIG}"),
    "printf-width": ("{{ '%9999999999d' % 1 }}", f"this formatted text {TOO_BIG}"),
    "format-filter": ("{{ '%9999999999d'|format(1) }}", f"this formatted text {TOO_BIG}"),
    "replace-growth": ("{% set s = 'x' * 100000 %}{{ s.replace('', s) }}", f"the result of replace() {TOO_BIG}"),
    "lipsum": ("{{ lipsum(n=10**9) }}", f"this placeholder text {TOO_BIG}"),
    # Short formats with one field repeated: each copy writes the whole value (refused before it is made).
    "repeated-format-field": (
        "{% set s = 'x' * 1000 %}{{ ('{0}' * 300000).format(s) }}",
        f"this formatted text {TOO_BIG}",
    ),
    "repeated-format-map": (
        "{% set s = 'x' * 1000 %}{{ ('{a}' * 300000).format_map({'a': s}) }}",
        f"this formatted text {TOO_BIG}",
    ),
    "repeated-printf-key": (
        "{% set s = 'x' * 1000 %}{{ ('%(a)s' * 150000) % {'a': s} }}",
        f"this formatted text {TOO_BIG}",
    ),
    "repeated-fill-field": (
        "{% set s = 'x' * 1000 %}{{ ('{n}' * 300000) | fill(n=s) }}",
        f"this formatted text {TOO_BIG}",
    ),
}


def test_hardening_html_fmt_takes_plain_fields_only_and_bounds_its_result(tmp_path):
    """`fmt` is str.format outside the sandbox: a field may not reach into its value's attributes."""
    from advisor.render import fill, fmt
    from advisor.templating import TemplateLimit, environment

    (tmp_path / "attr.j2").write_text("{{ '{v.__class__.__init__.__globals__}' | fmt(v=s) }}", encoding="utf-8")
    (tmp_path / "big.j2").write_text("{{ ('{v}' * 300000) | fmt(v=s) }}", encoding="utf-8")
    (tmp_path / "ok.j2").write_text("{{ 'a {v} b {w}' | fmt(v=s, w='z') }}", encoding="utf-8")
    env = environment(tmp_path, {"fill": fill, "fmt": fmt}, cache=False, autoescape=True)
    with pytest.raises(SecurityError, match="plain field names only"):
        env.get_template("attr.j2").render(s="<x>")
    with pytest.raises(TemplateLimit, match="this formatted text would be too large"):
        env.get_template("big.j2").render(s="x" * 1000)
    assert env.get_template("ok.j2").render(s="<x>") == "a &lt;x&gt; b z"


def bad_templates(folder: Path, line: str) -> Path:
    """A copy of the shipped templates with `line` inserted as line 3 of the brief."""
    shutil.copytree(ROOT / "templates", folder)
    lines = (folder / "brief.md.j2").read_text(encoding="utf-8").split("\n")
    lines.insert(2, line)
    (folder / "brief.md.j2").write_text("\n".join(lines), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_hardening_template_limits_give_the_file_and_line_within_seconds(tmp_path, name):
    line, message = TEMPLATES[name]
    folder = bad_templates(tmp_path / "templates", line)
    before = tree(tmp_path)
    done, took = child("brief", TAX, "--templates", folder)
    assert (done.returncode, done.stdout) == (1, b"")
    one_line(done.stderr.decode(), f"{folder / 'brief.md.j2'}:3:1: {LIMIT} {message}")
    assert took < 30
    assert tree(tmp_path) == before


@pytest.mark.parametrize("name", ["power", "string-repetition", "center-filter", "nested-ranges"])
def test_hardening_a_hostile_template_does_not_hang_plan(tmp_path, name):
    folder = bad_templates(tmp_path / "templates", TEMPLATES[name][0])
    done, took = child("plan", "--templates", folder)
    assert (done.returncode, done.stderr) == (0, b"") and took < 30


def test_hardening_a_template_too_large_is_refused_before_it_is_read(tmp_path):
    folder = bad_templates(tmp_path / "templates", "{# " + "x" * 1_000_000 + " #}")
    done, _ = child("brief", TAX, "--templates", folder)
    assert done.returncode == 1
    size = (folder / "brief.md.j2").stat().st_size
    one_line(
        done.stderr.decode(),
        f"{folder / 'brief.md.j2'}:1:1: {LIMIT} the template is {size:,} bytes, over the limit of 1,000,000; "
        "a template is far shorter",
    )


NOT_AN_INDEX = "point --portfolio at OUT/index.jsonl"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, f"1:1: error: is a folder; {NOT_AN_INDEX}"),
        (
            lambda p: p.write_text("x" * 1_000_001),
            "1:1: error: a line over the limit of 1,000,000 bytes; raise the limit with --limit record_bytes=N",
        ),  # fmt: skip
        (
            lambda p: p.write_text('{"id": "a"}\n' + "[" * 100_000 + "\n"),
            f"2:1: error: not a line of an advisor batch index; {NOT_AN_INDEX}",
        ),  # fmt: skip
        (
            lambda p: p.write_text(INDEX_LINE.replace("0.5", "NaN")),
            f"1:1: error: not a line of an advisor batch index; {NOT_AN_INDEX}",
        ),  # fmt: skip
        (
            lambda p: p.write_text(INDEX_LINE.replace('"rank": 1', '"rank": -3')),
            f"1:1: error: not a line of an advisor batch index; {NOT_AN_INDEX}",
        ),  # fmt: skip
        (
            lambda p: p.write_bytes(b"\xff\xfe{\x00}\x00\n"),
            f"1:1: error: not a line of an advisor batch index; {NOT_AN_INDEX}",
        ),  # fmt: skip
    ],
    ids=["folder", "line-too-long", "deep-json", "nan-share", "negative-rank", "utf16"],
)
def test_hardening_portfolio_index_is_read_under_limits(capsys, tmp_path, make, message):
    index = tmp_path / "index.jsonl"
    if "folder" in message:
        index.mkdir()
    make(index)
    before = tree(tmp_path)
    code, out, err = run(capsys, "brief", TAX, "--portfolio", index)
    assert (code, out) == (2, "")
    one_line(err, f"{index}:{message}")
    assert tree(tmp_path) == before


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_hardening_portfolio_from_dev_zero_is_refused_at_once(tmp_path):
    done, took = child("brief", TAX, "--portfolio", "/dev/zero")
    assert (done.returncode, done.stdout) == (2, b"")
    one_line(done.stderr.decode(), f"/dev/zero:1:1: error: is a device, not a batch index; {NOT_AN_INDEX}")
    assert took < 30


def test_hardening_portfolio_fifo_is_read_with_a_bound(tmp_path):
    fifo = tmp_path / "index.jsonl"
    os.mkfifo(fifo)

    def write_forever() -> None:
        with contextlib_suppress():
            with open(fifo, "wb") as out:
                while True:
                    out.write(b"x" * 65536)  # never a newline: the line bound must stop the read

    threading.Thread(target=write_forever, daemon=True).start()
    done, took = child("brief", TAX, "--portfolio", fifo)
    assert done.returncode == 2
    one_line(
        done.stderr.decode(),
        f"{fifo}:1:1: error: a line over the limit of 1,000,000 bytes; raise the limit with --limit record_bytes=N",
    )
    assert took < 30


def contextlib_suppress():
    import contextlib

    return contextlib.suppress(OSError)


# --- C. odd values and odd streams ------------------------------------------------------------------

QUOTE_IT = "an unquoted yes, no, on, off, true or false reads as true or false, not as text; put the value in quotes"
CAP = "must be at most 10^15 (1,000,000,000,000,000) in size"

PROFILES = {
    # name: (profile text, expected "line:col: message")
    "revenue-inf": (ACCOUNT % ", annual_revenue: .inf", "1:104: account.annual_revenue: must be a finite number; got infinity"),
    "revenue-neg-inf": (ACCOUNT % ", annual_revenue: -.Inf", "1:104: account.annual_revenue: must be a finite number; got -infinity"),
    "revenue-nan": (ACCOUNT % ", annual_revenue: .NaN", "1:104: account.annual_revenue: must be a number; got NaN (not a number)"),
    "revenue-1e16": (ACCOUNT % ", annual_revenue: 1.0e+16", f"1:104: account.annual_revenue: {CAP}"),
    "revenue-quoted-inf": (ACCOUNT % ", annual_revenue: 'Infinity'", "1:104: account.annual_revenue: must be a finite number; got infinity"),
    "share-nan": (ACCOUNT % ", portfolio_share: .nan", "1:105: account.portfolio_share: must be a number; got NaN (not a number)"),
    "rank-huge": (ACCOUNT % ", revenue_rank: 100000000000000000000", f"1:102: account.revenue_rank: {CAP}"),
    "satisfaction-inf": (ACCOUNT % "" + "service: {satisfaction: .inf}\n", "2:25: service.satisfaction: must be a finite number; got infinity"),
    "gift-value-nan": (
        ACCOUNT % "" + "interactions: [{date: 2026-01-01, kind: gift, value: .nan}]\n",
        "2:54: interactions[0].value: must be a number; got NaN (not a number)",
    ),
    "json-infinity": (
        '{"account": {"id": "acme", "name": "Acme", "industry": "party", "stage": "maintain", '
        '"position": "incumbent", "annual_revenue": Infinity}}\n',
        "1:129: account.annual_revenue: must be a finite number; got infinity",
    ),
    "nul-byte": ("account:\n  id: acme\n  name: A\x00cme\n", "3:10: a control character (U+0000) is not allowed in YAML, even quoted; remove it"),
    "bell-in-quotes": (ACCOUNT % "" + 'note: "ring\x07"\n', "2:12: a control character (U+0007) is not allowed in YAML, even quoted; remove it"),
    "escape-after-chinese": ("account:\n  name: 李\x1b[31m娜\n", "2:10: a control character (U+001B) is not allowed in YAML, even quoted; remove it"),
    "position-no": (ACCOUNT.replace("incumbent", "no") % "", f"1:77: account.position: {QUOTE_IT}"),
    "name-yes": (ACCOUNT.replace("name: Acme", "name: yes") % "", f"1:27: account.name: {QUOTE_IT}"),
    "title-off": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON.replace("title: T", "title: off") % ("a", ""),
        f"3:29: stakeholders[0].title: {QUOTE_IT}",
    ),
    "interest-on": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON % ("a", ", interests: [golf, on]"),
        f"3:90: stakeholders[0].interests: {QUOTE_IT}",
    ),
    "two-documents": (
        ACCOUNT % "" + "---\n" + ACCOUNT % "",
        "2:1: a profile is a single YAML document; remove the second document at line 2",
    ),
    "two-documents-later": (
        "# a comment\n" + ACCOUNT % "" + "stakeholders: []\n...\n---\n" + ACCOUNT % "",
        "5:1: a profile is a single YAML document; remove the second document at line 5",
    ),
    "text-after-document-end": (
        ACCOUNT % "" + "...\n" + ACCOUNT % "",
        "3:1: a profile is a single YAML document; remove the second document at line 3",
    ),
    "comma-splits-name": (
        "account: {id: acme, name: Li, Na, industry: party, stage: maintain, position: incumbent}\n",
        "1:31: a comma inside {…} split a value here; put the whole value in quotes",
    ),
    "comma-splits-last": (
        ACCOUNT % "" + "stakeholders:\n" + "  - {id: a, name: N, title: T, department: R&D, Sales, function: admin, level: middle}\n",
        "3:49: a comma inside {…} split a value here; put the whole value in quotes",
    ),
    "comma-splits-chinese": (
        "account: {id: acme, name: 广州市税务局, 第一分局, industry: party, stage: maintain, position: incumbent}\n",
        "1:35: a comma inside {…} split a value here; put the whole value in quotes",
    ),
    "reports-to-cycle": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON % ("a", ", reports_to: b") + PERSON % ("b", ", reports_to: a"),
        "4:91: reporting cycle a -> b -> a; someone in it must report outside it, or to no one",
    ),
    "reports-to-long-cycle": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON % ("a", ", reports_to: b") + PERSON % ("b", ", reports_to: c")
        + PERSON % ("c", ", reports_to: a") + PERSON % ("d", ", reports_to: a"),
        "5:91: reporting cycle a -> b -> c -> a; someone in it must report outside it, or to no one",
    ),
    "reports-to-self": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON % ("a", ", reports_to: a"),
        "3:91: a person cannot report to themselves",
    ),
    "tie-to-self": (
        ACCOUNT % "" + "stakeholders:\n" + PERSON % ("a", ", ties: [{with: a, kind: personal}]"),
        "3:93: a person cannot have a tie to themselves",
    ),
}  # fmt: skip
# Found while reading the document (exit 2) rather than in its content (exit 1).
UNREADABLE = {"nul-byte", "bell-in-quotes", "escape-after-chinese", "two-documents", "two-documents-later", "text-after-document-end",
              "comma-splits-name", "comma-splits-last", "comma-splits-chinese"}  # fmt: skip


@pytest.mark.parametrize("name", list(PROFILES))
def test_hardening_odd_profiles_get_one_positioned_line(capsys, tmp_path, name):
    text, expected = PROFILES[name]
    path = tmp_path / ("p.json" if name.startswith("json") else "p.yaml")
    path.write_bytes(text.encode("utf-8"))
    before = tree(tmp_path)
    code, out, err = run(capsys, "brief", path)
    assert (code, out) == (2 if name in UNREADABLE else 1, "")
    one_line(err, f"{path}:{expected.split(': ', 1)[0]}: error: {expected.split(': ', 1)[1]}")
    assert tree(tmp_path) == before
    if name.startswith("comma"):  # the text after a stray comma is never echoed
        assert not {"Na", "第一分局", "Sales"} & set(re.findall(r"\w+", err))


@pytest.mark.parametrize(
    "encoding, message",
    [
        ("utf-16-le", "the file is UTF-16 text without a byte order mark; save it as UTF-8"),
        ("utf-16-be", "the file is UTF-16 text without a byte order mark; save it as UTF-8"),
        ("utf-16", "the file is UTF-16 text; save it as UTF-8"),
    ],
)
def test_hardening_utf16_profiles_are_named_as_such(capsys, tmp_path, encoding, message):
    path = tmp_path / "p.yaml"
    path.write_bytes((ACCOUNT % "").encode(encoding))
    before = tree(tmp_path)
    code, out, err = run(capsys, "brief", path)
    assert (code, out) == (2, "")
    one_line(err, f"{path}:1:1: error: {message}")
    assert tree(tmp_path) == before


def test_hardening_closed_stdout_is_one_line(tmp_path):
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" -m advisor brief "{TAX}" >&-', sys.executable],
        capture_output=False, stderr=subprocess.PIPE, timeout=TIME_CAP, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    one_line(done.stderr.decode(), "advisor brief: error: standard output is closed; write the brief with -o FILE")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "argv, message",
    [
        (["brief", TAX], "advisor brief: error: cannot write the brief to standard output: No space left on device"),
        (["schema", "profile"], "advisor schema: error: cannot write the output: No space left on device"),
        (["facts"], "advisor facts: error: cannot write the output: No space left on device"),
    ],
    ids=["brief", "schema", "facts"],
)
def test_hardening_stdout_on_a_full_disk_is_one_line(argv, message):
    with open("/dev/full", "wb") as full:
        done, _ = child(*argv, stdout=full)
    assert done.returncode == 2
    one_line(done.stderr.decode(), message)


@pytest.mark.parametrize(
    "env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"}, {"LANG": "C", "LC_ALL": "C"}]
)
def test_hardening_a_chinese_brief_reaches_a_non_utf8_stdout_as_utf8(tmp_path, env):
    out = tmp_path / "zh.md"
    written, _ = child("brief", TAX, "--lang", "zh", "-o", out)
    assert written.returncode == 0
    done, _ = child("brief", TAX, "--lang", "zh", env={**os.environ, **env})
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == out.read_bytes() and "拜访" in done.stdout.decode("utf-8")


def test_hardening_absurd_record_limits_are_one_line_or_work(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["brief", str(TAX), "--limit", "record_bytes=10**20"])
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    one_line(err, "advisor brief: error: argument --limit: limit record_bytes must be a whole number; got '10**20'")
    code, out, err = run(capsys, "brief", TAX, "--limit", "record_bytes=100000000000000000000")
    assert (code, err) == (0, "") and out.startswith("# ")


# --- D. profile text stays inert in the Markdown brief ---------------------------------------------

HOSTILE_NAMES = ["- Li Na", "1. Wang Wei", "2) Zhao", "+ Chen", "* Liu", "> Sun", "---", "=== Qian",
                 "see https://evil.example/x", "www.evil.example", "li.na@corp.example", "mailto:w@corp.example"]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hardening_md_keeps_structure_and_links_out(name):
    escaped = md(name)
    assert not re.match(r"([-+*>=]|\d{1,9}[.)])(\s|$)", escaped)  # opens no list item, quote or heading
    assert "://" not in escaped and not re.search(r"www\.", escaped, re.IGNORECASE)
    if "@" in escaped:
        assert re.search(r"`[^`]*@[^`]*`", escaped)  # an address only inside a code span


def hostile_profile(tmp_path: Path) -> Path:
    """The tax bureau with every stakeholder renamed to one of HOSTILE_NAMES."""
    text = TAX.read_text(encoding="utf-8")
    names = re.findall(r"^\s+name: (.+)$", text.split("stakeholders:", 1)[1], re.MULTILINE)
    for old, new in zip(names, HOSTILE_NAMES, strict=False):
        text = text.replace(f"name: {old}\n", f'name: "{new}"\n', 1)
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_hardening_hostile_names_open_no_list_and_make_no_link_in_the_brief(capsys, tmp_path):
    path = hostile_profile(tmp_path)
    code, brief, err = run(capsys, "brief", path, "--today", "2026-12-01")
    assert (code, err) == (0, "")
    code, plain_brief, _ = run(capsys, "brief", TAX, "--today", "2026-12-01")
    for line in brief.splitlines():
        assert not re.match(r"\s*([-+*]|\d{1,9}[.)])\s+([-+*>]|\d{1,9}[.)])(\s|$)", line), line  # no nested item
        assert "://" not in line and "www." not in line.lower()
    assert "@" not in re.sub(r"`[^`]*`", "", brief)
    cmarkgfm = pytest.importorskip("cmarkgfm")
    html, reference = (cmarkgfm.github_flavored_markdown_to_html(b) for b in (brief, plain_brief))
    assert "<a " not in html
    assert html.count("<li>") == reference.count("<li>") and html.count("<blockquote>") == reference.count(
        "<blockquote>"
    )
    text = re.sub(r"<[^>]+>", "", html).replace("&gt;", ">").replace("&amp;", "&")
    for name in HOSTILE_NAMES[: len(re.findall(r"^\s+name:", TAX.read_text(encoding="utf-8"), re.MULTILINE)) - 1]:
        assert name in text  # reads the same to a person
