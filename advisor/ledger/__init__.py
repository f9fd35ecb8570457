"""The ledger: what briefs showed (impressions) and what reps did with it (reactions), in a database.

A wing of its own: only this package imports SQLAlchemy and Alembic (`pip install 'advisor[ledger]'`).
"""
