"""The engine's fast paths must send durable exactly what the plain ones would: a fact writer writes,
byte for byte, the JSON of engine_fact, and a batch is exactly the JSON list of its facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

import advisor.engine.adapter as engine_module
import advisor.engine.wire as wire
from advisor.engine import Engine, Firing
from advisor.engine.wire import (
    compact_json,
    engine_fact,
    fact_projection,
    fact_writers,
    key_sources,
    shard_keys,
    text_projection,
)
from advisor.facts import Record, derive
from advisor.profile import load_profile

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)


def _text(record: Record, projection, text, derived, ident=7) -> tuple[str, str]:
    """(what the fact writer gives, what json gives) for one record."""
    fast = (
        '{"id":'
        + compact_json(ident)
        + ',"t":'
        + compact_json(record.scope)
        + "".join(fact_writers([text])[0](record.values, derived))
        + "}"
    )
    return fast, compact_json(engine_fact(record, projection, derived, ident))


def test_engine_fact_writer_writes_what_json_writes_for_every_shipped_record(advisor):
    engine = Engine(advisor.plan, advisor.base.catalogue)
    sources, derived_names = key_sources(advisor.base.catalogue), frozenset(advisor.plan.derived_facts)
    checked = 0
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        records = derive(load_profile(path), TODAY, advisor.policy)
        for shard in advisor.plan.shards:
            projection = fact_projection(shard_keys(shard), sources, derived_names, engine.names)
            text = text_projection(projection)
            for r in records:
                if r.scope == shard.scope:
                    for derived in ({}, dict.fromkeys(advisor.plan.derived_facts, True)):
                        for _ in range(2):  # the second time from what text_projection remembered
                            fast, plain = _text(r, projection, text, derived)
                            assert fast == plain
                            checked += 1
    assert checked > 100
    engine.close()


class _Str(str):
    pass


class _Int(int):
    pass


@pytest.mark.parametrize(
    "value",
    [
        "middle",
        'quo"te\\back\nline',
        "中文",
        "\u2028",
        0,
        1,
        -3,
        10**30,
        True,
        False,
        0.0,
        -0.0,
        1.0,
        2.5,
        1e300,
        float("inf"),
        float("-inf"),
        float("nan"),
        _Str("x"),
        _Int(4),
        [1, "a"],
        None,
    ],
    ids=repr,
)
def test_engine_fact_writer_writes_odd_values_as_json_does(value):
    """Values that compare equal but print differently (1, True, 1.0; 0.0, -0.0) must never share
    a remembered text; subclasses and non-finite floats go to json itself."""
    projection = (("a", "f.x", None, False), ("b", "f.s", "m", False), ("c", "f.d", None, True))
    text = text_projection(projection)
    for other in (1, True, 1.0, 0, False, 0.0, -0.0, "1"):  # fill the remembered texts first
        _text(Record("r", "s", {"f.x": other}), projection, text, {})
    record = Record("r", "s", {"f.x": value, "f.s": ["m"] if value else "nm"})
    for derived in ({}, {"f.d": value}):
        fast, plain = _text(record, projection, text, derived)
        assert fast == plain


def test_engine_batch_text_is_the_json_list_of_the_facts(advisor, monkeypatch):
    """What the engine asserts is `compact_json([begin, *facts, end])` with the message ids, as before."""
    sent = []
    real = engine_module.durable_rules_engine.assert_facts

    def spy(handle, text):
        sent.append(text)
        return real(handle, text)

    monkeypatch.setattr(engine_module.durable_rules_engine, "assert_facts", spy)
    engine = Engine(advisor.plan, advisor.base.catalogue)
    sources, derived_names = key_sources(advisor.base.catalogue), frozenset(advisor.plan.derived_facts)
    records = derive(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml"), TODAY, advisor.policy)
    outcome = engine.evaluate(records)
    expected = []
    for stratum in advisor.plan.strata():
        for shard in stratum:
            members = [r for r in records if r.scope == shard.scope]
            if members:
                projection = fact_projection(shard_keys(shard), sources, derived_names, engine.names)
                ids = engine.message_ids.first(len(members))
                facts = [
                    engine_fact(r, projection, outcome.derived[r.id] if shard.stratum else {}, ids[n])
                    for n, r in enumerate(members)
                ]
                expected.append(compact_json([wire.BEGIN, *facts, wire.END]))
    assert sent == expected
    assert all(json.loads(t)[-1] == wire.END for t in sent)
    engine.close()


def test_engine_writes_shared_account_facts_once_and_as_each_record_would(advisor, monkeypatch):
    """Records derive made share their account facts (Record.base): the engine writes them once per
    shard, and the batch is byte for byte what it is when every record is written whole; a record
    without a base (built by hand) is written from its own values."""
    sent = []
    real = engine_module.durable_rules_engine.assert_facts
    monkeypatch.setattr(engine_module.durable_rules_engine, "assert_facts", lambda h, t: sent.append(t) or real(h, t))
    engine = Engine(advisor.plan, advisor.base.catalogue)
    records = derive(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml"), TODAY, advisor.policy)
    assert all(r.base is records[0].values for r in records[1:]) and records[0].base is None
    engine.evaluate(records)
    shared, sent[:] = list(sent), []
    whole = [dataclasses.replace(r, base=None) for r in records]
    engine.evaluate(whole)
    assert sent == shared
    sent[:] = []
    sources = key_sources(advisor.base.catalogue)
    read = [sources[k] for s in advisor.plan.shards if s.scope == "stakeholder" for k in shard_keys(s)]
    name = next(name for name, member in read if name.startswith("account.") and member is None)
    person = next(i for i, r in enumerate(whole) if r.scope == "stakeholder")
    records[person] = dataclasses.replace(records[person], values={**records[person].values, name: 4321}, base=None)
    engine.evaluate(records)
    assert sent != shared and any("4321" in t for t in sent)
    engine.close()


def test_engine_firing_is_a_named_pair():
    f = Firing("rule", "record")
    assert (f.rule_id, f.record_id) == ("rule", "record") and f == Firing("rule", "record")
    assert repr(f) == "Firing(rule_id='rule', record_id='record')"
