"""Batch hardening: what a batch may delete, links and special files in OUT, OUT inside an input, the
workers cap, oversize CSV rows, non-finite numbers, odd file names, Dask addresses and a lost
scheduler, and signals. Each case asserts the exact one line, the exit code, no traceback, and that
nothing outside the intended place was touched (the whole tree around OUT is listed before and after)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advisor.cli import main
from advisor.crm import crm_export

from conftest import ROOT, with_peak_memory

PROFILES = ROOT / "profiles"
TODAY = "2026-12-01"
LINKS = (
    "the batch never follows links or writes into special files in its output folder: remove it, or choose another -o"
)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def batch(capsys, *argv: str) -> tuple[int, str]:
    code = main(["batch", *argv, "--quiet", "--today", TODAY])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def listing(root: Path) -> dict[str, str]:
    """Everything under `root`, links not followed: a file's bytes, a link's target, a folder, a FIFO."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            st = os.lstat(path)
            if path.is_symlink():
                out[rel] = "link -> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            elif path.is_fifo():
                out[rel] = "fifo"
            else:
                out[rel] = f"file {st.st_size} {path.read_bytes()[:64]!r}"
    return out


def profiles(target: Path, n: int = 3) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for p in sorted(PROFILES.glob("*.yaml"))[:n]:
        shutil.copy(p, target / p.name)
    return target


def strict_json(line: str) -> dict:
    def refuse(word: str) -> None:
        raise ValueError(word)

    return json.loads(line, parse_constant=refuse)


