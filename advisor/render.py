"""A brief as text: the Markdown and HTML templates (sandboxed Jinja2) and their labels, loaded once, and the JSON form."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from .advise import Recommendation
from .brief import Brief
from .errors import AdvisorError, Problem, UnreadableInput, did_you_mean
from .escape import md
from .kept import load_kept
from .selection import Selection
from .templating import BUDGET, Budget, Sandbox, TemplateLimit, environment
from .vocabulary import LANGS, SCHEMA_VERSION
from .wording import fill_parts, split_say
from .yamlio import read_text

BRIEF_TEMPLATE = "brief.md.j2"
HTML_TEMPLATE = "brief.html.j2"
LABELS_FILE = "labels.yaml"


def fill(text: str, **values: Any) -> str:
    """A label filled in the way rule texts are (README, Writing rules): `{{ L.ago | fill(n=3) }}` with
    `ago: "{n|0=today|1=yesterday|# days ago}"`, so counts read right in every language."""
    return fill_parts(split_say(str(text)), values)


def fmt(text: str, **values: Any) -> Markup:
    """A label with named fields, in an HTML template: `{{ L.kv | fmt(k=..., v=p.name) }}`. The label is
    text (escaped); each value is escaped unless it is already (the view's profile text is), so
    nothing is escaped twice and nothing escapes."""
    return escape(str(text)).format(**values)


class Templates:
    """The brief templates (Markdown, and HTML for the page and the PDF) and their labels, loaded once.
    Treat it as read-only. (A plain class: as a frozen dataclass it cost every start about 0.45 ms to create.)"""

    __slots__ = ("directory", "labels", "env", "files", "template", "html")

    def __init__(
        self,
        directory: Path,
        labels: dict[str, Any],
        env: Sandbox,
        files: tuple[Path, ...],
        template: jinja2.Template,  # the brief's, compiled once (Jinja's own look-up costs a little each brief)
        html: jinja2.Template | None = None,  # the HTML brief's (None: a templates folder made before there was one)
    ):
        self.directory, self.labels, self.env, self.files = directory, labels, env, files
        self.template, self.html = template, html

    @property
    def traits(self) -> frozenset[str]:
        """The course items a person's card can state as what they care about (labels' `traits`)."""
        return frozenset(self.labels["en"].get("traits") or ())

    @classmethod
    def load(cls, directory: Path, course_items: Collection[str] | None = None) -> Templates:
        """The templates in `directory`; with `course_items`, the labels' `traits` must name course items."""
        labels_path = directory / LABELS_FILE
        doc = load_kept(read_text(labels_path), str(labels_path), what="a labels file")  # parsed once, kept
        labels = doc.data
        problems = []
        if not isinstance(labels, dict) or set(LANGS) - set(labels):
            raise AdvisorError(Problem(str(labels_path), 1, 1, "error", "labels need an 'en' and a 'zh' mapping"))
        for missing in sorted(_keys(labels["en"]) ^ _keys(labels["zh"])):
            lang = "zh" if missing in _keys(labels["en"]) else "en"
            other = "en" if lang == "zh" else "zh"
            line, col = doc.where(tuple([other, *missing.split(".")]))
            problems.append(
                Problem(
                    str(labels_path),
                    line,
                    col,
                    "error",
                    f"label '{missing}' has no {lang} translation; add it under {lang}",
                )
            )
        for lang in LANGS if course_items is not None else ():
            traits = labels[lang].get("traits")
            if traits is not None and not isinstance(traits, dict):
                line, col = doc.where((lang, "traits"))
                problems.append(Problem(str(labels_path), line, col, "error", "traits is a mapping: course item -> what a person cares about, in a few words"))  # fmt: skip
                continue
            for code in traits or ():
                if str(code) not in course_items:
                    line, col = doc.where((lang, "traits", code), key=True)
                    hint = did_you_mean(str(code), course_items) or "; `advisor coverage` lists the course items"
                    problems.append(Problem(str(labels_path), line, col, "error", f"trait for unknown course item '{code}'{hint}"))  # fmt: skip
        if problems:
            raise AdvisorError(problems)
        if not (directory / BRIEF_TEMPLATE).is_file():
            raise UnreadableInput(
                Problem(
                    str(directory / BRIEF_TEMPLATE),
                    1,
                    1,
                    "error",
                    "template not found; copy the shipped templates folder",
                )
            )
        template = _compile(environment(directory, {"md": md, "fill": fill}), directory, BRIEF_TEMPLATE)
        html = None
        if (directory / HTML_TEMPLATE).is_file():
            html_env = environment(directory, {"fill": fill, "fmt": fmt}, autoescape=True)
            html = _compile(html_env, directory, HTML_TEMPLATE)
        # Every file that shapes a brief (an editor's schema beside the labels does not).
        files = tuple(sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".schema.json")))
        return cls(directory, labels, template.environment, files, template, html)

    def render(self, view: dict[str, Any], *, html: bool = False) -> str:
        """The brief (`html`: the HTML brief), under the limits of templating.Budget: a template that
        would take too long or too much memory (a loop in a loop, `9**9**9`, a macro calling itself)
        is an error at its line."""
        template = self.template
        if html:
            if self.html is None:
                raise UnreadableInput(
                    Problem(str(self.directory / HTML_TEMPLATE), 1, 1, "error",
                            "template not found; copy it from the shipped templates folder to make HTML and PDF briefs")
                )  # fmt: skip
            template = self.html
        try:
            return template.render(view, **{BUDGET: Budget()})
        except TemplateLimit as exc:
            path, line = self._where(exc)
            raise AdvisorError(Problem(path, line, 1, "error", f"template limit: {exc}")) from None
        except RecursionError as exc:
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(
                    path,
                    line,
                    1,
                    "error",
                    "template limit: a macro or loop calls itself too deeply; stop the recursion",
                )
            ) from None
        except MemoryError as exc:
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(path, line, 1, "error", "template limit: out of memory working this out")
            ) from None
        except (ArithmeticError, ValueError) as exc:  # 1/0, 10.0**400, int('x') and the like: the template's own
            path, line = self._where(exc)
            raise AdvisorError(
                Problem(path, line, 1, "error", f"template error: {type(exc).__name__}: {exc}")
            ) from None
        except jinja2.UndefinedError as exc:
            path, line = self._where(exc)
            name = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(exc))
            what = next((g for g in name.groups() if g), str(exc)) if name else str(exc)
            raise AdvisorError(
                Problem(
                    path,
                    line,
                    1,
                    "error",
                    f"undefined '{what}'; check the spelling against the brief's data (see labels.yaml and the template)",
                )
            ) from None
        except jinja2.TemplateError as exc:
            path, line = self._where(exc)
            raise AdvisorError(Problem(path, line, 1, "error", f"template error: {exc}")) from None

    def _where(self, exc: BaseException) -> tuple[str, int]:
        """The template file and line an error was raised at (Jinja keeps them in the traceback)."""
        import traceback  # only a template error needs it

        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".j2"):
                return frame.filename, frame.lineno or 1
        return str(self.directory / BRIEF_TEMPLATE), 1


