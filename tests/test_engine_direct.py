"""The engine drives durable-rules' C core directly: it must fire exactly what durable's own Python
layer fires, clean up every session, start no threads, and keep every error one worded line.

The protocol facts it relies on (what assert_facts returns, that durable tells ids and property
names apart by a 32-bit hash alone, that a record it cannot read silently ends a batch) are
checked here against the C core itself, so an upgrade that changes them fails a test."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import yaml

import advisor.engine.wire as wire
from advisor.canonical import canonical
from advisor.course import load_course
from advisor.engine import Engine
from advisor.engine.compiler import compile_rules
from advisor.engine.native import durable_rules_engine  # loaded as the engine loads it (lazily on 3.13)
from advisor.engine.wire import (
    END_MARKER,
    MessageIds,
    engine_fact,
    fact_projection,
    fnv1a,
    key_sources,
    property_names,
    ruleset,
    shard_keys,
)
from advisor.errors import EngineError
from advisor.facts import Record, derive
from advisor.profile import load_profile, parse_profile
from advisor.rules import load_rules
from advisor.yamlio import load_text

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)
TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"


def synthetic(count: int) -> list:
    """Benchmark profiles (bench/bench.py), with 1 to 48 stakeholders."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench import synthetic_profile
    finally:
        sys.path.remove(str(ROOT / "bench"))
    sizes = [12, 4, 7, 24, 1, 48]
    return [
        canonical(
            parse_profile(
                load_text(yaml.safe_dump(synthetic_profile(i, stakeholders=sizes[i % 6]), allow_unicode=True), "x")
            )
        )
        for i in range(count)
    ]


class _HostReference:
    """The same plan evaluated the way durable documents it: its Python Host (timer threads
    disabled), one assert_fact per record, actions as Python closures, the state JSON round-trip
    between actions, and durable's own long property names."""

    def __init__(self, plan, catalogue):
        from durable import engine as durable

        class SyncHost(durable.Host):
            def _run(self):
                pass

        self.plan, self.host, self.sink = plan, SyncHost(), []
        self.sources, self.derived_names = key_sources(catalogue), frozenset(plan.derived_facts)
        self.names = {}
        for shard in plan.shards:
            name = f"ref{id(self)}_{shard.name}"
            rules = ruleset(shard)
            ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
            for rule_name, body in rules.items():
                body["run"] = self._action(ids.get(rule_name))
            self.host.register_rulesets({name: rules})
            self.names[shard.name] = name
        self.durable, self.count = durable, 0

    def _action(self, rule_id):
        def action(c):
            if rule_id is not None:
                self.sink.append((rule_id, c.m.id))

        return action

    def firings(self, records, derived) -> list[tuple[str, str]]:
        """Every firing in plan order (stratum, shard, record, rule), de-duplicated; a shard in a
        later stratum reads derived facts from the final outcome, which is what it saw then."""
        out, seen = [], set()
        for stratum in self.plan.strata():
            for shard in stratum:
                members = [r for r in records if r.scope == shard.scope]
                if not members:
                    continue
                projection = fact_projection(shard_keys(shard), self.sources, self.derived_names)
                self.count += 1
                sid = f"s{self.count}"
                self.sink = []
                for r in members:
                    fact = {**engine_fact(r, projection, derived[r.id]), "sid": sid}
                    try:
                        self.host.assert_fact(self.names[shard.name], fact)
                    except self.durable.MessageNotHandledException:
                        pass
                self.host.assert_fact(self.names[shard.name], {"id": END_MARKER, "t": END_MARKER, "sid": sid})
                self.host.delete_state(self.names[shard.name], sid)
                for hit in self.sink:
                    if hit not in seen:
                        seen.add(hit)
                        out.append(hit)
        return out


