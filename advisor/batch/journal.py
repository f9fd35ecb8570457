"""OUT's journal and lock: what --resume may trust after a kill, one batch per folder, and what a killed run left.

Before pass 2 writes anything, a `writing` line for every account it will brief goes to
OUT/.journal.jsonl, and once an account's outputs are written, its entry; OUT/index.jsonl is
replaced atomically at the end. After a kill, `--resume` trusts the index and then the journal (a
later line for an account wins; `writing` revokes trust). One batch at a time may write to a folder
(a lock, where the OS has them), so a run can safely remove what a killed run left.

What a run removes is only what a run recognisably made (see SECURITY.md, "Batch output folder"):
a work folder the journal names together with the token of the marker file inside it, the
files it puts there, and the temp files of writes to names it owns (`.index.jsonl.*.tmp`, and
`.ID.md.*.tmp` in briefs/ for an account the journal says was being written). Nothing is removed
by pattern alone, no link is followed, no tree is removed wholesale. Every file the batch owns is
opened without following links and refused when it is a link or not a regular file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import Problem, UnwritableOutput
from .summary import PORTFOLIO
from .tasks import BRIEFS, EXTENSIONS

INDEX = "index.jsonl"
JOURNAL = ".journal.jsonl"
LOCK = ".lock"
MARKER = ".advisor-batch"  # inside a work folder: the token its run wrote to the journal
SPILL = "profiles.jsonl"  # inside a work folder: pass 1's validated profiles
ENTRIES = "entries.jsonl"  # inside a work folder: the index entries, until the index is written
BOOKS = "bookkeeping.sqlite"  # inside a work folder: what the run knows of each account (bookkeeping.py)
LOCK_TEXT = b"advisor batch lock\n"  # what our lock file holds: a file named .lock holding more is not ours
OWNED_FILES = (LOCK, JOURNAL, INDEX, PORTFOLIO)
# write_atomically's temp names: "." + the target + "." + mkstemp's 8 random characters + ".tmp"
_TEMP = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO never blocks: it is refused instead


LINKS = "the batch never follows links or writes into special files in its output folder"


def refused(path: Path, what: str, why: str = LINKS) -> UnwritableOutput:
    return UnwritableOutput(Problem(str(path), 1, 1, "error", f"{what}; {why}: remove it, or choose another -o"))


def check_owned(out: Path) -> None:
    """Refuse, before any work, an owned name in OUT that is a link or not a regular file (briefs/: a folder)."""
    for name in (*OWNED_FILES, BRIEFS):
        path = out / name
        try:
            st = os.lstat(path)
            mode = st.st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise unwritable(path, exc) from None
        if stat.S_ISLNK(mode):
            raise refused(path, "is a symbolic link")
        if name == BRIEFS and not stat.S_ISDIR(mode):
            raise refused(path, "is not a folder")
        if name != BRIEFS and not stat.S_ISREG(mode):
            raise refused(path, "is not a regular file (a folder, pipe, device or socket)")
        if name in (JOURNAL, LOCK) and st.st_nlink > 1:  # appended to in place: never through a hard link
            raise refused(path, "has another hard link")


def open_owned(path: Path, flags: int, mode: int = 0o644) -> int:
    """A descriptor for a file the batch owns: never through a link, never a pipe, device or folder."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if _is_link(path):  # ELOOP (Linux) or EMLINK (BSD): the name is a link
            raise refused(path, "is a symbolic link") from None
        if exc.errno in (21, 6):  # EISDIR, ENXIO (a FIFO with no reader)
            raise refused(path, "is not a regular file (a folder, pipe, device or socket)") from None
        raise unwritable(path, exc) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refused(path, "is not a regular file (a folder, pipe, device or socket)")
    if st.st_nlink > 1 and flags & (os.O_WRONLY | os.O_RDWR):  # a hard link: writing would change the other name too
        os.close(fd)
        raise refused(path, "has another hard link")
    return fd


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def _lines(out: Path, names: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """The JSON objects of owned JSON Lines files, each with its line's text, read a line at a time
    (an index or journal of 100,000 accounts is never held whole); an absent file has none."""
    for name in names:
        try:
            fd = open_owned(out / name, os.O_RDONLY)
        except UnwritableOutput:
            if not os.path.lexists(out / name):
                continue
            raise
        with os.fdopen(fd, "rb") as handle:
            for line in handle:  # split at "\n" only: a U+2028 inside a string is not a line break
                text = line.decode("utf-8", errors="replace")
                try:  # NaN and Infinity are not JSON: a line holding one is not ours to trust
                    entry = json.loads(text, parse_constant=_not_json)
                except ValueError:
                    continue  # a line torn by a kill
                if isinstance(entry, dict):
                    yield text, entry


def _not_json(word: str) -> None:
    raise ValueError(f"{word} is not JSON")


def whole(out: Path, rel: str, entry: dict) -> bool:
    """Whether an earlier run's output is still there with the size it was written with (a power
    cut can leave a renamed but never flushed brief empty; older indexes record no sizes)."""
    try:
        st = os.lstat(out / rel)
    except OSError:
        return False
    size = entry.get("bytes", {}).get(rel)
    return stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size)


