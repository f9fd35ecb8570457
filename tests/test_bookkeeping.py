"""The batch's bookkeeping file gives every account the position portfolio.tiers gives it in memory,
to the bit, whatever the revenues: ties, zeros of either sign, none, huge and tiny values."""

from __future__ import annotations

import math
import random

import pytest

from advisor.batch.bookkeeping import Bookkeeping
from advisor.portfolio import tiers


def revenues(seed: int) -> list[tuple[str, float | None]]:
    rng = random.Random(seed)
    awkward = [0.0, -0.0, 1e15, 5e-324, 0.1, 0.2, 0.30000000000000004, 123456789.123, None]
    out = []
    for i in range(rng.randint(1, 60)):
        value = rng.choice(awkward) if rng.random() < 0.4 else round(rng.uniform(0, 1e7), rng.randint(0, 4))
        out.append((f"acct-{rng.randint(0, 10**6):07d}-{i}", value))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_bookkeeping_ranks_the_portfolio_as_tiers_does_to_the_bit(tmp_path, seed):
    accounts = revenues(seed)
    books = Bookkeeping(tmp_path / "books.sqlite")
    try:
        books.add("note", None, detail="{}")  # places count notes and errors too
        for account_id, revenue in accounts:
            books.add("ok", f"in.jsonl:{account_id}", account_id, revenue)
        books.add("error", "in.jsonl:x", None, detail="in.jsonl:1: error: not an account")
        books.tier()
        expected = tiers(accounts)
        got = {a.id: a.position for a in books.valid() if a.position is not None}
        assert got == expected
        for account_id, position in expected.items():  # equal floats may differ in sign: compare bits
            assert math.copysign(1, got[account_id].share) == math.copysign(1, position.share)
        assert [a.id for a in books.valid()] == [account_id for account_id, _ in accounts]
        assert [a.place for a in books.valid()] == list(range(1, len(accounts) + 1))
    finally:
        books.close()


def test_a_negative_zero_revenue_keeps_its_sign_in_the_share(tmp_path):
    books = Bookkeeping(tmp_path / "books.sqlite")
    try:
        books.add("ok", "a.yaml", "a", 100.0)
        books.add("ok", "b.yaml", "b", -0.0)
        books.tier()
        shares = {a.id: a.position.share for a in books.valid()}
        assert math.copysign(1, shares["b"]) == -1.0 and shares["a"] == 1.0
    finally:
        books.close()
