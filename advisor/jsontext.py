"""Indented JSON text, byte for byte what `json.dumps(value, ensure_ascii=False, indent=2)` writes, faster.

Where the caller vouches for the floats (`plain_floats`: see `plain_float`), orjson writes the text:
about ten times faster than the Python below, and the same bytes for such values (its other floats
differ: `0.00001` for `1e-05`, `null` for NaN). What orjson refuses (a lone surrogate, an int over 64
bits, a str subclass, a key that is no str, nesting past 254) goes the Python way.

The standard library encodes with its C encoder only without `indent`; indented, it walks the value
in Python generators, a few calls for every key and value: most of the cost of a brief's JSON. Here
each container is joined in one comprehension and every string goes through the same C function
json.dumps uses. Anything but the plain JSON types (dict, list, tuple, str, int, float, bool, None,
as exactly those types, with str keys) is left to json.dumps itself, so its output and its errors
(a value it cannot encode, a circular reference) are json.dumps's, unchanged.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring  # the C function json.dumps(ensure_ascii=False) quotes strings with
from typing import Any

import orjson

_INFINITY = float("inf")
_LITERALS = {None: "null", True: "true", False: "false"}


class _NotPlain(Exception):
    """A value this module leaves to json.dumps."""


# Types orjson would write that json.dumps refuses or writes otherwise are refused (TypeError) instead.
_ORJSON = (
    orjson.OPT_INDENT_2
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def plain_float(value: Any) -> bool:
    """Whether orjson writes `value` (a number) as json.dumps does: finite, and 0 or at least 1e-4 in
    size (smaller ones it writes without an exponent). Other numbers than floats are written alike."""
    return type(value) is not float or value == 0 or (1e-4 <= abs(value) and math.isfinite(value))


def dumps(value: Any, indent: int = 2, *, plain_floats: bool = False) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=indent)`, the same text. `plain_floats`: the
    caller knows `value` holds only dict, list, tuple, str, int, bool, None and floats that
    plain_float accepts."""
    if plain_floats and indent == 2:
        try:
            return orjson.dumps(value, option=_ORJSON).decode()
        except TypeError:  # orjson.JSONEncodeError is one: what it cannot write as json.dumps does
            pass
    try:
        return _encode(value, "\n", " " * indent)
    except (_NotPlain, TypeError, RecursionError):
        return json.dumps(value, ensure_ascii=False, indent=indent)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _encode(value: Any, newline: str, step: str) -> str:
    """`value` as JSON, its nested lines starting with `newline` plus one more `step` of indent. (Strings,
    the most common values, and a dict's true, false and null are written in place rather than through
    a call of this function.)"""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + step
        items = [
            # encode_basestring refuses a key that is no str (TypeError): json.dumps converts it.
            f"{encode_basestring(k)}: "
            f"{encode_basestring(v) if type(v) is str else _LITERALS[v] if v is None or v is True or v is False else _encode(v, inner, step)}"
            for k, v in value.items()
        ]
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + step
        items = [encode_basestring(v) if type(v) is str else _encode(v, inner, step) for v in value]
        return "[" + inner + ("," + inner).join(items) + newline + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float(value)
    raise _NotPlain
