"""The 80/20 value tiers computed across a whole portfolio (course 1.2.1), not trusted from each profile.

With every account's revenue at hand, each account gets its real share and rank and a class:
A for the few accounts that together bring the first 80% of revenue, B for the next 15%, C for
the rest. Rules see them as account.portfolio_share, account.revenue_rank and
account.portfolio_class, so the same account gets the same tier from `batch` and from
`brief --portfolio INDEX`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, UnreadableInput

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
    total = sum(rev for rev, _ in known)
    out: dict[str, Position] = {}
    before = 0.0
    for rank, (rev, acc) in enumerate(known, 1):
        share = rev / total if total > 0 else 0.0
        # An account is class A when the accounts above it have not yet reached 80% of revenue.
        cls = "a" if before < CLASS_A_SHARE else "b" if before < CLASS_B_SHARE else "c"
        out[acc] = Position(round(share, 6), rank, cls, len(known))
        before += share
    return out


def read_index(path: Path) -> dict[str, Position]:
    """Portfolio positions recorded in a batch's index.jsonl, for `brief --portfolio`."""
    import json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UnreadableInput(Problem(str(path), 1, 1, "error", f"cannot read the index: {exc.strerror}")) from None
    out: dict[str, Position] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            pos = entry.get("portfolio")
            if pos:
                out[entry["id"]] = Position(
                    float(pos["share"]), int(pos["rank"]), str(pos["portfolio_class"]), int(pos["accounts"])
                )
        except (ValueError, KeyError, TypeError):
            raise UnreadableInput(
                Problem(
                    str(path),
                    n,
                    1,
                    "error",
                    "not a line of an advisor batch index; point --portfolio at OUT/index.jsonl",
                )
            ) from None
    return out
