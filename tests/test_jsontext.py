"""jsontext.dumps writes exactly what json.dumps(ensure_ascii=False, indent=2) writes, errors included."""

from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor.jsontext import dumps

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


@pytest.mark.parametrize("value", [{"set": {1}}, {(1, 2): "tuple key"}, [object()]])
def test_dumps_refuses_what_json_dumps_refuses(value: object) -> None:
    with pytest.raises(TypeError) as ours:
        dumps(value)
    with pytest.raises(TypeError) as theirs:
        _reference(value)
    assert str(ours.value) == str(theirs.value)


def test_dumps_circular_reference_is_json_dumps_error() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)
