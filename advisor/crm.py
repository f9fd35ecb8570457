"""CRM exports: the one table that maps CSV columns (and their aliases) to profile fields, and the join into profiles.

A folder with accounts.csv (required), contacts.csv and interactions.csv (optional) is read as a
CRM exports it (see csvfile.py for encodings, separators and quotes) and joined by account id into
one profile per account row. Headers are matched after normalising case, spaces, `_` and `-`, by a
column's name or one of its aliases; a header close to a column but not one is an error with a
did-you-mean (it is never mapped by similarity alone); other columns are listed once and ignored.
Empty cells are left out (unknown). No row is dropped without a positioned warning, and each file's
rows read, skipped and why are counted. The README's CRM table is rendered from COLUMNS (a test
checks it), so a new column is one line here, and a new file (rows joined into a profile list, even a
nested one like service.issues) one Table line and its columns.
"""

from __future__ import annotations

import difflib
import json
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .csvfile import SEPARATOR_NAMES, Bad, Cell, CsvFile, Row
from .errors import Problem
from .limits import DEFAULT, Limits, raise_hint
from .sources import Source
from .yamlio import Located, Path_


@dataclass(frozen=True)
class Table:
    """One file of an export."""

    file: str
    into: str  # "account": each row is an account; else the profile list its rows join by account_id (dotted: "service.issues")
    noun: str  # what one row is, in messages


@dataclass(frozen=True)
class Column:
    """One column of one file, and the profile field its cells fill."""

    file: str
    name: str  # the header, as documented
    field: str  # dotted, from the profile (accounts.csv) or from the list item; "" for the join key
    kind: str = "text"  # text | number | integer | list (values separated by ;) | records | patron | concern
    parts: tuple[tuple[str, str], ...] = ()  # records: each ;-separated item's |-separated parts (name, kind)
    required: bool = False  # the header must name it
    aliases: tuple[str, ...] = ()  # other headers CRMs use for it (matched after normalising)
    default: str | None = None  # an empty cell's value, when its group is there
    doc: str = ""


TABLES = (
    Table("accounts.csv", "account", "account"),
    Table("contacts.csv", "stakeholders", "contact"),
    Table("interactions.csv", "interactions", "interaction"),
)
ACCOUNTS = TABLES[0]
JOIN = "account_id"
# A group of accounts.csv columns made only when this field of it is filled (a visit needs its date).
ANCHORS = {"visit": "date"}
LIST_SEPARATOR = ";"
PART_SEPARATOR = "|"  # the parts of one item of a records column: 2026-03-31|4
# A contact row's fields that belong to the account, not the person, with the key naming the person:
# what someone is unhappy about (unhappy_about) is one of the account's service.concerns.
LIFTED = {"stakeholders": (("service", "concerns"), "stakeholder")}

_ACCOUNT_ID = ("account number", "account no", "customer id", "customer number", "客户编号", "客户ID", "客户代码")  # fmt: skip

