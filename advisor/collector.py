"""When the cyclic garbage collector runs: paused while a burst of objects that hold no cycles or live to
the end is built, and what lives to the end frozen out of its passes.

Python starts a collection every few hundred new container objects; reading a rules folder or a
large file makes tens of thousands, and each full pass walks every object the process holds. Paused
for such a burst, the collector runs once afterwards, on what is left, instead of again and again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, and back on only where it was on (a caller that had paused it,
    or a program that runs without it, keeps it off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pause_start() -> None:
    """Off for a command's start (imports, pydantic building models, loading the rules: some hundred
    thousand objects made and few freed; the collector walking them cost a brief about 15 ms), until
    `end_start`."""
    gc.disable()


def end_start() -> None:
    """End `pause_start`'s pause, if the collector is still off: what the start made (modules, models,
    the loaded rules) lives to the end of the process, so it is frozen, never walked again, and only
    what the command makes from here on is collected."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def freeze_for_exit() -> None:
    """Everything left out of the collector's last search: Python's exit would look through every object
    for reference cycles (about 40 ms after a brief); frozen, they are left to the end of the process
    like the rest of its memory (files are closed and flushed by then, and atexit handlers still run)."""
    gc.freeze()
