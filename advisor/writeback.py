"""After a visit: the interaction appended to the profile FILE and its `visit:` replaced, as a text edit.

A rep's profile is hand-written YAML with comments, so it is never dumped again: the new item is
inserted as text at the end of the `interactions:` list (in the list's own style and indentation),
the `visit:` block is replaced or removed the same way, and every other byte stays as it was. The
edited text must read back as exactly the old data plus the change and validate as a profile, or
nothing is written. The write is atomic (files.write_atomically) and made under a lock on the
profile's folder, held from the read to the rename, so two forms sent at once both land.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import AdvisorError, Problem, UnreadableInput, UnwritableOutput
from .files import write_atomically
from .limits import DEFAULT, Limits
from .profile import Interaction, Profile, Visit, parse_profile
from .yamlio import load_text, read_text

try:
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


BOM = b"\xef\xbb\xbf"
LAYOUT = "the profile's layout cannot take the visit as an insertion; add it to the file by hand"


class WriteBackError(AdvisorError):
    """The profile cannot take the visit as a text edit (exit 1); nothing was written."""


@dataclass(frozen=True)
class _Edit:
    """Replace text[start:end] with `text` (an insertion when start == end)."""

    start: int
    end: int
    text: str


def record_visit(
    path: Path,
    interaction: Interaction,
    next_visit: Visit | None = None,
    *,
    roots: Collection[Path] = (),
    limits: Limits = DEFAULT,
) -> Profile:
    """Append `interaction` to the profile at `path`, replace its `visit:` with `next_visit` (or remove
    it), and write the file; returns the profile as written. `roots`: the folders and files a server
    serves; a path that resolves outside them is refused (empty: no such check, as for the CLI)."""
    path = Path(path)
    real = path.resolve()
    if roots and not any(real == r or real.is_relative_to(r) for r in (Path(x).resolve() for x in roots)):
        raise UnwritableOutput(
            Problem(str(path), 1, 1, "error", "is outside the served folders; only a served profile can be written")
        )
    with _folder_lock(real.parent):
        text = read_text(real, limits)
        new_text, profile = edited(text, str(path), interaction, next_visit, limits)
        with real.open("rb") as head:
            bom = head.read(3) == BOM  # read_text drops it; the file keeps it
        write_atomically(real, (BOM if bom else b"") + new_text.encode("utf-8"))
    return profile


def edited(
    text: str, where: str, interaction: Interaction, next_visit: Visit | None, limits: Limits = DEFAULT
) -> tuple[str, Profile]:
    """The profile text with the visit recorded, and the profile it reads as (pure: no file touched)."""
    before = load_text(text, where, limits)
    parse_profile(before, limits)  # an invalid profile is reported as it is, never edited
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:  # pragma: no cover - load_text has read it already
        raise _refuse(where, 1, "the profile is not valid YAML") from None
    if not isinstance(root, yaml.MappingNode):  # pragma: no cover - parse_profile wants a mapping
        raise _refuse(where, 1, "the profile is not a mapping")
    if root.flow_style:
        raise _refuse(where, 1, "the profile is one {…} mapping; write it in block style (one key a line)")
    nl = "\r\n" if "\r\n" in text else "\n"
    keys = {k.value: (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    item = _plain(interaction.model_dump(by_alias=True, exclude_defaults=True, mode="json"))
    item = {"date": interaction.date, **{k: v for k, v in item.items() if k != "date"}}
    edits = [_interaction_edit(text, where, keys.get("interactions"), item, nl)]
    visit = None
    if next_visit is not None:
        visit = {"date": next_visit.date, **{k: v for k, v in _plain(next_visit.model_dump(exclude_defaults=True, mode="json")).items() if k != "date"}}  # fmt: skip
    edit = _visit_edit(text, keys.get("visit"), visit, nl)
    if edit is not None:
        edits.append(edit)
    if text and not text.endswith("\n"):  # the last line has no line break; text added after it needs one
        edits = [_Edit(e.start, e.end, nl + e.text) if e.start == len(text) else e for e in edits]
    new_text = text
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        new_text = new_text[: e.start] + e.text + new_text[e.end :]
    try:
        after = load_text(new_text, where, limits)
    except UnreadableInput:  # the layout fooled the insertion (a comment ending in a comma, say)
        raise _refuse(where, 1, LAYOUT) from None
    profile = parse_profile(after, limits)  # the edited profile is checked like any other
    expected = dict(before.data)
    expected["interactions"] = [*(before.data.get("interactions") or []), _loaded(item)]
    expected.pop("visit", None)
    if visit is not None:
        expected["visit"] = _loaded(visit)
    if after.data != expected:
        raise _refuse(where, 1, LAYOUT)
    return new_text, profile


def _interaction_edit(text: str, where: str, found: tuple | None, item: dict, nl: str) -> _Edit:
    """Where and how the new item goes: after the list's last item, in the list's style."""
    if found is None:  # no `interactions:` key: a new block list at the end of the file
        return _Edit(len(text), len(text), f"interactions:{nl}" + _block_item(item, 2, 4, nl))
    key, value = found
    if not isinstance(value, yaml.SequenceNode):  # pragma: no cover - parse_profile wants a list
        raise _refuse(where, key.start_mark.line + 1, "interactions must be a list")
    if value.flow_style:
        close = value.end_mark.index - 1  # the `]`
        before = text[value.start_mark.index + 1 : close].rstrip()
        sep = "" if not value.value or before.endswith(",") else ", "
        return _Edit(close, close, sep + _flow(item))
    first = value.value[0]
    dash = text.rfind("-", 0, first.start_mark.index)
    dash_col = dash - (text.rfind("\n", 0, dash) + 1)
    content_col = first.start_mark.column if first.start_mark.line == _line_of(text, dash) else dash_col + 2
    at = _line_end(text, value.value[-1])
    return _Edit(at, at, _block_item(item, dash_col, content_col, nl))


def _visit_edit(text: str, found: tuple | None, visit: dict | None, nl: str) -> _Edit | None:
    """Replace the `visit:` value with `visit`, or remove the key (visit None)."""
    if found is None:
        return None if visit is None else _Edit(len(text), len(text), f"visit:{nl}" + _block_map(visit, 2, nl))
    key, value = found
    end = _line_end(text, value)
    if visit is None:
        start = text.rfind("\n", 0, key.start_mark.index) + 1
        return _Edit(start, end, "")
    if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
        indent = value.start_mark.column
        after_key = text.find("\n", key.end_mark.index)  # the key's line stays, comment and all
        return _Edit(after_key + 1, end, _block_map(visit, indent, nl))
    gap = " " if _empty(value) else ""  # `visit:` with nothing after it: the colon needs its space
    return _Edit(value.start_mark.index, value.end_mark.index, gap + _flow(visit))


def _line_end(text: str, node: yaml.Node) -> int:
    """Where the line that ends `node` ends (after its line break): a block node's own end mark runs
    on past the comments and blank lines after it, so the end of its last value is followed instead."""
    last = node
    while True:
        if isinstance(last, yaml.MappingNode) and not last.flow_style and last.value:
            key, value = last.value[-1]
            last = key if _empty(value) else value
        elif isinstance(last, yaml.SequenceNode) and not last.flow_style and last.value:
            last = last.value[-1]
        else:
            break
    at = last.end_mark.index
    if at > 0 and text[at - 1] == "\n":  # a block scalar ends at the start of the next line
        return at
    nl = text.find("\n", at)
    return len(text) if nl < 0 else nl + 1


def _empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.start_mark.index == node.end_mark.index


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index)


def _block_item(item: dict, dash_col: int, content_col: int, nl: str) -> str:
    """One list item in block style: `- key: value` at `dash_col`, the rest under it at `content_col`."""
    lines = _dump(item, flow=False).splitlines()
    first = " " * dash_col + "-" + " " * max(1, content_col - dash_col - 1) + lines[0]
    return nl.join([first, *(" " * content_col + line for line in lines[1:])]) + nl


def _block_map(value: dict, indent: int, nl: str) -> str:
    return "".join(" " * indent + line + nl for line in _dump(value, flow=False).splitlines())


def _flow(value: dict) -> str:
    return _dump(value, flow=True).strip()


def _dump(value: Any, *, flow: bool) -> str:
    """YAML for new text: lists of plain values in flow style (`with: [a, b]`), as the shipped profiles are."""
    return yaml.dump(
        value, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000_000,
        default_flow_style=True if flow else None,
    )  # fmt: skip


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in ("", [], None)}


def _loaded(value: dict) -> Any:
    """`value` as the profile loader reads it back (dates as dates, as in the rest of the file)."""
    return load_text(_dump(value, flow=False), "<new>").data


def _refuse(where: str, line: int, message: str) -> WriteBackError:
    return WriteBackError([Problem(where, line, 1, "error", message)])


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the profile's folder, from reading the profile to renaming its new text
    into place. The folder, not the file: the rename swaps the file for another, which a lock on
    the old one would not guard; a folder lock leaves no lock file among the profiles."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise UnreadableInput(Problem(str(folder), 1, 1, "error", f"cannot open the folder: {exc.strerror}")) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
