"""YAML kept parsed between starts (kept.py): a hit gives what parsing gives, positions included, and
nothing stale, broken or unfit is ever taken from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor import kept, yamlio
from advisor.errors import UnreadableInput

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "templates" / "labels.yaml"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private cache folder for this test alone."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "advisor" / "yaml"


def _unparsed(monkeypatch) -> None:
    """From here on, parsing fails the test: what load_kept gives must come from the cache."""

    def parse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(yamlio, "load_text", parse)


def test_kept_a_second_read_takes_the_values_from_the_cache_with_the_same_positions(cache, monkeypatch):
    text = LABELS.read_text(encoding="utf-8")
    parsed = yamlio.load_text(text, str(LABELS), what="a labels file")
    first = kept.load_kept(text, str(LABELS), what="a labels file")
    assert len(list(cache.iterdir())) == 1
    _unparsed(monkeypatch)
    second = kept.load_kept(text, str(LABELS), what="a labels file")
    assert first.data == second.data == parsed.data
    some = next(iter(parsed.data["en"]))
    for loc, key in (((), False), (("en", some), False), (("en", some), True), (("zh", "no-such"), False)):
        assert second.where(loc, key=key) == parsed.where(loc, key=key)


def test_kept_an_edited_text_is_parsed_again(cache, monkeypatch):
    kept.load_kept("a: 1\nb: [x, y]\n", "x.yaml")
    assert kept.load_kept("a: 2\nb: [x, y]\n", "x.yaml").data == {"a": 2, "b": ["x", "y"]}
    assert len(list(cache.iterdir())) == 2


def test_kept_values_marshal_cannot_hold_are_parsed_every_time(cache):
    doc = kept.load_kept("when: 2026-12-01\n", "x.yaml")
    assert doc.data == yamlio.load_text("when: 2026-12-01\n", "x.yaml").data
    assert not cache.exists() or not list(cache.iterdir())


def test_kept_a_file_with_a_problem_fails_as_parsing_does_and_is_never_stored(cache):
    text = "a: 1\n---\nb: 2\n"
    with pytest.raises(UnreadableInput) as parsed:
        yamlio.load_text(text, "x.yaml", what="a labels file")
    with pytest.raises(UnreadableInput) as read:
        kept.load_kept(text, "x.yaml", what="a labels file")
    assert [str(p) for p in read.value.problems] == [str(p) for p in parsed.value.problems]
    assert not cache.exists() or not list(cache.iterdir())


def test_kept_a_damaged_entry_is_parsed_again(cache):
    kept.load_kept("a: 1\n", "x.yaml")
    (entry,) = cache.iterdir()
    entry.write_bytes(b"\xff not marshal")
    assert kept.load_kept("a: 1\n", "x.yaml").data == {"a": 1}


def test_kept_no_cache_in_a_folder_others_can_write(cache, monkeypatch):
    monkeypatch.setattr(kept, "private_folder", lambda name: None)
    assert kept.load_kept("a: 1\n", "x.yaml").data == {"a": 1}
    assert not cache.exists()
