"""The engine a table lives on, and running expressions there.

Transaction-level work runs as Ibis expressions. A table may live on the embedded DuckDB
connection (one per process, :func:`connection`: files, pandas frames) or on a database server
or cluster that Ibis reaches (PostgreSQL through ``ibis.postgres``, Spark through
``ibis.pyspark`` on the process's one SparkSession, :func:`spark_session`; see ``engine:`` in
``params/data.yaml``). Public functions across the workbook accept a pandas DataFrame, a file
path or an Ibis table (:func:`as_table`) and return pandas (:func:`execute`), which runs the
expression on the backend holding its tables (:func:`backend_of`): a PostgreSQL-bound table is
computed by the PostgreSQL server and only the result travels to Python. :func:`temporary`
materialises an expression read more than once on that same backend. The cleaning steps, which
run as SQL on the DuckDB connection, quote names and values with :func:`sql_name` and
:func:`sql_literal`.
"""

from __future__ import annotations

import os
import uuid
import weakref
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends.duckdb.converter import DuckDBPandasData

from crmlib.config import THREADS_ENV
from crmlib.data.connect import (
    connect_engine,
    engine_label,
    spark_session,
)
from crmlib.data.rules import DEFAULTS as CLEANING_DEFAULTS
from crmlib.data.schema import REQUIRED, SCHEMAS
from crmlib.errors import ConfigError, DataError

__all__ = [
    "connection",
    "backend_of",
    "backend_name",
    "is_embedded",
    "execute",
    "temporary",
    "drop_table",
    "connect_engine",
    "engine_label",
    "spark_session",
    "materialise",
    "as_table",
    "mark_cleaned",
    "sql_name",
    "sql_literal",
]

_CONNECTION: Any = None


def connection() -> Any:
    """The process-wide embedded DuckDB connection (an Ibis backend), created on first use."""
    global _CONNECTION
    if _CONNECTION is None:
        threads = os.environ.get(THREADS_ENV, "").strip()
        if threads and not (threads.isdigit() and int(threads) > 0):
            raise ConfigError(f"{THREADS_ENV} must be a whole number >= 1; got {threads!r}")
        config: dict[str, Any] = {"threads": int(threads)} if threads else {}
        # memory the queries freed goes back to the system between queries (a background
        # thread purges the allocator's caches), not held until the process ends: 3 s after
        # the campaign responses of 3M customers a process held 662 MB instead of 1,066 MB
        config["allocator_background_threads"] = True
        _CONNECTION = ibis.duckdb.connect(**config)
    return _CONNECTION


def backend_of(expr: ir.Expr) -> Any:
    """The Ibis backend holding the tables of ``expr``.

    An expression built only from pandas frames (``ibis.memtable``) belongs to no backend and
    runs on the embedded DuckDB connection (:func:`connection`).

    Raises
    ------
    DataError
        When ``expr`` mixes tables of two engines (say a PostgreSQL table joined with a DuckDB
        file): no engine can run it; bring both tables onto one engine.
    """
    backends, _ = expr._find_backends()
    if not backends:
        return connection()
    if len(backends) > 1:
        names = ", ".join(sorted({backend_name(b) for b in backends}))
        raise DataError(
            f"the expression joins tables held by different engines ({names}); "
            "load every table of one analysis from the same engine (engine: in params/data.yaml)"
        )
    return backends[0]


def backend_name(backend: Any) -> str:
    """The Ibis name of ``backend`` (``duckdb``, ``postgres``, ``pyspark`` …)."""
    return str(getattr(backend, "name", type(backend).__module__.split(".")[-1]))


def is_embedded(expr: ir.Expr) -> bool:
    """Whether ``expr`` runs on the embedded DuckDB engine (files, pandas frames)."""
    return backend_name(backend_of(expr)) == "duckdb"


