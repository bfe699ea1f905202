"""What an order is, and when it is a purchase: the one definition every analysis uses.

* An **order** is one ``order_id`` of a customer; lines without an ``order_id`` form one order per
  customer and timestamp. Its time is that of its first line; its **net amount** is the sum of
  its lines (a missing amount counts as 0), returns (negative lines) included, rounded to
  :data:`MONEY_DECIMALS` decimals so that lines which cancel out give exactly 0.
* An order is a **purchase** when its net amount is positive, or when it is 0 and none of its
  lines is a return (a free order: a gift, a sample, a 100% coupon). An order whose returns
  cancel or exceed what was bought (``+80`` and ``−80``; a pure return ``−20``) is no purchase:
  its amount still counts in revenue, but it counts towards no order count, frequency, recency,
  first or last purchase, active customer or lifecycle stage.
* Only lines up to the end of the ``as_of`` day count: a return made after ``as_of`` does not
  undo, as of that day, a purchase made before it.

RFM, the KPIs, lifecycle stages, cohorts, trends and the CLV summaries all build on
:func:`orders`, so the same customer has the same purchases, recency and frequency in each.

The orders of a loaded dataset's own transactions are formed once and kept beside its cleaned
tables (:mod:`crmlib.data.order_store`): ``orders.parquet`` holds every order of the dated lines
with the day of its last line, ``order_parts.parquet`` the orders whose lines span several days
(a return days after the purchase) summed per day. The orders as of a day are the stored ones
whose last line is on or before it, plus those spanning it formed again from their parts up to
that day: the same table as forming them from the lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmlib.data import order_store
from crmlib.data.engine import as_table, backend_of, temporary

__all__ = ["MONEY_DECIMALS", "ORDERS_FILE", "PARTS_FILE", "order_key", "orders", "orders_once"]

#: Decimals an order's net amount is rounded to (far below any currency's smallest unit).
MONEY_DECIMALS = 6


def order_key(lines: ir.Table) -> ir.StringValue:
    """The key of the order each canonical line belongs to (within its customer).

    ``order_id``; for a line without one, its timestamp as text (one order per customer and
    time).
    """
    return ibis.coalesce(lines.order_id, lines.ordered_at.cast("string"))


def orders(
    transactions: Any,
    *,
    as_of: pd.Timestamp | None = None,
    identified: bool = True,
) -> ir.Table:
    """One row per order placed up to the end of the ``as_of`` day (an Ibis expression).

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, file path or Ibis table; see
        :func:`crmlib.data.as_table`, which also turns blank customer ids into anonymous sales).
    as_of
        The analysis day: lines of later days are left out before orders are formed. ``None``
        keeps every dated line.
    identified
        Keep only orders of identified customers (``True``); ``False`` also keeps anonymous
        orders (``customer_id`` NULL).

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id``, ``order_id`` (:func:`order_key`), ``ordered_at`` (first line), ``day``
        (its date), ``amount`` (net, rounded to :data:`MONEY_DECIMALS`), ``returned`` (any line
        negative) and ``purchase`` (see the module docstring). The orders of a loaded
        dataset's own transactions are read from where they were formed once
        (:mod:`crmlib.data.order_store`).
    """
    tbl = as_table(transactions)
    store = order_store.find(tbl)
    if store is not None:
        out = _stored(store, as_of=as_of)
        if identified:
            out = out.filter(out.customer_id.notnull())
    else:
        out = _formed(tbl, as_of=as_of, identified=identified)
    return out.mutate(
        day=out.ordered_at.date(),
        purchase=(out.amount > 0) | ((out.amount == 0) & ~out.returned),
    )


@contextmanager
def orders_once(
    transactions: Any, *, as_of: pd.Timestamp | None = None, identified: bool = True
) -> Iterator[ir.Table]:
    """:func:`orders` for an analysis that reads them several times (``with orders_once(tx,
    as_of=day) as od: ...``): a loaded dataset's stored orders are read as they are; the orders
    of other lines are computed once into a temporary table on their engine, dropped on exit."""
    tbl = as_table(transactions)
    out = orders(tbl, as_of=as_of, identified=identified)
    if order_store.find(tbl) is not None:
        yield out
        return
    with temporary(out) as table:
        yield table


def _formed(tbl: ir.Table, *, as_of: pd.Timestamp | None, identified: bool) -> ir.Table:
    """The orders of canonical lines ``tbl``, grouped from the lines themselves."""
    keep = tbl.ordered_at.notnull()
    if as_of is not None:
        end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        keep &= tbl.ordered_at < ibis.literal(end.to_pydatetime(), type="timestamp")
    if identified:
        keep &= tbl.customer_id.notnull()
    tbl = tbl.filter(keep)
    amount = tbl.amount.fill_null(0.0)
    return tbl.group_by(customer_id=tbl.customer_id, order_id=order_key(tbl)).aggregate(
        ordered_at=tbl.ordered_at.min(),
        amount=amount.sum().round(MONEY_DECIMALS),
        returned=(amount < 0).any(),
    )


# --------------------------------------------------------------------------------------------
# The orders of a loaded dataset, formed once (crmlib.data.order_store)
# --------------------------------------------------------------------------------------------
#: Every order of the dated lines (anonymous ones too) with ``last_day``, its last line's day;
#: and the orders whose lines span several days, summed per day of their lines.
ORDERS_FILE, PARTS_FILE = "orders.parquet", "order_parts.parquet"
_COLUMNS = ["customer_id", "order_id", "ordered_at", "amount", "returned"]


def _stored(store: order_store.OrderStore, *, as_of: pd.Timestamp | None) -> ir.Table:
    """The orders of ``store``'s lines up to the end of the ``as_of`` day: the stored orders
    whose last line is on or before that day, and those spanning it formed again from their
    parts up to that day. Equal to :func:`_formed` (a sum's last bits may differ, as DuckDB's
    parallel sums do from run to run)."""
    stored, parts = store.tables((ORDERS_FILE, PARTS_FILE), _write_orders)
    if as_of is None:
        return stored.select(_COLUMNS)
    day = ibis.literal(pd.Timestamp(as_of).date(), type="date")
    whole = stored.filter(stored.last_day <= day).select(_COLUMNS)
    spanning = parts.filter(parts.part_day <= day, parts.last_day > day)
    spanning = spanning.group_by(["customer_id", "order_id"]).aggregate(
        ordered_at=spanning.ordered_at.min(),
        amount=spanning.amount.sum().round(MONEY_DECIMALS).cast("float64"),
        returned=spanning.returned.any(),
    )
    return whole.union(spanning.select(_COLUMNS), distinct=False)


def _write_orders(lines: ir.Table, paths: Mapping[str, Path]) -> None:
    """Form the two order files from canonical ``lines`` (the dated ones) into ``paths``."""
    con = backend_of(lines)
    lines = lines.filter(lines.ordered_at.notnull())
    amount = lines.amount.fill_null(0.0)
    by_day = lines.group_by(
        customer_id=lines.customer_id, order_id=order_key(lines), part_day=lines.ordered_at.date()
    ).aggregate(ordered_at=lines.ordered_at.min(), amount=amount.sum(), returned=(amount < 0).any())
    with temporary(by_day) as parts:
        stored = parts.group_by(["customer_id", "order_id"]).aggregate(
            ordered_at=parts.ordered_at.min(),
            amount=parts.amount.sum().round(MONEY_DECIMALS).cast("float64"),
            returned=parts.returned.any(),
            first_day=parts.part_day.min(),
            last_day=parts.part_day.max(),
        )
        spanning = stored.filter(stored.first_day < stored.last_day)
        spanning_parts = parts.join(
            spanning,
            [
                parts.order_id == spanning.order_id,
                parts.customer_id.identical_to(spanning.customer_id),  # null: anonymous
            ],
        ).select(parts, spanning.last_day)
        con.to_parquet(spanning_parts, str(paths[PARTS_FILE]))
        con.to_parquet(stored.drop("first_day"), str(paths[ORDERS_FILE]))
