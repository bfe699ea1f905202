"""Reading one configured source table, as it is, into a temporary table on DuckDB.

A source is a CSV (plain or gzip, any encoding), Parquet file, or a table or query of a DuckDB or
SQLite database (:class:`Source`). :class:`RawTable` reads it without changing a value:

* CSV: every column as VARCHAR, read the RFC 4180 way (:mod:`crmlib.data.csvfiles`: the
  table's ``delimiter``, detected when not set; fields quoted with ``"``, a quote inside doubled
  or backslash-escaped). The header must be the first non-blank line. A line that does not
  split into the header's fields (too many or too few fields, a quote that is never closed) is
  set aside as a malformed line, its text and DuckDB's error kept, and the rest of the file still
  loads; a line over :data:`~crmlib.data.csvfiles.MAX_LINE_BYTES` stops the load, and mixed CR LF
  and LF line ends are read as LF (:func:`~crmlib.data.csvfiles.check_lines`). An unclosed
  quote runs on to the next quote character, so the lines it swallows form one malformed record.
  A file not in UTF-8 is transcoded first, unless it looks like UTF-8 (then the load stops);
* Parquet and databases keep their types.

Each row gets its 1-based source row number (:meth:`RawTable.numbered`): row 1 is the first
record after the header, a record whose quoted field spans several lines counts once, blank lines
are skipped and not numbered, and malformed lines keep their place, so rows after them keep their
true numbers.
"""

from __future__ import annotations

import bisect
import codecs
import gzip
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crmlib.data.csvfiles import (
    CsvDialect,
    blank_records,
    check_lines,
    column_names,
    looks_like_utf8,
    sniff_csv,
)
from crmlib.data.engine import sql_literal, sql_name
from crmlib.errors import ConfigError, DataError

__all__ = ["Source", "RawTable"]

_ENCODING_HINT = "; set its `encoding` in params/data.yaml (e.g. gbk)"


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

    @classmethod
    def from_params(cls, table: str, entry: Mapping[str, Any]) -> Source:
        """The source of ``table`` from its resolved entry in the data params.

        Parameters
        ----------
        table
            Canonical table name.
        entry
            The table's entry of :func:`crmlib.data.params.resolve_params` (``path`` or ``url``
            with ``table`` or ``query``, ``encoding``, ``timezone``, ``columns``, ``delimiter``).
        """
        return cls(
            table=table,
            path=Path(entry["path"]) if "path" in entry else None,
            url=entry.get("url"),
            db_table=entry.get("table"),
            query=entry.get("query"),
            encoding=str(entry.get("encoding", "utf-8")),
            timezone=str(entry.get("timezone", "Asia/Shanghai")),
            columns=dict(entry.get("columns") or {}),
            delimiter=entry.get("delimiter"),
        )


