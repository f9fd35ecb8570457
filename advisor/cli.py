"""The `advisor` command: subcommands, exit codes, and the only place that prints.

Exit codes: 0 clean; 1 problems found (bad profile or rule file, failing case); 2 usage or
unreadable input. Tracebacks only with --debug. An error at a place in a file reads
`path:line:col: error: message`; one with no place, `advisor COMMAND: error: message`.

Only the standard library and the dependency-free vocabulary load at start: each command imports
what it needs when it runs, so `--help`, `--version` and completion answer at once.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as dt
import errno
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, collector, ending, plugins
from .errors import AdvisorError, CommandError, EngineError, Failure, MissingExtra, Problem, printable, suggest
from .limits import DEFAULT, NAMES, Limits, parse_item
from .pdf import PAPERS
from .vocabulary import FORMATS, LANGS, MIN_SHOWN, REPORT_FORMATS, SCOPE_MEANING, SCOPES

if TYPE_CHECKING:
    from .layout import RuleSource

LINT_FORMATS = ("text", "json", "github", "sarif")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Security(argparse.Action):
    """`advisor --security`: SECURITY.md, which the help points to, from the installed package."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        sys.stdout.write(security_text())
        parser.exit(0)


def security_text() -> str:
    """SECURITY.md: packaged inside advisor (a wheel), or beside it (a source checkout)."""
    from importlib import resources

    inside = resources.files("advisor").joinpath("SECURITY.md")
    if inside.is_file():
        return inside.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "SECURITY.md").read_text(encoding="utf-8")


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
    """The defaults, then the config's limits, then every --limit (and --max-record-bytes) in order."""
    return DEFAULT.override(args.limits or ())


# --- options several commands share: each is added in one place, and the config fills them in -------


def with_rules(
    p: argparse.ArgumentParser, help: str = "a rule folder, or one rule file (default: the shipped rules)"
) -> None:
    """`--rules PATH`, the same on every command that reads rules; the project config's `rules` fills it in."""
    p.add_argument("--rules", type=Path, metavar="PATH", help=help)
    p.set_defaults(configured=True)


def with_templates(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--templates", type=Path, metavar="DIR", help="a folder of templates to use instead of the shipped ones"
    )
    p.set_defaults(configured=True)


def with_sources(p: argparse.ArgumentParser) -> None:
    with_rules(p)
    with_templates(p)


def with_lang(
    p: argparse.ArgumentParser, help: str = "the language of the brief (default: en, or the config's lang)"
) -> None:
    p.add_argument("--lang", choices=LANGS, help=help)
    p.set_defaults(configured=True)


def with_limits(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--limit", dest="limits", action="append", type=_limit, metavar="NAME=N",
        help=f"raise or lower a limit (repeatable); names: {', '.join(NAMES)}; defaults: advisor --security",
    )  # fmt: skip
    p.set_defaults(configured=True)


def with_format(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], help=f"output format (default: {choices[0]})")


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="print only problems (and the output asked for)")
    found = common.add_mutually_exclusive_group()
    found.add_argument("--config", type=Path, metavar="FILE", help="read this advisor.toml or pyproject.toml")
    found.add_argument("--no-config", action="store_true", help="read no project config file")
    return common


