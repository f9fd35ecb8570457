"""The YAML loader's two paths agree: the fast one (libyaml nodes, one pass) gives the same values and
positions as the careful one (every position kept), or hands the document to it.

The careful path is the reference: it is what every message in tests/fixtures was written against.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS, profile_data

from advisor import yamlio
from advisor.errors import UnreadableInput
from advisor.limits import DEFAULT, Limits
from advisor.yamlio import Located, load_text

from conftest import FIXTURES, ROOT

SHIPPED = sorted(
    [*ROOT.glob("profiles/*.yaml"), *ROOT.glob("rules/*.yaml"), ROOT / "templates" / "labels.yaml"]
    + [ROOT / "advisor" / "data" / "course.yaml"]
)
FIXTURE_FILES = sorted(FIXTURES.rglob("*.yaml"))

# Plain scalars whose type YAML 1.1 (PyYAML's safe loader) decides by their spelling.
TRICKY = [
    "yes", "no", "Yes", "NO", "on", "off", "On", "OFF", "y", "n", "true", "False", "TRUE",
    "~", "null", "Null", "NULL", "", "0x1F", "0o17", "0b101", "017", "08", "1_000", "1e3", "1.0e3", "1.5e+3",
    "+1", "-0", "0", "-12", "3.", ".5", "1.5", "-1_000.5", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "1:30",
    "-1:30:15", "1:30.5", "2026-01-02", "2026-1-2", "2026-01-02T10:00:00", "2026-01-02 10:00:00.5",
    "2026-01-02T10:00:00Z", "2026-01-02t10:00:00+08:00", "2026-01-02 10:00:00 -5", "20260102",
    "123456789012345678901234567890", "1__2", "0x", "neutral", "frontline", "off-site", "nullable", "yesterday",
    "中文", "王振东 (局长)", "🚀", "a b c", "=", "<<", "2026-02-30", "2026-13-01",
]  # fmt: skip
QUOTED = ["'quoted'", '"00123"', "'yes'", '"2026-01-02"', "'~'", '""', "''", '"tab\\there"', "'it''s'"]


def _tricky_documents() -> dict[str, str]:
    docs = {}
    for i, plain in enumerate(TRICKY + QUOTED):
        shown = plain or "<empty>"
        docs[f"value {shown}"] = f"a: {plain}\nb: [{plain}, x]\nc:\n  - {plain}\n"
        docs[f"key {shown}"] = f"{plain}: value\nother{i}: 1\n"
        docs[f"flow key {shown}"] = f"{{{plain}: [1, {plain}]}}\n"
    docs.update(
        {
            "duplicate key": "a: 1\nb: 2\na: 3\n",
            "duplicate after reading": "1: one\n'1': also one\n",
            "duplicate int spellings": "0x1F: a\n31: b\n",
            "anchors and aliases": "base: &b {x: 1, y: [2, 3]}\none: *b\ntwo: *b\nlist: &l [a, b]\nmore: [*l, *l]\n",
            "scalar alias": "a: &s hello\nb: *s\nc: [*s, *s]\n",
            "merge key": "base: &b {x: 1}\nthing:\n  <<: *b\n  y: 2\n",
            "explicit tags": "a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: ! 123\ne: !!null ''\n",
            "explicit collection tags": "a: !!map {x: 1}\nb: !!seq [1]\nc: ! {x: 1}\n",
            "custom tag": "a: !thing 1\n",
            "python tag": "a: !!python/name:os.system\n",
            "binary tag": "a: !!binary aGk=\n",
            "set tag": "a: !!set {x, y}\n",
            "complex key": "? [a, b]\n: c\n",
            "mapping key": "? {a: 1}\n: c\n",
            "null key": "~: x\n",
            "multi-line": "plain: one\n  two\n  three\nliteral: |\n  line 1\n  line 2\nfolded: >-\n  a\n  b\n\n  c\n",
            "chinese": "名字: 广州市税务局\n备注: |\n  年度回顾 🚀\n  第二行\n列表: [甲, 乙, '丙']\n",
            "document markers": "---\na: 1\n...\n",
            "two documents": "a: 1\n---\nb: 2\n",
            "empty": "",
            "comment only": "# nothing\n",
            "scalar document": "hello\n",
            "list document": "- a\n- 1\n- {b: yes}\n",
            "invalid": "a: [1, 2\nb: 3\n",
            "tab": "a:\n\tb: 1\n",
            "undefined alias": "a: *nowhere\n",
            "duplicate anchor": "a: &x 1\nb: &x 2\n",
            "deep": "a: " + "[" * 45 + "]" * 45 + "\n",
            "deep flow mappings": "a: " + "{b: " * 45 + "1" + "}" * 45 + "\n",
            "bom": "\ufeffa: 1\n",
            "crlf": "a: 1\r\nb:\r\n  - yes\r\n",
            "empty values": "a:\nb: []\nc: {}\nd: ''\ne: -\n",
        }
    )
    return docs


TRICKY_DOCS = _tricky_documents()


def shape(value: Any) -> Any:
    """Values with their types and key order made visible (1 == 1.0 == True in Python; nan != nan)."""
    if isinstance(value, dict):
        return ("dict", [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [shape(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat())
    return (type(value).__name__, value)


def careful(text: str, limits: Limits = DEFAULT) -> Located | str:
    """The careful path's document, or its one-line refusal."""
    try:
        return yamlio._load_positioned(text, "doc.yaml", limits)
    except UnreadableInput as exc:
        return "\n".join(str(p) for p in exc.problems)


