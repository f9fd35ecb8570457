"""The ledger's first schema: impressions, reactions and server tokens."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("brief_id", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(80), nullable=False),
        sa.Column("rules_hash", sa.String(32), nullable=False),
        sa.Column("course_items", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("stakeholder", sa.String(200)),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("brief_id", "rule_id", "account_id"):
        op.create_index(f"ix_impressions_{column}", "impressions", [column])
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(80), nullable=False),
        sa.Column("reaction", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(80)),
        sa.Column("note", sa.Text),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("brief_id", sa.String(32)),
        sa.Column("stakeholder", sa.String(200)),
        sa.Column("rules_hash", sa.String(32), nullable=False),
        sa.Column("course_items", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("rule_id", "account_id"):
        op.create_index(f"ix_reactions_{column}", "reactions", [column])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("reactions")
    op.drop_table("impressions")
