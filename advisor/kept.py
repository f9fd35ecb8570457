"""YAML files read at every start that seldom change (the course outline, the labels), kept parsed in a
private cache (cache.py), so that a start does not parse them again: about 1 ms each.

An entry holds the values of one text as the fast path of yamlio.load_text built them (marshal: plain
dicts, lists, strings, numbers, booleans and None), found by the text itself, yamlio's code and
PyYAML's version. A text the fast path does not take (one with a problem, which needs every position
to report it) or values marshal cannot hold (a date) are parsed every time. Either way the caller gets
the Located the fast path gives: positions are composed again from the text when a message asks.
"""

from __future__ import annotations

import hashlib
import marshal
import os

import yaml

from . import yamlio
from .cache import PrivateCache, private_folder
from .yamlio import Located

FORMAT = 1  # bump when what an entry holds changes meaning
KEEP = 16  # entries kept: each edit of a labels file makes one


def load_kept(text: str, path: str, *, what: str = "a profile") -> Located:
    """yamlio.load_text(text, path, what=what), with the default limits: the values from the cache when
    this very text was read before, else parsed and kept for the next start."""
    folder = private_folder("yaml")
    key = _key(text) if folder is not None else None
    store = PrivateCache(folder, ".marshal", KEEP) if folder is not None else None
    if store is not None and key is not None:
        entry = store.read(key)
        if entry is not None:
            try:
                return Located(path, marshal.loads(entry), text=text)
            except Exception:  # noqa: BLE001 - damaged: parse instead
                pass
    doc = yamlio.load_text(text, path, what=what)
    if store is not None and key is not None and not doc.values and doc.text is not None:  # the fast path's
        try:
            entry = marshal.dumps(doc.data)
        except ValueError:  # a value marshal cannot hold (a date): parsed every time
            return doc
        store.write(key, entry)
    return doc


def _key(text: str) -> str | None:
    """What an entry depends on, hashed: the text, the code that parses it, and how it is stored;
    None when yamlio's code is not a file to tell its version by."""
    try:
        st = os.stat(yamlio.__file__)
    except (OSError, TypeError):
        return None
    stamp = repr((FORMAT, st.st_size, st.st_mtime_ns, yaml.__version__, marshal.version, yamlio.DEFAULT))
    return hashlib.sha256(f"{stamp}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
