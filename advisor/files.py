"""Writing output files so that no reader ever sees half of one."""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import Problem, UnwritableOutput


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with other threads.
_UMASK = _read_umask()


def _refuse(path: Path, message: str) -> UnwritableOutput:
    return UnwritableOutput(Problem(str(path), 1, 1, "error", message))


def _destination(path: Path) -> tuple[Path, bool, int | None]:
    """Where to write for `path`, whether to write there in place rather than by renaming, and the
    permissions of the regular file being replaced (None: there is none, a new file is made).

    A missing path or a regular file is replaced by renaming. A symbolic link is never replaced
    by a file: what it points to is written (a regular file by renaming, beside itself). A FIFO or
    a character device (/dev/null, /dev/stdout on a terminal or a pipe) is opened and written in
    place: renaming over it would swap the node for a file, and its reader would get nothing.
    Anything else (a folder, a link to nothing, a block device, a socket) is refused.
    """
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return path, False, None
    except OSError as exc:
        raise _refuse(path, f"cannot write here: {_reason(exc)}") from None
    if stat.S_ISREG(link.st_mode):  # the usual case: a file to replace (no link to follow)
        return path, False, stat.S_IMODE(link.st_mode)
    try:
        st = os.stat(path)  # follows links, /proc/self/fd's included
    except FileNotFoundError:
        raise _refuse(path, "a symbolic link to nothing; remove the link or write elsewhere") from None
    except (OSError, RuntimeError) as exc:
        raise _refuse(path, f"cannot write here: {_reason(exc)}") from None
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return path, True, None
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is a folder; give a file name to write to")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is a device or socket, not a file; give a file name to write to")
    target = Path(os.path.realpath(path))
    if not same_file(target, path):  # a /proc link to a deleted file, say: write what it points at
        return path, True, None
    return target, False, stat.S_IMODE(st.st_mode)


def _write_in_place(path: Path, data: bytes) -> int:
    """Write to a FIFO or character device as it is: no temporary file, no rename (a regular file
    reached this way is truncated first, as a shell's `>` would)."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        # Non-blocking open: a FIFO without a reader fails at once (ENXIO) instead of waiting for ever.
        fd = os.open(path, flags)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise _refuse(path, "a pipe that nobody reads from; start its reader first") from None
        raise _refuse(path, f"cannot write here: {_reason(exc)}") from None
    try:
        os.set_blocking(fd, True)
        return _write_all(fd, data)
    except OSError as exc:
        raise _refuse(path, f"cannot write the file: {_reason(exc)}") from None
    finally:
        os.close(fd)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file, through links, hard links and spellings like ./x/../x."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def refuse_inputs(output: Path, inputs: Iterable[Path]) -> None:
    """Refuse to write `output` when it is one of the files the command reads: the brief would
    replace its own profile (or index, rule, template) with no way back."""
    for source in inputs:
        if same_file(output, source):
            raise UnwritableOutput(
                Problem(
                    str(output), 1, 1, "error",
                    f"this is {source}, which the command reads; write the output to another file",
                )
            )  # fmt: skip


def write_atomically(path: Path, text: str | bytes | Iterable[str], *, durable: bool = True) -> int:
    """Write a temporary file in the same folder, flush it to disk, then rename it over `path`;
    return the number of bytes written. A symbolic link is written through, and a FIFO or a
    character device written in place (see `_destination`).

    A kill at any moment leaves either the old file or the new one, and at worst a hidden
    `.name.*.tmp` file, never a half-written brief. A new file gets the usual permissions (umask); a replaced one keeps
    its own.
    `durable=False` skips the flush to disk (fsync, about a millisecond a file, and it stalls
    other writes): a kill of this process still leaves the file whole or absent, but a power cut
    may leave it empty. Batch writes briefs that way, records their sizes so `--resume` notices a
    brief the disk lost, and flushes the files it wrote (and their folders) once, before its index.
    `text` may be an iterable of strings (a batch's index, streamed from its spill, never held whole).
    """
    path, in_place, mode = _destination(Path(path))
    if in_place:  # nothing to rename: the whole text is made before the first byte goes, so a failure
        return _write_in_place(path, b"".join(_chunks(text)))  # while making it writes nothing (held whole)
    folder = os.path.dirname(path) or "."
    try:
        # A new file is made with the mode it keeps (0666 less the umask, set by the system as it is
        # made: no chmod); one that replaces a file starts private and takes that file's mode.
        fd, tmp = _temp(folder, path.name, 0o666 if mode is None else 0o600)
    except OSError as exc:
        raise UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write here: {_reason(exc)}")) from None
    try:
        if isinstance(text, (str, bytes)):  # a brief: one buffer, written straight to the descriptor
            size = _write_all(fd, text.encode("utf-8") if isinstance(text, str) else text)
        else:  # a stream of many small pieces (an index): buffered
            size = 0
            with os.fdopen(fd, "wb", closefd=False) as out:
                for data in _chunks(text):
                    size += out.write(data)
        if mode is not None:
            os.fchmod(fd, mode)
        if durable:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except OSError as exc:
        _discard(fd, tmp)
        raise UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot write the file: {_reason(exc)}")) from None
    except BaseException:
        _discard(fd, tmp)
        raise
    return size


def _write_all(fd: int, data: bytes) -> int:
    """Write all of `data` to `fd` (a write may take only part of it); its size."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _discard(fd: int, tmp: str) -> None:
    """Close (when still open) and remove a temporary file that will not become the target."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    _unlink(tmp)


# How a temporary file is opened: as tempfile.mkstemp opens one (never through a link, nor inherited
# by a program the process starts), but for writing only.
_TEMP_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)  # fmt: skip
_TEMP_TRIES = 100  # names tried before giving up (as mkstemp): only a folder full of our temps runs out


def _temp(folder: str, name: str, mode: int = 0o600) -> tuple[int, str]:
    """A new hidden temporary file beside the target, open for writing, and its path: `.NAME.XXXXXXXX.tmp`,
    the 8 random characters in mkstemp's alphabet (the batch's journal recognises its leftovers by
    them); its folder made when missing. Made with `mode` (less the umask). Not mkstemp itself: its
    name sequence and checks, a buffered file object and a chmod afterwards cost a third of writing
    a brief."""
    made_folder = False
    for _ in range(_TEMP_TRIES):
        tmp = os.path.join(folder, f".{name}.{_random_word()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, mode), tmp
        except FileExistsError:
            continue
        except (FileNotFoundError, NotADirectoryError):  # the folder is not there yet (a first brief): make it
            if made_folder:
                raise
            Path(folder).mkdir(parents=True, exist_ok=True)
            made_folder = True
    raise FileExistsError(errno.EEXIST, f"no free name for a temporary file in {folder}")


def _random_word() -> str:
    """8 random characters of a-z and 2-7 (base32 of 5 random bytes): fresh in every process, forked or not."""
    return base64.b32encode(os.urandom(5)).decode("ascii").lower()


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _chunks(text: str | bytes | Iterable[str]) -> Iterator[bytes]:
    if isinstance(text, bytes):  # a PDF
        yield text
    elif isinstance(text, str):
        yield text.encode("utf-8")
    else:
        for chunk in text:
            yield chunk.encode("utf-8")


def folder_mode() -> int:
    """The mode a new folder gets under the process's umask (a temporary folder is made 0700)."""
    return 0o777 & ~_UMASK