class _Unbuilt:
    """Takes a command's options and keeps none: build_parser(only=...) leaves the other commands out,
    or lists them without building their options (argparse spends about 10 ms of a start building all).
    Any parser method (add_argument, set_defaults, add_argument_group, ...) is accepted and gives
    back this same object, so a group's options are dropped alike."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


def _command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` names: the first word that is not an option (the top level takes no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, that command alone: what parsing `advisor ONLY ...` needs,
    and nothing more (a parser per command costs a start about 0.1 ms, argparse looking up translations
    for it). When `only` names no command, every command is listed, unbuilt, so that the error lists
    them as choices."""
    parser = _Parser(
        prog="advisor",
        description="Pre-visit briefs for key accounts, from a sales course encoded as rules.",
        epilog="exit codes: 0 clean; 1 problems found; 2 usage error or unreadable input. "
        "Run `advisor COMMAND --help` for a command's options; `advisor --security` for the limits.",
    )
    parser.add_argument(
        "--version", action="version", version=f"advisor {__version__}", help="print the version and exit"
    )
    parser.add_argument("--security", action=_Security, help="print SECURITY.md (what is trusted, the limits) and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, help="advisor COMMAND --help shows its options"
    )
    common = _common()
    unbuilt: list[tuple[str, str | None]] = []  # the commands `only` is not

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], engine: bool = False, loads: bool = False, **kwargs
    ) -> argparse.ArgumentParser:
        """A subcommand that carries its own handler: main() calls args.handler, no second table.
        `engine`: it runs durable-rules, so it stops at once, in one line, where that cannot load.
        `loads`: it ends the collector's start-up pause itself (`collector.end_start`), once its inputs are loaded."""
        if only is not None and name != only:
            unbuilt.append((name, kwargs.get("help")))
            return _Unbuilt()  # type: ignore[return-value]
        kwargs.setdefault("description", kwargs.get("help"))
        p = sub.add_parser(name, parents=[common], **kwargs)
        p.set_defaults(handler=handler, engine=engine, loads=loads)
        return p

    def with_db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", metavar="URL", help="the ledger: a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB "
                       "(default: ./advisor-ledger.sqlite, created on first use)")  # fmt: skip

    p = command("brief", cmd_brief, engine=True, loads=True, help="write the pre-visit brief for one profile")
    # Its files written and closed, it leaves nothing for Python's teardown but memory (ending.py).
    p.set_defaults(quick_exit=True)
    p.add_argument("profile", type=Path, help="the account profile (YAML)")
    with_lang(p)
    p.add_argument("--today", type=_date, help="the date to advise as of (default: the visit date, else today)")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--paper", choices=PAPERS, default="a4", help="the page size of a PDF, or of an HTML brief printed")
    p.add_argument("--full", action="store_true", help="show every recommendation, not only what fits the car park")
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    p.add_argument(
        "--portfolio",
        type=Path,
        metavar="INDEX",
        help="a batch's index.jsonl: use the 80/20 tiers computed across that portfolio",
    )
    p.add_argument("--db", metavar="URL", help="record in the ledger what this brief shows, to learn what reps do with it: "
                   "a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB")  # fmt: skip
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
        "(stderr and index.jsonl say which); 2 usage, a missing input, or an output could not be written\n"
        "(disk full, permission, another batch writing to OUT): the batch stopped, the index was left as it\n"
        "was; fix the cause and rerun with --resume.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="profile files, folders, globs, *.jsonl, - (JSON Lines on stdin), or a CRM export folder",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="the output folder")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--format", default="markdown", help=f"one or more of {', '.join(FORMATS)}, comma-separated: markdown,json"
    )
    p.add_argument("--paper", choices=PAPERS, default="a4", help="the page size of PDF (and printed HTML) briefs")
    with_lang(p, "the language of the briefs (default: en, or the config's lang)")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: each visit date, else today)")
    p.add_argument("--resume", action="store_true", help="skip accounts whose output would not change")
    p.add_argument("--max-record-bytes", dest="limits", action="append", type=_bytes, metavar="N",
                   help="the same as --limit record_bytes=N")  # fmt: skip
    with_limits(p)
    p.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="run on a Dask cluster (pip install 'advisor[dask]')")
    p.add_argument("--encoding", type=_encoding, metavar="NAME",
                   help="a CRM export's CSV encoding (utf-8, gb18030, utf-16, ...); default: told from the bytes")  # fmt: skip
    p.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                   help="when stderr is not a terminal, a progress line this often (default 10)")  # fmt: skip
    with_sources(p)

    p = command("new", cmd_new, help="write a commented starter profile to fill in")
    p.add_argument("file", type=Path, help="the profile to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = command("init", cmd_init, help="set up a trainers' repository: rules, profiles, templates, config, hooks")
    p.add_argument("directory", type=Path, metavar="DIR", help="the folder to create (it must be new or empty)")

    p = command("facts", cmd_facts, help="list every fact rules can test")
    with_format(p)
    with_rules(p, "include facts derived by these rules (default: the shipped rules)")

    p = command("rules", cmd_rules, help="list the rules: id, file and line, section and priority")
    p.add_argument("rules_dirs", nargs="*", type=Path, metavar="RULES", help="rule folders or files (same as --rules)")
    with_format(p)
    with_rules(p)

    p = command("test", cmd_test, engine=True, help="run the rules' case files")
    p.add_argument("rules_dirs", nargs="*", type=Path, metavar="RULES", help="rule folders or files whose cases to run")
    with_rules(p, "a rule folder or file (same as RULES; default: the shipped rules)")
    p.add_argument("--templates", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML (for CI)")
    p.add_argument(
        "--allow-base-outside", action="store_true",
        help="let case files name base profiles outside the rules' repository (the rules folder's parent)",
    )  # fmt: skip

    p = command("lint", cmd_lint, help="check rule files: schema, meaning, contradictions, cases, engine headroom")
    p.add_argument(
        "rules_dirs", nargs="*", type=Path, metavar="RULES", help="rule folders or files (default: the shipped rules)"
    )
    with_rules(p, "a rule folder or file (same as RULES)")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument(
        "--format", choices=LINT_FORMATS, default="text",
        help="text; json; github (workflow annotations); sarif (SARIF 2.1.0, for code scanning)",
    )  # fmt: skip
    p.add_argument(
        "--templates", type=Path, metavar="DIR", help="templates whose tier labels count as uses of derived facts"
    )

    p = command("explain", cmd_explain, engine=True, help="why each rule did or did not fire for a profile")
    p.add_argument("profile", type=Path, help="the account profile (YAML)")
    p.add_argument("--rule", action="append", metavar="ID", help="explain only this rule (repeatable)")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: the visit date, else today)")
    p.add_argument("--fired", action="store_true", help="list only the rules that fired")
    with_limits(p)
    with_sources(p)

    p = command(
        "coverage", cmd_coverage, help="which course items the rules encode (cited by a rule that fires in a case)"
    )
    with_format(p)
    p.add_argument("--min", type=float, metavar="PERCENT", help="fail (exit 1) below this share of items covered")
    with_rules(p, "the rule folder to measure (default: the shipped rules)")

    p = command("docs", cmd_docs, help="write the rule catalogue in Markdown, organised by the course outline")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="the folder to write")
    with_sources(p)

    p = command("schema", cmd_schema, help="print a JSON Schema: of an input file, the JSON brief or index.jsonl")
    p.add_argument(
        "kind", choices=("profile", "rules", "cases", "policy", "labels", "brief", "index", "config"),
        help="profile, rules, cases, policy, labels (files you edit); brief, index (what advisor writes); config",
    )  # fmt: skip
    with_rules(p, "list the facts derived by these rules too (the `rules` schema)")

    p = command(
        "review", cmd_review, engine=True, help="the expert panel: does each brief show what a trainer expects?"
    )
    p.add_argument("panel", type=Path, metavar="DIR", help="profiles, each beside its NAME.expect.yaml")
    with_format(p)
    with_lang(p, "the language of the briefs judged (default: en, or the config's lang)")
    with_limits(p)
    with_sources(p)

    p = command("plan", cmd_plan, help="show how the rules are compiled into engine shards")
    with_format(p)
    with_sources(p)

    p = command("config", cmd_config, help="show the settings in force and where each comes from")
    with_format(p)
    with_sources(p)
    with_lang(p, "a language, to see how flags win over the config")
    with_limits(p)

    p = command("completion", cmd_completion, help="print a shell completion script: bash or zsh")
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete for")

    p = command("report", cmd_report, help="what reps did with the advice: per rule, course item and account")
    with_db(p)
    p.add_argument("--format", choices=REPORT_FORMATS, default="md", help="md (default), json or csv")
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
        "profiles",
        nargs="+",
        type=Path,
        metavar="PROFILES",
        help="profile files, or folders of *.yaml profiles (the after-visit form writes visits into them)",
    )
    with_db(p)
    p.add_argument("--host", default="127.0.0.1", help="the address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    p.add_argument("--today", type=_date, help="the date to advise as of (default: each visit date, else today)")
    with_sources(p)

    p = command("token", cmd_token, help="create, list or revoke the tokens a server bound beyond this machine accepts")
    p.add_argument(
        "action", choices=("add", "list", "revoke"), help="add a token for USER, list who has one, or revoke USER's"
    )
    p.add_argument("user", nargs="?", help="whose token (add, revoke)")
    with_db(p)
    if only not in sub.choices:  # a word no command has: its error lists them all, in order
        for name, help in unbuilt:
            sub.add_parser(name, help=help, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv)[0]


def _main(argv: Sequence[str] | None = None) -> tuple[int, bool]:
    """main's exit code, and whether the process may end without Python's teardown (ending.py): the
    command declared `quick_exit`, its handler returned 0, and it opened no ledger (a connection that
    Python's teardown closes)."""
    code, args = _command(argv)
    quick = code == 0 and args is not None and getattr(args, "quick_exit", False) and not getattr(args, "db", None)
    return code, quick


def _command(argv: Sequence[str] | None) -> tuple[int, argparse.Namespace | None]:
    """The command's exit code, and its arguments when its handler returned (None when it failed)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:  # bare `advisor`: what it does and its commands
        parser.print_help(sys.stderr)
        return 2, None
    handler: Callable[[argparse.Namespace], int] = args.handler
    prog = f"advisor {args.command}"
    if not args.loads:
        collector.end_start()
    try:
        settle(args)
        if args.engine:
            from .engine import available

            if problem := available():
                raise EngineError(problem)
        code = handler(args)
        _flush_stdout()  # a full disk fails here, with one line, rather than at exit with a traceback
        return code, args
    except Failure as exc:
        for line in exc.lines(prog):
            print(line, file=sys.stderr)
        return exc.exit_code, None
    except KeyboardInterrupt:
        return 130, None
    except BrokenPipeError:
        # The reader went away (`advisor brief x.yaml | head`): not an error; silence the flush at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0, None
    except OSError as exc:
        if exc.errno not in _WRITE_FAILURES:
            if args.debug:
                raise
            print(
                f"{prog}: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
            )
            return 1, None
        with contextlib.suppress(OSError, ValueError, AttributeError):  # what is buffered would fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"{prog}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return 2, None
    except UnicodeEncodeError as exc:
        print(
            f"{prog}: error: standard output takes {exc.encoding} only, which cannot show this text; "
            "set PYTHONIOENCODING=utf-8, or write to a file",
            file=sys.stderr,
        )
        return 2, None
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if args.debug:
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1, None


# --- settings: flags, then the project config, then the defaults -----------------------------------

SETTING_DEFAULTS = {"lang": "en"}  # settings whose flag has a default (the others default to "shipped")


def settle(args: argparse.Namespace) -> None:
    """Fill in every setting the command takes but the command line left out, from the project
    config; record where each came from (`args.settings_from`, for `advisor config`). Every command
    that adds --rules, --templates, --lang or --limit gets this, with no code of its own (those
    options mark the command `configured`; the others never read the config, nor import pydantic)."""
    args.settings_from, args.config_file = {}, None
    if not getattr(args, "configured", False):
        return
    from .projectfile import SETTINGS

    taken = [key for key in SETTINGS if hasattr(args, key)]
    args.settings_from = {key: "command line" for key in taken if getattr(args, key)}
    if any(getattr(args, "rules_dirs", None) or ()):
        args.settings_from["rules"] = "command line"
    found = _found(args)
    for key in taken:
        value = getattr(found.config, key) if found is not None else None  # no file: every setting unset
        if key == "limits":
            if value:
                args.limits = [*value.items(), *(args.limits or ())]
                args.settings_from.setdefault(key, found.where(key))
        elif getattr(args, key) is None and value is not None:
            setattr(args, key, value)
            args.settings_from[key] = found.where(key)
        elif getattr(args, key) is None and key in SETTING_DEFAULTS:
            setattr(args, key, SETTING_DEFAULTS[key])
    args.config_file = found.path if found is not None else None


def _found(args: argparse.Namespace):
    """The config file in force, read and checked; None when there is none (the config's model, in
    config.py, is then never imported: most starts find no file)."""
    from .projectfile import find

    if args.no_config:
        return None
    path = args.config or find(Path.cwd())
    if args.config and not args.config.is_file():
        raise CommandError(f"--config: no such file: {args.config}")
    if not path:
        return None
    from .config import load

    return load(path)


def say(args: argparse.Namespace, *lines: str) -> None:
    """A line for the user that is not a problem (what was written, a summary): --quiet drops it."""
    if not getattr(args, "quiet", False):
        for line in lines:
            print(line, file=sys.stderr)


def rule_sources(args: argparse.Namespace) -> list[RuleSource]:
    """The rule folders (or single rule files, see layout.py) a command reads: the positional RULES,
    else --rules (or the config's), else the shipped rules. A path not there is a usage error (exit 2)."""
    from .api import shipped
    from .layout import RuleSource

    paths = list(getattr(args, "rules_dirs", None) or ()) or [args.rules or shipped("rules")]
    for path in paths:
        if not path.exists():
            raise CommandError(f"no such rule folder or file: {printable(str(path))}")
    return [RuleSource.of(path) for path in paths]


def _rule_source(args: argparse.Namespace) -> Path | None:
    """The rule folder of a command that reads one (a single file stands for its folder; None: the
    shipped rules), checked to exist."""
    return rule_sources(args)[0].folder if args.rules is not None else None


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
        raise CommandError(f"cannot write to standard output: {reason}") from None


def cmd_brief(args: argparse.Namespace) -> int:
    if args.watch and args.db:
        raise CommandError("--db records a brief a rep is given; it does not go with --watch")
    if args.watch:
        collector.end_start()  # a long watch collects from the start, whatever its first render meets
        return watch_brief(args)
    return render_brief(args)


def _inputs_signature(args: argparse.Namespace) -> tuple:
    """What --watch compares: every input file's path, size and modification time."""
    out = []
    for path in _brief_inputs(args):
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
                    say(
                        args,
                        f"[{stamp}] brief rendered{' to ' + str(args.output) if args.output else ''}; watching for changes (Ctrl-C stops)",
                    )
                except Failure as exc:
                    print(*exc.lines("advisor brief"), sep="\n", file=sys.stderr)
                    print(f"[{stamp}] fix the problem above; watching for changes", file=sys.stderr)
                renders += 1
                if args.watch_limit and renders >= args.watch_limit:
                    return 0
            time.sleep(0.3)
    except KeyboardInterrupt:
        return 0


def _brief_inputs(args: argparse.Namespace) -> list[Path]:
    """Every file `brief` reads: `-o` may name none of them."""
    from .api import shipped

    paths = [args.profile, *([args.portfolio] if args.portfolio else [])]
    for folder in (_rule_source(args) or shipped("rules"), args.templates or shipped("templates")):
        paths += sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return paths


def _write_stdout(text: str | bytes) -> None:
    """The brief on standard output, as UTF-8 whatever the locale says (it is the same document -o
    writes; an ASCII or Latin-1 terminal encoding cannot hold a Chinese brief), or one line saying
    why it could not be written (stdout closed, a full disk)."""
    stream = sys.stdout
    if stream is None:
        raise CommandError("standard output is closed; write the brief with -o FILE")
    if isinstance(text, bytes) and getattr(stream, "isatty", lambda: False)():
        raise CommandError("a PDF is not for the terminal; write it with -o FILE")
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None and isinstance(text, bytes):
            raise CommandError("standard output takes text only; write the PDF with -o FILE")
        if buffer is None:  # a text-only stream (a test's StringIO): it takes text as it is
            stream.write(text)
            stream.flush()
        else:
            stream.flush()
            buffer.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            buffer.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        # What is still buffered would fail again at exit, with a traceback: send it nowhere.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        raise CommandError(f"cannot write the brief to standard output: {reason}") from None


def render_brief(args: argparse.Namespace) -> int:
    from .api import Advisor
    from .files import refuse_inputs, write_atomically
    from .profile import load_profile

    rules = _rule_source(args)
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
    advisor = Advisor.load(rules, args.templates)
    collector.end_start()
    ledger = _ledger(args.db) if args.db else None  # opened (and migrated) before anything is written
    brief = advisor.prepare(advisor.evaluate(profile, args.today, position), args.lang)
    text, selection = advisor.show(brief, format=args.format, full=args.full, paper=args.paper)
    if args.output:
        write_atomically(args.output, text)
    else:
        _write_stdout(text)
    if ledger is not None:
        from .ledger.shown import showing

        shown = showing(brief, selection, advisor.digest)
        ledger.record(shown)
        say(args, f"the ledger has brief {shown.brief_id}: {len(shown.items)} recommendations shown")
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
        raise CommandError(f"--format takes {', '.join(FORMATS)} (comma-separated); got {args.format!r}")
    if args.jobs < 1:
        raise CommandError("--jobs must be 1 or more")
    if args.dask is not None and not args.dask.strip():
        raise CommandError("--dask needs a scheduler address like tcp://host:8786; got ''")
    missing = [i for i in args.inputs if i != "-" and not any(c in i for c in "*?[") and not os.path.lexists(i)]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(map(printable, missing))}")
    options = Options(
        rules=_rule_source(args), templates=args.templates, formats=formats, lang=args.lang, today=args.today,
        jobs=args.jobs, resume=args.resume, limits=_limits(args), dask=args.dask, encoding=args.encoding,
        paper=args.paper,
    )  # fmt: skip
    meter = None if args.quiet else _Meter(sys.stderr.isatty(), args.progress_every)
    done = [0, 0]  # accounts done, accounts in all: what a stopped batch reports

    def progress(n: int, total: int) -> None:
        done[:] = [n, total]
        if meter is not None:
            meter(n, total)

    def stopped(how: str, code: int) -> int:
        when = f"after {done[0]} of {done[1]} accounts" if done[1] else "before any account was done"
        line = f"advisor batch: {how} {when}; the index was left as it was: rerun with --resume"
        print(f"\n{line}" if meter and meter.tty else line, file=sys.stderr)  # a meter leaves its line open
        return code

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    import signal

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        summary = run(
            args.inputs,
            args.output,
            options,
            progress=progress,
            report=lambda line: print(line, file=sys.stderr),
            notice=lambda line: print(
                line, file=sys.stderr
            ),  # about a flag given (--jobs capped): shown under --quiet too
            validating=meter.validating if meter else None,
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
        print(f"{done_line(summary)}; index: {printable(str(args.output / 'index.jsonl'))}", file=sys.stderr)
    return 1 if summary.failed else 0


def done_line(summary) -> str:
    """What a batch did, in words that read right: "3 briefs written, 7 unchanged (skipped), 1 failed"."""
    written = summary.ok - summary.skipped
    parts = [f"{written} brief{'s' * (written != 1)} written"]
    if summary.skipped:
        parts.append(f"{summary.skipped} unchanged since the last run (skipped)")
    parts.append(f"{summary.failed} failed")
    if summary.warnings:
        parts.append(f"{summary.warnings} warning{'s' * (summary.warnings != 1)}")
    return ", ".join(parts)


class _Meter:
    """A batch's progress on stderr. On a terminal: one line redrawn at most 5 times a second, while
    profiles are validated and then while accounts are briefed (done, rate, ETA). Elsewhere (a CI log, a
    file): a plain line every `every` seconds, so a long run is seen to be alive without flooding."""

    def __init__(self, tty: bool, every: float = 10.0) -> None:
        self.tty, self.every = tty, every if not tty else 0.2
        self.start = self.last = time.monotonic()

    def _due(self, final: bool) -> bool:
        now = time.monotonic()
        if now - self.last < self.every and not (final and self.tty):
            return False
        self.last = now
        return True

    def _show(self, text: str, final: bool = False) -> None:
        if self.tty:
            print(f"\r{text} {chr(10) if final else ''}", end="", file=sys.stderr, flush=True)
        else:
            print(f"advisor batch: {text}", file=sys.stderr, flush=True)

    def validating(self, read: int) -> None:
        if self._due(False):
            self._show(f"{read} profiles validated")

    def __call__(self, done: int, total: int) -> None:
        if not self._due(done == total):
            return
        rate = done / max(time.monotonic() - self.start, 1e-9)
        eta = (total - done) / rate if rate else 0
        self._show(f"{done}/{total} accounts · {rate:,.0f}/s · ETA {eta:,.0f}s", final=done == total)


def cmd_new(args: argparse.Namespace) -> int:
    from importlib import resources

    from .api import shipped
    from .files import write_atomically
    from .workbench.schema import SCHEMA_FILES, SCHEMA_LINE

    if args.file.exists() and not args.force:
        print(f"{args.file}:1:1: error: file exists; choose another name or add --force", file=sys.stderr)
        return 2
    starter = resources.files("advisor").joinpath("data/starter-profile.yaml").read_text(encoding="utf-8")
    # The installed schema, by its absolute path: the new file may be anywhere.
    schema = shipped(SCHEMA_FILES["profile"][0]) / SCHEMA_FILES["profile"][1]
    write_atomically(args.file, SCHEMA_LINE.format(schema.resolve().as_posix()) + starter)
    say(args, f"wrote {args.file}: fill it in, then run: advisor brief {args.file}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from .workbench.init import init

    written = init(args.directory)
    say(
        args,
        f"wrote {len(written)} files to {args.directory}; next: cd {args.directory} && advisor lint && advisor test",
    )
    return 0


def cmd_facts(args: argparse.Namespace) -> int:
    from .api import shipped
    from .facts import Catalogue

    catalogue = Catalogue.base()
    rules_dir = _rule_source(args) or shipped("rules")
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
    from .api import Advisor
    from .errors import UnreadableInput
    from .workbench.cases import case_files
    from .workbench.lint import rules_without_cases
    from .workbench.testing import run_file

    sources = rule_sources(args)
    results = []
    problems: list[Problem] = []
    unreadable = False
    for source in sources:
        rules_dir = source.folder
        advisor = Advisor.load(rules_dir, args.templates)
        for path in case_files(source.only or rules_dir):
            try:
                results.extend(run_file(advisor, path, rules_dir, allow_base_outside=args.allow_base_outside))
            except AdvisorError as exc:
                problems.extend(exc.problems)
                unreadable |= isinstance(exc, UnreadableInput)
        problems.extend(p for p in rules_without_cases(advisor.base, rules_dir) if source.covers(p.path))
    for r in results:
        problems.extend(r.problems())
    for p in sorted(problems):
        print(p, file=sys.stderr)
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    if args.junit:
        from .files import write_atomically
        from .workbench.reports import junit

        write_atomically(args.junit, junit(results, sorted(problems), __version__))
    if not args.quiet:
        print(f"{passed} passed, {failed} failed")
    if unreadable:  # every problem is reported, but an input that cannot be read is exit 2, as everywhere
        return 2
    if not results and not any(p.level == "error" for p in problems):  # a broken case file is not "no cases"
        raise CommandError(
            f"no cases found under {', '.join(str(s.only or s.folder) for s in sources)}; add *.cases.yaml beside the rule files",
            exit_code=1,
        )
    return 1 if failed or not results or any(p.level == "error" for p in problems) else 0


def cmd_lint(args: argparse.Namespace) -> int:
    from .api import shipped
    from .workbench.lint import lint
    from .workbench.reports import github, sarif
    from .yamlio import load_file

    sources = rule_sources(args)
    labels = load_file((args.templates or shipped("templates")) / "labels.yaml").data or {}
    # Derived facts a reader shows count as used: the brief's tiers, the portfolio summary's lists.
    shown = set(labels.get("tiers", {}) or {}) | set(labels.get("portfolio_lists", {}) or {})
    problems = []
    for source in sources:
        problems += [p for p in lint(source.folder, shown) if source.covers(p.path)]
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    if args.format == "json":
        rows = [
            {"path": p.path, "line": p.line, "col": p.col, "level": p.level, "message": p.message, "rule": p.rule_id}
            for p in problems
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.format == "github":
        for line in github(problems):
            print(line)
    elif args.format == "sarif":
        print(json.dumps(sarif(problems, __version__), ensure_ascii=False, indent=2))
    else:
        for p in problems:
            print(p)
        say(args, f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}")
    return 1 if errors or (args.strict and warnings) else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from .api import Advisor
    from .profile import load_profile
    from .workbench.explain import explain_lines

    profile = load_profile(args.profile, _limits(args))
    advisor = Advisor.load(_rule_source(args), args.templates)
    wanted = set(args.rule) if args.rule else None
    known = advisor.base.by_id()
    source = rule_sources(args)[0] if args.rules is not None else None
    if wanted is None and source is not None and source.only is not None:  # one rule file: its rules
        wanted = {r.id for r in advisor.base.rules if source.covers(r.path)}
    for rule_id in sorted((wanted or set()) - set(known)):
        raise CommandError(
            f"--rule: unknown rule '{rule_id}'" + suggest(rule_id, known, "; `advisor rules` lists them")
        )
    evaluation = advisor.evaluate(profile, args.today)
    for line in explain_lines(advisor, evaluation, wanted, fired_only=args.fired):
        print(line)
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from .api import Advisor, shipped
    from .workbench.coverage import measure

    rules_dir = _rule_source(args) or shipped("rules")
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
        raise CommandError(f"coverage {share:.1f}% is below --min {args.min:g}%", exit_code=1)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from .api import Advisor, shipped
    from .workbench.docs import write_docs

    rules_dir = _rule_source(args) or shipped("rules")
    written = write_docs(Advisor.load(rules_dir, args.templates), rules_dir, args.output)
    say(args, f"wrote {len(written)} files to {args.output}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .workbench.schema import schema_text

    sys.stdout.write(schema_text(args.kind, _rule_source(args)))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from .api import Advisor
    from .workbench.review import review, table

    advisor = Advisor.load(_rule_source(args), args.templates)
    summary = review(advisor, args.panel, args.lang, _limits(args))
    if args.format == "json":
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(table(summary)))
        print()
        print(summary.line())
    return 0 if summary.passes() else 1


def cmd_plan(args: argparse.Namespace) -> int:
    from .api import Advisor

    advisor = Advisor.load(_rule_source(args), args.templates)
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


def cmd_rules(args: argparse.Namespace) -> int:
    from .course import load_course
    from .rules import load_rules

    course = load_course()
    rows = []
    for source in rule_sources(args):
        for r in load_rules(source.folder, course).rules:
            if not source.covers(r.path):
                continue
            rows.append({"id": r.id, "path": _shown(r.path), "line": r.line, "scope": r.rule.scope,
                         "section": r.rule.section, "priority": r.rule.priority, "source": list(r.rule.source)})  # fmt: skip
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    width = max((len(row["id"]) for row in rows), default=0)
    for row in rows:
        section = row["section"] or "derives only"
        print(f"{row['id']:<{width}}  {row['path']}:{row['line']}  {row['scope']}, {section}, {row['priority']}")
    say(args, f"{len(rows)} rules")
    return 0


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_config(args: argparse.Namespace) -> int:
    from .projectfile import SETTINGS

    rows = []
    for key in SETTINGS:
        value = getattr(args, key)
        if key == "limits":
            value = dict(_limits(args).__dict__)
        origin = args.settings_from.get(key) or ("default" if key != "rules" and key != "templates" else "shipped")
        rows.append({"setting": key, "value": str(value) if isinstance(value, Path) else value, "from": origin})
    if args.format == "json":
        file = str(args.config_file) if args.config_file else None
        print(json.dumps({"config_file": file, "settings": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"config file: {args.config_file or 'none (advisor.toml or [tool.advisor] in pyproject.toml, found upward)'}")
    for row in rows:
        value = row["value"]
        shown = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
        print(f"{row['setting']:<10} {shown if shown is not None else '(shipped)'}  [{row['from']}]")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from .completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return 0


def _ledger(db: str | None, extra: str = "ledger"):
    """The ledger at `db`, or one line saying which extra to install."""
    try:
        from .ledger.store import Ledger
    except ImportError as exc:
        raise MissingExtra(f"{exc.name} is not installed; pip install 'advisor[{extra}]'") from None
    return Ledger.open(db)


def cmd_report(args: argparse.Namespace) -> int:
    if args.min_shown < 1:
        raise CommandError("--min-shown must be 1 or more")
    ledger = _ledger(args.db)
    from .files import write_atomically
    from .ledger.report import build, render

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
        raise CommandError(f"{args.action} needs a USER")
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
        raise MissingExtra(f"{exc.name} is not installed; pip install 'advisor[serve]'") from None
    import socket

    from .api import Advisor, shipped
    from .ledger.reasons import Reasons

    served = Served.load(args.profiles)
    advisor = Advisor.load(_rule_source(args), args.templates)
    reasons = Reasons.load(args.templates or shipped("templates"))
    ledger = _ledger(args.db, "serve")
    loopback = args.host in LOOPBACK
    if not loopback and not ledger.token_users():
        raise CommandError(
            f"bound to {args.host}, the server needs tokens and the ledger has none; create one "
            f"with `advisor token add USER{' --db ' + args.db if args.db else ''}`, or serve on 127.0.0.1"
        )
    app = create_app(
        advisor, served, ledger, reasons, auth=not loopback, hosts=LOCAL_NAMES if loopback else None, today=args.today
    )
    try:  # bound here, so that an address in use is our one line and exit 2, before we say we are serving
        family, kind, proto, _, address = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; choose another --port or --host"
        ) from None
    print(f"advisor serve: {len(served.paths)} accounts on http://{args.host}:{args.port}/ "
          f"({'tokens required' if not loopback else 'this machine only'}); Ctrl-C stops", file=sys.stderr)  # fmt: skip
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
    return 0


def run() -> None:
    """Console-script entry point (`advisor`, `python -m advisor`)."""
    # The collector waits until the command's inputs are loaded: main() ends the pause before any
    # command that does not declare it `loads`; the others end it themselves (collector.end_start).
    collector.pause_start()
    # Before its first model, pydantic reads the entry points of every installed distribution to find
    # its plugins (about 10 ms of each start), and imports importlib.metadata to do it (about 6 ms more).
    # advisor uses none, and a plugin must not change how a profile is validated; to have them anyway,
    # set PYDANTIC_DISABLE_PLUGINS yourself (to "": none disabled). See plugins.py.
    plugins.off()
    code, quick = _main(None)
    collector.freeze_for_exit()  # the process ends here
    ending.end(code, quick)


if __name__ == "__main__":
    run()
