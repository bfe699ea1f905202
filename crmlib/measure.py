"""Measured, or why not: one way for an analysis to say a figure cannot be measured.

A report must never state more than the data supports. When an analysis cannot measure a figure
(the table is missing, a column is not mapped, there is no control group, the window runs past
the data, the base is below the minimum …) it does not return 0: it returns the figure as
missing together with a *reason*, and the presentation layer writes "–" and the reason in the
reader's language (:func:`crmlib.present.format.why_not`).

Three forms, one vocabulary of reasons (:data:`REASONS`):

- a single figure: a :class:`NotMeasured` value instead of the number;
- rows of a frame: the value columns hold NaN and the column :data:`WHY_NOT` names the reason
  (empty where the row was measured), with the reason's details in :data:`WHY_NOT_DETAIL`
  (a dict per row, or ``None``); see :func:`mark_rows`;
- a whole column of a frame: ``frame.attrs["not_measured"][column]`` holds the reason and its
  details; see :func:`mark_column`.

Small bases are the commonest reason; :func:`small_base` is the rule that decides it, with the
minimum read from the parameters (``min_base``, default :data:`DEFAULT_MIN_BASE`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.errors import ConfigError

__all__ = [
    "REASONS",
    "WHY_NOT",
    "WHY_NOT_DETAIL",
    "DEFAULT_MIN_BASE",
    "NotMeasured",
    "not_measured",
    "is_measured",
    "small_base",
    "mark_rows",
    "mark_column",
    "column_reason",
    "mark_frame",
    "frame_reason",
    "row_reasons",
]

#: Why a figure can be missing. Each key has a text in ``crmlib/labels/measure.yaml`` that may use
#: the details as ``str.format`` fields (shown in brackets).
REASONS: tuple[str, ...] = (
    "table_missing",  # {table}: the data source has no such table
    "column_not_mapped",  # {table}, {column}: the column is not mapped in the data params
    "no_control_group",  # no member was held back, so no uplift can be measured
    "before_data",  # the period or campaign lies before the first order in the data
    "beyond_data",  # the period or window runs past the last complete day of the data
    "partial_period",  # {period}: the period is not complete in the data
    "small_base",  # {base}, {minimum}: too few customers/orders to quote a rate
    "no_data",  # nothing in the period or selection
    "not_identifiable",  # {parameter}: the data cannot pin the model's parameter down
    "no_intervals",  # {model}: ranges are computed for the BG/NBD model only
)

#: Column of a frame that names why a row's figures are missing ("" where they were measured).
WHY_NOT = "why_not"
#: Column of a frame holding the reason's details per row (a dict, or ``None``).
WHY_NOT_DETAIL = "why_not_detail"

#: Fewest customers (or orders) a rate may rest on before a report stops quoting it.
DEFAULT_MIN_BASE = 30


@dataclasses.dataclass(frozen=True)
class NotMeasured:
    """A figure that could not be measured, with the reason.

    It behaves as a missing number where a number is expected: ``float(x)`` is NaN and
    ``pandas.isna``-style checks in :mod:`crmlib.present.format` render it as "–".
    """

    reason: str
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ConfigError(
                f"unknown reason {self.reason!r} for a figure not measured; "
                f"expected one of {', '.join(REASONS)}"
            )
        object.__setattr__(self, "detail", dict(self.detail))

    def __float__(self) -> float:
        return math.nan

    def __bool__(self) -> bool:  # "if figure:" never mistakes it for a measured value
        return False


def not_measured(reason: str, **detail: Any) -> NotMeasured:
    """A :class:`NotMeasured` figure: ``not_measured("small_base", base=3, minimum=30)``."""
    return NotMeasured(reason, detail)


def is_measured(value: Any) -> bool:
    """Whether ``value`` is a measured, finite figure (not ``None``, NaN, ±inf or NotMeasured)."""
    if value is None or isinstance(value, NotMeasured):
        return False
    if isinstance(value, str):
        return True
    try:
        number = float(value)
    except (TypeError, ValueError):
        return True
    return math.isfinite(number)


def small_base(base: Any, *, minimum: int = DEFAULT_MIN_BASE) -> NotMeasured | None:
    """``NotMeasured("small_base")`` when ``base`` is below ``minimum``, else ``None``.

    A missing base counts as 0. ``minimum`` must be a positive whole number.
    """
    if isinstance(minimum, bool) or not isinstance(minimum, int | np.integer) or minimum < 1:
        raise ConfigError(f"min_base must be a whole number of at least 1; got {minimum!r}")
    n = 0 if not is_measured(base) else int(base)
    if n < minimum:
        return NotMeasured("small_base", {"base": n, "minimum": int(minimum)})
    return None


def mark_rows(
    frame: pd.DataFrame,
    rows: Any,
    reason: str,
    *,
    columns: Iterable[str],
    detail: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` whose ``columns`` are NaN in ``rows`` with :data:`WHY_NOT` = ``reason``.

    ``rows`` is a boolean mask (Series or array aligned with ``frame``). Rows already marked keep
    their first reason. Columns that are not float become float so they can hold NaN.
    """
    NotMeasured(reason, detail or {})  # validates the reason
    out = frame.copy()
    mask = pd.Series(np.asarray(rows, dtype=bool), index=out.index)
    if WHY_NOT not in out:
        out[WHY_NOT] = ""
        out[WHY_NOT_DETAIL] = None
    fresh = mask & (out[WHY_NOT].fillna("") == "")
    for column in columns:
        if column not in out:
            raise KeyError(f"column {column!r} is not in the frame; it has {list(out.columns)}")
        if mask.any():
            values = out[column]
            if not pd.api.types.is_float_dtype(values):
                out[column] = values.astype("float64")
            out.loc[mask, column] = np.nan
    out.loc[fresh, WHY_NOT] = reason
    out[WHY_NOT_DETAIL] = out[WHY_NOT_DETAIL].astype(object)
    for index in out.index[fresh]:
        out.at[index, WHY_NOT_DETAIL] = dict(detail or {})
    return out


