"""Cleaning one raw source table into its canonical table.

The work runs as SQL on the embedded DuckDB connection, so a 10M-line export cleans in seconds:

1. the source is read as it is (:class:`~crmlib.data.sources.RawTable`: CSV as text, malformed
   lines set aside, every row numbered by its source row);
2. one pass parses every canonical column (:mod:`crmlib.data.parsing`: amounts, dates, channels,
   identifiers), marks exact duplicate lines, and gives each row either no reason (kept) or the
   first reason that rejects it; a key repeated on a later line is ``duplicate_key``, and a
   malformed CSV line is ``malformed_line``. A number that is not finite (``NaN``, ``inf``), a
   whole-number column (``quantity``) holding a fraction or a value beyond ±2^53, and a date
   that does not exist are ``unparseable_<column>``; an amount beyond ``max_amount`` is
   ``implausible_amount`` and an event dated before ``min_date`` is ``before_min_date``;
   full-width digits (``１２０``) are read after NFKC folding and counted as ``full_width``;
3. kept rows go to the canonical table (Parquet file or in-memory table), rejected rows with their
   source row, reason, original values (for a malformed line: its ``line_text`` and the parser's
   ``detail``) to the quarantine CSV, and the counts to a
   :class:`~crmlib.data.quality.TableQuality`.

The rules are :mod:`crmlib.data.rules` (``cleaning:`` in ``params/data.yaml``). Timestamps are
stored as naive local time in the table's ``timezone``: naive values are kept as they are, values
with an explicit offset (``2024-03-05T10:00:00+00:00``) and ``TIMESTAMP WITH TIME ZONE`` columns
are converted into that zone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crmlib.data.engine import sql_literal, sql_name
from crmlib.data.parsing import (
    SQL_TYPES,
    as_text,
    has_full_width,
    is_blank,
    parse_channel,
    parse_customer_id,
    parse_group,
    parse_number,
    parse_timestamp,
)
from crmlib.data.privacy import mask_line, spreadsheet_safe_sql
from crmlib.data.quality import TableQuality
from crmlib.data.schema import EVENT_TIME, KEYS
from crmlib.data.sources import RawTable, Source
from crmlib.errors import DataError, did_you_mean

__all__ = ["QUARANTINE_COLUMNS", "MALFORMED_COLUMNS", "Cleaned", "clean_table"]

#: Largest magnitude a whole-number column holds: every integer up to 2^53 is exact as a DOUBLE.
_MAX_WHOLE = 2**53

#: Leading columns of every quarantine file, before the source's own columns.
QUARANTINE_COLUMNS: tuple[str, ...] = ("source_row", "reason")

#: Quarantine columns that describe a malformed source line: the parser's error and the line's
#: raw text (empty for other rows; a ``_`` is appended when the source has a column of the name).
MALFORMED_COLUMNS: tuple[str, ...] = ("detail", "line_text")


def _free_name(name: str, taken: Iterable[str]) -> str:
    """``name``, with ``_`` appended until no name in ``taken`` equals it."""
    used = {t.lower() for t in taken}
    while name.lower() in used:
        name += "_"
    return name


@dataclass
class Cleaned:
    """Result of cleaning one table: where the canonical rows are and the counts."""

    quality: TableQuality
    parquet: Path | None = None
    table_name: str | None = None


class _Cleaner:
    """Cleans one source table on a DuckDB connection (see the module docstring)."""

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
        self.reader = RawTable(con, source)
        self.work = f"__crm_work_{source.table}_{uuid.uuid4().hex[:10]}"
        self.notes = self.reader.notes  # remarks while reading, then while mapping columns

    def _columns(self) -> tuple[dict[str, str], dict[str, str]]:
        """(canonical -> raw column name, raw column name -> DuckDB type)."""
        types = self.reader.types()
        by_clean = {name.strip().lstrip("\ufeff").strip(): name for name in types}
        mapping: dict[str, str] = {}
        for col in self.schema:
            wanted = self.src.columns.get(col, col)
            if wanted in by_clean:
                mapping[col] = by_clean[wanted]
            elif col in self.required:
                raise DataError(
                    f"{self.src.table} lacks required column {wanted!r} "
                    f"(canonical {col!r}){did_you_mean(wanted, by_clean)}; columns found",
                    file=self.src.label,
                    column=wanted,
                    value=", ".join(by_clean),
                )
            elif col in self.src.columns:
                self.notes.append(
                    f"mapped column {wanted!r} ({col}) not in the source; left empty"
                    + did_you_mean(wanted, by_clean)
                )
        return mapping, types

    def clean(self, *, parquet: Path | None, table_name: str | None, quarantine: Path) -> Cleaned:
        """Clean the raw table into ``parquet`` (or in-memory ``table_name``)."""
        try:
            self.reader.read()
            return self._clean(parquet=parquet, table_name=table_name, quarantine=quarantine)
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS temp.main.{sql_name(self.work)}")
            self.reader.close()

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
            sql_type = SQL_TYPES[dtype]
            raw = mapping.get(col)
            if raw is None:
                select[col] = f"CAST(NULL AS {sql_type})"
                continue
            rtype = types[raw]
            blank[col] = is_blank(raw, rtype)
            if col == "customer_id":
                expr = parse_customer_id(
                    raw, rtype, missing_values=rules["missing_customer_values"]
                )
                blank[col] = f"({expr} IS NULL)"
            elif table == "transactions" and col == "channel":
                expr, channel_unknown = parse_channel(raw, rtype, channels=self.channels)
                original = as_text(raw, rtype)
                repairs.setdefault("channel_missing", []).append(f"{original} IS NULL")
                repairs.setdefault("channel_unknown", []).append(
                    f"({original} IS NOT NULL AND {channel_unknown})"
                )
                # names mapped through channels.yaml are the documented mapping, not repairs
            elif table == "campaign_members" and col == "group":
                expr, group_unknown, alias = parse_group(raw, rtype, aliases=rules["group_aliases"])
                repairs.setdefault("group_alias", []).append(alias)
            elif dtype == "string":
                expr = as_text(raw, rtype)
            elif dtype in ("float64", "int64"):
                number, fixed = parse_number(raw, rtype, rules=rules)
                if dtype == "int64":
                    expr = (
                        f"(CASE WHEN abs({number}) <= {_MAX_WHOLE} AND {number} = round({number}) "
                        f"THEN TRY_CAST({number} AS BIGINT) END)"
                    )
                else:
                    expr = number
                kind = "amount_format" if col == "amount" else "number_format"
                repairs.setdefault(kind, []).append(fixed)
                repairs.setdefault("full_width", []).append(
                    f"({has_full_width(raw, rtype)} AND {expr} IS NOT NULL)"
                )
                bad[col] = f"(NOT {blank[col]} AND {expr} IS NULL)"
            else:  # timestamp / date
                stamp, fixed, converted = parse_timestamp(
                    raw, rtype, timezone=self.src.timezone, date_formats=rules["date_formats"]
                )
                expr = stamp if dtype == "timestamp" else f"CAST({stamp} AS DATE)"
                repairs.setdefault("date_format", []).append(fixed)
                repairs.setdefault("timezone_converted", []).append(converted)
                repairs.setdefault("full_width", []).append(
                    f"({has_full_width(raw, rtype)} AND {expr} IS NOT NULL)"
                )
                bad[col] = f"(NOT {blank[col]} AND {expr} IS NULL)"
            select[col] = expr

        # reasons, first match wins
        reasons: list[tuple[str, str]] = []
        raw_cols = list(types)
        if rules["duplicates"] == "drop" and raw_cols:
            part = ", ".join(sql_name(c) for c in raw_cols)
            reasons.append(
                ("duplicate_line", f"row_number() OVER (PARTITION BY {part} ORDER BY __row) > 1")
            )
        for col in self.required:
            if table == "transactions" and col == "customer_id":
                continue  # anonymous sale: kept and counted
            reasons.append((f"missing_{col}", blank[col]))
        for col, expr in bad.items():
            reasons.append((f"unparseable_{col}", expr))
        if table == "transactions" and "amount" in mapping:
            limit = float(rules["max_amount"])
            reasons.append(("implausible_amount", f"(abs({select['amount']}) > {limit!r})"))
        if group_unknown is not None:
            reasons.append(("unknown_group", group_unknown))
        event = EVENT_TIME.get(table)
        future = "false"
        if event and event in mapping:
            future = (
                f"({select[event]} > TIMESTAMP {sql_literal(self.max_date.isoformat(sep=' '))})"
            )
            if rules["future_dates"] == "quarantine":
                reasons.append(("future_date", future))
            if rules["min_date"] not in ("", None):
                first = pd.Timestamp(str(rules["min_date"])).isoformat(sep=" ")
                reasons.append(
                    ("before_min_date", f"({select[event]} < TIMESTAMP {sql_literal(first)})")
                )
        flags: dict[str, str] = {}
        if table == "transactions":
            amount = select["amount"]
            if rules["returns"] == "drop":
                reasons.append(("return", f"({amount} < 0)"))
            if rules["zero_amounts"] == "quarantine":
                reasons.append(("zero_amount", f"({amount} = 0)"))
            if rules["unknown_channels"] == "quarantine" and "channel" in mapping:
                original = as_text(mapping["channel"], types[mapping["channel"]])
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
            "CASE "
            + " ".join(f"WHEN {cond} THEN {sql_literal(name)}" for name, cond in reasons)
            + " END"
            if reasons
            else "CAST(NULL AS VARCHAR)"
        )
        repair_cols = {
            kind: " OR ".join(f"COALESCE({e}, false)" for e in exprs)
            for kind, exprs in repairs.items()
        }
        parts = ["__row", f"{reason_sql} AS __reason"]
        parts += [f"{expr} AS {sql_name('__p_' + col)}" for col, expr in select.items()]
        parts += [f"{expr} AS {sql_name('__r_' + kind)}" for kind, expr in repair_cols.items()]
        parts += [f"COALESCE({expr}, false) AS {sql_name('__f_' + k)}" for k, expr in flags.items()]
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {sql_name(self.work)} AS SELECT {', '.join(parts)} "
                f"FROM {self.reader.numbered()}"
            )
        except duckdb.Error as exc:
            raise DataError(
                f"cannot clean {table}: {str(exc).splitlines()[0]}", file=self.src.label
            ) from exc

        key = KEYS.get(table)
        if key is not None and key in mapping:
            # a key repeated on a different line: the first usable row (by source row) wins
            col = sql_name("__p_" + key)
            self.con.execute(
                f"UPDATE {sql_name(self.work)} SET __reason = 'duplicate_key' WHERE __row IN ("
                f"SELECT __row FROM (SELECT __row, row_number() OVER "
                f"(PARTITION BY {col} ORDER BY __row) AS n FROM {sql_name(self.work)} "
                f"WHERE __reason IS NULL AND {col} IS NOT NULL) WHERE n > 1)"
            )
        if self.reader.n_malformed:
            self.con.execute(
                f"INSERT INTO {sql_name(self.work)} (__row, __reason) "
                f"SELECT source_row, 'malformed_line' FROM {sql_name(self.reader.malformed)}"
            )

        counts = [
            "count(*)",
            "count(*) FILTER (WHERE __reason IS NULL)",
            *(
                f"count(*) FILTER (WHERE __reason IS NULL AND {sql_name('__r_' + k)})"
                for k in repairs
            ),
            *(
                f"count(*) FILTER (WHERE __reason IS NULL AND {sql_name('__f_' + k)})"
                for k in flags
            ),
        ]
        row = self.con.execute(f"SELECT {', '.join(counts)} FROM {sql_name(self.work)}").fetchone()
        n_read, n_kept = int(row[0]), int(row[1])
        repaired = dict(zip(repairs, row[2 : 2 + len(repairs)], strict=True))
        flagged = dict(zip(flags, row[2 + len(repairs) :], strict=True))
        rejected = dict(
            self.con.execute(
                f"SELECT __reason, count(*) FROM {sql_name(self.work)} "
                "WHERE __reason IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        if n_read == 0:
            raise DataError(f"{table} source has no data rows", file=self.src.label)
        if n_kept == 0:
            self._raise_nothing_parseable(mapping)

        self._write_quarantine(quarantine, list(types))

        kept_cols = ", ".join(f"{sql_name('__p_' + c)} AS {sql_name(c)}" for c in self.schema)
        kept_sql = (
            f"SELECT {kept_cols} FROM {sql_name(self.work)} WHERE __reason IS NULL ORDER BY __row"
        )
        if parquet is not None:
            self.con.execute(f"COPY ({kept_sql}) TO {sql_literal(str(parquet))} (FORMAT parquet)")
        else:
            self.con.execute(f"CREATE OR REPLACE TABLE {sql_name(str(table_name))} AS {kept_sql}")
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
        detail, text = (_free_name(name, raw_cols) for name in MALFORMED_COLUMNS)
        if self.reader.n_malformed:
            extra = f"b.detail AS {sql_name(detail)}, b.line_text AS {sql_name(text)}"
            joins = (
                f"LEFT JOIN {self.reader.numbered()} r ON r.__row = w.__row "
                f"LEFT JOIN {sql_name(self.reader.malformed)} b ON b.source_row = w.__row"
            )
        else:
            extra = (
                f"CAST(NULL AS VARCHAR) AS {sql_name(detail)}, "
                f"CAST(NULL AS VARCHAR) AS {sql_name(text)}"
            )
            joins = f"JOIN {self.reader.numbered()} r ON r.__row = w.__row"
        quarantine.parent.mkdir(parents=True, exist_ok=True)
        tmp_q = quarantine.with_name(f".{quarantine.name}.{uuid.uuid4().hex[:8]}.tmp")
        rows = (
            f"SELECT w.__row AS source_row, w.__reason AS reason, {extra}, "
            f"r.* EXCLUDE (__row) FROM {sql_name(self.work)} w {joins} "
            f"WHERE w.__reason IS NOT NULL"
        )
        # text cells that a spreadsheet would run as a formula get a leading '
        safe = spreadsheet_safe_sql(rows, keep=QUARANTINE_COLUMNS)
        self.con.execute(
            f"COPY ({safe} ORDER BY source_row) "
            f"TO {sql_literal(str(tmp_q))} (FORMAT csv, HEADER true)"
        )
        os.replace(tmp_q, quarantine)

    def _raise_nothing_parseable(self, mapping: Mapping[str, str]) -> None:
        row, reason = self.con.execute(
            f"SELECT __row, __reason FROM {sql_name(self.work)} WHERE __reason IS NOT NULL "
            "ORDER BY __row LIMIT 1"
        ).fetchone()
        column = None
        for prefix in ("unparseable_", "missing_"):
            if reason.startswith(prefix):
                column = reason.removeprefix(prefix)
        if column is None:
            column = {
                "future_date": EVENT_TIME.get(self.src.table, ""),
                "before_min_date": EVENT_TIME.get(self.src.table, ""),
                "unknown_group": "group",
                "unknown_channel": "channel",
            }.get(reason, "amount")
        raw_col = mapping.get(column)
        value = None
        if reason == "malformed_line":
            raw_col = column = None
            value = self.con.execute(
                f"SELECT line_text FROM {sql_name(self.reader.malformed)} WHERE source_row = ?",
                [row],
            ).fetchone()[0][:120]
            # an error message reaches logs, run.json and emails: never the raw line
            value = mask_line(value, whole=self.src.table == "customers")
        elif raw_col is not None:
            value = self.con.execute(
                f"SELECT CAST({sql_name(raw_col)} AS VARCHAR) "
                f"FROM {self.reader.numbered()} WHERE __row = ?",
                [row],
            ).fetchone()[0]
            personal = self.src.table == "customers" and column != "customer_id"
            value = mask_line(value, whole=personal)
        raise DataError(
            f"nothing in {self.src.table} could be used: every row was rejected; "
            f"the first, for {reason}",
            file=self.src.label,
            column=raw_col or column,
            row=int(row),
            value=value,
        )


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
        The DuckDB connection to work on (``crmlib.data.engine.connection().con``).
    source
        Where the table comes from and how its columns map.
    schema, required
        Canonical columns and types, and the columns the source must have.
    rules
        Cleaning rules, already checked by :func:`crmlib.data.rules.check_rules`.
    channels
        Channel codes and aliases (:func:`crmlib.data.rules.read_channels`).
    max_date
        Rows whose event time is after this are ``future_date``.
    quarantine
        Path of the quarantine CSV to write.
    parquet, table_name
        Write the canonical rows to this Parquet file, or else to this in-memory table.

    Returns
    -------
    Cleaned
        Where the canonical rows went and the table's counts.

    Raises
    ------
    DataError
        Missing file or required column, unreadable source, no data rows, or no usable row.
    """
    if (parquet is None) == (table_name is None):
        raise ValueError("give exactly one of parquet and table_name")
    cleaner = _Cleaner(con, source, schema, required, rules, channels, max_date)
    return cleaner.clean(parquet=parquet, table_name=table_name, quarantine=quarantine)
