"""The fact catalogue and derive() never drift apart: every fact derived is declared, and every
declared fact is derived for some shipped profile."""

from __future__ import annotations

import dataclasses
import datetime as dt

from advisor.facts import Catalogue, derive
from advisor.portfolio import Position
from advisor.profile import load_profile

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)


def test_facts_derived_are_exactly_the_catalogue():
    catalogue = Catalogue.base()
    seen: set[str] = set()
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        for record in derive(load_profile(path), TODAY, portfolio=Position(0.1, 3, "a", 10)):
            undeclared = set(record.values) - set(catalogue.specs)
            assert not undeclared, (path.name, record.id, undeclared)
            assert all(name.split(".")[0] in (record.scope, "account") for name in record.values)
            seen |= set(record.values)
    assert set(catalogue.specs) - seen == set()


def test_facts_numbers_never_need_an_exponent():
    """durable-rules' JSON parser rejects 1e-07 and 1e+16: derived numbers stay plain."""
    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    records = derive(profile, TODAY, portfolio=Position(1.234e-07, 400, "c", 400))
    account = records[0].values
    assert account["account.portfolio_share"] == 0.0
    for value in account.values():
        if isinstance(value, float):
            assert "e" not in repr(value)


def test_position_as_dict_names_every_field():
    """Position.as_dict is spelled out for speed; a new field must not be left out of the index."""
    position = Position(share=0.25, rank=3, portfolio_class="b", accounts=40)
    assert position.as_dict() == dataclasses.asdict(position)
    assert list(position.as_dict()) == [f.name for f in dataclasses.fields(Position)]
