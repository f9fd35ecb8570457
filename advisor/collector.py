"""The cyclic garbage collector, paused while a burst of young objects that hold no cycles is built.

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
