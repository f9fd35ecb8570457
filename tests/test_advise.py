"""advise: fired rules become recommendations in reading order, each text said once per section and person."""

from __future__ import annotations

from types import SimpleNamespace as NS

from counting import lines_run

from advisor.advise import recommend, said_once, sayings
from advisor.engine import Firing
from advisor.escape import md
from advisor.facts import Record


def rule(i: int, text: str | None, *, priority="medium", section="gaps", scope="account", aspect="approach"):
    say = NS(en=text, zh=f"中文{text}") if text is not None else None
    return NS(index=i, rule=NS(id=f"r{i}", say=say, priority=priority, source=[f"1.{i}.a"], section=section,
                               aspect=aspect, scope=scope))  # fmt: skip


def base(*rules):
    return NS(rules=list(rules))


ACCOUNT = Record("account", "account", {"account.name": "Acme"})
LI = Record("stakeholder:li", "stakeholder", {"stakeholder.name": "Li  Na", "account.name": "Acme"}, "li")
WANG = Record("stakeholder:wang", "stakeholder", {"stakeholder.name": "Wang", "account.name": "Acme"}, "wang")
RECORDS = [ACCOUNT, LI, WANG]


def fire(*pairs):
    return [Firing(rule_id, record_id) for rule_id, record_id in pairs]


def test_advise_orders_by_priority_then_rule_order_then_record():
    said = sayings(base(rule(0, "low", priority="low"), rule(1, "b {stakeholder.name}", scope="stakeholder"),
                        rule(2, "high one", priority="high")), "en")  # fmt: skip
    recs = recommend(said, RECORDS, fire(("r0", "account"), ("r1", "stakeholder:wang"), ("r1", "stakeholder:li"),
                                         ("r2", "account")))  # fmt: skip
    assert [(r.rule_id, r.record_id) for r in recs] == [
        ("r2", "account"), ("r1", "stakeholder:li"), ("r1", "stakeholder:wang"), ("r0", "account"),
    ]  # fmt: skip
    assert [r.text for r in recs] == ["high one", "b Li  Na", "b Wang", "low"]


def test_advise_derivation_rules_say_nothing_and_person_is_set_only_for_stakeholder_rules():
    said = sayings(base(rule(0, None), rule(1, "about {stakeholder.name}", scope="stakeholder", section="person"),
                        rule(2, "for the account")), "en")  # fmt: skip
    assert said["r0"] is None
    recs = recommend(said, RECORDS, fire(("r0", "account"), ("r1", "stakeholder:li"), ("r2", "stakeholder:li")))
    by_rule = {r.rule_id: r for r in recs}
    assert set(by_rule) == {"r1", "r2"}
    assert by_rule["r1"].stakeholder == "li" and by_rule["r1"].source == ("1.1.a",)
    assert by_rule["r2"].stakeholder is None  # an account rule on a person's record is about the account


def test_advise_says_the_same_text_once_per_section_and_person():
    said = sayings(base(rule(0, "Call {account.name}."), rule(1, "Call {account.name}."),
                        rule(2, "Call {account.name}.", section="checklist"),
                        rule(3, "Call {account.name}.", scope="stakeholder", section="person"),
                        rule(4, "Call Acme.")), "en")  # fmt: skip
    recs = recommend(said, RECORDS, fire(("r0", "account"), ("r1", "account"), ("r2", "account"),
                                         ("r3", "stakeholder:li"), ("r3", "stakeholder:wang"), ("r4", "account")))  # fmt: skip
    # r1 and r4 repeat r0 in the same section (r4 with no placeholder at all); r2 is another
    # section; r3 is said once for each person.
    assert [(r.rule_id, r.stakeholder) for r in recs] == [("r0", None), ("r2", None), ("r3", "li"), ("r3", "wang")]