# fmt: off
COLUMNS = (
    Column("accounts.csv", "account_id", "account.id", required=True, aliases=_ACCOUNT_ID),
    Column("accounts.csv", "name", "account.name", required=True, aliases=("account name", "customer name", "company", "company name", "客户名称", "公司名称", "单位名称")),
    Column("accounts.csv", "industry", "account.industry", required=True, aliases=("sector", "行业")),
    Column("accounts.csv", "ownership", "account.ownership", aliases=("ownership type", "所有制", "企业性质")),
    Column("accounts.csv", "annual_revenue", "account.annual_revenue", "number", aliases=("revenue", "年收入", "年度收入")),
    Column("accounts.csv", "portfolio_share", "account.portfolio_share", "number", aliases=("share of portfolio", "收入占比")),
    Column("accounts.csv", "revenue_rank", "account.revenue_rank", "integer", aliases=("rank", "收入排名")),
    Column("accounts.csv", "brand_influence", "account.brand_influence", aliases=("品牌影响力",)),
    Column("accounts.csv", "government_influence", "account.government_influence", aliases=("政府影响力",)),
    Column("accounts.csv", "growth_outlook", "account.potential.growth_outlook", aliases=("outlook", "增长前景")),
    Column("accounts.csv", "stage", "account.stage", required=True, aliases=("account stage", "relationship stage", "客户阶段", "阶段")),
    Column("accounts.csv", "position", "account.position", required=True, aliases=("our position", "竞争地位")),
    Column("accounts.csv", "record_updated", "account.record_updated", aliases=("last updated", "updated on", "更新日期")),
    Column("accounts.csv", "visit_date", "visit.date", aliases=("next visit", "拜访日期")),
    Column("accounts.csv", "visit_objective", "visit.objective", default="-", aliases=("visit goal", "拜访目标")),
    Column("accounts.csv", "visit_purpose", "visit.purpose", aliases=("拜访目的",)),
    Column("accounts.csv", "visit_attendees", "visit.attendees", "list", aliases=("attendees", "拜访对象")),
    Column("accounts.csv", "satisfaction", "service.satisfaction", "integer", aliases=("satisfaction score", "满意度")),
    Column("accounts.csv", "satisfaction_history", "service.satisfaction_history", "records", parts=(("date", "text"), ("score", "integer")), aliases=("satisfaction over time", "满意度历史")),
    Column("accounts.csv", "contracts", "contracts", "records", parts=(("service", "text"), ("holder", "text"), ("ends", "text")), aliases=("合同",)),
    Column("contacts.csv", "account_id", "", required=True, aliases=_ACCOUNT_ID),
    Column("contacts.csv", "contact_id", "id", required=True, aliases=("person id", "联系人编号", "联系人ID")),
    Column("contacts.csv", "name", "name", required=True, aliases=("contact name", "full name", "姓名", "联系人姓名")),
    Column("contacts.csv", "title", "title", required=True, aliases=("job title", "职务", "职位")),
    Column("contacts.csv", "department", "department", required=True, aliases=("dept", "部门")),
    Column("contacts.csv", "function", "function", required=True, aliases=("职能",)),
    Column("contacts.csv", "level", "level", required=True, aliases=("seniority", "层级", "级别")),
    Column("contacts.csv", "reports_to", "reports_to", aliases=("manager", "上级")),
    Column("contacts.csv", "relationship_strength", "relationship.strength", aliases=("relationship", "关系强度")),
    Column("contacts.csv", "stance", "relationship.stance", aliases=("attitude", "态度", "立场")),
    Column("contacts.csv", "insider", "insider", aliases=("内线",)),
    Column("contacts.csv", "contact_degree", "contact.degree", "integer", aliases=("degree", "接触层级")),
    Column("contacts.csv", "via", "contact.via", aliases=("introduced by", "引荐人")),
    Column("contacts.csv", "interests", "interests", "list", aliases=("hobbies", "兴趣", "爱好")),
    Column("contacts.csv", "last_contact", "last_contact", aliases=("last contacted", "last contact date", "最近联系日期")),
    Column("contacts.csv", "patron", "ties", "patron", aliases=("promoted by", "提拔人")),
    Column("contacts.csv", "unhappy_about", "service.concerns", "concern", aliases=("complaint", "不满")),
    Column("interactions.csv", "account_id", "", required=True, aliases=_ACCOUNT_ID),
    Column("interactions.csv", "date", "date", required=True, aliases=("interaction date", "日期")),
    Column("interactions.csv", "kind", "kind", required=True, aliases=("type", "interaction type", "类型")),
    Column("interactions.csv", "contact_ids", "with", "list", aliases=("contacts", "with", "participants", "参与人")),
    Column("interactions.csv", "form", "form", aliases=("subject", "description", "形式", "内容")),
    Column("interactions.csv", "value", "value", "number", aliases=("amount", "金额")),
)
# fmt: on
SIMILAR = 0.8  # how close an unknown header must be to a column's name to be taken for a misspelling


