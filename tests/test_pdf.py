"""The PDF brief (WeasyPrint, the `advisor[pdf]` extra), checked with poppler-utils as a reader would:
pages and their size, text that can be copied in both languages, fonts embedded, the same bytes twice.

.ci/run installs WeasyPrint, fonts-noto-cjk and poppler-utils; in CI (CI=true) a missing one fails
these tests, elsewhere it skips them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from htmlpage import read

from advisor.cli import main
from advisor.pdf import INSTALL

from conftest import ROOT, missing

TAX = ROOT / "profiles" / "gz-tax-bureau.yaml"
SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
LANGS = ("en", "zh")


@pytest.fixture(scope="module", autouse=True)
def tools():
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        missing("WeasyPrint is not installed (pip install '.[pdf]')")
    for tool in ("pdfinfo", "pdftotext", "pdffonts"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (apt-get install poppler-utils)")


def poppler(tool: str, *args) -> str:
    return subprocess.run([tool, *map(str, args)], check=True, capture_output=True, text=True).stdout


def info(pdf: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in poppler("pdfinfo", pdf).splitlines() if ":" in line)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """Every shipped profile as a PDF, in each language, written by `advisor batch --format pdf,html`."""
    out = tmp_path_factory.mktemp("pdf")
    for lang in LANGS:
        code = main(
            ["batch", *map(str, SHIPPED), "-o", str(out / lang), "--format", "pdf,html", "--lang", lang, "--quiet"]
        )
        assert code == 0
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_tax_bureau_fits_two_a4_pages_with_every_section_as_text(batches, lang):
    pdf, html = batches / lang / "briefs" / "gz-tax-bureau.pdf", batches / lang / "briefs" / "gz-tax-bureau.html"
    meta = info(pdf)
    assert meta["Pages"].strip() == "2"
    assert "(A4)" in meta["Page size"]
    text = " ".join(poppler("pdftotext", "-layout", pdf, "-").split())
    page = read(html.read_text(encoding="utf-8"))
    for _, heading in page.sections:
        assert heading in text, heading
    assert "广州市税务局" in text
    # Every piece of advice the HTML shows is in the PDF, as text that can be copied out (compared without
    # spaces: a line break in Chinese text comes out as one).
    flat = "".join(text.split())
    for _, advice in page.advice:
        assert "".join(advice.split()) in flat, advice
    folded = "".join(page.folded[0][1].split())
    assert folded not in flat, "what is folded away on screen stays off paper"
    assert re.search(r"2 ?/ ?2", text), "page numbers in the footer"
    pages = poppler("pdftotext", "-f", "1", "-l", "2", pdf, "-")
    assert "advisor 0." in pages.split("\f")[0], "the version stamp on the first page's footer"


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_every_shipped_brief_fits_two_pages_with_its_fonts_embedded(batches, lang):
    for path in SHIPPED:
        pdf = batches / lang / "briefs" / f"{path.stem}.pdf"
        assert int(info(pdf)["Pages"]) <= 2, path.stem
        fonts = poppler("pdffonts", pdf).splitlines()[2:]
        assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # the "emb" column
    zh = poppler("pdffonts", batches / lang / "briefs" / "gz-tax-bureau.pdf")
    assert "CJK" in zh, "a CJK font for the Chinese names"


def test_pdf_is_the_same_bytes_every_time_with_the_brief_date(tmp_path, capsys):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    assert run(capsys, "brief", TAX, "--format", "pdf", "-o", a)[0] == 0
    assert run(capsys, "brief", TAX, "--format", "pdf", "-o", b)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().startswith(b"%PDF-")
    assert "2026" in info(a)["CreationDate"] and "Dec  1" in info(a)["CreationDate"]  # the visit date


def test_pdf_letter_paper(tmp_path, capsys):
    pdf = tmp_path / "letter.pdf"
    assert run(capsys, "brief", TAX, "--format", "pdf", "--paper", "letter", "-o", pdf)[0] == 0
    meta = info(pdf)
    assert "(letter)" in meta["Page size"] and int(meta["Pages"]) <= 2


def test_pdf_without_weasyprint_says_what_to_install_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # what `import weasyprint` sees when it is not installed
    pdf = tmp_path / "brief.pdf"
    code, out, err = run(capsys, "brief", TAX, "--format", "pdf", "-o", pdf)
    assert (code, out) == (2, "")
    assert err == f"advisor brief: error: {INSTALL}\n"
    assert "pip install 'advisor[pdf]'" in err and "fonts-noto-cjk" in err
    assert not pdf.exists()
