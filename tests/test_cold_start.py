"""What `advisor brief` imports: nothing the command does not use (cold start is what a rep waits for;
bench/bench.py measures its time, this only what is imported, which a test can hold)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "gz-tax-bureau.yaml"

# Modules a brief in Markdown, JSON or HTML never needs, and why each stays out.
NOT_FOR_A_BRIEF = {
    "advisor.batch": "the batch runner",
    "advisor.ledger": "the ledger (--db only)",
    "advisor.serve": "the web service",
    "advisor.workbench": "lint, test, explain and docs",
    "durable.engine": "durable's Python layer (its host starts threads; the engine drives the C core)",
    "weasyprint": "PDF layout (--format pdf only)",
    "dask": "the batch's Dask executor",
    "sqlalchemy": "the ledger",
    "fastapi": "the web service",
    "uvicorn": "the web service",
    "logging": "only the PDF silences WeasyPrint's log",
    "tomllib": "only a project config file is TOML, and there is none here",
    "advisor.config": "the project config's model and checks: there is no config file here",
    "difflib": "only a mistake gets a 'did you mean'",
    "signal": "only the batch handles SIGTERM",
    "sqlite3": "the ledger",
    "asyncio": "the web service",
    "multiprocessing": "the batch's workers",
    "concurrent.futures": "the batch's workers",
    "advisor.citations": "the reviewed citations (lint only; no brief reads them)",
    "advisor.portfolio": "a batch's portfolio index (--portfolio only)",
    "traceback": "only a template error looks for its line",
    "shlex": "only an engine that cannot load says how to install it",
}
# ... and those only a JSON brief needs.
ONLY_FOR_JSON = {"advisor.jsontext": "writing the JSON brief", "orjson": "writing the JSON brief"}

SCRIPT = """
import json, sys
from advisor.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("fmt", ["markdown", "json", "html"])
def test_cold_start_brief_imports_nothing_it_does_not_use(fmt, tmp_path):
    out = tmp_path / f"brief.{fmt}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "brief", str(PROFILE), "--format", fmt, "-o", str(out)],
        cwd=tmp_path,  # no project config up from here
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["code"] == 0, done.stderr
    assert out.stat().st_size > 0  # the brief was really made
    imported = set(result["modules"])
    assert "advisor.engine.adapter" in imported  # the whole chain ran in this process
    unused = {**NOT_FOR_A_BRIEF, **(ONLY_FOR_JSON if fmt != "json" else {})}
    found = {name: why for name, why in unused.items() if name in imported}
    assert not found, f"`advisor brief --format {fmt}` imported what it does not use: {found}"


GC_SCRIPT = """
import atexit, gc, json, sys
from advisor import api, cli
seen = {}
load, facts = api.Advisor.load.__func__, cli.cmd_facts

def loading(cls, *args, **kwargs):
    seen["loading"] = gc.isenabled()
    return load(cls, *args, **kwargs)

def listing(args):
    seen["handler"] = gc.isenabled()
    return facts(args)

api.Advisor.load, cli.cmd_facts = classmethod(loading), listing
atexit.register(lambda: sys.stderr.write(json.dumps({**seen, "end": gc.isenabled()})))
sys.argv = ["advisor", *sys.argv[1:]]
cli.run()
"""


