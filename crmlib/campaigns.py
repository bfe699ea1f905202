"""Campaign response and control-group uplift, channels, touchpoints, member services, funnels.

Campaign response follows the members of each campaign (``campaign_members``: target or control,
``sent_at``) into the transactions: a member *responds* when they buy (a line with a
non-negative amount) within ``response_days`` after ``sent_at``. Uplift is the target response
rate minus the control response rate, with the Newcombe hybrid score interval for a difference
of two independent proportions (Newcombe 1998, method 10, built from two Wilson intervals);
relative uplift is uplift / control rate. Transaction-level work runs as Ibis expressions
(:mod:`crmlib.data`); per-campaign and per-customer results are pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from crmlib import reporting
from crmlib.config import check_choice, check_range
from crmlib.data import as_table, execute, parse_day, resolve_as_of
from crmlib.errors import DataError
from crmlib.i18n import check_language, labels, t
from crmlib.stats import wilson_interval

#: Steps of the online funnel in the events table, in order.
FUNNEL_STEPS: tuple[str, ...] = ("visit", "view", "cart", "pay")
#: Practitioner funnel models whose stage names can label the steps (labels/campaigns.yaml).
FUNNEL_MODELS: tuple[str, ...] = ("steps", "aidma", "aisas", "aarrr")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _end_bound(day: pd.Timestamp) -> Any:
    """Exclusive upper timestamp bound: the start of the day after ``day``."""
    return ibis.literal((day + pd.Timedelta(days=1)).to_pydatetime())


def uplift_interval(
    x_target: Any,
    n_target: Any,
    x_control: Any,
    n_control: Any,
    *,
    confidence: float = 0.95,
    method: str = "newcombe",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two proportions (target - control) with a confidence interval.

    Parameters
    ----------
    x_target, n_target, x_control, n_control
        Responders and members of the target and the control group (scalars or arrays).
    confidence
        Two-sided confidence level.
    method
        ``"newcombe"``: hybrid score interval from two Wilson intervals (Newcombe 1998,
        method 10; good coverage with small groups and rates near 0); ``"wald"``: normal
        approximation p1 - p2 ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).

    Returns
    -------
    (uplift, low, high)
        Arrays; NaN where either group is empty.
    """
    check_choice("method", method, ("newcombe", "wald"))
    x1, n1 = np.asarray(x_target, float), np.asarray(n_target, float)
    x2, n2 = np.asarray(x_control, float), np.asarray(n_control, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        d = p1 - p2
        if method == "wald":
            z = stats.norm.ppf(0.5 + confidence / 2)
            half = z * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
            low, high = d - half, d + half
        else:
            l1, u1 = wilson_interval(x1, n1, confidence=confidence)
            l2, u2 = wilson_interval(x2, n2, confidence=confidence)
            low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
            high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    bad = (n1 <= 0) | (n2 <= 0)
    return (
        np.where(bad, np.nan, d),
        np.where(bad, np.nan, low),
        np.where(bad, np.nan, high),
    )


# --------------------------------------------------------------------------------------------
# campaign response
# --------------------------------------------------------------------------------------------
def member_responses(
    members: Any,
    transactions: Any,
    *,
    campaigns: Any = None,
    response_days: float = 14.0,
) -> pd.DataFrame:
    """Per campaign member: did they buy within ``response_days`` after ``sent_at``, and how much.

    Parameters
    ----------
    members
        Canonical ``campaign_members`` (``campaign_id, customer_id, group, sent_at``).
    transactions
        Canonical transactions.
    campaigns
        Canonical ``campaigns``; when given, ``coupon_orders`` counts the member's orders in the
        window that carry the campaign's ``coupon_code``.
    response_days
        Response window in days after ``sent_at`` (the purchase must fall in
        ``[sent_at, sent_at + response_days)``).

    Returns
    -------
    pandas.DataFrame
        ``campaign_id, customer_id, group, sent_at, responded`` (bool), ``orders`` (orders with a
        purchase in the window), ``revenue`` (net, returns included) and ``coupon_orders``.
        ``attrs["members"]`` counts what happened to the member rows: ``read``, ``used``,
        ``sent_at_from_campaign`` (no ``sent_at``: the campaign's ``starts_at`` was used),
        ``dropped_no_send_date`` (neither date known), ``dropped_missing_customer`` and
        ``dropped_unknown_group`` (a group other than target or control; loading quarantines
        these already, so this counts only tables that did not go through
        :func:`crmlib.data.load_dataset`). Nothing is left out without a count.
    """
    check_range("response_days", response_days, low=0, low_inclusive=False)
    m = as_table(members, table="campaign_members")
    tx = as_table(transactions)
    tx = tx.filter(tx.customer_id.notnull())
    group = m.group.strip().lower()
    m = m.mutate(group=group)
    if campaigns is not None:
        c = as_table(campaigns, table="campaigns").select("campaign_id", "coupon_code", "starts_at")
        c = c.rename(campaign_code="coupon_code", campaign_start="starts_at")
        m = m.left_join(c, "campaign_id").select(*m.columns, "campaign_code", "campaign_start")
    else:
        m = m.mutate(campaign_code=ibis.null("string"), campaign_start=ibis.null("timestamp"))
    known_group = m.group.isin(["target", "control"])
    counts = execute(
        m.aggregate(
            read=m.count(),
            dropped_missing_customer=m.count(where=m.customer_id.isnull()),
            dropped_unknown_group=m.count(
                where=m.customer_id.notnull() & (m.group.isnull() | ~known_group)
            ),
            sent_at_from_campaign=m.count(
                where=m.customer_id.notnull()
                & known_group
                & m.sent_at.isnull()
                & m.campaign_start.notnull()
            ),
            dropped_no_send_date=m.count(
                where=m.customer_id.notnull()
                & known_group
                & m.sent_at.isnull()
                & m.campaign_start.isnull()
            ),
        )
    ).iloc[0]
    tally = {k: int(v) for k, v in counts.items()}
    m = m.mutate(sent_at=m.sent_at.fill_null(m.campaign_start))
    m = m.filter(m.customer_id.notnull(), known_group, m.sent_at.notnull())
    seconds = int(round(float(response_days) * 86400))
    t_ = tx.select(
        tx_customer="customer_id", ordered_at="ordered_at", amount="amount", order_id="order_id",
        coupon_code="coupon_code",
    )  # fmt: skip
    joined = m.join(
        t_,
        [
            m.customer_id == t_.tx_customer,
            t_.ordered_at >= m.sent_at,
            t_.ordered_at < m.sent_at + ibis.interval(seconds=seconds),
        ],
    )
    purchase = joined.amount.isnull() | (joined.amount >= 0)
    agg = joined.group_by(["campaign_id", "customer_id", "group", "sent_at"]).aggregate(
        orders=joined.order_id.nunique(where=purchase),
        revenue=joined.amount.sum(),
        coupon_orders=joined.order_id.nunique(
            where=joined.coupon_code.notnull() & (joined.coupon_code == joined.campaign_code)
        ),
    )
    base = execute(m.select("campaign_id", "customer_id", "group", "sent_at"))
    hits = execute(agg)
    out = base.merge(hits, on=["campaign_id", "customer_id", "group", "sent_at"], how="left")
    for col in ("orders", "coupon_orders"):
        out[col] = out[col].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].astype("float64").fillna(0.0)
    out["responded"] = out["orders"] > 0
    cols = ["campaign_id", "customer_id", "group", "sent_at", "responded", "orders", "revenue",
            "coupon_orders"]  # fmt: skip
    out = out[cols].sort_values(["campaign_id", "customer_id"], kind="stable")
    out = out.reset_index(drop=True)
    tally["used"] = len(out)
    out.attrs["members"] = tally
    return out


