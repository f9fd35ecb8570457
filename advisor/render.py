"""Recommendations -> a Markdown brief (sandboxed Jinja2 templates) or the same content as JSON."""

from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from .advise import Recommendation
from .course import Course
from .errors import AdvisorError, Problem, UnreadableInput
from .profile import Profile
from .rules import PRIORITIES
from .templating import BUDGET, Budget, Sandbox, TemplateLimit, environment
from .yamlio import load_file

BRIEF_TEMPLATE = "brief.md.j2"
LABELS_FILE = "labels.yaml"
LANGS = ("en", "zh")
GLANCE_MAX = 5

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


@dataclass(frozen=True)
class Templates:
    """The brief template and its labels, loaded once."""

    directory: Path
    labels: dict[str, Any]
    env: Sandbox
    files: tuple[Path, ...]
    template: jinja2.Template  # the brief's, compiled once (Jinja's own look-up costs a little each brief)

    @classmethod
    def load(cls, directory: Path) -> Templates:
        labels_path = directory / LABELS_FILE
        doc = load_file(labels_path, what="a labels file")
        labels = doc.data
        problems = []
        if not isinstance(labels, dict) or set(LANGS) - set(labels):
            raise AdvisorError(Problem(str(labels_path), 1, 1, "error", "labels need an 'en' and a 'zh' mapping"))
        for missing in sorted(_keys(labels["en"]) ^ _keys(labels["zh"])):
            lang = "zh" if missing in _keys(labels["en"]) else "en"
            other = "en" if lang == "zh" else "zh"
            line, col = doc.where(tuple([other, *missing.split(".")]))
            problems.append(
                Problem(
                    str(labels_path),
                    line,
                    col,
                    "error",
                    f"label '{missing}' has no {lang} translation; add it under {lang}",
                )
            )
        if problems:
            raise AdvisorError(problems)
        if not (directory / BRIEF_TEMPLATE).is_file():
            raise UnreadableInput(
                Problem(
                    str(directory / BRIEF_TEMPLATE),
                    1,
                    1,
                    "error",
                    "template not found; copy the shipped templates folder",
                )
            )
        env = environment(directory, {"md": md})
        try:
            template = env.get_template(BRIEF_TEMPLATE)
        except TemplateLimit as exc:
            raise AdvisorError(
                Problem(str(directory / BRIEF_TEMPLATE), 1, 1, "error", f"template limit: {exc}")
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise AdvisorError(
                Problem(
                    str(directory / (exc.name or BRIEF_TEMPLATE)),
                    exc.lineno or 1,
                    1,
                    "error",
                    f"template syntax: {exc.message}",
                )
            ) from None
        files = tuple(sorted(p for p in directory.rglob("*") if p.is_file()))
        return cls(directory, labels, env, files, template)

    def render(self, view: dict[str, Any]) -> str:
        """The brief, under the limits of templating.Budget: a template that would take too long or too
        much memory (a loop in a loop, `9**9**9`, a macro calling itself) is an error at its line."""
        try:
            return self.template.render(view, **{BUDGET: Budget()})
        except TemplateLimit as exc:
            path, line = self._where(exc)
            raise AdvisorError(Problem(path, line, 1, "error", f"template limit: {exc}")) from None
        except RecursionError as exc:
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(
                    path,
                    line,
                    1,
                    "error",
                    "template limit: a macro or loop calls itself too deeply; stop the recursion",
                )
            ) from None
        except MemoryError as exc:
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(path, line, 1, "error", "template limit: out of memory working this out")
            ) from None
        except (ArithmeticError, ValueError) as exc:  # 1/0, 10.0**400, int('x') and the like: the template's own
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(path, line, 1, "error", f"template error: {type(exc).__name__}: {exc}")
            ) from None
        except jinja2.UndefinedError as exc:
            path, line = self._where(exc)
            name = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(exc))
            what = next((g for g in name.groups() if g), str(exc)) if name else str(exc)
            raise AdvisorError(
                Problem(
                    path,
                    line,
                    1,
                    "error",
                    f"undefined '{what}'; check the spelling against the brief's data (see labels.yaml and the template)",
                )
            ) from None
        except jinja2.TemplateError as exc:
            path, line = self._where(exc)
            raise AdvisorError(Problem(path, line, 1, "error", f"template error: {exc}")) from None

    def _where(self, exc: BaseException) -> tuple[str, int]:
        """The template file and line an error was raised at (Jinja keeps them in the traceback)."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".j2"):
                return frame.filename, frame.lineno or 1
        return str(self.directory / BRIEF_TEMPLATE), 1


def select(recs: list[Recommendation], attendee_ids: list[str], limits: dict[str, int], budget: int) -> set[int]:
    """Which recommendations the brief shows (as ids), to keep it readable in the car park.

    First every part the rep must not find empty gets its floor (limits' `floors`: the account,
    each attendee, the checklist), best items first; then priority decides: every high item that
    fits its section's limit, then medium, then low, until the brief's total budget is spent.
    About people not attending, only high-priority advice is shown, under "others". The JSON
    output keeps every recommendation.
    """
    floors = limits.get("floors", {})
    attending = set(attendee_ids)
    unlimited = 10**6
    person_cap, others_cap = limits.get("person", unlimited), limits.get("others", unlimited)
    # Each shown candidate with the slot its count goes to and that slot's limit.
    slots: list[tuple[Recommendation, tuple, int]] = []
    for r in recs:
        section = r.section
        if section == "person":
            if r.stakeholder in attending:
                slots.append((r, ("person", r.stakeholder), person_cap))
            elif r.priority == "high":
                slots.append((r, ("others",), others_cap))
            # else: never shown
        else:
            slots.append((r, (section,), limits.get(section, unlimited)))

    counts: dict[tuple, int] = {}
    chosen: set[int] = set()
    if floors:
        for r, slot, limit in slots:
            if budget <= 0:
                break
            floor = floors.get(r.section, 0)
            if floor and id(r) not in chosen and counts.get(slot, 0) < min(limit, floor):
                counts[slot] = counts.get(slot, 0) + 1
                chosen.add(id(r))
                budget -= 1
    by_priority: dict[str, list[tuple[Recommendation, tuple, int]]] = {p: [] for p in PRIORITIES}
    for candidate in slots:
        same = by_priority.get(candidate[0].priority)
        if same is not None:  # an item of no known priority is never picked by priority
            same.append(candidate)
    for same in by_priority.values():
        for r, slot, limit in same:
            if budget <= 0:
                return chosen
            if id(r) not in chosen and counts.get(slot, 0) < min(limit, unlimited):
                counts[slot] = counts.get(slot, 0) + 1
                chosen.add(id(r))
                budget -= 1
    return chosen


# Characters that would end or restructure a quoted Mermaid label, as Mermaid's entity codes.
_MERMAID_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;",
                                   "{": "#123;", "}": "#125;", "[": "#91;", "]": "#93;"})  # fmt: skip


def mermaid_text(text: Any) -> str:
    """Text safe inside a quoted Mermaid label: no quotes, brackets, pipes, backticks or line breaks."""
    return plain(text).translate(_MERMAID_ENTITIES)


def relationship_map(profile: Profile, attendee_ids: list[str], values: dict[str, Any]) -> str:
    """A Mermaid graph of the people: levels, reporting lines, insiders and informal ties.

    Node ids are positions, never profile text, and every label is escaped, so no name can
    change the diagram's structure.
    """
    index = {s.id: f"p{i}" for i, s in enumerate(profile.stakeholders)}
    lines = ["graph TD"]
    for s in profile.stakeholders:
        star = " ★" if s.insider != "none" else ""
        label = f"{mermaid_text(s.name)}{star}<br/>{mermaid_text(s.title)} · {mermaid_text(values['level'][s.level])}"
        lines.append(f'  {index[s.id]}["{label}"]')
    for s in profile.stakeholders:
        if s.reports_to in index:
            lines.append(f"  {index[s.reports_to]} --> {index[s.id]}")
    for s in profile.stakeholders:
        for tie in s.ties:
            if tie.with_ in index:
                lines.append(f'  {index[s.id]} -.-|"{mermaid_text(values["tie"][tie.kind])}"| {index[tie.with_]}')
    insiders = [index[s.id] for s in profile.stakeholders if s.insider != "none"]
    attending = [index[i] for i in attendee_ids if i in index]
    lines.append("  classDef insider fill:#e6f4ea,stroke:#137333")
    lines.append("  classDef attending stroke-width:3px")
    if insiders:
        lines.append(f"  class {','.join(insiders)} insider")
    if attending:
        lines.append(f"  class {','.join(attending)} attending")
    return "\n".join(lines)


def _code_key(code: str) -> tuple:
    """Course codes in outline order: 2.1.10.a after 2.1.9.a."""
    return tuple(int(p) if p.isdigit() else p for p in code.split("."))


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    out: set[str] = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}.{k}" if prefix else str(k))
    return out


class _Escaped(dict):
    """md(text), worked out once per distinct text in one brief: names recur across its sections."""

    def __missing__(self, text: str) -> str:
        escaped = self[text] = md(text)
        return escaped


def build_view(
    profile: Profile,
    recs: list[Recommendation],
    *,
    lang: str,
    labels: dict[str, Any],
    course: Course,
    as_of: str,
    as_of_source: str,
    derived_account: dict[str, bool],
    fired: list[tuple[str, tuple[str, ...]]],
    facts: dict[str, dict[str, Any]],
    version: str,
    digest: str,
) -> dict[str, Any]:
    """Everything the template shows, already ordered and escaped: templates only lay it out."""
    L = labels[lang]
    values = L["values"]
    esc = _Escaped()
    people = {s.id: s for s in profile.stakeholders}
    attendee_ids = list(profile.visit.attendees) if profile.visit else []
    attending = set(attendee_ids)

    person_views: dict[str, dict[str, Any]] = {}

    def person(sid: str) -> dict[str, Any]:
        """The person's escaped view, built once per brief and shared: a use that adds keys copies it."""
        view = person_views.get(sid)
        if view is None:
            view = person_views[sid] = person_view(sid)
        return view

    def person_view(sid: str) -> dict[str, Any]:
        s = people[sid]
        f = facts.get(f"stakeholder:{sid}", {})
        manager = people.get(s.reports_to or "")
        return {
            "id": sid,
            "name": esc[s.name],
            "title": esc[s.title],
            "department": esc[s.department],
            "level": values["level"][s.level],
            "level_short": values["level_short"][s.level],
            "function": values["function"][s.function],
            "relationship": values["strength"][s.relationship.strength],
            "stance": values["stance"][s.relationship.stance],
            "insider": values["insider"][s.insider],
            "days_since_contact": f.get("stakeholder.days_since_contact"),
            "reports_to": esc[manager.name] if manager else "",
            "contact_degree": s.contact.degree,
            "via": esc[people[s.contact.via].name] if s.contact.via in people else "",
            "attending": sid in attending,
        }

    def item(r: Recommendation) -> dict[str, Any]:
        who = esc[people[r.stakeholder].name] if r.stakeholder else ""
        return {"text": r.text, "rule": r.rule_id, "priority": r.priority, "aspect": r.aspect,
                "who": who if who and who not in r.text else ""}  # fmt: skip

    limits = labels.get("limits", {})

    # At a glance: the highest-priority points for this visit, one per rule (the same advice for a
    # second person waits in their section); advice about absent people waits in "others".
    glance: list[Recommendation] = []
    for r in recs:
        if len(glance) == GLANCE_MAX:
            break
        if r.priority != "high" or (r.stakeholder is not None and r.stakeholder not in attending):
            continue
        if r.rule_id not in {g.rule_id for g in glance}:
            glance.append(r)
    # recommend() says each (section, person, text) once, so no two recommendations are equal and
    # identity tells them apart.
    in_glance = {id(r) for r in glance}
    rest = [r for r in recs if id(r) not in in_glance]
    chosen = select(rest, attendee_ids, limits, limits.get("total", len(recs)) - len(glance))

    # The chosen recommendations, by section, in their order.
    shown_in: dict[str, list[Recommendation]] = {}
    for r in rest:
        if id(r) in chosen:
            shown_in.setdefault(r.section, []).append(r)

    def by_aspect(items: list[Recommendation]) -> list[dict[str, Any]]:
        return [
            {"aspect": aspect, "label": L["aspects"][aspect], "entries": [item(r) for r in items if r.aspect == aspect]}
            for aspect in ("cares", "approach", "avoid")
            if any(r.aspect == aspect for r in items)
        ]

    person_recs = [r for r in shown_in.get("person", ()) if r.stakeholder]
    attendees = []
    for sid in attendee_ids:
        attendees.append({**person(sid), "groups": by_aspect([r for r in person_recs if r.stakeholder == sid])})
    others = [{**person(r.stakeholder), "entries": [item(r)]} for r in person_recs if r.stakeholder not in attending]

    cadence = []
    for r in shown_in.get("cadence", ()):
        row = person(r.stakeholder) if r.stakeholder else {"name": "", "days_since_contact": None}
        f = facts.get(f"stakeholder:{r.stakeholder}", {}) if r.stakeholder else {}
        cadence.append(
            {**row, "contacts_90d": f.get("stakeholder.contacts_90d", ""), "text": r.text, "rule": r.rule_id}
        )

    competitors = [
        {
            "name": esc[c.name],
            "offers": esc[c.offers] if c.offers else "-",
            "strength": values["competitor_strength"][c.strength],
            "latest_move": esc[c.latest_move] if c.latest_move else "-",
            "days_since_info": facts.get(f"competitor:{j}", {}).get("competitor.days_since_info"),
        }
        for j, c in enumerate(profile.competitors)
    ]

    sections = {
        name: [item(r) for r in shown_in.get(name, ())]
        for name in ("penetration", "gaps", "competitors", "checklist", "after_visit")
    }

    # Why this advice: the rules behind what the brief shows, and the derivations they built on.
    visible = {r.rule_id for r in glance}.union(r.rule_id for rs in shown_in.values() for r in rs)
    said = {r.rule_id for r in recs}
    title = course.title
    sep = L["title_sep"]
    why = []
    for rule_id, codes in fired:
        if rule_id in said and rule_id not in visible:
            continue
        why.append((_code_key(codes[0]), rule_id, ", ".join(codes), sep.join([title(c, lang) for c in codes])))
    why.sort(key=lambda w: (w[0], w[1]))
    why = [{"rule": rule_id, "codes": codes, "titles": titles, "key": key} for key, rule_id, codes, titles in why]

    account = profile.account
    tiers = [labels["tiers"][name][lang] for name in labels.get("tiers", {}) if derived_account.get(name)]
    return {
        "L": L,
        "lang": lang,
        "version": version,
        "digest": digest,
        "as_of": as_of,
        "as_of_source": as_of_source,
        "account": {
            "id": account.id,
            "name": esc[account.name],
            "industry": values["industry"][account.industry],
            "ownership": values["ownership"][account.ownership] if account.ownership else "",
            "stage": values["stage"][account.stage],
            "position": values["position"][account.position],
            "tiers": tiers,
        },
        "visit": (
            {"date": profile.visit.date.isoformat(), "objective": esc[profile.visit.objective]}
            if profile.visit
            else None
        ),
        "attendees": attendees,
        "glance": [item(r) for r in glance],
        "account_groups": by_aspect(shown_in.get("account", [])),
        "others": others,
        "people": [person(s.id) for s in profile.stakeholders],
        "mermaid": relationship_map(profile, attendee_ids, values),
        "cadence": cadence,
        "competitor_table": competitors,
        **sections,
        "why": why,
    }


def to_json(
    profile: Profile, recs: list[Recommendation], *, lang: str, as_of: str, as_of_source: str,
    tiers: list[str], version: str, digest: str,
) -> str:  # fmt: skip
    """The brief's content for machines: stable keys, one object, a trailing newline."""
    account = profile.account
    doc = {
        "advisor": {"version": version, "rules_hash": digest},
        "account": {
            "id": account.id,
            "name": account.name,
            "industry": account.industry,
            "ownership": account.ownership,
            "stage": account.stage,
            "position": account.position,
            "tiers": tiers,
        },  # fmt: skip
        "as_of": as_of,
        "as_of_source": as_of_source,
        "lang": lang,
        "visit": (
            {
                "date": profile.visit.date.isoformat(),
                "objective": profile.visit.objective,
                "attendees": list(profile.visit.attendees),
            }
            if profile.visit
            else None
        ),
        "recommendations": [
            {
                "rule": r.rule_id,
                "source": list(r.source),
                "section": r.section,
                "aspect": r.aspect,
                "priority": r.priority,
                "stakeholder": r.stakeholder,
                "text": r.text,
            }  # fmt: skip
            for r in recs
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


__all__ = ["Templates", "build_view", "to_json", "md"]