def fast(text: str, limits: Limits = DEFAULT) -> Located | None:
    """The fast path's document, or None when it hands the text to the careful path."""
    try:
        data, _ = yamlio._load_fast(text, limits)
    except yamlio._Slow:
        return None
    return Located("doc.yaml", data, text=text)


def probes(doc: Located) -> list[tuple]:
    """Every location the careful path knows, plus locations just beside them that do not exist."""
    locs = set(doc.values) | set(doc.keys)
    return sorted({*locs, *(loc + ("no-such-key",) for loc in locs), *(loc + (10**6,) for loc in locs)}, key=repr)


def assert_same(text: str, limits: Limits = DEFAULT) -> Located | None:
    """The fast path agrees with the careful one on `text`: same values and positions, or it declines
    (and then load_text gives exactly the careful path's result)."""
    reference, quick = careful(text, limits), fast(text, limits)
    if isinstance(reference, str):
        assert quick is None, f"the fast path accepted what the careful path refuses: {reference}"
    elif quick is not None:
        assert shape(quick.data) == shape(reference.data)
        for loc in probes(reference):
            for key in (False, True):
                assert quick.where(loc, key=key) == reference.where(loc, key=key), (loc, key)
    try:
        loaded: Located | str = load_text(text, "doc.yaml", limits)
    except UnreadableInput as exc:
        loaded = "\n".join(str(p) for p in exc.problems)
    if isinstance(reference, str):
        assert loaded == reference
    else:
        assert not isinstance(loaded, str) and shape(loaded.data) == shape(reference.data)
    return quick


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_yamlio_shipped_files_take_the_fast_path_with_the_same_values_and_positions(path):
    text = path.read_text(encoding="utf-8")
    assert assert_same(text) is not None, "a shipped file should never need the careful path"


def test_yamlio_advice_with_stars_and_ampersands_stays_on_the_fast_path():
    """`*` and `&` in text are not aliases and anchors: only libyaml's parse says what is."""
    text = "rules:\n  - id: a\n    say: {en: '**Do** this & that *now*', zh: 'R&D * 2'}\n    note: a*b & c\n"
    doc = load_text(text, "r.yaml")
    assert doc.text is not None and doc.values == {}
    assert doc.data["rules"][0]["note"] == "a*b & c"
    assert doc.where(("rules", 0, "say", "zh")) == (3, 47) == careful(text).where(("rules", 0, "say", "zh"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[str(p.relative_to(FIXTURES)) for p in FIXTURE_FILES])
def test_yamlio_fixture_files_read_the_same_on_both_paths(path):
    text = path.read_bytes().decode("utf-8-sig", "replace")
    assert_same(text)


@pytest.mark.parametrize("name", TRICKY_DOCS)
def test_yamlio_tricky_documents_read_the_same_on_both_paths(name):
    assert_same(TRICKY_DOCS[name])


def test_yamlio_tricky_scalars_read_as_yaml_1_1_says():
    """A few spot checks on what the shared resolver gives, so a change of YAML library shows."""
    doc = load_text("\n".join(f"k{i}: {v}" for i, v in enumerate(["yes", "off", "~", "0x1F", "0o17", "1_000", "1e3",
                                                                     ".inf", "2026-01-02", "2026-01-02T10:00:00",
                                                                     "'quoted'", '"00123"', "1:30"])), "t.yaml")  # fmt: skip
    assert doc.text is not None
    assert list(doc.data.values()) == [
        True, False, None, 31, "0o17", 1000, "1e3", math.inf, dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 10),
        "quoted", "00123", 90,
    ]  # fmt: skip
    assert load_text("7: a\n", "t.yaml").data == {"7": "a"}, "an integer key reads as its digits on both paths"


@pytest.mark.parametrize(
    "limits",
    [Limits(depth=2), Limits(values=5), Limits(aliases=1), Limits(depth=3, values=12, aliases=2)],
    ids=["depth", "values", "aliases", "all"],
)
@pytest.mark.parametrize(
    "name", ["anchors and aliases", "scalar alias", "deep", "list document", "multi-line", "chinese"]
)
def test_yamlio_limits_are_kept_the_same_on_both_paths(name, limits):
    assert_same(TRICKY_DOCS[name], limits)


def test_yamlio_alias_expansions_under_the_limit_stay_on_the_fast_path():
    text = "base: &b {x: 1, y: [2, 3]}\none: *b\ntwo: *b\n"  # 4 expansions: b and the list inside it, twice
    doc = fast(text, Limits(aliases=4))
    assert doc is not None and doc.data["two"] == {"x": 1, "y": [2, 3]}
    assert doc.data["one"] is not doc.data["two"], "each expansion is its own copy, as on the careful path"
    assert fast(text, Limits(aliases=3)) is None
    assert careful(text, Limits(aliases=3)) == (
        "doc.yaml:1:20: error: more than 3 YAML alias expansions (*name); write the values out, "
        "or raise the limit with --limit aliases=N"
    )


