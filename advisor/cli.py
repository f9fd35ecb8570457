"""The `advisor` command: subcommands, exit codes, and the only place that prints.

Exit codes: 0 clean; 1 problems found (bad profile or rule file, failing case); 2 usage or
unreadable input. Tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as dt
import errno
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from . import __version__
from .api import FORMATS, Advisor, shipped
from .engine import available
from .errors import AdvisorError, EngineError, Failure, Problem, UnwritableOutput
from .facts import Catalogue
from .files import refuse_inputs, write_atomically
from .ledger.report import MIN_SHOWN, REPORT_FORMATS
from .limits import DEFAULT, NAMES, Limits, parse_item
from .profile import load_profile
from .vocabulary import LANGS, SCOPE_MEANING, SCOPES


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-12-01") from None


def _limit(text: str) -> tuple[str, int]:
    try:
        return parse_item(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bytes(text: str) -> tuple[str, int]:
    return _limit(f"record_bytes={text}")


def _encoding(text: str) -> str:
    """A codec Python knows, by any of its names; a text codec (not base64 or zlib)."""
    try:
        info = codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding '{text}'; try utf-8, gb18030, utf-16 or cp1252") from None
    if not getattr(info, "_is_text_encoding", True):
        raise argparse.ArgumentTypeError(f"'{text}' is not a text encoding; try utf-8, gb18030, utf-16 or cp1252")
    return text


def _limits(args: argparse.Namespace) -> Limits:
    """The defaults, with every --limit (and --max-record-bytes) applied in order."""
    return DEFAULT.override(args.limits or ())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="advisor", description="Pre-visit briefs for key accounts, from a sales course encoded as rules."
    )
    parser.add_argument("--version", action="version", version=f"advisor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], engine: bool = False, **kwargs
    ) -> argparse.ArgumentParser:
        """A subcommand that carries its own handler: main() calls args.handler, no second table.
        `engine`: it runs durable-rules, so it stops at once, in one line, where that cannot load."""
        p = sub.add_parser(name, **kwargs)
        p.set_defaults(handler=handler, engine=engine)
        return p

    def with_limits(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--limit", dest="limits", action="append", type=_limit, metavar="NAME=N",
            help=f"raise or lower a limit (repeatable); names: {', '.join(NAMES)}; defaults in SECURITY.md",
        )  # fmt: skip

    def with_sources(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rules", type=Path, help="a folder of rule files to use instead of the shipped ones")
        p.add_argument("--templates", type=Path, help="a folder of templates to use instead of the shipped ones")

    p = command("brief", cmd_brief, engine=True, help="write the pre-visit brief for one profile")
    p.add_argument("profile", type=Path)
    p.add_argument("--lang", choices=LANGS, default="en")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: the visit date, else today)")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--full", action="store_true", help="show every recommendation, not only what fits the car park")
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    p.add_argument(
        "--portfolio",
        type=Path,
        metavar="INDEX",
        help="a batch's index.jsonl: use the 80/20 tiers computed across that portfolio",
    )
    p.add_argument("--watch", action="store_true", help="re-render whenever the profile, a rule or a template changes")
    p.add_argument("--watch-limit", type=int, default=0, help=argparse.SUPPRESS)  # for tests: stop after N renders
    with_limits(p)
    with_sources(p)

    p = command(
        "batch",
        cmd_batch,
        engine=True,
        help="briefs for many accounts: files, folders, globs, JSON Lines, CRM CSV",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 every account briefed; 1 some accounts could not be read, parsed or briefed\n"
        "(stderr and index.jsonl say which); 2 usage, or an output could not be written (disk full,\n"
        "permission, another batch writing to OUT): the batch stopped, the index was left as it was;\n"
        "fix the cause and rerun with --resume.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="profile files, folders, globs, *.jsonl, - (JSON Lines on stdin), or a CRM export folder",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="the output folder")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--format", default="markdown", help="markdown, json, or both: markdown,json")
    p.add_argument("--lang", choices=LANGS, default="en")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: each visit date, else today)")
    p.add_argument("--resume", action="store_true", help="skip accounts whose output would not change")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--max-record-bytes", dest="limits", action="append", type=_bytes, metavar="N",
                   help="the same as --limit record_bytes=N")  # fmt: skip
    with_limits(p)
    p.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="run on a Dask cluster (pip install 'advisor[dask]')")
    p.add_argument("--encoding", type=_encoding, metavar="NAME",
                   help="a CRM export's CSV encoding (utf-8, gb18030, utf-16, ...); default: told from the bytes")  # fmt: skip
    with_sources(p)

    p = command("new", cmd_new, help="write a commented starter profile to fill in")
    p.add_argument("file", type=Path)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = command("facts", cmd_facts, help="list every fact rules can test")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rules", type=Path, help="include facts derived by these rules (default: the shipped rules)")

    p = command("test", cmd_test, engine=True, help="run the rules' case files")
    p.add_argument("rules_dirs", nargs="*", type=Path, metavar="RULES", help="rule folders whose *.cases.yaml to run")
    p.add_argument("--rules", type=Path, help="a rule folder (same as RULES; default: the shipped rules)")
    p.add_argument("--templates", type=Path, help=argparse.SUPPRESS)
    p.add_argument(
        "--allow-base-outside", action="store_true",
        help="let case files name base profiles outside the rules' repository (the rules folder's parent)",
    )  # fmt: skip

    p = command("lint", cmd_lint, help="check rule files: schema, meaning, contradictions, cases, engine headroom")
    p.add_argument(
        "rules_dirs", nargs="*", type=Path, metavar="RULES", help="rule folders (default: the shipped rules)"
    )
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument("--templates", type=Path, help="templates whose tier labels count as uses of derived facts")

    p = command("explain", cmd_explain, engine=True, help="why each rule did or did not fire for a profile")
    p.add_argument("profile", type=Path)
    p.add_argument("--rule", action="append", metavar="ID", help="explain only this rule (repeatable)")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: the visit date, else today)")
    p.add_argument("--fired", action="store_true", help="list only the rules that fired")
    with_limits(p)
    with_sources(p)

    p = command(
        "coverage", cmd_coverage, help="which course items the rules encode (cited by a rule that fires in a case)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--min", type=float, metavar="PERCENT", help="fail (exit 1) below this share of items covered")
    p.add_argument("--rules", type=Path, help="the rule folder to measure (default: the shipped rules)")

    p = command("docs", cmd_docs, help="write the rule catalogue in Markdown, organised by the course outline")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    with_sources(p)

    p = command("schema", cmd_schema, help="print the JSON Schema of profiles, rule files or case files")
    p.add_argument("kind", choices=("profile", "rules", "cases"))

    p = command(
        "review", cmd_review, engine=True, help="the expert panel: does each brief show what a trainer expects?"
    )
    p.add_argument("panel", type=Path, metavar="DIR", help="profiles, each beside its NAME.expect.yaml")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--lang", choices=LANGS, default="en", help="the language of the briefs judged")
    with_limits(p)
    with_sources(p)

    p = command("plan", cmd_plan, help="show how the rules are compiled into engine shards")
    p.add_argument("--format", choices=("text", "json"), default="text")
    with_sources(p)

    def with_db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", metavar="URL", help="the ledger: a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB "
                       "(default: ./advisor-ledger.sqlite, created on first use)")  # fmt: skip

    p = command("report", cmd_report, help="what reps did with the advice: per rule, course item and account")
    with_db(p)
    p.add_argument("--format", choices=REPORT_FORMATS, default="md")
    p.add_argument(
        "--min-shown",
        type=int,
        default=MIN_SHOWN,
        metavar="N",
        help="'shown often' means N impressions or more (default %(default)s)",
    )
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")

    p = command(
        "serve", cmd_serve, engine=True, help="serve the JSON API and pages over profiles, recording to the ledger"
    )
    p.add_argument(
        "profiles", nargs="+", type=Path, metavar="PROFILES", help="profile files, or folders of *.yaml profiles"
    )
    with_db(p)
    p.add_argument("--host", default="127.0.0.1", help="the address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--today", type=_date, help="the date to advise as of (default: each visit date, else today)")
    with_sources(p)

    p = command("token", cmd_token, help="create, list or revoke the tokens a server bound beyond this machine accepts")
    p.add_argument("action", choices=("add", "list", "revoke"))
    p.add_argument("user", nargs="?", help="whose token (add, revoke)")
    with_db(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        if args.engine and (problem := available()):
            raise EngineError(problem)
        code = handler(args)
        _flush_stdout()  # a full disk fails here, with one line, rather than at exit with a traceback
        return code
    except Failure as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`advisor brief x.yaml | head`): not an error; silence the flush at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in _WRITE_FAILURES:
            if args.debug:
                raise
            print(
                f"advisor: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
            )
            return 1
        with contextlib.suppress(OSError, ValueError, AttributeError):  # what is buffered would fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"advisor: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeEncodeError as exc:
        print(
            f"advisor: error: standard output takes {exc.encoding} only, which cannot show this text; "
            "set PYTHONIOENCODING=utf-8, or write to a file",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if args.debug:
            raise
        print(f"advisor: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1


# A write that failed for want of room or a working disk: the user's to fix, not an internal error.
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})


def _flush_stdout() -> None:
    """Flush what a command printed, so that a failure to write it is an error we word."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.flush()
    except (OSError, ValueError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # or it fails again at exit
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        raise UnwritableOutput(
            Problem("<stdout>", 1, 1, "error", f"cannot write to standard output: {reason}")
        ) from None


def cmd_brief(args: argparse.Namespace) -> int:
    if args.watch:
        return watch_brief(args)
    return render_brief(args)


def _inputs_signature(args: argparse.Namespace) -> tuple:
    """What --watch compares: every input file's path, size and modification time."""
    paths = [args.profile]
    for folder in (args.rules or shipped("rules"), args.templates or shipped("templates")):
        paths += sorted(p for p in Path(folder).rglob("*") if p.is_file())
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), None, None))
    return tuple(out)


