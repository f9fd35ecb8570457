"""Where batch profiles come from: YAML/JSON files, folders, globs, JSON Lines (or stdin), and CRM CSV exports (crm.py).

Every source yields records, one per account, each with a label (file and line) that error
messages name. Limits apply per record, never per input file: a JSON Lines file may hold any
number of accounts, but no line is held in memory beyond the record size limit.
"""

from __future__ import annotations

import glob
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UnreadableInput, printable
from .limits import DEFAULT, Limits, raise_hint
from .yamlio import beyond, read_text, too_deep


@dataclass(frozen=True)
class Source:
    """One account's raw profile: YAML text or already-parsed data (JSON, CSV)."""

    path: str
    line: int
    # "yaml" | "json" | "jsonl" (text, decoded by `decoded`) | "file" (not read yet: `read`) | "data" | "error" | "warning" | "tally"
    kind: str
    payload: Any  # YAML or JSON text (None for a "file": its path is `path`), a dict, an error or warning message, or a CSV file's row counts
    col: int = 1
    cells: Any = None  # a CRM record's positions: (field path -> (line, col), list item -> its file)

    def __post_init__(self) -> None:
        # Every message and index line names the record by this label: a file name with a newline
        # or bytes that are not UTF-8 is shown escaped, on one line, never as a forged second error.
        object.__setattr__(self, "path", printable(self.path))

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}"


def expand(
    inputs: list[str],
    limits: Limits = DEFAULT,
    exclude: Path | None = None,
    encoding: str | None = None,
    *,
    lazy: bool = False,
) -> Iterator[Source]:
    """Every record named by `inputs`, in a stable order: inputs as given, folders and globs sorted.
    `lazy`: a YAML or JSON file is yielded unread (kind "file"), for whoever briefs it to `read`
    (a batch's worker processes: the text then never crosses from one process to another).

    Expanding a folder or a glob never reaches into `exclude` (a batch's output folder): the
    batch must not read what it writes. It is recognised by identity (device and inode), so a link
    to it, or a path through one, is skipped too. A file named on its own is read as named.
    `encoding` is a CRM export's (CSV files only; None: told from the bytes)."""
    from .crm import crm_export  # crm builds Sources: imported here, not at the top, to avoid a cycle

    inside = _Inside(exclude)
    for item in inputs:
        if item == "-":
            yield from _jsonl(sys.stdin, "<stdin>", limits)
            continue
        path = Path(item)
        if any(ch in item for ch in "*?[") and not path.exists():
            base = _literal_base(item)
            matches = [m for m in sorted(glob.glob(item, recursive=True)) if not inside(Path(m), base)]
            if not matches:
                yield Source(item, 1, "error", "no file matches this pattern")
            for match in matches:
                yield from _file(Path(match), limits, encoding, lazy)
        elif path.is_dir():
            if (path / "accounts.csv").is_file() and not inside(path, path):
                yield from crm_export(path, limits, encoding)
                continue
            files = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".jsonl") and p.is_file()
            )
            files = [p for p in files if not p.name.endswith((".cases.yaml", ".schema.json")) and not inside(p, path)]
            if not files:
                yield Source(item, 1, "error", "no profile files (*.yaml, *.json, *.jsonl) in this folder")
            for p in files:
                yield from _file(p, limits, encoding, lazy)
        else:
            yield from _file(path, limits, encoding, lazy)


def _literal_base(pattern: str) -> Path:
    """The folder a glob starts from: its leading parts without wildcards."""
    parts = Path(pattern).parts
    literal = []
    for part in parts[:-1]:
        if any(ch in part for ch in "*?["):
            break
        literal.append(part)
    return Path(*literal) if literal else Path(".")


class _Inside:
    """Whether a path found under `root` is (or is under) the excluded folder: a folder between it
    and `root` is that folder (links followed), or it resolves into that folder from outside `root`."""

    def __init__(self, folder: Path | None):
        self.key: tuple[int, int] | None = None
        self.real = ""
        if folder is not None:
            try:
                st = os.stat(folder)
                self.key = (st.st_dev, st.st_ino)
                self.real = os.path.realpath(folder)
            except OSError:
                pass
        self.seen: dict[str, bool] = {}  # a folder's answer, asked once
        self.reals: dict[str, str] = {}  # a folder's real path, worked out once

    def __call__(self, path: Path, root: Path) -> bool:
        if self.key is None:
            return False
        for folder in (path, *path.parents):
            if self._is(folder):
                return True
            if folder == root or str(folder) in ("", "."):
                break
        real, real_root = self._realpath(path), self._realpath(root, folder=True)
        return _under(real, self.real) and not _under(real, real_root)

    def _realpath(self, path: Path, *, folder: bool = False) -> str:
        """os.path.realpath, with each folder's worked out once: a file that is not a link is
        its folder's real path and its name (thousands of profiles share a few folders)."""
        if not folder and not path.is_symlink():
            return os.path.join(self._realpath(path.parent, folder=True), path.name)
        name = str(path)
        if name not in self.reals:
            self.reals[name] = os.path.realpath(path)
        return self.reals[name]

    def _is(self, folder: Path) -> bool:
        name = str(folder)
        if name not in self.seen:
            try:
                st = os.stat(folder)
                self.seen[name] = (st.st_dev, st.st_ino) == self.key
            except OSError:
                self.seen[name] = False
        return self.seen[name]


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _file(path: Path, limits: Limits, encoding: str | None = None, lazy: bool = False) -> Iterator[Source]:
    if path.suffix == ".jsonl":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                yield from _jsonl(handle, str(path), limits)
        except OSError as exc:
            yield Source(str(path), 1, "error", f"cannot read the file: {exc.strerror}")
        except UnicodeDecodeError:
            yield Source(str(path), 1, "error", "the file is not UTF-8 text; save it as UTF-8")
        return
    if path.suffix == ".csv" and path.name == "accounts.csv":
        from .crm import crm_export

        yield from crm_export(path.parent, limits, encoding)
        return
    unread = Source(str(path), 1, "file", None)
    yield unread if lazy else read(unread, limits)


def read(source: Source, limits: Limits = DEFAULT) -> Source:
    """A file `expand` yielded unread as its text (kind "json" or "yaml"), or the error that stops
    it; any other source as it is."""
    if source.kind != "file":
        return source
    path = Path(source.path)
    try:
        text = read_text(path, limits)  # size checked before reading, and the read is bounded
    except UnreadableInput as exc:
        problem = exc.problems[0]
        return Source(str(path), problem.line, "error", problem.message)
    return Source(str(path), 1, "json" if path.suffix == ".json" else "yaml", text)


def decoded(source: Source, limits: Limits = DEFAULT) -> Source:
    """A JSON source as its data, or the error that stops it; any other source as it is. Decoding
    is left to whoever briefs the record (a batch's worker processes), not the reader."""
    if source.kind in ("json", "jsonl"):
        return _json(source.payload, source.path, source.line, limits, one_line=source.kind == "jsonl")
    return source


def _json(text: str, label: str, line: int, limits: Limits, *, one_line: bool = False) -> Source:
    """One JSON record, or the error that stops it; JSON nested too deep is refused, never a crash."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if one_line:
            return Source(label, line, "error", f"invalid JSON: {exc.msg} (column {exc.colno})")
        return Source(label, exc.lineno, "error", f"invalid JSON: {exc.msg}")
    except RecursionError:  # json's parser recurses; a deep enough record would overflow it
        return Source(label, line, "error", too_deep(limits.depth))
    problem = beyond(data, limits)
    if problem:
        return Source(label, line, "error", problem)
    return Source(label, line, "data", data)


def _jsonl(handle: io.TextIOBase, label: str, limits: Limits) -> Iterator[Source]:
    cap = limits.record_bytes
    n = 0
    while True:
        # Read at most cap + 1 characters of a line: an endless line costs no more memory than that.
        line = handle.readline(cap + 1)
        if not line:
            return
        n += 1
        oversize = len(line) > cap and not line.endswith("\n")
        while line and not line.endswith("\n") and len(line) > cap:
            line = handle.readline(cap + 1)  # skip the rest of an oversize line
        # (a character is at most 4 bytes in UTF-8: most lines need no encoding to be measured)
        if oversize or (len(line) * 4 > cap and len(line.encode("utf-8")) > cap):
            yield Source(
                label,
                n,
                "error",
                f"the record is over the limit of {cap:,} bytes; trim it, or {raise_hint('record_bytes')}",
            )
            continue
        if line.strip():
            yield Source(label, n, "jsonl", line)
