"""Caps on what one input may hold, so a hostile or broken file is refused before it costs memory or time.

Every limit has a default that fits any real account many times over; a user raises one with
`--limit NAME=N` (repeatable) on the commands that read profiles. Limits are passed explicitly
from the CLI down to the loaders: there is no module-level setting to change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import did_you_mean, one_of


@dataclass(frozen=True)
class Limits:
    """The caps applied while reading one profile (one record, in a batch)."""

    record_bytes: int = 1_000_000  # a file, a JSON Lines line or a joined CRM record
    stakeholders: int = 1_000  # people under `stakeholders:`
    interactions: int = 20_000  # entries under `interactions:`
    depth: int = 40  # how deep mappings and lists may nest
    aliases: int = 1_000  # YAML alias (*name) expansions of a mapping or list
    values: int = 200_000  # mappings, lists and scalars in one file (keys not counted)

    def override(self, items: Iterable[tuple[str, int]]) -> Limits:
        """A copy with some limits changed (later items win)."""
        return dataclasses.replace(self, **dict(items))


NAMES = tuple(f.name for f in dataclasses.fields(Limits))

# What to tell the user after a refusal: how to raise the limit that refused them.
HOW_TO_RAISE = "raise the limit with --limit {name}=N"


def raise_hint(name: str) -> str:
    return HOW_TO_RAISE.format(name=name)


def parse_item(text: str) -> tuple[str, int]:
    """'stakeholders=20000' -> ('stakeholders', 20000); a ValueError says what is wrong, in words."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise ValueError(f"expected NAME=N, like stakeholders=5000; got {text!r}")
    if name not in NAMES:
        hint = did_you_mean(name, NAMES) or f"; the limits are {one_of(NAMES)}"
        raise ValueError(f"unknown limit {name!r}{hint}")
    try:
        number = int(value.strip().replace(",", "_"))
    except ValueError:
        raise ValueError(f"limit {name} must be a whole number; got {value.strip()!r}") from None
    if number < 1:
        raise ValueError(f"limit {name} must be 1 or more; got {number}")
    return name, number


DEFAULT = Limits()
