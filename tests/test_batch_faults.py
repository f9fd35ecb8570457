"""Batch faults: a full disk, unreadable input, kill -9. In every case the index stays consistent,
no partial brief or temp file is left, and a rerun with --resume completes with the same bytes as
a clean run."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import advisor.batch.journal
import advisor.files
import advisor.sources
from advisor.cli import main
from advisor.errors import UnwritableOutput
from advisor.files import FLUSH_WINDOW, flush_files

from conftest import ROOT

PROFILES = ROOT / "profiles"
TODAY = "2026-12-01"
NOSPACE = "No space left on device"
STOPPED = "; the batch stopped: fix this, then rerun with --resume"


def batch(capsys, *argv: str) -> tuple[int, str]:
    code = main(["batch", *argv, "--quiet", "--today", TODAY])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def copy_profiles(target: Path) -> Path:
    target.mkdir(parents=True)
    for p in sorted(PROFILES.glob("*.yaml")):
        shutil.copy(p, target / p.name)
    return target


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """The inputs, and what a clean run over them writes (in a folder of the same depth and name)."""
    root = tmp_path_factory.mktemp("faults")
    src = copy_profiles(root / "in")
    assert main(["batch", str(src), "-o", str(root / "clean"), "--quiet", "--today", TODAY]) == 0
    return src, tree(root / "clean")


def assert_consistent(out: Path, clean_tree: dict[str, bytes]) -> None:
    """No temp file or work folder; the index absent or whole, listing only whole outputs; every
    brief on disk is whole (the same bytes a clean run writes)."""
    assert not [p.name for p in out.rglob(".*") if p.name != ".journal.jsonl"], "leftover temp files"
    index = out / "index.jsonl"
    if index.exists():
        for line in index.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            for rel in entry.get("outputs", []):
                assert (out / rel).read_bytes() == clean_tree[rel]
    for path in (out / "briefs").glob("*") if (out / "briefs").is_dir() else []:
        assert path.read_bytes() == clean_tree[f"briefs/{path.name}"], path.name


def resume_matches_clean(capsys, src: Path, out: Path, clean_tree: dict[str, bytes]) -> None:
    code, err = batch(capsys, str(src), "-o", str(out), "--resume")
    assert code == 0, err
    assert tree(out) == clean_tree


# --- a full disk ---------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    ("target", "jobs"),
    [("briefs/gz-tax-bureau.md", "1"), ("briefs/gz-tax-bureau.md", "2"), ("index.jsonl", "1"), ("portfolio.md", "1")],
)
def test_batch_full_disk_stops_with_one_line_and_resume_completes(capsys, tmp_path, monkeypatch, clean, target, jobs):
    """With --jobs 2 the brief is written by a worker process (forked with the full disk)."""
    src, clean_tree = clean
    out = tmp_path / "out"
    real_temp = advisor.files._temp
    name = Path(target).name

    def full_disk(*args, **kwargs):  # the disk fills up just as this file is written
        fd, tmp = real_temp(*args, **kwargs)
        if Path(tmp).name.startswith(f".{name}."):
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC
        return fd, tmp

    monkeypatch.setattr(advisor.files, "_temp", full_disk)
    code, err = batch(capsys, str(src), "-o", str(out), "--jobs", jobs)
    assert code == 2
    assert err == f"{out / target}:1:1: error: cannot write the file: {NOSPACE}{STOPPED}\n"
    assert not (out / target).exists()
    assert_consistent(out, clean_tree)
    if target == "portfolio.md":  # the index was written just before: whole and complete
        assert (out / "index.jsonl").read_bytes() == clean_tree["index.jsonl"]
    else:
        assert not (out / "index.jsonl").exists()
    monkeypatch.setattr(advisor.files, "_temp", real_temp)  # space is freed
    resume_matches_clean(capsys, src, out, clean_tree)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors in /proc")
def test_a_failing_flush_names_its_file_and_leaves_no_descriptor_open(tmp_path, monkeypatch):
    """Files are flushed a window at a time (several held open): a disk error on one names it, and
    every descriptor of the window, flushed or not, is closed."""
    paths = [tmp_path / f"brief-{i:03d}.md" for i in range(FLUSH_WINDOW + 50)]
    for path in paths:
        path.write_text("text", encoding="utf-8")
    failing = paths[FLUSH_WINDOW + 10]
    fsync = os.fsync

    def disk_error(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(failing):
            raise OSError(errno.EIO, "Input/output error")
        fsync(fd)

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fsync", disk_error)
    with pytest.raises(UnwritableOutput) as raised:
        flush_files(paths)
    assert [str(p) for p in raised.value.problems] == [
        f"{failing}:1:1: error: cannot flush to disk: Input/output error"
    ]
    assert len(os.listdir("/proc/self/fd")) == before
    monkeypatch.undo()
    flush_files(paths)  # and once the disk is well again, all of them are flushed
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors in /proc")
def test_a_disk_error_flushing_a_brief_mid_run_stops_the_batch_and_resume_completes(
    capsys, tmp_path, monkeypatch, clean
):
    """Briefs are flushed while the batch runs (a window of 2 here): a disk error on one stops the
    batch at once with one line naming it, before any index is written, with no descriptor left
    open; once the disk is well, --resume finishes with a clean run's bytes."""
    src, clean_tree = clean
    out = tmp_path / "out"
    failing = out / "briefs" / "gz-tax-bureau.md"
    fsync = os.fsync

    def disk_error(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(failing):
            raise OSError(errno.EIO, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(advisor.files, "FLUSH_WINDOW", 2)
    monkeypatch.setattr(os, "fsync", disk_error)
    before = len(os.listdir("/proc/self/fd"))
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 2
    assert err == f"{failing}:1:1: error: cannot flush to disk: Input/output error{STOPPED}\n"
    assert not (out / "index.jsonl").exists()
    assert len(os.listdir("/proc/self/fd")) == before
    assert_consistent(out, clean_tree)
    monkeypatch.undo()
    resume_matches_clean(capsys, src, out, clean_tree)


def test_batch_journal_on_a_full_disk_stops_the_batch(capsys, tmp_path, monkeypatch, clean):
    """(A journal that is a link to /dev/full is now refused as a link: the full disk is simulated.)"""
    src, clean_tree = clean
    out = tmp_path / "out"
    out.mkdir()

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, NOSPACE)

    monkeypatch.setattr(advisor.batch.journal, "_append", full)  # every write to the journal fails with ENOSPC
    code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 2
    assert err == f"{out / '.journal.jsonl'}:1:1: error: cannot write the file: {NOSPACE}{STOPPED}\n"
    assert not (out / "briefs").exists() and not (out / "index.jsonl").exists()
    monkeypatch.undo()
    resume_matches_clean(capsys, src, out, clean_tree)


def test_batch_output_folder_that_is_a_file_is_one_line(capsys, tmp_path, clean):
    src, _ = clean
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")
    code, err = batch(capsys, str(src), "-o", str(tmp_path / "out"))
    assert code == 2
    assert err == f"{tmp_path / 'out'}:1:1: error: cannot create the output folder: File exists\n"


def test_batch_resume_rebriefs_a_brief_the_disk_lost_though_the_index_lists_it(capsys, tmp_path, clean):
    """Briefs are not flushed one by one: after a power cut a renamed brief can come back empty.
    The index records each output's size, so --resume briefs such an account again."""
    src, clean_tree = clean
    out = tmp_path / "out"
    assert batch(capsys, str(src), "-o", str(out))[0] == 0
    first, second = (json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()[:2])
    (lost,) = first["outputs"]
    (kept,) = second["outputs"]
    assert first["bytes"] == {lost: len(clean_tree[lost])}
    (out / lost).write_bytes(b"")  # what a power cut can leave
    untouched = (out / kept).stat().st_mtime_ns
    code, _ = batch(capsys, str(src), "-o", str(out), "--resume")
    assert code == 0
    assert (out / lost).read_bytes() == clean_tree[lost]
    assert (out / kept).stat().st_mtime_ns == untouched  # skipped: its size is as recorded
    assert tree(out) == clean_tree


def test_batch_refuses_a_folder_another_batch_is_writing(capsys, tmp_path, clean):
    fcntl = pytest.importorskip("fcntl")
    src, _ = clean
    out = tmp_path / "out"
    out.mkdir()
    with (out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, err = batch(capsys, str(src), "-o", str(out))
    assert code == 2
    assert (
        err == f"{out}:1:1: error: another advisor batch is writing to this folder; wait for it, or choose another -o\n"
    )
    assert not (out / "briefs").exists()


# --- unreadable input ----------------------------------------------------------------------------


@pytest.fixture
def alarm():
    """Fail, never hang: a blocked read (a FIFO) is interrupted after a minute."""

    def expire(signum, frame):
        raise TimeoutError("the batch hung on an input")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_batch_unreadable_inputs_are_reported_and_the_batch_goes_on(capsys, tmp_path, monkeypatch, alarm):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("gz-tax-bureau.yaml", "sz-metro-group.yaml", "yx-life-insurance.yaml"):
        shutil.copy(PROFILES / name, folder / name)
    (folder / "zz-vanishes.yaml").write_bytes((PROFILES / "dg-abc-branch.yaml").read_bytes())
    os.mkfifo(folder / "pipe-in-folder.yaml")  # skipped: not a regular file, and never opened
    locked = folder / "yx-life-insurance.yaml"
    a_folder = tmp_path / "named-like-a-profile.yaml"
    a_folder.mkdir()
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever

    real_file = advisor.sources._file

    def vanishing(path, *args, **kwargs):  # listed, then gone before it is read
        if Path(path).name == "zz-vanishes.yaml":
            Path(path).unlink(missing_ok=True)
        return real_file(path, *args, **kwargs)

    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if str(file) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(advisor.sources, "_file", vanishing)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    out = tmp_path / "out"
    code, err = batch(capsys, str(folder), str(a_folder), str(dangling), str(fifo), "-o", str(out))
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 5, err
    expected_paths = [locked, folder / "zz-vanishes.yaml", a_folder, dangling, fifo]
    for line, path in zip(lines, expected_paths, strict=True):
        assert line.startswith(f"{path}:1:1: error: "), line
    assert (
        lines[4] == f"{fifo}:1:1: error: not a regular file (a pipe, device or socket); give a profile file or folder"
    )
    entries = [json.loads(x) for x in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["status"], e["source"].rsplit(":", 1)[0]) for e in entries] == [
        ("ok", str(folder / "gz-tax-bureau.yaml")),
        ("ok", str(folder / "sz-metro-group.yaml")),
        ("error", str(locked)),
        ("error", str(folder / "zz-vanishes.yaml")),
        ("error", str(a_folder)),
        ("error", str(dangling)),
        ("error", str(fifo)),
    ]
    assert sorted(p.name for p in (out / "briefs").iterdir()) == ["gz-tax-bureau.md", "sz-metro-group.md"]


# --- kill -9 at chosen moments -------------------------------------------------------------------

KILLER = """
import os, signal, sys
import advisor.batch.runner as b
import advisor.batch.tasks as t
import advisor.files as f
from advisor.cli import main

where, n = sys.argv[1], int(sys.argv[2])
count = 0

def kill_now():
    os.kill(os.getpid(), signal.SIGKILL)

if where == "parse":  # in pass 1, after n records were parsed
    real_parse = b.parse_source
    def parse(*args, **kwargs):
        global count
        count += 1
        if count > n:
            kill_now()
        return real_parse(*args, **kwargs)
    b.parse_source = parse
elif where == "journal":  # in pass 2, after the n-th brief is written but before its journal entry
    real_write = t.write_atomically
    def write(path, text, **kwargs):
        global count
        size = real_write(path, text, **kwargs)
        count += 1
        if count >= n:
            kill_now()
        return size
    t.write_atomically = write
elif where == "temp":  # in pass 2, while the n-th brief is written: its temp file exists, not yet renamed
    real_replace = os.replace
    def replace(src, dst):
        global count
        count += 1
        if count >= n:
            kill_now()
        real_replace(src, dst)
    os.replace = replace
sys.exit(main(sys.argv[3:]))
"""


def killed(src: Path, out: Path, where: str, n: int, *extra: str) -> None:
    argv = ["batch", str(src), "-o", str(out), "--quiet", "--today", TODAY, *extra]
    proc = subprocess.run([sys.executable, "-c", KILLER, where, str(n), *argv], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


def test_batch_killed_in_pass_1_leaves_nothing_to_trust_and_resume_completes(capsys, tmp_path, clean):
    src, clean_tree = clean
    out = tmp_path / "out"
    killed(src, out, "parse", 4)
    assert not (out / "index.jsonl").exists()
    # The journal names only the run's work folder (so the next run may remove it): no account to trust.
    journal = [json.loads(line) for line in (out / ".journal.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [sorted(e) for e in journal] == [["token", "work"]]
    assert not (out / "briefs").exists()
    assert list(out.glob(".work-*"))  # what a kill leaves; the next run removes it
    resume_matches_clean(capsys, src, out, clean_tree)


def test_batch_killed_mid_write_leaves_no_partial_brief_and_resume_cleans_up(capsys, tmp_path, clean):
    src, clean_tree = clean
    out = tmp_path / "out"
    killed(src, out, "temp", 4)
    temps = [p.name for p in (out / "briefs").glob(".*.tmp")]
    assert len(temps) == 1  # the brief being written when the kill came: hidden, never half-visible
    assert len(list((out / "briefs").glob("*.md"))) == 3
    assert_consistent_after_kill(out, clean_tree)
    resume_matches_clean(capsys, src, out, clean_tree)


def test_batch_killed_between_a_brief_and_its_journal_entry_never_trusts_an_older_index(capsys, tmp_path, clean):
    src, clean_tree = clean
    out = tmp_path / "out"
    assert batch(capsys, str(src), "-o", str(out))[0] == 0  # a complete run: its index lists every brief
    killed(src, out, "journal", 3, "--lang", "zh")  # a Chinese run replaces 3 briefs, then dies
    journal = (out / ".journal.jsonl").read_text(encoding="utf-8").splitlines()
    accounts = len(list(src.glob("*.yaml")))  # every one is briefed again: Chinese now
    assert [json.loads(x).get("status") for x in journal] == [None] + ["writing"] * accounts + ["ok", "ok"]
    resume_matches_clean(capsys, src, out, clean_tree)  # the third brief is Chinese: it is briefed again


def assert_consistent_after_kill(out: Path, clean_tree: dict[str, bytes]) -> None:
    assert not (out / "index.jsonl").exists()
    for line in (out / ".journal.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        for rel in entry.get("outputs", []):
            assert (out / rel).read_bytes() == clean_tree[rel]
    for path in (out / "briefs").glob("*.md"):
        assert path.read_bytes() == clean_tree[f"briefs/{path.name}"]


def test_batch_fifo_matched_by_a_glob_reads_as_empty_instead_of_hanging(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    os.mkfifo(src / "a.yaml")  # nobody ever writes to it
    (src / "b.yaml").write_bytes((ROOT / "profiles" / "gz-tax-bureau.yaml").read_bytes())
    cmd = [sys.executable, "-m", "advisor", "batch", str(src / "*.yaml"), "-o", str(tmp_path / "out"), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == f"{src / 'a.yaml'}:1:1: error: the file is empty; fill it in (see `advisor new`)\n"
    assert (tmp_path / "out" / "briefs" / "gz-tax-bureau.md").is_file()
