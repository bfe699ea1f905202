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

import math
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from crmlib.compat import moved, renamed_keyword
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.data.engine import temporary
from crmlib.data.orders import orders_once
from crmlib.data.results import cached
from crmlib.errors import ConfigError
from crmlib.lifecycle_rules import (
    FLAT_RULES,
    NOT_YET,
    REACTIVATION,
    RULES,
    STAGES,
    load_rules,
    validate_rules,
)
from crmlib.lifecycle_tables import (
    StageSummary,
    latest_stages,
    no_transitions,
    stage_counts,
    stage_transitions,
    summed_counts,
)
from crmlib.periods import (
    PERIODS,
    customer_periods,
    identified_orders,
    period_end,
    period_of,
    purchase_day_table,
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
    "StageSummary",
    "stage_summary",
    "latest_stages",
    "stage_counts",
    "stage_transitions",
]


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
    days = purchase_day_table(identified_orders(transactions, as_of=as_of_ts))
    gaps = execute(days.gap_days.name("gap_days")).astype(float).dropna()
    if gaps.empty:
        return pd.Series(np.nan, index=list(quantiles), name="gap_days")
    return gaps.quantile(list(quantiles)).rename("gap_days")


@cached("customer_stages")
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
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    # the orders are read twice below: formed once (stored, or a temporary table)
    with orders_once(transactions, as_of=as_of_ts) as orders:
        cp = customer_periods(orders, freq=PERIODS[cfg["period"]])
        days = purchase_days(orders, own_median=cfg["rule"] == "own_gap")
    levels = _percentile_levels(days["gap_days"], cfg)
    return _named(*_stage_grid(cp, days, cfg=cfg, as_of=as_of_ts, levels=levels))


@cached("stage_summary")
def stage_summary(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    customers_per_chunk: int = 100_000,
    progress: bool = False,
    **overrides: Any,
) -> StageSummary:
    """The stage counts, last flows and latest stages of :func:`customer_stages`, computed
    customer chunk by customer chunk so that memory stays bounded however long the history.

    The orders are materialised once on the engine that holds them; each chunk (customers
    picked by a hash of their id) brings its periods and purchase days to pandas, is staged
    exactly as :func:`customer_stages` stages it, and is reduced to counts before the next
    chunk. The percentile rule's thresholds come from every gap of the base, as there.

    Parameters
    ----------
    transactions, as_of, params, **overrides
        As in :func:`customer_stages`.
    customers_per_chunk
        Customers staged at once; a chunk of 100,000 with 18 months of history on average
        held about 0.8 GB in ``tests/benchmarks/bench_engines.py``.
    progress
        Show a progress bar over the chunks (tqdm) on stderr.

    Returns
    -------
    StageSummary
        Equal to :func:`stage_counts`, :func:`stage_transitions` and :func:`latest_stages` of
        :func:`customer_stages`'s rows.
    """
    if isinstance(customers_per_chunk, bool) or int(customers_per_chunk) < 1:
        raise ConfigError(
            f"parameter 'customers_per_chunk' must be a whole number >= 1; got "
            f"{customers_per_chunk!r}"
        )
    cfg = load_rules(params, **overrides)
    freq = PERIODS[cfg["period"]]
    transactions = as_table(transactions)
    as_of_ts = resolve_as_of(transactions, as_of)
    last = pd.Period(as_of_ts, freq=freq)
    own = cfg["rule"] == "own_gap"
    counts, moves, latest = [], [], []
    with ExitStack() as stack:
        formed = stack.enter_context(orders_once(transactions, as_of=as_of_ts))
        n_customers = int(execute(formed.aggregate(n=formed.customer_id.nunique()))["n"].iloc[0])
        chunks = max(1, math.ceil(n_customers / int(customers_per_chunk)))
        # each order's chunk computed once, and the orders kept in chunk order: a chunk's rows
        # then sit together, and the engine reads only the blocks that hold them; only the
        # columns the stages read are kept (without the order ids: 400 -> 260 MB at 3M customers)
        kept = formed.select("customer_id", "ordered_at", "day", "amount", "purchase")
        chunked = kept.mutate(chunk=(kept.customer_id.hash() % chunks).abs())
        orders = stack.enter_context(temporary(chunked.order_by("chunk")))
        levels = None
        if cfg["rule"] == "percentile":
            gaps = purchase_day_table(orders).gap_days.name("gap_days")
            levels = _percentile_levels(execute(gaps).astype(float), cfg)
        for part in tqdm(range(chunks), disable=not progress, desc="lifecycle", unit="chunk"):
            chunk = orders
            if chunks > 1:
                chunk = orders.filter(orders.chunk == part)
            # customers as integers until the latest rows: text ids for every period of a
            # chunk's customers were taken, compared and dropped again
            rows, ids = _stage_grid(
                customer_periods(chunk, freq=freq),
                purchase_days(chunk, own_median=own, sort=False),  # ordered by code below
                cfg=cfg,
                as_of=as_of_ts,
                levels=levels,
            )
            if rows.empty:
                continue
            counts.append(stage_counts(rows))
            moves.append(stage_transitions(rows, from_period=last - 1, to_period=last))
            now = _named(latest_stages(rows, period=last), ids)
            latest.append(now)
            del rows, now  # else this chunk's rows stay alive while the next one's are formed
    if not latest:
        empty = _named(
            *_stage_grid(
                pd.DataFrame({"orders": []}), pd.DataFrame(), cfg=cfg, as_of=as_of_ts, levels=None
            )
        )
        return StageSummary(stage_counts(empty), no_transitions(last), empty, last, chunks)
    return StageSummary(
        counts=summed_counts(counts, ["period", "stage"], "customers", "share", by="period"),
        transitions=summed_counts(
            moves,
            ["from_stage", "to_stage", "from_period", "to_period"],
            "customers",
            "share_of_from",
            by="from_stage",
        ),
        latest=pd.concat(latest, ignore_index=True)
        .sort_values("customer_id", kind="stable")
        .reset_index(drop=True),
        period=last,
        chunks=chunks,
    )


