"""Where batch work runs, in input order: this process (--jobs 1), a pool of worker processes, or a Dask cluster.

Workers: at most one per core the process may use, and never more than there are accounts to brief
(the work is CPU-bound: more processes than cores only cost memory and switching); `workers` says
how many, and the runner tells the user when it capped --jobs. Workers ignore Ctrl-C (the terminal
sends it to the whole process group; the main process alone decides how the batch stops) and die
quietly on SIGTERM. A worker that dies (killed, out of memory) stops the batch with one line
(`Stopped`), as does a Dask scheduler that cannot be reached or is lost mid-run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from ..errors import CommandError, printable
from .options import Options
from .tasks import advisor_for

CONNECT_TIMEOUT = 3  # seconds to reach a Dask scheduler (or to reconnect to a lost one) before giving up


class Stopped(CommandError):
    """The work cannot go on (the Dask scheduler is unreachable or lost): exit 2, with no file position."""


class WorkerDied(Exception):
    """A worker process was killed from outside (out of memory, a signal): the CLI reports the batch
    as terminated, like SIGTERM (exit 143), with what was done."""


def workers(requested: int, cores: int, accounts: int) -> int:
    """How many worker processes a run uses: what was asked, but no more than cores or accounts."""
    return max(1, min(requested, cores, accounts))


CHUNK, CHUNK_MAX = 8, 32  # tasks a worker is sent at once: as a rule, and at most


def chunk_size(tasks: int, jobs: int) -> int:
    """How many of `tasks` to send a worker at once: larger chunks cost the main process less (a
    pickle, a future and a wake-up each: up to 32 for pass 2 took about a tenth off its CPU in a
    batch of 2,000 JSON Lines records), but each worker still gets several, so a small batch stays
    spread over the workers, and the last chunks are small, so no worker waits long for the other
    to finish. `tasks`: those left to send when their number is known (pass 2), else those sent so
    far (pass 1 reads as it goes: chunks grow as the input goes on)."""
    return max(CHUNK, min(CHUNK_MAX, tasks // (4 * max(jobs, 1))))


def ordered_map(
    fn: Callable,
    items: Iterable,
    options: Options,
    total: int | None = None,
    client: Any = None,
    *,
    many: Callable[[list], list] | None = None,
) -> Iterator:
    """`fn` over `items`, results in input order, wherever `options` says the work runs (`client`:
    the Dask client `cluster` connected, when --dask is given). `total`: how many items there are,
    when known (it sizes the chunks sent to workers: see chunk_size). `many`: what `fn` gives for each
    of a list of items, worked out together (tasks.brief_many), for the chunks of a pool. (--jobs 1
    keeps to one item at a time: its main process records each result before the next is worked
    out, so a kill loses at most the one account in hand.)"""
    if options.dask is not None:
        yield from _map_dask(fn, items, client, printable(options.dask))
        return
    if options.jobs <= 1:
        yield from map(fn, items)
        return
    yield from _map_pool(fn, items, options, total, many)


def _worker_start(options: Options) -> None:
    """A worker process's first act: signals as the main process wants them, then its Advisor."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler raises; here, just end
    advisor_for(options)
    # What the worker holds for its whole life (modules, the Advisor) is never garbage: the
    # collector leaves it out of its full passes, which otherwise walk all of it (about 20 ms each).
    gc.freeze()


def _run_chunk(fn: Callable, chunk: list, many: Callable[[list], list] | None = None) -> list:
    return many(chunk) if many is not None else [fn(item) for item in chunk]


