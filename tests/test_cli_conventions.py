"""What every command does alike: bare `advisor`, help on every option, completion scripts that load,
`--quiet`, one `--rules` option (a single rule file too), `advisor rules`, did-you-mean for `--rule`,
`advisor COMMAND: error:` for errors with no place in a file, exit codes, `advisor init`, SECURITY.md
from an installed package, and a start that imports nothing heavy."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import pytest

from advisor.cli import build_parser, main

from conftest import ROOT

TAX = str(ROOT / "profiles" / "gz-tax-bureau.yaml")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_parsing_a_command_builds_that_command_alone_and_a_typo_still_lists_them_all(capsys):
    # A start parses one command: the others' parsers would cost it time for nothing.
    assert list(subcommands(build_parser(only="brief"))) == ["brief"]
    assert list(subcommands(build_parser(only="brif"))) == list(subcommands(build_parser()))
    with pytest.raises(SystemExit):
        main(["brif"])
    assert "(choose from 'brief', 'batch', " in capsys.readouterr().err


def test_bare_advisor_prints_usage_and_every_command(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: advisor")
    for name in subcommands(build_parser()):
        assert f"\n    {name}" in err


def test_every_option_and_command_has_help_text():
    parser = build_parser()
    missing = [a.dest for a in parser._actions if not a.help]
    for name, p in subcommands(parser).items():
        missing += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in p._actions if not a.help]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing += [f"{a.dest} (the command)" for a in sub._choices_actions if not a.help]
    assert not missing


def test_bash_completion_loads_and_completes_commands_options_and_choices(tmp_path, capsys):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "advisor.bash"
    script.write_text(capsys.readouterr().out, encoding="utf-8")

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        probe = f'set -e; source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _advisor; printf "%s\\n" "${{COMPREPLY[@]}}"'
        done = subprocess.run([bash, "--norc", "-c", probe], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and not done.stderr, done.stderr
        return [w for w in done.stdout.splitlines() if w]

    loaded = subprocess.run(
        [bash, "--norc", "-c", f'source "{script}"; complete -p advisor'], capture_output=True, text=True
    )
    assert loaded.returncode == 0 and "-F _advisor advisor" in loaded.stdout
    assert complete("advisor", "sch") == ["schema"]
    assert complete("advisor", "brief", "--la") == ["--lang"]
    assert complete("advisor", "brief", "--lang", "") == ["en", "zh"]
    assert complete("advisor", "schema", "b") == ["brief"]
    assert complete("advisor", "lint", "--format", "s") == ["sarif"]
    assert complete("advisor", "--debug", "test", "--ju") == ["--junit"]
    assert complete("advisor", "brief", "--today", "") == []  # a value with no choices: bash's file completion


def test_zsh_completion_parses(capsys):
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef advisor\n")
    for name in subcommands(build_parser()):
        assert f"\n        {name}) _arguments " in script
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("no zsh on this machine: the script's syntax is not checked")
    done = subprocess.run([zsh, "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_quiet_prints_only_problems(capsys, tmp_path):
    assert main(["lint", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["new", str(tmp_path / "p.yaml"), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["test", str(ROOT / "rules" / "care.yaml"), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    out = tmp_path / "out"
    assert main(["batch", TAX, "-o", str(out), "--quiet", "--progress-every", "0"]) == 0
    assert capsys.readouterr() == ("", "")


def test_batch_progress_lines_when_stderr_is_not_a_terminal(capsys, tmp_path):
    assert main(["batch", str(ROOT / "profiles"), "-o", str(tmp_path / "out"), "--progress-every", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("advisor batch: ") and line.endswith("profiles validated") for line in err)
    assert any(line.startswith("advisor batch: 10/10 accounts") for line in err)
    assert err[-1].startswith("10 briefs written, 0 failed; index: ")


def test_rules_option_is_on_every_command_that_reads_rules():
    reads_rules = {"brief", "batch", "facts", "rules", "test", "lint", "explain", "coverage", "docs", "schema",
                   "review", "plan", "config", "serve"}  # fmt: skip
    for name, p in subcommands(build_parser()).items():
        has = any("--rules" in a.option_strings for a in p._actions)
        assert has == (name in reads_rules), name


@pytest.mark.parametrize("command", [["lint"], ["test"], ["rules"], ["plan"], ["facts"], ["coverage"]])
def test_a_missing_rules_path_is_a_usage_error(capsys, command):
    assert main([*command, "--rules", "no/such/rules"]) == 2
    assert capsys.readouterr().err == f"advisor {command[0]}: error: no such rule folder or file: no/such/rules\n"


def test_a_single_rule_file_is_linted_tested_and_listed_with_its_folder(capsys, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "rules", repo / "rules")
    shutil.copytree(ROOT / "profiles", repo / "profiles")
    care = repo / "rules" / "care.yaml"
    # care.yaml tests facts tiering.yaml derives: checked with its folder, they are known.
    assert main(["lint", str(care), "--strict"]) == 0
    capsys.readouterr()
    assert main(["rules", "--rules", str(care), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["path"] for r in rows} == {str(care)}
    assert main(["test", str(care)]) == 0  # its own cases only, run with the whole folder's rules
    assert capsys.readouterr().out.endswith(" passed, 0 failed\n")
    broken = repo / "rules" / "visit.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("account.has_visit", "account.has_vist", 1), encoding="utf-8"
    )
    assert main(["lint", "--rules", str(care)]) == 0  # the other file's problem is not this file's
    assert main(["lint", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "has_vist" in out and all(line.startswith(str(broken)) for line in out.splitlines())


def test_rules_lists_ids_with_file_and_line(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("gov-incumbent-continuity "))
    path, line = row.split()[1].rsplit(":", 1)
    assert path == "rules/industry.yaml"
    assert (ROOT / path).read_text(encoding="utf-8").splitlines()[
        int(line) - 1
    ].strip() == "- id: gov-incumbent-continuity"


def test_unknown_rule_gets_a_did_you_mean(capsys):
    assert main(["explain", TAX, "--rule", "gov-incumbent-continuty"]) == 2
    assert capsys.readouterr().err == (
        "advisor explain: error: --rule: unknown rule 'gov-incumbent-continuty'; did you mean 'gov-incumbent-continuity'?\n"
    )


def test_errors_with_no_position_name_the_command(capsys, tmp_path):
    assert main(["batch", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"advisor batch: error: no such file or folder: {tmp_path / 'missing.yaml'}\n"
    assert not (tmp_path / "out").exists()
    assert main(["coverage", "--min", "101"]) == 1
    assert capsys.readouterr().err.endswith("advisor coverage: error: coverage 100.0% is below --min 101%\n")


def test_init_sets_up_a_repository_that_lints_and_tests_clean(capsys, tmp_path, monkeypatch):
    target = tmp_path / "training"
    assert main(["init", str(target)]) == 0
    assert "wrote" in capsys.readouterr().err
    for name in ("rules/industry.yaml", "rules/industry.cases.yaml", "rules/rules.schema.json", "profiles/gz-tax-bureau.yaml",
                 "templates/labels.yaml", "advisor.toml", ".pre-commit-config.yaml", "README.md"):  # fmt: skip
        assert (target / name).is_file(), name
    monkeypatch.chdir(target / "rules")  # the config is found upward and points at the repository's own rules
    assert main(["config", "--format", "json"]) == 0
    rows = {r["setting"]: r for r in json.loads(capsys.readouterr().out)["settings"]}
    assert rows["rules"]["value"] == str(target / "rules") and rows["templates"]["value"] == str(target / "templates")
    assert main(["lint", "--strict", "--quiet"]) == 0
    assert main(["test", "--quiet"]) == 0
    assert main(["init", str(target)]) == 2  # not empty: refused, nothing touched
    assert "exists and is not an empty folder" in capsys.readouterr().err


def test_security_text_is_reachable_from_the_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--security"])
    assert done.value.code == 0
    assert capsys.readouterr().out == (ROOT / "SECURITY.md").read_text(encoding="utf-8")


def test_security_md_is_packaged_into_the_wheel():
    import tomllib

    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]
    assert build["targets"]["wheel"]["force-include"]["SECURITY.md"] == "advisor/SECURITY.md"


def test_help_and_version_import_nothing_heavy():
    """--help, --version and completion (which a shell may run at every start) answer without loading pydantic, Jinja2, YAML or the engine (their import
    is what made --version take half a second); the time itself is measured in bench/."""
    probe = (
        "import sys\n"
        "from advisor.cli import main\n"
        "for argv in (['--version'], ['--help'], ['brief', '--help'], ['completion', 'bash']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('pydantic', 'jinja2', 'yaml', 'durable', 'advisor.api') if m in sys.modules)\n"
        "print(heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stderr.splitlines()[-1] == "[]"
