"""Benchmark: where the time of a brief goes, batch throughput, cold start, memory, and scaling.

    python bench/bench.py              # the default run (about two minutes on 2 cores)
    python bench/bench.py --n 500      # quicker
    python bench/bench.py --table      # only the batch's CPU table (YAML and JSON Lines, two formats)

Profiles are synthetic but shaped like real ones (12 stakeholders, 30 interactions, reporting
lines, ties, competitors, events, a visit with 3 attendees, about 6 KB of YAML) and generated
from a fixed seed, so every run measures the same work. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.api import Advisor  # noqa: E402
from advisor.canonical import canonical  # noqa: E402
from advisor.facts import derive  # noqa: E402
from advisor.profile import parse_profile  # noqa: E402
from advisor.rules import rule_files  # noqa: E402
from advisor.yamlio import load_text  # noqa: E402

TODAY = dt.date(2026, 12, 1)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军", "杰", "涛", "明", "超", "霞", "平", "刚", "桂英"]
DEPTS = [("局领导", "leadership"), ("办公室", "admin"), ("信息中心", "tech_management"), ("业务处", "tech_application"),
         ("运维科", "tech_support"), ("市场部", "business")]  # fmt: skip
INDUSTRIES = [
    "government",
    "party",
    "military",
    "science",
    "education",
    "culture",
    "health",
    "finance",
    "insurance",
    "enterprise",
]


def synthetic_profile(i: int, stakeholders: int = 12, interactions: int = 30) -> dict:
    rng = random.Random(i)
    industry = INDUSTRIES[i % len(INDUSTRIES)]
    account = {
        "id": f"acct-{i:06d}", "name": f"样本客户{i:06d}有限公司", "industry": industry,
        "annual_revenue": float(rng.randint(10_000, 5_000_000)), "portfolio_share": round(rng.uniform(0.001, 0.2), 4),
        "revenue_rank": rng.randint(1, 200), "brand_influence": rng.choice(["low", "medium", "high"]),
        "government_influence": rng.choice(["low", "medium", "high"]),
        "potential": {"growth_outlook": rng.choice(["declining", "stable", "growing"]), "mindset_shift": rng.random() < 0.3,
                      "industry_shift": rng.random() < 0.3, "note": "正在推进数字化转型，明年预算有望增长。"},
        "stage": rng.choice(["establish", "maintain", "consolidate", "develop"]),
        "position": rng.choice(["incumbent", "challenger"]),
        "record_updated": str(TODAY - dt.timedelta(days=rng.randint(1, 400))),
    }  # fmt: skip
    if industry in ("enterprise", "finance", "insurance"):
        account["ownership"] = rng.choice(["state", "foreign", "private"])
    people = []
    levels = (
        ["senior"] * 2 + ["middle"] * 5 + ["frontline"] * (stakeholders - 7)
        if stakeholders >= 7
        else ["middle"] * stakeholders
    )
    for j in range(stakeholders):
        dept, function = DEPTS[j % len(DEPTS)]
        person = {
            "id": f"p{j:02d}", "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "title": f"{dept}{['主任', '副主任', '科长', '工程师'][j % 4]}",
            "department": dept, "function": function, "level": levels[j % len(levels)],
            "relationship": {"strength": rng.choice(["none", "weak", "working", "strong"]),
                             "stance": rng.choice(["supporter", "neutral", "opponent", "unknown"])},
            "insider": rng.choice(["none"] * 6 + ["identified", "cultivating", "secured"]),
            "interests": rng.sample(["网络安全", "羽毛球", "摄影", "书法", "马拉松", "云计算", "围棋"], 2),
            "last_contact": str(TODAY - dt.timedelta(days=rng.randint(1, 300))),
        }  # fmt: skip
        if j > 1:
            person["reports_to"] = f"p{rng.randint(0, min(j - 1, 6)):02d}"
        if j > 2 and rng.random() < 0.3:
            person["contact"] = {"degree": 2, "via": f"p{rng.randint(0, j - 1):02d}"}
        if j > 0 and rng.random() < 0.25:
            person["ties"] = [
                {
                    "with": f"p{rng.randint(0, j - 1):02d}",
                    "kind": rng.choice(["personal", "shared_interest", "conflicting_interest"]),
                }
            ]
        people.append(person)
    history = sorted(
        ({"date": str(TODAY - dt.timedelta(days=rng.randint(1, 360))), "kind": rng.choice(["visit", "call", "meeting", "care", "event", "service", "training"]),
          "with": [f"p{rng.randint(0, stakeholders - 1):02d}"], "form": "季度服务回顾与网络优化建议"} for _ in range(interactions)),
        key=lambda x: x["date"],
    )  # fmt: skip
    return {
        "account": account,
        "stakeholders": people,
        "interactions": history,
        "service": {"satisfaction": rng.randint(2, 5), "last_review": str(TODAY - dt.timedelta(days=rng.randint(10, 300))),
                    "issues": [{"opened": str(TODAY - dt.timedelta(days=rng.randint(1, 150))), "incident": rng.random() < 0.5,
                                "category": rng.choice(["专线", "云主机", "计费"]), "summary": "专线闪断"} for _ in range(rng.randint(0, 3))]},
        "competitors": [{"name": rng.choice(["竞争对手甲", "竞争对手乙"]), "offers": "云与专线", "strength": rng.choice(["weak", "moderate", "strong"]),
                         "latest_move": "低价投标", "learned_on": str(TODAY - dt.timedelta(days=rng.randint(1, 400)))}],
        "events": [{"date": str(TODAY + dt.timedelta(days=rng.randint(-20, 60))), "kind": rng.choice(["appointment", "project", "holiday", "media"]),
                    "summary": "新项目立项评审", "stakeholder": f"p{rng.randint(0, stakeholders - 1):02d}"}],
        "visit": {"date": str(TODAY), "objective": "汇报整改结果并推进扩容项目", "attendees": ["p00", "p02", "p03"][: min(3, stakeholders)]},
    }  # fmt: skip


def write_profiles(folder: Path, n: int, **shape) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"acct-{i:06d}.yaml"
        path.write_text(
            yaml.safe_dump(synthetic_profile(i, **shape), allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        paths.append(path)
    return paths


def per_stage(advisor: Advisor, texts: list[str], out: Path) -> dict[str, float]:
    """Median milliseconds per brief for each stage, measured on the same profiles."""
    stages: dict[str, list[float]] = {k: [] for k in ("parse", "validate+derive", "engine", "render", "write")}
    for k, text in enumerate(texts):
        t0 = time.perf_counter()
        doc = load_text(text, "bench.yaml")
        t1 = time.perf_counter()
        profile = canonical(parse_profile(doc))  # as Advisor.evaluate does
        records = derive(profile, TODAY, advisor.policy)
        t2 = time.perf_counter()
        outcome = advisor.engine().evaluate(records)
        t3 = time.perf_counter()
        from advisor.api import Evaluation

        evaluation = Evaluation(profile, TODAY, "today", records, outcome)
        brief = advisor.render(advisor.prepare(evaluation))
        t4 = time.perf_counter()
        (out / f"{k}.md").write_text(brief, encoding="utf-8")
        t5 = time.perf_counter()
        for name, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            stages[name].append(value * 1000)
    return {k: statistics.mean(v) for k, v in stages.items()}


def batch_command(inputs: list[str], out: Path, jobs: int, formats: str = "markdown") -> list[str]:
    return [sys.executable, "-m", "advisor", "batch", *inputs, "-o", str(out), "--quiet", "--jobs", str(jobs),
            "--format", formats, "--today", str(TODAY)]  # fmt: skip


def batch_rate(inputs: list[str], out: Path, jobs: int) -> tuple[float, float]:
    """Briefs per second for `advisor batch`, and the peak RSS (MB) of its process tree."""
    run = batch_run(inputs, out, jobs)
    return run["rate"], run["peak"]


def batch_run(inputs: list[str], out: Path, jobs: int, formats: str = "markdown", perf: bool = False) -> dict:
    """One whole `advisor batch` command: briefs per second (wall), CPU milliseconds per brief of its
    whole process tree (the command and its workers, user + system), the peak RSS (MB) of its
    largest process and, with `perf`, instructions per brief (user space, all its processes).

    CPU comes from getrusage(RUSAGE_CHILDREN): a pool's workers are waited for by the command, so
    their time is in its children's, and so in ours once the command is waited for."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = batch_command(inputs, out, jobs, formats)
    events = out.parent / f"{out.name}.perf"
    if perf:
        cmd = ["perf", "stat", "-x", ",", "-e", "instructions:u", "-o", str(events), "--", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = sum(1 for p in (out / "briefs").iterdir() if p.suffix == ".md")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    instructions = None
    if perf:
        for line in events.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
                instructions = int(fields[0]) / n
    return {"rate": n / elapsed, "cpu_ms": cpu / n * 1000, "peak": after.ru_maxrss / 1024, "n": n,
            "instructions": instructions}  # fmt: skip


def perf_counts_instructions() -> bool:
    """Whether `perf stat` can count this machine's instructions (absent, or a VM that hides the
    counters, or perf_event_paranoid too strict: then the table leaves the column out)."""
    if shutil.which("perf") is None:
        return False
    done = subprocess.run(
        ["perf", "stat", "-x", ",", "-e", "instructions:u", "--", "true"], capture_output=True, text=True
    )
    return done.returncode == 0 and any(
        line.split(",")[0].isdigit() and "instructions" in line for line in done.stderr.splitlines()
    )


def cpu_table(inputs: dict[str, list[str]], work: Path, jobs: int) -> None:
    """The table the goal is judged by: per input and formats, the wall rate, CPU per brief, and the
    2-core cap (2000 / CPU ms: the rate two fully busy cores would give), which a noisy machine
    cannot hide the way it hides a wall-time regression."""
    perf = perf_counts_instructions()
    head = f"  {'input':<10} {'--format':<14} {'wall/s':>7} {'CPU ms/brief':>12} {'2-core cap/s':>12} {'peak MB':>8}"
    print(f"\nbatch, --jobs {jobs}, whole command incl. start-up (CPU of the whole process tree):")
    print(head + ("  M instr/brief" if perf else ""))
    for label, items in inputs.items():
        for formats in ("markdown", "markdown,json"):
            run = batch_run(items, work / "out-table", jobs, formats, perf)
            row = (f"  {label:<10} {formats:<14} {run['rate']:7.0f} {run['cpu_ms']:12.2f} {2000 / run['cpu_ms']:12.0f} "
                   f"{run['peak']:8.0f}")  # fmt: skip
            if perf and run["instructions"] is not None:
                row += f"  {run['instructions'] / 1e6:13.1f}"
            print(row, flush=True)


BARE_IMPORTS = ("-c", "import pydantic, jinja2, yaml")  # what any program on our dependencies pays at start


def cold_start(argv: tuple[str, ...], runs: int = 7, empty_caches: bool = False, python: bool = False) -> float:
    """Median CPU seconds (user + sys) of a whole `advisor ARGV...` process (`python`: `python ARGV...`),
    as a rep's second run finds it: after one warm-up run has written Python's bytecode, the compiled
    templates, the checked rules and the engine's code (an environment with PYTHONDONTWRITEBYTECODE set
    would otherwise recompile advisor on every start). `empty_caches`: each run with a cache folder of its
    own, as a first run finds it. CPU, not wall time: other work on the machine does not show in it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYDANTIC_DISABLE_PLUGINS")}
    cmd = [sys.executable, *argv] if python else [sys.executable, "-m", "advisor", *argv]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    times = []
    with tempfile.TemporaryDirectory(prefix="advisor-cold-") as caches:
        for n in range(runs):
            run_env = {**env, "XDG_CACHE_HOME": os.path.join(caches, str(n))} if empty_caches else env
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=run_env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def cold_report(runs: int = 7) -> None:
    """Cold start of `advisor brief` beside the bare imports of its dependencies (the goal: at most twice)."""
    profile = ("brief", str(ROOT / "profiles" / "gz-tax-bureau.yaml"))
    bare = cold_start(BARE_IMPORTS, runs, python=True)
    warm = cold_start(profile, runs)
    empty = cold_start(profile, runs, empty_caches=True)
    print(f"\ncold start (CPU s of the whole process, user + sys, median of {runs} after a warm-up run):")
    print(f"  `advisor brief profiles/gz-tax-bureau.yaml`: {warm:.3f} s, {warm / bare:.2f}x the bare imports")
    print(f"    the same, each run with empty caches (a first run): {empty:.3f} s, {empty / bare:.2f}x")
    print(f"  bare imports (`python -c 'import pydantic, jinja2, yaml'`): {bare:.3f} s")
    for argv in (("--version",), ("--help",), ("brief", "--help")):
        print(f"  `advisor {' '.join(argv)}`: {cold_start(argv, runs):.3f} s (it imports no dependency)")


def scaled_rules(target: Path, copies: int) -> None:
    """The shipped rules plus `copies` variants of every rule (ids and numeric thresholds varied),
    beside each rule file in a file of their own, as a trainer would add them."""
    shutil.copytree(ROOT / "rules", target)
    for path in rule_files(ROOT / "rules"):  # rule files only: not cases, policy, relevance or citations
        extra = []
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            if rule.get("derive"):
                continue
            for k in range(copies):
                copy = json.loads(json.dumps(rule, default=str))
                copy["id"] = f"{rule['id']}-x{k}"
                _vary(copy.get("when"), k)
                extra.append(copy)
        if extra:
            scaled = target / f"zz-{path.stem}-scaled.yaml"
            scaled.write_text(yaml.safe_dump({"rules": extra}, allow_unicode=True), encoding="utf-8")


def _vary(node, k: int) -> None:
    if isinstance(node, dict):
        for op in ("gt", "gte", "lt", "lte"):
            if op in node and isinstance(node[op], int):
                node[op] = node[op] + k
        for value in node.values():
            _vary(value, k)
    elif isinstance(node, list):
        for item in node:
            _vary(item, k)


def engine_ms(advisor: Advisor, profiles: list, repeat: int = 1) -> tuple[float, float]:
    """Mean engine milliseconds per profile and mean firings per profile."""
    records = [derive(p, TODAY, advisor.policy) for p in profiles]
    engine = advisor.engine()
    firings = 0
    t = time.perf_counter()
    for _ in range(repeat):
        for r in records:
            firings += len(engine.evaluate(r).firings)
    n = len(records) * repeat
    return (time.perf_counter() - t) / n * 1000, firings / n


def load_twice(rules: Path, cache: Path) -> tuple[float, float, Advisor]:
    """CPU seconds of `Advisor.load(rules)` with an empty cache folder (every rule read and checked)
    and again once that load is cached, as the next start finds it."""
    was = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    try:
        t = time.process_time()
        Advisor.load(rules)
        first = time.process_time() - t
        t = time.process_time()
        advisor = Advisor.load(rules)
        return first, time.process_time() - t, advisor
    finally:
        if was is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = was


def brief_cpu_ms(advisor: Advisor, profiles: list) -> float:
    """Mean CPU milliseconds of a whole Markdown brief (evaluate, prepare, render) per profile."""
    for p in profiles[:5]:
        advisor.brief(p, today=TODAY)  # warm: each language's advice is prepared on first use
    t = time.process_time()
    for p in profiles:
        advisor.brief(p, today=TODAY)
    return (time.process_time() - t) / len(profiles) * 1000


def durable_share(advisor: Advisor, profiles: list) -> float:
    """The share of engine time spent inside durable-rules itself (its C core and its Python layer),
    as opposed to our adapter around it and the action callbacks it makes into our code.

    Measured with cProfile on the call edges from advisor/engine/adapter.py into the durable package; the
    profiler's overhead scales both sides alike, so the share is what carries over to real runs.
    """
    import cProfile
    import pstats

    records = [derive(p, TODAY, advisor.policy) for p in profiles]
    engine = advisor.engine()
    profiler = cProfile.Profile()
    profiler.enable()
    for r in records:
        engine.evaluate(r)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)

    def ours(file: str) -> bool:
        return f"{os.sep}advisor{os.sep}" in file

    def durable(file: str, name: str) -> bool:
        return f"{os.sep}durable{os.sep}" in file or "durable_rules_engine" in name

    inside = callbacks = total = 0.0
    for (file, _, name), (_, _, _, ct, callers) in stats.items():
        if file.endswith(f"engine{os.sep}adapter.py") and name == "evaluate":
            total += ct
        for (caller_file, _, _), edge in callers.items():
            if durable(file, name) and ours(caller_file):
                inside += edge[3]
            elif ours(file) and durable(caller_file, ""):
                callbacks += edge[3]
    return max(inside - callbacks, 0.0) / total if total else 0.0


def memory_over(advisor: Advisor, texts: list[str], total: int) -> list[tuple[int, float]]:
    """RSS (MB) sampled while briefing `total` profiles in one process (cycling the inputs)."""
    samples = []
    for k in range(total):
        advisor.brief(parse_profile(load_text(texts[k % len(texts)], "m.yaml")), today=TODAY)
        if k % max(total // 5, 1) == 0 or k == total - 1:
            with open("/proc/self/status", encoding="ascii") as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            samples.append((k + 1, rss / 1024))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="profiles for the throughput runs")
    parser.add_argument("--memory", type=int, default=20000, help="briefs for the memory run")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of the batches in the CPU table")
    parser.add_argument("--table", action="store_true", help="only the CPU table of the batch (YAML and JSON Lines)")
    parser.add_argument("--cold", action="store_true", help="only the cold start of `advisor brief` (CPU)")
    args = parser.parse_args()
    if args.cold:
        cold_report()
        return
    work = Path(tempfile.mkdtemp(prefix="advisor-bench-"))
    try:
        paths = write_profiles(work / "yaml", args.n)
        sizes = [p.stat().st_size for p in paths]
        jsonl = work / "all.jsonl"
        with jsonl.open("w", encoding="utf-8") as out:
            for p in paths:
                out.write(
                    json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), ensure_ascii=False, default=str) + "\n"
                )
        inputs = {"YAML": [str(work / "yaml")], "JSON Lines": [str(jsonl)]}
        if args.table:
            print(f"profiles: {args.n}, mean {statistics.mean(sizes) / 1024:.1f} KB of YAML; "
                  f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
            cpu_table(inputs, work, args.jobs)
            return
        advisor = Advisor.load()
        print(f"rules: {len(advisor.base.rules)} in {advisor.plan.summary()['shards']} shards; profiles: {args.n}, "
              f"mean {statistics.mean(sizes) / 1024:.1f} KB of YAML, 12 stakeholders, 30 interactions")  # fmt: skip
        texts = [p.read_text(encoding="utf-8") for p in paths[:300]]
        (work / "stage").mkdir()
        stages = per_stage(advisor, texts, work / "stage")
        total = sum(stages.values())
        print("\nper brief (ms, mean of 300):")
        for name, ms in stages.items():
            print(f"  {name:<16} {ms:6.2f}  {100 * ms / total:4.0f}%")
        print(f"  {'total':<16} {total:6.2f}")
        share = durable_share(advisor, [parse_profile(load_text(t, "s.yaml")) for t in texts[:100]])
        own = stages["engine"] * share
        other = total - stages["parse"] - own
        print(f"  of the engine stage, durable-rules itself: {100 * share:.0f}% ({own:.2f} ms); our adapter: "
              f"{stages['engine'] - own:.2f} ms")  # fmt: skip
        print(f"  everything but parsing and durable-rules' own evaluation: {100 * other / total:.0f}% of the total")
        print("\nbatch throughput (briefs/s, whole command incl. start-up):")
        for label, items in inputs.items():
            for jobs in (1, 2):
                rate, peak = batch_rate(items, work / f"out-{jobs}", jobs)
                print(f"  {label:<10} --jobs {jobs}: {rate:7.0f}/s   peak RSS {peak:.0f} MB")
        cpu_table(inputs, work, args.jobs)
        cold_report()
        print(f"\nmemory over {args.memory} briefs in one process (briefs, RSS MB):")
        print("  " + ", ".join(f"{n}: {mb:.0f}" for n, mb in memory_over(advisor, texts, args.memory)))
        profiles = [parse_profile(load_text(t, "s.yaml")) for t in texts[:100]]
        print("\nscaling with rules (CPU ms; `Advisor.load` checking the rules, then a start that finds them checked;")
        print("  engine and whole brief per profile, mean of 100):")
        for copies in (0, 10):
            rules = work / f"rules-{copies}"
            scaled_rules(rules, copies)
            first, again, scaled = load_twice(rules, work / f"cache-{copies}")
            ms, firings = engine_ms(scaled, profiles)
            whole = brief_cpu_ms(scaled, profiles)
            print(f"  {len(scaled.base.rules):5d} rules ({scaled.plan.summary()['shards']} shards): load {first * 1000:4.0f} ms, "
                  f"cached {again * 1000:3.0f} ms; engine {ms:6.2f} ms ({firings:.0f} firings), brief {whole:6.2f} ms")  # fmt: skip
        print("\nscaling with stakeholders per account (engine ms per profile):")
        for people in (6, 12, 24, 48):
            sample = [
                parse_profile(
                    load_text(yaml.safe_dump(synthetic_profile(i, stakeholders=people), allow_unicode=True), "s.yaml")
                )
                for i in range(50)
            ]
            ms, firings = engine_ms(advisor, sample)
            print(f"  {people:3d} stakeholders: {ms:6.2f} ms, {firings:.0f} firings")
        print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
