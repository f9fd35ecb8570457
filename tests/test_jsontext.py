"""jsontext.dumps writes exactly what json.dumps(ensure_ascii=False, indent=2) writes, errors included,
whether orjson writes it (`plain_floats`) or the Python encoder does."""

from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor.jsontext import dumps, plain_float

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_KEYS = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.lists(inner, max_size=5).map(tuple) | st.dictionaries(_KEYS, inner, max_size=5)
    ),
    max_leaves=40,
)


def _reference(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


@given(_VALUES)
def test_dumps_same_text_as_json_dumps(value: object) -> None:
    assert dumps(value) == _reference(value)


def _floats(value: object) -> list[float]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _floats(k) + _floats(v)]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _floats(v)]
    return [value] if isinstance(value, float) else []


@given(_VALUES)
def test_dumps_with_plain_floats_same_text_as_json_dumps(value: object) -> None:
    """What the caller vouches for (every float plain) orjson writes as json.dumps does; the rest
    (a key that is no str, an int over 64 bits, a lone surrogate) falls back and is the same too."""
    if all(map(plain_float, _floats(value))):
        assert dumps(value, plain_floats=True) == _reference(value)


@pytest.mark.parametrize(
    ("value", "plain"),
    [(0.0, True), (-0.0, True), (1e-4, True), (-2.5, True), (1e16, True), (1.5e300, True), (7, True), (10**30, True),
     (5e-05, False), (-1e-300, False), (math.nan, False), (math.inf, False), (-math.inf, False)],
)  # fmt: skip
def test_plain_float_is_what_orjson_writes_as_json_dumps_does(value: float, plain: bool) -> None:
    assert plain_float(value) is plain
    if plain:
        assert dumps([value], plain_floats=True) == _reference([value])


class _Colour(enum.IntEnum):
    RED = 1


class _Name(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": [], "b": {}, "c": [[]], "d": [{}]},
        {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "tiny": 5e-05, "big": 1e16, "int": 10**30},
        {"text": 'quote " backslash \\ newline \n nul \x00 bidi \u202e 中文 \U0001f600'},
        {3: "int key", 2.5: "float key", False: "bool key", None: "none key"},
        {"subclasses": [_Name("a"), _Colour.RED], _Name("key"): 1},
        ("a", ("b",)),
    ],
)
def test_dumps_same_text_for_edge_values(value: object) -> None:
    assert dumps(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [], "b": {}, "c": [[]], "d": [{}], "e": [1.5, -0.0, 0.0001, 1e16], "f": [None, True, False]},
        {"text": 'quote " backslash \\ newline \n nul \x00 \x1f del \x7f bidi \u202e \u2028 中文 \U0001f600'},
        {"lone surrogate": "\ud800"},
        {"int": 10**30, "negative": -(2**64)},
        {3: "int key", False: "bool key", None: "none key"},
        {"subclasses": [_Name("a"), _Colour.RED], _Name("key"): 1},
        [[[[[]]]]] * 3,
        json.loads("[" * 300 + "]" * 300),  # deeper than orjson goes
    ],
)
def test_dumps_with_plain_floats_same_text_for_edge_values(value: object) -> None:
    assert dumps(value, plain_floats=True) == _reference(value)


@pytest.mark.parametrize("value", [{"set": {1}}, {(1, 2): "tuple key"}, [object()]])
@pytest.mark.parametrize("plain_floats", [False, True])
def test_dumps_refuses_what_json_dumps_refuses(value: object, plain_floats: bool) -> None:
    with pytest.raises(TypeError) as ours:
        dumps(value, plain_floats=plain_floats)
    with pytest.raises(TypeError) as theirs:
        _reference(value)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("plain_floats", [False, True])
def test_dumps_circular_reference_is_json_dumps_error(plain_floats: bool) -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop, plain_floats=plain_floats)
