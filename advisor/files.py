"""Writing output files so that no reader ever sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import Problem, UnwritableOutput


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with other threads.
_UMASK = _read_umask()


def write_atomically(path: Path, text: str, *, durable: bool = True) -> int:
    """Write a temporary file in the same folder, flush it to disk, then rename it over `path`;
    return the number of bytes written.

    A kill at any moment leaves either the old file or the new one, and at worst a hidden
    `.name.*.tmp` file, never a half-written brief. The file gets the usual permissions (umask).
    `durable=False` skips the flush to disk (fsync, about a millisecond a file, and it stalls
    other writes): a kill of this process still leaves the file whole or absent, but a power cut
    may leave it empty. Batch writes briefs that way, records their sizes so `--resume` notices a
    brief the disk lost, and flushes everything once before its index.
    """
    path = Path(path)
    data = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write here: {_reason(exc)}")) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write the file: {_reason(exc)}")) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def flush_to_disk() -> None:
    """Ask the OS to put every written file on disk (where it can: os.sync is Unix-only)."""
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


def _reason(exc: OSError) -> str:
    """The OS's words for a failure (`No space left on device`), never None."""
    return exc.strerror or str(exc) or type(exc).__name__