def test_yamlio_a_big_mapping_is_indexed_once_for_many_positions():
    text = "".join(f"key{i}: {i}\n" for i in range(3000))
    doc = load_text(text, "big.yaml")
    assert [doc.where((f"key{i}",), key=True) for i in (0, 1500, 2999)] == [(1, 1), (1501, 1), (3000, 1)]
    assert list(doc._index.values())[0]["key2999"][1].value == "2999"


def test_yamlio_the_fast_path_keeps_the_text_and_composes_the_tree_only_for_a_position():
    """A document read without a problem holds no node tree (thousands of objects the garbage
    collector would otherwise walk again and again); the first message that needs a place composes it."""
    nodes = sum(isinstance(o, yaml.Node) for o in gc.get_objects())
    doc = load_text("a:\n  b: [1, 2]\n", "d.yaml")
    assert doc.root is None and doc.values == {} and doc.text is not None
    assert sum(isinstance(o, yaml.Node) for o in gc.get_objects()) <= nodes  # (a collection may free some)
    assert doc.where(("a", "b", 1)) == (2, 10) and doc.where(("a", "b"), key=True) == (2, 3)
    assert doc.root is not None


def test_yamlio_a_position_the_tree_cannot_be_composed_again_for_falls_back_to_the_start(monkeypatch):
    doc = load_text("a:\n  b: [1, 2]\n", "d.yaml")

    def too_deep(text: str) -> None:
        raise RecursionError

    monkeypatch.setattr(yamlio, "_compose", too_deep)
    assert doc.where(("a", "b", 1)) == (1, 1) and doc.problem(("a",), "m").line == 1


@pytest.mark.parametrize("text", ["a: 1\n", "a: [1\n", "a: !!binary aGk=\n", ""])
def test_yamlio_the_garbage_collector_is_left_as_it_was(text):
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            try:
                load_text(text, "doc.yaml")
            except UnreadableInput:
                pass
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_yamlio_the_pure_python_parser_gives_the_same_as_libyaml(monkeypatch):
    """Without libyaml the same fast path runs on PyYAML's own parser and composer."""
    texts = [path.read_text(encoding="utf-8") for path in SHIPPED[:6]] + list(TRICKY_DOCS.values())[::7]
    with_libyaml = [shape(load_text(t, "d.yaml").data) if fast(t) else None for t in texts]

    class Pure(yamlio._Untagged, yaml.SafeLoader):
        pass

    monkeypatch.setattr(yamlio, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(yamlio, "_Composer", Pure)
    assert [shape(load_text(t, "d.yaml").data) if fast(t) else None for t in texts] == with_libyaml


# --- generated documents ---------------------------------------------------------------------------

_scalars = st.one_of(
    st.sampled_from([t for t in TRICKY if t not in ("", "=", "<<")]).map(lambda t: t if t else "''"),
    st.sampled_from(QUOTED),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(lambda t: yaml.safe_dump(t).strip()),
)
_keys = st.one_of(st.sampled_from(["id", "name", "note", "yes", "1", "0x1F", "~", "2026-01-02", "'quoted'", "中文"]),
                  st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True))  # fmt: skip


def _block(value: Any, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return " {}\n"
        return "\n" + "".join(f"{pad}{k}:{_block(v, indent + 2)}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return " []\n"
        return "\n" + "".join(f"{pad}-{_block(v, indent + 2)}" for v in value)
    return f" {value}\n"


def _documents() -> st.SearchStrategy[str]:
    tree = st.recursive(
        _scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
        max_leaves=25,
    )
    return st.dictionaries(_keys, tree, min_size=1, max_size=5).map(lambda d: _block(d, 0).lstrip("\n"))


@SETTINGS
@given(text=_documents())
def test_yamlio_generated_documents_read_the_same_on_both_paths(text):
    assert_same(text)
    assert_same(text, Limits(depth=3, values=15))


@SETTINGS
@given(data=profile_data())
def test_yamlio_generated_profiles_read_the_same_on_both_paths(data):
    for text in (yaml.safe_dump(data, allow_unicode=True, sort_keys=False), yaml.safe_dump(data)):
        assert assert_same(text) is not None


def test_yamlio_synthetic_benchmark_profiles_read_the_same_on_both_paths():
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench import synthetic_profile
    finally:
        sys.path.remove(str(ROOT / "bench"))
    for i in range(0, 40, 3):
        text = yaml.safe_dump(synthetic_profile(i, stakeholders=[12, 4, 7, 24][i % 4]), allow_unicode=True,
                              sort_keys=False)  # fmt: skip
        assert assert_same(text) is not None


def test_yamlio_load_file_reads_through_the_same_paths(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    doc = yamlio.load_file(Path(path))
    assert doc.data == {"a": [1], "b": [1]} and doc.text is not None
