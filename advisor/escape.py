"""Profile text made safe for where it goes: one plain line, inert Markdown or HTML, a quoted Mermaid label."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!~])")
# Bidi embeddings, overrides and isolates: one in a name would visually reorder the rest of its
# line, table cells after it included ("IT \u202etxt.exe" shows as "IT exe.txt").
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


# What plain() changes (whitespace as str.split() sees it, bidi controls) and what md() escapes too:
# most names contain none of it, and are returned as they are without the work.
_PLAIN_CHANGES = re.compile(r"[\s\u202a-\u202e\u2066-\u2069]")
_MD_CHANGES = re.compile(r"[\s\u202a-\u202e\u2066-\u2069\\`*_\[\]{}#|!~<>@]|://|www\.|^[-+=0-9]", re.IGNORECASE)
# A text at the start of a line that would open a list item, or a setext heading or rule: "- x",
# "+ x", "1. x", "2) x", "---", "===". Escaped with a backslash, which renders as nothing.
_BLOCK_START = re.compile(r"^(?:[-+=]|(\d{1,9})([.)])(?=\s|$))")
# Text a Markdown renderer turns into a link by itself (GitHub's autolinks, linkify): a URL's "://"
# and "www." lose the character that makes them one, as an HTML entity that shows the same. An e-mail
# address is linked by GitHub whatever is escaped in it, so it becomes a code span: the same text,
# in which nothing is ever a link.
_AUTOLINK = re.compile(r"://|(?<=www)\.", re.IGNORECASE)
_ENTITY = {"://": "&#58;//", ".": "&#46;"}
_EMAIL = re.compile(r"([A-Za-z0-9._+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)")


def plain(text: Any) -> str:
    """Profile text on one line, without the invisible controls that reorder what follows."""
    s = str(text)
    if not _PLAIN_CHANGES.search(s):
        return s
    return " ".join(s.translate(_BIDI_CONTROLS).split())


def md(text: Any) -> str:
    """Profile text as inert inline Markdown: it cannot open a heading, list item, quote, table cell,
    link (bare URLs and e-mail addresses included), code or HTML, and reads the same."""
    s = str(text)
    if not _MD_CHANGES.search(s):
        return s
    parts = _EMAIL.split(" ".join(s.translate(_BIDI_CONTROLS).split()))
    s = "".join(f"`{part}`" if i % 2 else _inline(part) for i, part in enumerate(parts))
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[0]}", s, count=1)


def _inline(s: str) -> str:
    """Text with no e-mail address in it, escaped for md()."""
    s = _MD_SPECIAL.sub(r"\\\1", s).replace("<", "&lt;").replace(">", "&gt;")
    return _AUTOLINK.sub(lambda m: _ENTITY[m[0]], s)


# Characters that would end or restructure a quoted Mermaid label, as Mermaid's entity codes.
_MERMAID_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;",
                                   "{": "#123;", "}": "#125;", "[": "#91;", "]": "#93;"})  # fmt: skip


# Any of the characters above: most labels have none, and a search costs a fraction of translate
# (which looks up every character of a Chinese name).
_MERMAID_SPECIAL = re.compile("[" + re.escape("".join(map(chr, _MERMAID_ENTITIES))) + "]")


def mermaid_text(text: Any) -> str:
    """Text safe inside a quoted Mermaid label: no quotes, brackets, pipes, backticks or line breaks."""
    s = plain(text)
    return s.translate(_MERMAID_ENTITIES) if _MERMAID_SPECIAL.search(s) else s


# Text a mail or chat app turns into a link by itself even in HTML: a URL's "://" and "www.", and an
# e-mail address's "@", become numeric references, which show the same and are never a link.
_HTML_AUTOLINK = re.compile(r"://|(?<=www)\.|@", re.IGNORECASE)
_HTML_ENTITY = {"://": "&#58;//", ".": "&#46;", "@": "&#64;"}


def html(text: Any) -> Markup:
    """Profile text as inert HTML text (one line, no bidi controls): it cannot open a tag, an entity,
    an attribute or a link, and reads the same. Markup, so an autoescaping template never escapes it twice."""
    escaped = str(Markup.escape(plain(text)))
    return Markup(_HTML_AUTOLINK.sub(lambda m: _HTML_ENTITY[m[0].lower()], escaped))
