"""How a CSV file splits into fields: its dialect, its column names, its blank records.

CSV files are read the RFC 4180 way: fields are separated by a delimiter (detected among ``,``
tab ``;`` ``|`` by :func:`sniff_csv` when a source sets none), may be quoted with ``"``, and a
quote inside a quoted field is doubled (a backslash escape is detected too). The header must be
the first non-blank line. These helpers read the file with Python's own reader in the dialect
DuckDB is given, so :class:`crmlib.data.sources.RawTable` can name columns and number rows the
way DuckDB does.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["CSV_DELIMITERS", "CsvDialect", "sniff_csv", "column_names", "blank_records"]

#: Field separators tried, in this order, when a CSV source sets no ``delimiter``.
CSV_DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")

#: Lines of a CSV file read to detect its delimiter and header.
_SNIFF_LINES = 5000


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
    with _open_text(path) as fh:
        sample = "".join(itertools.islice(fh, _SNIFF_LINES))
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
