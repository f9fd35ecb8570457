"""Rule files: their pydantic models, loading, and the checks that tie them to the fact catalogue and the course."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from . import conditions as c
from .course import Course
from .errors import AdvisorError, Problem, UnreadableInput, did_you_mean, one_of, suggest
from .facts import Catalogue, FactSpec
from .limits import HOW_TO_RAISE
from .modelio import WORDED, validate
from .policy import POLICY_FILE
from .relevance import RELEVANCE_FILE
from .vocabulary import (
    LANGS,
    OPERATORS,
    SECTIONS,
    YAML_OPERATORS,
    Aspect,
    Priority,
    Scope,
    Section,
    Stance,
    operators_for,
    yaml_field,
)
from .wording import choice, fact_name, fill_parts, placeholders, split_say  # noqa: F401 - callers import the last two from here
from .yamlio import Located, load_file

RULE_ID = r"^[a-z0-9][a-z0-9-]{0,79}$"
RuleId = Annotated[str, StringConstraints(pattern=RULE_ID)]
# What a derived fact (a bool) is tested with: the first bool operator that compares a value.
_BOOL_TEST = next(n for n in operators_for("bool") if not OPERATORS[n].presence)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# (YAML operator, its pydantic field): every condition of every rule asks which are written
_OPERATOR_FIELDS = tuple((name, yaml_field(name)) for name in YAML_OPERATORS)


class _ConditionForm(_Model):
    """One node of `when:`: all/any/not of conditions, or a test of one fact."""

    # The operators (one field each) come from the vocabulary: see Condition below.

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")
    fact: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> _ConditionForm:
        written = self.model_fields_set
        forms = [k for k in ("all", "any", "not_") if k in written]
        ops = self.operators()
        if forms and (ops or self.fact is not None):
            raise ValueError("a condition is either all/any/not or a fact test, not both; split it")
        if len(forms) > 1:
            raise ValueError("use one of all, any or not per condition; nest them instead")
        if forms:
            items = getattr(self, forms[0])
            if forms[0] != "not_" and not items:
                raise ValueError(f"'{forms[0]}' needs at least one condition")
            return self
        if self.fact is None:
            raise ValueError(f"a condition needs 'fact' and one operator ({', '.join(YAML_OPERATORS)}), or all/any/not")
        if len(ops) != 1:
            raise ValueError(
                f"a fact test takes exactly one operator ({', '.join(YAML_OPERATORS)}); got {len(ops) or 'none'}"
            )
        return self

    def operators(self) -> list[str]:
        """The YAML operators written in this condition (one, once it is valid)."""
        written = self.model_fields_set
        return [name for name, field in _OPERATOR_FIELDS if field in written]

    def operand(self, name: str) -> Any:
        """The value written under the YAML operator `name`."""
        return getattr(self, yaml_field(name))


# The pydantic type of each kind of value an operator takes (vocabulary.VALUE_KINDS).
_Scalar = StrictBool | StrictInt | StrictFloat | str
VALUE_TYPES: dict[str, Any] = {
    "scalar": _Scalar, "scalars": list[_Scalar], "number": StrictInt | StrictFloat, "bool": StrictBool, "word": str,
}  # fmt: skip

# One optional field per YAML operator: adding an operator to the vocabulary adds it here. Its forward
# references (`list[Condition]`) resolve from this module when a rule is first validated: no
# model_rebuild(), which would build the validator a start that finds the rules checked never uses.
Condition = create_model(
    "Condition",
    __base__=_ConditionForm,
    __doc__=_ConditionForm.__doc__,
    **{yaml_field(n): (VALUE_TYPES[OPERATORS[n].value] | None, Field(None, alias=n)) for n in YAML_OPERATORS},
)


class _SayForm(_Model):
    @field_validator(*LANGS, check_fields=False)
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text:
            raise ValueError(f"the advice is empty; write it in {_IN_EVERY_LANG}")
        return text


_IN_EVERY_LANG = "both " + " and ".join(LANGS) if len(LANGS) == 2 else one_of(LANGS)
# The advice in every language (one field each). minLength stays in the JSON Schema for editors;
# the validator words the error for trainers.
Say = create_model(
    "Say",
    __base__=_SayForm,
    **{
        lang: (Annotated[str, StringConstraints(strip_whitespace=True), Field(json_schema_extra={"minLength": 1})], ...)
        for lang in LANGS
    },
)


class Rule(_Model):
    """One piece of course knowledge: when the facts hold, say something and/or derive a fact."""

    id: RuleId
    source: list[str] = Field(json_schema_extra={"minItems": 1})
    scope: Scope = "account"
    when: Condition | None = None
    derive: list[str] = []
    section: Section | None = None
    aspect: Aspect = "approach"
    priority: Priority = "medium"
    say: Say | None = None
    note: str = ""
    tactic: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")] | None = Field(
        None, description="the tactic this advice takes a side on, e.g. lead_with_price (with stance)"
    )
    stance: Stance | None = Field(None, description="for or against the tactic")
    withdraws: list[RuleId] = Field(
        [], description="rules whose advice this rule's situation withdraws from the brief (an override)"
    )

    @field_validator("id", mode="before")
    @classmethod
    def _slug(cls, rule_id: Any) -> Any:
        # Before the pattern, so the refusal says what an id may hold and offers the fixed one.
        if not isinstance(rule_id, str) or not re.fullmatch(RULE_ID, rule_id):
            raise PydanticCustomError(WORDED, bad_rule_id(rule_id))
        return rule_id

    @field_validator("source")
    @classmethod
    def _cites(cls, codes: list[str]) -> list[str]:
        if not codes:
            raise ValueError("cite at least one course item, such as 2.1.1.a")
        return codes

    @model_validator(mode="after")
    def _says_or_derives(self) -> Rule:
        if self.say is None and not self.derive:
            raise ValueError("a rule needs 'say' (advice) or 'derive' (a fact for other rules), or both")
        if self.say is not None and self.section is None:
            raise ValueError(f"a rule that says something needs a section: {one_of(SECTIONS)}")
        if (self.tactic is None) != (self.stance is None):
            raise ValueError("a tactic needs a stance (for or against), and a stance needs its tactic")
        return self


def bad_rule_id(rule_id: Any) -> str:
    """Why `rule_id` is not a rule id, and the id it was probably meant to be."""
    if not isinstance(rule_id, str):
        got = (
            "a number"
            if isinstance(rule_id, (int, float))
            else {list: "a list", dict: "a mapping"}.get(
                type(rule_id), "nothing" if rule_id is None else "something else"
            )
        )
        return f"rule id must be text of a-z, 0-9 and -, such as 'gov-continuity'; got {got}"
    fixed = re.sub(r"[^a-z0-9]+", "-", rule_id.lower()).strip("-")[:80].rstrip("-")
    hint = f"; did you mean '{fixed}'?" if fixed else ""
    if re.fullmatch(r"[a-z0-9-]+", rule_id):
        if len(rule_id) > 80:
            return f"rule id '{rule_id[:80]}…' is {len(rule_id)} characters long; keep it to 80{hint}"
        return f"rule id '{rule_id}' must start with a letter or digit{hint}"
    return f"rule id '{rule_id}' may use only a-z, 0-9 and -{hint}"


class RuleFile(_Model):
    """A rule file's outer shape; each rule is validated on its own so one bad rule hides no others."""

    note: str = ""
    rules: list[dict[str, Any]] = Field(json_schema_extra={"minItems": 1})

    @field_validator("rules")
    @classmethod
    def _not_empty(cls, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rules:
            raise ValueError("the file has no rules; add at least one, or delete the file")
        return rules


class LoadedRule:
    """A rule plus where it came from and its normalised condition. Treat it as read-only.

    (This and RuleBase are plain classes: as frozen dataclasses they cost every start about 1 ms to
    create, though a start that finds the rules checked only unpickles them; neither is compared.)"""

    __slots__ = ("rule", "path", "index", "condition", "line", "col", "when_at", "derive_at", "source_at")

    def __init__(
        self,
        rule: Rule,
        path: str,
        index: int,  # global order: files by path, rules in file order
        condition: c.Node | None,
        line: int,
        col: int,
        when_at: tuple[int, int] = (0, 0),  # position of `when:` (or of the rule), for lint messages
        derive_at: tuple[int, int] = (0, 0),
        source_at: tuple[tuple[int, int], ...] = (),  # where each cited course item is written
    ) -> None:
        self.rule, self.path, self.index, self.condition, self.line, self.col = rule, path, index, condition, line, col
        self.when_at, self.derive_at, self.source_at = when_at, derive_at, source_at

    @property
    def id(self) -> str:
        return self.rule.id

    def problem(self, message: str, *, at: str = "rule", level: str = "error") -> Problem:
        line, col = {"when": self.when_at, "derive": self.derive_at}.get(at, (self.line, self.col))
        return Problem(self.path, line, col, level, message, self.id)


class RuleBase:
    """A rules folder loaded and checked: its rules, the facts they may test, and the files read. Treat
    it as read-only."""

    __slots__ = ("rules", "catalogue", "files")

    def __init__(self, rules: tuple[LoadedRule, ...], catalogue: Catalogue, files: tuple[Path, ...]) -> None:
        self.rules, self.catalogue, self.files = rules, catalogue, files

    def by_id(self) -> dict[str, LoadedRule]:
        return {r.id: r for r in self.rules}


# The reviewed citations, which lint alone reads (citations.py); named here, so that loading rules
# (every brief) need not import that module for its name.
CITATIONS_FILE = "citations.yaml"
DATA_FILES = (POLICY_FILE, RELEVANCE_FILE, CITATIONS_FILE)  # data beside the rules, not rule files


def rule_files(directory: Path) -> list[Path]:
    """Every rule file under `directory`, sorted: case files, `_`-prefixed files and the data files
    beside the rules (the policy, the relevance table, the reviewed citations) excluded."""
    return sorted(
        p
        for p in directory.rglob("*.yaml")
        if not p.name.endswith(".cases.yaml")
        and not p.name.startswith("_")
        and not (p.parent == directory and p.name in DATA_FILES)
    )


def _default_last(spec: str) -> bool:
    chosen = choice(spec)
    return chosen is not None and chosen.default == spec.rsplit("|", 1)[1]


# What rule texts must not write, per language: counts and lists are the text layer's job.
_PLURAL_PATCH = re.compile(r"\w\(s\)|\(s\)\w|\w\(es\)")
_POSSESSIVE = re.compile(r"\}'s\b")
# A pattern, not compiled here: its CJK ranges cost 5 ms to compile, which a start that finds the rules
# checked (checked.py) need not pay; re compiles it at the first Chinese text, and keeps it.
_ASCII_LIST = r"[\u4e00-\u9fff\uff09\u300d\u201d][,;] ?[\u4e00-\u9fff\uff08\u300c\u201c{]"


def wording_problems(text: str, lang: str) -> list[str]:
    """What a rule text writes that the text layer says properly (README, Writing rules)."""
    out = []
    if _PLURAL_PATCH.search(text):
        out.append("write a count with forms, {fact|1=one issue is|# issues are}, not '(s)'")
    if lang == "en" and _POSSESSIVE.search(text):
        out.append("a name can end in a bracket ('Li Na (Na Li)'s'): write 'the X of {name}' rather than '{name}'s'")
    if lang == "zh" and re.search(_ASCII_LIST, text):
        out.append("a Chinese list is joined with '、' (or '，'), not an ASCII comma")
    if lang != "zh" and "、" in text:
        out.append(f"an {lang} list is joined with ', ', not '、'")
    return out


def to_node(cond: Condition) -> c.Node:
    """The YAML condition as a normalised (negation-free) tree."""
    if cond.all is not None:
        return c.All(tuple(to_node(x) for x in cond.all))
    if cond.any is not None:
        return c.Any_(tuple(to_node(x) for x in cond.any))
    if cond.not_ is not None:
        return c.negate(to_node(cond.not_))
    (name,) = cond.operators()
    value = cond.operand(name)
    op = OPERATORS[name]
    if op.from_yaml is not None:
        return c.Leaf(cond.fact, *op.from_yaml(value))
    return c.Leaf(cond.fact, name, tuple(value) if isinstance(value, list) else value)


class _Checker:
    """Checks one rule file's rules against the catalogue and the course; collects problems."""

    def __init__(self, doc: Located, catalogue: Catalogue, course: Course, visible: dict[str, dict[str, FactSpec]]):
        self.doc, self.catalogue, self.course = doc, catalogue, course
        self.visible = visible  # facts by rule scope, worked out once per scope for all files
        self.problems: list[Problem] = []

    def add(self, loc: tuple, message: str, rule_id: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(loc, message, rule_id=rule_id, key=key))

    def rule(self, i: int, rule: Rule) -> None:
        loc = ("rules", i)
        for j, code in enumerate(rule.source):
            if code not in self.course.items:
                hint = suggest(code, self.course.items, "; cite a leaf code from the course outline such as 2.1.1.a")
                self.add(loc + ("source", j), f"unknown course item '{code}'{hint}", rule.id)
        visible = self.visible.get(rule.scope)
        if visible is None:
            visible = self.visible[rule.scope] = self.catalogue.visible_from(rule.scope)
        if rule.when is not None:
            self.condition(loc + ("when",), rule.when, rule, visible)
        for j, name in enumerate(rule.derive):
            scope = name.split(".", 1)[0]
            if "." not in name or not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", name):
                self.add(
                    loc + ("derive", j),
                    f"derived fact '{name}' must look like scope.name, e.g. account.high_value",
                    rule.id,
                )
            elif scope not in (rule.scope, "account"):
                self.add(
                    loc + ("derive", j),
                    f"a {rule.scope} rule can derive {rule.scope}.* or account.* facts, not '{name}'",
                    rule.id,
                )
            elif name in self.catalogue.specs and not self.catalogue.specs[name].derived_by_rules:
                self.add(loc + ("derive", j), f"'{name}' is a fact from the profile; derive a new name", rule.id)
        if rule.say is not None:
            for lang in LANGS:
                text = getattr(rule.say, lang)
                for spec in placeholders(text):
                    name = fact_name(spec)
                    if name not in visible:
                        hint = suggest(name, visible, f"; this {rule.scope} rule can quote {_reach(rule.scope)}")
                        self.add(loc + ("say", lang), f"unknown placeholder '{{{name}}}'{hint}", rule.id)
                    elif "|" in spec:
                        self.choice(loc + ("say", lang), spec, visible[name], rule.id)
                for message in wording_problems(text, lang):
                    self.add(loc + ("say", lang), message, rule.id)

    def choice(self, loc: tuple, spec: str, fact: FactSpec, rule_id: str) -> None:
        """A placeholder with forms: keys the fact can take, one default, written last (README, Writing rules)."""
        chosen = choice(spec)
        assert chosen is not None
        where = f"in '{{{spec}}}'"
        if fact.type not in ("int", "enum", "bool"):
            self.add(loc, f"{where}: forms choose by a count, a yes/no or a word; {fact.name} is {fact.type}", rule_id)
            return
        if chosen.unkeyed > 1 or (chosen.unkeyed == 1 and not _default_last(spec)):
            self.add(loc, f"{where}: write one form without a key, the last (the one for every other value)", rule_id)
        allowed = {"int": None, "bool": ("true", "false"), "enum": fact.values}[fact.type]
        for key, _ in chosen.keyed:
            bad = not re.fullmatch(r"-?\d+", key) if allowed is None else key not in allowed
            if bad:
                expected = "a whole number" if allowed is None else one_of(allowed)
                self.add(loc, f"{where}: key '{key}' is not a value of {fact.name}; use {expected}", rule_id)
        if chosen.default is None and (allowed is None or set(allowed) - {k for k, _ in chosen.keyed}):
            self.add(loc, f"{where}: add a last form without a key, for the values no key names", rule_id)

    def condition(self, loc: tuple, cond: Condition, rule: Rule, visible: dict[str, FactSpec]) -> None:
        for key in ("all", "any"):
            for j, sub in enumerate(getattr(cond, key) or []):
                self.condition(loc + (key, j), sub, rule, visible)
        if cond.not_ is not None:
            self.condition(loc + ("not",), cond.not_, rule, visible)
        if cond.fact is None:
            return
        spec = visible.get(cond.fact)
        if spec is None:
            other = self.catalogue.specs.get(cond.fact)
            if other is not None:
                msg = f"'{cond.fact}' belongs to {other.scope} rules; this {rule.scope} rule can test {_reach(rule.scope)}"
            else:
                testable = [n for n, s in visible.items() if s.testable]
                msg = f"unknown fact '{cond.fact}'" + suggest(cond.fact, testable, "; `advisor facts` lists them all")
            self.add(loc + ("fact",), msg, rule.id)
            return
        if not spec.testable:
            self.add(
                loc + ("fact",), f"'{cond.fact}' is text for quoting in advice, not a fact a rule can test", rule.id
            )
            return
        (op,) = cond.operators()
        if spec.derived_by_rules and OPERATORS[op].presence:
            self.add(
                loc + (op,),
                f"{cond.fact} is derived by rules and always known (false until a rule derives it); test {_BOOL_TEST}: true or {_BOOL_TEST}: false",
                rule.id,
                key=True,
            )
            return
        allowed = operators_for(spec.type)
        if op not in allowed:
            self.add(
                loc + (op,),
                f"'{op}' does not apply to {cond.fact} ({spec.type}); use {one_of(allowed)}",
                rule.id,
                key=True,
            )
            return
        value = cond.operand(op)
        values = value if isinstance(value, list) else [value]
        if not values:
            self.add(loc + (op,), f"'{op}' needs at least one value to compare {cond.fact} with", rule.id, key=True)
            return
        for j, v in enumerate(values):
            where = loc + (op, j) if isinstance(value, list) else loc + (op,)
            self.value(where, cond.fact, spec, op, v, rule.id)

    def value(self, loc: tuple, fact: str, spec: FactSpec, op: str, v: Any, rule_id: str) -> None:
        if OPERATORS[op].presence:
            return
        if spec.type in ("enum", "set"):
            if not isinstance(v, str) or v not in spec.values:
                hint = did_you_mean(str(v), spec.values)
                self.add(loc, f"{fact} is one of {one_of(spec.values)}; got {v!r}{hint}", rule_id)
        elif spec.type == "bool":
            if not isinstance(v, bool):
                self.add(loc, f"{fact} is true or false; got {v!r}", rule_id)
        elif spec.type in ("int", "number"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.add(loc, f"{fact} is a number; got {v!r}", rule_id)
            elif isinstance(v, float) and not math.isfinite(v):
                self.add(loc, f"{fact} is compared with a finite number; got {v!r}", rule_id)


# The advice every limit refusal ends with; see read_authored.
_RAISE = re.compile("(, or )?" + re.escape(HOW_TO_RAISE.format(name="NAME")).replace("NAME", r"\w+"))


def read_authored(path: Path, *, positions: bool = False, what: str = "a rule file") -> Located:
    """load_file for the files authors keep beside their rules (rule files, case files, case bases).

    They are read under the default limits, which no option raises (lint and test have no
    --limit: a rule base that outgrows them is split into more files), so a refusal tells what to
    do with the file, never to pass a --limit that the command does not take.
    """
    try:
        return load_file(path, positions=positions, what=what)
    except AdvisorError as exc:
        raise type(exc)([without_limit_hint(p) for p in exc.problems]) from None


def without_limit_hint(problem: Problem) -> Problem:
    """The problem without its 'raise the limit with --limit NAME=N' advice (see read_authored)."""
    message = _RAISE.sub("", problem.message)
    return problem if message == problem.message else dataclasses.replace(problem, message=message)


def _reach(scope: str) -> str:
    return "account.* facts" if scope == "account" else f"{scope}.* and account.* facts"


def load_rules(directory: Path, course: Course) -> RuleBase:
    """Load and check every rule file under `directory`; report all problems of all files at once."""
    files = rule_files(directory)
    if not files:
        raise UnreadableInput(
            Problem(
                str(directory), 1, 1, "error", "no rule files (*.yaml) found; point --rules at a folder of rule files"
            )
        )
    problems: list[Problem] = []
    parsed: list[tuple[Located, list[tuple[int, Rule]]]] = []
    for path in files:
        try:
            doc = read_authored(path, positions=True)  # every rule looks up where it is written
            shell = validate(doc, RuleFile)
        except AdvisorError as exc:
            problems.extend(exc.problems)
            continue
        valid: list[tuple[int, Rule]] = []
        for i in range(len(shell.rules)):
            try:
                valid.append((i, validate(doc, Rule, rule_id_at=_rule_id_at(doc), at=("rules", i))))
            except AdvisorError as exc:
                problems.extend(exc.problems)
        parsed.append((doc, valid))
    derived: dict[str, str] = {}
    for _, valid in parsed:
        for _, rule in valid:
            for name in rule.derive:
                derived.setdefault(name, rule.id)
    catalogue = Catalogue.base().with_derived(derived)
    seen: dict[str, str] = {}
    loaded: list[LoadedRule] = []
    visible: dict[str, dict[str, FactSpec]] = {}
    for doc, valid in parsed:
        checker = _Checker(doc, catalogue, course, visible)
        for i, rule in valid:
            checker.rule(i, rule)
            if rule.id in seen:
                checker.add(
                    ("rules", i, "id"), f"duplicate rule id '{rule.id}' (also in {seen[rule.id]}); rename one", rule.id
                )
            seen.setdefault(rule.id, f"{doc.path}:{doc.where(('rules', i, 'id'))[0]}")
            node = to_node(rule.when) if rule.when is not None else None
            loaded.append(
                LoadedRule(
                    rule,
                    doc.path,
                    len(loaded),
                    node,
                    *doc.where(("rules", i)),
                    when_at=doc.where(("rules", i, "when")),
                    derive_at=doc.where(("rules", i, "derive")),
                    source_at=tuple(doc.where(("rules", i, "source", j)) for j in range(len(rule.source))),
                )  # fmt: skip
            )
        problems.extend(checker.problems)
    problems += _check_withdrawals(parsed, set(seen))
    if problems:
        raise AdvisorError(problems)
    return RuleBase(tuple(loaded), catalogue, tuple(files))


def _check_withdrawals(parsed: list[tuple[Located, list[tuple[int, Rule]]]], ids: set[str]) -> list[Problem]:
    """Every rule a rule withdraws exists, and no chain of withdrawals comes back to where it started
    (two rules that withdraw each other leave nothing to say)."""
    problems: list[Problem] = []
    edges: dict[str, list[str]] = {}
    where: dict[tuple[str, str], Problem] = {}
    for doc, valid in parsed:
        for i, rule in valid:
            for j, target in enumerate(rule.withdraws):
                line, col = doc.where(("rules", i, "withdraws", j))
                if target not in ids:
                    hint = did_you_mean(target, ids) or "; `advisor plan` lists the rules"
                    problems.append(Problem(str(doc.path), line, col, "error", f"withdraws unknown rule '{target}'{hint}", rule.id))  # fmt: skip
                elif target == rule.id:
                    problems.append(
                        Problem(str(doc.path), line, col, "error", "a rule cannot withdraw itself", rule.id)
                    )
                else:
                    edges.setdefault(rule.id, []).append(target)
                    where[rule.id, target] = Problem(str(doc.path), line, col, "error", "", rule.id)
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        path = _cycle_from(start, edges)
        if path and frozenset(path) not in reported:
            reported.add(frozenset(path))
            last = where[path[-1], path[0]]
            loop = " -> ".join([*path, path[0]])
            message = f"withdrawals go round in a circle ({loop}); remove one so one side of it stands"
            problems.append(Problem(last.path, last.line, last.col, "error", message, path[-1]))
    return problems


def _cycle_from(start: str, edges: dict[str, list[str]]) -> list[str]:
    """A chain of withdrawals from `start` back to it, or []."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ()), reverse=True):
            if nxt == start:
                return path
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return []


def _rule_id_at(doc: Located):
    """For messages: the id of the rule that a pydantic error location falls in."""

    def rule_id(loc: tuple) -> str:
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                rid = doc.data["rules"][loc[1]].get("id", "")
                # A malformed id names no rule: its own error says so, and tags no line.
                return rid if isinstance(rid, str) and re.fullmatch(RULE_ID, rid) else ""
            except (KeyError, IndexError, TypeError, AttributeError):
                return ""
        return ""

    return rule_id
