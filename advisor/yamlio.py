"""Safe YAML loading that remembers where every value came from, so errors can name line and column."""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import collector
from .errors import Problem, UnreadableInput
from .limits import DEFAULT, Limits, raise_hint

try:  # libyaml parses about ten times faster; the pure-Python parser is the fallback.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A loaded document plus the 1-based (line, col) of each value and each mapping key.

    The careful path fills `values` and `keys` as it builds. The fast path keeps only the `text`:
    positions are needed for messages alone, so the node tree is composed again (`root`, once) when
    the first message asks for one, instead of being kept alive, with its thousands of objects, by
    every document that reads without a problem.
    """

    path: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    root: yaml.Node | None = field(default=None, repr=False, compare=False)
    text: str | None = field(default=None, repr=False, compare=False)
    _index: dict[int, dict[str, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def where(self, loc: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of `loc`, falling back to the nearest enclosing node that has one."""
        if not self.values:
            if self.root is None and self.text is not None:
                try:
                    self.root = _compose(self.text)
                except RecursionError:  # nesting the fast path could follow only just (--limit depth raised)
                    self.text = None
            if self.root is not None:
                return _walk(self.root, tuple(loc), key, self._index)
        table = self.keys if key else self.values
        probe = tuple(loc)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(
        self, loc: Path_, message: str, *, key: bool = False, rule_id: str = "", level: str = "error"
    ) -> Problem:
        line, col = self.where(loc, key=key)
        return Problem(self.path, line, col, level, message, rule_id)


def _mark(node: yaml.Node | yaml.Event) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def too_many_values(limit: int) -> str:
    return f"the file holds more than {limit:,} values; split it, or {raise_hint('values')}"


def too_deep(limit: int) -> str:
    return f"nesting deeper than {limit} levels; flatten the structure, or {raise_hint('depth')}"


# The only scalar types a profile, rule or label file needs (explicit `!!str` and the like included).
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp"))


