"""`advisor serve`: the JSON API and pages over the shipped or given profiles, recording to the ledger.

A wing of its own: only this package imports FastAPI (`pip install 'advisor[serve]'`).
"""
