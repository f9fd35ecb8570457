"""The pages of `advisor serve` (no browser: test_browser.py drives them in Chromium): portfolio search
and order, the account page's reaction forms, the after-visit form writing the profile and the ledger,
and the trainer report counting what reps did."""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import hashlib
import re
import shutil
import typing
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from advisor.ledger import schema
from advisor.ledger.reasons import Reasons
from advisor.ledger.store import Ledger
from advisor.profile import InteractionKind, load_profile
from advisor.serve.accounts import Served
from advisor.serve.app import create_app
from advisor.serve.site import ATTENTION, CSRF_COOKIE, TOKEN_COOKIE
from advisor.serve.words import WORDS
from advisor.vocabulary import LANGS, REACTIONS

from conftest import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TODAY = dt.date(2026, 12, 1)
TAX = "gz-tax-bureau"


@pytest.fixture
def site(advisor, tmp_path):
    """The pages over a copy of the shipped profiles (the after-visit form writes them) and a new ledger."""
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    served = Served.load([tmp_path / "profiles"])
    ledger = Ledger.open(str(tmp_path / "ledger.sqlite"))
    app = create_app(advisor, served, ledger, Reasons.load(ROOT / "templates"), today=TODAY)
    return TestClient(app), ledger, tmp_path / "profiles"


def fields(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', html)


def test_pages_words_cover_every_vocabulary_in_every_language():
    assert set(WORDS) == set(LANGS)
    keys = {lang: set(w) for lang, w in WORDS.items()}
    assert keys["en"] == keys["zh"]
    for w in WORDS.values():
        assert set(w["reactions"]) == set(w["reacted"]) == set(REACTIONS)
        assert set(w["kinds"]) == set(typing.get_args(InteractionKind))
        assert set(w["flags"]) == set(ATTENTION)
    assert list(WORDS["zh"]["reactions"].values()) == ["采纳", "已完成", "不适用", "拒绝"]


def test_pages_portfolio_searches_and_puts_attention_first(site):
    client, _, _ = site
    page = client.get("/").text
    names = re.findall(r'class="name" href="/accounts/([^"?]+)', page)
    assert sorted(names) == sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml"))
    items = {a["id"]: a for a in client.get("/api/accounts").json()}
    weights = [sum(ATTENTION[f] for f in items[n]["flags"]) for n in names]
    assert weights == sorted(weights, reverse=True), weights
    found = client.get("/", params={"q": "税务"}).text
    assert re.findall(r'class="name" href="/accounts/([^"?]+)', found) == [TAX]
    assert "没有匹配的客户" in client.get("/", params={"q": "zzz-none", "lang": "zh"}).text


def test_pages_account_page_has_a_form_on_every_shown_piece_of_advice(site, advisor):
    client, ledger, folder = site
    answer = client.get(f"/accounts/{TAX}", params={"lang": "zh"})
    assert answer.status_code == 200
    html = answer.text
    brief = advisor.prepare(advisor.evaluate(load_profile(folder / f"{TAX}.yaml"), TODAY), "zh")
    shown = advisor.selection(brief).shown_ids()
    in_full = [r for r in brief.recommendations if id(r) in shown]
    assert len(fields(html, "rule_id")) >= len(in_full) > 0
    assert {r.rule_id for r in in_full} <= set(fields(html, "rule_id"))
    for label in ("采纳", "已完成", "不适用", "拒绝"):
        assert html.count(f">{label}</button>") == len(fields(html, "rule_id"))
    # The brief's one inline stylesheet is allowed by its hash, and nothing else is.
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in answer.headers["content-security-policy"]
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    with ledger.transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.impressions)).scalar_one() > 0
    full = client.get(f"/accounts/{TAX}", params={"full": "true"}).text
    assert len(fields(full, "rule_id")) >= len(fields(html, "rule_id"))


