"""Profile validation runs in pydantic's core, and a careful twin words what it refuses: the two must
agree on every input, whichever door (model_validate, model_validate_json, a part on its own) it comes in by."""

from __future__ import annotations

import copy
import json
import random

import pytest
from pydantic import ValidationError

from advisor import profile as p
from advisor.profile import (
    YAML_BOOLEAN,
    Interaction,
    Profile,
    _careful,
    from_validated_json,
    load_profile,
    to_validated_json,
)

from conftest import ROOT

ACCOUNT = {"id": "acme", "name": "Acme", "industry": "party", "stage": "maintain", "position": "incumbent"}


def errors(call) -> list[tuple]:
    with pytest.raises(ValidationError) as info:
        call()
    return [(e["type"], e["loc"], e["msg"]) for e in info.value.errors(include_url=False)]


def careful_errors(model: type, data) -> list[tuple]:
    return errors(lambda: _careful(model).__pydantic_validator__.validate_python(data))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": True}, ("yaml_boolean", ("account", "name"), YAML_BOOLEAN)),
        ({"annual_revenue": float("inf")}, ("not_finite", ("account", "annual_revenue"), "must be a finite number; got infinity")),
        ({"annual_revenue": "1e20"}, ("too_large", ("account", "annual_revenue"), "must be at most 10^15 (1,000,000,000,000,000) in size")),
        ({"revenue_rank": 10**20}, ("too_large", ("account", "revenue_rank"), "must be at most 10^15 (1,000,000,000,000,000) in size")),
        ({"portfolio_share": float("nan")}, ("not_finite", ("account", "portfolio_share"), "must be a number; got NaN (not a number)")),
    ],
)  # fmt: skip
def test_profile_validation_words_our_checks_whichever_way_in(change, expected):
    data = {"account": {**ACCOUNT, **change}}
    assert expected in errors(lambda: Profile.model_validate(data))
    assert errors(lambda: Profile.model_validate(data)) == careful_errors(Profile, data)
    text = json.dumps(data)  # Infinity and NaN as JavaScript writes them, which pydantic reads
    assert errors(lambda: Profile.model_validate_json(text)) == careful_errors(Profile, json.loads(text))


def test_profile_validation_keeps_every_other_error_beside_ours():
    data = {"account": {**ACCOUNT, "name": False, "industry": "bakery", "annual_revenue": -1}, "visit": 3}
    found = errors(lambda: Profile.model_validate(data))
    assert found == careful_errors(Profile, data)
    assert [e[1] for e in found] == [
        ("account", "name"),
        ("account", "industry"),
        ("account", "annual_revenue"),
        ("visit",),
    ]


def test_profile_part_validated_on_its_own_words_our_checks_too():
    item = {"date": "2026-01-01", "kind": "gift", "value": float("nan"), "note": True}
    found = errors(lambda: Interaction.model_validate(item))
    assert found == careful_errors(Interaction, item)
    assert ("yaml_boolean", ("note",), YAML_BOOLEAN) in found


def test_careful_twin_takes_what_the_model_takes_and_builds_the_same_values():
    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    data = profile.model_dump(by_alias=True)
    twin = _careful(Profile).__pydantic_validator__.validate_python(data)
    assert twin.model_dump() == Profile.model_validate(data).model_dump()
    assert from_validated_json(profile.model_dump_json(by_alias=True)) == profile


def test_a_batch_spills_the_profile_json_that_model_dump_json_gives_in_utf8():
    """Pass 1 spills `to_validated_json` and pass 2 reads it back as bytes: the same JSON as
    `model_dump_json` by alias (the content hash of a run --resume compares depends on it)."""
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        profile = load_profile(path)
        spilled = to_validated_json(profile)
        assert spilled == profile.model_dump_json(by_alias=True).encode("utf-8")
        assert b"\n" not in spilled  # one line of the spill each
        assert from_validated_json(spilled) == profile


def test_a_number_at_the_cap_is_taken_and_one_past_it_is_not():
    at = {"account": {**ACCOUNT, "annual_revenue": p.NUMBER_CAP}}
    assert Profile.model_validate(at).account.annual_revenue == p.NUMBER_CAP
    past = {"account": {**ACCOUNT, "annual_revenue": p.NUMBER_CAP * 1.0000001}}
    assert [e[0] for e in errors(lambda: Profile.model_validate(past))] == ["too_large"]


ODD_VALUES = [True, False, "no", float("inf"), float("-inf"), float("nan"), 1e20, "1e20", "Infinity", " 1_0e20 ",
              10**20, 10**400, -5, 0, 2.5, "", None, [], {}, [True], ["a", False], "2026-02-30", "x" * 2100]  # fmt: skip


def _places(data, loc=()):
    if loc:
        yield loc
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _places(value, (*loc, key))


def test_model_and_careful_twin_agree_on_odd_values_anywhere():
    """Seeded: an odd value put in any place of a real profile is taken, or refused with the same errors,
    by the model's core and by the twin alike (a new field kind `_beyond_cap` misses fails here)."""
    rng = random.Random(21)
    base = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml").model_dump(mode="json", by_alias=True)
    places = list(_places(base))
    for _ in range(400):
        data = copy.deepcopy(base)
        loc = rng.choice(places)
        holder = data
        for part in loc[:-1]:
            holder = holder[part]
        holder[loc[-1]] = rng.choice(ODD_VALUES)
        twin = _careful(Profile).__pydantic_validator__
        try:
            expected = twin.validate_python(data).model_dump()
        except ValidationError as exc:
            assert errors(lambda: Profile.model_validate(data)) == [  # noqa: B023 - called at once
                (e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)
            ], loc
        else:
            assert Profile.model_validate(data).model_dump() == expected, loc
