"""The ledger: migrations, impressions from what a brief showed, reactions, the report, and several
processes writing at once. Every test runs on SQLite and on PostgreSQL (conftest's ledger_url)."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing

import pytest
import sqlalchemy as sa

from advisor.ledger import schema
from advisor.ledger.reasons import Reasons, UnknownChoice
from advisor.ledger.report import build, neutralise, render
from advisor.ledger.shown import SHOWN, TRAIT, showing
from advisor.ledger.store import Ledger
from advisor.profile import load_profile

from conftest import ROOT

AT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 1)


def reaction(rule: str, kind: str, reason: str | None = None, account: str = "gz-tax-bureau", **more) -> dict:
    return {
        "account_id": account, "rule_id": rule, "reaction": kind, "reason": reason, "note": None, "user": "ann",
        "brief_id": None, "stakeholder": None, "rules_hash": "abc", "course_items": "2.1.1.a 2.1.1.c", **more,
    }  # fmt: skip


def report_of(ledger: Ledger, min_shown: int = 3):
    with ledger.transaction() as conn:
        return build(ledger.impression_counts(conn), ledger.reaction_counts(conn), min_shown)


def test_ledger_created_and_migrated_on_first_use(ledger_url):
    Ledger.open(ledger_url)
    again = Ledger.open(ledger_url)  # a second open finds the schema current and changes nothing
    with again.transaction() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == ["0002"]
        assert set(sa.inspect(conn).get_table_names()) >= {"impressions", "reactions", "tokens", "visits"}


def test_impressions_are_what_the_brief_showed(advisor, ledger_url):
    """Shown in full (Selection.shown_ids) and named on a card (Selection.cares), the same as the JSON
    brief's `shown` and `trait_shown`; the brief id is a hash of what was shown."""
    profile = load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")
    brief = advisor.prepare(advisor.evaluate(profile, TODAY))
    text, selection = advisor.show(brief, format="json")
    marked = json.loads(text)["recommendations"]
    seen = showing(brief, selection, advisor.digest)
    assert [(s.rule_id, s.stakeholder) for s in seen.items if s.kind == SHOWN] == [
        (r["rule"], r["stakeholder"]) for r in marked if r["shown"]
    ]
    assert [(s.rule_id, s.stakeholder) for s in seen.items if s.kind == TRAIT] == [
        (r["rule"], r["stakeholder"]) for r in marked if r["trait_shown"]
    ]
    assert any(s.kind == TRAIT for s in seen.items) and len(seen.items) < len(marked)
    assert showing(brief, selection, advisor.digest).brief_id == seen.brief_id
    full = advisor.show(brief, full=True)[1]
    assert showing(brief, full, advisor.digest).brief_id != seen.brief_id  # the full view shows more

    ledger = Ledger.open(ledger_url)
    assert ledger.record(seen, AT) == seen.brief_id
    with ledger.transaction() as conn:
        rows = conn.execute(sa.select(schema.impressions)).mappings().all()
    assert len(rows) == len(seen.items)
    assert {r["brief_id"] for r in rows} == {seen.brief_id} and {r["rules_hash"] for r in rows} == {advisor.digest}
    first = rows[0]
    assert (first["account_id"], first["lang"], first["rule_id"]) == ("gz-tax-bureau", "en", seen.items[0].rule_id)
    assert first["course_items"].split() == list(seen.items[0].course_items)


