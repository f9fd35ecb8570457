"""The account profile: the input format a rep fills in, as pydantic models (the single source of truth)."""

# No `from __future__ import annotations` here: pydantic would evaluate each of the models' ~90 field
# annotations from its text when the models are built, at every start (about 1 ms of a brief's CPU).
import copy
import datetime as dt
import functools
import math
import types
import typing
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .errors import AdvisorError, Problem, UnreadableInput, suggest
from .limits import DEFAULT, Limits, raise_hint
from .modelio import models_in, validate
from .yamlio import Located, load_file

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
    Field(description="lower-case letters, digits, - and _; at most 64 characters"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]

Industry = Literal[
    "party", "government", "military", "science", "education", "culture", "health", "finance", "insurance", "enterprise"
]
Ownership = Literal["state", "foreign", "private"]
Stage = Literal["establish", "maintain", "consolidate", "develop"]
Position = Literal["incumbent", "challenger"]
Level3 = Literal["low", "medium", "high"]
Outlook = Literal["declining", "stable", "growing"]
# procurement, finance and legal buy, pay for and sign what the others use: they are not `admin`.
Function = Literal[
    "leadership", "admin", "tech_management", "tech_application", "tech_support", "business",
    "procurement", "finance", "legal",
]  # fmt: skip
Level = Literal["frontline", "middle", "senior"]
Strength = Literal["none", "weak", "working", "strong"]
Stance = Literal["supporter", "neutral", "opponent", "unknown"]
Insider = Literal["none", "identified", "cultivating", "secured"]
# patron (course 2.3.3.a): `with` promoted the person who lists the tie, or they count as `with`'s people.
TieKind = Literal["personal", "shared_interest", "conflicting_interest", "patron"]
InteractionKind = Literal[
    "visit", "call", "message", "meeting", "care", "event", "service", "training", "gift", "meal", "other"
]
Severity = Literal["low", "medium", "high", "critical"]
CompetitorStrength = Literal["weak", "moderate", "strong"]
EventKind = Literal[
    "appointment", "promotion", "project", "incident", "holiday", "anniversary", "policy_change", "media", "other"
]

# Why the rep is going (course 3.2.3.a). Absent, it is inferred from the facts: see facts.visit_purpose.
Purpose = Literal[
    "relationship", "introduction", "technical_exchange", "proposal", "renewal", "service_recovery", "periodic_review"
]

INDUSTRY_GROUPS: dict[str, str] = {
    "party": "government", "government": "government", "military": "government",
    "science": "institution", "education": "institution", "culture": "institution", "health": "institution",
    "enterprise": "enterprise",
    "finance": "finance", "insurance": "finance",
}  # fmt: skip


M = TypeVar("M", bound=BaseModel)

# The largest number any field takes (SECURITY.md): a revenue, share, rank or score beyond it is a typo
# or an attack, and the engine could not read it (facts.NUMBER_CAP).
NUMBER_CAP = 10**15

YAML_BOOLEAN = (
    "an unquoted yes, no, on, off, true or false reads as true or false, not as text; put the value in quotes"
)


@functools.cache
def _field_kind(model: type[BaseModel], name: str) -> str:
    """'text' for a field that takes text (free text, ids, vocabulary words), 'number' for one that takes
    a number, else ''; worked out once per field from its annotation."""
    field = model.model_fields.get(name)
    return _kind(field.annotation) if field is not None else ""


def _kind(annotation: Any) -> str:
    if annotation is str:
        return "text"
    if annotation in (int, float):
        return "number"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return "text" if any(isinstance(a, str) for a in args) else ""
    if origin in (typing.Union, types.UnionType, typing.Annotated, list):
        kinds = {_kind(a) for a in (args[:1] if origin is typing.Annotated else args)}
        return "text" if "text" in kinds else "number" if "number" in kinds else ""
    return ""


def _finite(value: Any) -> None:
    """Refuse infinity, not-a-number, and numbers beyond NUMBER_CAP (YAML .inf, JSON Infinity, 1e400)."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip().replace("_", ""))
        except ValueError:
            return  # not a number at all: the field's own type says so
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return
    if isinstance(number, float) and math.isnan(number):
        raise PydanticCustomError("not_finite", "must be a number; got NaN (not a number)")
    if isinstance(number, float) and math.isinf(number):
        raise PydanticCustomError("not_finite", f"must be a finite number; got {'-' if number < 0 else ''}infinity")
    if abs(number) > NUMBER_CAP:
        raise PydanticCustomError("too_large", "must be at most 10^15 (1,000,000,000,000,000) in size")


class _Model(BaseModel):
    """A profile part. Validation runs in pydantic's core alone, without a Python call per field: what
    only our checks refuse (a YAML boolean in a text field, a number no field can hold) is found by
    one look at the result, and any refused input is validated again by the careful twin
    (`_careful`), whose errors are the ones every caller sees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:  # type: ignore[override]
        return _checked(cls, "validate_python", obj, options)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:  # type: ignore[override]
        return _checked(cls, "validate_json", json_data, options)


