"""The ledger's second schema: the visits reps record after the fact (the after-visit form)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("brief_id", sa.String(32)),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("attendees", sa.Text, nullable=False),
        sa.Column("agreed", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("checklist_done", sa.Text, nullable=False),
        sa.Column("next_visit", sa.Date),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_visits_account_id", "visits", ["account_id"])
    op.create_index("ix_visits_brief_id", "visits", ["brief_id"])


def downgrade() -> None:
    op.drop_table("visits")
