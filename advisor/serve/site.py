"""The pages reps and trainers use (server-rendered, no script): the portfolio, an account's brief with a
reaction form on each piece of advice, the after-visit form, and the trainer's report.

Forms post URL-encoded bodies guarded by a CSRF token (the cookie's value must come back in the form);
every page names accounts and rules by id, never by a path, like the JSON API.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ..api import Advisor
from ..course import code_order
from ..errors import AdvisorError
from ..escape import plain
from ..ledger.reasons import Reasons
from ..ledger.report import build
from ..ledger.shown import showing
from ..ledger.store import Ledger
from ..modelio import dotted
from ..profile import Interaction, Visit
from ..view import slot
from ..vocabulary import LANGS
from ..workbench.explain import explain_lines
from ..writeback import record_visit
from .accounts import Served, account_item
from .models import TIERS, Lang, ReactionIn
from .reacting import reaction_form_rows, reaction_forms, reaction_row
from .words import WORDS

CSRF_COOKIE, TOKEN_COOKIE = "advisor_csrf", "advisor_token"
LOCAL_USER = "local"  # who reacts on a server with no tokens: one rep's own machine (loopback only)
MAX_FORM_BYTES = 64 * 1024  # a form's body; the after-visit form is a few kilobytes at most
# What needs attention first on the portfolio: an account's flags, weighed.
ATTENTION = {"open_incidents": 4, "overdue_senior": 3, "competitor_threat": 2, "no_insider": 1}


class FormError(Exception):
    """A form that cannot be taken as sent; its one line goes back to the rep on the page."""


@dataclass
class Site:
    advisor: Advisor
    served: Served
    ledger: Ledger
    reasons: Reasons
    auth: bool
    today: dt.date | None
    clock: Callable[[], dt.datetime]
    pages: jinja2.Environment

    def user(self, request: Request) -> str | None:
        """The signed-in user (by the page's cookie); LOCAL_USER when the server needs no token."""
        if not self.auth:
            return LOCAL_USER
        token = request.cookies.get(TOKEN_COOKIE)
        return self.ledger.user_of(token) if token else None

    def render(self, request: Request, template: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page of ours, with the CSRF cookie its forms need."""
        csrf = csrf_of(request)
        other = dict(request.query_params) | {"lang": "en" if lang == "zh" else "zh"}
        page = self.pages.get_template(template).render(
            lang=lang, w=WORDS[lang], csrf=csrf, other_lang_url=f"{request.url.path}?{urlencode(other)}",
            notice=values.pop("notice", ""), error=values.pop("error", ""), **values,
        )  # fmt: skip
        return with_csrf(HTMLResponse(page, status), csrf)

    # The account page.

    def account_page(
        self, request: Request, account_id: str, lang: str, full: bool, notice: str = "", error: str = ""
    ) -> HTMLResponse:
        brief = self.advisor.prepare(self.served.evaluation(self.advisor, account_id, self.today), lang)
        profile = brief.profile
        selection = self.advisor.selection(brief, full=full)
        shown = showing(brief, selection, self.advisor.digest)
        csrf, w = csrf_of(request), WORDS[lang]
        module: Any = self.pages.get_template("react.html.j2").module
        nav = Markup(module.nav(account_id, profile.account.name, lang, full, w, notice, error))
        reacting = reaction_forms(
            self.pages, brief, brief_id=shown.brief_id, csrf=csrf, full=full, reasons=self.reasons,
            reacted=self.ledger.reactions_of(account_id), words=w, nav=nav,
        )  # fmt: skip
        html, _ = self.advisor.show(brief, format="html", full=full, selection=selection, extra={"reacting": reacting})
        self.ledger.record(shown, self.clock())
        response = HTMLResponse(html, 422 if error else 200, headers={"Content-Security-Policy": brief_csp(str(html))})
        return with_csrf(response, csrf)

    def react(self, account_id: str, form: dict[str, list[str]], user: str) -> None:
        body = _model(ReactionIn, {
            "account_id": account_id, "rule_id": one(form, "rule_id"), "reaction": one(form, "reaction"),
            "reason": one(form, "reason") or None, "user": user, "brief_id": one(form, "brief_id") or None,
            "stakeholder": one(form, "stakeholder") or None,
        })  # fmt: skip
        self.ledger.react(_checked(lambda: reaction_row(self.advisor, self.served, self.reasons, body)), self.clock())

    # The after-visit form.

    def visit_form(self, request: Request, account_id: str, lang: str, error: str = "") -> HTMLResponse:
        profile = self.served.profile(account_id)  # the people in the order the rep typed them
        brief = self.advisor.prepare(
            self.advisor.evaluate(profile, self.today, self.served.positions.get(account_id)), lang
        )
        selection = self.advisor.selection(brief)
        checklist = [
            {"value": slot(r.rule_id, r.stakeholder), "text": r.text_in(plain)}
            for r in selection.shown_in.get("checklist", [])
        ]
        labels = self.advisor.templates.labels[lang]["values"]
        return self.render(
            request, "visit.html.j2", lang, 422 if error else 200, error=error, account=account_id,
            name=profile.account.name, people=profile.stakeholders, checklist=checklist,
            planned=profile.visit.attendees if profile.visit else [], purposes=labels["purpose"],
            brief_id=showing(brief, selection, self.advisor.digest).brief_id,
            today=(self.today or dt.date.today()).isoformat(),
        )  # fmt: skip

    def record(self, account_id: str, form: dict[str, list[str]], user: str) -> None:
        """Check everything the form sent, then write the profile, then the ledger."""
        interaction = _model(Interaction, {
            "date": one(form, "date"), "kind": one(form, "kind") or "visit", "with": form.get("with", []),
            "form": one(form, "form"), "agreed": one(form, "agreed"), "note": one(form, "note"),
        })  # fmt: skip
        next_visit = None
        if one(form, "next_date") or one(form, "next_objective"):
            next_visit = _model(Visit, {
                "date": one(form, "next_date"), "objective": one(form, "next_objective"),
                "purpose": one(form, "next_purpose") or None, "attendees": form.get("next_with", []),
            }, prefix="next visit: ")  # fmt: skip
        brief_id = one(form, "brief_id")[:32] or None
        done = reaction_form_rows(form.get("done", []), account_id, user, brief_id)
        rows = [_checked(lambda b=b: reaction_row(self.advisor, self.served, self.reasons, _model(ReactionIn, b))) for b in done]  # fmt: skip
        try:
            record_visit(self.served.paths[account_id], interaction, next_visit, roots=self.served.roots)
        except AdvisorError as exc:
            raise FormError(" / ".join(exc.lines())) from None
        visit = {
            "account_id": account_id, "brief_id": brief_id, "user": user, "date": interaction.date,
            "kind": interaction.kind, "attendees": " ".join(interaction.with_), "agreed": interaction.agreed,
            "note": interaction.note, "checklist_done": " ".join(r["rule_id"] for r in rows),
            "next_visit": next_visit.date if next_visit else None,
        }  # fmt: skip
        self.ledger.record_visit(visit, rows, self.clock())

    # The trainer's pages.

    def trainer(self, request: Request, lang: str, file: str, industry: str, tier: str) -> HTMLResponse:
        where = self.rule_places
        meta = {acc: self.account_meta(acc) for acc in self.served.paths}

        def keep(rule: str, account: str) -> bool:
            found = meta.get(account)
            return (
                (not file or where.get(rule, ("",))[0] == file)
                and (not industry or (found is not None and found[0] == industry))
                and (not tier or (found is not None and found[1] == tier))
            )

        with self.ledger.transaction() as conn:
            shown = [row for row in self.ledger.impression_counts(conn) if keep(row[0], row[2])]
            reacted = [row for row in self.ledger.reaction_counts(conn) if keep(row[0], row[2])]
        report = build(shown, reacted)
        never = report.never_adopted()
        never_ids = {r for r, _ in never}
        rules = [
            {"rule": rid, "t": t.as_dict(), "never": rid in never_ids, "line": where.get(rid, ("", 0))[1],
             "where": "{}:{}".format(*where[rid]) if rid in where else rid}
            for rid, t in sorted(report.rules.items(), key=lambda kv: (kv[0] not in never_ids, -kv[1].impressions, kv[0]))
        ]  # fmt: skip
        items = [(code, report.items[code].as_dict()) for code in sorted(report.items, key=code_order)]
        labels = self.advisor.templates.labels[lang]["values"]
        return self.render(
            request, "trainer.html.j2", lang, rules=rules, items=items, never=never, min_shown=report.min_shown,
            files=sorted({f for f, _ in where.values()}), industries=labels["industry"], tiers=TIERS,
            chosen={"file": file, "industry": industry, "tier": tier},
            item_titles={code: self.advisor.course.title(code, lang) for code, _ in items},
            reason_text={r.code: getattr(r, lang) for r in self.reasons.items},
        )  # fmt: skip

    def rule_page(self, request: Request, rule_id: str, lang: str, account: str) -> HTMLResponse:
        loaded = self.advisor.base.by_id().get(rule_id)
        if loaded is None:
            raise HTTPException(404, f"unknown rule '{rule_id[:80]}'")
        text = Path(loaded.path).read_text(encoding="utf-8")
        later = [r.line for r in self.advisor.base.rules if r.path == loaded.path and r.line > loaded.line]
        explained = ""
        if account in self.served.paths:
            evaluation = self.served.evaluation(self.advisor, account, self.today)
            # The rule's place as the trainer knows it, not the server's folders.
            explained = "\n".join(explain_lines(self.advisor, evaluation, {rule_id})).replace(
                f"({loaded.path}:", f"({self.rule_places[rule_id][0]}:"
            )
        names = [(acc, self.served.profile(acc).account.name) for acc in self.served.paths]
        return self.render(
            request, "rule.html.j2", lang, rule=rule_id, where="{}:{}".format(*self.rule_places[rule_id]),
            lines=list(enumerate(text.splitlines(), 1)), first=loaded.line, last=min(later, default=10**9) - 1,
            accounts=names, chosen=account, explained=explained,
        )  # fmt: skip

    @functools.cached_property
    def rule_places(self) -> dict[str, tuple[str, int]]:
        """Each rule's file (as the trainer knows it: rules/...) and line: fixed while the server runs,
        worked out once."""
        paths = [Path(r.path).resolve() for r in self.advisor.base.rules]
        top = Path(os.path.commonpath(paths)) if paths else Path()
        top = top.parent if top.is_file() else top
        return {
            r.id: (f"{top.name}/{p.relative_to(top).as_posix()}", r.line)
            for r, p in zip(self.advisor.base.rules, paths, strict=True)
        }

    def account_meta(self, account_id: str) -> tuple[str, str | None]:
        """(industry, tier) of a served account: what the trainer's report filters by."""
        position = self.served.positions.get(account_id)
        return self.served.profile(account_id).account.industry, position.portfolio_class if position else None

    def portfolio(self, lang: str, q: str) -> list[dict[str, Any]]:
        """The accounts matching `q` (name, id or flag, any case), what needs attention first."""
        w = WORDS[lang]
        items = [account_item(self.advisor, self.served, acc, self.today) for acc in self.served.paths]
        wanted = q.strip().casefold()
        if wanted:
            items = [
                a for a in items
                if wanted in " ".join([a["name"], a["id"], *(w["flags"][f] for f in a["flags"])]).casefold()
            ]  # fmt: skip
        return sorted(
            items, key=lambda a: (-sum(ATTENTION[f] for f in a["flags"]), a["next_visit"] or "9999", a["name"])
        )


def mount(app: FastAPI, site: Site) -> None:
    """The pages' routes (none is in the OpenAPI document: they are for people, not programs)."""

    def signed_in(request: Request) -> str | None:
        return site.user(request)

    def known(account_id: str) -> None:
        if account_id not in site.served.paths:
            raise HTTPException(404, f"unknown account '{account_id[:80]}'; the portfolio (/) lists them")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def portfolio(request: Request, lang: Lang = "en", q: str = "") -> Response:
        if signed_in(request) is None:
            return RedirectResponse("/login", 303)
        return site.render(request, "portfolio.html.j2", lang, accounts=site.portfolio(lang, q[:200]), q=q[:200])

    @app.get("/accounts/{account_id}", response_class=HTMLResponse, include_in_schema=False)
    def account(request: Request, account_id: str, lang: Lang = "en", full: bool = False, saved: str = "") -> Response:
        if signed_in(request) is None:
            return RedirectResponse("/login", 303)
        known(account_id)
        notice = {"reaction": WORDS[lang]["saved"], "visit": WORDS[lang]["visit_saved"]}.get(saved, "")
        return site.account_page(request, account_id, lang, full, notice=notice)

    @app.post("/accounts/{account_id}/reactions", include_in_schema=False)
    async def react(request: Request, account_id: str) -> Response:
        form, user = await _posted(request, site)
        known(account_id)
        lang, full = _lang(form), one(form, "full") == "true"
        try:
            await run_in_threadpool(site.react, account_id, form, user)
        except FormError as exc:
            return await run_in_threadpool(site.account_page, request, account_id, lang, full, "", str(exc))
        query = urlencode({"lang": lang, **({"full": "true"} if full else {}), "saved": "reaction"})
        return RedirectResponse(f"/accounts/{account_id}?{query}", 303)

    @app.get("/accounts/{account_id}/visit", response_class=HTMLResponse, include_in_schema=False)
    def visit_form(request: Request, account_id: str, lang: Lang = "en") -> Response:
        if signed_in(request) is None:
            return RedirectResponse("/login", 303)
        known(account_id)
        return site.visit_form(request, account_id, lang)

    @app.post("/accounts/{account_id}/visit", include_in_schema=False)
    async def record(request: Request, account_id: str) -> Response:
        form, user = await _posted(request, site)
        known(account_id)
        lang = _lang(form)
        try:
            await run_in_threadpool(site.record, account_id, form, user)
        except FormError as exc:
            return await run_in_threadpool(site.visit_form, request, account_id, lang, str(exc))
        return RedirectResponse(f"/accounts/{account_id}?{urlencode({'lang': lang, 'saved': 'visit'})}", 303)

    @app.get("/trainer", response_class=HTMLResponse, include_in_schema=False)
    def trainer(request: Request, lang: Lang = "en", file: str = "", industry: str = "", tier: str = "") -> Response:
        if signed_in(request) is None:
            return RedirectResponse("/login", 303)
        return site.trainer(request, lang, file[:300], industry[:40], tier[:4])

    @app.get("/trainer/rules/{rule_id}", response_class=HTMLResponse, include_in_schema=False)
    def rule(request: Request, rule_id: str, lang: Lang = "en", account: str = "") -> Response:
        if signed_in(request) is None:
            return RedirectResponse("/login", 303)
        return site.rule_page(request, rule_id, lang, account)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A URL-encoded form body (at most MAX_FORM_BYTES), every value of every field."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"the form is over {MAX_FORM_BYTES // 1024} KB; shorten the notes")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def check_csrf(request: Request, form: dict[str, list[str]], again: str) -> None:
    """The CSRF cookie's value must come back in the form (a page on another site cannot read it)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, one(form, "csrf")):
        raise HTTPException(403, f"the form's CSRF token does not match; {again}")


async def _posted(request: Request, site: Site) -> tuple[dict[str, list[str]], str]:
    """A page's form, its CSRF token checked, and who sent it."""
    form = await read_form(request)
    check_csrf(request, form, "reload the page and send the form again")
    user = site.user(request)
    if user is None:
        raise HTTPException(401, "sign in first: /login")
    return form, user


def one(form: dict[str, list[str]], name: str) -> str:
    """A form field's value ('' when absent), trimmed."""
    return (form.get(name) or [""])[0].strip()


def _lang(form: dict[str, list[str]]) -> str:
    lang = one(form, "lang")
    return lang if lang in LANGS else LANGS[0]


def csrf_of(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def with_csrf(response: Response, csrf: str) -> Response:
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


def brief_csp(html: str) -> str:
    """The pages' policy, with the brief's one inline stylesheet allowed by its hash (and nothing else inline)."""
    found = re.search(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode() if found else ""
    style = f"style-src 'self' 'sha256-{digest}'" if digest else "style-src 'self'"
    return f"default-src 'none'; {style}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def _model(model: type, data: dict[str, Any], prefix: str = "") -> Any:
    """The model from form data, or a FormError saying, in one line, every field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = [f"{prefix}{dotted(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise FormError("; ".join(parts)) from None


def _checked(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except HTTPException as exc:
        raise FormError(str(exc.detail)) from None
