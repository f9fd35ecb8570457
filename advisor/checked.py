"""A rules folder, read and checked once per content: later starts take the checked rules, their
compiled plan, the policy and the relevance table from a private cache (cache.py) instead of
parsing and checking every rule file again, which is most of what loading costs and grows with
the rules (rules ×10: 0.12 s → 1.1 s).

An entry is found by everything a load depends on: the bytes and paths of every file the loaders
read (rule files, policy, relevance table), the course, and the code that checks them (advisor's
version and its modules' sizes and times, Python's, pydantic's and PyYAML's versions). A folder
with problems is never stored, so its errors are found and reported by the loaders, each time.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from pathlib import Path

import pydantic
import yaml

from . import __version__, collector
from .cache import PrivateCache, private_folder
from .course import Course
from .engine import Plan, compile_rules
from .engine.wire import Wiring, plan_wiring
from .limits import DEFAULT
from .policy import Policy, load_policy
from .relevance import Relevance, load_relevance
from .rules import DATA_FILES, RuleBase, load_rules, rule_files

FORMAT = 6  # bump when what an entry holds changes meaning (3-6: CheckedRules, FactSpec, the rule base, the plan plain classes)
KEEP = 16  # entries kept: a trainer editing rules makes one per edit


class CheckedRules:
    """What the loaders make of a rules folder. Treat it as read-only. (A plain class: as a frozen
    dataclass it cost every start about 0.5 ms to create; it pickles the same way.)"""

    __slots__ = ("base", "plan", "policy", "policy_file", "relevance", "relevance_file", "wiring")

    def __init__(
        self,
        base: RuleBase,
        plan: Plan,
        policy: Policy,
        policy_file: Path | None,
        relevance: Relevance,
        relevance_file: Path | None,
        wiring: Wiring,  # what the engine sends durable for the plan (a start need not work it out)
    ):
        self.base, self.plan, self.policy, self.policy_file = base, plan, policy, policy_file
        self.relevance, self.relevance_file, self.wiring = relevance, relevance_file, wiring


def load_checked(rules_dir: Path, course: Course) -> CheckedRules:
    """The folder's checked rules: from the cache when its files are unchanged, else loaded (raising
    the loaders' problems) and stored for the next start."""
    folder = private_folder("rules")
    key = _key(rules_dir, course) if folder is not None else None
    store = PrivateCache(folder, ".pickle", KEEP) if folder is not None else None
    if store is not None and key is not None:
        data = store.read(key)
        if data is not None:
            try:
                found = _unpickled(data)
            except Exception:  # noqa: BLE001 - damaged or from other code: load instead
                found = None
            if isinstance(found, CheckedRules):
                return found
    checked = _load(rules_dir, course)
    if store is not None and key is not None:
        try:
            data = pickle.dumps(checked, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - something not picklable: the next start loads again
            return checked
        store.write(key, data)
    return checked


def _unpickled(data: bytes) -> object:
    """Our own entry (in a folder only we can write), read with the cyclic garbage collector paused:
    it would otherwise walk the heap again and again while some ten thousand models are built
    (about a tenth of the read at 2,000 rules, more in a full process)."""
    with collector.paused():
        return pickle.loads(data)  # noqa: S301


def _load(rules_dir: Path, course: Course) -> CheckedRules:
    """Every file read and checked, with the garbage collector paused: checking builds models, condition
    trees and node tables by the ten thousand, and the collector's passes over them were about a
    fifth of loading 2,166 rules."""
    with collector.paused():
        base = load_rules(rules_dir, course)
        policy, policy_file = load_policy(rules_dir)
        relevance, relevance_file = load_relevance(rules_dir, course)
        plan = compile_rules(base)
        return CheckedRules(base, plan, policy, policy_file, relevance, relevance_file, plan_wiring(plan))


def _key(rules_dir: Path, course: Course) -> str | None:
    """What an entry for this folder depends on, hashed; None when a file is not one the loaders
    would read whole (not a regular file, or over the size limit): they report it."""
    h = hashlib.sha256(repr((FORMAT, __version__, _code(), sys.version, pydantic.VERSION, yaml.__version__)).encode())
    h.update(str(rules_dir).encode() + b"\0" + course.text.encode() + b"\0")
    try:
        files = [*rule_files(rules_dir), *(rules_dir / name for name in DATA_FILES)]
        for path in files:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                h.update(b"-\0")  # a data file the folder does not have
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > DEFAULT.record_bytes:
                return None
            h.update(str(path).encode("utf-8", "surrogateescape") + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return h.hexdigest()


def _code() -> tuple:
    """advisor's modules, by path, size and time: a changed checker never reads an older entry. Every
    start asks, so the bytecode folders (no module in them) are not listed, and a module's path is cut
    from its folder's rather than worked out by os.path.relpath (about 0.4 ms of a start in all)."""
    root = os.path.dirname(os.path.abspath(__file__))
    folders = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [f for f in subfolders if f != "__pycache__"]
        folders.append((folder, names))
    out = []
    for folder, names in sorted(folders):
        inside = folder[len(root) + 1 :]  # "" for the package's own folder
        for name in sorted(names):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                out.append((os.path.join(inside, name) if inside else name, st.st_size, st.st_mtime_ns))
    return tuple(out)
