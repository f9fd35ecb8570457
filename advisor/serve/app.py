"""The ASGI app of `advisor serve`: the JSON API, its OpenAPI document and the portfolio page.

Requests name accounts by id only: the files behind them were fixed when the server started
(accounts.py), so no request can make the server read any other file. (No `from __future__ import annotations`:
FastAPI reads the parameters' annotations, some of them local to create_app, at run time.)
"""

import datetime as dt
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Literal

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..api import FORMATS, Advisor
from ..errors import AdvisorError, echo, one_of, suggest
from ..ledger.reasons import Reasons
from ..ledger.report import MIN_SHOWN, build
from ..ledger.shown import showing
from ..ledger.store import Ledger, LedgerError, now
from ..modelio import dotted
from .accounts import Served, account_item
from .models import Account, Error, Lang, ReactionIn, ReactionOut, ReasonOut
from .reacting import reaction_row
from .site import TOKEN_COOKIE, Site, brief_csp, check_csrf, csrf_of, mount, one, read_form, with_csrf

# How each brief format is served; a format FORMATS gains needs its line here (a test checks).
MEDIA = {
    "markdown": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # --host values that keep the server on this machine
# The Host headers a server on loopback answers (a Host header writes an IPv6 address in brackets).
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Pages load nothing from elsewhere, run no script and cannot be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ASSETS = ("pages.css", "react.css")  # the stylesheets the pages link to, served from the package
ERRORS = {code: {"model": Error} for code in (401, 403, 404, 415, 422)}

Format = Literal[FORMATS]  # type: ignore[valid-type]


def create_app(
    advisor: Advisor,
    served: Served,
    ledger: Ledger,
    reasons: Reasons,
    *,
    auth: bool = False,
    hosts: tuple[str, ...] | None = None,
    today: dt.date | None = None,
    clock: Callable[[], dt.datetime] = now,
) -> FastAPI:
    """The app. `auth`: every request needs a token (a server bound beyond this machine); `hosts`: the
    only Host headers answered (on loopback, so a DNS-rebinding page cannot reach the API)."""
    app = FastAPI(
        title="advisor", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        description="Pre-visit briefs for key accounts, and a ledger of what reps did with the advice.",
    )  # fmt: skip
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    bearer = HTTPBearer(auto_error=False)

    def page_user(request: Request) -> str | None:
        token = request.cookies.get(TOKEN_COOKIE)
        return ledger.user_of(token) if token else None

    def user_of(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> str | None:
        """The caller, by the bearer token they send (None when the server needs none). A GET may
        send the page's cookie instead (SameSite=Strict: never sent from another site); anything
        that writes needs the header."""
        if not auth:
            return None
        if credentials:
            user = ledger.user_of(credentials.credentials)
        else:
            user = page_user(request) if request.method == "GET" else None
        if user is None:
            raise HTTPException(401, "send a valid token: Authorization: Bearer TOKEN (an admin creates one with `advisor token add USER`)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        return user

    User = Annotated[str | None, Depends(user_of)]

    def known(account_id: str, status: int = 404) -> str:
        if account_id not in served.paths:
            raise HTTPException(
                status,
                f"unknown account '{echo(account_id)}'"
                + suggest(account_id, served.paths, "; GET /api/accounts lists them"),
            )
        return account_id

    @app.middleware("http")
    async def json_bodies_and_headers(request: Request, call_next):
        """JSON only in API bodies (a browser cannot send it cross-site without CORS, and none is
        enabled), and the security headers on every answer."""
        if request.method in ("POST", "PUT", "PATCH") and request.url.path.startswith("/api/"):
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                response = JSONResponse({"detail": "send the body as JSON: Content-Type: application/json"}, 415)
                response.headers.update(SECURITY_HEADERS)
                return response
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():  # a page may set its own policy (the brief's inline style)
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_line(exc)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(LedgerError)
    async def ledger_down(_request: Request, exc: LedgerError) -> JSONResponse:
        return JSONResponse({"detail": exc.lines()[0]}, 503)

    @app.exception_handler(AdvisorError)
    async def bad_profile(_request: Request, exc: AdvisorError) -> JSONResponse:
        # A served profile edited into an invalid one since the server started: the server's files, not the request.
        return JSONResponse({"detail": " / ".join(exc.lines())}, 500)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_user: User) -> JSONResponse:
        return JSONResponse(document())

    def document() -> dict:
        """The OpenAPI document; it declares the bearer token only where the server asks for one."""
        doc = app.openapi()
        if not auth:
            doc = {**doc, "components": {k: v for k, v in doc.get("components", {}).items() if k != "securitySchemes"}}
            doc["paths"] = {
                path: {method: {k: v for k, v in op.items() if k != "security"} for method, op in ops.items()}
                for path, ops in doc["paths"].items()
            }
        return doc

    @app.get("/api/accounts", response_model=list[Account], responses=ERRORS, summary="The served accounts")
    def accounts(_user: User) -> list[dict]:
        return [account_item(advisor, served, acc, today) for acc in served.paths]

    @app.get(
        "/api/accounts/{account_id}/brief",
        response_class=Response,
        responses={200: {"content": {MEDIA[f].split(";")[0]: {} for f in FORMATS}, "description": "the brief; header X-Brief-Id"}, **ERRORS},
        summary="One account's brief (its impressions are recorded)",
    )  # fmt: skip
    def brief(
        account_id: str, _user: User, lang: Lang = "en", format: Format = "markdown", full: bool = False,
    ) -> Response:  # fmt: skip
        known(account_id)
        prepared = advisor.prepare(served.evaluation(advisor, account_id, today), lang)
        text, selection = advisor.show(prepared, format=format, full=full)
        brief_id = ledger.record(showing(prepared, selection, advisor.digest), clock())
        headers = {"X-Brief-Id": brief_id}
        if format == "html":  # its one inline stylesheet, allowed by its hash
            headers["Content-Security-Policy"] = brief_csp(text)
        return Response(text, media_type=MEDIA[format], headers=headers)

    @app.get("/api/reasons", response_model=list[ReasonOut], responses=ERRORS, summary="The trainers' reasons")
    def reason_list(_user: User) -> list[dict]:
        return [r.model_dump() for r in reasons.items]

    @app.post(
        "/api/reactions", status_code=201, response_model=ReactionOut, responses=ERRORS, summary="Record a reaction"
    )
    def react(body: ReactionIn, user: User) -> dict:
        if user is not None and body.user != user:
            raise HTTPException(403, f"user must be '{user}', whose token this is")
        row = reaction_row(advisor, served, reasons, body)
        return ledger.react(row, clock())

    @app.get("/api/report", responses=ERRORS, summary="The ledger report (advisor report --format json)")
    def report(_user: User, min_shown: Annotated[int, Query(ge=1, le=1_000_000)] = MIN_SHOWN) -> dict:
        with ledger.transaction() as conn:
            counts = ledger.impression_counts(conn), ledger.reaction_counts(conn)
        return build(*counts, min_shown=min_shown).as_dict()

    pages = _pages()
    mount(app, Site(advisor, served, ledger, reasons, auth, today, clock, pages))

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, failed: bool = False) -> Response:
        csrf = csrf_of(request)
        return with_csrf(HTMLResponse(pages.get_template("login.html.j2").render(csrf=csrf, failed=failed)), csrf)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        """A form post, guarded by a CSRF token: the cookie's value must come back in the form."""
        form = await read_form(request)
        check_csrf(request, form, "reload the login page and try again")
        token = one(form, "token")
        if not token or ledger.user_of(token) is None:
            return RedirectResponse("/login?failed=true", 303)
        response = RedirectResponse("/", 303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/assets/{name}", include_in_schema=False)
    def stylesheet(name: str) -> Response:
        if name not in ASSETS:  # a name, never a path
            raise HTTPException(404, f"no asset '{echo(name)}'")
        return Response(_asset(name), media_type="text/css")

    return app


def validation_line(exc: RequestValidationError) -> str:
    """Every problem with a request, in one line: `reaction: ...; user: ...`."""
    parts = []
    for err in exc.errors():
        loc = tuple(p for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        if err.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        where = echo(dotted(loc)) if loc else "the body"  # a key the client sent may be anything
        if err.get("type") == "literal_error":  # one of a vocabulary's words (reaction, lang, format)
            choices = [c.strip().strip("'") for c in err["ctx"]["expected"].replace(" or ", ",").split(",")]
            got = echo(err.get("input"))
            parts.append(f"{where} must be {one_of(choices)}; got '{got}'" + suggest(got, choices, ""))
            continue
        parts.append(f"{where}: {err.get('msg', 'invalid').removeprefix('Value error, ')}")
    return "; ".join(dict.fromkeys(parts)) or "invalid request"


def _pages() -> jinja2.Environment:
    """The server's own page templates (autoescaped HTML; not the trainers' brief templates)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("advisor.serve", "pages"), autoescape=True, undefined=jinja2.StrictUndefined
    )


def _asset(name: str) -> bytes:
    return (resources.files("advisor.serve") / "pages" / name).read_bytes()
