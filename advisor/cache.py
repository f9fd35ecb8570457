"""A private, per-user cache folder on disk: what a start can reuse instead of working out again
(compiled templates, checked rules, generated code), found by a key that names everything the entry depends on.

Entries are code or pickles, so a folder is used only when it and every folder above it belong to
this user or root and no one else can write to them (a sticky folder like /tmp excepted: there
others cannot rename what is ours), and an entry only when this user wrote it alone. Entries are
written to a temporary file and renamed into place, so parallel starts see a whole entry or none.
Any failure to read or write just means working it out again: a cache never stops a command.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import stat
import sys
import threading
import time
from pathlib import Path
from types import CodeType

CODE_FORMAT = 1  # bump when what a code entry holds changes meaning
CODE_KEEP = 512  # generated texts kept (an engine makes one: the fact writers of all its shards)


def private_folder(name: str) -> Path | None:
    """$XDG_CACHE_HOME/advisor/NAME (~/.cache by default), if only this user can change it; None
    in a shared or read-only place, or without a home."""
    if not hasattr(os, "getuid"):
        return None
    try:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        root = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
        folder = root / "advisor" / name
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = folder.resolve(strict=True)
        if not all(only_ours(os.lstat(p), sticky_ok=p != folder) for p in (folder, *folder.parents)):
            return None
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return folder


def only_ours(st: os.stat_result, *, sticky_ok: bool = False) -> bool:
    """A folder or file that only this user (or root) can change."""
    if st.st_uid not in (os.getuid(), 0):
        return False
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return sticky_ok and stat.S_ISDIR(st.st_mode) and bool(st.st_mode & stat.S_ISVTX)
    return True


class PrivateCache:
    """Entries named KEY + `suffix` in `folder`; the `keep` written last are kept (each edit of
    what a key covers makes a new entry, and the old ones would pile up)."""

    def __init__(self, folder: Path, suffix: str, keep: int):
        self.folder, self.suffix, self.keep = folder, suffix, keep

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{self.suffix}"

    def read(self, key: str) -> bytes | None:
        """The entry's bytes, or None when it is missing, unreadable, not a file, or not ours alone."""
        try:
            fd = os.open(self.path(key), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with open(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or not only_ours(st):
                    return None
                return f.read()
        except OSError:
            return None

    def write(self, key: str, data: bytes) -> None:
        """Store the entry whole or not at all (a read-only or full disk: the next start works it out)."""
        path = self.path(key)
        temp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(temp, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        """Keep the `keep` entries written last, and drop temporary files a killed start left more
        than an hour ago."""
        with contextlib.suppress(OSError):  # another start may be pruning too
            entries = sorted((e.stat().st_mtime, e.path, e.name) for e in os.scandir(self.folder))
            ours = [path for _, path, name in entries if name.endswith(self.suffix)]
            stale = [path for mtime, path, name in entries if name.endswith(".tmp") and mtime < time.time() - 3600]
            for path in ours[: -self.keep] + stale:
                os.unlink(path)


@functools.lru_cache(maxsize=1024)
def compiled(source: str) -> CodeType:
    """`compile(source, "<string>", "exec")` for code a program generates (the engine's fact
    writers): once per text in a process, and from the private folder "code" across starts, since
    Python's compiler is most of what building an engine costs at start (about 30 ms for the
    shipped rules). The key is the text and the Python that compiled it (marshal is per version)."""
    folder = private_folder("code")
    store = PrivateCache(folder, ".code", CODE_KEEP) if folder is not None else None
    key = hashlib.sha256(f"{CODE_FORMAT}\0{sys.version}\0{marshal.version}\0{source}".encode()).hexdigest()
    data = store.read(key) if store is not None else None
    if data is not None:
        try:
            code = marshal.loads(data)
        except Exception:  # noqa: BLE001 - damaged: compile instead
            code = None
        if isinstance(code, CodeType):
            return code
    code = compile(source, "<string>", "exec")
    if store is not None:
        store.write(key, marshal.dumps(code))
    return code
