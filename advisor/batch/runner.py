"""Briefs for a whole portfolio: parse every record, tier the portfolio (80/20), brief every account.

Two passes keep memory flat however many accounts there are: pass 1 validates each record and
spills it as canonical JSON to a work file (keeping only ids and revenues in memory); pass 2
streams the work file back, evaluates and renders. Both passes run in worker processes when
--jobs > 1 (each with its own Advisor: durable-rules hosts belong to one process and thread),
and results come back in input order, so the output is byte-identical for any --jobs.

Safety: every brief is written to a temporary file and renamed (a kill leaves it whole or absent);
flushing each to disk would cost more than briefing it, so the disk is flushed once before the
index is written, and each entry records its outputs' sizes for --resume to check. Before pass 2
writes anything, a `writing` line for every account it will brief goes to OUT/.journal.jsonl, and
once an account's outputs are written, its entry;
OUT/index.jsonl is replaced atomically at the end. After a kill, `--resume` trusts the index and
then the journal (a later line for an account wins; `writing` revokes trust), skipping accounts
whose content hash (profile, portfolio position, rules and templates, language, as-of date,
version) and outputs are unchanged. One batch at a time may write to a folder (a lock, where the
OS has them), so a run can safely remove what a killed run left: its work folder and temp files.

Faults and exit codes: an account that cannot be read, parsed or briefed is reported (stderr and
index) and the batch goes on: exit 1. An output that cannot be written (a brief, the journal, the
index: no space left, no permission) stops the batch at once with one line naming the file: exit
2; the index is then left as it was (absent, or the previous run's), never half-written, and
`--resume` finishes the work once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from . import __version__
from .api import Advisor
from .errors import AdvisorError, EngineError, Problem
from .files import UnwritableOutput, flush_to_disk, write_atomically
from .limits import DEFAULT, Limits
from .portfolio import Position, tiers
from .profile import Profile, parse_profile
from .sources import Source, decoded, expand
from .yamlio import Located, load_text

INDEX = "index.jsonl"
JOURNAL = ".journal.jsonl"
LOCK = ".lock"
BRIEFS = "briefs"
EXTENSIONS = {"markdown": "md", "json": "json"}


@dataclass(frozen=True)
class Options:
    rules: Path | None = None
    templates: Path | None = None
    formats: tuple[str, ...] = ("markdown",)
    lang: str = "en"
    today: dt.date | None = None
    jobs: int = 1
    resume: bool = False
    limits: Limits = DEFAULT  # record size, stakeholders, interactions, nesting, aliases, values
    dask: str | None = None  # a Dask scheduler address: run the work on that cluster


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    entries: list[dict] = field(default_factory=list)


# --- pass 1: parse and validate ----------------------------------------------------------------


def parse_source(source: Source, limits: Limits = DEFAULT) -> dict[str, Any]:
    """A record as canonical profile JSON (or the problems that stop it), plus what tiering needs."""
    source = decoded(source, limits)
    if source.kind == "error":
        return {"source": source.label, "error": f"{source.label}:1: error: {source.payload}"}
    try:
        if source.kind == "yaml":
            profile = parse_profile(load_text(source.payload, source.path, limits), limits)
        else:
            profile = _parse_data(source, limits)
    except AdvisorError as exc:
        return {"source": source.label, "error": "\n".join(str(p) for p in exc.problems)}
    return {
        "source": source.label,
        "id": profile.account.id,
        "revenue": profile.account.annual_revenue,
        "profile": profile.model_dump_json(by_alias=True),
    }


def _parse_data(source: Source, limits: Limits = DEFAULT) -> Profile:
    """Validate already-parsed data (JSON, CSV); every problem points at the record's line."""
    return parse_profile(Located(source.path, source.payload, {(): (source.line, 1)}, {}), limits)


# --- pass 2: evaluate and render ---------------------------------------------------------------

_advisors: dict[tuple, Advisor] = {}
_advisors_lock = threading.Lock()


def advisor_for(options: Options) -> Advisor:
    """This process's Advisor for these rules and templates, loaded once and shared by its threads
    (an Advisor gives each thread its own engine)."""
    key = (options.rules, options.templates)
    with _advisors_lock:
        if key not in _advisors:
            _advisors[key] = Advisor.load(options.rules, options.templates)
        return _advisors[key]


