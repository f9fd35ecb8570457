"""A batch run: parse every record, tier the portfolio (80/20), brief every account, then write the index and summary.

Two passes keep memory flat however many accounts there are: pass 1 validates each record and
spills it as canonical JSON to a work file (keeping only ids and revenues in memory); pass 2
streams the work file back, evaluates and renders. Both passes run where executors.py says (worker
processes when --jobs > 1, each with its own Advisor), and results come back in input order, so
the output is byte-identical for any --jobs.

Safety: every brief is written to a temporary file and renamed (a kill leaves it whole or absent);
flushing each to disk at once would cost more than briefing it, so the main process flushes them a
window at a time as their results come in, while the workers brief the next (files.Flusher), and
their folder before the index is written; each entry records its outputs' sizes for --resume to
check (journal.py has the rest). --resume skips accounts whose content hash (profile, portfolio position, rules and
templates, language, as-of date, version) and outputs are unchanged.

Faults and exit codes: an account that cannot be read, parsed or briefed is reported (`report` and
index) and the batch goes on: exit 1. An output that cannot be written (a brief, the journal, the
index: no space left, no permission) stops the batch at once with one line naming the file: exit
2; the index is then left as it was (absent, or the previous run's), never half-written, and
`--resume` finishes the work once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import jinja2

from ..api import Advisor
from ..errors import EngineError, Problem, UnwritableOutput
from ..files import Flusher, write_atomically
from ..portfolio import Position, tiers
from ..sources import Source, expand
from .entries import Entries
from .executors import Stopped, cluster, ordered_map, workers
from .journal import (
    INDEX,
    JOURNAL,
    Journal,
    Work,
    check_owned,
    clear_leftovers,
    dumps,
    only_batch_in,
    own_outputs,
    previous,
    remove_stale,
    unwritable,
    whole,
)
from .options import Options
from .summary import PORTFOLIO, portfolio_template, render_portfolio
from .tasks import Task, advisor_for, brief_one, content_hash, parse_source, write_outputs

Report = Callable[[str], None]  # one line per failed account (or, as `notice`, about the run)
Progress = Callable[[int, int], None]  # accounts done, accounts in all
Validating = Callable[[int], None]  # records read and validated so far (their number is not known before)


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    warnings: int = 0  # rows left out and other warnings (a CRM export's), each reported and in the index
    files: list[dict] = field(default_factory=list)  # a CRM export's files: rows read, skipped and why


def run(
    inputs: list[str],
    out: Path,
    options: Options,
    *,
    progress: Progress | None = None,
    report: Report | None = None,
    notice: Report | None = None,
    validating: Validating | None = None,
) -> Summary:
    """The whole batch. `report` receives one line per failed account, `progress` (done, total)
    after each account, `validating` (records read) during the first pass, `notice` a line about the
    run (workers capped); none prints anything here
    (the CLI decides where they go).

    Raises UnwritableOutput (exit 2) when an output cannot be written, or Stopped when the work
    cannot go on (a lost cluster, a killed worker); see the module docstring."""
    advisor = advisor_for(options, Advisor.load(options.rules, options.templates))  # fail fast on bad rules
    template = portfolio_template(advisor.templates)  # and on a bad summary template, before any work
    with cluster(options.dask) as client:  # and on a Dask scheduler that is not there
        return _in(out, inputs, options, advisor, template, client, progress, report, notice, validating)


def _in(
    out: Path,
    inputs: list[str],
    options: Options,
    advisor: Advisor,
    template: jinja2.Template,
    client: object,
    progress: Progress | None,
    report: Report | None,
    notice: Report | None,
    validating: Validating | None = None,
) -> Summary:
    """The batch, once its rules, templates and cluster are known to be there: OUT's part."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnwritableOutput(
            Problem(str(out), 1, 1, "error", f"cannot create the output folder: {exc.strerror or exc}")
        ) from None
    # A symlinked OUT is the user's choice: resolve it once, then never follow a link inside it.
    out = Path(os.path.realpath(out))
    check_owned(out)
    with only_batch_in(out):
        clear_leftovers(out)
        try:
            summary = _run(
                inputs,
                out,
                options,
                advisor,
                template,
                client,
                progress or _quiet,
                report or _quiet,
                notice or _quiet,
                validating or _quiet,
            )
        except (UnwritableOutput, Stopped) as exc:
            clear_leftovers(out)  # the workers are stopped: a brief one was writing is not left half-made
            raise _stopped(exc) from None
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): still leave no temp file behind
            clear_leftovers(out)
            raise
        (out / JOURNAL).unlink(missing_ok=True)  # the index and summary are whole: the journal has served
        return summary


