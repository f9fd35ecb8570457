"""The sandboxed Jinja2 environment briefs are rendered in, and the cache of compiled templates."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import sys
import threading
import time
from pathlib import Path
from string import Formatter
from types import BuiltinMethodType, CodeType
from typing import Any

import jinja2
from jinja2.bccache import Bucket
from jinja2.sandbox import SandboxedEnvironment

# What a dict answers as attributes (its methods and object's); any other `d.name` is its key.
_DICT_ATTRIBUTES = frozenset(dir(dict))

# Bump when what this module writes to the cache changes meaning.
CACHE_FORMAT = 1
CACHE_KEEP = 64  # compiled templates kept in the cache folder, most recently written first


class Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with two shortcuts that change no result, only the time a brief takes.

    A brief makes hundreds of attribute look-ups and dozens of str.format calls, and the sandbox
    makes both slow:
    * `L.title` on a dict: the sandbox first asks for an attribute, fails with an exception, then
      takes the key. A dict has no attributes but its methods, so for any other name the key is
      what the sandbox would have returned anyway; take it directly.
    * `L.kv.format(k=…, v=…)`: the sandbox formats in Python (about 15 µs a call) so that a field
      cannot reach `{v.__class__}` or `{v[0]}`. A format string whose fields are all plain names or
      positions reaches nothing but the arguments, so str.format itself is as safe and as exact,
      and it is called directly rather than through the sandbox's checks for other callables.
    Everything else (other objects, other format strings, calls, operators) goes through the sandbox.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        if type(obj) is str and attribute == "format" and _plain_fields(obj):
            return obj.format  # what the sandbox would return too (see wrap_str_format), without its checks
        return super().getattr(obj, attribute)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's names
        # A plain str.format (see wrap_str_format) is called directly: Jinja's route (is_safe_callable,
        # then Context.call asking the method how it wants to be passed the context) is most of the
        # cost of a `.format` in a brief and would end in the same call.
        if type(__obj) is BuiltinMethodType and type(__obj.__self__) is str and __obj.__name__ == "format":
            if _plain_fields(__obj.__self__):
                kwargs.pop("_loop_vars", None)  # what the compiled code passes along for Context.call
                kwargs.pop("_block_vars", None)
                return __obj(*args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        if (
            type(value) is BuiltinMethodType
            and type(value.__self__) is str
            and value.__name__ == "format"
            and _plain_fields(value.__self__)
        ):
            return value
        return super().wrap_str_format(value)


@functools.lru_cache(maxsize=512)
def _plain_fields(fmt: str) -> bool:
    """Whether every field of the format string is a plain name or position: no `.attr`, no `[key]`,
    no fields nested in a format spec."""
    try:
        fields = list(Formatter().parse(fmt))
    except ValueError:
        return False  # malformed: the sandbox's formatter reports it
    return all(
        name is None or ("." not in name and "[" not in name and "{" not in (spec or "")) for _, name, spec, _ in fields
    )


def environment(directory: Path, filters: dict[str, Any], cache: bool = True) -> Sandbox:
    """The environment for a folder of templates, with our `filters`: strict about undefined names,
    no autoescape (the view is escaped for Markdown already), templates compiled once per process
    and, when a private cache folder can be had, once per template text (see CompiledTemplates)."""
    env = Sandbox(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # an Advisor is loaded again to see edits (see `brief --watch`)
    )
    env.filters.update(filters)
    folder = cache_folder() if cache else None
    if folder is not None:
        env.bytecode_cache = CompiledTemplates(folder)
    return env


def cache_folder() -> Path | None:
    """$XDG_CACHE_HOME/advisor/templates (~/.cache by default), if only this user can change it.

    Compiled templates are Python code, so the folder is used only when it and every folder above
    it belong to this user or root and no one else can write to them (a sticky folder like /tmp
    excepted: there others cannot rename what is ours). Otherwise (a shared or read-only place, a
    missing home) templates are compiled each start."""
    if not hasattr(os, "getuid"):
        return None
    try:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        root = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
        folder = root / "advisor" / "templates"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = folder.resolve(strict=True)
        if not all(_only_ours(os.lstat(p), sticky_ok=p != folder) for p in (folder, *folder.parents)):
            return None
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return folder


def _only_ours(st: os.stat_result, *, sticky_ok: bool = False) -> bool:
    """A folder or file that only this user (or root) can change."""
    if st.st_uid not in (os.getuid(), 0):
        return False
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return sticky_ok and stat.S_ISDIR(st.st_mode) and bool(st.st_mode & stat.S_ISVTX)
    return True


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates on disk, so a start skips Jinja's compiler (about 70 ms for the brief).

    An entry is found by what the compiled code depends on: the template's text and name, Jinja's
    and Python's versions, and all the environment's settings the compiler reads. Editing a
    template, upgrading Jinja or changing the options therefore never reuses stale code; the same
    text in another folder shares the entry (the code is told its file again when loaded, for
    error messages). Entries are written to a temporary file and renamed into place, so parallel
    starts see a whole entry or none. Any failure to read or write the cache just compiles.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None, source: str) -> Bucket:
        key = hashlib.sha256(f"{_compiler_inputs(environment)}\0{name}\0{source}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        if bucket.code is not None and filename is not None:
            bucket.code = _refiled(bucket.code, filename)
        return bucket

    def _path(self, bucket: Bucket) -> Path:
        return self.folder / f"{bucket.key}.jinja"

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            fd = os.open(self._path(bucket), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with open(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or not _only_ours(st):
                    raise PermissionError("a cache entry this user did not write alone")
                bucket.load_bytecode(f)
        except Exception:  # missing, unreadable, damaged or not ours: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        path = self._path(bucket)
        temp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(temp, "wb") as f:
                bucket.write_bytecode(f)
            os.replace(temp, path)
        except OSError:  # read-only or full: the next start compiles again
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        """Keep the CACHE_KEEP entries written last (each template edit makes a new entry), and drop
        temporary files a killed start left more than an hour ago."""
        with contextlib.suppress(OSError):  # another start may be pruning too
            entries = sorted((e.stat().st_mtime, e.path, e.name) for e in os.scandir(self.folder))
            compiled = [path for _, path, name in entries if name.endswith(".jinja")]
            stale = [path for mtime, path, name in entries if name.endswith(".tmp") and mtime < time.time() - 3600]
            for path in compiled[:-CACHE_KEEP] + stale:
                os.unlink(path)


def _compiler_inputs(env: jinja2.Environment) -> str:
    """Everything besides the template's text that Jinja's compiler reads, so that code compiled under
    other settings (or by an unsandboxed environment, whose code calls functions directly) is never
    taken from the cache."""

    def how_called(function: Any) -> tuple[str, str, str]:
        kind = getattr(function, "jinja_pass_arg", None)  # pass_context and the like change the call
        return getattr(function, "__module__", ""), getattr(function, "__qualname__", ""), str(kind)

    options = tuple(
        getattr(env, name)
        for name in (
            "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
            "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
            "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "autoescape", "optimized",
            "is_async", "sandboxed",
        )
    )  # fmt: skip
    return repr((
        CACHE_FORMAT, jinja2.__version__, sys.implementation.cache_tag, type(env).__module__, type(env).__qualname__,
        env.code_generator_class.__qualname__, options, how_called(env.finalize) if env.finalize else None,
        sorted(getattr(env, "intercepted_binops", ())), sorted(getattr(env, "intercepted_unops", ())),
        sorted((name, how_called(f)) for name, f in env.filters.items()),
        sorted((name, how_called(f)) for name, f in env.tests.items()), sorted(env.extensions),
    ))  # fmt: skip


def _refiled(code: CodeType, filename: str) -> CodeType:
    """The compiled template as if compiled from `filename` (tracebacks and error messages name it)."""
    consts = tuple(_refiled(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
