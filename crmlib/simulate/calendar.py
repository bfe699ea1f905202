"""The demo retailer's calendar: daily demand intensity and the clock that maps onto it.

Each customer's purchases follow a BG/NBD clock in *operational time*; the calendar intensity
(mean 1 over the period) maps operational time onto dates, so orders crowd into shopping
festivals while the number of purchases over the whole period keeps the model's distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Calendar",
    "build_calendar",
    "hour_of_day",
]


@dataclass(frozen=True)
class Calendar:
    """Daily intensity over the period and its cumulative (operational) clock.

    Attributes
    ----------
    start
        First day of the period (midnight).
    days
        Number of days in the period (end inclusive).
    intensity
        Demand factor per day, mean 1.
    cumulative
        Operational time at the start of each day; ``cumulative[days] == days``.
    """

    start: pd.Timestamp
    days: int
    intensity: np.ndarray
    cumulative: np.ndarray

    def to_operational(self, t: np.ndarray) -> np.ndarray:
        """Operational time of calendar times ``t`` (days since ``start``)."""
        t = np.clip(np.asarray(t, dtype=float), 0.0, float(self.days))
        day = np.minimum(np.floor(t).astype(np.int64), self.days - 1)
        return self.cumulative[day] + self.intensity[day] * (t - day)

    def to_calendar(self, u: np.ndarray) -> np.ndarray:
        """Calendar times (days since ``start``) of operational times ``u``."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, float(self.days))
        day = np.searchsorted(self.cumulative, u, side="right") - 1
        day = np.clip(day, 0, self.days - 1)
        return day + (u - self.cumulative[day]) / self.intensity[day]


def build_calendar(cfg: dict[str, Any]) -> Calendar:
    """Daily demand intensity from the ``period`` and ``seasonality`` sections of the config."""
    start = pd.Timestamp(cfg["period"]["start"])
    end = pd.Timestamp(cfg["period"]["end"])
    dates = pd.date_range(start, end, freq="D")
    season = cfg["seasonality"]
    factor = np.ones(len(dates))
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    for event in season.get("events", []):
        hit = (month == event["month"]) & (dom >= event["first_day"]) & (dom <= event["last_day"])
        factor[hit] *= event["factor"]
        if "peak_day" in event:
            peak = (month == event["month"]) & (dom == event["peak_day"])
            factor[peak] *= event["peak_factor"] / event["factor"]
    cny = season.get("chinese_new_year")
    if cny:
        for day in pd.to_datetime(cny["dates"]):
            offset = (dates - day).days.to_numpy()
            factor[(offset >= -cny["before_days"]) & (offset < 0)] *= cny["before_factor"]
            factor[(offset >= 0) & (offset < cny["holiday_days"])] *= cny["holiday_factor"]
    weekday = np.asarray(season.get("weekday_factors", [1.0] * 7), dtype=float)
    factor *= weekday[dates.day_of_week.to_numpy()]
    factor /= factor.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(factor)])
    cumulative[-1] = float(len(dates))
    return Calendar(start=start, days=len(dates), intensity=factor, cumulative=cumulative)


def hour_of_day(rng: np.random.Generator, n: int, weights: list[float]) -> np.ndarray:
    """Seconds after midnight for ``n`` orders, with hours drawn from ``weights``."""
    w = np.asarray(weights, dtype=float)
    hours = rng.choice(24, size=n, p=w / w.sum())
    return hours * 3600 + rng.integers(0, 3600, size=n)
