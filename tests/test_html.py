"""The HTML brief without a browser: one self-contained file, the Markdown's content (shown and folded),
profile text inert, the template under the same sandbox, labels and --templates as the Markdown one."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest
import yaml
from htmlpage import markdown_items, read
from test_hostile import plain_twin

from advisor.cli import main
from advisor.profile import load_profile

from conftest import FIXTURES, ROOT

SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
LANGS = ("en", "zh")
# Sections whose Markdown lines are not advice: the people's summary lines, the people table, provenance.
NOT_ADVICE = {"people", "map", "why"}


def html_of(advisor, path, lang="en", **kwargs) -> str:
    return advisor.brief(load_profile(path), lang=lang, format="html", **kwargs)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_html_says_what_the_markdown_says_and_folds_what_full_adds(advisor, path, lang):
    """Section by section, the advice the HTML shows is the Markdown brief's, in its order; what it folds
    away is what `--full` adds; and its sections are the Markdown's, in the same order."""
    page = read(html_of(advisor, path, lang))
    markdown = advisor.brief(load_profile(path), lang=lang)
    lines = markdown_items(markdown)
    assert [h for _, h in page.sections] == [h for h in lines if h]
    for sid, heading in page.sections:
        if sid in NOT_ADVICE:
            continue
        shown = [text for s, text in page.advice if s == sid]
        expected = [line for line in lines[heading] if not line.startswith("|") or sid == "cadence"]
        assert len(shown) == len(expected), (heading, shown, expected)
        for text, line in zip(shown, expected, strict=True):
            assert text in line, (heading, text, line)
    full = read(html_of(advisor, path, lang, full=True))
    assert not full.folded, "a --full brief folds nothing away"
    assert Counter(page.advice + page.folded) == Counter(full.advice)
    more = re.findall(r"^\+ (\d+) more|^另有(\d+)条", markdown, re.MULTILINE)  # the Markdown's "+ 3 more" lines
    assert len(page.folded) == sum(int(en or zh) for en, zh in more)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_html_is_one_self_contained_file_and_the_same_bytes_every_time(advisor, path):
    html = html_of(advisor, path)
    assert html == html_of(advisor, path)
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert html_of(advisor, path, "zh").startswith('<!DOCTYPE html>\n<html lang="zh-Hans">')
    for fetching in ("<script", "<link", "<img", "<iframe", "src=", "@import", "http://", "https://"):
        assert fetching not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), fetching
    assert re.findall(r"url\(([^)]*)\)", html) == ["#arrow"] * html.count('class="reports"'), "only the map's own arrow"
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count('<g class="node') == len(load_profile(path).stakeholders)


@pytest.mark.parametrize("name", ["jinja-text", "markdown-html-text", "unicode-text"])
def test_html_hostile_text_cannot_change_the_structure_of_the_page(name, advisor, tmp_path):
    """As for Markdown (test_hostile): the same profile with plain words everywhere gives the same tags."""
    data = yaml.safe_load((FIXTURES / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))
    if data.get("visit"):
        data["visit"]["purpose"] = "relationship"
    path, twin = tmp_path / "hostile.yaml", tmp_path / "twin.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    twin.write_text(yaml.safe_dump(plain_twin(data)), encoding="utf-8")
    hostile, plain = read(html_of(advisor, path)), read(html_of(advisor, twin))
    assert hostile.tags == plain.tags
    assert len(hostile.advice) == len(plain.advice) and len(hostile.folded) == len(plain.folded)


def test_html_markup_scripts_and_links_from_a_profile_stay_text(advisor):
    html = html_of(advisor, FIXTURES / "profiles" / "markdown-html-text.yaml")
    for raw in ("<script", "<img", "<iframe", "<b>", 'href="javascript'):  # text may say javascript:, never link it
        assert raw not in html.lower(), raw
    assert html.count("<style>") == 1 and html.count("</style>") == 1
    page = read(html)
    text = "".join(page.texts)
    assert "<script>alert('x')</script> Clerk" in text  # shown as written, as text
    assert "# Heading | extra | cells <script>alert(1)</script>" in text
    heads = re.findall(r"<h1>(.*?)</h1>", html)
    assert heads == ["Pre-visit brief: # Heading | extra | cells &lt;script&gt;alert(1)&lt;/script&gt;"]


