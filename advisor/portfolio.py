"""The 80/20 value tiers computed across a whole portfolio (course 1.2.1), not trusted from each profile.

With every account's revenue at hand, each account gets its real share and rank and a class:
A for the few accounts that together bring the first 80% of revenue, B for the next 15%, C for
the rest. Rules see them as account.portfolio_share, account.revenue_rank and
account.portfolio_class, so the same account gets the same tier from `batch` and from
`brief --portfolio INDEX`.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, UnreadableInput
from .limits import DEFAULT, Limits, raise_hint
from .yamlio import open_without_waiting

CLASS_A_SHARE = 0.80
CLASS_B_SHARE = 0.95


@dataclass(frozen=True)
class Position:
    """Where one account stands in its portfolio."""

    share: float
    rank: int
    portfolio_class: str  # "a", "b" or "c"
    accounts: int

    def as_dict(self) -> dict:
        """The fields by name (dataclasses.asdict, spelled out: batch calls it twice per account)."""
        return {
            "share": self.share,
            "rank": self.rank,
            "portfolio_class": self.portfolio_class,
            "accounts": self.accounts,
        }


def tiers(revenues: Iterable[tuple[str, float | None]]) -> dict[str, Position]:
    """Positions for every account with a known revenue; ties in revenue are broken by account id."""
    known = sorted(((rev, acc) for acc, rev in revenues if rev is not None), key=lambda x: (-x[0], x[1]))
    return dict(positions(known, sum(rev for rev, _ in known), len(known)))


def positions(ranked: Iterable[tuple[float, str]], total: float, count: int) -> Iterator[tuple[str, Position]]:
    """(account, position) for each of `count` accounts `ranked` as (revenue, account id), highest
    revenue first, ties by id, whose revenues add up to `total` (as `sum` adds them in that order).
    A batch streams them from its bookkeeping file; `tiers` from memory."""
    before = 0.0
    for rank, (rev, acc) in enumerate(ranked, 1):
        share = rev / total if total > 0 else 0.0
        # An account is class A when the accounts above it have not yet reached 80% of revenue.
        cls = "a" if before < CLASS_A_SHARE else "b" if before < CLASS_B_SHARE else "c"
        yield acc, Position(round(share, 6), rank, cls, count)
        before += share


def read_index(path: Path, limits: Limits = DEFAULT) -> dict[str, Position]:
    """Portfolio positions recorded in a batch's index.jsonl, for `brief --portfolio`.

    Read as a profile is: no line may be longer than `record_bytes`, nor the index hold more lines
    than `values`; a device (/dev/zero) is refused, and a FIFO is read under the same bounds, so
    no index costs unbounded time or memory.
    """
    import json

    def refuse(line: int, message: str) -> UnreadableInput:
        return UnreadableInput(Problem(str(path), line, 1, "error", message))

    not_an_index = "not a line of an advisor batch index; point --portfolio at OUT/index.jsonl"
    cap = min(limits.record_bytes, sys.maxsize - 1)
    out: dict[str, Position] = {}
    try:
        with open_without_waiting(path) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise refuse(1, "is a folder; point --portfolio at OUT/index.jsonl")
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
                raise refuse(1, "is a device, not a batch index; point --portfolio at OUT/index.jsonl")
            n = 0
            while raw := handle.readline(cap + 1):
                n += 1
                if n > limits.values:
                    raise refuse(n, f"the index has more than {limits.values:,} lines; {raise_hint('values')}")
                if len(raw) > cap and not raw.endswith(b"\n"):
                    raise refuse(n, f"a line over the limit of {cap:,} bytes; {raise_hint('record_bytes')}")
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
                    pos = entry.get("portfolio")
                    if pos:
                        share, rank, accounts = float(pos["share"]), int(pos["rank"]), int(pos["accounts"])
                        if not (0.0 <= share <= 1.0) or rank < 1 or accounts < 1:
                            raise ValueError("out of range")
                        out[str(entry["id"])] = Position(share, rank, str(pos["portfolio_class"]), accounts)
                except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
                    raise refuse(n, not_an_index) from None
    except FileNotFoundError:
        raise refuse(1, "cannot read the index: file not found; check the path") from None
    except IsADirectoryError:
        raise refuse(1, "is a folder; point --portfolio at OUT/index.jsonl") from None
    except OSError as exc:
        raise refuse(1, f"cannot read the index: {exc.strerror or exc}") from None
    return out


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number an index holds")
