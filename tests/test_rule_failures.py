"""Rule-side failures: an action that raises, chaining loops and the engine's run-time bounds, and
rule files that are valid YAML but nonsense. Each gives one clear line, through every command."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import advisor.engine.adapter as engine_module
from advisor.cli import main
from advisor.course import load_course
from advisor.engine import Engine, diagnostics
from advisor.engine.compiler import MAX_STRATA, compile_rules, strata
from advisor.engine.wire import plan_wiring
from advisor.errors import AdvisorError, EngineError
from advisor.rules import load_rules

from conftest import FIXTURES, ROOT

TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"
TODAY = "2026-12-01"
RULE = """\
rules:
  - id: always-care
    source: [2.1.1.a]
    when: {fact: account.industry, in: [party, government, military]}
    section: account
    say: {en: Lead with continuity., zh: 以延续性切入。}
"""
CASES = f"""\
base: {TAX}
today: {TODAY}
cases:
  tax_bureau:
    fires: [always-care]
  private_firm:
    overlay: {{account: {{industry: enterprise, ownership: private}}}}
    quiet: [always-care]
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


@pytest.fixture
def one_rule(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "profiles").mkdir()  # case bases stay in the rules' repository
    shutil.copy(TAX, tmp_path / "profiles")
    (folder / "care.yaml").write_text(RULE, encoding="utf-8")
    (folder / "care.cases.yaml").write_text(CASES.replace(str(TAX), "../profiles/gz-tax-bureau.yaml"), "utf-8")
    return folder


@pytest.fixture
def raising_action(monkeypatch):
    """What an action does when it fails at run time: here, recording the firing raises."""

    def broken(rule_id: str, record_id: str) -> None:
        raise RuntimeError("cannot record\nthe firing")  # two lines: the error must still be one

    real = Engine.__init__

    def with_broken_action(self, plan, catalogue, on_fire=None, **options):
        real(self, plan, catalogue, on_fire=broken, **options)

    monkeypatch.setattr(Engine, "__init__", with_broken_action)


# --- an action that raises -----------------------------------------------------------------------


def test_rule_failure_action_raises_in_brief_names_the_rule_and_writes_nothing(
    capsys, tmp_path, one_rule, raising_action
):
    out = tmp_path / "brief.md"
    code, stdout, err = run(capsys, "brief", str(TAX), "--rules", str(one_rule), "--today", TODAY, "-o", str(out))
    assert code == 1 and stdout == ""
    assert err == (
        f"advisor brief: error: rule always-care ({one_rule / 'care.yaml'}:2:5) failed while firing: "
        "RuntimeError: cannot record the firing\n"
    )
    assert not out.exists() and not list(tmp_path.glob(".*"))  # no brief, no temp file


def test_rule_failure_action_raises_in_explain(capsys, one_rule, raising_action):
    code, stdout, err = run(capsys, "explain", str(TAX), "--rules", str(one_rule), "--today", TODAY)
    assert code == 1 and stdout == ""
    assert err.startswith("advisor explain: error: rule always-care (") and err.count("\n") == 1


def test_rule_failure_action_raises_fails_only_the_cases_that_fire_it(capsys, one_rule, raising_action):
    code, stdout, err = run(capsys, "test", str(one_rule))
    assert code == 1
    assert stdout == "1 passed, 1 failed\n"
    assert err == (
        f"{one_rule / 'care.cases.yaml'}:4:3: error: case 'tax_bureau': the engine failed: "
        f"rule always-care ({one_rule / 'care.yaml'}:2:5) failed while firing: RuntimeError: cannot record the firing\n"
    )


def test_rule_failure_action_raises_in_batch_fails_each_account_and_the_batch_goes_on(
    capsys, tmp_path, one_rule, raising_action
):
    out = tmp_path / "out"
    private = ROOT / "profiles" / "sd-huarui-appliance.yaml"  # a private firm: the rule stays quiet
    code, _, err = run(capsys, "batch", str(TAX), str(private), "-o", str(out), "--rules", str(one_rule),
                       "--today", TODAY, "--quiet")  # fmt: skip
    assert code == 1
    assert err == (
        f"advisor batch: error: account 'gz-tax-bureau': rule always-care ({one_rule / 'care.yaml'}:2:5) "
        "failed while firing: RuntimeError: cannot record the firing\n"
    )
    assert sorted(p.name for p in (out / "briefs").iterdir()) == ["sd-huarui-appliance.md"]


