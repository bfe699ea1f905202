"""The purchase lines every cross-sell analysis starts from: no returns, an item present, up to
the analysis date."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmlib.basket.params import LEVELS
from crmlib.config import check_choice
from crmlib.data import as_table, execute, parse_day
from crmlib.measure import NotMeasured, not_measured

__all__ = ["Transactions", "as_of_bound", "purchase_lines", "known_customer", "unmapped_item"]

#: Order lines as the analyses accept them: a DataFrame, a file or an Ibis table.
Transactions = pd.DataFrame | str | Path | ir.Table


def as_of_bound(as_of: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """Start of the day after ``as_of`` (exclusive bound), or None when ``as_of`` is empty.

    Parameters
    ----------
    as_of
        Last day of data used (ISO date or timestamp; the time of day is ignored).
    """
    day = parse_day(as_of)
    return None if day is None else day + pd.Timedelta(days=1)


def purchase_lines(
    transactions: Transactions, *, level: str, as_of: str | pd.Timestamp | None
) -> tuple[ir.Table, ir.Value]:
    """Purchase lines (no returns, an item present, up to ``as_of``) and their item column.

    Values are used as they are (``crmlib.data.load_dataset`` trims them while cleaning).

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    level
        An item of :data:`~crmlib.basket.LEVELS`: ``"sku"`` or a category level.
    as_of
        Last day of data used (ISO date); ``None`` or ``""`` uses everything.

    Returns
    -------
    tuple
        The filtered Ibis table and its item column.
    """
    tx = _lines_until(transactions, level=level, as_of=as_of)
    item = tx[level]
    tx = tx.filter(tx.amount.fill_null(0) >= 0, item.notnull(), item != "")
    return tx, tx[level]


def _lines_until(
    transactions: Transactions, *, level: str, as_of: str | pd.Timestamp | None
) -> ir.Table:
    """Order lines up to the end of the ``as_of`` day, once ``level`` is checked."""
    check_choice("level", level, LEVELS)
    tx = as_table(transactions)
    end = as_of_bound(as_of)
    if end is not None:
        tx = tx.filter(tx.ordered_at < ibis.literal(end.to_pydatetime()))
    return tx


def known_customer(tx: ir.Table) -> ir.BooleanValue:
    """True for lines of a member (a non-empty ``customer_id``), False for anonymous sales."""
    cid = tx.customer_id
    return cid.notnull() & (cid != "")


def unmapped_item(
    transactions: Transactions, *, level: str, as_of: str | pd.Timestamp | None = None
) -> NotMeasured | None:
    """``column_not_mapped`` when no purchase line up to ``as_of`` names an item at ``level``.

    The reason an empty cross-sell result is empty when the export has no such column (CDNOW
    has no SKU), rather than "no rule found". One aggregate on the engine; callers ask only when
    their result came out empty.
    """
    tx = _lines_until(transactions, level=level, as_of=as_of)
    item = tx[level]
    named = execute(tx.aggregate(n=(item.notnull() & (item != "")).sum()))["n"].iloc[0]
    if pd.isna(named) or int(named) == 0:
        return not_measured("column_not_mapped", table="transactions", column=level)
    return None
