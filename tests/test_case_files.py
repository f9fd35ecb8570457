"""Case files: one loader for every command (a hostile file gives the same positioned line in each),
and overlays that append to a list without restating it."""

from __future__ import annotations

import shutil

import pytest
import yaml

from advisor.cli import main
from advisor.workbench.cases import OverlayError, overlay

from conftest import GIFT_BREACH_RULE, ROOT

TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"
RULE = GIFT_BREACH_RULE
BOMB = "\n".join(
    ["base: " + str(TAX), "today: 2026-12-01", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]" for p, n in zip("abcd", "bcde", strict=True)]
    + ["cases: {}"]
)


def rules_folder(tmp_path, cases: str):
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "profiles").mkdir()  # case bases stay in the rules' repository
    shutil.copy(TAX, tmp_path / "profiles")
    cases = cases.replace(str(TAX), "../profiles/gz-tax-bureau.yaml")
    (folder / "r.yaml").write_text(yaml.safe_dump({"rules": [RULE]}), encoding="utf-8")
    (folder / "r.cases.yaml").write_text(cases, encoding="utf-8")
    return folder


def lines_about(text: str, path) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{path}:")]


@pytest.mark.parametrize("command", ["test", "lint", "docs"])
def test_case_files_alias_bomb_is_one_positioned_line_in_every_command(tmp_path, capsys, command):
    folder = rules_folder(tmp_path, BOMB)
    argv = {"test": ["test", str(folder)], "lint": ["lint", str(folder)],
            "docs": ["docs", "--rules", str(folder), "-o", str(tmp_path / "out")]}[command]  # fmt: skip
    code = main(argv)
    out, err = capsys.readouterr()
    (line,) = lines_about(out + err, folder / "r.cases.yaml")
    assert code != 0
    assert ": error: more than 1,000 YAML alias expansions" in line
    assert line.split(":")[1:3] != ["1", "1"]  # a real position, not the file's start


def test_case_files_overlay_appends_to_a_list_without_ids():
    base = {"interactions": [{"kind": "visit"}], "stakeholders": [{"id": "a", "level": "senior"}]}
    patch = {"interactions": {"append": [{"kind": "gift"}]}, "events": {"append": [{"kind": "media"}]}}
    merged = overlay(base, patch)
    assert merged["interactions"] == [{"kind": "visit"}, {"kind": "gift"}]
    assert merged["events"] == [{"kind": "media"}]  # nothing to append to: the list starts here
    assert merged["stakeholders"] == base["stakeholders"]
    assert base["interactions"] == [{"kind": "visit"}]  # the base is not changed
    assert overlay(base, {"interactions": [{"kind": "call"}]})["interactions"] == [{"kind": "call"}]  # replace


@pytest.mark.parametrize(
    "patch,loc,message",
    [
        ({"interactions": {"append": 5}}, ("interactions", "append"), "'append' takes a list of items to add; got int"),
        ({"interactions": {"append": [], "x": 1}}, ("interactions", "x"), "'append' stands alone in place of a list; got also 'x'"),
        ({"account": {"append": [1]}}, ("account", "append"), "'append' adds items to a list, but the base has a mapping here"),
    ],
)  # fmt: skip
def test_case_files_overlay_bad_append_names_where(patch, loc, message):
    with pytest.raises(OverlayError) as info:
        overlay({"interactions": [], "account": {"id": "x"}}, patch)
    assert (info.value.loc, str(info.value)) == (loc, message)


def test_case_files_append_runs_end_to_end_and_a_bad_one_is_positioned(tmp_path, capsys):
    gift = "{date: 2026-11-20, kind: gift, with: [chen-jianguo], value: 5000}"
    good = f"""base: ../profiles/gz-tax-bureau.yaml
today: 2026-12-01
cases:
  with-a-gift:
    overlay:
      interactions:
        append: [{gift}]
    fires: [gift-breach]
  as-is:
    quiet: [gift-breach]
"""
    folder = rules_folder(tmp_path, good)
    assert main(["test", str(folder)]) == 0, capsys.readouterr().err
    assert "2 passed, 0 failed" in capsys.readouterr().out
    (folder / "r.cases.yaml").write_text(good.replace(f"append: [{gift}]", "append: 5"), encoding="utf-8")
    assert main(["test", str(folder)]) == 1
    (line,) = lines_about(capsys.readouterr().err, folder / "r.cases.yaml")
    assert (
        line
        == f"{folder / 'r.cases.yaml'}:7:17: error: case 'with-a-gift': 'append' takes a list of items to add; got int"
    )
