"""selection: what a brief shows within its budget: floors first, then relevance with breadth that
has no cliff (each earlier point of a course topic or rule counts against the next)."""

from __future__ import annotations

import inspect
import random

import pytest

from advisor.advise import Advice, Recommendation
from advisor.selection import RULE_REPEAT, TOPIC_REPEAT, UNLIMITED, by_relevance, cares_about, select, slot


def rec(rule: str, code: str, score: float, *, section: str = "account", person: str | None = None) -> Recommendation:
    advice = Advice(
        rank=(1, (code,), rule),
        rule_id=rule,
        source=(code,),
        section=section,
        aspect="approach",
        priority="medium",
        about_person=person is not None,
        parts=(f"{rule} says",),
        order=0,  # never consulted: these are never put in reading order
        says=0,
        peers=None,  # type: ignore[arg-type]  # never consulted: these texts are not compared
    )
    return Recommendation(advice, person, f"record:{rule}:{person}", {}, score)


def chosen(recs, budget, limits=None, attending=frozenset(), covered=frozenset()):
    ordered = by_relevance(recs)
    ids = select(ordered, set(attending), limits or {}, budget, set(covered))
    return [r.rule_id + (f"@{r.stakeholder}" if r.stakeholder else "") for r in ordered if id(r) in ids]


def test_selection_a_weak_second_point_of_a_topic_waits_for_a_first_point_of_another():
    recs = [rec("a", "1.1.1.a", 5.0), rec("b", "1.1.1.b", 4.9), rec("c", "2.2.2.a", 4.0)]
    assert chosen(recs, 2) == ["a", "c"]


def test_selection_a_strong_second_point_of_a_topic_beats_a_weak_first_point():
    recs = [rec("a", "1.1.1.a", 5.0), rec("b", "1.1.1.b", 5.0), rec("c", "2.2.2.a", 5.0 - TOPIC_REPEAT - 0.5)]
    assert chosen(recs, 2) == ["a", "b"]


def test_selection_the_same_advice_for_a_second_person_counts_against_it():
    people = {"li", "wang"}
    recs = [
        rec("r", "2.4.2.a", 4.0, section="person", person="li"),
        rec("r", "2.4.2.a", 4.0, section="person", person="wang"),
        rec("s", "3.1.1.a", 4.0 - TOPIC_REPEAT - 2 * RULE_REPEAT + 0.1, section="gaps"),
    ]
    assert chosen(recs, 2, attending=people) == ["r@li", "s"]


def test_selection_topics_shown_at_a_glance_count_against_the_rest():
    recs = [rec("a", "1.1.1.a", 5.0), rec("c", "2.2.2.a", 4.0)]
    assert chosen(recs, 1, covered={"1.1.1"}) == ["c"]


def test_selection_a_floor_takes_a_topic_not_yet_shown_when_it_can():
    recs = [rec("a", "1.1.1.a", 5.0), rec("b", "2.1.1.a", 3.0), rec("c", "3.3.3.a", 1.0, section="checklist")]
    limits = {"floors": {"account": 1}, "account": 1}
    assert chosen(recs, 1, limits, covered={"1.1.1"}) == ["b"]
    # with nothing fresh, the floor takes the best there is
    assert chosen([rec("a", "1.1.1.a", 5.0)], 1, limits, covered={"1.1.1"}) == ["a"]


def test_selection_section_limits_and_the_budget_hold():
    recs = [rec(f"r{i}", f"{i}.1.1.a", 10.0 - i) for i in range(1, 6)] + [rec("x", "3.3.3.b", 1.0, section="checklist")]
    assert chosen(recs, 3, {"account": 2}) == ["r1", "r2", "x"]
    assert chosen(recs, 10, {"account": 2, "checklist": 0}) == ["r1", "r2"]


@pytest.mark.parametrize("order", [0, 1])
def test_selection_ties_go_to_relevance_order_not_to_input_order(order):
    recs = [rec("a", "1.1.1.a", 4.0), rec("b", "2.1.1.a", 4.0)]
    picked = chosen(recs if order else list(reversed(recs)), 1)
    assert picked == chosen(recs, 1)


TRAITS = frozenset({"2.2.2.b", "2.4.2.a", "2.4.3.c"})


def changed(advice: Advice, **changes) -> Advice:
    """`advice` with some of what it was made with changed (Advice is a plain class: no dataclasses.replace)."""
    return Advice(**{name: changes.get(name, getattr(advice, name)) for name in inspect.signature(Advice).parameters})


def person_rec(rule: str, codes: tuple[str, ...], person: str, score: float = 3.0) -> Recommendation:
    r = rec(rule, codes[0], score, section="person", person=person)
    return Recommendation(changed(r.advice, source=codes), person, r.record_id, {}, score)


