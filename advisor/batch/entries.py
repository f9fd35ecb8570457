"""Index entries on their way to OUT/index.jsonl, kept in the run's work folder rather than in memory,
so the batch's main process does not grow with the number of accounts."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .journal import dumps, unwritable


class Entries:
    """Each line is an entry's place in the input order, a tab, and its index line. Pass 1's entries
    (notes, records that failed to parse) come first, then pass 2's; each part is in input order, so
    reading them back is a merge of two sorted streams, never a sort in memory."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self._second = 0  # where pass 2's entries start (a byte offset)
        try:
            self._handle = path.open("xb")
        except OSError as exc:
            raise unwritable(path, exc) from None

    def add(self, place: int, entry: dict, line: str | None = None) -> None:
        """`line`: the entry's index line when the caller has it already (`dumps(entry)`)."""
        try:
            self._handle.write(f"{place}\t{line or dumps(entry)}".encode())
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        self.count += 1

    def second_pass(self) -> None:
        """What is added from now on comes from pass 2."""
        self._second = self._handle.tell()

    def lines(self) -> Iterator[str]:
        """The index lines, in input order."""
        try:
            self._handle.flush()
            with self.path.open("rb") as first, self.path.open("rb") as second:
                second.seek(self._second)
                merged = heapq.merge(_part(first, self._second), _part(second, None), key=lambda p: p[0])
                for _, line in merged:
                    yield line
        except OSError as exc:
            raise unwritable(self.path, exc) from None

    def entries(self) -> Iterator[dict]:
        """The entries, in input order."""
        for line in self.lines():
            yield json.loads(line)

    def close(self) -> None:
        self._handle.close()


def _part(handle: BinaryIO, size: int | None) -> Iterator[tuple[int, str]]:
    """(place, index line) from where `handle` stands, for `size` bytes (None: to the end)."""
    left = size
    for raw in handle:
        if left is not None:
            if left <= 0:
                return
            left -= len(raw)
        place, _, line = raw.decode("utf-8").partition("\t")
        yield int(place), line
