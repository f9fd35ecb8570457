"""How the command line's process ends (ending.py): a brief that holds nothing else ends without Python's
teardown (about 4 ms), with its output whole; anything that waits for the end gets Python's own exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from advisor import cli

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "gz-tax-bureau.yaml"

# A finalizer that leaves a mark: Python's teardown runs it, a quick end does not. `waits` adds what must
# keep Python's own exit: an atexit callback, or a thread still running.
ENDING = """
import atexit, os, sys, threading
from advisor import ending
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)

class Marker:
    def __del__(self, write=os.write, fd=fd):  # what it needs, bound: the teardown clears modules
        write(fd, b"teardown\\n")

keep = Marker()
if sys.argv[2] == "atexit":
    atexit.register(os.write, fd, b"atexit\\n")
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: threading.Event().wait(0.3)).start()
print("out", end="")  # buffered: a quick end flushes it too
ending.end(int(sys.argv[3]), quick=sys.argv[4] == "quick")
"""


@pytest.mark.parametrize(
    "waits, quick, marks",
    [
        ("-", "quick", []),  # nothing waits: no teardown
        ("-", "slow", ["teardown"]),  # not asked: Python's exit
        ("atexit", "quick", ["atexit", "teardown"]),  # a callback waits: Python's exit runs it
        ("thread", "quick", ["teardown"]),  # a thread runs: Python's exit joins it
    ],
)
def test_ending_ends_quickly_only_when_nothing_waits(tmp_path, waits, quick, marks):
    mark = tmp_path / "mark.txt"
    done = subprocess.run(
        [sys.executable, "-c", ENDING, str(mark), waits, "3", quick], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (3, "out"), done.stderr
    assert mark.read_text(encoding="utf-8").split() == marks


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["brief", str(PROFILE), "-o", "{tmp}/brief.md"], (0, True)),  # declares quick_exit, succeeded
        (["brief", "{tmp}/no-such-profile.yaml"], (2, False)),  # failed
        (["facts", "--format", "json"], (0, False)),  # declares nothing
        (["brief", str(PROFILE), "-o", "{tmp}/b.md", "--db", "{tmp}/ledger.sqlite"], (0, False)),  # a ledger opened
    ],
)
def test_ending_only_a_brief_that_succeeded_and_opened_no_ledger_ends_quickly(tmp_path, capsys, argv, expected):
    if "--db" in argv:
        pytest.importorskip("sqlalchemy")
    assert cli._main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == expected


def test_ending_a_brief_by_the_console_script_writes_it_whole(tmp_path):
    run = "import sys; sys.argv = ['advisor', *sys.argv[1:]]; from advisor.cli import run; run()"
    done = subprocess.run([sys.executable, "-c", run, "brief", str(PROFILE)], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "brief.md"
    assert cli.main(["brief", str(PROFILE), "-o", str(out)]) == 0
    assert done.stdout == out.read_bytes()
