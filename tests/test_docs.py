"""`advisor docs`: the rule catalogue a course owner reviews, organised by the outline."""

from __future__ import annotations

from advisor.cli import main


def test_docs_catalogue_shows_every_rule_under_its_items_with_texts_and_cases(advisor, tmp_path, capsys):
    assert main(["docs", "-o", str(tmp_path)]) == 0
    pages = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    assert sorted(pages) == ["README.md", "unit-1.md", "unit-2.md", "unit-3.md"]
    assert "- [2 Knowing my key accounts / 了解我的大客户](unit-2.md): 39/39 items encoded" in pages["README.md"]
    everything = "".join(pages.values())
    for rule in advisor.base.rules:
        assert f"- **`{rule.id}`** ({rule.rule.scope} rule, " in everything, rule.id
    unit2 = pages["unit-2.md"]
    section = unit2.split("#### 2.1.1.a ")[1].split("#### ")[0]
    assert "- **`gov-incumbent-continuity`** (account rule, industry.yaml:" in section
    assert "  - When: `account.industry_group equals government and account.position equals incumbent`" in section
    assert "    - zh: {account.industry|party=党委机关|military=军队单位|政府机关}念旧" in section
    assert "  - Fires in: industry.cases.yaml: tax-bureau-as-is" in section
    assert "#### 3.3.4" not in unit2 and "*No items in the course (cut off in the source).*" in pages["unit-3.md"]
