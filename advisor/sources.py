"""Where batch profiles come from: YAML/JSON files, folders, globs, JSON Lines (or stdin), and CRM CSV exports.

Every source yields records, one per account, each with a label (file and line) that error
messages name. Limits apply per record, never per input file: a JSON Lines file may hold any
number of accounts, but no line is held in memory beyond the record size limit.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
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
    kind: str  # "yaml" | "json" | "jsonl" (text, decoded by `decoded`) | "data" | "error"
    payload: Any  # YAML or JSON text, a dict, or an error message

    def __post_init__(self) -> None:
        # Every message and index line names the record by this label: a file name with a newline
        # or bytes that are not UTF-8 is shown escaped, on one line, never as a forged second error.
        object.__setattr__(self, "path", printable(self.path))

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}"


def expand(inputs: list[str], limits: Limits = DEFAULT, exclude: Path | None = None) -> Iterator[Source]:
    """Every record named by `inputs`, in a stable order: inputs as given, folders and globs sorted.

    Expanding a folder or a glob never reaches into `exclude` (a batch's output folder): the
    batch must not read what it writes. It is recognised by identity (device and inode), so a link
    to it, or a path through one, is skipped too. A file named on its own is read as named."""
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
                yield from _file(Path(match), limits)
        elif path.is_dir():
            if (path / "accounts.csv").is_file() and not inside(path, path):
                yield from crm_export(path, limits)
                continue
            files = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".jsonl") and p.is_file()
            )
            files = [p for p in files if not p.name.endswith((".cases.yaml", ".schema.json")) and not inside(p, path)]
            if not files:
                yield Source(item, 1, "error", "no profile files (*.yaml, *.json, *.jsonl) in this folder")
            for p in files:
                yield from _file(p, limits)
        else:
            yield from _file(path, limits)


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

    def __call__(self, path: Path, root: Path) -> bool:
        if self.key is None:
            return False
        for folder in (path, *path.parents):
            if self._is(folder):
                return True
            if folder == root or str(folder) in ("", "."):
                break
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        return _under(real, self.real) and not _under(real, real_root)

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


def _file(path: Path, limits: Limits) -> Iterator[Source]:
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
        yield from crm_export(path.parent, limits)
        return
    try:
        text = read_text(path, limits)  # size checked before reading, and the read is bounded
    except UnreadableInput as exc:
        problem = exc.problems[0]
        yield Source(str(path), problem.line, "error", problem.message)
        return
    if path.suffix == ".json":
        yield Source(str(path), 1, "json", text)
        return
    yield Source(str(path), 1, "yaml", text)


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
        if oversize or len(line.encode("utf-8")) > cap:
            yield Source(
                label,
                n,
                "error",
                f"the record is over the limit of {cap:,} bytes; trim it, or {raise_hint('record_bytes')}",
            )
            continue
        if line.strip():
            yield Source(label, n, "jsonl", line)


# --- CRM exports -----------------------------------------------------------------------------
#
# A folder with accounts.csv (required), contacts.csv and interactions.csv (optional), as a CRM
# exports them, joined into profiles by account id. Column mapping (header names, case-insensitive):
#
# accounts.csv      account_id, name, industry, ownership, annual_revenue, portfolio_share, revenue_rank,
#                   brand_influence, government_influence, growth_outlook, stage, position, record_updated,
#                   visit_date, visit_objective, visit_purpose, visit_attendees (contact ids separated by ;)
# contacts.csv      account_id, contact_id, name, title, department, function, level, reports_to,
#                   relationship_strength, stance, insider, contact_degree, via, interests (; separated), last_contact
# interactions.csv  account_id, date, kind, contact_ids (; separated), form, value
#
# and the columns in EXTRA_COLUMNS below (contracts, satisfaction over time, patrons, concerns).
# Empty cells are left out (unknown). Columns not listed above are ignored.

ACCOUNT_FIELDS = ("name", "industry", "ownership", "annual_revenue", "portfolio_share", "revenue_rank",
                  "brand_influence", "government_influence", "stage", "position", "record_updated")  # fmt: skip
NUMBERS = {
    "annual_revenue": float,
    "portfolio_share": float,
    "revenue_rank": int,
    "value": float,
    "contact_degree": int,
}


# Profile fields beyond the basic columns, declared once: file -> column -> (where in the profile,
# how the cell reads). Lists separate items with ";" and an item's parts with "|":
#   accounts.csv  satisfaction          3                                   -> service.satisfaction
#                 satisfaction_history  2026-03-31|4; 2026-06-30|3          -> service.satisfaction_history
#                 contracts             宽带|us|2027-03-31; 手机|中国联通|2027-05-31 -> contracts (service|holder|ends);
#                                       a holder other than us is added under competitors if not there
#   contacts.csv  patron                wang-wu (the contact id of the person who promoted them) -> a patron tie
#                 unhappy_about         报修响应慢                           -> service.concerns, for this contact
EXTRA_COLUMNS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "accounts.csv": {
        "satisfaction": (("service", "satisfaction"), "int"),
        "satisfaction_history": (("service", "satisfaction_history"), "readings"),
        "contracts": (("contracts",), "contracts"),
    },
    "contacts.csv": {
        "patron": (("ties",), "patron"),
        "unhappy_about": (("service", "concerns"), "concern"),
    },
}


def _parts(cell: str) -> list[list[str]]:
    return [[part.strip() for part in item.split("|")] for item in _split(cell)]


def _extra_value(kind: str, cell: str, row: dict[str, str]) -> Any:
    """One EXTRA_COLUMNS cell as the profile holds it; what does not parse is passed on for validation to report."""
    if kind == "int":
        return _number_or_text(cell, int)
    if kind == "readings":
        return [{"date": p[0], "score": _number_or_text(p[1], int) if len(p) > 1 else None} for p in _parts(cell)]
    if kind == "contracts":
        return [{k: v for k, v in zip(("service", "holder", "ends"), p, strict=False) if v} for p in _parts(cell)]
    if kind == "patron":
        return [{"with": cell, "kind": "patron"}]
    return [{"stakeholder": row.get("contact_id"), "about": cell}]  # concern


def _number_or_text(cell: str, kind: type) -> Any:
    try:
        return kind(cell)
    except ValueError:
        return cell


def _extra(row: dict[str, str], file: str, into: dict[str, Any], profile: dict[str, Any]) -> None:
    """Put this row's EXTRA_COLUMNS cells into the record (`into`) or, for account-wide lists, the profile."""
    for column, (path, kind) in EXTRA_COLUMNS[file].items():
        cell = row.get(column, "")
        if not cell:
            continue
        value = _extra_value(kind, cell, row)
        target = profile if path[0] in ("service", "contracts") else into
        for key in path[:-1]:
            target = target.setdefault(key, {})
        if isinstance(value, list):
            target.setdefault(path[-1], []).extend(value)
        else:
            target[path[-1]] = value
    if file == "accounts.csv":  # a competitor named as a contract's holder is a competitor of the account
        names = {c.get("name") for c in profile.get("competitors", [])}
        for contract in profile.get("contracts", []):
            holder = contract.get("holder")
            if holder and holder != "us" and holder not in names:
                profile.setdefault("competitors", []).append({"name": holder})
                names.add(holder)


class _RowTooBig(Exception):
    """A CSV row (or the physical line being read) is over the record size limit."""


class _BoundedLines:
    """The file's lines for csv, never holding more than `cap` bytes of one row: `taken` counts what
    the row being parsed has used (the caller resets it after each row). Past the cap, the rest of
    the row is skipped unread (a quoted field may span lines: up to where its quotes balance) and
    _RowTooBig raised; the next call reads on from the next row. `count`: physical lines read."""

    def __init__(self, handle: io.TextIOBase, cap: int):
        self.handle, self.cap = handle, cap
        self.taken = self.quotes = self.count = 0
        self.start = 1  # the physical line the current row began on

    def __iter__(self) -> _BoundedLines:
        return self

    def next_row(self) -> None:
        self.taken = self.quotes = 0

    def skip_row(self) -> None:
        """Skip the rest of a row csv refused: up to where its quotes balance."""
        while self.quotes % 2 and self._read():
            pass
        self.next_row()

    def _read(self) -> str:
        chunk = self.handle.readline(self.cap + 1)
        self.quotes += chunk.count('"')
        if chunk.endswith("\n"):
            self.count += 1
        return chunk

    def __next__(self) -> str:
        if not self.taken:
            self.start = self.count + 1
            self.quotes = 0
        line = self._read()
        if not line:
            raise StopIteration
        if not line.endswith("\n"):
            self.count += 1  # the last line, without a newline (or a chunk of a long one: undone below)
        self.taken += len(line.encode("utf-8"))
        if self.taken <= self.cap:
            return line
        if not line.endswith("\n"):
            self.count -= 1
        while line and (not line.endswith("\n") or self.quotes % 2):
            line = self._read()  # skip the rest of the row, unread
        if not line:
            self.count += 1
        self.next_row()
        raise _RowTooBig


def _rows(path: Path, limits: Limits = DEFAULT) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Each row of a CRM CSV file with its line, or in its place the error that stops that row:
    a row over the record size limit (never read whole) or one csv cannot parse."""
    if not path.is_file():
        return
    cap = limits.record_bytes
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = _BoundedLines(handle, cap)
        fields: list[str] | None = None
        while True:
            reader = csv.reader(lines)
            try:
                for values in reader:
                    lines.next_row()
                    if fields is None:
                        fields = [f.strip().lower() for f in values]
                    elif values:  # csv.DictReader's way: blank rows are skipped, short rows padded
                        yield (
                            lines.count,
                            {k: (values[i] if i < len(values) else "").strip() for i, k in enumerate(fields) if k},
                        )
                return
            except _RowTooBig:
                yield (
                    lines.start,
                    f"the row is over the limit of {cap:,} bytes; trim it, or {raise_hint('record_bytes')}",
                )
            except csv.Error as exc:
                lines.skip_row()
                yield lines.start, f"cannot read this row: {exc}"
            lines.next_row()
            if fields is None:
                return  # no header to read the rest by


def _cell(row: dict[str, str], key: str) -> Any:
    value = row.get(key, "")
    if value == "":
        return None
    kind = NUMBERS.get(key)
    if kind is None:
        return value
    try:
        number = kind(value)
    except ValueError:
        return value  # left for validation to report with the record's position
    return number if math.isfinite(number) else value  # "inf", "nan": not numbers a profile may hold


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def crm_export(folder: Path, limits: Limits = DEFAULT) -> Iterator[Source]:
    """Profiles joined from a CRM export; each labelled with its accounts.csv line."""
    accounts_path = folder / "accounts.csv"
    try:
        contacts: dict[str, list[dict]] = {}
        account_wide: dict[str, dict[str, Any]] = {}  # what contacts.csv says about the account (concerns)
        for line, row in _rows(folder / "contacts.csv", limits):
            if isinstance(row, str):
                yield Source(str(folder / "contacts.csv"), line, "error", row)
                continue
            person = {
                "id": row.get("contact_id"), "name": row.get("name"), "title": row.get("title"),
                "department": row.get("department"), "function": row.get("function"), "level": row.get("level"),
                "reports_to": _cell(row, "reports_to"),
                "relationship": {k: v for k, v in (("strength", _cell(row, "relationship_strength")), ("stance", _cell(row, "stance"))) if v},
                "insider": _cell(row, "insider") or "none",
                "contact": {k: v for k, v in (("degree", _cell(row, "contact_degree") or 1), ("via", _cell(row, "via"))) if v},
                "interests": _split(row.get("interests")),
                "last_contact": _cell(row, "last_contact"),
            }  # fmt: skip
            person = {k: v for k, v in person.items() if v not in (None, {}, [])}
            _extra(row, "contacts.csv", person, account_wide.setdefault(row.get("account_id", ""), {}))
            contacts.setdefault(row.get("account_id", ""), []).append(person)
        interactions: dict[str, list[dict]] = {}
        for line, row in _rows(folder / "interactions.csv", limits):
            if isinstance(row, str):
                yield Source(str(folder / "interactions.csv"), line, "error", row)
                continue
            item = {"date": row.get("date"), "kind": row.get("kind"), "with": _split(row.get("contact_ids")),
                    "form": row.get("form") or "", "value": _cell(row, "value")}  # fmt: skip
            interactions.setdefault(row.get("account_id", ""), []).append(
                {k: v for k, v in item.items() if v not in (None, "")}
            )
        for line, row in _rows(accounts_path, limits):
            if isinstance(row, str):
                yield Source(str(accounts_path), line, "error", row)
                continue
            account = {"id": row.get("account_id")}
            account.update({k: v for k in ACCOUNT_FIELDS if (v := _cell(row, k)) is not None})
            if row.get("growth_outlook"):
                account["potential"] = {"growth_outlook": row["growth_outlook"]}
            profile: dict[str, Any] = {"account": account, **account_wide.get(row.get("account_id", ""), {})}
            _extra(row, "accounts.csv", account, profile)
            people = contacts.get(row.get("account_id", ""), [])
            if people:
                profile["stakeholders"] = people
            history = interactions.get(row.get("account_id", ""), [])
            if history:
                profile["interactions"] = history
            if row.get("visit_date"):
                profile["visit"] = {"date": row["visit_date"], "objective": row.get("visit_objective") or "-",
                                    "attendees": _split(row.get("visit_attendees"))}  # fmt: skip
                if row.get("visit_purpose"):
                    profile["visit"]["purpose"] = row["visit_purpose"]
            size = len(json.dumps(profile, ensure_ascii=False).encode("utf-8"))
            if size > limits.record_bytes:
                yield Source(
                    str(accounts_path),
                    line,
                    "error",
                    f"the joined profile is over the limit of {limits.record_bytes:,} bytes; "
                    f"{raise_hint('record_bytes')}",
                )
                continue
            yield Source(str(accounts_path), line, "data", profile)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        yield Source(str(accounts_path), 1, "error", f"cannot read the CRM export: {exc}")
