"""Briefs for a whole portfolio (`advisor batch`): one job per module.

options.py    what a run is asked to do
runner.py     the two passes, in input order, and the index and summary at the end
tasks.py      what a worker does: parse and validate one record, brief one account, the content hash
executors.py  where the work runs: this process, a pool of worker processes, or a Dask cluster
journal.py    OUT's journal and lock, what --resume trusts, and what a killed run left
summary.py    OUT/portfolio.md: what it needs from each account, and its template
"""

from .options import Options
from .runner import Summary, run

__all__ = ["Options", "Summary", "run"]
