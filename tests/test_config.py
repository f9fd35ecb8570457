"""The project config: `advisor.toml` or `[tool.advisor]` in pyproject.toml, found upward from the
current folder; flags win; `advisor config` says what is in force and where it came from."""

from __future__ import annotations

import json
import shutil

import pytest

from advisor.cli import main
from advisor.projectfile import find

from conftest import ROOT

TAX = str(ROOT / "profiles" / "gz-tax-bureau.yaml")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with a subfolder the user works in (the current folder)."""
    sub = tmp_path / "work" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return tmp_path


def settings(capsys, *argv: str) -> dict:
    assert main(["config", "--format", "json", *argv]) == 0
    doc = json.loads(capsys.readouterr().out)
    return {row["setting"]: row for row in doc["settings"]} | {"file": doc["config_file"]}


def test_config_pyproject_table_is_found_upward_and_paths_are_relative_to_it(capsys, project):
    shutil.copytree(ROOT / "rules", project / "my-rules")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.advisor]\nrules = "my-rules"\nlang = "zh"\n\n[tool.advisor.limits]\nstakeholders = 5000\n',
        encoding="utf-8",
    )
    got = settings(capsys)
    assert got["file"] == str(project / "pyproject.toml")
    assert (
        got["rules"]["value"] == str(project / "my-rules") and got["rules"]["from"] == f"{project / 'pyproject.toml'}:5"
    )
    assert got["lang"]["value"] == "zh" and got["lang"]["from"] == f"{project / 'pyproject.toml'}:6"
    assert got["limits"]["value"]["stakeholders"] == 5000 and got["limits"]["from"].endswith("pyproject.toml:8")
    assert got["templates"]["value"] is None and got["templates"]["from"] == "shipped"


def test_config_flags_win_over_the_file(capsys, project):
    (project / "advisor.toml").write_text('lang = "zh"\n[limits]\nstakeholders = 5000\n', encoding="utf-8")
    got = settings(capsys, "--lang", "en", "--limit", "stakeholders=7")
    assert got["lang"] == {"setting": "lang", "value": "en", "from": "command line"}
    assert got["limits"]["value"]["stakeholders"] == 7  # the config's limit first, the flag's after it: the flag wins
    assert main(["brief", TAX, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["lang"] == "zh"  # the config's lang, with no flag
    assert main(["brief", TAX, "--format", "json", "--lang", "en"]) == 0
    assert json.loads(capsys.readouterr().out)["lang"] == "en"


def test_config_limits_reach_the_profile_reader(capsys, project):
    (project / "advisor.toml").write_text("[limits]\nstakeholders = 1\n", encoding="utf-8")
    assert main(["brief", TAX]) == 2  # refused before it is read, like --limit stakeholders=1
    assert "4 stakeholders, over the limit of 1" in capsys.readouterr().err
    assert main(["brief", TAX, "--no-config"]) == 0


def test_config_advisor_toml_wins_over_pyproject_in_one_folder_and_nearer_wins(project):
    (project / "pyproject.toml").write_text('[tool.advisor]\nlang = "zh"\n', encoding="utf-8")
    assert find(project / "work" / "deep") == project / "pyproject.toml"
    (project / "advisor.toml").write_text('lang = "en"\n', encoding="utf-8")
    assert find(project / "work" / "deep") == project / "advisor.toml"
    (project / "work" / "pyproject.toml").write_text('[project]\nname = "no-table"\n', encoding="utf-8")
    assert find(project / "work" / "deep") == project / "advisor.toml"  # a pyproject without the table is passed by
    (project / "work" / "advisor.toml").write_text("", encoding="utf-8")
    assert find(project / "work" / "deep") == project / "work" / "advisor.toml"


def test_config_without_a_file_uses_the_defaults(capsys, project):
    got = settings(capsys)
    assert got["file"] is None
    assert got["lang"] == {"setting": "lang", "value": "en", "from": "default"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('lang = "fr"\n', "advisor.toml:1:1: error: lang must be en or zh; got 'fr'"),
        ('lang = "en"\nrulez = "x"\n', "advisor.toml:2:1: error: unknown setting 'rulez'; the settings are rules, templates, lang or limits"),
        ("[limits]\nstakholders = 3\n", "advisor.toml:1:1: error: unknown limit 'stakholders'; did you mean 'stakeholders'?"),
        ("lang = \n", "advisor.toml:1:8: error: invalid TOML: Invalid value"),
    ],
)  # fmt: skip
def test_config_errors_name_file_and_line_and_exit_2(capsys, project, text, expected):
    (project / "advisor.toml").write_text(text, encoding="utf-8")
    assert main(["brief", TAX]) == 2
    assert capsys.readouterr().err == f"{project / expected}\n"


def test_config_option_reads_a_named_file_and_a_missing_one_is_a_usage_error(capsys, project):
    named = project / "elsewhere.toml"
    named.write_text('lang = "zh"\n', encoding="utf-8")
    # A file named by --config holds its settings at the top level, as advisor.toml does.
    assert settings(capsys, "--config", str(named))["lang"]["value"] == "zh"
    assert main(["config", "--config", str(project / "nope.toml")]) == 2
    assert capsys.readouterr().err == f"advisor config: error: --config: no such file: {project / 'nope.toml'}\n"


def test_config_schema_accepts_what_init_writes_and_rejects_a_misspelled_limit(capsys):
    import tomllib

    import jsonschema

    from advisor.workbench.init import CONFIG

    assert main(["schema", "config"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.validate(tomllib.loads(CONFIG), schema)
    jsonschema.validate({"lang": "zh", "limits": {"stakeholders": 5000}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"limits": {"stakholders": 5000}}, schema)


def test_config_the_settings_a_start_knows_are_the_config_models_fields():
    # projectfile.SETTINGS names them for a start that finds no file (config.py's model is not imported).
    from advisor import projectfile
    from advisor.config import Config

    assert projectfile.SETTINGS == tuple(Config.model_fields)
