"""`advisor init DIR`: a trainers' repository from the installed package (no clone needed): the shipped
rules with their cases and schemas, the profiles the cases use, the templates, a project config, a
pre-commit config running lint and the cases, and a README saying how to work in it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import CommandError, printable
from ..files import folder_mode
from ..projectfile import CONFIG_FILE

COPIED = ("rules", "profiles", "templates")  # shipped folders, copied whole

CONFIG = """\
# advisor's project config: every advisor command run in this folder (or below it) uses these,
# unless a flag on the command line says otherwise. `advisor config` shows what is in force.
rules = "rules"
templates = "templates"
lang = "en"

# [limits]           # what one profile may hold (advisor --security lists the defaults)
# stakeholders = 5000
"""

PRE_COMMIT = """\
# pre-commit (https://pre-commit.com): `pre-commit install`, then every commit runs these.
# They use the advisor installed where you run git (pip install advisor).
repos:
  - repo: local
    hooks:
      - id: advisor-lint
        name: advisor lint (rule files)
        entry: advisor lint --strict
        language: system
        files: \\.(ya?ml|j2|toml)$
        pass_filenames: false
      - id: advisor-test
        name: advisor test (rule cases)
        entry: advisor test --quiet
        language: system
        files: \\.(ya?ml|j2|toml)$
        pass_filenames: false
"""

README = """\
# Our advisor rules

The sales course as rules for `advisor`, with their test cases, example profiles and the brief's
templates. `advisor.toml` points every command here, so run them from this folder (or below it).

```sh
advisor lint                  # check the rule files: every problem with file, line and a fix
advisor test                  # run the cases beside each rule file (--junit report.xml for CI)
advisor rules                 # the rules, with file and line
advisor brief profiles/gz-tax-bureau.yaml            # a brief with these rules and templates
advisor explain profiles/gz-tax-bureau.yaml --rule gov-annual-review
advisor config                # the settings in force, and where each comes from
```

- `rules/*.yaml`: one rule file per topic; `NAME.cases.yaml` beside each holds its cases.
  `rules/citations.yaml` records each reviewed citation of the course; `policy.yaml` the gift
  policy; `relevance.yaml` what each kind of visit puts first.
- `profiles/`: accounts the cases build on (keep `rules/` and `profiles/` side by side).
- `templates/`: the brief (`brief.md.j2`) and every label in both languages (`labels.yaml`).

Editors with YAML support complete and check the files as you type (each file's first line points
at its JSON Schema). `pre-commit install` runs lint and the cases on every commit
(`.pre-commit-config.yaml`). `advisor --help` lists every command.
"""

WRITTEN = {CONFIG_FILE: CONFIG, ".pre-commit-config.yaml": PRE_COMMIT, "README.md": README}


def init(directory: Path) -> list[Path]:
    """Set up `directory` (new, or an empty folder); returns the files written. All or nothing: the
    tree is built in a temporary folder beside it and moved into place at the end."""
    from ..api import shipped

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CommandError(f"{printable(str(directory))} exists and is not an empty folder; choose a new one")
    parent = directory.absolute().parent
    if not parent.is_dir():
        raise CommandError(f"no such folder: {printable(str(parent))}; create it first")
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    try:
        for name in COPIED:
            shutil.copytree(shipped(name), work / name, ignore=shutil.ignore_patterns("__pycache__", "crm-example"))
        for name, text in WRITTEN.items():
            (work / name).write_text(text, encoding="utf-8")
        written = sorted(p.relative_to(work) for p in work.rglob("*") if p.is_file())
        work.chmod(folder_mode())
        if directory.exists():
            directory.rmdir()  # empty: checked above
        os.replace(work, directory)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise CommandError(f"cannot write {printable(str(directory))}: {exc.strerror or exc}") from None
    return [directory / p for p in written]