def test_report_per_rule_item_and_account(ledger_url):
    """A scripted sequence: rule a shown 4 times and adopted once, rule b shown 3 times and only refused."""
    ledger = Ledger.open(ledger_url)
    with ledger.transaction() as conn:
        rows = [
            {
                "brief_id": f"b{i}",
                "rule_id": rule,
                "rules_hash": "abc",
                "course_items": items,
                "account_id": acc,
                "stakeholder": None,
                "lang": "en",
                "kind": kind,
                "at": AT,
            }  # fmt: skip
            for i, (rule, items, acc, kind) in enumerate(
                [("rule-a", "1.1.1.a", "acc-1", SHOWN)] * 3
                + [("rule-a", "1.1.1.a", "acc-2", TRAIT)]
                + [("rule-b", "1.1.1.a 2.1.1.b", "acc-1", SHOWN)] * 3
            )
        ]
        conn.execute(schema.impressions.insert(), rows)
    ledger.react(reaction("rule-a", "adopted", account="acc-1", course_items="1.1.1.a"), AT)
    ledger.react(reaction("rule-b", "rejected", "compliance", account="acc-1", course_items="1.1.1.a 2.1.1.b"), AT)
    ledger.react(
        reaction("rule-b", "not_applicable", "compliance", account="acc-1", course_items="1.1.1.a 2.1.1.b"), AT
    )
    doc = report_of(ledger).as_dict()

    rules = {r["rule"]: r for r in doc["rules"]}
    assert rules["rule-a"]["impressions"] == 4 and rules["rule-a"]["trait_shown"] == 1
    assert rules["rule-a"]["reactions"]["adopted"] == 1 and rules["rule-a"]["adoption_rate"] == 0.25
    assert rules["rule-b"]["reactions"] == {"adopted": 0, "done": 0, "not_applicable": 1, "rejected": 1}
    assert rules["rule-b"]["reasons"] == {"compliance": 2} and rules["rule-b"]["adoption_rate"] == 0.0
    assert doc["never_adopted"] == [{"rule": "rule-b", "impressions": 3}]
    items = {i["item"]: i for i in doc["course_items"]}
    assert items["1.1.1.a"]["impressions"] == 7 and items["2.1.1.b"]["impressions"] == 3
    assert [i["item"] for i in doc["course_items"]] == ["1.1.1.a", "2.1.1.b"]
    accounts = {a["account"]: a for a in doc["accounts"]}
    assert accounts["acc-1"]["impressions"] == 6 and accounts["acc-2"]["impressions"] == 1
    assert accounts["acc-1"]["never_adopted"] == [{"rule": "rule-b", "impressions": 3}]
    assert accounts["acc-2"]["never_adopted"] == []  # shown once: not "often"

    md = render(report_of(ledger), "md")
    assert "- rule-b: shown 3 times" in md and "| rule-a | 4 | 3 | 1 | 1 | 0 | 0 | 0 | 25% |  |" in md
    assert render(report_of(ledger), "md") == md  # the same ledger, the same bytes


def test_report_csv_neutralises_formulas(ledger_url):
    ledger = Ledger.open(ledger_url)
    ledger.react(reaction('=HYPERLINK("x")', "rejected", "@SUM(1)", account="+acc", course_items="-1"), AT)
    text = render(report_of(ledger), "csv")
    cells = [c for line in text.splitlines()[1:] for c in line.split(",")]
    assert not any(c.lstrip('"').startswith(("=", "+", "-", "@")) for c in cells), text
    assert "'=HYPERLINK" in text and "'+acc" in text and "'@SUM(1) 1" in text
    assert [neutralise(c) for c in ("=1", "+1", "-1", "@a", "\tx", "ok", "")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "ok",
        "",
    ]


def test_reasons_by_code_or_text_and_refusals_need_one():
    reasons = Reasons.load(ROOT / "templates")
    assert reasons.code_of("compliance", "rejected") == "compliance"
    assert reasons.code_of("不适合这个客户", "not_applicable") == "not_this_account"
    assert reasons.code_of("does not fit this account", "rejected") == "not_this_account"
    assert reasons.code_of(None, "adopted") is None
    with pytest.raises(UnknownChoice, match="needs a reason"):
        reasons.code_of(None, "rejected")
    with pytest.raises(UnknownChoice, match="did you mean 'compliance'"):
        reasons.code_of("complience", "rejected")
    with pytest.raises(UnknownChoice, match="did you mean 'rejected'"):
        reasons.code_of("compliance", "rejectd")


WRITERS, EACH = 4, 25


def _write_reactions(url: str, writer: int, start) -> None:
    start.wait()  # every process opens (and migrates) the fresh ledger at once
    ledger = Ledger.open(url)
    for n in range(EACH):
        ledger.react(reaction("rule-a", "adopted", note=f"{writer}-{n}"))


