"""durable-rules' C core loads on every supported Python, and loads for real: engine/native.py binds
the one symbol Python 3.13 removed lazily, so these tests prove that nothing else is left unbound,
that the engine evaluates, and that where the core cannot load every command says what to run."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from advisor.engine import native
from advisor.profile import load_profile

from conftest import ROOT

# Removed in Python 3.13; durable-rules calls it only in persistence callbacks we never register.
REMOVED = {"PyEval_CallObject"}


def test_the_core_loaded_and_evaluates(advisor):
    """Fails, never skips, where the core did not load: CI runs this on 3.11 and 3.13."""
    assert native.available() is None
    assert Path(native.durable_rules_engine.__file__).suffix in {".so", ".pyd"}
    assert native.LAZY == (sys.version_info >= (3, 13))
    outcome = advisor.evaluate(load_profile(ROOT / "profiles" / "gz-tax-bureau.yaml")).outcome
    assert len(outcome.firings) > 20
    assert "cadence-visit-overdue" in {f.rule_id for f in outcome.firings}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads an ELF module's symbols with nm")
def test_only_the_removed_symbol_is_left_unbound():
    """Lazy binding would hide any other missing symbol until its first call: there is none."""
    nm = shutil.which("nm")
    assert nm, "nm (binutils, which a C compiler brings) is needed to check the loaded module"
    listing = subprocess.run(
        [nm, "-D", "--undefined-only", native.durable_rules_engine.__file__], capture_output=True, text=True, check=True
    ).stdout
    needed = [line.split()[-1].split("@")[0] for line in listing.splitlines() if line.split()[:1] == ["U"]]
    process = ctypes.CDLL(None)  # the interpreter and every library it has loaded
    unbound = {name for name in needed if not hasattr(process, name)}
    assert "PyArg_ParseTuple" in needed  # the listing is real
    assert unbound <= REMOVED
    if sys.version_info < (3, 13):
        assert not unbound


def test_the_engine_package_imports_the_core_plainly():
    """Tools that trace imports (freezers, dependency scanners) see the C core as a dependency."""
    source = (ROOT / "advisor" / "engine" / "native.py").read_text(encoding="utf-8")
    assert re.search(r"^    import durable_rules_engine$", source, re.MULTILINE)


def test_the_hint_names_the_pinned_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert native.PACKAGE in project["project"]["dependencies"]
    flags = project["tool"]["uv"]["extra-build-variables"]["durable-rules"]
    assert native.REBUILD_FLAGS == "CPPFLAGS=" + flags["CPPFLAGS"]


def without_core(tmp_path: Path, how: str, commands: str) -> subprocess.CompletedProcess:
    """Runs `commands` (advisor.cli.main calls) in a Python whose C core is missing or broken."""
    if how == "missing":
        setup = "sys.modules['durable'] = None; sys.modules['durable_rules_engine'] = None"
    else:  # an installed module that fails to load, as an unbound symbol does under RTLD_NOW
        (tmp_path / "durable_rules_engine.py").write_text(
            "raise ImportError('durable_rules_engine.so: undefined symbol: PyEval_CallObject')\n", encoding="utf-8"
        )
        setup = f"sys.path.insert(0, {str(tmp_path)!r})"
    code = f"import sys; {setup}\nfrom advisor.cli import main\nprint([{commands}], file=sys.stderr)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("how", ["missing", "broken"])
def test_without_the_core_only_the_engine_commands_stop(tmp_path, how):
    profile = str(ROOT / "profiles" / "gz-tax-bureau.yaml")
    commands = ", ".join(
        f"main({argv!r})"
        for argv in (
            ["lint"],
            ["schema", "rules"],
            ["docs", "-o", str(tmp_path / "docs")],
            ["facts"],
            ["coverage"],
            ["brief", profile],
            ["explain", profile],
            ["test"],
        )
    )
    proc = without_core(tmp_path, how, commands)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "[0, 0, 0, 0, 0, 1, 1, 1]"
    errors = [line.split(": ", 1)[1] for line in proc.stderr.splitlines() if re.match(r"advisor \w+: error:", line)]
    assert len(errors) == 3 and len(set(errors)) == 1
    python = re.escape(sys.executable)
    install = rf"(?:{python} -m pip install|uv pip install --python {python})"  # uv's environments have no pip
    if how == "missing":
        assert re.fullmatch(
            rf"error: durable-rules is not installed .*; run: {install} durable-rules==2\.0\.28", errors[0]
        )
    else:
        assert re.fullmatch(
            r"error: durable-rules is installed but its C core does not load \(.*undefined symbol: "
            r"PyEval_CallObject\); rebuild it: CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject "
            rf"{install} --force-reinstall --no-cache-dir --no-binary durable-rules durable-rules==2\.0\.28",
            errors[0],
        )
