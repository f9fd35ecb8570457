"""Running case files: trainers' tests of their rules, run by `advisor test`, coverage and pytest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..api import Advisor
from ..errors import AdvisorError, EngineError, Problem
from ..profile import parse_profile
from ..rules import without_limit_hint
from ..yamlio import Located
from .cases import OverlayError, case_expectations, load_base, load_cases, overlay, repository
from .explain import reasons


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    col: int
    failures: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)  # every rule that fired in this case

    @property
    def passed(self) -> bool:
        return not self.failures

    def problems(self) -> list[Problem]:
        return [Problem(self.file, self.line, self.col, "error", f"case '{self.name}': {f}") for f in self.failures]


def run_file(
    advisor: Advisor, path: Path, rules_dir: Path | None = None, *, allow_base_outside: bool = False
) -> list[CaseResult]:
    """Run every case in one case file; problems with the file itself raise AdvisorError.

    Bases must lie in the repository of `rules_dir` (default: the case file's folder), unless
    `allow_base_outside`."""
    doc, spec = load_cases(path)
    repo = None if allow_base_outside else repository(rules_dir or path.parent)
    known = advisor.base.by_id()
    results = []
    bases: dict[str, Located] = {}
    for name, case in spec.cases.items():
        line, col = doc.where(("cases", name), key=True)
        result = CaseResult(str(path), name, line, col)
        results.append(result)
        for j, expected in enumerate([*case.fires, *case.quiet]):
            rule_id = expected.split("@")[0]
            if rule_id not in known:
                kind = "fires" if j < len(case.fires) else "quiet"
                raise AdvisorError(doc.problem(("cases", name, kind), f"case '{name}' names unknown rule '{rule_id}'"))
        written = case.base or spec.base
        if written not in bases:
            bases[written] = load_base(doc, ("cases", name, "base") if case.base else ("base",), written, repo)
        base_doc = bases[written]
        try:
            data = overlay(base_doc.data, case.overlay)
        except OverlayError as exc:
            raise AdvisorError(doc.problem(("cases", name, "overlay", *exc.loc), f"case '{name}': {exc}")) from None
        merged = Located(f"{path} (case '{name}' on {base_doc.path})", data, base_doc.values, base_doc.keys)
        try:
            profile = parse_profile(merged)
        except AdvisorError as exc:
            raise AdvisorError(
                [
                    doc.problem(("cases", name, "overlay"), f"case '{name}' makes an invalid profile: {p.message}")
                    for p in map(without_limit_hint, exc.problems)
                ]
            ) from None
        try:
            evaluation = advisor.evaluate(profile, case.today or spec.today)
        except EngineError as exc:  # a failing rule fails this case; the other cases still run
            result.failures.append(f"the engine failed: {exc}")
            continue
        subjects = {r.id: r.subject or "" for r in evaluation.records}
        fired = {(f.rule_id, subjects[f.record_id]) for f in evaluation.outcome.firings}
        fired_rules = {rule for rule, _ in fired}
        result.fired = fired_rules
        for expected in case.fires:
            rule_id, _, who = expected.partition("@")
            ok = (rule_id, who) in fired if who else rule_id in fired_rules
            if not ok:
                where = f" for {who}" if who else ""
                got = sorted({s for r, s in fired if r == rule_id and s})
                detail = f" (it fired for {', '.join(got)})" if got else ""
                reason = _difference(advisor, evaluation, rule_id, who, fired=False)
                result.failures.append(f"{rule_id} should fire{where} but did not{detail}: {reason}")
        for expected in case.quiet:
            rule_id, _, who = expected.partition("@")
            hit = (rule_id, who) in fired if who else rule_id in fired_rules
            if hit:
                where = f" for {who}" if who else ""
                reason = _difference(advisor, evaluation, rule_id, who, fired=True)
                result.failures.append(f"{rule_id} fired{where} but should be quiet: {reason}")
    return results


def _difference(advisor: Advisor, evaluation, rule_id: str, who: str, *, fired: bool) -> str:
    """The facts that made the difference: what matched (it fired) or the first test that failed."""
    loaded = advisor.base.by_id()[rule_id]
    if loaded.condition is None:
        return "it has no conditions"
    records = [r for r in evaluation.records if r.scope == loaded.rule.scope and (not who or r.subject == who)]
    if not records:
        return f"the profile has no {loaded.rule.scope}" + (f" '{who}'" if who else "")
    notes = []
    shown = records[:3]
    for record, holds, reason in reasons(advisor, evaluation, loaded, shown, {r.id for r in shown} if fired else ()):
        label = record.subject or record.id
        if not fired:
            notes.append(f"{label}: {reason}")
        elif holds:
            notes.append(f"{label} {reason}")
    return "; ".join(notes)


def untested_rules(advisor: Advisor, directory: Path) -> list[str]:
    """Rules with no case where they fire, or none where they stay quiet."""
    fires, quiet, _ = case_expectations(directory)
    return sorted(r.id for r in advisor.base.rules if r.id not in fires or r.id not in quiet)