def _quiet(*_: object) -> None:
    """Where reports and progress go when the caller does not ask for them."""


def _run(
    inputs: list[str],
    out: Path,
    options: Options,
    advisor: Advisor,
    template: jinja2.Template,
    client: object,
    progress: Progress,
    report: Report,
    notice: Report,
    validating: Validating,
) -> Summary:
    before = previous(out)  # what the last run listed: its stale outputs are removed at the end
    earlier = before if options.resume else {}
    clock = dt.date.today()  # read once: a run that crosses midnight hashes every account alike
    summary = Summary()
    cores = _cores()
    journal = Journal(out / JOURNAL)
    work = Work(out, journal)
    flusher = Flusher()  # each brief goes to disk while the others are worked out, before the index
    placed = None
    try:
        spill = work.spill
        placed = Entries(work.entries)  # index entries, in the work folder until the index is written
        parsed: list[dict] = []  # per record: source, id, revenue, error — not the profile itself
        seen: dict[str, str] = {}
        # Never read what this run writes: OUT (and all under it) is left out of every input folder.
        # Each worker reads its own files; a Dask worker may not see them: the texts go to it.
        lazy = options.dask is None
        records = _expand(
            inputs, lambda items: expand(items, options.limits, exclude=out, encoding=options.encoding, lazy=lazy)
        )
        first = replace(options, jobs=min(options.jobs, cores))
        try:
            with spill.open("xb") as handle:  # the profiles' JSON as pass 1 gave it, never decoded
                for result in ordered_map(partial(parse_source, limits=options.limits), records, first, client=client):
                    validating(len(parsed) + 1)
                    if "note" in result:  # a warning or a file's tally: no account
                        parsed.append(result)
                        continue
                    if "error" not in result:
                        if result["id"] in seen:
                            result = {"source": result["source"], "id": result["id"],
                                      "error": f"{result['source']}:1: error: duplicate account id '{result['id']}' (also {seen[result['id']]}); each account needs its own id"}  # fmt: skip
                        else:
                            seen[result["id"]] = result["source"]
                            handle.write(result.pop("profile"))
                            handle.write(b"\n")
                    parsed.append(result)
        except OSError as exc:
            raise unwritable(spill, exc) from None
        positions = tiers((r["id"], r.get("revenue")) for r in parsed if "error" not in r and "note" not in r)

        ok_records = [r for r in parsed if "error" not in r and "note" not in r]

        def tasks() -> Iterator[tuple[Options, bytes, Position | None]]:
            """One task per valid record: the spill holds their profiles, one line each, in the same order."""
            with spill.open("rb") as handle:
                for record, line in zip(ok_records, handle, strict=True):
                    yield options, line.rstrip(b"\n"), positions.get(record["id"])

        place = {id(r): i for i, r in enumerate(parsed)}  # index lines follow the input order
        total = sum("note" not in r for r in parsed)
        noted = 0

        def step() -> None:
            progress(placed.count - noted, total)

        for r in parsed:
            if "note" in r:
                placed.add(place[id(r)], r["note"])
                noted += 1
                if r["note"]["status"] == "warning":
                    summary.warnings += 1
                    report(r["note"]["warning"])
                else:
                    summary.files.append(r["note"])
            elif "error" in r:
                entry = {"id": r.get("id"), "source": r["source"], "status": "error", "error": r["error"]}
                placed.add(place[id(r)], entry)
                summary.failed += 1
                for line in r["error"].splitlines():
                    report(line)
                step()
        # Decide what to skip before any work starts, without holding any profile text: one small
        # decision per account. (Deciding inside the task generator would run it on the pool's
        # feeder thread while this thread reads the decisions: a race.) Only an account an earlier
        # run finished needs its content hash here; the others' hash comes back with their briefs.
        decisions: list[tuple[dict, bool]] = []  # (record, unchanged)
        profiles = tasks() if earlier else (None for _ in ok_records)  # a fresh run reads no profile here
        for record, task in zip(ok_records, profiles, strict=True):
            old = earlier.get(record["id"])
            unchanged = bool(old) and old.get("hash") == content_hash(task[1], task[2], advisor.digest, options, clock)
            decisions.append((record, unchanged and all(whole(out, p, old) for p in old.get("outputs", []))))

        writer = None if options.dask is not None else out  # a Dask worker may not see OUT: texts come back
        todo = sum(not unchanged for _, unchanged in decisions)
        second = replace(options, jobs=workers(options.jobs, cores, todo))
        if options.dask is None and second.jobs < options.jobs:
            notice(f"advisor batch: --jobs {options.jobs} capped at {second.jobs} ({cores} cores, {todo} accounts)")

        def planned() -> Iterator[Task]:
            for (_, unchanged), task in zip(decisions, tasks(), strict=True):
                if not unchanged:
                    yield (*task, writer, clock)

        # Trust no older entry of an account about to be briefed again, from before its first write.
        journal.extend({"id": record["id"], "status": "writing"} for record, unchanged in decisions if not unchanged)

        def finish(record: dict, unchanged: bool, result: dict | None) -> None:
            position = positions.get(record["id"])
            line = None
            if unchanged:
                entry = {**earlier[record["id"]], "source": record["source"]}  # the file may have moved
                summary.skipped += 1
                for rel in own_outputs(entry):  # an interrupted run wrote it, and may not have flushed it
                    flusher.add(out / rel)
            else:
                sizes = (
                    result["written"] if "written" in result else write_outputs(out, record["id"], result["outputs"])
                )
                for rel in sizes:
                    flusher.add(out / rel)
                entry = {"id": record["id"], "source": record["source"], "status": "ok", "outputs": list(sizes), "bytes": sizes,
                         "counts": result["counts"], "hash": result["hash"],
                         "portfolio": position.as_dict() if position else None, "summary": result["summary"]}  # fmt: skip
                try:
                    line = dumps(entry)  # once: the journal and the index get the same line
                except ValueError:  # a NaN or infinity (revenues that overflow): this account fails, not the batch
                    fail(
                        record,
                        f"{record['source']}:1: error: account '{record['id']}': a number in its entry is not finite (revenues too large to add up?); check annual_revenue",
                    )
                    return
                journal.write(line)
            summary.ok += 1
            placed.add(place[id(record)], entry, line)
            step()

        def fail(record: dict, error: str) -> None:
            summary.failed += 1
            placed.add(place[id(record)], {"id": record["id"], "source": record["source"], "status": "error", "error": error})  # fmt: skip
            report(error)
            step()

        placed.second_pass()
        if options.dask is None and second.jobs > 1:
            # Built here, once, before the workers fork: each inherits a copy of this thread's
            # engine (a process of its own, so nothing is shared) instead of building its own.
            with contextlib.suppress(EngineError):  # the workers report it, account by account
                advisor.engine()
        results = ordered_map(brief_one, planned(), second, todo, client=client)
        try:
            for record, unchanged in decisions:
                if unchanged:
                    finish(record, True, None)
                    continue
                result = next(results)
                if "unwritable" in result:
                    raise UnwritableOutput(result["unwritable"])
                if "error" in result:
                    fail(record, result["error"])
                else:
                    finish(record, False, result)
            for _ in results:
                raise RuntimeError("more results than planned tasks")
        finally:
            results.close()  # on a failure: stop the workers now
        flusher.finish()  # every brief, and its folder, on disk before the index that lists them
        write_atomically(out / INDEX, placed.lines())
        if before:
            remove_stale(out, before, placed.entries())
        write_atomically(out / PORTFOLIO, render_portfolio(template, advisor.templates, placed.entries(), options.lang))
    finally:
        flusher.close()
        if placed is not None:
            placed.close()
        work.remove()
        journal.close()
    return summary


