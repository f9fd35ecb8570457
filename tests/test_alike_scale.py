"""Which advice texts may read alike: the indexed computation equals the pairwise definition, and
preparing advice grows linearly, not with the square of the rules in a section (counted in lines run)."""

from __future__ import annotations

import random
from types import SimpleNamespace as NS

import pytest
from counting import lines_run

from advisor.advise import Alike, _may_read_alike, sayings
from advisor.rules import split_say


def _random_text(rng: random.Random) -> str:
    """Short texts over a tiny alphabet, so first and last parts often start or end one another."""

    def literal() -> str:
        return "".join(rng.choice("ab") for _ in range(rng.randint(0, 3)))

    pieces = [literal()]
    for _ in range(rng.randint(0, 2)):
        pieces += ["{account.name}", literal()]
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(40))
def test_alike_equals_the_pairwise_definition(seed):
    rng = random.Random(seed)
    texts = [(f"r{i}", split_say(_random_text(rng))) for i in range(rng.randint(1, 60))]
    index = Alike(texts)
    for _, parts in texts:
        expected = {other for other, theirs in texts if _may_read_alike(parts, theirs)}
        assert index.alike(parts[0], parts[-1]) == expected, parts


def _base(texts: list[str], section: str = "checklist"):
    say = [NS(en=t, zh=t) for t in texts]
    rules = [
        NS(rule=NS(id=f"r{i}", say=s, section=section, priority="medium", source=["2.1.1.a"], aspect="approach",
                   scope="account"), index=i)
        for i, s in enumerate(say)
    ]  # fmt: skip
    return NS(rules=rules)


def test_alike_sayings_wire_each_rule_to_its_set():
    said = sayings(_base(["Call {account.name} today", "Call Acme today", "Call the team", "{account.name}"]), "en")
    assert said["r0"].alike == {"r0", "r1", "r3"}
    assert said["r1"].alike == {"r0", "r1", "r3"}
    assert said["r2"].alike == {"r2", "r3"}
    assert said["r3"].alike == {"r0", "r1", "r2", "r3"}


def test_alike_preparing_advice_grows_linearly():
    def work(n: int) -> int:
        texts = [f"Step {i}: call {{account.name}} about item {i} before the budget closes." for i in range(n)]
        base = _base(texts)
        return lines_run(lambda: sayings(base, "en"))

    small, large = work(500), work(2_000)
    # The pairwise version ran 16 times the lines for 4 times the rules; linear runs 4 times.
    assert large < 5 * small, (small, large)
