"""The compliance policy (rules/policy.yaml): which gifts and hospitality the profile's history may not show.

Trainers and compliance officers edit it; `facts.derive` uses it to count breaches, so rules can
warn about them and the brief never has to guess what a company's policy allows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from . import profile as p
from .modelio import validate
from .yamlio import load_file

POLICY_FILE = "policy.yaml"
Kind = p.InteractionKind


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Forbidden(_Model):
    """Interaction kinds never allowed with the people of such accounts."""

    public_sector: list[Kind] = Field(
        ["gift", "meal"], description="party, government, military, public institutions, state-owned firms"
    )
    foreign_owned: list[Kind] = Field(["gift", "meal"], description="foreign-owned firms (anti-bribery law)")
    everyone: list[Kind] = []


class Compliance(_Model):
    gift_value_cap: float = Field(200, ge=0, description="a gift or meal above this value breaches the policy anywhere")
    # Defaults made with model_construct (nothing to validate): Forbidden() here, at import, would build the
    # validators that defer_build leaves to a start that reads a policy file.
    forbidden: Forbidden = Forbidden.model_construct()
    lookback_days: int = Field(365, ge=1, description="how far back the history is checked")


class Policy(_Model):
    compliance: Compliance = Compliance.model_construct()


def load_policy(rules_dir: Path) -> tuple[Policy, Path | None]:
    """The policy beside the rules, or the defaults when the folder has none."""
    path = rules_dir / POLICY_FILE
    if not path.is_file():
        return Policy(), None
    return validate(load_file(path, what="a policy file"), Policy), path


def breaches(profile: p.Profile, today: dt.date, policy: Policy) -> list[int]:
    """Indexes of interactions (within the lookback) that the policy forbids."""
    c = policy.compliance
    acct = profile.account
    forbidden = set(c.forbidden.everyone)
    if is_public_sector(acct):
        forbidden |= set(c.forbidden.public_sector)
    if acct.ownership == "foreign":
        forbidden |= set(c.forbidden.foreign_owned)
    out = []
    for i, item in enumerate(profile.interactions):
        age = (today - item.date).days
        if not 0 <= age <= c.lookback_days:
            continue
        over_cap = item.kind in ("gift", "meal") and item.value is not None and item.value > c.gift_value_cap
        if item.kind in forbidden or over_cap:
            out.append(i)
    return out


def is_public_sector(account: p.Account) -> bool:
    """Whose people work under anti-graft rules: public bodies, public institutions, state-owned firms."""
    group = p.INDUSTRY_GROUPS[account.industry]
    return (
        group == "government"
        or (group == "institution" and account.ownership not in ("private", "foreign"))
        or account.ownership == "state"
    )