def _cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _stopped(exc: UnwritableOutput | Stopped) -> UnwritableOutput | Stopped:
    """The same problem, saying what happened to the batch and how to finish it."""
    then = "the batch stopped: fix this, then rerun with --resume"
    if isinstance(exc, Stopped):
        return Stopped(f"{exc}; {then}")
    return type(exc)([Problem(p.path, p.line, p.col, p.level, f"{p.message}; {then}") for p in exc.problems])


def _refuse_special_files(inputs: list[str]) -> Iterator[tuple[str, Source | None]]:
    """Each input, or an error in its place when it names a pipe, device or socket: reading one
    would block for ever (a FIFO) or never end (/dev/zero)."""
    for item in inputs:
        try:
            mode = os.stat(item).st_mode if item != "-" else stat.S_IFREG
        except (OSError, ValueError):
            mode = stat.S_IFREG  # missing or a glob: the sources report it
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            yield item, None
        else:
            yield (
                item,
                Source(
                    item, 1, "error", "not a regular file (a pipe, device or socket); give a profile file or folder"
                ),
            )


def _expand(inputs: list[str], expand_some: Callable[[list[str]], Iterable[Source]]) -> Iterator[Source]:
    for item, refused in _refuse_special_files(inputs):
        if refused is not None:
            yield refused
        else:
            yield from expand_some([item])
