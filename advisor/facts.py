"""The fact catalogue (every name a rule may test) and `derive`, which turns a profile into fact records.

The catalogue is the vocabulary of the rule language: lint, the compiler, `advisor facts` and the
documentation all read it from here. A fact whose value is unknown (a field the rep left empty)
is simply absent from its record; see `conditions.py` for what conditions make of that.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from . import profile as p
from .policy import Policy, breaches, is_public_sector

if TYPE_CHECKING:
    from .portfolio import Position  # only with a portfolio index (--portfolio), which its reader brings

# Interaction kinds that count as a form of care (3.2.1), as opposed to routine business contact.
CARE_KINDS = ("visit", "care", "event", "service", "training", "gift", "meal")


class FactSpec:
    """One testable (or, for text, quotable) fact. Treat it as read-only. (A plain class: as a frozen
    dataclass it cost every start about 0.5 ms to create, and more to make the catalogue's 150.)"""

    __slots__ = ("name", "type", "meaning", "values", "unit", "derived_by_rules")

    def __init__(
        self,
        name: str,  # "scope.field"
        type: str,  # enum | bool | int | number | set | text
        meaning: str,
        values: tuple[str, ...] = (),  # the vocabulary of enum and set facts
        unit: str = "",
        derived_by_rules: bool = False,
    ) -> None:
        self.name, self.type, self.meaning, self.values = name, type, meaning, values
        self.unit, self.derived_by_rules = unit, derived_by_rules

    @property
    def scope(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def testable(self) -> bool:
        """Text facts are for quoting in advice ({stakeholder.name}); rules cannot test them."""
        return self.type != "text"


def _v(literal: Any) -> tuple[str, ...]:
    return tuple(get_args(literal))


LEVELS = _v(p.Level)
TRENDS = ("declining", "stable", "improving")
RUNNERS = ("us", "rival", "shared")
FUNCTIONS = _v(p.Function)
INDUSTRY_GROUP_VALUES = tuple(dict.fromkeys(p.INDUSTRY_GROUPS.values()))  # in the order profile.py declares them

_BASE: tuple[FactSpec, ...] = (
    # --- the account (every scope's record carries these too) ---
    FactSpec("account.id", "text", "the account's id"),
    FactSpec("account.name", "text", "the account's name"),
    FactSpec("account.industry", "enum", "the account's industry", _v(p.Industry)),
    FactSpec(
        "account.industry_group",
        "enum",
        "party/government/military = government; science/education/culture/health = institution; finance/insurance = finance; else enterprise",
        INDUSTRY_GROUP_VALUES,
    ),
    FactSpec(
        "account.ownership",
        "enum",
        "ownership of an enterprise, financial firm or institution (unknown for public bodies)",
        _v(p.Ownership),
    ),
    FactSpec(
        "account.public_sector",
        "bool",
        "party/government/military bodies, institutions not privately or foreign owned, and state-owned firms: their people work under anti-graft rules",
    ),
    FactSpec("account.annual_revenue", "number", "our yearly revenue from the account", unit="currency"),
    FactSpec("account.portfolio_share", "number", "that revenue as a share of the rep's portfolio", unit="0..1"),
    FactSpec("account.revenue_rank", "int", "rank by revenue in the rep's portfolio (1 = largest)"),
    FactSpec(
        "account.portfolio_class",
        "enum",
        "80/20 class computed across a whole portfolio (batch or brief --portfolio): a = the accounts that bring the first 80% of revenue, b = the next 15%, c = the rest",
        ("a", "b", "c"),
    ),
    FactSpec("account.brand_influence", "enum", "reference value as a brand name", _v(p.Level3)),
    FactSpec("account.government_influence", "enum", "influence as or over government bodies", _v(p.Level3)),
    FactSpec("account.growth_outlook", "enum", "the account's own growth prospects", _v(p.Outlook)),
    FactSpec("account.mindset_shift", "bool", "newly open to new services or ways of working"),
    FactSpec("account.industry_shift", "bool", "its industry is changing"),
    FactSpec("account.stage", "enum", "relationship stage", _v(p.Stage)),
    FactSpec("account.position", "enum", "incumbent (we hold it) or challenger (a competitor does)", _v(p.Position)),
    FactSpec(
        "account.days_since_record_update", "int", "days since the customer record was last reviewed", unit="days"
    ),
    FactSpec("account.stakeholders", "int", "people in the profile"),
    FactSpec("account.levels_present", "set", "levels of the people in the profile", LEVELS),
    FactSpec("account.functions_present", "set", "department functions of the people in the profile", FUNCTIONS),
    FactSpec(
        "account.levels_covered", "set", "levels where we have a working or strong relationship with someone", LEVELS
    ),
    FactSpec(
        "account.functions_covered",
        "set",
        "functions where we have a working or strong relationship with someone",
        FUNCTIONS,
    ),
    FactSpec("account.has_insider", "bool", "someone's insider status is identified, cultivating or secured"),
    FactSpec("account.best_insider", "enum", "the most advanced insider status of anyone", _v(p.Insider)),
    FactSpec("account.supporters", "int", "people whose stance is supporter"),
    FactSpec(
        "account.insider_candidates",
        "int",
        "supporters we have a working or strong relationship with who are not yet insiders",
    ),
    FactSpec("account.opponents", "int", "people whose stance is opponent"),
    FactSpec("account.days_since_contact", "int", "days since our last interaction with anyone there", unit="days"),
    FactSpec("account.contacts_30d", "int", "interactions in the last 30 days"),
    FactSpec("account.contacts_90d", "int", "interactions in the last 90 days"),
    FactSpec("account.gifts_meals_365d", "int", "gifts and meals logged in the last 365 days"),
    FactSpec(
        "account.compliance_breaches",
        "int",
        "interactions in the policy's lookback that its gift and hospitality rules forbid (rules/policy.yaml)",
    ),
    FactSpec("account.unknown_stances", "int", "people whose stance towards us is unknown"),
    FactSpec(
        "account.missing_fields",
        "int",
        "key record fields left empty (revenue, share, influence, growth, satisfaction, record date)",
    ),
    FactSpec("account.missing_fields_list", "text", "the names of those empty fields, a list"),
    FactSpec("account.upcoming_events_30d", "int", "events in the next 30 days"),
    FactSpec(
        "account.care_forms_180d", "int", f"distinct forms of care ({', '.join(CARE_KINDS)}) used in the last 180 days"
    ),
    FactSpec("account.open_issues", "int", "service issues not yet closed"),
    FactSpec("account.open_incidents", "int", "open issues that are outages or faults"),
    FactSpec(
        "account.worst_open_incident",
        "enum",
        "the severity of the worst open incident (absent: none open)",
        _v(p.Severity),
    ),
    FactSpec(
        "account.days_since_last_incident",
        "int",
        "days since the most recent incident (outage or fault) was opened, open or closed; absent: none on record",
        unit="days",
    ),
    FactSpec("account.last_incident_summary", "text", "what the most recent incident was, as recorded"),
    FactSpec("account.last_incident_date", "text", "the day the most recent incident was opened"),
    FactSpec("account.repeat_issue_categories", "int", "issue categories seen twice or more in the last 180 days"),
    FactSpec("account.satisfaction", "int", "service satisfaction, 1 to 5: the current score, else the latest reading"),
    FactSpec(
        "account.satisfaction_trend",
        "enum",
        "the latest score against the earliest within 365 days (service.satisfaction_history and the current "
        "score; absent with fewer than two)",
        TRENDS,
    ),
    FactSpec("account.satisfaction_scores", "text", "those scores, oldest first: 4 → 3 → 2"),
    FactSpec("account.unhappy_people", "int", "people listed under service.concerns (who is unhappy about what)"),
    FactSpec("account.contracts_ours", "int", "contracts we hold that have not ended (undated ones count)"),
    FactSpec("account.contracts_rival", "int", "contracts competitors hold that have not ended"),
    FactSpec("account.our_services", "text", "the services we run, from the contracts, a list"),
    FactSpec("account.rival_services", "text", "the services competitors run, with who runs each, a list"),
    FactSpec(
        "account.service_runner",
        "enum",
        "who runs the account's services: from the contracts that have not ended when there are any (us, rival, "
        "or shared when both), else from account.position (incumbent = us, challenger = rival)",
        RUNNERS,
    ),
    FactSpec("account.days_to_our_renewal", "int", "days to the nearest end of a contract of ours", unit="days"),
    FactSpec("account.our_renewal_service", "text", "the service whose contract of ours ends first"),
    FactSpec("account.our_renewal_date", "text", "when it ends"),
    FactSpec("account.days_to_rival_renewal", "int", "days to the nearest end of a competitor's contract", unit="days"),
    FactSpec("account.rival_renewal_service", "text", "the service whose competitor's contract ends first"),
    FactSpec("account.rival_renewal_holder", "text", "the competitor who holds it"),
    FactSpec("account.rival_renewal_date", "text", "when it ends"),
    FactSpec(
        "account.days_to_supplier_policy",
        "int",
        "days to the nearest policy change that affects us as a supplier (events with supplier_policy; "
        "negative: in force that many days)",
        unit="days",
    ),
    FactSpec("account.supplier_policy_summary", "text", "what that change is"),
    FactSpec("account.supplier_policy_date", "text", "when it takes effect"),
    FactSpec("account.patronage_ties", "int", "patron ties in the profile: who was promoted by whom (2.3.3.a)"),
    FactSpec("account.days_since_service_review", "int", "days since the last service review", unit="days"),
    FactSpec("account.competitors", "int", "competitors listed"),
    FactSpec("account.strong_competitors", "int", "competitors whose strength is strong"),
    FactSpec("account.days_since_competitor_info", "int", "age of the freshest competitor information", unit="days"),
    FactSpec("account.has_visit", "bool", "a visit is planned"),
    FactSpec("account.days_until_visit", "int", "days from today to the planned visit", unit="days"),
    FactSpec("account.attendees", "int", "people expected at the visit"),
    FactSpec("account.attendee_levels", "set", "levels of the people expected at the visit", LEVELS),
    FactSpec(
        "account.attendee_functions", "set", "department functions of the people expected at the visit", FUNCTIONS
    ),
    FactSpec("account.visit_date", "text", "the planned visit's date"),
    FactSpec("account.visit_objective", "text", "the planned visit's objective"),
    FactSpec(
        "account.visit_purpose",
        "enum",
        "why the rep is going (3.2.3.a): as the profile gives it, else inferred: an open high or critical incident "
        "-> service_recovery; else a contract of ours ending within 90 days -> renewal; else words of the objective (renewal, technical exchange, review, proposal...); else "
        "a leader appointed or promoted within 90 days who attends -> introduction; else relationship",
        _v(p.Purpose),
    ),
    FactSpec("account.visit_purpose_inferred", "bool", "the profile gives no purpose: it was inferred from the facts"),
    # --- one record per stakeholder ---
    FactSpec("stakeholder.id", "text", "the person's id"),
    FactSpec("stakeholder.name", "text", "the person's name"),
    FactSpec("stakeholder.title", "text", "the person's job title"),
    FactSpec("stakeholder.department", "text", "the person's department"),
    FactSpec("stakeholder.function", "enum", "what the department does for communications/IT", FUNCTIONS),
    FactSpec("stakeholder.level", "enum", "seniority", LEVELS),
    FactSpec("stakeholder.relationship", "enum", "how strong our relationship with them is", _v(p.Strength)),
    FactSpec(
        "stakeholder.stance",
        "enum",
        "their stance towards us (unknown when not known)",
        tuple(v for v in _v(p.Stance) if v != "unknown"),
    ),
    FactSpec("stakeholder.insider", "enum", "insider status", _v(p.Insider)),
    FactSpec("stakeholder.contact_degree", "int", "1 = we know them directly; 2 or 3 = through introducers"),
    FactSpec("stakeholder.via_name", "text", "who introduces us to them"),
    FactSpec("stakeholder.has_manager", "bool", "their manager is in the profile"),
    FactSpec("stakeholder.manager_name", "text", "their manager's name"),
    FactSpec("stakeholder.manager_level", "enum", "their manager's level", LEVELS),
    FactSpec("stakeholder.manager_relationship", "enum", "our relationship with their manager", _v(p.Strength)),
    FactSpec("stakeholder.direct_reports", "int", "people in the profile who report to them"),
    FactSpec(
        "stakeholder.direct_reports_close",
        "int",
        "people who report to them with whom we have a working or strong relationship (a way to them from below)",
    ),
    FactSpec("stakeholder.personal_ties", "int", "their personal ties to others in the profile"),
    FactSpec("stakeholder.conflict_ties", "int", "their conflicting-interest ties to others in the profile"),
    FactSpec("stakeholder.interests", "text", "their interests, a list (joined the language's way when quoted)"),
    FactSpec("stakeholder.has_interests", "bool", "we know at least one of their interests"),
    FactSpec("stakeholder.days_since_contact", "int", "days since we last had contact with them", unit="days"),
    FactSpec("stakeholder.contacts_90d", "int", "interactions with them in the last 90 days"),
    FactSpec("stakeholder.contacts_30d", "int", "interactions with them in the last 30 days"),
    FactSpec("stakeholder.care_forms_180d", "int", "distinct forms of care used with them in the last 180 days"),
    FactSpec(
        "stakeholder.compliance_breaches", "int", "interactions with them that the gift and hospitality policy forbids"
    ),
    FactSpec("stakeholder.is_attendee", "bool", "they are expected at the planned visit"),
    FactSpec(
        "stakeholder.service_runner",
        "enum",
        "who runs the services they use (contracts naming them under users), else account.service_runner",
        RUNNERS,
    ),
    FactSpec("stakeholder.unhappy", "bool", "they are listed under service.concerns"),
    FactSpec("stakeholder.unhappy_about", "text", "what they are unhappy about, a list"),
    FactSpec(
        "stakeholder.has_patron", "bool", "they have a patron in the profile (a patron tie: whose people they are)"
    ),
    FactSpec("stakeholder.patron_name", "text", "their patron's name"),
    FactSpec("stakeholder.patron_level", "enum", "their patron's level", LEVELS),
    FactSpec("stakeholder.patron_relationship", "enum", "our relationship with their patron", _v(p.Strength)),
    FactSpec("stakeholder.proteges", "int", "people in the profile whose patron they are"),
    # --- one record per informal tie (from the person who lists it to the other) ---
    FactSpec("tie.kind", "enum", "personal tie, shared interest or conflicting interest", _v(p.TieKind)),
    FactSpec("tie.note", "text", "what the tie is"),
    *(
        spec
        for end in ("from", "to")
        for spec in (
            FactSpec(f"tie.{end}_name", "text", f"name of the person the tie runs {end}"),
            FactSpec(f"tie.{end}_level", "enum", f"level of the person the tie runs {end}", LEVELS),
            FactSpec(f"tie.{end}_function", "enum", f"department function of the person the tie runs {end}", FUNCTIONS),
            FactSpec(
                f"tie.{end}_relationship",
                "enum",
                f"our relationship with the person the tie runs {end}",
                _v(p.Strength),
            ),
            FactSpec(
                f"tie.{end}_stance",
                "enum",
                f"stance of the person the tie runs {end}",
                tuple(v for v in _v(p.Stance) if v != "unknown"),
            ),
            FactSpec(f"tie.{end}_insider", "enum", f"insider status of the person the tie runs {end}", _v(p.Insider)),
            FactSpec(f"tie.{end}_is_attendee", "bool", f"the person the tie runs {end} attends the visit"),
        )
    ),
    # --- one record per competitor ---
    FactSpec("competitor.name", "text", "the competitor's name"),
    FactSpec("competitor.offers", "text", "what they sell to this account"),
    FactSpec("competitor.latest_move", "text", "their latest move"),
    FactSpec("competitor.strength", "enum", "how strong they are here", _v(p.CompetitorStrength)),
    FactSpec("competitor.move_known", "bool", "we know their latest move"),
    FactSpec("competitor.days_since_info", "int", "days since we last learned anything about them", unit="days"),
    FactSpec("competitor.contracts", "int", "their contracts at the account that have not ended"),
    FactSpec("competitor.services", "text", "the services they run here, from the contracts, a list"),
    FactSpec("competitor.days_to_renewal", "int", "days to the nearest end of one of their contracts", unit="days"),
    FactSpec("competitor.renewal_service", "text", "the service whose contract of theirs ends first"),
    FactSpec("competitor.renewal_date", "text", "when it ends"),
    # --- one record per event ---
    FactSpec("event.kind", "enum", "what kind of event", _v(p.EventKind)),
    FactSpec("event.summary", "text", "what happens"),
    FactSpec("event.date", "text", "when"),
    FactSpec("event.days_until", "int", "days from today to the event (negative: it is past)", unit="days"),
    FactSpec("event.about_stakeholder", "bool", "the event concerns a person in the profile"),
    FactSpec("event.stakeholder_name", "text", "the person it concerns"),
    FactSpec("event.stakeholder_level", "enum", "level of the person it concerns", LEVELS),
    FactSpec("event.stakeholder_is_attendee", "bool", "the person it concerns attends the visit"),
    FactSpec(
        "event.supplier_policy", "bool", "a policy change that affects us as a supplier (procurement code, rotation)"
    ),
)


class Catalogue:
    """The base catalogue plus the facts that rules derive (declared by the rules' `derive:` lists). Treat
    it as read-only. (A plain class: as a frozen dataclass it cost every start about 0.3 ms to create.)"""

    __slots__ = ("specs",)

    def __init__(self, specs: dict[str, FactSpec]) -> None:
        self.specs = specs

    @classmethod
    def base(cls) -> Catalogue:
        return cls({s.name: s for s in _BASE})

    def with_derived(self, names: dict[str, str]) -> Catalogue:
        """Add rule-derived boolean flags; `names` maps each flag to the rule that first declares it."""
        specs = dict(self.specs)
        for name, rule_id in sorted(names.items()):
            if name not in specs:
                specs[name] = FactSpec(name, "bool", f"derived by rule {rule_id}", derived_by_rules=True)
        return Catalogue(specs)

    def visible_from(self, scope: str) -> dict[str, FactSpec]:
        """Facts a rule of `scope` can test or quote: its own scope's and the account's."""
        return {n: s for n, s in self.specs.items() if s.scope in (scope, "account")}


@dataclass
class Record:
    """The facts about one thing in the profile, as asserted into the engine (plus quotable text)."""

    id: str
    scope: str
    values: dict[str, Any]
    subject: str | None = None  # the stakeholder the record is about, for per-person sections
    # The account facts `values` was copied from and left as they are (derive sets it): the engine
    # writes those once per evaluation, not once per record that carries them.
    base: dict[str, Any] | None = field(default=None, repr=False, compare=False)


def _days(today: dt.date, then: dt.date | None) -> int | None:
    return None if then is None else (today - then).days


# The largest magnitude a float prints without an exponent is just under 1e16; no real revenue comes near.
NUMBER_CAP = 1e15


def _number(value: float | None) -> float | None:
    """Numbers as the engine can read them: durable's JSON parser rejects exponents (1e-07, 1e+16)
    and infinities, so values are rounded to 4 decimals (tiny ones become 0) and capped at
    NUMBER_CAP (the model lets a revenue be as large as a float, even .inf); NaN is unknown."""
    if value is None or math.isnan(value):
        return None
    return max(-NUMBER_CAP, min(NUMBER_CAP, round(float(value), 4))) + 0.0


def _put(values: dict[str, Any], name: str, value: Any) -> None:
    """Unknown stays absent: a None is never stored."""
    if value is not None:
        values[name] = value


class _Contacts:
    """Who was contacted when, tallied once from the interaction history (stakeholder.* and account.* read it).
    (A plain class: as a frozen dataclass of eleven fields it cost every start about 0.5 ms to create.)"""

    __slots__ = (
        "last", "recent", "month", "care_forms", "flagged", "breaches",
        "latest", "month_total", "recent_total", "gifts_meals", "care_kinds",
    )  # fmt: skip

    def __init__(
        self,
        last: dict[str, dt.date],  # person -> last contact (interactions or last_contact)
        recent: dict[str, int],  # person -> contacts in the last 90 days (absent: none)
        month: dict[str, int],  # person -> contacts in the last 30 days (absent: none)
        care_forms: dict[str, set[str]],  # person -> care kinds in the last 180 days
        flagged: list[p.Interaction],  # interactions the compliance policy flags
        breaches: Counter[str],  # person -> flagged interactions
        # the same history for the account as a whole, counted in the same pass
        latest: dt.date | None,  # the last interaction on or before today
        month_total: int,  # interactions in the last 30 days
        recent_total: int,  # ... 90 days
        gifts_meals: int,  # gifts and meals in the last 365 days
        care_kinds: set[str],  # care kinds used in the last 180 days
    ):
        self.last, self.recent, self.month, self.care_forms = last, recent, month, care_forms
        self.flagged, self.breaches, self.latest, self.month_total = flagged, breaches, latest, month_total
        self.recent_total, self.gifts_meals, self.care_kinds = recent_total, gifts_meals, care_kinds

    @classmethod
    def tally(cls, profile: p.Profile, today: dt.date, policy: Policy) -> _Contacts:
        past = [i for i in profile.interactions if i.date <= today]
        last: dict[str, dt.date] = {}
        recent: dict[str, int] = {}
        month: dict[str, int] = {}
        care_forms: dict[str, set[str]] = {}
        latest: dt.date | None = None
        month_total = recent_total = gifts_meals = 0
        care_kinds: set[str] = set()
        for item in past:  # plain dicts and tests, not Counter and max: this runs per person per contact
            date, kind = item.date, item.kind
            age = (today - date).days
            if latest is None or date > latest:
                latest = date
            if age <= 90:
                recent_total += 1
                month_total += age <= 30
            gifts_meals += age <= 365 and kind in ("gift", "meal")
            care = kind if age <= 180 and kind in CARE_KINDS else None
            if care is not None:
                care_kinds.add(care)
            for who in item.with_:
                if who not in last or date > last[who]:
                    last[who] = date
                if age <= 90:
                    recent[who] = recent.get(who, 0) + 1
                    if age <= 30:
                        month[who] = month.get(who, 0) + 1
                if care is not None:
                    if who in care_forms:
                        care_forms[who].add(care)
                    else:
                        care_forms[who] = {care}
        flagged = [profile.interactions[i] for i in breaches(profile, today, policy)]
        for s in profile.stakeholders:
            if s.last_contact and s.last_contact <= today:
                last[s.id] = max(s.last_contact, last.get(s.id, s.last_contact))
        by_person = Counter(who for item in flagged for who in item.with_)
        return cls(
            last, recent, month, care_forms, flagged, by_person,
            latest, month_total, recent_total, gifts_meals, care_kinds,
        )  # fmt: skip


def derive(
    profile: p.Profile, today: dt.date, policy: Policy | None = None, portfolio: Position | None = None
) -> list[Record]:
    """Every fact record for `profile` as of `today`: the account first, then the other scopes in profile order.

    Competitor, event and tie records are numbered by position, so callers pass a profile in
    canonical order (canonical.py; Advisor.evaluate does) for ids that do not depend on typing order.

    `portfolio`, when the account's place in a whole portfolio is known, replaces the profile's own
    share and rank (course 1.2.1: tier on the real 80/20 split, not on what a rep typed).
    """
    contacts = _Contacts.tally(profile, today, policy or Policy())
    a = account_facts(profile, today, contacts, portfolio)
    return [
        Record("account", "account", a),
        *stakeholder_records(profile, today, contacts, a),
        *tie_records(profile, a),
        *competitor_records(profile, today, a),
        *event_records(profile, today, a),
    ]


_INSIDER_RANK = {v: i for i, v in enumerate(_v(p.Insider))}  # "none" first
_SEVERITIES = _v(p.Severity)


def account_facts(
    profile: p.Profile, today: dt.date, contacts: _Contacts, portfolio: Position | None
) -> dict[str, Any]:
    """account.*: every other scope's record carries these too."""
    acct = profile.account
    people = {s.id: s for s in profile.stakeholders}
    a: dict[str, Any] = {"account.id": acct.id, "account.name": acct.name, "account.industry": acct.industry}
    a["account.industry_group"] = p.INDUSTRY_GROUPS[acct.industry]
    a["account.public_sector"] = is_public_sector(acct)
    for key in ("ownership", "revenue_rank", "brand_influence", "government_influence", "stage", "position"):
        _put(a, f"account.{key}", getattr(acct, key))
    _put(a, "account.annual_revenue", _number(acct.annual_revenue))
    _put(a, "account.portfolio_share", _number(acct.portfolio_share))
    if portfolio is not None:
        a["account.portfolio_share"] = _number(portfolio.share)
        a["account.revenue_rank"] = portfolio.rank
        a["account.portfolio_class"] = portfolio.portfolio_class
    _put(a, "account.growth_outlook", acct.potential.growth_outlook)
    a["account.mindset_shift"] = acct.potential.mindset_shift
    a["account.industry_shift"] = acct.potential.industry_shift
    _put(a, "account.days_since_record_update", _days(today, acct.record_updated))
    a["account.stakeholders"] = len(profile.stakeholders)
    levels, functions, levels_covered, functions_covered = set(), set(), set(), set()
    best, supporters, candidates, opponents, unknown = "none", 0, 0, 0, 0
    for s in profile.stakeholders:  # one pass over the people for every count below
        rel = s.relationship
        levels.add(s.level)
        functions.add(s.function)
        close = rel.strength in ("working", "strong")
        if close:
            levels_covered.add(s.level)
            functions_covered.add(s.function)
        if _INSIDER_RANK[s.insider] > _INSIDER_RANK[best]:
            best = s.insider
        stance = rel.stance
        if stance == "supporter":
            supporters += 1
            candidates += close and s.insider == "none"
        elif stance == "opponent":
            opponents += 1
        elif stance == "unknown":
            unknown += 1
    a["account.levels_present"] = sorted(levels)
    a["account.functions_present"] = sorted(functions)
    a["account.levels_covered"] = sorted(levels_covered)
    a["account.functions_covered"] = sorted(functions_covered)
    a["account.best_insider"] = best
    a["account.has_insider"] = best != "none"
    a["account.supporters"] = supporters
    a["account.insider_candidates"] = candidates
    a["account.opponents"] = opponents
    last_any = max([*contacts.last.values()] + ([contacts.latest] if contacts.latest else []), default=None)
    _put(a, "account.days_since_contact", _days(today, last_any))
    a["account.contacts_30d"] = contacts.month_total
    a["account.contacts_90d"] = contacts.recent_total
    a["account.compliance_breaches"] = len(contacts.flagged)
    a["account.unknown_stances"] = unknown
    missing = [name for name, value in (
        ("annual_revenue", acct.annual_revenue), ("portfolio_share", acct.portfolio_share),
        ("brand_influence", acct.brand_influence), ("government_influence", acct.government_influence),
        ("growth_outlook", acct.potential.growth_outlook), ("satisfaction", profile.service.satisfaction),
        ("record_updated", acct.record_updated),
    ) if value is None]  # fmt: skip
    a["account.missing_fields"] = len(missing)
    if missing:
        a["account.missing_fields_list"] = missing
    a["account.upcoming_events_30d"] = sum(0 <= (e.date - today).days <= 30 for e in profile.events)
    a["account.gifts_meals_365d"] = contacts.gifts_meals
    a["account.care_forms_180d"] = len(contacts.care_kinds)
    issues = profile.service.issues
    open_issues = [i for i in issues if i.closed is None or i.closed > today]
    a["account.open_issues"] = len(open_issues)
    a["account.open_incidents"] = sum(i.incident for i in open_issues)
    severities = [i.severity for i in open_issues if i.incident]
    if severities:
        a["account.worst_open_incident"] = max(severities, key=_SEVERITIES.index)
    incidents = [i for i in issues if i.incident and i.opened <= today]
    if incidents:
        last = max(incidents, key=lambda i: (i.opened, i.summary))
        a["account.days_since_last_incident"] = (today - last.opened).days
        a["account.last_incident_summary"] = last.summary
        a["account.last_incident_date"] = last.opened.isoformat()
    recent_categories = Counter(i.category for i in issues if i.category and 0 <= (today - i.opened).days <= 180)
    a["account.repeat_issue_categories"] = sum(n >= 2 for n in recent_categories.values())
    scores = satisfaction_scores(profile.service, today)
    latest = [r for r in profile.service.satisfaction_history if r.date <= today]
    current = profile.service.satisfaction
    _put(
        a,
        "account.satisfaction",
        current if current is not None else max(latest, key=_by_date).score if latest else None,
    )
    if len(scores) >= 2:
        a["account.satisfaction_trend"] = TRENDS[(scores[-1] > scores[0]) - (scores[-1] < scores[0]) + 1]
        a["account.satisfaction_scores"] = " → ".join(map(str, scores))
    a["account.unhappy_people"] = len({c.stakeholder for c in profile.service.concerns})
    a.update(contract_facts(profile, today))
    a.update(supplier_policy_facts(profile, today))
    a["account.patronage_ties"] = sum(t.kind == "patron" for s in profile.stakeholders for t in s.ties)
    _put(a, "account.days_since_service_review", _days(today, profile.service.last_review))
    a["account.competitors"] = len(profile.competitors)
    a["account.strong_competitors"] = sum(c.strength == "strong" for c in profile.competitors)
    learned = [c.learned_on for c in profile.competitors if c.learned_on]
    _put(a, "account.days_since_competitor_info", _days(today, max(learned)) if learned else None)
    a["account.has_visit"] = profile.visit is not None
    if profile.visit:
        a["account.days_until_visit"] = (profile.visit.date - today).days
        a["account.attendees"] = len(profile.visit.attendees)
        a["account.attendee_levels"] = sorted({people[i].level for i in profile.visit.attendees if i in people})
        a["account.attendee_functions"] = sorted({people[i].function for i in profile.visit.attendees if i in people})
        a["account.visit_date"] = profile.visit.date.isoformat()
        a["account.visit_objective"] = profile.visit.objective
        a["account.visit_purpose"], a["account.visit_purpose_inferred"] = visit_purpose(profile, today)
    else:
        a["account.attendees"] = 0
        a["account.attendee_levels"] = []
        a["account.attendee_functions"] = []
    return a


def _by_date(item: Any) -> dt.date:
    return item.date


def satisfaction_scores(service: p.Service, today: dt.date) -> list[int]:
    """The scores of the last 365 days, oldest first, ending with the current one (when given)."""
    history = sorted((r for r in service.satisfaction_history if 0 <= (today - r.date).days <= 365), key=_by_date)
    return [r.score for r in history] + ([service.satisfaction] if service.satisfaction is not None else [])


def live_contracts(profile: p.Profile, today: dt.date) -> list[p.Contract]:
    """Contracts that have not ended (one with no end date runs on)."""
    return [c for c in profile.contracts if c.ends is None or c.ends >= today]


def runner(contracts: list[p.Contract], position: str) -> str:
    """Who runs these services: us, rival or shared; with no contracts, what the account's position says."""
    if not contracts:
        return "us" if position == "incumbent" else "rival"
    ours = {c.holder == p.US for c in contracts}
    return "shared" if len(ours) == 2 else "us" if True in ours else "rival"


def _first_to_end(contracts: list[p.Contract]) -> p.Contract | None:
    dated = [c for c in contracts if c.ends is not None]
    return min(dated, key=lambda c: c.ends) if dated else None


def _names(items: list[str]) -> list[str]:
    """Each name once, in order: a list, which the text layer joins the language's way (、 in Chinese)."""
    return list(dict.fromkeys(items))


def contract_facts(profile: p.Profile, today: dt.date) -> dict[str, Any]:
    """What we run, what rivals run, and when each nearest contract ends (1.1.2: defend ours, win theirs)."""
    live = live_contracts(profile, today)
    ours = [c for c in live if c.holder == p.US]
    theirs = [c for c in live if c.holder != p.US]
    a: dict[str, Any] = {
        "account.contracts_ours": len(ours),
        "account.contracts_rival": len(theirs),
        "account.service_runner": runner(live, profile.account.position),
    }
    if ours:
        a["account.our_services"] = _names([c.service for c in ours])
    if theirs:
        a["account.rival_services"] = _names([f"{c.service} ({c.holder})" for c in theirs])
    for side, items in (("our", ours), ("rival", theirs)):
        first = _first_to_end(items)
        if first is not None and first.ends is not None:
            a[f"account.days_to_{side}_renewal"] = (first.ends - today).days
            a[f"account.{side}_renewal_service"] = first.service
            a[f"account.{side}_renewal_date"] = first.ends.isoformat()
            if side == "rival":
                a["account.rival_renewal_holder"] = first.holder
    return a


def supplier_policy_facts(profile: p.Profile, today: dt.date) -> dict[str, Any]:
    """The policy change nearest today that affects us as a supplier (a procurement code, a rotation rule)."""
    changes = [e for e in profile.events if e.supplier_policy]
    if not changes:
        return {}
    nearest = min(changes, key=lambda e: (abs((e.date - today).days), e.date))
    return {
        "account.days_to_supplier_policy": (nearest.date - today).days,
        "account.supplier_policy_summary": nearest.summary,
        "account.supplier_policy_date": nearest.date.isoformat(),
    }


RENEWAL_WINDOW = 90  # days before a contract of ours ends during which any visit is about the renewal
INTRODUCTION_WINDOW = 90  # days since (or until) a leader's appointment during which a visit introduces them

# Words in a visit's objective that say its purpose, in both languages. The word written first
# wins: a rep leads with what the visit is for ("半年度服务回顾：…故障…" is a review).
PURPOSE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("relationship", ("礼节性", "例行走访", "看望", "初次", "courtesy", "routine visit", "first visit")),
    ("service_recovery", ("整改", "故障", "道歉", "致歉", "service recovery", "outage", "apolog")),
    ("renewal", ("续约", "续签", "续期", "合同到期", "谈判", "renewal", "renew", "negotiat")),
    ("technical_exchange", ("技术交流", "技术研讨", "technical exchange", "technical workshop")),
    ("periodic_review", ("回顾", "季度", "半年", "年度服务", "review")),
    ("proposal", ("方案", "投标", "proposal", "pitch", "tender")),
    ("introduction", ("新任", "履新", "到任", "拜会", "newly appointed", "new director", "introduc")),
)


def visit_purpose(profile: p.Profile, today: dt.date) -> tuple[str, bool]:
    """The visit's purpose and whether it was inferred (the profile gives none), for a profile with a visit.

    Inferred in the order a seasoned account manager would put first: an open high or critical
    incident makes any visit a service-recovery visit; then a contract of ours ending within
    RENEWAL_WINDOW days makes it a renewal visit (1.1.2.a); then what the objective says in words
    (PURPOSE_WORDS); a courtesy call (or an objective that says nothing) on an attending leader
    newly appointed or promoted introduces us; otherwise the visit tends the relationship.
    """
    visit = profile.visit
    assert visit is not None
    if visit.purpose is not None:
        return visit.purpose, False
    open_issues = [i for i in profile.service.issues if i.closed is None or i.closed > today]
    if any(i.incident and i.severity in ("high", "critical") for i in open_issues):
        return "service_recovery", True
    ours = [c for c in live_contracts(profile, today) if c.holder == p.US and c.ends is not None]
    if any((c.ends - today).days <= RENEWAL_WINDOW for c in ours if c.ends is not None):
        return "renewal", True
    objective = visit.objective.lower()
    said = [(at, n, purpose) for n, (purpose, words) in enumerate(PURPOSE_WORDS) for w in words
            if (at := objective.find(w)) >= 0]  # fmt: skip
    worded = min(said)[2] if said else "relationship"
    if worded != "relationship":
        return worded, True
    attending = set(visit.attendees)
    levels = {s.id: s.level for s in profile.stakeholders}
    for e in profile.events:
        if (
            e.kind in ("appointment", "promotion")
            and e.stakeholder in attending
            and levels.get(e.stakeholder) in ("senior", "middle")
            and abs((e.date - today).days) <= INTRODUCTION_WINDOW
        ):
            return "introduction", True  # a courtesy call on a new leader introduces us
    return "relationship", True


def _person_keys(prefix: str) -> tuple[str, ...]:
    return tuple(prefix + k for k in ("name", "level", "function", "relationship", "insider", "is_attendee", "stance"))


_PERSON_KEYS = {prefix: _person_keys(prefix) for prefix in ("stakeholder.", "tie.from_", "tie.to_")}


def _person_facts(prefix: str, s: p.Stakeholder, attendees: set[str]) -> dict[str, Any]:
    """What a stakeholder and both ends of a tie say about a person, under `prefix`."""
    name, level, function, relationship, insider, is_attendee, stance = _PERSON_KEYS.get(prefix) or _person_keys(prefix)
    rel = s.relationship
    out: dict[str, Any] = {
        name: s.name,
        level: s.level,
        function: s.function,
        relationship: rel.strength,
        insider: s.insider,
        is_attendee: s.id in attendees,
    }
    if rel.stance != "unknown":
        out[stance] = rel.stance
    return out


def _people(profile: p.Profile) -> tuple[dict[str, p.Stakeholder], set[str]]:
    return {s.id: s for s in profile.stakeholders}, set(profile.visit.attendees) if profile.visit else set()


def stakeholder_records(profile: p.Profile, today: dt.date, contacts: _Contacts, a: dict[str, Any]) -> list[Record]:
    """One record per person: stakeholder.* beside the account's facts."""
    people, attendees = _people(profile)
    out: list[Record] = []
    reports: dict[str, int] = {}  # person -> people who report to them (plain dicts: cheaper than Counter)
    close_reports: dict[str, int] = {}  # ... with whom we have a working or strong relationship
    proteges: dict[str, int] = {}  # person -> people whose patron they are
    for s in profile.stakeholders:
        boss = s.reports_to
        if boss:
            reports[boss] = reports.get(boss, 0) + 1
            if s.relationship.strength in ("working", "strong"):
                close_reports[boss] = close_reports.get(boss, 0) + 1
        for t in s.ties:
            if t.kind == "patron":
                proteges[t.with_] = proteges.get(t.with_, 0) + 1
    live, acct = live_contracts(profile, today), profile.account
    unhappy_about: dict[str, list[str]] = {}
    for concern in profile.service.concerns:
        unhappy_about.setdefault(concern.stakeholder, []).append(concern.about)
    last, recent, month, care_forms, breached = (
        contacts.last, contacts.recent, contacts.month, contacts.care_forms, contacts.breaches
    )  # fmt: skip
    for s in profile.stakeholders:
        sid = s.id
        v = dict(a)
        v.update(_person_facts("stakeholder.", s, attendees))
        v["stakeholder.id"] = sid
        v["stakeholder.title"] = s.title
        v["stakeholder.department"] = s.department
        v["stakeholder.contact_degree"] = s.contact.degree
        if s.contact.via in people:
            v["stakeholder.via_name"] = people[s.contact.via].name
        manager = people.get(s.reports_to or "")
        v["stakeholder.has_manager"] = manager is not None
        if manager:
            v["stakeholder.manager_name"] = manager.name
            v["stakeholder.manager_level"] = manager.level
            v["stakeholder.manager_relationship"] = manager.relationship.strength
        v["stakeholder.direct_reports"] = reports.get(sid, 0)
        v["stakeholder.direct_reports_close"] = close_reports.get(sid, 0)
        personal = conflict = 0
        patron = None
        for t in s.ties:  # one pass over the person's ties, not one per fact
            kind = t.kind
            if kind == "personal":
                personal += 1
            elif kind == "conflicting_interest":
                conflict += 1
            elif kind == "patron" and patron is None and t.with_ in people:
                patron = people[t.with_]
        v["stakeholder.personal_ties"] = personal
        v["stakeholder.conflict_ties"] = conflict
        v["stakeholder.has_interests"] = bool(s.interests)
        if s.interests:
            v["stakeholder.interests"] = list(s.interests)
        if sid in last:
            v["stakeholder.days_since_contact"] = (today - last[sid]).days
        v["stakeholder.contacts_90d"] = recent.get(sid, 0)
        v["stakeholder.contacts_30d"] = month.get(sid, 0)
        v["stakeholder.care_forms_180d"] = len(care_forms[sid]) if sid in care_forms else 0
        v["stakeholder.compliance_breaches"] = breached[sid]
        used = [c for c in live if sid in c.users]
        v["stakeholder.service_runner"] = runner(used, acct.position) if used else a["account.service_runner"]
        unhappy = unhappy_about.get(sid)
        v["stakeholder.unhappy"] = bool(unhappy)
        if unhappy:
            v["stakeholder.unhappy_about"] = _names(unhappy)
        v["stakeholder.has_patron"] = patron is not None
        if patron is not None:
            v["stakeholder.patron_name"] = patron.name
            v["stakeholder.patron_level"] = patron.level
            v["stakeholder.patron_relationship"] = patron.relationship.strength
        v["stakeholder.proteges"] = proteges.get(sid, 0)
        out.append(Record(f"stakeholder:{sid}", "stakeholder", v, subject=sid, base=a))
    return out


def tie_records(profile: p.Profile, a: dict[str, Any]) -> list[Record]:
    """One record per informal tie whose other end is in the profile: tie.* and both people."""
    people, attendees = _people(profile)
    out: list[Record] = []
    for s in profile.stakeholders:
        for j, tie in enumerate(s.ties):
            other = people.get(tie.with_)
            if other is None:
                continue
            v = dict(a)
            v["tie.kind"] = tie.kind
            if tie.note:
                v["tie.note"] = tie.note
            v.update(_person_facts("tie.from_", s, attendees))
            v.update(_person_facts("tie.to_", other, attendees))
            out.append(Record(f"tie:{s.id}:{j}", "tie", v, subject=s.id, base=a))
    return out


def competitor_records(profile: p.Profile, today: dt.date, a: dict[str, Any]) -> list[Record]:
    """One record per competitor: competitor.*."""
    out: list[Record] = []
    live = live_contracts(profile, today)
    for j, c in enumerate(profile.competitors):
        v = dict(a)
        v["competitor.name"] = c.name
        if c.offers:
            v["competitor.offers"] = c.offers
        if c.latest_move:
            v["competitor.latest_move"] = c.latest_move
        v["competitor.strength"] = c.strength
        v["competitor.move_known"] = bool(c.latest_move)
        _put(v, "competitor.days_since_info", _days(today, c.learned_on))
        theirs = [k for k in live if k.holder == c.name]
        v["competitor.contracts"] = len(theirs)
        if theirs:
            v["competitor.services"] = _names([k.service for k in theirs])
        first = _first_to_end(theirs)
        if first is not None and first.ends is not None:
            v["competitor.days_to_renewal"] = (first.ends - today).days
            v["competitor.renewal_service"] = first.service
            v["competitor.renewal_date"] = first.ends.isoformat()
        out.append(Record(f"competitor:{j}", "competitor", v, base=a))
    return out


def event_records(profile: p.Profile, today: dt.date, a: dict[str, Any]) -> list[Record]:
    """One record per dated event: event.* and the person it concerns."""
    people, attendees = _people(profile)
    out: list[Record] = []
    for j, e in enumerate(profile.events):
        v = dict(a)
        v.update({"event.kind": e.kind, "event.summary": e.summary, "event.date": e.date.isoformat()})
        v["event.days_until"] = (e.date - today).days
        who = people.get(e.stakeholder or "")
        v["event.about_stakeholder"] = who is not None
        v["event.supplier_policy"] = e.supplier_policy
        if who:
            v["event.stakeholder_name"] = who.name
            v["event.stakeholder_level"] = who.level
            v["event.stakeholder_is_attendee"] = who.id in attendees
        out.append(Record(f"event:{j}", "event", v, subject=e.stakeholder, base=a))
    return out
