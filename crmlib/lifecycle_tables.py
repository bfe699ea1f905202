"""Tables read from the lifecycle stages: counts per period, flows between two periods and each
customer's latest stage, from :func:`crmlib.lifecycle.customer_stages`'s rows or from a
:class:`StageSummary` (:func:`crmlib.lifecycle.stage_summary`), which holds them without one row
per customer and period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.errors import ConfigError, DataError
from crmlib.lifecycle_rules import NOT_YET, STAGES
from crmlib.membership import positions
from crmlib.periods import as_period, freq_of

__all__ = [
    "StageSummary",
    "latest_stages",
    "stage_counts",
    "stage_transitions",
    "summed_counts",
    "no_transitions",
]


@dataclass(frozen=True)
class StageSummary:
    """What the reports read from the lifecycle stages, without one row per customer and period.

    :func:`stage_counts`, :func:`stage_transitions` (for the last period over the one before)
    and :func:`latest_stages` accept it in place of the rows of
    :func:`crmlib.lifecycle.customer_stages` and return these frames.
    """

    #: :func:`stage_counts` of every period.
    counts: pd.DataFrame
    #: :func:`stage_transitions` from the period before the last to the last.
    transitions: pd.DataFrame
    #: :func:`latest_stages`: each customer's row of the last period.
    latest: pd.DataFrame
    #: The last period (the one holding ``as_of``).
    period: pd.Period
    #: Number of customer chunks the stages were computed in.
    chunks: int = 1

    @property
    def empty(self) -> bool:
        """Whether no customer has purchased."""
        return self.latest.empty


def latest_stages(stages: pd.DataFrame | StageSummary, *, period: Any = None) -> pd.DataFrame:
    """The stage rows of one period (default: the last one), one row per customer.

    ``stages`` is the rows of :func:`crmlib.lifecycle.customer_stages` or a
    :class:`StageSummary` (the last period only).
    """
    if isinstance(stages, StageSummary):
        _summary_holds(stages, period, stages.period)
        return stages.latest.copy()
    if stages.empty:
        return stages.copy()
    if period is None:
        chosen = stages["period"].max()
    else:
        chosen = as_period(period, freq=freq_of(stages["period"]), name="period")
    return stages[stages["period"] == chosen].reset_index(drop=True)


def stage_counts(stages: pd.DataFrame | StageSummary) -> pd.DataFrame:
    """Customers per period and stage, with each stage's share of the period's customers.

    ``stages`` is the rows of :func:`crmlib.lifecycle.customer_stages` or a
    :class:`StageSummary`.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``stage``, ``customers``, ``share``; every stage appears for every period
        (zero when empty).
    """
    if isinstance(stages, StageSummary):
        return stages.counts.copy()
    if stages.empty:
        return pd.DataFrame(
            {
                "period": stages["period"],
                "stage": stages["stage"],
                "customers": pd.Series(dtype="int64"),
                "share": pd.Series(dtype="float64"),
            }
        )
    # counted as integer codes: grouping millions of rows by a period and a categorical column
    # costs seconds per million, a bincount milliseconds
    period_code, periods = pd.factorize(stages["period"], sort=True)
    stage = _stage_codes(stages["stage"])
    n = len(STAGES)
    kept = (period_code >= 0) & (stage >= 0)
    tally = np.bincount(period_code[kept] * n + stage[kept], minlength=len(periods) * n)
    counts = pd.DataFrame(
        {
            "period": periods.repeat(n),
            "stage": pd.Categorical.from_codes(
                np.tile(np.arange(n), len(periods)), categories=STAGES, ordered=True
            ),
            "customers": tally.astype("int64"),
        }
    )
    counts["share"] = _shares(tally, n)
    return counts


def _shares(tally: np.ndarray, n: int) -> np.ndarray:
    """Each count of ``tally`` (groups of ``n`` in a row) as a share of its group's total; NaN
    where the group is empty."""
    total = np.repeat(tally.reshape(-1, n).sum(axis=1), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, tally / total, np.nan)


def _stage_codes(stage: pd.Series) -> np.ndarray:
    """Each row's position in :data:`STAGES` (-1 where missing or not a stage)."""
    dtype = stage.dtype
    if isinstance(dtype, pd.CategoricalDtype) and list(dtype.categories) == list(STAGES):
        return stage.cat.codes.to_numpy().astype(np.int64)
    return pd.Categorical(stage, categories=STAGES).codes.astype(np.int64)


