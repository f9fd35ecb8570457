"""Hypothesis strategies for valid account profiles, realistic in shape and hostile in text.

Every profile is built as the plain data a YAML file would hold and validated by the real
`parse_profile` (pydantic models plus cross-checks), so a strategy that drifts from the format
fails loudly instead of testing something no rep could write.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
from typing import Any, get_args

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from advisor import profile as p
from advisor.profile import Profile, parse_profile
from advisor.yamlio import Located

# Dates cluster around one day, as a real profile's do around its visit, so recency rules fire.
ANCHOR = dt.date(2026, 12, 1)

# Text that has broken renderers before: Markdown, HTML, Jinja, our own {placeholders}, RTL marks.
HOSTILE = (
    "{{ 7 * 7 }}",
    "{% for x in range(9) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{account.name}",
    "{name}",
    "{{",
    "}}",
    "# not a heading",
    "## Who you will meet",
    "| a | b |",
    "---",
    "```mermaid",
    "`code`",
    "**bold** _it_",
    "[link](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<br/>",
    '"]; A-->B; %%',
    "a\\",
    "line one\nline two",
    "tab\there",
    "- [ ] box",
    "1. item",
    "> quote",
    "&amp; &lt;",
    "王振东",
    "信息技术中心主任（兼）",
    "🚀👩‍💻🇨🇳",
    "مدير المبيعات",
    "שלום עולם",
    "\u202eevil\u202c",
    "\u2067isolate\u2069 \u202aembed",
    "zero\u200bwidth",
    "../../etc/passwd",
    "None",
    "true",
    "0",
)
REALISTIC = (
    "Zhang Haitao",
    "Director of IT",
    "Network Operations",
    "信息技术中心",
    "副总经理（分管信息化）",
    "智慧地铁",
    "hiking",
    "5G private network",
    "China Telecom Shenzhen",
    "annual review",
)

# Any printable text a YAML file can carry: no surrogates, no control characters (the hostile
# samples above bring newlines and tabs).
_chars = st.characters(blacklist_categories=("Cs", "Cc"))


@functools.cache  # a strategy built once is validated once: generation runs several times faster
def texts(max_size: int = 24) -> st.SearchStrategy[str]:
    """A non-empty single field (`Text`), stripped as the model strips it."""
    raw = st.one_of(
        st.sampled_from(REALISTIC),
        st.sampled_from(HOSTILE),
        st.text(_chars, min_size=1, max_size=max_size),
        st.lists(st.sampled_from(HOSTILE + REALISTIC), min_size=2, max_size=3).map(" ".join),
    )
    return raw.map(str.strip).filter(bool)


@functools.cache
def notes() -> st.SearchStrategy[str]:
    """An optional free-text field (`Note`): often empty."""
    return st.one_of(st.just(""), texts(40))


_SLUG_HEAD = "abcdefghijklmnopqrstuvwxyz0123456789"
# Ids as the model allows them (`Slug`), kept short; from_regex would be ten times slower.
slugs = st.builds(operator.add, st.sampled_from(_SLUG_HEAD), st.text(_SLUG_HEAD + "_-", max_size=11))


@functools.cache
def near_dates(before: int = 500, after: int = 90) -> st.SearchStrategy[dt.date]:
    """A date around ANCHOR, and now and then any date at all."""
    near = st.integers(-before, after).map(lambda d: ANCHOR + dt.timedelta(days=d))
    return st.one_of(near, near, near, st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)))


@functools.cache
def choices(literal: Any) -> st.SearchStrategy[str]:
    return st.sampled_from(get_args(literal))


@functools.cache
def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, Any]:
    industry = draw(choices(p.Industry))
    if p.INDUSTRY_GROUPS[industry] == "government":
        ownership = None
    elif industry == "enterprise":
        ownership = draw(choices(p.Ownership))
    else:
        ownership = draw(maybe(choices(p.Ownership)))
    account: dict[str, Any] = {
        "id": draw(slugs),
        "name": draw(texts()),
        "industry": industry,
        "stage": draw(choices(p.Stage)),
        "position": draw(choices(p.Position)),
        "annual_revenue": draw(
            maybe(st.one_of(st.integers(0, 10**7), st.floats(min_value=0, max_value=1e15)))  # up to the cap
        ),
        "portfolio_share": draw(maybe(st.floats(0, 1))),
        "revenue_rank": draw(maybe(st.one_of(st.integers(1, 500), st.integers(1, 10**15)))),
        "brand_influence": draw(maybe(choices(p.Level3))),
        "government_influence": draw(maybe(choices(p.Level3))),
        "potential": {
            "growth_outlook": draw(maybe(choices(p.Outlook))),
            "mindset_shift": draw(st.booleans()),
            "industry_shift": draw(st.booleans()),
            "note": draw(notes()),
        },
        "record_updated": draw(maybe(near_dates())),
        "note": draw(notes()),
    }
    if ownership is not None:
        account["ownership"] = ownership
    return account


@st.composite
def stakeholders(draw: st.DrawFn, sid: str, others: list[str], bosses: list[str] | None = None) -> dict[str, Any]:
    """One person; every reference (boss, introducer, ties) points at someone in `others`, the boss
    at someone in `bosses` (default `others`): profile_data passes the people before this one, so
    that no reporting line is a cycle."""
    person: dict[str, Any] = {
        "id": sid,
        "name": draw(texts()),
        "title": draw(texts()),
        "department": draw(texts()),
        "function": draw(choices(p.Function)),
        "level": draw(choices(p.Level)),
        "relationship": {"strength": draw(choices(p.Strength)), "stance": draw(choices(p.Stance))},
        "insider": draw(choices(p.Insider)),
        "interests": draw(st.lists(texts(), max_size=3)),
        "last_contact": draw(maybe(near_dates())),
        "note": draw(notes()),
    }
    bosses = others if bosses is None else bosses
    if bosses:
        person["reports_to"] = draw(maybe(st.sampled_from(bosses)))
    if others:
        person["ties"] = draw(
            st.lists(
                st.fixed_dictionaries({"with": st.sampled_from(others), "kind": choices(p.TieKind), "note": notes()}),
                max_size=2,
            )
        )
    degree = draw(st.sampled_from([1, 1, 2, 3]))
    person["contact"] = {"degree": degree}
    if degree > 1 and others:
        person["contact"]["via"] = draw(maybe(st.sampled_from(others)))
    return person


@st.composite
def profile_data(draw: st.DrawFn, max_people: int = 7, visit: bool | None = None) -> dict[str, Any]:
    """A valid profile as the plain data of a YAML file. `visit`: True, False, or None for either."""
    ids = draw(st.lists(slugs, max_size=max_people, unique=True))
    people = [draw(stakeholders(sid, [o for o in ids if o != sid], ids[:i])) for i, sid in enumerate(ids)]
    someone = st.sampled_from(ids) if ids else st.nothing()
    interactions = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "date": near_dates(after=0),
                    "kind": choices(p.InteractionKind),
                    "with": st.lists(someone, max_size=3, unique=True) if ids else st.just([]),
                    "form": notes(),
                    "value": maybe(st.one_of(st.integers(0, 2000), st.floats(0, 1e12))),
                }
            ),
            max_size=8,
        )
    )
    issues = []
    for opened in draw(st.lists(near_dates(before=400, after=0), max_size=3)):
        closed = draw(maybe(st.integers(0, 60).map(lambda d, o=opened: o + dt.timedelta(days=d))))
        issues.append(
            {
                "opened": opened,
                "closed": closed,
                "severity": draw(choices(p.Severity)),
                "incident": draw(st.booleans()),
                "category": draw(maybe(st.sampled_from(["5G", "billing", "专线", "<b>net</b>"]))),
                "summary": draw(texts()),
            }
        )
    data: dict[str, Any] = {
        "account": draw(accounts()),
        "stakeholders": people,
        "interactions": interactions,
        "service": {
            "satisfaction": draw(maybe(st.integers(1, 5))),
            "last_review": draw(maybe(near_dates())),
            "issues": issues,
        },
        "competitors": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "name": texts(),
                        "offers": notes(),
                        "strength": choices(p.CompetitorStrength),
                        "latest_move": notes(),
                        "learned_on": maybe(near_dates(after=0)),
                    }
                ),
                max_size=3,
            )
        ),
        "events": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "date": near_dates(before=60, after=60),
                        "kind": choices(p.EventKind),
                        "summary": texts(),
                        "stakeholder": maybe(someone) if ids else st.none(),
                    }
                ),
                max_size=3,
            )
        ),
    }
    if visit is None:
        visit = draw(st.booleans())
    if visit:
        last = max((i["date"] for i in interactions), default=ANCHOR)
        data["visit"] = {
            "date": last + dt.timedelta(days=draw(st.integers(0, 30))),
            "objective": draw(texts()),
            "attendees": draw(st.lists(someone, max_size=4, unique=True)) if ids else [],
        }
    return data


def to_profile(data: dict[str, Any]) -> Profile:
    """Validate as a profile file is validated; a problem here is a bug in the strategy."""
    return parse_profile(Located("<hypothesis>", data))


def profiles(max_people: int = 7, visit: bool | None = None) -> st.SearchStrategy[Profile]:
    return profile_data(max_people, visit).map(to_profile)


def todays() -> st.SearchStrategy[dt.date]:
    """The day a brief is written: near ANCHOR, where the generated dates cluster."""
    return st.integers(-30, 30).map(lambda d: ANCHOR + dt.timedelta(days=d))


@st.composite
def shuffled(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """The same profile data with every list in another order: people, ties, interests, the history,
    issues, competitors, events, attendees, and who took part in each interaction."""
    rnd = draw(st.randoms(use_true_random=False))

    def mixed(items: list) -> list:
        items = list(items)
        rnd.shuffle(items)
        return items

    out = {**data, "account": data["account"]}
    out["stakeholders"] = mixed(
        {**s, "ties": mixed(s.get("ties", [])), "interests": mixed(s["interests"])} for s in data["stakeholders"]
    )
    out["interactions"] = mixed({**i, "with": mixed(i["with"])} for i in data["interactions"])
    out["service"] = {**data["service"], "issues": mixed(data["service"]["issues"])}
    out["competitors"] = mixed(data["competitors"])
    out["events"] = mixed(data["events"])
    if "visit" in data:
        out["visit"] = {**data["visit"], "attendees": mixed(data["visit"]["attendees"])}
    return out


@st.composite
def newcomers(draw: st.DrawFn) -> dict[str, Any]:
    """A stakeholder tied to no one: no boss, no reports, no ties, no history, not attending.

    The id is longer than any generated one, so it never clashes.
    """
    return {
        "id": "zz-newcomer-000",
        "name": draw(texts()),
        "title": draw(texts()),
        "department": draw(texts()),
        "function": draw(choices(p.Function)),
        "level": draw(choices(p.Level)),
    }


# CI runs a fixed set of examples (the project's output must be reproducible, and so must its
# tests); `HYPOTHESIS_PROFILE=thorough` fuzzes with fresh random examples, locally.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=80,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=1000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
