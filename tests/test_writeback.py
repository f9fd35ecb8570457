"""The visit written back into the profile file: a text insertion that leaves every other byte as it
was (comments, CRLF, odd indentation, flow lists), validated, atomic, and safe from concurrent writers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import shutil

import pytest

from advisor.errors import AdvisorError
from advisor.profile import Interaction, Visit, load_profile
from advisor.writeback import edited, record_visit

from conftest import ROOT

HEAD = """# A profile as a rep writes it: comments everywhere.
account:
  id: acme   # the id
  name: Acme
  industry: government
  stage: maintain
  position: incumbent
stakeholders:
  - {id: ann, name: Ann, title: Director, department: IT, function: leadership, level: senior}
  - {id: bob, name: Bob, title: Engineer, department: IT, function: tech_support, level: frontline}
"""
VISIT_TEXT = """visit:   # the next one
  date: 2026-12-01
  objective: review the year
  attendees: [ann]
"""
MET = Interaction(date=dt.date(2026, 12, 1), kind="visit", with_=["ann", "bob"], form="site visit")
NEXT = Visit(date=dt.date(2027, 1, 15), objective="sign the renewal", purpose="renewal", attendees=["ann"])
ITEM_FLOW = "{date: 2026-12-01, kind: visit, with: [ann, bob], form: site visit}"


def run(text: str, interaction: Interaction = MET, visit: Visit | None = None) -> str:
    return edited(text, "p.yaml", interaction, visit)[0]


def test_writeback_block_list_gets_an_item_in_its_own_indentation():
    text = (
        HEAD
        + "interactions:\n    - date: 2026-10-01  # first\n      kind: call\n\n    # older ones were archived\n"
        + VISIT_TEXT
    )
    new = run(text)
    item = "    - date: 2026-12-01\n      kind: visit\n      with: [ann, bob]\n      form: site visit\n"
    assert (
        new
        == HEAD
        + "interactions:\n    - date: 2026-10-01  # first\n      kind: call\n"
        + item
        + "\n    # older ones were archived\n"
    )


def test_writeback_indentless_list_and_dash_on_its_own_line():
    text = HEAD + "interactions:\n- date: 2026-10-01\n  kind: call\n# tail comment\n"
    assert (
        run(text)
        == HEAD
        + "interactions:\n- date: 2026-10-01\n  kind: call\n- date: 2026-12-01\n  kind: visit\n  with: [ann, bob]\n  form: site visit\n# tail comment\n"
    )
    text = HEAD + "interactions:\n  -\n     date: 2026-10-01\n     kind: call\n"
    assert run(text) == text + "  - date: 2026-12-01\n    kind: visit\n    with: [ann, bob]\n    form: site visit\n"


def test_writeback_flow_items_in_a_block_list_and_crlf_kept():
    text = (HEAD + "interactions:\n  - {date: 2026-10-01, kind: call}   # by phone\nevents: []\n").replace("\n", "\r\n")
    new = run(text)
    assert new == (
        HEAD
        + "interactions:\n  - {date: 2026-10-01, kind: call}   # by phone\n  - date: 2026-12-01\n    kind: visit\n    with: [ann, bob]\n    form: site visit\nevents: []\n"
    ).replace("\n", "\r\n")
    assert "\n" not in new.replace("\r\n", "")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("interactions: []\n", f"interactions: [{ITEM_FLOW}]\n"),
        (
            "interactions: [{date: 2026-10-01, kind: call}]  # c\n",
            f"interactions: [{{date: 2026-10-01, kind: call}}, {ITEM_FLOW}]  # c\n",
        ),
        (
            "interactions: [\n  {date: 2026-10-01, kind: call},\n]\n",
            f"interactions: [\n  {{date: 2026-10-01, kind: call}},\n{ITEM_FLOW}]\n",
        ),
    ],
    ids=["empty-flow", "flow", "multiline-flow-trailing-comma"],
)
def test_writeback_flow_and_empty_lists(given, expected):
    assert run(HEAD + given) == HEAD + expected


def test_writeback_creates_the_key_when_absent_even_without_a_final_line_break():
    assert (
        run(HEAD)
        == HEAD + "interactions:\n  - date: 2026-12-01\n    kind: visit\n    with: [ann, bob]\n    form: site visit\n"
    )
    assert (
        run(HEAD.rstrip("\n"))
        == HEAD + "interactions:\n  - date: 2026-12-01\n    kind: visit\n    with: [ann, bob]\n    form: site visit\n"
    )


def test_writeback_visit_removed_or_replaced_and_the_rest_kept():
    text = HEAD + VISIT_TEXT + "# trailing\nevents: []\n"
    assert (
        run(text)
        == HEAD
        + "# trailing\nevents: []\ninteractions:\n  - date: 2026-12-01\n    kind: visit\n    with: [ann, bob]\n    form: site visit\n"
    )
    replaced = run(text, visit=NEXT)
    assert replaced.startswith(
        HEAD
        + "visit:   # the next one\n  date: 2027-01-15\n  objective: sign the renewal\n  purpose: renewal\n  attendees: [ann]\n# trailing\nevents: []\n"
    )
    flow = HEAD + "visit: {date: 2026-12-01, objective: x}  # soon\n"
    assert run(flow, visit=NEXT).startswith(
        HEAD + "visit: {date: 2027-01-15, objective: sign the renewal, purpose: renewal, attendees: [ann]}  # soon\n"
    )
    added = run(HEAD + "interactions: []\n", visit=NEXT)
    assert added.endswith(
        "visit:\n  date: 2027-01-15\n  objective: sign the renewal\n  purpose: renewal\n  attendees: [ann]\n"
    )


def test_writeback_empty_visit_key_takes_the_next_visit():
    new = run(HEAD + "visit:\ninteractions: []\n", visit=NEXT)
    assert new.startswith(
        HEAD + "visit: {date: 2027-01-15, objective: sign the renewal, purpose: renewal, attendees: [ann]}\n"
    )


def test_writeback_layout_it_cannot_edit_is_refused_not_broken():
    with pytest.raises(AdvisorError) as caught:
        run(HEAD + "interactions: [{date: 2026-10-01, kind: call}  # a comment,\n]\n")
    assert caught.value.lines() == [
        "p.yaml:1:1: error: the profile's layout cannot take the visit as an insertion; add it to the file by hand"
    ]


def test_writeback_notes_with_quotes_colons_and_chinese_read_back_as_written():
    said = Interaction(
        date=dt.date(2026, 12, 1),
        kind="meeting",
        with_=["ann"],
        form='她说: "yes" # 不是注释',
        agreed="签约: 下周",
        note="- a dash\nand a second line",
    )
    new, profile = edited(HEAD + "interactions: []\n", "p.yaml", said, None)
    assert profile.interactions[-1] == said and new.startswith(HEAD + "interactions: [{")


def test_writeback_shipped_profiles_change_only_where_they_should(tmp_path):
    for source in sorted((ROOT / "profiles").glob("*.yaml")):
        path = tmp_path / source.name
        shutil.copyfile(source, path)
        old = path.read_bytes()
        profile = load_profile(path)
        who = [s.id for s in profile.stakeholders[:2]]
        when = max([i.date for i in profile.interactions] + [dt.date(2026, 12, 1)])
        met = Interaction(date=when, kind="visit", with_=who, form="after-visit test")
        record_visit(path, met, None, roots=[tmp_path])
        new = path.read_bytes()
        reread = load_profile(path)
        assert reread.interactions == (*profile.interactions, met) or reread.interactions == [
            *profile.interactions,
            met,
        ]
        assert reread.visit is None and reread.model_dump(exclude={"interactions", "visit"}) == profile.model_dump(
            exclude={"interactions", "visit"}
        )
        # Only lines added (the item) and the visit block's lines taken out: no other byte moved.
        kept = [line for line in old.splitlines(keepends=True)]
        added = [line for line in new.splitlines(keepends=True) if line not in kept]
        assert all(
            b"after-visit test" in line or line.lstrip().startswith((b"- date:", b"kind:", b"with:", b"form:"))
            for line in added
        ), added
        assert _subsequence(new.splitlines(keepends=True), old.splitlines(keepends=True), drop=_visit_lines(old))


def _visit_lines(old: bytes) -> set[int]:
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(b"visit:")), None)
    if start is None:
        return set()
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in (b" ", b"\n", b"\r")), len(lines))
    return set(range(start, end))


def _subsequence(new: list[bytes], old: list[bytes], drop: set[int]) -> bool:
    """`old`, less the lines in `drop`, appears in `new` in order and unchanged."""
    it = iter(new)
    return all(any(line == n for n in it) for i, line in enumerate(old) if i not in drop)


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD + "interactions: [oops\n", "invalid YAML"),
        (HEAD + "account: twice\n", "account"),
        ("- just\n- a list\n", ""),
        (HEAD + "interactions:\n", "interactions must be a list"),
    ],
    ids=["not-yaml", "duplicate-key", "not-a-mapping", "null-list"],
)
def test_writeback_hostile_profile_is_refused_and_untouched(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AdvisorError) as caught:
        record_visit(path, MET, roots=[tmp_path])
    lines = caught.value.lines()
    assert lines and all("\n" not in line for line in lines) and lines[0].startswith(str(path) + ":")
    assert message in lines[0] and path.read_text(encoding="utf-8") == text


def test_writeback_invalid_result_writes_nothing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(HEAD, encoding="utf-8")
    stranger = Interaction(date=dt.date(2026, 12, 1), kind="visit", with_=["zed"])
    with pytest.raises(AdvisorError, match="unknown stakeholder 'zed'"):
        record_visit(path, stranger, roots=[tmp_path])
    early = Visit(date=dt.date(2026, 1, 1), objective="back in time")
    with pytest.raises(AdvisorError, match="dated before the last interaction"):
        record_visit(path, MET, early, roots=[tmp_path])
    assert path.read_text(encoding="utf-8") == HEAD and [p.name for p in tmp_path.iterdir()] == ["p.yaml"]


def test_writeback_outside_the_served_folders_is_refused(tmp_path):
    served, elsewhere = tmp_path / "served", tmp_path / "elsewhere"
    served.mkdir()
    elsewhere.mkdir()
    target = elsewhere / "p.yaml"
    target.write_text(HEAD, encoding="utf-8")
    (served / "link.yaml").symlink_to(target)
    for path in (target, served / "link.yaml", served / ".." / "elsewhere" / "p.yaml"):
        with pytest.raises(AdvisorError, match="outside the served folders") as caught:
            record_visit(path, MET, roots=[served])
        assert len(caught.value.lines()) == 1
    assert target.read_text(encoding="utf-8") == HEAD


def test_writeback_keeps_a_byte_order_mark(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    record_visit(path, MET)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf" + HEAD.encode() + b"interactions:\n")


def _write_one(args: tuple[str, int]) -> None:
    path, n = args
    record_visit(path, Interaction(date=dt.date(2026, 12, 1), kind="call", form=f"call {n}"))


def test_writeback_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + "interactions: []\n", encoding="utf-8")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_write_one, [(str(path), n) for n in range(12)])
    forms = sorted(i.form for i in load_profile(path).interactions)
    assert forms == sorted(f"call {n}" for n in range(12))
    assert path.read_text(encoding="utf-8").startswith(HEAD)
