"""A brief -> everything a brief template shows, selected, ordered and escaped: templates only lay it out.

One function per part of the brief, shared by the Markdown and the HTML brief. Every text from the
profile or from advice passes through the format's escaping here (`md`, or `html`: see Escaping),
so no name can change the brief's structure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .advise import Recommendation
from .brief import Brief
from .course import Course, code_order
from .escape import html, md, mermaid_text, plain
from .orgchart import org_chart
from .profile import Profile, Stakeholder
from .selection import Selection
from .vocabulary import ASPECTS, SECTIONS

LISTED_SECTIONS = ("penetration", "gaps", "competitors", "checklist", "after_visit")


class Escaping:
    """How one output format makes text inert: `text` escapes one profile text; `whole_advice` says
    whether a piece of advice is escaped whole (HTML: the rule's own words are text too) or only in
    the values it quotes (Markdown: a rule may write Markdown). (Plain classes, this and _Context: as
    dataclasses they cost every start about 0.55 ms to create.)"""

    __slots__ = ("text", "whole_advice")

    def __init__(self, text: Callable[[Any], str], whole_advice: bool):
        self.text, self.whole_advice = text, whole_advice


MARKDOWN = Escaping(md, whole_advice=False)
HTML = Escaping(html, whole_advice=True)


class _Escaped(dict):
    """A text escaped, worked out once per distinct text in one brief: names recur across its sections."""

    def __init__(self, escape: Callable[[Any], str]) -> None:
        super().__init__()
        self.escape = escape

    def __missing__(self, text: str) -> str:
        escaped = self[text] = self.escape(text)
        return escaped


class _Context:
    """What every part of one brief's view shares: its labels, escaping, people and their views."""

    def __init__(self, brief: Brief, L: dict[str, Any], escaping: Escaping = MARKDOWN) -> None:
        self.brief, self.L, self.escaping = brief, L, escaping  # L: the labels in the brief's language
        self.person_views: dict[str, dict[str, Any]] = {}
        self.esc = _Escaped(self.escaping.text)
        self.values = self.L["values"]
        self.people = {s.id: s for s in self.brief.profile.stakeholders}
        self.attending = set(self.brief.attendees)

    def text(self, r: Recommendation) -> str:
        if self.escaping.whole_advice:
            return self.esc[r.text_in(plain)]
        return r.text_in(self.esc.__getitem__)

    def person(self, sid: str) -> dict[str, Any]:
        """The person's escaped view, built once per brief and shared: a use that adds keys copies it."""
        view = self.person_views.get(sid)
        if view is None:
            view = self.person_views[sid] = _person_view(self, self.people[sid])
        return view

    def item(self, r: Recommendation) -> dict[str, Any]:
        who = self.esc[self.people[r.stakeholder].name] if r.stakeholder else ""
        text = self.text(r)
        advice = r.advice
        return {"text": text, "rule": advice.rule_id, "priority": advice.priority, "aspect": advice.aspect,
                "who": who if who and who not in text else "", "slot": slot(advice.rule_id, r.stakeholder)}  # fmt: skip

    def by_aspect(self, items: list[Recommendation]) -> list[dict[str, Any]]:
        by: dict[str, list[Recommendation]] = {}  # one pass over the items, not one per aspect
        for r in items:
            by.setdefault(r.advice.aspect, []).append(r)
        return [
            {"aspect": aspect, "label": self.L["aspects"][aspect], "entries": [self.item(r) for r in by[aspect]]}
            for aspect in ASPECTS  # the order the brief groups them in
            if aspect in by
        ]


def slot(rule_id: str, stakeholder: str | None) -> str:
    """One piece of advice in a brief, as a key: the server hangs its reaction form on it."""
    return f"{rule_id}|{stakeholder or ''}"


def markdown_view(
    brief: Brief, shown: Selection, labels: dict[str, Any], why: WhyRows, *, version: str, digest: str
) -> dict[str, Any]:
    """Everything the Markdown brief template shows of `brief`, given what it shows (selection.choose).
    `why`: the course's rows of "why this advice" (an Advisor keeps them from brief to brief)."""
    cx = _Context(brief, labels[brief.lang])
    view = _brief_view(cx, shown, labels, why, version=version, digest=digest)
    view["mermaid"] = relationship_map(brief.profile, list(brief.attendees), cx.values)
    return view


def html_view(
    brief: Brief,
    shown: Selection,
    full: Selection,
    labels: dict[str, Any],
    why: WhyRows,
    *,
    version: str,
    digest: str,
    paper: str = "a4",
) -> dict[str, Any]:
    """Everything the HTML brief template shows: the Markdown brief's view, escaped for HTML, with the
    relationship map drawn as SVG and, under `folded`, what `full` (the --full selection) adds, part by part."""
    cx = _Context(brief, labels[brief.lang], HTML)
    view = _brief_view(cx, shown, labels, why, version=version, digest=digest)
    view["org_chart"] = org_chart(
        brief.profile, brief.attendees, cx.values, cx.esc.__getitem__, cx.L["sections"]["map"]
    )
    view["folded"] = _folded(cx, shown, full)
    view["paper"] = paper
    return view


def _folded(cx: _Context, shown: Selection, full: Selection) -> dict[str, Any]:
    """What the full selection shows beyond `shown`, by part, in the full brief's order."""
    seen = shown.shown_ids()
    extra = {section: [r for r in rs if id(r) not in seen] for section, rs in full.shown_in.items()}
    about = [r for r in extra.get("person", ()) if r.stakeholder]
    return {
        "account_groups": cx.by_aspect(extra.get("account", [])),
        "attendees": {sid: cx.by_aspect([r for r in about if r.stakeholder == sid]) for sid in cx.brief.attendees},
        "others": [{**cx.person(r.stakeholder), "entries": [cx.item(r)]} for r in about if r.stakeholder not in cx.attending],
        "cadence": _cadence(cx, extra.get("cadence", ())),
        **{name: [cx.item(r) for r in extra.get(name, ())] for name in LISTED_SECTIONS},
    }  # fmt: skip


def _brief_view(
    cx: _Context, shown: Selection, labels: dict[str, Any], why: WhyRows, *, version: str, digest: str
) -> dict[str, Any]:
    """What every brief template shows, escaped the context's way."""
    brief = cx.brief
    shown_in = shown.shown_in
    attendees, others = _people_sections(cx, shown_in.get("person", ()), shown.more)
    traits = cx.L.get("traits") or {}
    cares = {sid: [str(traits[code]) for code in card.items] for sid, card in shown.cares.items()}
    for person in attendees:
        person["cares"] = cares.get(person["id"], [])
    return {
        "L": cx.L,
        "lang": brief.lang,
        "version": version,
        "digest": digest,
        "as_of": brief.evaluation.today.isoformat(),
        "as_of_source": brief.evaluation.as_of_source,
        "account": _account(cx, labels),
        "visit": _visit(cx),
        "attendees": attendees,
        "glance": [cx.item(r) for r in shown.glance],
        "account_groups": cx.by_aspect(shown_in.get("account", [])),
        "others": others,
        # With no visit, what each of the people who matter most cares about (an attendee's is on their card).
        "people_cares": []
        if brief.attendees
        else [{**cx.person(sid), "cares": traits} for sid, traits in cares.items()],
        "people": [cx.person(s.id) for s in brief.profile.stakeholders],
        "cadence": _cadence(cx, shown_in.get("cadence", ())),
        "competitor_table": _competitor_table(cx),
        **{name: [cx.item(r) for r in shown_in.get(name, ())] for name in LISTED_SECTIONS},
        "why": _why(cx, shown, why),
        # How much more fired than each part shows: a part that shows nothing says "Nothing
        # flagged." only when nothing fired there.
        "more": {part: shown.more.get((part,), 0) for part in (*SECTIONS, "others") if part != "person"},
    }


def _person_view(cx: _Context, s: Stakeholder) -> dict[str, Any]:
    values, esc = cx.values, cx.esc
    facts = cx.brief.evaluation.about("stakeholder", s.id)
    manager = cx.people.get(s.reports_to or "")
    return {
        "id": s.id,
        "name": esc[s.name],
        "title": esc[s.title],
        "department": esc[s.department],
        "level": values["level"][s.level],
        "level_short": values["level_short"][s.level],
        "function": values["function"][s.function],
        "relationship": values["strength"][s.relationship.strength],
        "stance": values["stance"][s.relationship.stance],
        "insider": values["insider"][s.insider],
        "days_since_contact": facts.get("stakeholder.days_since_contact"),
        "reports_to": esc[manager.name] if manager else "",
        "contact_degree": s.contact.degree,
        "via": esc[cx.people[s.contact.via].name] if s.contact.via in cx.people else "",
        "attending": s.id in cx.attending,
    }


def _account(cx: _Context, labels: dict[str, Any]) -> dict[str, Any]:
    account, values, lang = cx.brief.profile.account, cx.values, cx.brief.lang
    return {
        "id": account.id,
        "name": cx.esc[account.name],
        "industry": values["industry"][account.industry],
        "ownership": values["ownership"][account.ownership] if account.ownership else "",
        "stage": values["stage"][account.stage],
        "position": values["position"][account.position],
        "tiers": [labels["tiers"][name][lang] for name in cx.brief.tiers],
    }


def _visit(cx: _Context) -> dict[str, Any] | None:
    visit = cx.brief.profile.visit
    if visit is None:
        return None
    account = cx.brief.evaluation.about("account")
    return {
        "date": visit.date.isoformat(),
        "objective": cx.esc[visit.objective],
        "purpose": cx.values["purpose"][account["account.visit_purpose"]],
        "purpose_inferred": account["account.visit_purpose_inferred"],
    }


def _people_sections(
    cx: _Context, shown: list[Recommendation], more: dict[tuple[str, ...], int]
) -> tuple[list[dict], list[dict]]:
    """Each attendee with their advice by aspect; and the high-priority advice about people not attending."""
    about = [r for r in shown if r.stakeholder]
    attendees = [
        {
            **cx.person(sid),
            "groups": cx.by_aspect([r for r in about if r.stakeholder == sid]),
            "more": more.get(("person", sid), 0),
        }
        for sid in cx.brief.attendees
    ]
    others = [{**cx.person(r.stakeholder), "entries": [cx.item(r)]} for r in about if r.stakeholder not in cx.attending]
    return attendees, others


def _cadence(cx: _Context, shown: list[Recommendation]) -> list[dict[str, Any]]:
    rows = []
    for r in shown:
        if r.stakeholder:
            row = cx.person(r.stakeholder)
            contacts = cx.brief.evaluation.about("stakeholder", r.stakeholder).get("stakeholder.contacts_90d", "")
        else:
            row, contacts = {"name": "", "days_since_contact": None}, ""
        rows.append({**row, "contacts_90d": contacts, "text": cx.text(r), "rule": r.rule_id,
                     "slot": slot(r.rule_id, r.stakeholder)})  # fmt: skip
    return rows


def _competitor_table(cx: _Context) -> list[dict[str, Any]]:
    esc, values = cx.esc, cx.values
    records = cx.brief.evaluation.of_scope("competitor")  # one per competitor, in the profile's order
    return [
        {
            "name": esc[c.name],
            "offers": esc[c.offers] if c.offers else "-",
            "strength": values["competitor_strength"][c.strength],
            "latest_move": esc[c.latest_move] if c.latest_move else "-",
            "days_since_info": record.values.get("competitor.days_since_info"),
        }
        for c, record in zip(cx.brief.profile.competitors, records, strict=True)
    ]


class WhyRows(dict):
    """Each rule's row in "why this advice" (its place in course order, id, codes and titles), worked
    out once per course, language and title separator rather than in every brief that shows the rule.
    An Advisor keeps one for its course: the key holds everything else a row depends on, so it never
    goes stale; a lost race between threads only works a row out twice."""

    def __init__(self, course: Course) -> None:
        super().__init__()
        self.course = course

    def __missing__(self, key: tuple[str, tuple[str, ...], str, str]) -> tuple:
        rule_id, codes, lang, sep = key
        title = self.course.title
        row = self[key] = (code_order(codes[0]), rule_id, ", ".join(codes), sep.join([title(c, lang) for c in codes]))
        return row


def _why(cx: _Context, shown: Selection, rows: WhyRows) -> list[dict[str, Any]]:
    """Why this advice: exactly the rules whose advice the brief shows, with the course items they
    cite, in course order. (Derivations that only set a fact show nothing, so they are not listed:
    what a rep reads and what the expert panel counts as shown are the same.)"""
    lang, sep = cx.brief.lang, cx.L["title_sep"]
    sources = {r.advice.rule_id: r.advice.source for r in shown.glance}
    sources.update((r.advice.rule_id, r.advice.source) for rs in shown.shown_in.values() for r in rs)
    sources.update((r.advice.rule_id, r.advice.source) for card in shown.cares.values() for r in card.advice)
    ordered = sorted([rows[rule_id, codes, lang, sep] for rule_id, codes in sources.items()])
    return [{"rule": rule_id, "codes": codes, "titles": titles, "key": key} for key, rule_id, codes, titles in ordered]


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
