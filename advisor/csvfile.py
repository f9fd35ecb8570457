"""One CSV file as a CRM exports it: encoding and separator told from its bytes, every cell with its line and column.

No row is read whole past the record size limit, and a quote that never closes is reported where
it opened, after which reading starts again on the next line: a stray quote costs one row, never
every row after it. The parser follows Python's csv module (non-strict, `"` quotes, `""` escapes).
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .limits import raise_hint

SEPARATORS = (",", ";", "\t")  # in order of preference when a header holds as many of each
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
HEAD = 65_536  # bytes read to tell the encoding
FIELD_LIMIT = 131_072  # characters in one cell: Python's csv module's limit, kept so messages stay the same
_UNDECODED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes the encoding cannot read
ENCODING_HINT = "state the file's encoding with --encoding NAME (utf-8, gb18030, utf-16, cp1252, ...)"


class Cell(NamedTuple):  # a tuple: a file has millions of cells, and a frozen dataclass is slow to make
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class Row:
    line: int
    cells: list[Cell]


@dataclass(frozen=True)
class Bad:
    """A row that cannot be read, at the position to fix."""

    line: int
    col: int
    message: str


@dataclass(frozen=True)
class Encoding:
    codec: str | None  # None: the encoding could not be told
    name: str  # as the user would write it
    doubt: str = ""  # why it is a guess: said in a warning


def sniff_encoding(head: bytes, complete: bool) -> Encoding:
    """The encoding of a file from its first bytes (`complete`: they are the whole file).

    Sure: a byte-order mark, or text that decodes as UTF-8 (ASCII included). GB18030 (which covers
    GBK and GB2312) is a guess unless the text it gives is within GB2312 (Latin-1 text can decode as
    rare GBK characters, but seldom as common ones); UTF-16 without a mark is a guess told from its
    zero bytes. Anything else cannot be told: the user names it."""
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8-sig", "UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", "UTF-16")
    if len(head) >= 4:
        even, odd = head[0::2], head[1::2]
        for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
            if zeros.count(0) > 0.4 * len(zeros) and other.count(0) == 0:
                return Encoding(codec, codec.upper(), "it has no byte-order mark")
    if _decodes(head, "utf-8", complete) is not None:
        return Encoding("utf-8-sig", "UTF-8")
    text = _decodes(head, "gb18030", complete)
    if text is None:
        return Encoding(None, "")
    try:  # GB2312 holds the Chinese in common use: text within it is Chinese read right, most likely
        text.encode("gb2312")
    except UnicodeEncodeError:
        return Encoding(
            "gb18030", "GB18030", "it is not UTF-8, and as GB18030 it holds characters outside common Chinese"
        )
    return Encoding("gb18030", "GB18030")


def _decodes(data: bytes, codec: str, complete: bool) -> str | None:
    """`data` decoded, or None; a character cut off by the end of an incomplete sample is no error."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(data, final=complete)
    except UnicodeDecodeError:
        return None