#: Columns of :func:`customer_stages`.
_COLUMNS = [
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


def _named(rows: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """``rows`` of :func:`_stage_grid` with each customer's integer replaced by its text id."""
    rows["customer_id"] = ids.take(rows["customer_id"].to_numpy())
    return rows


def _stage_grid(
    cp: pd.DataFrame,
    days: pd.DataFrame,
    *,
    cfg: Mapping[str, Any],
    as_of: pd.Timestamp,
    levels: tuple[float, float] | None,
) -> tuple[pd.DataFrame, pd.Index]:
    """The stage rows of the customers in ``cp`` and ``days`` (all their periods and purchase
    days; ``levels`` are the base-wide percentile thresholds, :func:`_percentile_levels`), each
    row's customer as an integer (0, 1, …, in the order of their ids), and the ids of those
    integers (:func:`_named` puts them in): a chunk's counts and flows need no text ids, and
    only its latest period's rows are given them (:func:`stage_summary`)."""
    freq = PERIODS[cfg["period"]]
    cp = cp[cp["orders"] > 0]
    if cp.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in _COLUMNS})
        out["customer_id"] = out["customer_id"].astype("int64")
        out["period"] = pd.Series(dtype=f"period[{freq}]")
        out["stage"] = pd.Categorical([], categories=STAGES, ordered=True)
        out["purchased"] = out["purchased"].astype(bool)
        return out, pd.Index([], dtype="str")

    # customers as integer codes in the order of their ids (grouping and looking up text ids
    # of a million customers costs seconds; the ids come back once, on the finished grid)
    codes, ids = pd.factorize(
        pd.concat([cp["customer_id"], days["customer_id"]], ignore_index=True), sort=True
    )
    cp = cp.assign(code=codes[: len(cp)])
    # purchase days in customer and day order, by the integer codes (the last day of each
    # period is taken below)
    day_code = codes[len(cp) :]
    order = np.lexsort((days["day"].to_numpy(), day_code))
    days = days.drop(columns="customer_id").take(order).assign(code=day_code[order])
    days["period"] = period_of(days["day"], freq=freq)
    if cfg["rule"] != "own_gap":
        days["own_median_gap"] = np.nan
    days["n_gaps"] = days["day_number"] - 1
    at_period = days.groupby(["code", "period"], sort=False).last()[
        ["day", "day_number", "own_median_gap", "n_gaps"]
    ]

    # full grid: every customer from the first purchase period to the as_of period, laid out
    # customer by customer, so row (customer c, period o) sits at start[c] + o - first[c]
    last_ord = pd.Period(as_of, freq=freq).ordinal
    first = cp.groupby("code")["period"].min()
    first_ord = first.array.asi8
    row_of = np.full(len(ids), -1, dtype=np.int64)
    row_of[first.index.to_numpy()] = np.arange(len(first))
    counts = last_ord - first_ord + 1
    start = np.cumsum(counts) - counts
    n_rows = int(counts.sum())
    owner = np.repeat(np.arange(len(first)), counts)
    ords = np.arange(n_rows) - start[owner] + first_ord[owner]
    grid = pd.DataFrame(
        {"customer_id": owner, "period": pd.PeriodIndex.from_ordinals(ords, freq=freq)}
    )
    grid["is_first"] = first_ord[owner] == ords

    def positions(frame: pd.DataFrame) -> np.ndarray:
        code = row_of[frame["code"].to_numpy()]
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

    ref = np.minimum(period_end(grid["period"]), np.datetime64(as_of.date(), "D"))
    last_day = grid["day"].values.astype("datetime64[D]")
    grid["recency_days"] = (ref - last_day).astype("int64")
    repeat = grid["day_number"].to_numpy() >= 2
    at_risk, churned = _thresholds(grid, repeat, cfg, levels)
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
        [STAGES.index(s) for s in ("new", "reactivated", "active", "churned", "at_risk")],
        default=STAGES.index("active"),
    )  # codes of the stages: a categorical from millions of texts would be built by hashing
    grid["stage"] = pd.Categorical.from_codes(stage, categories=STAGES, ordered=True)
    grid["last_purchase"] = grid["day"]
    grid["purchase_days"] = grid["day_number"].astype("int64")
    return grid[_COLUMNS], ids.take(first.index.to_numpy())