def content_hash(
    profile_json: str, position: Position | None, digest: str, options: Options, clock: dt.date | None = None
) -> str:
    """What an account's outputs depend on. Without --today, a profile with no visit is advised as
    of the clock, so the date of the run (`clock`) counts: a resume on another day re-briefs."""
    h = hashlib.sha256()
    as_of = str(options.today) if options.today else f"clock {clock or dt.date.today()}"
    for part in (profile_json, json.dumps(position.as_dict() if position else None, sort_keys=True), digest,
                 options.lang, ",".join(options.formats), as_of, __version__):  # fmt: skip
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


Task = tuple[Options, str, Position | None, Path | None]  # options, profile JSON, position, OUT or None


def brief_one(task: Task) -> dict[str, Any]:
    """Render every requested format for one validated profile (runs in a worker process or thread).

    With OUT (local workers), the worker writes the briefs itself and returns their sizes: the main
    process then only keeps the journal, instead of receiving and writing every text. Without it (a
    Dask worker may not see OUT), the texts come back in the result."""
    options, profile_json, position, out = task
    advisor = advisor_for(options)
    profile = Profile.model_validate_json(profile_json)
    try:
        evaluation = advisor.evaluate(profile, options.today, position)
        outputs, recs = advisor.render_all(evaluation, lang=options.lang, formats=options.formats)
        facts = evaluation.facts()
        summary = _portfolio_facts(profile, evaluation, facts)
    except EngineError as exc:  # one account's failure never stops the batch
        return {"error": f"advisor: error: account '{profile.account.id}': {exc}"}
    except Exception as exc:  # noqa: BLE001 - a bug shows on its account, and the batch goes on
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return {"error": f"advisor: internal error: account '{profile.account.id}': {detail}"}
    result: dict[str, Any] = {"outputs": outputs}
    if out is not None:
        try:
            result = {"written": _write_outputs(out, profile.account.id, outputs)}
        except UnwritableOutput as exc:
            return {"unwritable": exc.problems}
    return {
        **result,
        "counts": {
            "recommendations": len(recs),
            "high": sum(r.priority == "high" for r in recs),
            "stakeholders": len(profile.stakeholders),
        },
        "summary": summary,
    }


def _write_outputs(out: Path, account_id: str, outputs: dict[str, str]) -> dict[str, int]:
    """Write one account's briefs under OUT; their paths (relative to OUT) and sizes in bytes."""
    sizes = {}
    for fmt, text in outputs.items():
        rel = f"{BRIEFS}/{account_id}.{EXTENSIONS[fmt]}"
        sizes[rel] = write_atomically(out / rel, text, durable=False)  # flushed once, before the index
    return sizes


def _portfolio_facts(profile: Profile, evaluation, facts: dict[str, dict]) -> dict[str, Any]:
    """What the portfolio summary needs from one account, gathered while it is in memory."""
    account = facts["account"]
    overdue = [
        {"name": s.name, "days": facts[f"stakeholder:{s.id}"].get("stakeholder.days_since_contact")}
        for s in profile.stakeholders
        if s.level == "senior" and (facts[f"stakeholder:{s.id}"].get("stakeholder.days_since_contact") or 10**6) > 90
    ]
    threats = [
        {"name": c.name, "strength": c.strength, "move": c.latest_move}
        for c in profile.competitors
        if c.strength == "strong" or (c.latest_move and c.learned_on and (evaluation.today - c.learned_on).days <= 30)
    ]
    return {
        "name": profile.account.name,
        "revenue": profile.account.annual_revenue,
        "has_insider": account.get("account.has_insider", False),
        "overdue_senior": overdue,
        "threats": threats,
        "has_visit": profile.visit is not None,
    }


# --- orchestration ------------------------------------------------------------------------------


def _map(fn: Callable, items: Iterable, options: Options, chunksize: int = 8) -> Iterator:
    """Map in input order: in this process (--jobs 1), a pool of worker processes, or a Dask cluster."""
    if options.dask:
        yield from _map_dask(fn, items, options)
        return
    if options.jobs <= 1:
        yield from map(fn, items)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    with context.Pool(options.jobs, initializer=advisor_for, initargs=(options,)) as pool:
        yield from pool.imap(fn, items, chunksize)