def test_concurrent_reactions_none_lost_or_doubled(ledger_url):
    """Several processes open a new ledger at once (one migrates, the others wait) and write reactions."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as separate servers would be
    start = context.Barrier(WRITERS)
    procs = [context.Process(target=_write_reactions, args=(ledger_url, w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    with Ledger.open(ledger_url).transaction() as conn:
        notes = conn.execute(sa.select(schema.reactions.c.note)).scalars().all()
        ids = conn.execute(sa.select(schema.reactions.c.id)).scalars().all()
    assert sorted(notes) == sorted(f"{w}-{n}" for w in range(WRITERS) for n in range(EACH))
    assert len(set(ids)) == WRITERS * EACH


def test_reaction_time_is_utc_on_every_database(ledger_url):
    ledger = Ledger.open(ledger_url)
    row = ledger.react(
        reaction("rule-a", "adopted"), dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    )
    assert row["at"] == "2026-12-01T09:30:00+00:00"


def test_ledger_errors_are_one_line(tmp_path):
    from advisor.ledger.store import LedgerError

    with pytest.raises(LedgerError, match=r"folder .* does not exist; create it first"):
        Ledger.open(str(tmp_path / "missing" / "l.sqlite"))
    with pytest.raises(LedgerError) as caught:
        Ledger.open("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_brief_with_db_records_what_it_showed(ledger_url, tmp_path, capsys):
    """`advisor brief --db` records the impressions of the brief it wrote: what its JSON marks shown or
    trait_shown, under the id it prints; without --db nothing is recorded."""
    from advisor.cli import main

    profile = str(ROOT / "profiles" / "gz-tax-bureau.yaml")
    out = tmp_path / "brief.json"
    assert main(["brief", profile, "--today", "2026-12-01", "--format", "json", "-o", str(out)]) == 0
    with Ledger.open(ledger_url).transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.impressions)).scalar() == 0
    capsys.readouterr()
    assert (
        main(["brief", profile, "--today", "2026-12-01", "--format", "json", "-o", str(out), "--db", ledger_url]) == 0
    )
    said = capsys.readouterr().err
    marked = json.loads(out.read_text(encoding="utf-8"))["recommendations"]
    expected = sorted((r["rule"], r["stakeholder"] or "", SHOWN if r["shown"] else TRAIT)
                      for r in marked if r["shown"] or r["trait_shown"])  # fmt: skip
    with Ledger.open(ledger_url).transaction() as conn:
        rows = conn.execute(sa.select(schema.impressions)).mappings().all()
    assert sorted((r["rule_id"], r["stakeholder"] or "", r["kind"]) for r in rows) == expected
    (brief_id,) = {r["brief_id"] for r in rows}
    assert f"brief {brief_id}: {len(expected)} recommendations shown" in said


def test_brief_db_does_not_go_with_watch(tmp_path, capsys):
    from advisor.cli import main

    db = str(tmp_path / "l.sqlite")
    assert main(["brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"), "--watch", "--db", db]) == 2
    assert "does not go with --watch" in capsys.readouterr().err
    assert not (tmp_path / "l.sqlite").exists()


@pytest.mark.parametrize(
    "command", [["report"], ["token", "list"], ["brief", "profiles/gz-tax-bureau.yaml", "--db", "l.sqlite"]]
)
def test_without_the_ledger_extra_one_line_names_it(tmp_path, command):
    """Where SQLAlchemy is not installed, a command that needs the ledger says which extra to install."""
    import subprocess
    import sys

    code = "import sys; sys.modules['sqlalchemy'] = None; from advisor.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [str(ROOT / a) if a.startswith("profiles/") else a for a in command]
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == f"advisor {command[0]}: error: sqlalchemy is not installed; pip install 'advisor[ledger]'\n"
    assert not list(tmp_path.iterdir())  # no ledger file, no brief half-written


def test_a_new_ledger_opened_while_another_process_holds_it_waits_instead_of_failing(tmp_path):
    """A file not yet in WAL mode cannot switch while another connection writes, and SQLite says
    "database is locked" at once (no busy wait): opening the ledger then waits for the lock, as a
    transaction would, instead of failing (a CI run saw one of four processes opening it fail)."""
    import sqlite3
    import threading

    path = tmp_path / "ledger.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_program (a)")  # another process writes, in the file's first mode
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        ledger = Ledger.open(str(path))
    finally:
        release.join()
        holder.close()
    assert ledger.react(reaction("rule-a", "adopted"))