def _collector_states(tmp_path, *argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", GC_SCRIPT, *argv], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return json.loads(done.stderr.splitlines()[-1])


def test_cold_start_brief_pauses_the_collector_until_loaded(tmp_path):
    # The start makes objects that live to the end: the collector walking them costs a brief ~15 ms.
    out = tmp_path / "brief.md"
    states = _collector_states(tmp_path, "brief", str(PROFILE), "-o", str(out))
    assert out.stat().st_size > 0
    assert states == {"loading": False, "end": True}  # paused while loading, collecting after


def test_cold_start_other_commands_collect_from_the_start(tmp_path):
    # Only a command that ends the pause itself once loaded (`loads`) starts with it paused.
    assert _collector_states(tmp_path, "facts", "--format", "json") == {"handler": True, "end": True}


def test_cold_start_brief_builds_no_config_model_without_a_config_file(tmp_path):
    # Only a config file needs the Config model's validator; the defaults are taken unbuilt.
    script = "import sys; from advisor import cli, config; cli.main(sys.argv[1:]); print(config.Config.__pydantic_complete__)"
    args = ["brief", str(PROFILE), "-o", str(tmp_path / "brief.md")]
    run = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["False"]
    (tmp_path / "advisor.toml").write_text('lang = "zh"\n', encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["True"]  # a file is validated as before


BUILT_SCRIPT = """
import json, sys
from pydantic import BaseModel
from advisor.cli import main
code = main(sys.argv[1:])

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

built = sorted({f"{m.__module__}.{m.__qualname__}" for m in models(BaseModel)
                if m.__module__.startswith("advisor") and m.__pydantic_complete__})
print(json.dumps({"code": code, "built": built}))
"""


def test_cold_start_brief_builds_only_the_profile_models(tmp_path):
    # A start that finds the rules checked (the cache filled by the first run) validates only the profile:
    # no rule, condition, policy or relevance model builds its validator (Condition and the policy defaults: about 1.3 ms).
    args = ["brief", str(PROFILE), "-o", str(tmp_path / "brief.md")]
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", BUILT_SCRIPT, *args], cwd=tmp_path, capture_output=True, text=True, check=True
        )
    result = json.loads(done.stdout)
    assert result["code"] == 0, done.stderr
    assert result["built"]  # the profile was validated
    assert [m for m in result["built"] if not m.startswith("advisor.profile.")] == []


RUN_SCRIPT = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))
sys.argv = ["advisor", *sys.argv[1:]]
from advisor.cli import run
run()
"""


def _brief_by_run(tmp_path, **env: str) -> tuple[str, set[str]]:
    """`advisor brief` as the console script runs it: the brief, and every module it imported."""
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, "brief", str(PROFILE)],
        cwd=tmp_path, capture_output=True, text=True, check=True, env={**environ, **env},
    )  # fmt: skip
    return done.stdout, set(json.loads(done.stderr.splitlines()[-1]))


def test_cold_start_brief_skips_pydantic_plugin_discovery(tmp_path):
    # With plugins off, pydantic's loader would import importlib.metadata (email, zipfile, csv, socket:
    # about 6 ms) only to find none; plugins.off() answers "none" in its place.
    brief, modules = _brief_by_run(tmp_path)
    assert brief.startswith("# ")
    assert not modules & {"importlib.metadata", "email", "email.message", "csv", "socket"}


def test_cold_start_brief_finds_shipped_files_without_importlib_resources(tmp_path):
    # The shipped rules, templates and course are read from the package's folder: importlib.resources
    # (and the zipfile it brings) cost a start about 2 ms.
    brief, modules = _brief_by_run(tmp_path)
    assert brief.startswith("# ")
    assert not modules & {"importlib.resources", "importlib.readers", "zipfile"}


def test_cold_start_plugins_asked_for_are_looked_for(tmp_path):
    # PYDANTIC_DISABLE_PLUGINS set by the user (here: no plugin disabled) leaves pydantic's own loader.
    quick, _ = _brief_by_run(tmp_path)
    brief, modules = _brief_by_run(tmp_path, PYDANTIC_DISABLE_PLUGINS="")
    assert "importlib.metadata" in modules
    assert brief == quick


def test_cold_start_plugins_off_answers_all_pydantic_asks_of_its_loader():
    # plugins.off() stands in for pydantic.plugin._loader: it must hold every name pydantic takes from it.
    import pydantic

    from advisor import plugins

    asked: set[str] = set()
    for path in Path(pydantic.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for names in re.findall(r"from (?:\.|pydantic\.plugin\.)_loader import \(?([\w, ]+)", text):
            asked |= {name.strip() for name in names.split(",") if name.strip()}
        asked |= set(re.findall(r"\b_loader\.(\w+)", text))
    assert asked == {"get_plugins"}
    assert plugins.no_plugins() == ()


def test_cold_start_profile_models_are_annotated_with_types_not_text():
    # pydantic builds the profile's models at every start; annotations kept as text (a `from __future__
    # import annotations` in profile.py) would each be evaluated from it first (about 1 ms in all).
    from pydantic import BaseModel

    from advisor import profile

    models = [m for m in vars(profile).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    assert len(models) > 10
    as_text = [f"{m.__name__}.{name}" for m in models for name, a in vars(m).get("__annotations__", {}).items() if isinstance(a, str)]  # fmt: skip
    assert as_text == []


PARSED_SCRIPT = """
import json, sys
from advisor import yamlio
from advisor.cli import main
parsed = []
load_text = yamlio.load_text

def counting(text, path, *args, **kwargs):
    parsed.append(str(path))
    return load_text(text, path, *args, **kwargs)

yamlio.load_text = counting
code = main(sys.argv[1:])
print(json.dumps({"code": code, "parsed": parsed}))
"""


def test_cold_start_brief_parses_only_the_profile_once_the_cache_is_filled(tmp_path):
    # The course outline and the labels are kept parsed (kept.py; about 2 ms a start); the rules are
    # kept checked (checked.py). A second start parses the profile alone.
    args = ["brief", str(PROFILE), "-o", str(tmp_path / "brief.md")]
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", PARSED_SCRIPT, *args], cwd=tmp_path, capture_output=True, text=True, check=True
        )
    result = json.loads(done.stdout)
    assert result["code"] == 0, done.stderr
    assert result["parsed"] == [str(PROFILE)]