class RawTable:
    """One source table read as it is into a temporary table on a DuckDB connection.

    Call :meth:`read` once, then address the rows through :meth:`numbered` (with their source
    row numbers); :meth:`close` drops every temporary table and file.

    Attributes
    ----------
    source
        Where the table comes from.
    raw
        Name of the temporary table holding the rows read (not the malformed lines).
    malformed
        Name of the temporary table of malformed CSV lines: ``source_row, detail, line_text``
        (only when :attr:`n_malformed` is not 0).
    n_malformed
        Number of malformed CSV lines.
    notes
        Remarks on the source for the quality report (a malformed row spanning lines).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, source: Source) -> None:
        self.con, self.source = con, source
        tag = uuid.uuid4().hex[:10]
        self.raw = f"__crm_raw_{source.table}_{tag}"
        # malformed CSV lines: DuckDB's rejects, then (source_row, detail, line_text) and the
        # steps that number the rows read around them (see numbered)
        self.rejects = f"__crm_rejects_{source.table}_{tag}"
        self.rejects_scan = f"__crm_rejects_scan_{source.table}_{tag}"
        self.malformed = f"__crm_bad_{source.table}_{tag}"
        self.steps = f"__crm_steps_{source.table}_{tag}"
        self.n_malformed = 0
        self.notes: list[str] = []
        self._tmp: list[Path] = []

    def close(self) -> None:
        """Drop the temporary tables and files."""
        for name in (self.raw, self.rejects, self.rejects_scan, self.malformed, self.steps):
            self.con.execute(f"DROP TABLE IF EXISTS temp.main.{sql_name(name)}")
        for path in self._tmp:
            shutil.rmtree(path, ignore_errors=True)

    def types(self) -> dict[str, str]:
        """Column name -> DuckDB type of the rows read."""
        described = self.con.execute(f"DESCRIBE {sql_name(self.raw)}").fetchall()
        return {row[0]: str(row[1]) for row in described}

    def read(self) -> None:
        """Read the source into :attr:`raw` (and malformed CSV lines into :attr:`malformed`).

        Raises
        ------
        DataError
            A missing or unreadable file or database, an unsupported file type, text not in the
            declared encoding, an empty file or a malformed header line.
        ConfigError
            An unknown encoding, or a database url or table setting that cannot work.
        """
        src = self.source
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
                    f"CREATE TEMP TABLE {sql_name(self.raw)} AS "
                    f"SELECT * FROM read_parquet({sql_literal(str(src.path))})"
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
        """Read a UTF-8 CSV file into the raw table, malformed lines into :attr:`malformed`."""
        table, label = self.source.table, str(self.source.path)
        try:
            dialect = sniff_csv(path, self.source.delimiter)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"cannot read {table}: not valid UTF-8 in its first lines{_ENCODING_HINT}",
                file=label,
                value=exc.object[exc.start : exc.end + 3],
            ) from exc
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; EOFError: cut short
            what = "not a gzip file" if isinstance(exc, gzip.BadGzipFile) else "unreadable"
            if isinstance(exc, EOFError):
                what = "a compressed file that ends too early (truncated)"
            raise DataError(f"cannot read {table}: {what} ({exc})", file=label) from exc
        if not dialect.header:
            raise DataError(f"{table} source file is empty", file=label)
        if any("\n" in name or "\r" in name for name in dialect.header):
            raise DataError(
                f"the header line of {table} is malformed: a quote opened in it is not closed",
                file=label,
                value=dialect.delimiter.join(dialect.header)[:80],
            )
        # a line over MAX_LINE_BYTES stops the load; mixed CR LF / LF line ends: an LF copy
        checked, note = check_lines(path, dialect, label=label)
        if note is not None:
            self._tmp.append(checked.parent)
            self.notes.append(note)
            path = checked
        names = column_names(dialect.header)
        columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in names) + "}"
        options = (
            f"auto_detect=false, header=true, skip={dialect.skip}, "
            f"delim={sql_literal(dialect.delimiter)}, quote='\"', "
            f"escape={sql_literal(dialect.escape)}, "
            f"columns={columns}, store_rejects=true, rejects_table={sql_literal(self.rejects)}, "
            f"rejects_scan={sql_literal(self.rejects_scan)}"
        )
        self.con.execute(
            f"CREATE TEMP TABLE {sql_name(self.raw)} AS "
            f"SELECT * FROM read_csv({sql_literal(str(path))}, {options})"
        )
        self._collect_malformed(path, dialect)

    def _collect_malformed(self, path: Path, dialect: CsvDialect) -> None:
        """Number DuckDB's rejected lines as source rows into :attr:`malformed` and :attr:`steps`.

        DuckDB gives each rejected record its line in the file (the header and blank lines
        counted, a quoted field spanning lines counted once); less the header, the blank lines
        before the header and the blank records before it, that is its source row. A line that
        is not valid UTF-8 stops the load, as an unreadable file always has.
        """
        found = self.con.execute(
            "SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; '), "
            "min(csv_line), bool_or(error_type = 'INVALID ENCODING') "
            f"FROM {sql_name(self.rejects)} GROUP BY line ORDER BY line"
        ).fetchall()
        if not found:
            return
        first = dialect.skip + 1  # DuckDB's line of the header
        blank = blank_records(path, dialect, found[-1][0] - first)
        rows = [
            (line - first - bisect.bisect_left(blank, line - first), detail, text, encoding)
            for line, detail, text, encoding in found
        ]
        for row, detail, _, encoding in rows:
            if encoding:
                raise DataError(
                    f"cannot read {self.source.table}: {detail}{_ENCODING_HINT}",
                    file=str(self.source.path),
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
        """Write ``source_row, detail, line_text`` of malformed rows to :attr:`malformed`, and the
        steps that number the rows read around them to :attr:`steps`."""
        view = f"{self.malformed}_df"
        self.con.register(view, frame)
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {sql_name(self.malformed)} AS SELECT "
                f"CAST(source_row AS BIGINT) AS source_row, detail, line_text FROM {sql_name(view)}"
            )
        finally:
            self.con.unregister(view)
        # the k-th row read is source row k + #{j : r_j - j < k} for malformed rows r_1 < r_2 …
        self.con.execute(
            f"CREATE TEMP TABLE {sql_name(self.steps)} AS SELECT source_row - n AS __gap, "
            f"max(n) AS __shift FROM (SELECT source_row, row_number() OVER "
            f"(ORDER BY source_row) AS n FROM {sql_name(self.malformed)}) GROUP BY 1"
        )
        self.n_malformed = len(frame)

    def numbered(self) -> str:
        """The rows read with ``__row``, each row's 1-based source row, as a SQL subquery."""
        if not self.n_malformed:
            return f"(SELECT rowid + 1 AS __row, * FROM {sql_name(self.raw)})"
        return (
            f"(SELECT r.rowid + 1 + COALESCE(s.__shift, 0) AS __row, r.* "
            f"FROM {sql_name(self.raw)} r "
            f"ASOF LEFT JOIN {sql_name(self.steps)} s ON r.rowid + 1 > s.__gap)"
        )

    def _utf8_path(self, path: Path) -> Path:
        """``path`` itself for UTF-8 (BOM tolerated), else a temporary UTF-8 copy."""
        encoding = self.source.encoding.lower().replace("_", "-")
        try:
            codec = codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(
                f"parameter '{self.source.table}.encoding' names an unknown encoding: "
                f"{self.source.encoding!r}"
            ) from exc
        if codec.name in ("utf-8", "utf-8-sig"):
            return path
        if looks_like_utf8(path):  # read as gbk, UTF-8 text turns into mojibake
            raise DataError(
                f"{self.source.table} is declared `encoding: {self.source.encoding}` but looks "
                "like UTF-8 (a UTF-8 byte-order mark, or Chinese text that is valid UTF-8); set "
                f"`encoding: utf-8` for {self.source.table} in params/data.yaml",
                file=str(path),
            )
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
                f"{self.source.table} is not valid {self.source.encoding} near character {decoded:,}",
                file=str(path),
                value=exc.object[exc.start : exc.end + 3],
            ) from exc
        return out

    def _read_database(self) -> None:
        src = self.source
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
        select = src.query or f"SELECT * FROM {sql_name(str(src.db_table))}"
        if scheme == "sqlite" and not self._sqlite_extension():
            self._read_sqlite_python(db_path, select)
            return
        alias = f"__crm_src_{uuid.uuid4().hex[:8]}"
        kind = ", TYPE sqlite" if scheme == "sqlite" else ""
        try:
            self.con.execute(
                f"ATTACH {sql_literal(str(db_path))} AS {sql_name(alias)} (READ_ONLY{kind})"
            )
        except duckdb.Error as exc:
            raise DataError(f"cannot open database: {exc}", file=str(db_path)) from exc
        try:
            current = self.con.execute("SELECT current_database()").fetchone()[0]
            self.con.execute(f"USE {sql_name(alias)}")
            try:
                self.con.execute(f"CREATE TEMP TABLE temp.main.{sql_name(self.raw)} AS {select}")
            finally:
                self.con.execute(f"USE {sql_name(current)}")
        except duckdb.Error as exc:
            raise DataError(
                f"cannot read {src.table} from database: {str(exc).splitlines()[0]}",
                file=str(db_path),
                value=src.db_table or src.query,
            ) from exc
        finally:
            self.con.execute(f"DETACH {sql_name(alias)}")

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
                f"cannot read {self.source.table} from database: {exc}",
                file=str(db_path),
                value=self.source.db_table or self.source.query,
            ) from exc
        view = f"{self.raw}_df"
        self.con.register(view, frame)
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {sql_name(self.raw)} AS SELECT * FROM {sql_name(view)}"
            )
        finally:
            self.con.unregister(view)
