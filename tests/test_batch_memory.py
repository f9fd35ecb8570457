"""The batch's main process holds nothing per account while it briefs: index entries and summaries
go to the work folder and are streamed back for the index and portfolio.md. Measured by counting
what the batch's own code holds (tracemalloc, filtered to advisor/batch), not by timing."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import pathlib
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


def held_while_briefing(tmp_path, accounts: int) -> int:
    """Bytes the process holds (every allocation Python makes, not only the batch's own lines) when
    the last of `accounts` is briefed, in a second run over the same folder: an earlier run's index
    is there to read, as when a pipeline reruns its batch. Left out: pathlib's own allocations, the
    interpreter's table of interned strings, which pathlib (Python 3.11) fills with every file name
    it sees, and which grows by doubling (one step of 1.9 MB fell between 40 and 160 accounts)."""
    base = yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    folder = tmp_path / f"in-{accounts}"
    folder.mkdir(parents=True)
    with (folder / "all.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(accounts):
            base["account"]["id"], base["account"]["annual_revenue"] = f"acct-{i:05d}", 1000.0 + i
            handle.write(json.dumps(base, ensure_ascii=False, default=str) + "\n")
    out = tmp_path / f"out-{accounts}"
    options = Options(today=dt.date(2026, 12, 1))  # --jobs 1: all in this process
    run([str(folder)], out, options)
    held: list[int] = []

    not_pathlib = [tracemalloc.Filter(False, pathlib.__file__)]

    def progress(done: int, total: int) -> None:
        if done == total:
            gc.collect()
            held.append(sum(t.size for t in tracemalloc.take_snapshot().filter_traces(not_pathlib).traces))

    gc.collect()
    tracemalloc.start()
    try:
        run([str(folder)], out, options, progress=progress)
    finally:
        tracemalloc.stop()
    return held[0]


def test_batch_main_process_holds_nothing_per_account_from_pass_one_or_an_earlier_run(tmp_path):
    """What pass 1 found, the positions and an earlier run's entries live in the work folder's
    bookkeeping file, not in memory: the process holds about the same for 160 accounts as for 40
    (at c297e18, holding them in memory: about 4.6 KB an account)."""
    held_while_briefing(tmp_path / "warm", 10)  # the first run in a process fills caches of its own
    small, large = held_while_briefing(tmp_path, 40), held_while_briefing(tmp_path, 160)
    per_account = (large - small) / 120
    assert per_account < 300, f"{per_account:.0f} bytes held per account"


def peak_after_briefing(tmp_path, accounts: int) -> int:
    """The most the process holds above what it held when the last of `accounts` was briefed, while
    it writes the index and portfolio.md (every allocation but pathlib's, as above)."""
    base = yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    folder = tmp_path / f"in-{accounts}"
    folder.mkdir(parents=True)
    with (folder / "all.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(accounts):
            base["account"]["id"], base["account"]["name"] = f"acct-{i:05d}", f"客户{i:05d}"
            base["account"]["annual_revenue"] = None if i % 10 == 0 else 1000.0 + i  # some without: untiered
            handle.write(json.dumps(base, ensure_ascii=False, default=str) + "\n")
    at_last: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == total:
            gc.collect()
            at_last.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.reset_peak()

    gc.collect()
    tracemalloc.start()
    try:
        run([str(folder)], tmp_path / f"out-{accounts}", Options(today=dt.date(2026, 12, 1)), progress=progress)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    summary = (tmp_path / f"out-{accounts}" / "portfolio.md").read_text(encoding="utf-8")
    assert f"客户{accounts - 1:05d}" in summary and "客户00000" in summary  # every account is listed
    return peak - at_last[0]


def test_batch_main_process_holds_nothing_per_account_for_the_index_and_portfolio(tmp_path):
    """The index and portfolio.md are written from the work folder as they are read, the summary's
    lists from the bookkeeping file: the process needs about the same at the end for 200 accounts
    as for 50 (holding the summary's lists and its whole text: about 1.5 KB an account)."""
    peak_after_briefing(tmp_path / "warm", 10)
    small, large = peak_after_briefing(tmp_path / "small", 50), peak_after_briefing(tmp_path / "large", 200)
    per_account = (large - small) / 150
    assert per_account < 300, f"{per_account:.0f} bytes held per account at the end"
