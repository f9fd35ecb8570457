"""The course outline: reference data that rules cite by item code (packaged, never read from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

try:  # libyaml: the outline is read on every start, and the pure-Python parser takes 0.1 s
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass(frozen=True)
class Item:
    code: str
    en: str
    zh: str
    topic_en: str
    topic_zh: str


@dataclass(frozen=True)
class Course:
    items: dict[str, Item]  # leaf items by code, in outline order
    text: str  # the outline file itself, for the rule-set hash

    def title(self, code: str, lang: str) -> str:
        item = self.items[code]
        return item.zh if lang == "zh" else item.en


@cache
def load_course() -> Course:
    """The packaged outline. Cached: it is immutable reference data, read once per process."""
    text = resources.files("advisor").joinpath("data/course.yaml").read_text(encoding="utf-8")
    outline = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    items: dict[str, Item] = {}
    for unit in outline["units"]:
        for section in unit["sections"]:
            for topic in section["topics"]:
                for item in topic["items"]:
                    items[item["code"]] = Item(item["code"], item["en"], item["zh"], topic["en"], topic["zh"])
    return Course(items, text)
