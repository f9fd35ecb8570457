"""What one `advisor batch` run is asked to do: rules, templates, formats, language, date, workers, limits, CSV encoding, paper."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..limits import DEFAULT, Limits


@dataclass(frozen=True)
class Options:
    rules: Path | None = None
    templates: Path | None = None
    formats: tuple[str, ...] = ("markdown",)
    lang: str = "en"
    today: dt.date | None = None
    jobs: int = 1
    resume: bool = False
    limits: Limits = DEFAULT  # record size, stakeholders, interactions, nesting, aliases, values
    dask: str | None = None  # a Dask scheduler address: run the work on that cluster
    encoding: str | None = None  # a CRM export's CSV encoding; None: told from the bytes
    paper: str = "a4"  # the page size of PDF briefs (pdf.PAPERS)
