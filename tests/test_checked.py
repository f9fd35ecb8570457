"""Checked rules kept between starts (checked.py): a hit gives what loading gives, and nothing stale,
broken or foreign is ever taken from the cache."""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path

import pytest

from advisor import checked
from advisor.api import Advisor
from advisor.engine import adapter
from advisor.errors import AdvisorError
from advisor.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "gz-tax-bureau.yaml"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private cache folder for this test alone."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "advisor" / "rules"


@pytest.fixture
def rules(tmp_path) -> Path:
    return Path(shutil.copytree(ROOT / "rules", tmp_path / "rules"))


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.pickle"))


def no_loading(monkeypatch) -> None:
    """From now on, a load that does not come from the cache fails the test."""

    def refuse(*_):
        raise AssertionError("the rules were loaded again, not taken from the cache")

    monkeypatch.setattr(checked, "load_rules", refuse)


def test_a_second_start_takes_the_checked_rules_from_the_cache_and_briefs_the_same(cache, rules, monkeypatch):
    first = Advisor.load(rules)
    assert len(entries(cache)) == 1
    no_loading(monkeypatch)
    second = Advisor.load(rules)
    assert [r.id for r in second.base.rules] == [r.id for r in first.base.rules]
    assert second.digest == first.digest
    profile = load_profile(PROFILE)
    for lang in ("en", "zh"):
        for fmt in ("markdown", "json"):
            assert second.brief(profile, lang=lang, format=fmt) == first.brief(profile, lang=lang, format=fmt)


def test_a_start_takes_the_engines_wiring_with_the_cached_plan_and_fires_the_same(cache, rules, monkeypatch):
    # The property names, keys and ruleset texts the engine sends durable are a function of the plan:
    # kept with it, they are not worked out again at the next start.
    profile = load_profile(PROFILE)
    first = Advisor.load(rules).evaluate(profile).outcome

    def refuse(*_):
        raise AssertionError("the engine worked out its wiring again instead of taking the cached plan's")

    monkeypatch.setattr(adapter, "plan_wiring", refuse)
    again = Advisor.load(rules).evaluate(profile).outcome
    assert again.firings == first.firings
    assert again.derived == first.derived


def test_an_edited_rule_file_is_checked_again_and_its_edit_shows(cache, rules, monkeypatch):
    Advisor.load(rules)
    target = next(p for p in sorted(rules.rglob("*.yaml")) if "say:" in p.read_text(encoding="utf-8"))
    text = target.read_text(encoding="utf-8")
    first_id = Advisor.load(rules).base.rules[0].id
    target.write_text(text.replace("say:", "say:  ", 1), encoding="utf-8")  # same meaning, other bytes
    Advisor.load(rules)
    assert len(entries(cache)) == 2
    (rules / "zz-new.yaml").write_text(
        "rules:\n  - id: brand-new-rule\n    source: [1.3.1.c]\n    when: {fact: account.compliance_breaches, gte: 1}\n"
        "    section: checklist\n    say: {en: Brand new advice., zh: 全新建议。}\n",
        encoding="utf-8",
    )
    loaded = Advisor.load(rules)
    assert "brand-new-rule" in {r.id for r in loaded.base.rules}
    assert loaded.base.rules[0].id == first_id
    assert len(entries(cache)) == 3


def test_a_policy_or_relevance_edit_is_not_answered_from_the_cache(cache, rules):
    before = Advisor.load(rules)
    policy = rules / "policy.yaml"
    assert policy.is_file()
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text + "\n# edited\n", encoding="utf-8")
    Advisor.load(rules)
    assert len(entries(cache)) == 2
    (rules / "relevance.yaml").unlink()
    without = Advisor.load(rules)
    assert without.relevance != before.relevance
    assert len(entries(cache)) == 3