def normal(header: str) -> str:
    """A header as matched: NFKC (full-width letters), case folded, spaces, `_`, `-` and a BOM dropped."""
    text = unicodedata.normalize("NFKC", header).casefold()
    return "".join(ch for ch in text if ch not in " _-\ufeff\t")


def names(file: str) -> dict[str, Column]:
    """Every header accepted in `file`, normalised, and the column it names."""
    return {normal(h): c for c in COLUMNS if c.file == file for h in (c.name, *c.aliases)}


CELL_BAR = "\\|"  # a `|` inside a Markdown table cell


def columns_markdown() -> str:
    """The README's table of CRM columns, rendered from COLUMNS."""
    lines = ["| file | column | profile field | also read as |", "|---|---|---|---|"]
    for c in COLUMNS:
        table = next(t for t in TABLES if t.file == c.file)
        target = (
            c.field if table.into == "account" else f"{table.into}[].{c.field}" if c.field else "(joins the account)"
        )
        kind = {
            "number": " (number)",
            "integer": " (whole number)",
            "list": " (`;`-separated)",
            "records": f" (`;`-separated `{CELL_BAR.join(name for name, _ in c.parts)}`)",
            "patron": " (a contact id: a patron tie)",
            "concern": " (what they are unhappy about: `service.concerns[]`)",
        }.get(c.kind, "")
        extra = " **required**" if c.required else ""
        extra += f"; empty: `{c.default}`" if c.default is not None else ""
        lines.append(f"| {c.file} | `{c.name}`{extra} | `{target}`{kind} | {', '.join(c.aliases)} |")
    return "\n".join(lines) + "\n"


# --- positions ----------------------------------------------------------------------------------