def earlier_entries(out: Path) -> Iterator[tuple[str, str | None]]:
    """What an earlier run finished, line by line: the index, then the journal of an interrupted
    run. (account id, its entry's JSON text) for an account it finished, (account id, None) where a
    later line revokes an earlier one (`writing`: its outputs were being replaced when the run stopped)."""
    for text, entry in _lines(out, (INDEX, JOURNAL)):
        if isinstance(entry.get("id"), str):  # not a work folder's line, nor anything not ours
            yield entry["id"], text if entry.get("status") == "ok" else None


def own_outputs(entry: dict) -> Iterator[str]:
    """The outputs an earlier run's entry lists under the names this batch gives its account's
    briefs (an index or journal is a file anyone can edit: no other file is ever touched for it)."""
    if isinstance(entry.get("id"), str):
        for rel in entry.get("outputs") or ():
            if isinstance(rel, str) and rel in _outputs_of(entry["id"]):
                yield rel


def remove_stale(out: Path, earlier: Callable[[str], dict | None], entries: Iterable[dict]) -> None:
    """Remove outputs an earlier run listed for an account that this run briefed without them (the
    format changed): only names the index recorded, and only while they are the size it recorded.
    `earlier`: an account's entry from the earlier run, by id (or None)."""
    for entry in entries:
        if entry.get("status") != "ok" or not isinstance(entry.get("id"), str):
            continue
        old = earlier(entry["id"])
        if not old:
            continue
        for rel in set(old.get("outputs") or ()) - set(entry.get("outputs") or ()):
            size = (old.get("bytes") or {}).get(rel)
            if not isinstance(size, int) or rel not in _outputs_of(entry["id"]):
                continue  # an older index records no size; a name the batch would not write: not ours
            with contextlib.suppress(OSError):
                if whole(out, rel, old):
                    os.unlink(out / rel)


def _outputs_of(account_id: str) -> set[str]:
    return {f"{BRIEFS}/{account_id}.{ext}" for ext in EXTENSIONS.values()}


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
        fd = open_owned(path, os.O_RDWR | os.O_CREAT)
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
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        held = os.pread(fd, len(LOCK_TEXT) + 1, 0)
        if held not in (b"", LOCK_TEXT):
            raise refused(path, "was not made by advisor batch", "the batch never overwrites a file it did not make")
        if not held:
            os.write(fd, LOCK_TEXT)
    except OSError as exc:
        os.close(fd)
        raise unwritable(path, exc) from None
    except UnwritableOutput:
        os.close(fd)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # remove it only while the name is still our file
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                os.unlink(path)
        os.close(fd)


