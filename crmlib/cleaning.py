"""Cleaning rules that turn one raw source table into its canonical table.

The work runs as SQL on the embedded DuckDB connection, so a 10M-line export cleans in seconds:

1. the source is read as text (CSV: every column as VARCHAR; Parquet and databases keep their
   types) into a temporary table. A CSV line that does not split into the header's fields (too
   many or too few fields, a quote that is never closed, a line over DuckDB's size limit) is
   rejected as ``malformed_line``, its text and DuckDB's error kept for the quarantine, and the
   rest of the file still loads;
2. each row gets its 1-based source row number: row 1 is the first record after the header, a
   record whose quoted field spans several lines counts once, blank lines are skipped and not
   numbered, and malformed lines keep their place, so rows after them keep their true numbers;
3. one pass parses every canonical column (amounts, dates, channels, identifiers), marks exact
   duplicate lines, and gives each row either no reason (kept) or the first reason that rejects it;
4. kept rows go to the canonical table (Parquet file or in-memory table), rejected rows with their
   source row, reason, original values (for a malformed line: its ``line_text`` and the parser's
   ``detail``) to the quarantine CSV, and the counts to a :class:`~crmlib.quality.TableQuality`.

CSV files are read the RFC 4180 way: fields are separated by the table's ``delimiter`` (detected
among ``,`` tab ``;`` ``|`` when not set), may be quoted with ``"``, and a quote inside a quoted
field is doubled (a backslash escape is detected too). The header must be the first non-blank
line. An unclosed quote runs on to the next quote character, so the lines it swallows form one
malformed record whose ``line_text`` holds them all.

Every rule is configured under ``cleaning:`` in ``params/data.yaml``; :data:`DEFAULTS` documents
the defaults. Timestamps are stored as naive local time in the table's ``timezone``: naive values
are kept as they are, values with an explicit offset (``2024-03-05T10:00:00+00:00``) and
``TIMESTAMP WITH TIME ZONE`` columns are converted into that zone.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import gzip
import io
import itertools
import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import pandas as pd

from crmlib.config import check_choice, read_yaml
from crmlib.errors import ConfigError, DataError
from crmlib.quality import TableQuality

logger = logging.getLogger(__name__)

#: Default cleaning rules (override any of them under ``cleaning:`` in ``params/data.yaml``).
DEFAULTS: dict[str, Any] = {
    # amounts: these symbols and the thousands separator are stripped; "(12.00)" means -12.00
    "currency_symbols": ["¥", "￥", "元", "RMB", "CNY", "US$", "$"],
    "thousands_separator": ",",
    "parentheses_negative": True,
    # dates: ISO 8601 (with or without time, "T" or space) always parses; these formats are
    # tried next, in order (DuckDB strptime codes; %m and %d also accept 1-digit values)
    "date_formats": [
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日 %H:%M",
        "%Y年%m月%d日",
        "%Y%m%d",
        "%Y%m%d%H%M%S",
        "%Y.%m.%d",
        "%Y-%m-%d %H:%M",
    ],
    # exact duplicate lines (every column equal): drop the repeats (quarantined) or keep them
    "duplicates": "drop",
    # negative amounts are returns: net keeps them (revenue is net), drop quarantines them
    "returns": "net",
    # zero amounts: keep (counted) or quarantine
    "zero_amounts": "keep",
    # customer_id values that mean "no customer" (anonymous sale); compared after trimming,
    # case-insensitively
    "missing_customer_values": ["", "0", "NULL", "None", "-", "NA", "N/A", "NaN", "nil"],
    # rows dated after max_date (ISO date or date-time; empty = the load time) are future_date
    "max_date": "",
    # future_date rows: quarantine or keep (counted)
    "future_dates": "quarantine",
    # channel values that match no code or alias of channels_file: map to "unknown" or quarantine
    "unknown_channels": "map",
    "channels_file": "params/channels.yaml",
    # campaign_members.group: the canonical values are target and control; these aliases map
    # onto them (compared after trimming, case-insensitively; each mapped row is counted as
    # group_alias); any other value is quarantined as unknown_group
    "group_aliases": {
        "target": ["treatment", "test", "目标组", "实验组"],
        "control": ["holdout", "对照组"],
    },
}

#: Canonical values of ``campaign_members.group``.
GROUPS: tuple[str, ...] = ("target", "control")

#: Key columns that identify one row; later rows repeating a key are quarantined as
#: ``duplicate_key`` (the first row with the key that passes every other rule is kept).
KEYS: dict[str, str] = {
    "customers": "customer_id",
    "campaigns": "campaign_id",
}

_CHOICES = {
    "duplicates": ("drop", "keep"),
    "returns": ("net", "drop"),
    "zero_amounts": ("keep", "quarantine"),
    "future_dates": ("quarantine", "keep"),
    "unknown_channels": ("map", "quarantine"),
}

_SQL_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "float64": "DOUBLE",
    "int64": "BIGINT",
}

#: The column whose date decides ``future_date`` per table.
EVENT_TIME: dict[str, str] = {
    "transactions": "ordered_at",
    "touchpoints": "occurred_at",
    "events": "occurred_at",
}

# ISO 8601 date with optional time (not counted as a repair)
_ISO_RE = r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
# a time of day followed by an explicit UTC offset or Z
_OFFSET_RE = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"


def check_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``rules`` onto :data:`DEFAULTS` and validate them (raises ConfigError)."""
    unknown = set(rules) - set(DEFAULTS)
    if unknown:
        raise ConfigError(
            f"unknown cleaning option(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(DEFAULTS)}"
        )
    out = {**DEFAULTS, **rules}
    for name, allowed in _CHOICES.items():
        check_choice(f"cleaning.{name}", out[name], allowed)
    check_choice("cleaning.parentheses_negative", out["parentheses_negative"], (True, False))
    for name in ("currency_symbols", "date_formats", "missing_customer_values"):
        if not isinstance(out[name], list) or not all(isinstance(v, str) for v in out[name]):
            raise ConfigError(f"parameter 'cleaning.{name}' must be a list of strings")
    if not isinstance(out["thousands_separator"], str) or len(out["thousands_separator"]) > 1:
        raise ConfigError("parameter 'cleaning.thousands_separator' must be one character or ''")
    aliases = out["group_aliases"]
    if not isinstance(aliases, Mapping) or set(aliases) - set(GROUPS):
        raise ConfigError(
            "parameter 'cleaning.group_aliases' must map target and/or control to lists of "
            f"aliases; got {aliases!r}"
        )
    seen: dict[str, str] = {}
    for group, names in aliases.items():
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise ConfigError(
                f"parameter 'cleaning.group_aliases.{group}' must be a list of strings"
            )
        for name in names:
            key = name.strip().lower()
            if key in GROUPS or seen.get(key, group) != group:
                raise ConfigError(
                    f"parameter 'cleaning.group_aliases.{group}' lists {name!r}, which already "
                    "means another group"
                )
            seen[key] = group
    out["group_aliases"] = {g: list(aliases.get(g, [])) for g in GROUPS}
    if out["max_date"] not in ("", None):
        try:
            pd.Timestamp(str(out["max_date"]))
        except ValueError as exc:
            raise ConfigError(
                f"parameter 'cleaning.max_date' must be an ISO date; got {out['max_date']!r}"
            ) from exc
    return out