def mark_column(frame: pd.DataFrame, column: str, why: NotMeasured) -> pd.DataFrame:
    """Record in ``frame.attrs`` that the whole of ``column`` is not measured, and why.

    The frame is changed in place and returned; the column's values should be NaN.
    """
    marks = dict(frame.attrs.get("not_measured", {}))
    marks[column] = why
    frame.attrs["not_measured"] = marks
    return frame


def column_reason(frame: pd.DataFrame, column: str) -> NotMeasured | None:
    """The reason ``column`` of ``frame`` is not measured as a whole, or ``None``."""
    return frame.attrs.get("not_measured", {}).get(column)


def row_reasons(frame: pd.DataFrame) -> pd.Series:
    """One :class:`NotMeasured` (or ``None``) per row of ``frame``, from :data:`WHY_NOT`."""
    if WHY_NOT not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    details = frame[WHY_NOT_DETAIL] if WHY_NOT_DETAIL in frame else [None] * len(frame)
    return pd.Series(
        [
            NotMeasured(str(r), d or {}) if isinstance(r, str) and r else None
            for r, d in zip(frame[WHY_NOT], details, strict=True)
        ],
        index=frame.index,
        dtype=object,
    )


#: ``attrs["not_measured"]`` key of a reason that holds for a whole frame.
WHOLE_FRAME = "*"


def mark_frame(frame: pd.DataFrame, why: NotMeasured) -> pd.DataFrame:
    """Record in ``frame.attrs`` that nothing in ``frame`` could be measured, and why.

    For a result that is empty because the data cannot give it (e.g. rules when no item column
    is mapped), as opposed to one that was measured and found nothing. Changed in place and
    returned.
    """
    return mark_column(frame, WHOLE_FRAME, why)


def frame_reason(frame: pd.DataFrame) -> NotMeasured | None:
    """Why nothing in ``frame`` was measured (:func:`mark_frame`), or ``None``."""
    return column_reason(frame, WHOLE_FRAME)