def test_advise_fills_text_only_when_read():
    said = sayings(base(rule(0, "Meet {stakeholder.name}", scope="stakeholder", section="person")), "en")
    (rec,) = recommend(said, RECORDS, fire(("r0", "stakeholder:li")))
    assert rec._text is None  # nothing compared it with anything, and nobody read it yet
    assert rec.text == "Meet Li  Na" and rec._text == "Meet Li  Na"
    assert rec.text_in(md) == "Meet Li Na"  # Markdown's escaping collapses the spacing


def test_advise_markdown_says_once_what_reads_the_same_escaped():
    said = sayings(base(rule(0, "Greet {stakeholder.name}"), rule(1, "Greet {account.name}")), "en")
    spaced = Record("stakeholder:x", "stakeholder", {"stakeholder.name": "A  B", "account.name": "A B"}, "x")
    recs = recommend(said, [spaced], fire(("r0", "stakeholder:x"), ("r1", "stakeholder:x")))
    assert [r.text for r in recs] == ["Greet A  B", "Greet A B"]  # plain texts differ: JSON keeps both
    assert [r.rule_id for r in said_once(recs, md)] == ["r0"]  # the Markdown brief would say it twice


def test_advise_alike_marks_only_texts_that_could_fill_in_the_same():
    said = sayings(base(rule(0, "Call {account.name} today"), rule(1, "Call Acme today"),
                        rule(2, "Write to {account.name}"), rule(3, "Call {account.name} today", section="checklist")),
                   "en")  # fmt: skip
    assert said["r0"].alike == {"r0", "r1"}
    assert "r2" not in said["r0"].alike and "r3" not in said["r0"].alike  # other start; other section
    assert said["r0"].rank < said["r1"].rank


def test_advise_each_language_says_its_own_text():
    zh = sayings(base(rule(0, "hello")), "zh")
    (rec,) = recommend(zh, RECORDS, fire(("r0", "account")))
    assert rec.text == "中文hello"


def test_advise_saying_once_grows_with_the_advice_not_its_square():
    """Texts that may all read alike (a placeholder at both ends) and all differ: each is compared
    with the texts said before it as a set, not one by one (counted in lines run, not timed)."""

    def work(n: int) -> int:
        said = sayings(base(*(rule(i, f"{{account.name}} step {i} {{account.name}}") for i in range(n))), "en")
        firings = fire(*((f"r{i}", "account") for i in range(n)))
        assert len(recommend(said, RECORDS, firings)) == n  # none repeats another
        return lines_run(lambda: (recommend(said, RECORDS, firings), said_once(recommend(said, RECORDS, firings), md)))

    small, large = work(100), work(400)
    assert large < 5 * small, (small, large)  # comparing each with every earlier one ran 4 times more


def test_advise_many_rules_saying_the_same_are_said_once_and_only_that_is_scored():
    texts = ["Call {account.name} today.", "Send the plan to {stakeholder.name}."]
    rules = [rule(i, texts[i % 2], priority=("high", "low")[i % 3 % 2]) for i in range(60)]
    said = sayings(base(*rules), "en")
    scored = []
    firings = fire(*((f"r{i}", r.id) for r in RECORDS for i in range(60)))
    recs = recommend(said, RECORDS, firings, lambda advice, values: scored.append(advice.rule_id) or 1.0)
    # Of each text, the first rule in reading order; account rules are about no one, so "Acme" reads
    # the same on every record, while the person's name does not.
    first = [min((said[f"r{i}"] for i in range(k, 60, 2)), key=lambda a: a.rank) for k in (0, 1)]
    want = sorted([
        (first[0].rank, "account", "Call Acme today.", first[0].rule_id),
        (first[1].rank, "account", "Send the plan to ?.", first[1].rule_id),
        (first[1].rank, "stakeholder:li", "Send the plan to Li  Na.", first[1].rule_id),
        (first[1].rank, "stakeholder:wang", "Send the plan to Wang.", first[1].rule_id),
    ])  # fmt: skip
    assert [(r.record_id, r.text, r.rule_id) for r in recs] == [w[1:] for w in want]
    assert scored == [r.rule_id for r in recs] and all(r.score == 1.0 for r in recs)  # nothing else scored
