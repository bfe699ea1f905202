"""Confidence intervals shared by the analyses (proportions of customers, responders, churners)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from crmlib.config import check_range

__all__ = [
    "wilson_interval",
]


def wilson_interval(
    successes: Any, trials: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (Wilson 1927; Newcombe 1998, method 3).

    Parameters
    ----------
    successes, trials
        Counts (scalars or arrays of the same shape).
    confidence
        Two-sided confidence level, strictly between 0 and 1.

    Returns
    -------
    (low, high)
        Arrays of the same shape as the inputs, clipped to [0, 1]; NaN where ``trials`` is 0.
    """
    check_range("confidence", confidence, low=0, high=1, low_inclusive=False, high_inclusive=False)
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high