def _map_pool(
    fn: Callable, items: Iterable, options: Options, total: int | None, many: Callable[[list], list] | None = None
) -> Iterator:
    """Chunks on a process pool, a bounded number in flight (memory stays flat), results in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # durable-rules hosts belong to one process and thread: each worker loads its own Advisor.
    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    pool = ProcessPoolExecutor(options.jobs, mp_context=context, initializer=_worker_start, initargs=(options,))
    pending: deque = deque()
    source = iter(items)
    sent = 0
    try:
        while True:
            while len(pending) < 4 * options.jobs:
                size = chunk_size(sent if total is None else total - sent, options.jobs)
                chunk = list(islice(source, size))
                if not chunk:
                    break
                sent += len(chunk)
                pending.append(pool.submit(_run_chunk, fn, chunk, many))
            if not pending:
                return
            try:
                results = pending.popleft().result()
            except BrokenProcessPool:
                _drain_call_queue(pool)
                raise WorkerDied("a worker process was killed (out of memory, or by a signal)") from None
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _drain_call_queue(pool: Any) -> None:
    """Let a broken pool shut down. When a worker is killed, Python (3.11; fixed in 3.12 as gh-94777)
    may hang in shutdown: the queue's feeder thread is blocked writing chunks into a full pipe that
    only the dead workers read, and shutdown waits for that thread. Reading the pipe empty, through a
    descriptor of our own (the pool closes its own), lets the feeder finish; it ends at end of file,
    when the feeder closes the pipe."""
    reader = getattr(getattr(pool, "_call_queue", None), "_reader", None)
    try:
        fd = os.dup(reader.fileno())
    except (AttributeError, OSError, ValueError):  # no such pipe, or closed already: nothing blocks on it
        return

    def drain() -> None:
        try:
            while os.read(fd, 1 << 16):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)

    threading.Thread(target=drain, name="advisor-drain", daemon=True).start()


@contextlib.contextmanager
def cluster(address: str | None) -> Iterator[Any]:
    """A Dask client for `address` (None: no cluster), connected before the batch writes anything.

    The address is checked first (a tcp:// host and port, the port open: a closed one is refused at
    once), then the client connects with a short timeout: a wrong address costs seconds, not 30."""
    if address is None:
        yield None
        return
    shown = printable(address)
    try:
        import dask
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise Stopped("--dask needs Dask, which is not installed: pip install 'advisor[dask]'") from None

    def refuse(why: str) -> Stopped:
        return Stopped(f"cannot reach the Dask scheduler at {shown}: {why}")

    try:
        scheme, where = parse_address(address.strip())
        if scheme != "tcp":
            raise refuse(f"only tcp:// addresses are supported; got {printable(scheme)}://")
        host, port = parse_host_port(where)
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except (OSError, ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise refuse(_reason(exc)) from None
    timeouts = {"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s", "distributed.comm.retry.count": 0}
    with dask.config.set(timeouts), _quiet_logger("distributed"):
        try:
            client = Client(address.strip(), timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - something that is not a Dask scheduler answers there
            raise refuse(_reason(exc)) from None
        try:
            yield client
        finally:
            _close(client)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Dask logs a lost scheduler with a traceback on stderr; the batch says it in one line instead."""
    names = [n for n in list(logging.root.manager.loggerDict) if n == name or n.startswith(name + ".")]
    loggers = [logging.getLogger(n) for n in {name, f"{name}.client", *names}]
    was = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, was, strict=True):
            logger.disabled = disabled


def _map_dask(fn: Callable, items: Iterable, client: Any, shown: str, window: int = 512) -> Iterator:
    """Submit to a Dask scheduler a window at a time (memory stays bounded) and yield in order."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == window:
            yield from _gather(client, fn, chunk, shown)
            chunk = []
    if chunk:
        yield from _gather(client, fn, chunk, shown)


def _gather(client, fn: Callable, chunk: list, shown: str) -> list:
    try:
        return client.gather(client.map(fn, chunk, pure=False))
    except Exception as exc:  # noqa: BLE001 - CancelledError, CommClosedError, TimeoutError, ...: the cluster is gone
        raise Stopped(f"lost the Dask scheduler at {shown} mid-run ({type(exc).__name__})") from None


def _close(client) -> None:
    try:
        client.close(timeout=CONNECT_TIMEOUT)
    except Exception:  # noqa: BLE001, S110 - closing a client whose scheduler is gone may fail: nothing to save
        pass


def _reason(exc: BaseException) -> str:
    """An exception as a few words on one line."""
    text = " ".join(str(exc).split())[:200]
    return printable(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