@dataclass
class Cells(Located):
    """A joined profile with the file, line and column of every cell: a problem in a contact is
    reported in contacts.csv, at the cell."""

    files: dict[Path_, str] = field(default_factory=dict)  # ("stakeholders", 3) -> that row's file

    def problem(
        self, loc: Path_, message: str, *, key: bool = False, rule_id: str = "", level: str = "error"
    ) -> Problem:
        line, col = self.where(loc, key=key)
        loc = tuple(loc)
        path = next((self.files[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in self.files), self.path)
        return Problem(path, line, col, level, message, rule_id)


def located(source: Source) -> Located:
    """A CRM record as a document whose problems name their cells."""
    at, files = source.cells or ({}, {})
    return Cells(
        source.path, source.payload, {(): (source.line, 1), ("account",): (source.line, 1), **at}, {}, files=files
    )


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _Read:
    """One file of the export as it is read: its rows by column, and its tally."""

    table: Table
    path: Path
    csv: CsvFile | None = None
    rows: Iterator[Row | Bad] | None = None
    mapping: list[Column | None] = field(default_factory=list)
    plan: list[tuple[Path_, Column] | None] = field(default_factory=list)  # per cell: field path and column, or None
    count: int = 0  # rows read, not the header (unreadable ones too)
    unreadable: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    joins: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # account id -> (line, col) of each row

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def tally(self) -> dict[str, Any]:
        return {"rows": self.count, "unreadable": self.unreadable, "skipped": sum(self.skipped.values()),
                "why": dict(sorted(self.skipped.items()))}  # fmt: skip


def _open(read: _Read, encoding: str | None, limits: Limits) -> Iterator[Source]:
    """Open one file and read its header: the problems that stop the export are errors, a guessed
    encoding, an empty file and unused columns are warnings."""
    where = str(read.path)
    read.csv = csv = CsvFile(read.path, encoding, limits.record_bytes)
    if csv.problem:
        yield Source(where, 1, "error", csv.problem)
        return
    if csv.doubt:
        yield Source(where, 1, "warning", csv.doubt)
    read.rows = csv.rows()
    header = next(read.rows, None)
    if header is None:
        if read.table is ACCOUNTS:
            yield Source(where, 1, "error", "the file is empty; it needs a header row naming its columns")
        else:
            yield Source(where, 1, "warning", f"no {read.table.noun}s (the file is empty)")
        return
    if isinstance(header, Bad):
        yield Source(where, header.line, "error", f"cannot read the header: {header.message}", col=header.col)
        return
    csv.width = len(header.cells)
    yield from _map_header(read, header.cells)
    read.plan = [(tuple(c.field.split(".")) if c.field else (), c) if c else None for c in read.mapping]


def _map_header(read: _Read, header: list[Cell]) -> Iterator[Source]:
    where, accepted = str(read.path), names(read.table.file)
    used: dict[str, Cell] = {}
    unused: list[Cell] = []
    meant: set[str] = set()  # columns a misspelt header was taken for: reported there, not again as missing
    for cell in header:
        key = normal(cell.text)
        column = accepted.get(key)
        read.mapping.append(column)
        if not key:
            continue
        if column is None:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=SIMILAR)
            if close:
                meant.add(accepted[close[0]].name)
                message = f"unknown column '{cell.text.strip()}'; did you mean '{accepted[close[0]].name}'? Rename the header (the README's CRM table lists every column and alias)"  # fmt: skip
                yield Source(where, cell.line, "error", message, col=cell.col)
            else:
                unused.append(cell)
        elif column.name in used:
            first = used[column.name]
            message = f"columns '{first.text.strip()}' (column {first.col}) and '{cell.text.strip()}' both mean {column.name}; keep one"  # fmt: skip
            yield Source(where, cell.line, "error", message, col=cell.col)
        else:
            used[column.name] = cell
    missing = [
        c.name
        for c in COLUMNS
        if c.file == read.table.file and c.required and c.name not in used and c.name not in meant
    ]
    if missing:
        sep = read.csv.separator if read.csv else ","
        got = ", ".join(f"'{c.text.strip()}'" for c in header[:8]) + (", ..." if len(header) > 8 else "")
        message = f"required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)} (the header, read as {SEPARATOR_NAMES[sep]}-separated, has {got})"  # fmt: skip
        yield Source(where, header[0].line, "error", message)
    if unused:
        shown = ", ".join(f"'{c.text.strip()}'" for c in unused)
        yield Source(where, unused[0].line, "warning", f"column{'s' if len(unused) > 1 else ''} not read by the advisor: {shown}", col=unused[0].col)  # fmt: skip