def test_selection_a_card_says_the_traits_of_advice_left_out_and_not_said_in_full():
    shown = person_rec("price-performance", ("2.2.2.b",), "amy")
    left_out = [
        person_rec("price-performance-again", ("2.2.2.b",), "amy"),  # already said in full: not on the card
        person_rec("middle-price", ("2.4.2.a",), "amy"),
        person_rec("bring-engineer", ("2.2.2.a",), "amy"),  # no trait for 2.2.2.a: not on the card
        person_rec("outcomes-only", ("2.4.3.c",), "zoe"),
    ]
    cards = cares_about(left_out, [shown], ("amy", "zoe"), True, TRAITS, limit=1)
    assert {sid: card.items for sid, card in cards.items()} == {"amy": ("2.4.2.a",), "zoe": ("2.4.3.c",)}
    assert [r.rule_id for r in cards["amy"].advice] == ["middle-price"]


def test_selection_a_visit_card_is_each_attendees_and_an_account_brief_lists_the_most_relevant_people():
    left_out = by_relevance(
        [
            person_rec("a", ("2.4.2.a",), "amy", score=2.0),
            person_rec("b", ("2.4.3.c",), "bo", score=5.0),
            person_rec("c", ("2.2.2.b",), "cy", score=4.0),
        ]
    )
    # With a visit: the attendees, in the visit's order, whatever the limit.
    assert list(cares_about(left_out, [], ("cy", "amy"), True, TRAITS, limit=1)) == ["cy", "amy"]
    # Without one: the `limit` people the most relevant such advice is about, in the people's order.
    assert list(cares_about(left_out, [], ("amy", "bo", "cy"), False, TRAITS, limit=2)) == ["bo", "cy"]
    assert cares_about(left_out, [], ("amy", "bo", "cy"), False, frozenset(), limit=2) == {}


def scan_select(recs, attending, limits, budget, covered):
    """select() written plainly: floors, then at every step the value of every open candidate, the
    best taken (ties to the earlier). select() keeps a heap of bounds instead; both must agree."""
    floors, chosen, counts, rules, items = limits.get("floors", {}), [], {}, {}, set()
    topics = dict.fromkeys(covered, 1)
    kept = []
    for r in recs:
        where = slot(r, attending)
        limit = {"person": limits.get("person", UNLIMITED), "others": limits.get("others", UNLIMITED)}.get(
            where[0], limits.get(r.section, UNLIMITED)
        )
        if where[0] != "others" or r.priority == "high":
            kept.append((r, where, limit))

    def take(r, where):
        chosen.append(r)
        counts[where] = counts.get(where, 0) + 1
        for t in r.advice.topics:
            topics[t] = topics.get(t, 0) + 1
        rules[r.rule_id] = rules.get(r.rule_id, 0) + 1
        items.update(r.source)

    def is_open(r, where, limit):
        return all(c is not r for c in chosen) and counts.get(where, 0) < limit

    for fresh in (True, False):
        for r, where, limit in kept:
            floor = floors.get(r.section, 0)
            if floor and len(chosen) < budget and is_open(r, where, min(limit, floor)):
                if not fresh or not all(t in topics for t in r.advice.topics):
                    take(r, where)
    while len(chosen) < budget:
        best = None
        for r, where, limit in kept:
            if is_open(r, where, limit):
                v = (
                    r.score
                    - TOPIC_REPEAT * min(topics.get(t, 0) for t in r.advice.topics)
                    - RULE_REPEAT * (rules.get(r.rule_id, 0) + (set(r.source) <= items))
                )
                if best is None or v > best[0]:
                    best = (v, r, where)
        if best is None:
            break
        take(best[1], best[2])
    return {id(r) for r in chosen}


@pytest.mark.parametrize("seed", range(40))
def test_selection_select_takes_what_a_scan_of_every_candidate_at_every_step_takes(seed):
    rnd = random.Random(seed)
    people = ["amy", "bo", "cy", "dan"]
    recs = []
    for i in range(rnd.randint(5, 60)):
        section = rnd.choice(["account", "person", "gaps", "checklist", "cadence"])
        person = rnd.choice(people) if section == "person" or rnd.random() < 0.2 else None
        codes = tuple(
            rnd.sample(["1.1.1.a", "1.1.1.b", "1.2.1.a", "2.2.2.a", "2.4.2.a", "3.1.1.a", "3.3.3.a"], rnd.randint(1, 2))
        )
        r = rec(
            f"r{rnd.randint(0, 15)}",
            codes[0],
            rnd.choice([1.0, 2.0, 2.5, 3.0, 4.25, 5.0]),
            section=section,
            person=person,
        )
        advice = changed(r.advice, source=codes, priority=rnd.choice(["high", "medium"]))
        recs.append(Recommendation(advice, person, f"record:{i}", {}, r.score))
    ordered = by_relevance(recs)
    attending = set(rnd.sample(people, rnd.randint(0, 3)))
    limits = {
        "person": 2,
        "others": 1,
        "account": rnd.randint(1, 5),
        "gaps": 2,
        "floors": {"account": 1, "person": 1, "checklist": rnd.randint(0, 2)},
    }
    covered = set(rnd.sample(["1.1.1", "2.2.2", "3.3.3"], rnd.randint(0, 2)))
    budget = rnd.randint(1, 25)
    got = select(ordered, attending, limits, budget, set(covered), set())
    assert got == scan_select(ordered, attending, limits, budget, covered)
