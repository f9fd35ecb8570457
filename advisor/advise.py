"""Fired rules -> ordered, de-duplicated recommendations with their provenance."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from .course import code_order, topic_of
from .engine import Firing
from .facts import Record
from .rules import RuleBase
from .vocabulary import LIST_SEPARATORS, PRIORITIES
from .wording import fill_parts, split_say

PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}


class Recommendation:
    """One piece of advice about one record, and where it comes from. Treat it as read-only.

    Its plain text is filled in when first read: a Markdown brief shows about one in six of a
    hundred recommendations, and fills those in its own escaping (`text_in`). (A plain class with
    slots, not a frozen dataclass: that sets each field through object.__setattr__ and builds
    several times slower.)
    """

    __slots__ = ("advice", "stakeholder", "record_id", "values", "score", "_text")

    advice: Advice  # what the rule says, and everything its recommendations share
    stakeholder: str | None  # the person it is about, for stakeholder-scoped rules
    record_id: str
    values: dict[str, Any]  # the record's facts its text quotes
    score: float  # how much it matters for this visit (relevance.py); 0 where nothing scored it

    def __init__(
        self, advice: Advice, stakeholder: str | None, record_id: str, values: dict[str, Any], score: float = 0.0
    ) -> None:
        self.advice, self.stakeholder, self.record_id, self.values = advice, stakeholder, record_id, values
        self.score = score
        parts = advice.parts
        self._text: str | None = parts[0] if len(parts) == 1 else None

    @property
    def rule_id(self) -> str:
        return self.advice.rule_id

    @property
    def source(self) -> tuple[str, ...]:
        return self.advice.source

    @property
    def section(self) -> str:
        return self.advice.section

    @property
    def aspect(self) -> str:
        return self.advice.aspect

    @property
    def priority(self) -> str:
        return self.advice.priority

    @property
    def text(self) -> str:
        """The advice in plain text (what JSON carries and what de-duplication compares)."""
        text = self._text
        if text is None:
            text = self._text = fill_parts(self.advice.parts, self.values, str, self.advice.sep)
        return text

    def text_in(self, quote: Callable[[str], str]) -> str:
        """The advice with every quoted value escaped by `quote` (Markdown's, for a Markdown brief)."""
        return self.text if quote is str else fill_parts(self.advice.parts, self.values, quote, self.advice.sep)

    def _key(self) -> tuple:
        return (self.rule_id, self.source, self.section, self.aspect, self.priority, self.stakeholder,
                self.record_id, self.text)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Recommendation) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        names = ("rule_id", "source", "section", "aspect", "priority", "stakeholder", "record_id", "text")
        return f"Recommendation({', '.join(f'{n}={v!r}' for n, v in zip(names, self._key(), strict=True))})"


class Advice:
    """What an advice rule says in one language, and everything its recommendations share. Treat it as
    read-only. (A plain class, as Recommendation is: as a frozen dataclass it cost every start about 0.6 ms
    to create, and each of the two hundred a brief's sayings make set its fields through object.__setattr__.)"""

    def __init__(
        self,
        rank: tuple,  # reading order: priority, course order, a token of the id (see _rank)
        rule_id: str,
        source: tuple[str, ...],
        section: str,
        aspect: str,
        priority: str,
        about_person: bool,
        parts: tuple[str, ...],  # the advice split by split_say
        order: int,  # its place in reading order (rank) among the advice of its table
        says: int,  # the same number in its table as advice that reads the same (parts, section, about a person)
        peers: Alike,  # the texts of its section, indexed by their ends
        sep: str = ", ",  # how its language joins a list value
    ) -> None:
        self.rank, self.rule_id, self.source, self.section, self.aspect = rank, rule_id, source, section, aspect
        self.priority, self.about_person, self.parts, self.order = priority, about_person, parts, order
        self.says, self.peers, self.sep = says, peers, sep

    @functools.cached_property
    def topics(self) -> frozenset[str]:
        """The course topics it teaches (those of every item it cites)."""
        return frozenset(topic_of(code) for code in self.source)

    @functools.cached_property
    def items(self) -> frozenset[str]:
        """The course items it cites."""
        return frozenset(self.source)

    @functools.cached_property
    def alike(self) -> frozenset[str]:
        """The rules in its section (this one included) whose text could fill in to the same text as
        this one's: recommend() compares texts only with theirs, so most texts need never be filled in.
        Worked out when a brief first needs it: a section of many rules that start with a placeholder
        has sets as large as the section, and a brief meets only the few rules that fired."""
        return self.peers.alike(self.parts[0], self.parts[-1])


