"""The render stage's shortcuts give exactly what the long way gives, and the sandbox and the
compiled-template cache stay safe: escaping fast paths, advice filling, the sandbox's dict and
str.format shortcuts, and the cache's invalidation, file names and failure modes."""

from __future__ import annotations

import os
import random
import re
import shutil
import stat
from pathlib import Path

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup
from strategies import SETTINGS

from advisor import __version__, templating
from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.escape import md, mermaid_text, plain
from advisor.profile import load_profile
from advisor.render import BRIEF_TEMPLATE, HTML_TEMPLATE, LABELS_FILE, Templates
from advisor.rules import fill_parts, split_say
from advisor.selection import choose
from advisor.view import markdown_view

from conftest import ROOT

# --- escaping: the fast paths return what the full work returns -----------------------------------

_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def plain_reference(text: object) -> str:
    return " ".join(str(text).translate(_BIDI).split())


def md_reference(text: object) -> str:
    s = re.sub(r"([\\`*_\[\]{}#|!~])", r"\\\1", plain_reference(text))
    return s.replace("<", "&lt;").replace(">", "&gt;")


def mermaid_reference(text: object) -> str:
    s = plain_reference(text)
    for ch, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;"), ("|", "#124;"),
                       ("{", "#123;"), ("}", "#125;"), ("[", "#91;"), ("]", "#93;")):  # fmt: skip
        s = s.replace(ch, entity)
    return s


TRICKY = "ab 王\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000\\`*_[]{}#|!~<>&\"'"
TRICKY += "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff"


@SETTINGS
@given(st.text(alphabet=TRICKY, max_size=12) | st.text(max_size=12))
def test_render_escaping_fast_paths_match_the_full_escaping(text):
    assert plain(text) == plain_reference(text)
    assert md(text) == md_reference(text)
    assert mermaid_text(text) == mermaid_reference(text)


def test_render_escaping_of_non_text_values():
    for value in (7, 2.5, None, ["a b", "c"]):
        assert md(value) == md_reference(value) and plain(value) == plain_reference(value)


# --- filling advice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, parts",
    [
        ("no placeholders", ("no placeholders",)),
        ("{a.b}", ("", "a.b", "")),
        ("Call {stakeholder.name} about {{budget}} {x}.", ("Call ", "stakeholder.name", " about {budget} ", "x", ".")),
        ("{}{{}}", ("", "", "{}")),
        ("}} {{ {a} }", ("} { ", "a", " }")),
    ],
)
def test_render_split_say_alternates_literal_text_and_names(text, parts):
    assert split_say(text) == parts


def test_render_fill_quotes_values_and_marks_unknown_ones():
    values = {"a": "x*y", "n": 3.0, "f": 2.5, "none": None}
    text = "{a} {n} {f} {none} {missing} {{a}}"
    assert fill_parts(split_say(text), values) == "x*y 3 2.5 ? ? {a}"
    assert fill_parts(split_say(text), values, md) == "x\\*y 3 2.5 ? ? {a}"


# --- the sandbox's shortcuts --------------------------------------------------------------------------

VIEW = {
    "L": {"kv": "{k}: {v}", "title": "T", "values": {"a": 1}, "items": "key named items"},
    "p": {"name": "Wang"},
    "d": {"format": "<{x}>".format},  # a key named `format`: what `d.format(…)` calls
    "m": Markup("<b>{x}</b>"),  # a str of another type: its own format
}


def both(source: str, **view):
    """What the stock sandbox and ours make of a template (or the exception type each raised)."""
    out = []
    for env in (SandboxedEnvironment(undefined=jinja2.StrictUndefined), templating.environment(ROOT, {}, cache=False)):
        try:
            out.append(env.from_string(source).render(**view))
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            out.append(type(exc))
    return out


