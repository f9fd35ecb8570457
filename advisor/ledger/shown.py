"""What one brief showed, as the ledger records it: pure, no database (the server and tests share it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..brief import Brief
from ..selection import Selection

SHOWN = "shown"  # the advice in full
TRAIT = "trait"  # not in full: its person's card states the trait it cites
KINDS = (SHOWN, TRAIT)


@dataclass(frozen=True)
class Shown:
    """One recommendation a brief showed."""

    rule_id: str
    course_items: tuple[str, ...]
    stakeholder: str | None
    kind: str


@dataclass(frozen=True)
class Showing:
    """One brief's impressions and its id: a hash of what it showed, so the same brief has the same id."""

    brief_id: str
    account_id: str
    lang: str
    rules_hash: str
    items: tuple[Shown, ...]


def showing(brief: Brief, selection: Selection, rules_hash: str) -> Showing:
    """The recommendations `selection` shows of `brief` (Advisor.selection's: what the Markdown brief
    shows and the JSON brief marks `shown` / `trait_shown`), in the brief's order."""
    full = selection.shown_ids()
    cards = {id(r) for card in selection.cares.values() for r in card.advice}
    items = tuple(
        Shown(r.rule_id, tuple(r.source), r.stakeholder, SHOWN if id(r) in full else TRAIT)
        for r in brief.recommendations
        if id(r) in full or id(r) in cards
    )
    account = brief.profile.account.id
    what = [account, brief.lang, rules_hash, brief.evaluation.today.isoformat()]
    what += [[s.rule_id, s.stakeholder, s.kind] for s in items]
    digest = hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:16]
    return Showing(digest, account, brief.lang, rules_hash, items)