def test_engine_direct_fires_exactly_what_durables_own_host_fires(advisor):
    """240 synthetic profiles plus the shipped ones: the same firings, in the same order."""
    reference = _HostReference(advisor.plan, advisor.base.catalogue)
    engine = Engine(advisor.plan, advisor.base.catalogue)
    profiles = [canonical(load_profile(p)) for p in sorted((ROOT / "profiles").glob("*.yaml"))] + synthetic(240)
    total = 0
    for profile in profiles:
        records = derive(profile, TODAY, advisor.policy)
        outcome = engine.evaluate(records)
        got = [(f.rule_id, f.record_id) for f in outcome.firings]
        assert got == reference.firings(records, outcome.derived), profile.account.id
        total += len(got)
    assert total > 50 * len(profiles)  # not vacuous: about 100 firings per profile
    engine.close()


def test_engine_direct_starts_no_threads(advisor):
    before = threading.active_count()
    engine = Engine(advisor.plan, advisor.base.catalogue)
    engine.evaluate(derive(load_profile(TAX), TODAY))
    assert threading.active_count() == before
    engine.close()


def rules_in(tmp_path: Path, text: str):
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_rules(tmp_path, load_course())


STAKEHOLDER_RULES = """\
    rules:
      - id: middle
        source: [2.4.2.a]
        scope: stakeholder
        when: {fact: stakeholder.level, equals: middle}
        section: person
        say: {en: x, zh: x}
      - id: stale
        source: [3.2.1.a]
        scope: stakeholder
        when: {fact: stakeholder.days_since_contact, gt: 100}
        section: gaps
        say: {en: x, zh: x}
"""