# --- chaining: loops refused when compiled, and bounds at run time -------------------------------

LOOPS = ["cycle", "loop-self", "loop-of-three"]


@pytest.mark.parametrize("name", LOOPS)
@pytest.mark.parametrize("command", ["brief", "explain", "test", "lint"])
def test_rule_failure_loop_is_refused_by_every_command_naming_every_rule(capsys, name, command):
    folder = FIXTURES / "rules" / name
    first = (folder / "rules.yaml").read_text(encoding="utf-8").splitlines()[0]
    expected = f"{folder / 'rules.yaml'}:" + first.removeprefix("# expect: ").replace(": ", ": error: ", 1)
    argv = {
        "brief": ["brief", str(TAX), "--rules", str(folder), "--today", TODAY],
        "explain": ["explain", str(TAX), "--rules", str(folder), "--today", TODAY],
        "test": ["test", str(folder)],
        "lint": ["lint", str(folder)],
    }[command]
    code, stdout, err = run(capsys, *argv)
    assert code == 1
    shown = stdout if command == "lint" else err
    assert shown.splitlines()[0] == expected
    rules = {"cycle": ["a", "b"], "loop-self": ["a"], "loop-of-three": ["a", "b", "c"]}[name]
    assert all(f"{r} tests account.flag_" in expected for r in rules)


def _chain(tmp_path: Path, length: int) -> Path:
    lines = ["rules:"]
    for i in range(length):
        when = (
            "{fact: account.industry, equals: government}"
            if i == 0
            else f"{{fact: account.step_{i - 1}, equals: true}}"
        )
        lines += [f"  - id: step-{i}", "    source: [1.2.1.a]", f"    when: {when}", f"    derive: [account.step_{i}]"]
    (tmp_path / "chain.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_rule_failure_chain_deeper_than_the_strata_limit_is_refused(tmp_path):
    base = load_rules(_chain(tmp_path, MAX_STRATA + 1), load_course())
    with pytest.raises(AdvisorError) as info:
        compile_rules(base)
    (problem,) = info.value.problems
    chain = " <- ".join(f"step-{i}" for i in range(MAX_STRATA, -1, -1))
    assert str(problem) == (
        f"{tmp_path / 'chain.yaml'}:{2 + 4 * MAX_STRATA}:5: error: derived facts chain {MAX_STRATA + 1} rules deep "
        f"({chain}), over the limit of {MAX_STRATA}; each link is one more engine round: derive from profile facts "
        f"directly [step-{MAX_STRATA}]"
    )
    assert len(compile_rules(load_rules(_chain(tmp_path, MAX_STRATA), load_course())).strata()) == MAX_STRATA


def test_rule_failure_long_chains_do_not_exhaust_the_stack(tmp_path, monkeypatch):
    base = load_rules(_chain(tmp_path, 300), load_course())
    monkeypatch.setattr(sys, "getrecursionlimit", sys.getrecursionlimit)  # restored by monkeypatch
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)  # the old recursive walk needed one frame per link
    try:
        levels = strata(list(base.rules), max_strata=10_000)
    finally:
        sys.setrecursionlimit(limit)
    assert levels["step-299"] == 299


