"""The vocabulary (advisor/vocabulary.py): one table that models, conditions, the engine, lint and
docs all read; and `not_contains`, which must mean exactly `not: {contains: X}` everywhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing

import pytest
import yaml

from advisor import conditions as c
from advisor.course import load_course
from advisor.engine import Engine, compile_rules
from advisor.errors import AdvisorError
from advisor.facts import derive
from advisor.profile import load_profile
from advisor.rules import Condition, Rule, load_rules, to_node
from advisor.vocabulary import ASPECTS, OPERATORS, PRIORITIES, SCOPES, SECTIONS, YAML_OPERATORS, operators_for
from advisor.workbench.schema import schema

from conftest import ROOT

TODAY = dt.date(2026, 12, 1)
SET_FACT = "account.levels_covered"


def test_vocabulary_every_negation_is_a_row_whose_negation_comes_back():
    for name, op in OPERATORS.items():
        assert OPERATORS[op.negation].negation == name
        assert set(op.words) == {"en", "zh"}


def test_vocabulary_models_and_schema_read_the_tuples():
    fields = Rule.model_fields
    assert typing.get_args(fields["scope"].annotation) == SCOPES
    assert typing.get_args(fields["aspect"].annotation) == ASPECTS
    assert typing.get_args(fields["priority"].annotation) == PRIORITIES
    assert typing.get_args(typing.get_args(fields["section"].annotation)[0]) == SECTIONS
    props = schema("rules")["$defs"]["Condition"]["properties"]
    assert set(YAML_OPERATORS) <= set(props)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in YAML_OPERATORS:
        assert f"`{name}`" in readme, name


def test_vocabulary_not_contains_is_not_of_contains():
    nested = Condition.model_validate({"not": {"fact": SET_FACT, "contains": "senior"}})
    flat = Condition.model_validate({"fact": SET_FACT, "not_contains": "senior"})
    assert to_node(nested) == to_node(flat) == c.Leaf(SET_FACT, "not_contains", "senior")
    assert c.negate(c.Leaf(SET_FACT, "not_contains", "senior")) == c.Leaf(SET_FACT, "contains", "senior")


@pytest.mark.parametrize(
    "value,contains,not_contains",
    [
        (["middle", "senior"], True, False),  # known, member present
        (["middle"], False, True),  # known, member absent
        ([], False, True),  # known and empty
        (None, False, False),  # unknown: every test is false, under `not` too
    ],
)
def test_vocabulary_not_contains_reference_evaluation(value, contains, not_contains):
    leaf = c.Leaf(SET_FACT, "contains", "senior")
    assert c.leaf_holds(leaf, value) is contains
    assert c.leaf_holds(c.negate(leaf), value) is not_contains
    assert c.leaf_holds(c.Leaf(SET_FACT, "not_contains", "senior"), value) is not_contains


def test_vocabulary_not_contains_applies_to_set_facts_only(tmp_path):
    rules = [
        {"id": "on-text", "source": ["1.1.1.a"], "when": {"fact": "account.name", "not_contains": "x"}, "derive": ["account.a"]},
        {"id": "on-enum", "source": ["1.1.1.a"], "when": {"fact": "account.industry", "not_contains": "party"}, "derive": ["account.b"]},
    ]  # fmt: skip
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    with pytest.raises(AdvisorError) as info:
        load_rules(tmp_path, load_course())
    messages = [p.message for p in info.value.problems]
    assert "'account.name' is text for quoting in advice, not a fact a rule can test" in messages
    assert (
        f"'not_contains' does not apply to account.industry (enum); use {', '.join(operators_for('enum')[:-1])} or known"
        in messages
    )


def test_vocabulary_not_contains_fires_exactly_where_the_nested_form_fires(tmp_path):
    """In the engine: for every level, on every shipped profile, and with the set fact unknown."""
    rules = []
    for level in ("frontline", "middle", "senior"):
        for form, when in (
            ("flat", {"fact": SET_FACT, "not_contains": level}),
            ("nested", {"not": {"fact": SET_FACT, "contains": level}}),
            ("both", {"all": [{"fact": SET_FACT, "not_contains": level}, {"fact": "account.stakeholders", "gte": 0}]}),
        ):
            rules.append(
                {"id": f"{form}-{level}", "source": ["2.4.1.a"], "when": when, "derive": [f"account.{form}_{level}"]}
            )
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    base = load_rules(tmp_path, load_course())
    engine = Engine(compile_rules(base), base.catalogue)
    seen = set()
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        records = derive(load_profile(path), TODAY)
        for drop in (False, True):
            if drop:  # the set fact unknown: neither form fires
                records = [
                    dataclasses.replace(r, values={k: v for k, v in r.values.items() if k != SET_FACT}) for r in records
                ]
            fired = {f.rule_id for f in engine.evaluate(records).firings}
            for level in ("frontline", "middle", "senior"):
                assert (f"flat-{level}" in fired) == (f"nested-{level}" in fired) == (f"both-{level}" in fired)
                if drop:
                    assert f"flat-{level}" not in fired
                else:
                    value = records[0].values[SET_FACT]
                    assert (f"flat-{level}" in fired) == (level not in value)
                    seen.add(f"flat-{level}" in fired)
    assert seen == {True, False}  # both outcomes were met


def test_vocabulary_operator_literals_live_only_in_vocabulary():
    names = "|".join(re.escape(n) for n in OPERATORS)
    pattern = re.compile(rf"""["']({names})["']""")
    offenders = []
    for path in sorted((ROOT / "advisor").rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in pattern.finditer(line):
                if m.group(1) == "unknown" and "stance" in line.lower():
                    continue  # a stance value, not the operator
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
