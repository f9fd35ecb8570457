"""What a batch worker does: parse and validate one record (pass 1), brief one account (pass 2), and
the content hash that tells --resume whether an account's outputs would change."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from .. import __version__
from ..api import Advisor
from ..crm import located
from ..errors import AdvisorError, EngineError, UnwritableOutput
from ..files import write_atomically
from ..limits import DEFAULT, Limits
from ..portfolio import Position
from ..profile import Profile, from_validated_json, parse_profile, parse_profile_json, to_validated_json
from ..sources import Source, decoded, read
from ..yamlio import Located, beyond, load_text
from .options import Options
from .summary import account_summary

BRIEFS = "briefs"  # OUT/briefs/ACCOUNT.md, ACCOUNT.json, ACCOUNT.html, ACCOUNT.pdf
EXTENSIONS = {"markdown": "md", "json": "json", "html": "html", "pdf": "pdf"}


# --- pass 1: parse and validate ----------------------------------------------------------------


def parse_source(source: Source, limits: Limits = DEFAULT) -> dict[str, Any]:
    """A record as canonical profile JSON in UTF-8 (or the problems that stop it), plus what tiering needs."""
    source = read(source, limits)
    if source.kind in ("json", "jsonl"):
        profile = parse_profile_json(source.payload, source.path, source.line, limits)
        if profile is not None:
            return _parsed(source.label, profile)
    source = decoded(source, limits)
    if source.kind == "error":
        return {"source": source.label, "error": f"{source.label}:{source.col}: error: {source.payload}"}
    if source.kind == "warning":
        return {"note": {"id": None, "source": source.label, "status": "warning",
                         "warning": f"{source.label}:{source.col}: warning: {source.payload}"}}  # fmt: skip
    if source.kind == "tally":  # a CRM file's rows read, skipped and why
        return {"note": {"id": None, "source": source.path, "status": "read", **source.payload}}
    try:
        if source.kind == "yaml":
            doc = load_text(source.payload, source.path, limits)
        elif source.cells is not None:  # a joined CRM record: the values limit, as for any profile
            problem = beyond(source.payload, limits)
            if problem:
                return {"source": source.label, "error": f"{source.label}:1: error: {problem}"}
            doc = located(source)
        else:
            doc = Located(source.path, source.payload, {(): (source.line, 1)}, {})
        profile = parse_profile(doc, limits)  # numbers are finite (profile.py): no NaN reaches the index
    except AdvisorError as exc:
        return {"source": source.label, "error": "\n".join(str(p) for p in exc.problems)}
    return _parsed(source.label, profile)


def _parsed(label: str, profile: Profile) -> dict[str, Any]:
    return {
        "source": label,
        "id": profile.account.id,
        "revenue": profile.account.annual_revenue,
        "profile": to_validated_json(profile),
    }


# --- pass 2: evaluate and render ---------------------------------------------------------------

# One Advisor per process and rules/templates pair: a worker process loads it once (the pool's
# initializer), not once per account. A cache, not state: every entry is the same load of the same files.
_advisors: dict[tuple, Advisor] = {}
_advisors_lock = threading.Lock()


def advisor_for(options: Options, loaded: Advisor | None = None) -> Advisor:
    """This process's Advisor for these rules and templates, loaded once and shared by its threads
    (an Advisor gives each thread its own engine). `loaded`, a run's fresh load, replaces an older
    one, so a second run in the same process sees files edited since the first."""
    key = (options.rules, options.templates)
    with _advisors_lock:
        if loaded is not None:
            _advisors[key] = loaded
        elif key not in _advisors:
            _advisors[key] = Advisor.load(options.rules, options.templates)
        return _advisors[key]


def content_hash(
    profile_json: bytes, position: Position | None, digest: str, options: Options, clock: dt.date | None = None
) -> str:
    """What an account's outputs depend on. Without --today, a profile with no visit is advised as
    of the clock, so the date of the run (`clock`) counts: a resume on another day re-briefs."""
    h = hashlib.sha256()
    as_of = str(options.today) if options.today else f"clock {clock or dt.date.today()}"
    h.update(profile_json + b"\0")
    for part in (json.dumps(position.as_dict() if position else None, sort_keys=True), digest,
                 options.lang, ",".join(options.formats), as_of, __version__, options.paper):  # fmt: skip
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


# options, profile JSON (UTF-8), position, OUT or None, the run's date (the content hash's `clock`)
Task = tuple[Options, bytes, Position | None, Path | None, dt.date]


def brief_one(task: Task) -> dict[str, Any]:
    """Render every requested format for one validated profile (runs in a worker process or thread).

    With OUT (local workers), the worker writes the briefs itself and returns their sizes: the main
    process then only keeps the journal, instead of receiving and writing every text. Without it (a
    Dask worker may not see OUT), the texts come back in the result, and so does the content hash
    (worked out here, where the profile JSON is, not by the main process reading it once more)."""
    return brief_many([task])[0]


STAGED = 8  # accounts briefed a stage at a time (see brief_many)


def brief_many(tasks: list[Task]) -> list[dict[str, Any]]:
    """brief_one of each task (a chunk a worker is sent at once), a stage at a time for every STAGED
    of them: each account evaluated, then each brief rendered, then each one written. Each stage's
    code and data (the engine's rulesets in C, the templates and their labels) stay in the
    processor's caches from one account to the next, where one account's stages in turn push each
    other's out. More accounts at once keep more objects alive from stage to stage for the garbage
    collector to walk: over 320 JSON Lines tasks, 4 at once took 0.919 of the CPU of one at a time,
    8 took 0.904, 16 0.924 and 32 0.931. One account's failure is its own result, as in brief_one."""
    return [result for start in range(0, len(tasks), STAGED) for result in _staged(tasks[start : start + STAGED])]


def _staged(tasks: list[Task]) -> list[dict[str, Any]]:
    """The tasks' results, each stage run over all of them before the next (see brief_many)."""
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    evaluated = []
    for n, task in enumerate(tasks):
        options, profile_json, position = task[:3]
        advisor = advisor_for(options)
        profile = from_validated_json(profile_json)  # pass 1 validated it
        try:
            evaluated.append((n, advisor, profile, advisor.evaluate(profile, options.today, position)))
        except Exception as exc:  # noqa: BLE001 - one account's failure never stops the batch
            results[n] = _failure(profile, exc)
    rendered = []
    for n, advisor, profile, evaluation in evaluated:
        options = tasks[n][0]
        try:
            outputs, recs = advisor.render_all(
                evaluation, lang=options.lang, formats=options.formats, paper=options.paper
            )
            rendered.append((n, advisor, profile, outputs, recs, account_summary(profile, evaluation)))
        except Exception as exc:  # noqa: BLE001 - as above
            results[n] = _failure(profile, exc)
    for n, advisor, profile, outputs, recs, summary in rendered:
        options, profile_json, position, out, clock = tasks[n]
        result: dict[str, Any] = {"outputs": outputs}
        if out is not None:
            try:
                result = {"written": write_outputs(out, profile.account.id, outputs)}
            except UnwritableOutput as exc:
                results[n] = {"unwritable": exc.problems}
                continue
        results[n] = {
            **result,
            "hash": content_hash(profile_json, position, advisor.digest, options, clock),
            "counts": {
                "recommendations": len(recs),
                "high": sum(r.priority == "high" for r in recs),
                "stakeholders": len(profile.stakeholders),
            },
            "summary": summary,
        }
    return results  # type: ignore[return-value] - every task has its result by now


def _failure(profile: Profile, exc: Exception) -> dict[str, str]:
    """An account's failure as its result: the engine's words, or a bug's on one line."""
    if isinstance(exc, EngineError):
        return {"error": f"advisor batch: error: account '{profile.account.id}': {exc}"}
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]  # a bug shows on its account
    return {"error": f"advisor batch: internal error: account '{profile.account.id}': {detail}"}


def write_outputs(out: Path, account_id: str, outputs: dict[str, str | bytes]) -> dict[str, int]:
    """Write one account's briefs under OUT; their paths (relative to OUT) and sizes in bytes."""
    sizes = {}
    for fmt, text in outputs.items():
        rel = f"{BRIEFS}/{account_id}.{EXTENSIONS[fmt]}"
        sizes[rel] = write_atomically(out / rel, text, durable=False)  # flushed once, before the index
    return sizes