def _map_dask(fn: Callable, items: Iterable, options: Options, window: int = 512) -> Iterator:
    """Submit to a Dask scheduler a window at a time (memory stays bounded) and yield in order."""
    try:
        from distributed import Client
    except ImportError:
        raise AdvisorError(
            Problem("--dask", 1, 1, "error", "Dask is not installed: pip install 'advisor[dask]'")
        ) from None
    try:
        client = Client(options.dask, timeout=10, set_as_default=False)
    except OSError as exc:
        raise AdvisorError(
            Problem("--dask", 1, 1, "error", f"cannot reach the Dask scheduler at {options.dask}: {exc}")
        ) from None
    try:
        chunk: list = []
        for item in items:
            chunk.append(item)
            if len(chunk) == window:
                yield from client.gather(client.map(fn, chunk, pure=False))
                chunk = []
        if chunk:
            yield from client.gather(client.map(fn, chunk, pure=False))
    finally:
        client.close()


def _whole(out: Path, rel: str, entry: dict) -> bool:
    """Whether an earlier run's output is still there with the size it was written with (a power
    cut can leave a renamed but never flushed brief empty; older indexes record no sizes)."""
    try:
        st = (out / rel).stat()
    except OSError:
        return False
    size = entry.get("bytes", {}).get(rel)
    return stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size)


def _previous(out: Path) -> dict[str, dict]:
    """Finished accounts from an earlier run: the index, then the journal of an interrupted run."""
    done: dict[str, dict] = {}
    for name in (INDEX, JOURNAL):
        path = out / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            if entry.get("status") == "ok":
                done[entry["id"]] = entry
            else:  # "writing": its outputs were being replaced when the run stopped
                done.pop(entry["id"], None)
    return done


@contextlib.contextmanager
def _only_batch_in(out: Path) -> Iterator[None]:
    """Hold OUT/.lock for the whole run, so two batches never write one folder at once and a run
    may clean up after a killed one. Without fcntl (Windows), runs are not guarded."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = out / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _unwritable(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UnwritableOutput(
                Problem(
                    str(out),
                    1,
                    1,
                    "error",
                    "another advisor batch is writing to this folder; wait for it, or choose another -o",
                )
            ) from None
        except OSError:  # a file system without locks (some network mounts): run unguarded
            break
        try:  # the holder before us may have removed the file between our open and our lock
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _clear_leftovers(out: Path) -> None:
    """Remove what a killed run left: its work folders and the temp files of unfinished writes."""
    for path in out.glob(".work-*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
    for folder in (out, out / BRIEFS):
        for path in folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink():
                    path.unlink()


def _unwritable(path: Path, exc: OSError) -> UnwritableOutput:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write the file: {reason}"))


def _stopped(exc: UnwritableOutput) -> UnwritableOutput:
    """The same problem, saying what happened to the batch and how to finish it."""
    return UnwritableOutput(
        [
            Problem(
                p.path, p.line, p.col, p.level, f"{p.message}; the batch stopped: fix this, then rerun with --resume"
            )
            for p in exc.problems
        ]
    )


class _Journal:
    """OUT/.journal.jsonl, appended one whole line at a time; a failed write stops the batch."""

    def __init__(self, path: Path):
        self.path = path
        try:
            if path.is_file() and path.stat().st_size:
                with path.open("rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    torn = handle.read(1) != b"\n"
            else:
                torn = False
            self.handle = path.open("a", encoding="utf-8")
            if torn:  # a kill cut the last line short: never glue the next line onto it
                self.handle.write("\n")
        except OSError as exc:
            raise _unwritable(path, exc) from None

    def append(self, entry: dict) -> None:
        self.extend((entry,))

    def extend(self, entries: Iterable[dict]) -> None:
        try:
            self.handle.write("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries))
            self.handle.flush()  # in the OS's hands: a kill of this process cannot lose it
        except OSError as exc:
            raise _unwritable(self.path, exc) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failure here was already reported by append
            self.handle.close()


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


class Progress:
    """Accounts done, rate and ETA on a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.start, self.done, self.last = total, enabled, time.monotonic(), 0, 0.0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and self.done < self.total):
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0
        sys.stderr.write(f"\r{self.done}/{self.total} accounts · {rate:,.0f}/s · ETA {eta:,.0f}s ")
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")


def run(
    inputs: list[str], out: Path, options: Options, *, progress: bool = False, report: Callable[[str], None] = print
) -> Summary:
    """The whole batch. `report` receives one line per failed account (for stderr).

    Raises UnwritableOutput (exit 2) when an output cannot be written; see the module docstring."""
    advisor = Advisor.load(options.rules, options.templates)  # fail fast on bad rules, before any work
    with _advisors_lock:
        _advisors.setdefault((options.rules, options.templates), advisor)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnwritableOutput(
            Problem(str(out), 1, 1, "error", f"cannot create the output folder: {exc.strerror or exc}")
        ) from None
    with _only_batch_in(out):
        _clear_leftovers(out)
        try:
            return _run(inputs, out, options, advisor, progress, report)
        except UnwritableOutput as exc:
            _clear_leftovers(out)  # the workers are stopped: a brief one was writing is not left half-made
            raise _stopped(exc) from None


