"""Per-customer purchase histories (frequency, recency, T, monetary value) for the CLV models.

Conventions (Fader, Hardie & Lee 2005 on CDNOW; REFERENCES.md):

- a customer's purchases on one calendar day are merged into one purchase worth the day's net
  amount; a day counts as a purchase day when at least one purchase (an order as
  :mod:`crmlib.data.orders` defines it, the same for every analysis) was placed on it: a day of
  returns only, or of an order whose lines cancel out (+80/−80), is not a purchase day;
  anonymous sales (empty ``customer_id``) are left out;
- ``frequency`` = purchase days − 1 (repeat purchase days); ``recency`` = first to last purchase
  day; ``T`` = first purchase day to the end of the observation (or of the calibration period),
  in days or in weeks of 7 days;
- ``monetary_value`` = mean value of the repeat purchase days (first purchase excluded), 0 for
  customers without a repeat purchase.

The aggregation runs as one Ibis expression (DuckDB by default); the result is pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib.clv.dates import as_day, require_as_of
from crmlib.compat import renamed_keyword
from crmlib.config import check_choice
from crmlib.data import as_table, execute, order_store
from crmlib.data.engine import backend_of
from crmlib.data.orders import orders as order_table
from crmlib.data.results import cached
from crmlib.errors import DataError

__all__ = [
    "TIME_UNITS",
    "day_values",
    "purchase_days",
    "purchase_history",
    "summary",
    "weeks_in_units",
]

#: Time units of the summaries: days, or weeks of 7 days.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}


def weeks_in_units(weeks: float, time_unit: str) -> float:
    """``weeks`` in the summaries' ``time_unit`` (``"D"`` or ``"W"``): the hiatus rule's
    threshold against a customer's time since the last purchase (``T - recency``)."""
    return weeks * 7.0 / TIME_UNITS[time_unit]


def purchase_days(transactions: Any, *, as_of: Any = None, **kwargs: Any) -> Any:
    """Ibis expression of the purchase days of identified customers up to ``as_of``.

    One row per ``customer_id`` and ``day`` on which the customer placed a purchase (see
    :mod:`crmlib.data.orders`), with the day's net ``value`` (every line of the day, returns
    included); other days and anonymous sales are dropped.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, file path or Ibis table).
    as_of
        Last day (inclusive); later transactions are ignored. ``observation_end=`` is a
        deprecated alias.
    """
    as_of = renamed_keyword("purchase_days", kwargs, "observation_end", "as_of", as_of)
    end = as_day(require_as_of("purchase_days", as_of, kwargs), "as_of")
    table = as_table(transactions)
    days = day_values(table)
    days = days.filter(days.customer_id.notnull(), days.day <= end.date())
    orders = order_table(table, as_of=end)
    bought = orders.filter(orders.purchase).select("customer_id", "day").distinct()
    return days.join(bought, ["customer_id", "day"]).select("customer_id", "day", "value")


def purchase_history(transactions: Any, *, as_of: Any) -> Any:
    """:func:`purchase_days` up to ``as_of`` with each customer's ``first_day`` (first purchase
    day up to ``as_of``): what the summaries, the backtest's tracking and the forecast's track
    record read (Ibis expression).

    A loaded dataset's are formed once per ``as_of`` and read from
    :mod:`crmlib.data.order_store` (``purchase_days_<YYYYMMDD>.parquet``): a run reads them
    for its summary, its backtest's calibration summary and tracking, and its track record.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, file path or Ibis table).
    as_of
        Last day (inclusive); later transactions are ignored.
    """
    end = as_day(as_of, "as_of")
    lines = as_table(transactions)
    store = order_store.find(lines)
    if store is not None:
        name = f"purchase_days_{end:%Y%m%d}.parquet"
        return store.tables((name,), partial(_write_history, end=end))[0]
    return _history(lines, end)


def _history(lines: Any, end: pd.Timestamp) -> Any:
    days = purchase_days(lines, as_of=end)
    return days.mutate(first_day=days.day.min().over(ibis.window(group_by="customer_id")))


def _write_history(lines: Any, paths: Mapping[str, Path], *, end: pd.Timestamp) -> None:
    (path,) = paths.values()
    backend_of(lines).to_parquet(_history(lines, end), str(path))


#: Every dated line's amount summed per customer and day, kept for a loaded dataset.
DAYS_FILE = "customer_days.parquet"


