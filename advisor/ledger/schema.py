"""The ledger's tables, as the code reads and writes them (migrations/ builds them, version by version)."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

# One row per recommendation a brief showed: in full (`kind` "shown") or as a trait its person's card
# states ("trait"). A brief served twice is shown twice: two sets of rows with the same brief id.
impressions = Table(
    "impressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("brief_id", String(32), nullable=False, index=True),  # a hash of what the brief showed
    Column("rule_id", String(80), nullable=False, index=True),
    Column("rules_hash", String(32), nullable=False),  # Advisor.digest: rules, templates and course
    Column("course_items", Text, nullable=False),  # the rule's course codes, space-separated
    Column("account_id", String(200), nullable=False, index=True),
    Column("stakeholder", String(200)),
    Column("lang", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# One row per reaction a rep gave to one piece of advice.
reactions = Table(
    "reactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False, index=True),
    Column("rule_id", String(80), nullable=False, index=True),
    Column("reaction", String(32), nullable=False),
    Column("reason", String(80)),  # a code from templates/reasons.yaml; refusals always have one
    Column("note", Text),
    Column("user", String(200), nullable=False),
    Column("brief_id", String(32)),
    Column("stakeholder", String(200)),
    Column("rules_hash", String(32), nullable=False),
    Column("course_items", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Who may use a server bound beyond this machine: one row per token, stored as its SHA-256 only.
tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(200), nullable=False, index=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created", DateTime(timezone=True), nullable=False),
)

# One row per visit a rep recorded with the after-visit form (migration 0002), tied to the brief shown
# before it; the checklist items done are also reactions `done`, so the report counts them.
visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False, index=True),
    Column("brief_id", String(32), index=True),
    Column("user", String(200), nullable=False),
    Column("date", Date, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("attendees", Text, nullable=False),  # stakeholder ids, space-separated
    Column("agreed", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("checklist_done", Text, nullable=False),  # rule ids, space-separated
    Column("next_visit", Date),
    Column("at", DateTime(timezone=True), nullable=False),
)
