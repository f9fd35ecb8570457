"""What the engine says when something goes wrong: which rules durable refused, which record it could
not read, a plan whose strata could loop, and durable's C error codes in words. Off the hot path:
none of this runs while evaluations succeed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import EngineError
from ..facts import Record
from .compiler import MAX_STRATA, Plan, Shard
from .wire import compact_json, durable_ruleset, engine_fact, engine_key, pattern_keys

if TYPE_CHECKING:
    from .adapter import Engine, _Prepared, _Ruleset


def refused_rules(engine: Engine, shard: Shard) -> list[str]:
    """Which of a refused shard's rules durable refuses on their own (each tried in a throwaway ruleset)."""
    culprits = []
    for rule_id in shard.rule_ids:
        try:
            handle = engine.probe(compact_json(durable_ruleset(shard, engine.names, [rule_id])))
        except Exception:  # noqa: BLE001 - the refusal is what we are looking for
            culprits.append(rule_id)
            continue
        engine.release(handle)
    return culprits


def unread(
    engine: Engine, ruleset: _Ruleset, prepared: _Prepared, members: list[Record], account_flags: dict, derived: dict
) -> str:
    """Why a shard's batch stopped short of its end marker: durable stops, silently, at the
    first record it cannot read. Find it by asserting the records one by one into a throwaway
    copy of the ruleset (freed whole: its session is never deleted), each as its engine_fact
    (the batch's text, record by record)."""
    where = rules_named(ruleset.shard.rule_ids, engine.plan.origins)
    facts = [
        engine_fact(
            r,
            prepared.projection,
            {**account_flags, **derived[r.id]} if prepared.reads_derived else account_flags,
            i,
        )
        for r, i in zip(members, engine.message_ids.ids, strict=False)
    ]
    try:
        handle = engine.probe(ruleset.definition)
    except Exception as exc:  # noqa: BLE001 - durable raises bare Exceptions with C codes
        return f"the engine failed on {where}: {explain(exc)}"
    try:
        for record, fact in zip(members, facts, strict=True):
            try:
                engine.assert_one(handle, compact_json(fact))
            except Exception as exc:  # noqa: BLE001 - the failure is what we are looking for
                return f"the engine failed on {where}: durable-rules cannot read record {record.id}: {explain(exc)}"
    finally:
        engine.release(handle)
    return f"the engine stopped before the end of the evaluation ({where})"


def check_order(plan: Plan, keys: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Refuse a plan whose chaining could loop or miss a derivation: every derived fact a shard
    tests must come from rules in earlier strata, and there are at most MAX_STRATA strata. The
    compiler guarantees both; this guards plans built or edited by hand.

    `keys`, when given, is what each shard's conditions read (wire.shard_keys, as the plan's Wiring
    holds it): a shard that reads nothing derived too late is passed without walking its conditions
    one by one (about 0.5 ms of every start); only one that does is walked, to name the rule."""
    stratum_of = {rule_id: shard.stratum for shard in plan.shards for rule_id in shard.rule_ids}
    producers: dict[str, list[str]] = {}
    for rule_id, names in plan.derives.items():
        for name in names:
            producers.setdefault(engine_key(name), []).append(rule_id)
    for shard in plan.shards:
        read = keys.get(shard.name) if keys is not None else None
        if (
            read is not None
            and len(shard.conditions) == len(shard.rule_ids)
            and not any(stratum_of.get(p, 0) >= shard.stratum for key in read for p in producers.get(key, ()))
        ):
            continue
        ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
        for name, pattern in shard.conditions.items():
            for key in sorted(pattern_keys(pattern)):
                late = [p for p in producers.get(key, []) if stratum_of.get(p, 0) >= shard.stratum]
                if late:
                    fact = key.replace("__", ".")
                    raise EngineError(
                        f"{rules_named([ids[name]], plan.origins)} tests {fact}, derived by {rules_named(late, plan.origins)} "
                        f"in the same or a later stratum: the rules loop or run out of order; compile them again"
                    )
    count = len({shard.stratum for shard in plan.shards})
    if count > MAX_STRATA:
        raise EngineError(f"the plan has {count} strata, over the limit of {MAX_STRATA}; compile the rules again")


_C_ERRORS = {
    "303": "one record satisfies more conditions at once than durable-rules can follow (64)",
    "302": "a record has too many properties",
    "106": "too many rules in one ruleset",
    "107": "too many rules share one 'any' condition",
    "108": "too many rules share the same conditions",
}


def explain(exc: Exception) -> str:
    text = one_line(str(exc))
    for code, meaning in _C_ERRORS.items():
        if text.endswith(f"error code: {code}"):
            return f"{meaning} (durable-rules error {code}); the compiler should have prevented this: please report it"
    return text


def one_line(text: str, limit: int = 300) -> str:
    """An exception's text as one line of bounded length (errors are printed one per line)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _some(rule_ids: list[str], shown: int = 8) -> str:
    more = len(rule_ids) - shown
    return ", ".join(rule_ids[:shown]) + (f" and {more} more" if more > 0 else "")


def rules_named(rule_ids: list[str], origins: dict[str, str], *, named: bool = True) -> str:
    """'rule a (rules/x.yaml:3:5)' or 'rules a, b, …' for messages: one rule with where it is written."""
    if len(rule_ids) == 1:
        where = origins.get(rule_ids[0])
        return f"rule {rule_ids[0]}" + (f" ({where})" if where and named else "")
    return f"rules {_some(rule_ids)}"
