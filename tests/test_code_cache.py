"""Generated code kept between starts (cache.compiled): a start takes the engine's fact writers from
the private cache instead of compiling them, and nothing damaged or foreign is ever run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from advisor import cache as cache_module
from advisor.api import Advisor
from advisor.cache import compiled
from advisor.engine import Engine
from advisor.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "def double(x):\n    return 2 * x\n"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private cache folder for this test alone, and a process that has compiled nothing yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    compiled.cache_clear()
    yield tmp_path / "cache" / "advisor" / "code"
    compiled.cache_clear()


def run(code) -> int:
    space: dict = {}
    exec(code, space)  # noqa: S102 - the test's own source
    return space["double"](21)


def no_compiling(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("compiled although the cache had the code")

    monkeypatch.setattr(cache_module, "compile", refuse, raising=False)


def test_code_cache_a_new_start_takes_the_code_from_disk(cache, monkeypatch):
    assert run(compiled(SOURCE)) == 42
    assert len(list(cache.glob("*.code"))) == 1
    assert cache.stat().st_mode & 0o777 == 0o700
    compiled.cache_clear()  # as a new process finds it
    no_compiling(monkeypatch)
    assert run(compiled(SOURCE)) == 42


def test_code_cache_another_text_is_another_entry(cache):
    compiled(SOURCE)
    assert run(compiled(SOURCE.replace("2 *", "3 *"))) == 63
    assert len(list(cache.glob("*.code"))) == 2


def test_code_cache_a_damaged_entry_is_compiled_again(cache):
    compiled(SOURCE)
    (entry,) = cache.glob("*.code")
    entry.write_bytes(b"\x00 not marshal data")
    compiled.cache_clear()
    assert run(compiled(SOURCE)) == 42
    assert entry.read_bytes() != b"\x00 not marshal data"  # stored again, whole


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root can write anywhere")
def test_code_cache_never_uses_a_folder_others_can_write(cache):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    assert run(compiled(SOURCE)) == 42
    assert list(cache.iterdir()) == []


def test_code_cache_an_engine_built_in_a_new_start_compiles_nothing_and_fires_the_same(cache, monkeypatch):
    advisor = Advisor.load()
    records = advisor.evaluate(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")).records
    first = Engine(advisor.plan, advisor.base.catalogue).evaluate(records)
    assert len(list(cache.glob("*.code"))) == 1  # all of an engine's writers: one entry for a start to read
    compiled.cache_clear()
    no_compiling(monkeypatch)
    again = Engine(advisor.plan, advisor.base.catalogue).evaluate(records)
    assert again.firings == first.firings
    assert again.derived == first.derived
