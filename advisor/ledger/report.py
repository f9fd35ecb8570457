"""`advisor report`: per rule, per course item and per account, how often advice was shown and what
reps did with it; the rules shown often and never adopted. Built from the ledger's counts (pure)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from ..course import code_order
from ..escape import md
from ..vocabulary import MIN_SHOWN, REACTIONS, REFUSALS
from .shown import SHOWN, TRAIT

ADOPTED = ("adopted", "done")  # the reactions that count as using the advice


@dataclass
class Tally:
    """What happened to one rule's (or course item's, or account's) advice."""

    shown: int = 0  # impressions in full
    trait: int = 0  # impressions as a trait on a person's card
    reactions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REACTIONS, 0))
    reasons: dict[str, int] = field(default_factory=dict)  # refusal reason code -> count

    @property
    def impressions(self) -> int:
        return self.shown + self.trait

    @property
    def adopted(self) -> int:
        return sum(self.reactions[k] for k in ADOPTED)

    def rate(self) -> float | None:
        """Adopted or done, per impression (None before the advice was ever shown)."""
        return round(self.adopted / self.impressions, 3) if self.impressions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "impressions": self.impressions, "shown": self.shown, "trait_shown": self.trait,
            "reactions": dict(self.reactions), "reasons": dict(sorted(self.reasons.items())),
            "adoption_rate": self.rate(),
        }  # fmt: skip


@dataclass
class Report:
    rules: dict[str, Tally]
    items: dict[str, Tally]
    accounts: dict[str, Tally]
    rule_items: dict[str, set[str]]  # the course items each rule cited
    account_rules: dict[str, dict[str, Tally]]
    min_shown: int = MIN_SHOWN

    def never_adopted(self, tallies: dict[str, Tally] | None = None) -> list[tuple[str, int]]:
        """Rules shown at least `min_shown` times and never adopted or done, most shown first."""
        tallies = self.rules if tallies is None else tallies
        found = [
            (rid, t.impressions) for rid, t in tallies.items() if t.impressions >= self.min_shown and not t.adopted
        ]
        return sorted(found, key=lambda x: (-x[1], x[0]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_shown": self.min_shown,
            "never_adopted": [{"rule": r, "impressions": n} for r, n in self.never_adopted()],
            "rules": [
                {"rule": rid, "course_items": self.items_of(rid), **t.as_dict()}
                for rid, t in sorted(self.rules.items())
            ],
            "course_items": [
                {"item": code, **self.items[code].as_dict()} for code in sorted(self.items, key=code_order)
            ],
            "accounts": [
                {
                    "account": acc,
                    **t.as_dict(),
                    "never_adopted": [
                        {"rule": r, "impressions": n} for r, n in self.never_adopted(self.account_rules[acc])
                    ],
                }  # fmt: skip
                for acc, t in sorted(self.accounts.items())
            ],
        }

    def items_of(self, rule_id: str) -> list[str]:
        return sorted(self.rule_items.get(rule_id, ()), key=code_order)


def build(impressions: list[tuple], reactions: list[tuple], min_shown: int = MIN_SHOWN) -> Report:
    """The report from the ledger's grouped counts (Ledger.impression_counts / reaction_counts)."""
    report = Report({}, {}, {}, {}, {}, min_shown)

    def tallies(rule: str, items: str, account: str) -> list[Tally]:
        codes = items.split()
        report.rule_items.setdefault(rule, set()).update(codes)
        per_account = report.account_rules.setdefault(account, {})
        keyed = [(report.rules, rule), (report.accounts, account), (per_account, rule)]
        keyed += [(report.items, code) for code in codes]
        return [table.setdefault(key, Tally()) for table, key in keyed]

    for rule, items, account, kind, n in impressions:
        for t in tallies(rule, items, account):
            if kind == SHOWN:
                t.shown += n
            elif kind == TRAIT:
                t.trait += n
    for rule, items, account, reaction, reason, n in reactions:
        for t in tallies(rule, items, account):
            t.reactions[reaction] = t.reactions.get(reaction, 0) + n
            if reaction in REFUSALS and reason:
                t.reasons[reason] = t.reasons.get(reason, 0) + n
    return report


def render(report: Report, format: str) -> str:
    """The report as text: Markdown, JSON or CSV (formula-safe)."""
    if format == "json":
        return json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
    if format == "csv":
        return _csv(report)
    return _markdown(report)


COLUMNS = ("impressions", "shown", "trait_shown", *REACTIONS, "adoption_rate", "reasons")


def _cells(t: Tally) -> list[str]:
    d = t.as_dict()
    rate = "" if d["adoption_rate"] is None else f"{d['adoption_rate']:.0%}"
    reasons = "; ".join(f"{code} {n}" for code, n in d["reasons"].items())
    return [
        str(d["impressions"]),
        str(d["shown"]),
        str(d["trait_shown"]),
        *(str(d["reactions"][k]) for k in REACTIONS),
        rate,
        reasons,
    ]


def _markdown(report: Report) -> str:
    def table(title: str, key: str, rows: list[tuple[str, Tally]]) -> list[str]:
        out = [f"## {title}", ""]
        if not rows:
            return [*out, "Nothing recorded yet.", ""]
        out += ["| " + " | ".join((key, *COLUMNS)) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
        out += ["| " + " | ".join((md(name), *(md(c) for c in _cells(t)))) + " |" for name, t in rows]
        return [*out, ""]

    never = report.never_adopted()
    lines = ["# What reps did with the advice", ""]
    lines += [f"## Shown {report.min_shown} times or more, never adopted", ""]
    lines += [f"- {md(r)}: shown {n} times" for r, n in never] or ["None."]
    lines.append("")
    lines += table("Per rule", "rule", sorted(report.rules.items()))
    lines += table("Per course item", "item", [(c, report.items[c]) for c in sorted(report.items, key=code_order)])
    lines += table("Per account", "account", sorted(report.accounts.items()))
    for acc in sorted(report.accounts):
        found = report.never_adopted(report.account_rules[acc])
        if found:
            lines.append(f"- {md(acc)}: never adopted: " + ", ".join(f"{md(r)} ({n})" for r, n in found))
    return "\n".join(lines).rstrip("\n") + "\n"


# A spreadsheet runs a cell that begins with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("table", "key", "course_items", *COLUMNS))
    rows: list[tuple[str, str, str, Tally]] = [
        ("rule", rid, " ".join(report.items_of(rid)), t) for rid, t in sorted(report.rules.items())
    ]
    rows += [("course_item", code, code, report.items[code]) for code in sorted(report.items, key=code_order)]
    rows += [("account", acc, "", t) for acc, t in sorted(report.accounts.items())]
    rows += [
        (f"account:{acc}", rid, " ".join(report.items_of(rid)), t)
        for acc in sorted(report.account_rules)
        for rid, t in sorted(report.account_rules[acc].items())
    ]
    for table, key, items, t in rows:
        writer.writerow([neutralise(c) for c in (table, key, items, *_cells(t))])
    return out.getvalue()
