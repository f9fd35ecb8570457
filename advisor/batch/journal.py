"""OUT's journal and lock: what --resume may trust after a kill, one batch per folder, and what a killed run left.

Before pass 2 writes anything, a `writing` line for every account it will brief goes to
OUT/.journal.jsonl, and once an account's outputs are written, its entry; OUT/index.jsonl is
replaced atomically at the end. After a kill, `--resume` trusts the index and then the journal (a
later line for an account wins; `writing` revokes trust). One batch at a time may write to a folder
(a lock, where the OS has them), so a run can safely remove what a killed run left: its work folder
and temp files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import Problem, UnwritableOutput
from .tasks import BRIEFS

INDEX = "index.jsonl"
JOURNAL = ".journal.jsonl"
LOCK = ".lock"


def whole(out: Path, rel: str, entry: dict) -> bool:
    """Whether an earlier run's output is still there with the size it was written with (a power
    cut can leave a renamed but never flushed brief empty; older indexes record no sizes)."""
    try:
        st = (out / rel).stat()
    except OSError:
        return False
    size = entry.get("bytes", {}).get(rel)
    return stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size)


def previous(out: Path) -> dict[str, dict]:
    """Finished accounts from an earlier run: the index, then the journal of an interrupted run."""
    done: dict[str, dict] = {}
    for name in (INDEX, JOURNAL):
        path = out / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            if entry.get("status") == "ok":
                done[entry["id"]] = entry
            else:  # "writing": its outputs were being replaced when the run stopped
                done.pop(entry["id"], None)
    return done


@contextlib.contextmanager
def only_batch_in(out: Path) -> Iterator[None]:
    """Hold OUT/.lock for the whole run, so two batches never write one folder at once and a run
    may clean up after a killed one. Without fcntl (Windows), runs are not guarded."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = out / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise unwritable(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UnwritableOutput(
                Problem(
                    str(out),
                    1,
                    1,
                    "error",
                    "another advisor batch is writing to this folder; wait for it, or choose another -o",
                )
            ) from None
        except OSError:  # a file system without locks (some network mounts): run unguarded
            break
        try:  # the holder before us may have removed the file between our open and our lock
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def clear_leftovers(out: Path) -> None:
    """Remove what a killed run left: its work folders and the temp files of unfinished writes."""
    for path in out.glob(".work-*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    for folder in (out, out / BRIEFS):
        for path in folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink():
                    path.unlink()


def unwritable(path: Path, exc: OSError) -> UnwritableOutput:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write the file: {reason}"))


class Journal:
    """OUT/.journal.jsonl, appended one whole line at a time; a failed write stops the batch."""

    def __init__(self, path: Path):
        self.path = path
        try:
            if path.is_file() and path.stat().st_size:
                with path.open("rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    torn = handle.read(1) != b"\n"
            else:
                torn = False
            self.handle = path.open("a", encoding="utf-8")
            if torn:  # a kill cut the last line short: never glue the next line onto it
                self.handle.write("\n")
        except OSError as exc:
            raise unwritable(path, exc) from None

    def append(self, entry: dict) -> None:
        self.extend((entry,))

    def extend(self, entries: Iterable[dict]) -> None:
        try:
            self.handle.write("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries))
            self.handle.flush()  # in the OS's hands: a kill of this process cannot lose it
        except OSError as exc:
            raise unwritable(self.path, exc) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failure here was already reported by append
            self.handle.close()
