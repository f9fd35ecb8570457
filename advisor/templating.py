"""The sandboxed Jinja2 environment briefs are rendered in, and the cache of compiled templates."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from types import BuiltinMethodType, CodeType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.bccache import Bucket
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Macro
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .cache import PrivateCache, private_folder

# What a dict answers as attributes (its methods and object's); any other `d.name` is its key.
_DICT_ATTRIBUTES = frozenset(dir(dict))

# Bump when what this module writes to the cache changes meaning.
CACHE_FORMAT = 5
CACHE_KEEP = 64  # compiled templates kept in the cache folder, most recently written first


# --- limits on what a template may cost ---------------------------------------------------------
#
# A template is a trainer's file, and Jinja would happily work out `{{ 9**9**9 }}` (a number of 370
# million digits), `'a' * 10**10`, loops inside loops, or a macro that calls itself, and hang or run
# out of memory doing it: while compiling, too, since Jinja folds constant expressions then. So:
# nothing is evaluated while compiling (no optimizer, and every output goes to the render's budget,
# which keeps Jinja from folding output); operators that can make something huge check their operands
# first; and every render has a budget of steps (loop items, calls, outputs) and of text produced.

MAX_SIZE = 1_000_000  # characters of one string, or items of one list, an operator or call may make
MAX_INT_BITS = 64_000  # about 19,000 digits: `**` and `*` on integers beyond it are refused
MAX_STEPS = 250_000  # loop items, calls and output statements in one render (a brief takes about 500)
MAX_OUTPUT = 10_000_000  # characters produced in one render (macros' and {% set %} blocks' included)
MAX_TEMPLATE_BYTES = 1_000_000  # a template file

BUDGET = " budget"  # the render's Budget, among the variables: not a name a template can spell


class TemplateLimit(SecurityError):
    """A template asked for more time or memory than a brief may take."""


class Budget:
    """What one render has spent; refuses to go on past MAX_STEPS or MAX_OUTPUT.

    The compiled template calls it directly (see _Generator): `put` for every output statement (a
    few `{{ … }}` and the text between them), `each` for a loop's items; Sandbox.call steps for a call."""

    __slots__ = ("steps", "output")

    def __init__(self) -> None:
        self.steps = 0
        self.output = 0

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            self._refuse()

    def put(self, expressions: int, pieces: tuple[str, ...]) -> str:
        """An output statement's text, its pieces (literal text, and each `{{ … }}` made a str) joined:
        a step for the statement and one for each expression, and its length counted."""
        text = "".join(pieces)
        self.steps += 1 + expressions
        self.output += len(text)
        if self.steps > MAX_STEPS or self.output > MAX_OUTPUT:
            self._refuse()
        return text

    def each(self, iterable: Any) -> Any:
        """Each item of a loop, one step each."""
        for item in iterable:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self._refuse()
            yield item

    def _refuse(self) -> None:
        if self.steps > MAX_STEPS:
            raise TemplateLimit(
                f"more than {MAX_STEPS:,} loop steps, calls and outputs in one brief; "
                "a loop or a macro that calls itself runs too long"
            )
        raise TemplateLimit(f"the template writes more than {MAX_OUTPUT:,} characters; a brief is far shorter")