def test_engine_direct_action_error_names_the_rule_and_the_engine_goes_on(tmp_path):
    base = rules_in(tmp_path, STAKEHOLDER_RULES)
    failing = [True]

    def on_fire(rule_id: str, record_id: str) -> None:
        if rule_id == "stale" and failing[0]:
            raise ValueError("no room\nfor it")

    engine = Engine(compile_rules(base), base.catalogue, on_fire=on_fire)
    records = derive(load_profile(TAX), TODAY)
    with pytest.raises(EngineError) as info:
        engine.evaluate(records)
    assert (
        str(info.value) == f"rule stale ({tmp_path / 'rules.yaml'}:8:5) failed while firing: ValueError: no room for it"
    )
    failing[0] = False
    fired = {(f.rule_id, f.record_id) for f in engine.evaluate(records).firings}
    assert ("stale", "stakeholder:zhou-hai") in fired and ("middle", "stakeholder:liu-min") in fired


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter: a segfault in durable must fail the test, not end the run."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_engine_direct_sessions_where_only_the_sentinel_fires_are_deleted_safely(tmp_path):
    """No rule matches: only the sentinel fires, every time; 2,000 such sessions are created and
    deleted (durable crashes on deleting a session where no action ran, and holds 1,024 at most)."""
    rules_in(tmp_path, STAKEHOLDER_RULES.replace("equals: middle", "equals: senior").replace("gt: 100", "gt: 100000"))
    result = run_python(f"""
        from pathlib import Path
        from advisor.engine.compiler import compile_rules
        from advisor.course import load_course
        from advisor.engine import Engine
        from advisor.facts import Record
        from advisor.rules import load_rules
        base = load_rules(Path({str(tmp_path)!r}), load_course())
        engine = Engine(compile_rules(base), base.catalogue)
        quiet = [Record("stakeholder:a", "stakeholder", {{"stakeholder.level": "middle"}})]
        for _ in range(2000):
            assert engine.evaluate(quiet).firings == []
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]


def test_engine_direct_record_durable_cannot_read_is_named_and_the_engine_recovers(tmp_path):
    """durable's JSON parser rejects infinities (facts.py caps numbers; a hand-built record does
    not). In a batch it stops silently at that record: the end marker never fires, and the engine
    finds and names the record. Nothing crashes, and the next evaluation is clean."""
    base = rules_in(tmp_path, STAKEHOLDER_RULES)
    engine = Engine(compile_rules(base), base.catalogue)
    fine = Record("stakeholder:fine", "stakeholder", {"stakeholder.level": "middle"})
    for first in (True, False):  # the unreadable record first (no action ever starts) or second
        broken = Record("stakeholder:broken", "stakeholder", {"stakeholder.days_since_contact": float("inf")})
        with pytest.raises(EngineError) as info:
            engine.evaluate([broken, fine] if first else [fine, broken])
        assert str(info.value) == (
            "the engine failed on rules stale, middle: durable-rules cannot read record stakeholder:broken: "
            "Could not assert fact, error code: 202"
        )
        assert [(f.rule_id, f.record_id) for f in engine.evaluate([fine]).firings] == [("middle", "stakeholder:fine")]


def test_engine_direct_a_c_error_replaces_the_ruleset_and_the_engine_recovers(tmp_path):
    """Error 303 may leave a corrupt session that durable crashes on deleting: the engine frees
    the whole ruleset instead and builds a fresh one, so the next record evaluates normally."""
    rules = "rules:\n" + "".join(
        f"  - {{id: stale-{i}, source: [3.2.1.a], scope: stakeholder, section: gaps, say: {{en: x, zh: x}},"
        f" when: {{fact: stakeholder.days_since_contact, gt: {i}}}}}\n"
        for i in range(100)
    )
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    base = load_rules(tmp_path, load_course())
    engine = Engine(compile_rules(base, budget=10_000, max_chains=10_000), base.catalogue)
    wall = Record("stakeholder:wall", "stakeholder", {"stakeholder.days_since_contact": 99})
    under = Record("stakeholder:under", "stakeholder", {"stakeholder.days_since_contact": 3})
    for _ in range(3):
        with pytest.raises(EngineError, match=r"\(durable-rules error 303\)"):
            engine.evaluate([wall])
        got = {f.rule_id for f in engine.evaluate([under]).firings}
        assert got == {"stale-0", "stale-1", "stale-2"}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_engine_direct_memory_stays_flat(advisor):
    engine = Engine(advisor.plan, advisor.base.catalogue)
    records = [derive(p, TODAY, advisor.policy) for p in synthetic(50)]

    def rss_kb() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    for r in records * 4:  # warm up: pools and caches reach their size
        engine.evaluate(r)
    before = rss_kb()
    for r in records * 40:  # 2,000 evaluations
        engine.evaluate(r)
    assert rss_kb() - before < 4_000  # KB; leaking one session per shard would cost far more
    engine.close()


def test_engine_direct_close_frees_the_rulesets(advisor):
    engine = Engine(advisor.plan, advisor.base.catalogue)
    handles = [r.handle for r in engine._rulesets.values()]
    engine.close()
    for handle in handles:  # a freed handle is refused by the C core (error 111, invalid handle)
        with pytest.raises(Exception, match="error code: 111"):
            durable_rules_engine.assert_facts(handle, '[{"id":1,"t":"account"}]')
    with pytest.raises(EngineError, match="this Engine was closed"):
        engine.evaluate(derive(load_profile(TAX), TODAY))


# --- what the adapter relies on in the C core --------------------------------------------------


@pytest.fixture
def c_ruleset():
    definition = {
        "first": {"all": [{"m": {"$and": [{"t": "s"}, {"$gt": {"x": 1}}]}}]},
        "second": {"all": [{"m": {"$and": [{"t": "s"}, {"$gt": {"x": 5}}]}}]},
    }
    handle = durable_rules_engine.create_ruleset(f"direct-test-{id(definition)}", json.dumps(definition))
    yield handle
    durable_rules_engine.delete_ruleset(handle)


def drain(handle: int, session: int) -> list[str]:
    result = durable_rules_engine.start_action_for_state(handle, session)
    out, message = [], result and result[1]
    while message:
        out.append(message)
        message = durable_rules_engine.complete_and_start_action(handle, session)
    return out


def test_c_core_assert_facts_stores_all_and_reports_one_unhandled_as_code_1(c_ruleset):
    code, session = durable_rules_engine.assert_facts(
        c_ruleset, '[{"id":1,"t":"s","x":7},{"id":2,"t":"s","x":0},{"id":3,"t":"s","x":3}]'
    )
    assert code == 1  # record 2 matches nothing: no exception, and the others fire
    fired = [json.loads(m) for m in drain(c_ruleset, session)]
    assert sorted((next(iter(m)), next(iter(m.values()))["m"]["id"]) for m in fired) == [
        ("first", 1),
        ("first", 3),
        ("second", 1),
    ]
    durable_rules_engine.delete_state(c_ruleset, wire.SESSION)  # facts without sid: session "0"


def test_c_core_retracting_a_drained_batch_leaves_the_session_as_new(c_ruleset):
    """The engine keeps one session per shard and retracts each batch by id: the same ids then
    fire again, exactly as in a fresh session, and an id left in would be refused as seen (code 2)."""
    batch = '[{"id":1,"t":"s","x":7},{"id":2,"t":"s","x":3},{"id":"e","t":"s","x":0}]'
    got = []
    for _ in range(3):
        code, session = durable_rules_engine.assert_facts(c_ruleset, batch)
        assert code == 1
        got.append(sorted(drain(c_ruleset, session)))
        durable_rules_engine.retract_facts(c_ruleset, '[{"id":"e"},{"id":1},{"id":2}]')
    assert got[0] == got[1] == got[2] and len(got[0]) == 3
    durable_rules_engine.assert_facts(c_ruleset, '[{"id":1,"t":"s","x":7}]')
    assert durable_rules_engine.assert_facts(c_ruleset, '[{"id":1,"t":"s","x":7}]')[0] == 2
    durable_rules_engine.delete_state(c_ruleset, "0")
    ids = MessageIds()
    assert ids.retract(3) == '[{"id":"e"},{"id":0},{"id":1},{"id":2}]'


def test_engine_direct_keeps_one_session_per_shard_and_frees_it_on_close(advisor):
    """Evaluations retract their facts and reuse the session; closing deletes it before freeing
    the ruleset (durable's delete_ruleset would leave the session's memory behind)."""
    engine = Engine(advisor.plan, advisor.base.catalogue)
    records = derive(load_profile(TAX), TODAY, advisor.policy)
    first = engine.evaluate(records).firings
    handles = {name: r.handle for name, r in engine._rulesets.items()}
    assert engine.evaluate(records).firings == first
    assert {name: r.handle for name, r in engine._rulesets.items()} == handles  # nothing replaced
    assert all(r.acted for r in engine._rulesets.values())
    engine.close()


def test_c_core_stops_a_batch_silently_at_a_record_it_cannot_read(c_ruleset):
    code, session = durable_rules_engine.assert_facts(
        c_ruleset, '[{"id":1,"t":"s","x":7},{"id":2,"t":"s","x":Infinity},{"id":3,"t":"s","x":7}]'
    )
    assert code == 0 and len(drain(c_ruleset, session)) == 2  # record 1 only: 3 was never read
    durable_rules_engine.delete_state(c_ruleset, "0")


def test_c_core_confuses_ids_with_the_same_hash_and_the_engine_never_sends_two(c_ruleset):
    a, b = 40189, 797186  # found by search: the same 32-bit FNV-1a hash
    assert fnv1a(str(a)) == fnv1a(str(b))
    assert durable_rules_engine.assert_fact(c_ruleset, json.dumps({"id": a, "t": "s", "x": 7}))[0] == 0
    observed, session = durable_rules_engine.assert_fact(c_ruleset, json.dumps({"id": b, "t": "s", "x": 7}))
    assert observed == 2  # "already observed": durable would drop this record without a word
    drain(c_ruleset, session)
    durable_rules_engine.delete_state(c_ruleset, "0")
    ids = MessageIds()
    ids._taken.add(fnv1a("3"))  # as if 3 collided with an id taken before
    assert ids.first(5) == [0, 1, 2, 4, 5]
    assert ids.position == {"0": 0, "1": 1, "2": 2, "4": 3, "5": 4}
    hashes = {fnv1a(str(i)) for i in ids.first(20_000)} | {fnv1a(x) for x in ("b", "e", "sid-0")}
    assert len(hashes) == 20_003


def test_engine_direct_property_names_are_short_and_never_share_a_hash():
    keys = [f"stakeholder__fact_{i}" for i in range(800)]
    names = property_names(keys)
    assert names[keys[0]] == "a" and all(len(n) <= 3 for n in names.values())
    assert "t" not in names.values() and "id" not in names.values()
    hashes = {fnv1a(n) for n in names.values()} | {fnv1a(x) for x in ("id", "sid", "t")}
    assert len(hashes) == len(keys) + 3