def test_html_links_in_profile_text_are_never_links(advisor, tmp_path):
    data = yaml.safe_load((ROOT / "profiles" / "gz-tax-bureau.yaml").read_text(encoding="utf-8"))
    data["account"]["name"] = "Evil https://evil.example/x www.evil.example mail@evil.example"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    html = html_of(advisor, path)
    for linkable in ("https://evil", "www.evil", "mail@evil"):
        assert linkable not in html, linkable
    assert "Evil https&#58;//evil.example/x www&#46;evil.example mail&#64;evil.example" in html


def test_html_bidi_overrides_and_template_syntax_stay_inert(advisor):
    html = html_of(advisor, FIXTURES / "profiles" / "unicode-text.yaml")
    assert not any(c in html for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    html = html_of(advisor, FIXTURES / "profiles" / "jinja-text.yaml")
    assert "1337" not in html and "{{ 7*191 }} Holdings" in html


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_html_template_follows_templates_and_its_errors_are_positioned(tmp_path, capsys):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    page = templates / "brief.html.j2"
    page.write_text(page.read_text("utf-8").replace("<h1>{{ title }}</h1>", "<h1>Custom {{ title }}</h1>"), "utf-8")
    profile = ROOT / "profiles" / "gz-tax-bureau.yaml"
    code, out, _ = run(capsys, "brief", profile, "--format", "html", "--templates", templates)
    assert code == 0 and "<h1>Custom Pre-visit brief:" in out
    text = page.read_text("utf-8")
    page.write_text(text.replace("{% for p in people %}", "{% for p in peple %}"), "utf-8")
    line = next(n for n, s in enumerate(page.read_text("utf-8").splitlines(), 1) if "peple" in s)
    code, out, err = run(capsys, "brief", profile, "--format", "html", "--templates", templates)
    assert (code, out) == (1, "")
    assert (
        err
        == f"{page}:{line}:1: error: undefined 'peple'; check the spelling against the brief's data (see labels.yaml and the template)\n"
    )
    page.write_text(text.replace("{% endfor %}", "", 1), "utf-8")
    code, _, err = run(capsys, "brief", profile, "--format", "html", "--templates", templates)
    assert code == 1 and err.startswith(f"{page}:") and "template syntax" in err and len(err.splitlines()) == 1
    page.write_text("{% for i in range(99999) %}{% for j in range(99999) %}{{ j }}{% endfor %}{% endfor %}", "utf-8")
    code, _, err = run(capsys, "brief", profile, "--format", "html", "--templates", templates)
    assert code == 1 and "template limit" in err and len(err.splitlines()) == 1
    page.unlink()  # a folder copied before HTML existed: Markdown still works, HTML says what to do
    assert run(capsys, "brief", profile, "--templates", templates)[0] == 0
    code, _, err = run(capsys, "brief", profile, "--format", "html", "--templates", templates)
    assert code == 2
    assert (
        err
        == f"{page}:1:1: error: template not found; copy it from the shipped templates folder to make HTML and PDF briefs\n"
    )


def test_html_labels_are_checked_in_both_languages(tmp_path, capsys):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    labels = templates / "labels.yaml"
    labels.write_text(labels.read_text("utf-8").replace("    people_table: 全部人员\n", ""), "utf-8")
    code, _, err = run(
        capsys, "brief", ROOT / "profiles" / "gz-tax-bureau.yaml", "--format", "html", "--templates", templates
    )
    assert code == 1
    assert "label 'html.people_table' has no zh translation; add it under zh" in err


def test_html_batch_writes_html_beside_markdown(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "batch", ROOT / "profiles" / "gz-tax-bureau.yaml", "-o", out, "--format", "markdown,html", "--quiet"
    )
    assert code == 0, err
    html = (out / "briefs" / "gz-tax-bureau.html").read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and (out / "briefs" / "gz-tax-bureau.md").is_file()
