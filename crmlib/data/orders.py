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
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmlib.data.engine import as_table

__all__ = ["MONEY_DECIMALS", "order_key", "orders"]

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
        negative) and ``purchase`` (see the module docstring).
    """
    tbl = as_table(transactions)
    keep = tbl.ordered_at.notnull()
    if as_of is not None:
        end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        keep &= tbl.ordered_at < ibis.literal(end.to_pydatetime(), type="timestamp")
    if identified:
        keep &= tbl.customer_id.notnull()
    tbl = tbl.filter(keep)
    amount = tbl.amount.fill_null(0.0)
    out = tbl.group_by(customer_id=tbl.customer_id, order_id=order_key(tbl)).aggregate(
        ordered_at=tbl.ordered_at.min(),
        amount=amount.sum().round(MONEY_DECIMALS),
        returned=(amount < 0).any(),
    )
    return out.mutate(
        day=out.ordered_at.date(),
        purchase=(out.amount > 0) | ((out.amount == 0) & ~out.returned),
    )
