"""Loads durable-rules' C core (`durable_rules_engine`), on Python 3.13 too, and says what to run when it cannot.

durable-rules 2.0.28, its last release (2020), calls `PyEval_CallObject`, which Python 3.13 removed,
in five callbacks of `src/rulespy/rules.c` (`storeMessageCallback` ... `getIdleStateCallback`) that
serve persistence hooks this engine never registers. gcc 12 and 13 still build the module, with that
one symbol left unresolved, and Python loads extensions with every symbol bound at once (RTLD_NOW),
so the import fails. On 3.13 the module is loaded with lazy binding instead: a symbol is bound when
it is first called, so the module loads, and a call into one of those callbacks would stop the
process with "symbol lookup error" (never run something else). tests/test_engine_load.py checks that
`PyEval_CallObject` is the only symbol the installed module leaves unresolved, and that the engine
really evaluates. A build with REBUILD_FLAGS (uv applies them from pyproject.toml; clang and gcc 14
need them to compile at all) maps the call to `PyObject_CallObject` and leaves nothing unresolved.
Where lazy binding is not honoured (musl libc, LD_BIND_NOW set), the import fails and
`available()` gives the one line that rebuilds the module with REBUILD_FLAGS.
"""

from __future__ import annotations

import importlib.util
import os
import sys

PACKAGE = "durable-rules==2.0.28"  # the pin in pyproject.toml (a test holds them equal)
REBUILD_FLAGS = "CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject"

# Only 3.13 and later lack the symbol; older Pythons keep Python's own way of loading extensions.
LAZY = sys.version_info >= (3, 13) and hasattr(sys, "setdlopenflags")

_flags = sys.getdlopenflags() if LAZY else 0
if LAZY:
    sys.setdlopenflags(_flags & ~os.RTLD_NOW | os.RTLD_LAZY)
try:
    import durable_rules_engine

    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # exercised by tests that hide or break the extension
    durable_rules_engine = None
    _IMPORT_ERROR = exc
finally:
    if LAZY:
        sys.setdlopenflags(_flags)  # only this import loads lazily


def _install(options: str) -> str:
    """The install command for this very interpreter (a uv-made environment has no pip)."""
    import shlex  # only an engine that cannot load says how to install it

    python = shlex.quote(sys.executable)
    if importlib.util.find_spec("pip") is not None:
        return f"{python} -m pip install {options}{PACKAGE}"
    return f"uv pip install --python {python} {options}{PACKAGE}"


def problem(error: ImportError | None) -> str | None:
    """None when the C core loaded, else one line naming what failed and the command that fixes it."""
    if error is None:
        return None
    if isinstance(error, ModuleNotFoundError) and error.name == "durable_rules_engine":
        return (
            "durable-rules is not installed (its C core builds from source: gcc and the Python headers); "
            f"run: {_install('')}"
        )
    rebuild = _install("--force-reinstall --no-cache-dir --no-binary durable-rules ")
    why = " ".join(str(error).split())
    return f"durable-rules is installed but its C core does not load ({why}); rebuild it: {REBUILD_FLAGS} {rebuild}"


def available() -> str | None:
    """None when durable-rules can be used, else why not and what to run (one line)."""
    return problem(_IMPORT_ERROR)
