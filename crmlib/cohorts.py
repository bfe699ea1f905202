"""Retention after acquisition: cohorts, order-number milestones and purchase intervals.

* :func:`cohort_retention` — customers active and revenue k periods after their first order;
* :func:`order_milestones` — P(order n+1 | n orders), right-censored, and the order number after
  which it stabilises (:func:`stabilisation_order`);
* :func:`purchase_intervals` — days between consecutive purchase days, summarised overall and by
  segment (:func:`interval_summary`, :func:`acquisition_segments`).

Orders, purchases and purchase days are defined in :mod:`crmlib.periods`; milestone settings
come from the ``milestones`` section of the lifecycle rules (:func:`crmlib.lifecycle.load_rules`).
The findings text is in :mod:`crmlib.present.lifecycle`, the charts in :mod:`crmlib.plots.cohorts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib.compat import renamed_keyword
from crmlib.config import check_choice, check_range
from crmlib.data import SCHEMAS, as_table, execute, resolve_as_of
from crmlib.data.orders import order_key
from crmlib.data.privacy import spreadsheet_safe
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError
from crmlib.lifecycle import load_rules
from crmlib.membership import ascending, lookup_labels
from crmlib.periods import (
    PERIODS,
    identified_lines,
    identified_orders,
    period_end,
    period_of,
    purchase_day_table,
)
from crmlib.stats import wilson_interval

__all__ = [
    "cohort_retention",
    "cohort_matrix",
    "export_cohorts",
    "order_milestones",
    "stabilisation_order",
    "milestone_benchmark",
    "purchase_intervals",
    "acquisition_segments",
    "interval_summary",
    "interval_segments",
]


# --------------------------------------------------------------------------------------------
# cohorts
# --------------------------------------------------------------------------------------------
@cached("cohort_retention")
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

    Parameters
    ----------
    transactions
        Canonical transactions (pandas, file path or Ibis table).
    as_of
        Analysis date; None or "" means the last complete day of the data
        (:func:`crmlib.data.resolve_as_of`).
    period
        ``"month"`` or ``"quarter"``.

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
    agg = _cohort_periods(identified_orders(transactions, as_of=as_of_ts), freq=freq)
    if agg.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    # every customer buys in the cohort's own period: its count is the cohort's size
    sizes = agg[agg["period_number"] == 0].set_index("cohort")["customers"].rename("cohort_size")
    agg = agg[agg["period_number"] >= 0]  # returns before a customer's first purchase
    last_ord = pd.Period(as_of_ts, freq=freq).ordinal
    rows = []
    for coh, size in sizes.sort_index().items():
        ks = np.arange(0, last_ord - coh.ordinal + 1)
        rows.append(pd.DataFrame({"cohort": coh, "period_number": ks, "cohort_size": size}))
    out = pd.concat(rows, ignore_index=True)
    out = out.merge(agg, on=["cohort", "period_number"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out["period"] = pd.PeriodIndex.from_ordinals(
        out["cohort"].array.asi8 + out["period_number"].to_numpy(), freq=freq
    )
    out["share"] = out["customers"] / out["cohort_size"]
    out["revenue_per_customer"] = out["revenue"] / out["cohort_size"]
    out["cumulative_revenue_per_customer"] = out.groupby("cohort")["revenue_per_customer"].cumsum()
    out["complete"] = period_end(out["period"]) <= np.datetime64(as_of_ts.date(), "D")
    return out[cols]


def _cohort_periods(orders: Any, *, freq: str) -> pd.DataFrame:
    """Per cohort (period of the first purchase) and period number k: ``customers`` active
    (with a purchase) and their net ``revenue`` (returns included), aggregated by the engine
    that holds ``orders`` (:func:`crmlib.periods.identified_orders`); one row per customer
    and period never reaches pandas."""
    unit = "M" if freq == "M" else "Q"
    o = orders.mutate(period_start=orders.ordered_at.truncate(unit))
    per = o.group_by(["customer_id", "period_start"]).aggregate(
        orders=o.count(where=o.purchase), revenue=o.amount.sum()
    )
    buyers = per.filter(per.orders > 0)
    first = buyers.group_by("customer_id").aggregate(cohort_start=buyers.period_start.min())
    j = per.join(first, "customer_id")
    agg = execute(
        j.group_by(["cohort_start", "period_start"]).aggregate(
            customers=j.count(where=j.orders > 0), revenue=j.revenue.sum()
        )
    )
    agg["cohort"] = period_of(agg["cohort_start"], freq=freq)
    agg["period_number"] = (
        period_of(agg["period_start"], freq=freq).array.asi8 - agg["cohort"].array.asi8
    )
    agg["customers"] = agg["customers"].astype("int64")
    return agg[["cohort", "period_number", "customers", "revenue"]]


def cohort_matrix(cohorts: pd.DataFrame, *, value: str = "share") -> pd.DataFrame:
    """Wide cohort table: one row per cohort, one column per period number k.

    Parameters
    ----------
    cohorts
        Output of :func:`cohort_retention`.
    value
        ``"share"``, ``"customers"``, ``"revenue"``, ``"revenue_per_customer"`` or
        ``"cumulative_revenue_per_customer"``.

    Returns
    -------
    pandas.DataFrame
        ``cohort_size`` then one column per k. ``attrs["partial_cells"]`` lists the
        ``(cohort, column)`` cells of a period the data does not cover whole (the period
        holding ``as_of`` when ``as_of`` is not its last day) and ``attrs["partial_period"]``
        names that period ("" when every cell is complete): show them marked or leave them out.
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
    partial = cohorts[~cohorts["complete"].astype(bool)] if "complete" in cohorts else cohorts[:0]
    # cells of a period the data does not cover whole: (cohort, column) pairs, and the period
    wide.attrs["partial_cells"] = [
        (c, str(k)) for c, k in zip(partial["cohort"], partial["period_number"], strict=True)
    ]
    wide.attrs["partial_period"] = str(partial["period"].iloc[0]) if len(partial) else ""
    return wide


