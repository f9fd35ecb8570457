"""OUT/portfolio.md: what it needs from each account (the flags rules/portfolio.yaml derives) and its template.

Who counts as an overdue senior contact or a competitor threat is course knowledge, so rules decide
it (rules/portfolio.yaml derives the flags below); labels.yaml's `portfolio_lists` gives each list
its heading, and `portfolio` under each language the summary's other words; templates/portfolio.md.j2
lays it out, in the brief's sandbox.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import jinja2

from ..errors import AdvisorError, Problem, UnreadableInput
from ..escape import md
from ..render import LABELS_FILE
from ..vocabulary import LANGS

if TYPE_CHECKING:
    from ..api import Evaluation
    from ..facts import Record
    from ..profile import Profile
    from ..render import Templates
    from .bookkeeping import Bookkeeping

PORTFOLIO = "portfolio.md"
TEMPLATE = "portfolio.md.j2"
OVERDUE_SENIOR = "stakeholder.overdue_senior"  # derived by rules/portfolio.yaml
THREAT = "competitor.threat"
LISTS = (OVERDUE_SENIOR, THREAT)  # what labels.yaml's portfolio_lists names
PARETO_TOP = 20
PIECE = 4096  # characters of the template's output joined into one piece to write


# --- from each account, while it is in memory ---------------------------------------------------


def account_summary(profile: Profile, evaluation: Evaluation) -> dict[str, Any]:
    """What the portfolio summary needs from one account: the people and competitors the rules
    flagged, in the order the profile lists them (`profile` as given; the evaluation's is canonical)."""
    derived = evaluation.outcome.derived

    def holds(record: Record, flag: str) -> bool:
        return bool(derived.get(record.id, {}).get(flag))

    account = next(r for r in evaluation.records if r.scope == "account")
    overdue = {r.subject: r.values for r in evaluation.records if r.scope == "stakeholder" and holds(r, OVERDUE_SENIOR)}
    # derive() makes one record per competitor, in the evaluated (canonical) profile's order.
    competitors = [r for r in evaluation.records if r.scope == "competitor"]
    typed = _typed_positions(profile.competitors, evaluation.profile.competitors)
    threats = [competitors[j].values for j in sorted(range(len(competitors)), key=typed.__getitem__)
               if holds(competitors[j], THREAT)]  # fmt: skip
    return {
        "name": profile.account.name,
        "revenue": profile.account.annual_revenue,
        "has_insider": account.values.get("account.has_insider", False),
        "overdue_senior": [
            {"name": values["stakeholder.name"], "days": values.get("stakeholder.days_since_contact")}
            for values in (overdue.get(s.id) for s in profile.stakeholders)
            if values is not None
        ],
        "threats": [
            {
                "name": v["competitor.name"],
                "strength": v["competitor.strength"],
                "move": v.get("competitor.latest_move", ""),
            }
            for v in threats
        ],
        "has_visit": profile.visit is not None,
    }


def _typed_positions(typed: list, evaluated: list) -> list[int]:
    """For each item of the evaluated (canonical) list, its position in the list as typed; the
    index has always listed them as typed."""
    where: dict[str, list[int]] = {}
    for i, item in enumerate(typed):
        where.setdefault(item.model_dump_json(), []).append(i)
    return [where[item.model_dump_json()].pop(0) for item in evaluated]


# --- the summary ----------------------------------------------------------------------------------


def portfolio_template(templates: Templates) -> jinja2.Template:
    """The summary's template, compiled, and its labels checked: called before a batch does any work."""
    path = templates.directory / TEMPLATE
    labels_path = str(templates.directory / LABELS_FILE)
    if not path.is_file():
        raise UnreadableInput(
            Problem(str(path), 1, 1, "error", "template not found; copy the shipped templates folder")
        )
    lists = templates.labels.get("portfolio_lists") or {}
    missing = [
        f"portfolio_lists: {name}"
        for name in LISTS
        if not isinstance(lists.get(name), dict) or set(LANGS) - set(lists[name])
    ]
    missing += [f"{lang}: portfolio" for lang in LANGS if not isinstance(templates.labels[lang].get("portfolio"), dict)]
    if missing:
        raise AdvisorError(
            Problem(labels_path, 1, 1, "error", f"labels for the portfolio summary are missing ({', '.join(missing)}); copy them from the shipped labels.yaml")
        )  # fmt: skip
    try:
        return templates.env.get_template(TEMPLATE)
    except jinja2.TemplateSyntaxError as exc:
        raise AdvisorError(
            Problem(str(templates.directory / (exc.name or TEMPLATE)), exc.lineno or 1, 1, "error", f"template syntax: {exc.message}")
        ) from None  # fmt: skip


def render_portfolio(
    template: jinja2.Template, templates: Templates, entries: Iterable[dict], lang: str, books: Bookkeeping
) -> Iterator[str]:
    """OUT/portfolio.md, in pieces as the template makes them: tiers, accounts without an insider,
    overdue senior contacts, competitor threats, Pareto. Its lists go to `books` first."""
    view = portfolio_view(entries, templates.labels, lang, books)
    try:
        piece: list[str] = []
        size = 0
        for text in template.generate(view):
            piece.append(text)
            size += len(text)
            if size >= PIECE:
                yield "".join(piece)
                piece.clear()
                size = 0
        yield "".join(piece)
    except jinja2.TemplateError as exc:
        line = next(
            (f.lineno or 1 for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename.endswith(TEMPLATE)),
            1,
        )
        raise AdvisorError(
            Problem(str(templates.directory / TEMPLATE), line, 1, "error", f"template error: {exc}")
        ) from None


def portfolio_view(entries: Iterable[dict], labels: dict[str, Any], lang: str, books: Bookkeeping) -> dict[str, Any]:
    """Everything the summary shows, in order and escaped for Markdown: the template only lays it out.
    One pass over the entries (a batch streams them from its work folder); each list goes to the
    bookkeeping file and reaches the template as a sequence read from there (the lists name every
    account: held in memory, they took about 1.5 KB an account at the end of a batch)."""
    values = labels[lang]["values"]
    skip_reasons = labels[lang]["portfolio"]["skip_reasons"]
    ok = failed = 0
    for e in entries:
        status = e.get("status")
        if status == "error":
            failed += 1
        if (
            status == "read"
        ):  # a CRM export's files: rows read, unreadable, skipped and why (the index has a line for each)
            books.show("files", {"file": md(e["source"]), "rows": e["rows"], "unreadable": e["unreadable"], "skipped": e["skipped"],
                                 "why": [skip_reasons.get(why, md(why) + ": {n}").format(n=n) for why, n in e["why"].items()]})  # fmt: skip
        if status != "ok":
            continue
        ok += 1
        summary, position = e["summary"], e.get("portfolio")
        name = md(summary["name"])
        if position:
            books.show("ranked", {"rank": position["rank"], "name": name, "revenue": summary["revenue"],
                                  "share": position["share"], "portfolio_class": position["portfolio_class"]},
                       key=position["rank"])  # fmt: skip
        else:
            books.show("untiered", name)
        if not summary["has_insider"]:
            books.show("no_insider", name)
        for p in summary["overdue_senior"]:
            books.show("overdue", {"account": name, "name": md(p["name"]), "days": p["days"]})
        for t in summary["threats"]:
            books.show("threats", {
                "account": name,
                "name": md(t["name"]),
                "strength": values["competitor_strength"].get(t["strength"], md(t["strength"])),
                "move": md(t["move"]) if t["move"] else "",
            })  # fmt: skip
    ranked = books.shown("ranked")  # by rank; revenues and shares as the entries had them
    view: dict[str, Any] = {
        "L": labels[lang]["portfolio"],
        "lists": {name: labels["portfolio_lists"][name][lang] for name in LISTS},
        "ok": ok,
        "failed": failed,
        "files": books.shown("files"),
        "ranked": books.shown("ranked", _shown_position),
        "untiered": books.shown("untiered"),
        "no_insider": books.shown("no_insider"),
        "overdue": books.shown("overdue"),
        "threats": books.shown("threats"),
        "pareto": None,
    }
    if ranked:
        total = sum(r["revenue"] for r in ranked)  # in rank order, with sum's own rounding (3.12 compensates)
        top = list(islice(ranked, PARETO_TOP))
        cumulative, running = [], 0.0
        for r in top:
            running += r["revenue"]
            cumulative.append(round(100 * running / total, 1) if total else 0)
        view["pareto"] = {
            "ranks": ", ".join(f'"{i}"' for i in range(1, len(top) + 1)),
            "bars": ", ".join(f"{100 * r['share']:.1f}" for r in top),
            "line": ", ".join(str(c) for c in cumulative),
        }
    return view


def _shown_position(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "revenue": f"{r['revenue']:,.0f}", "share": f"{100 * r['share']:.1f}"}
