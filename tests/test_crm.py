"""CRM exports as they really are: encodings, separators, aliases, misspelt headers, stray quotes, orphans, header-only files and limits."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from advisor.cli import main
from advisor.crm import COLUMNS, LIFTED, TABLES, columns_markdown, crm_export, normal
from advisor.csvfile import sniff_encoding
from advisor.profile import Profile

from conftest import with_peak_memory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "profiles" / "crm-example"
TODAY = "2026-12-01"

ACCOUNTS = (
    "account_id,name,industry,ownership,annual_revenue,stage,position,visit_date,visit_objective,visit_attendees\n"
    "acme,Acme Logistics,enterprise,private,850000,maintain,incumbent,2026-12-03,Renew the contract,wang-lei\n"
    "water,深圳市水务局,government,,400000,establish,challenger,,,\n"
)
CONTACTS = (
    "account_id,contact_id,name,title,department,function,level\n"
    "acme,wang-lei,Wang Lei,IT Director,IT,tech_management,middle\n"
    "water,zhao-min,赵敏,副局长,局领导,leadership,senior\n"
)
ALONE = ACCOUNTS.replace(",wang-lei\n", ",\n")  # no attendees: needs no contacts.csv
INTERACTIONS = "account_id,date,kind,contact_ids,form\nacme,2026-11-10,call,wang-lei,Renewal terms\n"


def export(folder: Path, accounts: str = ACCOUNTS, contacts: str | None = CONTACTS,
           interactions: str | None = INTERACTIONS, encoding: str = "utf-8") -> Path:  # fmt: skip
    folder.mkdir(parents=True)
    for name, text in (("accounts.csv", accounts), ("contacts.csv", contacts), ("interactions.csv", interactions)):
        if text is not None:
            (folder / name).write_bytes(text.encode(encoding))
    return folder


def batch(capsys, folder: Path, out: Path, *argv: str) -> tuple[int, list[str]]:
    code = main(["batch", str(folder), "-o", str(out), "--quiet", "--today", TODAY, *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.replace(f"{folder}/", "").splitlines()


def index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]


def statuses(out: Path) -> list[str]:
    return [e["status"] for e in index(out)]


def tallies(out: Path) -> dict[str, tuple[int, int, int, dict]]:
    return {
        Path(e["source"]).name: (e["rows"], e["unreadable"], e["skipped"], e["why"])
        for e in index(out)
        if e["status"] == "read"
    }


# --- the example and the documented table ----------------------------------------------------------


def test_crm_example_export_briefs(capsys, tmp_path):
    code, err = batch(capsys, EXAMPLE, tmp_path)
    assert (code, err) == (0, [])
    assert statuses(tmp_path) == ["ok"] * 4 + ["read"] * 3
    assert tallies(tmp_path) == {"accounts.csv": (4, 0, 0, {}), "contacts.csv": (8, 0, 0, {}),
                                 "interactions.csv": (6, 0, 0, {})}  # fmt: skip
    brief = (tmp_path / "briefs" / "sz-pearl-bank.md").read_text(encoding="utf-8")
    assert "Chen Hao" in brief


def test_crm_readme_table_is_the_column_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- crm-columns: begin -->\n(.*?)<!-- crm-columns: end -->", readme, re.S)
    assert found, "README.md lost its CRM column table markers"
    assert found.group(1) == columns_markdown(), "regenerate README's table from advisor.crm.columns_markdown()"


def test_crm_aliases_name_one_column_each():
    for table in TABLES:
        seen: dict[str, str] = {}
        for column in (c for c in COLUMNS if c.file == table.file):
            for header in (column.name, *column.aliases):
                assert seen.setdefault(normal(header), column.name) == column.name, (table.file, header)


def _has(model: type[BaseModel], dotted: str) -> bool:
    """Whether a dotted field path exists in a model (by field name or alias)."""
    for part in dotted.split("."):
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        if part not in fields:
            return False
        kind = fields[part].annotation
        args = [a for a in typing.get_args(kind) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else kind if isinstance(kind, type) and issubclass(kind, BaseModel) else BaseModel
    return True


@pytest.mark.parametrize("column", COLUMNS, ids=lambda c: f"{c.file}:{c.name}")
def test_crm_every_column_fills_a_profile_field(column):
    table = next(t for t in TABLES if t.file == column.file)
    model = Profile
    lifted = LIFTED.get(table.into)
    if lifted and tuple(column.field.split(".")) == lifted[0]:  # the account's, naming the row's person
        assert _has(Profile, column.field), column
        return
    if table.into != "account":  # a list of the profile (dotted: "service.issues"): its items' model
        *parents, name = table.into.split(".")
        for part in parents:
            model = model.model_fields[part].annotation
        model = typing.get_args(model.model_fields[name].annotation)[0]
    assert not column.field or _has(model, column.field), column


# --- encodings and separators ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_crm_each_encoding_is_told_from_the_bytes(capsys, tmp_path, encoding):
    folder = export(tmp_path / "in", encoding=encoding)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, [])
    assert "深圳市水务局" in (tmp_path / "out" / "briefs" / "water.md").read_text(encoding="utf-8")


def test_crm_utf16_without_a_mark_is_read_with_a_warning(capsys, tmp_path):
    folder = export(tmp_path / "in", ALONE, None, None, encoding="utf-16-le")
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, ["accounts.csv:1:1: warning: read as UTF-16-LE (it has no byte-order mark); if names look garbled, state the file's encoding with --encoding NAME (utf-8, gb18030, utf-16, cp1252, ...)"])  # fmt: skip
    assert statuses(tmp_path / "out") == ["warning", "ok", "ok", "read"]


def test_crm_a_guessed_gb18030_says_so_and_how_to_state_it(capsys, tmp_path):
    accounts = ALONE.replace("Acme Logistics", "Ñandu Logistics").replace("深圳市水务局", "Water Bureau")
    folder = export(tmp_path / "in", accounts, None, None, encoding="cp1252")  # Ña: bytes that decode as rare GBK
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, ["accounts.csv:1:1: warning: read as GB18030 (it is not UTF-8, and as GB18030 it holds characters outside common Chinese); if names look garbled, state the file's encoding with --encoding NAME (utf-8, gb18030, utf-16, cp1252, ...)"])  # fmt: skip
    code, err = batch(capsys, folder, tmp_path / "out2", "--encoding", "cp1252")
    assert (code, err) == (0, [])
    assert "Ñandu Logistics" in (tmp_path / "out2" / "briefs" / "acme.md").read_text(encoding="utf-8")


def test_crm_an_encoding_that_cannot_be_told_is_one_error(capsys, tmp_path):
    folder = export(tmp_path / "in", "account_id,name\nx,Café Müller\n", None, None, encoding="cp1252")
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:1:1: error: the file is not UTF-8, UTF-16 or GB18030 text; state the file's encoding with --encoding NAME (utf-8, gb18030, utf-16, cp1252, ...)"])  # fmt: skip


def test_crm_bytes_that_stop_being_utf8_are_named_by_line(capsys, tmp_path):
    filler = "".join(f"acc-{i:04d},Account {i},enterprise,private,{i},maintain,incumbent,,,\n" for i in range(1200))
    folder = export(tmp_path / "in", ALONE + filler, None, None)
    with (folder / "accounts.csv").open("ab") as handle:
        handle.write("gbk,深圳,enterprise,private,1,maintain,incumbent,,,\n".encode("gb18030"))
    code, err = batch(capsys, folder, tmp_path / "out")
    assert code == 1
    assert err == ["accounts.csv:1204:1: error: this line is not UTF-8 text; state the file's encoding with --encoding NAME (utf-8, gb18030, utf-16, cp1252, ...)"]  # fmt: skip
    assert tallies(tmp_path / "out")["accounts.csv"] == (1203, 1, 0, {})
    assert statuses(tmp_path / "out").count("ok") == 1202


def test_crm_unknown_encoding_option_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--encoding", "klingon"])
    assert exc.value.code == 2
    assert "unknown encoding 'klingon'; try utf-8, gb18030, utf-16 or cp1252" in capsys.readouterr().err


@pytest.mark.parametrize("sep", [";", "\t"])
def test_crm_separators_are_told_from_the_header(capsys, tmp_path, sep):
    comma = export(tmp_path / "comma")
    assert batch(capsys, comma, tmp_path / "a") == (0, [])

    def swap(text: str) -> str:
        return text.replace(",", sep)

    folder = export(tmp_path / "in", swap(ACCOUNTS), swap(CONTACTS), swap(INTERACTIONS))
    assert batch(capsys, folder, tmp_path / "b") == (0, [])
    assert (tmp_path / "a" / "briefs" / "acme.md").read_bytes() == (tmp_path / "b" / "briefs" / "acme.md").read_bytes()


def test_crm_quoted_cells_keep_separators_and_lines(capsys, tmp_path):
    accounts = ACCOUNTS.replace("Renew the contract", '"Renew the contract, then ""grow"" it\nin 2027"')
    folder = export(tmp_path / "in", accounts)
    assert batch(capsys, folder, tmp_path / "out") == (0, [])
    brief = (tmp_path / "out" / "briefs" / "acme.md").read_text(encoding="utf-8")
    assert 'Renew the contract, then "grow" it' in brief


# --- headers --------------------------------------------------------------------------------------


def test_crm_aliases_and_header_spelling_are_accepted(capsys, tmp_path):
    accounts = ACCOUNTS.replace("account_id,name,industry", "客户编号, Customer Name ,INDUSTRY").replace(
        "annual_revenue", "Annual-Revenue"
    )
    folder = export(tmp_path / "in", accounts, CONTACTS.replace("contact_id", "Contact ID"),
                    INTERACTIONS.replace("account_id", "Account ID"))  # fmt: skip
    assert batch(capsys, folder, tmp_path / "out") == (0, [])
    profiles = {s.payload["account"]["id"]: s.payload for s in crm_export(folder) if s.kind == "data"}
    assert profiles["acme"]["interactions"] == [{"date": "2026-11-10", "kind": "call", "with": ["wang-lei"], "form": "Renewal terms"}]  # fmt: skip
    assert profiles["acme"]["stakeholders"][0]["id"] == "wang-lei"
    assert profiles["water"]["account"]["name"] == "深圳市水务局"


def test_crm_misspelt_header_is_an_error_with_a_did_you_mean_and_nothing_is_briefed(capsys, tmp_path):
    folder = export(tmp_path / "in", ACCOUNTS.replace("industry", "industy"),
                    interactions=INTERACTIONS.replace("contact_ids", "contact_idz"))  # fmt: skip
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, [
        "accounts.csv:1:17: error: unknown column 'industy'; did you mean 'industry'? Rename the header (the README's CRM table lists every column and alias)",
        "interactions.csv:1:22: error: unknown column 'contact_idz'; did you mean 'contact_ids'? Rename the header (the README's CRM table lists every column and alias)",
    ])  # fmt: skip
    assert statuses(tmp_path / "out") == ["error", "error"]
    assert not (tmp_path / "out" / "briefs").exists()


def test_crm_missing_required_columns_are_one_line(capsys, tmp_path):
    folder = export(tmp_path / "in", "Account ID,Company\nacme,Acme\n", None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:1:1: error: required columns missing: industry, stage, position (the header, read as comma-separated, has 'Account ID', 'Company')"])  # fmt: skip


def test_crm_a_column_twice_is_an_error(capsys, tmp_path):
    folder = export(tmp_path / "in", ACCOUNTS.replace("ownership", "Customer ID"), None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:1:26: error: columns 'account_id' (column 1) and 'Customer ID' both mean account_id; keep one"])  # fmt: skip


def test_crm_other_columns_are_listed_once_and_ignored(capsys, tmp_path):
    accounts = "".join(line + (",crm_owner,Created On\n" if i == 0 else ",Zhang,2020-01-01\n")
                       for i, line in enumerate(ACCOUNTS.splitlines()))  # fmt: skip
    folder = export(tmp_path / "in", accounts)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, ["accounts.csv:1:109: warning: columns not read by the advisor: 'crm_owner', 'Created On'"])  # fmt: skip
    assert statuses(tmp_path / "out") == ["warning", "ok", "ok", "read", "read", "read"]


# --- quotes ---------------------------------------------------------------------------------------

ROW = "acc-{i:02d},Account {i},enterprise,private,{i}000,maintain,incumbent,,,\n"
FIFTY = [ROW.format(i=i) for i in range(50)]


def test_crm_an_unclosed_quote_costs_its_row_only(capsys, tmp_path):
    rows = list(FIFTY)
    rows[2] = rows[2].replace("Account 2", '"Account 2')
    folder = export(tmp_path / "in", ACCOUNTS.splitlines(keepends=True)[0] + "".join(rows), None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:4:8: error: a quote opened here is never closed; the row is skipped and reading goes on at the next line"])  # fmt: skip
    assert statuses(tmp_path / "out").count("ok") == 49
    assert tallies(tmp_path / "out")["accounts.csv"] == (50, 1, 0, {})


def test_crm_two_stray_quotes_do_not_swallow_the_rows_between(capsys, tmp_path):
    rows = list(FIFTY)
    rows[2] = rows[2].replace("Account 2", '"Account 2')
    rows[9] = rows[9].replace("Account 9", '"Account 9')
    folder = export(tmp_path / "in", ACCOUNTS.splitlines(keepends=True)[0] + "".join(rows), None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, [
        "accounts.csv:4:8: error: a quote opened here closes only on line 11, taking in lines that look like rows; the row is skipped and reading goes on at the next line",
        "accounts.csv:11:8: error: a quote opened here is never closed; the row is skipped and reading goes on at the next line",
    ])  # fmt: skip
    assert statuses(tmp_path / "out").count("ok") == 48
    assert tallies(tmp_path / "out")["accounts.csv"] == (50, 2, 0, {})


# --- no row dropped in silence --------------------------------------------------------------------


def test_crm_header_only_exits_0_with_a_warning(capsys, tmp_path):
    folder = export(tmp_path / "in", ACCOUNTS.splitlines(keepends=True)[0], None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, ["accounts.csv:1:1: warning: no accounts (header only)"])
    assert tallies(tmp_path / "out") == {"accounts.csv": (0, 0, 0, {})}


def test_crm_an_empty_accounts_file_is_an_error(capsys, tmp_path):
    folder = export(tmp_path / "in", "", None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:1:1: error: the file is empty; it needs a header row naming its columns"])


def test_crm_rows_of_unknown_accounts_are_one_warning_each(capsys, tmp_path):
    contacts = CONTACTS + "ghost,g1,G,T,D,leadership,senior\n,g2,G,T,D,leadership,senior\n"
    interactions = INTERACTIONS + "Ghost,2026-10-01,call,,x\n"
    folder = export(tmp_path / "in", contacts=contacts, interactions=interactions)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, [
        "contacts.csv:4:1: warning: unknown account 'ghost' (not in accounts.csv); the contact is skipped",
        "contacts.csv:5:1: warning: the contact on this line has no account_id; the contact is skipped",
        "interactions.csv:3:1: warning: unknown account 'Ghost' (not in accounts.csv); the interaction is skipped",
    ])  # fmt: skip
    assert tallies(tmp_path / "out") == {
        "accounts.csv": (2, 0, 0, {}),
        "contacts.csv": (4, 0, 2, {"no account id": 1, "unknown account": 1}),
        "interactions.csv": (2, 0, 1, {"unknown account": 1}),
    }
    summary = (tmp_path / "out" / "portfolio.md").read_text(encoding="utf-8")
    assert "contacts.csv: 4 rows read, 0 unreadable, 2 skipped (no account id: 1, unknown account: 1)" in summary


def test_crm_summary_line_counts_rows(capsys, tmp_path):
    folder = export(tmp_path / "in", contacts=CONTACTS + "ghost,g1,G,T,D,leadership,senior\n")
    code = main(["batch", str(folder), "-o", str(tmp_path / "out"), "--today", TODAY])
    err = capsys.readouterr().err.replace(f"{folder}/", "").splitlines()
    assert code == 0
    assert err[1:] == [
        "accounts.csv: 2 rows read, 0 unreadable, 0 skipped",
        "contacts.csv: 3 rows read, 0 unreadable, 1 skipped (unknown account: 1)",
        "interactions.csv: 1 rows read, 0 unreadable, 0 skipped",
        f"2 briefs written, 0 failed, 1 warning; index: {tmp_path / 'out' / 'index.jsonl'}",
    ]


def test_crm_visit_details_without_a_date_are_a_warning(capsys, tmp_path):
    folder = export(tmp_path / "in", ACCOUNTS.replace("2026-12-03,Renew", ",Renew"))
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (0, ["accounts.csv:2:67: warning: visit details are filled but not the visit's date; no visit is read for this account"])  # fmt: skip


# --- positions and limits -------------------------------------------------------------------------


def test_crm_a_contact_error_names_contacts_csv_and_its_cell(capsys, tmp_path):
    folder = export(tmp_path / "in", contacts=CONTACTS.replace("tech_management,middle", "tech_management,manager"))
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["contacts.csv:2:55: error: stakeholders[0].level must be frontline, middle or senior; got 'manager'"])  # fmt: skip


def test_crm_an_interaction_error_names_interactions_csv(capsys, tmp_path):
    folder = export(tmp_path / "in", interactions=INTERACTIONS.replace("call", "lunch"))
    code, err = batch(capsys, folder, tmp_path / "out")
    assert code == 1
    assert len(err) == 1 and err[0].startswith("interactions.csv:2:17: error: interactions[0].kind must be ")


def test_crm_contacts_over_the_limit_are_one_error_on_the_account(capsys, tmp_path):
    contacts = CONTACTS + "".join(f"acme,p{i},P {i},T,D,business,frontline\n" for i in range(3))
    folder = export(tmp_path / "in", contacts=contacts)
    code, err = batch(capsys, folder, tmp_path / "out", "--limit", "stakeholders=3")
    assert (code, err) == (1, ["accounts.csv:2:1: error: 4 contacts in contacts.csv for this account, over the limit of 3; keep the ones that matter, or raise the limit with --limit stakeholders=N"])  # fmt: skip
    assert statuses(tmp_path / "out") == ["error", "ok", "read", "read", "read"]


def test_crm_values_limit_applies_to_the_joined_profile(capsys, tmp_path):
    folder = export(tmp_path / "in")
    code, err = batch(capsys, folder, tmp_path / "out", "--limit", "values=10")
    assert code == 1
    assert err[0] == "accounts.csv:2:1: error: the file holds more than 10 values; split it, or raise the limit with --limit values=N"  # fmt: skip


def test_crm_sniffing_is_honest():
    assert sniff_encoding("a,b\n".encode("utf-16"), True).doubt == ""
    assert sniff_encoding("深圳,b\n".encode(), True).name == "UTF-8"
    assert sniff_encoding("深圳,b\n".encode("gb18030"), True).doubt == ""
    assert sniff_encoding("Ñandu".encode("cp1252"), True).doubt != ""
    assert sniff_encoding(b"caf\xe9 x", True).codec is None


def test_crm_cells_past_the_header_are_a_warning(capsys, tmp_path):
    accounts = ACCOUNTS.replace("Acme Logistics", "Acme, Inc.").replace("深圳市水务局", "Water") + ""
    folder = export(tmp_path / "in", accounts.replace(",,,\n", ",,,,\n"))  # a trailing empty cell is no warning
    code, err = batch(capsys, folder, tmp_path / "out")
    assert code == 1
    assert err[:2] == [
        "accounts.csv:2:92: warning: 11 cells where the header has 10; the cells past the last column are not read (a comma inside a value needs quotes around the value)",
        "accounts.csv:2:11: error: account.industry must be party, government, military, science, education, culture, health, finance, insurance or enterprise; got 'Inc.'",
    ]  # fmt: skip
    assert len(err) == 8  # every shifted cell is an error at its own column


def test_crm_an_oversize_row_whose_quote_never_closes_costs_that_row_only(capsys, tmp_path):
    rows = list(FIFTY)
    rows[2] = rows[2].replace("Account 2", '"Account 2' + "x" * 1_100_000)
    folder = export(tmp_path / "in", ACCOUNTS.splitlines(keepends=True)[0] + "".join(rows), None, None)
    code, err = batch(capsys, folder, tmp_path / "out")
    assert (code, err) == (1, ["accounts.csv:4:8: error: a quote opened here is never closed; the row is skipped and reading goes on at the next line"])  # fmt: skip
    assert statuses(tmp_path / "out").count("ok") == 49


def test_crm_resume_keeps_the_warnings_and_counts(capsys, tmp_path):
    folder = export(tmp_path / "in", contacts=CONTACTS + "ghost,g1,G,T,D,leadership,senior\n")
    first = batch(capsys, folder, tmp_path / "out")
    before = (tmp_path / "out" / "index.jsonl").read_bytes()
    assert batch(capsys, folder, tmp_path / "out", "--resume") == first
    assert (tmp_path / "out" / "index.jsonl").read_bytes() == before


def test_crm_a_huge_contact_row_is_never_held_and_its_account_goes_on(tmp_path):

    folder = export(tmp_path / "in", contacts=None, interactions=None)
    with (folder / "contacts.csv").open("w", encoding="utf-8") as handle:
        handle.write(CONTACTS + "acme,huge,")
        for _ in range(30):
            handle.write("h" * 1_000_000)  # a 30 MB row
        handle.write(",T,D,business,frontline\n")
    sources, peak = with_peak_memory(lambda: list(crm_export(folder)))
    assert [(Path(s.path).name, s.line, s.col, s.kind) for s in sources] == [
        ("contacts.csv", 4, 1, "error"),
        ("accounts.csv", 2, 1, "data"),
        ("accounts.csv", 3, 1, "data"),
        ("accounts.csv", 0, 1, "tally"),
        ("contacts.csv", 0, 1, "tally"),
    ]
    assert sources[0].payload.startswith("the row is over the limit of 1,000,000 bytes")
    assert peak < 12_000_000, peak