def test_pages_reaction_with_reason_is_stored_and_shown_as_done(site):
    client, ledger, _ = site
    html = client.get(f"/accounts/{TAX}").text
    rule, brief_id = fields(html, "rule_id")[0], fields(html, "brief_id")[0]
    form = {"csrf": client.cookies[CSRF_COOKIE], "rule_id": rule, "stakeholder": "", "brief_id": brief_id, "lang": "en"}
    refused = client.post(f"/accounts/{TAX}/reactions", data={**form, "reaction": "rejected", "reason": ""})
    assert refused.status_code == 422 and "needs a reason" in refused.text
    assert ledger.reactions_of(TAX) == {}
    sent = client.post(
        f"/accounts/{TAX}/reactions",
        data={**form, "reaction": "rejected", "reason": "compliance"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/accounts/{TAX}?lang=en&saved=reaction"
    stored = ledger.reactions_of(TAX)[rule, None]
    assert stored["reaction"] == "rejected" and stored["reason"] == "compliance" and stored["brief_id"] == brief_id
    after = client.get(sent.headers["location"]).text
    assert 'data-reacted="rejected"><summary>✓ Rejected · compliance</summary>' in after and "Saved." in after


def test_pages_forms_need_the_csrf_token(site):
    client, ledger, folder = site
    client.get(f"/accounts/{TAX}")
    before = (folder / f"{TAX}.yaml").read_bytes()
    for path, data in (
        (f"/accounts/{TAX}/reactions", {"rule_id": "x", "reaction": "adopted"}),
        (f"/accounts/{TAX}/visit", {"date": "2026-12-01"}),
    ):
        for token in ("", "forged"):
            answer = client.post(path, data={**data, "csrf": token})
            assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]
    assert ledger.reactions_of(TAX) == {} and (folder / f"{TAX}.yaml").read_bytes() == before


def test_pages_after_visit_writes_the_profile_and_the_ledger(site, advisor):
    client, ledger, folder = site

    def facts() -> dict:
        return advisor.evaluate(load_profile(folder / f"{TAX}.yaml"), TODAY).about("stakeholder", "liu-min")

    counted = facts()
    before_heading = client.get(f"/accounts/{TAX}").text.split("<h1>")[1]
    form_page = client.get(f"/accounts/{TAX}/visit").text
    done = fields(form_page, "done")
    assert done and fields(form_page, "brief_id")
    brief_id = fields(form_page, "brief_id")[0]
    path = folder / f"{TAX}.yaml"
    before = path.read_text(encoding="utf-8")
    sent = client.post(f"/accounts/{TAX}/visit", data={
        "csrf": client.cookies[CSRF_COOKIE], "brief_id": brief_id, "lang": "en", "date": "2026-12-01",
        "with": ["liu-min", "zhou-hai"], "kind": "visit", "form": "site visit", "agreed": "pilot in Q1",
        "done": done[:1], "note": "", "next_date": "", "next_objective": "",
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    after = path.read_text(encoding="utf-8")
    profile = load_profile(path)
    assert profile.visit is None and profile.interactions[-1].agreed == "pilot in Q1"
    changes = [
        op
        for op in difflib.SequenceMatcher(None, before.splitlines(True), after.splitlines(True)).get_opcodes()
        if op[0] != "equal"
    ]
    old, new = before.splitlines(True), after.splitlines(True)
    assert [(tag, "".join(old[i1:i2]), "".join(new[j1:j2])) for tag, i1, i2, j1, j2 in changes] == [
        (
            "insert",
            "",
            "  - date: 2026-12-01\n    kind: visit\n    with: [liu-min, zhou-hai]\n    form: site visit\n    agreed: pilot in Q1\n",
        ),
        (
            "delete",
            "visit:\n  date: 2026-12-01\n  objective: 汇报专线中断整改结果，争取电子发票平台扩容项目的网络部分\n  attendees: [liu-min, zhou-hai]\n",
            "",
        ),
    ]  # every other byte as it was
    [visit] = ledger.visits_of(TAX)
    assert visit["brief_id"] == brief_id and visit["attendees"] == "liu-min zhou-hai" and visit["next_visit"] is None
    rule = done[0].split("|")[0]
    assert (
        visit["checklist_done"] == rule
        and ledger.reactions_of(TAX)[rule, done[0].split("|")[1] or None]["reaction"] == "done"
    )
    # The next brief knows: the visit counts as contact, and none is planned any more (an account brief).
    now = facts()
    assert now["account.contacts_90d"] == counted["account.contacts_90d"] + 1 and now["account.days_since_contact"] == 0
    assert now["stakeholder.contacts_90d"] == counted["stakeholder.contacts_90d"] + 1 and not now["account.has_visit"]
    heading = client.get(f"/accounts/{TAX}").text.split("<h1>")[1].split("</h1>")[0]
    assert heading.startswith("Account brief") and "Pre-visit brief" in before_heading


def test_pages_after_visit_with_a_next_visit_replaces_it(site):
    client, _, folder = site
    client.get(f"/accounts/{TAX}/visit")
    sent = client.post(f"/accounts/{TAX}/visit", data={
        "csrf": client.cookies[CSRF_COOKIE], "lang": "zh", "date": "2026-12-01", "kind": "call",
        "next_date": "2027-01-20", "next_objective": "签署续约", "next_purpose": "renewal", "next_with": ["liu-min"],
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    visit = load_profile(folder / f"{TAX}.yaml").visit
    assert visit is not None and visit.date == dt.date(2027, 1, 20) and visit.attendees == ["liu-min"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"date": "not a date"}, "date: Input should be a valid date"),
        ({"date": "2026-12-01", "with": ["nobody"]}, "unknown stakeholder 'nobody'"),
        ({"date": "2026-12-01", "next_date": "2026-01-01", "next_objective": "x"}, "dated before the last interaction"),
        ({"date": "2026-12-01", "next_date": "2027-01-01"}, "next visit: objective"),
        ({"date": "2026-12-01", "done": ["no-such-rule|"]}, "unknown rule 'no-such-rule'"),
    ],
    ids=["bad-date", "unknown-person", "next-before-last", "next-without-objective", "unknown-rule"],
)
def test_pages_after_visit_bad_form_says_why_and_writes_nothing(site, data, message):
    client, ledger, folder = site
    client.get(f"/accounts/{TAX}/visit")
    before = (folder / f"{TAX}.yaml").read_bytes()
    answer = client.post(f"/accounts/{TAX}/visit", data={"csrf": client.cookies[CSRF_COOKIE], **data})
    assert answer.status_code == 422
    [error] = re.findall(r'role="alert">([^<]*)<', answer.text)
    assert message in error.replace("&#39;", "'"), error
    assert (folder / f"{TAX}.yaml").read_bytes() == before and ledger.visits_of(TAX) == []


def test_pages_trainer_report_counts_reactions_and_filters(site, advisor):
    client, _, _ = site
    html = client.get(f"/accounts/{TAX}").text
    rule = fields(html, "rule_id")[0]
    form = {"csrf": client.cookies[CSRF_COOKIE], "rule_id": rule, "stakeholder": "", "lang": "en"}
    client.post(f"/accounts/{TAX}/reactions", data={**form, "reaction": "not_applicable", "reason": "wrong_time"})
    report = client.get("/trainer").text
    row = re.search(
        rf'<tr[^>]*><td data-label="Rule"><a href="/trainer/rules/{rule}\?lang=en">.*?</tr>', report, re.S
    ).group(0)
    assert '<td data-label="Not applicable">1</td>' in row and "not the right time (1)" in row
    loaded = advisor.base.by_id()[rule]
    assert f"#L{loaded.line}" in row and f":{loaded.line}</code>" in row
    other = client.get("/trainer", params={"industry": "finance"}).text
    assert f'/trainer/rules/{rule}?lang=en">{rule}</a></td>' not in other
    page = client.get(f"/trainer/rules/{rule}", params={"account": TAX})
    assert page.status_code == 200 and f'id="L{loaded.line}" class="here"' in page.text
    assert re.search(
        rf'<pre class="explain"[^>]*>{re.escape(rule)}  \(rules/[a-z_/-]+\.yaml:{loaded.line}\)  (fired|quiet)',
        page.text,
    )
    assert client.get("/trainer/rules/no-such-rule").status_code == 404


def test_pages_two_after_visit_forms_at_once_lose_neither(site):
    client, ledger, folder = site
    app = client.app

    def send(n: int) -> int:
        with TestClient(app) as own:
            own.cookies.set(CSRF_COOKIE, f"token-{n}")
            form = {"csrf": f"token-{n}", "date": "2026-12-01", "kind": "call", "form": f"call {n}"}
            return own.post(f"/accounts/{TAX}/visit", data=form, follow_redirects=False).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(send, range(6))) == [303] * 6
    forms = [i.form for i in load_profile(folder / f"{TAX}.yaml").interactions if i.form.startswith("call ")]
    assert sorted(forms) == [f"call {n}" for n in range(6)] and len(ledger.visits_of(TAX)) == 6


def test_pages_beyond_this_machine_need_a_signed_in_user(advisor, tmp_path):
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    ledger = Ledger.open(str(tmp_path / "ledger.sqlite"))
    served = Served.load([tmp_path / "profiles"])
    client = TestClient(create_app(advisor, served, ledger, Reasons.load(ROOT / "templates"), today=TODAY, auth=True))
    for path in ("/", f"/accounts/{TAX}", f"/accounts/{TAX}/visit", "/trainer", "/trainer/rules/x"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    client.cookies.set(CSRF_COOKIE, "t")
    form = {"csrf": "t", "rule_id": "gov-incumbent-continuity", "reaction": "adopted"}
    assert client.post(f"/accounts/{TAX}/reactions", data=form).status_code == 401
    client.cookies.set(TOKEN_COOKIE, ledger.add_token("ann"))
    assert client.post(f"/accounts/{TAX}/reactions", data=form, follow_redirects=False).status_code == 303
    assert ledger.reactions_of(TAX)["gov-incumbent-continuity", None]["user"] == "ann"


def test_pages_trainer_report_filters_by_rule_file(site, advisor):
    client, _, _ = site
    client.get(f"/accounts/{TAX}")
    shown = re.findall(r'<td data-label="File"><a href="[^"]*"><code>([^<:]+):\d+</code>', client.get("/trainer").text)
    assert len(set(shown)) > 1
    only = re.findall(
        r'<td data-label="File"><a href="[^"]*"><code>([^<:]+):\d+</code>',
        client.get("/trainer", params={"file": shown[0]}).text,
    )
    assert only and set(only) == {shown[0]}


def test_pages_after_visit_on_a_profile_broken_since_the_start_writes_nothing(site):
    client, ledger, folder = site
    client.get(f"/accounts/{TAX}/visit")
    path = folder / f"{TAX}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "interactions: [oops\n", encoding="utf-8")
    before = path.read_bytes()
    form = {"csrf": client.cookies[CSRF_COOKIE], "date": "2026-12-01", "kind": "call"}
    answer = client.post(f"/accounts/{TAX}/visit", data=form)
    assert answer.status_code == 500 and "\n" not in answer.json()["detail"]
    assert answer.json()["detail"].startswith(f"{path}:") and "invalid YAML" in answer.json()["detail"]
    assert path.read_bytes() == before and ledger.visits_of(TAX) == []
