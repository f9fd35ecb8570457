"""The rule language's vocabulary, declared once: operators, scopes, sections, aspects, priorities, languages.

Models, conditions, the compiler and the engine's wire format, lint, explain, docs and the JSON
Schemas all read from here, so adding an operator or a scope is one edit in this module.

Operators. A row of OPERATORS is one leaf test. Its name is the YAML key a trainer writes (a row
with no YAML type, such as `unknown`, is reached only through `known: false` or through `not`).
`negation` is the row that `not:` turns it into under the "unknown is never true" reading (see
conditions.py): every test of an unknown fact is false, under `not` too, so a row and its negation
are both false for an unknown fact, except `known`/`unknown`, which test presence itself.
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable
from typing import Any, Literal

LANGS: tuple[str, ...] = ("en", "zh")
# The formats a brief is written in (`brief --format`, `batch --format`).
FORMATS: tuple[str, ...] = ("markdown", "json", "html", "pdf")
# The formats of `advisor report`, and what "shown often" means there: at least this many impressions.
REPORT_FORMATS: tuple[str, ...] = ("md", "json", "csv")
MIN_SHOWN = 3
Lang = Literal[LANGS]  # type: ignore[valid-type]
# What a rep did with a piece of advice (the ledger's reactions, in the order reports list them); the
# refusals must say why, with a reason from the trainers' list (templates/reasons.yaml).
REACTIONS: tuple[str, ...] = ("adopted", "done", "not_applicable", "rejected")
Reaction = Literal[REACTIONS]  # type: ignore[valid-type]
REFUSALS: tuple[str, ...] = ("not_applicable", "rejected")
# How each language joins a list quoted in a rule's text (a person's interests): a Chinese list takes 、.
LIST_SEPARATORS: dict[str, str] = {"en": ", ", "zh": "、"}

# Scopes in compile and listing order, with what one record of each stands for.
SCOPE_MEANING: dict[str, str] = {
    "account": "once per profile",
    "stakeholder": "once per person under stakeholders",
    "tie": "once per informal tie between two stakeholders",
    "competitor": "once per competitor",
    "event": "once per dated event",
}
SCOPES: tuple[str, ...] = tuple(SCOPE_MEANING)
Scope = Literal[SCOPES]  # type: ignore[valid-type]

SECTIONS: tuple[str, ...] = (
    "account", "person", "penetration", "gaps", "cadence", "competitors", "checklist", "after_visit",
)  # fmt: skip
Section = Literal[SECTIONS]  # type: ignore[valid-type]
ASPECTS: tuple[str, ...] = ("cares", "approach", "avoid")
Aspect = Literal[ASPECTS]  # type: ignore[valid-type]
PRIORITIES: tuple[str, ...] = ("high", "medium", "low")  # in the order a brief lists them
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
# The side a rule's advice takes on a tactic (see Rule.tactic): lint reports opposite sides that can meet.
STANCES: tuple[str, ...] = ("for", "against")
Stance = Literal[STANCES]  # type: ignore[valid-type]

# How explain and docs write the value of a fact the profile leaves unknown.
UNKNOWN_VALUE: dict[str, str] = {"en": "unknown", "zh": "未知"}

# The kinds of value a YAML operator takes (rules.py gives each its pydantic type): named here, so that
# this module imports no pydantic and the command line starts fast.
VALUE_KINDS: tuple[str, ...] = ("scalar", "scalars", "number", "bool", "word")


def member_key(key: str, member: Any) -> str:
    """The engine property of one member of a set fact: sets reach durable-rules as one boolean per value."""
    return f"{key}__{member}"


def _equal(value: Any, want: Any) -> bool:
    # True == 1 in Python (and in durable); a test of a bool fact against a number must not hold.
    return value == want and type(value) is type(want) or (_num(value) and _num(want) and value == want)


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _compare(sign: str) -> Callable[[str, Any], dict]:
    return lambda key, want: {sign: {key: want}}


class Operator:
    """One leaf test: its YAML key, where it applies, its negation, its words and its two evaluations.
    Treat it as read-only. (A plain class: as a frozen dataclass it cost every start about 0.65 ms to create.)"""

    __slots__ = ("name", "negation", "types", "words", "holds", "durable", "value", "presence", "admits", "from_yaml")

    def __init__(
        self,
        name: str,  # the YAML key, and the name of the normalised leaf operator
        negation: str,  # the operator `not:` turns it into
        types: tuple[str, ...],  # fact types it applies to in YAML; () for one reached only through not/known
        words: dict[str, str],  # by language, as explain and docs write it: "<fact> <words> <value>"
        holds: Callable[[Any, Any], bool],  # reference evaluation: (known value, wanted value) -> bool
        durable: Callable[[str, Any], dict],  # durable-rules form: (engine key, wanted value) -> pattern
        value: str | None = None,  # the kind of its YAML value (VALUE_KINDS); None: not written in YAML
        presence: bool = False,  # tests whether the fact is known: holds also for an unknown (None) value
        admits: Callable[[Any], tuple] | None = None,  # the enum values it admits, for discriminating tests
        from_yaml: Callable[[Any], tuple[str, Any]] | None = None,  # YAML value -> (operator, value)
    ) -> None:
        self.name, self.negation, self.types, self.words, self.holds = name, negation, types, words, holds
        self.durable, self.value, self.presence, self.admits, self.from_yaml = (
            durable,
            value,
            presence,
            admits,
            from_yaml,
        )


def _op(name: str, negation: str, types: tuple[str, ...], en: str, zh: str, holds, durable, **kw) -> Operator:
    return Operator(name, negation, types, {"en": en, "zh": zh}, holds, durable, **kw)


_ORDERED = ("enum", "int", "number")
OPERATORS: dict[str, Operator] = {
    o.name: o
    for o in (
        _op("equals", "not_equals", ("enum", "bool", "int"), "equals", "等于", _equal,
            lambda key, want: {key: want}, value="scalar", admits=lambda want: (want,)),
        _op("not_equals", "equals", ("enum", "int"), "differs from", "不等于",
            lambda value, want: not _equal(value, want), _compare("$neq"), value="scalar"),
        # One regex node instead of an $or of equalities: enum values are plain words, and $mt is
        # a full match, so "(a|b)" matches exactly a or b.
        _op("in", "not_in", ("enum",), "is one of", "属于", lambda value, want: value in want,
            lambda key, want: {"$mt": {key: "(" + "|".join(want) + ")"}}, value="scalars", admits=tuple),
        _op("not_in", "in", ("enum",), "is none of", "不属于", lambda value, want: value not in want,
            lambda key, want: {"$and": [{"$neq": {key: x}} for x in want]}, value="scalars"),
        _op("lt", "gte", _ORDERED[1:], "<", "<", operator.lt, _compare("$lt"), value="number"),
        _op("lte", "gt", _ORDERED[1:], "<=", "<=", operator.le, _compare("$lte"), value="number"),
        _op("gt", "lte", _ORDERED[1:], ">", ">", operator.gt, _compare("$gt"), value="number"),
        _op("gte", "lt", _ORDERED[1:], ">=", ">=", operator.ge, _compare("$gte"), value="number"),
        _op("known", "unknown", ("enum", "bool", "int", "number"), "is known", "已知",
            lambda value, want: value is not None, lambda key, want: {"$ex": {key: 1}}, value="bool",
            presence=True, from_yaml=lambda v: ("known" if v else "unknown", None)),
        _op("unknown", "known", (), "is unknown", "未知", lambda value, want: value is None,
            lambda key, want: {"$nex": {key: 1}}, presence=True),
        _op("contains", "not_contains", ("set",), "contains", "包含", lambda value, want: want in value,
            lambda key, want: {member_key(key, want): True}, value="word"),
        _op("not_contains", "contains", ("set",), "does not contain", "不包含", lambda value, want: want not in value,
            lambda key, want: {member_key(key, want): False}, value="word"),
    )
}  # fmt: skip

# The keys a trainer may write under `when:`, in the order messages list them.
YAML_OPERATORS: tuple[str, ...] = tuple(name for name, o in OPERATORS.items() if o.types)


def operators_for(fact_type: str) -> tuple[str, ...]:
    """The YAML operators that apply to a fact of this type, in table order."""
    return tuple(name for name in YAML_OPERATORS if fact_type in OPERATORS[name].types)


def yaml_field(name: str) -> str:
    """The pydantic field of a YAML operator (`in` is a Python keyword)."""
    return name + "_" if keyword.iskeyword(name) else name


# MAJOR.MINOR of the JSON brief (outputs.BriefDocument); here, not in outputs.py, so rendering a
# brief does not build the output models, which only the schema export needs.
SCHEMA_VERSION = "1.1"  # 1.0: the brief before names and the version; 1.1: schema_version, stakeholders, names
