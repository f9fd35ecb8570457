"""Safe YAML loading that remembers where every value came from, so errors can name line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, UnreadableInput

try:  # libyaml parses about ten times faster; the pure-Python parser is the fallback.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path_ = tuple[str | int, ...]

# Limits that keep a hostile file from exhausting memory or the stack.
MAX_DEPTH = 40
MAX_NODES = 200_000
MAX_ALIAS_EXPANSIONS = 1_000


@dataclass
class Located:
    """A loaded document plus the 1-based (line, col) of each value and each mapping key."""

    path: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    text: str | None = None  # the source, when positions are worked out only if an error needs them

    def where(self, loc: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of `loc`, falling back to the nearest enclosing node that has one."""
        if self.text is not None and not self.values:
            positioned = _load_positioned(self.text, self.path)
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

    def problem(
        self, loc: Path_, message: str, *, key: bool = False, rule_id: str = "", level: str = "error"
    ) -> Problem:
        line, col = self.where(loc, key=key)
        return Problem(self.path, line, col, level, message, rule_id)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into plain values, rejecting what a safe profile never needs."""

    def __init__(self, path: str):
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.nodes = 0
        self.alias_expansions = 0
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> UnreadableInput:
        line, col = _mark(node)
        return UnreadableInput(Problem(self.path, line, col, "error", message))

    def build(self, node: yaml.Node, loc: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"the file has more than {MAX_NODES} values; split it or trim it")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels; flatten the structure")
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            # The same collection node reached twice means a YAML alias (*name) was expanded.
            self.alias_expansions += 1
            if self.alias_expansions > MAX_ALIAS_EXPANSIONS:
                raise self.fail(node, "too many YAML alias expansions (*name); write the values out instead")
        self.seen.add(id(node))
        self.values[loc] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise self.fail(node, f"unsupported YAML tag '{node.tag}'; remove it")
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys (<<) are not supported; write the keys out")
                key = self.build(key_node, loc + ("<key>",), depth + 1)
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
        if not node.tag.startswith("tag:yaml.org,2002:") or node.tag.endswith((":binary", ":set", ":omap", ":pairs")):
            raise self.fail(node, f"unsupported YAML tag '{node.tag}'; remove it")
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise self.fail(node, f"cannot read the value {node.value!r}: {exc}") from None


def read_text(path: Path) -> str:
    """The file as text (UTF-8, a leading BOM allowed), or an UnreadableInput naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableInput(Problem(str(path), 1, 1, "error", "file not found; check the path")) from None
    except IsADirectoryError:
        raise UnreadableInput(Problem(str(path), 1, 1, "error", "is a folder, not a file")) from None
    except OSError as exc:
        raise UnreadableInput(Problem(str(path), 1, 1, "error", f"cannot read the file: {exc.strerror}")) from None
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


# Anchors, aliases, tags and merge keys take the careful path, which limits alias expansion.
_CAREFUL = ("&", "*", "!", "<<")


def load_text(text: str, path: str) -> Located:
    """Parse one YAML document from `text`; `path` is only used in messages.

    Most profiles are plain YAML and valid: they load at libyaml's speed, and the positions that
    error messages need are worked out only when an error is reported. Anything unusual (anchors,
    aliases, tags, merge keys) or anything that fails takes the careful path, which keeps every
    position and reports the exact problem.
    """
    if not any(marker in text for marker in _CAREFUL):
        try:
            data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
            data = None
        if isinstance(data, (dict, list)):
            return Located(path, data, text=text)
    return _load_positioned(text, path)


def _load_positioned(text: str, path: str) -> Located:
    """The careful path: compose nodes, keep every position, enforce the limits."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "\t" in text and "tab" in str(exc).lower() or reason.startswith("found character '\\t'"):
            reason = "a tab character; indent with spaces"
        raise UnreadableInput(Problem(path, line, col, "error", f"invalid YAML: {reason}")) from None
    except yaml.YAMLError as exc:
        raise UnreadableInput(Problem(path, 1, 1, "error", f"invalid YAML: {exc}")) from None
    except RecursionError:
        raise UnreadableInput(Problem(path, 1, 1, "error", "nesting too deep; flatten the structure")) from None
    if node is None:
        raise UnreadableInput(Problem(path, 1, 1, "error", "the file is empty; fill it in (see `advisor new`)"))
    builder = _Builder(path)
    data = builder.build(node, (), 0)
    return Located(path, data, builder.values, builder.keys)


def load_file(path: Path) -> Located:
    """Read and parse a YAML file, keeping positions."""
    return load_text(read_text(path), str(path))