@pytest.mark.parametrize(
    "source",
    [
        "{{ L.title }} {{ L.values.a }} {{ p.name }}",
        "{{ L.items }}",  # a dict method wins over a key of the same name, as in stock Jinja
        "{{ L.values is mapping }} {{ L.get('title') }} {{ L.keys() | list }}",
        "{{ L.kv.format(k='Level', v=p.name) }}",
        "{{ '{0} and {1!r} {n:>5}'.format('a', 'b', n=3) }}",
        "{{ L.missing }}",
        "{{ L.kv.format(k=1) }}",
        "{{ '{0.__class__}'.format(p) }}",
        "{{ '{x.__class__.__mro__}'.format(x='') }}",
        "{{ '{0[name]}'.format(p) }}",
        "{{ '{0:{1.__class__}}'.format(1, p) }}",
        "{{ '{x}'.format_map({'x': 1}) }}",
        "{{ L.__class__ }}",
        "{{ p.__init__.__globals__ }}",
        # in a loop and a macro, where the compiled code passes Jinja's own arguments to every call
        "{% for x in [1, 2] %}{{ L.kv.format(k=x, v=loop.index) }}{{ '{}'.format(x) }}{% endfor %}",
        "{% for x in [1] %}{{ '{_loop_vars}'.format() }}{% endfor %}",
        "{% macro m(a) %}{{ L.kv.format(k=a, v=caller is defined) }}{% endmacro %}{{ m(1) }}",
        "{{ L.kv.format('a', k=1, v=2, extra=3) }}",
        # `x.format(…)` where x is no str, or is missing (looked up before the arguments are worked out)
        "{{ d.format(x=1) }} {{ m.format(x='<i>') }}",
        "{{ L.values.format(1) }}",
        "{{ L.missing.format(1) }}",
        "{{ L.missing.format(L.other) }}",
        "{% block b %}{{ L.kv.format(k=1, v=2) }}{% endblock %}",
        # a template's macros, called straight (Sandbox.call): defaults, keywords, loops, callers, varargs, mistakes
        "{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=3) }}"
        "{% for x in [1, 2] %}{{ m(x, b=loop.index) }}{% endfor %}",
        "{% macro m() %}{{ varargs }} {{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
        "{% macro m(a) %}{{ caller(a) }}{% endmacro %}{% call(x) m(5) %}[{{ x }}]{% endcall %}",
        "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
        "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(z=1) }}",
        "{% macro m(a) %}{{ a }}{% endmacro %}{{ m() }}",
    ],
)
def test_render_sandbox_shortcuts_change_no_result(source):
    stock, ours = both(source, **VIEW)
    assert ours == stock


def test_render_sandbox_still_refuses_unsafe_format_fields():
    env = templating.environment(ROOT, {}, cache=False)
    for source in ("{{ '{0.__class__}'.format(p) }}", "{{ '{0:{1.__class__}}'.format(1, p) }}"):
        with pytest.raises(SecurityError):
            env.from_string(source).render(p="x")


# --- the budget: one per render, spent through includes, blocks, macros and their callers ------------

# Each of these runs loop.j2 (two loops of n items) twice: within one budget, over MAX_STEPS.
TWICE = {
    "include": "{% include 'loop.j2' %}{% include 'loop.j2' %}",
    "import-with-context": "{% import 'macros.j2' as m with context %}{{ m.loop() }}{{ m.loop() }}",
    "extends-blocks": "{% extends 'base.j2' %}{% block a %}{% include 'loop.j2' %}{% endblock %}",
    "caller": "{% macro twice() %}{{ caller() }}{{ caller() }}{% endmacro %}"
    "{% call twice() %}{% include 'loop.j2' %}{% endcall %}",
}