def day_values(transactions: Any) -> Any:
    """Every dated line's amount (a missing one counts as 0) summed per ``customer_id`` (null:
    anonymous) and ``day``: ``value`` (Ibis expression). A loaded dataset's are formed once and
    read from :mod:`crmlib.data.order_store`.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, file path or Ibis table).
    """
    lines = as_table(transactions)
    store = order_store.find(lines)
    if store is not None:
        return store.tables((DAYS_FILE,), _write_days)[0]
    return _day_values(lines)


def _day_values(lines: Any) -> Any:
    lines = lines.filter(lines.ordered_at.notnull())
    days = lines.group_by(customer_id=lines.customer_id, day=lines.ordered_at.date())
    return days.aggregate(value=lines.amount.fill_null(0.0).sum())


def _write_days(lines: Any, paths: Mapping[str, Path]) -> None:
    backend_of(lines).to_parquet(_day_values(lines), str(paths[DAYS_FILE]))


@cached("clv.summary")
def summary(
    transactions: Any,
    *,
    as_of: Any = None,
    calibration_end: Any = None,
    time_unit: str = "W",
    **kwargs: Any,
) -> pd.DataFrame:
    """Per-customer frequency, recency, T and monetary value, optionally split into calibration
    and holdout periods.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, file path or Ibis table; see :func:`crmlib.data.as_table`).
    as_of
        Last day of the observation (inclusive); later transactions are ignored.
        ``observation_end=`` is a deprecated alias.
    calibration_end
        Last day of the calibration period (inclusive). When given, only customers whose first
        purchase is on or before it are kept, frequency/recency/T/monetary_value describe the
        calibration period and ``frequency_holdout``, ``monetary_value_holdout`` and
        ``duration_holdout`` the days after it up to ``as_of``.
    time_unit
        ``"W"`` (weeks = days / 7, the CDNOW convention) or ``"D"`` (days).

    Returns
    -------
    pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` (plus the holdout columns), one row
        per customer, sorted by ``customer_id``; ``attrs["time_unit"]`` records the unit.

    Raises
    ------
    DataError
        When ``calibration_end`` is not before ``as_of`` or no customer qualifies.
    """
    as_of = renamed_keyword("summary", kwargs, "observation_end", "as_of", as_of)
    as_of = require_as_of("summary", as_of, kwargs)
    check_choice("time_unit", time_unit, TIME_UNITS)
    unit = TIME_UNITS[time_unit]
    end = as_day(as_of, "as_of")
    cal = None if calibration_end is None else as_day(calibration_end, "calibration_end")
    if cal is not None and cal >= end:
        raise DataError(
            "calibration_end must be before as_of",
            value=f"{cal.date()} >= {end.date()}",
        )
    days = purchase_history(transactions, as_of=end)
    cut = (cal or end).date()
    in_cal = days.day <= cut
    repeat = in_cal & (days.day > days.first_day)
    aggregates = {
        "first_day": days.first_day.min(),
        "last_day": days.day.max(where=in_cal),
        "n_days": in_cal.sum(),
        "repeat_value": days.value.sum(where=repeat),
    }
    if cal is not None:
        aggregates["holdout_days"] = (~in_cal).sum()
        aggregates["holdout_value"] = days.value.sum(where=~in_cal)
    per_customer = days.group_by("customer_id").aggregate(**aggregates)
    per_customer = per_customer.filter(per_customer.first_day <= cut)
    # the spans in whole days from the engine: dates reach pandas as Python date objects
    per_customer = per_customer.mutate(
        recency_days=per_customer.last_day.delta(per_customer.first_day, unit="day"),
        age_days=ibis.literal(cut).delta(per_customer.first_day, unit="day"),
    ).drop("first_day", "last_day")
    raw = execute(per_customer.order_by("customer_id"))
    if raw.empty:
        raise DataError(
            "no identified customer bought on or before "
            f"{cut}; check the dates and the customer_id column",
            column="customer_id",
        )
    frequency = raw["n_days"].to_numpy(dtype=np.int64) - 1
    repeat_value = raw["repeat_value"].fillna(0.0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0)
    out = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),  # Arrow text, not 3M objects
            "frequency": frequency,
            "recency": raw["recency_days"].to_numpy(dtype=float) / unit,
            "T": raw["age_days"].to_numpy(dtype=float) / unit,
            "monetary_value": monetary,
        }
    )
    if cal is not None:
        holdout = raw["holdout_days"].to_numpy(dtype=np.int64)
        holdout_value = raw["holdout_value"].fillna(0.0).to_numpy(dtype=float)
        out["frequency_holdout"] = holdout
        out["monetary_value_holdout"] = np.where(
            holdout > 0, holdout_value / np.maximum(holdout, 1), 0.0
        )
        out["duration_holdout"] = (end - cal).days / unit
    out.attrs["time_unit"] = time_unit
    return out
