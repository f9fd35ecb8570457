"""The course: its outline (item codes rules cite) and its Chinese original (what citations quote); packaged, never read from elsewhere."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from .kept import load_kept


@lru_cache(maxsize=4096)  # the course's codes, over and over: every brief sorts the ones it cites
def code_order(code: str) -> tuple:
    """A course code's place in the outline: 2.1.10.a after 2.1.9.a."""
    return tuple(int(p) if p.isdigit() else p for p in code.split("."))


def topic_of(code: str) -> str:
    """The course topic an item belongs to: 3.3.3.a -> 3.3.3."""
    return ".".join(code.split(".")[:3])


class Item:
    """One leaf of the outline: the code rules cite, its title and its topic's, in English and Chinese.
    Treat it as read-only. (This and Course are plain classes: as frozen dataclasses they cost every start
    about 0.8 ms to create, and to make the hundred items.)"""

    __slots__ = ("code", "en", "zh", "topic_en", "topic_zh")

    def __init__(self, code: str, en: str, zh: str, topic_en: str, topic_zh: str) -> None:
        self.code, self.en, self.zh, self.topic_en, self.topic_zh = code, en, zh, topic_en, topic_zh


class Course:
    """The outline: its leaf items, and its text. Treat it as read-only."""

    __slots__ = ("items", "text")

    def __init__(self, items: dict[str, Item], text: str) -> None:
        self.items = items  # leaf items by code, in outline order
        self.text = text  # the outline file itself, for the rule-set hash

    def title(self, code: str, lang: str) -> str:
        item = self.items[code]
        return item.zh if lang == "zh" else item.en


@cache
def load_course() -> Course:
    """The packaged outline. Cached: it is immutable reference data, read once per process."""
    text = packaged("course.yaml")
    outline = load_kept(text, "advisor/data/course.yaml").data  # read on every start: parsed once, kept
    items: dict[str, Item] = {}
    for unit in outline["units"]:
        for section in unit["sections"]:
            for topic in section["topics"]:
                for item in topic["items"]:
                    items[item["code"]] = Item(item["code"], item["en"], item["zh"], topic["en"], topic["zh"])
    return Course(items, text)


SOURCE_FILE = "advisor/data/course-source.txt"


def normalised(text: str) -> str:
    """`text` with every run of whitespace made one space, ends stripped: how quotes are compared."""
    return " ".join(text.split())


@cache
def course_text() -> str:
    """The course's Chinese original, normalised (see `normalised`). Cached: immutable reference data."""
    return normalised(packaged("course-source.txt"))


def packaged(name: str) -> str:
    """A file of advisor/data, as text: read from the package's folder, where it is installed as files (a
    start spares the 2 ms of importing importlib.resources), else through the package's loader (a zip)."""
    try:
        return (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")
    except OSError:
        from importlib import resources

        return resources.files("advisor").joinpath("data", name).read_text(encoding="utf-8")
