"""One way to write numbers, money, percents and dates in every report.

Every function returns ``MISSING`` ("–") for a missing or infinite value, never "0" or "n/a":
a figure that could not be measured must not read as a measured zero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MISSING",
    "DEFAULT_SYMBOL",
    "number",
    "percent",
    "pp",
    "money",
    "times",
    "day",
]


#: What a report shows for a figure that was not measured.
MISSING = "–"

#: Currency symbol used when the caller names none.
DEFAULT_SYMBOL = "¥"


def _missing(value: Any) -> bool:
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
    if value is None or (not isinstance(value, str) and pd.isna(value)):
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


def money(value: Any, *, symbol: str = DEFAULT_SYMBOL, digits: int = 0) -> str:
    """An amount of money: ``12345.6`` -> ``"¥12,346"``; ``symbol=""`` leaves the symbol out."""
    if _missing(value):
        return MISSING
    amount = float(value)
    sign = "-" if round(amount, digits) < 0 else ""  # -0.3 is written ¥0, not -¥0
    return f"{sign}{symbol}{abs(amount):,.{digits}f}"


def times(value: Any, *, digits: int = 1) -> str:
    """A ratio such as a lift: ``2.345`` -> ``"2.3"``."""
    if _missing(value):
        return MISSING
    return f"{float(value):.{digits}f}"


def day(value: Any) -> str:
    """A date as ISO ``YYYY-MM-DD``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    return pd.Timestamp(value).strftime("%Y-%m-%d")
