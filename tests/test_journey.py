"""A trainer's journey, end to end, as the README tells it: copy the rules, make a typo and see the
error, fix it, add a rule with its cases and its reviewed citations, and see the rule in the docs and in a brief."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from advisor.cli import main

from conftest import ROOT

NEW_RULE = """
  - id: gov-annual-review
    source: [1.1.3.a, 3.3.3.b]
    scope: account
    when:
      all:
        - {fact: account.industry_group, equals: government}
        - {fact: account.days_since_service_review, gt: 60}
    section: checklist
    priority: medium
    say:
      en: Offer {account.name} a date for this year's service review before their budget closes.
      zh: 在对方预算定稿前，主动和{account.name}约好今年的服务回顾会。
"""

REVIEWED = """  gov-annual-review:
    1.1.3.a: {quote: 变被动服务为主动关怀, en: "Offer the review before they ask for it"}
    3.3.3.b: {quote: 主动服务-主动发现问题, en: "A review finds problems before they do"}
"""

NEW_CASES = """base: ../profiles/gz-tax-bureau.yaml
today: 2026-12-01
cases:
  review-due:
    fires: [gov-annual-review]
  review-recent:
    overlay: {service: {last_review: 2026-11-20}}
    quiet: [gov-annual-review]
"""


def test_trainer_journey(tmp_path, capsys):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)  # 1. copy the rules (and the profiles their cases use)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")

    industry = rules / "industry.yaml"  # 2. a typo, and the error that names it
    good = industry.read_text(encoding="utf-8")
    industry.write_text(
        good.replace("account.industry_group, equals: government}", "account.industy_group, equals: government}", 1),
        encoding="utf-8",
    )
    assert main(["lint", str(rules)]) == 1
    out = capsys.readouterr().out
    assert (
        "error: unknown fact 'account.industy_group'; did you mean 'account.industry_group'? [gov-incumbent-continuity]"
        in out
    )
    assert out.startswith(f"{industry}:")

    industry.write_text(good, encoding="utf-8")  # 3. fixed
    assert main(["lint", "--strict", str(rules)]) == 0
    capsys.readouterr()

    (rules / "review.yaml").write_text("rules:" + NEW_RULE, encoding="utf-8")  # 4. a new rule with its cases
    (rules / "review.cases.yaml").write_text(NEW_CASES, encoding="utf-8")
    assert main(["lint", "--strict", str(rules)]) == 1  # its citations are not reviewed yet
    out = capsys.readouterr().out
    assert f"{rules / 'review.yaml'}:3:14: error: the citation of 1.1.3.a (变被动服务为主动关怀) is not reviewed" in out
    assert (
        f"{rules / 'review.yaml'}:3:23: error: the citation of 3.3.3.b (主动服务——主动发现问题) is not reviewed" in out
    )
    with (rules / "citations.yaml").open("a", encoding="utf-8") as reviewed:  # reviewed, with the course's words
        reviewed.write(REVIEWED)
    assert main(["lint", "--strict", str(rules)]) == 0
    assert main(["test", str(rules)]) == 0
    assert capsys.readouterr().out.endswith(" passed, 0 failed\n")

    assert main(["docs", "-o", str(tmp_path / "docs"), "--rules", str(rules)]) == 0  # 5. in the docs…
    unit3 = (tmp_path / "docs" / "unit-3.md").read_text(encoding="utf-8")
    assert "- **`gov-annual-review`** (account rule, review.yaml:2)" in unit3
    assert "  - Fires in: review.cases.yaml: review-due" in unit3
    capsys.readouterr()
    brief = tmp_path / "brief.md"  # …and in a brief
    assert (
        main(
            [
                "brief",
                str(tmp_path / "profiles" / "gz-tax-bureau.yaml"),
                "--rules",
                str(rules),
                "-o",
                str(brief),
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert "Offer 广州市税务局 a date for this year's service review" in brief.read_text(encoding="utf-8")


def test_trainer_watch_rerenders_on_every_change(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    profile = tmp_path / "p.yaml"
    shutil.copy(ROOT / "profiles" / "gz-tax-bureau.yaml", profile)
    out = tmp_path / "brief.md"
    cmd = [sys.executable, "-m", "advisor", "brief", str(profile), "-o", str(out), "--watch", "--watch-limit", "3",
           "--rules", str(tmp_path / "rules"), "--templates", str(tmp_path / "templates")]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)

    def wait_for(check, what: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        proc.kill()
        raise AssertionError(f"timed out waiting for {what}")

    wait_for(lambda: out.exists(), "the first render")
    labels = tmp_path / "templates" / "labels.yaml"
    labels.write_text(
        labels.read_text(encoding="utf-8").replace("title: Pre-visit brief", "title: Before the visit", 1),
        encoding="utf-8",
    )
    wait_for(
        lambda: out.read_text(encoding="utf-8").startswith("# Before the visit:"), "the re-render after a label change"
    )
    template = tmp_path / "templates" / "brief.md.j2"
    template.write_text(
        template.read_text(encoding="utf-8").replace(
            "{% for p in attendees %}{{ L.person_brief", "{% for p in atendees %}{{ L.person_brief", 1
        ),
        encoding="utf-8",
    )
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert f"{template}:" in err and "error: undefined 'atendees'" in err
    assert err.count("brief rendered") == 2
    assert out.read_text(encoding="utf-8").startswith("# Before the visit:")  # the last good brief stays


def test_lint_docs_and_schema_work_without_the_engine(tmp_path):
    """A trainer's laptop without a C compiler: durable-rules missing, the checks still run."""
    code = (
        "import sys; sys.modules['durable'] = None; sys.modules['durable_rules_engine'] = None\n"
        "from advisor.cli import main\n"
        f"codes = [main(['lint']), main(['schema', 'rules']), main(['docs', '-o', {str(tmp_path)!r}]), main(['brief', {str(ROOT / 'profiles' / 'gz-tax-bureau.yaml')!r}])]\n"
        "print(codes, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[-1] == "[0, 0, 0, 1]"
    assert "advisor brief: error: durable-rules is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr
