"""Problems users see (`path:line:col: level: message [rule-id]`) and the error hierarchy the CLI prints from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input, at a position a text editor can jump to."""

    path: str
    line: int
    col: int
    level: str  # "error" or "warning"
    message: str
    rule_id: str = ""

    def __str__(self) -> str:
        suffix = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{printable(self.path)}:{self.line}:{self.col}: {self.level}: {self.message}{suffix}"


def printable(text: str) -> str:
    """A name (a file's, an address) as one line of valid text: control and invisible characters as
    backslash escapes (a newline in a file name cannot forge a second error line), and the bytes of a
    name that is not UTF-8 (held as surrogates) as \\xNN."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def echo(text: str, limit: int = 80) -> str:
    """A value a user sent, to quote back in one line: printable (see above) and at most `limit`
    characters (a server must not mirror a megabyte of input into its answer)."""
    text = str(text)
    return printable(text[:limit]) + ("…" if len(text) > limit else "")


class Failure(Exception):
    """The one base of every error the CLI prints without a traceback: `lines()` is what it prints,
    `exit_code` what it returns."""

    exit_code = 1

    def lines(self, prog: str = "advisor") -> list[str]:
        """What the CLI prints; `prog` is the command that failed (`advisor batch`)."""
        return [f"{prog}: error: {self}"]


class CommandError(Failure):
    """An error with no position in any file (an unreachable scheduler, a closed standard output, an
    unknown rule id): printed as `advisor COMMAND: error: message`, never as a made-up `path:1:1:`.
    Exit 2 (usage or input the command cannot use) unless `exit_code` says otherwise."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class AdvisorError(Failure):
    """Raised with every problem found at once; the CLI prints them without a traceback.

    `exit_code` follows the CLI contract: 1 for problems in the user's files, 2 for unreadable input.
    """

    exit_code = 1

    def __init__(self, problems: Sequence[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self, prog: str = "advisor") -> list[str]:
        return [str(p) for p in self.problems]


class UnreadableInput(AdvisorError):
    """A file that cannot be read or parsed at all (missing, not UTF-8, not YAML)."""

    exit_code = 2


class UnwritableOutput(AdvisorError):
    """An output that cannot be written (no space left, no permission, a file where a folder
    belongs): a problem with where we write, not with the user's files, so exit code 2."""

    exit_code = 2


class EngineError(Failure):
    """durable-rules failed in a way our compiler should have prevented; names the rules involved."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ` did you mean 'x'?` suffix when a close match exists, else ''."""
    import difflib  # only when there is a mistake to name: start-up need not pay for it

    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def suggest(word: str, choices: Iterable[str], otherwise: str) -> str:
    """The "did you mean" suffix when there is a close match, else `otherwise` (a hint of what to do)."""
    return did_you_mean(word, choices) or otherwise


def one_of(choices: Iterable[str]) -> str:
    """'a, b or c' for messages that list the valid values."""
    items = [str(c) for c in choices]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


class MissingExtra(Failure):
    """An optional part (WeasyPrint for PDF) is not installed: one line naming what to install; exit 2."""

    exit_code = 2
