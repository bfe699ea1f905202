"""Channels, touchpoints, member services and the online funnel.

* :func:`channel_trends` and :func:`multichannel`: revenue by channel and period, and how
  customers who buy in several channels differ from single-channel customers;
* :func:`touchpoint_counts`, :func:`touchpoint_effects` and :func:`complaint_churn`: what
  customers do after a touchpoint (an inquiry, a complaint, a message click ...);
* :func:`service_usage`: members who use the services (levels, points, coupons) against the rest;
* :func:`funnel`: conversion through the online funnel (visit → view → cart → pay).

Numbers only: the findings and display tables are in :mod:`crmlib.present.campaigns`.
Transaction-level work runs as Ibis expressions (:mod:`crmlib.data`); per-customer and smaller
results are pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib.basket.arrays import distinct
from crmlib.campaigns import uplift_interval
from crmlib.config import check_choice, check_range
from crmlib.data import as_table, execute, parse_day, resolve_as_of
from crmlib.data.results import cached
from crmlib.errors import ConfigError
from crmlib.membership import ascending, isin, positions
from crmlib.stats import wilson_interval

__all__ = [
    "FUNNEL_MODELS",
    "FUNNEL_STEPS",
    "channel_trends",
    "complaint_churn",
    "funnel",
    "multichannel",
    "service_usage",
    "touchpoint_counts",
    "touchpoint_effects",
]

#: Steps of the online funnel in the events table, in order.
FUNNEL_STEPS: tuple[str, ...] = ("visit", "view", "cart", "pay")
#: Practitioner funnel models whose stage names can label the steps (labels/campaigns.yaml).
FUNNEL_MODELS: tuple[str, ...] = ("steps", "aidma", "aisas", "aarrr")


_PERIOD_UNITS = {"month": "M", "quarter": "Q", "year": "Y"}
_USAGE_COLUMNS = ("service", "group", "customers", "share", "revenue_per_customer",
                  "orders_per_customer", "retention_rate")  # fmt: skip


def _end_bound(day: pd.Timestamp) -> Any:
    """Exclusive upper timestamp bound: the start of the day after ``day``."""
    return ibis.literal((day + pd.Timedelta(days=1)).to_pydatetime())


# --------------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------------


@cached("channel_trends")
def channel_trends(transactions: Any, *, period: str = "month", as_of: Any = None) -> pd.DataFrame:
    """Revenue, orders, customers and average order value by channel and period.

    Parameters
    ----------
    transactions
        Canonical transactions.
    period
        ``"month"``, ``"quarter"`` or ``"year"``.
    as_of
        Last day counted (ISO date); default: the last complete day of the data (:func:`crmlib.data.resolve_as_of`).

    Returns
    -------
    pandas.DataFrame
        ``period`` (start date of the period), ``channel, revenue, orders, customers``
        (identified customers with a purchase) and ``aov`` (revenue / orders).
    """
    check_choice("period", period, tuple(_PERIOD_UNITS))
    tx = as_table(transactions)
    day = resolve_as_of(tx, as_of)
    tx = tx.filter(tx.ordered_at < _end_bound(day))
    tx = tx.mutate(
        period=tx.ordered_at.truncate(_PERIOD_UNITS[period]).date(),
        channel=tx.channel.fill_null("unknown"),
        purchase=tx.amount.isnull() | (tx.amount >= 0),
    )
    agg = tx.group_by(["period", "channel"]).aggregate(
        revenue=tx.amount.sum(),
        orders=tx.order_id.nunique(where=tx.purchase),
        customers=tx.customer_id.nunique(where=tx.purchase & tx.customer_id.notnull()),
    )
    out = execute(agg)
    out["period"] = pd.to_datetime(out["period"])
    out["revenue"] = out["revenue"].astype(float).fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["aov"] = np.where(out["orders"] > 0, out["revenue"] / out["orders"], np.nan)
    out = out.sort_values(["period", "channel"], kind="stable").reset_index(drop=True)
    out.attrs["period"] = period
    return out


@cached("customer_channels")
def _customer_channels(transactions: Any, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per identified customer who bought up to the end of the ``as_of`` day: distinct known
    ``channels`` bought in, purchase ``orders``, ``revenue``, ``first_purchase`` and
    ``last_purchase``, sorted by ``customer_id``. Three analyses start from it
    (:func:`multichannel`, :func:`complaint_churn`, :func:`service_usage`); the run cache
    computes it once for them."""
    tx = as_table(transactions)
    tx = tx.filter(tx.customer_id.notnull(), tx.ordered_at < _end_bound(as_of))
    purchase = tx.amount.isnull() | (tx.amount >= 0)
    known = purchase & tx.channel.notnull() & (tx.channel != "unknown")
    # in two steps, lines to orders to customers, and the distinct channels apart: distinct
    # counts per customer over every line were a third slower on the embedded engine
    per_order = tx.group_by(["customer_id", "order_id"]).aggregate(
        bought=purchase.any(),
        revenue=tx.amount.sum(),
        first=tx.ordered_at.min(where=purchase),
        last=tx.ordered_at.max(where=purchase),
    )
    per_customer = per_order.group_by("customer_id").aggregate(
        orders=per_order.count(where=per_order.bought & per_order.order_id.notnull()),
        revenue=per_order.revenue.sum(),
        first_purchase=per_order["first"].min(),
        last_purchase=per_order["last"].max(),
    )
    pairs = tx.filter(known).select("customer_id", "channel").distinct()
    channels = pairs.group_by("customer_id").aggregate(channels=pairs.count())
    agg = per_customer.left_join(channels, "customer_id").select(
        per_customer.customer_id,
        channels=ibis.coalesce(channels.channels, 0),
        orders=per_customer.orders,
        revenue=per_customer.revenue,
        first_purchase=per_customer.first_purchase,
        last_purchase=per_customer.last_purchase,
    )
    # sorted by the engine (1.2 s at 3M customers), where service_usage sorted in pandas (2 s)
    out = execute(agg.filter(agg.orders > 0).order_by("customer_id"))
    out["revenue"] = out["revenue"].astype(float).fillna(0.0)
    return out