def stage_transitions(
    stages: pd.DataFrame | StageSummary, *, from_period: Any = None, to_period: Any = None
) -> pd.DataFrame:
    """Where customers moved between two periods: from stage → to stage, customers.

    Parameters
    ----------
    stages
        Output of :func:`crmlib.lifecycle.customer_stages`, or a :class:`StageSummary`
        (which holds the flows from the period before the last to the last only).
    from_period, to_period
        Periods to compare (``"2025-09"``, ``"2025Q3"`` or pandas Period). By default the last
        period and the one before it; ``from_period`` defaults to the period before ``to_period``.

    Returns
    -------
    pandas.DataFrame
        ``from_stage`` (a stage, or ``"not_yet"`` for customers whose first purchase came later),
        ``to_stage``, ``customers``, ``share_of_from`` (share of the from-stage's customers), plus
        ``from_period`` and ``to_period``. Every combination appears (zero when empty).
    """
    if isinstance(stages, StageSummary):
        _summary_holds(stages, to_period, stages.period)
        _summary_holds(stages, from_period, stages.period - 1)
        if stages.empty:
            raise DataError("no lifecycle rows to compare; the transactions hold no purchase")
        return stages.transitions.copy()
    if stages.empty:
        raise DataError("no lifecycle rows to compare; the transactions hold no purchase")
    freq = freq_of(stages["period"])
    if to_period is None:
        to_p = stages["period"].max()
    else:
        to_p = as_period(to_period, freq=freq, name="to_period")
    if from_period is None:
        from_p = to_p - 1
    else:
        from_p = as_period(from_period, freq=freq, name="from_period")
    if from_p >= to_p:
        raise ConfigError(f"from_period must be before to_period; got {from_p} and {to_p}")
    before = stages.loc[stages["period"] == from_p, ["customer_id", "stage"]]
    after = stages.loc[stages["period"] == to_p, ["customer_id", "stage"]]
    # each customer's stage before, as a code (0: not yet a customer) found by position: a
    # merge on millions of text ids and categorical texts costs seconds
    to_code = _stage_codes(after["stage"])
    found = positions(after["customer_id"], before["customer_id"])
    from_code = np.zeros(len(after), dtype=np.int64)
    from_code[found >= 0] = _stage_codes(before["stage"])[found[found >= 0]] + 1
    n = len(STAGES)
    kept = to_code >= 0
    tally = np.bincount(from_code[kept] * n + to_code[kept], minlength=(n + 1) * n)
    table = pd.DataFrame(
        {
            "from_stage": pd.Categorical.from_codes(
                np.repeat(np.arange(n + 1), n), categories=(NOT_YET, *STAGES), ordered=True
            ),
            "to_stage": pd.Categorical.from_codes(
                np.tile(np.arange(n), n + 1), categories=STAGES, ordered=True
            ),
            "customers": tally.astype("int64"),
        }
    )
    table["share_of_from"] = _shares(tally, n)
    table["from_period"] = from_p
    table["to_period"] = to_p
    return table


def _summary_holds(summary: StageSummary, asked: Any, held: pd.Period) -> None:
    """Refuse a period a :class:`StageSummary` does not hold (None asks for the default)."""
    if asked is None:
        return
    if as_period(asked, freq=held.freqstr, name="period") != held:
        raise ConfigError(
            f"a stage summary holds the periods {held - 1} and {held} only; got {asked!r}: "
            "use customer_stages for the stages of every period"
        )


def summed_counts(
    parts: list[pd.DataFrame], keys: list[str], count: str, share: str, *, by: str
) -> pd.DataFrame:
    """Counts of several chunks added up per key (in the keys' order), with ``share``
    recomputed within each value of ``by``."""
    table = pd.concat(parts, ignore_index=True)
    table = table.groupby(keys, observed=False, sort=True)[count].sum().reset_index()
    total = table.groupby(by, observed=False)[count].transform("sum")
    table[share] = table[count] / total.where(total > 0)
    return table[[*keys[:2], count, share, *keys[2:]]]


def no_transitions(last: pd.Period) -> pd.DataFrame:
    """The transitions table of a base without any purchase: every combination, no customer."""
    pairs = pd.MultiIndex.from_product([(NOT_YET, *STAGES), STAGES], names=["f", "t"])
    return pd.DataFrame(
        {
            "from_stage": pd.Categorical(
                pairs.get_level_values(0), categories=(NOT_YET, *STAGES), ordered=True
            ),
            "to_stage": pd.Categorical(pairs.get_level_values(1), categories=STAGES, ordered=True),
            "customers": np.zeros(len(pairs), dtype="int64"),
            "share_of_from": np.full(len(pairs), np.nan),
            "from_period": last - 1,
            "to_period": last,
        }
    )