def _compile(env: Sandbox, directory: Path, name: str) -> jinja2.Template:
    """The template `name` of `directory`, compiled; its syntax errors and size limit as positioned problems."""
    try:
        return env.get_template(name)
    except TemplateLimit as exc:
        raise AdvisorError(Problem(str(directory / name), 1, 1, "error", f"template limit: {exc}")) from None
    except jinja2.TemplateSyntaxError as exc:
        raise AdvisorError(
            Problem(str(directory / (exc.name or name)), exc.lineno or 1, 1, "error", f"template syntax: {exc.message}")
        ) from None


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    out: set[str] = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def _recommendation(r: Recommendation, names: dict[str, str], **more: Any) -> dict[str, Any]:
    """A recommendation's entry in JSON, with `more` keys after its own."""
    a = r.advice
    return {"rule": a.rule_id, "source": list(a.source), "section": a.section, "aspect": a.aspect,
            "priority": a.priority, "stakeholder": r.stakeholder, "stakeholder_name": names.get(r.stakeholder or ""),
            "text": r.text, **more}  # fmt: skip


def to_json(brief: Brief, selection: Selection, *, version: str, digest: str) -> str:
    """The brief's content for machines (its format: outputs.BriefDocument, `advisor schema brief`):
    stable keys, one object, a trailing newline. Every recommendation is listed, `shown` saying
    whether the Markdown brief shows it in full and `trait_shown` whether, not shown in full, its
    person's card states the trait it cites (labels.yaml's `traits`: "What they care about:
    price-performance")."""
    from .jsontext import dumps, plain_float  # orjson: only a JSON brief needs it

    shown = selection.shown_ids()
    in_cards = {id(r) for card in selection.cares.values() for r in card.advice}
    profile, evaluation = brief.profile, brief.evaluation
    account = profile.account
    names = {s.id: s.name for s in profile.stakeholders}
    attending = set(brief.attendees)
    account_facts = evaluation.about("account") if profile.visit else {}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "advisor": {"version": version, "rules_hash": digest},
        "account": {
            "id": account.id,
            "name": account.name,
            "industry": account.industry,
            "ownership": account.ownership,
            "stage": account.stage,
            "position": account.position,
            "tiers": list(brief.tiers),
        },  # fmt: skip
        "as_of": evaluation.today.isoformat(),
        "as_of_source": evaluation.as_of_source,
        "lang": brief.lang,
        "visit": (
            {
                "date": profile.visit.date.isoformat(),
                "objective": profile.visit.objective,
                "purpose": account_facts["account.visit_purpose"],
                "purpose_inferred": account_facts["account.visit_purpose_inferred"],
                "attendees": list(profile.visit.attendees),
            }
            if profile.visit
            else None
        ),
        "stakeholders": [
            {
                "id": s.id,
                "name": s.name,
                "title": s.title,
                "department": s.department,
                "function": s.function,
                "level": s.level,
                "attending": s.id in attending,
            }
            for s in profile.stakeholders
        ],  # fmt: skip
        "recommendations": [
            _recommendation(r, names, score=r.score, shown=id(r) in shown, trait_shown=id(r) in in_cards)
            for r in brief.recommendations
        ],
        # Advice another rule's situation withdrew (an override), with the rules that withdrew it.
        "withdrawn": [_recommendation(w.recommendation, names, withdrawn_by=list(w.by)) for w in brief.withdrawn],
    }
    # Its floats are the scores: rounded (relevance.py), so plain unless a NaN came in.
    floats = [r.score for r in brief.recommendations] + [w.recommendation.score for w in brief.withdrawn]
    return dumps(doc, plain_floats=all(map(plain_float, floats))) + "\n"