@cached("multichannel")
def multichannel(transactions: Any, *, as_of: Any = None, active_days: int = 365) -> pd.DataFrame:
    """Customers who buy in several channels versus one: share, spend and retention.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date (ISO date); default: the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    active_days
        A customer counts as retained when their last purchase lies within this many days
        before ``as_of``; only customers whose first purchase is older than that count in
        ``retention_rate``.

    Returns
    -------
    pandas.DataFrame
        One row per group ``single`` / ``multi``: ``customers, share, revenue_per_customer,
        orders_per_customer, aov, retention_base, retention_rate``. Multi-channel customers
        have more orders by construction (one order cannot span channels): compare at equal
        order counts before reading the difference as an effect.
    """
    check_range("active_days", active_days, low=1)
    day = resolve_as_of(transactions, as_of)
    cust = _customer_channels(transactions, as_of=day)
    cust["group"] = np.where(cust["channels"] >= 2, "multi", "single")
    cut = day - pd.Timedelta(days=int(active_days))
    cust["eligible"] = cust["first_purchase"] < cut
    cust["retained"] = cust["eligible"] & (cust["last_purchase"] >= cut)
    g = cust.groupby("group").agg(
        customers=("customer_id", "size"),
        revenue=("revenue", "sum"),
        orders=("orders", "sum"),
        retention_base=("eligible", "sum"),
        retained=("retained", "sum"),
    )
    g = g.reindex(["single", "multi"], fill_value=0).reset_index()
    total = g["customers"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["share"] = g["customers"] / total if total else np.nan
        g["revenue_per_customer"] = g["revenue"] / g["customers"]
        g["orders_per_customer"] = g["orders"] / g["customers"]
        g["aov"] = g["revenue"] / g["orders"]
        g["retention_rate"] = g["retained"] / g["retention_base"]
    cols = ["group", "customers", "share", "revenue_per_customer", "orders_per_customer", "aov",
            "retention_base", "retention_rate"]  # fmt: skip
    return g[cols]


# --------------------------------------------------------------------------------------------
# touchpoints
# --------------------------------------------------------------------------------------------
def touchpoint_counts(touchpoints: Any, *, as_of: Any = None) -> pd.DataFrame:
    """Touchpoints by channel and kind.

    Parameters
    ----------
    touchpoints
        Canonical ``touchpoints`` table.
    as_of
        Last day counted (ISO date); default: every touchpoint.

    Returns
    -------
    pandas.DataFrame
        ``channel, kind, touches, customers`` (distinct customers), sorted by kind and channel.
    """
    tp = as_table(touchpoints, table="touchpoints")
    day = parse_day(as_of)
    if day is not None:
        tp = tp.filter(tp.occurred_at < _end_bound(day))
    tp = tp.mutate(channel=tp.channel.fill_null("unknown"), kind=tp.kind.fill_null("unknown"))
    agg = tp.group_by(["channel", "kind"]).aggregate(
        touches=tp.count(), customers=tp.customer_id.nunique()
    )
    return execute(agg).sort_values(["kind", "channel"], kind="stable").reset_index(drop=True)


def _purchase_days(transactions: Any, day: pd.Timestamp) -> pd.DataFrame:
    tx = as_table(transactions)
    tx = tx.filter(
        tx.customer_id.notnull(),
        tx.ordered_at < _end_bound(day),
        tx.amount.isnull() | (tx.amount >= 0),
    )
    # customers as 64-bit hashes and days as day numbers: integers reach pandas in
    # milliseconds, 10M text ids and dates take seconds (two customers share a hash with
    # probability about n² / 2⁶⁵, 2e-7 for 3M customers)
    days = tx.select(customer=tx.customer_id.hash(), day=tx.ordered_at.date().epoch_days())
    return execute(days.distinct())


def _base_rates(key: np.ndarray, scale: int, s_rel: np.ndarray, window_days: int) -> np.ndarray:
    """Per month start s (``s_rel``: sorted days after the origin): among customers whose first
    purchase is before s, the share buying on a day in [s, s + window_days). ``key`` holds the
    purchase days as sorted ``customer code × scale + days after origin``; each day is matched
    to the (at most few) month starts whose window holds it."""
    if not len(key):  # nobody bought: no base
        return np.full(len(s_rel), np.nan)
    code, day = key // scale, key % scale
    opens = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])  # each customer's first day
    first = day[opens]
    first_of = np.repeat(first, np.diff(np.r_[opens, len(key)]))
    # month starts with s <= day < s + window_days, as an index range per purchase day
    j_lo = np.searchsorted(s_rel, day - int(window_days), side="right")
    j_hi = np.searchsorted(s_rel, day, side="right")
    n = j_hi - j_lo
    row = np.repeat(np.arange(len(day)), n)
    j = j_lo[row] + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    keep = first_of[row] < s_rel[j]
    # (customer, month start) pairs: the rows ascend by customer, so the keys come nearly sorted
    bought = distinct(code[row][keep] * len(s_rel) + j[keep], nearly_sorted=True) % len(s_rel)
    buyers = np.bincount(bought, minlength=len(s_rel))
    acquired = np.searchsorted(np.sort(first), s_rel, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(acquired > 0, buyers / acquired, np.nan)


@cached("touchpoint_effects")
def touchpoint_effects(
    touchpoints: Any,
    transactions: Any,
    *,
    window_days: int = 30,
    as_of: Any = None,
) -> pd.DataFrame:
    """Purchase rate in the ``window_days`` after a touchpoint, by kind, against the base.

    A touch is *followed by a purchase* when its customer buys on one of the ``window_days``
    days after the touch day. The base rate is what any customer does: for each calendar month,
    the share of customers (first purchase before the month) who buy within ``window_days``
    of the month's first day, weighted by the months of the touches of the kind. Only touches
    whose window ends by ``as_of`` count.

    Parameters
    ----------
    touchpoints, transactions
        Canonical ``touchpoints`` and transactions.
    window_days
        Days after the touch day in which a purchase counts.
    as_of
        Analysis date (ISO date); default: the last complete day of the data (:func:`crmlib.data.resolve_as_of`).

    Returns
    -------
    pandas.DataFrame
        ``kind, touches, customers, purchase_rate, base_rate, lift`` (purchase_rate / base_rate).
    """
    check_range("window_days", window_days, low=1)
    day = resolve_as_of(transactions, as_of)
    tp = as_table(touchpoints, table="touchpoints")
    last_touch = day - pd.Timedelta(days=int(window_days))
    tp = tp.filter(tp.customer_id.notnull(), tp.occurred_at < _end_bound(last_touch))
    touch_day = tp.occurred_at.date().epoch_days()  # as _purchase_days: integers
    touches = execute(tp.select(customer=tp.customer_id.hash(), kind=tp.kind, touch=touch_day))
    if touches.empty:
        return pd.DataFrame(
            columns=["kind", "touches", "customers", "purchase_rate", "base_rate", "lift"]
        )
    touches["kind"] = touches["kind"].fillna("unknown").astype(str)
    days = _purchase_days(transactions, day)
    # customers as small integer codes, for keys of customer and day
    hashes = [days["customer"].to_numpy(np.int64), touches["customer"].to_numpy(np.int64)]
    codes = pd.factorize(np.concatenate(hashes))[0].astype(np.int64)
    d_code, t_code = codes[: len(days)], codes[len(days) :]
    scale = 100_000  # days in the key space per customer
    touch = touches["touch"].to_numpy(np.int64)
    origin = int(min(days["day"].min(), touch.min())) if len(days) else int(touch.min())
    key = np.sort(d_code * scale + (days["day"].to_numpy(np.int64) - origin))
    t_num = touch - origin
    needle = t_code * scale + t_num
    # searched in sorted order, each search starts where the last one ended: at 3M customers
    # five times faster than in the touches' order
    order = np.argsort(needle, kind="stable")
    lo = np.searchsorted(key, needle[order], side="right")
    hi = np.searchsorted(key, needle[order] + int(window_days), side="right")
    bought = np.empty(len(needle), dtype=bool)
    bought[order] = hi > lo
    touches["bought"] = bought
    touches["customer_code"] = t_code  # counted as integers, not as text
    # base: per month start, share of acquired customers buying in the window after it
    month = touch.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
    month = month.astype(np.int64) - origin  # each touch's month start, days after the origin
    starts = np.sort(pd.unique(month))
    rates = _base_rates(key, scale, starts, window_days)
    touches["base"] = rates[np.searchsorted(starts, month)]
    g = touches.groupby("kind").agg(
        touches=("bought", "size"),
        customers=("customer_code", "nunique"),
        purchase_rate=("bought", "mean"),
        base_rate=("base", "mean"),
    )
    g = g.reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["lift"] = g["purchase_rate"] / g["base_rate"]
    g.attrs["window_days"] = int(window_days)
    return g.sort_values("touches", ascending=False, kind="stable").reset_index(drop=True)


@cached("complaint_churn")
def complaint_churn(
    touchpoints: Any,
    transactions: Any,
    *,
    kind: str = "complaint",
    churn_days: int = 180,
    as_of: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Churn rate of customers with a touchpoint of ``kind`` (complaints) versus the others.

    A customer has churned when their last purchase is more than ``churn_days`` before
    ``as_of``; only customers whose first purchase is older than that are counted.

    Parameters
    ----------
    touchpoints, transactions
        Canonical ``touchpoints`` and transactions.
    kind
        Touchpoint kind that marks the compared group.
    churn_days
        Days without a purchase after which a customer has churned.
    as_of
        Analysis date (ISO date); default: the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    confidence
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Rows ``with_kind`` / ``others``: ``group, customers, churned, churn_rate, low, high``
        (Wilson interval), and ``attrs["difference"]`` with the difference and its Newcombe
        interval.
    """
    check_range("churn_days", churn_days, low=1)
    day = resolve_as_of(transactions, as_of)
    tp = as_table(touchpoints, table="touchpoints")
    tp = tp.filter(tp.kind == kind, tp.occurred_at < _end_bound(day), tp.customer_id.notnull())
    who = set(execute(tp.select("customer_id").distinct())["customer_id"].astype(str))
    cust = _customer_channels(transactions, as_of=day)
    cut = day - pd.Timedelta(days=int(churn_days))
    cust = cust[cust["first_purchase"] < cut].copy()
    cust["churned"] = cust["last_purchase"] < cut
    cust["group"] = np.where(isin(cust["customer_id"].astype(str), who), "with_kind", "others")
    g = cust.groupby("group").agg(customers=("churned", "size"), churned=("churned", "sum"))
    g = g.reindex(["with_kind", "others"], fill_value=0).reset_index()
    g["churned"] = g["churned"].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        g["churn_rate"] = g["churned"] / g["customers"]
    g["low"], g["high"] = wilson_interval(g["churned"], g["customers"], confidence=confidence)
    d, lo, hi = uplift_interval(
        g.loc[0, "churned"], g.loc[0, "customers"], g.loc[1, "churned"], g.loc[1, "customers"],
        confidence=confidence,
    )  # fmt: skip
    g.attrs["difference"] = {"difference": float(d), "low": float(lo), "high": float(hi)}
    g.attrs["kind"] = kind
    g.attrs["churn_days"] = int(churn_days)
    return g


# --------------------------------------------------------------------------------------------
# member services
# --------------------------------------------------------------------------------------------
def _usage_by_group(cust: pd.DataFrame, service: str, group: Any) -> pd.DataFrame:
    """Customers, revenue, orders, retention base and retained per group of one service, groups
    in order of first appearance, a missing group as "unknown" (one service at a time: a
    million customers are not copied per service)."""
    codes, labels = pd.factorize(pd.Series(group, index=cust.index), use_na_sentinel=True)
    codes = np.where(codes < 0, len(labels), codes)
    names = np.array([str(v) for v in labels] + ["unknown"], dtype=object)
    numbers = cust[["revenue", "orders", "eligible", "retained"]]
    g = numbers.groupby(codes, sort=False).agg(
        customers=("revenue", "size"),
        revenue=("revenue", "sum"),
        orders=("orders", "sum"),
        base=("eligible", "sum"),
        retained=("retained", "sum"),
    )
    return pd.concat(
        [pd.DataFrame({"service": service, "group": names[g.index.to_numpy()]}),
         g.reset_index(drop=True)],
        axis=1,
    )  # fmt: skip


@cached("service_usage")
def service_usage(
    customers: Any,
    transactions: Any,
    *,
    as_of: Any = None,
    active_days: int = 365,
    level_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """How members who use the services differ: member levels, points, coupons.

    Groups: ``member_level`` (each level), ``points`` (members with points > 0 vs none) and
    ``coupon`` (customers who used any coupon vs never). Where the data lacks a column (no
    customers table, no points, no coupon codes) the group is left out.

    Parameters
    ----------
    customers
        Canonical ``customers`` table (``member_level``, ``points``), or None.
    transactions
        Canonical transactions.
    as_of
        Analysis date (ISO date); default: the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    active_days
        Retention window in days.
    level_order
        Member levels in display order (other levels follow).

    Returns
    -------
    pandas.DataFrame
        ``service, group, customers, share`` (of buyers in the service's rows),
        ``revenue_per_customer, orders_per_customer, retention_rate`` (last purchase within
        ``active_days``, among customers whose first purchase is older).
    """
    check_range("active_days", active_days, low=1)
    day = resolve_as_of(transactions, as_of)
    tx = as_table(transactions)
    cust = _customer_channels(transactions, as_of=day)
    t2 = tx.filter(tx.customer_id.notnull(), tx.ordered_at < _end_bound(day))
    # orders with a coupon per customer who used one (the others get none below): grouping
    # only the coupon lines, not every line of the base
    with_coupon = t2.filter(t2.coupon_code.notnull() & (t2.coupon_code != ""))
    coupon = execute(
        with_coupon.group_by("customer_id").aggregate(coupons=with_coupon.order_id.nunique())
    )
    # one count per customer who used one, placed by id: a left merge on 3M text ids cost 1 s
    at = positions(cust["customer_id"], coupon["customer_id"])
    used = coupon["coupons"].to_numpy(dtype=np.int64)
    cust["coupons"] = np.where(at >= 0, used[np.maximum(at, 0)] if len(used) else 0, 0)
    # groups are listed in order of first appearance by id: the engine sorted the customers,
    # unless another engine's collation orders text otherwise
    if not ascending(cust["customer_id"]):
        cust = cust.sort_values("customer_id", kind="stable", ignore_index=True)
    cut = day - pd.Timedelta(days=int(active_days))
    cust["eligible"] = cust["first_purchase"] < cut
    cust["retained"] = cust["eligible"] & (cust["last_purchase"] >= cut)
    groups: list[tuple[str, Any]] = []  # (service, each customer's group)
    if customers is not None:
        members = execute(
            as_table(customers, table="customers").select("customer_id", "member_level", "points")
        )
        cust = cust.merge(members, on="customer_id", how="left")
        if cust["member_level"].notna().any():
            groups.append(("member_level", cust["member_level"]))
        if cust["points"].notna().any():
            has = np.where(cust["points"].fillna(0) > 0, "with_points", "no_points")
            groups.append(("points", has))
    if cust["coupons"].gt(0).any():
        used = np.where(cust["coupons"] > 0, "coupon_user", "no_coupon")
        groups.append(("coupon", used))
    if not groups:
        return pd.DataFrame(columns=list(_USAGE_COLUMNS))
    g = pd.concat([_usage_by_group(cust, service, group) for service, group in groups],
                  ignore_index=True)  # fmt: skip
    g["share"] = g["customers"] / g.groupby("service")["customers"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        g["revenue_per_customer"] = g["revenue"] / g["customers"]
        g["orders_per_customer"] = g["orders"] / g["customers"]
        g["retention_rate"] = g["retained"] / g["base"]
    if level_order:
        rank = {v: i for i, v in enumerate(level_order)}
        g["_r"] = [rank.get(v, len(rank)) if s == "member_level" else 0
                   for s, v in zip(g["service"], g["group"], strict=True)]  # fmt: skip
        g = g.sort_values(["service", "_r"], kind="stable").drop(columns="_r")
    return g[list(_USAGE_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# funnel
# --------------------------------------------------------------------------------------------
@cached("funnel")
def funnel(
    events: Any,
    *,
    steps: Sequence[str] = FUNNEL_STEPS,
    count: str = "events",
    start: Any = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """Conversion through the online funnel (visit → view → cart → pay) and where people drop.

    Parameters
    ----------
    events
        Canonical ``events`` table (``customer_id, occurred_at, event``).
    steps
        Event names in funnel order.
    count
        ``"events"``: every event is one session reaching that step (the demo and most web
        analytics exports log one event per session and step); ``"customers"``: distinct
        customers reaching the step.
    start, as_of
        Optional first and last day of the window (ISO dates).

    Returns
    -------
    pandas.DataFrame
        ``step, position, count, rate_from_previous, rate_from_first, dropped`` (lost before the
        next step) and ``drop_share`` (dropped / count).
    """
    check_choice("count", count, ("events", "customers"))
    steps = list(steps)
    if len(steps) < 2 or len(set(steps)) != len(steps):
        raise ConfigError(f"parameter 'steps' must list two or more distinct events; got {steps!r}")
    ev = as_table(events, table="events")
    lo, hi = parse_day(start, name="start"), parse_day(as_of)
    if lo is not None:
        ev = ev.filter(ev.occurred_at >= ibis.literal(lo.to_pydatetime()))
    if hi is not None:
        ev = ev.filter(ev.occurred_at < _end_bound(hi))
    ev = ev.filter(ev.event.isin(steps))
    value = ev.count() if count == "events" else ev.customer_id.nunique()
    got = execute(ev.group_by("event").aggregate(n=value))
    n = got.set_index("event")["n"].reindex(steps, fill_value=0).astype("int64")
    out = pd.DataFrame({"step": steps, "position": np.arange(1, len(steps) + 1), "count": n.values})
    with np.errstate(divide="ignore", invalid="ignore"):
        prev = out["count"].shift(1)
        out["rate_from_previous"] = np.where(prev > 0, out["count"] / prev, np.nan)
        out.loc[0, "rate_from_previous"] = 1.0
        first = out["count"].iloc[0]
        out["rate_from_first"] = out["count"] / first if first else np.nan
        nxt = out["count"].shift(-1).fillna(out["count"].iloc[-1])
        out["dropped"] = (out["count"] - nxt).astype("int64")
        out["drop_share"] = np.where(out["count"] > 0, out["dropped"] / out["count"], np.nan)
    return out
