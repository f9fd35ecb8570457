"""A batch's pass 1 takes JSON straight from its text (pydantic parses it) when it can: every record
must come out exactly as the careful path (json.loads, the limits, parse_profile) makes it, the
profile or the error with its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.batch import tasks
from advisor.limits import DEFAULT
from advisor.sources import Source

from conftest import ROOT

BASE = yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))


def record(**change) -> str:
    doc = json.loads(json.dumps(BASE, default=str))
    for dotted, value in change.items():
        *parents, last = dotted.split("__")
        node = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[last] = value
    return json.dumps(doc, ensure_ascii=False)


def deep(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


VALID = ("valid", "duplicate key, the last wins")
CASES = {
    "valid": record(),
    "duplicate key, the last wins": record()[:-1] + ', "visit": null}',
    "NaN revenue": record().replace('"annual_revenue": ', '"annual_revenue": NaN, "x": '),
    "infinite revenue": record(account__annual_revenue=1e400),
    "revenue over the cap": record(account__annual_revenue=10**20),
    "a boolean for a name": record(account__name=True),
    "a lone surrogate": record(account__name="\ud800x"),
    "unknown stakeholder": record(stakeholders__1__reports_to="nobody"),
    "unknown key": record(account__colour="red"),
    "nested too deep": record(account__name=deep(45)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("kind", ["jsonl", "json"])
@pytest.mark.parametrize(
    "limits", [DEFAULT, DEFAULT.override([("stakeholders", 2)]), DEFAULT.override([("values", 60)])], ids=str
)
def test_batch_parse_straight_from_json_agrees_with_the_careful_path(monkeypatch, name, kind, limits):
    source = Source("in.jsonl", 7, kind, CASES[name])
    fast = tasks.parse_source(source, limits)
    monkeypatch.setattr(tasks, "parse_profile_json", lambda *_: None)
    careful = tasks.parse_source(source, limits)
    assert fast == careful
    assert ("error" in careful) == (name not in VALID or limits != DEFAULT)


def test_batch_parse_takes_a_valid_record_straight_from_its_text(monkeypatch):
    monkeypatch.setattr(tasks, "decoded", lambda *_: pytest.fail("the careful path ran"))
    assert tasks.parse_source(Source(str(Path("in.jsonl")), 1, "jsonl", CASES["valid"]))["id"] == BASE["account"]["id"]
