"""How often each rule file's advice reaches the Markdown brief, over the shipped profiles and the panel.

    python bench/shown_by_file.py             # medium-priority items (the ones the budget decides)
    python bench/shown_by_file.py --all       # every priority

For each rule file: recommendations that fired (in the JSON) and those the Markdown brief shows,
summed over every profile of profiles/ and tests/panel/. Selection by relevance should make this
follow what the accounts need, never the alphabet of file names. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.api import Advisor  # noqa: E402
from advisor.profile import load_profile  # noqa: E402

TODAY = dt.date(2026, 12, 1)


def profiles() -> list[tuple[Path, dt.date | None]]:
    out: list[tuple[Path, dt.date | None]] = []
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        out.append((path, None if load_profile(path).visit else TODAY))
    for expect in sorted((ROOT / "tests" / "panel").glob("*.expect.yaml")):
        text = expect.read_text(encoding="utf-8")
        name = re.search(r"^profile: (\S+)", text, re.M).group(1)
        out.append((expect.parent / name, dt.date.fromisoformat(re.search(r"^today: (\S+)", text, re.M).group(1))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every priority, not only medium")
    args = parser.parse_args()
    advisor = Advisor.load()
    file_of = {r.id: Path(r.path).name for r in advisor.base.rules}
    fired: dict[str, int] = {}
    shown: dict[str, int] = {}
    for path, today in profiles():
        brief = advisor.prepare(advisor.evaluate(load_profile(path), today), "en")
        on = advisor.selection(brief).shown_ids()
        for r in brief.recommendations:
            if args.all or r.priority == "medium":
                name = file_of[r.rule_id]
                fired[name] = fired.get(name, 0) + 1
                shown[name] = shown.get(name, 0) + (id(r) in on)
    print(f"{'rule file':<20} {'fired':>6} {'shown':>6} {'share':>6}")
    for name in sorted(fired):
        print(f"{name:<20} {fired[name]:>6} {shown[name]:>6} {100 * shown[name] / fired[name]:>5.0f}%")
    print(f"{'all':<20} {sum(fired.values()):>6} {sum(shown.values()):>6}")


if __name__ == "__main__":
    main()
