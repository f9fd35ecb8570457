"""Safe YAML loading that remembers where every value came from, so errors can name line and column."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, UnreadableInput
from .limits import DEFAULT, Limits, raise_hint

try:  # libyaml parses about ten times faster; the pure-Python parser is the fallback.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A loaded document plus the 1-based (line, col) of each value and each mapping key."""

    path: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    text: str | None = None  # the source, when positions are worked out only if an error needs them
    limits: Limits = DEFAULT  # the limits it was loaded under, for working out positions later

    def where(self, loc: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of `loc`, falling back to the nearest enclosing node that has one."""
        if self.text is not None and not self.values:
            positioned = _load_positioned(self.text, self.path, self.limits)
            self.values, self.keys = positioned.values, positioned.keys
        table = self.keys if key else self.values
        probe = tuple(loc)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def where_early(self, loc: Path_) -> tuple[int, int]:
        """Position of the value at `loc`, read from the text only up to it when positions were not
        kept: a limit refuses a huge file without building its whole tree first."""
        if self.text is not None and not self.values:
            found = _find(self.text, tuple(loc))
            if found:
                return found
        return self.where(loc)

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


def _open_without_waiting(path: Path):  # noqa: ANN202 - a binary file object
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
        with _open_without_waiting(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > cap:
                raise too_big(size)
            raw = handle.read(cap + 1)
    except FileNotFoundError:
        raise refuse("file not found; check the path") from None
    except IsADirectoryError:
        raise refuse("is a folder, not a file") from None
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror}") from None
    if len(raw) > cap:
        raise too_big(None)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UnreadableInput(
            Problem(str(path), line, col, "error", "the file is not UTF-8 text; save it as UTF-8")
        ) from None


class _FastLoader(_Loader):  # type: ignore[misc,valid-type]
    """libyaml's safe loader, refusing duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201 - PyYAML's signature
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            raise yaml.constructor.ConstructorError(None, None, "duplicate key", node.start_mark)
        return mapping


# libyaml refuses nesting deeper than this by itself.
_LIBYAML_DEPTH = 1000

# Anchors, aliases, tags and merge keys take the careful path, which limits alias expansion.
_CAREFUL = ("&", "*", "!", "<<")


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


def load_text(text: str, path: str, limits: Limits = DEFAULT) -> Located:
    """Parse one YAML document from `text`; `path` is only used in messages.

    Most profiles are plain YAML and valid: they load at libyaml's speed, and the positions that
    error messages need are worked out only when an error is reported. Anything unusual (anchors,
    aliases, tags, merge keys), anything beyond a limit, or anything that fails takes the careful
    path, which keeps every position and reports the exact problem.
    """
    if not any(marker in text for marker in _CAREFUL):
        try:
            data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
            data = None
        if isinstance(data, (dict, list)) and beyond(data, limits) is None:
            return Located(path, data, text=text, limits=limits)
    return _load_positioned(text, path, limits)


def _events(text: str) -> Iterator[yaml.Event]:
    return yaml.parse(text, Loader=_Loader)


def _find(text: str, loc: Path_) -> tuple[int, int] | None:
    """The 1-based (line, col) of the value at `loc`, streaming events and stopping there."""
    # Per open collection: [is_mapping, next node is a key, current key or next list index].
    stack: list[list[Any]] = []
    path: list[str | int] = []
    try:
        for event in _events(text):
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                if path:
                    path.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            here: tuple[str | int, ...] = ()
            if stack:
                top = stack[-1]
                if top[0]:
                    top[1] = not top[1]
                    if not top[1]:  # this node was a key
                        top[2] = str(getattr(event, "value", ""))
                        continue
                    here = (top[2],)
                else:
                    here = (top[2],)
                    top[2] += 1
            current = tuple(path) + here
            if current == loc:
                return _mark(event)
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(
                    [
                        isinstance(event, yaml.MappingStartEvent),
                        True,
                        None if isinstance(event, yaml.MappingStartEvent) else 0,
                    ]
                )
                path.extend(here)
    except yaml.YAMLError:
        return None
    return None


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


def _load_positioned(text: str, path: str, limits: Limits = DEFAULT) -> Located:
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
    return Located(path, data, builder.values, builder.keys, limits=limits)


def load_file(path: Path, limits: Limits = DEFAULT) -> Located:
    """Read and parse a YAML file, keeping positions."""
    return load_text(read_text(path, limits), str(path), limits)
