"""Rule text placeholders: split once, then filled in per record and language (counts, choices, lists)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
# `key=` before a form: a whole number (a count) or a word of the fact's vocabulary (true, false, an enum value).
_KEYED = re.compile(r"\s*(-?\d+|[a-z][a-z0-9_]*)=(.*)", re.DOTALL)
COUNT = "#"  # in a form, the fact's value


@dataclass(frozen=True)
class Choice:
    """A placeholder with forms, `{fact|key=form|…|default}`: the form whose key is the value, else the default."""

    name: str
    keyed: tuple[tuple[str, str], ...]  # (key, form) in the order written
    default: str | None  # the form without a key, if any
    unkeyed: int  # how many forms have no key (more than one, or one not last, is a mistake lint names)

    def form(self, value: Any) -> str | None:
        key = _key(value)
        for k, form in self.keyed:
            if k == key:
                return form
        return self.default


def _key(value: Any) -> str:
    """A value as a choice's key spells it: true/false, 3 for 3.0, the word itself."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@functools.lru_cache(maxsize=4096)
def choice(spec: str) -> Choice | None:
    """The choice a placeholder's text spells, or None for a plain `{fact.name}`."""
    if "|" not in spec:
        return None
    name, *forms = spec.split("|")
    keyed: list[tuple[str, str]] = []
    default: str | None = None
    unkeyed = 0
    for form in forms:
        m = _KEYED.fullmatch(form)
        if m:
            keyed.append((m[1], m[2]))
        else:
            unkeyed += 1
            default = form if default is None else default
    return Choice(name.strip(), tuple(keyed), default, unkeyed)


def fact_name(spec: str) -> str:
    """The fact a placeholder quotes: `account.open_issues` in `{account.open_issues|1=one issue|# issues}`."""
    return spec.split("|", 1)[0].strip()


def placeholders(text: str) -> list[str]:
    """Every placeholder's text in `text`, forms included (see fact_name and choice)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) is not None]


@functools.lru_cache(maxsize=4096)
def split_say(text: str) -> tuple[str, ...]:
    """The text split once into literal text and placeholders, alternating: literal, placeholder, literal, …

    An even index holds literal text (`{{` and `}}` already made single braces), an odd index a
    placeholder's text (a fact name, with its forms if it has any); a text without placeholders is
    one literal. Rule texts repeat, so this is cached.
    """
    parts = [""]
    last = 0
    for m in PLACEHOLDER.finditer(text):
        parts[-1] += text[last : m.start()]
        if m.group(1) is None:
            parts[-1] += m.group(0)[0]
        else:
            parts += [m.group(1), ""]
        last = m.end()
    parts[-1] += text[last:]
    return tuple(parts)


def _shown(value: Any, quote: Callable[[str], str], sep: str) -> str:
    if type(value) is str:
        return quote(value)
    if isinstance(value, (list, tuple)):
        return sep.join(_shown(v, quote, sep) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return quote(str(value))


def fill_parts(
    parts: tuple[str, ...], values: dict[str, Any], quote: Callable[[str], str] = str, sep: str = ", "
) -> str:
    """Substitute the placeholders of a text split by `split_say`, by plain lookup.

    Nothing is evaluated: no attribute access, no format specs. `quote` escapes each substituted
    value for the output format (Markdown), so profile text cannot change the brief's structure;
    a list value is joined with `sep` (the language's, LIST_SEPARATORS). A placeholder with forms
    takes the form its value picks, `#` in it standing for the value; the forms are the rule's own
    words, not quoted. An unknown value shows as "?".
    """
    if len(parts) == 1:
        return parts[0]
    out = list(parts)
    for i in range(1, len(parts), 2):
        spec = parts[i]
        value = values.get(spec)
        if value is None and "|" in spec:
            chosen = choice(spec)
            assert chosen is not None
            value = values.get(chosen.name)
            form = None if value is None else chosen.form(value)
            out[i] = "?" if form is None else form.replace(COUNT, _shown(value, quote, sep))
        elif type(value) is str:  # most values: quoted here, without a call to _shown
            out[i] = quote(value)
        else:
            out[i] = "?" if value is None else _shown(value, quote, sep)
    return "".join(out)