FLUSH_WINDOW = 128  # files held open at once while flushing: well under any limit on open files
_FADVISE = getattr(os, "posix_fadvise", None)  # Linux and the BSDs; elsewhere each fsync does it all


def flush_files(paths: Iterable[Path]) -> None:
    """Put these files, and the folders that name them (their renames), on disk: see `Flusher`."""
    with Flusher() as flusher:
        for path in paths:
            flusher.add(path)
        flusher.finish()


class Flusher:
    """Puts files on disk as they are handed over, and at the end the folders that name them (their
    renames): fsync each, never a system-wide sync, which would wait for every other program's
    writes too. A file that is gone or has become a link or special file since is skipped (it is
    not ours to flush); a failing flush (a disk error) raises UnwritableOutput naming the file.

    Files go a window at a time: each file's disk writes are started when it is handed over (a
    hint, posix_fadvise), and the window is fsynced when full; so one fsync's commit to the file
    system's journal covers many files, and the rest find their data on disk already (half the CPU,
    less waiting). A batch hands each brief over as it is written, so flushing overlaps the work
    instead of following it. Use it as a context manager: descriptors not yet flushed are closed
    on the way out, also when a flush failed."""

    def __init__(self) -> None:
        self._window: list[tuple[Path, int]] = []
        self._folders: dict[Path, None] = {}

    def add(self, path: Path) -> None:
        """Start putting `path` on disk; the window is flushed once it is full."""
        self._folders[path.parent] = None
        self._start(path, os.O_RDONLY)

    def finish(self) -> None:
        """Flush what is still open, then every folder of the files handed over."""
        _fsync_all(self._window)
        directory = getattr(os, "O_DIRECTORY", None)
        if directory is not None:  # a folder cannot be opened (nor flushed) this way on Windows
            for folder in self._folders:
                self._start(folder, os.O_RDONLY | directory)
            _fsync_all(self._window)
        self._folders.clear()

    def _start(self, path: Path, flags: int) -> None:
        fd = _open_regular(path, flags)
        if fd is None:
            return
        self._window.append((path, fd))
        if _FADVISE is not None:
            with contextlib.suppress(OSError):  # only a hint: the fsync is what counts
                _FADVISE(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if len(self._window) == FLUSH_WINDOW:
            _fsync_all(self._window)

    def close(self) -> None:
        """Close the descriptors not flushed yet (after a failing fsync, or a run that stopped)."""
        for _, fd in self._window:
            os.close(fd)
        self._window.clear()

    def __enter__(self) -> Flusher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _open_regular(path: Path, flags: int) -> int | None:
    """A descriptor for a regular file or folder, or None: absent, a link, or not ours to open."""
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        mode = 0
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return fd
    os.close(fd)
    return None


def _fsync_all(window: list[tuple[Path, int]]) -> None:
    """fsync and close each descriptor, emptying `window`; the first failure raises, naming its file
    (what is left in `window` is then the caller's to close)."""
    for done, (path, fd) in enumerate(window):
        try:
            os.fsync(fd)
        except OSError as exc:
            del window[:done]
            raise UnwritableOutput(Problem(str(path), 1, 1, "error", f"cannot flush to disk: {_reason(exc)}")) from None
        os.close(fd)
    window.clear()


def _reason(exc: OSError) -> str:
    """The OS's words for a failure (`No space left on device`), never None."""
    return exc.strerror or str(exc) or type(exc).__name__