class _FreshBudget:
    """The budget of a context the render gave none (a template imported without context, whose module
    Jinja keeps across renders, or one rendered without a budget): a new Budget for each use, so
    nothing it spends is carried into the next render."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Budget(), name)


_FRESH = _FreshBudget()


class _Context(jinja2.runtime.Context):
    """A render's variables, with its Budget found once (the compiled template reaches it as
    `context.budget` at every output, rather than looking the variable up each time). The budget
    variable is not a name a template can spell, so it never changes during a render: a derived
    context (an include, a block, a macro's caller) starts from the same variables and finds the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        budget = self.parent.get(BUDGET)
        self.budget = budget if isinstance(budget, Budget) else _FRESH


def _budget(context: Any) -> Budget | _FreshBudget:
    """The render's budget (a fresh one per use where the context has none)."""
    return context.budget if isinstance(context, _Context) else _FRESH


def _too_big(what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} would be too large (over {MAX_SIZE:,} characters or items); use smaller values")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) and not isinstance(value, bool) else 0


# printf-style widths and precisions (`%999999999d`), and format-spec widths (`{:>999999999}`).
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
_BIG_NUMBER = re.compile(r"\d{7,}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be huge, before Python spends the time and memory."""
    if operator == "**":
        if isinstance(right, int) and not isinstance(right, bool) and right > 0 and _int_bits(left) > 1:
            if (_int_bits(left) - 1) * right > MAX_INT_BITS:
                raise TemplateLimit(f"this power would be a number of more than {MAX_INT_BITS * 3 // 10:,} digits")
    elif operator == "*":
        size, times = (_size(left), right) if _size(left) is not None else (_size(right), left)
        if size is not None:
            if isinstance(times, int) and size * max(times, 0) > MAX_SIZE:
                raise _too_big("this repetition")
        elif _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise TemplateLimit(f"this product would be a number of more than {MAX_INT_BITS * 3 // 10:,} digits")
    elif operator == "+":
        a, b = _size(left), _size(right)
        if a is not None and b is not None and a + b > MAX_SIZE:
            raise _too_big("this concatenation")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


def _total(items: Any) -> int:
    """The characters or items the strings and lists among `items` hold (what joining them makes)."""
    if not isinstance(items, (list, tuple)):
        return 0
    return sum(len(x) for x in items if isinstance(x, (str, list, tuple)))


def _check_parts(parts: Any, what: str) -> None:
    """Joining, formatting or summing `parts` would make more than MAX_SIZE (doubling a text in a
    loop with `'%s%s' % (s, s)`, `'{}{}'.format(s, s)`, `[s, s]|join` reaches any size fast)."""
    if _total(parts) > MAX_SIZE:
        raise _too_big(what)


def _check_format(fmt: str, fields: int, values: Any) -> None:
    """Filling `fmt`'s `fields` with `values` would make more than MAX_SIZE: the values are too long
    together, or each field may write the longest once more (`('{0}' * 300000).format(s)` and
    `('%(a)s' * 300000) % {'a': s}` are short, and so are their values, but their results are not).
    (One pass over the values: a brief fills a format dozens of times.)"""
    total = len(fmt)  # what joining the format and its values makes (see _check_parts)
    longest = 0  # the longest value as text
    for value in values:
        if type(value) is str:
            size = len(value)
            total += size
        else:
            if isinstance(value, (str, list, tuple)):
                total += len(value)
                if total > MAX_SIZE:
                    raise _too_big("this formatted text")
            size = len(str(value))
        if size > longest:
            longest = size
    if total > MAX_SIZE or len(fmt) + fields * longest > MAX_SIZE:
        raise _too_big("this formatted text")


def _check_printf(fmt: str, args: Any) -> None:
    """`'%999999999d' % 1`, a `*` width taken from the arguments, or arguments too long together."""
    values = args if isinstance(args, tuple) else (args,)
    _check_format(fmt, fmt.count("%"), (*values, *(args.values() if isinstance(args, Mapping) else ())))
    for match in _PRINTF_WIDTH.finditer(fmt):
        for part in match.groups():
            if part and part != "*" and int(part) > MAX_SIZE:
                raise _too_big("this formatted text")
    if "*" in fmt and any(_int_bits(v) and abs(v) > MAX_SIZE for v in values):
        raise _too_big("this formatted text")


def _check_call(obj: Any, args: tuple, kwargs: dict) -> None:
    """A str or list method asked for a huge result: a width (`'x'.center(10**9)`, `'{:>999999999}'
    .format(x)`), or `replace` multiplying its text."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, (str, list, bytes)):
        return
    values = (*args, *kwargs.values())
    if any(_int_bits(v) and abs(v) > MAX_SIZE for v in values):
        raise _too_big(f"the result of {getattr(obj, '__name__', 'this call')}()")
    name = getattr(obj, "__name__", "")
    if name == "format" and isinstance(owner, str) and _BIG_NUMBER.search(owner):
        raise _too_big("this formatted text")
    if name == "join" and args and isinstance(owner, str) and isinstance(args[0], (list, tuple)):
        _check_parts((*args[0], owner * min(len(args[0]), 2)), "the result of join()")
    if name == "replace" and len(args) >= 2 and isinstance(args[1], str) and isinstance(args[0], str):
        grows = len(args[1]) - len(args[0])
        if grows > 0 and len(owner) + (len(owner) + 1) * grows > MAX_SIZE:
            raise _too_big("the result of replace()")


def _bounded_filter(name: str, function: Any) -> Any:
    """A built-in filter that checks its width or size arguments first (`|center(10**9)`), with the
    same way of being called (pass_context and the like) as the filter it wraps."""

    # The checks this filter takes, chosen once here rather than by its name at every call (a brief
    # joins and replaces a few dozen times).
    printf, replace, parts = name == "format", name == "replace", name in ("join", "sum")
    what = f"the result of |{name}"

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in (*args, *kwargs.values()) if not isinstance(a, _JINJA_STATE)]
        for v in values:  # a width or count (an int, not a bool) past MAX_SIZE
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_SIZE:
                raise _too_big(what)
        if printf and values and isinstance(values[0], str):
            _check_printf(values[0], tuple(values[1:]))
        if replace and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
            _check_call(values[0].replace, tuple(values[1:3]), {})
        if parts and values:
            _check_parts(values[0], what)
        return function(*args, **kwargs)

    return checked


# What Jinja passes a filter besides the template's values (pass_context and the like).
_JINJA_STATE = (jinja2.Environment, jinja2.runtime.Context, nodes.EvalContext)


def _bounded_fill(name: str, function: Any) -> Any:
    """One of our filters (`fill`, `fmt`, `md`), refused when filling its text's fields would make
    a huge text (`('{n}' * 300000) | fill(n=s)`). `fmt` is str.format, outside the sandbox: a field
    that reaches into its value (`{v.__class__}`) is refused too."""

    @functools.wraps(function)
    def checked(text: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(text, str):
            _check_format(text, text.count("{"), (*args, *kwargs.values()))
            if name == "fmt" and not _plain_fields(str(text)):
                raise SecurityError(f"|{name} takes plain field names only, like {{name}} or {{0}}")
        return function(text, *args, **kwargs)

    return checked


def _bounded_lipsum(lipsum: Any) -> Any:
    """Jinja's placeholder-text global, refusing more than a few hundred paragraphs or words."""

    @functools.wraps(lipsum)
    def checked(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
        if any(isinstance(v, int) and v > 1000 for v in (n, min, max)):
            raise _too_big("this placeholder text")
        return lipsum(n, html, min, max)

    return checked


# The built-in filters that take a width, a count or a format, and so could make a huge text.
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "format", "replace", "batch", "slice", "join", "sum")


# Expressions joined by one Budget.put at most: what a statement makes before the budget counts it stays
# a few values' worth, as when each was counted alone (a statement of a thousand `{{ s }}` is many calls).
OUTPUT_CHUNK = 16


def _output_chunks(pieces: list[Any]) -> Any:
    """An output statement's pieces, in runs of at most OUTPUT_CHUNK expressions (str pieces are text):
    (the run's number of expressions, its pieces)."""
    chunk: list[Any] = []
    expressions = 0
    for piece in pieces:
        if not isinstance(piece, str):
            if expressions == OUTPUT_CHUNK:
                yield expressions, chunk
                chunk, expressions = [], 0
            expressions += 1
        chunk.append(piece)
    if chunk:
        yield expressions, chunk


class _Generator(CodeGenerator):
    """Jinja's code generator, writing the budget's checks in: every output statement (its text and
    its `{{ … }}`) goes through `context.budget.put`, every loop's iterable through
    `context.budget.each`, every `~` through `environment.joined` (see Budget); and `x.format(…)`
    through `environment.call_format` (see Sandbox). (Jinja allows no new node types, so the loop's
    iterable is recognised by identity when it is visited.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: set[int] = set()

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._counted:
            self._counted.discard(id(node))
            self.write("context.budget.each(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if not node.recursive:  # a recursive loop's calls, loop(…), go through Sandbox.call
            self._counted.add(id(node.iter))
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)
            return
        self.write("environment.joined(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        # One budget call per output statement (per OUTPUT_CHUNK expressions of it), which joins its
        # pieces: Jinja's code would yield each piece, and a call for each `{{ … }}` is hundreds a brief.
        if frame.require_output_check:  # as Jinja does: with an `extends`, nothing is output outside blocks
            if self.has_known_extends:
                return
            self.writeline("if parent_template is None:")
            self.indent()
        finalize = self._make_finalize()
        for expressions, chunk in _output_chunks(self._output_pieces(node, frame, finalize)):
            put = f"context.budget.put({expressions}, ("
            first = next((child for child in chunk if not isinstance(child, str)), node)
            self.writeline(f"yield {put}" if frame.buffer is None else f"{frame.buffer}.append({put}", first)
            for child in chunk:
                if isinstance(child, str):  # literal text (escaped already where the template autoescapes)
                    self.write(repr(child) + ", ")
                    continue
                self.newline(child)
                self._output_child_pre(child, frame, finalize)
                self.visit(child, frame)
                self._output_child_post(child, frame, finalize)
                self.write(",")
            self.write("))" if frame.buffer is None else ")))")
        if frame.require_output_check:
            self.outdent()

    def _output_pieces(
        self, node: nodes.Output, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> list[str | nodes.Expr]:
        """The statement's children: literal text as a str (as Jinja makes it), other nodes as they are."""
        pieces: list[str | nodes.Expr] = []
        for child in node.nodes:
            const = None
            if isinstance(child, nodes.TemplateData):
                with contextlib.suppress(nodes.Impossible):  # volatile autoescape: decided when rendering
                    const = self._output_child_to_const(child, frame, finalize)
            if const is not None and pieces and isinstance(pieces[-1], str):
                pieces[-1] += const
            else:
                pieces.append(child if const is None else const)
        return pieces

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        # `text.format(…)` (most calls in a brief: `L.kv.format(k=…, v=…)`) goes to Sandbox.call_format
        # with the text itself, rather than to Sandbox.getattr for its method and then to Sandbox.call.
        # Anything but a str is resolved as before, before the arguments are worked out (a str's
        # `format` is always there, so looking it up after them changes nothing).
        target = node.node
        if (
            not isinstance(target, nodes.Getattr)
            or target.attr != "format"
            or forward_caller
            or self.environment.is_async
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
        ):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        self.write("environment.call_format(context, (t_attr if type(t_attr := ")
        self.visit(target.node, frame)
        self.write(") is str else environment.getattr(t_attr, 'format'))")
        extra_kwargs = {"_loop_vars": "_loop_vars"} if frame.loop_frame else {}
        if frame.block_frame:
            extra_kwargs["_block_vars"] = "_block_vars"
        self.signature(node, frame, extra_kwargs or None)
        self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        # `d.name` on a plain dict (a label, a part of the view: most look-ups in a brief) reads the key
        # in place, without a call: what Sandbox.getattr returns for a dict and a name that is none of
        # its methods. Anything else (another object, a missing key, a method's name) goes through
        # Sandbox.getattr as before. `t_attr` is no name Jinja gives a variable (theirs are l_…, t_<n>).
        if node.attr in _DICT_ATTRIBUTES or self.environment.is_async:
            super().visit_Getattr(node, frame)
            return
        key = repr(node.attr)
        self.write("(t_attr[" + key + "] if type(t_attr := ")
        self.visit(node.node, frame)
        self.write(f") is dict and {key} in t_attr else environment.getattr(t_attr, {key}))")


class _BoundedLoader(jinja2.FileSystemLoader):
    """Templates from a folder, refusing one too large to be a template before reading it
    (a FIFO or device is not a file to Jinja's loader: it is not found)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        from jinja2.loaders import split_template_path

        for folder in self.searchpath:
            path = os.path.join(folder, *split_template_path(template))
            with contextlib.suppress(OSError):
                size = os.stat(path).st_size
                if stat.S_ISREG(os.stat(path).st_mode) and size > MAX_TEMPLATE_BYTES:
                    raise TemplateLimit(
                        f"the template is {size:,} bytes, over the limit of {MAX_TEMPLATE_BYTES:,}; a template is far shorter"
                    )
                break
        return super().get_source(environment, template)


class Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with shortcuts that change no result, only the time a brief takes.

    A brief makes hundreds of attribute look-ups, dozens of str.format calls and a few macro calls,
    and the sandbox makes them slow:
    * `L.title` on a dict: the sandbox first asks for an attribute, fails with an exception, then
      takes the key. A dict has no attributes but its methods, so for any other name the key is
      what the sandbox would have returned anyway; take it directly.
    * `L.kv.format(k=…, v=…)`: the sandbox formats in Python (about 15 µs a call) so that a field
      cannot reach `{v.__class__}` or `{v[0]}`. A format string whose fields are all plain names or
      positions reaches nothing but the arguments, so str.format itself is as safe and as exact,
      and it is called directly rather than through the sandbox's checks for other callables
      (compiled as one call_format: see _Generator.visit_Call).
    * `bullets(…)`, a template's own macro: called as Jinja's route would end, without its probes.
    Everything else (other objects, other format strings, calls, operators) goes through the sandbox.
    """

    code_generator_class = _Generator
    context_class = _Context
    # Intercepted operators are never folded while compiling, and go through call_binop when rendering.
    intercepted_binops = frozenset({"**", "*", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def joined(self, context: Any, parts: tuple) -> str:
        """`a ~ b`, refused when it would be huge (doubling a text in a loop reaches any size fast)."""
        texts = [str(p) for p in parts]
        if sum(map(len, texts)) > MAX_SIZE:
            raise _too_big("this joined text")
        return "".join(texts)

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
        _budget(__context).step()
        if type(__obj) is BuiltinMethodType and type(__obj.__self__) is str and __obj.__name__ == "format":
            if _plain_fields(__obj.__self__):
                kwargs.pop("_loop_vars", None)  # what the compiled code passes along for Context.call
                kwargs.pop("_block_vars", None)
                _check_format(__obj.__self__, __obj.__self__.count("{"), (*args, *kwargs.values()))
                return __obj(*args, **kwargs)
        if type(__obj) is Macro:
            # A template's own macro: where Jinja's route ends (Context.call hands Macro.__call__ the
            # eval context), without asking the macro how it wants to be called. A template cannot mark
            # a macro unsafe, and it has no `__self__` for _check_call to look at.
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
            try:
                return __obj(__context.eval_ctx, *args, **kwargs)
            except StopIteration:  # as Context.call
                return __context.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_format(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - as call
        """`obj.format(…)` as compiled by _Generator.visit_Call: `obj` is a str (whose `format` is looked
        up here, as getattr would) or what getattr found already; then as call() would."""
        if type(__obj) is not str:
            return __self.call(__context, __obj, *args, **kwargs)
        if not _plain_fields(__obj):
            return __self.call(__context, __self.getattr(__obj, "format"), *args, **kwargs)
        _budget(__context).step()
        kwargs.pop("_loop_vars", None)
        kwargs.pop("_block_vars", None)
        _check_format(__obj, __obj.count("{"), (*args, *kwargs.values()))
        return __obj.format(*args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        if (
            type(value) is BuiltinMethodType
            and type(value.__self__) is str
            and value.__name__ == "format"
            and _plain_fields(value.__self__)
        ):
            return value
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            # Widths written in the format (`{:>999999999}`) or passed to it (`{:{}}`, format_map's values).
            values = [*args, *kwargs.values(), *(args[0].values() if args and isinstance(args[0], dict) else ())]
            if _BIG_NUMBER.search(fmt) or any(_int_bits(v) and abs(v) > MAX_SIZE for v in values):
                raise _too_big("this formatted text")
            _check_format(fmt, fmt.count("{"), values)
            return wrapped(*args, **kwargs)

        return checked


@functools.lru_cache(maxsize=512)
def _plain_fields(fmt: str) -> bool:
    """Whether every field of the format string is a plain name or position: no `.attr`, no `[key]`,
    no fields nested in a format spec."""
    try:
        fields = list(Formatter().parse(fmt))
    except ValueError:
        return False  # malformed: the sandbox's formatter reports it
    return all(
        name is None
        or ("." not in name and "[" not in name and "{" not in (spec or "") and not _BIG_NUMBER.search(spec or ""))
        for _, name, spec, _ in fields
    )


def environment(directory: Path, filters: dict[str, Any], cache: bool = True, autoescape: bool = False) -> Sandbox:
    """The environment for a folder of templates, with our `filters`: strict about undefined names,
    templates compiled once per process and, when a private cache folder can be had, once per
    template text (see CompiledTemplates). Markdown templates take no autoescape (their view is
    escaped for Markdown already); HTML templates do (`autoescape`): the view's profile text comes
    escaped as Markup, and every other text (labels, course titles) is escaped as it is written."""
    env = Sandbox(
        loader=_BoundedLoader(str(directory)),
        optimized=False,  # the optimizer works out constant expressions while compiling, unbounded
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # an Advisor is loaded again to see edits (see `brief --watch`)
    )
    env.globals["lipsum"] = _bounded_lipsum(env.globals["lipsum"])
    for name in _SIZED_FILTERS:
        env.filters[name] = _bounded_filter(name, env.filters[name])
    env.filters.update({name: _bounded_fill(name, function) for name, function in filters.items()})
    folder = cache_folder() if cache else None
    if folder is not None:
        env.bytecode_cache = CompiledTemplates(folder)
    return env


def cache_folder() -> Path | None:
    """The private folder compiled templates are kept in (cache.py), if one can be had."""
    return private_folder("templates")


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates on disk, so a start skips Jinja's compiler (about 70 ms for the brief).

    An entry is found by what the compiled code depends on: the template's text and name, Jinja's
    and Python's versions, and all the environment's settings the compiler reads. Editing a
    template, upgrading Jinja or changing the options therefore never reuses stale code; the same
    text in another folder shares the entry (the code is told its file again when loaded, for
    error messages). Any failure to read or write the cache just compiles (see cache.py).
    """

    def __init__(self, folder: Path):
        self.store = PrivateCache(folder, ".jinja", CACHE_KEEP)

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None, source: str) -> Bucket:
        key = hashlib.sha256(f"{_compiler_inputs(environment)}\0{name}\0{source}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        if bucket.code is not None and filename is not None:
            bucket.code = _refiled(bucket.code, filename)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self.store.read(bucket.key)
        try:
            if data is None:
                raise ValueError("no entry")
            bucket.bytecode_from_string(data)
        except Exception:  # missing, damaged or not ours: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store.write(bucket.key, bucket.bytecode_to_string())


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
        env.code_generator_class.__qualname__, env.context_class.__qualname__, options,
        how_called(env.finalize) if env.finalize else None,
        sorted(getattr(env, "intercepted_binops", ())), sorted(getattr(env, "intercepted_unops", ())),
        sorted((name, how_called(f)) for name, f in env.filters.items()),
        sorted((name, how_called(f)) for name, f in env.tests.items()), sorted(env.extensions),
    ))  # fmt: skip


def _refiled(code: CodeType, filename: str) -> CodeType:
    """The compiled template as if compiled from `filename` (tracebacks and error messages name it)."""
    consts = tuple(_refiled(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
