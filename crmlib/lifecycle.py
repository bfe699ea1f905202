"""Customer lifecycle and retention: stages, flows, cohorts, order milestones, purchase intervals.

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

Definitions used throughout
---------------------------
* Only identified customers count (empty ``customer_id`` = anonymous sale, left out).
* An *order* is a distinct ``order_id`` whose net amount is positive; a pure return is no purchase.
  Revenue is the net amount of every line, returns included.
* A *purchase day* is a distinct calendar day with at least one order; intervals are days between
  consecutive purchase days of a customer.
* Recency at the end of a period is the number of days from the last purchase day to the period's
  last day (or ``as_of`` for the current, partial period). A customer is at risk when recency is at
  least the at-risk threshold and churned when it is at least the churn threshold.

Transaction-level aggregation runs as Ibis expressions (:func:`crmlib.data.as_table` /
:func:`crmlib.data.execute`); per-customer and per-period results are pandas DataFrames.
Charts are in :mod:`crmlib.plots.lifecycle`; trends and the revenue decomposition in
:mod:`crmlib.trends`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from crmlib import reporting
from crmlib.config import check_choice, check_range, merge, params_path, read_yaml
from crmlib.data import SCHEMAS, as_table, connection, execute, parse_day, resolve_as_of
from crmlib.errors import ConfigError, DataError
from crmlib.i18n import check_language, labels, t
from crmlib.stats import wilson_interval

#: Lifecycle stages in display order.
STAGES: tuple[str, ...] = ("new", "active", "reactivated", "at_risk", "churned")
#: Stage of a customer who had not bought yet in the earlier period of a transition.
NOT_YET: str = "not_yet"
#: Period lengths and their pandas frequency.
PERIODS: dict[str, str] = {"month": "M", "quarter": "Q"}
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

_DEFAULT_FILE = "lifecycle.yaml"


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------
def _default_rules_path() -> Path:
    path = params_path(_DEFAULT_FILE)
    if path.exists():
        return path
    return Path(__file__).resolve().parents[1] / "params" / _DEFAULT_FILE


def load_rules(
    params: str | Path | Mapping[str, Any] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    zero_means_default: bool = False,
    **flat: Any,
) -> dict[str, Any]:
    """Lifecycle rules from ``params/lifecycle.yaml`` with per-report or per-call overrides.

    Parameters
    ----------
    params
        A params file, an already loaded mapping, or None for ``params/lifecycle.yaml``.
    overrides
        A nested mapping deep-merged onto the file (``{"window": {"at_risk_days": 60}}``).
    **flat
        Single values by their flat name (see :data:`FLAT_RULES`, e.g. ``at_risk_days=60``,
        ``rule="percentile"``, ``period="quarter"``). ``None`` and empty strings are ignored, so a
        notebook can pass its optional parameters straight through.
    zero_means_default
        Also ignore flat values equal to 0 (notebook parameters use 0 for "as in the params
        file"; no threshold can be 0).

    Returns
    -------
    dict
        The validated rules.

    Raises
    ------
    ConfigError
        Unknown names, values out of range, or thresholds in the wrong order.
    """
    if params is None:
        params = _default_rules_path()
    base = dict(params) if isinstance(params, Mapping) else read_yaml(params)
    if not isinstance(base, Mapping):
        raise ConfigError(
            f"lifecycle params {params!s} must be a mapping; got {type(base).__name__}"
        )
    rules = merge(base, overrides)
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


def _rules(rules: Mapping[str, Any] | None, flat: Mapping[str, Any]) -> dict[str, Any]:
    if rules is None:
        return load_rules(**flat)
    return load_rules(rules, **flat)


# --------------------------------------------------------------------------------------------
# orders (Ibis)
# --------------------------------------------------------------------------------------------
def _identified(transactions: Any) -> ir.Table:
    tbl = as_table(transactions)
    cid = tbl.customer_id.strip()
    return tbl.filter(tbl.customer_id.notnull() & (cid != "")).mutate(customer_id=cid)


def _orders_expr(transactions: Any, as_of: pd.Timestamp) -> ir.Table:
    """Ibis expression of one row per order of an identified customer up to ``as_of``."""
    tbl = _identified(transactions)
    tbl = tbl.filter(tbl.ordered_at.notnull() & (tbl.ordered_at.date() <= as_of.date()))
    orders = tbl.group_by(["customer_id", "order_id"]).aggregate(
        ordered_at=tbl.ordered_at.min(), amount=tbl.amount.sum()
    )
    return orders.mutate(day=orders.ordered_at.date(), purchase=orders.amount.fill_null(0) > 0)


def _period_of(day: pd.Series, freq: str) -> pd.Series:
    return pd.to_datetime(day).dt.to_period(freq)


def _period_end(periods: pd.PeriodIndex | pd.Series) -> np.ndarray:
    """Last day of each period as datetime64[D]."""
    idx = pd.PeriodIndex(periods)
    return ((idx + 1).to_timestamp() - pd.Timedelta(days=1)).values.astype("datetime64[D]")


def _freq_of(periods: pd.Series) -> str:
    """``"M"`` or ``"Q"``: the frequency of a Period column."""
    return "Q" if str(periods.dtype).startswith("period[Q") else "M"


def _as_period(value: Any, freq: str, name: str) -> pd.Period:
    try:
        return pd.Period(value, freq=freq)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"parameter {name!r} must name a {'month' if freq == 'M' else 'quarter'} "
            f"(e.g. {'2025-09' if freq == 'M' else '2025Q3'}); got {value!r}"
        ) from exc


def _customer_periods(orders: ir.Table, freq: str) -> pd.DataFrame:
    """Per customer and period with activity: orders, revenue, last purchase day (Ibis).

    ``orders`` is :func:`_orders_expr` of the transactions.
    """
    unit = "M" if freq == "M" else "Q"
    orders = orders.mutate(period_start=orders.ordered_at.truncate(unit))
    agg = orders.group_by(["customer_id", "period_start"]).aggregate(
        orders=orders.count(where=orders.purchase),  # COUNT: a SUM returns 128-bit decimals
        revenue=orders.amount.sum(),
        # dates go out as timestamps: a date column reaches pandas as Python date objects
        last_day=orders.day.max(where=orders.purchase).cast("timestamp"),
    )
    df = execute(agg)
    df["period"] = _period_of(df["period_start"], freq)
    return df.drop(columns="period_start")


def _purchase_days(orders: ir.Table, *, own_median: bool = False) -> pd.DataFrame:
    """Distinct purchase days per customer with the gap to the previous one (Ibis windows).

    ``orders`` is :func:`_orders_expr` of the transactions. With ``own_median`` also
    ``own_median_gap``: the median of the customer's gaps up to each day.
    """
    orders = orders.filter(orders.purchase)
    days = orders.select("customer_id", "day").distinct()
    w = ibis.window(group_by="customer_id", order_by="day")
    days = days.mutate(
        day_number=ibis.row_number().over(w) + 1,
        gap_days=days.day.delta(days.day.lag().over(w), unit="day"),
    )
    if own_median:  # median of the gaps so far, up to and including this purchase day
        upto = ibis.window(group_by="customer_id", order_by="day", rows=(None, 0))
        days = days.mutate(own_median_gap=days.gap_days.median().over(upto).cast("float64"))
    # the day as a timestamp: a date column reaches pandas as millions of Python date objects
    df = execute(days.mutate(day=days.day.cast("timestamp")))
    df["day"] = df["day"].astype("datetime64[s]")
    return df.sort_values(["customer_id", "day"], ignore_index=True)


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

    Returns
    -------
    pandas.Series
        Days, indexed by quantile; NaN when nobody bought on two different days.
    """
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    gaps = _purchase_days(_orders_expr(transactions, as_of_ts))["gap_days"].dropna()
    if gaps.empty:
        return pd.Series(np.nan, index=list(quantiles), name="gap_days")
    return gaps.quantile(list(quantiles)).rename("gap_days")


def customer_stages(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    rules: Mapping[str, Any] | None = None,
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
    rules
        Rules mapping from :func:`load_rules`; None reads ``params/lifecycle.yaml``.
    **overrides
        Flat rule overrides, e.g. ``period="quarter"``, ``rule="own_gap"``, ``k_at_risk=1.5``.

    Returns
    -------
    pandas.DataFrame
        One row per customer and period: ``customer_id``, ``period`` (pandas Period), ``stage``
        (ordered categorical of :data:`STAGES`), ``purchased`` (bool), ``orders``, ``revenue``,
        ``last_purchase`` (day), ``recency_days`` at period end, ``purchase_days`` so far,
        ``at_risk_after`` and ``churned_after`` (thresholds in days that applied to the row).
    """
    cfg = _rules(rules, overrides)
    freq = PERIODS[cfg["period"]]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    # the orders are read twice below: materialise them once in the database
    con = connection()
    temp_name = f"crm_lifecycle_orders_{uuid.uuid4().hex}"
    orders = con.create_table(temp_name, _orders_expr(transactions, as_of_ts), temp=True)
    try:
        cp = _customer_periods(orders, freq)
        days = _purchase_days(orders, own_median=cfg["rule"] == "own_gap")
    finally:
        con.raw_sql(f'DROP TABLE IF EXISTS "{temp_name}"')
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

    days["period"] = _period_of(days["day"], freq)
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

    ref = np.minimum(_period_end(grid["period"]), np.datetime64(as_of_ts.date(), "D"))
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
        chosen = _as_period(period, _freq_of(stages["period"]), "period")
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
    freq = _freq_of(stages["period"])
    to_p = stages["period"].max() if to_period is None else _as_period(to_period, freq, "to_period")
    from_p = to_p - 1 if from_period is None else _as_period(from_period, freq, "from_period")
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


# --------------------------------------------------------------------------------------------
# cohorts
# --------------------------------------------------------------------------------------------
def cohort_retention(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    period: str = "month",
) -> pd.DataFrame:
    """Retention by acquisition cohort: customers active and revenue k periods after acquisition.

    A customer's cohort is the period of the first order; the customer is *active* in period k
    when it holds at least one order. Periods after ``as_of`` are not shown; the period holding
    ``as_of`` is flagged ``complete=False`` when ``as_of`` is not its last day.

    Returns
    -------
    pandas.DataFrame
        ``cohort`` (Period), ``period_number`` (k = 0, 1, …), ``period``, ``cohort_size``,
        ``customers`` (active in k), ``share`` (= customers / cohort_size), ``revenue`` (net, of
        the cohort's customers in that period), ``revenue_per_customer`` (revenue / cohort_size),
        ``cumulative_revenue_per_customer`` and ``complete``.
    """
    check_choice("period", period, PERIODS)
    freq = PERIODS[period]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    cp = _customer_periods(_orders_expr(transactions, as_of_ts), freq)
    buyers = cp[cp["orders"] > 0]
    cols = [
        "cohort",
        "period_number",
        "period",
        "cohort_size",
        "customers",
        "share",
        "revenue",
        "revenue_per_customer",
        "cumulative_revenue_per_customer",
        "complete",
    ]
    if buyers.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    cohort = buyers.groupby("customer_id")["period"].min().rename("cohort")
    cp = cp[cp["customer_id"].isin(cohort.index)].merge(cohort.reset_index(), on="customer_id")
    cp["period_number"] = cp["period"].array.asi8 - cp["cohort"].array.asi8
    cp["active"] = cp["orders"] > 0
    agg = cp.groupby(["cohort", "period_number"]).agg(
        customers=("active", "sum"), revenue=("revenue", "sum")
    )
    sizes = cohort.value_counts().rename("cohort_size")
    last_ord = pd.Period(as_of_ts, freq=freq).ordinal
    rows = []
    for coh, size in sizes.sort_index().items():
        ks = np.arange(0, last_ord - coh.ordinal + 1)
        rows.append(pd.DataFrame({"cohort": coh, "period_number": ks, "cohort_size": size}))
    out = pd.concat(rows, ignore_index=True)
    out = out.merge(agg.reset_index(), on=["cohort", "period_number"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out["period"] = pd.PeriodIndex.from_ordinals(
        out["cohort"].array.asi8 + out["period_number"].to_numpy(), freq=freq
    )
    out["share"] = out["customers"] / out["cohort_size"]
    out["revenue_per_customer"] = out["revenue"] / out["cohort_size"]
    out["cumulative_revenue_per_customer"] = out.groupby("cohort")["revenue_per_customer"].cumsum()
    out["complete"] = _period_end(out["period"]) <= np.datetime64(as_of_ts.date(), "D")
    return out[cols]


def cohort_matrix(cohorts: pd.DataFrame, *, value: str = "share") -> pd.DataFrame:
    """Wide cohort table: one row per cohort, one column per period number k.

    Parameters
    ----------
    cohorts
        Output of :func:`cohort_retention`.
    value
        ``"share"``, ``"customers"``, ``"revenue"``, ``"revenue_per_customer"`` or
        ``"cumulative_revenue_per_customer"``.
    """
    check_choice(
        "value",
        value,
        (
            "share",
            "customers",
            "revenue",
            "revenue_per_customer",
            "cumulative_revenue_per_customer",
        ),
    )
    wide = cohorts.pivot(index="cohort", columns="period_number", values=value)
    wide.insert(0, "cohort_size", cohorts.groupby("cohort")["cohort_size"].first())
    wide.columns = [str(c) for c in wide.columns]
    return wide


def export_cohorts(cohorts: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write the cohort tables as CSV (tidy table plus share, customers and revenue matrices).

    Returns
    -------
    list of Path
        The files written: ``cohort_retention.csv``, ``cohort_share.csv``,
        ``cohort_customers.csv``, ``cohort_revenue.csv``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "cohort_retention.csv"]
    cohorts.to_csv(paths[0], index=False)
    for value in ("share", "customers", "revenue"):
        path = out / f"cohort_{value}.csv"
        cohort_matrix(cohorts, value=value).to_csv(path, index_label="cohort")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# order-number milestones
# --------------------------------------------------------------------------------------------
def order_milestones(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    rules: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """P(order n+1 | n orders) by order number n, right-censored, with a Wilson band.

    A customer's orders are numbered by time (ties broken by ``order_id``). For order number n a
    customer is *eligible* when the n-th order was placed at least ``window_days`` days before
    ``as_of`` (so everyone counted had the full window to come back) and *reordered* when the
    (n+1)-th order followed within ``window_days`` days of the n-th. Customers whose n-th order is
    more recent are censored and left out of n.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.
    rules, **overrides
        Rules (``milestones`` section: ``max_order``, ``window_days``, ``confidence``).

    Returns
    -------
    pandas.DataFrame
        ``order_number`` n, ``reached`` (customers with at least n orders by ``as_of``),
        ``eligible``, ``reordered``, ``probability`` (reordered / eligible), ``ci_low``,
        ``ci_high``, ``window_days``.
    """
    cfg = _rules(rules, overrides)["milestones"]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    orders = _orders_expr(transactions, as_of_ts)
    orders = orders.filter(orders.purchase)
    w = ibis.window(group_by="customer_id", order_by=["ordered_at", "order_id"])
    numbered = orders.mutate(
        order_number=ibis.row_number().over(w) + 1, next_day=orders.day.lead().over(w)
    )
    numbered = numbered.filter(numbered.order_number <= cfg["max_order"])
    numbered = numbered.mutate(gap_days=numbered.next_day.delta(numbered.day, unit="day"))
    df = execute(numbered.select("customer_id", "order_number", "day", "gap_days"))
    window = float(cfg["window_days"])
    cutoff = as_of_ts - pd.Timedelta(days=window)
    eligible = pd.to_datetime(df["day"]) <= cutoff
    reordered = eligible & df["gap_days"].notna() & (df["gap_days"] <= window)
    ns = pd.RangeIndex(1, cfg["max_order"] + 1, name="order_number")
    out = pd.DataFrame(
        {
            "reached": df.groupby("order_number").size().reindex(ns, fill_value=0),
            "eligible": eligible.groupby(df["order_number"]).sum().reindex(ns, fill_value=0),
            "reordered": reordered.groupby(df["order_number"]).sum().reindex(ns, fill_value=0),
        }
    ).astype("int64")
    out["probability"] = out["reordered"] / out["eligible"].where(out["eligible"] > 0)
    out["ci_low"], out["ci_high"] = wilson_interval(
        out["reordered"], out["eligible"], confidence=cfg["confidence"]
    )
    out["window_days"] = window
    return out.reset_index()


def stabilisation_order(
    milestones: pd.DataFrame,
    *,
    rules: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> int | None:
    """The order number after which the reorder probability reaches a plateau, or None.

    Rule (``milestones`` section of the rules): the first n with at least ``min_customers``
    eligible customers at n and at each of the next ``plateau_run`` order numbers, such that
    P(m+1 | m) for m = n+1 … n+plateau_run all stay within ``plateau_tolerance`` (absolute) of
    P(n+1 | n). "Relationships stabilise after the n-th order."
    """
    cfg = _rules(rules, overrides)["milestones"]
    run, tol, floor = cfg["plateau_run"], cfg["plateau_tolerance"], cfg["min_customers"]
    ms = milestones.set_index("order_number").sort_index()
    p = ms["probability"]
    ok = (ms["eligible"] >= floor) & p.notna()
    for n in ms.index:
        span = list(range(n, n + run + 1))
        if not all(m in ms.index and ok.get(m, False) for m in span):
            continue
        if all(abs(p[m] - p[n]) <= tol + 1e-12 for m in span[1:]):
            return int(n)
    return None


# --------------------------------------------------------------------------------------------
# purchase intervals
# --------------------------------------------------------------------------------------------
def purchase_intervals(
    transactions: Any, *, as_of: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Days between consecutive purchase days of each customer.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``interval_number`` (1 = between the first and second purchase day),
        ``from_day``, ``to_day``, ``days``.
    """
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    days = _purchase_days(_orders_expr(transactions, as_of_ts))
    days["from_day"] = days.groupby("customer_id")["day"].shift()
    out = days[days["gap_days"].notna()].rename(columns={"day": "to_day", "gap_days": "days"})
    out["interval_number"] = out["day_number"] - 1
    out["days"] = out["days"].astype("int64")
    return out[["customer_id", "interval_number", "from_day", "to_day", "days"]].reset_index(
        drop=True
    )


def acquisition_segments(
    transactions: Any,
    *,
    column: str = "channel",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Segment customers by a transaction column of their first order line (e.g. first channel).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``column`` (missing values as ``"unknown"``).
    """
    check_choice("column", column, [c for c in SCHEMAS["transactions"] if c != "customer_id"])
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    tbl = _identified(transactions)
    tbl = tbl.filter(tbl.ordered_at.notnull() & (tbl.ordered_at.date() <= as_of_ts.date()))
    w = ibis.window(group_by="customer_id", order_by=["ordered_at", "order_id"])
    first = tbl.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0)
    df = execute(first.select("customer_id", value=first[column].cast("string")))
    df[column] = df["value"].fillna("unknown").replace("", "unknown")
    return df[["customer_id", column]].sort_values("customer_id", ignore_index=True)


def interval_summary(
    intervals: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    by: str | None = None,
    percentiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
) -> pd.DataFrame:
    """Distribution of purchase intervals overall and per segment.

    Parameters
    ----------
    intervals
        Output of :func:`purchase_intervals`.
    segments
        Optional per-customer table with ``customer_id`` and the segment column ``by`` (for
        example an RFM segment table or :func:`acquisition_segments`).
    by
        Segment column of ``segments``; defaults to its only column besides ``customer_id``.
    percentiles
        Quantiles to report, as fractions.

    Returns
    -------
    pandas.DataFrame
        ``segment`` ("all" first), ``customers``, ``intervals``, ``mean_days``, ``median_days``
        and ``p10`` … ``p90`` columns named after the percentiles.
    """
    for q in percentiles:
        check_range("percentiles", q, low=0, high=1)
    groups: list[tuple[str, pd.DataFrame]] = [("all", intervals)]
    if segments is not None:
        by = _segment_column(segments, by)
        seg = segments[["customer_id", by]].drop_duplicates("customer_id")
        merged = intervals.merge(seg, on="customer_id", how="left")
        merged[by] = merged[by].astype("string").fillna("unassigned")
        groups += [(str(k), g) for k, g in merged.groupby(by, sort=True)]
    rows = []
    for name, g in groups:
        row: dict[str, Any] = {
            "segment": name,
            "customers": int(g["customer_id"].nunique()),
            "intervals": len(g),
            "mean_days": float(g["days"].mean()) if len(g) else np.nan,
            "median_days": float(g["days"].median()) if len(g) else np.nan,
        }
        for q in percentiles:
            row[f"p{round(q * 100):g}"] = float(g["days"].quantile(q)) if len(g) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _segment_column(segments: pd.DataFrame, by: str | None) -> str:
    if "customer_id" not in segments.columns:
        raise DataError("segments table lacks customer_id", column="customer_id")
    others = [c for c in segments.columns if c != "customer_id"]
    if by is None:
        if len(others) != 1:
            raise ConfigError(
                f"parameter 'by' must name the segment column; segments has {', '.join(others)}"
            )
        return others[0]
    if by not in segments.columns:
        raise DataError("segments table lacks the segment column", column=by)
    return by


# --------------------------------------------------------------------------------------------
# executive text
# --------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.0%}"


def stage_findings(stages: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on the latest period's stage mix and its change from the period before."""
    check_language(language)
    if stages.empty:
        return t("lifecycle.no_purchases", language)
    counts = stage_counts(stages)
    last = counts["period"].max()
    now = counts[counts["period"] == last].set_index("stage")
    lines = [
        t(
            "lifecycle.finding_stage_mix",
            language,
            period=str(last),
            customers=f"{int(now['customers'].sum()):,}",
            active=_pct(
                now.loc["active", "share"]
                + now.loc["new", "share"]
                + now.loc["reactivated", "share"]
            ),
            at_risk=_pct(now.loc["at_risk", "share"]),
            churned=_pct(now.loc["churned", "share"]),
        )
    ]
    if (counts["period"] == last - 1).any():
        moves = stage_transitions(stages, to_period=last)

        def flow(a: str, b: str) -> int:
            sel = moves[(moves["from_stage"] == a) & (moves["to_stage"] == b)]
            return int(sel["customers"].sum())

        lines.append(
            t(
                "lifecycle.finding_flows",
                language,
                new=f"{int(now.loc['new', 'customers']):,}",
                reactivated=f"{int(now.loc['reactivated', 'customers']):,}",
                lapsed=f"{flow('active', 'at_risk') + flow('new', 'at_risk') + flow('reactivated', 'at_risk'):,}",
                churned=f"{flow('at_risk', 'churned'):,}",
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def cohort_findings(cohorts: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on retention 1 period and 1 year after acquisition (complete cohorts only)."""
    check_language(language)
    if cohorts.empty:
        return t("lifecycle.no_purchases", language)
    parts = []
    quarterly = _freq_of(cohorts["cohort"]) == "Q"
    unit = t(f"lifecycle.unit_{'quarter' if quarterly else 'month'}", language)
    for k in (1, 4) if quarterly else (1, 12):
        sel = cohorts[(cohorts["period_number"] == k) & cohorts["complete"]]
        if sel.empty:
            continue
        share = sel["customers"].sum() / sel["cohort_size"].sum()
        parts.append(t("lifecycle.finding_cohort", language, k=k, unit=unit, share=_pct(share)))
    if not parts:
        return "- " + t("lifecycle.finding_cohort_short", language)
    return "\n".join(f"- {p}" for p in parts)


def milestone_findings(
    milestones: pd.DataFrame,
    *,
    stabilises_after: int | None = None,
    language: str = "en",
    rules: Mapping[str, Any] | None = None,
) -> str:
    """Markdown bullets on P(2nd|1st), P(3rd|2nd), P(4th|3rd) against the benchmark, and the plateau.

    The benchmark figures come from ``milestones.benchmark.reorder`` of the rules.
    """
    check_language(language)
    bench = milestone_benchmark(rules)
    ms = milestones.set_index("order_number")
    lines = []
    probs = {n: ms["probability"].get(n, np.nan) for n in (1, 2, 3)}
    if not pd.isna(probs[1]):
        lines.append(
            t(
                "lifecycle.finding_milestones",
                language,
                p2=_pct(probs[1]),
                p3=_pct(probs[2]),
                p4=_pct(probs[3]),
                b2=_pct(bench.get(1, np.nan)),
                b3=_pct(bench.get(2, np.nan)),
                b4=_pct(bench.get(3, np.nan)),
                days=f"{float(ms['window_days'].iloc[0]):g}",
            )
        )
    if stabilises_after is None:
        lines.append(t("lifecycle.finding_no_plateau", language))
    else:
        lines.append(
            t(
                "lifecycle.finding_plateau",
                language,
                n=stabilises_after,
                p=_pct(ms["probability"].get(stabilises_after, np.nan)),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def milestone_benchmark(rules: Mapping[str, Any] | None = None) -> pd.Series:
    """Published P(order n+1 | n) by n from ``milestones.benchmark`` of the rules (may be empty).

    The Series' ``attrs["source"]`` names the source.
    """
    cfg = _rules(rules, {})["milestones"].get("benchmark") or {}
    reorder = cfg.get("reorder") or {}
    out = pd.Series({int(k): float(v) for k, v in reorder.items()}, dtype=float, name="probability")
    out.index.name = "order_number"
    out.attrs["source"] = str(cfg.get("source", ""))
    return out.sort_index()


def interval_findings(summary: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullet on the median and 90th-percentile purchase interval of the base."""
    check_language(language)
    row = summary[summary["segment"] == "all"]
    if row.empty or row["intervals"].iloc[0] == 0:
        return "- " + t("lifecycle.finding_no_intervals", language)
    r = row.iloc[0]
    return "- " + t(
        "lifecycle.finding_intervals",
        language,
        median=f"{r['median_days']:.0f}",
        p90=f"{r.get('p90', np.nan):.0f}",
        intervals=f"{int(r['intervals']):,}",
    )


def describe_rules(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    language: str = "en",
    rules: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """Markdown that states the stage, reactivation and milestone rules in force, with numbers.

    For the percentile rule the thresholds are computed from ``transactions``.
    """
    check_language(language)
    cfg = _rules(rules, overrides)
    win, own, pct = cfg["window"], cfg["own_gap"], cfg["percentile"]
    fields = {
        "at_risk": f"{win['at_risk_days']:g}",
        "churned": f"{win['churned_days']:g}",
        "one_at_risk": f"{win['one_time_at_risk_days']:g}",
        "one_churned": f"{win['one_time_churned_days']:g}",
    }
    if cfg["rule"] == "window":
        text = t("lifecycle.rule_window", language, **fields)
    elif cfg["rule"] == "own_gap":
        text = t(
            "lifecycle.rule_own_gap",
            language,
            k_at_risk=f"{own['k_at_risk']:g}",
            k_churned=f"{own['k_churned']:g}",
            min_gaps=own["min_gaps"],
            **fields,
        )
    else:
        q = base_gap_percentiles(
            transactions, as_of=as_of, quantiles=(pct["at_risk"], pct["churned"])
        )
        if q.isna().any():
            text = t("lifecycle.rule_window", language, **fields)
        else:
            text = t(
                "lifecycle.rule_percentile",
                language,
                at_risk_q=f"{pct['at_risk'] * 100:g}",
                churned_q=f"{pct['churned'] * 100:g}",
                at_risk=f"{q.iloc[0]:.0f}",
                churned=f"{max(q.iloc[1], q.iloc[0] + 1):.0f}",
            )
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    lines = [
        text,
        t(f"lifecycle.rule_reactivation_{cfg['reactivation']}", language),
        t(
            "lifecycle.rule_milestones",
            language,
            days=f"{cfg['milestones']['window_days']:g}",
            as_of=as_of_ts.date().isoformat(),
        ),
    ]
    return "\n".join(f"- {line}" for line in lines)


def headline_findings(
    *,
    stages: pd.DataFrame | None = None,
    cohorts: pd.DataFrame | None = None,
    milestones: pd.DataFrame | None = None,
    stabilises_after: int | None = None,
    intervals: pd.DataFrame | None = None,
    trends: pd.DataFrame | None = None,
    decomposition: pd.DataFrame | None = None,
    language: str = "en",
    rules: Mapping[str, Any] | None = None,
) -> str:
    """Short markdown list of the main findings from whichever tables are given.

    Parameters
    ----------
    stages, cohorts, milestones, intervals, trends, decomposition
        Outputs of :func:`customer_stages`, :func:`cohort_retention`, :func:`order_milestones`,
        :func:`interval_summary`, :func:`crmlib.trends.period_trends` and
        :func:`crmlib.trends.decompose_revenue`.
    stabilises_after
        Result of :func:`stabilisation_order`.
    language
        ``"en"`` or ``"zh"``.
    """
    from crmlib import trends as trend_text

    check_language(language)
    parts = []
    if trends is not None:
        parts.append(trend_text.trend_findings(trends, language=language))
    if decomposition is not None:
        parts.append(trend_text.decomposition_findings(decomposition, language=language))
    if stages is not None:
        parts.append(stage_findings(stages, language=language))
    if cohorts is not None:
        parts.append(cohort_findings(cohorts, language=language))
    if milestones is not None:
        parts.append(
            milestone_findings(
                milestones, stabilises_after=stabilises_after, language=language, rules=rules
            )
        )
    if intervals is not None:
        parts.append(interval_findings(intervals, language=language))
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# report sections and tables
# --------------------------------------------------------------------------------------------
def report_title(
    as_of: str | pd.Timestamp, *, rules: Mapping[str, Any] | None = None, language: str = "en"
) -> str:
    """Markdown title of the lifecycle report with the data date and period length."""
    check_language(language)
    cfg = _rules(rules, {})
    return reporting.title(
        "lifecycle.nb_title",
        "lifecycle.nb_subtitle",
        language=language,
        as_of=parse_day(as_of, required=True).date().isoformat(),
        period=t(f"lifecycle.period_{cfg['period']}", language),
    )


#: Report sections with a heading (``h_<name>``) and an explanation (``md_<name>``) label.
SECTIONS: tuple[str, ...] = (
    "stages",
    "flows",
    "cohorts",
    "milestones",
    "intervals",
    "trends",
    "category_mix",
    "decomposition",
)


def section(name: str, *, language: str = "en") -> str:
    """Markdown heading and executive explanation of a report section (see :data:`SECTIONS`)."""
    check_choice("section", name, (*SECTIONS, "headline", "rules"))
    return reporting.section("lifecycle", name, language=language)


def display_table(frame: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """A copy of a lifecycle or trends table for display: labelled columns and stage names.

    Stage, factor and segment values are translated; periods become text. Numbers are unchanged.
    """
    check_language(language)
    names = {**labels("common", language), **labels("lifecycle", language)}
    out = frame.copy()
    for col in ("stage", "from_stage", "to_stage"):
        if col in out.columns:
            out[col] = [t(f"lifecycle.stage_{v}", language) for v in out[col].astype(str)]
    if "factor" in out.columns:
        out["factor"] = [t(f"lifecycle.factor_{v}", language) for v in out["factor"]]
    if "segment" in out.columns:
        out["segment"] = [
            t("lifecycle.segment_all", language) if v == "all" else v for v in out["segment"]
        ]
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
    return out.rename(columns=lambda c: names.get(c, c))
