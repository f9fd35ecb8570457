"""Snapshot of advisor's output, to prove a refactoring changes no byte a user sees.

    python bench/snapshot.py --write snap.json     # before the change
    python bench/snapshot.py --check snap.json     # after: lists every output that differs

Briefs the shipped profiles and 300 synthetic ones from bench.py's generator (a fifth of them
without a visit, some with English text) in both languages and both formats, and runs one
batch (Markdown and JSON, English and Chinese) over 60 of them plus the shipped ones, and
batches over all the synthetic ones (YAML at --jobs 1 and 2, JSON Lines at --jobs 2). Records
a SHA-256 of every output, with the rules-and-templates hash (which changes with any rule or
template file) replaced by a placeholder first. Asserts nothing by itself: --check exits 1 and
names the outputs that differ.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from advisor.api import Advisor  # noqa: E402
from advisor.profile import load_profile  # noqa: E402
from bench import TODAY, synthetic_profile  # noqa: E402

SYNTHETIC = 300
IN_BATCH = 60


def profile_docs() -> dict[str, dict]:
    """Synthetic profiles, varied beyond bench.py's: no visit, English text, no competitors."""
    docs = {}
    for i in range(SYNTHETIC):
        doc = synthetic_profile(i, stakeholders=4 + i % 11, interactions=i % 31)
        if i % 5 == 0:
            del doc["visit"]
        if i % 7 == 0:
            doc["account"]["name"] = f"Sample Holdings {i} Ltd"
            for s in doc["stakeholders"]:
                s["name"] = f"Person {s['id']}"
        if i % 11 == 0:
            doc["competitors"] = []
        docs[f"synthetic-{i:03d}"] = doc
    return docs


def mask(text: str, digest: str) -> str:
    return text.replace(digest, "<rules-hash>")


def sha(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:20]


def snapshot(work: Path) -> dict[str, str]:
    advisor = Advisor.load()
    digest = advisor.digest
    out: dict[str, str] = {}
    folder = work / "profiles"
    folder.mkdir()
    docs = profile_docs()
    for name, doc in docs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    paths = sorted((ROOT / "profiles").glob("*.yaml")) + sorted(folder.glob("*.yaml"))
    for path in paths:
        profile = load_profile(path)
        today = TODAY if path.parent == folder else None
        for lang in ("en", "zh"):
            texts, _ = advisor.render_all(advisor.evaluate(profile, today), lang=lang, formats=("markdown", "json"))
            for fmt, text in texts.items():
                out[f"brief/{path.stem}.{lang}.{fmt}"] = sha(mask(text, digest))
    batch_in = work / "batch-in"
    batch_in.mkdir()
    for path in sorted(folder.glob("*.yaml"))[:IN_BATCH] + sorted((ROOT / "profiles").glob("*.yaml")):
        (batch_in / path.name).write_bytes(path.read_bytes())
    jsonl = work / "all.jsonl"
    jsonl.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs.values()), encoding="utf-8")
    # The batch over a sample in both languages, and over every synthetic profile (YAML and JSON
    # Lines, --jobs 1 and 2) in Chinese: the batch's own passes must not change a byte either.
    runs = [(f"batch/{lang}", batch_in, lang, "2") for lang in ("en", "zh")]
    runs += [(f"batch-all/yaml-j{jobs}", folder, "zh", jobs) for jobs in ("1", "2")]
    runs += [("batch-all/jsonl-j2", jsonl, "zh", "2")]
    for name, source, lang, jobs in runs:
        result = work / name.replace("/", "-")
        cmd = [sys.executable, "-m", "advisor", "batch", str(source), "-o", str(result), "--jobs", jobs,
               "--format", "markdown,json", "--lang", lang, "--today", TODAY.isoformat()]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        out[f"{name}/exit"] = str(done.returncode)
        for file in sorted(p for p in result.rglob("*") if p.is_file() and not p.name.startswith(".")):
            text = file.read_text(encoding="utf-8")
            rel = file.relative_to(result).as_posix()
            if rel == "index.jsonl":
                # The content hash covers the rules hash, and sizes follow from the briefs' bytes
                # (the footer's hash has a fixed length, so sizes do not move with it).
                lines = []
                for line in text.splitlines():
                    entry = json.loads(line)
                    entry["hash"] = "<content-hash>"
                    entry["source"] = re.sub(r"^.*/(batch-in|profiles)/", "", entry["source"])
                    lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
                text = "\n".join(lines)
            out[f"{name}/{rel}"] = sha(mask(text.replace(str(source), "<in>"), digest))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, help="record the snapshot in this file")
    mode.add_argument("--check", type=Path, help="compare with the snapshot in this file")
    parser.add_argument("--expect-change", action="append", default=[], metavar="PREFIX",
                        help="outputs under this prefix may differ (reported, not counted)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = snapshot(Path(tmp))
    if args.write:
        args.write.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"{len(now)} outputs recorded in {args.write} ({dt.datetime.now():%H:%M})")
        return 0
    before = json.loads(args.check.read_text())
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    expected = [k for k in differ if any(k.startswith(p) for p in args.expect_change)]
    unexpected = [k for k in differ if k not in expected]
    for k in expected:
        print(f"changed (expected): {k}")
    for k in unexpected:
        print(f"DIFFERS: {k}")
    print(f"{len(now)} outputs compared: {len(unexpected)} differ, {len(expected)} expected changes")
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