def test_rules_with_problems_are_never_stored_and_fail_every_time(cache, rules):
    broken = rules / "zz-broken.yaml"
    broken.write_text("rules:\n  - id: half-a-rule\n    when: {fact: account.no_such_fact, gte: 1}\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(AdvisorError) as caught:
            Advisor.load(rules)
        assert any(p.path == str(broken) and p.line == 2 for p in caught.value.problems)
    assert entries(cache) == []


def test_reading_an_entry_leaves_the_garbage_collector_as_it_found_it(cache, rules, monkeypatch):
    Advisor.load(rules)
    (entry,) = entries(cache)
    no_loading(monkeypatch)
    assert gc.isenabled()
    Advisor.load(rules)
    assert gc.isenabled()  # paused while reading, on again
    gc.disable()
    try:
        Advisor.load(rules)
        assert not gc.isenabled()  # the caller's pause is kept
    finally:
        gc.enable()
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for a damaged entry
        checked._unpickled(entry.read_bytes()[:-9])
    assert gc.isenabled()


def test_checking_a_folder_runs_no_garbage_collection_and_leaves_the_collector_as_it_found_it(rules):
    """Checking builds tens of thousands of young objects: the collector waits until it is done
    (its passes were about a third of checking 2,166 rules), also when the folder has problems."""
    course = Advisor.load(rules).course
    checking = {"load_rules", "load_policy", "load_relevance", "compile_rules"}
    started: list[str] = []  # the checking step each collection interrupted

    def count(phase: str, info: dict) -> None:
        frame = sys._getframe(1)
        while phase == "start" and frame is not None:
            if frame.f_code.co_name in checking:
                started.append(frame.f_code.co_name)
                return
            frame = frame.f_back

    gc.collect()
    gc.callbacks.append(count)
    try:
        checked._load(rules, course)
        assert started == []
        assert gc.isenabled()
        (rules / "zz-broken.yaml").write_text(
            "rules:\n  - id: half\n    when: {fact: account.nope, gte: 1}\n", encoding="utf-8"
        )
        with pytest.raises(AdvisorError):
            checked._load(rules, course)
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(count)


def test_a_damaged_entry_is_loaded_again(cache, rules):
    first = Advisor.load(rules)
    (entry,) = entries(cache)
    entry.write_bytes(b"not a pickle")
    again = Advisor.load(rules)
    assert [r.id for r in again.base.rules] == [r.id for r in first.base.rules]
    assert entry.read_bytes() != b"not a pickle"  # stored again, whole


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root can write anywhere")
def test_no_cache_in_a_folder_others_can_write(cache, rules, monkeypatch):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    Advisor.load(rules)
    assert entries(cache) == []


def test_an_entry_someone_else_planted_through_a_link_is_not_read(cache, rules, tmp_path, monkeypatch):
    Advisor.load(rules)
    (entry,) = entries(cache)
    planted = tmp_path / "planted.pickle"
    planted.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(planted)
    calls = []
    real = checked.load_rules
    monkeypatch.setattr(checked, "load_rules", lambda *a: calls.append(a) or real(*a))
    Advisor.load(rules)
    assert len(calls) == 1  # loaded, not read through the link


def test_a_fifo_among_the_rules_is_left_to_the_loader_which_reports_it(cache, rules):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(rules / "zz-pipe.yaml")
    with pytest.raises(AdvisorError) as caught:
        Advisor.load(rules)
    assert any("zz-pipe.yaml" in p.path for p in caught.value.problems)
    assert entries(cache) == []


def test_the_key_lists_every_module_of_advisor_by_path_size_and_time():
    # A changed checker must never read an older entry: every module counts, in every folder.
    package = Path(checked.__file__).parent
    modules = sorted(package.rglob("*.py"), key=lambda p: (str(p.parent), p.name))
    expected = tuple((str(p.relative_to(package)), p.stat().st_size, p.stat().st_mtime_ns) for p in modules)
    assert checked._code() == expected
    assert ("engine/adapter.py" in {path for path, *_ in expected}) and len(expected) > 50
