"""Dates given as parameters: the one ``as_of`` rule and the cut-off of future-dated rows.

Every analysis takes its report date through :func:`resolve_as_of`: the day given, or else the
last *complete* day of the data (see :func:`resolve_as_of` for the rule). A date parameter is read as a day (midnight, time zone
dropped) by :func:`parse_day`, whose error names the parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from crmlib.data.engine import as_table, execute
from crmlib.errors import ConfigError, DataError

__all__ = ["DAY_END", "parse_day", "resolve_as_of", "future_cutoff"]


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


DAY_END = "23:00"
"""Default cut-off: a last day whose last order is at or after this time counts as complete."""


def resolve_as_of(
    transactions: pd.DataFrame | str | Path | ir.Table,
    as_of: str | pd.Timestamp | None = None,
    *,
    name: str = "as_of",
    last_day_complete: bool | None = None,
    day_end: str = DAY_END,
) -> pd.Timestamp:
    """The report date: ``as_of`` as a day, or the last complete day of the data when empty.

    The rule when ``as_of`` is empty. An export is usually taken during a day, so its last
    day holds only the orders placed before the export (data ending at 04:01 on the 1st
    of a month holds four hours of that month). Reporting on that day would read a partial
    day, week and month as a collapse. So the last day of the data counts as complete only when

    - its last order is at or after ``day_end`` (default 23:00: the shop's day is over), or
    - the last timestamp is exactly midnight, which is how a date-only export (no time of
      day) reads: such an export cannot show a partial day, so its last day is taken whole, or
    - ``last_day_complete`` is True (the user states the export covers its last day whole).

    Otherwise the report date is the day before the last order's day: the last calendar day
    that is followed by data and therefore certainly complete. ``last_day_complete=False``
    always takes the day before.

    Parameters
    ----------
    transactions
        Canonical transactions (see :func:`~crmlib.data.engine.as_table`); read only when
        ``as_of`` is empty.
    as_of
        ISO date; ``None`` or ``""`` means the last complete day of the data. A given date
        always wins.
    name
        Parameter name used in error messages.
    last_day_complete
        None (default) applies the rule above; True takes the last order's day; False
        always takes the day before it.
    day_end
        ``"HH:MM"``: a last order at or after this time makes its day complete.

    Raises
    ------
    ConfigError
        When ``as_of`` or ``day_end`` is not valid.
    DataError
        When ``as_of`` is empty and the transactions hold no dated line.
    """
    day = parse_day(as_of, name=name)
    if day is not None:
        return day
    try:
        end = pd.Timedelta(f"{day_end}:00" if str(day_end).count(":") == 1 else str(day_end))
    except ValueError as exc:
        raise ConfigError(f"day_end must be a time such as 23:00; got {day_end!r}") from exc
    tx = as_table(transactions)
    last = execute(tx.aggregate(last=tx.ordered_at.max()))["last"].iloc[0]
    if pd.isna(last):
        raise DataError(
            f"the transactions hold no dated line, so {name} cannot default to the last one",
            column="ordered_at",
        )
    last = pd.Timestamp(last)
    if last.tzinfo is not None:
        last = last.tz_localize(None)
    last_day = last.normalize()
    if last_day_complete is None:
        complete = last == last_day or (last - last_day) >= end
    else:
        complete = bool(last_day_complete)
    return last_day if complete else last_day - pd.Timedelta(days=1)


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
