"""Reading an HTML brief back in tests: its sections, its advice (shown and folded away) and its tag structure."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that never have an end tag.
_VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "source", "wbr", "path", "rect"}


@dataclass
class Page:
    """What a test needs of one HTML brief."""

    sections: list[tuple[str, str]] = field(default_factory=list)  # (id, heading) in order
    advice: list[tuple[str, str]] = field(default_factory=list)  # (section id, text) shown, in order
    folded: list[tuple[str, str]] = field(default_factory=list)  # (section id, text) folded away, in order
    tags: list[str] = field(default_factory=list)  # every start tag with its attribute names
    texts: list[str] = field(default_factory=list)  # every text node


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, dict]] = []
        self.section = ""
        self.capture: list[str] | None = None  # the text of the advice span being read
        self.heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.page.tags.append(f"<{tag} {' '.join(sorted(a))}>")
        if tag == "section":
            self.section = a.get("id", "")
        if tag == "h2" and self.section:
            self.heading = []
        if tag == "span" and a.get("class") == "advice":
            self.capture = []
        if tag not in _VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            top, a = self.stack.pop()
            if top == tag:
                break
        if tag == "span" and self.capture is not None:
            text = " ".join("".join(self.capture).split())
            folded = any(t == "details" and "folded" in x.get("class", "") for t, x in self.stack)
            (self.page.folded if folded else self.page.advice).append((self.section, text))
            self.capture = None
        if tag == "h2" and self.heading is not None:
            self.page.sections.append((self.section, "".join(self.heading).strip()))
            self.heading = None

    def handle_data(self, data: str) -> None:
        self.page.texts.append(data)
        for sink in (self.capture, self.heading):
            if sink is not None:
                sink.append(data)


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def markdown_items(markdown: str) -> dict[str, list[str]]:
    """The lines of a Markdown brief that hold advice, by section heading, as plain text (escapes undone):
    its list items, and the rows of a table's body (the cadence's; other tables are listed too)."""
    out: dict[str, list[str]] = {}
    heading, rows = "", 0
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading, rows = line[3:], 0
            out[heading] = []
        elif re.match(r"\d+\. |- ", line):
            out.setdefault(heading, []).append(unescaped(line))
        elif line.startswith("| "):
            rows += 1
            if rows > 1:  # the first is the table's head
                out.setdefault(heading, []).append(unescaped(line))
    return out


def unescaped(markdown: str) -> str:
    """Markdown text as it reads: backslash escapes and character references undone."""
    return " ".join(html.unescape(re.sub(r"\\(.)", r"\1", markdown)).split())
