"""The HTML brief in a real browser, as a rep would open it: Playwright driving Debian's Chromium.

Every shipped profile, in both languages, at phone widths (320 and 390 px) and on a desktop: no
horizontal scrolling, every section present and in the Markdown's order, the map drawn with one box
per person and every name inside its box, body text at least 14 px, "at a glance" on a phone's first
screen, no request leaving the page; and axe-core (from npm) finds no WCAG A/AA violation, in light
and dark. Screenshots go to build/screenshots/ (ADVISOR_ARTEFACTS) for a person to look at.

The browser, Playwright and axe-core are installed by .ci/run; in CI (CI=true) a missing one fails
these tests, elsewhere it skips them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from htmlpage import markdown_items

from advisor.profile import load_profile

from conftest import ROOT, missing

SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
LANGS = ("en", "zh")
SIZES = ((320, 640), (390, 844), (1280, 800))
CHROMIUM = Path(os.environ.get("ADVISOR_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(os.environ.get("ADVISOR_AXE", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
ARTEFACTS = Path(os.environ.get("ADVISOR_ARTEFACTS", ROOT / "build" / "screenshots"))
# No network of any kind: the brief must not need it, and the machine may have none.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
MIN_TEXT_PX = 14


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile_dir, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile_dir, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def pages(advisor, tmp_path_factory):
    """Each shipped profile's HTML brief in each language, written once: {(stem, lang): path}."""
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for path in SHIPPED:
        for lang in LANGS:
            out[path.stem, lang] = folder / f"{path.stem}-{lang}.html"
            out[path.stem, lang].write_text(
                advisor.brief(load_profile(path), lang=lang, format="html"), encoding="utf-8"
            )
    return out


# What the page measures of itself, in one call: the numbers the checks below judge.
MEASURE = """(minPx) => {
  const root = document.documentElement;
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || el.closest('svg')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || !el.getClientRects().length) continue;
    const px = parseFloat(style.fontSize);
    if (px < minPx) small.push(`${el.tagName.toLowerCase()} ${px}px: ${node.textContent.trim().slice(0, 40)}`);
  }
  // Words broken across lines: what a column too narrow for its text does (one letter per line) when
  // overflow-wrap keeps it from overflowing. CJK text may break anywhere; a Latin word may not.
  const broken = [];
  // Text kept for screen readers only (a table head clipped to a pixel) is not read on the screen.
  const tiny = el => { for (let a = el; a; a = a.parentElement) if (a.getBoundingClientRect().width <= 2) return true; return false; };
  const cells = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = cells.nextNode(); node && broken.length < 5; node = cells.nextNode()) {
    if (node.parentElement.closest('svg') || !node.parentElement.getClientRects().length || tiny(node.parentElement)) continue;
    for (const m of node.textContent.matchAll(/[A-Za-z]{4,}/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) { broken.push(`${m[0]} in ${node.parentElement.tagName.toLowerCase()}`); break; }
    }
  }
  const svg = document.querySelector('svg.org-chart');
  const box = svg ? svg.getBoundingClientRect() : null;
  const outside = [...document.querySelectorAll('svg.org-chart g.node')].filter(g => {
    const rect = g.querySelector('rect').getBBox();
    return [...g.querySelectorAll('text')].some(t => { const b = t.getBBox(); return b.x < rect.x || b.x + b.width > rect.x + rect.width; });
  }).map(g => g.textContent);
  const glance = document.querySelector('#glance li, #glance p');
  return {
    scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth), innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    sections: [...document.querySelectorAll('main > section')].map(s => [s.id, s.querySelector('h2').textContent.trim(), s.getBoundingClientRect().height > 0]),
    map: box ? [box.width, box.height, getComputedStyle(svg).visibility] : null,
    nodes: document.querySelectorAll('svg.org-chart g.node').length,
    outside, small, broken,
    glanceTop: glance ? glance.getBoundingClientRect().top : null,
  };
}"""


