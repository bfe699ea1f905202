"""The forecast's track record: every run keeps its monthly revenue forecast in its folder, and
later runs compare it with what those customers actually brought since.

:func:`save_forecast` writes the base's forecast (``clv_forecast.csv``) into a run's folder;
:func:`track_record` reads the forecasts of the pack's earlier runs and, for each, sums the
revenue that the customers of that day (first purchase on or before it) brought in the forecast
months that are complete by the analysis date: a record that grows with every run. Revenue is
the net value of purchase days (:func:`crmlib.clv.summaries.purchase_history`), as the models count
it; months are the forecast's own (30.4375 days by default), never a partial one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.dates import as_day
from crmlib.clv.forecast import ALL, Uncertainty
from crmlib.clv.summaries import purchase_history
from crmlib.data import execute
from crmlib.measure import mark_frame, not_measured

__all__ = ["FORECAST_FILE", "save_forecast", "track_record"]

log = logging.getLogger(__name__)

#: A run's forecast, in its folder.
FORECAST_FILE = "clv_forecast.csv"
_KEPT = ["as_of", "month", "start", "end", "customers", "revenue", "revenue_cumulative",
         "revenue_cumulative_outcome_lower", "revenue_cumulative_outcome_upper"]  # fmt: skip


def save_forecast(bands: Uncertainty, run_dir: str | Path | None, *, as_of: Any) -> Path | None:
    """Write the base's monthly forecast into ``run_dir`` for later runs to check; nothing
    (None) without a run folder or a forecast."""
    if not run_dir or bands.forecast.empty:
        return None
    table = bands.forecast[bands.forecast["segment"] == ALL].copy()
    table["as_of"] = as_day(as_of, "as_of").date().isoformat()
    path = Path(run_dir) / FORECAST_FILE
    table[_KEPT].to_csv(path, index=False, float_format="%.6f")
    return path


def _earlier_forecasts(history: Path, before: pd.Timestamp) -> list[pd.DataFrame]:
    """The latest forecast made on each day before ``before`` in the pack folder ``history``."""
    found: dict[str, pd.DataFrame] = {}
    for path in sorted(history.glob(f"*/{FORECAST_FILE}")):
        if path.parent.name.startswith("."):
            continue
        try:
            table = pd.read_csv(path, parse_dates=["start", "end"])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            log.warning("skipping the forecast in %s: %s", path.parent, exc)
            continue
        if table.empty or set(_KEPT) - set(table.columns):
            continue
        made = pd.Timestamp(table["as_of"].iloc[0])
        if made < before:
            found[made.date().isoformat()] = table  # a later run of the same day replaces it
    return [found[k] for k in sorted(found)]


def track_record(
    transactions: Any, *, run_dir: str | Path | None, as_of: Any, level: float = 0.95
) -> pd.DataFrame:
    """Earlier forecasts against what happened since.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    run_dir
        This run's folder: the pack's earlier runs are its siblings. None or empty (a notebook
        opened by hand): no record.
    as_of
        The analysis date: forecast months ending after it are not compared.
    level
        The level of the outcome range the forecasts were saved with.

    Returns
    -------
    pandas.DataFrame
        Per earlier forecast: ``made_on, months`` (complete months since), ``customers``,
        ``forecast`` (revenue expected over those months), ``lower, upper`` (the range actual
        revenue was expected in), ``actual``, ``error`` (actual / forecast − 1) and ``inside``;
        newest first. Marked ``no_data`` (:func:`crmlib.measure.mark_frame`) when no earlier
        forecast has a complete month yet.
    """
    day = as_day(as_of, "as_of")
    columns = ["made_on", "months", "customers", "forecast", "lower", "upper", "actual", "error",
               "inside"]  # fmt: skip
    empty = pd.DataFrame(columns=columns)
    empty.attrs["level"] = level
    history = Path(run_dir).parent if run_dir else None
    earlier = _earlier_forecasts(history, day) if history and history.is_dir() else []
    earlier = [t for t in earlier if (t["end"] <= day).any()]
    if not earlier:
        return mark_frame(empty, not_measured("no_data"))
    days = purchase_history(transactions, as_of=day)
    days = execute(days.select("day", "first_day", "value"))
    days["day"] = pd.to_datetime(days["day"])
    days["first_day"] = pd.to_datetime(days["first_day"])
    rows = []
    for table in earlier:
        made = pd.Timestamp(table["as_of"].iloc[0])
        complete = table[table["end"] <= day]
        last = complete.iloc[-1]
        window = (days["first_day"] <= made) & (days["day"] > made) & (days["day"] <= last["end"])
        actual = float(days.loc[window, "value"].sum())
        forecast = float(last["revenue_cumulative"])
        lower = float(last["revenue_cumulative_outcome_lower"])
        upper = float(last["revenue_cumulative_outcome_upper"])
        rows.append({"made_on": made, "months": int(last["month"]),
                     "customers": int(last["customers"]), "forecast": forecast, "lower": lower,
                     "upper": upper, "actual": actual,
                     "error": actual / forecast - 1 if forecast else np.nan,
                     "inside": bool(lower <= actual <= upper)})  # fmt: skip
    out = pd.DataFrame(rows, columns=columns).sort_values("made_on", ascending=False)
    out = out.reset_index(drop=True)
    out.attrs["level"] = level
    return out