Sayings = dict[str, Advice | None]  # rule id -> what it says in one language (None: it only derives facts)


def sayings(base: RuleBase, lang: str) -> Sayings:
    """What every rule says in `lang`, worked out once per rule base (the Advisor keeps it) rather
    than once per firing: a brief has about a hundred."""
    split: dict[str, tuple[str, ...]] = {}
    sections: dict[str, list[tuple[str, tuple[str, ...]]]] = {}  # section -> (rule id, split text)
    for loaded in base.rules:
        if loaded.rule.say is not None:
            parts = split[loaded.rule.id] = split_say(getattr(loaded.rule.say, lang))
            sections.setdefault(loaded.rule.section, []).append((loaded.rule.id, parts))
    peers = {section: Alike(texts) for section, texts in sections.items()}
    ranks = {loaded.rule.id: _rank(loaded.rule) for loaded in base.rules if loaded.rule.say is not None}
    # recommend() sorts and compares every firing: numbers do that faster than ranks and texts
    order = {rank: n for n, rank in enumerate(sorted(set(ranks.values())))}
    says: dict[tuple, int] = {}
    table: Sayings = {}
    for loaded in base.rules:
        rule = loaded.rule
        table[rule.id] = None
        if rule.say is not None:
            rank, parts, person = ranks[rule.id], split[rule.id], rule.scope == "stakeholder"
            table[rule.id] = Advice(
                rank, rule.id, tuple(rule.source), rule.section, rule.aspect, rule.priority, person, parts,
                order[rank], says.setdefault((parts, rule.section, person), len(says)), peers[rule.section],
                LIST_SEPARATORS[lang],
            )  # fmt: skip
    return table


def _rank(rule) -> tuple:
    """Reading order: priority, then the course items in outline order, then a fixed token of the
    rule's id. Never the file a rule sits in, its place there, or the alphabet of ids: renaming or
    reordering rule files must not change a brief."""
    token = hashlib.sha256(rule.id.encode()).hexdigest()[:12]
    return (PRIORITY_RANK[rule.priority], tuple(code_order(c) for c in rule.source), token)