@pytest.mark.parametrize("name", list(TWICE))
def test_render_budget_is_spent_through_every_kind_of_template_code(tmp_path, name):
    loop = "{% for i in range(n) %}{% endfor %}"
    (tmp_path / "loop.j2").write_text(loop + loop, encoding="utf-8")
    (tmp_path / "macros.j2").write_text("{% macro loop() %}{% include 'loop.j2' %}{% endmacro %}", encoding="utf-8")
    (tmp_path / "base.j2").write_text("{% block a %}{% endblock %}{{ self.a() }}", encoding="utf-8")
    (tmp_path / "t.j2").write_text(TWICE[name], encoding="utf-8")
    template = templating.environment(tmp_path, {}, cache=False).get_template("t.j2")
    budget = templating.Budget()
    with pytest.raises(templating.TemplateLimit, match="more than 250,000 loop steps"):
        template.render(n=70_000, **{templating.BUDGET: budget})  # 280,000 items in all; 140,000 in one half
    assert budget.steps == templating.MAX_STEPS + 1
    small = templating.Budget()
    template.render(n=10, **{templating.BUDGET: small})
    assert 40 <= small.steps < 60


def test_render_budget_counts_the_text_written(tmp_path):
    (tmp_path / "t.j2").write_text("ab{{ x }}{% for i in [1, 2] %}c{{ i }}{% endfor %}", encoding="utf-8")
    budget = templating.Budget()
    text = (
        templating.environment(tmp_path, {}, cache=False)
        .get_template("t.j2")
        .render(x=123, **{templating.BUDGET: budget})
    )
    assert text == "ab123c1c2" and budget.output == len(text)
    # "ab{{ x }}": a statement and an output; then two items, each a statement "c{{ i }}" and an output
    assert budget.steps == 2 + 2 * 3


def test_render_budget_counts_a_long_statement_a_chunk_at_a_time(tmp_path):
    """A statement of many `{{ … }}` is counted every OUTPUT_CHUNK of them: what it makes before the
    budget refuses it is a chunk's worth, never the whole statement's."""
    n = templating.OUTPUT_CHUNK * 2 + 3
    (tmp_path / "t.j2").write_text("-".join(["{{ s }}"] * n), encoding="utf-8")
    template = templating.environment(tmp_path, {}, cache=False).get_template("t.j2")
    budget = templating.Budget()
    assert template.render(s="ab", **{templating.BUDGET: budget}) == "-".join(["ab"] * n)
    assert (budget.steps, budget.output) == (3 + n, 3 * n - 1)  # three chunks, each a step, and a step per value
    budget = templating.Budget()
    with pytest.raises(templating.TemplateLimit, match="writes more than 10,000,000 characters"):
        template.render(s="x" * 1_000_000, **{templating.BUDGET: budget})
    assert budget.output == templating.OUTPUT_CHUNK * 1_000_001  # the first chunk (values and dashes), refused


# --- the compiled-template cache ---------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private cache folder for this test (the real one is left alone)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "advisor" / "templates"


def templates_copy(path: Path, change: tuple[str, str] | None = None) -> Path:
    """The shipped templates without the HTML brief's (a folder made before it existed), so that the
    cache holds one entry per Markdown template to count; test_html covers the HTML template."""
    shutil.copytree(ROOT / "templates", path, ignore=shutil.ignore_patterns(HTML_TEMPLATE))
    if change:
        brief = path / BRIEF_TEMPLATE
        text = brief.read_text(encoding="utf-8")
        assert change[0] in text
        brief.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    return path


