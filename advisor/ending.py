"""How the command line's process ends: as Python's exit would end it, less the teardown where there is
nothing left for it to do.

After the last line of a brief, Python's exit joins the other threads, runs the atexit callbacks, flushes
the standard streams, and then clears every module and frees what it can, one object at a time (about
4 ms of CPU after a brief), memory the system takes back at once anyway. (The objects the start made are
frozen out of the collector by then, collector.freeze_for_exit, and their finalizers do not run at exit
either way.) A command whose process holds nothing else to release (declared `quick_exit` by the command
line: its files written and closed, no connection, no worker) ends without that teardown when only this
thread runs, no atexit callback waits and the standard streams flush; otherwise, and for every other
command, Python's own exit runs as always.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def end(code: int, quick: bool = False) -> NoReturn:
    """Exit with `code`; `quick`: without Python's teardown, if nothing else waits for the end."""
    if quick and threading.active_count() == 1 and not _callbacks() and _flushed():
        os._exit(code)
    sys.exit(code)


def _callbacks() -> int:
    """The atexit callbacks registered (CPython tells; where it does not, assume some are)."""
    count = getattr(atexit, "_ncallbacks", None)
    return count() if count is not None else 1


def _flushed() -> bool:
    """The standard streams flushed (a failure is left to Python's exit, which reports it as always)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True
