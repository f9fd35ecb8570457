"""Case files (`*.cases.yaml` beside each rule file): trainers' tests of their rules, run by `advisor test` and pytest."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from .api import Advisor
from .errors import AdvisorError, EngineError, Problem
from .modelio import validate
from .profile import parse_profile
from .yamlio import Located, load_file

CaseName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]
Expectation = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*(@[a-z0-9][a-z0-9_-]*)?$")]


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str | None = None
    today: dt.date | None = None
    overlay: dict[str, Any] = {}
    fires: list[Expectation] = []
    quiet: list[Expectation] = []


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str
    today: dt.date
    cases: dict[CaseName, Case]


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


def case_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.cases.yaml"))


def overlay(base: Any, patch: Any) -> Any:
    """Deep-merge `patch` onto `base`: mappings merge, lists of mappings with ids merge by id,
    other lists are replaced, and null deletes a key."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = overlay(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _by_id(base) and _by_id(patch):
        out = [copy.deepcopy(x) for x in base]
        index = {x["id"]: i for i, x in enumerate(out)}
        for item in patch:
            if item["id"] in index:
                out[index[item["id"]]] = overlay(out[index[item["id"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _by_id(items: list) -> bool:
    return bool(items) and all(isinstance(x, dict) and "id" in x for x in items)


def load_cases(path: Path) -> tuple[Located, CaseFile]:
    doc = load_file(path)
    return doc, validate(doc, CaseFile)


def run_file(advisor: Advisor, path: Path) -> list[CaseResult]:
    """Run every case in one case file; problems with the file itself raise AdvisorError."""
    doc, spec = load_cases(path)
    known = advisor.base.by_id()
    results = []
    bases: dict[Path, Located] = {}
    for name, case in spec.cases.items():
        line, col = doc.where(("cases", name), key=True)
        result = CaseResult(str(path), name, line, col)
        results.append(result)
        for j, expected in enumerate([*case.fires, *case.quiet]):
            rule_id = expected.split("@")[0]
            if rule_id not in known:
                kind = "fires" if j < len(case.fires) else "quiet"
                raise AdvisorError(doc.problem(("cases", name, kind), f"case '{name}' names unknown rule '{rule_id}'"))
        base_path = (path.parent / (case.base or spec.base)).resolve()
        if base_path not in bases:
            bases[base_path] = load_file(base_path)
        base_doc = bases[base_path]
        merged = Located(
            f"{path} (case '{name}' on {base_doc.path})",
            overlay(base_doc.data, case.overlay),
            base_doc.values,
            base_doc.keys,
        )
        try:
            profile = parse_profile(merged)
        except AdvisorError as exc:
            raise AdvisorError(
                [
                    doc.problem(("cases", name, "overlay"), f"case '{name}' makes an invalid profile: {p.message}")
                    for p in exc.problems
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
    from . import conditions as c
    from .engine.compiler import ordered

    loaded = advisor.base.by_id()[rule_id]
    node = ordered(loaded.condition, advisor.base.catalogue)
    if node is None:
        return "it has no conditions"
    facts = evaluation.facts()
    derived = {n: False for n, spec in advisor.base.catalogue.specs.items() if spec.derived_by_rules}
    records = [r for r in evaluation.records if r.scope == loaded.rule.scope and (not who or r.subject == who)]
    if not records:
        return f"the profile has no {loaded.rule.scope}" + (f" '{who}'" if who else "")
    notes = []
    for r in records[:3]:
        values = {**derived, **facts[r.id]}
        label = r.subject or r.id
        if fired:
            if c.holds(node, values):
                notes.append(f"{label} matched " + ", ".join(c.matched(node, values)))
        else:
            notes.append(f"{label}: {c.why_not(node, values)}")
    return "; ".join(notes)


def case_expectations(directory: Path) -> tuple[set[str], set[str]]:
    """Rule ids some case expects to fire, and rule ids some case expects to stay quiet."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in case_files(directory):
        try:
            _, spec = load_cases(path)
        except AdvisorError:
            continue  # reported when the cases run
        for case in spec.cases.values():
            fires |= {e.split("@")[0] for e in case.fires}
            quiet |= {e.split("@")[0] for e in case.quiet}
    return fires, quiet


def untested_rules(advisor: Advisor, directory: Path) -> list[str]:
    """Rules with no case where they fire, or none where they stay quiet."""
    fires, quiet = case_expectations(directory)
    return sorted(r.id for r in advisor.base.rules if r.id not in fires or r.id not in quiet)
