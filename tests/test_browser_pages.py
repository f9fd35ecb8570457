"""The pages of `advisor serve` in a real browser, as a rep and a trainer use them: Playwright driving
Debian's Chromium against a real server (uvicorn on a free port of this machine), on a 360 px phone and
a desktop. Open the portfolio, open an account, reject a piece of advice with a reason, record the
visit, see the next brief change and the trainer report count the reaction; on every page no
sideways scrolling at 360 px, no request leaving the server, and no serious axe-core violation.

Like test_browser.py: in CI (CI=true) a missing browser or axe-core fails these tests, elsewhere
they are skipped. Screenshots go to build/screenshots/ (ADVISOR_ARTEFACTS).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import socket
import threading
import time

import pytest
from test_browser import ARTEFACTS, AXE, browser  # noqa: F401 - the browser fixture

from advisor.ledger.reasons import Reasons
from advisor.ledger.store import Ledger
from advisor.profile import load_profile
from advisor.serve.accounts import Served
from advisor.serve.app import create_app

from conftest import ROOT, missing

TAX = "gz-tax-bureau"
SIZES = {"phone": (360, 740), "desktop": (1280, 800)}
TODAY = dt.date(2026, 12, 1)

# What the page measures: how wide it is against its window.
WIDTH = "() => [Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), window.innerWidth]"
SERIOUS = (
    "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},"
    " resultTypes: ['violations']})).violations.filter(v => ['serious', 'critical'].includes(v.impact))"
    ".map(v => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"
)


@pytest.fixture
def server(advisor, tmp_path):
    """A real server on this machine over a copy of the shipped profiles and a new ledger: its base URL."""
    import uvicorn

    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    app = create_app(
        advisor,
        Served.load([tmp_path / "profiles"]),
        Ledger.open(str(tmp_path / "ledger.sqlite")),
        Reasons.load(ROOT / "templates"),
        today=TODAY,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    for _ in range(600):  # started, or failed to: never a fixed sleep that a slow machine outlasts
        if run.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert run.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", tmp_path / "profiles"
    run.should_exit = True
    thread.join(timeout=30)


def check(page, base: str, requests: list[str], name: str, width: int) -> list[str]:
    """What is wrong with the page on screen, one line each; and a screenshot of it."""
    found = []
    scroll, inner = page.evaluate(WIDTH)
    if scroll > inner:
        found.append(f"{name}: scrolls sideways: {scroll} px wide in a {inner} px window")
    found += [f"{name}: a request left the server: {url}" for url in requests if not url.startswith(base + "/")]
    if not AXE.is_file():
        missing(f"no axe-core at {AXE} (npm install axe-core)")
    # Evaluated, not added as a <script>: the pages' policy runs no script, rightly (and it is not a request).
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    found += [f"{name}: {v}" for v in page.evaluate(SERIOUS)]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"pages-{name}-{width}.png"))
    return found


def cadence_text(page) -> str:
    return page.locator("#cadence").inner_text()


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_browser_pages_rep_and_trainer_loop(browser, server, size):  # noqa: F811 - the imported fixture
    base, profiles = server
    width, height = SIZES[size]
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": width, "height": height})
    found: list[str] = []
    try:
        page.goto(f"{base}/?lang=zh")
        found += check(page, base, requests, "portfolio", width)
        page.click(f'a.name[href^="/accounts/{TAX}"]')
        page.wait_for_load_state()
        assert page.url.startswith(f"{base}/accounts/{TAX}")
        found += check(page, base, requests, "account", width)
        before = cadence_text(page)
        heading = page.locator("h1").inner_text()
        # Reject the first piece of advice, with a reason from the trainers' list.
        first = page.locator("details.react").first
        rule = first.locator('input[name="rule_id"]').get_attribute("value")
        first.locator("summary").click()
        first.locator('select[name="reason"]').select_option("wrong_time")
        first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTEFACTS / f"pages-account-form-{width}.png"))
        first.locator('button[value="rejected"]').click()
        page.wait_for_load_state()
        done = page.locator(f'details.react:has(input[name="rule_id"][value="{rule}"])').first
        assert done.get_attribute("data-reacted") == "rejected"
        assert "时机不对" in done.locator("summary").inner_text()
        found += check(page, base, requests, "account-reacted", width)
        # Record the visit: who came, what was agreed, a checklist item done.
        page.click(f'a[href^="/accounts/{TAX}/visit"]')
        page.wait_for_load_state()
        found += check(page, base, requests, "visit-form", width)
        page.fill("#date", "2026-12-01")
        page.check('input[name="with"][value="liu-min"]')
        page.fill("#agreed", "一季度试点")
        page.locator('input[name="done"]').first.check()
        page.click('button[type="submit"]')
        page.wait_for_load_state()
        assert page.url.startswith(f"{base}/accounts/{TAX}") and "saved=visit" in page.url
        assert page.locator(".notice").count() == 1
        # The next brief knows: no visit planned (an account brief now) and the cadence counts the visit.
        assert page.locator("h1").inner_text() != heading
        assert cadence_text(page) != before
        assert load_profile(profiles / f"{TAX}.yaml").interactions[-1].agreed == "一季度试点"
        # The trainer's report counts the rejection and its reason.
        page.click('a[href^="/trainer"]')
        page.wait_for_load_state()
        row = page.locator(f'#per-rule tr:has(a[href^="/trainer/rules/{rule}?"])')
        assert row.locator('td[data-label="已拒绝"]').inner_text().strip() == "1"
        assert "时机不对 (1)" in row.inner_text()
        found += check(page, base, requests, "trainer", width)
        page.goto(f"{base}/trainer?lang=en&industry=government")
        found += check(page, base, requests, "trainer-filtered", width)
        page.goto(f"{base}/accounts/{TAX}?lang=en&full=true")
        found += check(page, base, requests, "account-full", width)
        page.goto(f"{base}/trainer/rules/{rule}?lang=en&account={TAX}")
        found += check(page, base, requests, "rule", width)
        assert re.search(rf"{re.escape(rule)} .*(fired|quiet)", page.locator("pre.explain").inner_text())
    finally:
        page.close()
    assert not found, "\n".join(found)


def test_browser_pages_checks_catch_overflow_and_an_unlabelled_control(browser, server):  # noqa: F811
    """The checks can fail: a page forced wider than the phone, and a form field with no label, are named."""
    base, _ = server
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": 360, "height": 740})
    try:
        page.goto(f"{base}/")
        page.evaluate(  # through the DOM: the page's policy refuses a style attribute in markup
            "() => { const wide = document.createElement('div'); wide.textContent = 'wide'; wide.style.width = '900px';"
            " document.body.append(wide, document.createElement('select')); }"
        )
        found = check(page, base, requests, "broken", 360)
    finally:
        page.close()
    assert any("scrolls sideways" in f for f in found), found
    assert any("select-name" in f or "label" in f for f in found), found