def _run(
    inputs: list[str], out: Path, options: Options, advisor: Advisor, progress: bool, report: Callable[[str], None]
) -> Summary:
    previous = _previous(out) if options.resume else {}
    clock = dt.date.today()  # read once: a run that crosses midnight hashes every account alike
    summary = Summary()
    with tempfile.TemporaryDirectory(dir=out, prefix=".work-") as work:
        spill = Path(work) / "profiles.jsonl"
        parsed: list[dict] = []  # per record: source, id, revenue, error — not the profile itself
        seen: dict[str, str] = {}
        records = _expand(inputs, lambda items: expand(items, options.limits))
        try:
            with spill.open("w", encoding="utf-8") as handle:
                for result in _map(partial(parse_source, limits=options.limits), records, options):
                    if "error" not in result:
                        if result["id"] in seen:
                            result = {"source": result["source"], "id": result["id"],
                                      "error": f"{result['source']}:1: error: duplicate account id '{result['id']}' (also {seen[result['id']]}); each account needs its own id"}  # fmt: skip
                        else:
                            seen[result["id"]] = result["source"]
                            handle.write(result.pop("profile") + "\n")
                    parsed.append(result)
        except OSError as exc:
            raise _unwritable(spill, exc) from None
        positions = tiers((r["id"], r.get("revenue")) for r in parsed if "error" not in r)

        ok_records = [r for r in parsed if "error" not in r]

        def tasks() -> Iterator[tuple[Options, str, Position | None]]:
            """One task per valid record: the spill holds their profiles, one line each, in the same order."""
            with spill.open(encoding="utf-8") as handle:
                for record, line in zip(ok_records, handle, strict=True):
                    yield options, line.rstrip("\n"), positions.get(record["id"])

        place = {id(r): i for i, r in enumerate(parsed)}  # index lines follow the input order
        placed: list[tuple[int, dict]] = []
        meter = Progress(len(parsed), progress)
        for r in parsed:
            if "error" in r:
                entry = {"id": r.get("id"), "source": r["source"], "status": "error", "error": r["error"]}
                placed.append((place[id(r)], entry))
                summary.failed += 1
                for line in r["error"].splitlines():
                    report(line)
                meter.step()
        # Decide what to skip before any work starts, without holding any profile text: one small
        # decision per account. (Deciding inside the task generator would run it on the pool's
        # feeder thread while this thread reads the decisions: a race.)
        decisions: list[tuple[dict, str, bool]] = []  # (record, content hash, unchanged)
        for record, (_, profile_json, position) in zip(ok_records, tasks(), strict=True):
            digest = content_hash(profile_json, position, advisor.digest, options, clock)
            old = previous.get(record["id"])
            unchanged = (
                bool(old) and old.get("hash") == digest and all(_whole(out, p, old) for p in old.get("outputs", []))
            )
            decisions.append((record, digest, unchanged))

        writer = None if options.dask else out  # a Dask worker may not see OUT: texts come back

        def planned() -> Iterator[Task]:
            for (_, _, unchanged), task in zip(decisions, tasks(), strict=True):
                if not unchanged:
                    yield (*task, writer)

        journal = _Journal(out / JOURNAL)
        # Trust no older entry of an account about to be briefed again, from before its first write.
        journal.extend({"id": record["id"], "status": "writing"} for record, _, unchanged in decisions if not unchanged)

        def finish(record: dict, digest: str, unchanged: bool, result: dict | None) -> None:
            position = positions.get(record["id"])
            if unchanged:
                entry = {**previous[record["id"]], "source": record["source"]}  # the file may have moved
                summary.skipped += 1
            else:
                sizes = (
                    result["written"] if "written" in result else _write_outputs(out, record["id"], result["outputs"])
                )
                entry = {"id": record["id"], "source": record["source"], "status": "ok", "outputs": list(sizes), "bytes": sizes,
                         "counts": result["counts"], "hash": digest,
                         "portfolio": position.as_dict() if position else None, "summary": result["summary"]}  # fmt: skip
                journal.append(entry)
            summary.ok += 1
            placed.append((place[id(record)], entry))
            meter.step()

        results = _map(brief_one, planned(), options)
        try:
            for record, digest, unchanged in decisions:
                if unchanged:
                    finish(record, digest, True, None)
                    continue
                result = next(results)
                if "unwritable" in result:
                    raise UnwritableOutput(result["unwritable"])
                if "error" in result:
                    summary.failed += 1
                    placed.append(
                        (place[id(record)], {"id": record["id"], "source": record["source"], "status": "error", "error": result["error"]})
                    )  # fmt: skip
                    report(result["error"])
                    meter.step()
                else:
                    finish(record, digest, False, result)
            for _ in results:
                raise RuntimeError("more results than planned tasks")
        finally:
            results.close()  # on a failure: stop the workers now
            journal.close()

    summary.entries = [entry for _, entry in sorted(placed, key=lambda p: p[0])]
    index = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in summary.entries)
    flush_to_disk()  # every brief on disk before the index that lists them
    write_atomically(out / INDEX, index)
    write_atomically(out / "portfolio.md", portfolio_summary(summary.entries, options.lang))
    (out / JOURNAL).unlink(missing_ok=True)
    return summary