def watch_brief(args: argparse.Namespace) -> int:
    """Render, then render again whenever an input changes; errors are shown and watching goes on."""
    renders, seen = 0, None
    try:
        while True:
            current = _inputs_signature(args)
            if current != seen:
                seen = current
                stamp = time.strftime("%H:%M:%S")
                try:
                    render_brief(args)
                    print(
                        f"[{stamp}] brief rendered{' to ' + str(args.output) if args.output else ''}; watching for changes (Ctrl-C stops)",
                        file=sys.stderr,
                    )
                except AdvisorError as exc:
                    for problem in exc.problems:
                        print(problem, file=sys.stderr)
                    print(f"[{stamp}] fix the problem above; watching for changes", file=sys.stderr)
                except Failure as exc:
                    print(*exc.lines(), sep="\n", file=sys.stderr)
                renders += 1
                if args.watch_limit and renders >= args.watch_limit:
                    return 0
            time.sleep(0.3)
    except KeyboardInterrupt:
        return 0


def _brief_inputs(args: argparse.Namespace) -> list[Path]:
    """Every file `brief` reads: `-o` may name none of them."""
    paths = [args.profile, *([args.portfolio] if args.portfolio else [])]
    for folder in (args.rules or shipped("rules"), args.templates or shipped("templates")):
        paths += sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return paths


