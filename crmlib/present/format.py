"""One way to write numbers, money, percents and dates in every report.

Every function returns ``MISSING`` ("–") for a missing or infinite value, never "0" or "n/a":
a figure that could not be measured must not read as a measured zero. :func:`why_not` writes the
reason a figure was not measured (:class:`crmlib.measure.NotMeasured`) and :func:`figure` writes
a figure or "–" with that reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.currency import current_currency, scale
from crmlib.i18n import t
from crmlib.measure import NotMeasured

__all__ = [
    "MISSING",
    "DEFAULT_SYMBOL",
    "number",
    "percent",
    "pp",
    "money",
    "money_short",
    "p_value",
    "times",
    "day",
    "why_not",
    "figure",
]


#: What a report shows for a figure that was not measured.
MISSING = "–"

#: Deprecated: the symbol of the default currency. Money is written in the current currency
#: (:func:`crmlib.currency.current_currency`, set by the data params' ``currency:``).
DEFAULT_SYMBOL = "¥"


def _missing(value: Any) -> bool:
    if isinstance(value, NotMeasured):
        return True
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(pd.isna(value)) or not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def number(value: Any) -> str:
    """A number as a reader expects it in a table: ``1,600,784``, ``246.58``, ``0.042``, ``3.1e-09``.

    Whole numbers get thousands separators; other values keep two decimals from 1 upwards, three
    significant decimals below 1, and scientific notation below 0.001 (p-values). Missing values
    are shown as "–".
    """
    if _missing(value) and not isinstance(value, str):
        return MISSING
    if isinstance(value, np.generic):  # numpy scalars read as the Python numbers they hold
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return MISSING
    if float(value).is_integer():
        return f"{int(value):,}"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:,.2f}"
    if size >= 0.001:
        return f"{value:.3f}"
    return f"{value:.2g}"


def percent(value: Any, *, digits: int = 1) -> str:
    """A share as a percent: ``0.1234`` -> ``"12.3%"`` (``digits=0``: ``"12%"``)."""
    if _missing(value):
        return MISSING
    return f"{float(value) * 100:.{digits}f}%"


def pp(value: Any, *, digits: int = 1, sign: bool = False) -> str:
    """A difference of two shares in percentage points, without the unit: ``0.082`` -> ``"8.2"``.

    With ``sign=True`` a positive difference gets a ``+``.
    """
    if _missing(value):
        return MISSING
    return f"{float(value) * 100:{'+' if sign else ''}.{digits}f}"


def money(value: Any, *, symbol: str | None = None, digits: int = 0) -> str:
    """An amount of money: ``12345.6`` -> ``"¥12,346"`` (``"$12,346"`` for USD data).

    ``symbol`` defaults to the current currency's (:func:`crmlib.currency.current_currency`);
    ``symbol=""`` leaves it out.
    """
    if _missing(value):
        return MISSING
    if symbol is None:
        symbol = current_currency().symbol
    amount = float(value)
    sign = "-" if round(amount, digits) < 0 else ""  # -0.3 is written ¥0, not -¥0
    return f"{sign}{symbol}{abs(amount):,.{digits}f}"


def money_short(value: Any, language: str, *, digits: int = 1, symbol: str | None = None) -> str:
    """A large amount as readers of ``language`` say it: ``¥1.2万``, ``¥3.4亿``, ``$1.2M``, ``$12k``.

    Amounts below the first step (10,000 in Chinese, 1,000 in English) are written in full by
    :func:`money`.
    """
    if _missing(value):
        return MISSING
    scaled, suffix = scale(float(value), language)
    if not suffix:
        return money(value, symbol=symbol)
    if symbol is None:
        symbol = current_currency().symbol
    sign = "-" if round(scaled, digits) < 0 else ""
    return f"{sign}{symbol}{abs(scaled):,.{digits}f}{suffix}"


def times(value: Any, *, digits: int = 1) -> str:
    """A ratio such as a lift: ``2.345`` -> ``"2.3"``."""
    if _missing(value):
        return MISSING
    return f"{float(value):.{digits}f}"


def p_value(value: Any) -> str:
    """A p- or q-value as a reader needs it: ``0.023``, ``3.1e-09``, and ``< 1e-300`` for a value
    that underflows to zero (never "0.0e+00", which reads as impossible)."""
    if _missing(value):
        return MISSING
    if float(value) <= 0:
        return "< 1e-300"
    return f"{float(value):.3f}" if float(value) >= 0.001 else f"{float(value):.1e}"


def day(value: Any) -> str:
    """A date as ISO ``YYYY-MM-DD``."""
    if value is None or isinstance(value, NotMeasured):
        return MISSING
    if not isinstance(value, str) and pd.isna(value):
        return MISSING
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def why_not(reason: NotMeasured | str, language: str, **detail: Any) -> str:
    """Why a figure was not measured, in ``language``: ``"base of 3 customers, below 30"``.

    ``reason`` is a :class:`~crmlib.measure.NotMeasured` or a reason key of
    :data:`crmlib.measure.REASONS` (its details then come from ``detail``). Details missing from
    the text's fields are left out rather than failing.
    """
    if isinstance(reason, NotMeasured):
        detail = {**reason.detail, **detail}
        reason = reason.reason
    NotMeasured(reason)  # validates the key
    fields = {
        k: (number(v) if isinstance(v, int | float | np.number) else v) for k, v in detail.items()
    }
    return t(f"measure.{reason}", language).format_map(_Defaulting(fields))


def figure(value: Any, language: str, *, fmt: Any = None, why: NotMeasured | None = None) -> str:
    """A figure written with ``fmt`` (default :func:`number`), or "– (reason)" if not measured.

    ``why`` gives the reason when ``value`` itself is only NaN; a :class:`NotMeasured` value
    carries its own.
    """
    reason = value if isinstance(value, NotMeasured) else why
    if reason is not None and _missing(value):
        return f"{MISSING} ({why_not(reason, language)})"
    return (fmt or number)(value)


class _Defaulting(dict):
    """Format fields: a field the caller did not give is written as "–", never a KeyError."""

    def __missing__(self, key: str) -> str:
        return MISSING
