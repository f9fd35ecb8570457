"""A batch run: parse every record, tier the portfolio (80/20), brief every account, then write the index and summary.

Two passes keep memory flat however many accounts there are: pass 1 validates each record and
spills it as canonical JSON to a work file, and what it found (ids, revenues, errors) to the run's
bookkeeping file (bookkeeping.py), where the portfolio is tiered and an earlier run's entries are
looked up; pass 2 streams both back, evaluates and renders. Both passes run where executors.py says (worker
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
import json
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
from ..portfolio import Position
from ..sources import Source, expand
from .bookkeeping import Account, Bookkeeping
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
    remove_stale,
    unwritable,
    whole,
)
from .options import Options
from .summary import PORTFOLIO, portfolio_template, render_portfolio
from .tasks import Task, advisor_for, brief_many, brief_one, content_hash, parse_source, write_outputs

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
    clock = dt.date.today()  # read once: a run that crosses midnight hashes every account alike
    summary = Summary()
    cores = _cores()
    journal = Journal(out / JOURNAL)
    work = Work(out, journal)
    flusher = Flusher()  # each brief goes to disk while the others are worked out, before the index
    placed = books = None
    try:
        spill = work.spill
        placed = Entries(work.entries)  # index entries, in the work folder until the index is written
        books = Bookkeeping(work.books)  # per account: what pass 1 found, positions, what to skip
        books.read_earlier(out)  # what the last run listed: its stale outputs are removed at the end

        def earlier(account_id: str) -> dict | None:
            return books.earlier(account_id) if options.resume else None

        # Never read what this run writes: OUT (and all under it) is left out of every input folder.
        # Each worker reads its own files; a Dask worker may not see them: the texts go to it.
        lazy = options.dask is None
        records = _expand(
            inputs, lambda items: expand(items, options.limits, exclude=out, encoding=options.encoding, lazy=lazy)
        )
        first = replace(options, jobs=min(options.jobs, cores))
        try:
            with spill.open("xb") as handle:  # the profiles' JSON as pass 1 gave it, never decoded
                for n, result in enumerate(
                    ordered_map(partial(parse_source, limits=options.limits), records, first, client=client), 1
                ):
                    validating(n)
                    if "note" in result:  # a warning or a file's tally: no account
                        books.add("note", None, detail=json.dumps(result["note"]))
                    elif "error" in result:
                        books.add("error", result["source"], result.get("id"), detail=result["error"])
                    elif (also := books.valid_source(result["id"])) is not None:
                        books.add("error", result["source"], result["id"],
                                  detail=f"{result['source']}:1: error: duplicate account id '{result['id']}' (also {also}); each account needs its own id")  # fmt: skip
                    else:
                        books.add("ok", result["source"], result["id"], result["revenue"])
                        handle.write(result["profile"])
                        handle.write(b"\n")
        except OSError as exc:
            raise unwritable(spill, exc) from None
        books.tier()

        def tasks(accounts: Iterator[Account]) -> Iterator[tuple[Account, tuple[Options, bytes, Position | None]]]:
            """Each valid account and its task: the spill holds their profiles, one line each, in the same order."""
            with spill.open("rb") as handle:
                for account, line in zip(accounts, handle, strict=True):
                    yield account, (options, line.rstrip(b"\n"), account.position)

        total = books.count("ok") + books.count("error")
        noted = 0

        def step() -> None:
            progress(placed.count - noted, total)

        for place, kind, source, account_id, detail in books.refused():
            if kind == "note":
                note = json.loads(detail)
                placed.add(place, note)
                noted += 1
                if note["status"] == "warning":
                    summary.warnings += 1
                    report(note["warning"])
                else:
                    summary.files.append(note)
            else:
                placed.add(place, {"id": account_id, "source": source, "status": "error", "error": detail})
                summary.failed += 1
                for line in detail.splitlines():
                    report(line)
                step()
        # Decide what to skip before any work starts: only an account an earlier run finished needs
        # its content hash here; the others' hash comes back with their briefs.
        if options.resume and books.has_earlier():
            books.keep(
                account.place
                for account, task in tasks(books.valid(deciding=True))
                if _unchanged(out, earlier(account.id), task, advisor, options, clock)
            )

        writer = None if options.dask is not None else out  # a Dask worker may not see OUT: texts come back
        todo = books.count("ok") - books.count_kept()
        second = replace(options, jobs=workers(options.jobs, cores, todo))
        if options.dask is None and second.jobs < options.jobs:
            notice(f"advisor batch: --jobs {options.jobs} capped at {second.jobs} ({cores} cores, {todo} accounts)")

        def planned() -> Iterator[Task]:
            for account, task in tasks(books.valid()):
                if not account.unchanged:
                    yield (*task, writer, clock)

        # Trust no older entry of an account about to be briefed again, from before its first write.
        journal.extend({"id": account.id, "status": "writing"} for account in books.valid() if not account.unchanged)

        def finish(account: Account, result: dict | None) -> None:
            line = None
            if account.unchanged:
                entry = {**earlier(account.id), "source": account.source}  # the file may have moved
                summary.skipped += 1
                for rel in own_outputs(entry):  # an interrupted run wrote it, and may not have flushed it
                    flusher.add(out / rel)
            else:
                sizes = result["written"] if "written" in result else write_outputs(out, account.id, result["outputs"])
                for rel in sizes:
                    flusher.add(out / rel)
                position = account.position
                entry = {"id": account.id, "source": account.source, "status": "ok", "outputs": list(sizes), "bytes": sizes,
                         "counts": result["counts"], "hash": result["hash"],
                         "portfolio": position.as_dict() if position else None, "summary": result["summary"]}  # fmt: skip
                try:
                    line = dumps(entry)  # once: the journal and the index get the same line
                except ValueError:  # a NaN or infinity (revenues that overflow): this account fails, not the batch
                    fail(
                        account,
                        f"{account.source}:1: error: account '{account.id}': a number in its entry is not finite (revenues too large to add up?); check annual_revenue",
                    )
                    return
                journal.write(line)
            summary.ok += 1
            placed.add(account.place, entry, line)
            step()

        def fail(account: Account, error: str) -> None:
            summary.failed += 1
            placed.add(account.place, {"id": account.id, "source": account.source, "status": "error", "error": error})  # fmt: skip
            report(error)
            step()

        placed.second_pass()
        if options.dask is None and second.jobs > 1:
            # Built here, once, before the workers fork: each inherits a copy of this thread's
            # engine (a process of its own, so nothing is shared) instead of building its own.
            with contextlib.suppress(EngineError):  # the workers report it, account by account
                advisor.engine()
        results = ordered_map(brief_one, planned(), second, todo, client=client, many=brief_many)
        try:
            for account in books.valid():
                if account.unchanged:
                    finish(account, None)
                    continue
                result = next(results)
                if "unwritable" in result:
                    raise UnwritableOutput(result["unwritable"])
                if "error" in result:
                    fail(account, result["error"])
                else:
                    finish(account, result)
            for _ in results:
                raise RuntimeError("more results than planned tasks")
        finally:
            results.close()  # on a failure: stop the workers now
        flusher.finish()  # every brief, and its folder, on disk before the index that lists them
        write_atomically(out / INDEX, placed.lines())
        if books.has_earlier():
            remove_stale(out, books.earlier, placed.entries())
        write_atomically(
            out / PORTFOLIO, render_portfolio(template, advisor.templates, placed.entries(), options.lang, books)
        )
    finally:
        flusher.close()
        if placed is not None:
            placed.close()
        if books is not None:
            books.close()
        work.remove()
        journal.close()
    return summary


def _unchanged(out: Path, old: dict | None, task: tuple, advisor: Advisor, options: Options, clock: dt.date) -> bool:
    """Whether --resume may keep an earlier run's outputs for this task's account: its entry's
    content hash is the one this run would give it, and every output it lists is there, whole."""
    _, profile_json, position = task
    return (
        bool(old)
        and old.get("hash") == content_hash(profile_json, position, advisor.digest, options, clock)
        and all(whole(out, p, old) for p in old.get("outputs", []))
    )


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
