"""Why each rule did or did not fire for a profile: for trainers tuning their rules.

The explanation re-evaluates conditions with the reference semantics in conditions.py; a test
checks that it agrees with durable-rules on every rule for every shipped profile and case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from .. import conditions as c
from ..api import Advisor, Evaluation
from ..engine.compiler import ordered
from ..facts import Record
from ..rules import LoadedRule


@dataclass(frozen=True)
class Explanation:
    rule_id: str
    path: str
    line: int
    fired_for: tuple[str, ...]  # record labels
    details: tuple[str, ...]  # matched facts (fired) or the first failed test per record (quiet)

    @property
    def fired(self) -> bool:
        return bool(self.fired_for)


def reasons(
    advisor: Advisor,
    evaluation: Evaluation,
    loaded: LoadedRule,
    records: list[Record],
    fired_on: Collection[str],
) -> Iterator[tuple[Record, bool, str]]:
    """Why a rule did or did not fire on each record, by the reference semantics: (record, whether
    its conditions hold, why). For a record it fired on, the tests that matched; for one it did not,
    the first test that failed, with the fact's actual value. explain and the case runner both ask here."""
    catalogue = advisor.base.catalogue
    node = ordered(loaded.condition, catalogue)
    derived = {n: False for n, s in catalogue.specs.items() if s.derived_by_rules}  # false until derived
    for r in records:
        values = {**derived, **r.values, **evaluation.outcome.derived.get(r.id, {})}  # as evaluation.facts()
        if node is None:
            yield (
                r,
                True,
                "matched no conditions" if r.id in fired_on else "conditions hold, but the engine did not fire it",
            )
        elif r.id in fired_on:
            yield r, c.holds(node, values), "matched " + ", ".join(c.matched(node, values))
        else:
            reason = c.why_not(node, values)
            yield r, reason is None, reason or "conditions hold, but the engine did not fire it"


def explain(advisor: Advisor, evaluation: Evaluation, rule_ids: set[str] | None = None) -> list[Explanation]:
    """One explanation per rule (or per rule asked about), in rule order."""
    fired: dict[str, list[str]] = {}
    for f in evaluation.outcome.firings:
        fired.setdefault(f.rule_id, []).append(f.record_id)
    labels = {r.id: _label(r) for r in evaluation.records}
    out = []
    for loaded in advisor.base.rules:
        if rule_ids is not None and loaded.id not in rule_ids:
            continue
        records = [r for r in evaluation.records if r.scope == loaded.rule.scope]
        hits = fired.get(loaded.id, [])
        details = [f"{labels[r.id]}: {reason}" for r, _, reason in reasons(advisor, evaluation, loaded, records, hits)]
        if not records:
            details.append(f"no {loaded.rule.scope} in this profile")
        out.append(Explanation(loaded.id, loaded.path, loaded.line, tuple(labels[h] for h in hits), tuple(details)))
    return out


def _label(record: Record) -> str:
    if record.scope == "stakeholder":
        return f"{record.values.get('stakeholder.name')} ({record.subject})"
    if record.scope == "tie":
        return f"tie {record.values.get('tie.from_name')} -> {record.values.get('tie.to_name')}"
    if record.scope == "competitor":
        return f"competitor {record.values.get('competitor.name')}"
    if record.scope == "event":
        return f"event {record.values.get('event.date')} {record.values.get('event.summary')}"
    return "account"


def in_the_brief(advisor: Advisor, evaluation: Evaluation, lang: str = "en") -> dict[str, list[str]]:
    """For each rule that gave advice: what became of each recommendation in the Markdown brief (its
    relevance score, and whether it was shown, cut, or withdrawn by another rule's situation)."""
    from ..selection import slot

    brief = advisor.prepare(evaluation, lang)
    selection = advisor.selection(brief)
    glance = {id(r) for r in selection.glance}
    shown = selection.shown_ids()
    attending = set(brief.attendees)
    on_card = {id(r): card.items for card in selection.cares.values() for r in card.advice}
    total = advisor.templates.labels.get("limits", {}).get("total")
    out: dict[str, list[str]] = {}
    for r in selection.said:
        about = f" about {r.stakeholder}" if r.stakeholder else ""
        if id(r) in glance:
            fate = "shown at a glance"
        elif id(r) in shown:
            fate = f"shown under {r.section}"
        elif slot(r, attending)[0] == "others" and r.priority != "high":
            fate = "not shown: about someone not attending, and not high priority (--full shows it)"
        else:
            fate = f"not shown: ranked below what fit in its part or the brief's {total} points (--full shows it)"
        if id(r) in on_card:
            fate += f"; their card says what they care about ({', '.join(c for c in on_card[id(r)] if c in r.source)})"
        out.setdefault(r.rule_id, []).append(f"in the brief{about}: score {r.score:.2f}, {fate}")
    said = {id(r) for r in selection.said}
    for r in brief.recommendations:
        if id(r) not in said:
            out.setdefault(r.rule_id, []).append("in the brief: said once already (the same text from another rule)")
    for w in brief.withdrawn:
        r = w.recommendation
        about = f" about {r.stakeholder}" if r.stakeholder else ""
        out.setdefault(r.rule_id, []).append(f"in the brief{about}: withdrawn by {', '.join(w.by)}")
    return out


def explain_lines(
    advisor: Advisor, evaluation: Evaluation, wanted: set[str] | None = None, *, fired_only: bool = False
) -> list[str]:
    """What `advisor explain` prints (and the trainer's rule page shows): per rule, where it is, whether
    it fired, its fate in the brief, and the facts that decided it."""
    fates = in_the_brief(advisor, evaluation)
    lines = []
    for e in explain(advisor, evaluation, wanted):
        if fired_only and not e.fired:
            continue
        state = f"fired for {', '.join(e.fired_for)}" if e.fired else "quiet"
        lines.append(f"{e.rule_id}  ({e.path}:{e.line})  {state}")
        lines += [f"    {fate}" for fate in fates.get(e.rule_id, ())]
        if wanted or e.fired or len(e.details) <= 3:
            lines += [f"    {d}" for d in e.details]
        else:
            lines += [f"    {d}" for d in e.details[:2]]
            lines.append(f"    … and {len(e.details) - 2} more (use --rule {e.rule_id})")
    return lines
