"""A reaction checked and completed the one way, whether it came as JSON (the API) or as a form (the
account page); and the forms the account page hangs on each piece of advice."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import HTTPException
from markupsafe import Markup

from ..api import Advisor
from ..brief import Brief
from ..errors import echo, one_of, suggest
from ..ledger.reasons import Reasons, UnknownChoice
from ..view import slot
from .accounts import Served
from .models import ReactionIn


def reaction_row(advisor: Advisor, served: Served, reasons: Reasons, body: ReactionIn) -> dict[str, Any]:
    """The row the ledger stores for `body`, or a 422 naming what is wrong (account, rule, reason, person)."""
    if body.account_id not in served.paths:
        raise HTTPException(
            422,
            f"unknown account '{echo(body.account_id)}'"
            + suggest(body.account_id, served.paths, "; GET /api/accounts lists them"),
        )
    rules = advisor.base.by_id()
    rule = rules.get(body.rule_id)
    if rule is None:
        raise HTTPException(
            422,
            f"unknown rule '{echo(body.rule_id)}'" + suggest(body.rule_id, rules, "; `advisor docs` lists the rules"),
        )
    try:
        reason = reasons.code_of(body.reason, body.reaction)
    except UnknownChoice as exc:
        raise HTTPException(422, str(exc)) from None
    if body.stakeholder is not None:
        people = [s.id for s in served.profile(body.account_id).stakeholders]
        if body.stakeholder not in people:
            raise HTTPException(422, f"unknown stakeholder '{echo(body.stakeholder)}' in account '{body.account_id}'"
                                + suggest(body.stakeholder, people, f"; use one of: {one_of(people)}"))  # fmt: skip
    return {
        **body.model_dump(), "reason": reason, "rules_hash": advisor.digest,
        "course_items": " ".join(rule.rule.source),
    }  # fmt: skip


def reaction_form_rows(slots: list[str], account_id: str, user: str, brief_id: str | None) -> list[dict[str, Any]]:
    """The reactions `done` that the after-visit form's ticked checklist items (view.slot values) stand for."""
    rows = []
    for value in dict.fromkeys(slots):
        rule, _, stakeholder = value.partition("|")
        rows.append({"account_id": account_id, "rule_id": rule, "reaction": "done", "user": user,
                     "brief_id": brief_id, "stakeholder": stakeholder or None})  # fmt: skip
    return rows


def reaction_forms(
    pages: jinja2.Environment,
    brief: Brief,
    *,
    brief_id: str,
    csrf: str,
    full: bool,
    reasons: Reasons,
    reacted: dict[tuple[str, str | None], dict[str, Any]],
    words: dict[str, Any],
    nav: Markup,
) -> dict[str, Any]:
    """What the brief template's `reacting` hook shows: the page's menu, and one form per piece of
    advice (by view.slot), saying what the rep already did with it."""
    macro = pages.get_template("react.html.j2").module.controls  # type: ignore[attr-defined]
    account = brief.profile.account.id
    reason_list = [(r.code, getattr(r, brief.lang)) for r in reasons.items]
    controls = {}
    for r in brief.recommendations:
        done = reacted.get((r.rule_id, r.stakeholder))
        controls[slot(r.rule_id, r.stakeholder)] = Markup(
            macro(
                account=account, rule=r.rule_id, stakeholder=r.stakeholder or "", brief_id=brief_id, csrf=csrf,
                lang=brief.lang, full=full, reasons=reason_list, done=done,
                done_reason=reasons.text(done["reason"], brief.lang) if done and done["reason"] else "", w=words,
            )
        )  # fmt: skip
    return {"controls": controls, "nav": nav}
