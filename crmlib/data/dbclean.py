"""Cleaning a table that lives on a database engine, as Ibis expressions run by that engine.

On a database engine (``engine: backend: postgres`` or ``spark`` in ``params/data.yaml``) the
columns are typed, so nothing is parsed from text: numbers and timestamps are taken as the server types
them (a text column where a number or time is expected is a :class:`ConfigError` that says to
cast it in ``query:``). The rules that still apply run on the server, with exact counts
(``rows_read == kept + rejected``):

* required fields: NULL (or blank text) is ``missing_<column>``; a transactions row without a
  customer id is kept as an anonymous sale, and so is one whose id is in
  ``cleaning.missing_customer_values``;
* amounts and numbers that are not finite (NaN, ±infinity) are ``unparseable_<column>``; an
  integer column holding a fraction is too;
* ``duplicates: drop``: a row equal to an earlier one in every column is ``duplicate_line``;
* ``future_date``, ``return`` (``returns: drop``), ``zero_amount`` (``zero_amounts:
  quarantine``), ``unknown_channel`` (``unknown_channels: quarantine``) and ``unknown_group`` as
  on the embedded engine; channels map through ``channels_file``, groups through
  ``group_aliases``;
* a key (customers.customer_id, campaigns.campaign_id) repeated on a later row is
  ``duplicate_key``.

A database table has no row order, so ``source_row`` numbers the rows in the order of their
values (every column, left to right): the same table always gives the same numbers. The work
table (every row with its reason) is a temporary table on the server; the cleaned table is a
query over it, so no order line travels to Python. The rejected rows are written to the
quarantine CSV up to ``engine.quarantine_limit`` rows (their count is exact either way; a note
says when the file holds only the first ones).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmlib.data.engine import backend_name, backend_of, engine_label, execute, materialise
from crmlib.data.privacy import spreadsheet_safe
from crmlib.data.quality import TableQuality
from crmlib.data.schema import EVENT_TIME, GROUPS, KEYS, SCHEMAS
from crmlib.errors import ConfigError, DataError, did_you_mean

__all__ = ["RemoteTable", "clean_remote", "remote_sources"]


@dataclass
class RemoteTable:
    """A configured table on a database engine: where it is and how it is named in errors."""

    table: str
    backend: Any
    where: str  # "postgres engine at host:port/db"
    db_table: str | None = None
    query: str | None = None
    columns: Mapping[str, str] | None = None
    path: str | None = None  # spark: a Parquet or CSV file or folder, any URI Spark reads

    @property
    def label(self) -> str:
        """How reports and errors name the source (never with a password)."""
        if self.path:
            return f"{self.where}, path {self.path}"
        what = f"table {self.db_table}" if self.db_table else "query"
        return f"{self.where}, {what}"

    def _read_spark(self) -> ir.Table:
        """The source read by Spark: a file (Parquet, or CSV with a header, typed by Spark's
        schema inference), a catalog table, or a Spark SQL query (a temporary view)."""
        session = self.backend._session
        view = f"crm_src_{self.table}_{uuid.uuid4().hex[:10]}"
        if self.path:
            name = self.path.lower().rstrip("/")
            if name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
                frame = session.read.csv(self.path, header=True, inferSchema=True)
            else:
                frame = session.read.parquet(self.path)
        elif self.db_table:
            return self.backend.table(self.db_table)
        else:
            frame = session.sql(str(self.query))
        frame.createOrReplaceTempView(view)
        return self.backend.table(view)

    def read(self) -> ir.Table:
        """The source as an Ibis table on its engine; DataError naming engine and table."""
        try:
            if backend_name(self.backend) == "pyspark":
                return self._read_spark()
            if self.db_table:
                return self.backend.table(self.db_table)
            # a temporary view rather than backend.sql(): with the sqlglot Ibis 12 pairs with
            # here, Ibis probes a query's schema with an empty DROP VIEW statement
            view = f"crm_query_{self.table}_{uuid.uuid4().hex[:10]}"
            cursor = self.backend.raw_sql(f'CREATE TEMPORARY VIEW "{view}" AS {self.query}')
            with suppress(AttributeError):
                cursor.close()
            return self.backend.table(view)
        except Exception as exc:  # the driver's error, named by engine, host and table
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if self.path:
                raise DataError(
                    f"cannot read {self.table}: the {self.where} cannot read path "
                    f"{self.path!r} ({first})",
                    file=self.path,
                ) from exc
            if self.db_table:
                raise DataError(
                    f"cannot read {self.table}: the {self.where} has no readable table "
                    f"{self.db_table!r} ({first})",
                    value=self.db_table,
                ) from exc
            raise DataError(
                f"cannot read {self.table}: its query failed on the {self.where}: {first}",
                value=str(self.query)[:200],
            ) from exc


def remote_sources(resolved: Mapping[str, Any], backend: Any) -> list[RemoteTable]:
    """The tables that resolved data params configure, as :class:`RemoteTable` on ``backend``.

    Parameters
    ----------
    resolved
        Data params checked by :func:`crmlib.data.params.resolve_params` on a database or
        Spark engine.
    backend
        The connected engine (:func:`crmlib.data.engine.connect_engine`).
    """
    where = engine_label(resolved["engine"])
    return [
        RemoteTable(
            table=name,
            backend=backend,
            where=where,
            db_table=entry.get("table"),
            query=entry.get("query"),
            columns=entry.get("columns") or {},
            path=entry.get("path"),
        )
        for name in SCHEMAS
        if (entry := resolved.get(name))
    ]


def _text(col: ir.Value) -> ir.StringValue:
    """Trimmed text, NULL when blank (numbers and times as their text)."""
    s = col if col.type().is_string() else col.cast("string")
    s = s.strip()
    return ibis.ifelse(s == "", ibis.null("string"), s)


def _is_null(col: ir.Value) -> ir.BooleanValue:
    """``col IS NULL``, a NaN not counted as null on any engine (Ibis's Spark backend compiles
    ``isnull()`` of a float as ``IS NULL OR ISNAN``)."""
    if col.type().is_floating():
        return ibis.ifelse(col.isnan(), False, col.isnull())
    return col.isnull()


def _is_infinite(col: ir.FloatingValue) -> ir.BooleanValue:
    """``col`` is +/- infinity (Ibis's Spark backend compiles ``isinf()`` to FALSE)."""
    return col.abs() == ibis.literal(float("inf"), type="float64")


def _lookup(lower: ir.StringValue, names: Mapping[str, str]) -> ir.StringValue:
    """``names[lower]``, NULL when ``lower`` is not a key."""
    if not names:
        return ibis.null("string")
    cases = [
        (lower.isin(sorted(k for k, v in names.items() if v == code)), code)
        for code in dict.fromkeys(names.values())
    ]
    return ibis.cases(*cases, else_=ibis.null("string"))


def _typed(table: str, col: str, dtype: str, raw: ir.Value, raw_name: str, label: str) -> ir.Value:
    """The raw column in canonical type ``dtype``; ConfigError when it holds text."""
    rtype = raw.type()
    if dtype in ("float64", "int64"):
        if not rtype.is_numeric():
            raise ConfigError(
                f"{table}.{col} (column {raw_name!r} of the {label}) is {rtype}, not a number: "
                "on a database engine numbers are not parsed from text; cast it in `query:` "
                f"(SELECT CAST({raw_name} AS numeric) AS {raw_name}, ...)"
            )
        return raw.cast("float64")
    if dtype in ("timestamp", "date"):
        if not (rtype.is_timestamp() or rtype.is_date()):
            raise ConfigError(
                f"{table}.{col} (column {raw_name!r} of the {label}) is {rtype}, not a date or "
                "time: on a database engine dates are not parsed from text; cast it in "
                f"`query:` (SELECT CAST({raw_name} AS timestamp) AS {raw_name}, ...)"
            )
        return raw.cast(dtype)
    return _text(raw)


def clean_remote(
    source: RemoteTable,
    *,
    schema: Mapping[str, str],
    required: Sequence[str],
    rules: Mapping[str, Any],
    channels: Mapping[str, list[str]],
    max_date: pd.Timestamp,
    quarantine: Path,
    quarantine_limit: int,
) -> tuple[ir.Table, TableQuality]:
    """Clean one database table on its engine (see the module docstring).

    Returns
    -------
    (ibis.Table, TableQuality)
        The cleaned canonical table (on the engine) and the table's counts.

    Raises
    ------
    DataError
        The table or query cannot be read, a required column is missing, it has no rows, or
        no row survives cleaning; the message names engine, host and table.
    ConfigError
        A column that must be a number or a time holds text.
    """
    table, con = source.table, source.backend
    raw = source.read()
    mapping_cfg = dict(source.columns or {})
    by_clean = {name.strip(): name for name in raw.columns}
    mapping: dict[str, str] = {}
    notes: list[str] = []
    for col in schema:
        wanted = mapping_cfg.get(col, col)
        if wanted in by_clean:
            mapping[col] = by_clean[wanted]
        elif col in required:
            raise DataError(
                f"{table} lacks required column {wanted!r} (canonical {col!r}) on the "
                f"{source.label}{did_you_mean(wanted, by_clean)}; columns found",
                column=wanted,
                value=", ".join(raw.columns),
            )
        elif col in mapping_cfg:
            notes.append(
                f"mapped column {wanted!r} ({col}) not in the source; left empty"
                + did_you_mean(wanted, by_clean)
            )
    raw_cols = list(raw.columns)
    if "__row" in raw_cols:
        raise DataError(f"{table} on the {source.label} has a column named __row; rename it")
    numbered = raw.mutate(__row=ibis.row_number().over(order_by=[raw[c] for c in raw_cols]) + 1)

    parsed: dict[str, ir.Value] = {}
    blank: dict[str, ir.BooleanValue] = {}
    bad: dict[str, ir.BooleanValue] = {}
    repairs: dict[str, ir.BooleanValue] = {}
    flags: dict[str, ir.BooleanValue] = {}
    unknown_channel = unknown_group = None
    for col, dtype in schema.items():
        name = mapping.get(col)
        if name is None:
            parsed[col] = ibis.null(dtype)
            continue
        rawcol = numbered[name]
        value = _typed(table, col, dtype, rawcol, name, source.label)
        blank[col] = _text(rawcol).isnull() if rawcol.type().is_string() else _is_null(rawcol)
        if col == "customer_id":
            tokens = sorted({v.strip().lower() for v in rules["missing_customer_values"]})
            value = ibis.ifelse(value.lower().isin(tokens), ibis.null("string"), value)
            blank[col] = value.isnull()
        elif table == "transactions" and col == "channel":
            names = {code.lower(): code for code in channels}
            for code, aliases in channels.items():
                names.update({a.strip().lower(): code for a in aliases})
            known = _lookup(value.lower(), names)
            unknown_channel = value.notnull() & known.isnull()
            repairs["channel_missing"] = value.isnull()
            repairs["channel_unknown"] = unknown_channel
            value = known.fill_null("unknown")
        elif table == "campaign_members" and col == "group":
            names = {g: g for g in GROUPS}
            aliases = {a.strip().lower(): g for g in GROUPS for a in rules["group_aliases"][g]}
            names.update(aliases)
            lower = value.lower()
            known = _lookup(lower, names)
            unknown_group = lower.notnull() & known.isnull()
            repairs["group_alias"] = lower.isin(sorted(aliases)) if aliases else ibis.literal(False)
            value = known
        elif dtype in ("float64", "int64"):
            finite = ~(value.isnan() | _is_infinite(value))
            if dtype == "int64":
                usable = finite & (value == value.round())
                value = ibis.ifelse(usable, value, ibis.null("float64")).cast("int64")
            else:
                usable = finite
                value = ibis.ifelse(usable, value, ibis.null("float64"))
            bad[col] = ~_is_null(rawcol) & ~usable.fill_null(False)
        parsed[col] = value

    reasons: list[tuple[str, ir.BooleanValue]] = []
    if rules["duplicates"] == "drop":
        first = ibis.row_number().over(group_by=[numbered[c] for c in raw_cols], order_by="__row")
        reasons.append(("duplicate_line", first > 0))
    for col in required:
        if table == "transactions" and col == "customer_id":
            continue  # anonymous sale: kept and counted
        reasons.append((f"missing_{col}", blank[col]))
    for col, cond in bad.items():
        reasons.append((f"unparseable_{col}", cond))
    if unknown_group is not None:
        reasons.append(("unknown_group", unknown_group))
    event = EVENT_TIME.get(table)
    future = ibis.literal(False)
    if event and event in mapping:
        future = parsed[event] > ibis.literal(max_date.to_pydatetime(), type="timestamp")
        if rules["future_dates"] == "quarantine":
            reasons.append(("future_date", future))
    if table == "transactions":
        amount = parsed["amount"]
        if rules["returns"] == "drop":
            reasons.append(("return", amount < 0))
        if rules["zero_amounts"] == "quarantine":
            reasons.append(("zero_amount", amount == 0))
        if rules["unknown_channels"] == "quarantine" and unknown_channel is not None:
            reasons.append(("unknown_channel", unknown_channel))
        flags = {
            "anonymous_sale": parsed["customer_id"].isnull(),
            "return": amount < 0,
            "zero_amount": amount == 0,
        }
    if rules["future_dates"] == "keep":
        flags["future_date"] = future
    reason = (
        ibis.cases(
            *((cond.fill_null(False), name) for name, cond in reasons), else_=ibis.null("string")
        )
        if reasons
        else ibis.null("string")
    )
    step = numbered.select(
        "__row",
        *raw_cols,
        __reason=reason,
        **{f"__p_{c}": v for c, v in parsed.items()},
        **{f"__r_{k}": v.fill_null(False) for k, v in repairs.items()},
        **{f"__f_{k}": v.fill_null(False) for k, v in flags.items()},
    )
    key = KEYS.get(table)
    if key is not None and key in mapping:
        # a key repeated on a later row: the first usable row (by source row) wins
        usable = step.__reason.isnull() & step[f"__p_{key}"].notnull()
        rank = ibis.row_number().over(group_by=[step[f"__p_{key}"], usable], order_by="__row")
        step = step.mutate(
            __reason=ibis.ifelse(usable & (rank > 0), "duplicate_key", step.__reason)
        )
    try:
        work = materialise(con, f"crm_clean_{table}_{uuid.uuid4().hex[:10]}", step)
        counts = execute(
            work.aggregate(
                read=work.count(),
                kept=work.count(where=work.__reason.isnull()),
                **{
                    f"r_{k}": work.count(where=work.__reason.isnull() & work[f"__r_{k}"])
                    for k in repairs
                },
                **{
                    f"f_{k}": work.count(where=work.__reason.isnull() & work[f"__f_{k}"])
                    for k in flags
                },
            )
        ).iloc[0]
        bad_rows = work.filter(work.__reason.notnull())
        by_reason = execute(bad_rows.group_by("__reason").aggregate(n=bad_rows.count()))
    except (ConfigError, DataError):
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot clean {table} on the {source.label}: {first}") from exc
    n_read, n_kept = int(counts["read"]), int(counts["kept"])
    rejected = {str(r): int(n) for r, n in zip(by_reason["__reason"], by_reason["n"], strict=True)}
    if n_read == 0:
        raise DataError(f"{table} on the {source.label} has no rows")
    if n_kept == 0:
        first = execute(work.filter(work.__reason.notnull()).order_by("__row").limit(1))
        raise DataError(
            f"nothing in {table} could be used: every row was rejected; the first, for "
            f"{first['__reason'].iloc[0]} (on the {source.label})",
            row=int(first["__row"].iloc[0]),
        )
    n_rejected = n_read - n_kept
    _write_quarantine(work, raw_cols, quarantine, limit=quarantine_limit)
    if n_rejected > quarantine_limit:
        notes.append(
            f"{n_rejected:,} rows were rejected; the quarantine file holds the first "
            f"{quarantine_limit:,} by source row (engine.quarantine_limit)"
        )
    kept = work.filter(work.__reason.isnull()).select(
        **{c: work[f"__p_{c}"].cast(dtype) for c, dtype in schema.items()}
    )
    quality = TableQuality(
        table=table,
        source=source.label,
        rows_read=n_read,
        kept=n_kept,
        repaired={k: int(counts[f"r_{k}"]) for k in repairs},
        flagged={k: int(counts[f"f_{k}"]) for k in flags},
        rejected=rejected,
        quarantine_file=str(quarantine),
        notes=notes,
    )
    return kept, quality


def _write_quarantine(work: ir.Table, raw_cols: list[str], path: Path, *, limit: int) -> None:
    """The first ``limit`` rejected rows by source row: ``source_row, reason`` and the source's
    own columns, to ``path`` (written even when empty, atomically)."""
    rows = work.filter(work.__reason.notnull()).order_by("__row").limit(limit)
    cols: list[Any] = list(raw_cols)
    if backend_name(backend_of(work)) == "pyspark":
        # PySpark brings timestamps over as nanoseconds, which end in 2262: a rejected future
        # date (year 2999) would fail the transfer, so times travel as their text
        cols = [
            rows[c].cast("string").name(c) if rows[c].type().is_timestamp() else c for c in raw_cols
        ]
    frame = execute(rows.select(rows.__row.name("source_row"), rows.__reason.name("reason"), *cols))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    spreadsheet_safe(frame).to_csv(tmp, index=False)
    os.replace(tmp, path)