def index(out: Path) -> list[dict]:
    return [strict_json(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def world(tmp_path) -> tuple[Path, Path, Path]:
    """An input folder, an output folder, and a folder outside both that must never change."""
    src = profiles(tmp_path / "in")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "thesis.txt").write_text("a user's work\n", encoding="utf-8")
    (outside / ".work-thesis").mkdir()
    (outside / ".work-thesis" / "chapter.md").write_text("chapter\n", encoding="utf-8")
    (outside / ".x.md.abcdefgh.tmp").write_text("not ours\n", encoding="utf-8")
    return src, tmp_path / "out", outside


# --- 1. never delete what the advisor did not make ------------------------------------------------

LOOKALIKES = {
    ".work-thesis/notes.txt": "mine",
    ".work-empty/.keep": "",
    ".notes.tmp": "mine",
    ".index.jsonl.abcdefgh.tmp": "looks like ours, but no run was interrupted",
    "briefs/.gz-tax-bureau.md.abcdefgh.tmp": "looks like ours",
    "briefs/notes.md": "my notes",
}


@pytest.mark.parametrize("rel", sorted(LOOKALIKES))
def test_batch_keeps_what_only_looks_like_its_leftovers(capsys, world, rel):
    src, out, outside = world
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_text(LOOKALIKES[rel], encoding="utf-8")
    before = listing(outside)
    assert batch(capsys, str(src), "-o", str(out)) == (0, "")
    assert batch(capsys, str(src), "-o", str(out), "--resume") == (0, "")
    assert (out / rel).read_text(encoding="utf-8") == LOOKALIKES[rel]
    assert listing(outside) == before


def test_batch_never_follows_a_work_folder_link(capsys, world):
    src, out, outside = world
    out.mkdir()
    (out / ".work-link").symlink_to(outside / ".work-thesis")
    before = listing(outside)
    assert batch(capsys, str(src), "-o", str(out)) == (0, "")
    assert (out / ".work-link").is_symlink() and listing(outside) == before


def journal_line(**entry: str) -> str:
    return json.dumps(entry) + "\n"


def test_batch_removes_a_killed_runs_work_folder_only_with_its_token(capsys, world):
    src, out, outside = world
    out.mkdir()
    ours, forged, mixed = out / ".work-ours", out / ".work-forged", out / ".work-mixed"
    for folder, token in ((ours, "t1"), (forged, "wrong"), (mixed, "t3")):
        folder.mkdir()
        (folder / ".advisor-batch").write_text(token + "\n", encoding="utf-8")
        (folder / "profiles.jsonl").write_text("{}\n", encoding="utf-8")
    (mixed / "user.txt").write_text("mine\n", encoding="utf-8")
    (out / ".work-lnk").symlink_to(outside / ".work-thesis")
    (outside / ".work-thesis" / ".advisor-batch").write_text("t4\n", encoding="utf-8")
    (out / ".journal.jsonl").write_text(
        journal_line(work=".work-ours", token="t1") + journal_line(work=".work-forged", token="t2")
        + journal_line(work=".work-mixed", token="t3") + journal_line(work=".work-lnk", token="t4")
        + journal_line(work="../outside/.work-thesis", token="t4") + journal_line(id="gz-tax-bureau", status="writing"),
        encoding="utf-8",
    )  # fmt: skip
    (out / "briefs").mkdir()
    (out / "briefs" / ".gz-tax-bureau.md.abcdefgh.tmp").write_text("half a brief", encoding="utf-8")
    (out / "briefs" / ".other-account.md.abcdefgh.tmp").write_text("not being written", encoding="utf-8")
    before = listing(outside)
    assert batch(capsys, str(src), "-o", str(out)) == (0, "")
    assert not ours.exists()  # the run the journal names, with its token: removed
    assert sorted(os.listdir(forged)) == [".advisor-batch", "profiles.jsonl"]  # token mismatch: kept
    assert os.listdir(mixed) == ["user.txt"]  # only the run's two files went; the user's kept the folder
    assert (out / ".work-lnk").is_symlink() and listing(outside) == before
    assert not (out / "briefs" / ".gz-tax-bureau.md.abcdefgh.tmp").exists()
    assert (out / "briefs" / ".other-account.md.abcdefgh.tmp").exists()


def test_batch_with_out_inside_its_input_never_reads_its_own_files(capsys, tmp_path):
    src = profiles(tmp_path / "in")
    for _ in range(3):  # the second and third runs see the first one's briefs, index and journal
        assert batch(capsys, str(src), "-o", str(src / "out"), "--format", "markdown,json") == (0, "")
        assert [e["status"] for e in index(src / "out")] == ["ok"] * 3


@pytest.mark.parametrize("how", ["link-in-input", "glob", "relative-dot"])
def test_batch_skips_out_reached_through_links_and_globs(capsys, tmp_path, monkeypatch, how):
    src = profiles(tmp_path / "in")
    out = tmp_path / "out"
    assert batch(capsys, str(src), "-o", str(out), "--format", "json") == (0, "")
    if how == "link-in-input":
        (src / "mirror").symlink_to(out)
        args = [str(src), "-o", str(out)]
    elif how == "glob":
        (src / "out").symlink_to(out)
        args = [str(tmp_path) + "/**/*.*", "-o", str(out)]  # out's files, and through the link: all skipped
    else:
        monkeypatch.chdir(src)
        shutil.move(str(out), src / "out")
        args = [".", "-o", "out"]
    code, err = batch(capsys, *args, "--format", "json")
    assert (code, err) == (0, "")
    assert [e["status"] for e in index(out if how != "relative-dot" else src / "out")] == ["ok"] * 3


def test_batch_out_that_is_the_input_folder_reads_nothing(capsys, tmp_path):
    src = profiles(tmp_path / "in")
    code, err = batch(capsys, str(src), "-o", str(src))
    assert (code, err) == (1, f"{src}:1:1: error: no profile files (*.yaml, *.json, *.jsonl) in this folder\n")


def test_batch_format_change_removes_only_what_the_index_listed(capsys, world):
    src, out, outside = world
    assert batch(capsys, str(src), "-o", str(out), "--format", "markdown") == (0, "")
    briefs = out / "briefs"
    names = sorted(p.name for p in briefs.iterdir())
    edited, linked = briefs / names[0], briefs / names[1]
    edited.write_text("edited by hand\n", encoding="utf-8")  # no longer what the index recorded
    linked.unlink()
    linked.symlink_to(outside / "thesis.txt")
    (briefs / "notes.md").write_text("mine\n", encoding="utf-8")
    before = listing(outside)
    assert batch(capsys, str(src), "-o", str(out), "--format", "json") == (0, "")
    left = sorted(p.name for p in briefs.iterdir())
    assert [n for n in left if n.endswith(".md")] == sorted([names[0], names[1], "notes.md"])
    assert len([n for n in left if n.endswith(".json")]) == 3
    assert listing(outside) == before


# --- 2. never write or read outside OUT -------------------------------------------------------------

OWNED = [".journal.jsonl", ".lock", "index.jsonl", "portfolio.md", "briefs"]


@pytest.mark.parametrize("name", OWNED)
@pytest.mark.parametrize("kind", ["link", "dangling", "fifo"])
def test_batch_refuses_an_owned_name_that_is_a_link_or_special(capsys, world, name, kind):
    src, out, outside = world
    out.mkdir()
    target = outside / "thesis.txt" if kind == "link" else outside / "created-if-followed"
    if kind == "fifo":
        os.mkfifo(out / name)
        what = "is not a folder" if name == "briefs" else "is not a regular file (a folder, pipe, device or socket)"
    else:
        (out / name).symlink_to(target)
        what = "is a symbolic link"
    before_out, before_outside = listing(out), listing(outside)
    code, err = batch(capsys, str(src), "-o", str(out))
    assert (code, err) == (2, f"{out / name}:1:1: error: {what}; {LINKS}\n")
    assert listing(out) == before_out and listing(outside) == before_outside


@pytest.mark.parametrize("name", [".journal.jsonl", ".lock", "index.jsonl", "portfolio.md"])
def test_batch_refuses_an_owned_file_that_is_a_folder(capsys, world, name):
    src, out, _ = world
    (out / name).mkdir(parents=True)
    code, err = batch(capsys, str(src), "-o", str(out))
    assert (code, err) == (
        2,
        f"{out / name}:1:1: error: is not a regular file (a folder, pipe, device or socket); {LINKS}\n",
    )


@pytest.mark.parametrize("name", [".journal.jsonl", ".lock"])
def test_batch_refuses_an_owned_file_hard_linked_to_a_file_outside(capsys, world, name):
    src, out, outside = world
    out.mkdir()
    os.link(outside / "thesis.txt", out / name)
    before = listing(outside)
    code, err = batch(capsys, str(src), "-o", str(out))
    assert (code, err) == (2, f"{out / name}:1:1: error: has another hard link; {LINKS}\n")
    assert listing(outside) == before and os.listdir(out) == [name]


def test_batch_never_overwrites_a_lock_file_it_did_not_make(capsys, world):
    src, out, _ = world
    out.mkdir()
    (out / ".lock").write_text("my lock\n", encoding="utf-8")
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 2
    assert err == f"{out / '.lock'}:1:1: error: was not made by advisor batch; the batch never overwrites a file it did not make: remove it, or choose another -o\n"  # fmt: skip
    assert (out / ".lock").read_text(encoding="utf-8") == "my lock\n" and os.listdir(out) == [".lock"]


def test_batch_into_a_symlinked_out_works_inside_its_target(capsys, world, tmp_path):
    src, _, outside = world
    real = tmp_path / "real-out"
    real.mkdir()
    (tmp_path / "link-out").symlink_to(real)
    before = listing(outside)
    assert batch(capsys, str(src), "-o", str(tmp_path / "link-out")) == (0, "")
    assert sorted(os.listdir(real)) == ["briefs", "index.jsonl", "portfolio.md"]
    assert listing(outside) == before


# --- 3. bounded resources ---------------------------------------------------------------------------


@pytest.mark.parametrize(("jobs", "accounts"), [(256, 3), (3, 1), (CORES + 1, 3)])
def test_batch_caps_workers_at_cores_and_accounts(capsys, tmp_path, jobs, accounts):
    src = profiles(tmp_path / "in", accounts)
    code, err = batch(capsys, str(src), "-o", str(tmp_path / "out"), "--jobs", str(jobs))
    capped = max(1, min(jobs, CORES, accounts))
    assert (code, err) == (0, f"advisor batch: --jobs {jobs} capped at {capped} ({CORES} cores, {accounts} accounts)\n")
    assert batch(capsys, str(src), "-o", str(tmp_path / "one")) == (0, "")
    assert (tmp_path / "out" / "index.jsonl").read_bytes() == (tmp_path / "one" / "index.jsonl").read_bytes()


def test_batch_jobs_within_the_cap_print_nothing(capsys, tmp_path):
    src = profiles(tmp_path / "in", 3)
    assert batch(capsys, str(src), "-o", str(tmp_path / "out"), "--jobs", str(min(CORES, 3))) == (0, "")


ACCOUNTS_CSV = "account_id,name,industry,ownership,annual_revenue,stage,position\n"


def crm(folder: Path, rows: list[str], contacts: str = "") -> Path:
    folder.mkdir()
    (folder / "accounts.csv").write_text(ACCOUNTS_CSV + "".join(rows), encoding="utf-8")
    if contacts:
        (folder / "contacts.csv").write_text(contacts, encoding="utf-8")
    return folder


OVER = "the row is over the limit of 1,000,000 bytes; trim it, or raise the limit with --limit record_bytes=N"


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        ("big-a," + "x" * 3_000_000 + ",enterprise,5\n", 3),  # one long field
        ("big-b," + ",".join(["y" * 500] * 5000) + "\n", 3),  # many fields
        ("big-c," + ",".join(['"' + ("z" * 99 + "\n") * 1_000 + '"'] * 12) + "\n", 3),  # quoted, over many lines
        ("big-d," + ",".join(['"q\n' + "w" * 100_000 + '"'] * 12) + "\n", 3),  # quoted fields with newlines
    ],
)
def test_batch_csv_row_over_the_record_limit_is_one_positioned_error(capsys, tmp_path, bad, line):
    rows = [
        "acc-a,Alpha,enterprise,private,10,maintain,incumbent\n",
        bad,
        "acc-b,Beta,enterprise,private,20,maintain,incumbent\n",
    ]
    folder = crm(tmp_path / "crm", rows)
    code, err = batch(capsys, str(folder), "-o", str(tmp_path / "out"))
    assert (code, err) == (1, f"{folder / 'accounts.csv'}:{line}:1: error: {OVER}\n")
    assert [e["status"] for e in index(tmp_path / "out")] == ["ok", "error", "ok", "read"]
    assert (tmp_path / "out" / "portfolio.md").is_file()


