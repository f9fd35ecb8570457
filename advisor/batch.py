"""Briefs for a whole portfolio: parse every record, tier the portfolio (80/20), brief every account.

Two passes keep memory flat however many accounts there are: pass 1 validates each record and
spills it as canonical JSON to a work file (keeping only ids and revenues in memory); pass 2
streams the work file back, evaluates and renders. Both passes run in worker processes when
--jobs > 1 (each with its own Advisor: durable-rules hosts belong to one process and thread),
and results come back in input order, so the output is byte-identical for any --jobs.

Safety: every brief is written to a temporary file and renamed; each finished account is
appended to OUT/.journal.jsonl, and OUT/index.jsonl is replaced atomically at the end. After a
kill, `--resume` trusts the journal and the index, skipping accounts whose content hash (profile,
portfolio position, rules and templates, language, today, version) and outputs are unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .api import Advisor
from .errors import AdvisorError, EngineError, Problem
from .files import write_atomically
from .modelio import validate
from .portfolio import Position, tiers
from .profile import Profile, cross_check, parse_profile
from .sources import DEFAULT_MAX_RECORD_BYTES, Source, expand
from .yamlio import Located, load_text

INDEX = "index.jsonl"
JOURNAL = ".journal.jsonl"
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
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    dask: str | None = None  # a Dask scheduler address: run the work on that cluster


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    entries: list[dict] = field(default_factory=list)


# --- pass 1: parse and validate ----------------------------------------------------------------


def parse_source(source: Source) -> dict[str, Any]:
    """A record as canonical profile JSON (or the problems that stop it), plus what tiering needs."""
    if source.kind == "error":
        return {"source": source.label, "error": f"{source.label}:1: error: {source.payload}"}
    try:
        if source.kind == "yaml":
            profile = parse_profile(load_text(source.payload, source.path))
        else:
            profile = _parse_data(source)
    except AdvisorError as exc:
        return {"source": source.label, "error": "\n".join(str(p) for p in exc.problems)}
    return {
        "source": source.label,
        "id": profile.account.id,
        "revenue": profile.account.annual_revenue,
        "profile": profile.model_dump_json(by_alias=True),
    }


def _parse_data(source: Source) -> Profile:
    """Validate already-parsed data (JSON, CSV); every problem points at the record's line."""
    doc = Located(source.path, source.payload, {(): (source.line, 1)}, {})
    profile = validate(doc, Profile)
    problems = cross_check(profile, doc)
    if problems:
        raise AdvisorError(problems)
    return profile


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