def _percentile_levels(gaps: pd.Series, cfg: Mapping[str, Any]) -> tuple[float, float] | None:
    """The percentile rule's at-risk and churn thresholds from every gap of the base (None for
    the other rules, or when nobody bought on two different days)."""
    gaps = gaps.dropna()
    if cfg["rule"] != "percentile" or gaps.empty:
        return None
    pct = cfg["percentile"]
    q_at, q_ch = (float(v) for v in gaps.quantile([pct["at_risk"], pct["churned"]]))
    if q_ch <= q_at:  # heavy ties in the gap distribution: keep the two stages apart
        q_ch = q_at + 1
    return q_at, q_ch


def _thresholds(
    grid: pd.DataFrame,
    repeat: np.ndarray,
    cfg: Mapping[str, Any],
    levels: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    win = cfg["window"]
    win_at = np.where(repeat, win["at_risk_days"], win["one_time_at_risk_days"]).astype(float)
    win_ch = np.where(repeat, win["churned_days"], win["one_time_churned_days"]).astype(float)
    if cfg["rule"] == "window":
        return win_at, win_ch
    if cfg["rule"] == "percentile":
        if levels is None:  # nobody bought twice: the one-time windows
            return (
                np.full(len(grid), float(win["one_time_at_risk_days"])),
                np.full(len(grid), float(win["one_time_churned_days"])),
            )
        return np.full(len(grid), levels[0]), np.full(len(grid), levels[1])
    own = cfg["own_gap"]
    med = grid["own_median_gap"].to_numpy(dtype=float)
    enough = grid["n_gaps"].to_numpy(dtype=float) >= own["min_gaps"]
    at = np.where(enough, own["k_at_risk"] * med, win_at)
    ch = np.where(enough, own["k_churned"] * med, win_ch)
    return at, ch


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