def sniff_separator(line: str) -> str:
    """The separator a header line uses: the most frequent of comma, semicolon and tab outside quotes."""
    outside = "".join(part for i, part in enumerate(line.split('"')) if i % 2 == 0)
    counts = {sep: outside.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equals: comma
    return best if counts[best] else ","


class CsvFile:
    """A CSV file opened for reading: its encoding (given, or sniffed), separator and rows.

    `problem` is why it cannot be read at all (then no rows); `doubt` says the encoding was guessed."""

    def __init__(self, path: Path, encoding: str | None, cap: int):
        self.path, self.cap = path, cap
        self.problem = self.doubt = ""
        self.separator = ","
        self.width = 0  # cells in the header: a quoted cell that takes in lines this wide took in rows
        try:
            with path.open("rb") as handle:
                head = handle.read(HEAD + 1)
        except OSError as exc:
            self.problem = f"cannot read the file: {exc.strerror or exc}"
            return
        if encoding is not None:
            self.encoding = Encoding(encoding, encoding)
        else:
            self.encoding = sniff_encoding(head[:HEAD], complete=len(head) <= HEAD)
            if self.encoding.codec is None:
                self.problem = f"the file is not UTF-8, UTF-16 or GB18030 text; {ENCODING_HINT}"
                return
            if self.encoding.doubt:
                self.doubt = (
                    f"read as {self.encoding.name} ({self.encoding.doubt}); if names look garbled, {ENCODING_HINT}"
                )
        try:
            with self._open() as handle:
                lines = _Lines(handle, cap)
                for text in lines:
                    if text.strip():
                        self.separator = sniff_separator(text)
                        break
        except UnicodeDecodeError:
            self.problem = self._not_text(1)

    def _open(self) -> io.TextIOWrapper:
        # Bytes the encoding cannot read become stand-ins (surrogates): the row that holds them is
        # reported at its line and the rest are read, where a decoding error would stop the file
        # at a chunk boundary, lines before the bad one unread.
        return self.path.open(encoding=self.encoding.codec, errors="surrogateescape", newline="")

    def _not_text(self, line: int) -> str:
        if line > 1:
            return f"this line is not {self.encoding.name} text; {ENCODING_HINT}"
        return f"the file is not {self.encoding.name} text; {ENCODING_HINT}"

    def rows(self) -> Iterator[Row | Bad]:
        """Every row that is not blank (the header first), or in its place why it cannot be read."""
        if self.problem:
            return
        start = 0  # physical lines to pass over: reading starts again after an unclosed quote
        while True:
            parser = _Parser(self, start)
            try:
                with self._open() as handle:
                    yield from parser.run(_Lines(handle, self.cap))
            except UnicodeDecodeError:
                line = parser.lines.count + 1 if parser.lines else 1
                yield Bad(line, 1, self._not_text(line))
                return
            if parser.restart is None:
                return
            start = parser.restart


class _Lines:
    """The file's physical lines (with their endings), each read in pieces of at most cap + 1
    characters: a line longer than that comes in several pieces, and no piece holds more.
    `count`: the lines read to their end."""

    def __init__(self, handle: io.TextIOBase, cap: int):
        self.handle, self.cap, self.count = handle, cap, 0

    def __iter__(self) -> Iterator[str]:
        while True:
            piece = self.handle.readline(self.cap + 1)
            if not piece:
                return
            if piece.endswith(("\n", "\r")):
                self.count += 1
            yield piece

    def skip(self, lines: int) -> None:
        for piece in self:
            if self.count >= lines and piece.endswith(("\n", "\r")):
                return


def _body_end(text: str) -> int:
    if text.endswith("\r\n"):
        return len(text) - 2
    return len(text) - 1 if text.endswith(("\n", "\r")) else len(text)


class _Parser:
    """One reading of a file from a given line: rows, and where to start again after an unclosed quote."""

    def __init__(self, file: CsvFile, start: int):
        self.file, self.start = file, start
        self.restart: int | None = None
        self.lines: _Lines | None = None

    def run(self, lines: _Lines) -> Iterator[Row | Bad]:
        self.lines = lines
        if self.start:
            lines.skip(self.start)
        sep, cap = self.file.separator, self.file.cap
        cells: list[Cell] = []
        buf: list[str] = []
        quoted = fresh = False  # inside quotes; at the start of a cell
        row_line = cell_line = cell_col = 0
        opened = (0, 0)  # where the open quote opened
        taken = 0  # bytes of the row so far
        col_base = 0  # characters of the physical line before this piece (a long line comes in pieces)
        dirty = 0  # the first line of the row with bytes the encoding could not read
        for text in lines:
            n = lines.count if text.endswith(("\n", "\r")) else lines.count + 1
            if not row_line:
                if not text.strip():
                    continue  # a blank line between rows
                row_line, cells, buf, fresh, taken, dirty = n, [], [], True, 0, 0
                cell_line, cell_col = n, col_base + 1
            taken += len(text.encode("utf-8", "surrogateescape"))
            if taken > cap:
                yield from self._skip_oversize(text, quoted, opened, row_line, n, col_base)
                if self.restart is not None:
                    return
                row_line, quoted, col_base = 0, False, 0
                continue
            if not dirty and _UNDECODED.search(text):
                dirty = n
            end, i, done = _body_end(text), 0, False
            if row_line == n and not cells and not col_base and '"' not in text:
                # The common line, a whole row without quotes: split at once (the loop below is for quotes).
                col = 1
                for part in text[:end].split(sep):
                    cells.append(Cell(part, n, col))
                    col += len(part) + 1
                done = True
            while not done:
                if quoted:
                    j = text.find('"', i)
                    if j < 0:
                        buf.append(text[i:])
                        break
                    if j + 1 < len(text) and text[j + 1] == '"':
                        buf.append(text[i : j + 1])
                        i = j + 2
                        continue
                    buf.append(text[i:j])
                    quoted, i = False, j + 1
                if fresh and i < end and text[i] == '"':
                    quoted, fresh, opened = True, False, (n, col_base + i + 1)
                    i += 1
                    continue
                j = text.find(sep, i, end)
                stop = end if j < 0 else j
                buf.append(text[i:stop])
                cells.append(Cell("".join(buf), cell_line, cell_col))
                buf = []
                if j < 0:
                    done = True
                    break
                i, fresh, cell_line, cell_col = j + 1, True, n, col_base + j + 2
            col_base = 0 if text.endswith(("\n", "\r")) else col_base + len(text)
            if not done:
                continue
            row = Row(row_line, cells)
            row_line = 0
            swallowed = self._swallowed(row, sep) if n != row.line else None
            if swallowed:
                yield swallowed
                return
            if dirty:
                yield Bad(dirty, 1, self.file._not_text(dirty))
                continue
            long = next((c for c in cells if len(c.text) > FIELD_LIMIT), None) if taken > FIELD_LIMIT else None
            if long:
                yield Bad(row.line, long.col, f"cannot read this row: field larger than field limit ({FIELD_LIMIT})")
                continue
            yield row
        if quoted and row_line:
            yield self._unclosed(opened, "is never closed")

    def _unclosed(self, opened: tuple[int, int], how: str) -> Bad:
        self.restart = opened[0]
        return Bad(
            opened[0], opened[1], f"a quote opened here {how}; the row is skipped and reading goes on at the next line"
        )

    def _swallowed(self, row: Row, sep: str) -> Bad | None:
        """A quoted cell that took in whole lines as wide as the header: a stray quote, most likely,
        that swallowed rows up to the next stray quote. The row count would not match the lines."""
        least = self.file.width - 1  # separators on a line that reads as a row
        if least < 3:
            return None  # too narrow to tell a swallowed row from a note with commas in it
        for cell in row.cells:
            inner = cell.text.splitlines()[1:]
            if any(line.count(sep) >= least for line in inner):
                last = cell.line + len(cell.text.splitlines()) - 1
                return self._unclosed(
                    (cell.line, cell.col), f"closes only on line {last}, taking in lines that look like rows"
                )
        return None

    def _skip_oversize(
        self, text: str, quoted: bool, opened: tuple[int, int], row_line: int, n: int, col_base: int
    ) -> Iterator[Bad]:
        """Pass over the rest of a row over the size limit, unread: up to a line end outside quotes
        (told by counting quotes). A quote still open at the end of the file opened by mistake."""
        lines = self.lines
        assert lines is not None
        piece: str | None = text
        while piece:
            start = 0
            while True:
                j = piece.find('"', start)
                if j < 0:
                    break
                quoted = not quoted
                if quoted:
                    opened = (n, col_base + j + 1)
                start = j + 1
            if piece.endswith(("\n", "\r")):
                col_base = 0
                if not quoted:
                    break
            else:
                col_base += len(piece)
            piece = next(iter(lines), None)
            n = lines.count if piece and piece.endswith(("\n", "\r")) else lines.count + 1
        if quoted and not piece:
            yield self._unclosed(opened, "is never closed")
            return
        yield Bad(
            row_line,
            1,
            f"the row is over the limit of {self.file.cap:,} bytes; trim it, or {raise_hint('record_bytes')}",
        )
