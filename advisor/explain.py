"""Why each rule did or did not fire for a profile: for trainers tuning their rules.

The explanation re-evaluates conditions with the reference semantics in conditions.py; a test
checks that it agrees with durable-rules on every rule for every shipped profile and case.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import conditions as c
from .api import Advisor, Evaluation
from .engine.compiler import ordered


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


def explain(advisor: Advisor, evaluation: Evaluation, rule_ids: set[str] | None = None) -> list[Explanation]:
    """One explanation per rule (or per rule asked about), in rule order."""
    facts = evaluation.facts()
    derived_names = {n for n, s in advisor.base.catalogue.specs.items() if s.derived_by_rules}
    fired: dict[str, list[str]] = {}
    for f in evaluation.outcome.firings:
        fired.setdefault(f.rule_id, []).append(f.record_id)
    labels = {r.id: _label(r, evaluation) for r in evaluation.records}
    out = []
    for loaded in advisor.base.rules:
        if rule_ids is not None and loaded.id not in rule_ids:
            continue
        node = ordered(loaded.condition, advisor.base.catalogue)
        records = [r for r in evaluation.records if r.scope == loaded.rule.scope]
        hits = fired.get(loaded.id, [])
        details = []
        for r in records:
            values = {**{n: False for n in derived_names}, **facts[r.id]}
            if r.id in hits:
                found = c.matched(node, values) if node is not None else ["no conditions"]
                details.append(f"{labels[r.id]}: matched " + ", ".join(found))
            else:
                reason = c.why_not(node, values) if node is not None else None
                details.append(f"{labels[r.id]}: {reason or 'conditions hold, but the engine did not fire it'}")
        if not records:
            details.append(f"no {loaded.rule.scope} in this profile")
        out.append(Explanation(loaded.id, loaded.path, loaded.line, tuple(labels[h] for h in hits), tuple(details)))
    return out


def _label(record, evaluation: Evaluation) -> str:
    if record.scope == "stakeholder":
        return f"{record.values.get('stakeholder.name')} ({record.subject})"
    if record.scope == "tie":
        return f"tie {record.values.get('tie.from_name')} -> {record.values.get('tie.to_name')}"
    if record.scope == "competitor":
        return f"competitor {record.values.get('competitor.name')}"
    if record.scope == "event":
        return f"event {record.values.get('event.date')} {record.values.get('event.summary')}"
    return "account"
