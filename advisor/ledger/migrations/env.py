"""Alembic's environment for the ledger: runs on the connection (and transaction) the ledger opened."""

from __future__ import annotations

from alembic import context

from advisor.ledger.schema import metadata

connection = context.config.attributes["connection"]
# transactional_ddl: on SQLite too (the ledger's connections issue BEGIN themselves), so a migration
# that fails leaves the schema as it was, and the lock the transaction holds keeps a second process out.
context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
