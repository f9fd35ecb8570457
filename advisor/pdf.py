"""The HTML brief as a PDF, laid out by WeasyPrint (the optional extra `advisor[pdf]`).

Its page size, margins, footer (page numbers, the version stamp) and what print leaves out are the
HTML's print CSS (templates/brief.html.j2), so paper and screen are one template. The PDF's dates
are the HTML's `dcterms` metadata (the brief's as-of date), never the clock, and its identifier is
derived from the content: the same brief gives the same bytes.
"""

from __future__ import annotations

import hashlib

from .errors import MissingExtra

PAPERS = ("a4", "letter")
INSTALL = (
    "PDF briefs need WeasyPrint: pip install 'advisor[pdf]' (on Debian or Ubuntu also "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk); see the README, 'HTML and PDF'"
)


def to_pdf(html: str) -> bytes:
    """The PDF of an HTML brief (self-contained: nothing is fetched)."""
    try:
        import weasyprint
    except (ImportError, OSError):  # OSError: installed, but Pango or its friends are missing
        raise MissingExtra(INSTALL) from None
    import logging  # here, not at the top: `advisor brief` imports this module for PAPERS alone

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # its warnings about unsupported CSS are not the user's
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode()
    document = weasyprint.HTML(string=html, url_fetcher=_no_fetch).render()
    return document.write_pdf(pdf_identifier=identifier)


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict:
    """The brief is one file: any other resource is refused rather than fetched."""
    raise ValueError(f"the brief fetches nothing ({url})")