def clear_leftovers(out: Path) -> None:
    """Remove what a killed or stopped run left: the work folders the journal names (with their
    marker's token) and the temp files of writes to names the batch owns."""
    if not os.path.lexists(out / JOURNAL):
        return  # no run was interrupted here: nothing is a leftover
    writing: set[str] = set()
    for _, entry in _lines(out, (JOURNAL,)):
        if isinstance(entry.get("work"), str) and isinstance(entry.get("token"), str):
            remove_work(out, entry["work"], entry["token"])
        elif entry.get("status") == "writing" and isinstance(entry.get("id"), str):
            writing.add(entry["id"])
    _remove_temps(out, {INDEX, PORTFOLIO})
    if writing:
        _remove_temps(out / BRIEFS, {f"{i}.{ext}" for i in writing for ext in EXTENSIONS.values()})


def _remove_temps(folder: Path, targets: set[str]) -> None:
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TEMP.fullmatch(name)
        if match and match["target"] in targets:
            _unlink_regular(folder / name)


def _unlink_regular(path: Path) -> bool:
    """Unlink `path` if it is a regular file (never a link, a folder or a special file)."""
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
            return True
    except OSError:
        pass
    return False


class Work:
    """The run's work folder, OUT/.work-XXXX, holding a marker with a token the journal records."""

    def __init__(self, out: Path, journal: Journal):
        import tempfile

        try:
            self.path = Path(tempfile.mkdtemp(dir=out, prefix=".work-"))
            self.token = secrets.token_hex(16)
            journal.append({"work": self.path.name, "token": self.token})  # before anything is in it
            fd = open_owned(self.path / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.token + "\n")
        except OSError as exc:
            raise unwritable(out, exc) from None
        self.spill = self.path / SPILL
        self.entries = self.path / ENTRIES
        self.books = self.path / BOOKS

    def remove(self) -> None:
        remove_work(self.path.parent, self.path.name, self.token)


def remove_work(out: Path, name: str, token: str) -> None:
    """Remove a work folder if it is the one the journal names: a real folder (not a link) whose
    marker holds the token. Only the files a run puts there go; anything else keeps the folder."""
    folder = out / name
    if "/" in name or not name.startswith(".work-"):
        return
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
        fd = open_owned(folder / MARKER, os.O_RDONLY)
    except (OSError, UnwritableOutput):
        return
    with os.fdopen(fd, "rb") as handle:
        if handle.read(200).decode("ascii", errors="replace").strip() != token:
            return
    _unlink_regular(folder / SPILL)
    _unlink_regular(folder / ENTRIES)
    _unlink_regular(folder / BOOKS)
    _unlink_regular(folder / MARKER)
    with contextlib.suppress(OSError):
        os.rmdir(folder)  # fails, and keeps the folder, if anything else is inside


def unwritable(path: Path, exc: OSError) -> UnwritableOutput:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write the file: {reason}"))


def dumps(entry: dict) -> str:
    """One index or journal line: always valid JSON (a NaN or an infinity raises ValueError instead)."""
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def _append(fd: int, data: bytes) -> None:
    """Write all of `data` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """OUT/.journal.jsonl, appended one whole line at a time; a failed write stops the batch."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = open_owned(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(self.fd).st_size
            if size and os.pread(self.fd, 1, size - 1) != b"\n":
                _append(self.fd, b"\n")  # a kill cut the last line short: never glue the next line onto it
        except OSError as exc:
            self.close()
            raise unwritable(path, exc) from None

    def append(self, entry: dict) -> None:
        self.extend((entry,))

    def extend(self, entries: Iterable[dict]) -> None:
        self.write("".join(dumps(e) for e in entries))

    def write(self, lines: str) -> None:
        """Append whole lines (`dumps`'s), in the OS's hands at once."""
        try:
            _append(self.fd, lines.encode("utf-8"))
        except OSError as exc:
            raise unwritable(self.path, exc) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failure here was already reported by append
            os.close(self.fd)
