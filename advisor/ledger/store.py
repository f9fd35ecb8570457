"""The ledger's database: opened by URL (a SQLite file by default), migrated on first use, written in
transactions that several processes can share without losing or doubling a row."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from ..errors import Failure
from . import schema
from .shown import Showing

DEFAULT_DB = "advisor-ledger.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x41445649  # PostgreSQL advisory lock key ("ADVI"): one process migrates at a time


class LedgerError(Failure):
    """The ledger cannot be opened or written (a bad URL, a server that does not answer): exit 2."""

    exit_code = 2

    def lines(self, prog: str = "advisor") -> list[str]:
        return [f"{prog}: error: ledger: {self}"]


def url_of(db: str | None) -> str:
    """A SQLAlchemy URL from what a user types: a URL, or a plain path to a SQLite file.
    `postgresql://` means the psycopg 3 driver (SQLAlchemy's own default is psycopg2)."""
    db = db or DEFAULT_DB
    if "://" not in db:
        return f"sqlite:///{db}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def shown_url(url: str) -> str:
    """A URL to show in a message: never its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "the given URL"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(at: dt.datetime | None) -> dt.datetime:
    """`at` (default: now) in UTC, as the ledger stores every time (SQLite would drop the offset)."""
    if at is None:
        return now()
    if at.tzinfo is None:
        raise ValueError("the ledger takes times with a zone")
    return at.astimezone(dt.UTC)


class Ledger:
    """One ledger database. Safe to share between threads; open one per process."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None) -> Ledger:
        """The ledger at `db` (a URL or a SQLite path; default ./advisor-ledger.sqlite), created and
        migrated to the current schema on first use."""
        url = url_of(db)
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise LedgerError(
                f"--db {db!r} is not a database URL; use a file path, sqlite:///PATH or postgresql://USER@HOST/DB"
            ) from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            folder = Path(parsed.database).resolve().parent
            if not folder.is_dir():
                raise LedgerError(f"cannot create {parsed.database}: folder {folder} does not exist; create it first")
        try:
            engine = _engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise LedgerError(
                f"cannot use {shown_url(url)}: {exc}; for PostgreSQL, pip install 'advisor[postgres]'"
            ) from None
        ledger = cls(engine)
        ledger.migrate()
        return ledger

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction; a database that cannot be reached is one line, not a traceback."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "it does not answer"
            raise LedgerError(f"{shown_url(str(self.engine.url))}: {reason}") from None

    def migrate(self) -> None:
        """Bring the schema to the newest version, in one transaction that other processes wait for."""
        with self.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def record(self, showing: Showing, at: dt.datetime | None = None) -> str:
        """Record one brief's impressions; returns its brief id."""
        at = utc(at)
        rows = [
            {
                "brief_id": showing.brief_id,
                "rule_id": s.rule_id,
                "rules_hash": showing.rules_hash,
                "course_items": " ".join(s.course_items),
                "account_id": showing.account_id,
                "stakeholder": s.stakeholder,
                "lang": showing.lang,
                "kind": s.kind,
                "at": at,
            }  # fmt: skip
            for s in showing.items
        ]
        if rows:
            with self.transaction() as conn:
                conn.execute(schema.impressions.insert(), rows)
        return showing.brief_id

    def react(self, row: dict[str, Any], at: dt.datetime | None = None) -> dict[str, Any]:
        """Store one (already checked) reaction; returns the stored row."""
        values = {**row, "at": utc(at)}
        with self.transaction() as conn:
            new_id = conn.execute(schema.reactions.insert().returning(schema.reactions.c.id), values).scalar_one()
            stored = conn.execute(sa.select(schema.reactions).where(schema.reactions.c.id == new_id)).one()
        return reaction_dict(stored._mapping)

    def record_visit(self, visit: dict[str, Any], done: list[dict[str, Any]], at: dt.datetime | None = None) -> int:
        """Store one recorded visit and, in the same transaction, a reaction `done` for each checklist
        item done (already checked rows); returns the visit's id."""
        at = utc(at)
        with self.transaction() as conn:
            new_id = conn.execute(
                schema.visits.insert().returning(schema.visits.c.id), {**visit, "at": at}
            ).scalar_one()
            if done:
                conn.execute(schema.reactions.insert(), [{**row, "at": at} for row in done])
        return new_id

    def reactions_of(self, account_id: str) -> dict[tuple[str, str | None], dict[str, Any]]:
        """The latest reaction to each (rule, stakeholder) of one account: what the rep already did."""
        t = schema.reactions
        with self.transaction() as conn:
            rows = conn.execute(sa.select(t).where(t.c.account_id == account_id).order_by(t.c.id)).all()
        return {(r.rule_id, r.stakeholder): reaction_dict(r._mapping) for r in rows}

    def visits_of(self, account_id: str) -> list[dict[str, Any]]:
        """The visits recorded for one account, newest first."""
        t = schema.visits
        with self.transaction() as conn:
            rows = conn.execute(sa.select(t).where(t.c.account_id == account_id).order_by(t.c.id.desc())).all()
        return [dict(r._mapping) for r in rows]

    def impression_counts(self, conn: Connection) -> list[tuple]:
        """(rule, course items, account, kind, count), grouped."""
        t = schema.impressions
        query = sa.select(t.c.rule_id, t.c.course_items, t.c.account_id, t.c.kind, sa.func.count())
        return [tuple(r) for r in conn.execute(query.group_by(t.c.rule_id, t.c.course_items, t.c.account_id, t.c.kind))]

    def reaction_counts(self, conn: Connection) -> list[tuple]:
        """(rule, course items, account, reaction, reason, count), grouped."""
        t = schema.reactions
        cols = (t.c.rule_id, t.c.course_items, t.c.account_id, t.c.reaction, t.c.reason)
        return [tuple(r) for r in conn.execute(sa.select(*cols, sa.func.count()).group_by(*cols))]

    # Tokens: a server bound beyond this machine lets in only their holders.

    def add_token(self, user: str) -> str:
        """A new token for `user`, shown once: only its hash is stored."""
        token = secrets.token_urlsafe(32)
        with self.transaction() as conn:
            conn.execute(schema.tokens.insert(), {"user": user, "token_sha256": _sha(token), "created": now()})
        return token

    def revoke_tokens(self, user: str) -> int:
        with self.transaction() as conn:
            return conn.execute(schema.tokens.delete().where(schema.tokens.c.user == user)).rowcount

    def token_users(self) -> list[str]:
        with self.transaction() as conn:
            return sorted(set(conn.execute(sa.select(schema.tokens.c.user)).scalars()))

    def user_of(self, token: str) -> str | None:
        """Whose token this is, or None."""
        with self.transaction() as conn:
            found = conn.execute(sa.select(schema.tokens.c.user).where(schema.tokens.c.token_sha256 == _sha(token)))
            return found.scalar_one_or_none()


def reaction_dict(row: Any) -> dict[str, Any]:
    """A stored reaction as the API returns it."""
    at = row["at"]
    # Every time the ledger writes is UTC: SQLite gives it back without a zone, PostgreSQL in the
    # session's zone; either way the API says UTC.
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    out = {
        k: row[k]
        for k in (
            "id",
            "account_id",
            "rule_id",
            "reaction",
            "reason",
            "note",
            "user",
            "brief_id",
            "stakeholder",
            "rules_hash",
        )
    }
    return {**out, "course_items": row["course_items"].split(), "at": at.isoformat()}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SQLITE_WAIT = 30  # seconds a SQLite transaction waits for the write lock


def _engine(url: str) -> Engine:
    """An engine whose transactions several processes can share: on SQLite every transaction takes the
    write lock at BEGIN (BEGIN IMMEDIATE) and waits up to 30 s for it, so none fails half-way on a
    lock it could not upgrade; PostgreSQL's own transactions need nothing more for inserts."""
    if sa.make_url(url).get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_WAIT})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # the driver issues no BEGIN of its own; SQLAlchemy's begin does
        _write_ahead(dbapi_conn)  # readers never wait for a writer

    @sa.event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _write_ahead(dbapi_conn: Any) -> None:
    """Put the SQLite file in WAL mode. A file still in its first mode (a new ledger, which several
    processes may open at once) cannot switch while another connection holds its lock, and SQLite
    then answers "database is locked" at once instead of waiting as for a transaction: so ask again,
    for as long as a transaction would wait."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_WAIT
    while True:
        try:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