def _write_stdout(text: str) -> None:
    """The brief on standard output, as UTF-8 whatever the locale says (it is the same document -o
    writes; an ASCII or Latin-1 terminal encoding cannot hold a Chinese brief), or one line saying
    why it could not be written (stdout closed, a full disk)."""
    stream = sys.stdout
    if stream is None:
        raise UnwritableOutput(
            Problem("<stdout>", 1, 1, "error", "standard output is closed; write the brief with -o FILE")
        )
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only stream (a test's StringIO): it takes text as it is
            stream.write(text)
            stream.flush()
        else:
            stream.flush()
            buffer.write(text.encode("utf-8"))
            buffer.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        # What is still buffered would fail again at exit, with a traceback: send it nowhere.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        raise UnwritableOutput(
            Problem("<stdout>", 1, 1, "error", f"cannot write the brief to standard output: {reason}")
        ) from None


def render_brief(args: argparse.Namespace) -> int:
    if args.output:
        refuse_inputs(args.output, _brief_inputs(args))  # before anything is read or written
    profile = load_profile(args.profile, _limits(args))
    position = None
    if args.portfolio:
        from .portfolio import read_index

        position = read_index(args.portfolio, _limits(args)).get(profile.account.id)
        if position is None:
            print(
                f"{args.portfolio}:1:1: error: account '{profile.account.id}' is not in this portfolio index; run the batch with it first",
                file=sys.stderr,
            )
            return 2
    advisor = Advisor.load(args.rules, args.templates)
    text = advisor.brief(
        profile, lang=args.lang, today=args.today, format=args.format, portfolio=position, full=args.full
    )
    if args.output:
        write_atomically(args.output, text)
    else:
        _write_stdout(text)
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the batch unwinds (workers stopped, temp files removed).
    A BaseException, like KeyboardInterrupt: a brief's own `except Exception` (a bug shows on its account)
    must not swallow it when the signal lands mid-brief."""


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import Options, run
    from .batch.executors import WorkerDied
    from .errors import printable

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(
            f"advisor batch: error: --format takes {', '.join(FORMATS)} (comma-separated); got {args.format!r}",
            file=sys.stderr,
        )
        return 2
    if args.jobs < 1:
        print("advisor batch: error: --jobs must be 1 or more", file=sys.stderr)
        return 2
    if args.dask is not None and not args.dask.strip():
        print("advisor batch: error: --dask needs a scheduler address like tcp://host:8786; got ''", file=sys.stderr)
        return 2
    options = Options(
        rules=args.rules, templates=args.templates, formats=formats, lang=args.lang, today=args.today,
        jobs=args.jobs, resume=args.resume, limits=_limits(args), dask=args.dask, encoding=args.encoding,
    )  # fmt: skip
    meter = _Meter() if not args.quiet and sys.stderr.isatty() else None
    done = [0, 0]  # accounts done, accounts in all: what a stopped batch reports

    def progress(n: int, total: int) -> None:
        done[:] = [n, total]
        if meter is not None:
            meter(n, total)

    def stopped(how: str, code: int) -> int:
        when = f"after {done[0]} of {done[1]} accounts" if done[1] else "before any account was done"
        line = f"advisor batch: {how} {when}; the index was left as it was: rerun with --resume"
        print(f"\n{line}" if meter else line, file=sys.stderr)  # a meter leaves its line open
        return code

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        summary = run(
            args.inputs,
            args.output,
            options,
            progress=progress,
            report=lambda line: print(line, file=sys.stderr),
            notice=lambda line: print(line, file=sys.stderr),
        )
    except KeyboardInterrupt:
        return stopped("interrupted (SIGINT)", 130)
    except _Terminated:
        return stopped("terminated (SIGTERM)", 143)
    except WorkerDied as exc:
        return stopped(f"stopped: {exc}", 143)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        for tally in summary.files:  # a CRM export's files: rows read, skipped and why
            why = ", ".join(f"{reason}: {n}" for reason, n in tally["why"].items())
            print(
                f"{tally['source']}: {tally['rows']} rows read, {tally['unreadable']} unreadable, {tally['skipped']} skipped"
                + (f" ({why})" if why else ""),
                file=sys.stderr,
            )
        warned = f", {summary.warnings} warning{'s' * (summary.warnings != 1)}" if summary.warnings else ""
        print(
            f"{summary.ok} briefed ({summary.skipped} unchanged), {summary.failed} failed{warned}; index: {printable(str(args.output / 'index.jsonl'))}",
            file=sys.stderr,
        )
    return 1 if summary.failed else 0


class _Meter:
    """A batch's progress on a terminal: accounts done, rate and ETA, redrawn at most 5 times a second."""

    def __init__(self) -> None:
        self.start, self.last = time.monotonic(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (total - done) / rate if rate else 0
        end = "\n" if done == total else ""
        print(f"\r{done}/{total} accounts · {rate:,.0f}/s · ETA {eta:,.0f}s {end}", end="", file=sys.stderr, flush=True)


def cmd_new(args: argparse.Namespace) -> int:
    if args.file.exists() and not args.force:
        print(f"{args.file}:1:1: error: file exists; choose another name or add --force", file=sys.stderr)
        return 2
    starter = resources.files("advisor").joinpath("data/starter-profile.yaml").read_text(encoding="utf-8")
    write_atomically(args.file, starter)
    print(f"wrote {args.file}: fill it in, then run: advisor brief {args.file}", file=sys.stderr)
    return 0


def cmd_facts(args: argparse.Namespace) -> int:
    catalogue = Catalogue.base()
    rules_dir = args.rules or shipped("rules")
    try:
        from .course import load_course
        from .rules import load_rules

        catalogue = load_rules(rules_dir, load_course()).catalogue
    except AdvisorError:
        if args.rules:
            raise
    specs = sorted(catalogue.specs.values(), key=lambda s: (SCOPES.index(s.scope), s.name))
    if args.format == "json":
        rows = [{"name": s.name, "scope": s.scope, "type": s.type, "values": list(s.values), "unit": s.unit,
                 "meaning": s.meaning, "testable": s.testable, "derived_by_rules": s.derived_by_rules} for s in specs]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for scope in SCOPES:
        print(f"# {scope} facts ({SCOPE_MEANING[scope]})")
        for s in specs:
            if s.scope != scope:
                continue
            kind = s.type + (f": {' | '.join(s.values)}" if s.values else "") + (f", {s.unit}" if s.unit else "")
            note = " (quote only)" if not s.testable else ""
            print(f"  {s.name:<38} {kind}{note}\n      {s.meaning}")
        print()
    print("A rule of one scope can test its own scope's facts and account facts. A fact the profile leaves")
    print("unknown makes every test of it false, even under `not`; use `known: false` to test for it.")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from .errors import UnreadableInput
    from .workbench.cases import case_files
    from .workbench.lint import rules_without_cases
    from .workbench.testing import run_file

    folders = args.rules_dirs or [args.rules or shipped("rules")]
    results = []
    problems: list[Problem] = []
    unreadable = False
    for rules_dir in folders:
        advisor = Advisor.load(rules_dir, args.templates)
        for path in case_files(rules_dir):
            try:
                results.extend(run_file(advisor, path, rules_dir, allow_base_outside=args.allow_base_outside))
            except AdvisorError as exc:
                problems.extend(exc.problems)
                unreadable |= isinstance(exc, UnreadableInput)
        problems.extend(rules_without_cases(advisor.base, rules_dir))
    for r in results:
        problems.extend(r.problems())
    for p in sorted(problems):
        print(p, file=sys.stderr)
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    if unreadable:  # every problem is reported, but an input that cannot be read is exit 2, as everywhere
        return 2
    if not results and not any(p.level == "error" for p in problems):  # a broken case file is not "no cases"
        print(
            f"advisor: error: no cases found under {', '.join(map(str, folders))}; add *.cases.yaml beside the rule files",
            file=sys.stderr,
        )
        return 1
    return 1 if failed or not results or any(p.level == "error" for p in problems) else 0


def cmd_lint(args: argparse.Namespace) -> int:
    from .workbench.lint import lint
    from .yamlio import load_file

    labels = load_file((args.templates or shipped("templates")) / "labels.yaml").data or {}
    # Derived facts a reader shows count as used: the brief's tiers, the portfolio summary's lists.
    shown = set(labels.get("tiers", {}) or {}) | set(labels.get("portfolio_lists", {}) or {})
    problems = []
    for folder in args.rules_dirs or [shipped("rules")]:
        problems += lint(folder, shown)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    if args.format == "json":
        rows = [
            {"path": p.path, "line": p.line, "col": p.col, "level": p.level, "message": p.message, "rule": p.rule_id}
            for p in problems
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.format == "github":
        for p in problems:
            title = f",title={p.rule_id}" if p.rule_id else ""
            print(f"::{p.level} file={p.path},line={p.line},col={p.col}{title}::{p.message}")
    else:
        for p in problems:
            print(p)
        print(
            f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}",
            file=sys.stderr,
        )
    return 1 if errors or (args.strict and warnings) else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from .workbench.explain import explain, in_the_brief

    profile = load_profile(args.profile, _limits(args))
    advisor = Advisor.load(args.rules, args.templates)
    wanted = set(args.rule) if args.rule else None
    if wanted:
        unknown = sorted(wanted - set(advisor.base.by_id()))
        if unknown:
            print(
                f"advisor explain: error: unknown rule {', '.join(unknown)}; `advisor plan` lists the rules",
                file=sys.stderr,
            )
            return 2
    evaluation = advisor.evaluate(profile, args.today)
    fates = in_the_brief(advisor, evaluation)
    for e in explain(advisor, evaluation, wanted):
        if args.fired and not e.fired:
            continue
        state = f"fired for {', '.join(e.fired_for)}" if e.fired else "quiet"
        print(f"{e.rule_id}  ({e.path}:{e.line})  {state}")
        for fate in fates.get(e.rule_id, ()):
            print(f"    {fate}")
        if wanted or e.fired or len(e.details) <= 3:
            for d in e.details:
                print(f"    {d}")
        else:
            for d in e.details[:2]:
                print(f"    {d}")
            print(f"    … and {len(e.details) - 2} more (use --rule {e.rule_id})")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from .workbench.coverage import measure

    rules_dir = args.rules or shipped("rules")
    advisor = Advisor.load(rules_dir)
    items, problems = measure(advisor, rules_dir)
    for p in problems:
        print(p, file=sys.stderr)
    covered = sum(i.covered for i in items)
    share = 100.0 * covered / len(items) if items else 0.0
    if args.format == "json":
        doc = {
            "covered": covered,
            "total": len(items),
            "percent": round(share, 1),
            "items": [
                {
                    "code": i.code,
                    "en": i.en,
                    "zh": i.zh,
                    "rules": list(i.rules),
                    "firing": list(i.firing),
                    "covered": i.covered,
                }
                for i in items
            ],
            "uncovered": [i.code for i in items if not i.covered],
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for i in items:
            mark = "x" if i.covered else " "
            rules = (
                ", ".join(i.firing)
                if i.covered
                else (f"cited by {', '.join(i.rules)} but never fires in a case" if i.rules else "no rule")
            )
            print(f"[{mark}] {i.code:<9} {i.en}  <- {rules}")
        print(f"\n{covered}/{len(items)} course items covered ({share:.1f}%)")
        missing = [i.code for i in items if not i.covered]
        if missing:
            print(f"uncovered: {', '.join(missing)}")
    if problems:
        return 1
    if args.min is not None and share < args.min:
        print(f"advisor: error: coverage {share:.1f}% is below --min {args.min:g}%", file=sys.stderr)
        return 1
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from .workbench.docs import write_docs

    rules_dir = args.rules or shipped("rules")
    written = write_docs(Advisor.load(rules_dir, args.templates), rules_dir, args.output)
    print(f"wrote {len(written)} files to {args.output}", file=sys.stderr)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .workbench.schema import schema_text

    sys.stdout.write(schema_text(args.kind))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from .workbench.review import review, table

    advisor = Advisor.load(args.rules, args.templates)
    summary = review(advisor, args.panel, args.lang, _limits(args))
    if args.format == "json":
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(table(summary)))
        print()
        print(summary.line())
    return 0 if summary.passes() else 1


def cmd_plan(args: argparse.Namespace) -> int:
    advisor = Advisor.load(args.rules, args.templates)
    plan = advisor.plan
    if args.format == "json":
        shards = [
            {
                "name": s.name,
                "scope": s.scope,
                "stratum": s.stratum,
                "rules": s.rule_ids,
                "fanout": s.fanout,
                "chains": s.chains,
            }
            for s in plan.shards
        ]
        print(json.dumps({"summary": plan.summary(), "shards": shards}, indent=2))
        return 0
    summary = plan.summary()
    print(f"{len(advisor.base.rules)} rules in {summary['shards']} shards over {summary['strata']} strata; "
          f"worst fan-out {summary['max_fanout']} (budget {summary['fanout_budget']}, engine limit {summary['engine_limit']})")  # fmt: skip
    for s in plan.shards:
        print(f"  {s.name}: {len(s.rule_ids)} rules, fan-out {s.fanout}, chains {s.chains}")
    return 0


def _ledger(db: str | None, extra: str = "ledger"):
    """The ledger at `db`, or one line saying which extra to install."""
    try:
        from .ledger.store import Ledger
    except ImportError as exc:
        raise Failure(f"{exc.name} is not installed; pip install 'advisor[{extra}]'") from None
    return Ledger.open(db)


def cmd_report(args: argparse.Namespace) -> int:
    ledger = _ledger(args.db)
    from .ledger.report import build, render

    if args.min_shown < 1:
        print("advisor report: error: --min-shown must be 1 or more", file=sys.stderr)
        return 2
    with ledger.transaction() as conn:  # one snapshot for both counts
        counts = ledger.impression_counts(conn), ledger.reaction_counts(conn)
    text = render(build(*counts, min_shown=args.min_shown), args.format)
    if args.output:
        write_atomically(args.output, text)
    else:
        _write_stdout(text)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.user:
        print(f"advisor token: error: {args.action} needs a USER", file=sys.stderr)
        return 2
    ledger = _ledger(args.db)
    if args.action == "add":
        print(ledger.add_token(args.user))
        print(f"a token for {args.user}; it is shown once: send it as 'Authorization: Bearer TOKEN'", file=sys.stderr)
    elif args.action == "revoke":
        print(f"revoked {ledger.revoke_tokens(args.user)} token(s) of {args.user}", file=sys.stderr)
    else:
        for user in ledger.token_users():
            print(user)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .serve.accounts import Served
        from .serve.app import LOCAL_NAMES, LOOPBACK, create_app
    except ImportError as exc:
        raise Failure(f"{exc.name} is not installed; pip install 'advisor[serve]'") from None
    from .ledger.reasons import Reasons

    served = Served.load(args.profiles)
    advisor = Advisor.load(args.rules, args.templates)
    reasons = Reasons.load(args.templates or shipped("templates"))
    ledger = _ledger(args.db, "serve")
    loopback = args.host in LOOPBACK
    if not loopback and not ledger.token_users():
        print(f"advisor serve: error: bound to {args.host}, the server needs tokens and the ledger has none; "
              f"create one with `advisor token add USER{' --db ' + args.db if args.db else ''}`, or serve on 127.0.0.1", file=sys.stderr)  # fmt: skip
        return 2
    app = create_app(
        advisor, served, ledger, reasons, auth=not loopback, hosts=LOCAL_NAMES if loopback else None, today=args.today
    )
    try:  # bound here, so that an address in use is our one line and exit 2, before we say we are serving
        family, kind, proto, _, address = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        print(f"advisor serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
              "choose another --port or --host", file=sys.stderr)  # fmt: skip
        return 2
    print(f"advisor serve: {len(served.paths)} accounts on http://{args.host}:{args.port}/ "
          f"({'tokens required' if not loopback else 'this machine only'}); Ctrl-C stops", file=sys.stderr)  # fmt: skip
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
