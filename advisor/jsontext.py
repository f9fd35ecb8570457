"""Indented JSON text, byte for byte what `json.dumps(value, ensure_ascii=False, indent=2)` writes, faster.

The standard library encodes with its C encoder only without `indent`; indented, it walks the value
in Python generators, a few calls for every key and value: most of the cost of a brief's JSON. Here
each container is joined in one comprehension and every string goes through the same C function
json.dumps uses. Anything but the plain JSON types (dict, list, tuple, str, int, float, bool, None,
as exactly those types, with str keys) is left to json.dumps itself, so its output and its errors
(a value it cannot encode, a circular reference) are json.dumps's, unchanged.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C function json.dumps(ensure_ascii=False) quotes strings with
from typing import Any

_INFINITY = float("inf")
_LITERALS = {None: "null", True: "true", False: "false"}


class _NotPlain(Exception):
    """A value this module leaves to json.dumps."""


def dumps(value: Any, indent: int = 2) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=indent)`, the same text."""
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