def _may_read_alike(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two advice texts could fill in to the same text. Each starts with its first literal
    part and ends with its last, so for the same text one first part must start the other, and one
    last part must end the other; texts that differ there never need filling to tell them apart."""
    return (a[0].startswith(b[0]) or b[0].startswith(a[0])) and (a[-1].endswith(b[-1]) or b[-1].endswith(a[-1]))


class Alike:
    """The texts of one section, indexed so that which of them may read alike with a text
    (`_may_read_alike`, which depends only on its first and last parts) costs what it finds.

    Comparing every text with every other took the square of the rules in a section (4,000 rules:
    half a minute) at every start. Here the index takes n log n to build; a query meets only the first
    parts that are a prefix of its own or that its own is a prefix of (its line in a prefix forest,
    `_Related`), or the same for last parts read backwards, whichever line is shorter. Answers are
    kept per pair of ends (rules with the same ends share one set); a lost race between threads
    only works one out twice.
    """

    def __init__(self, texts: list[tuple[str, tuple[str, ...]]]):
        by_ends: dict[tuple[str, str], list[str]] = {}
        for rule_id, parts in texts:
            by_ends.setdefault((parts[0], parts[-1]), []).append(rule_id)
        self.by_first: dict[str, list[tuple[str, list[str]]]] = {}
        self.by_last: dict[str, list[tuple[str, list[str]]]] = {}  # keyed by the last part read backwards
        for (first, last), ids in by_ends.items():
            self.by_first.setdefault(first, []).append((last, ids))
            self.by_last.setdefault(last[::-1], []).append((first, ids))
        self.firsts = _Related({w: len(v) for w, v in self.by_first.items()})
        self.lasts = _Related({w: len(v) for w, v in self.by_last.items()})
        self.known: dict[tuple[str, str], frozenset[str]] = {}

    def alike(self, first: str, last: str) -> frozenset[str]:
        """The ids of the rules whose texts may read alike with a text of these ends (one of the section's)."""
        found = self.known.get((first, last))
        if found is None:
            found = self.known[first, last] = frozenset(self._find(first, last))
        return found

    def _find(self, first: str, last: str) -> list[str]:
        tsal = last[::-1]
        found: list[str] = []
        if self.firsts.count(first) <= self.lasts.count(tsal):
            for word in self.firsts.related(first):
                for other_last, ids in self.by_first[word]:
                    if other_last.endswith(last) or last.endswith(other_last):
                        found += ids
        else:
            for word in self.lasts.related(tsal):
                for other_first, ids in self.by_last[word]:
                    if other_first.startswith(first) or first.startswith(other_first):
                        found += ids
        return found


class _Related:
    """A set of words as a prefix forest: for a word of the set, the words it starts with and the
    words that start with it (itself included), and how many entries those words carry in all.

    In sorted order the words that start with a word follow it in one run, and the words a word
    starts with are the ones on a stack kept while scanning: n log n to build, and each query costs
    what it returns.
    """

    def __init__(self, weights: dict[str, int]):
        self.order = sorted(weights)
        self.index = {w: i for i, w in enumerate(self.order)}
        self.end: list[int] = [len(self.order)] * len(self.order)  # one past the run that starts with order[i]
        self.above: list[list[int]] = []  # indexes of the words order[i] starts with (not itself)
        self.total = [0]  # prefix sums of weights in sorted order
        stack: list[int] = []
        for i, word in enumerate(self.order):
            while stack and not word.startswith(self.order[stack[-1]]):
                self.end[stack.pop()] = i
            self.above.append(list(stack))
            stack.append(i)
            self.total.append(self.total[-1] + weights[word])
        self.weights = weights

    def count(self, word: str) -> int:
        """The entries carried by the words related to `word`."""
        i = self.index[word]
        return self.total[self.end[i]] - self.total[i] + sum(self.weights[self.order[k]] for k in self.above[i])

    def related(self, word: str) -> list[str]:
        """The words of the set that start `word` or that `word` starts, itself included."""
        i = self.index[word]
        return [self.order[k] for k in self.above[i]] + self.order[i : self.end[i]]


def recommend(
    said_by: Sayings,
    records: list[Record],
    firings: list[Firing],
    score: Callable[[Advice, dict[str, Any]], float] | None = None,
) -> list[Recommendation]:
    """Every fired rule that says something, in reading order (priority, course order; see _rank), then record order.

    The same text in the same section about the same person is said once, however many rules or
    records produced it. `score` (relevance.Relevance.score) says how much each matters for the visit.
    Only what is said once becomes a Recommendation and is scored: with many rules, most firings
    repeat a text said already.
    """
    return recommend_compared(said_by, records, firings, score)[0]


def recommend_compared(
    said_by: Sayings,
    records: list[Record],
    firings: list[Firing],
    score: Callable[[Advice, dict[str, Any]], float] | None = None,
) -> tuple[list[Recommendation], bool]:
    """What recommend() gives, and whether saying it once compared any texts: when it compared none,
    no two of them (nor of any part of them, in the same order) may read alike, and a Markdown
    brief's own said_once pass would keep them all (Brief.may_read_alike)."""
    by_id = {r.id: r for r in records}
    # One number orders the firings: the rule's place in reading order, then the record's in id
    # order (records are ordered by what they are, not where they stand in the file, so list order
    # never matters), then the firing's own place, which keeps the sort stable.
    places = {record_id: n for n, record_id in enumerate(sorted(by_id))}
    count = len(firings)
    per_rule = len(places) * count
    # Advice that reads the same about the same record says the same: of such firings (rules that
    # say the same under other conditions), only the first in reading order can be said.
    first: dict[tuple[int, str], tuple[int, Advice, Record]] = {}
    for n, (rule_id, record_id) in enumerate(firings):
        said = said_by[rule_id]
        if said is not None:
            key = (said.says, record_id)
            place = said.order * per_rule + places[record_id] * count + n
            known = first.get(key)
            if known is None or place < known[0]:
                first[key] = (place, said, by_id[record_id])
    recs = [
        Recommendation(said, record.subject if said.about_person else None, record.id, record.values)
        for _, said, record in sorted(first.values())
    ]
    kept, compared = _said_once(recs, str)
    if score is not None:  # scored once said once: with many rules, most firings repeat what is said
        for r in kept:
            r.score = score(r.advice, r.values)
    return kept, compared


class _Quoted(dict):
    """quote(text), worked out once per distinct text in one call: the same names recur in many rules."""

    def __init__(self, quote: Callable[[str], str]):
        super().__init__()
        self.quote = quote

    def __missing__(self, text: str) -> str:
        quoted = self[text] = self.quote(text)
        return quoted


def said_once(recs: list[Recommendation], quote: Callable[[str], str]) -> list[Recommendation]:
    """`recs` without any whose text, escaped by `quote`, repeats an earlier one's in the same
    section about the same person. recommend() does this for plain text; a Markdown brief does it
    again for its own text, where values that differ only in spacing read the same.
    `quote` must give the same result for the same text: each distinct text is quoted once.

    A text is filled in only to compare it with one that could read alike (see Advice.alike).
    Texts are compared as sets, never pairwise, so a section of many rules costs what its advice
    does. An earlier text that was never filled in is filled when the first advice comes that may
    read like it: a text can equal only texts its rule may read alike with (each starts with its
    first literal part and ends with its last).
    """
    return _said_once(recs, quote)[0]


def _said_once(recs: list[Recommendation], quote: Callable[[str], str]) -> tuple[list[Recommendation], bool]:
    """said_once's list, and whether any text was compared: when none was, every advice met only
    advice it cannot read alike with, so the list is `recs` whole, and so would be any pass over a
    part of them in the same order, whatever `quote` escapes (the advice of a part, met earlier in the
    same section about the same person, is a part of what this pass met there)."""
    compared = False
    if quote is not str:
        quote = _Quoted(quote).__getitem__
    # (section, person) -> (rule ids said there, texts filled in, what was said unfilled, by rule id)
    said_in: dict[tuple[str, str | None], tuple[set[str], set[str], dict[str, list[Recommendation]]]] = {}
    out: list[Recommendation] = []
    for r in recs:
        advice, stakeholder = r.advice, r.stakeholder
        earlier = said_in.get((advice.section, stakeholder))
        if earlier is None:
            said_in[advice.section, stakeholder] = ({advice.rule_id}, set(), {advice.rule_id: [r]})
            out.append(r)
            continue
        rule_ids, texts, unread = earlier
        alike = advice.alike
        if alike.isdisjoint(rule_ids):  # nothing said here could read the same: no need to fill it in
            rule_ids.add(advice.rule_id)
            if advice.rule_id in unread:
                unread[advice.rule_id].append(r)
            else:
                unread[advice.rule_id] = [r]
            out.append(r)
            continue
        compared = True
        text = r.text_in(quote)
        if unread:
            if len(alike) < len(unread):
                due = [rule_id for rule_id in alike if rule_id in unread]
            else:
                due = [rule_id for rule_id in unread if rule_id in alike]
            for rule_id in due:
                texts.update(e.text_in(quote) for e in unread.pop(rule_id))
        if text not in texts:
            texts.add(text)
            rule_ids.add(advice.rule_id)
            out.append(r)
    return out, compared


class Withdrawn:
    """A recommendation another rule's situation withdrew (an override), and the rules that did. Treat it
    as read-only. (A plain class: as a frozen dataclass it cost every start about 0.4 ms to create.)"""

    __slots__ = ("recommendation", "by")

    def __init__(self, recommendation: Recommendation, by: tuple[str, ...]) -> None:
        self.recommendation, self.by = recommendation, by


Withdrawers = dict[str, tuple[str, tuple[str, ...]]]  # rule id -> (its scope, the rules it withdraws)


def withdraw(
    recs: list[Recommendation], records: list[Record], firings: list[Firing], withdrawers: Withdrawers
) -> tuple[list[Recommendation], list[Withdrawn]]:
    """The recommendations that stand, and those a fired rule withdrew.

    A rule about the account (or a competitor or an event) withdraws its targets' advice
    everywhere; a rule about a person withdraws advice about that person, and advice about no one.
    """
    if not withdrawers:
        return recs, []
    by_id = {r.id: r for r in records}
    active: dict[str, set[tuple[str, str | None]]] = {}  # target rule -> (withdrawer, only about this person)
    for f in firings:
        w = withdrawers.get(f.rule_id)
        if w is not None:
            scope, targets = w
            subject = by_id[f.record_id].subject if scope in ("stakeholder", "tie") else None
            for target in targets:
                active.setdefault(target, set()).add((f.rule_id, subject))
    if not active:
        return recs, []
    kept: list[Recommendation] = []
    gone: list[Withdrawn] = []
    for r in recs:
        withdrawing = active.get(r.advice.rule_id)
        if withdrawing is None:  # most advice: no rule that fired withdraws it
            kept.append(r)
            continue
        by = sorted({w for w, subject in withdrawing if subject is None or r.stakeholder in (None, subject)})
        if by:
            gone.append(Withdrawn(r, tuple(by)))
        else:
            kept.append(r)
    return kept, gone