def export_cohorts(cohorts: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write the cohort tables as CSV (tidy table plus share, customers and revenue matrices).

    Parameters
    ----------
    cohorts
        Output of :func:`cohort_retention`.
    out_dir
        Folder to write to (created when missing).

    Returns
    -------
    list of Path
        The files written: ``cohort_retention.csv``, ``cohort_share.csv``,
        ``cohort_customers.csv``, ``cohort_revenue.csv``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "cohort_retention.csv"]
    spreadsheet_safe(cohorts).to_csv(paths[0], index=False)
    for value in ("share", "customers", "revenue"):
        path = out / f"cohort_{value}.csv"
        matrix = spreadsheet_safe(cohort_matrix(cohorts, value=value))
        matrix.to_csv(path, index_label="cohort")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# order-number milestones
# --------------------------------------------------------------------------------------------
@cached("order_milestones")
def order_milestones(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
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
    params, **overrides
        Rules and flat overrides as for :func:`crmlib.lifecycle.load_rules` (``milestones``
        section: ``max_order``, ``window_days``, ``confidence``). ``rules=`` is a deprecated
        alias of ``params``.

    Returns
    -------
    pandas.DataFrame
        ``order_number`` n, ``reached`` (customers with at least n orders by ``as_of``),
        ``eligible``, ``reordered``, ``probability`` (reordered / eligible), ``ci_low``,
        ``ci_high``, ``window_days``.
    """
    params = renamed_keyword("order_milestones", overrides, "rules", "params", params)
    cfg = load_rules(params, **overrides)["milestones"]
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    orders = identified_orders(transactions, as_of=as_of_ts)
    orders = orders.filter(orders.purchase)
    w = ibis.window(group_by="customer_id", order_by=["ordered_at", "order_id"])
    numbered = orders.mutate(
        order_number=ibis.row_number().over(w) + 1, next_day=orders.day.lead().over(w)
    )
    numbered = numbered.filter(numbered.order_number <= cfg["max_order"])
    numbered = numbered.mutate(gap_days=numbered.next_day.delta(numbered.day, unit="day"))
    window = float(cfg["window_days"])
    cutoff = ibis.literal((as_of_ts - pd.Timedelta(days=window)).to_pydatetime())
    eligible = numbered.day.cast("timestamp") <= cutoff
    reordered = eligible & numbered.gap_days.notnull() & (numbered.gap_days <= window)
    # counted by the engine: a row per order number reaches pandas, not one per order
    counted = numbered.group_by("order_number").aggregate(
        reached=numbered.count(), eligible=numbered.count(where=eligible),
        reordered=numbered.count(where=reordered),
    )  # fmt: skip
    df = execute(counted).set_index("order_number")
    ns = pd.RangeIndex(1, cfg["max_order"] + 1, name="order_number")
    out = df.reindex(ns, fill_value=0)[["reached", "eligible", "reordered"]].astype("int64")
    out["probability"] = out["reordered"] / out["eligible"].where(out["eligible"] > 0)
    out["ci_low"], out["ci_high"] = wilson_interval(
        out["reordered"], out["eligible"], confidence=cfg["confidence"]
    )
    out["window_days"] = window
    return out.reset_index()


def stabilisation_order(
    milestones: pd.DataFrame,
    *,
    params: str | Path | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> int | None:
    """The order number after which the reorder probability reaches a plateau, or None.

    Rule (``milestones`` section of the rules): the first n with at least ``min_customers``
    eligible customers at n and at each of the next ``plateau_run`` order numbers, such that
    P(m+1 | m) for m = n+1 … n+plateau_run all stay within ``plateau_tolerance`` (absolute) of
    P(n+1 | n). "Relationships stabilise after the n-th order."

    Parameters
    ----------
    milestones
        Output of :func:`order_milestones`.
    params, **overrides
        Rules and flat overrides as for :func:`crmlib.lifecycle.load_rules` (``rules=`` is a
        deprecated alias of ``params``).
    """
    params = renamed_keyword("stabilisation_order", overrides, "rules", "params", params)
    cfg = load_rules(params, **overrides)["milestones"]
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


def milestone_benchmark(
    params: str | Path | Mapping[str, Any] | None = None, **kwargs: Any
) -> pd.Series:
    """Published P(order n+1 | n) by n from ``milestones.benchmark`` of the rules (may be empty).

    Parameters
    ----------
    params
        Rules as for :func:`crmlib.lifecycle.load_rules`; None reads ``params/lifecycle.yaml``.
        (``rules=`` is a deprecated alias.)

    Returns
    -------
    pandas.Series
        Probabilities indexed by ``order_number``; ``attrs["source"]`` names the source.
    """
    params = renamed_keyword("milestone_benchmark", kwargs, "rules", "params", params)
    if kwargs:
        raise TypeError(
            f"milestone_benchmark() got an unexpected keyword argument {next(iter(kwargs))!r}"
        )
    cfg = load_rules(params)["milestones"].get("benchmark") or {}
    reorder = cfg.get("reorder") or {}
    out = pd.Series({int(k): float(v) for k, v in reorder.items()}, dtype=float, name="probability")
    out.index.name = "order_number"
    out.attrs["source"] = str(cfg.get("source", ""))
    return out.sort_index()


# --------------------------------------------------------------------------------------------
# purchase intervals
# --------------------------------------------------------------------------------------------
@cached("purchase_intervals")
def purchase_intervals(
    transactions: Any, *, as_of: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Days between consecutive purchase days of each customer.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``interval_number`` (1 = between the first and second purchase day),
        ``from_day``, ``to_day``, ``days``.
    """
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    days = purchase_day_table(identified_orders(transactions, as_of=as_of_ts))
    gaps = days.filter(days.gap_days.notnull())
    # the engine selects and sorts; days go out as timestamps (a date column reaches pandas as
    # millions of Python date objects)
    out = execute(
        gaps.select(
            "customer_id",
            interval_number=gaps.day_number - 1,
            from_day=(gaps.day - gaps.gap_days.as_interval("D")).cast("timestamp"),
            to_day=gaps.day.cast("timestamp"),
            days=gaps.gap_days,
        ).order_by(["customer_id", "to_day"])
    )
    for column in ("from_day", "to_day"):
        out[column] = out[column].astype("datetime64[s]")
    out["interval_number"] = out["interval_number"].astype("int64")
    out["days"] = out["days"].astype("int64")
    return out


@cached("acquisition_segments")
def acquisition_segments(
    transactions: Any,
    *,
    column: str = "channel",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Segment customers by a transaction column of their first order (e.g. first channel).

    The first order is the earliest (then the smallest order id). A column that can differ
    between the lines of one order (a category) takes the first line's value in the order of
    the values, a missing value last, so that every engine picks the same line.

    Parameters
    ----------
    transactions
        Canonical transactions.
    column
        The transactions column that names the segment.
    as_of
        Analysis date; None or "" means the last transaction day.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``column`` (missing values as ``"unknown"``).
    """
    check_choice("column", column, [c for c in SCHEMAS["transactions"] if c != "customer_id"])
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    tbl = identified_lines(transactions)
    tbl = tbl.filter(tbl.ordered_at.notnull() & (tbl.ordered_at.date() <= as_of_ts.date()))
    # one aggregate per customer, the value at the smallest (time, order, missing, value) key:
    # about half the time of numbering every line in a window; no key field is null (a row
    # with one is left out of PostgreSQL's ordered aggregate)
    value = tbl[column].cast("string")
    key = ibis.struct(
        {
            "at": tbl.ordered_at,
            "order": order_key(tbl),
            "missing": value.isnull(),
            "value": value.fill_null(""),
        }
    )
    first = tbl.group_by("customer_id").aggregate(value=value.fill_null("").argmin(key))
    df = execute(first.order_by("customer_id"))  # the engine sorts faster than pandas
    df[column] = df["value"].fillna("unknown").replace("", "unknown")
    df = df[["customer_id", column]]
    if not ascending(df["customer_id"]):  # another engine's collation
        df = df.sort_values("customer_id", ignore_index=True)
    return df


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
    days = intervals["days"].to_numpy()
    customers = pd.factorize(intervals["customer_id"])[0]  # -1: no customer id
    groups: list[tuple[str, np.ndarray | slice]] = [("all", slice(None))]
    if segments is not None:
        labels = interval_segments(intervals, segments, by=by)
        # each segment's rows in their original order: the same sums as a groupby of the rows
        order = np.argsort(labels.codes, kind="stable")
        bounds = np.searchsorted(labels.codes[order], np.arange(len(labels.categories) + 1))
        groups += [
            (str(name), order[bounds[k] : bounds[k + 1]])
            for k, name in enumerate(labels.categories)
            if bounds[k + 1] > bounds[k]
        ]
    rows = []
    for name, rows_of in groups:
        g = pd.Series(days[rows_of])
        row: dict[str, Any] = {
            "segment": name,
            "customers": _distinct(customers[rows_of]),
            "intervals": len(g),
            "mean_days": float(g.mean()) if len(g) else np.nan,
            "median_days": float(g.median()) if len(g) else np.nan,
        }
        for q in percentiles:
            row[f"p{round(q * 100):g}"] = float(g.quantile(q)) if len(g) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _distinct(codes: np.ndarray) -> int:
    """How many different codes ``codes`` holds, -1 (missing) not counted."""
    return len(pd.unique(codes[codes >= 0]))


def interval_segments(
    intervals: pd.DataFrame, segments: pd.DataFrame, *, by: str | None = None
) -> pd.Categorical:
    """The segment of each interval's customer, as text; ``"unassigned"`` where the customer is
    not in ``segments`` or has no segment.

    Parameters
    ----------
    intervals
        Output of :func:`purchase_intervals` (any frame with ``customer_id``).
    segments, by
        Per-customer segment table and its column, as in :func:`interval_summary`; a customer
        listed twice keeps the first row.

    Returns
    -------
    pandas.Categorical
        One label per row of ``intervals``, the categories sorted; looked up by position
        (:func:`crmlib.membership.lookup_labels`), so the intervals are not copied.
    """
    by = _segment_column(segments, by)
    return lookup_labels(intervals["customer_id"], segments, key="customer_id", column=by)


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
