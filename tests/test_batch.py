"""Batch briefs for a portfolio: inputs of every kind, the index, tiers, resume, kill-safety, determinism."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from advisor.api import Advisor
from advisor.cli import main
from advisor.portfolio import Position
from advisor.profile import load_profile

from conftest import FIXTURES, ROOT

PROFILES = ROOT / "profiles"
TODAY = "2026-12-01"


def batch(capsys, *argv: str) -> tuple[int, str]:
    code = main(["batch", *argv, "--quiet", "--today", TODAY])
    return code, capsys.readouterr().err


def index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def to_jsonl(paths: list[Path], target: Path) -> None:
    lines = [json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), ensure_ascii=False, default=str) for p in paths]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_batch_briefs_every_account_and_reports_bad_ones_in_the_index(capsys, tmp_path):
    bad = FIXTURES / "profiles" / "bad-level.yaml"
    code, err = batch(capsys, str(PROFILES), str(bad), "-o", str(tmp_path), "--format", "markdown,json")
    assert code == 1
    assert err == f"{bad}:14:12: error: stakeholders[0].level must be frontline, middle or senior; got 'manager'\n"
    entries = index(tmp_path)
    assert len(entries) == 11
    failed = [e for e in entries if e["status"] == "error"]
    assert len(failed) == 1 and failed[0]["source"] == f"{bad}:1" and "stakeholders[0].level" in failed[0]["error"]
    for e in entries:
        if e["status"] == "ok":
            assert e["outputs"] == [f"briefs/{e['id']}.md", f"briefs/{e['id']}.json"]
            assert all((tmp_path / p).is_file() for p in e["outputs"])
            assert e["counts"]["recommendations"] > 0 and len(e["hash"]) == 16
    summary = (tmp_path / "portfolio.md").read_text(encoding="utf-8")
    assert "| 1 | 深圳市地铁集团有限公司 | 4,500,000 | 36.5% | A |" in summary
    assert "## Accounts without an insider\n\n- Kessler Precision Components (Suzhou) Co., Ltd.\n" in summary
    assert "```mermaid\nxychart-beta" in summary
    assert not list(tmp_path.glob(".*"))  # no journal or temp files left behind


def test_batch_output_is_byte_identical_for_any_jobs(capsys, tmp_path):
    assert batch(capsys, str(PROFILES), "-o", str(tmp_path / "one"), "--format", "markdown,json")[0] == 0
    assert batch(capsys, str(PROFILES), "-o", str(tmp_path / "two"), "--format", "markdown,json", "--jobs", "2")[0] == 0
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_batch_jsonl_and_stdin_give_the_same_briefs_as_yaml(capsys, tmp_path, monkeypatch):
    paths = sorted(PROFILES.glob("*.yaml"))
    to_jsonl(paths, tmp_path / "all.jsonl")
    assert batch(capsys, str(PROFILES), "-o", str(tmp_path / "yaml"))[0] == 0
    assert batch(capsys, str(tmp_path / "all.jsonl"), "-o", str(tmp_path / "jsonl"))[0] == 0
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO((tmp_path / "all.jsonl").read_text(encoding="utf-8")))
    assert batch(capsys, "-", "-o", str(tmp_path / "stdin"))[0] == 0
    yaml_briefs = tree(tmp_path / "yaml" / "briefs")
    assert yaml_briefs == tree(tmp_path / "jsonl" / "briefs") == tree(tmp_path / "stdin" / "briefs")
    assert index(tmp_path / "jsonl")[0]["source"] == f"{tmp_path / 'all.jsonl'}:1"


def test_batch_bad_jsonl_line_names_its_line(capsys, tmp_path):
    good = json.dumps(
        yaml.safe_load((PROFILES / "gz-tax-bureau.yaml").read_text(encoding="utf-8")), default=str, ensure_ascii=False
    )
    (tmp_path / "in.jsonl").write_text(
        good + "\n{not json\n" + good.replace('"gz-tax-bureau"', '"Bad Id"', 1) + "\n", encoding="utf-8"
    )
    code, err = batch(capsys, str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"))
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'in.jsonl'}:2:1: error: invalid JSON")
    assert lines[1].startswith(f"{tmp_path / 'in.jsonl'}:3:1: error: account.id must be an id")
    assert [e["status"] for e in index(tmp_path / "out")] == ["ok", "error", "error"]


def test_batch_reads_a_crm_csv_export(capsys, tmp_path):
    crm = FIXTURES / "crm"
    code, err = batch(capsys, str(crm), "-o", str(tmp_path))
    assert code == 0, err
    entries = [e for e in index(tmp_path) if e["status"] == "ok"]
    assert [e["id"] for e in entries] == ["acme-logistics", "city-water"]
    brief = (tmp_path / "briefs" / "acme-logistics.md").read_text(encoding="utf-8")
    assert "### Wang Lei: IT Director, Information Technology" in brief
    assert entries[0]["portfolio"]["rank"] == 1


def test_batch_duplicate_account_ids_are_refused(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / "in" / name).write_bytes((PROFILES / "gz-tax-bureau.yaml").read_bytes())
    code, err = batch(capsys, str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert code == 1
    assert "duplicate account id 'gz-tax-bureau'" in err
    assert sorted(p.name for p in (tmp_path / "out" / "briefs").iterdir()) == ["gz-tax-bureau.md"]


def test_batch_resume_skips_what_would_not_change(capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in PROFILES.glob("*.yaml"):
        (src / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    assert batch(capsys, str(src), "-o", str(out))[0] == 0
    first = tree(out)
    main(["batch", str(src), "-o", str(out), "--today", TODAY, "--resume"])
    assert "0 briefs written, 10 unchanged since the last run (skipped), 0 failed" in capsys.readouterr().err
    assert tree(out) == first
    # A changed profile is briefed again; its revenue moves the portfolio, so tiers that changed are too.
    path = src / "gd-provincial-museum.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("name: 广东省博物馆", "name: 广东省博物馆（新馆）", 1),
        encoding="utf-8",
    )
    main(["batch", str(src), "-o", str(out), "--today", TODAY, "--resume"])
    assert "1 brief written, 9 unchanged since the last run (skipped), 0 failed" in capsys.readouterr().err
    # A different language changes every hash.
    main(["batch", str(src), "-o", str(out), "--today", TODAY, "--resume", "--lang", "zh"])
    assert "10 briefs written, 0 failed" in capsys.readouterr().err


def test_batch_brief_with_portfolio_index_gets_the_batch_tier(capsys, tmp_path):
    assert batch(capsys, str(PROFILES), "-o", str(tmp_path), "--format", "json")[0] == 0
    from_batch = json.loads((tmp_path / "briefs" / "sd-huarui-appliance.json").read_text(encoding="utf-8"))
    code = main(["brief", str(PROFILES / "sd-huarui-appliance.yaml"), "--format", "json", "--today", TODAY,
                 "--portfolio", str(tmp_path / "index.jsonl")])  # fmt: skip
    single = json.loads(capsys.readouterr().out)
    assert code == 0 and single == from_batch


def test_batch_survives_kill_9_and_resume_completes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    base = (PROFILES / "sz-metro-group.yaml").read_text(encoding="utf-8")
    for i in range(200):
        (src / f"a{i:03d}.yaml").write_text(
            base.replace("id: sz-metro-group", f"id: metro-{i:03d}", 1), encoding="utf-8"
        )
    out = tmp_path / "out"
    import shutil

    shutil.copytree(ROOT / "rules", tmp_path / "rules")  # a fixed copy: the runs must see the same rules
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    pinned = ["--rules", str(tmp_path / "rules"), "--templates", str(tmp_path / "templates")]
    cmd = [sys.executable, "-m", "advisor", "batch", str(src), "-o", str(out), "--quiet", "--today", TODAY, *pinned]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and len(list((out / "briefs").glob("*.md")) if (out / "briefs").is_dir() else []) < 20
    ):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = list((out / "briefs").glob("*.md"))
    assert 20 <= len(written) < 200, "the kill should land mid-run"
    for path in written:  # every visible brief is whole
        assert path.read_text(encoding="utf-8").rstrip().endswith("`"), path.name
    assert not (out / "index.jsonl").exists()
    code = subprocess.run([*cmd, "--resume"], capture_output=True, text=True).returncode
    assert code == 0
    entries = index(out)
    assert len(entries) == 200 and all(e["status"] == "ok" for e in entries)
    clean = tmp_path / "clean"
    assert subprocess.run([*cmd[:6], str(clean), *cmd[7:]], capture_output=True).returncode == 0
    assert tree(out / "briefs") == tree(clean / "briefs")
    assert (out / "index.jsonl").read_bytes() == (clean / "index.jsonl").read_bytes()
    assert not [p for p in out.rglob(".*") if p.is_file()]


def test_api_is_correct_from_several_threads_at_once():
    advisor = Advisor.load(ROOT / "rules", ROOT / "templates")
    profiles = [load_profile(p) for p in sorted(PROFILES.glob("*.yaml"))]
    import datetime as dt

    today = dt.date(2026, 12, 1)
    expected = [advisor.brief(p, today=today) for p in profiles]
    results: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(3):
                for i, p in enumerate(profiles):
                    results[(worker, round_ * 100 + i)] = advisor.brief(p, today=today)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (_, key), text in results.items():
        assert text == expected[key % 100]
    assert len(results) == 4 * 3 * len(profiles)


def test_batch_counts_are_the_plain_recommendations_whatever_the_format_order(capsys, tmp_path, advisor):
    """The index counts what the JSON brief lists (Markdown escaping can merge two texts), so
    neither `--format markdown` nor the order of formats changes them."""
    runs = {}
    for formats in ("markdown", "markdown,json", "json,markdown"):
        out = tmp_path / formats.replace(",", "-")
        assert batch(capsys, str(ROOT / "profiles"), "-o", str(out), "--format", formats)[0] == 0
        runs[formats] = {e["id"]: e for e in index(out)}
    counts = {formats: {k: e["counts"] for k, e in run.items()} for formats, run in runs.items()}
    assert counts["markdown"] == counts["markdown,json"] == counts["json,markdown"]
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        profile = load_profile(path)
        entry = runs["markdown"][profile.account.id]
        position = Position(**entry["portfolio"]) if entry["portfolio"] else None
        evaluation = advisor.evaluate(profile, dt.date.fromisoformat(TODAY), position)
        plain = advisor.prepare(evaluation).recommendations  # withdrawn advice is not counted
        assert entry["counts"]["recommendations"] == len(plain)
        assert entry["counts"]["high"] == sum(r.priority == "high" for r in plain)


# --- OUT/portfolio.md and what the index keeps for it ---------------------------------------------


def odd_portfolio(folder: Path) -> Path:
    """Huarui under a name full of Markdown, plus a senior leader never contacted and a third
    competitor typed after two others (canonical order would put it first)."""
    folder.mkdir()
    doc = yaml.safe_load((PROFILES / "sd-huarui-appliance.yaml").read_text(encoding="utf-8"))
    doc["account"].update(id="odd-names", name="Odd *Name* | Co [1]")
    doc["stakeholders"].append({"id": "zhou-li", "name": "Zhou_Li #1", "title": "VP", "department": "Board",
                                "function": "leadership", "level": "senior"})  # fmt: skip
    doc["competitors"].append({"name": "X|Y", "strength": "strong", "latest_move": "cut price by <20%>"})
    (folder / "odd.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (folder / "metro.yaml").write_bytes((PROFILES / "sz-metro-group.yaml").read_bytes())
    return folder


def test_batch_portfolio_summary_is_in_the_batch_language_with_names_escaped(capsys, tmp_path):
    src = odd_portfolio(tmp_path / "in")
    assert batch(capsys, str(src), "-o", str(tmp_path / "zh"), "--lang", "zh")[0] == 0
    assert batch(capsys, str(src), "-o", str(tmp_path / "en"))[0] == 0
    zh = (tmp_path / "zh" / "portfolio.md").read_text(encoding="utf-8")
    en = (tmp_path / "en" / "portfolio.md").read_text(encoding="utf-8")
    assert zh.startswith(
        "# 大客户总览\n\n已生成2家客户的简报，0家失败。\n\n## 价值分级（二八法则）\n\n| 排名 | 客户 | 年收入 | 占比 | 分类 |\n"
    )
    for heading in ("尚未发展内线的客户", "超过90天未联系的高层", "需要警惕的竞争对手", "收入帕累托分析"):
        assert f"\n## {heading}\n" in zh
    assert "- Odd \\*Name\\* \\| Co \\[1\\]：Zhou\\_Li \\#1，从未联系过\n" in zh
    assert "- Odd \\*Name\\* \\| Co \\[1\\]：X\\|Y（实力强），最新动向：cut price by &lt;20%&gt;\n" in zh
    assert "A类 |" in zh and "柱：各客户收入占比（%，按排名）；线：累计占比。\n" in zh
    for english in ("Portfolio summary", "accounts briefed", "Value tiers", "Revenue", "never contacted", "None.",
                    "days", "strong", "Overdue", "Competitor", "Bars:"):  # fmt: skip
        assert english not in zh, english
    assert en.startswith("# Portfolio summary\n\n2 accounts briefed, 0 failed.\n\n## Value tiers (80/20)\n")
    assert "\n## Overdue senior contacts (over 90 days)\n" in en and "\n## Competitor threats\n" in en
    assert "- Odd \\*Name\\* \\| Co \\[1\\]: Zhou\\_Li \\#1, never contacted\n" in en
    assert "- Odd \\*Name\\* \\| Co \\[1\\]: X\\|Y (strong): cut price by &lt;20%&gt;\n" in en
    assert not any("\u4e00" <= ch <= "\u9fff" for line in en.splitlines() if line.startswith("#") for ch in line)


def test_batch_portfolio_template_error_names_its_line_and_writes_no_summary(capsys, tmp_path):
    """portfolio.md is written as its template makes it: a template that fails half-way (a trainer's
    slip past the first lines) gives the one-line error, and leaves no summary, half or whole."""
    import shutil

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    template = tmp_path / "templates" / "portfolio.md.j2"
    lines = template.read_text(encoding="utf-8").splitlines()
    where = next(i for i, line in enumerate(lines, 1) if line.startswith("## {{ L.no_insider }}"))
    lines.insert(where, "{{ L.no_such_label.format(n=1) }}")  # a label not in labels.yaml: fails while rendering
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    src = odd_portfolio(tmp_path / "in")
    code, err = batch(capsys, str(src), "-o", str(tmp_path / "out"), "--templates", str(tmp_path / "templates"))
    assert code != 0 and "Traceback" not in err, err
    assert f"{template}:{where + 1}:1: error: template error: " in err and "no_such_label" in err, err
    out = tmp_path / "out"
    assert not (out / "portfolio.md").exists() and not [p for p in out.iterdir() if p.name.startswith(".portfolio")]
    assert len(index(out)) == 2  # the briefs and index are done: a fixed template and --resume finish it
    shutil.copy(ROOT / "templates" / "portfolio.md.j2", template)
    assert batch(capsys, str(src), "-o", str(out), "--templates", str(tmp_path / "templates"), "--resume")[0] == 0
    assert (out / "portfolio.md").read_text(encoding="utf-8").startswith("# Portfolio summary\n\n2 accounts briefed")


def test_batch_index_lists_flagged_people_and_competitors_as_typed(capsys, tmp_path):
    """rules/portfolio.yaml decides who is listed; the index keeps the profile's own order, and a
    senior leader never contacted is listed with days unknown."""
    src = odd_portfolio(tmp_path / "in")
    assert batch(capsys, str(src), "-o", str(tmp_path / "out"))[0] == 0
    summary = next(e for e in index(tmp_path / "out") if e["id"] == "odd-names")["summary"]
    assert summary["overdue_senior"] == [{"name": "Zhou_Li #1", "days": None}]
    assert [t["name"] for t in summary["threats"]] == ["中国联通佛山分公司", "阿里云", "X|Y"]


def test_portfolio_derivations_fire_but_stay_out_of_the_brief(advisor):
    """The brief's "why this advice" lists only rules whose advice it shows: derivations, whether
    advice builds on them (care-breach-flag) or only the portfolio summary reads them, are not listed."""
    evaluation = advisor.evaluate(load_profile(PROFILES / "sd-huarui-appliance.yaml"), dt.date(2027, 1, 20))
    fired = {f.rule_id for f in evaluation.outcome.firings}
    assert {"portfolio-senior-overdue", "portfolio-competitor-threat", "care-breach-flag"} <= fired
    text = advisor.render(advisor.prepare(evaluation))
    assert "`care-breach-flag`" not in text and "portfolio-" not in text


def test_batch_run_reports_through_callbacks_and_prints_nothing(capsys, tmp_path):
    from advisor.batch import Options, run

    seen: list[tuple[int, int]] = []
    failed: list[str] = []
    bad = FIXTURES / "profiles" / "bad-level.yaml"
    options = Options(today=dt.date.fromisoformat(TODAY))
    summary = run(
        [str(PROFILES), str(bad)], tmp_path, options, progress=lambda *p: seen.append(p), report=failed.append
    )
    assert (summary.ok, summary.failed) == (10, 1)
    assert seen == [(n, 11) for n in range(1, 12)]
    assert failed == [f"{bad}:14:12: error: stakeholders[0].level must be frontline, middle or senior; got 'manager'"]
    assert capsys.readouterr() == ("", "")
    run([str(PROFILES)], tmp_path / "quiet", options)  # no callbacks: silent all the same
    assert capsys.readouterr() == ("", "")


def test_batch_flushes_the_briefs_it_wrote_and_their_folder_not_the_whole_system(capsys, tmp_path, monkeypatch):
    def no_sync() -> None:
        raise AssertionError("a system-wide sync")

    flushed: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "sync", no_sync)
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd)))
    out = tmp_path / "out"
    assert batch(capsys, str(PROFILES), "-o", str(out), "--format", "markdown,json")[0] == 0
    written = {str(out / p) for e in index(out) for p in e["outputs"]}
    assert len(written) == 20
    assert written | {str(out / "briefs")} <= set(flushed)
    assert not [p for p in flushed if not p.startswith(str(out))]


def test_batch_flushes_briefs_while_it_works_not_all_at_the_end(capsys, tmp_path, monkeypatch):
    """Briefs go to disk a window at a time as their results come in (here a window of 3), so the
    flushing overlaps the briefing: the first flush comes before the last account is journaled,
    and every brief is flushed before the index is written."""
    import advisor.batch.journal
    import advisor.files

    events: list[str] = []
    fsync, journal_write = os.fsync, advisor.batch.journal.Journal.write
    monkeypatch.setattr(advisor.files, "FLUSH_WINDOW", 3)
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd)))
    monkeypatch.setattr(
        advisor.batch.journal.Journal, "write", lambda self, line: (events.append("journal"), journal_write(self, line))
    )
    out = tmp_path / "out"
    assert batch(capsys, str(PROFILES), "-o", str(out), "--jobs", "1")[0] == 0
    written = {str(out / p) for e in index(out) for p in e["outputs"]}
    last_journaled = max(i for i, e in enumerate(events) if e == "journal")
    first_flush = min(i for i, e in enumerate(events) if e in written)
    assert first_flush < last_journaled
    assert written | {str(out / "briefs")} <= set(events)


def test_a_resumed_batch_flushes_the_briefs_it_keeps_and_no_file_an_entry_names(capsys, tmp_path, monkeypatch):
    """An account --resume keeps was briefed by an earlier run that may have been killed before its
    flush: its briefs are flushed again. A name an edited index adds to an entry, outside the
    account's own briefs, is never opened."""
    out = tmp_path / "out"
    assert batch(capsys, str(PROFILES), "-o", str(out))[0] == 0
    foreign = tmp_path / "elsewhere.txt"
    foreign.write_text("not the batch's", encoding="utf-8")
    entries = index(out)
    entries[0]["outputs"].append("../elsewhere.txt")
    (out / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    flushed: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd)))
    assert batch(capsys, str(PROFILES), "-o", str(out), "--resume")[0] == 0
    kept = {str(out / p) for e in index(out) for p in e["outputs"] if not p.startswith("..")}
    assert len(kept) == 10
    assert kept <= set(flushed)
    assert str(foreign) not in flushed


