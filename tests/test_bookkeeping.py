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


ITEMS = [{"rank": 3, "name": "c", "revenue": -0.0}, {"rank": 1, "name": "a", "revenue": 5e-324},
         {"rank": 2, "name": "b", "revenue": 1e308}, {"rank": 1, "name": "a2", "revenue": 0.1}]  # fmt: skip
SORTED = [ITEMS[1], ITEMS[3], ITEMS[2], ITEMS[0]]  # by key, then as added


@pytest.fixture
def books(tmp_path):
    books = Bookkeeping(tmp_path / "books.sqlite")
    for item in ITEMS:
        books.show("ranked", item, key=item["rank"])
    books.show("names", "客户|一")
    yield books
    books.close()


def test_a_shown_list_reads_back_as_the_list_it_stands_for(books):
    rows = books.shown("ranked")
    assert len(rows) == 4 and bool(rows) and list(rows) == SORTED and list(rows) == SORTED  # read again
    assert list(reversed(rows)) == SORTED[::-1]
    for i in range(-4, 4):
        assert rows[i] == SORTED[i]
    for bad in (4, -5):
        with pytest.raises(IndexError):
            rows[bad]
    for window in (slice(1, 3), slice(None, None, -1), slice(-2, None), slice(0, 10, 2), slice(5, 9)):
        assert rows[window] == SORTED[window]
    assert math.copysign(1, rows[-1]["revenue"]) == -1.0 and rows[0]["revenue"] == 5e-324  # floats exact
    assert list(books.shown("names")) == ["客户|一"] and len(books.shown("nothing")) == 0
    assert not books.shown("nothing") and list(books.shown("nothing")) == []
    assert [r["name"] for r in books.shown("ranked", lambda r: {**r, "name": r["name"].upper()})] == [
        "A",
        "A2",
        "B",
        "C",
    ]


def test_a_template_sees_a_shown_list_as_it_would_a_list(books):
    """What a trainer may write in portfolio.md.j2 gives the same text for the file's list as for a list."""
    from jinja2.sandbox import SandboxedEnvironment

    text = (
        "{{ r|length }} {{ r[0].name }} {{ r[-1].name }} {{ (r|first).name }} {{ (r|last).name }}"
        " {% for x in r|reverse %}{{ x.name }}{% if not loop.last %},{% endif %}{% endfor %}"
        " {% for x in r %}{{ loop.index }}/{{ loop.length }}{% endfor %} {{ r[1:3]|map(attribute='name')|join('+') }}"
        " {% if e %}full{% else %}empty{% endif %} {% for x in e %}{{ x }}{% else %}none{% endfor %}"
        " {{ r|map(attribute='rank')|sum }} {{ r|selectattr('rank', 'equalto', 1)|list|length }}"
        " {{ (r|sort(attribute='name', reverse=true)|first).name }} {{ n|join(', ') }}"
    )
    template = SandboxedEnvironment().from_string(text)
    as_list = template.render(r=SORTED, e=[], n=["客户|一"])
    assert template.render(r=books.shown("ranked"), e=books.shown("nothing"), n=books.shown("names")) == as_list
    assert as_list.startswith("4 a c a c c,b,a2,a 1/42/43/44/4 a2+b empty none 7 2 c 客户|一")
