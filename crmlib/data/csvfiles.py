"""How a CSV file splits into fields: its dialect, its column names, its blank records.

CSV files are read the RFC 4180 way: fields are separated by a delimiter (detected among ``,``
tab ``;`` ``|`` by :func:`sniff_csv` when a source sets none), may be quoted with ``"``, and a
quote inside a quoted field is doubled (a backslash escape is detected too). The header must be
the first non-blank line. These helpers read the file with Python's own reader in the dialect
DuckDB is given, so :class:`crmlib.data.sources.RawTable` can name columns and number rows the
way DuckDB does.

Before DuckDB reads a file, :func:`check_lines` scans its bytes once (memory bounded, also for a
small gzip that expands hugely): a line longer than :data:`MAX_LINE_BYTES` stops the load with a
:class:`~crmlib.errors.DataError` naming the file, its line and source row (DuckDB would lose such
a record without a word), and a file whose lines end partly in CR LF and partly in LF is read from
an LF copy (DuckDB refuses mixed line ends). :func:`looks_like_utf8` tells a UTF-8 file declared
in another encoding.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from crmlib.errors import DataError

__all__ = [
    "CSV_DELIMITERS",
    "MAX_LINE_BYTES",
    "CsvDialect",
    "LineScan",
    "sniff_csv",
    "column_names",
    "blank_records",
    "scan_lines",
    "check_lines",
    "looks_like_utf8",
]

#: Field separators tried, in this order, when a CSV source sets no ``delimiter``.
CSV_DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")

#: Longest line (bytes between two line ends) a CSV file may have: just under DuckDB's own
#: limit, 2,000,000 bytes. A longer line is no CRM value (a runaway quote, a binary blob, a
#: decompression bomb) and stops the load with an error naming it: DuckDB would set it aside,
#: but past a few MB, depending on where it falls in its read buffers, it loses such a record
#: without a word.
MAX_LINE_BYTES = 1_999_999

#: Lines of a CSV file read to detect its delimiter and header …
_SNIFF_LINES = 5000
#: … and at most this many characters of them, so one huge line cannot fill the memory.
_SNIFF_CHARS = 4 * 2**20
#: Bytes read at a time when a file is scanned or copied.
_CHUNK = 1 << 23
#: Bytes at the start of a file that :func:`looks_like_utf8` examines …
_UTF8_SAMPLE = 1 << 20
#: … and the non-ASCII characters they must hold to count as UTF-8 text. Text in GBK, Big5 or
#: Latin-1 is almost never also valid UTF-8: the chance falls about fivefold with each CJK
#: character, so 8 of them leave about one chance in a million of a wrong call.
_UTF8_MIN_NON_ASCII = 8


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file splits into fields, as :func:`sniff_csv` found it.

    Attributes
    ----------
    delimiter
        Field separator.
    escape
        What escapes a ``"`` inside a quoted field: ``"`` (RFC 4180, the quote doubled) or ``\\``.
    header
        Fields of the header line.
    skip
        Blank lines before the header.
    """

    delimiter: str
    escape: str
    header: tuple[str, ...]
    skip: int = 0


def _csv_rows(lines: Iterable[str], delimiter: str, escape: str) -> Iterator[list[str]]:
    """Python's reader with the dialect DuckDB is given; a blank line comes back as ``[]``."""
    rfc = escape == '"'
    return csv.reader(
        lines,
        delimiter=delimiter,
        quotechar='"',
        doublequote=rfc,
        escapechar=None if rfc else escape,
        strict=False,
    )


def _open_bytes(path: Path) -> BinaryIO:
    """``path`` (plain or gzip) as bytes."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _open_text(path: Path, errors: str = "strict") -> IO[str]:
    """``path`` (plain or gzip) as UTF-8 text, a byte-order mark dropped, line ends untouched."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors=errors, newline="")
    return path.open(encoding="utf-8-sig", errors=errors, newline="")


def _consistency(sample: str, delimiter: str, escape: str) -> tuple[int, list[str], int]:
    """(records with as many fields as the header, header fields, blank lines before it)."""
    header: list[str] = []
    skip = score = 0
    # csv.Error: a field longer than Python's limit; judge on what was read before it
    with contextlib.suppress(csv.Error):
        for row in _csv_rows(io.StringIO(sample), delimiter, escape):
            if not header:
                skip += not row
                header = row
            elif row:
                score += len(row) == len(header)
    return score, header, skip