def view(templates: Templates, advisor, lang: str = "en") -> dict:
    """The shipped profile's view, as Advisor.render builds it, for these templates' labels."""
    evaluation = advisor.evaluate(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml"))
    brief = advisor.prepare(evaluation, lang)
    shown = choose(brief, templates.labels["limits"], md)
    return markdown_view(brief, shown, templates.labels, advisor.why_rows, version=__version__, digest=advisor.digest)


def test_render_why_rows_kept_by_the_advisor_match_rows_worked_out_afresh(advisor):
    """One Advisor's WhyRows serves both languages and any title separator without mixing them up."""
    import copy

    from advisor.view import WhyRows

    evaluation = advisor.evaluate(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml"))
    labels = copy.deepcopy(advisor.templates.labels)
    kept = WhyRows(advisor.course)
    for lang in ("en", "zh", "en"):
        for sep in (labels[lang]["title_sep"], " // "):
            labels[lang]["title_sep"] = sep
            brief = advisor.prepare(evaluation, lang)
            shown = choose(brief, labels["limits"], md)
            stamp = {"version": __version__, "digest": advisor.digest}
            with_kept = markdown_view(brief, shown, labels, kept, **stamp)["why"]
            assert with_kept == markdown_view(brief, shown, labels, WhyRows(advisor.course), **stamp)["why"]
            titles = [sep.join(advisor.course.title(c, lang) for c in w["codes"].split(", ")) for w in with_kept]
            assert with_kept and [w["titles"] for w in with_kept] == titles
    assert {lang for _, _, lang, _ in kept} == {"en", "zh"}


def no_compiling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("compiled although the cache had the template")

    monkeypatch.setattr(jinja2.Environment, "_parse", refuse)


def test_render_cache_skips_compiling_and_renders_the_same(cache, advisor, tmp_path, monkeypatch):
    folder = templates_copy(tmp_path / "t")
    first = Templates.load(folder)
    assert len(list(cache.glob("*.jinja"))) == 1
    assert cache.stat().st_mode & 0o777 == 0o700
    no_compiling(monkeypatch)
    second = Templates.load(folder)
    assert second.render(view(second, advisor)) == first.render(view(first, advisor))


def test_render_cache_never_serves_an_edited_template(cache, advisor, tmp_path):
    folder = templates_copy(tmp_path / "t")
    Templates.load(folder)
    brief = folder / BRIEF_TEMPLATE
    brief.write_text(brief.read_text(encoding="utf-8").replace("## {{ L.sections.glance }}", "## Edited"), "utf-8")
    edited = Templates.load(folder)
    assert "\n## Edited\n" in edited.render(view(edited, advisor))
    assert len(list(cache.glob("*.jinja"))) == 2


def test_render_cache_shared_by_two_folders_names_each_folders_file(cache, advisor, tmp_path, monkeypatch):
    typo = ("{% for p in attendees %}{{ L.person_brief", "{% for p in atendees %}{{ L.person_brief")
    a, b = templates_copy(tmp_path / "a", typo), templates_copy(tmp_path / "b", typo)
    line = next(i for i, s in enumerate((a / BRIEF_TEMPLATE).read_text("utf-8").splitlines(), 1) if "atendees" in s)
    for folder in (a, b):
        templates = Templates.load(folder)
        no_compiling(monkeypatch)  # b's template comes from a's cache entry
        with pytest.raises(AdvisorError) as caught:
            templates.render(view(templates, advisor))
        assert str(caught.value.problems[0]).startswith(
            f"{folder / BRIEF_TEMPLATE}:{line}:1: error: undefined 'atendees'"
        )


def test_render_template_syntax_error_is_reported_at_load_with_file_and_line(cache, tmp_path):
    good = templates_copy(tmp_path / "good")
    Templates.load(good)
    bad = templates_copy(tmp_path / "bad", ("{% if penetration or more.penetration %}", "{% iff penetration %}"))
    line = next(i for i, s in enumerate((bad / BRIEF_TEMPLATE).read_text("utf-8").splitlines(), 1) if "{% iff " in s)
    with pytest.raises(AdvisorError) as caught:
        Templates.load(bad)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line, problem.level) == (str(bad / BRIEF_TEMPLATE), line, "error")
    assert problem.message.startswith("template syntax: Encountered unknown tag 'iff'")
    assert len(list(cache.glob("*.jinja"))) == 1  # nothing is cached for a template that does not compile


def test_render_cache_recovers_from_a_damaged_entry(cache, advisor, tmp_path):
    folder = templates_copy(tmp_path / "t")
    expected = Templates.load(folder)
    (entry,) = cache.glob("*.jinja")
    entry.write_bytes(entry.read_bytes()[:100])
    again = Templates.load(folder)
    assert again.render(view(again, advisor)) == expected.render(view(expected, advisor))
    assert entry.stat().st_size > 100  # written anew


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root can write anywhere")
def test_render_cache_in_a_read_only_folder_only_costs_the_compile(cache, advisor, tmp_path):
    cache.mkdir(parents=True, mode=0o700)
    cache.chmod(0o500)
    try:
        templates = Templates.load(templates_copy(tmp_path / "t"))
        assert templates.render(view(templates, advisor)).startswith("# Pre-visit brief:")
        assert not list(cache.iterdir())
    finally:
        cache.chmod(0o700)


def test_render_cache_that_cannot_be_written_only_costs_the_compile(cache, advisor, tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(templating.os, "replace", full)
    templates = Templates.load(templates_copy(tmp_path / "t"))
    assert templates.render(view(templates, advisor)).startswith("# Pre-visit brief:")
    assert not list(cache.iterdir())  # no entry, no temporary file left behind


def test_render_cache_refuses_a_folder_others_can_write_to(cache, tmp_path):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    assert templating.cache_folder() is None
    Templates.load(templates_copy(tmp_path / "t"))
    assert not list(cache.iterdir())
    cache.chmod(0o700)
    assert templating.cache_folder() == cache


def test_render_cache_without_a_home_compiles_each_time(monkeypatch, tmp_path, advisor):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    assert templating.cache_folder() is None
    templates = Templates.load(templates_copy(tmp_path / "t"))
    assert templates.render(view(templates, advisor)).startswith("# Pre-visit brief:")


def test_render_cache_keeps_only_the_newest_entries(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(templating, "CACHE_KEEP", 2)
    folder = templates_copy(tmp_path / "t")
    brief = folder / BRIEF_TEMPLATE
    original = brief.read_text(encoding="utf-8")
    for i in range(4):
        brief.write_text(original + f"{{# edit {i} #}}\n", encoding="utf-8")
        Templates.load(folder)
        newest = max(cache.glob("*.jinja"), key=lambda p: p.stat().st_mtime_ns)
        os.utime(newest, ns=(i * 10**9, i * 10**9))  # distinct times, whatever the clock's resolution
    assert len(list(cache.glob("*.jinja"))) == 2


def test_render_cache_entries_depend_on_everything_the_compiler_reads(tmp_path, monkeypatch):
    def key(env: jinja2.Environment | None = None, **change) -> str:
        env = env or templating.environment(tmp_path, {"md": md}, cache=False)
        for name, value in change.items():
            if name == "filters":
                env.filters.update(value)
            else:
                setattr(env, name, value)
        return templating.CompiledTemplates(tmp_path).get_bucket(env, BRIEF_TEMPLATE, None, "{{ x }}").key

    base = key()
    assert key() == base
    unsandboxed = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True)  # fmt: skip
    unsandboxed.filters["md"] = md
    others = [key(trim_blocks=False), key(lstrip_blocks=False), key(keep_trailing_newline=False),
              key(variable_start_string="[["), key(autoescape=True), key(filters={"extra": str}),
              key(filters={"md": jinja2.pass_context(lambda context, text: text)}), key(finalize=str),
              key(intercepted_binops=frozenset({"+"})), key(unsandboxed)]  # fmt: skip
    monkeypatch.setattr(jinja2, "__version__", "0.0")
    others.append(key())
    assert len({base, *others}) == len(others) + 1


# --- recommendations: what is worked out once per rule base stays with its rule base ----------------


def test_render_recommend_uses_each_rule_bases_own_advice(advisor, tmp_path):
    from advisor.advise import recommend, sayings
    from advisor.course import load_course
    from advisor.rules import load_rules

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    industry = tmp_path / "rules" / "industry.yaml"
    source = "{account.industry|party=Party bodies|military=Military units|Government bodies} value a supplier"
    old = "Government bodies value a supplier"  # what it says for a government body
    text = industry.read_text(encoding="utf-8")
    assert source in text
    industry.write_text(text.replace(source, "EDITED {account.name} *", 1), encoding="utf-8")
    edited = sayings(load_rules(tmp_path / "rules", load_course()), "en")

    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    evaluation = advisor.evaluate(profile)
    firings = evaluation.outcome.firings
    assert any(f.rule_id == "gov-incumbent-continuity" for f in firings)
    for _ in range(2):  # the second round reuses what the first worked out
        shipped = recommend(advisor.sayings["en"], evaluation.records, firings)
        mine = recommend(edited, evaluation.records, firings)
        (said,) = [r.text_in(md) for r in shipped if r.rule_id == "gov-incumbent-continuity"]
        (edit,) = [r.text_in(md) for r in mine if r.rule_id == "gov-incumbent-continuity"]
        assert said.startswith(old)
        assert edit == said.replace(old, f"EDITED {md(profile.account.name)} *", 1)
    chinese = recommend(advisor.sayings["zh"], evaluation.records, firings)
    assert [r.rule_id for r in chinese] and all(a.text != b.text for a, b in zip(chinese, shipped, strict=False))


# --- recommendations: texts filled in only when read say each text once, as filling them all would --


def recommend_reference(said_by, records, firings, quote):
    """What the brief says, the long way: every text filled in; the same (section, person, plain
    text) said once (recommend), then, for Markdown, the same escaped text said once (said_once)."""
    by_id = {r.id: r for r in records}
    ranked = sorted(
        (said.rank, f.record_id, n, said) for n, f in enumerate(firings) if (said := said_by[f.rule_id]) is not None
    )

    def said_once(items, q):
        seen, kept = set(), []
        for item in items:
            _, record_id, _, said = item
            record = by_id[record_id]
            key = (
                said.section,
                record.subject if said.about_person else None,
                fill_parts(said.parts, record.values, q),
            )
            if key not in seen:
                seen.add(key)
                kept.append(item)
        return kept

    once = said_once(ranked, str)
    if quote is not str:
        once = said_once(once, quote)
    out = []
    for _, record_id, _, said in once:
        record = by_id[record_id]
        subject = record.subject if said.about_person else None
        out.append((said.rule_id, said.section, subject, record_id, fill_parts(said.parts, record.values, quote)))
    return out


# Pieces that make texts read alike in many ways: literal text that equals a value, values that
# quote to the same text ("a b" and "a  b" in Markdown), placeholders at either end, braces.
_PIECES = ["a", "b", "{x}", "{y}", "{{"]
_VALUES = ["a", " b", "a b", "a  b", "b", "{", 3, 3.0, None]


def _advice_case(rnd: random.Random) -> tuple[list, list, list]:
    """Rules, records and firings (every rule on every record) that often say the same thing twice."""
    from types import SimpleNamespace as NS

    from advisor.engine import Firing
    from advisor.facts import Record

    rules = []
    for i in range(rnd.randint(3, 8)):
        text = "".join(rnd.choice(_PIECES) for _ in range(rnd.randint(0, 3)))
        rules.append(NS(index=i, rule=NS(
            id=f"r{i}", say=NS(en=text, zh=text), priority=rnd.choice(["high", "medium"]), source=["1.1"],
            section=rnd.choice(["gaps", "gaps", "person"]), aspect="approach",
            scope=rnd.choice(["stakeholder", "account"]),
        )))  # fmt: skip
    records = [
        Record(
            f"k{j}",
            "stakeholder",
            {k: rnd.choice(_VALUES) for k in "xy" if k == "x" or rnd.random() < 0.5},
            rnd.choice([None, None, "s1"]),
        )  # fmt: skip
        for j in range(rnd.randint(1, 4))
    ]
    return rules, records, [Firing(rule.rule.id, record.id) for record in records for rule in rules]


def test_render_recommend_dedups_lazily_filled_texts_like_filled_ones():
    from types import SimpleNamespace as NS

    from advisor.advise import recommend, said_once, sayings

    rnd = random.Random(20261201)
    dropped = 0
    for _ in range(400):
        rules, records, firings = _advice_case(rnd)
        said_by = sayings(NS(rules=rules), "en")
        for quote in (str, md):
            got = said_once(recommend(said_by, records, firings), quote)
            want = recommend_reference(said_by, records, firings, quote)
            assert [(r.rule_id, r.section, r.stakeholder, r.record_id, r.text_in(quote)) for r in got] == want
            dropped += len(firings) - len(want)
    assert dropped > 1000  # the cases did test de-duplication


def test_render_recommend_that_compared_no_texts_leaves_nothing_for_markdown_to_drop():
    """Brief.may_read_alike: when saying the advice once compared no texts, the Markdown brief skips its
    own pass; that pass, over the advice or any part of it in order, must then drop nothing."""
    from types import SimpleNamespace as NS

    from advisor.advise import recommend_compared, said_once, sayings

    rnd = random.Random(20261203)
    seen = {True: 0, False: 0}
    markdown_dropped = 0
    for _ in range(1000):
        rules, records, firings = _advice_case(rnd)
        said_by = sayings(NS(rules=rules), "en")
        recs, compared = recommend_compared(said_by, records, firings)
        seen[compared] += 1
        part = [r for r in recs if rnd.random() < 0.7]  # what withdrawing advice may leave
        once = said_once(part, md)
        if len(once) < len(part):
            markdown_dropped += 1
            assert compared, "the Markdown pass drops advice although saying it once compared no texts"
        if not compared:
            assert once == part
    assert seen[True] > 50 and seen[False] > 10 and markdown_dropped > 10  # both kinds of case were met


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_render_cache_is_not_used_under_a_folder_others_can_write(cache, tmp_path):
    shared = tmp_path / "cache"
    cache.mkdir(parents=True, mode=0o700)
    assert templating.cache_folder() == cache.resolve()
    shared.chmod(0o777)  # someone else could swap `advisor/` for their own folder of "compiled" code
    assert templating.cache_folder() is None
    shared.chmod(0o777 | stat.S_ISVTX)  # like /tmp: others cannot rename what is ours
    assert templating.cache_folder() == cache.resolve()
    shared.chmod(0o700)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_render_cache_entry_others_could_have_written_is_compiled_again(cache, advisor, tmp_path, monkeypatch):
    folder = templates_copy(tmp_path / "t")
    expected = Templates.load(folder)
    (entry,) = cache.glob("*.jinja")
    entry.chmod(0o666)
    no_compiling(monkeypatch)
    with pytest.raises(AssertionError, match="compiled although"):  # the entry is not trusted: compile
        Templates.load(folder)
    monkeypatch.undo()
    again = Templates.load(folder)
    assert again.render(view(again, advisor)) == expected.render(view(expected, advisor))


def test_render_cache_prunes_temporary_files_a_killed_start_left(cache, tmp_path):
    folder = templates_copy(tmp_path / "t")
    Templates.load(folder)
    old, recent = cache / "x.jinja.1.2.tmp", cache / "y.jinja.3.4.tmp"
    old.write_bytes(b"half")
    recent.write_bytes(b"half")
    os.utime(old, (0, 0))
    (entry,) = cache.glob("*.jinja")
    entry.unlink()
    Templates.load(folder)  # writes an entry again, and prunes
    assert not old.exists() and recent.exists()


def test_render_a_trait_for_an_unknown_course_item_is_an_error_at_its_line(capsys, tmp_path):
    """labels.yaml's traits say in a few words what a person cares about, per course item: a typo in
    a code is caught when the brief starts, at its line, with the near code, through the command."""
    folder = templates_copy(tmp_path / "t")
    labels = folder / LABELS_FILE
    text = labels.read_text(encoding="utf-8")
    assert text.count("    2.2.2.b: ") == 2
    labels.write_text(text.replace("    2.2.2.b: ", "    2.2.2.bb: ", 1), encoding="utf-8")
    line = next(i for i, s in enumerate(labels.read_text("utf-8").splitlines(), 1) if "2.2.2.bb:" in s)
    code = main(["brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--templates", str(folder)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert f"{labels}:{line}:5: error: trait for unknown course item '2.2.2.bb'; did you mean '2.2.2.b'" in err
    assert "has no zh translation" in err  # and the languages no longer match
