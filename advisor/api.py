"""Advisor: load rules and templates once, then brief many profiles. The one entry every caller uses."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .advise import Recommendation, Sayings, Withdrawers, recommend_compared, sayings, withdraw
from .brief import Brief, Evaluation
from .canonical import canonical
from .checked import load_checked
from .course import Course, load_course
from .engine import Engine, Plan
from .engine.wire import Wiring
from .escape import md
from .facts import derive
from .pdf import PAPERS, to_pdf
from .policy import Policy
from .profile import Profile
from .relevance import Relevance
from .render import LANGS, Templates, to_json
from .rules import RuleBase
from .selection import Selection, choose
from .view import WhyRows, html_view, markdown_view
from .vocabulary import FORMATS

if TYPE_CHECKING:
    from .portfolio import Position  # only with a portfolio index (--portfolio), which its reader brings


def shipped(name: str) -> Path:
    """A folder shipped with advisor (rules, templates, profiles): inside the installed package, or
    beside it in a source checkout. The package's folder is this module's (what importlib.resources
    gives for a package installed as files, without the 2 ms of imports it costs a start)."""
    inside = Path(__file__).parent / name
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / name


class _SayingsByLang(dict):
    """Each language's sayings, worked out when first asked for: a brief needs one language, and
    start-up is what `advisor brief` waits for. Two threads may both work one out: the same value."""

    def __init__(self, base: RuleBase):
        super().__init__()
        self.base = base

    def __missing__(self, lang: str) -> Sayings:
        if lang not in LANGS:
            raise KeyError(lang)
        found = self[lang] = sayings(self.base, lang)
        return found


class Advisor:
    """Rules, compiled plan and templates, loaded once; safe to call from several threads.

    durable-rules sessions must not be shared across threads, so each thread lazily gets its own
    Engine built from the same compiled plan.
    """

    def __init__(
        self, base: RuleBase, plan: Plan, templates: Templates, course: Course, policy: Policy, digest: str,
        relevance: Relevance | None = None, wiring: Wiring | None = None,
    ):  # fmt: skip
        self.base, self.plan, self.templates, self.course = base, plan, templates, course
        self.wiring = wiring  # the plan's, when loaded with it (checked.py): each engine takes it
        self.policy, self.digest = policy, digest
        self.relevance = relevance or Relevance.default()
        self.withdrawers: Withdrawers = {
            r.id: (r.rule.scope, tuple(r.rule.withdraws)) for r in base.rules if r.rule.withdraws
        }
        self.sayings: dict[str, Sayings] = _SayingsByLang(base)
        self.why_rows = WhyRows(course)  # each shown rule's "why this advice" row, worked out once
        self._local = threading.local()

    @classmethod
    def load(cls, rules: Path | None = None, templates: Path | None = None) -> Advisor:
        rules = Path(rules) if rules else shipped("rules")
        templates = Path(templates) if templates else shipped("templates")
        course = load_course()
        checked = load_checked(rules, course)
        loaded = Templates.load(templates, course.items)
        inputs = checked.base.files + tuple(f for f in (checked.policy_file, checked.relevance_file) if f)
        digest = _digest(rules, inputs, templates, loaded.files, course)
        return cls(
            checked.base, checked.plan, loaded, course, checked.policy, digest, checked.relevance, checked.wiring
        )

    def engine(self) -> Engine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = Engine(self.plan, self.base.catalogue, wiring=self.wiring)
        return engine

    def evaluate(self, profile: Profile, today: dt.date | None = None, portfolio: Position | None = None) -> Evaluation:
        if today is not None:
            as_of, source = today, "today"
        elif profile.visit is not None:
            as_of, source = profile.visit.date, "visit"
        else:
            as_of, source = dt.date.today(), "clock"
        profile = canonical(profile)  # from here on, the order lists were typed in never matters
        records = derive(profile, as_of, self.policy, portfolio)
        return Evaluation(profile, as_of, source, records, self.engine().evaluate(records))

    def recommendations(self, evaluation: Evaluation, lang: str = "en") -> list[Recommendation]:
        """Every recommendation the evaluation gives, in plain text and reading order (JSON's list)."""
        return self._recommend(evaluation, lang)[0]

    def _recommend(self, evaluation: Evaluation, lang: str) -> tuple[list[Recommendation], bool]:
        """The recommendations, and whether saying them once compared any texts (Brief.may_read_alike)."""
        said_by, firings = self.sayings[lang], evaluation.outcome.firings
        return recommend_compared(said_by, evaluation.records, firings, self.relevance.score)

    def prepare(self, evaluation: Evaluation, lang: str = "en") -> Brief:
        """The brief in `lang`, worked out once, for render() to show in any format."""
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {LANGS}")
        said, compared = self._recommend(evaluation, lang)
        recs, withdrawn = withdraw(said, evaluation.records, evaluation.outcome.firings, self.withdrawers)
        return Brief(evaluation, lang, recs, self.tiers(evaluation), tuple(withdrawn), may_read_alike=compared)

    def tiers(self, evaluation: Evaluation) -> tuple[str, ...]:
        """The account's value tiers, by name, in labels.yaml's order (no brief needs preparing for them)."""
        derived_account = evaluation.outcome.derived.get("account", {})
        return tuple(name for name in self.templates.labels.get("tiers", {}) if derived_account.get(name))

    def brief(
        self,
        profile: Profile,
        *,
        lang: str = "en",
        today: dt.date | None = None,
        format: str = "markdown",
        portfolio: Position | None = None,
        full: bool = False,
        paper: str = "a4",
    ) -> str | bytes:
        """The pre-visit brief (or account brief, with no visit) for `profile`: text, or bytes for "pdf".

        `portfolio` is the account's place in a whole portfolio (see portfolio.py), when known;
        `full` shows every recommendation in a Markdown brief, not only what fits; `paper` is the
        HTML's print size and the PDF's page size (pdf.PAPERS).
        """
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {LANGS}")
        brief = self.prepare(self.evaluate(profile, today, portfolio), lang)
        return self.render(brief, format=format, full=full, paper=paper)

    def render(self, brief: Brief, *, format: str = "markdown", full: bool = False, paper: str = "a4") -> str | bytes:
        """The brief in one format (`full`: every recommendation shown, none folded away)."""
        return self.show(brief, format=format, full=full, paper=paper)[0]

    def show(
        self,
        brief: Brief,
        *,
        format: str = "markdown",
        full: bool = False,
        paper: str = "a4",
        selection: Selection | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[str | bytes, Selection]:
        """The brief in one format, and what it shows (the ledger records that as impressions).
        `selection`: what to show, when worked out already (self.selection); `extra`: more for the
        HTML template (the server's reaction forms: see serve/reacting.py)."""
        selection = selection or self.selection(brief, full=full)
        return self._render_all(brief, (format,), selection, paper, extra)[format], selection

    def _render_all(
        self,
        brief: Brief,
        formats: tuple[str, ...],
        selection: Selection,
        paper: str = "a4",
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, str | bytes]:
        """The brief in each of `formats`, each worked out once (the PDF is the HTML, laid out)."""
        if any(f not in FORMATS for f in formats):
            raise ValueError(f"format must be one of {FORMATS}")
        if paper not in PAPERS:
            raise ValueError(f"paper must be one of {PAPERS}")
        out: dict[str, str | bytes] = {}
        stamp = {"version": __version__, "digest": self.digest}
        if "json" in formats:
            out["json"] = to_json(brief, selection, **stamp)
        if "markdown" in formats:
            view = markdown_view(brief, selection, self.templates.labels, self.why_rows, **stamp)
            out["markdown"] = self.templates.render(view)
        if "html" in formats or "pdf" in formats:
            # What the HTML folds away is what --full adds: the full selection, less what this one shows.
            full = self.selection(brief, full=True)
            view = html_view(brief, selection, full, self.templates.labels, self.why_rows, paper=paper, **stamp)
            view.update(extra or {})
            page = self.templates.render(view, html=True)
            out["html"] = page
            if "pdf" in formats:
                out["pdf"] = to_pdf(page)
        return {f: out[f] for f in formats}

    def selection(self, brief: Brief, *, full: bool = False) -> Selection:
        """What the Markdown brief shows of `brief` (JSON marks it `shown`; the panel counts it)."""
        return choose(brief, self.templates.labels.get("limits", {}), md, full=full, traits=self.templates.traits)

    def render_all(
        self, evaluation: Evaluation, *, lang: str = "en", formats: tuple[str, ...] = ("markdown",), paper: str = "a4"
    ) -> tuple[dict[str, str | bytes], list[Recommendation]]:
        """The brief in each of `formats`, and its plain recommendations (to count them): what a
        pipeline needs, with the brief worked out once for every format and the count."""
        brief = self.prepare(evaluation, lang)
        return self._render_all(brief, formats, self.selection(brief), paper), brief.recommendations


def _digest(rules_dir: Path, rule_files, templates_dir: Path, template_files, course: Course) -> str:
    """A short hash of everything that shapes a brief besides the profile: rules, templates, course."""
    h = hashlib.sha256(__version__.encode())
    for root, files in ((rules_dir, rule_files), (templates_dir, template_files)):
        for path in files:
            h.update(str(path.relative_to(root)).replace("\\", "/").encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(course.text.encode())
    return h.hexdigest()[:12]