def sniff_csv(path: Path, delimiter: str | None = None) -> CsvDialect:
    """Detect the dialect of a UTF-8 CSV file from its first lines.

    Each candidate delimiter (only ``delimiter`` when given) and escape is scored by how many
    sampled records have as many fields as the header; the best wins, earlier candidates on a
    tie. Malformed lines in the sample only lower a score, so they cannot change the dialect the
    way they can fool a sniffer that wants every sampled line to agree.

    Raises
    ------
    UnicodeDecodeError
        The sampled lines are not valid UTF-8.
    """
    lines: list[str] = []
    budget = _SNIFF_CHARS
    with _open_text(path) as fh:
        while len(lines) < _SNIFF_LINES and budget > 0 and (line := fh.readline(budget)):
            lines.append(line)
            budget -= len(line)
    if budget <= 0 and len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines.pop()  # cut off mid-line
    sample = "".join(lines)
    delimiters = (delimiter,) if delimiter else tuple(d for d in CSV_DELIMITERS if d in sample)
    escapes = ('"', "\\") if "\\" in sample else ('"',)
    best: tuple[int, CsvDialect] | None = None
    for delim, escape in itertools.product(delimiters, escapes):
        score, header, skip = _consistency(sample, delim, escape)
        if (len(header) > 1 or delimiter) and (best is None or score > best[0]):
            best = (score, CsvDialect(delim, escape, tuple(header), skip))
    if best is None:  # one column: no candidate splits the header
        _, header, skip = _consistency(sample, ",", '"')
        return CsvDialect(",", '"', tuple(header), skip)
    return best[1]


