"""`advisor serve`: the JSON API (accounts, briefs that record impressions, reactions, report), its
one-line errors, and its security (tokens off loopback, CSRF on the form, JSON-only bodies, hosts)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest
import sqlalchemy as sa

from advisor.api import FORMATS
from advisor.cli import main
from advisor.ledger import schema
from advisor.ledger.reasons import Reasons
from advisor.ledger.store import Ledger
from advisor.serve.accounts import Served
from advisor.serve.app import LOCAL_NAMES, MEDIA, create_app
from advisor.serve.site import CSRF_COOKIE

from conftest import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx's successor
    from fastapi.testclient import TestClient

TODAY = dt.date(2026, 12, 1)
AT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def served() -> Served:
    return Served.load([ROOT / "profiles"])


def make_client(advisor, served, url: str, **options) -> tuple[TestClient, Ledger]:
    ledger = Ledger.open(url)
    app = create_app(
        advisor, served, ledger, Reasons.load(ROOT / "templates"), today=TODAY, clock=lambda: AT, **options
    )
    return TestClient(app), ledger


@pytest.fixture
def client(advisor, served, tmp_path) -> tuple[TestClient, Ledger]:
    """The API over a SQLite ledger (test_ledger.py runs the ledger on PostgreSQL too)."""
    return make_client(advisor, served, str(tmp_path / "ledger.sqlite"))


def react(client: TestClient, **fields):
    body = {"account_id": "gz-tax-bureau", "rule_id": "gov-incumbent-continuity", "reaction": "adopted", "user": "ann"}
    return client.post("/api/reactions", json={**body, **fields})


def test_accounts_list_every_served_profile(client):
    api, _ = client
    items = api.get("/api/accounts").json()
    assert [a["id"] for a in items] == sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml"))
    tax = next(a for a in items if a["id"] == "gz-tax-bureau")
    assert tax["name"] == "广州市税务局" and tax["next_visit"] == "2026-12-01" and tax["tier"] in ("a", "b", "c")
    assert "open_incidents" in tax["flags"] and set(tax) == {"id", "name", "tier", "value_tiers", "next_visit", "flags"}


def test_brief_records_what_it_showed(client):
    api, ledger = client
    first = api.get("/api/accounts/gz-tax-bureau/brief", params={"format": "json"})
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    marked = [r for r in first.json()["recommendations"] if r["shown"] or r["trait_shown"]]
    brief_id = first.headers["x-brief-id"]
    markdown = api.get("/api/accounts/gz-tax-bureau/brief")
    assert markdown.text.startswith("# Pre-visit brief") and markdown.headers["content-type"].startswith(
        "text/markdown"
    )
    assert markdown.headers["x-brief-id"] == brief_id  # the same advice shown: the same brief id
    with ledger.transaction() as conn:
        rows = conn.execute(sa.select(schema.impressions.c.rule_id, schema.impressions.c.brief_id)).all()
    assert len(rows) == 2 * len(marked) and {b for _, b in rows} == {brief_id}
    assert sorted(r for r, _ in rows) == sorted([r["rule"] for r in marked] * 2)


def test_brief_format_and_lang_come_from_their_one_list(client):
    api, _ = client
    doc = api.get("/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/api/accounts/{account_id}/brief"]["get"]["parameters"]}
    assert params["format"]["schema"]["enum"] == list(FORMATS)
    assert params["lang"]["schema"]["enum"] == ["en", "zh"]
    bad = api.get("/api/accounts/gz-tax-bureau/brief", params={"format": "docx"})
    assert bad.status_code == 422 and bad.json() == {"detail": "format must be markdown, json, html or pdf; got 'docx'"}
    assert set(MEDIA) == set(FORMATS)
    page = api.get("/api/accounts/gz-tax-bureau/brief", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html") and page.text.lstrip().startswith("<!DOCTYPE html>")
    pdf = api.get("/api/accounts/gz-tax-bureau/brief", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    zh = api.get("/api/accounts/gz-tax-bureau/brief", params={"lang": "zh"})
    assert zh.text.startswith("# 拜访前简报") or "广州市税务局" in zh.text.splitlines()[0]


def test_reaction_stored_with_what_the_server_fills_in(client, advisor):
    api, _ = client
    answer = react(
        api, reaction="rejected", reason="不适合这个客户", note="they buy on price", stakeholder="chen-jianguo"
    )
    assert answer.status_code == 201, answer.text
    row = answer.json()
    assert row["reason"] == "not_this_account" and row["rules_hash"] == advisor.digest
    assert row["course_items"] == list(advisor.base.by_id()["gov-incumbent-continuity"].rule.source)
    assert row["at"] == "2026-12-01T09:30:00+00:00" and row["user"] == "ann" and row["stakeholder"] == "chen-jianguo"
    report = api.get("/api/report").json()
    rule = next(r for r in report["rules"] if r["rule"] == "gov-incumbent-continuity")
    assert rule["reactions"]["rejected"] == 1 and rule["reasons"] == {"not_this_account": 1}


@pytest.mark.parametrize(
    "fields, status, detail",
    [
        ({"account_id": "gz-tax-bureu"}, 422, "unknown account 'gz-tax-bureu'; did you mean 'gz-tax-bureau'?"),
        ({"rule_id": "gov-continuity"}, 422, "unknown rule 'gov-continuity'; did you mean 'gov-incumbent-continuity'?"),
        ({"reaction": "rejectd"}, 422, "reaction must be adopted, done, not_applicable or rejected; got 'rejectd'; did you mean 'rejected'?"),
        ({"reaction": "rejected", "reason": "complience"}, 422, "unknown reason 'complience'; did you mean 'compliance'?"),
        ({"reaction": "rejected"}, 422, "a reaction 'rejected' needs a reason; use one of: not_this_account, already_done, no_such_service, compliance, wrong_person, wrong_time, facts_wrong, other"),
        ({"stakeholder": "nobody"}, 422, "unknown stakeholder 'nobody' in account 'gz-tax-bureau'"),
        ({"colour": "red"}, 422, "colour: Extra inputs are not permitted"),
        ({"user": ""}, 422, "user: String should have at least 1 character"),
        ({"account_id": "a\nb"}, 422, "unknown account 'a\\nb'; GET /api/accounts lists them"),
        ({"rule_id": "x" * 150}, 422, f"unknown rule '{'x' * 80}…'"),
        ({"bad\nkey": 1}, 422, "bad\\nkey: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_reaction_refused_in_one_line(client, fields, status, detail):
    api, ledger = client
    answer = react(api, **fields)
    assert answer.status_code == status
    assert answer.json()["detail"].startswith(detail) and "\n" not in answer.json()["detail"]
    with ledger.transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.reactions)).scalar_one() == 0


def test_json_bodies_only(client):
    api, _ = client
    form = api.post(
        "/api/reactions",
        content="account_id=gz-tax-bureau",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415 and form.json() == {
        "detail": "send the body as JSON: Content-Type: application/json"
    }
    text = api.post("/api/reactions", content="{}", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    broken = api.post("/api/reactions", content="{", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json() == {"detail": "the body is not valid JSON"}


def test_unknown_account_brief_is_404(client):
    api, _ = client
    answer = api.get("/api/accounts/gz-tax-bureau.yaml/brief")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "unknown account 'gz-tax-bureau.yaml'; did you mean 'gz-tax-bureau'?"}
    # A path is never looked up: ids are keys of the table made at start.
    assert api.get("/api/accounts/..%2F..%2Fetc%2Fpasswd/brief").status_code == 404


def test_portfolio_page_is_local_and_escaped(client):
    api, _ = client
    page = api.get("/", params={"lang": "zh"})
    assert page.status_code == 200 and "广州市税务局" in page.text and "未解决故障" in page.text
    assert 'name="viewport"' in page.text and "http" not in page.text.replace('href="/', "")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.get("/assets/pages.css").headers["content-type"].startswith("text/css")


def test_tokens_required_when_auth_is_on(advisor, served, tmp_path):
    api, ledger = make_client(advisor, served, str(tmp_path / "l.sqlite"), auth=True)
    token = ledger.add_token("ann")
    assert api.get("/api/accounts").status_code == 401
    assert api.get("/openapi.json").status_code == 401
    assert api.get("/api/accounts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/accounts", headers=auth).status_code == 200
    mine = react(api, user="bob")
    assert mine.status_code == 401
    other = api.post(
        "/api/reactions",
        headers=auth,
        json={"account_id": "gz-tax-bureau", "rule_id": "gov-incumbent-continuity", "reaction": "done", "user": "bob"},
    )
    assert other.status_code == 403 and other.json() == {"detail": "user must be 'ann', whose token this is"}
    with ledger.transaction() as conn:
        assert conn.execute(sa.select(schema.tokens.c.token_sha256)).scalar_one() != token  # only its hash is kept


def test_login_form_needs_its_csrf_token(advisor, served, tmp_path):
    api, ledger = make_client(advisor, served, str(tmp_path / "l.sqlite"), auth=True)
    token = ledger.add_token("ann")
    assert api.get("/", follow_redirects=False).headers["location"] == "/login"
    form = api.get("/login")
    csrf = api.cookies.get(CSRF_COOKIE)
    assert csrf and f'value="{csrf}"' in form.text
    forged = api.post("/login", data={"token": token, "csrf": "guess"}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    signed_in = api.post("/login", data={"token": token, "csrf": csrf}, follow_redirects=False)
    assert signed_in.status_code == 303 and "samesite=strict" in signed_in.headers["set-cookie"].lower()
    assert "广州市税务局" in api.get("/").text
    assert api.get("/api/accounts").status_code == 200  # a GET may use the page's cookie
    assert react(api).status_code == 401  # a write needs the header


def test_only_local_host_names_on_loopback(advisor, served, tmp_path):
    api, _ = make_client(advisor, served, str(tmp_path / "l.sqlite"), hosts=(*LOCAL_NAMES, "testserver"))
    assert api.get("/api/reasons").status_code == 200
    assert api.get("/api/reasons", headers={"host": "[::1]:8000"}).status_code == 200
    assert api.get("/api/reasons", headers={"host": "localhost:8000"}).status_code == 200
    assert api.get("/api/reasons", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding


def test_profiles_cannot_escape_the_served_folder(tmp_path, capsys):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "a.yaml").symlink_to(ROOT / "profiles" / "gz-tax-bureau.yaml")
    code = main(["serve", str(folder), "--db", str(tmp_path / "l.sqlite")])
    err = capsys.readouterr().err
    assert (
        code == 2
        and err == f"{folder / 'a.yaml'}:1:1: error: links outside {folder}; serve the file it points to by name\n"
    )


def test_serve_refuses_other_hosts_without_tokens(tmp_path, capsys):
    db = str(tmp_path / "l.sqlite")
    code = main(["serve", str(ROOT / "profiles"), "--host", "0.0.0.0", "--db", db])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs tokens and the ledger has none; create one with `advisor token add USER --db" in err


def test_report_command_formats(tmp_path, capsys):
    db = str(tmp_path / "l.sqlite")
    Ledger.open(db).react(
        {"account_id": "acc", "rule_id": "rule-a", "reaction": "done", "reason": None, "note": None, "user": "ann",
         "brief_id": None, "stakeholder": None, "rules_hash": "abc", "course_items": "1.1.1.a"}, AT)  # fmt: skip
    assert main(["report", "--db", db, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"][0]["reactions"]["done"] == 1
    assert main(["report", "--db", db, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("rule,rule-a,1.1.1.a,0,0,0,0,1,0,0,,")
    assert main(["report", "--db", str(tmp_path / "no" / "l.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advisor report: error: ledger: cannot create ") and err.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_answers_over_http(tmp_path):
    """The real server, as the README starts it: accounts, a brief, a reaction, the report."""
    port = _free_port()
    db = tmp_path / "l.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "advisor",
        "serve",
        str(ROOT / "profiles"),
        "--db",
        str(db),
        "--port",
        str(port),
        "--today",
        "2026-12-01",
    ]
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # up to 30 s for the rules to load under a loaded machine
            try:
                with urllib.request.urlopen(base + "/api/accounts") as answer:
                    accounts = json.load(answer)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer")
        assert len(accounts) == 10
        with urllib.request.urlopen(base + "/api/accounts/gz-tax-bureau/brief?lang=zh") as answer:
            brief_id = answer.headers["X-Brief-Id"]
            assert answer.read().decode().startswith("# ")
        body = {
            "account_id": "gz-tax-bureau",
            "rule_id": "gov-incumbent-continuity",
            "reaction": "adopted",
            "user": "ann",
            "brief_id": brief_id,
        }
        request = urllib.request.Request(
            base + "/api/reactions", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 201 and json.load(answer)["brief_id"] == brief_id
        with urllib.request.urlopen(base + "/api/report") as answer:
            rules = {r["rule"]: r for r in json.load(answer)["rules"]}
        assert rules["gov-incumbent-continuity"]["reactions"]["adopted"] == 1
    finally:
        server.terminate()
        server.wait(30)


def test_serve_port_in_use_is_one_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", str(ROOT / "profiles"), "--db", str(tmp_path / "l.sqlite"), "--port", str(port)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"advisor serve: error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port or --host\n"
    )


def test_token_command_adds_lists_and_revokes(tmp_path, capsys):
    db = str(tmp_path / "l.sqlite")
    assert main(["token", "add", "ann", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    assert Ledger.open(db).user_of(token) == "ann"
    assert main(["token", "list", "--db", db]) == 0 and capsys.readouterr().out == "ann\n"
    assert main(["token", "revoke", "ann", "--db", db]) == 0
    assert Ledger.open(db).user_of(token) is None
    assert main(["token", "add", "--db", db]) == 2
    assert capsys.readouterr().err.endswith("advisor token: error: add needs a USER\n")