def read_channels(path: str | Path) -> dict[str, list[str]]:
    """Channel codes and their aliases from a channels YAML file (``params/channels.yaml``)."""
    data = read_yaml(path) or {}
    channels = data.get("channels") if isinstance(data, Mapping) else None
    if not isinstance(channels, Mapping) or not channels:
        raise ConfigError(f"params file {str(path)!r} must hold a non-empty 'channels' mapping")
    out: dict[str, list[str]] = {}
    for code, spec in channels.items():
        aliases = (spec or {}).get("aliases", []) if isinstance(spec, Mapping) else []
        if not isinstance(aliases, list):
            raise ConfigError(f"channels.{code}.aliases in {str(path)!r} must be a list")
        out[str(code)] = [str(a) for a in aliases]
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\/-" else ch for ch in text)


#: Field separators tried, in this order, when a CSV source sets no ``delimiter``.
CSV_DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")

#: Lines of a CSV file read to detect its delimiter and header.
_SNIFF_LINES = 5000

_ENCODING_HINT = "; set its `encoding` in params/data.yaml (e.g. gbk)"


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


def _column_names(header: Sequence[str]) -> list[str]:
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


def _blank_records(path: Path, dialect: CsvDialect, before: int) -> list[int]:
    """Blank records among data records ``1 .. before - 1``, numbered the way DuckDB counts.

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


def _free_name(name: str, taken: Iterable[str]) -> str:
    """``name``, with ``_`` appended until no name in ``taken`` equals it."""
    used = {t.lower() for t in taken}
    while name.lower() in used:
        name += "_"
    return name


@dataclass
class Source:
    """One table's source as configured in ``params/data.yaml`` (paths resolved)."""

    table: str
    path: Path | None = None
    url: str | None = None
    db_table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    timezone: str = "Asia/Shanghai"
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None

    @property
    def label(self) -> str:
        """How reports and errors name the source."""
        if self.path is not None:
            return str(self.path)
        return f"{self.url} ({self.db_table or 'query'})"


@dataclass
class Cleaned:
    """Result of cleaning one table: where the canonical rows are and the counts."""

    quality: TableQuality
    parquet: Path | None = None
    table_name: str | None = None