@pytest.mark.parametrize("with_wiring", [False, True])
def test_rule_failure_engine_refuses_a_plan_that_would_chain_out_of_order(tmp_path, with_wiring):
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "  - id: tier\n    source: [1.2.1.a]\n    when: {fact: account.portfolio_share, gte: 0.1}\n"
        "    derive: [account.high_value]\n"
        "  - id: care\n    source: [1.3.1.c]\n    when: {fact: account.high_value, equals: true}\n"
        "    section: checklist\n    say: {en: x, zh: x}\n",
        encoding="utf-8",
    )
    base = load_rules(tmp_path, load_course())
    plan = compile_rules(base)
    for shard in plan.shards:  # edited by hand: the rule that tests the fact runs with its producer
        shard.stratum = 0
    with pytest.raises(EngineError) as info:  # the wiring (a cached plan's): the same check, the same words
        Engine(plan, base.catalogue, wiring=plan_wiring(plan) if with_wiring else None)
    assert str(info.value) == (
        f"rule care ({tmp_path / 'r.yaml'}:6:5) tests account.high_value, derived by rule tier "
        f"({tmp_path / 'r.yaml'}:2:5) in the same or a later stratum: the rules loop or run out of order; "
        "compile them again"
    )


def test_rule_failure_runaway_firings_stop_with_the_rules_named(capsys, one_rule, monkeypatch):
    monkeypatch.setattr(engine_module, "FIRINGS_PER_CHAIN", 0)  # any firing is now "too many"
    code, _, err = run(capsys, "brief", str(TAX), "--rules", str(one_rule), "--today", TODAY)
    assert code == 1
    assert err == (
        f"advisor brief: error: rule always-care ({one_rule / 'care.yaml'}:2:5) fired more than 0 times on 1 records, "
        "more than the conditions of rule always-care allow; the engine was stopped instead of running on: "
        "please report it\n"
    )


def test_rule_failure_ruleset_durable_refuses_names_the_rule(one_rule):
    base = load_rules(one_rule, load_course())
    plan = compile_rules(base)
    (shard,) = plan.shards
    name = next(iter(shard.conditions))
    shard.conditions[name] = {"$and": [{"t": "account"}, {"$lt": {"account__annual_revenue": float("inf")}}]}
    with pytest.raises(EngineError) as info:
        Engine(plan, base.catalogue)
    assert str(info.value) == (
        f"durable-rules refused rule always-care ({one_rule / 'care.yaml'}:2:5): "
        "Could not create ruleset, error code: 202"
    )


# --- rule files that are valid YAML but nonsense -------------------------------------------------

NONSENSE = sorted(p.name for p in (FIXTURES / "rules").iterdir() if p.name.startswith("nonsense-"))


@pytest.mark.parametrize("name", NONSENSE)
@pytest.mark.parametrize("command", ["brief", "test", "lint"])
def test_rule_failure_nonsense_rule_file_gives_its_line_in_every_command(capsys, name, command):
    folder = FIXTURES / "rules" / name
    first = (folder / "rules.yaml").read_text(encoding="utf-8").splitlines()[0]
    expected = f"{folder / 'rules.yaml'}:" + first.removeprefix("# expect: ").replace(": ", ": error: ", 1)
    argv = {
        "brief": ["brief", str(TAX), "--rules", str(folder), "--today", TODAY],
        "test": ["test", str(folder)],
        "lint": ["lint", str(folder)],
    }[command]
    code, stdout, err = run(capsys, *argv)
    assert code == 1
    assert expected in (stdout if command == "lint" else err).splitlines()


def test_rule_failure_nonsense_rule_file_in_explain(capsys):
    folder = FIXTURES / "rules" / "nonsense-when-empty-list"
    code, stdout, err = run(capsys, "explain", str(TAX), "--rules", str(folder))
    assert code == 1 and stdout == ""
    assert (
        err
        == f"{folder / 'rules.yaml'}:5:11: error: rules[0].when must be a mapping of keys to values; got a list [a]\n"
    )


def test_rule_failure_a_plan_in_order_is_checked_by_its_wirings_keys_alone(advisor, monkeypatch):
    # With the plan's wiring, a plan in order is passed on the keys each shard reads (about 0.5 ms a start):
    # no condition is walked one by one.
    def walked(pattern):
        raise AssertionError("a condition was walked")

    monkeypatch.setattr(diagnostics, "pattern_keys", walked)
    diagnostics.check_order(advisor.plan, plan_wiring(advisor.plan).keys)
    with pytest.raises(AssertionError, match="walked"):
        diagnostics.check_order(advisor.plan)