def _checked(model: type[M], method: str, data: Any, options: dict[str, Any]) -> M:
    """`data` validated by `model`'s core `method`; when it is refused or holds a number in doubt, the
    careful twin validates it again, and its errors are raised."""
    try:
        result = getattr(model.__pydantic_validator__, method)(data, **options)
    except ValidationError:
        result = None
    if result is None or _beyond_cap(result):
        getattr(_careful(model).__pydantic_validator__, method)(data, **options)  # raises the worded errors
        if result is None:  # pragma: no cover - the twin refuses whatever the model refuses
            return getattr(model.__pydantic_validator__, method)(data, **options)
    return result


def _plain_values(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """What YAML read differently from what the rep meant: `name: no` (false, not text), and numbers
    no field can hold (.inf, NaN, 10^20). Words the fix, positioned on the field."""
    if isinstance(value, (bool, int, float, str, list)):
        kind = _field_kind(cls, info.field_name)
        if kind == "text":
            items = value if isinstance(value, list) else (value,)
            if any(isinstance(item, bool) for item in items):
                raise PydanticCustomError("yaml_boolean", YAML_BOOLEAN)
        elif kind == "number":
            for item in value if isinstance(value, list) else (value,):
                _finite(item)
    return value


@functools.cache
def _careful(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with `_plain_values` before every field, its parts careful too: it refuses exactly what
    `model` refuses plus what only our checks do, each field's problem worded as the rep should read
    it. It validates only input already refused (or in doubt), so its cost is paid by bad input alone.

    A text field never takes a boolean (pydantic refuses it too, in other words), so on input the
    model took only a number can be in doubt: `_beyond_cap` looks for one."""
    nested = {}
    for name, field in model.model_fields.items():
        swapped = _swap(field.annotation)
        if swapped is not field.annotation:
            nested[name] = (swapped, copy.copy(field))
    return create_model(  # type: ignore[call-overload]
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __validators__={"_plain_values": field_validator("*", mode="before")(_plain_values)},
        **nested,
    )


def _swap(annotation: Any) -> Any:
    """`annotation` with each profile model in it replaced by its careful twin (the same object when none is)."""
    if isinstance(annotation, type) and issubclass(annotation, _Model):
        return _careful(annotation)
    args = typing.get_args(annotation)
    swapped = tuple(_swap(a) for a in args)
    if all(a is b for a, b in zip(args, swapped, strict=True)):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[swapped]  # noqa: UP007 - built from a tuple
    if origin is list:
        return list[swapped[0]]
    raise TypeError(f"no careful twin for a field of type {annotation}")  # pragma: no cover - a new shape of field


@functools.cache
def _number_fields(model: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields of `model` that take a number, and those whose parts may hold one; worked out once."""
    numbers = tuple(name for name in model.model_fields if _field_kind(model, name) == "number")
    parts = tuple(
        name
        for name, field in model.model_fields.items()
        if any(any(_number_fields(m)) for m in models_in(field.annotation))
    )
    return numbers, parts


def _beyond_cap(model: BaseModel) -> bool:
    """Whether a validated model holds a number `_finite` refuses (infinity, NaN, beyond NUMBER_CAP).

    Runs on every profile read, so it walks only the parts that can hold a number, without recursion."""
    stack = [model]
    while stack:
        part = stack.pop()
        numbers, parts = _number_fields(part.__class__)
        values = part.__dict__
        for name in numbers:
            value = values[name]
            if value is None:
                continue
            for item in value if value.__class__ is list else (value,):
                if item.__class__ in (int, float) and not abs(item) <= NUMBER_CAP:  # `not <=`: NaN too
                    return True
        for name in parts:
            value = values[name]
            if value.__class__ is list:
                stack.extend(value)
            elif value is not None:
                stack.append(value)
    return False


class Potential(_Model):
    """Signals of future value (course 1.2.3)."""

    growth_outlook: Outlook | None = Field(None, description="the account's own growth prospects")
    mindset_shift: bool = Field(False, description="the account is newly open to new services or ways of working")
    industry_shift: bool = Field(
        False, description="its industry is changing (regulation, digitalisation, consolidation)"
    )
    note: Note = ""


class Account(_Model):
    id: Slug
    name: Text
    industry: Industry
    ownership: Ownership | None = Field(
        None, description="for enterprises, financial firms, and institutions that are not public"
    )
    annual_revenue: float | None = Field(
        None, ge=0, description="our yearly revenue from the account, in the rep's currency"
    )
    portfolio_share: float | None = Field(
        None, ge=0, le=1, description="that revenue as a share of the rep's portfolio, 0 to 1"
    )
    revenue_rank: int | None = Field(None, ge=1, description="the account's rank by revenue in the rep's portfolio")
    brand_influence: Level3 | None = Field(None, description="reference value as a brand name (1.2.2)")
    government_influence: Level3 | None = Field(None, description="influence as or over government bodies (1.2.2)")
    potential: Potential = Potential()
    stage: Stage
    position: Position = Field(
        description="incumbent: we hold the account and defend it; challenger: a competitor holds it"
    )
    record_updated: dt.date | None = Field(None, description="when the customer record was last reviewed")
    note: Note = ""


class Relationship(_Model):
    strength: Strength = "none"
    stance: Stance = "unknown"


class Contact(_Model):
    """How we reach the person (3.1.5): directly (1), through one introducer (2) or two (3)."""

    degree: Literal[1, 2, 3] = 1
    via: Slug | None = Field(None, description="id of the stakeholder who introduces us")


class Tie(_Model):
    """An informal tie to another stakeholder (2.3.3); for `patron`, `with` is the person's patron (2.3.3.a)."""

    with_: Slug = Field(alias="with")
    kind: TieKind
    note: Note = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Stakeholder(_Model):
    id: Slug
    name: Text
    title: Text
    department: Text
    function: Function
    level: Level
    reports_to: Slug | None = None
    ties: list[Tie] = []
    relationship: Relationship = Relationship()
    insider: Insider = "none"
    contact: Contact = Contact()
    interests: list[Text] = []
    last_contact: dt.date | None = None
    note: Note = ""


class Interaction(_Model):
    date: dt.date
    kind: InteractionKind
    with_: list[Slug] = Field(default=[], alias="with")
    form: Note = Field("", description="what exactly: a site visit, a training session, tickets to a forum…")
    value: float | None = Field(None, ge=0, le=1e12, description="money value of a gift or meal, in the rep's currency")
    agreed: Note = Field("", description="what was agreed (the after-visit form writes it)")
    note: Note = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServiceIssue(_Model):
    opened: dt.date
    closed: dt.date | None = None
    severity: Severity = "medium"
    incident: bool = Field(False, description="an outage or fault, not a request")
    category: Text | None = None
    summary: Text


class Reading(_Model):
    """One earlier satisfaction score, dated: the history shows the trend (4, then 3, then 2)."""

    date: dt.date
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")


class Concern(_Model):
    """A person who is unhappy with our service, and about what."""

    stakeholder: Slug = Field(description="id of the unhappy person under stakeholders")
    about: Text = Field(description="what they are unhappy about, in their words if possible")
    since: dt.date | None = None


class Service(_Model):
    satisfaction: int | None = Field(
        None, ge=1, le=5, description="the current score, 1 (very unhappy) to 5 (very happy)"
    )
    satisfaction_history: list[Reading] = Field(
        [], description="earlier scores, dated; with the current score they give the trend"
    )
    concerns: list[Concern] = Field([], description="who is unhappy about what")
    last_review: dt.date | None = None
    issues: list[ServiceIssue] = []


# In a contract, the holder that means our own company; any other holder names a competitor.
US = "us"


class Contract(_Model):
    """One service at the account, who runs it, and when its contract ends (1.1.2: defend ours, win theirs)."""

    service: Text = Field(description="what is supplied: broadband, core lines, cloud hosting…")
    holder: Text = Field(description="us, or the name of a competitor listed under competitors")
    ends: dt.date | None = Field(None, description="when the contract ends (or comes up for renewal)")
    users: list[Slug] = Field([], description="ids of the people who use or manage this service")
    note: Note = ""


class Competitor(_Model):
    name: Text
    offers: Note = ""
    strength: CompetitorStrength = "moderate"
    latest_move: Note = ""
    learned_on: dt.date | None = Field(None, description="when we last learned anything about them")


class Event(_Model):
    date: dt.date
    kind: EventKind
    summary: Text
    stakeholder: Slug | None = None
    supplier_policy: bool = Field(
        False,
        description="a policy_change that affects us as a supplier: a new procurement code, a supplier rotation rule",
    )


class Visit(_Model):
    date: dt.date
    objective: Text
    purpose: Purpose | None = Field(
        None,
        description="relationship (a courtesy call), introduction (of or to a new leader), technical_exchange, "
        "proposal, renewal (or a negotiation), service_recovery, periodic_review; inferred when absent",
    )
    attendees: list[Slug] = []


class Profile(_Model):
    """One key account as the rep knows it."""

    account: Account
    stakeholders: list[Stakeholder] = []
    interactions: list[Interaction] = []
    service: Service = Service()
    contracts: list[Contract] = []
    competitors: list[Competitor] = []
    events: list[Event] = []
    visit: Visit | None = None


def cross_check(profile: Profile, doc: Located) -> list[Problem]:
    """Problems no single field can see: unknown or duplicate ids, dates that contradict each other."""
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for i, person in enumerate(profile.stakeholders):
        if person.id in ids:
            problems.append(
                doc.problem(
                    ("stakeholders", i, "id"),
                    f"duplicate stakeholder id '{person.id}' (also stakeholders[{ids[person.id]}]); give each person a unique id",
                )
            )
        else:
            ids[person.id] = i

    def ref(loc: tuple, value: str | None) -> None:
        if value is not None and value not in ids:
            problems.append(
                doc.problem(
                    loc,
                    f"unknown stakeholder '{value}'"
                    + suggest(value, ids, "; use the id of a person under stakeholders"),
                )
            )

    for i, person in enumerate(profile.stakeholders):
        ref(("stakeholders", i, "reports_to"), person.reports_to)
        if person.reports_to == person.id:
            problems.append(doc.problem(("stakeholders", i, "reports_to"), "a person cannot report to themselves"))
        ref(("stakeholders", i, "contact", "via"), person.contact.via)
        if person.contact.via is not None and person.contact.degree == 1:
            problems.append(
                doc.problem(
                    ("stakeholders", i, "contact", "degree"),
                    "contact degree 1 means we reach them directly; set degree 2 or 3, or remove via",
                )
            )
        for j, tie in enumerate(person.ties):
            ref(("stakeholders", i, "ties", j, "with"), tie.with_)
            if tie.with_ == person.id:
                problems.append(
                    doc.problem(("stakeholders", i, "ties", j, "with"), "a person cannot have a tie to themselves")
                )
    problems.extend(_reporting_cycles(profile, ids, doc))
    for i, item in enumerate(profile.interactions):
        for j, who in enumerate(item.with_):
            ref(("interactions", i, "with", j), who)
    for i, event in enumerate(profile.events):
        ref(("events", i, "stakeholder"), event.stakeholder)
        if event.supplier_policy and event.kind != "policy_change":
            problems.append(
                doc.problem(
                    ("events", i, "supplier_policy"),
                    f"supplier_policy applies to a policy_change event, not to a {event.kind}; set kind: policy_change or remove it",
                )
            )
    for i, concern in enumerate(profile.service.concerns):
        ref(("service", "concerns", i, "stakeholder"), concern.stakeholder)
    problems.extend(_contract_problems(profile, ids, doc, ref))
    for i, issue in enumerate(profile.service.issues):
        if issue.closed and issue.closed < issue.opened:
            problems.append(
                doc.problem(("service", "issues", i, "closed"), "closed before it was opened; check the dates")
            )
    if profile.visit:
        for j, who in enumerate(profile.visit.attendees):
            ref(("visit", "attendees", j), who)
        if len(set(profile.visit.attendees)) != len(profile.visit.attendees):
            problems.append(doc.problem(("visit", "attendees"), "an attendee is listed twice; list each person once"))
        last = max((x.date for x in profile.interactions), default=None)
        if last and profile.visit.date < last:
            problems.append(
                doc.problem(
                    ("visit", "date"),
                    f"the visit ({profile.visit.date}) is dated before the last interaction ({last}); plan the next visit or log it as an interaction",
                )
            )
    account = profile.account
    if account.industry == "enterprise" and account.ownership is None:
        problems.append(doc.problem(("account",), "an enterprise needs account.ownership: state, foreign or private"))
    if account.ownership is not None and INDUSTRY_GROUPS[account.industry] == "government":
        problems.append(
            doc.problem(("account", "ownership"), f"ownership does not apply to a {account.industry} body; remove it")
        )
    return problems


def _contract_problems(profile: Profile, ids: dict[str, int], doc: Located, ref) -> list[Problem]:
    """A contract's holder is us or a listed competitor (by name), and its users are people in the profile."""
    problems: list[Problem] = []
    rivals = {c.name for c in profile.competitors}
    for i, contract in enumerate(profile.contracts):
        if contract.holder != US and contract.holder not in rivals:
            hint = suggest(
                contract.holder, rivals | {US}, "; write us, or a competitor's name as it is under competitors"
            )
            problems.append(doc.problem(("contracts", i, "holder"), f"unknown holder '{contract.holder}'{hint}"))
        for j, who in enumerate(contract.users):
            ref(("contracts", i, "users", j), who)
    return problems


def _reporting_cycles(profile: Profile, ids: dict[str, int], doc: Located) -> list[Problem]:
    """Every loop in who reports to whom (a to b, b to a), named once, at the `reports_to` that closes it:
    the one, of the people in the loop, that comes last in the file. A person reporting to
    themselves is reported on its own (see cross_check)."""
    boss = {
        i: ids[p.reports_to]
        for i, p in enumerate(profile.stakeholders)
        if p.reports_to in ids and p.reports_to != p.id and ids.get(p.id) == i
    }
    problems: list[Problem] = []
    done: set[int] = set()
    for start in boss:
        path: list[int] = []
        on_path: set[int] = set()
        i: int | None = start
        while i is not None and i not in done and i not in on_path:
            path.append(i)
            on_path.add(i)
            i = boss.get(i)
        if i is not None and i in on_path:  # walked back onto this path: the loop is path[path.index(i):]
            loop = path[path.index(i) :]
            last = max(loop)
            ring = loop[loop.index(last) + 1 :] + loop[: loop.index(last) + 1]  # ends with the closing person
            names = [profile.stakeholders[k].id for k in ring]
            chain = " -> ".join([*names, names[0]])
            problems.append(
                doc.problem(
                    ("stakeholders", last, "reports_to"),
                    f"reporting cycle {chain}; someone in it must report outside it, or to no one",
                )
            )
        done.update(path)
    return problems


# The lists a profile may hold many of, and the limit that caps each.
COUNTED = ("stakeholders", "interactions")


def check_counts(doc: Located, limits: Limits = DEFAULT) -> None:
    """Refuse a profile whose lists are longer than the limits, before validation spends time on them."""
    data = doc.data
    if not isinstance(data, dict):
        return
    problems = []
    for key in COUNTED:
        items, cap = data.get(key), getattr(limits, key)
        if isinstance(items, list) and len(items) > cap:
            message = (
                f"{len(items):,} {key}, over the limit of {cap:,}; keep the ones that matter, or {raise_hint(key)}"
            )
            problems.append(Problem(doc.path, *doc.where((key,)), "error", message))
    if problems:
        raise UnreadableInput(problems)


def parse_profile(doc: Located, limits: Limits = DEFAULT) -> Profile:
    """A validated Profile from a loaded document, or an AdvisorError listing every problem."""
    check_counts(doc, limits)
    profile = validate(doc, Profile)
    problems = cross_check(profile, doc)
    if problems:
        raise AdvisorError(problems)
    return profile


def parse_profile_json(text: str, path: str, line: int, limits: Limits = DEFAULT) -> Profile | None:
    """The common case of a JSON record, validated straight from its text (pydantic parses it), or
    None: then the careful path (json.loads, the limits, `parse_profile`) runs and words the problem
    with its place. Only a record that would pass the careful path is taken here:
    - the limits: nesting is bounded by the models (no field takes free-form data), and a text of
      fewer than 2 × `values` characters cannot hold more values than that (each needs a character
      and a separator); the list lengths are checked on the result;
    - any validation error, and any cross-check problem, is left to the careful path."""
    if len(text) >= 2 * limits.values:
        return None
    try:
        profile = Profile.model_validate_json(text)
    except ValidationError:
        return None
    if any(len(getattr(profile, key)) > getattr(limits, key) for key in COUNTED):
        return None
    if cross_check(profile, Located(path, None, {(): (line, 1)}, {})):
        return None
    return profile


def to_validated_json(profile: Profile) -> bytes:
    """A validated profile as compact JSON in UTF-8 (`model_dump_json` by alias, before decoding):
    what a batch's pass 1 spills, and pass 2 reads with `from_validated_json`, never decoded."""
    return Profile.__pydantic_serializer__.to_json(profile, by_alias=True)


def from_validated_json(text: str | bytes) -> Profile:
    """A Profile from the JSON `to_validated_json` (or `model_dump_json`) wrote of one that passed
    `parse_profile` (a batch's pass 1 spill): pydantic's core builds the models, and the look for
    numbers beyond the cap is not made a second time on what already passed it."""
    return Profile.__pydantic_validator__.validate_json(text)


def load_profile(path, limits: Limits = DEFAULT) -> Profile:
    """Read, parse and validate one profile file under `limits`."""
    return parse_profile(load_file(path, limits), limits)
