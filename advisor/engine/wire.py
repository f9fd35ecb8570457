"""durable-rules' wire format: a rule's JSON pattern, a shard's ruleset text, facts as JSON text,
the begin and end markers, the sentinel rule, and the numeric message ids and short property
names that keep durable's 32-bit hashes apart. Pure: no durable-rules needed.

A shard's ruleset holds its rules (named r0000, r0001, … by rule index) and one sentinel rule,
SENTINEL, that matches the end marker asserted after the records: seeing it fire proves the batch
ran to its end (see adapter.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from .. import conditions as c
from ..cache import compiled
from ..vocabulary import OPERATORS, member_key

if TYPE_CHECKING:
    from ..facts import Catalogue, Record
    from .compiler import Plan, Shard

END_MARKER = "__end__"
SESSION = "0"  # durable's default session: facts asserted without a sid go there
SENTINEL = "zz_end"  # the rule (see ruleset) that matches the end marker
BEGIN = {"id": "b", "t": "__begin__"}  # matches no rule: asserted first so the session always exists
END = {"id": "e", "t": END_MARKER}


def engine_key(fact: str) -> str:
    """durable treats dots as paths into nested objects; our records are flat."""
    return fact.replace(".", "__")


def leaf_to_engine(leaf: c.Leaf) -> dict[str, Any]:
    """A test of one fact as a durable pattern (each operator's form is in the vocabulary)."""
    return OPERATORS[leaf.op].durable(engine_key(leaf.fact), leaf.value)


def node_to_engine(node: c.Node) -> dict[str, Any]:
    if isinstance(node, c.Leaf):
        return leaf_to_engine(node)
    parts = [node_to_engine(n) for n in node.items]
    if len(parts) == 1:
        return parts[0]
    return {"$and" if isinstance(node, c.All) else "$or": parts}


def rule_pattern(node: c.Node | None, scope: str) -> dict[str, Any]:
    """One rule's whole pattern: the record's scope, then its (ordered) condition."""
    if node is None:
        return {"t": scope}
    return {"$and": [{"t": scope}, *_flatten_and(node_to_engine(node))]}


def _flatten_and(pattern: dict) -> list[dict]:
    return pattern["$and"] if list(pattern) == ["$and"] else [pattern]


def pattern_keys(pattern: Any) -> set[str]:
    """Every fact property a durable pattern (or list of patterns) reads, the scope tag excepted."""
    found: set[str] = set()
    work = [pattern]
    while work:
        node = work.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("$"):
                    work.append(value)
                else:
                    found.add(key)
        elif isinstance(node, list):
            work.extend(node)
    found.discard("t")
    return found


def shard_keys(shard: Shard) -> tuple[str, ...]:
    """Every fact property the shard's conditions read: records are asserted with these only,
    since durable's cost grows with the size of each fact it is given."""
    return tuple(sorted(pattern_keys(list(shard.conditions.values()))))


def ruleset(shard: Shard) -> dict[str, dict]:
    """The shard's ruleset as durable expects it, minus the actions, with the sentinel rule last."""
    rules = {name: {"all": [{"m": pattern}]} for name, pattern in shard.conditions.items()}
    rules[SENTINEL] = {"all": [{"m": {"t": END_MARKER}}]}
    return rules


def key_sources(catalogue: Catalogue) -> dict[str, tuple[str, str | None]]:
    """engine key -> (fact name, set value or None): how to read each key from a record."""
    out: dict[str, tuple[str, str | None]] = {}
    for name, spec in catalogue.specs.items():
        if spec.type == "text":
            continue
        if spec.type == "set":
            for v in spec.values:
                out[member_key(engine_key(name), v)] = (name, v)
        else:
            out[engine_key(name)] = (name, None)
    return out


# How engine_fact reads one key: (property name sent to the engine, fact name, set value or None,
# derived by rules). Worked out once per shard, not once per record.
Projection = tuple[tuple[str, str, str | None, bool], ...]


def fact_projection(
    keys: tuple[str, ...],
    sources: dict[str, tuple[str, str | None]],
    derived_names: frozenset[str],
    names: dict[str, str] | None = None,
) -> Projection:
    """How engine_fact reads `keys` from a record; `names` renames keys on the way (the engine
    sends short property names: durable parses every fact, and echoes it whole in every firing)."""
    out = []
    for key in keys:
        name, member = sources[key]
        out.append((names[key] if names else key, name, member, name in derived_names))
    return tuple(out)


def engine_fact(record: Record, projection: Projection, derived: dict[str, bool], ident: Any = None) -> dict[str, Any]:
    """A record as one shard sees it: only the keys its conditions read, sets spread into one
    boolean per value, derived facts false unless a rule derived them, unknown facts absent.
    `ident` replaces the record's id (the engine sends numeric ids).

    The engine builds one per record and shard, so this is its busiest code: one comprehension,
    with operators in place of calls (`values.get`), which cost far more per key."""
    values = record.values
    return {
        "id": record.id if ident is None else ident,
        "t": record.scope,
        **{
            key: (
                (derived[name] if name in derived else False)
                if is_derived
                else value
                if member is None
                else member in value
            )
            for key, name, member, is_derived in projection
            if is_derived or (value := values[name] if name in values else None) is not None
        },
    }


# How a fact writer (fact_writers) writes one key: (`,"<property>":`, fact name, set value or None, derived by rules,
# the key with true, the key with false, the key with each int or str value met so far).
TextProjection = tuple[tuple[str, str, str | None, bool, str, str, dict[Any, str]], ...]

compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_CACHED = 512  # values remembered per key (ints and enum words recur from profile to profile)


def text_projection(projection: Projection) -> TextProjection:
    """fact_projection's keys as fact_writers write them: each key's JSON text made once. The
    result remembers values it has written: give each Engine (one thread) its own."""
    out = []
    for key, name, member, is_derived in projection:
        head = "," + compact_json(key) + ":"
        out.append((head, name, member, is_derived, head + "true", head + "false", {}))
    return tuple(out)


FactWriter = Callable[[dict[str, Any], dict[str, bool]], list[str]]


def fact_writers(projections: Sequence[TextProjection]) -> list[FactWriter]:
    """For each projection, a function `write(values, derived)` giving engine_fact's properties after
    id and t, as JSON text to join: `compact_json(engine_fact(...))` is `'{"id":' + compact_json(id) +
    ',"t":' + compact_json(scope) + "".join(write(...)) + "}"`, byte for byte (a test holds it to that).

    The engine writes one fact per record and shard, so this is its busiest Python. Rather than
    one loop that asks of every key what kind it is, each writer is straight-line code made from its
    projection: per key, only the tests its kind needs. The code text holds generated identifiers
    alone; every name and value it uses is bound in its namespace. All of an Engine's writers are one
    text: one compile, and a start takes them from one entry of the code cache (each entry costs a
    look at the private folder and a file read)."""
    code: list[str] = []
    space: dict[str, Any] = {"part": _value_part}
    for j, projection in enumerate(projections):
        code += _writer_code(j, projection, space)
    exec(compiled("\n".join(code)), space)  # noqa: S102 - code made here from generated identifiers only
    return [space[f"write{j}"] for j in range(len(projections))]


def _writer_code(j: int, projection: TextProjection, space: dict[str, Any]) -> list[str]:
    """The lines of writer `write<j>`; every name and value it uses is bound in `space`."""
    code = [f"def write{j}(values, derived):", "    out = []", "    add = out.append", "    get = values.get"]
    for i, (head, name, member, is_derived, yes, no, known) in enumerate(projection):
        n = f"{j}_{i}"
        space.update({f"H{n}": head, f"N{n}": name, f"M{n}": member, f"Y{n}": yes, f"F{n}": no, f"K{n}": known})
        if is_derived:  # written always: false unless a rule derived it
            code.append(f"    v = derived[N{n}] if N{n} in derived else False")
            indent = "    "
        else:  # unknown facts are absent
            code += [f"    v = get(N{n})", "    if v is not None:"]
            indent = "        "
        if member is not None:  # a set fact: one boolean per value (its `known` stays empty)
            code.append(f"{indent}add(Y{n} if M{n} in v else F{n})")
        else:  # an int or a word written before, a bool, or anything else as json writes it
            code += [
                f"{indent}c = v.__class__",
                f"{indent}if (c is int or c is str) and v in K{n}:",
                f"{indent}    add(K{n}[v])",
                f"{indent}elif v is True:",
                f"{indent}    add(Y{n})",
                f"{indent}elif v is False:",
                f"{indent}    add(F{n})",
                f"{indent}else:",
                f"{indent}    add(part(H{n}, v, K{n}))",
            ]
    code.append("    return out")
    return code


def _value_part(head: str, value: Any, known: dict[Any, str]) -> str:
    """`head` and `value` as json.dumps writes it; remembered in `known` when `value` is exactly an
    int or a str (1, True and 1.0 are equal keys, and 0.0 equals -0.0, so no bool or float is)."""
    kind = value.__class__
    if kind is str:
        text = head + encode_basestring(value)
    elif kind is int:
        text = head + int.__repr__(value)
    elif kind is float and value - value == 0.0:  # finite: json spells NaN and infinities its own way
        return head + float.__repr__(value)
    else:
        return head + compact_json(value)
    if len(known) < _CACHED:
        known[value] = text
    return text


# Every rule takes up to CAP firings per action (durable's "cap"), so a shard's firings come back one
# message per rule, not one per firing: {"<rule>":[{"m":{"id":<n>,"t":...}},{"m":{"id":<n>,...}}]}
# (records are sent id first, then t; their values are flat scalars, so `{"m":{"id":` opens a
# firing and nothing else). _fire reads the rule from the text before the first firing
# (`fired_prefix`), and each firing's id with FIRED_ID.
CAP = 65535  # durable keeps it in an unsigned short; a rule with more firings gets more messages
SENTINEL_FIRED = '{"' + SENTINEL + '":'
FIRED_ID = re.compile(r'\{"m":\{"id":(\d+),')
# A shard's batch as text: OPEN; per record `,{"id":<n>,"t":`, its scope, its writer's text and "}";
# then CLOSE. Exactly compact_json([BEGIN, *facts, END]) with each fact's id replaced by its message id.
OPEN = compact_json([BEGIN])[:-1]
CLOSE = "," + compact_json([END])[1:]


def fired_prefix(rule_name: str) -> str:
    return '{"' + rule_name + '":['


def fnv1a(text: str) -> int:
    """durable's hash of a message id or property name (32-bit FNV-1a over its text, no quotes):
    durable tells ids, and names, apart by this hash alone."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ (byte - 256 if byte > 127 else byte)) * 16777619) & 0xFFFFFFFF  # C char is signed
    return h


class MessageIds:
    """Numeric message ids no two of which durable confuses: the n-th record of a shard is sent as
    `ids[n]`. Skips any number whose hash equals an earlier id's, a marker's or the state fact's."""

    def __init__(self) -> None:
        reserved = [BEGIN["id"], END["id"], f"sid-{SESSION}"]
        self._taken = {fnv1a(x) for x in reserved}
        self.ids: list[int] = []
        self.position: dict[str, int] = {}  # id as durable echoes it -> position
        self.heads: list[str] = []  # `,{"id":<id>,"t":`: how a record starts in a batch
        self._retracts: dict[int, str] = {}
        self._next = 0

    def first(self, count: int) -> list[int]:
        """At least `count` ids (worked out once and kept: an Engine sends shards of similar sizes)."""
        while len(self.ids) < count:
            text = str(self._next)
            h = fnv1a(text)
            if h not in self._taken:
                self._taken.add(h)
                self.position[text] = len(self.ids)
                self.heads.append(',{"id":' + text + ',"t":')
                self.ids.append(self._next)
            self._next += 1
        return self.ids

    def retract(self, count: int) -> str:
        """The facts a batch of `count` records leaves in its session, as retract_facts reads them:
        the end marker and every record (by id alone; an id that was never stored is skipped)."""
        text = self._retracts.get(count)
        if text is None:
            ids = [compact_json(END["id"]), *map(str, self.first(count)[:count])]
            text = self._retracts[count] = "[" + ",".join('{"id":' + i + "}" for i in ids) + "]"
        return text


def durable_ruleset(shard: Shard, names: dict[str, str], only: list[str] | None = None) -> dict[str, dict]:
    """The shard's ruleset as durable's C core reads it (durable's Python layer strips the actions
    first), with property names shortened as in the facts (see property_names), each rule taking
    its firings in one action (CAP)."""
    rules = ruleset(shard)
    if only is not None:
        ids = dict(zip(shard.conditions, shard.rule_ids, strict=True))
        rules = {k: v for k, v in rules.items() if k == SENTINEL or ids[k] in only}
    for body in rules.values():
        body["all"] = [{alias: _renamed(pattern, names) for alias, pattern in p.items()} for p in body["all"]]
        body["cap"] = CAP
    return rules


class Wiring:
    """What an Engine sends durable for one plan, by shard name: the short property names
    (property_names), the keys each shard's conditions read (shard_keys) and each shard's ruleset text
    (durable_ruleset). A function of the plan alone (plan_wiring); checked.py keeps it beside a cached
    plan, so that a start does not work it out again. (A plain class: a dataclass would cost a start
    more to create than it saves.)"""

    __slots__ = ("names", "keys", "definitions")

    def __init__(self, names: dict[str, str], keys: dict[str, tuple[str, ...]], definitions: dict[str, str]):
        self.names, self.keys, self.definitions = names, keys, definitions


def plan_wiring(plan: Plan) -> Wiring:
    """The plan's Wiring (each shard's conditions walked once)."""
    keys = {shard.name: shard_keys(shard) for shard in plan.shards}
    names = property_names(sorted({key for read in keys.values() for key in read}))
    return Wiring(names, keys, {shard.name: compact_json(durable_ruleset(shard, names)) for shard in plan.shards})


def _renamed(pattern: Any, names: dict[str, str]) -> Any:
    """A durable pattern with its property names replaced; operators (keys starting with $) stay."""
    if isinstance(pattern, list):
        return [_renamed(p, names) for p in pattern]
    if isinstance(pattern, dict):
        return {
            key: _renamed(value, names) if key.startswith("$") else value
            for key, value in ((k if k.startswith("$") else names.get(k, k), v) for k, v in pattern.items())
        }
    return pattern


def property_names(keys: list[str]) -> dict[str, str]:
    """Short property names for the engine ("a", "b", … "aa", …) in place of keys like
    `account__functions_covered__tech_management`: durable parses every fact and echoes it whole in
    every firing, so long names cost time per firing. durable finds a property by a 32-bit hash of
    its name alone, so no name may share a hash with another or with id, sid or t."""
    taken = {fnv1a(x) for x in ("id", "sid", "t")}
    out: dict[str, str] = {}
    n = 0
    for key in keys:
        while True:
            name, n = _letters(n), n + 1
            if fnv1a(name) not in taken:
                break
        taken.add(fnv1a(name))
        out[key] = name
    return out


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, …"""
    text = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        text = chr(97 + r) + text
    return text