class _Builder:
    """Turns a composed node tree into plain values, rejecting what a safe profile never needs."""

    def __init__(self, path: str, limits: Limits):
        self.path, self.limits = path, limits
        self.constructor = yaml.constructor.SafeConstructor()
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.count = 0
        self.alias_expansions = 0
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> UnreadableInput:
        line, col = _mark(node)
        return UnreadableInput(Problem(self.path, line, col, "error", message))

    def build(self, node: yaml.Node, loc: Path_, depth: int) -> Any:
        # The scan has checked depth and values on the text; here aliases are expanded, so count again.
        self.count += 1
        if self.count > self.limits.values:
            raise self.fail(node, too_many_values(self.limits.values))
        if depth >= self.limits.depth and isinstance(node, yaml.CollectionNode):  # the root is level 1
            raise self.fail(node, too_deep(self.limits.depth))
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            # The same collection node reached twice means a YAML alias (*name) was expanded.
            self.alias_expansions += 1
            if self.alias_expansions > self.limits.aliases:
                raise self.fail(
                    node,
                    f"more than {self.limits.aliases:,} YAML alias expansions (*name); write the values out, "
                    f"or {raise_hint('aliases')}",
                )
        self.seen.add(id(node))
        self.values[loc] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise self.fail(node, f"unsupported YAML tag '{node.tag}'; remove it")
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys (<<) are not supported; write the keys out")
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "a mapping key must be a plain word")
                key = self.scalar(key_node)
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise self.fail(key_node, "a mapping key must be a plain word")
                key = str(key)
                if node.flow_style and _split_by_comma(key_node, value_node):
                    raise self.fail(key_node, SPLIT_BY_COMMA)
                if key in result:
                    raise self.fail(key_node, f"duplicate key '{key}'; keep only one")
                self.keys[loc + (key,)] = _mark(key_node)
                result[key] = self.build(value_node, loc + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.fail(node, f"unsupported YAML tag '{node.tag}'; remove it")
            return [self.build(item, loc + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag not in _SCALAR_TAGS:  # !!python/name:..., !!binary and the like
            raise self.fail(node, f"unsupported YAML tag '{node.tag}'; remove it")
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            reason = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line, whatever the cause
            raise self.fail(node, f"cannot read the value {node.value!r}: {reason}") from None


def open_without_waiting(path: Path):  # noqa: ANN202 - a binary file object
    """Open for reading without blocking on a FIFO that nobody writes to (a plain open waits for a
    writer forever); reads then block as usual, and a FIFO without a writer reads as empty."""
    handle = open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NONBLOCK", 0)))  # noqa: SIM115
    if hasattr(os, "set_blocking"):
        os.set_blocking(handle.fileno(), True)
    return handle


def read_text(path: Path, limits: Limits = DEFAULT) -> str:
    """The file as text (UTF-8, a leading BOM allowed), or an UnreadableInput naming the file.

    The size is checked before the file is read, and the read is bounded too (a pipe or a device
    has no size to check), so a huge file costs neither time nor memory.
    """
    cap = limits.record_bytes

    def refuse(message: str) -> UnreadableInput:
        return UnreadableInput(Problem(str(path), 1, 1, "error", message))

    def too_big(size: int | None) -> UnreadableInput:
        what = (
            f"the file is {size:,} bytes, over the limit of {cap:,}"
            if size
            else f"the file is over the limit of {cap:,} bytes"
        )
        return refuse(f"{what}; trim it, or {raise_hint('record_bytes')}")

    try:
        with open_without_waiting(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > cap:
                raise too_big(size)
            raw = _read_at_most(handle, cap + 1)
    except FileNotFoundError:
        raise refuse("file not found; check the path") from None
    except IsADirectoryError:
        raise refuse("is a folder, not a file") from None
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror}") from None
    if len(raw) > cap:
        raise too_big(None)
    if _looks_like_utf16(raw):
        bom = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise refuse(f"the file is UTF-16 text{'' if bom else ' without a byte order mark'}; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UnreadableInput(
            Problem(str(path), line, col, "error", "the file is not UTF-8 text; save it as UTF-8")
        ) from None


def _read_at_most(handle, size: int) -> bytes:  # noqa: ANN001 - a binary file object
    """Up to `size` bytes, in pieces: a limit raised past any real size (--limit record_bytes=10^20)
    must not become one allocation of that size."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = handle.read(min(size - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 (with or without a BOM): in text of mostly ASCII, every other byte is NUL. UTF-8 text
    has no NUL at all, so a file without one is never taken for UTF-16."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    head = raw[:4096]
    if b"\x00" not in head or len(head) < 2:
        return False
    half = len(head) // 2
    return max(head[0::2].count(0), head[1::2].count(0)) >= half * 0.4


# What YAML may not contain, even quoted (the YAML 1.1 printable set, as PyYAML's reader has it).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _unprintable(text: str, path: str) -> UnreadableInput | None:
    """The first character YAML refuses (a NUL, a control byte), named at its line and column.

    The parsers report it themselves, but in two lines at a byte offset (libyaml) or with the
    file's start as the place; found here, it is one line at the character itself."""
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return None
    at = found.start()
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    message = f"a control character (U+{ord(found.group()):04X}) is not allowed in YAML, even quoted; remove it"
    return UnreadableInput(Problem(path, line, col, "error", message))


def second_document(line: int, what: str) -> str:
    return f"{what} is a single YAML document; remove the second document at line {line}"


# A comma inside {…} that was meant as part of a value (`{name: Li, Na, title: x}`) makes what
# follows it a key without a value. No format of ours has such keys, and the key is the user's own
# text (a name, perhaps), so the message says where it is and what to do, and never repeats it.
SPLIT_BY_COMMA = "a comma inside {…} split a value here; put the whole value in quotes"


def _split_by_comma(key_node: yaml.Node, value_node: yaml.Node) -> bool:
    """A flow-mapping entry with no ':' at all: an empty plain value that starts where its key ends."""
    return (
        isinstance(value_node, yaml.ScalarNode)
        and value_node.value == ""
        and not value_node.style
        and value_node.start_mark.index == key_node.end_mark.index
    )


# libyaml refuses nesting deeper than this by itself.
_LIBYAML_DEPTH = 1000


def beyond(data: Any, limits: Limits) -> str | None:
    """Why loaded data breaks the nesting or value-count limit, or None.

    Counts as the careful path does: every value but not keys; the root collection is level 1.
    Iterative, so it cannot itself overflow the stack however deep the data goes.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, level = stack.pop()
        count += 1
        if count > limits.values:
            return too_many_values(limits.values)
        if isinstance(value, (dict, list)):
            if level >= limits.depth:
                return too_deep(limits.depth)
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return None


# --- the fast path ---------------------------------------------------------------------------------
#
# libyaml composes the node tree (in C, with positions); one Python pass turns it into plain values.
# The pass resolves plain scalars exactly as the safe loader does (same implicit-resolver table, same
# constructors) and checks depth, value count, alias expansions, duplicate keys and tags as it goes.
# Whatever it does not take on (an explicit tag, a merge key, a bad date, a limit crossed, invalid
# YAML) it hands to the careful path, which finds the same problem again and words it with its place.


class _Slow(Exception):
    """The fast path met something it leaves to the careful path."""


class _Untagged:
    """Leaves tag resolution to `_Fast`: a node's tag is True for a plain scalar (to be resolved),
    False for any other scalar (text), None for a mapping or list, and the tag itself when the file
    spells one out."""

    def resolve(self, kind, value, implicit):  # noqa: ANN001, ANN201 - PyYAML's signature
        return implicit[0] if kind is yaml.ScalarNode else None

    # Called for every node, and there are no path resolvers: C functions that ignore their
    # arguments cost less than a Python method's frame.
    descend_resolver = staticmethod(operator.is_)  # (parent, index)
    ascend_resolver = staticmethod(tuple)  # ()


class _Composer(_Untagged, _Loader):  # type: ignore[misc,valid-type]
    """The safe loader's parser and composer (libyaml's when present), without tag resolution."""


# The safe loader's own table: first character -> [(tag, pattern)], read live like the loader does.
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
# The plain scalars a resolver pattern has to look at (true, dates, numbers, and words such as
# 'neutral' that only start like one) repeat from file to file, and what they read as is immutable:
# each is worked out once per process. Bounded, so no file can grow it without end.
_RESOLVED: dict[str, Any] = {}
_RESOLVED_MAX = 4096
_MISS = object()


def _plain(value: str) -> Any:
    """A plain (unquoted) scalar as the safe loader reads it: null, bool, int, float, date or text."""
    found = _RESOLVED.get(value, _MISS)
    if found is not _MISS:
        return found
    resolvers = _IMPLICIT.get(value[:1])  # value[:1] is '' for the empty scalar, as the loader does
    if None in _IMPLICIT:  # pragma: no cover - only if someone added a wildcard resolver to PyYAML
        resolvers = (resolvers or []) + _IMPLICIT[None]
    if not resolvers:  # most text: no resolver starts with its first character
        return value
    tag = next((tag for tag, regexp in resolvers if regexp.match(value)), None)
    if tag is None:  # 'neutral', 'frontline': text after all
        found = value
    elif tag not in _SCALAR_TAGS:  # a merge key (<<) or '=': the careful path says why not
        raise _Slow
    else:
        try:
            found = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, value))
        except (yaml.YAMLError, ValueError, OverflowError):  # 2026-02-30 and the like
            raise _Slow from None
    if len(_RESOLVED) < _RESOLVED_MAX:
        _RESOLVED[value] = found
    return found


# Plain mapping keys as text, for the same reason; bounded too.
_KEYS: dict[str, str] = {}


def _key(node: yaml.Node) -> str:
    """A mapping key as text, as the careful path reads it (an integer key becomes its digits)."""
    if node.__class__ is not yaml.ScalarNode:
        raise _Slow
    tag = node.tag
    if tag is False:
        return node.value
    if tag is not True:
        raise _Slow
    key = _plain(node.value)
    if key.__class__ is int:
        key = str(key)
    elif key.__class__ is not str:
        raise _Slow  # true, null, 1.5, a date: not a plain word
    if len(_KEYS) < _RESOLVED_MAX:
        _KEYS[node.value] = key
    return key


class _Fast:
    """One pass over a composed node tree, building plain values under the limits."""

    __slots__ = ("limits", "count", "aliases", "seen")

    def __init__(self, limits: Limits):
        self.limits = limits
        self.count = 1  # the root
        self.aliases = 0
        self.seen: set[int] = set()

    def collection(self, node: yaml.Node, depth: int) -> Any:
        """The mapping or list at `node`, already counted; `depth` is its level below the root's."""
        if node.tag is not None or depth >= self.limits.depth:
            raise _Slow
        if id(node) in self.seen:  # the same collection reached twice: a YAML alias (*name) expanded
            self.aliases += 1
            if self.aliases > self.limits.aliases:
                raise _Slow
        else:
            self.seen.add(id(node))
        items = node.value
        self.count += len(items)
        if self.count > self.limits.values:
            raise _Slow
        depth += 1
        # Locals: this loop runs once per value in every file read. A plain scalar that no resolver
        # pattern starts like (most text: names, notes, ids) is text, and needs no look-up at all.
        scalar, resolved, miss, starts = yaml.ScalarNode, _RESOLVED.get, _MISS, _IMPLICIT
        if None in starts:  # pragma: no cover - only if someone added a wildcard resolver to PyYAML
            starts = _EVERY_START
        if node.__class__ is yaml.MappingNode:
            result: dict[str, Any] = {}
            known_key = _KEYS.get
            for key_node, value_node in items:
                key = known_key(key_node.value) if key_node.tag is True else None
                if key is None:
                    key = _key(key_node)
                if value_node.__class__ is scalar:
                    tag = value_node.tag
                    if tag is True:
                        text = value_node.value
                        if not text and node.flow_style and _split_by_comma(key_node, value_node):
                            raise _Slow  # the careful path says where, without the text
                        if text[:1] in starts:
                            value = resolved(text, miss)
                            result[key] = _plain(text) if value is miss else value
                        else:
                            result[key] = text
                    elif tag is False:
                        result[key] = value_node.value
                    else:
                        raise _Slow
                else:
                    result[key] = self.collection(value_node, depth)
            if len(result) != len(items):  # a key given twice: the careful path says which, and where
                raise _Slow
            return result
        out: list[Any] = []
        append = out.append
        for item in items:
            if item.__class__ is scalar:
                tag = item.tag
                if tag is True:
                    text = item.value
                    if text[:1] in starts:
                        value = resolved(text, miss)
                        append(_plain(text) if value is miss else value)
                    else:
                        append(text)
                elif tag is False:
                    append(item.value)
                else:
                    raise _Slow
            else:
                append(self.collection(item, depth))
        return out


class _EveryStart:
    """Stands in for the resolver table when PyYAML has a wildcard resolver: every scalar is looked at."""

    def __contains__(self, first: object) -> bool:  # pragma: no cover - see `_Fast.collection`
        return True


_EVERY_START = _EveryStart()


def _compose(text: str) -> yaml.Node | None:
    """The node tree of `text`, untagged (see `_Untagged`)."""
    composer = _Composer(text)
    try:
        return composer.get_single_node()
    finally:
        composer.dispose()


def _load_fast(text: str, limits: Limits, keep: bool = False) -> tuple[Any, yaml.Node | None]:
    """Values of a plain, valid document whose root is a mapping or list, or _Slow; and the node
    tree when `keep` is asked for (a caller that will look up many positions)."""
    # The cyclic garbage collector would run again and again over the young nodes and values, which
    # hold no cycles: on a cold start that was a third of the time spent reading the rules. Paused
    # only for this call; the node tree is dropped before the collector runs again, so it never has
    # to look at those objects at all.
    with collector.paused():
        try:
            root = _compose(text)
            if root is None or root.__class__ is yaml.ScalarNode:
                raise _Slow
            return _Fast(limits).collection(root, 0), root if keep else None
        except (yaml.YAMLError, RecursionError, ValueError):  # RecursionError: --limit depth raised very high
            raise _Slow from None
        finally:
            root = None  # freed here, while the collector is still paused


def _walk(root: yaml.Node, loc: Path_, key: bool, index: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """Position of `loc` in a node tree, as the careful path's tables give it: the deepest node on
    the way that exists, and for `key` the position of its key when it is a mapping entry.

    `index` holds each mapping already looked into, by key, so that many messages about one big
    mapping cost one pass over it, not one each.
    """
    node, at, key_at = root, _mark(root), None
    for part in loc:
        if node.__class__ is yaml.MappingNode:
            entries = index.get(id(node))
            if entries is None:
                entries = index[id(node)] = {}
                for key_node, value_node in node.value:
                    try:
                        entries.setdefault(_key(key_node), (key_node, value_node))
                    except _Slow:  # pragma: no cover - the fast path never keeps such a key
                        pass
            found = entries.get(part) if isinstance(part, str) else None
            if found is None:
                break
            key_at, node = _mark(found[0]), found[1]
        elif node.__class__ is yaml.SequenceNode and isinstance(part, int) and 0 <= part < len(node.value):
            node, key_at = node.value[part], None
        else:
            break
        at = _mark(node)
    return key_at if key and key_at else at


def load_text(
    text: str, path: str, limits: Limits = DEFAULT, *, positions: bool = False, what: str = "a profile"
) -> Located:
    """Parse one YAML document from `text`; `path` is only used in messages. `positions=True` keeps
    the node tree for a caller that looks up a position for every part (rule files), instead of
    composing it again on the first look-up.

    A plain, valid document (the usual profile or rule file) takes the fast path: libyaml composes
    it and one pass builds the values, keeping the text so that a message can still name any line
    and column. Anything the fast path does not take on (tags, merge keys, a limit crossed,
    invalid YAML, a scalar or empty document) takes the careful path, which keeps every position
    and reports the exact problem. `what` names the kind of file in messages ("a profile").
    """
    try:
        data, root = _load_fast(text, limits, positions)
        return Located(path, data, root=root, text=text)
    except _Slow:
        pass  # outside the handler, the careful path does not keep the fast path's frames alive
    refused = _unprintable(text, path)  # libyaml refuses these too, so only a file that failed is searched
    if refused is not None:
        raise refused
    return _load_positioned(text, path, limits, what)


def _events(text: str) -> Iterator[yaml.Event]:
    return yaml.parse(text, Loader=_Loader)


def _scan(text: str, path: str, limits: Limits) -> None:
    """Enforce depth and value count on the event stream, before any tree is built.

    The parser is a state machine in both libyaml and pure Python, so a file nested 100,000 deep
    is refused at the first level too many, with its position, instead of overflowing the
    recursive composer (RecursionError) or building a huge tree.
    """
    # Per open collection: is it a mapping, and is its next node a key?
    stack: list[list[bool]] = []
    count = 0
    for event in _events(text):
        if isinstance(event, (yaml.CollectionEndEvent)):
            stack.pop()
            continue
        if not isinstance(event, (yaml.NodeEvent)):
            continue
        is_key = bool(stack) and stack[-1][0] and stack[-1][1]
        if stack and stack[-1][0]:
            stack[-1][1] = not stack[-1][1]
        if not is_key:
            count += 1
            if count > limits.values:
                raise UnreadableInput(Problem(path, *_mark(event), "error", too_many_values(limits.values)))
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) + 1 > limits.depth:
                raise UnreadableInput(Problem(path, *_mark(event), "error", too_deep(limits.depth)))
            stack.append([isinstance(event, yaml.MappingStartEvent), True])


def _load_positioned(text: str, path: str, limits: Limits = DEFAULT, what: str = "a profile") -> Located:
    """The careful path: check the structure, compose nodes, keep every position, enforce the limits."""
    try:
        _scan(text, path, limits)
        node = yaml.compose(text, Loader=_Loader)
        if node is None:
            raise UnreadableInput(Problem(path, 1, 1, "error", "the file is empty; fill it in (see `advisor new`)"))
        builder = _Builder(path, limits)
        data = builder.build(node, (), 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "\t" in text and "tab" in str(exc).lower() or reason.startswith("found character '\\t'"):
            reason = "a tab character; indent with spaces"
        message = f"invalid YAML: {reason}"
        if reason.startswith(("but found another document", "did not find expected <document start>")) or (
            reason.startswith("expected '<document start>'")  # the pure-Python parser's words: text after `...`
        ):
            message = second_document(line, what)
        if reason == "exceeded maximum nesting depth" and limits.depth < _LIBYAML_DEPTH:
            message = too_deep(limits.depth)  # libyaml looks ahead, so its own cap can trip before ours
        raise UnreadableInput(Problem(path, line, col, "error", message)) from None
    except yaml.YAMLError as exc:
        raise UnreadableInput(Problem(path, 1, 1, "error", f"invalid YAML: {exc}")) from None
    except RecursionError:
        # Only when --limit depth is raised past what the recursive composer can follow.
        raise UnreadableInput(
            Problem(path, 1, 1, "error", "nesting too deep for the YAML reader; flatten the structure")
        ) from None
    return Located(path, data, builder.values, builder.keys)


def load_file(path: Path, limits: Limits = DEFAULT, *, positions: bool = False, what: str = "a profile") -> Located:
    """Read and parse a YAML file (see load_text for `positions` and `what`)."""
    return load_text(read_text(path, limits), str(path), limits, positions=positions, what=what)