def test_batch_brief_many_gives_each_task_what_brief_one_gives_failures_included(tmp_path, monkeypatch):
    """A pool's worker briefs its chunk a stage at a time (tasks.brief_many): each account's result,
    and its failure, must be what briefing it alone gives, in the chunk's order."""
    from advisor.batch.options import Options
    from advisor.batch.tasks import brief_many, brief_one, parse_source
    from advisor.errors import EngineError
    from advisor.sources import Source

    paths = sorted((ROOT / "profiles").glob("*.yaml"))
    profiles = [parse_source(Source(str(p), 1, "file", None))["profile"] for p in paths]
    ids = [load_profile(p).account.id for p in paths]
    failing = {ids[1]: EngineError("refused"), ids[3]: KeyError("x")}  # in the engine, and in rendering
    evaluate, render_all = Advisor.evaluate, Advisor.render_all

    def evaluate_or_fail(self, profile, *args, **kwargs):
        if isinstance(failing.get(profile.account.id), EngineError):
            raise failing[profile.account.id]
        return evaluate(self, profile, *args, **kwargs)

    def render_or_fail(self, evaluation, **kwargs):
        if isinstance(failing.get(evaluation.profile.account.id), KeyError):
            raise failing[evaluation.profile.account.id]
        return render_all(self, evaluation, **kwargs)

    monkeypatch.setattr(Advisor, "evaluate", evaluate_or_fail)
    monkeypatch.setattr(Advisor, "render_all", render_or_fail)
    options = Options(formats=("markdown", "json"), today=dt.date(2026, 12, 1))
    clock = dt.date(2026, 12, 1)
    for out in (None, tmp_path / "out"):
        tasks = [(options, profile, None, out, clock) for profile in profiles]
        together = brief_many(tasks)
        assert together == [brief_one(task) for task in tasks]
        assert together[1] == {"error": f"advisor batch: error: account '{ids[1]}': refused"}
        assert together[3] == {"error": f"advisor batch: internal error: account '{ids[3]}': KeyError: 'x'"}
        assert sum("hash" in r for r in together) == len(paths) - 2
    assert sorted(p.name for p in (tmp_path / "out" / "briefs").iterdir()) == sorted(
        f"{i}.{ext}" for i in ids if i not in failing for ext in ("md", "json")
    )
