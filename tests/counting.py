"""The Python lines a call runs: a measure of work that load on a shared machine cannot move, so a
test can tell linear growth from quadratic without timing anything."""

from __future__ import annotations

import sys
from collections.abc import Callable


def lines_run(call: Callable[[], object]) -> int:
    """How many lines of Python `call()` runs (in this thread, its callees included)."""
    count = 0

    def line(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return line

    was = sys.gettrace()
    sys.settrace(lambda frame, event, arg: line)
    try:
        call()
    finally:
        sys.settrace(was)
    return count
