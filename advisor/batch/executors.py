"""Where batch work runs, in input order: this process (--jobs 1), a pool of worker processes, or a Dask cluster."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

from ..errors import AdvisorError, Problem
from .options import Options
from .tasks import advisor_for


def ordered_map(fn: Callable, items: Iterable, options: Options, chunksize: int = 8) -> Iterator:
    """`fn` over `items`, results in input order, wherever `options` says the work runs."""
    if options.dask:
        yield from _map_dask(fn, items, options)
        return
    if options.jobs <= 1:
        yield from map(fn, items)
        return
    import multiprocessing

    # durable-rules hosts belong to one process and thread: each worker loads its own Advisor.
    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    with context.Pool(options.jobs, initializer=advisor_for, initargs=(options,)) as pool:
        yield from pool.imap(fn, items, chunksize)


def _map_dask(fn: Callable, items: Iterable, options: Options, window: int = 512) -> Iterator:
    """Submit to a Dask scheduler a window at a time (memory stays bounded) and yield in order."""
    try:
        from distributed import Client
    except ImportError:
        raise AdvisorError(
            Problem("--dask", 1, 1, "error", "Dask is not installed: pip install 'advisor[dask]'")
        ) from None
    try:
        client = Client(options.dask, timeout=10, set_as_default=False)
    except OSError as exc:
        raise AdvisorError(
            Problem("--dask", 1, 1, "error", f"cannot reach the Dask scheduler at {options.dask}: {exc}")
        ) from None
    try:
        chunk: list = []
        for item in items:
            chunk.append(item)
            if len(chunk) == window:
                yield from client.gather(client.map(fn, chunk, pure=False))
                chunk = []
        if chunk:
            yield from client.gather(client.map(fn, chunk, pure=False))
    finally:
        client.close()