def _uplift_table(
    responses: pd.DataFrame, keys: list[str], *, confidence: float, method: str
) -> pd.DataFrame:
    """Target/control counts, rates, uplift with CI and revenue per recipient per ``keys``."""
    r = responses.copy()
    r["is_target"] = r["group"] == "target"
    r["is_control"] = r["group"] == "control"
    r["t_resp"] = r["responded"] & r["is_target"]
    r["c_resp"] = r["responded"] & r["is_control"]
    r["t_rev"] = np.where(r["is_target"], r["revenue"], 0.0)
    r["c_rev"] = np.where(r["is_control"], r["revenue"], 0.0)
    r["t_coupon"] = np.where(r["is_target"], r["coupon_orders"], 0)
    g = r.groupby(keys, sort=True, observed=True).agg(
        targets=("is_target", "sum"),
        controls=("is_control", "sum"),
        responders=("t_resp", "sum"),
        control_responders=("c_resp", "sum"),
        target_revenue=("t_rev", "sum"),
        control_revenue=("c_rev", "sum"),
        coupon_orders=("t_coupon", "sum"),
    )
    g = g.reset_index()
    n1, n2 = g["targets"].to_numpy(float), g["controls"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["response_rate"] = g["responders"] / n1
        g["control_rate"] = g["control_responders"] / n2
        d, lo, hi = uplift_interval(
            g["responders"], n1, g["control_responders"], n2, confidence=confidence, method=method
        )
        g["uplift"], g["uplift_low"], g["uplift_high"] = d, lo, hi
        g["relative_uplift"] = np.where(g["control_rate"] > 0, d / g["control_rate"], np.nan)
        g["revenue_per_recipient"] = g["target_revenue"] / n1
        g["control_revenue_per_recipient"] = g["control_revenue"] / n2
        g["coupon_redemption_rate"] = g["coupon_orders"] / n1
    g["incremental_responders"] = g["uplift"] * g["targets"]
    g["incremental_revenue"] = (
        g["revenue_per_recipient"] - g["control_revenue_per_recipient"]
    ) * g["targets"]
    g["significant"] = (g["uplift_low"] > 0) | (g["uplift_high"] < 0)
    for col in ("targets", "controls", "responders", "control_responders", "coupon_orders"):
        g[col] = g[col].astype("int64")
    return g


def campaign_response(
    campaigns: Any,
    members: Any,
    transactions: Any,
    *,
    response_days: float = 14.0,
    confidence: float = 0.95,
    method: str = "newcombe",
    as_of: Any = None,
    responses: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Response, coupon redemption and control-group uplift of every campaign.

    Parameters
    ----------
    campaigns, members, transactions
        Canonical ``campaigns``, ``campaign_members`` and transactions.
    response_days
        Response window in days after ``sent_at``.
    confidence
        Confidence level of the uplift interval.
    method
        ``"newcombe"`` (hybrid Wilson score interval, the default) or ``"wald"`` (normal
        approximation); see :func:`uplift_interval`.
    as_of
        Campaigns whose first message went out later than ``as_of - response_days`` are
        flagged ``complete = False`` (their window is still open).
    responses
        Output of :func:`member_responses`, when already computed.

    Returns
    -------
    pandas.DataFrame
        One row per campaign: ``campaign_id, name, channel, partner, is_partner, starts_at,
        sent_at`` (first send), ``targets, controls, responders, control_responders,
        response_rate, control_rate, uplift, uplift_low, uplift_high, relative_uplift,
        significant, target_revenue, revenue_per_recipient, control_revenue_per_recipient,
        incremental_responders, incremental_revenue, coupon_orders, coupon_redemption_rate,
        complete``. Sorted by ``sent_at``. ``attrs`` hold ``response_days``, ``confidence``,
        ``method`` and ``members``: the counts of :func:`member_responses` plus
        ``dropped_unknown_campaign`` (members of a campaign the campaigns table lacks).
    """
    if responses is None:
        responses = member_responses(
            members, transactions, campaigns=campaigns, response_days=response_days
        )
    table = _uplift_table(responses, ["campaign_id"], confidence=confidence, method=method)
    sent = responses.groupby("campaign_id")["sent_at"].min().rename("sent_at")
    table = table.merge(sent, on="campaign_id", how="left")
    info = execute(as_table(campaigns, table="campaigns"))
    info = info[["campaign_id", "name", "channel", "partner", "starts_at"]]
    tally = dict(responses.attrs.get("members") or {})
    tally["dropped_unknown_campaign"] = int(
        (~responses["campaign_id"].isin(info["campaign_id"])).sum()
    )
    table = info.merge(table, on="campaign_id", how="inner")
    partner = table["partner"].astype("string").str.strip()
    table["is_partner"] = partner.notna() & (partner != "")
    day = parse_day(as_of)
    window = pd.Timedelta(days=float(response_days))
    table["complete"] = True if day is None else (
        table["sent_at"] + window <= day + pd.Timedelta(days=1)
    )  # fmt: skip
    lead = ["campaign_id", "name", "channel", "partner", "is_partner", "starts_at", "sent_at"]
    rest = [c for c in table.columns if c not in lead]
    table = table[lead + rest].sort_values("sent_at", kind="stable").reset_index(drop=True)
    table.attrs.update(
        response_days=float(response_days), confidence=confidence, method=method, members=tally
    )
    return table


def response_by_segment(
    responses: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    column: str = "segment",
    by_campaign: bool = False,
    confidence: float = 0.95,
    method: str = "newcombe",
) -> pd.DataFrame:
    """Response and uplift per customer segment (an RFM or lifecycle segment table).

    Parameters
    ----------
    responses
        Output of :func:`member_responses`.
    segments
        ``customer_id`` and a segment column (e.g. ``crmlib.rfm`` segments or lifecycle
        stages). Note: a segment taken as of today describes customers after the campaign.
    column
        Name of the segment column in ``segments``.
    by_campaign
        One row per campaign and segment instead of per segment over all campaigns.

    Returns
    -------
    pandas.DataFrame
        ``[campaign_id,] segment`` and the columns of :func:`campaign_response` that count
        and compare groups. Members without a segment are grouped under ``"unknown"``.
    """
    if column not in segments.columns or "customer_id" not in segments.columns:
        raise DataError(
            f"the segment table needs columns customer_id and {column!r}",
            column=column,
        )
    seg = segments[["customer_id", column]].drop_duplicates("customer_id")
    seg = seg.rename(columns={column: "segment"})
    seg["customer_id"] = seg["customer_id"].astype(str)
    r = responses.assign(customer_id=responses["customer_id"].astype(str))
    r = r.merge(seg, on="customer_id", how="left")
    r["segment"] = r["segment"].astype("object").where(r["segment"].notna(), "unknown")
    r["segment"] = r["segment"].astype(str)
    keys = ["campaign_id", "segment"] if by_campaign else ["segment"]
    return _uplift_table(r, keys, confidence=confidence, method=method)


def best_campaign(response: pd.DataFrame) -> pd.Series | None:
    """The campaign with the largest incremental revenue among those with a significant
    positive uplift (else the largest uplift); None when there is no campaign."""
    if response.empty:
        return None
    pool = response[response["significant"] & (response["uplift"] > 0)]
    if pool.empty:
        pool = response.dropna(subset=["uplift"])
        if pool.empty:
            return None
        return pool.loc[pool["uplift"].idxmax()]
    return pool.loc[pool["incremental_revenue"].idxmax()]


# --------------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------------
_PERIOD_UNITS = {"month": "M", "quarter": "Q", "year": "Y"}


def channel_trends(transactions: Any, *, period: str = "month", as_of: Any = None) -> pd.DataFrame:
    """Revenue, orders, customers and average order value by channel and period.

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


def _customer_channels(tx: ir.Table, day: pd.Timestamp) -> pd.DataFrame:
    tx = tx.filter(tx.customer_id.notnull(), tx.ordered_at < _end_bound(day))
    purchase = tx.amount.isnull() | (tx.amount >= 0)
    known = purchase & tx.channel.notnull() & (tx.channel != "unknown")
    agg = tx.group_by("customer_id").aggregate(
        channels=tx.channel.nunique(where=known),
        orders=tx.order_id.nunique(where=purchase),
        revenue=tx.amount.sum(),
        first_purchase=tx.ordered_at.min(where=purchase),
        last_purchase=tx.ordered_at.max(where=purchase),
    )
    out = execute(agg.filter(agg.orders > 0))
    out["revenue"] = out["revenue"].astype(float).fillna(0.0)
    return out


def multichannel(transactions: Any, *, as_of: Any = None, active_days: int = 365) -> pd.DataFrame:
    """Customers who buy in several channels versus one: share, spend and retention.

    Parameters
    ----------
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
    cust = _customer_channels(as_table(transactions), day)
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
    """Touchpoints by channel and kind: ``channel, kind, touches, customers``."""
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
    return execute(tx.select("customer_id", day=tx.ordered_at.date()).distinct())


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
    touches = execute(tp.select("customer_id", "kind", touch_day=tp.occurred_at.date()))
    if touches.empty:
        return pd.DataFrame(
            columns=["kind", "touches", "customers", "purchase_rate", "base_rate", "lift"]
        )
    touches["touch_day"] = pd.to_datetime(touches["touch_day"])
    touches["kind"] = touches["kind"].fillna("unknown").astype(str)
    days = _purchase_days(transactions, day)
    days["day"] = pd.to_datetime(days["day"])
    ids = pd.Index(pd.unique(pd.concat([days["customer_id"], touches["customer_id"]])))
    scale = 100_000  # days in the key space per customer
    d_code = ids.get_indexer(days["customer_id"]).astype(np.int64)
    origin = min(days["day"].min(), touches["touch_day"].min())
    d_num = (days["day"] - origin).dt.days.to_numpy(np.int64)
    key = np.sort(d_code * scale + d_num)
    t_code = ids.get_indexer(touches["customer_id"]).astype(np.int64)
    t_num = (touches["touch_day"] - origin).dt.days.to_numpy(np.int64)
    lo = np.searchsorted(key, t_code * scale + t_num, side="right")
    hi = np.searchsorted(key, t_code * scale + t_num + int(window_days), side="right")
    touches["bought"] = hi > lo
    # base: per month start, share of acquired customers buying in the window after it
    first = days.groupby("customer_id")["day"].min()
    months = touches["touch_day"].dt.to_period("M").dt.start_time
    starts = pd.DatetimeIndex(sorted(months.unique()))
    first_sorted = np.sort(first.to_numpy("datetime64[ns]"))
    base = {}
    cust_first = (first - origin).dt.days.to_numpy(np.int64)
    cust_code = ids.get_indexer(first.index).astype(np.int64)
    for start in starts:
        s = (start - origin).days
        acquired = int(np.searchsorted(first_sorted, np.datetime64(start), side="left"))
        if acquired == 0:
            base[start] = np.nan
            continue
        eligible = cust_code[cust_first < s]
        b_lo = np.searchsorted(key, eligible * scale + s, side="left")
        b_hi = np.searchsorted(key, eligible * scale + s + int(window_days), side="left")
        base[start] = float((b_hi > b_lo).mean())
    touches["base"] = months.map(base).to_numpy(float)
    g = touches.groupby("kind").agg(
        touches=("bought", "size"),
        customers=("customer_id", "nunique"),
        purchase_rate=("bought", "mean"),
        base_rate=("base", "mean"),
    )
    g = g.reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["lift"] = g["purchase_rate"] / g["base_rate"]
    g.attrs["window_days"] = int(window_days)
    return g.sort_values("touches", ascending=False, kind="stable").reset_index(drop=True)


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
    cust = _customer_channels(as_table(transactions), day)
    cut = day - pd.Timedelta(days=int(churn_days))
    cust = cust[cust["first_purchase"] < cut].copy()
    cust["churned"] = cust["last_purchase"] < cut
    cust["group"] = np.where(cust["customer_id"].astype(str).isin(who), "with_kind", "others")
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
    cust = _customer_channels(tx, day)
    t2 = tx.filter(tx.customer_id.notnull(), tx.ordered_at < _end_bound(day))
    coupon = execute(
        t2.group_by("customer_id").aggregate(
            coupons=t2.order_id.nunique(where=t2.coupon_code.notnull() & (t2.coupon_code != ""))
        )
    )
    cust = cust.merge(coupon, on="customer_id", how="left")
    cut = day - pd.Timedelta(days=int(active_days))
    cust["eligible"] = cust["first_purchase"] < cut
    cust["retained"] = cust["eligible"] & (cust["last_purchase"] >= cut)
    frames: list[pd.DataFrame] = []
    if customers is not None:
        members = execute(
            as_table(customers, table="customers").select("customer_id", "member_level", "points")
        )
        cust = cust.merge(members, on="customer_id", how="left")
        if cust["member_level"].notna().any():
            frames.append(cust.assign(service="member_level", group=cust["member_level"]))
        if cust["points"].notna().any():
            has = np.where(cust["points"].fillna(0) > 0, "with_points", "no_points")
            frames.append(cust.assign(service="points", group=has))
    if cust["coupons"].fillna(0).gt(0).any():
        used = np.where(cust["coupons"].fillna(0) > 0, "coupon_user", "no_coupon")
        frames.append(cust.assign(service="coupon", group=used))
    if not frames:
        return pd.DataFrame(
            columns=[
                "service",
                "group",
                "customers",
                "share",
                "revenue_per_customer",
                "orders_per_customer",
                "retention_rate",
            ]  # fmt: skip
        )
    allrows = pd.concat(frames, ignore_index=True)
    allrows["group"] = allrows["group"].astype("object").where(allrows["group"].notna(), "unknown")
    g = allrows.groupby(["service", "group"], sort=False).agg(
        customers=("customer_id", "size"),
        revenue=("revenue", "sum"),
        orders=("orders", "sum"),
        base=("eligible", "sum"),
        retained=("retained", "sum"),
    )
    g = g.reset_index()
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
    cols = ["service", "group", "customers", "share", "revenue_per_customer",
            "orders_per_customer", "retention_rate"]  # fmt: skip
    return g[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# funnel
# --------------------------------------------------------------------------------------------
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
        from crmlib.errors import ConfigError

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


def funnel_labels(
    steps: Sequence[str] = FUNNEL_STEPS, *, model: str = "steps", language: str = "en"
) -> dict[str, str]:
    """Display names of the funnel steps in a practitioner model (AIDMA, AISAS, AARRR).

    The mapping of steps onto model stages is in ``crmlib/labels/campaigns.yaml``
    (``funnel_<model>_<step>``); a step without a mapping keeps its plain name.
    """
    check_choice("model", model, FUNNEL_MODELS)
    check_language(language)
    names = labels("campaigns", language)
    out = {}
    for step in steps:
        plain = names.get(f"funnel_steps_{step}", step)
        out[step] = names.get(f"funnel_{model}_{step}", plain)
    return out


# --------------------------------------------------------------------------------------------
# report text
# --------------------------------------------------------------------------------------------
def _pct(x: float, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x * 100:.{digits}f}%"


def _pp(x: float) -> str:
    """A difference of rates in percentage points, e.g. 0.082 -> "8.2"."""
    return "–" if x is None or not np.isfinite(x) else f"{x * 100:.1f}"


def _money(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"¥{x:,.0f}"


def section(name: str, *, language: str = "en") -> str:
    """Markdown heading and explanation of a section of the campaigns report."""
    check_choice(
        "section", name,
        ("campaigns", "segments", "partners", "channels", "multichannel", "touchpoints",
         "complaints", "services", "funnel"),
    )  # fmt: skip
    return reporting.section("campaigns", name, language=language)


def missing_note(table: str, *, language: str = "en") -> str:
    """The note shown instead of a section whose table the data source lacks."""
    return "> " + t("common.missing_table", language, table=table)


def campaign_findings(response: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language findings on the campaigns: best campaign, how many worked, partners.

    Data values (campaign names and ids) are written through :func:`crmlib.reporting.md_escape`,
    so a name holding HTML or Markdown shows as text.
    """
    check_language(language)
    if response.empty:
        return t("campaigns.no_campaigns", language)
    best = best_campaign(response)
    lines = []
    n_sig = int((response["significant"] & (response["uplift"] > 0)).sum())
    lines.append(
        t(
            "campaigns.f_overview",
            language,
            n=len(response),
            sig=n_sig,
            method=t(f"campaigns.method_{response.attrs.get('method', 'newcombe')}", language),
            days=f"{response.attrs.get('response_days', 14):g}",
        )
    )
    if best is not None:
        lines.append(
            t(
                "campaigns.f_best",
                language,
                name=reporting.md_escape(best["name"]),
                id=reporting.md_escape(best["campaign_id"]),
                uplift=_pp(best["uplift"]),
                low=_pp(best["uplift_low"]),
                high=_pp(best["uplift_high"]),
                rel=_pct(best["relative_uplift"], 0),
                revenue=_money(best["incremental_revenue"]),
            )
        )
    partners = response[response["is_partner"]]
    if len(partners):
        lines.append(
            t(
                "campaigns.f_partners",
                language,
                n=len(partners),
                uplift=_pp(float(partners["uplift"].mean())),
                own=_pp(float(response.loc[~response["is_partner"], "uplift"].mean())),
            )
        )
    redemption = response["coupon_orders"].sum() / max(response["targets"].sum(), 1)
    lines.append(t("campaigns.f_coupons", language, rate=_pct(redemption, 2)))
    lines += member_notes(response.attrs.get("members") or {}, language=language)
    return "\n".join(f"- {line}" for line in lines)


#: Member counts of :func:`member_responses` / :func:`campaign_response` that the findings
#: report whenever they are not zero.
MEMBER_NOTES: tuple[str, ...] = (
    "sent_at_from_campaign",
    "dropped_no_send_date",
    "dropped_missing_customer",
    "dropped_unknown_group",
    "dropped_unknown_campaign",
)


def member_notes(counts: Mapping[str, int], *, language: str = "en") -> list[str]:
    """One sentence per non-zero member count (repairs and members left out of the analysis)."""
    check_language(language)
    read = int(counts.get("read", 0) or 0)
    return [
        t(
            f"campaigns.f_members_{kind}",
            language,
            n=f"{int(counts[kind]):,}",
            read=f"{read:,}",
        )
        for kind in MEMBER_NOTES
        if int(counts.get(kind, 0) or 0) > 0
    ]


def channel_findings(
    trends: pd.DataFrame,
    multi: pd.DataFrame,
    effects: pd.DataFrame | None = None,
    churn: pd.DataFrame | None = None,
    *,
    language: str = "en",
) -> str:
    """Plain-language findings on channels, multichannel customers, touchpoints, complaints."""
    check_language(language)
    lines = []
    if not trends.empty:
        last = trends["period"].max()
        year = trends[trends["period"] > last - pd.DateOffset(years=1)]
        by = year.groupby("channel")["revenue"].sum().sort_values(ascending=False)
        if by.sum() > 0:
            lines.append(
                t(
                    "campaigns.f_channel_top",
                    language,
                    channel=reporting.md_escape(
                        t(f"data.channel_{by.index[0]}", language)
                        if f"data.channel_{by.index[0]}" in _catalogue()
                        else by.index[0]
                    ),
                    share=_pct(by.iloc[0] / by.sum()),
                )
            )
    m = multi.set_index("group")
    if {"single", "multi"} <= set(m.index) and m.loc["multi", "customers"] > 0:
        lines.append(
            t(
                "campaigns.f_multi",
                language,
                share=_pct(m.loc["multi", "share"]),
                times=f"{m.loc['multi', 'revenue_per_customer'] / m.loc['single', 'revenue_per_customer']:.1f}",
                ret_multi=_pct(m.loc["multi", "retention_rate"]),
                ret_single=_pct(m.loc["single", "retention_rate"]),
            )
        )
    if effects is not None and not effects.empty:
        top = effects.sort_values("lift", ascending=False).iloc[0]
        lines.append(
            t(
                "campaigns.f_touch",
                language,
                kind=reporting.md_escape(
                    t(f"campaigns.kind_{top['kind']}", language)
                    if f"campaigns.kind_{top['kind']}" in _catalogue()
                    else top["kind"]
                ),
                rate=_pct(top["purchase_rate"]),
                base=_pct(top["base_rate"]),
                days=effects.attrs.get("window_days", 30),
            )
        )
    if churn is not None and len(churn) == 2 and churn["customers"].min() > 0:
        c = churn.set_index("group")
        lines.append(
            t(
                "campaigns.f_complaints",
                language,
                rate=_pct(c.loc["with_kind", "churn_rate"]),
                other=_pct(c.loc["others", "churn_rate"]),
                days=churn.attrs.get("churn_days", 180),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def _catalogue() -> Mapping[str, Any]:
    from crmlib.i18n import catalogue

    return catalogue()


def service_findings(usage: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language comparison of service users and non-users (coupons, points, levels)."""
    check_language(language)
    lines = []
    for service, yes, no in (("coupon", "coupon_user", "no_coupon"),
                             ("points", "with_points", "no_points")):  # fmt: skip
        rows = usage[usage["service"] == service].set_index("group")
        if {yes, no} <= set(rows.index):
            lines.append(
                t(
                    f"campaigns.f_{service}",
                    language,
                    share=_pct(rows.loc[yes, "share"]),
                    spend=_money(rows.loc[yes, "revenue_per_customer"]),
                    other=_money(rows.loc[no, "revenue_per_customer"]),
                    ret=_pct(rows.loc[yes, "retention_rate"]),
                    ret_other=_pct(rows.loc[no, "retention_rate"]),
                )
            )
    if (usage["service"] == "member_level").any():
        lines.append(t("campaigns.f_levels_note", language))
    return "\n".join(f"- {line}" for line in lines)


def funnel_findings(table: pd.DataFrame, *, model: str = "steps", language: str = "en") -> str:
    """Where the funnel loses most people, in plain language."""
    names = funnel_labels(table["step"], model=model, language=language)
    inner = table.iloc[:-1]
    if inner.empty or inner["count"].iloc[0] == 0:
        return t("campaigns.funnel_empty", language)
    worst = inner.loc[inner["drop_share"].idxmax()]
    nxt = table.iloc[int(worst["position"])]
    return t(
        "campaigns.f_funnel",
        language,
        overall=_pct(table["rate_from_first"].iloc[-1], 2),
        step=reporting.md_escape(names[worst["step"]]),
        next=reporting.md_escape(names[nxt["step"]]),
        drop=_pct(worst["drop_share"]),
    )


_DISPLAY_PCT = ("response_rate", "control_rate", "uplift", "uplift_low", "uplift_high",
                "relative_uplift", "coupon_redemption_rate", "share", "retention_rate",
                "purchase_rate", "base_rate", "churn_rate", "rate_from_previous",
                "rate_from_first", "drop_share", "low", "high")  # fmt: skip
_DISPLAY_MONEY = ("revenue_per_recipient", "control_revenue_per_recipient",
                  "incremental_revenue", "target_revenue", "revenue_per_customer", "aov",
                  "revenue")  # fmt: skip


def display_table(
    frame: pd.DataFrame, *, columns: Sequence[str] | None = None, language: str = "en"
) -> pd.DataFrame:
    """A copy for display: chosen columns, percentages and money as text, labelled headers."""
    check_language(language)
    out = frame[list(columns)].copy() if columns else frame.copy()
    names = {**labels("common", language), **labels("campaigns", language)}
    for col in out.columns:
        if col in _DISPLAY_PCT:
            out[col] = [_pct(float(v)) if pd.notna(v) else "–" for v in out[col]]
        elif col in _DISPLAY_MONEY:
            out[col] = [_money(float(v)) if pd.notna(v) else "–" for v in out[col]]
        elif col in ("significant", "is_partner", "complete"):
            out[col] = [t("campaigns.yes" if v else "campaigns.no", language) for v in out[col]]
        elif col == "group":
            out[col] = [names.get(f"group_{v}", v) for v in out[col]]
        elif col == "kind":
            out[col] = [names.get(f"kind_{v}", v) for v in out[col]]
        elif col == "step":
            out[col] = [names.get(f"funnel_steps_{v}", v) for v in out[col]]
        elif col == "service":
            out[col] = [names.get(f"service_{v}", v) for v in out[col]]
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out.rename(columns=lambda c: names.get(f"col_{c}", names.get(c, c)))
