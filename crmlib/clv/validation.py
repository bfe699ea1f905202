"""Can we trust the model? A calibration/holdout backtest of the repeat-purchase predictions.

The model is fitted on the calibration period only and its predictions for the holdout period
are compared with what customers actually did (Fader, Hardie & Lee 2005, figures 2–4):

- repeat purchases per calibration-frequency bucket (0, 1, …, 7+), predicted vs actual;
- weekly cumulative repeat purchases of the calibration cohort, expected vs actual;
- totals, per-customer correlation and mean absolute error, against a naive baseline (each
  customer repeats their calibration purchase rate over the holdout);
- active/inactive classification (bought in the holdout or not) by P(alive) and by the hiatus
  rule (inactive after N weeks without purchase), which often does as well
  (Wübben & Wangenheim 2008).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.dates import as_day, require_as_of
from crmlib.clv.fitted import TransactionModel
from crmlib.clv.models import fit
from crmlib.clv.rows import compress
from crmlib.clv.scoring import p_alive_by_rule
from crmlib.clv.settings import load_params
from crmlib.clv.summaries import TIME_UNITS, purchase_history, summary, weeks_in_units
from crmlib.compat import renamed_keyword
from crmlib.data import execute
from crmlib.data.results import cached

__all__ = ["Backtest", "backtest", "better_rule", "tracking"]


@dataclass
class Backtest:
    """Result of :func:`backtest`; every table is a tidy pandas DataFrame."""

    customers: pd.DataFrame
    """Per customer: calibration summary, ``predicted`` and ``naive`` holdout repeat purchases,
    ``actual`` (``frequency_holdout``), ``p_alive``, ``active`` (bought in the holdout),
    ``active_p_alive``, ``active_hiatus``."""
    by_frequency: pd.DataFrame
    """``bucket`` (0 … ``"7+"``, or ranges at the quantiles when most customers would be in
    the top bucket: see :data:`TOP_BUCKET_SHARE`), ``customers``, ``actual``, ``predicted``, ``naive`` (mean
    holdout repeat purchases per customer)."""
    tracking: pd.DataFrame
    """``week``, ``date`` (end of week), ``actual`` and ``predicted`` cumulative repeat
    purchases, ``period`` (calibration/holdout)."""
    metrics: pd.DataFrame
    """``method`` (model, naive), ``total_predicted``, ``total_actual``, ``error`` (relative),
    ``correlation``, ``mae``."""
    classification: pd.DataFrame
    """``rule`` (p_alive, hiatus), ``accuracy``, ``precision``, ``recall``, ``share_active``."""
    model: TransactionModel
    calibration_end: pd.Timestamp
    as_of: pd.Timestamp
    """Last day of the holdout (the analysis date)."""
    time_unit: str
    settings: dict[str, Any] = field(default_factory=dict)
    """The settings the backtest read (penalizer, the P(alive) and hiatus rules, buckets)."""

    @property
    def observation_end(self) -> pd.Timestamp:
        """Deprecated name of :attr:`as_of`."""
        warnings.warn(
            "Backtest.observation_end is deprecated, use Backtest.as_of",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.as_of


#: Largest share of customers the open top bucket ("7+") may hold before the buckets follow the
#: data's spread instead (weekly shoppers with dozens of repeat purchases all land in "7+").
TOP_BUCKET_SHARE = 0.25


def _bucket(frequency: np.ndarray, top: int) -> pd.Categorical:
    """Calibration-frequency buckets: 0, 1, …, ``top``+ when that shows the spread, else
    ``top + 1`` ranges at the quantiles of the frequencies ("12–19", …, "41+")."""
    freq = frequency.astype(np.int64)
    if len(freq) == 0 or np.mean(freq >= top) <= TOP_BUCKET_SHARE:
        labels = [str(k) for k in range(top)] + [f"{top}+"]
        codes = np.minimum(freq, top)
        return pd.Categorical.from_codes(codes, categories=labels, ordered=True)
    edges = np.unique(np.floor(np.quantile(freq, np.linspace(0, 1, top + 2)[:-1])).astype(np.int64))
    labels = [
        (f"{lo}" if hi - lo == 1 else f"{lo}–{hi - 1}")
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ] + [f"{edges[-1]}+"]
    codes = np.searchsorted(edges, freq, side="right") - 1
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def tracking(
    transactions: Any,
    *,
    model: TransactionModel,
    calibration_end: Any,
    as_of: Any = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Weekly cumulative repeat purchases of the calibration cohort, actual and expected.

    The cohort is every customer whose first purchase is on or before ``calibration_end``; the
    expected count at the end of week k sums, over customers, the model's unconditional
    expectation E[X(t)] at their age then (FHL 2005, figure 3). Weeks start on the cohort's first
    purchase day.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    model
        The transaction model fitted on the calibration period.
    calibration_end, as_of
        Last day of the calibration period and of the holdout (both inclusive);
        ``observation_end=`` is a deprecated alias of ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``week, date, actual, predicted, period``.
    """
    as_of = renamed_keyword("tracking", kwargs, "observation_end", "as_of", as_of)
    as_of = require_as_of("tracking", as_of, kwargs)
    cal = as_day(calibration_end, "calibration_end")
    end = as_day(as_of, "as_of")
    unit = TIME_UNITS[getattr(model, "time_unit_", "W")]
    days = purchase_history(transactions, as_of=end)
    cohort = days.filter(days.first_day <= cal.date())
    counts = cohort.group_by(["day", "first_day"]).aggregate(
        n=cohort.count(), repeat=(cohort.day > cohort.first_day).sum()
    )
    raw = execute(counts)
    raw["day"] = pd.to_datetime(raw["day"])
    raw["first_day"] = pd.to_datetime(raw["first_day"])
    start = raw["first_day"].min()
    n_weeks = int(np.ceil(((end - start).days + 1) / 7))
    week_end_offsets = 7 * np.arange(1, n_weeks + 1)
    repeat_offsets = (raw["day"] - start).dt.days.to_numpy()
    repeats = np.bincount(
        np.minimum(repeat_offsets // 7, n_weeks - 1),
        weights=raw["repeat"].to_numpy(float),
        minlength=n_weeks,
    )
    # customers per first-purchase day: the rows with day == first_day count each customer once
    firsts = raw.loc[raw["day"] == raw["first_day"]]
    first_offsets = (firsts["first_day"] - start).dt.days.to_numpy()
    n_first = firsts["n"].to_numpy(float)
    ages = np.clip(week_end_offsets[None, :] - first_offsets[:, None], 0, None) / unit
    expected = np.einsum("i,ij->j", n_first, np.nan_to_num(model.expected_purchases_new(ages)))
    out = pd.DataFrame(
        {
            "week": np.arange(1, n_weeks + 1),
            "date": start + pd.to_timedelta(week_end_offsets - 1, unit="D"),
            "actual": np.cumsum(repeats),
            "predicted": expected,
        }
    )
    out["period"] = np.where(out["date"] <= cal, "calibration", "holdout")
    return out


def backtest(
    transactions: Any,
    *,
    calibration_end: Any,
    as_of: Any = None,
    model: str = "bgnbd",
    time_unit: str = "W",
    params: Mapping[str, Any] | str | Path | None = None,
    **kwargs: Any,
) -> Backtest:
    """Fit on the calibration period and compare holdout predictions with what happened.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    calibration_end, as_of
        Last day of the calibration period and of the holdout (both inclusive);
        ``observation_end=`` is a deprecated alias of ``as_of``.
    model
        ``"bgnbd"``, ``"mbgnbd"`` or ``"pnbd"``.
    time_unit
        ``"W"`` or ``"D"``.
    params
        Overrides of ``params/clv.yaml`` (``p_alive_threshold``, ``hiatus_weeks``,
        ``frequency_buckets``, ``non_repeater_p_alive``, ``penalizer``).

    Returns
    -------
    Backtest
    """
    as_of = renamed_keyword("backtest", kwargs, "observation_end", "as_of", as_of)
    as_of = require_as_of("backtest", as_of, kwargs)
    settings = load_params(params)
    return _backtest(
        transactions,
        calibration_end=calibration_end,
        as_of=as_of,
        model=model,
        time_unit=time_unit,
        settings={k: settings[k] for k in _BACKTEST_SETTINGS},
    )


#: The settings a backtest reads: only these key its result in the run cache, so that notebooks
#: passing other settings (a horizon, a top share) share one backtest.
_BACKTEST_SETTINGS = (
    "penalizer",
    "non_repeater_p_alive",
    "hiatus_weeks",
    "p_alive_threshold",
    "frequency_buckets",
)


@cached("clv.backtest")
def _backtest(
    transactions: Any,
    *,
    calibration_end: Any,
    as_of: Any,
    model: str,
    time_unit: str,
    settings: Mapping[str, Any],
) -> Backtest:
    """:func:`backtest` with the settings it reads resolved."""
    data = summary(
        transactions,
        as_of=as_of,
        calibration_end=calibration_end,
        time_unit=time_unit,
    )
    fitted = fit(data, model=model, penalizer=settings["penalizer"])
    x = data["frequency"].to_numpy(float)
    tx = data["recency"].to_numpy(float)
    T = data["T"].to_numpy(float)
    duration = float(data["duration_holdout"].iloc[0])
    (xu, txu, Tu), _, inverse = compress(x, tx, T)
    rule = settings["non_repeater_p_alive"]
    hiatus = weeks_in_units(settings["hiatus_weeks"], time_unit)
    p = p_alive_by_rule(fitted, xu, txu, Tu, rule=rule, hiatus=hiatus)
    predicted = fitted.expected_purchases(duration, xu, txu, Tu)

    customers = data.copy()
    customers["actual"] = data["frequency_holdout"].astype(float)
    customers["predicted"] = predicted[inverse]
    customers["naive"] = np.where(T > 0, x / np.where(T > 0, T, 1.0), 0.0) * duration
    customers["p_alive"] = p[inverse]
    customers["active"] = customers["actual"] > 0
    customers["active_p_alive"] = customers["p_alive"] >= settings["p_alive_threshold"]
    customers["active_hiatus"] = (T - tx) <= hiatus

    top = int(settings["frequency_buckets"])
    customers["bucket"] = _bucket(x, top)
    by_frequency = customers.groupby("bucket", observed=False, as_index=False).agg(
        customers=("actual", "size"),
        actual=("actual", "mean"),
        predicted=("predicted", "mean"),
        naive=("naive", "mean"),
    )
    by_frequency["bucket"] = by_frequency["bucket"].astype(str)

    rows = []
    for method in ("predicted", "naive"):
        guess = customers[method].to_numpy(float)
        actual = customers["actual"].to_numpy(float)
        total_actual = actual.sum()
        rows.append(
            {
                "method": "model" if method == "predicted" else "naive",
                "total_predicted": guess.sum(),
                "total_actual": total_actual,
                "error": (guess.sum() - total_actual) / total_actual if total_actual else np.nan,
                "correlation": float(np.corrcoef(guess, actual)[0, 1])
                if guess.std() > 0 and actual.std() > 0
                else np.nan,
                "mae": float(np.abs(guess - actual).mean()),
            }
        )
    metrics = pd.DataFrame(rows)

    classes = []
    truth = customers["active"].to_numpy()
    for rule_name, column in (("p_alive", "active_p_alive"), ("hiatus", "active_hiatus")):
        said = customers[column].to_numpy()
        hits = (said & truth).sum()
        classes.append(
            {
                "rule": rule_name,
                "accuracy": float((said == truth).mean()),
                "precision": float(hits / said.sum()) if said.sum() else np.nan,
                "recall": float(hits / truth.sum()) if truth.sum() else np.nan,
                "share_active": float(said.mean()),
            }
        )
    classification = pd.DataFrame(classes)

    track = tracking(
        transactions,
        model=fitted,
        calibration_end=calibration_end,
        as_of=as_of,
    )
    return Backtest(
        customers=customers,
        by_frequency=by_frequency,
        tracking=track,
        metrics=metrics,
        classification=classification,
        model=fitted,
        calibration_end=as_day(calibration_end, "calibration_end"),
        as_of=as_day(as_of, "as_of"),
        time_unit=time_unit,
        settings=settings,
    )


def better_rule(check: Backtest) -> str:
    """The rule that told active from inactive customers more accurately in backtest ``check``:
    ``"p_alive"`` (the model) or ``"hiatus"`` (no purchase for ``hiatus_weeks``). The simpler
    hiatus rule wins a tie, and whenever the model's accuracy could not be measured.
    """
    acc = check.classification.set_index("rule")["accuracy"]
    model, hiatus = float(acc.get("p_alive", np.nan)), float(acc.get("hiatus", np.nan))
    return (
        "p_alive"
        if np.isfinite(model) and (not np.isfinite(hiatus) or model > hiatus)
        else "hiatus"
    )