def test_batch_csv_field_over_the_csv_limit_is_positioned_and_the_rest_read(capsys, tmp_path):
    big = '"' + ("z" * 99 + "\n") * 2_000 + '"'  # 200 KB quoted over lines: csv's own field limit (128 KiB)
    rows = ["acc-a,Alpha,enterprise,private,10,maintain,incumbent\n", f"big,{big},enterprise,private,5,maintain,incumbent\n",
            "acc-b,Beta,enterprise,private,20,maintain,incumbent\n"]  # fmt: skip
    folder = crm(tmp_path / "crm", rows)
    code, err = batch(capsys, str(folder), "-o", str(tmp_path / "out"))
    assert (code, err) == (
        1,
        f"{folder / 'accounts.csv'}:3:5: error: cannot read this row: field larger than field limit (131072)\n",
    )
    assert [e["status"] for e in index(tmp_path / "out")] == ["ok", "error", "ok", "read"]


def test_batch_csv_oversize_contact_row_is_positioned_and_the_account_goes_on(capsys, tmp_path):
    contacts = (
        "account_id,contact_id,name,title,department,function,level\n"
        + "acc-a,c1,"
        + "n" * 2_000_000
        + ",CEO,Board,leadership,senior\n"
    )
    folder = crm(tmp_path / "crm", ["acc-a,Alpha,enterprise,private,10,maintain,incumbent\n"], contacts)
    code, err = batch(capsys, str(folder), "-o", str(tmp_path / "out"))
    assert (code, err) == (1, f"{folder / 'contacts.csv'}:2:1: error: {OVER}\n")
    assert [e["status"] for e in index(tmp_path / "out")] == ["error", "ok", "read", "read"]