class _Cleaner:
    """Cleans one source table on a DuckDB connection (see module docstring)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: Source,
        schema: Mapping[str, str],
        required: Sequence[str],
        rules: Mapping[str, Any],
        channels: Mapping[str, list[str]],
        max_date: pd.Timestamp,
    ) -> None:
        self.con, self.src, self.schema, self.required = con, source, schema, tuple(required)
        self.rules, self.channels, self.max_date = rules, channels, max_date
        tag = uuid.uuid4().hex[:10]
        self.raw = f"__crm_raw_{source.table}_{tag}"
        self.work = f"__crm_work_{source.table}_{tag}"
        # malformed CSV lines: DuckDB's rejects, then (source_row, detail, line_text) and the
        # steps that number the rows read around them (see _numbered)
        self.rejects = f"__crm_rejects_{source.table}_{tag}"
        self.rejects_scan = f"__crm_rejects_scan_{source.table}_{tag}"
        self.bad = f"__crm_bad_{source.table}_{tag}"
        self.steps = f"__crm_steps_{source.table}_{tag}"
        self.n_bad = 0
        self.notes: list[str] = []
        self._tmp: list[Path] = []

    # -- reading -------------------------------------------------------------------------------
    def read(self) -> None:
        src = self.src
        if src.url:
            self._read_database()
            return
        assert src.path is not None
        if not src.path.exists():
            raise DataError(f"{src.table} source file does not exist", file=str(src.path))
        name = src.path.name.lower()
        try:
            if name.endswith(".parquet"):
                self.con.execute(
                    f"CREATE TEMP TABLE {_q(self.raw)} AS "
                    f"SELECT * FROM read_parquet({_lit(str(src.path))})"
                )
            elif name.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".txt.gz", ".tsv.gz")):
                self._read_csv(self._utf8_path(src.path))
            else:
                raise DataError(
                    f"unsupported file type for {src.table}; use .csv, .csv.gz or .parquet",
                    file=str(src.path),
                    value=src.path.suffix,
                )
        except duckdb.Error as exc:
            hint = (
                _ENCODING_HINT
                if "unicode" in str(exc).lower() or "utf-8" in str(exc).lower()
                else ""
            )
            raise DataError(
                f"cannot read {src.table}: {str(exc).splitlines()[0]}{hint}", file=str(src.path)
            ) from exc

    def _read_csv(self, path: Path) -> None:
        """Read a UTF-8 CSV file into the raw table, malformed lines into :attr:`bad`."""
        table, label = self.src.table, str(self.src.path)
        try:
            dialect = sniff_csv(path, self.src.delimiter)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"cannot read {table}: not valid UTF-8 in its first lines{_ENCODING_HINT}",
                file=label,
                value=exc.object[exc.start : exc.end + 3],
            ) from exc
        if not dialect.header:
            raise DataError(f"{table} source file is empty", file=label)
        if any("\n" in name or "\r" in name for name in dialect.header):
            raise DataError(
                f"the header line of {table} is malformed: a quote opened in it is not closed",
                file=label,
                value=dialect.delimiter.join(dialect.header)[:80],
            )
        names = _column_names(dialect.header)
        columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
        options = (
            f"auto_detect=false, header=true, skip={dialect.skip}, "
            f"delim={_lit(dialect.delimiter)}, quote='\"', escape={_lit(dialect.escape)}, "
            f"columns={columns}, store_rejects=true, rejects_table={_lit(self.rejects)}, "
            f"rejects_scan={_lit(self.rejects_scan)}"
        )
        self.con.execute(
            f"CREATE TEMP TABLE {_q(self.raw)} AS "
            f"SELECT * FROM read_csv({_lit(str(path))}, {options})"
        )
        self._collect_malformed(path, dialect)

    def _collect_malformed(self, path: Path, dialect: CsvDialect) -> None:
        """Number DuckDB's rejected lines as source rows into :attr:`bad` and :attr:`steps`.

        DuckDB gives each rejected record its line in the file (the header and blank lines
        counted, a quoted field spanning lines counted once); less the header, the blank lines
        before the header and the blank records before it, that is its source row. A line that
        is not valid UTF-8 stops the load, as an unreadable file always has.
        """
        found = self.con.execute(
            "SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; '), "
            "min(csv_line), bool_or(error_type = 'INVALID ENCODING') "
            f"FROM {_q(self.rejects)} GROUP BY line ORDER BY line"
        ).fetchall()
        if not found:
            return
        first = dialect.skip + 1  # DuckDB's line of the header
        blank = _blank_records(path, dialect, found[-1][0] - first)
        rows = [
            (line - first - bisect.bisect_left(blank, line - first), detail, text, encoding)
            for line, detail, text, encoding in found
        ]
        for row, detail, _, encoding in rows:
            if encoding:
                raise DataError(
                    f"cannot read {self.src.table}: {detail}{_ENCODING_HINT}",
                    file=str(self.src.path),
                    row=row,
                )
        frame = pd.DataFrame(
            [(row, detail, (text or "").strip("\r\n")) for row, detail, text, _ in rows],
            columns=["source_row", "detail", "line_text"],
        )
        self._store_malformed(frame)
        spanning = frame.loc[frame["line_text"].str.contains("\n", regex=False), "source_row"]
        if len(spanning):
            self.notes.append(
                f"{len(spanning):,} malformed row(s) span several lines of the file, the first "
                f"at source row {spanning.iloc[0]}: a quoted field runs over the line end (a quote "
                "left open runs on to the next quote character), so the lines it covers are part "
                "of that row; see its line_text in the quarantine"
            )

    def _store_malformed(self, frame: pd.DataFrame) -> None:
        """Write ``source_row, detail, line_text`` of malformed rows to :attr:`bad`, and the
        steps that number the rows read around them to :attr:`steps`."""
        view = f"{self.bad}_df"
        self.con.register(view, frame)
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {_q(self.bad)} AS SELECT CAST(source_row AS BIGINT) "
                f"AS source_row, detail, line_text FROM {_q(view)}"
            )
        finally:
            self.con.unregister(view)
        # the k-th row read is source row k + #{j : r_j - j < k} for malformed rows r_1 < r_2 …
        self.con.execute(
            f"CREATE TEMP TABLE {_q(self.steps)} AS SELECT source_row - n AS __gap, "
            f"max(n) AS __shift FROM (SELECT source_row, row_number() OVER "
            f"(ORDER BY source_row) AS n FROM {_q(self.bad)}) GROUP BY 1"
        )
        self.n_bad = len(frame)

    def _numbered(self) -> str:
        """The raw table with ``__row``, each row's 1-based source row, as a SQL subquery."""
        if not self.n_bad:
            return f"(SELECT rowid + 1 AS __row, * FROM {_q(self.raw)})"
        return (
            f"(SELECT r.rowid + 1 + COALESCE(s.__shift, 0) AS __row, r.* FROM {_q(self.raw)} r "
            f"ASOF LEFT JOIN {_q(self.steps)} s ON r.rowid + 1 > s.__gap)"
        )

    def _utf8_path(self, path: Path) -> Path:
        """``path`` itself for UTF-8 (BOM tolerated), else a temporary UTF-8 copy."""
        encoding = self.src.encoding.lower().replace("_", "-")
        try:
            codec = codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(
                f"parameter '{self.src.table}.encoding' names an unknown encoding: "
                f"{self.src.encoding!r}"
            ) from exc
        if codec.name in ("utf-8", "utf-8-sig"):
            return path
        tmpdir = Path(tempfile.mkdtemp(prefix="crm-transcode-"))
        self._tmp.append(tmpdir)
        out = tmpdir / "source.csv"
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        decoded = 0
        try:
            with (
                opener(path, "rb") as raw,
                out.open("w", encoding="utf-8", newline="") as dst,
            ):
                reader = codecs.getreader(codec.name)(raw, errors="strict")
                while chunk := reader.read(1 << 20):
                    dst.write(chunk)
                    decoded += len(chunk)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{self.src.table} is not valid {self.src.encoding} near character {decoded:,}",
                file=str(path),
                value=exc.object[exc.start : exc.end + 3],
            ) from exc
        return out

    def _read_database(self) -> None:
        src = self.src
        url = str(src.url)
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("duckdb", "sqlite"):
            raise ConfigError(
                f"parameter '{src.table}.url' must start with duckdb:/// or sqlite:/// "
                f"(PostgreSQL: see params/data.yaml); got {url!r}"
            )
        # SQLAlchemy convention: duckdb:///rel/path.db, duckdb:////abs/path.db
        db_path = Path(rest[1:] if rest.startswith("/") else rest)
        if not db_path.is_absolute():
            db_path = Path.cwd() / db_path
        if not db_path.exists():
            raise DataError(f"{src.table} database does not exist", file=str(db_path))
        if not (src.db_table or src.query):
            raise ConfigError(f"parameter '{src.table}' with a url needs `table` or `query`")
        select = src.query or f"SELECT * FROM {_q(str(src.db_table))}"
        if scheme == "sqlite" and not self._sqlite_extension():
            self._read_sqlite_python(db_path, select)
            return
        alias = f"__crm_src_{uuid.uuid4().hex[:8]}"
        kind = ", TYPE sqlite" if scheme == "sqlite" else ""
        try:
            self.con.execute(f"ATTACH {_lit(str(db_path))} AS {_q(alias)} (READ_ONLY{kind})")
        except duckdb.Error as exc:
            raise DataError(f"cannot open database: {exc}", file=str(db_path)) from exc
        try:
            current = self.con.execute("SELECT current_database()").fetchone()[0]
            self.con.execute(f"USE {_q(alias)}")
            try:
                self.con.execute(f"CREATE TEMP TABLE temp.main.{_q(self.raw)} AS {select}")
            finally:
                self.con.execute(f"USE {_q(current)}")
        except duckdb.Error as exc:
            raise DataError(
                f"cannot read {src.table} from database: {str(exc).splitlines()[0]}",
                file=str(db_path),
                value=src.db_table or src.query,
            ) from exc
        finally:
            self.con.execute(f"DETACH {_q(alias)}")

    def _sqlite_extension(self) -> bool:
        try:
            self.con.execute("LOAD sqlite")
            return True
        except duckdb.Error:
            try:
                self.con.execute("INSTALL sqlite")
                self.con.execute("LOAD sqlite")
                return True
            except duckdb.Error:
                return False

    def _read_sqlite_python(self, db_path: Path, select: str) -> None:
        """Fallback when DuckDB's sqlite extension cannot be installed (offline machines)."""
        try:
            with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as sq:
                frame = pd.read_sql_query(select, sq)
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise DataError(
                f"cannot read {self.src.table} from database: {exc}",
                file=str(db_path),
                value=self.src.db_table or self.src.query,
            ) from exc
        view = f"{self.raw}_df"
        self.con.register(view, frame)
        try:
            self.con.execute(f"CREATE TEMP TABLE {_q(self.raw)} AS SELECT * FROM {_q(view)}")
        finally:
            self.con.unregister(view)

    # -- parsing -------------------------------------------------------------------------------
    def _columns(self) -> tuple[dict[str, str], dict[str, str]]:
        """(canonical -> raw column name, raw column name -> DuckDB type)."""
        described = self.con.execute(f"DESCRIBE {_q(self.raw)}").fetchall()
        types = {row[0]: str(row[1]) for row in described}
        by_clean = {name.strip().lstrip("\ufeff").strip(): name for name in types}
        mapping: dict[str, str] = {}
        for col in self.schema:
            wanted = self.src.columns.get(col, col)
            if wanted in by_clean:
                mapping[col] = by_clean[wanted]
            elif col in self.required:
                raise DataError(
                    f"{self.src.table} lacks required column {wanted!r} "
                    f"(canonical {col!r}); columns found",
                    file=self.src.label,
                    column=wanted,
                    value=", ".join(by_clean),
                )
            elif col in self.src.columns:
                self.notes.append(f"mapped column {wanted!r} ({col}) not in the source; left empty")
        return mapping, types

    def _blank(self, raw: str, rtype: str) -> str:
        r = _q(raw)
        if rtype == "VARCHAR":
            return f"({r} IS NULL OR trim({r}) = '')"
        return f"({r} IS NULL)"

    def _text(self, raw: str, rtype: str) -> str:
        r = _q(raw) if rtype == "VARCHAR" else f"CAST({_q(raw)} AS VARCHAR)"
        return f"NULLIF(trim({r}), '')"

    def _number(self, raw: str, rtype: str) -> tuple[str, str]:
        """(parsed DOUBLE expression, 'was repaired' expression)."""
        if rtype != "VARCHAR" and _is_numeric(rtype):
            return f"CAST({_q(raw)} AS DOUBLE)", "false"
        s = self._text(raw, rtype)
        strip = [r"\s"]
        if self.rules["thousands_separator"]:
            strip.append(_regex_escape(self.rules["thousands_separator"]))
        strip_class = "[" + "".join(strip) + "()（）]"
        symbols = "|".join(
            _regex_escape(sym)
            for sym in sorted(self.rules["currency_symbols"], key=len, reverse=True)
        )
        pattern = strip_class + (f"|{symbols}" if symbols else "")
        core = f"TRY_CAST(regexp_replace({s}, {_lit(pattern)}, '', 'gi') AS DOUBLE)"
        if self.rules["parentheses_negative"]:
            paren = f"regexp_full_match({s}, '^[(（].*[)）]$')"
            core = f"(CASE WHEN {paren} THEN -abs({core}) ELSE {core} END)"
        parsed = f"COALESCE(TRY_CAST({s} AS DOUBLE), {core})"
        repaired = f"(TRY_CAST({s} AS DOUBLE) IS NULL AND {core} IS NOT NULL)"
        return parsed, repaired

    def _timestamp(self, raw: str, rtype: str) -> tuple[str, str, str]:
        """(parsed TIMESTAMP expression, 'format repaired', 'offset converted') expressions."""
        tz = _lit(self.src.timezone)
        r = _q(raw)
        if rtype.startswith("TIMESTAMP WITH TIME ZONE") or rtype == "TIMESTAMPTZ":
            return f"timezone({tz}, {r})", "false", f"({r} IS NOT NULL)"
        if rtype.startswith("TIMESTAMP") or rtype == "DATE":
            return f"CAST({r} AS TIMESTAMP)", "false", "false"
        s = self._text(raw, rtype)
        has_offset = f"regexp_matches({s}, {_lit(_OFFSET_RE)})"
        iso = f"TRY_CAST({s} AS TIMESTAMP)"
        formats = "[" + ", ".join(_lit(f) for f in self.rules["date_formats"]) + "]"
        other = f"try_strptime({s}, {formats})" if self.rules["date_formats"] else "NULL"
        parsed = (
            f"(CASE WHEN {has_offset} THEN timezone({tz}, TRY_CAST({s} AS TIMESTAMPTZ)) "
            f"ELSE COALESCE({iso}, {other}) END)"
        )
        repaired = f"(NOT {has_offset} AND NOT regexp_full_match({s}, {_lit(_ISO_RE)}))"
        converted = f"({has_offset} AND TRY_CAST({s} AS TIMESTAMPTZ) IS NOT NULL)"
        return parsed, repaired, converted

    def _customer_id(self, raw: str, rtype: str) -> str:
        s = self._text(raw, rtype)
        tokens = ", ".join(_lit(v.strip().lower()) for v in self.rules["missing_customer_values"])
        return f"(CASE WHEN lower({s}) IN ({tokens}) THEN NULL ELSE {s} END)" if tokens else s

    def _channel(self, raw: str, rtype: str) -> tuple[str, str]:
        """(code expression, is-unknown expression)."""
        s = f"lower({self._text(raw, rtype)})"
        whens = []
        for code, aliases in self.channels.items():
            names = sorted({code.lower(), *(a.strip().lower() for a in aliases)})
            whens.append(f"WHEN {s} IN ({', '.join(_lit(n) for n in names)}) THEN {_lit(code)}")
        known = f"(CASE {' '.join(whens)} ELSE NULL END)"
        return f"COALESCE({known}, 'unknown')", f"({known} IS NULL)"

    def _group(self, raw: str, rtype: str) -> tuple[str, str, str]:
        """(canonical group expression (NULL when unknown), is-unknown, was-an-alias)."""
        s = f"lower({self._text(raw, rtype)})"
        whens, alias_names = [], []
        for group in GROUPS:
            aliases = {a.strip().lower() for a in self.rules["group_aliases"].get(group, [])}
            alias_names += sorted(aliases)
            names = ", ".join(_lit(n) for n in sorted({group, *aliases}))
            whens.append(f"WHEN {s} IN ({names}) THEN {_lit(group)}")
        expr = f"(CASE {' '.join(whens)} ELSE NULL END)"
        unknown = f"({s} IS NOT NULL AND {expr} IS NULL)"
        alias = f"({s} IN ({', '.join(_lit(n) for n in alias_names)}))" if alias_names else "false"
        return expr, unknown, alias

    # -- the cleaning pass ---------------------------------------------------------------------
    def clean(self, *, parquet: Path | None, table_name: str | None, quarantine: Path) -> Cleaned:
        """Clean the raw table into ``parquet`` (or in-memory ``table_name``)."""
        try:
            self.read()
            return self._clean(parquet=parquet, table_name=table_name, quarantine=quarantine)
        finally:
            for name in (
                self.raw,
                self.work,
                self.rejects,
                self.rejects_scan,
                self.bad,
                self.steps,
            ):
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{_q(name)}")
            for path in self._tmp:
                shutil.rmtree(path, ignore_errors=True)

    def _clean(self, *, parquet: Path | None, table_name: str | None, quarantine: Path) -> Cleaned:
        table, rules = self.src.table, self.rules
        mapping, types = self._columns()
        select: dict[str, str] = {}  # canonical column -> parsed expression
        blank: dict[str, str] = {}  # canonical column -> raw-is-blank expression
        bad: dict[str, str] = {}  # canonical column -> non-blank-but-unparseable expression
        repairs: dict[str, list[str]] = {}  # kind -> expressions (counted on kept rows)
        channel_unknown = "false"
        group_unknown = None
        for col, dtype in self.schema.items():
            sql_type = _SQL_TYPES[dtype]
            raw = mapping.get(col)
            if raw is None:
                select[col] = f"CAST(NULL AS {sql_type})"
                continue
            rtype = types[raw]
            blank[col] = self._blank(raw, rtype)
            if col == "customer_id":
                expr = self._customer_id(raw, rtype)
                blank[col] = f"({expr} IS NULL)"
            elif table == "transactions" and col == "channel":
                expr, channel_unknown = self._channel(raw, rtype)
                original = self._text(raw, rtype)
                repairs.setdefault("channel_missing", []).append(f"{original} IS NULL")
                repairs.setdefault("channel_unknown", []).append(
                    f"({original} IS NOT NULL AND {channel_unknown})"
                )
                # names mapped through channels.yaml are the documented mapping, not repairs
            elif table == "campaign_members" and col == "group":
                expr, group_unknown, alias = self._group(raw, rtype)
                repairs.setdefault("group_alias", []).append(alias)
            elif dtype == "string":
                expr = self._text(raw, rtype)
            elif dtype in ("float64", "int64"):
                number, fixed = self._number(raw, rtype)
                if dtype == "int64":
                    expr = (
                        f"(CASE WHEN {number} = round({number}) THEN CAST({number} AS BIGINT) END)"
                    )
                else:
                    expr = number
                kind = "amount_format" if col == "amount" else "number_format"
                repairs.setdefault(kind, []).append(fixed)
                bad[col] = f"(NOT {blank[col]} AND {expr} IS NULL)"
            else:  # timestamp / date
                stamp, fixed, converted = self._timestamp(raw, rtype)
                expr = stamp if dtype == "timestamp" else f"CAST({stamp} AS DATE)"
                repairs.setdefault("date_format", []).append(fixed)
                repairs.setdefault("timezone_converted", []).append(converted)
                bad[col] = f"(NOT {blank[col]} AND {expr} IS NULL)"
            select[col] = expr

        # reasons, first match wins
        reasons: list[tuple[str, str]] = []
        raw_cols = list(types)
        if rules["duplicates"] == "drop" and raw_cols:
            part = ", ".join(_q(c) for c in raw_cols)
            reasons.append(
                ("duplicate_line", f"row_number() OVER (PARTITION BY {part} ORDER BY __row) > 1")
            )
        for col in self.required:
            if table == "transactions" and col == "customer_id":
                continue  # anonymous sale: kept and counted
            reasons.append((f"missing_{col}", blank[col]))
        for col, expr in bad.items():
            reasons.append((f"unparseable_{col}", expr))
        if group_unknown is not None:
            reasons.append(("unknown_group", group_unknown))
        event = EVENT_TIME.get(table)
        future = "false"
        if event and event in mapping:
            future = f"({select[event]} > TIMESTAMP {_lit(self.max_date.isoformat(sep=' '))})"
            if rules["future_dates"] == "quarantine":
                reasons.append(("future_date", future))
        flags: dict[str, str] = {}
        if table == "transactions":
            amount = select["amount"]
            if rules["returns"] == "drop":
                reasons.append(("return", f"({amount} < 0)"))
            if rules["zero_amounts"] == "quarantine":
                reasons.append(("zero_amount", f"({amount} = 0)"))
            if rules["unknown_channels"] == "quarantine" and "channel" in mapping:
                original = self._text(mapping["channel"], types[mapping["channel"]])
                reasons.append(
                    ("unknown_channel", f"({original} IS NOT NULL AND {channel_unknown})")
                )
            flags = {
                "anonymous_sale": f"({select['customer_id']} IS NULL)",
                "return": f"({amount} < 0)",
                "zero_amount": f"({amount} = 0)",
            }
        if rules["future_dates"] == "keep":
            flags["future_date"] = future

        reason_sql = (
            "CASE " + " ".join(f"WHEN {cond} THEN {_lit(name)}" for name, cond in reasons) + " END"
            if reasons
            else "CAST(NULL AS VARCHAR)"
        )
        repair_cols = {
            kind: " OR ".join(f"COALESCE({e}, false)" for e in exprs)
            for kind, exprs in repairs.items()
        }
        parts = ["__row", f"{reason_sql} AS __reason"]
        parts += [f"{expr} AS {_q('__p_' + col)}" for col, expr in select.items()]
        parts += [f"{expr} AS {_q('__r_' + kind)}" for kind, expr in repair_cols.items()]
        parts += [f"COALESCE({expr}, false) AS {_q('__f_' + k)}" for k, expr in flags.items()]
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {_q(self.work)} AS SELECT {', '.join(parts)} "
                f"FROM {self._numbered()}"
            )
        except duckdb.Error as exc:
            raise DataError(
                f"cannot clean {table}: {str(exc).splitlines()[0]}", file=self.src.label
            ) from exc

        key = KEYS.get(table)
        if key is not None and key in mapping:
            # a key repeated on a different line: the first usable row (by source row) wins
            col = _q("__p_" + key)
            self.con.execute(
                f"UPDATE {_q(self.work)} SET __reason = 'duplicate_key' WHERE __row IN ("
                f"SELECT __row FROM (SELECT __row, row_number() OVER "
                f"(PARTITION BY {col} ORDER BY __row) AS n FROM {_q(self.work)} "
                f"WHERE __reason IS NULL AND {col} IS NOT NULL) WHERE n > 1)"
            )
        if self.n_bad:
            self.con.execute(
                f"INSERT INTO {_q(self.work)} (__row, __reason) "
                f"SELECT source_row, 'malformed_line' FROM {_q(self.bad)}"
            )

        counts = [
            "count(*)",
            "count(*) FILTER (WHERE __reason IS NULL)",
            *(f"count(*) FILTER (WHERE __reason IS NULL AND {_q('__r_' + k)})" for k in repairs),
            *(f"count(*) FILTER (WHERE __reason IS NULL AND {_q('__f_' + k)})" for k in flags),
        ]
        row = self.con.execute(f"SELECT {', '.join(counts)} FROM {_q(self.work)}").fetchone()
        n_read, n_kept = int(row[0]), int(row[1])
        repaired = dict(zip(repairs, row[2 : 2 + len(repairs)], strict=True))
        flagged = dict(zip(flags, row[2 + len(repairs) :], strict=True))
        rejected = dict(
            self.con.execute(
                f"SELECT __reason, count(*) FROM {_q(self.work)} "
                "WHERE __reason IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        if n_read == 0:
            raise DataError(f"{table} source has no data rows", file=self.src.label)
        if n_kept == 0:
            self._raise_nothing_parseable(mapping)

        self._write_quarantine(quarantine, list(types))

        kept_cols = ", ".join(f"{_q('__p_' + c)} AS {_q(c)}" for c in self.schema)
        kept_sql = f"SELECT {kept_cols} FROM {_q(self.work)} WHERE __reason IS NULL ORDER BY __row"
        if parquet is not None:
            self.con.execute(f"COPY ({kept_sql}) TO {_lit(str(parquet))} (FORMAT parquet)")
        else:
            self.con.execute(f"CREATE OR REPLACE TABLE {_q(str(table_name))} AS {kept_sql}")
        quality = TableQuality(
            table=table,
            source=self.src.label,
            rows_read=n_read,
            kept=n_kept,
            repaired=repaired,
            flagged=flagged,
            rejected=rejected,
            quarantine_file=str(quarantine),
            notes=self.notes,
        )
        return Cleaned(quality=quality, parquet=parquet, table_name=table_name)

    def _write_quarantine(self, quarantine: Path, raw_cols: Sequence[str]) -> None:
        """Rejected rows by source row: ``source_row, reason, detail, line_text`` and the
        original columns (``detail`` and ``line_text`` are filled for malformed lines only and
        get a trailing ``_`` when the source has a column of that name)."""
        detail, text = _free_name("detail", raw_cols), _free_name("line_text", raw_cols)
        if self.n_bad:
            extra = f"b.detail AS {_q(detail)}, b.line_text AS {_q(text)}"
            joins = (
                f"LEFT JOIN {self._numbered()} r ON r.__row = w.__row "
                f"LEFT JOIN {_q(self.bad)} b ON b.source_row = w.__row"
            )
        else:
            extra = f"CAST(NULL AS VARCHAR) AS {_q(detail)}, CAST(NULL AS VARCHAR) AS {_q(text)}"
            joins = f"JOIN {self._numbered()} r ON r.__row = w.__row"
        quarantine.parent.mkdir(parents=True, exist_ok=True)
        tmp_q = quarantine.with_name(f".{quarantine.name}.{uuid.uuid4().hex[:8]}.tmp")
        self.con.execute(
            f"COPY (SELECT w.__row AS source_row, w.__reason AS reason, {extra}, "
            f"r.* EXCLUDE (__row) FROM {_q(self.work)} w {joins} "
            f"WHERE w.__reason IS NOT NULL ORDER BY w.__row) "
            f"TO {_lit(str(tmp_q))} (FORMAT csv, HEADER true)"
        )
        os.replace(tmp_q, quarantine)

    def _raise_nothing_parseable(self, mapping: Mapping[str, str]) -> None:
        row, reason = self.con.execute(
            f"SELECT __row, __reason FROM {_q(self.work)} WHERE __reason IS NOT NULL "
            "ORDER BY __row LIMIT 1"
        ).fetchone()
        column = None
        for prefix in ("unparseable_", "missing_"):
            if reason.startswith(prefix):
                column = reason.removeprefix(prefix)
        if column is None:
            column = {
                "future_date": EVENT_TIME.get(self.src.table, ""),
                "unknown_group": "group",
                "unknown_channel": "channel",
            }.get(reason, "amount")
        raw_col = mapping.get(column)
        value = None
        if reason == "malformed_line":
            raw_col = column = None
            value = self.con.execute(
                f"SELECT line_text FROM {_q(self.bad)} WHERE source_row = ?", [row]
            ).fetchone()[0][:120]
        elif raw_col is not None:
            value = self.con.execute(
                f"SELECT CAST({_q(raw_col)} AS VARCHAR) FROM {self._numbered()} WHERE __row = ?",
                [row],
            ).fetchone()[0]
        raise DataError(
            f"nothing in {self.src.table} could be used: every row was rejected; "
            f"the first, for {reason}",
            file=self.src.label,
            column=raw_col or column,
            row=int(row),
            value=value,
        )


def _is_numeric(rtype: str) -> bool:
    return rtype.split("(")[0] in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
    }


def clean_table(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    schema: Mapping[str, str],
    required: Sequence[str],
    rules: Mapping[str, Any],
    channels: Mapping[str, list[str]],
    max_date: pd.Timestamp,
    quarantine: Path,
    parquet: Path | None = None,
    table_name: str | None = None,
) -> Cleaned:
    """Clean one source table (see the module docstring for the steps).

    Parameters
    ----------
    con
        The DuckDB connection to work on (``crmlib.data.connection().con``).
    source
        Where the table comes from and how its columns map.
    schema, required
        Canonical columns and types, and the columns the source must have.
    rules
        Cleaning rules, already checked by :func:`check_rules`.
    channels
        Channel codes and aliases (:func:`read_channels`).
    max_date
        Rows whose event time is after this are ``future_date``.
    quarantine
        Path of the quarantine CSV to write.
    parquet, table_name
        Write the canonical rows to this Parquet file, or else to this in-memory table.

    Raises
    ------
    DataError
        Missing file or required column, unreadable source, no data rows, or no usable row.
    """
    if (parquet is None) == (table_name is None):
        raise ValueError("give exactly one of parquet and table_name")
    cleaner = _Cleaner(con, source, schema, required, rules, channels, max_date)
    return cleaner.clean(parquet=parquet, table_name=table_name, quarantine=quarantine)
