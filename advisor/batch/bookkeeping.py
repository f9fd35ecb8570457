"""A batch's per-account bookkeeping, kept in an SQLite file in the run's work folder rather than in
memory, so the main process holds the same however many accounts there are: what pass 1 found for
each record (in input order), the accounts' portfolio positions, which accounts --resume may skip,
what an earlier run finished (its index and journal, which a run over a full folder reads), and the
lists portfolio.md shows (every account, handed to its template as sequences read from the file).

A scratch file, not a database anyone shares: no rollback journal and no flush to disk (the work
folder goes with the run; a killed run's is removed by the next, see journal.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..portfolio import Position, positions
from .journal import earlier_entries

SHOWN_AT_ONCE = 64  # portfolio.md's items added in one statement
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=True).encode  # made once, not per item
_decode = json.JSONDecoder().raw_decode  # (item, end): what we wrote has no space around it

SCHEMA = """
CREATE TABLE records (          -- what pass 1 found, one row per item it yielded, in input order
    place INTEGER PRIMARY KEY,  -- the item's place in the input order (the index follows it)
    kind TEXT NOT NULL,         -- 'ok' (a valid profile, spilled), 'error' or 'note'
    source TEXT,
    id TEXT,
    revenue REAL,               -- for ranking (SQLite keeps no sign of zero: -0.0 reads back as 0.0)
    exact TEXT,                 -- the revenue as Python wrote it (repr), for the shares
    detail TEXT                 -- an error's lines, or a note as JSON
);
CREATE INDEX valid_ids ON records (id) WHERE kind = 'ok';
CREATE TABLE positions (id TEXT PRIMARY KEY, share TEXT, rank INTEGER, class TEXT) WITHOUT ROWID;  -- share: repr
CREATE TABLE unchanged (place INTEGER PRIMARY KEY);  -- accounts --resume skips
CREATE TABLE earlier (id TEXT PRIMARY KEY, entry TEXT NOT NULL) WITHOUT ROWID;  -- an earlier run's
CREATE TABLE shown (list TEXT NOT NULL, key INTEGER NOT NULL, text TEXT, json TEXT);  -- portfolio.md's lists:
CREATE INDEX shown_order ON shown (list, key);  -- a text as it is, anything else as JSON (floats exact, -0.0 too)
"""


@dataclass(frozen=True)
class Account:
    """A valid record on its way through pass 2."""

    place: int
    source: str
    id: str
    position: Position | None
    unchanged: bool


class Bookkeeping:
    """The run's bookkeeping file (see the module's docstring); `close` before the work folder goes."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;" + SCHEMA)
        self.accounts = 0  # accounts with a known revenue: each Position's `accounts`
        self._places = 0
        self._shown: list[tuple[str, int, str | None, str | None]] = []  # added, not yet in the file

    def close(self) -> None:
        self._db.close()

    # --- an earlier run --------------------------------------------------------------------------

    def read_earlier(self, out: Path) -> None:
        """Take in what an earlier run in OUT finished: its index, then the journal of an interrupted run."""
        for account_id, text in earlier_entries(out):  # kept as read: checked JSON, parsed again when asked
            if text is None:  # "writing": its outputs were being replaced when the run stopped
                self._db.execute("DELETE FROM earlier WHERE id = ?", (account_id,))
            else:
                self._db.execute("INSERT OR REPLACE INTO earlier VALUES (?, ?)", (account_id, text))

    def has_earlier(self) -> bool:
        return self._db.execute("SELECT 1 FROM earlier LIMIT 1").fetchone() is not None

    def earlier(self, account_id: str) -> dict[str, Any] | None:
        """The entry an earlier run finished for this account, if any."""
        row = self._db.execute("SELECT entry FROM earlier WHERE id = ?", (account_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # --- pass 1 ------------------------------------------------------------------------------------

    def add(self, kind: str, source: str | None, account_id: str | None = None, revenue: float | None = None,
            detail: str | None = None) -> int:  # fmt: skip
        """Record what pass 1 found for the next item of the input; its place."""
        place = self._places
        exact = None if revenue is None else repr(revenue)
        self._db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (place, kind, source, account_id, revenue, exact, detail),
        )
        self._places += 1
        return place

    def valid_source(self, account_id: str) -> str | None:
        """Where the valid profile with this account id came from, if one came already."""
        row = self._db.execute("SELECT source FROM records WHERE id = ? AND kind = 'ok'", (account_id,)).fetchone()
        return row[0] if row else None

    def refused(self) -> Iterator[tuple[int, str, str | None, str | None, str]]:
        """The errors and notes (place, kind, source, id, detail), in input order."""
        return self._db.execute("SELECT place, kind, source, id, detail FROM records WHERE kind != 'ok' ORDER BY place")

    def count(self, kind: str) -> int:
        return self._db.execute("SELECT count(*) FROM records WHERE kind = ?", (kind,)).fetchone()[0]

    # --- the portfolio -----------------------------------------------------------------------------

    def tier(self) -> None:
        """Every valid account's position among those with a known revenue (portfolio.positions),
        streamed from the file in ranking order."""
        known = "FROM records WHERE kind = 'ok' AND revenue IS NOT NULL"

        def ranked() -> Iterator[tuple[float, str]]:
            for exact, account_id in self._db.execute(f"SELECT exact, id {known} ORDER BY revenue DESC, id"):  # noqa: S608 - our own text
                yield float(exact), account_id

        total = sum(revenue for revenue, _ in ranked())  # in the order portfolio.tiers adds them
        self.accounts = self._db.execute(f"SELECT count(*) {known}").fetchone()[0]  # noqa: S608 - our own text
        placed = positions(ranked(), total, self.accounts)
        self._db.executemany(
            "INSERT INTO positions VALUES (?, ?, ?, ?)",
            ((acc, repr(p.share), p.rank, p.portfolio_class) for acc, p in placed),
        )

    # --- pass 2 ------------------------------------------------------------------------------------

    def keep(self, places: Iterable[int]) -> None:
        """Mark these accounts as unchanged since the earlier run: --resume skips them."""
        self._db.executemany("INSERT INTO unchanged VALUES (?)", ((p,) for p in places))

    def count_kept(self) -> int:
        return self._db.execute("SELECT count(*) FROM unchanged").fetchone()[0]

    def valid(self, *, deciding: bool = False) -> Iterator[Account]:
        """Every valid account, in input order (the spill's order), with its position and whether
        it is skipped. Read as it goes: two of these may be open at once. `deciding`: while `keep`
        is being told which to skip (every account reads as not skipped; the table being written
        is not read)."""
        kept = "0" if deciding else "u.place IS NOT NULL"
        join = "" if deciding else " LEFT JOIN unchanged u ON u.place = r.place"
        rows = self._db.execute(
            f"SELECT r.place, r.source, r.id, p.share, p.rank, p.class, {kept} FROM records r"  # noqa: S608 - our own text
            f" LEFT JOIN positions p ON p.id = r.id{join} WHERE r.kind = 'ok' ORDER BY r.place"
        )
        for place, source, account_id, share, rank, cls, unchanged in rows:
            position = Position(float(share), rank, cls, self.accounts) if rank is not None else None
            yield Account(place, source, account_id, position, bool(unchanged))

    # --- what portfolio.md lists -------------------------------------------------------------------

    def show(self, name: str, item: Any, key: int = 0) -> None:
        """Add an item (a text, or anything JSON can write) to the list `name`; a list reads back by
        key, then in the order added."""
        row = (name, key, item, None) if type(item) is str else (name, key, None, _encode(item))
        self._shown.append(row)
        if len(self._shown) == SHOWN_AT_ONCE:
            self._store_shown()

    def shown(self, name: str, shape: Callable[[Any], Any] | None = None) -> Rows:
        """The list `name` as a sequence read from the file, each item passed through `shape`."""
        self._store_shown()
        return Rows(self._db, name, shape)

    def _store_shown(self) -> None:
        self._db.executemany("INSERT INTO shown VALUES (?, ?, ?, ?)", self._shown)
        self._shown.clear()


class Rows(Sequence):
    """A list kept in the bookkeeping file, for a template: sized and read again at each loop (so
    `if`, `|length`, `for ... else`, `[0]`, `|first`, `|last` and `|reverse` all work as on a list),
    never held whole. Complete once made: nothing is added while a template reads it."""

    def __init__(self, db: sqlite3.Connection, name: str, shape: Callable[[Any], Any] | None):
        self._db, self._name, self._shape = db, name, shape or (lambda item: item)
        self._length = db.execute("SELECT count(*) FROM shown WHERE list = ?", (name,)).fetchone()[0]

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Any]:
        return self._read("ORDER BY key, rowid")

    def __reversed__(self) -> Iterator[Any]:
        return self._read("ORDER BY key DESC, rowid DESC")

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        place = index + self._length if index < 0 else index
        if not 0 <= place < self._length:
            raise IndexError(f"{self._name}: no item {index}")
        return next(self._read("ORDER BY key, rowid LIMIT 1 OFFSET ?", place))

    def _read(self, order: str, *args: int) -> Iterator[Any]:
        rows = self._db.execute(f"SELECT text, json FROM shown WHERE list = ? {order}", (self._name, *args))  # noqa: S608 - our own text
        shape = self._shape
        for text, encoded in rows:
            yield shape(text if encoded is None else _decode(encoded)[0])