def test_csv_reader_never_holds_a_huge_row(tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    with (folder / "accounts.csv").open("w", encoding="utf-8") as handle:
        handle.write(ACCOUNTS_CSV + "huge,")
        for _ in range(40):
            handle.write("h" * 1_000_000)  # a 40 MB row
        handle.write(",enterprise,private,1\nacc-a,Alpha,enterprise,private,10,maintain,incumbent\n")
    sources, peak = with_peak_memory(lambda: list(crm_export(folder)))
    assert [(s.line, s.kind) for s in sources] == [(2, "error"), (3, "data"), (0, "tally")]
    assert peak < 12_000_000, peak


# --- 4. no crash on odd values, names or streams ------------------------------------------------------


def with_revenue(text: str, account_id: str, value: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("  id: ") and not lines[-1].startswith("  - "):
            line = f"  id: {account_id}"
        if line.strip().startswith("annual_revenue:"):
            line = f"  annual_revenue: {value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".Inf", "1e999"])
def test_batch_yaml_non_finite_revenue_fails_that_account_only(capsys, tmp_path, value):
    src = profiles(tmp_path / "in", 2)
    base = (PROFILES / "gz-tax-bureau.yaml").read_text(encoding="utf-8")
    (src / "zz-bad.yaml").write_text(with_revenue(base, "zz-bad", value), encoding="utf-8")
    out = tmp_path / "out"
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 1 and err.count("\n") == 1 and err.startswith(f"{src / 'zz-bad.yaml'}:7:")
    assert "annual_revenue" in err
    assert [e["status"] for e in index(out)] == ["ok", "ok", "error"]
    assert (out / "portfolio.md").is_file()
    assert batch(capsys, str(src), "-o", str(out), "--resume") == (1, err)  # --resume works after it


JSON_BAD = {"Infinity": "inf", "1e999": "inf", "-Infinity": "-inf", "-1e999": "-inf"}
NON_FINITE = ": must be a finite number; got infinity"  # profile validation refuses it
NEGATIVE = ": input should be greater than or equal to 0"


def test_batch_jsonl_non_finite_numbers_fail_those_records_only(capsys, tmp_path):
    import yaml

    doc = yaml.safe_load((PROFILES / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    lines = []
    for i, word in enumerate([*JSON_BAD, "12.5"]):
        doc["account"]["id"] = f"acc-{i}"
        doc["account"]["annual_revenue"] = 0
        lines.append(json.dumps(doc, default=str).replace('"annual_revenue": 0', f'"annual_revenue": {word}'))
    src = tmp_path / "r.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 1
    assert err.splitlines() == [
        f"{src}:{n}:1: error: account.annual_revenue{NON_FINITE if shown == 'inf' else NON_FINITE.replace('got ', 'got -')}"
        for n, shown in enumerate(JSON_BAD.values(), 1)
    ]
    assert [e["status"] for e in index(out)] == ["error"] * 4 + ["ok"]
    assert (out / "portfolio.md").is_file()
    assert batch(capsys, str(src), "-o", str(out), "--resume") == (1, err)


def test_batch_csv_inf_and_nan_are_not_numbers(capsys, tmp_path):
    folder = crm(
        tmp_path / "crm",
        [
            "acc-a,Alpha,enterprise,private,inf,maintain,incumbent\n",
            "acc-b,Beta,enterprise,private,nan,maintain,incumbent\n",
            "acc-c,Gamma,enterprise,private,7,maintain,incumbent\n",
        ],
    )
    code, err = batch(capsys, str(folder), "-o", str(tmp_path / "out"))
    assert (code, err) == (1, f"{folder / 'accounts.csv'}:2:32: error: account.annual_revenue{NON_FINITE}\n"
                                 f"{folder / 'accounts.csv'}:3:31: error: account.annual_revenue: must be a number; got NaN (not a number)\n")  # fmt: skip
    assert [e["status"] for e in index(tmp_path / "out")] == ["error", "error", "ok", "read"]


def test_batch_revenues_too_large_to_add_keep_the_index_valid_json(capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    base = (PROFILES / "gz-tax-bureau.yaml").read_text(encoding="utf-8")
    for name in ("big-a", "big-b"):
        (src / f"{name}.yaml").write_text(with_revenue(base, name, "1.7e308"), encoding="utf-8")
    code, _ = batch(capsys, str(src), "-o", str(tmp_path / "out"))
    assert code in (0, 1)
    index(tmp_path / "out")  # valid JSON whatever the shares came to
    assert (tmp_path / "out" / "portfolio.md").is_file()


ODD_NAMES = [
    b"new\nline.yaml",
    b"not-utf8-\xff\xfe.yaml",
    b"esc-\x1b[31m.yaml",
    "bidi-\u202etxt.yaml".encode(),
    b"tab\there.yaml",
]


def test_batch_odd_file_names_are_escaped_on_one_line_and_the_batch_goes_on(capsys, tmp_path):
    src = profiles(tmp_path / "in", 2)
    for raw in ODD_NAMES:
        with open(os.path.join(os.fsencode(src), raw), "wb") as handle:
            handle.write(b"account: [\n")  # broken YAML: each yields exactly one error line
    out = tmp_path / "out"
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == len(ODD_NAMES)
    shown = {
        "new\\nline.yaml",
        "not-utf8-\\xff\\xfe.yaml",
        "esc-\\x1b[31m.yaml",
        "bidi-\\u202etxt.yaml",
        "tab\\there.yaml",
    }
    assert {line.split(":")[0].rsplit("/", 1)[1] for line in lines} == shown
    entries = index(out)  # valid UTF-8 JSON
    assert [e["status"] for e in entries].count("ok") == 2
    assert {e["source"].rsplit("/", 1)[1] for e in entries if e["status"] == "error"} == {s + ":1" for s in shown}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "advisor batch: error: --dask needs a scheduler address like tcp://host:8786; got ''"),
        ("   ", "advisor batch: error: --dask needs a scheduler address like tcp://host:8786; got ''"),
        ("garbage", "advisor batch: error: cannot reach the Dask scheduler at garbage: ValueError: missing port number in address 'garbage'"),
        ("tcp://", "advisor batch: error: cannot reach the Dask scheduler at tcp://: ValueError: missing port number in address ''"),
        ("::::", "advisor batch: error: cannot reach the Dask scheduler at ::::: ValueError: invalid address '::::'; maybe: ipv6 needs brackets like [::1]"),
        ("tls://127.0.0.1:1", "advisor batch: error: cannot reach the Dask scheduler at tls://127.0.0.1:1: only tcp:// addresses are supported; got tls://"),
        ("tcp://127.0.0.1:PORT", "advisor batch: error: cannot reach the Dask scheduler at tcp://127.0.0.1:PORT: ConnectionRefusedError: [Errno 111] Connection refused"),
        ("127.0.0.1:PORT\n--dask:1:1: error: forged", "advisor batch: error: cannot reach the Dask scheduler at 127.0.0.1:PORT\\n--dask:1:1: error: forged: ValueError: "),
    ],
)  # fmt: skip
def test_batch_bad_dask_address_is_one_line_exit_2_fast(capsys, tmp_path, address, message):
    pytest.importorskip("distributed")
    port = str(closed_port())
    address, message = address.replace("PORT", port), message.replace("PORT", port)
    start = time.monotonic()
    code, err = batch(capsys, str(PROFILES), "-o", str(tmp_path / "out"), "--dask", address)
    assert code == 2 and err.count("\n") == 1 and err.startswith(message)
    assert time.monotonic() - start < 8
    assert not (tmp_path / "out").exists()  # checked before anything is written


# --- a scheduler that dies mid-run, and signals: real processes ------------------------------------

SLOW = """
import os, sys, time
import advisor.batch.runner as b
from advisor.cli import main

parent = os.getpid()
real = b.brief_one

def slow(task):
    time.sleep(0.15)
    flag = os.environ.get("KILL_WORKER")
    if flag and os.getpid() != parent:
        try:
            os.unlink(flag)  # the one worker that removes the flag is killed; the others go on
        except FileNotFoundError:
            pass
        else:
            os.kill(os.getpid(), 9)
    return real(task)

def slow_many(tasks):  # what a pool's worker is sent: a chunk of tasks, each slow
    return [slow(task) for task in tasks]

b.brief_one = slow
b.brief_many = slow_many
sys.exit(main(sys.argv[1:]))
"""

RERUN = "; the index was left as it was: rerun with --resume"


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    import yaml

    doc = yaml.safe_load((PROFILES / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("many") / "many.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(60):
            doc["account"]["id"] = f"acc-{i:03d}"
            handle.write(json.dumps(doc, default=str) + "\n")
    return path


def slow_batch(many: Path, out: Path, jobs: str, **env: str) -> subprocess.Popen:
    argv = [sys.executable, "-c", SLOW, "batch", str(many), "-o", str(out), "--quiet", "--today", TODAY, "--jobs", jobs]
    return subprocess.Popen(argv, stderr=subprocess.PIPE, start_new_session=True, env={**os.environ, **env})


def wait_for_briefs(out: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (out / "briefs").is_dir() and len(os.listdir(out / "briefs")) >= 20:
            time.sleep(0.3)  # the main process has taken in the first chunks' results
            return
        time.sleep(0.05)
    raise AssertionError("the batch never started briefing")


def assert_stopped_cleanly(out: Path, many: Path, err: str, how: str) -> None:
    assert "Traceback" not in err and err.count("\n") == 1, err
    when = r"(after \d+ of 60 accounts|before any account was done)"
    assert re.fullmatch(re.escape(f"advisor batch: {how} ") + when + re.escape(f"{RERUN}\n"), err), err
    assert not [p for p in listing(out) if p.endswith(".tmp") or ".work-" in p]
    assert main(["batch", str(many), "-o", str(out), "--quiet", "--today", TODAY, "--resume"]) == 0
    assert len(index(out)) == 60


@pytest.mark.parametrize(
    ("sig", "group", "jobs", "code", "how"),
    [
        (signal.SIGINT, True, "2", 130, "interrupted (SIGINT)"),  # Ctrl-C: the whole process group
        (signal.SIGINT, False, "2", 130, "interrupted (SIGINT)"),
        (signal.SIGINT, False, "1", 130, "interrupted (SIGINT)"),
        (signal.SIGTERM, False, "2", 143, "terminated (SIGTERM)"),
        (signal.SIGTERM, False, "1", 143, "terminated (SIGTERM)"),
    ],
)
def test_batch_stopped_by_a_signal_is_one_line(tmp_path, capsys, many, sig, group, jobs, code, how):
    out = tmp_path / "out"
    proc = slow_batch(many, out, jobs)
    wait_for_briefs(out)
    os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == code, err
    assert_stopped_cleanly(out, many, err, how)
    capsys.readouterr()


def test_batch_with_a_killed_worker_is_one_line(tmp_path, capsys, many):
    out = tmp_path / "out"
    flag = tmp_path / "kill-one-worker"
    flag.touch()
    proc = slow_batch(many, out, "2", KILL_WORKER=str(flag))
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 143, err
    assert_stopped_cleanly(out, many, err, "stopped: a worker process was killed (out of memory, or by a signal)")
    capsys.readouterr()


def test_batch_dask_scheduler_dying_mid_run_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    port = closed_port()
    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):  # wait for it to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        out = tmp_path / "out"
        argv = [sys.executable, "-m", "advisor", "batch", str(PROFILES), "-o", str(out), "--quiet", "--dask", f"tcp://127.0.0.1:{port}"]  # fmt: skip
        batch_proc = subprocess.Popen(argv, stderr=subprocess.PIPE)  # no workers: the tasks wait for ever
        for _ in range(300):
            if (out / ".journal.jsonl").exists():
                break
            time.sleep(0.1)
        time.sleep(1)
        scheduler.kill()
        start = time.monotonic()
        err = batch_proc.communicate(timeout=60)[1].decode()
    finally:
        scheduler.kill()
        scheduler.wait()
    assert time.monotonic() - start < 15
    assert batch_proc.returncode == 2, err
    assert err == (
        f"advisor batch: error: lost the Dask scheduler at tcp://127.0.0.1:{port} mid-run (FutureCancelledError)"
        "; the batch stopped: fix this, then rerun with --resume\n"
    )
    assert not [p for p in listing(out) if ".work-" in p or p.endswith(".tmp")]


def test_pass_two_chunks_grow_with_the_batch_but_every_worker_still_gets_several():
    from advisor.batch.executors import CHUNK, CHUNK_MAX, chunk_size

    for jobs in (1, 2, 3, 8):
        for tasks in (0, 1, 7, 31, 64, 257, 2_000, 100_000):
            size = chunk_size(tasks, jobs)
            assert CHUNK <= size <= CHUNK_MAX
            if tasks >= 4 * jobs * CHUNK:  # enough to share: at least four chunks a worker
                assert tasks // size >= 4 * jobs
    assert (chunk_size(20, 2), chunk_size(2_000, 2)) == (CHUNK, CHUNK_MAX)


def chunks_sent(monkeypatch, total: int | None) -> list[int]:
    """The sizes of the chunks ordered_map sends two workers for 1,200 items (`total`: as pass 2
    knows their number, or None as pass 1 does not), after checking the results come in order."""
    from concurrent.futures import ProcessPoolExecutor

    from advisor.batch.executors import ordered_map
    from advisor.batch.options import Options

    sizes: list[int] = []
    submit = ProcessPoolExecutor.submit

    def counting(self, fn, chunk_fn, chunk, *many):
        sizes.append(len(chunk))
        return submit(self, fn, chunk_fn, chunk, *many)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    assert list(ordered_map(abs, range(-600, 600), Options(jobs=2), total)) == [abs(n) for n in range(-600, 600)]
    assert sum(sizes) == 1200
    return sizes


def test_pass_one_chunks_start_small_and_grow_while_the_input_goes_on(monkeypatch):
    """Pass 1 does not know how many records come: its first chunks are small (a short input
    still reaches every worker), later ones grow to the largest size."""
    from advisor.batch.executors import CHUNK, CHUNK_MAX

    sizes = chunks_sent(monkeypatch, None)
    assert sizes[:8] == [CHUNK] * 8
    assert max(sizes) == CHUNK_MAX and sizes == sorted(sizes[:-1]) + sizes[-1:]


def test_pass_two_chunks_shrink_toward_the_end_so_no_worker_waits_long_for_the_other(monkeypatch):
    from advisor.batch.executors import CHUNK, CHUNK_MAX

    sizes = chunks_sent(monkeypatch, 1200)
    assert sizes[0] == CHUNK_MAX and sizes[-2] == CHUNK and sizes[-1] <= CHUNK
    assert sizes == sorted(sizes, reverse=True)
