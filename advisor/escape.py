"""Profile text made safe for where it goes: one plain line, inert Markdown, a quoted Mermaid label."""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!~])")
# Bidi embeddings, overrides and isolates: one in a name would visually reorder the rest of its
# line, table cells after it included ("IT \u202etxt.exe" shows as "IT exe.txt").
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


# What plain() changes (whitespace as str.split() sees it, bidi controls) and what md() escapes too:
# most names contain none of it, and are returned as they are without the work.
_PLAIN_CHANGES = re.compile(r"[\s\u202a-\u202e\u2066-\u2069]")
_MD_CHANGES = re.compile(r"[\s\u202a-\u202e\u2066-\u2069\\`*_\[\]{}#|!~<>]")


def plain(text: Any) -> str:
    """Profile text on one line, without the invisible controls that reorder what follows."""
    s = str(text)
    if not _PLAIN_CHANGES.search(s):
        return s
    return " ".join(s.translate(_BIDI_CONTROLS).split())


def md(text: Any) -> str:
    """Profile text as inert inline Markdown: it cannot open a heading, table cell, link, code or HTML."""
    s = str(text)
    if not _MD_CHANGES.search(s):
        return s
    s = _MD_SPECIAL.sub(r"\\\1", " ".join(s.translate(_BIDI_CONTROLS).split()))
    return s.replace("<", "&lt;").replace(">", "&gt;")


# Characters that would end or restructure a quoted Mermaid label, as Mermaid's entity codes.
_MERMAID_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;",
                                   "{": "#123;", "}": "#125;", "[": "#91;", "]": "#93;"})  # fmt: skip


def mermaid_text(text: Any) -> str:
    """Text safe inside a quoted Mermaid label: no quotes, brackets, pipes, backticks or line breaks."""
    return plain(text).translate(_MERMAID_ENTITIES)
