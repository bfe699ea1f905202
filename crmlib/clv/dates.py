"""The dates of a CLV analysis: the analysis date ``as_of``, the end of a calibration period, and
date parameters read as days.

Every CLV function names the analysis date ``as_of``; the older keyword ``observation_end`` still
works with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmlib.config import check_range
from crmlib.data import resolve_as_of
from crmlib.errors import DataError

__all__ = ["as_day", "calibration_end", "observation_end", "require_as_of"]


def as_day(value: Any, name: str) -> pd.Timestamp:
    """``value`` as a day (midnight, time zone dropped).

    Parameters
    ----------
    value
        A date or timestamp (ISO string, :class:`pandas.Timestamp`, ``datetime``).
    name
        Parameter name used in the error message.

    Raises
    ------
    DataError
        When ``value`` is not a date.
    """
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a date", value=value) from exc
    if pd.isna(day):
        raise DataError(f"{name} is not a date", value=value)
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    return day.normalize()


def require_as_of(function: str, as_of: Any, kwargs: dict[str, Any]) -> Any:
    """Check a call's ``as_of`` and leftover keywords; return ``as_of``.

    The functions that took ``observation_end`` take it out of their ``**kwargs`` with
    :func:`crmlib.compat.renamed_keyword` first; what remains must be empty.

    Parameters
    ----------
    function
        Name of the called function, for the messages.
    as_of
        The analysis date given (None when not given).
    kwargs
        The call's remaining keyword arguments.

    Raises
    ------
    TypeError
        When ``as_of`` is missing or an unexpected keyword was given, as Python does.
    """
    if kwargs:
        raise TypeError(f"{function}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if as_of is None:
        raise TypeError(f"{function}() missing required keyword argument: 'as_of'")
    return as_of


def observation_end(transactions: Any, *, as_of: Any = "") -> pd.Timestamp:
    """The analysis date: ``as_of`` when given (ISO date), else the last complete day of the data.

    The same rule as every report (:func:`crmlib.data.resolve_as_of`).

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table); read only when ``as_of`` is empty.
    as_of
        ISO date; empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    """
    return resolve_as_of(transactions, as_of)


def calibration_end(end: Any, *, holdout_months: int) -> pd.Timestamp:
    """Last day of the calibration period when the holdout covers the last ``holdout_months``.

    Parameters
    ----------
    end
        Last day of the holdout (the analysis date).
    holdout_months
        Length of the holdout, 1 to 120 months.
    """
    check_range("holdout_months", holdout_months, low=1, high=120)
    return as_day(end, "as_of") - pd.DateOffset(months=int(holdout_months))
