"""Benchmark: start-up time and peak memory as the rules of one section grow (1k, 4k, 10k rules).

    python bench/scale_rules.py                 # 1,000, 4,000 and 10,000 rules
    python bench/scale_rules.py --sizes 1000    # one size

Every size runs in a fresh process (so peak memory is its own): it loads, checks and compiles the
generated rules (`Advisor.load`, which also prepares each language's advice), then lints them;
peak memory is measured there. Last, the English alike sets of every rule (which a brief works out
only for the rules it meets) show the worst case of that lazy part and how large the sets are.
The rules all advise in one section, their texts shaped like the shipped ones: most start and end
with literal text, some start or end with a placeholder, some share openings. Generated from a
fixed seed, split into files of 500 rules (a rule file, like a profile, is read under the 1 MB
limit). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PER_FILE = 500
OPENINGS = ["Call", "Meet", "Ask", "Offer", "Invite", "Remind", "Thank", "Brief", "Visit", "Send"]
WORDS = ["the buyer", "their chief", "the finance team", "the users", "the board", "the project lead", "procurement"]
ENDINGS = ["before the budget closes.", "this quarter.", "at the next visit.", "in writing.", "by phone."]


def say(rng: random.Random, i: int) -> dict[str, str]:
    """Advice text for rule i: mostly literal at both ends, sometimes a placeholder at one end."""
    kind = rng.random()
    middle = f"{rng.choice(WORDS)} about item {i}"
    if kind < 0.1:
        en = f"{{account.name}}: {rng.choice(OPENINGS).lower()} {middle} {rng.choice(ENDINGS)}"
    elif kind < 0.2:
        en = f"{rng.choice(OPENINGS)} {middle}, at {{account.name}}"
    elif kind < 0.5:
        en = f"{rng.choice(OPENINGS)} {middle} {rng.choice(ENDINGS)}"
    else:
        en = f"{rng.choice(OPENINGS)} {middle} at {{account.name}} {rng.choice(ENDINGS)}"
    return {"en": en, "zh": f"第{i}条：{en}"}


def write_rules(folder: Path, n: int) -> None:
    rng = random.Random(n)
    folder.mkdir(parents=True)
    rules = [
        {
            "id": f"scale-{i:05d}",
            "source": ["2.1.1.a"],
            "when": {"fact": "account.days_since_service_review", "gt": i % 400},
            "section": "checklist",
            "say": say(rng, i),
        }
        for i in range(n)
    ]
    for start in range(0, n, PER_FILE):
        text = yaml.safe_dump({"rules": rules[start : start + PER_FILE]}, allow_unicode=True, sort_keys=False)
        (folder / f"scale-{start // PER_FILE:03d}.yaml").write_text(text, encoding="utf-8")


def child(folder: Path) -> None:
    """One measurement, in its own process: print a JSON line of timings and peak memory."""
    from advisor.api import Advisor
    from advisor.workbench.lint import lint

    t0 = time.perf_counter()
    advisor = Advisor.load(folder)
    t1 = time.perf_counter()
    problems = lint(folder)
    t2 = time.perf_counter()
    errors = sum(p.level == "error" for p in problems)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    # A brief works out the alike sets of the rules it meets; all of them at once is the worst case.
    sizes = [len(a.alike) for a in advisor.sayings["en"].values() if a is not None]
    t3 = time.perf_counter()
    print(json.dumps({"load": t1 - t0, "lint": t2 - t1, "peak_mb": peak, "errors": errors, "all_alike": t3 - t2,
                      "mean_alike": sum(sizes) / len(sizes)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 10000])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(
        f"{'rules':>7} {'start-up (load) s':>18} {'lint s':>8} {'peak MB':>8} {'every alike set s':>18} {'mean size':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"rules-{n}"
            write_rules(folder, n)
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True, check=False
            )
            if run.returncode:
                print(f"{n:>7} failed: {run.stderr.strip().splitlines()[-1:]}")
                continue
            got = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"{n:>7} {got['load']:>18.2f} {got['lint']:>8.2f} {got['peak_mb']:>8.0f} {got['all_alike']:>18.2f}"
                f" {got['mean_alike']:>9.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
