"""Canonical tables of the workbook and the way into them.

Every analysis works on the canonical tables of the data contract (see README): users map their
own column names in ``params/data.yaml``; nothing downstream sees the source names.

Transaction-level work runs as Ibis expressions on one embedded DuckDB connection per process, so
the same code can run on PostgreSQL or Spark. Public functions accept a pandas DataFrame, a file
path or an Ibis table (:func:`as_table`) and return pandas (:func:`execute`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmlib.errors import DataError

#: Canonical schema of every table: column -> Ibis type. The first columns listed in
#: :data:`REQUIRED` must be present in a source; the rest are filled with nulls when absent.
SCHEMAS: dict[str, dict[str, str]] = {
    "transactions": {
        "customer_id": "string",  # empty = anonymous sale
        "order_id": "string",
        "ordered_at": "timestamp",
        "amount": "float64",  # net paid; negative = return
        "quantity": "int64",
        "sku": "string",
        "category": "string",
        "channel": "string",
        "store": "string",
        "coupon_code": "string",
        "sales_rep": "string",
    },
    "customers": {
        "customer_id": "string",
        "name": "string",
        "phone": "string",
        "email": "string",
        "address": "string",
        "postcode": "string",
        "source_channel": "string",
        "signup_at": "timestamp",
        "birthday": "date",
        "member_level": "string",
        "points": "float64",
    },
    "touchpoints": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "channel": "string",
        "kind": "string",
        "content": "string",
    },
    "campaigns": {
        "campaign_id": "string",
        "name": "string",
        "channel": "string",
        "starts_at": "timestamp",
        "ends_at": "timestamp",
        "coupon_code": "string",
        "partner": "string",
    },
    "campaign_members": {
        "campaign_id": "string",
        "customer_id": "string",
        "group": "string",  # target or control
        "sent_at": "timestamp",
    },
    "events": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "event": "string",  # visit, view, cart, pay
    },
}

#: Columns a source must provide for each table.
REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_id", "ordered_at", "amount"),
    "customers": ("customer_id",),
    "touchpoints": ("customer_id", "occurred_at", "kind"),
    "campaigns": ("campaign_id",),
    "campaign_members": ("campaign_id", "customer_id", "group"),
    "events": ("customer_id", "occurred_at", "event"),
}

#: Personal fields that reports mask unless a report explicitly asks for them.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "phone", "email", "address", "postcode", "birthday")

_CONNECTION: Any = None


def connection() -> Any:
    """The process-wide embedded DuckDB connection (an Ibis backend), created on first use."""
    global _CONNECTION
    if _CONNECTION is None:
        _CONNECTION = ibis.duckdb.connect()
    return _CONNECTION


def execute(expr: ir.Expr) -> pd.DataFrame:
    """Run an Ibis table expression on the workbook's connection and return pandas."""
    return connection().to_pandas(expr)


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
        Which canonical table ``obj`` holds: one of :data:`SCHEMAS`.

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