def problems(m: dict, headings: list[str], people: int, phone: bool) -> list[str]:
    """What is wrong with a measured page, one line each (empty: nothing)."""
    out = []
    if m["scrollWidth"] > m["innerWidth"]:
        out.append(f"scrolls sideways: {m['scrollWidth']} px wide in a {m['innerWidth']} px window")
    if [h for _, h, _ in m["sections"]] != headings:
        out.append(f"sections {[h for _, h, _ in m['sections']]}, expected {headings}")
    out += [f"section {sid} is not shown" for sid, _, shown in m["sections"] if not shown]
    if people and (not m["map"] or m["map"][0] <= 0 or m["map"][1] <= 0 or m["map"][2] != "visible"):
        out.append(f"the map is not visible: {m['map']}")
    if m["nodes"] != people:
        out.append(f"the map has {m['nodes']} boxes for {people} people")
    out += [f"a name or title overflows its box: {text}" for text in m["outside"]]
    out += [f"text under {MIN_TEXT_PX} px: {s}" for s in m["small"]]
    out += [f"a word broken across lines (a column too narrow?): {word}" for word in m["broken"]]
    if phone and (m["glanceTop"] is None or m["glanceTop"] > m["innerHeight"]):
        out.append(f"'at a glance' starts at {m['glanceTop']} px, below the first screen ({m['innerHeight']} px)")
    return out


def open_page(browser, path: Path, width: int, height: int, *, scheme: str = "light"):
    """The page at that size, and the list of every request it makes (filled in as it loads)."""
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)
    page.goto(path.as_uri())
    return page, requests


def expected_headings(advisor, path: Path, lang: str) -> list[str]:
    return [h for h in markdown_items(advisor.brief(load_profile(path), lang=lang)) if h]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_browser_brief_reads_well_at_phone_and_desktop_sizes(browser, pages, advisor, path, lang, size):
    html = pages[path.stem, lang]
    page, requests = open_page(browser, html, *size)
    try:
        people = len(load_profile(path).stakeholders)
        headings = expected_headings(advisor, path, lang)
        found = problems(page.evaluate(MEASURE, MIN_TEXT_PX), headings, people, phone=size[0] == 390)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"{path.stem}-{lang}-{size[0]}.png"))
        # Every folded part opened, one tap each: what it holds fits too.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found += [f"opened: {p}" for p in problems(page.evaluate(MEASURE, MIN_TEXT_PX), headings, people, phone=False)]
        assert requests == [html.as_uri()], f"requests left the page: {requests[1:]}"
    finally:
        page.close()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_browser_axe_finds_no_wcag_aa_violation(browser, pages, path, lang, scheme):
    if not AXE.is_file():
        missing(f"no axe-core at {AXE} (npm install axe-core)")
    page, requests = open_page(browser, pages[path.stem, lang], 390, 844, scheme=scheme)
    try:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))  # inline: not a request
        result = page.evaluate(
            "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})).violations"
            ".map(v => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"
        )
    finally:
        page.close()
    assert result == [], "\n".join(result)


def test_browser_checks_catch_a_table_that_overflows_and_a_missing_section(browser, pages, advisor, tmp_path):
    """The checks can fail: a table forced wider than the phone, a table squeezed into the phone's
    width (its words broken letter by letter), and a section taken out are each named."""
    path = ROOT / "profiles" / "gz-tax-bureau.yaml"
    html = pages["gz-tax-bureau", "en"].read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    html = html.replace("</style>", "table{min-width:900px}</style>")
    start, end = html.index('<section id="gaps"'), html.index('<section id="cadence"')
    broken.write_text(html[:start] + html[end:], encoding="utf-8")
    page, _ = open_page(browser, broken, 390, 844)
    try:
        people = len(load_profile(path).stakeholders)
        found = problems(
            page.evaluate(MEASURE, MIN_TEXT_PX), expected_headings(advisor, path, "en"), people, phone=True
        )
    finally:
        page.close()
    assert any(p.startswith("scrolls sideways: ") for p in found), found
    assert any(p.startswith("sections [") for p in found), found
    squeezed = tmp_path / "squeezed.html"
    squeezed.write_text(
        html.replace("@media (max-width:40rem)", "@media (max-width:1px)").replace(
            "table{min-width:900px}", "th,td{overflow-wrap:anywhere}"
        ),
        encoding="utf-8",
    )
    page, _ = open_page(browser, squeezed, 390, 844)
    try:
        found = problems(
            page.evaluate(MEASURE, MIN_TEXT_PX), expected_headings(advisor, path, "en"), people, phone=True
        )
    finally:
        page.close()
    assert any(p.startswith("a word broken across lines") for p in found), found