def portfolio_summary(entries: list[dict], lang: str) -> str:
    """OUT/portfolio.md: tiers, accounts without an insider, overdue senior contacts, competitor threats, Pareto."""
    ok = [e for e in entries if e.get("status") == "ok"]
    ranked = sorted((e for e in ok if e.get("portfolio")), key=lambda e: e["portfolio"]["rank"])
    lines = ["# Portfolio summary", ""]
    failed = [e for e in entries if e.get("status") != "ok"]
    lines.append(f"{len(ok)} accounts briefed, {len(failed)} failed.")
    lines.append("")
    lines += ["## Value tiers (80/20)", "", "| Rank | Account | Revenue | Share | Class |", "|---|---|---|---|---|"]
    for e in ranked:
        pos = e["portfolio"]
        lines.append(
            f"| {pos['rank']} | {_cell(e['summary']['name'])} | {e['summary']['revenue']:,.0f} | {100 * pos['share']:.1f}% | {pos['portfolio_class'].upper()} |"
        )
    unknown = [e for e in ok if not e.get("portfolio")]
    if unknown:
        lines.append(f"\nRevenue unknown (not tiered): {', '.join(_cell(e['summary']['name']) for e in unknown)}")
    lines += ["", "## Accounts without an insider", ""]
    lines += [f"- {_cell(e['summary']['name'])}" for e in ok if not e["summary"]["has_insider"]] or ["None."]
    lines += ["", "## Overdue senior contacts (over 90 days)", ""]
    overdue = [(e, p) for e in ok for p in e["summary"]["overdue_senior"]]
    lines += [
        f"- {_cell(e['summary']['name'])}: {_cell(p['name'])}, "
        + (f"{p['days']} days" if p["days"] is not None else "never contacted")
        for e, p in overdue
    ] or ["None."]
    lines += ["", "## Competitor threats", ""]
    threats = [(e, t) for e in ok for t in e["summary"]["threats"]]
    lines += [
        f"- {_cell(e['summary']['name'])}: {_cell(t['name'])} ({t['strength']})"
        + (f": {_cell(t['move'])}" if t["move"] else "")
        for e, t in threats
    ] or ["None."]
    if ranked:
        top = ranked[:20]
        total = sum(e["summary"]["revenue"] for e in ranked)
        cumulative, running = [], 0.0
        for e in top:
            running += e["summary"]["revenue"]
            cumulative.append(round(100 * running / total, 1) if total else 0)
        lines += ["", "## Revenue Pareto", "", "```mermaid", "xychart-beta", '  title "Revenue by account (top 20) and cumulative share"',
                  "  x-axis [" + ", ".join(f'"{i}"' for i in range(1, len(top) + 1)) + "]",
                  '  y-axis "Cumulative share %" 0 --> 100',
                  "  bar [" + ", ".join(f"{100 * e['portfolio']['share']:.1f}" for e in top) + "]",
                  "  line [" + ", ".join(str(c) for c in cumulative) + "]", "```", "",
                  "Bars: each account's share of revenue (%, by rank); line: cumulative share."]  # fmt: skip
    lines.append("")
    return "\n".join(lines)


def _cell(text: Any) -> str:
    from .render import md

    return md(text)