def content_hash(profile_json: str, position: Position | None, digest: str, options: Options) -> str:
    h = hashlib.sha256()
    for part in (profile_json, json.dumps(position.as_dict() if position else None, sort_keys=True), digest,
                 options.lang, ",".join(options.formats), str(options.today), __version__):  # fmt: skip
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def brief_one(task: tuple[Options, str, Position | None]) -> dict[str, Any]:
    """Render every requested format for one validated profile (runs in a worker process or thread)."""
    options, profile_json, position = task
    advisor = advisor_for(options)
    profile = Profile.model_validate_json(profile_json)
    try:
        evaluation = advisor.evaluate(profile, options.today, position)
    except EngineError as exc:  # one account's failure never stops the batch
        return {"error": f"advisor: error: account '{profile.account.id}': {exc}"}
    outputs = {fmt: advisor.render(evaluation, lang=options.lang, format=fmt) for fmt in options.formats}
    recs = advisor.recommendations(evaluation, options.lang)
    facts = evaluation.facts()
    return {
        "outputs": outputs,
        "counts": {
            "recommendations": len(recs),
            "high": sum(r.priority == "high" for r in recs),
            "stakeholders": len(profile.stakeholders),
        },
        "summary": _portfolio_facts(profile, evaluation, facts),
    }


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
            if isinstance(entry, dict) and entry.get("status") == "ok" and "id" in entry:
                done[entry["id"]] = entry
    return done


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
    """The whole batch. `report` receives one line per failed account (for stderr)."""
    out.mkdir(parents=True, exist_ok=True)
    advisor = Advisor.load(options.rules, options.templates)  # fail fast on bad rules, before any work
    with _advisors_lock:
        _advisors.setdefault((options.rules, options.templates), advisor)
    previous = _previous(out) if options.resume else {}
    summary = Summary()
    with tempfile.TemporaryDirectory(dir=out, prefix=".work-") as work:
        spill = Path(work) / "profiles.jsonl"
        parsed: list[dict] = []  # per record: source, id, revenue, error — not the profile itself
        seen: dict[str, str] = {}
        with spill.open("w", encoding="utf-8") as handle:
            for result in _map(parse_source, expand(inputs, options.max_record_bytes), options):
                if "error" not in result:
                    if result["id"] in seen:
                        result = {"source": result["source"], "id": result["id"],
                                  "error": f"{result['source']}:1: error: duplicate account id '{result['id']}' (also {seen[result['id']]}); each account needs its own id"}  # fmt: skip
                    else:
                        seen[result["id"]] = result["source"]
                        handle.write(result.pop("profile") + "\n")
                parsed.append(result)
        positions = tiers((r["id"], r.get("revenue")) for r in parsed if "error" not in r)

        def tasks() -> Iterator[tuple[Options, str, Position | None]]:
            with spill.open(encoding="utf-8") as handle:
                for line in handle:
                    profile_id = json.loads(line)["account"]["id"]
                    yield options, line.rstrip("\n"), positions.get(profile_id)

        ok_records = [r for r in parsed if "error" not in r]
        meter = Progress(len(parsed), progress)
        for r in parsed:
            if "error" in r:
                entry = {"id": r.get("id"), "source": r["source"], "status": "error", "error": r["error"]}
                summary.entries.append(entry)
                summary.failed += 1
                for line in r["error"].splitlines():
                    report(line)
                meter.step()
        # Decide what to skip without holding any profile text: one small decision per account.
        decisions: list[tuple[dict, str, bool]] = []  # (record, content hash, unchanged)

        def todo() -> Iterator[tuple[Options, str, Position | None]]:
            for record, task in zip(ok_records, tasks(), strict=True):
                _, profile_json, position = task
                digest = content_hash(profile_json, position, advisor.digest, options)
                old = previous.get(record["id"])
                unchanged = (
                    bool(old) and old.get("hash") == digest and all((out / p).is_file() for p in old.get("outputs", []))
                )
                decisions.append((record, digest, unchanged))
                if not unchanged:
                    yield task

        # Decisions are made ahead of results (the map consumes todo() first), so a result always
        # finds its decision; unchanged accounts between results are flushed in input order.
        planned = todo()
        results = _map(brief_one, planned, options)
        done = 0
        with (out / JOURNAL).open("a", encoding="utf-8") as journal:

            def finish(record: dict, digest: str, unchanged: bool, result: dict | None) -> None:
                position = positions.get(record["id"])
                if unchanged:
                    entry = dict(previous[record["id"]])
                    summary.skipped += 1
                else:
                    paths = []
                    for fmt, text in result["outputs"].items():
                        rel = f"{BRIEFS}/{record['id']}.{EXTENSIONS[fmt]}"
                        write_atomically(out / rel, text)
                        paths.append(rel)
                    entry = {"id": record["id"], "source": record["source"], "status": "ok", "outputs": paths,
                             "counts": result["counts"], "hash": digest,
                             "portfolio": position.as_dict() if position else None, "summary": result["summary"]}  # fmt: skip
                    journal.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
                    journal.flush()
                summary.ok += 1
                summary.entries.append(entry)
                meter.step()

            for result in results:
                while decisions[done][2]:
                    finish(*decisions[done], None)
                    done += 1
                if "error" in result:
                    record = decisions[done][0]
                    summary.failed += 1
                    summary.entries.append(
                        {"id": record["id"], "source": record["source"], "status": "error", "error": result["error"]}
                    )
                    report(result["error"])
                    meter.step()
                else:
                    finish(*decisions[done], result)
                done += 1
            for _ in planned:  # the map has consumed it; this only makes sure
                raise RuntimeError("a task was planned but never briefed")
            while done < len(decisions):
                finish(*decisions[done], None)
                done += 1
    order = {r["source"]: i for i, r in enumerate(parsed)}
    summary.entries.sort(key=lambda e: order.get(e["source"], 0))
    index = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in summary.entries)
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
