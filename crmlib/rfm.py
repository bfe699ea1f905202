"""RFM: recency, frequency and monetary value per customer, and their scores.

The numbers behind the customer-value report:

1. :func:`rfm_table` aggregates the transactions (through Ibis) into one row per identified
   customer: recency, frequency and monetary value as of a reference date.
2. :func:`score_rfm` scores R, F and M (quantiles, your own bin edges, or high/low against the
   mean, median or thresholds). Recency is always scored so that a HIGH score means a RECENT
   purchase.
3. :func:`member_share` compares identified members with anonymous sales.

Segment schemes and the segments built from the scores are in :mod:`crmlib.segments`; the value
matrix and revenue concentration (Pareto, Lorenz, Gini) in :mod:`crmlib.value`; the report's
words (findings, display tables) in :mod:`crmlib.present.rfm`.

Definitions used throughout
---------------------------
* An *order* is one ``order_id`` of a customer; its value is the sum of its lines, so returns
  (negative lines) reduce it. Whether it is a purchase is decided once for every analysis in
  :mod:`crmlib.data.orders`: an order whose net value is negative (a pure return or refund) or
  whose lines cancel out (+80/−80) is not a purchase: it changes monetary value but counts
  towards neither frequency nor recency; a free order (0, no return) is a purchase.
* *Anonymous* sales (``customer_id`` null or blank) have no RFM; :func:`member_share` counts them.
* Customers whose every order before ``as_of`` is a return have no purchase and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from crmlib.compat import moved
from crmlib.config import check_choice, check_range
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.data.orders import orders as order_table
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError

__all__ = [
    "METRICS",
    "SCORINGS",
    "SPLITS",
    "Scores",
    "rfm_table",
    "member_share",
    "check_scoring",
    "score_rfm",
]

#: The three scored metrics, in score order.
METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
#: Ways of scoring: equal-count bins, your own bin edges, high/low against a reference.
SCORINGS: tuple[str, ...] = ("quantile", "edges", "highlow")
#: References of a high/low split taken from the base itself.
SPLITS: tuple[str, ...] = ("mean", "median")
#: Column of the RFM table each metric is scored from (monetary may use ``aov`` instead).
_METRIC_COLUMN = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary"}
_SCORE_COLUMN = {"recency": "r_score", "frequency": "f_score", "monetary": "m_score"}
#: Decimals kept in per-customer money totals (far below any currency's smallest unit).
_MONEY_DECIMALS = 6

# --------------------------------------------------------------------------------------------
# RFM table
# --------------------------------------------------------------------------------------------


def _window(transactions: Any, as_of: Any) -> tuple[ir.Table, pd.Timestamp]:
    """Canonical transactions up to the end of the ``as_of`` day, and that day."""
    t_ = as_table(transactions)
    day = resolve_as_of(t_, as_of)
    end = ibis.literal((day + pd.Timedelta(days=1)).to_pydatetime(), type="timestamp")
    return t_.filter(t_.ordered_at < end), day


@cached("rfm_table", report_date=("as_of", "transactions"))
def rfm_table(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    frequency: str = "orders",
) -> pd.DataFrame:
    """Recency, frequency and monetary value per identified customer.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema: a pandas DataFrame, CSV/Parquet path or Ibis table
        (see :func:`crmlib.data.as_table`).
    as_of
        Reference date (ISO string, date or Timestamp). Lines after that day are ignored. ``None``
        or ``""`` means the date of the last transaction in the data.
    frequency
        ``"orders"`` (distinct purchase orders) or ``"days"`` (distinct purchase days, so several
        orders on one day count once). Both are returned; this chooses the ``frequency`` column.

    Returns
    -------
    pandas.DataFrame
        One row per customer with at least one purchase, sorted by ``customer_id``: ``customer_id``,
        ``first_purchase``, ``last_purchase``, ``recency_days`` (whole days from the last purchase
        day to ``as_of``; 0 = bought on the reference day), ``orders``, ``purchase_days``,
        ``frequency``, ``monetary`` (net revenue: sales minus returns, rounded to 6 decimals so that
        equal totals tie exactly), ``aov`` (monetary / orders)
        and ``as_of``.
    """
    check_choice("frequency", frequency, ("orders", "days"))
    lines = as_table(transactions)
    day = resolve_as_of(lines, as_of)
    # The shared definition of an order and a purchase (crmlib.data.orders): an order whose
    # lines cancel out (+80/-80) is no purchase; a free order (0, no return) is one. It leaves
    # out the lines after ``day`` itself.
    orders = order_table(lines, as_of=day)
    bought = orders.purchase
    per_customer = (
        orders.group_by("customer_id")
        .aggregate(
            first_purchase=orders.ordered_at.min(where=bought),
            last_purchase=orders.ordered_at.max(where=bought),
            # COUNT, not a SUM of flags: DuckDB sums integers into a 128-bit type, which reaches
            # pandas as a column of Python Decimal objects (slow, and memory per customer).
            orders=orders.amount.count(where=bought),
            purchase_days=orders.ordered_at.date().nunique(where=bought),
            monetary=orders.amount.sum(),
        )
        .filter(lambda s: s.orders > 0)
        .order_by("customer_id")
    )
    out = execute(per_customer)
    out["customer_id"] = out["customer_id"].astype(str)
    for col in ("first_purchase", "last_purchase"):
        out[col] = pd.to_datetime(out[col])
        if getattr(out[col].dt, "tz", None) is not None:
            out[col] = out[col].dt.tz_localize(None)
    out["orders"] = out["orders"].astype("int64")
    out["purchase_days"] = out["purchase_days"].astype("int64")
    # Round away floating-point summation noise (1e-13 of a total): equal totals must tie
    # whatever order the engine added the lines in, or tie-broken ranks would depend on it.
    out["monetary"] = out["monetary"].astype("float64").round(_MONEY_DECIMALS)
    out["recency_days"] = (day - out["last_purchase"].dt.normalize()).dt.days.astype("int64")
    out["frequency"] = out["orders"] if frequency == "orders" else out["purchase_days"]
    out["aov"] = out["monetary"] / out["orders"]
    out["as_of"] = day
    cols = [
        "customer_id",
        "first_purchase",
        "last_purchase",
        "recency_days",
        "orders",
        "purchase_days",
        "frequency",
        "monetary",
        "aov",
        "as_of",
    ]
    return out[cols].reset_index(drop=True)


def member_share(transactions: Any, *, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Share of net revenue, orders and lines from identified members versus anonymous sales.

    Orders are those of :mod:`crmlib.data.orders` (each customer's order ids; lines without
    one make one order per customer and time), purchases or not.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema (see :func:`rfm_table`).
    as_of
        Reference date, as in :func:`rfm_table`.

    Returns
    -------
    pandas.DataFrame
        Rows ``buyer`` = ``member`` and ``anonymous`` with ``revenue``, ``share_revenue``,
        ``orders``, ``share_orders``, ``lines``.
    """
    window, day = _window(transactions, as_of)
    # as_table made a blank id NULL already (trimming 10M ids again cost 1.8 s)
    tagged = window.mutate(buyer=ibis.ifelse(window.customer_id.notnull(), "member", "anonymous"))
    agg = tagged.group_by("buyer").aggregate(
        revenue=tagged.amount.fill_null(0).sum(), lines=tagged.count()
    )
    # the orders as every analysis counts them (a loaded dataset's stored ones): a count, not
    # a distinct count of 6M order keys over 10M lines (4 s at 3M customers)
    orders = order_table(transactions, as_of=day, identified=False)
    orders = orders.mutate(buyer=ibis.ifelse(orders.customer_id.notnull(), "member", "anonymous"))
    counted = execute(orders.group_by("buyer").aggregate(orders=orders.count())).set_index("buyer")
    out = execute(agg).set_index("buyer").join(counted, how="outer")
    out = out.reindex(["member", "anonymous"])
    out = out.fillna(0)
    out["orders"] = out["orders"].astype("int64")
    out["lines"] = out["lines"].astype("int64")
    total_rev, total_orders = out["revenue"].sum(), out["orders"].sum()
    out["share_revenue"] = out["revenue"] / total_rev if total_rev else np.nan
    out["share_orders"] = out["orders"] / total_orders if total_orders else np.nan
    out = out.reset_index()
    return out[["buyer", "revenue", "share_revenue", "orders", "share_orders", "lines"]]


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Scores of every customer and the bin edges that produced them.

    Attributes
    ----------
    table
        The RFM table with ``r_score``, ``f_score``, ``m_score`` (1 = lowest; for recency 1 = the
        longest ago) and ``fm_score`` = ceil((f_score + m_score) / 2).
    edges
        One row per metric and score: ``metric``, ``score``, ``lower``, ``upper``, ``customers``,
        in the metric's own unit (days for recency). For quantile scoring ``lower``/``upper`` are
        the smallest and largest value that received the score (a value never straddles two
        scores, so the ranges do not overlap; an empty score has NaN bounds and 0 customers); for
        edges and high/low scoring they are the configured bounds.
    scoring
        ``"quantile"``, ``"edges"`` or ``"highlow"``.
    rule
        Human-readable statement of how ties and bounds were treated.
    unequal
        Quantile scoring only: the metrics (of :data:`METRICS`) whose bins are not equal-sized
        because customers with equal values share a score; the ``customers`` column of ``edges``
        gives the actual sizes. Empty when every bin holds the equal-count share (or when the
        scoring is not by quantile).
    """

    table: pd.DataFrame
    edges: pd.DataFrame
    scoring: str
    rule: str
    unequal: tuple[str, ...] = ()


def _sorted_by_id(table: pd.DataFrame) -> pd.DataFrame:
    ids = table["customer_id"]
    if ids.is_monotonic_increasing:
        return table.reset_index(drop=True)
    return table.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _quantile_scores(oriented: np.ndarray, bins: int) -> np.ndarray:
    """Equal-count bins on mid-ranks: equal values always get the same score.

    A value held by the customers at ascending positions i..j (1-based; i = j without ties) has
    the mid-rank (i + j) / 2 (pandas ``rank(method="average")``) and the mid-rank percentile
    p = (mid-rank - 1/2) / n, which lies in (0, 1). Its score is floor(p * bins) + 1, computed in
    whole numbers as ((i + j - 1) * bins) // (2 n) + 1, so a percentile exactly on a bin boundary
    goes up. Without ties this gives ``bins`` groups of equal size (sizes differ by at most one);
    a value shared by every customer (a base of one, or all customers alike) has p = 1/2 and gets
    the middle score (the upper middle for an even number of bins).
    """
    n = len(oriented)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(oriented, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # j of each distinct value, ascending
    first = last - counts + 1  # i
    per_value = (first + last - 1) * bins // (2 * n) + 1
    return per_value[inverse.reshape(-1)].astype(np.int64)


def _untied_sizes(n: int, bins: int) -> np.ndarray:
    """Customers per score (1..bins) that :func:`_quantile_scores` gives ``n`` distinct values."""
    positions = np.arange(1, n + 1, dtype=np.int64)
    scores = (2 * positions - 1) * bins // (2 * max(n, 1)) + 1
    return np.bincount(scores, minlength=bins + 1)[1:]


def _check_edges(metric: str, raw: Any) -> np.ndarray:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 3:
        raise ConfigError(
            f"parameter 'edges' for {metric} must be a list of at least 3 increasing numbers; got {raw!r}"
        )
    arr = np.asarray([float(x) for x in raw], dtype=float)
    if np.isnan(arr).any() or not (np.diff(arr) > 0).all():
        raise ConfigError(
            f"parameter 'edges' for {metric} must be strictly increasing; got {raw!r}"
        )
    return arr


def _edge_scores(metric: str, values: np.ndarray, edges: np.ndarray, ids: pd.Series) -> np.ndarray:
    outside = (values < edges[0]) | (values > edges[-1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ConfigError(
            f"parameter 'edges' for {metric} ({edges.tolist()}) does not cover value {float(values[i]):g} "
            f"of customer {ids.iloc[i]!r}; widen the first/last edge (use -.inf/.inf)"
        )
    k = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, values, side="right"), 1, k)  # [e_i, e_i+1), last closed
    return (k + 1 - idx if metric == "recency" else idx).astype(np.int64)


def check_scoring(
    scoring: str,
    *,
    bins: int = 5,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
) -> None:
    """Raise :class:`~crmlib.errors.ConfigError` for options :func:`score_rfm` would reject,
    before any data is read (a notebook checks its parameters first).

    Parameters are those of :func:`score_rfm`. Whether your edges cover every customer's value
    can only be known with the data; :func:`score_rfm` says which customer falls outside.
    """
    check_choice("scoring", scoring, SCORINGS)
    if scoring == "quantile":
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
            raise ConfigError(f"parameter 'bins' must be a whole number; got {bins!r}")
        check_range("bins", int(bins), low=2, high=10)
    elif scoring == "edges":
        if not isinstance(edges, Mapping) or set(edges) != set(METRICS):
            raise ConfigError(
                "parameter 'edges' must map each of recency, frequency, monetary to a list of bin "
                f"edges (days, orders, spend); got {edges!r}"
            )
        for metric in METRICS:
            _check_edges(metric, edges[metric])
    elif isinstance(split, Mapping):
        if set(split) != set(METRICS):
            raise ConfigError(
                "parameter 'split' as thresholds must give recency, frequency and monetary; "
                f"got {dict(split)!r}"
            )
        for metric in METRICS:
            check_range(f"split.{metric}", split[metric])
    else:
        check_choice("split", split, SPLITS)


def score_rfm(
    table: pd.DataFrame,
    *,
    scoring: str = "quantile",
    bins: int = 5,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
    monetary: str = "total",
) -> Scores:
    """Score recency, frequency and monetary value; high scores are better, high R = recent.

    Parameters
    ----------
    table
        Output of :func:`rfm_table`.
    scoring
        ``"quantile"``: ``bins`` equal-count groups of the customers ranked by value, where
        customers with equal values share their mid-rank (pandas ``rank(method="average")``) and
        so always share a score: the score is floor(p * bins) + 1 of the mid-rank percentile
        p = (rank - 1/2) / n (a percentile on a boundary goes up). Scores never depend on
        ``customer_id``. Ties can leave bins unequal or empty (most customers bought once: they
        all get one F score); ``Scores.unequal`` names those metrics and ``Scores.edges`` gives
        the actual ranges and sizes. A value every customer shares (a base of one customer)
        gets the middle score: with nobody to compare with, it is neither high nor low.
        ``"edges"``: your own bin edges per metric (``edges``). ``"highlow"``: 2 = high, 1 = low
        against ``split``.
    bins
        Number of quantile scores (2–10).
    edges
        For ``scoring="edges"``: ``{"recency": [0, 30, 90, 180, 365, .inf], "frequency": [...],
        "monetary": [...]}``, strictly increasing, in the metric's unit (days for recency). Bins
        are ``[lower, upper)`` with the last one closed. Recency bins score in reverse: the bin
        nearest 0 days gets the top score.
    split
        For ``scoring="highlow"``: ``"mean"`` or ``"median"`` of the base, or thresholds
        ``{"recency": 90, "frequency": 2, "monetary": 500}``. Tie rule: a value EQUAL to the
        reference counts as HIGH (for recency: days <= reference is high = recent). Beware the
        median on a base where most customers bought once: the median frequency is then 1 and
        every customer is high F (the edges table shows 0 customers at score 1); the mean
        separates repeat buyers.
    monetary
        ``"total"`` scores net revenue per customer, ``"aov"`` the average order value.

    Returns
    -------
    Scores
        The scored table, the bin edges actually used, the scoring and its tie rule.
    """
    check_scoring(scoring, bins=bins, edges=edges, split=split)
    check_choice("monetary", monetary, ("total", "aov"))
    missing = [
        c for c in ("customer_id", "recency_days", "frequency", "monetary", "aov") if c not in table
    ]
    if missing:
        raise DataError(
            "the RFM table lacks column(s) " + ", ".join(missing) + "; build it with rfm_table()",
            column=missing[0],
        )
    out = _sorted_by_id(table)  # a new frame (copy-on-write): the caller's table is not changed
    columns = dict(_METRIC_COLUMN, monetary="monetary" if monetary == "total" else "aov")
    rows: list[dict[str, Any]] = []
    unequal: list[str] = []  # quantile scoring: metrics whose ties made the bins unequal
    if scoring == "quantile":
        bins = int(bins)
        rule = (
            f"{bins} equal-count groups of customers ranked by value; customers with equal values "
            "share their mid-rank and so their score (score = floor(p * bins) + 1 of the mid-rank "
            "percentile p = (rank - 1/2) / n), so ties can make bins unequal; a value every "
            "customer shares gets the middle score"
        )
        untied = _untied_sizes(len(out), bins)
        for metric in METRICS:
            values = out[columns[metric]].to_numpy(dtype=float)
            oriented = -values if metric == "recency" else values
            scores = _quantile_scores(oriented, bins)
            out[_SCORE_COLUMN[metric]] = scores
            sizes = np.bincount(scores, minlength=bins + 1)[1:]
            if not np.array_equal(sizes, untied):
                unequal.append(metric)
            frame = pd.DataFrame({"score": scores, "value": values})
            grouped = frame.groupby("score")["value"].agg(["min", "max", "size"])
            for score in range(1, bins + 1):
                if score in grouped.index:
                    lo, hi, size = grouped.loc[score]
                else:
                    lo, hi, size = np.nan, np.nan, 0
                rows.append(_edge_row(metric, score, lo, hi, int(size)))
    elif scoring == "edges":
        rule = "bins are [lower, upper) with the last bin closed; recency bins score in reverse"
        for metric in METRICS:
            arr = _check_edges(metric, edges[metric])
            values = out[columns[metric]].to_numpy(dtype=float)
            scores = _edge_scores(metric, values, arr, out["customer_id"])
            out[_SCORE_COLUMN[metric]] = scores
            k = len(arr) - 1
            counts = np.bincount(scores, minlength=k + 1)
            for i in range(k):
                score = k - i if metric == "recency" else i + 1
                rows.append(_edge_row(metric, score, arr[i], arr[i + 1], int(counts[score])))
    else:
        if isinstance(split, Mapping):
            refs = {m: float(split[m]) for m in METRICS}
            how = "the given thresholds"
        else:
            refs = {
                m: float(getattr(out[columns[m]], split)()) if len(out) else np.nan for m in METRICS
            }
            how = f"the {split} of the base"
        rule = (
            f"high/low against {how}; a value equal to the reference counts as high "
            "(recency: days since the last purchase <= reference is high = recent)"
        )
        for metric in METRICS:
            values = out[columns[metric]].to_numpy(dtype=float)
            ref = refs[metric]
            high = values <= ref if metric == "recency" else values >= ref
            out[_SCORE_COLUMN[metric]] = np.where(high, 2, 1).astype(np.int64)
            lo_v = float(values.min()) if len(values) else np.nan
            hi_v = float(values.max()) if len(values) else np.nan
            n_high = int(high.sum())
            if metric == "recency":
                rows.append(_edge_row(metric, 1, ref, hi_v, len(values) - n_high))
                rows.append(_edge_row(metric, 2, lo_v, ref, n_high))
            else:
                rows.append(_edge_row(metric, 1, lo_v, ref, len(values) - n_high))
                rows.append(_edge_row(metric, 2, ref, hi_v, n_high))
    out["fm_score"] = np.ceil((out["f_score"] + out["m_score"]) / 2).astype(np.int64)
    edges_df = pd.DataFrame(rows, columns=["metric", "score", "lower", "upper", "customers"])
    return Scores(
        table=out,
        edges=edges_df,
        scoring=scoring,
        rule=rule,
        unequal=tuple(unequal),
    )


def _edge_row(metric: str, score: int, lower: float, upper: float, customers: int) -> dict:
    return {
        "metric": metric,
        "score": int(score),
        "lower": float(lower),
        "upper": float(upper),
        "customers": int(customers),
    }


# Names that moved: segments to crmlib.segments, the value matrix and revenue concentration to
# crmlib.value, words and translated tables to crmlib.present.rfm.
__getattr__ = moved(
    __name__,
    {
        name: "crmlib.segments"
        for name in (
            "Scheme",
            "Segmentation",
            "load_scheme",
            "scheme_names",
            "assign_segments",
            "segment_rfm",
            "export_segments",
        )
    }
    | {name: "crmlib.value" for name in ("value_quadrants", "pareto", "lorenz_curve", "gini")}
    | {
        name: "crmlib.present.rfm"
        for name in (
            "segment_overview",
            "segment_grid",
            "value_matrix",
            "export_lists",
            "display_table",
            "headline_findings",
            "scoring_note",
            "value_matrix_findings",
            "pareto_findings",
            "member_share_findings",
        )
    },
)