def _value(text: str, kind: str, parts: tuple[tuple[str, str], ...] = ()) -> Any:
    """A cell's value: numbers as numbers when they are finite (else the text, for validation to
    report), lists split on `;`, records into their parts, and an empty cell None."""
    if kind == "list":
        items = [v.strip() for v in text.split(LIST_SEPARATOR) if v.strip()]
        return items or None
    if text == "":
        return None
    if kind == "records":
        records = []
        for item in text.split(LIST_SEPARATOR):
            if item.strip():
                values = [v.strip() for v in item.split(PART_SEPARATOR)]
                records.append({name: _value(v, how) for (name, how), v in zip(parts, values, strict=False) if v})
        return records or None
    if kind == "patron":
        return [{"with": text, "kind": "patron"}]
    if kind == "concern":
        return [{"about": text}]
    if kind in ("number", "integer"):
        try:
            number = float(text) if kind == "number" else int(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text  # "inf", "nan": not numbers a profile may hold
    return text


def _beyond_header(read: _Read, row: Row) -> Iterator[Source]:
    """A warning for cells past the header's last column: most often a separator inside a value, unquoted."""
    extra = [c for c in row.cells[len(read.plan) :] if c.text.strip()]
    if extra:
        yield Source(str(read.path), extra[0].line, "warning", f"{len(row.cells)} cells where the header has {len(read.plan)}; the cells past the last column are not read (a {SEPARATOR_NAMES[read.csv.separator if read.csv else ',']} inside a value needs quotes around the value)", col=extra[0].col)  # fmt: skip


def _record(read: _Read, row: Row) -> tuple[dict[str, Any], dict[Path_, tuple[int, int]], Cell | None]:
    """A row as nested data, each field's (line, col), and its join cell (account id)."""
    data: dict[str, Any] = {}
    at: dict[Path_, tuple[int, int]] = {}
    join = None
    for cell, plan in zip(row.cells, read.plan, strict=False):
        if plan is None:
            continue
        parts, column = plan
        if not parts:
            join = cell
            continue
        at[parts] = (cell.line, cell.col)
        value = _value(cell.text.strip(), column.kind, column.parts)
        if value is not None:
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    return data, at, join


def crm_export(folder: Path, limits: Limits = DEFAULT, encoding: str | None = None) -> Iterator[Source]:
    """Profiles joined from a CRM export, each labelled with its accounts.csv line; then a warning
    for each row that joined no account, and each file's tally (kind "tally")."""
    reads = [_Read(t, folder / t.file) for t in TABLES if t is ACCOUNTS or (folder / t.file).is_file()]
    stop = False
    for read in reads:
        for source in _open(read, encoding, limits):
            stop = stop or source.kind == "error"
            yield source
    if stop:
        return  # a header or an encoding wrong: nothing read from this export would be right
    joined: dict[str, dict[str, list]] = {}  # list name -> account id -> [(item, positions, line)]
    totals: dict[str, dict[str, int]] = {}
    for read in reads[1:]:
        if read.rows is None:
            continue
        into, cap = read.table.into, getattr(limits, read.table.into, None)
        groups, counts = joined.setdefault(into, {}), totals.setdefault(into, {})
        for row in read.rows:
            read.count += 1
            if isinstance(row, Bad):
                read.unreadable += 1
                yield Source(str(read.path), row.line, "error", row.message, col=row.col)
                continue
            yield from _beyond_header(read, row)
            item, at, join = _record(read, row)
            key = join.text.strip() if join else ""
            counts[key] = counts.get(key, 0) + 1
            read.joins.setdefault(key, []).append((row.line, join.col if join else 1))
            if cap is None or counts[key] <= cap:  # beyond the cap, counted but not held
                groups.setdefault(key, []).append((item, at, row.line))
    accounts = reads[0]
    seen: set[str] = set()
    for source in _accounts(accounts, folder, joined, totals, limits, seen):
        yield source
    for read in reads:
        if read is not accounts and read.rows is not None:
            yield from _orphans(read, seen, accounts.unreadable)
        if read.rows is not None and read.count == 0:
            yield Source(str(read.path), 1, "warning", f"no {read.table.noun}s (header only)")
    for read in reads:
        if read.rows is not None:
            yield Source(str(read.path), 0, "tally", read.tally())


def _orphans(read: _Read, seen: set[str], unreadable: int) -> Iterator[Source]:
    """One warning per row whose account is not in accounts.csv, in the file's order."""
    where = "not in accounts.csv, or on a row of it that could not be read" if unreadable else "not in accounts.csv"
    lost = sorted((line, col, key) for key, rows in read.joins.items() if key not in seen for line, col in rows)
    for line, col, key in lost:
        why = "no account id" if not key else "unknown account"
        read.skip(why)
        what = f"the {read.table.noun} on this line has no account_id" if not key else f"unknown account '{key}' ({where})"  # fmt: skip
        yield Source(str(read.path), line, "warning", f"{what}; the {read.table.noun} is skipped", col=col)


def _accounts(
    read: _Read,
    folder: Path,
    joined: dict[str, dict[str, list]],
    totals: dict[str, dict[str, int]],
    limits: Limits,
    seen: set[str],
) -> Iterator[Source]:
    where = str(read.path)
    paths = [str(folder / t.file) for t in TABLES[1:]]
    assert read.rows is not None
    for row in read.rows:
        read.count += 1
        if isinstance(row, Bad):
            read.unreadable += 1
            yield Source(where, row.line, "error", row.message, col=row.col)
            continue
        yield from _beyond_header(read, row)
        profile, at, _ = _record(read, row)
        account_id = profile.get("account", {}).get("id", "")
        seen.add(account_id)
        notes = list(_anchor(profile, at, where, row.line))
        yield from notes
        for column in COLUMNS:
            if column.file == ACCOUNTS.file and column.default is not None:
                group, _, name = column.field.rpartition(".")
                node = profile.get(group) if group else profile
                if isinstance(node, dict) and name not in node:
                    node[name] = column.default
        files: dict[Path_, str] = {}
        over = None
        for table, path in zip(TABLES[1:], paths, strict=True):
            total = totals.get(table.into, {}).get(account_id, 0)
            cap = getattr(limits, table.into, None)
            if cap is not None and total > cap:
                over = f"{total:,} {table.noun}s in {table.file} for this account, over the limit of {cap:,}; keep the ones that matter, or {raise_hint(table.into)}"  # fmt: skip
                break
            items = joined.get(table.into, {}).get(account_id, [])
            if items:
                *parents, name = table.into.split(".")
                node = profile
                for part in parents:
                    node = node.setdefault(part, {})
                node[name] = [item for item, _, _ in items]
                for i, (item, item_at, line) in enumerate(items):
                    here = (*parents, name, i)
                    files[here] = path
                    at[here] = (line, 1)
                    at.update({(*here, *k): v for k, v in item_at.items()})
                    _lift(profile, table.into, item, item_at, path, at, files)
        if over:
            yield Source(where, row.line, "error", over)
            continue
        _holders_as_competitors(profile)
        size = len(json.dumps(profile, ensure_ascii=False).encode("utf-8"))
        if size > limits.record_bytes:
            problem = f"the joined profile is over the limit of {limits.record_bytes:,} bytes; {raise_hint('record_bytes')}"  # fmt: skip
            yield Source(where, row.line, "error", problem)
            continue
        yield Source(where, row.line, "data", profile, cells=(at, files))


def _anchor(profile: dict[str, Any], at: dict[Path_, tuple[int, int]], where: str, line: int) -> Iterator[Source]:
    """A group without its anchor (a visit without a date) is left out, with a warning if it held anything."""
    for group, anchor in ANCHORS.items():
        values = profile.get(group)
        if values is not None and anchor not in values:
            del profile[group]
            first = min(at.get((group, k), (line, 1)) for k in values)
            yield Source(where, first[0], "warning", f"{group} details are filled but not the {group}'s {anchor}; no {group} is read for this account", col=first[1])  # fmt: skip


def _lift(
    profile: dict[str, Any],
    into: str,
    item: dict[str, Any],
    item_at: dict[Path_, tuple[int, int]],
    path: str,
    at: dict[Path_, tuple[int, int]],
    files: dict[Path_, str],
) -> None:
    """Move a row's account-wide field (LIFTED) from the item to the profile, naming the row's person,
    with its cell's position and file."""
    if into not in LIFTED:
        return
    (group, name), key = LIFTED[into]
    entries = item.get(group, {}).pop(name, None)
    if item.get(group) == {}:
        del item[group]
    if not entries:
        return
    target = profile.setdefault(group, {}).setdefault(name, [])
    for entry in entries:
        here = (group, name, len(target))
        target.append({key: item.get("id"), **entry})
        at[here] = item_at.get((group, name), at.get((), (1, 1)))
        files[here] = path


def _holders_as_competitors(profile: dict[str, Any]) -> None:
    """A contract's holder other than us is a competitor of the account: listed if it is not yet."""
    names = {c.get("name") for c in profile.get("competitors", [])}
    for contract in profile.get("contracts", []):
        holder = contract.get("holder")
        if holder and holder != "us" and holder not in names:
            profile.setdefault("competitors", []).append({"name": holder})
            names.add(holder)
