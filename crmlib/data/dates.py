"""Dates given as parameters: the one ``as_of`` rule and the cut-off of future-dated rows.

Every analysis takes its report date through :func:`resolve_as_of`: the day given, or else the
day of the last transaction line. A date parameter is read as a day (midnight, time zone
dropped) by :func:`parse_day`, whose error names the parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from crmlib.data.engine import as_table, execute
from crmlib.errors import ConfigError, DataError

__all__ = ["parse_day", "resolve_as_of", "future_cutoff"]


def parse_day(value: Any, *, name: str = "as_of", required: bool = False) -> pd.Timestamp | None:
    """A date parameter as a day (midnight, time zone dropped), or None when it is empty.

    Parameters
    ----------
    value
        ISO date or timestamp (``"2026-06-30"``, :class:`pandas.Timestamp`, ``datetime``);
        ``None`` or a blank string means "not given".
    name
        Parameter name used in the error message.
    required
        Raise instead of returning None when ``value`` is empty.

    Raises
    ------
    ConfigError
        When ``value`` is not a date (or is empty and ``required``).
    """
    message = f"parameter {name!r} must be an ISO date such as 2026-06-30; got {value!r}"
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(message)
        return None
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(message) from exc
    if pd.isna(day):
        raise ConfigError(message)
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    return day.normalize()


def resolve_as_of(
    transactions: pd.DataFrame | str | Path | ir.Table,
    as_of: str | pd.Timestamp | None = None,
    *,
    name: str = "as_of",
) -> pd.Timestamp:
    """The report date: ``as_of`` as a day, or the day of the last transaction when empty.

    Parameters
    ----------
    transactions
        Canonical transactions (see :func:`~crmlib.data.engine.as_table`); read only when
        ``as_of`` is empty.
    as_of
        ISO date; ``None`` or ``""`` means the last transaction date.
    name
        Parameter name used in error messages.

    Raises
    ------
    ConfigError
        When ``as_of`` is not a date.
    DataError
        When ``as_of`` is empty and the transactions hold no dated line.
    """
    day = parse_day(as_of, name=name)
    if day is not None:
        return day
    tx = as_table(transactions)
    last = execute(tx.aggregate(last=tx.ordered_at.max()))["last"].iloc[0]
    if pd.isna(last):
        raise DataError(
            f"the transactions hold no dated line, so {name} cannot default to the last one",
            column="ordered_at",
        )
    return parse_day(last, name=name)


def future_cutoff(max_date: Any, *, timezone: str) -> pd.Timestamp:
    """The latest event time a row may have before it counts as ``future_date``.

    Parameters
    ----------
    max_date
        The ``cleaning.max_date`` rule: an ISO date (the whole day counts, up to its last
        microsecond) or date-time; empty means the load time.
    timezone
        IANA zone of the table's naive timestamps: the load time is read in it.

    Returns
    -------
    pandas.Timestamp
        A naive timestamp (local time in ``timezone`` when it is the load time, to the second).
    """
    if max_date:
        stamp = pd.Timestamp(str(max_date))
        if len(str(max_date)) <= 10:  # a date: the whole day counts
            stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return stamp
    return pd.Timestamp.now(tz=timezone).tz_localize(None).floor("s")
