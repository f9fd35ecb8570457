"""The compiler (advisor/engine/compiler.py) and the durable forms it is written in (wire.py):
shards stay within their bounds, conditions are ordered, strata follow derivations, and every
operator in the vocabulary has its durable form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advisor import conditions as c
from advisor.course import load_course
from advisor.engine.compiler import FANOUT_BUDGET, MAX_CHAINS_PER_SHARD, compile_rules, ordered, strata
from advisor.engine.wire import END_MARKER, SENTINEL, leaf_to_engine, rule_pattern, ruleset, shard_keys
from advisor.errors import AdvisorError
from advisor.facts import Catalogue
from advisor.rules import RuleBase, load_rules
from advisor.vocabulary import OPERATORS, SCOPES

from conftest import ROOT

CATALOGUE = Catalogue.base()
SAY = {"en": "x", "zh": "x"}


def rules_from(tmp_path: Path, rules: list[dict]) -> RuleBase:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    return load_rules(tmp_path, load_course())


def rule(rid: str, when: dict | None, scope: str = "account", **extra) -> dict:
    out = {"id": rid, "source": ["2.1.1.a"], "scope": scope, **extra}
    if when is not None:
        out["when"] = when
    if "derive" not in extra:
        out |= {"section": "account", "say": SAY}
    return out


# --- leaf forms: one per operator in the vocabulary ---------------------------------------------

KEY = "stakeholder__level"
# (operator, value) -> the durable pattern; a new operator needs a row here before it passes.
FORMS = {
    "equals": ("senior", {KEY: "senior"}),
    "not_equals": ("senior", {"$neq": {KEY: "senior"}}),
    "in": (("middle", "senior"), {"$mt": {KEY: "(middle|senior)"}}),
    "not_in": (("middle", "senior"), {"$and": [{"$neq": {KEY: "middle"}}, {"$neq": {KEY: "senior"}}]}),
    "lt": (3, {"$lt": {KEY: 3}}),
    "lte": (3, {"$lte": {KEY: 3}}),
    "gt": (3, {"$gt": {KEY: 3}}),
    "gte": (3, {"$gte": {KEY: 3}}),
    "known": (None, {"$ex": {KEY: 1}}),
    "unknown": (None, {"$nex": {KEY: 1}}),
    "contains": ("senior", {KEY + "__senior": True}),
    "not_contains": ("senior", {KEY + "__senior": False}),
}


def test_compiler_every_vocabulary_operator_has_a_tested_form():
    assert set(FORMS) == set(OPERATORS)


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_compiler_leaf_form(op):
    value, expected = FORMS[op]
    assert leaf_to_engine(c.Leaf("stakeholder.level", op, value)) == expected


def test_compiler_rule_pattern_tests_the_scope_first_and_flattens_an_all():
    node = c.All((c.Leaf("stakeholder.level", "equals", "senior"), c.Leaf("stakeholder.days_since_contact", "gt", 9)))
    assert rule_pattern(node, "stakeholder") == {
        "$and": [{"t": "stakeholder"}, {KEY: "senior"}, {"$gt": {"stakeholder__days_since_contact": 9}}]
    }
    assert rule_pattern(None, "account") == {"t": "account"}
    either = c.Any_((c.Leaf("stakeholder.level", "equals", "senior"), c.Leaf("stakeholder.level", "unknown")))
    assert rule_pattern(either, "stakeholder") == {
        "$and": [{"t": "stakeholder"}, {"$or": [{KEY: "senior"}, {"$nex": {KEY: 1}}]}]
    }


# --- ordering -----------------------------------------------------------------------------------


def test_compiler_orders_enum_tests_first_fewest_values_first_then_other_leaves_then_nested():
    nested = c.Any_((c.Leaf("stakeholder.is_attendee", "equals", True), c.Leaf("stakeholder.level", "unknown")))
    days = c.Leaf("stakeholder.days_since_contact", "gt", 30)
    two = c.Leaf("stakeholder.level", "in", ("middle", "senior"))
    one = c.Leaf("stakeholder.function", "equals", "admin")
    not_enum_equality = c.Leaf("stakeholder.is_attendee", "equals", True)  # a bool: not discriminating
    got = ordered(c.All((nested, days, two, not_enum_equality, one)), CATALOGUE)
    assert got == c.All((one, two, days, not_enum_equality, nested))
    assert ordered(days, CATALOGUE) == days
    assert ordered(None, CATALOGUE) is None


# --- sharding -----------------------------------------------------------------------------------


def test_compiler_shards_stay_within_fanout_and_chain_bounds(tmp_path):
    levels = ("frontline", "middle", "senior")
    rules = [
        rule(f"ungrouped-{i}", {"fact": "stakeholder.days_since_contact", "gt": i}, "stakeholder") for i in range(90)
    ]
    rules += [rule(f"level-{i}", {"all": [{"fact": "stakeholder.days_since_contact", "gt": i},
                                          {"fact": "stakeholder.level", "equals": levels[i % 3]}]}, "stakeholder")
              for i in range(120)]  # fmt: skip
    rules += [rule(f"acct-{i}", {"fact": "account.stakeholders", "gte": i}) for i in range(50)]
    base = rules_from(tmp_path, rules)
    for budget, max_chains in ((FANOUT_BUDGET, MAX_CHAINS_PER_SHARD), (10, 25)):
        plan = compile_rules(base, budget=budget, max_chains=max_chains)
        assert sorted(r for s in plan.shards for r in s.rule_ids) == sorted(r["id"] for r in rules)
        for shard in plan.shards:
            assert shard.fanout <= budget and shard.chains <= max_chains
            assert {base.by_id()[r].rule.scope for r in shard.rule_ids} == {shard.scope}
            assert shard.name.endswith(f"_{shard.scope}_{shard.stratum}")
            # the bound counts the worst value: grouped rules of one level add up, other levels do not
            grouped = [r for r in shard.rule_ids if r.startswith("level-")]
            worst = max((sum(1 for r in grouped if int(r.split("-")[1]) % 3 == k) for k in range(3)), default=0)
            assert shard.fanout == len(shard.rule_ids) - len(grouped) + worst
        # account shards come before stakeholder shards of the same stratum
        order = [SCOPES.index(s.scope) for s in plan.shards]
        assert order == sorted(order)
    small = compile_rules(base, budget=10, max_chains=25)
    assert len(small.shards) > len(compile_rules(base).shards)


def test_compiler_a_rule_too_wide_for_the_budget_is_refused_at_its_when(tmp_path):
    wide = {"any": [{"fact": "account.stakeholders", "gte": i} for i in range(12)]}
    base = rules_from(tmp_path, [rule("wide", wide)])
    with pytest.raises(AdvisorError) as info:
        compile_rules(base, budget=10)
    (problem,) = info.value.problems
    assert (
        problem.rule_id == "wide" and "12 alternative condition chains, over the engine budget of 10" in problem.message
    )


def test_compiler_shard_ruleset_ends_with_the_sentinel_and_reads_only_its_keys(tmp_path):
    base = rules_from(tmp_path, [rule("a", {"fact": "account.levels_covered", "not_contains": "senior"})])
    (shard,) = compile_rules(base).shards
    rules = ruleset(shard)
    assert list(rules) == ["r0000", SENTINEL]
    assert rules[SENTINEL] == {"all": [{"m": {"t": END_MARKER}}]}
    assert shard_keys(shard) == ("account__levels_covered__senior",)


# --- strata -------------------------------------------------------------------------------------


def test_compiler_strata_follow_derivations(tmp_path):
    base = rules_from(tmp_path, [
        rule("c", {"fact": "account.b", "equals": True}),
        rule("b", {"fact": "account.a", "equals": True}, derive=["account.b"]),
        rule("a", {"fact": "account.stakeholders", "gte": 1}, derive=["account.a"]),
        rule("free", {"fact": "account.stakeholders", "gte": 2}),
    ])  # fmt: skip
    assert strata(list(base.rules)) == {"a": 0, "free": 0, "b": 1, "c": 2}
    plan = compile_rules(base)
    assert [sorted(r for s in stratum for r in s.rule_ids) for stratum in plan.strata()] == [
        ["a", "free"],
        ["b"],
        ["c"],
    ]
    assert plan.derives == {"b": ("account.b",), "a": ("account.a",)}
    assert plan.summary()["strata"] == 3


def test_compiler_a_loop_is_refused_naming_every_rule_in_it(tmp_path):
    base = rules_from(tmp_path, [
        rule("x", {"fact": "account.y", "equals": True}, derive=["account.x"]),
        rule("y", {"fact": "account.x", "equals": True}, derive=["account.y"]),
    ])  # fmt: skip
    with pytest.raises(AdvisorError) as info:
        strata(list(base.rules))
    (problem,) = info.value.problems
    assert "x tests account.y (derived by y), y tests account.x (derived by x)" in problem.message


def test_compiler_a_chain_deeper_than_the_limit_is_refused(tmp_path):
    chain = [rule("r0", {"fact": "account.stakeholders", "gte": 1}, derive=["account.f0"])]
    chain += [
        rule(f"r{i}", {"fact": f"account.f{i - 1}", "equals": True}, derive=[f"account.f{i}"]) for i in range(1, 5)
    ]
    base = rules_from(tmp_path, chain)
    assert max(strata(list(base.rules), max_strata=5).values()) == 4
    with pytest.raises(AdvisorError, match="chain 5 rules deep"):
        strata(list(base.rules), max_strata=4)


def test_compiler_shipped_rules_keep_well_within_the_engine_limit():
    base = load_rules(ROOT / "rules", load_course())
    summary = compile_rules(base).summary()
    assert summary["max_fanout"] <= FANOUT_BUDGET < summary["engine_limit"]
    assert summary["max_chains"] <= MAX_CHAINS_PER_SHARD
