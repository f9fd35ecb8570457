"""Advisor: load rules and templates once, then brief many profiles. The one entry every caller uses."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import __version__
from . import conditions as c
from .advise import Recommendation, Sayings, recommend, sayings
from .canonical import canonical
from .compiler import Plan, compile_rules
from .course import Course, load_course
from .engine import Engine, Outcome
from .facts import Record, derive
from .policy import Policy, load_policy
from .portfolio import Position
from .profile import Profile
from .render import LANGS, Templates, build_view, md, to_json
from .rules import RuleBase, load_rules

FORMATS = ("markdown", "json")


def shipped(name: str) -> Path:
    """A folder shipped with advisor (rules, templates, profiles): inside the installed package, or
    beside it in a source checkout."""
    inside = Path(str(resources.files("advisor"))) / name
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / name


@dataclass(frozen=True)
class Evaluation:
    """What the engine concluded about one profile."""

    profile: Profile
    today: dt.date
    as_of_source: str  # "today" (given), "visit" (the visit date) or "clock" (the current date)
    records: list[Record]
    outcome: Outcome

    def facts(self) -> dict[str, dict]:
        """Each record's values with the facts rules derived for it."""
        return {r.id: {**r.values, **self.outcome.derived.get(r.id, {})} for r in self.records}


class Advisor:
    """Rules, compiled plan and templates, loaded once; safe to call from several threads.

    durable-rules sessions must not be shared across threads, so each thread lazily gets its own
    Engine built from the same compiled plan.
    """

    def __init__(self, base: RuleBase, plan: Plan, templates: Templates, course: Course, policy: Policy, digest: str):
        self.base, self.plan, self.templates, self.course = base, plan, templates, course
        self.policy, self.digest = policy, digest
        self.sayings: dict[str, Sayings] = {lang: sayings(base, lang) for lang in LANGS}
        self._sources = {r.id: tuple(r.rule.source) for r in base.rules}  # every brief's "why this advice"
        # A derivation explains a brief only if the brief reads its fact: a rule tests it or the header
        # shows it as a tier. One only another reader uses (the portfolio summary's lists) is left out.
        read = set(templates.labels.get("tiers", {})).union(
            *(c.facts_used(r.condition) for r in base.rules if r.condition is not None)
        )
        self._explains = {r.id for r in base.rules if r.rule.say is not None or read.intersection(r.rule.derive)}
        self._local = threading.local()

    @classmethod
    def load(cls, rules: Path | None = None, templates: Path | None = None) -> Advisor:
        rules = Path(rules) if rules else shipped("rules")
        templates = Path(templates) if templates else shipped("templates")
        course = load_course()
        base = load_rules(rules, course)
        policy, policy_file = load_policy(rules)
        plan = compile_rules(base)
        loaded = Templates.load(templates)
        inputs = base.files + ((policy_file,) if policy_file else ())
        return cls(base, plan, loaded, course, policy, _digest(rules, inputs, templates, loaded.files, course))

    def engine(self) -> Engine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = Engine(self.plan, self.base.catalogue)
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

    def recommendations(
        self, evaluation: Evaluation, lang: str = "en", *, markdown: bool = False
    ) -> list[Recommendation]:
        return recommend(self.sayings[lang], evaluation.records, evaluation.outcome.firings, md if markdown else str)

    def brief(
        self,
        profile: Profile,
        *,
        lang: str = "en",
        today: dt.date | None = None,
        format: str = "markdown",
        portfolio: Position | None = None,
    ) -> str:
        """The pre-visit brief (or account brief, with no visit) for `profile`, as text.

        `portfolio` is the account's place in a whole portfolio (see portfolio.py), when known.
        """
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {LANGS}")
        evaluation = self.evaluate(profile, today, portfolio)
        return self.render(evaluation, lang=lang, format=format)

    def render(self, evaluation: Evaluation, *, lang: str = "en", format: str = "markdown") -> str:
        """The brief as text, in one format."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        plain = self.recommendations(evaluation, lang) if format == "json" else []
        return self._render(evaluation, lang, format, plain)

    def render_all(
        self, evaluation: Evaluation, *, lang: str = "en", formats: tuple[str, ...] = ("markdown",)
    ) -> tuple[dict[str, str], list[Recommendation]]:
        """The brief in each of `formats`, and the plain recommendations (to count them): what a
        pipeline needs, with the recommendations worked out once for JSON and the count."""
        if any(f not in FORMATS for f in formats):
            raise ValueError(f"format must be one of {FORMATS}")
        plain = self.recommendations(evaluation, lang)
        return {fmt: self._render(evaluation, lang, fmt, plain) for fmt in formats}, plain

    def _render(self, evaluation: Evaluation, lang: str, format: str, plain: list[Recommendation]) -> str:
        """One format; `plain` is this evaluation's plain recommendations in `lang` (JSON shows them)."""
        derived_account = evaluation.outcome.derived.get("account", {})
        labels = self.templates.labels
        if format == "json":
            tiers = [name for name in labels.get("tiers", {}) if derived_account.get(name)]  # labels.yaml's order
            return to_json(
                evaluation.profile, plain, lang=lang, as_of=evaluation.today.isoformat(),
                as_of_source=evaluation.as_of_source, tiers=tiers, version=__version__, digest=self.digest,
            )  # fmt: skip
        view = build_view(
            evaluation.profile, self.recommendations(evaluation, lang, markdown=True), lang=lang, labels=labels,
            course=self.course, as_of=evaluation.today.isoformat(), as_of_source=evaluation.as_of_source,
            derived_account=derived_account, fired=self._fired_rules(evaluation), facts=evaluation.facts(),
            version=__version__, digest=self.digest,
        )  # fmt: skip
        return self.templates.render(view)

    def _fired_rules(self, evaluation: Evaluation) -> list[tuple[str, tuple[str, ...]]]:
        """Every rule that fired (advice, and derivations the brief reads) with the course items it cites."""
        ids = sorted({f.rule_id for f in evaluation.outcome.firings if f.rule_id in self._explains})
        return [(rule_id, self._sources[rule_id]) for rule_id in ids]


def _digest(rules_dir: Path, rule_files, templates_dir: Path, template_files, course: Course) -> str:
    """A short hash of everything that shapes a brief besides the profile: rules, templates, course."""
    h = hashlib.sha256(__version__.encode())
    for root, files in ((rules_dir, rule_files), (templates_dir, template_files)):
        for path in files:
            h.update(str(path.relative_to(root)).replace("\\", "/").encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(course.text.encode())
    return h.hexdigest()[:12]