def column_names(header: Sequence[str]) -> list[str]:
    """Column names for header fields, as DuckDB's reader names them.

    Spaces around a name are trimmed, an empty name becomes ``column<i>`` (zero-padded to the
    widest index) and a repeated name (case-insensitively) gets ``_1``, ``_2`` … appended.
    """
    width = len(str(len(header) - 1))
    names: list[str] = []
    taken: set[str] = set()
    for i, field_name in enumerate(header):
        name = field_name.strip(" ") or f"column{i:0{width}d}"
        base, n = name, 0
        while name.lower() in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def _has_blank_line(path: Path) -> bool:
    """Whether ``path`` (plain or gzip) holds an empty line anywhere (a fast byte scan)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    tail = b""
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 23):
            block = tail + chunk
            if b"\n\n" in block or b"\n\r\n" in block or b"\r\r" in block:
                return True
            tail = block[-2:]
    return False


def blank_records(path: Path, dialect: CsvDialect, before: int) -> list[int]:
    """Blank records among data records ``1 .. before - 1``, numbered the way DuckDB counts.

    Parameters
    ----------
    path
        The CSV file (plain or gzip, UTF-8).
    dialect
        Its dialect (:func:`sniff_csv`).
    before
        Look at data records before this one.


    DuckDB's rejects number records counting blank lines (a quoted field spanning lines counts
    once), while blank lines yield no row; these numbers let the two agree. Only a file that has
    an empty line at all is parsed, with Python's reader in DuckDB's dialect.
    """
    if before <= 1 or not _has_blank_line(path):
        return []
    blank: list[int] = []
    with _open_text(path, errors="replace") as fh:
        rows = _csv_rows(fh, dialect.delimiter, dialect.escape)
        # csv.Error: a field longer than Python's limit; later rows are taken as not blank
        with contextlib.suppress(csv.Error):
            for _ in range(dialect.skip + 1):  # blank lines before the header, the header
                next(rows, None)
            for number, row in enumerate(rows, start=1):
                if number >= before:
                    break
                if not row:
                    blank.append(number)
    return blank


@dataclass(frozen=True)
class LineScan:
    """What one pass over a file's bytes found (:func:`scan_lines`).

    Attributes
    ----------
    lines
        Line feeds in the file.
    crlf
        Lines ending in CR LF.
    first_crlf, first_lf
        File line (1-based) of the first line ending in CR LF and of the first ending in LF
        alone; ``None`` when there is none.
    too_long
        File line of the first line longer than the limit (the scan stops there), or ``None``.
    """

    lines: int
    crlf: int
    first_crlf: int | None = None
    first_lf: int | None = None
    too_long: int | None = None

    @property
    def mixed(self) -> bool:
        """Whether some lines end in CR LF and others in LF alone."""
        return 0 < self.crlf < self.lines


def scan_lines(path: Path, *, limit: int = MAX_LINE_BYTES) -> LineScan:
    """Count the line ends of ``path`` (plain or gzip) and find a line longer than ``limit``.

    Reads the bytes once in chunks of at most ``limit`` bytes, so memory stays bounded however
    long a line is, and stops at the first line over ``limit`` bytes.
    """
    size = max(1, min(_CHUNK, limit))
    lines = crlf = run = 0
    first_crlf = first_lf = None
    prev_cr = False
    with _open_bytes(path) as fh:
        while chunk := fh.read(size):
            n = chunk.count(b"\n")
            joined = prev_cr and chunk.startswith(b"\n")  # a CR LF split between two chunks
            c = chunk.count(b"\r\n") + joined
            if first_crlf is None and c:
                at = 0 if joined else chunk.find(b"\r\n")
                first_crlf = lines + chunk.count(b"\n", 0, at) + 1
            if first_lf is None and n > c:
                at = chunk.find(b"\n")
                while (at > 0 and chunk[at - 1] == 13) or (at == 0 and prev_cr):
                    at = chunk.find(b"\n", at + 1)
                first_lf = lines + chunk.count(b"\n", 0, at) + 1
            first = chunk.find(b"\n")
            if (first if first >= 0 else len(chunk)) + run > limit:
                return LineScan(lines, crlf + c, first_crlf, first_lf, too_long=lines + 1)
            # a line inside the chunk is no longer than the chunk, hence than the limit
            run = run + len(chunk) if first < 0 else len(chunk) - chunk.rfind(b"\n") - 1
            lines, crlf, prev_cr = lines + n, crlf + c, chunk.endswith(b"\r")
    if run > limit:
        return LineScan(lines, crlf, first_crlf, first_lf, too_long=lines + 1)
    return LineScan(lines, crlf, first_crlf, first_lf)


def _record_of_line(path: Path, dialect: CsvDialect, line: int) -> int | None:
    """Source row of the record that starts on file line ``line`` (``None``: the header)."""
    with _open_bytes(path) as fh:
        head = (fh.readline().decode("utf-8", "replace") for _ in range(line - 1))
        records = 0  # non-blank records before the line, the header included
        with contextlib.suppress(csv.Error):
            for row in _csv_rows(head, dialect.delimiter, dialect.escape):
                records += bool(row)
    return records or None


def _lf_copy(path: Path) -> Path:
    """A plain copy of ``path`` in a new temporary folder, every CR LF written as LF."""
    out = Path(tempfile.mkdtemp(prefix="crm-lines-")) / "source.csv"
    with _open_bytes(path) as src, out.open("wb") as dst:
        held = b""
        while chunk := src.read(_CHUNK):
            block = held + chunk
            held = b"\r" if block.endswith(b"\r") else b""
            dst.write(block[: len(block) - len(held)].replace(b"\r\n", b"\n"))
        dst.write(held)
    return out


def check_lines(
    path: Path, dialect: CsvDialect, *, label: str, limit: int = MAX_LINE_BYTES
) -> tuple[Path, str | None]:
    """Check the lines of a UTF-8 CSV file before DuckDB reads it.

    Parameters
    ----------
    path
        The file (plain or gzip).
    dialect
        Its dialect (:func:`sniff_csv`), to name the source row of a line too long.
    label
        How errors name the file.
    limit
        Longest line allowed, in bytes.

    Returns
    -------
    tuple of (Path, str or None)
        The file to read: ``path`` itself, or, when its line ends are mixed (some CR LF, some LF),
        a plain copy in a new temporary folder (the caller removes it) with every line end LF;
        and a note for the quality report saying so, or ``None``.

    Raises
    ------
    DataError
        A line longer than ``limit`` (naming its file line and source row), or a compressed file
        that is broken.
    """
    try:
        scan = scan_lines(path, limit=limit)
        if scan.too_long is not None:
            row = _record_of_line(path, dialect, scan.too_long)
            where = "the header line" if row is None else f"line {scan.too_long:,} of the file"
            raise DataError(
                f"{where} is longer than {limit:,} bytes, the most a CSV line may hold: a field "
                "this long is no CRM value (a quote never closed, a binary blob or a damaged "
                "file); fix or remove the record",
                file=label,
                row=row,
            )
        if not scan.mixed:
            return path, None
        copy = _lf_copy(path)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; EOFError: cut short
        what = "not a gzip file" if isinstance(exc, gzip.BadGzipFile) else "unreadable"
        if isinstance(exc, EOFError):
            what = "a compressed file that ends too early (truncated)"
        raise DataError(f"cannot read the file: {what} ({exc})", file=label) from exc
    note = (
        f"line ends are mixed: {scan.crlf:,} line(s) end with CR LF (Windows) and "
        f"{scan.lines - scan.crlf:,} with LF alone (the first CR LF at line {scan.first_crlf:,} "
        f"of the file, the first LF alone at line {scan.first_lf:,}); every line end was read "
        "as LF"
    )
    return copy, note


def looks_like_utf8(path: Path) -> bool:
    """Whether ``path`` (plain or gzip) looks like UTF-8 text, whatever encoding it was declared.

    True when it starts with a UTF-8 byte-order mark, or when its first MiB is valid UTF-8 and
    holds at least :data:`_UTF8_MIN_NON_ASCII` non-ASCII characters (pure ASCII reads the same in
    every encoding, so it is not called UTF-8). A file that cannot be opened is not.
    """
    try:
        with _open_bytes(path) as fh:
            head = fh.read(_UTF8_SAMPLE)
    except (OSError, EOFError):
        return False
    if head.startswith(codecs.BOM_UTF8):
        return True
    try:  # final=False: a character cut at the end of the sample is no error
        text = codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return len(text) - len(text.encode("ascii", "ignore")) >= _UTF8_MIN_NON_ASCII
