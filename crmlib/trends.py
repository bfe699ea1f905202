"""Multi-year trends per month or quarter and the decomposition of revenue change.

Scope: sales to identified customers (anonymous sales are left out; see :mod:`crmlib.periods`),
so that revenue = customers × orders per customer × average order value
holds exactly in every period:

* ``customers`` — customers with at least one purchase in the period (an order with a positive
  net amount, or a free one; see :mod:`crmlib.data.orders`, the definition every analysis
  shares);
* ``orders`` — those purchases; ``orders_per_customer`` = orders / customers;
* ``revenue`` — net amount of every line, returns included; ``aov`` = revenue / orders.

:func:`decompose_revenue` splits the change in revenue between two periods into the contributions
of the three factors with the additive LMDI-I (log-mean Divisia index, Ang 2004, "Decomposition
analysis for policymaking in energy", Energy Policy 32): with L(a, b) = (a − b) / (ln a − ln b),
the contribution of factor x is L(V₁, V₀) · ln(x₁ / x₀), and the contributions add up exactly to
V₁ − V₀ with no residual.

The findings text is in :mod:`crmlib.present.trends`, the charts in :mod:`crmlib.plots.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib.compat import moved, renamed_keyword
from crmlib.config import check_choice
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError
from crmlib.lifecycle import load_rules
from crmlib.periods import (
    PERIODS,
    PERIODS_PER_YEAR,
    as_period,
    freq_of,
    identified_lines,
    identified_orders,
    period_end,
    period_of,
    purchase_day_table,
)

__all__ = ["FACTORS", "period_trends", "category_mix", "decompose_revenue"]

#: Factors of revenue, in the order of the identity.
FACTORS: tuple[str, ...] = ("customers", "orders_per_customer", "aov")


def _window(as_of: pd.Timestamp, freq: str, years: int) -> pd.PeriodIndex:
    last = pd.Period(as_of, freq=freq)
    n = years * PERIODS_PER_YEAR[freq]
    return pd.period_range(end=last, periods=n, freq=freq)


@cached("period_trends")
def period_trends(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    period: str = "month",
    years: int | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Revenue, orders, customers, orders per customer, AOV and more per period.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.
    period
        ``"month"`` or ``"quarter"``.
    years
        Years of periods ending with the period of ``as_of``; None takes ``trends.years`` from
        ``params/lifecycle.yaml`` (``params``). Periods before the first sale are left out.
    params
        Lifecycle rules as for :func:`crmlib.lifecycle.load_rules` (``rules=`` is a deprecated
        alias).

    Returns
    -------
    pandas.DataFrame
        One row per period (empty periods after the first sale included with zeros): ``period``, ``revenue``,
        ``orders``, ``customers``, ``orders_per_customer``, ``aov``, ``new_customers``,
        ``new_revenue`` (from customers whose first order falls in the period),
        ``returning_revenue``, ``median_interval_days`` (median gap of the purchase days in the
        period to the customer's previous purchase day) and ``complete`` (period ended by as_of).
    """
    params = renamed_keyword("period_trends", kwargs, "rules", "params", params)
    if kwargs:
        raise TypeError(
            f"period_trends() got an unexpected keyword argument {next(iter(kwargs))!r}"
        )
    check_choice("period", period, PERIODS)
    freq = PERIODS[period]
    years = load_rules(params, years=years)["trends"]["years"]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    window = _window(as_of_ts, freq, years)

    orders = identified_orders(transactions, as_of=as_of_ts)
    orders = orders.mutate(period_start=orders.ordered_at.truncate(freq))
    firsts = (
        orders.filter(orders.purchase)
        .group_by("customer_id")
        .aggregate(first_start=orders.period_start.min())
    )
    joined = orders.left_join(firsts, "customer_id")
    is_new = joined.first_start.notnull() & (joined.period_start == joined.first_start)
    start = window[0].to_timestamp()
    joined = joined.filter(joined.period_start >= start)
    agg = joined.group_by("period_start").aggregate(
        revenue=joined.amount.sum(),
        orders=joined.count(where=joined.purchase),
        customers=joined.customer_id.nunique(where=joined.purchase),
        new_customers=joined.customer_id.nunique(where=joined.purchase & is_new),
        new_revenue=joined.amount.sum(where=is_new),
    )
    df = execute(agg)
    df["period"] = period_of(df["period_start"], freq=freq)
    if not df.empty:  # start at the first period with data, not years before it
        window = window[window >= df["period"].min()]
    out = pd.DataFrame({"period": window}).merge(
        df.drop(columns="period_start"), on="period", how="left"
    )
    for col in ("orders", "customers", "new_customers"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("revenue", "new_revenue"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["returning_revenue"] = out["revenue"] - out["new_revenue"]
    out["orders_per_customer"] = out["orders"] / out["customers"].where(out["customers"] > 0)
    out["aov"] = out["revenue"] / out["orders"].where(out["orders"] > 0)

    out["median_interval_days"] = (
        out["period"]
        .map(_median_gaps(identified_orders(transactions, as_of=as_of_ts), freq=freq, start=start))
        .astype(float)
    )
    out["complete"] = period_end(out["period"]) <= np.datetime64(as_of_ts.date(), "D")
    cols = [
        "period",
        "revenue",
        "orders",
        "customers",
        "orders_per_customer",
        "aov",
        "new_customers",
        "new_revenue",
        "returning_revenue",
        "median_interval_days",
        "complete",
    ]
    return out[cols]


def _median_gaps(orders: Any, *, freq: str, start: pd.Timestamp) -> pd.Series:
    """Per period from ``start``: the median gap in days of its purchase days to the customer's
    previous purchase day. The engine counts each (period, gap) pair, so a few thousand rows
    reach pandas instead of every purchase day; the median of those counts is exact."""
    days = purchase_day_table(orders)
    days = days.filter(days.gap_days.notnull())
    days = days.mutate(period_start=days.day.cast("timestamp").truncate(freq))
    days = days.filter(days.period_start >= ibis.literal(start.to_pydatetime()))
    counts = execute(days.group_by(["period_start", "gap_days"]).aggregate(n=days.count()))
    if counts.empty:
        return pd.Series(dtype=float)
    counts = counts.sort_values(["period_start", "gap_days"], ignore_index=True)
    medians = {}
    for begin, group in counts.groupby("period_start", sort=False):
        gaps = group["gap_days"].to_numpy(dtype=float)
        ends = np.cumsum(group["n"].to_numpy(dtype=np.int64))  # rank after each gap value
        # the middle rank(s) of the period's gaps, 0-based; two of them when the count is even
        low, high = (ends[-1] - 1) // 2, ends[-1] // 2
        picked = gaps[np.searchsorted(ends, [low, high], side="right")]
        medians[begin] = picked.mean()
    series = pd.Series(medians)
    series.index = pd.Index(period_of(pd.Series(series.index), freq=freq))
    return series


def category_mix(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    period: str = "month",
    years: int | None = None,
    top: int | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Revenue by category per period and each category's share of the period's revenue.

    The ``top`` categories by revenue over the whole window are kept (None: ``trends.top_categories``
    of the rules); the rest are summed as ``"other"`` and missing categories shown as
    ``"unknown"``.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.
    period
        ``"month"`` or ``"quarter"``.
    years
        Years of periods ending with the period of ``as_of``; None takes ``trends.years``.
    top
        Categories kept by name; None takes ``trends.top_categories``.
    params
        Lifecycle rules as for :func:`crmlib.lifecycle.load_rules` (``rules=`` is a deprecated
        alias).

    Returns
    -------
    pandas.DataFrame
        ``period``, ``category``, ``revenue``, ``share`` (every category for every period).
    """
    params = renamed_keyword("category_mix", kwargs, "rules", "params", params)
    if kwargs:
        raise TypeError(f"category_mix() got an unexpected keyword argument {next(iter(kwargs))!r}")
    check_choice("period", period, PERIODS)
    freq = PERIODS[period]
    cfg = load_rules(params, years=years, top_categories=top)["trends"]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    window = _window(as_of_ts, freq, cfg["years"])
    tbl = identified_lines(transactions)
    tbl = tbl.filter(
        tbl.ordered_at.notnull()
        & (tbl.ordered_at.date() <= as_of_ts.date())
        & (tbl.ordered_at >= window[0].to_timestamp())
    )
    cat = tbl.category.strip()
    tbl = tbl.mutate(
        period_start=tbl.ordered_at.truncate(freq),
        category=ibis.cases((cat.isnull() | (cat == ""), "unknown"), else_=cat),
    )
    df = execute(tbl.group_by(["period_start", "category"]).aggregate(revenue=tbl.amount.sum()))
    cols = ["period", "category", "revenue", "share"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    df["period"] = period_of(df["period_start"], freq=freq)
    totals = df.groupby("category")["revenue"].sum().sort_values(ascending=False)
    keep = list(totals.index[: cfg["top_categories"]])
    df["category"] = df["category"].where(df["category"].isin(keep), "other")
    order = keep + (["other"] if (df["category"] == "other").any() else [])
    window = window[window >= df["period"].min()]
    grid = pd.MultiIndex.from_product([window, order], names=["period", "category"])
    out = df.groupby(["period", "category"])["revenue"].sum().reindex(grid, fill_value=0.0)
    out = out.reset_index()
    total = out.groupby("period")["revenue"].transform("sum")
    out["share"] = out["revenue"] / total.where(total != 0)
    out["category"] = pd.Categorical(out["category"], categories=order, ordered=True)
    return out[cols]


def _log_mean(a: float, b: float) -> float:
    if a == b:
        return a
    return (a - b) / (np.log(a) - np.log(b))


def decompose_revenue(
    trends: pd.DataFrame, *, base: Any = None, current: Any = None
) -> pd.DataFrame:
    """Contribution of customers, orders per customer and AOV to the revenue change (LMDI-I).

    Parameters
    ----------
    trends
        Output of :func:`period_trends`.
    base, current
        Periods to compare (``"2025-09"``, ``"2025Q3"`` or pandas Period). ``current`` defaults to
        the last complete period; ``base`` to the same period one year earlier when the table holds
        it, else the period before ``current``. Empty strings mean the default.

    Returns
    -------
    pandas.DataFrame
        Rows ``customers``, ``orders_per_customer``, ``aov`` and ``revenue`` (the total);
        columns ``factor``, ``base_value``, ``current_value``, ``contribution`` (in revenue
        units; the three factors sum exactly to the revenue row), ``share_of_change``,
        ``base_period``, ``current_period``, ``method`` (``"lmdi"``, ``"no_change"`` or
        ``"empty_period"`` when one side has no customers: then the whole change is the
        customers' and the other factors are undefined).

    Raises
    ------
    DataError
        When a period with customers has non-positive revenue (logarithms undefined).
    """
    if trends.empty:
        raise DataError("no periods to compare; the trends table is empty")
    freq = freq_of(trends["period"])
    by_period = trends.set_index("period")
    if isinstance(current, str) and not current.strip():
        current = None
    if isinstance(base, str) and not base.strip():
        base = None
    if current is None:
        done = trends[trends["complete"]]
        cur = (done if not done.empty else trends)["period"].max()
    else:
        cur = as_period(current, freq=freq, name="current")
    if base is None:
        year_ago = cur - PERIODS_PER_YEAR[freq]
        bas = year_ago if year_ago in by_period.index else cur - 1
    else:
        bas = as_period(base, freq=freq, name="base")
    for name, p in (("base", bas), ("current", cur)):
        if p not in by_period.index:
            raise ConfigError(
                f"parameter {name!r} must be a period of the trends table "
                f"({by_period.index.min()} … {by_period.index.max()}); got {p}"
            )
    r0, r1 = by_period.loc[bas], by_period.loc[cur]
    v0, v1 = float(r0["revenue"]), float(r1["revenue"])
    values = {
        f: (
            float(r0[f]) if r0["customers"] > 0 else np.nan,
            float(r1[f]) if r1["customers"] > 0 else np.nan,
        )
        for f in FACTORS
    }
    change = v1 - v0
    if r0["customers"] == 0 or r1["customers"] == 0:
        method = "empty_period"
        contrib = {"customers": change, "orders_per_customer": 0.0, "aov": 0.0}
    else:
        for name, p, v in (("base", bas, v0), ("current", cur, v1)):
            if v <= 0:
                raise DataError(
                    f"revenue of the {name} period is not positive; a log decomposition needs "
                    "positive revenue",
                    column="amount",
                    value=f"{p}: {v:.2f}",
                )
        method = "no_change" if v0 == v1 else "lmdi"
        weight = _log_mean(v1, v0)
        contrib = {f: weight * np.log(values[f][1] / values[f][0]) for f in FACTORS}
    rows = [
        {
            "factor": f,
            "base_value": values[f][0],
            "current_value": values[f][1],
            "contribution": float(contrib[f]),
        }
        for f in FACTORS
    ]
    rows.append(
        {"factor": "revenue", "base_value": v0, "current_value": v1, "contribution": change}
    )
    out = pd.DataFrame(rows)
    out["share_of_change"] = out["contribution"] / change if change != 0 else np.nan
    out["base_period"] = bas
    out["current_period"] = cur
    out["method"] = method
    return out


__getattr__ = moved(
    __name__,
    {"trend_findings": "crmlib.present.trends", "decomposition_findings": "crmlib.present.trends"},
)
