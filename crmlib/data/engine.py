"""The engine the canonical tables live on: one embedded DuckDB connection per process.

Transaction-level work runs as Ibis expressions, so the same code can run on PostgreSQL or
Spark. Public functions across the workbook accept a pandas DataFrame, a file path or an Ibis
table (:func:`as_table`) and return pandas (:func:`execute`). The cleaning steps, which run as
SQL on the same connection, quote names and values with :func:`sql_name` and
:func:`sql_literal`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends.duckdb.converter import DuckDBPandasData

from crmlib.data.schema import REQUIRED, SCHEMAS
from crmlib.errors import DataError

__all__ = ["connection", "execute", "as_table", "sql_name", "sql_literal"]

_CONNECTION: Any = None


def connection() -> Any:
    """The process-wide embedded DuckDB connection (an Ibis backend), created on first use."""
    global _CONNECTION
    if _CONNECTION is None:
        _CONNECTION = ibis.duckdb.connect()
    return _CONNECTION


def execute(expr: ir.Expr) -> pd.DataFrame:
    """Run an Ibis table expression on the workbook's connection and return pandas.

    The result is what the backend's ``to_pandas`` gives, but each Arrow column is converted
    by Arrow itself: Ibis's DuckDB backend sends every column that holds a null through a
    Python list, which on a million rows costs seconds (customer ids, dates, nullable
    numbers); Ibis's own type conversions are still applied afterwards. One difference: an
    integer column holding nulls comes back as float64 with NaN, not as Python objects.
    """
    con = connection()
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


def as_table(obj: pd.DataFrame | str | Path | ir.Table, *, table: str = "transactions") -> ir.Table:
    """Return ``obj`` as an Ibis table in the canonical schema of ``table``.

    Parameters
    ----------
    obj
        A pandas DataFrame or Ibis table with canonical column names, or the path of a CSV or
        Parquet file that already uses them (raw exports go through ``load_dataset`` instead).
    table
        Which canonical table ``obj`` holds: one of :data:`~crmlib.data.schema.SCHEMAS`.

    Returns
    -------
    ibis.Table
        Every canonical column in canonical order and type; optional columns that ``obj`` lacks
        are null. Extra columns are dropped.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    if table not in SCHEMAS:
        raise DataError(f"unknown table {table!r}; expected one of {', '.join(SCHEMAS)}")
    source = str(obj) if isinstance(obj, str | Path) else None
    if isinstance(obj, str | Path):
        obj = _read_file(Path(obj))
    elif isinstance(obj, pd.DataFrame):
        obj = ibis.memtable(obj)
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
    cols = {}
    for col, dtype in SCHEMAS[table].items():
        if col in obj.columns:
            cols[col] = obj[col] if obj[col].type() == ibis.dtype(dtype) else obj[col].cast(dtype)
        else:
            cols[col] = ibis.null().cast(dtype)
    return obj.select(**cols)


def sql_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (``"my ""odd"" column"``)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: Any) -> str:
    """``text`` as a quoted SQL string literal (``'it''s'``)."""
    return "'" + str(text).replace("'", "''") + "'"
