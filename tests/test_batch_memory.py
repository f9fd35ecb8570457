"""The batch's main process holds nothing per account while it briefs: index entries and summaries
go to the work folder and are streamed back for the index and portfolio.md. Measured by counting
what the batch's own code holds (tracemalloc, filtered to advisor/batch), not by timing."""

from __future__ import annotations

import datetime as dt
import gc
import os
import tracemalloc

import yaml

from advisor.batch.options import Options
from advisor.batch.runner import run

from conftest import ROOT

ACCOUNTS = 120


def test_batch_main_process_holds_nothing_per_account_while_briefing(tmp_path):
    base = yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    (tmp_path / "in").mkdir()
    for i in range(ACCOUNTS):
        base["account"]["id"], base["account"]["name"] = f"acct-{i:04d}", f"客户{i:04d}"
        base["account"]["annual_revenue"] = 1000.0 + i
        (tmp_path / "in" / f"acct-{i:04d}.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    ours = [tracemalloc.Filter(True, f"*{os.sep}advisor{os.sep}batch{os.sep}*")]
    held: dict[int, int] = {}

    def progress(done: int, total: int) -> None:
        if done in (ACCOUNTS // 4, ACCOUNTS):
            gc.collect()
            held[done] = sum(s.size for s in tracemalloc.take_snapshot().filter_traces(ours).statistics("filename"))

    tracemalloc.start()
    try:
        options = Options(today=dt.date(2026, 12, 1), formats=("markdown", "json"))  # --jobs 1: all in this process
        run([str(tmp_path / "in")], tmp_path / "out", options, progress=progress)
    finally:
        tracemalloc.stop()
    per_account = (held[ACCOUNTS] - held[ACCOUNTS // 4]) / (ACCOUNTS - ACCOUNTS // 4)
    # Keeping every entry and summary to the end held about 1 KB more per account briefed here.
    assert per_account < 200, f"{per_account:.0f} bytes held per account briefed"
    assert len((tmp_path / "out" / "index.jsonl").read_text(encoding="utf-8").splitlines()) == ACCOUNTS
