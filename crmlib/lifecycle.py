"""Customer lifecycle stages: the stage rules, each customer's stage per period, and the flows.

Lifecycle stages follow Chinese CRM practice, 新客 new → 活跃 active → 预警 at_risk → 流失 churned →
回流 reactivated, computed per customer and per period (month or quarter). The at-risk and churn
thresholds are business rules kept in ``params/lifecycle.yaml`` and overridable per call:

``window``
    Fixed recency windows: at risk after ``at_risk_days`` without a purchase, churned after
    ``churned_days``; one-time buyers (a single purchase day so far) use
    ``one_time_at_risk_days`` / ``one_time_churned_days``.
``percentile``
    Quantiles of every inter-purchase gap in the base (``at_risk`` 0.80 → at risk once the
    silence is longer than 80% of observed gaps; ``churned`` 0.90). When nobody has bought twice
    the one-time windows apply.
``own_gap``
    ``k_at_risk`` / ``k_churned`` × the customer's own median gap, using only gaps observed by the
    end of each period. Customers with fewer than ``min_gaps`` gaps fall back to the window rule.

Orders, purchases, purchase days and periods are defined in :mod:`crmlib.periods`. Recency at the
end of a period is the number of days from the last purchase day to the period's last day (or
``as_of`` for the current, partial period). A customer is at risk when recency is at least the
at-risk threshold and churned when it is at least the churn threshold.

Cohorts, order milestones and purchase intervals are in :mod:`crmlib.cohorts`, trends and the
revenue decomposition in :mod:`crmlib.trends`, the findings text in
:mod:`crmlib.present.lifecycle` and the charts in :mod:`crmlib.plots.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.compat import moved, renamed_keyword
from crmlib.config import check_choice, check_range, load_params, merge
from crmlib.data import as_table, resolve_as_of
from crmlib.data.engine import temporary
from crmlib.errors import ConfigError, DataError
from crmlib.periods import (
    PERIODS,
    as_period,
    customer_periods,
    freq_of,
    identified_orders,
    period_end,
    period_of,
    purchase_days,
)

__all__ = [
    "STAGES",
    "NOT_YET",
    "PERIODS",
    "RULES",
    "REACTIVATION",
    "FLAT_RULES",
    "load_rules",
    "validate_rules",
    "base_gap_percentiles",
    "customer_stages",
    "latest_stages",
    "stage_counts",
    "stage_transitions",
]

#: Lifecycle stages in display order.
STAGES: tuple[str, ...] = ("new", "active", "reactivated", "at_risk", "churned")
#: Stage of a customer who had not bought yet in the earlier period of a transition.
NOT_YET: str = "not_yet"
#: Ways to set the at-risk and churn thresholds.
RULES: tuple[str, ...] = ("window", "percentile", "own_gap")
#: Meanings of "inactive last period" for reactivation.
REACTIVATION: tuple[str, ...] = ("lapsed", "period")

#: Flat keyword names accepted by :func:`load_rules` and where they live in the rules mapping.
FLAT_RULES: dict[str, tuple[str, ...]] = {
    "period": ("period",),
    "rule": ("rule",),
    "reactivation": ("reactivation",),
    "at_risk_days": ("window", "at_risk_days"),
    "churned_days": ("window", "churned_days"),
    "one_time_at_risk_days": ("window", "one_time_at_risk_days"),
    "one_time_churned_days": ("window", "one_time_churned_days"),
    "at_risk_percentile": ("percentile", "at_risk"),
    "churned_percentile": ("percentile", "churned"),
    "k_at_risk": ("own_gap", "k_at_risk"),
    "k_churned": ("own_gap", "k_churned"),
    "min_gaps": ("own_gap", "min_gaps"),
    "max_order": ("milestones", "max_order"),
    "window_days": ("milestones", "window_days"),
    "confidence": ("milestones", "confidence"),
    "min_customers": ("milestones", "min_customers"),
    "plateau_tolerance": ("milestones", "plateau_tolerance"),
    "plateau_run": ("milestones", "plateau_run"),
    "years": ("trends", "years"),
    "top_categories": ("trends", "top_categories"),
}

_PARAMS_FILE = "lifecycle.yaml"


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------
def load_rules(
    params: str | Path | Mapping[str, Any] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    zero_means_default: bool = False,
    **flat: Any,
) -> dict[str, Any]:
    """Lifecycle rules: packaged defaults < the project's ``params/lifecycle.yaml`` < ``params``.

    Parameters
    ----------
    params
        Overrides for this call: a params file, a (partial or already loaded) mapping, or None
        for the project's file alone (see :func:`crmlib.config.load_params`).
    overrides
        A nested mapping deep-merged onto the result (``{"window": {"at_risk_days": 60}}``).
    zero_means_default
        Also ignore flat values equal to 0 (notebook parameters use 0 for "as in the params
        file"; no threshold can be 0).
    **flat
        Single values by their flat name (see :data:`FLAT_RULES`, e.g. ``at_risk_days=60``,
        ``rule="percentile"``, ``period="quarter"``). ``None`` and empty strings are ignored, so a
        notebook can pass its optional parameters straight through.

    Returns
    -------
    dict
        The validated rules.

    Raises
    ------
    ConfigError
        Unknown names, values out of range, or thresholds in the wrong order.
    """
    rules = merge(load_params(_PARAMS_FILE, params), overrides)
    for name, value in flat.items():
        if name not in FLAT_RULES:
            raise ConfigError(
                f"unknown lifecycle parameter {name!r}; expected one of {', '.join(FLAT_RULES)}"
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if zero_means_default and not isinstance(value, bool | str) and value == 0:
            continue
        *parents, leaf = FLAT_RULES[name]
        node = rules
        for key in parents:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[leaf] = value
    return validate_rules(rules)


def validate_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Check a rules mapping (see ``params/lifecycle.yaml``) and return it as a dict.

    Parameters
    ----------
    rules
        The complete rules, as :func:`load_rules` builds them.

    Raises
    ------
    ConfigError
        When a value is missing, of the wrong kind or out of range, naming the parameter.
    """
    rules = dict(rules)

    def section(name: str) -> dict[str, Any]:
        value = rules.get(name)
        if not isinstance(value, Mapping):
            raise ConfigError(f"lifecycle params need a {name!r} section; got {value!r}")
        return dict(value)

    check_choice("period", rules.get("period"), PERIODS)
    check_choice("rule", rules.get("rule"), RULES)
    check_choice("reactivation", rules.get("reactivation"), REACTIVATION)
    win = section("window")
    for key in ("at_risk_days", "churned_days", "one_time_at_risk_days", "one_time_churned_days"):
        check_range(f"window.{key}", win.get(key), low=0, low_inclusive=False)
    for lo, hi in (
        ("at_risk_days", "churned_days"),
        ("one_time_at_risk_days", "one_time_churned_days"),
    ):
        if win[hi] <= win[lo]:
            raise ConfigError(f"window.{hi} must be > window.{lo}; got {win[hi]!r} <= {win[lo]!r}")
    pct = section("percentile")
    for key in ("at_risk", "churned"):
        check_range(f"percentile.{key}", pct.get(key), low=0, high=1, low_inclusive=False)
    if pct["churned"] <= pct["at_risk"]:
        raise ConfigError(
            f"percentile.churned must be > percentile.at_risk; got {pct['churned']!r} "
            f"<= {pct['at_risk']!r}"
        )
    own = section("own_gap")
    for key in ("k_at_risk", "k_churned"):
        check_range(f"own_gap.{key}", own.get(key), low=0, low_inclusive=False)
    if own["k_churned"] <= own["k_at_risk"]:
        raise ConfigError(
            f"own_gap.k_churned must be > own_gap.k_at_risk; got {own['k_churned']!r} "
            f"<= {own['k_at_risk']!r}"
        )
    _check_int("own_gap.min_gaps", own.get("min_gaps"), low=1)
    ms = section("milestones")
    _check_int("milestones.max_order", ms.get("max_order"), low=1)
    check_range("milestones.window_days", ms.get("window_days"), low=0, low_inclusive=False)
    check_range(
        "milestones.confidence",
        ms.get("confidence"),
        low=0,
        high=1,
        low_inclusive=False,
        high_inclusive=False,
    )
    _check_int("milestones.min_customers", ms.get("min_customers"), low=1)
    check_range("milestones.plateau_tolerance", ms.get("plateau_tolerance"), low=0)
    _check_int("milestones.plateau_run", ms.get("plateau_run"), low=1)
    tr = section("trends")
    _check_int("trends.years", tr.get("years"), low=1)
    _check_int("trends.top_categories", tr.get("top_categories"), low=1)
    return rules


def _check_int(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"parameter {name!r} must be a whole number; got {value!r}")
    check_range(name, int(value), low=low)
    return int(value)


# --------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------
def base_gap_percentiles(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    quantiles: Sequence[float] = (0.8, 0.9),
) -> pd.Series:
    """Quantiles of every inter-purchase gap (days between consecutive purchase days) in the base.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.
    quantiles
        The quantiles, as fractions.

    Returns
    -------
    pandas.Series
        Days, indexed by quantile; NaN when nobody bought on two different days.
    """
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    gaps = purchase_days(identified_orders(transactions, as_of=as_of_ts))["gap_days"].dropna()
    if gaps.empty:
        return pd.Series(np.nan, index=list(quantiles), name="gap_days")
    return gaps.quantile(list(quantiles)).rename("gap_days")


def customer_stages(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Lifecycle stage of every customer in every period from their first purchase to ``as_of``.

    Parameters
    ----------
    transactions
        Canonical transactions (pandas, file path or Ibis table).
    as_of
        Analysis date (ISO string or Timestamp); None or "" means the last transaction day.
        Later transactions are ignored; the period holding ``as_of`` is measured up to ``as_of``.
    params
        Rules from :func:`load_rules`, a partial mapping or a params file; None reads
        ``params/lifecycle.yaml``. (``rules=`` is a deprecated alias.)
    **overrides
        Flat rule overrides, e.g. ``period="quarter"``, ``rule="own_gap"``, ``k_at_risk=1.5``,
        or ``overrides=`` a nested mapping (see :func:`load_rules`).

    Returns
    -------
    pandas.DataFrame
        One row per customer and period: ``customer_id``, ``period`` (pandas Period), ``stage``
        (ordered categorical of :data:`STAGES`), ``purchased`` (bool), ``orders``, ``revenue``,
        ``last_purchase`` (day), ``recency_days`` at period end, ``purchase_days`` so far,
        ``at_risk_after`` and ``churned_after`` (thresholds in days that applied to the row).
    """
    params = renamed_keyword("customer_stages", overrides, "rules", "params", params)
    cfg = load_rules(params, **overrides)
    freq = PERIODS[cfg["period"]]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    # the orders are read twice below: materialise them once on the engine that holds them
    with temporary(identified_orders(transactions, as_of=as_of_ts)) as orders:
        cp = customer_periods(orders, freq=freq)
        days = purchase_days(orders, own_median=cfg["rule"] == "own_gap")
    cp = cp[cp["orders"] > 0]
    columns = [
        "customer_id",
        "period",
        "stage",
        "purchased",
        "orders",
        "revenue",
        "last_purchase",
        "recency_days",
        "purchase_days",
        "at_risk_after",
        "churned_after",
    ]
    if cp.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        out["customer_id"] = out["customer_id"].astype("str")
        out["period"] = pd.Series(dtype=f"period[{freq}]")
        out["stage"] = pd.Categorical([], categories=STAGES, ordered=True)
        out["purchased"] = out["purchased"].astype(bool)
        return out

    days["period"] = period_of(days["day"], freq=freq)
    if cfg["rule"] != "own_gap":
        days["own_median_gap"] = np.nan
    days["n_gaps"] = days["day_number"] - 1
    at_period = days.groupby(["customer_id", "period"], sort=False).last()[
        ["day", "day_number", "own_median_gap", "n_gaps"]
    ]

    # full grid: every customer from the first purchase period to the as_of period, laid out
    # customer by customer, so row (customer c, period o) sits at start[c] + o - first[c]
    last_ord = pd.Period(as_of_ts, freq=freq).ordinal
    first = cp.groupby("customer_id")["period"].min()
    first_ord = first.array.asi8
    counts = last_ord - first_ord + 1
    start = np.cumsum(counts) - counts
    n_rows = int(counts.sum())
    owner = np.repeat(np.arange(len(first)), counts)
    ords = np.arange(n_rows) - start[owner] + first_ord[owner]
    grid = pd.DataFrame(
        {
            "customer_id": first.index.take(owner),
            "period": pd.PeriodIndex.from_ordinals(ords, freq=freq),
        }
    )
    grid["is_first"] = first_ord[owner] == ords

    def positions(frame: pd.DataFrame) -> np.ndarray:
        code = first.index.get_indexer(frame["customer_id"])
        return start[code] + frame["period"].array.asi8 - first_ord[code]

    pos = positions(cp)
    purchased = np.zeros(n_rows, dtype=bool)
    purchased[pos] = True
    orders_arr = np.zeros(n_rows, dtype="int64")
    orders_arr[pos] = cp["orders"].to_numpy(dtype="int64")
    revenue_arr = np.zeros(n_rows)
    revenue_arr[pos] = cp["revenue"].to_numpy(dtype=float)
    grid["purchased"], grid["orders"], grid["revenue"] = purchased, orders_arr, revenue_arr
    at = at_period.reset_index()
    pos = positions(at)
    # carry the last purchase day forward; every customer's first row has a purchase, so the
    # running index of the latest filled row never crosses into another customer
    filled = np.zeros(n_rows, dtype=bool)
    filled[pos] = True
    latest = np.maximum.accumulate(np.where(filled, np.arange(n_rows), 0))
    src = np.full(n_rows, -1)
    src[pos] = np.arange(len(at))
    take = src[latest]
    grid["day"] = at["day"].to_numpy()[take]
    for col in ("day_number", "own_median_gap", "n_gaps"):
        grid[col] = at[col].to_numpy(dtype=float)[take]

    ref = np.minimum(period_end(grid["period"]), np.datetime64(as_of_ts.date(), "D"))
    last_day = grid["day"].values.astype("datetime64[D]")
    grid["recency_days"] = (ref - last_day).astype("int64")
    repeat = grid["day_number"].to_numpy() >= 2
    at_risk, churned = _thresholds(grid, repeat, cfg, days["gap_days"])
    grid["at_risk_after"] = at_risk
    grid["churned_after"] = churned

    lapsed = ~grid["purchased"].to_numpy() & (grid["recency_days"].to_numpy() >= at_risk)
    if cfg["reactivation"] == "lapsed":
        inactive_before = np.r_[False, lapsed[:-1]]
    else:
        inactive_before = np.r_[False, ~grid["purchased"].to_numpy()[:-1]]
    inactive_before &= ~grid["is_first"].to_numpy()
    rec = grid["recency_days"].to_numpy()
    stage = np.select(
        [
            grid["is_first"].to_numpy(),
            grid["purchased"].to_numpy() & inactive_before,
            grid["purchased"].to_numpy(),
            rec >= churned,
            rec >= at_risk,
        ],
        ["new", "reactivated", "active", "churned", "at_risk"],
        default="active",
    )
    grid["stage"] = pd.Categorical(stage, categories=STAGES, ordered=True)
    grid["last_purchase"] = grid["day"]
    grid["purchase_days"] = grid["day_number"].astype("int64")
    return grid[columns]


def _thresholds(
    grid: pd.DataFrame,
    repeat: np.ndarray,
    cfg: Mapping[str, Any],
    gaps: pd.Series,
) -> tuple[np.ndarray, np.ndarray]:
    win = cfg["window"]
    win_at = np.where(repeat, win["at_risk_days"], win["one_time_at_risk_days"]).astype(float)
    win_ch = np.where(repeat, win["churned_days"], win["one_time_churned_days"]).astype(float)
    if cfg["rule"] == "window":
        return win_at, win_ch
    if cfg["rule"] == "percentile":
        pct = cfg["percentile"]
        gaps = gaps.dropna()
        if gaps.empty:
            return (
                np.full(len(grid), float(win["one_time_at_risk_days"])),
                np.full(len(grid), float(win["one_time_churned_days"])),
            )
        q_at, q_ch = (float(v) for v in gaps.quantile([pct["at_risk"], pct["churned"]]))
        if q_ch <= q_at:  # heavy ties in the gap distribution: keep the two stages apart
            q_ch = q_at + 1
        return np.full(len(grid), q_at), np.full(len(grid), q_ch)
    own = cfg["own_gap"]
    med = grid["own_median_gap"].to_numpy(dtype=float)
    enough = grid["n_gaps"].to_numpy(dtype=float) >= own["min_gaps"]
    at = np.where(enough, own["k_at_risk"] * med, win_at)
    ch = np.where(enough, own["k_churned"] * med, win_ch)
    return at, ch


def latest_stages(stages: pd.DataFrame, *, period: Any = None) -> pd.DataFrame:
    """The stage rows of one period (default: the last one), one row per customer."""
    if stages.empty:
        return stages.copy()
    if period is None:
        chosen = stages["period"].max()
    else:
        chosen = as_period(period, freq=freq_of(stages["period"]), name="period")
    return stages[stages["period"] == chosen].reset_index(drop=True)


def stage_counts(stages: pd.DataFrame) -> pd.DataFrame:
    """Customers per period and stage, with each stage's share of the period's customers.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``stage``, ``customers``, ``share``; every stage appears for every period
        (zero when empty).
    """
    if stages.empty:
        return pd.DataFrame(
            {
                "period": stages["period"],
                "stage": stages["stage"],
                "customers": pd.Series(dtype="int64"),
                "share": pd.Series(dtype="float64"),
            }
        )
    counts = (
        stages.groupby(["period", "stage"], observed=False).size().rename("customers").reset_index()
    )
    total = counts.groupby("period")["customers"].transform("sum")
    counts["share"] = counts["customers"] / total.where(total > 0)
    return counts


def stage_transitions(
    stages: pd.DataFrame, *, from_period: Any = None, to_period: Any = None
) -> pd.DataFrame:
    """Where customers moved between two periods: from stage → to stage, customers.

    Parameters
    ----------
    stages
        Output of :func:`customer_stages`.
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
    pairs = after.merge(before, on="customer_id", how="left", suffixes=("_to", "_from"))
    from_cats = (NOT_YET, *STAGES)
    from_stage = pairs["stage_from"].astype("string").fillna(NOT_YET)
    pairs = pd.DataFrame(
        {
            "from_stage": pd.Categorical(from_stage, categories=from_cats, ordered=True),
            "to_stage": pd.Categorical(
                pairs["stage_to"].astype("string"), categories=STAGES, ordered=True
            ),
        }
    )
    table = pairs.groupby(["from_stage", "to_stage"], observed=False).size().rename("customers")
    table = table.reset_index()
    total = table.groupby("from_stage", observed=False)["customers"].transform("sum")
    table["share_of_from"] = table["customers"] / total.where(total > 0)
    table["from_period"] = from_p
    table["to_period"] = to_p
    return table


#: Names that moved: cohorts, milestones and intervals, and the findings text.
_MOVED = {
    **dict.fromkeys(
        [
            "cohort_retention",
            "cohort_matrix",
            "export_cohorts",
            "order_milestones",
            "stabilisation_order",
            "milestone_benchmark",
            "purchase_intervals",
            "acquisition_segments",
            "interval_summary",
        ],
        "crmlib.cohorts",
    ),
    **dict.fromkeys(
        [
            "stage_findings",
            "cohort_findings",
            "milestone_findings",
            "interval_findings",
            "describe_rules",
            "headline_findings",
            "report_title",
            "SECTIONS",
            "section",
            "display_table",
        ],
        "crmlib.present.lifecycle",
    ),
    "wilson_interval": "crmlib.stats",
}
__getattr__ = moved(__name__, _MOVED)