def execute(expr: ir.Expr) -> pd.DataFrame:
    """Run an Ibis expression on the backend holding its tables and return pandas.

    On DuckDB the result is what the backend's ``to_pandas`` gives, but each Arrow column is
    converted by Arrow itself: Ibis's DuckDB backend sends every column that holds a null
    through a Python list, which on a million rows costs seconds (customer ids, dates, nullable
    numbers); Ibis's own type conversions are still applied afterwards. One difference: an
    integer column holding nulls comes back as float64 with NaN, not as Python objects. On any
    other backend (PostgreSQL …) the backend computes the expression and its own ``to_pandas``
    brings the result over; a scalar or column expression is returned as the backend gives it.

    Raises
    ------
    DataError
        When ``expr`` mixes tables of several engines (:func:`backend_of`), or the database
        server fails to run it (the message names the engine, never a password).
    """
    con = backend_of(expr)
    if backend_name(con) != "duckdb":
        try:
            if backend_name(con) == "postgres" and isinstance(expr, ir.Table):
                return _postgres_frame(con, expr)
            return con.to_pandas(expr)
        except Exception as exc:  # a driver's own error: name the engine, keep the cause
            raise DataError(
                f"the {backend_name(con)} engine failed to run a query: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc
    if not isinstance(expr, ir.Table):
        return con.to_pandas(expr)
    table = con.to_pyarrow(expr)
    frame = pd.DataFrame(
        {
            name: col.to_pylist()
            if pa.types.is_nested(col.type) or pa.types.is_dictionary(col.type)
            else col.to_pandas()
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return DuckDBPandasData.convert_table(frame, expr.schema())


#: Rows fetched from PostgreSQL at a time (server-side cursor), each batch made Arrow at once.
POSTGRES_BATCH_ROWS = 200_000


def _postgres_frame(con: Any, expr: ir.Table) -> pd.DataFrame:
    """``expr`` computed by PostgreSQL and fetched in batches: Ibis's own ``to_pandas`` fetches
    every row as a Python tuple at once (about 1.5 GB for ten million rows of two integers);
    batches of :data:`POSTGRES_BATCH_ROWS` rows hold only one batch as tuples at a time. The
    types are then converted as Ibis converts them."""
    from ibis.backends.postgres.converter import PostgresPandasData

    reader = con.to_pyarrow_batches(expr, chunk_size=POSTGRES_BATCH_ROWS)
    table = reader.read_all()
    frame = pd.DataFrame(
        {
            name: col.to_pylist() if pa.types.is_nested(col.type) else col.to_pandas()
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return PostgresPandasData.convert_table(frame, expr.schema())


@contextmanager
def temporary(expr: ir.Table) -> Iterator[ir.Table]:
    """``expr`` computed once into a temporary table on its own backend, dropped on exit.

    For a result an analysis reads more than once (``with temporary(orders) as t: ...``): the
    table is created where ``expr``'s tables live (DuckDB, PostgreSQL …), so no line travels
    to Python.
    """
    con = backend_of(expr)
    name = f"crm_tmp_{uuid.uuid4().hex}"
    table = materialise(con, name, expr)
    try:
        yield table
    finally:
        drop_table(con, name)


def drop_table(con: Any, name: str) -> None:
    """Drop table ``name`` on backend ``con`` if it exists.

    SQL of its own rather than ``con.drop_table``: with the sqlglot that Ibis 12 pairs with
    here, Ibis emits an empty ``DROP TABLE IF EXISTS`` on DuckDB and PostgreSQL. A failure is
    ignored: a temporary table also ends with the session.
    """
    with suppress(Exception):
        if backend_name(con) in ("duckdb", "postgres"):
            con.raw_sql(f"DROP TABLE IF EXISTS {sql_name(name)}")
        elif backend_name(con) == "pyspark":
            con._session.catalog.dropTempView(name)
        else:
            con.drop_table(name, force=True)


def materialise(con: Any, name: str, expr: ir.Table) -> ir.Table:
    """``expr`` computed once into temporary table ``name`` on backend ``con``.

    DuckDB and PostgreSQL create a temporary table. Spark has none through Ibis: the result
    is a Spark DataFrame persisted in the executors' memory (spilling to their disks) and
    registered as a temporary view; it ends with the session or :func:`drop_table`.
    """
    if backend_name(con) != "pyspark":
        return con.create_table(name, expr, temp=True)
    frame = con._session.sql(con.compile(expr)).persist()
    frame.count()  # compute it now, once
    frame.createOrReplaceTempView(name)
    return con.table(name)


def _read_file(path: Path) -> ir.Table:
    if not path.exists():
        raise DataError("input file does not exist", file=str(path))
    con = connection()
    name = path.name.lower()
    if name.endswith(".parquet"):
        return con.read_parquet(str(path))
    if name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return con.read_csv(str(path))
    raise DataError(
        "unsupported file type; use .csv, .csv.gz or .parquet", file=str(path), value=path.suffix
    )


#: Zone that time-zone-aware timestamps of a DataFrame or table given to :func:`as_table` are
#: converted into, unless ``timezone=`` says otherwise: the default ``timezone`` of a table in
#: ``params/data.yaml``, so frames and loaded tables hold the same local times.
DEFAULT_TIMEZONE = "Asia/Shanghai"

# Tables :func:`as_table` returned: given back, they are canonical already (weak references).
_CANONICAL: weakref.WeakSet[Any] = weakref.WeakSet()


# Tables a loader cleaned (weak references): their customer ids are final already.
_CLEANED: weakref.WeakSet[Any] = weakref.WeakSet()


def mark_cleaned(table: ir.Table) -> ir.Table:
    """Record that ``table`` holds a loader's cleaned rows (:func:`crmlib.data.load_dataset`):
    its customer ids are trimmed and the loader's own ``missing_customer_values`` are NULL, so
    :func:`as_table` reads them as they are. Returns ``table``.

    Re-applying the rule to a cleaned table changes nothing but costs: at 10M lines each query
    grouping by customer took 2.6 s instead of 1.2 s on one thread, for the regular expression
    run on every line."""
    _CLEANED.add(table.op())
    return table


def _is_canonical(obj: ir.Table) -> bool:
    """Whether ``obj`` is a table :func:`as_table` returned, or rows filtered from one."""
    op = obj.op()
    while isinstance(op, ibis.expr.operations.Filter):
        op = op.parent
    return op in _CANONICAL


@ibis.udf.scalar.builtin(
    name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.timestamp)
)
def _local_time(zone: str, stamp: Any) -> Any:
    """``timezone(zone, stamp)``: the naive local time in ``zone`` (DuckDB and PostgreSQL)."""


def _check_zone(timezone: str) -> str:
    try:
        zoneinfo.ZoneInfo(str(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise DataError(
            f"timezone must be an IANA time zone such as Asia/Shanghai; got {timezone!r}"
        ) from exc
    return str(timezone)


def _local_frame(frame: pd.DataFrame, table: str, zone: str) -> pd.DataFrame:
    """``frame`` with every time-zone-aware timestamp column of ``table`` as naive ``zone`` time.

    A column of datetime objects mixing offsets is converted too; one mixing aware and naive
    values cannot be read either way and raises :class:`DataError` naming the column and row.
    """
    converted = {}
    for col, kind in SCHEMAS[table].items():
        if kind != "timestamp" or col not in frame.columns:
            continue
        values = frame[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            converted[col] = values.dt.tz_convert(zone).dt.tz_localize(None)
        elif values.dtype == object:
            aware = values.map(lambda v: getattr(v, "tzinfo", None) is not None)
            if not aware.any():
                continue
            naive = values.notna() & ~aware
            if naive.any():
                row = naive.to_numpy().nonzero()[0][0]
                raise DataError(
                    "mixes time-zone-aware and naive timestamps; give every value an offset "
                    "or none",
                    column=col,
                    row=int(row),
                    value=str(values.iloc[row]),
                )
            stamps = pd.to_datetime(values, utc=True)
            converted[col] = stamps.dt.tz_convert(zone).dt.tz_localize(None)
    return frame.assign(**converted) if converted else frame


def _anonymous_rule(cid: ir.StringValue, values: Sequence[str]) -> ir.StringValue:
    """``cid`` trimmed, NULL when blank or one of ``values`` (trimmed, case-insensitively)."""
    trimmed = cid.strip()
    tokens = sorted({str(v).strip().lower() for v in values} | {""})
    # Most ids are long and already trimmed: the length guard and the edge test spare them the
    # per-line trim and lower-casing, which otherwise tripled the cost of a grouping by customer.
    longest = max(len(v) for v in tokens)
    short = cid.length() <= longest
    padded = cid.re_search(r"^\s|\s$")
    anonymous = (short | padded) & trimmed.lower().isin(tokens)
    return ibis.cases((anonymous, ibis.null("string")), (padded, trimmed), else_=cid)


def as_table(
    obj: pd.DataFrame | str | Path | ir.Table,
    *,
    table: str = "transactions",
    timezone: str = DEFAULT_TIMEZONE,
    missing_customer_values: Sequence[str] | None = None,
) -> ir.Table:
    """Return ``obj`` as an Ibis table in the canonical schema of ``table``.

    The rules the loader (``load_dataset``) applies to every value are applied here too, so an
    analysis reads the same numbers from a DataFrame as from the loaded table:

    * **Anonymous sales.** A ``customer_id`` is trimmed; a blank one, or one of the loader's
      ``cleaning.missing_customer_values`` (``""``, ``0``, ``NULL``, ``None``, ``-``, ``NA``,
      ``N/A``, ``NaN``, ``nil``; compared after trimming, case-insensitively), becomes NULL:
      no customer. A loaded dataset's table (:func:`mark_cleaned`) keeps the ids the loader
      made with its own ``missing_customer_values``, unless ``missing_customer_values`` is
      given.
    * **Time zones.** Canonical timestamps are naive local times. A time-zone-aware timestamp
      column (a pandas ``datetime64[ns, tz]`` column, datetime objects with offsets, or a
      ``TIMESTAMP WITH TIME ZONE`` column of a table or Parquet file) is converted into
      ``timezone``: ``2024-03-06 01:30+08:00`` stays ``2024-03-06 01:30`` in Asia/Shanghai.

    Parameters
    ----------
    obj
        A pandas DataFrame or Ibis table with canonical column names, or the path of a CSV or
        Parquet file that already uses them (raw exports go through ``load_dataset`` instead).
    table
        Which canonical table ``obj`` holds: one of :data:`~crmlib.data.schema.SCHEMAS`.
    timezone
        IANA zone that time-zone-aware timestamps are converted into; default
        :data:`DEFAULT_TIMEZONE` (Asia/Shanghai), the default ``timezone`` of the data params.
        Naive timestamps are kept as they are.
    missing_customer_values
        The ``customer_id`` values that mean "no customer"; default the loader's default
        ``cleaning.missing_customer_values``. A blank id is always anonymous.

    Returns
    -------
    ibis.Table
        Every canonical column in canonical order and type; optional columns that ``obj`` lacks
        are null. Extra columns are dropped. A table that ``as_table`` returned, or rows
        filtered from one, is given back as it is.

    Raises
    ------
    DataError
        When a required column is missing, ``timezone`` is no IANA zone, or a timestamp column
        mixes aware and naive values.
    """
    if table not in SCHEMAS:
        raise DataError(f"unknown table {table!r}; expected one of {', '.join(SCHEMAS)}")
    if isinstance(obj, ir.Table) and _is_canonical(obj):
        return obj
    zone = _check_zone(timezone)
    source = str(obj) if isinstance(obj, str | Path) else None
    if isinstance(obj, str | Path):
        obj = _read_file(Path(obj))
    elif isinstance(obj, pd.DataFrame):
        obj = ibis.memtable(_local_frame(obj, table, zone))
    elif not isinstance(obj, ir.Table):
        raise DataError(
            f"{table} must be a pandas DataFrame, a file path or an Ibis table; "
            f"got {type(obj).__name__}"
        )
    missing = [c for c in REQUIRED[table] if c not in obj.columns]
    if missing:
        raise DataError(
            f"{table} lacks required column(s) {', '.join(missing)}",
            file=source,
            column=missing[0],
        )
    # a loaded table's ids are the loader's (its own missing values are NULL already), unless
    # the caller names the values that mean no customer
    cleaned = obj.op() in _CLEANED and missing_customer_values is None
    if missing_customer_values is None:
        missing_customer_values = CLEANING_DEFAULTS["missing_customer_values"]
    cols = {}
    for col, dtype in SCHEMAS[table].items():
        if col not in obj.columns:
            cols[col] = ibis.null().cast(dtype)
            continue
        value, kind = obj[col], obj[col].type()
        if kind.is_timestamp() and kind.timezone is not None:
            value = _local_time(zone, value)
        cols[col] = value if value.type() == ibis.dtype(dtype) else value.cast(dtype)
        if col == "customer_id" and not cleaned:
            cols[col] = _anonymous_rule(cols[col], missing_customer_values)
    out = obj.select(**cols)
    _CANONICAL.add(out.op())
    return out


def sql_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (``"my ""odd"" column"``)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: Any) -> str:
    """``text`` as a quoted SQL string literal (``'it''s'``)."""
    return "'" + str(text).replace("'", "''") + "'"
