"""The rule catalogue in Markdown, organised by the course outline: what a course owner reviews.

For every course item: the rules that encode it, their conditions in plain words, their advice in
both languages, and the cases that show them firing and staying quiet.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..api import Advisor
from ..conditions import plain
from ..escape import md
from ..files import write_atomically
from ..vocabulary import LANGS
from .cases import case_files, load_cases


def _cases_by_rule(rules_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Which cases show each rule firing and staying quiet; a case file that cannot be read raises
    AdvisorError with its position (the catalogue would otherwise claim rules have no cases)."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in case_files(rules_dir):
        _, spec = load_cases(path)
        for name, case in spec.cases.items():
            for kind, expected in (("fires", case.fires), ("quiet", case.quiet)):
                for e in expected:
                    found.setdefault(e.split("@")[0], {"fires": [], "quiet": []})[kind].append(f"{path.name}: {name}")
    return found


def write_docs(advisor: Advisor, rules_dir: Path, out: Path) -> list[Path]:
    """Write OUT/README.md (the index) and one page per course unit; returns the files written."""
    outline = yaml.safe_load(advisor.course.text)
    cases = _cases_by_rule(rules_dir)
    citing: dict[str, list] = {}
    for r in advisor.base.rules:
        for code in r.rule.source:
            citing.setdefault(code, []).append(r)
    written = []
    index = [
        "# Rule catalogue",
        "",
        f"{len(advisor.base.rules)} rules encode the course 如何管好大客户（维系篇）, item by item.",
        "",
    ]
    for unit in outline["units"]:
        name = f"unit-{unit['code']}.md"
        lines = [f"# {unit['code']} {md(unit['en'])} / {md(unit['zh'])}", ""]
        for section in unit["sections"]:
            lines += [f"## {section['code']} {md(section['en'])} / {md(section['zh'])}", ""]
            for topic in section["topics"]:
                lines += [f"### {topic['code']} {md(topic['en'])} / {md(topic['zh'])}", ""]
                if not topic["items"]:
                    lines += ["*No items in the course (cut off in the source).*", ""]
                for item in topic["items"]:
                    rules = citing.get(item["code"], [])
                    lines += [f"#### {item['code']} {md(item['en'])} / {md(item['zh'])}", ""]
                    if not rules:
                        lines += ["**No rule encodes this item yet.**", ""]
                    for r in rules:
                        rule = r.rule
                        lines.append(f"- **`{rule.id}`** ({rule.scope} rule, {Path(r.path).name}:{r.line})")
                        lines.append(
                            f"  - When: `{plain(r.condition)}`" if r.condition is not None else "  - When: always"
                        )
                        if rule.derive:
                            lines.append(f"  - Derives: {', '.join(f'`{d}`' for d in rule.derive)}")
                        if rule.say:
                            lines.append(f"  - Says ({rule.section}, {rule.aspect}, {rule.priority} priority):")
                            # Rule text is the trainers' own Markdown: shown as written.
                            lines += [f"    - {lang}: {getattr(rule.say, lang)}" for lang in LANGS]
                        if rule.note:
                            lines.append(f"  - Note: {rule.note}")
                        shown = cases.get(rule.id, {"fires": [], "quiet": []})
                        lines.append(f"  - Fires in: {', '.join(shown['fires']) or '**no case**'}")
                        lines.append(f"  - Quiet in: {', '.join(shown['quiet']) or '**no case**'}")
                    lines.append("")
        write_atomically(out / name, "\n".join(lines).rstrip() + "\n")
        written.append(out / name)
        count = sum(1 for s in unit["sections"] for t in s["topics"] for i in t["items"] if citing.get(i["code"]))
        total = sum(1 for s in unit["sections"] for t in s["topics"] for i in t["items"])
        index.append(f"- [{unit['code']} {md(unit['en'])} / {md(unit['zh'])}]({name}): {count}/{total} items encoded")
    index += ["", "Facts rules can test: `advisor facts`. Each rule's cases: the `*.cases.yaml` beside it.", ""]
    write_atomically(out / "README.md", "\n".join(index))
    return [out / "README.md", *written]
