"""Assemble the demo retailer's canonical tables and ground truth in memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from crmlib.config import check_range
from crmlib.errors import ConfigError
from crmlib.simulate import people
from crmlib.simulate import purchases as pu
from crmlib.simulate.assumptions import load_assumptions
from crmlib.simulate.calendar import Calendar, build_calendar

__all__ = [
    "random_streams",
    "simulate",
]


_STREAMS = [
    "catalogue",
    "members",
    "campaigns",
    "baskets",
    "follow_ups",
    "anonymous",
    "returns",
    "customers",
    "touchpoints",
    "events",
    "dirty",
    "export",
]


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent random stream per step, so changing one step leaves the others alone."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)}


def _member_ids(n: int) -> np.ndarray:
    width = max(7, len(str(n)))
    return ("M" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)).to_numpy(
        dtype=object
    )


def _order_ids(cal: Calendar, t: np.ndarray) -> np.ndarray:
    """Order numbers like SO2024030500012345: order date + a running number (orders sorted by time)."""
    day = np.floor(t).astype(np.int64)
    dates = pd.date_range(cal.start, periods=cal.days, freq="D").strftime("%Y%m%d").to_numpy()
    seq = pd.Series(np.arange(1, len(t) + 1)).astype(str).str.zfill(8)
    return ("SO" + pd.Series(dates[day]) + seq).to_numpy(dtype=object)


def _codes(values: Any, idx: np.ndarray) -> pd.Series:
    """Map integer codes to strings; -1 becomes missing (Arrow-backed, fast for millions)."""
    return people.take_text(values, idx)


def _rate_within(
    cust: np.ndarray, t: np.ndarray, who: np.ndarray, start: np.ndarray, days: float, n: int
) -> np.ndarray:
    """For each (who, start): does customer ``who`` have a time in [start, start + days)?

    ``cust`` and ``t`` list purchases of members (customer index, calendar time).
    """
    scale = 1e4  # larger than the period in days
    key = np.sort(cust * scale + t)
    lo = np.searchsorted(key, who * scale + start, side="left")
    hi = np.searchsorted(key, who * scale + start + days, side="left")
    return hi > lo


def simulate(
    *,
    customers: int = 50_000,
    seed: int = 42,
    config: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate the demo retailer in memory.

    Parameters
    ----------
    customers
        Number of members acquired over the period (anonymous sales come on top).
    seed
        Random seed; the same seed and config give identical tables.
    config
        Business assumptions (YAML shaped like ``params/simulate.yaml``); None for that file.
    progress
        Called with the name of each step as it finishes (for a progress bar).

    Returns
    -------
    dict
        ``transactions``, ``customers``, ``touchpoints``, ``campaigns``, ``campaign_members``,
        ``events`` (canonical pandas tables, clean), ``transactions_dirty`` (the planted bad
        rows of the export, canonical columns plus ``dirty_kind``, ``amount_text`` and
        ``after_line``), ``truth_customers`` (per member: planted rates, dropout, complaint) and
        ``truth`` (a JSON-safe dict of every planted parameter).
    """
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer):
        raise ConfigError(f"parameter 'customers' must be a whole number; got {customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"parameter 'seed' must be a whole number; got {seed!r}")
    check_range("customers", int(customers), low=100, high=20_000_000)
    customers, seed = int(customers), int(seed)
    cfg = load_assumptions(config)
    step = progress or (lambda name: None)
    rng = random_streams(seed)
    cal = build_calendar(cfg)
    codes = cfg["channels"]["codes"]
    labels_zh = cfg["channels"]["labels_zh"]

    cat = pu.build_catalogue(rng["catalogue"], cfg)
    step("catalogue")
    members, bg_orders = pu.draw_members(rng["members"], customers, cfg, cal)
    step("purchases")
    members_df, camp_orders, camp_truth = pu.campaign_members(
        rng["campaigns"], members, bg_orders, cfg, cal
    )
    step("campaigns")

    m_orders = pu.Orders.concat([bg_orders, camp_orders])
    m_lines = pu.basket_lines(rng["baskets"], len(m_orders), cfg, cat)
    m_lines.cents = pu.allocate_amounts(
        m_lines, pu.order_values(rng["baskets"], members.nu[m_orders.customer], cfg), cat
    )
    f_orders, f_lines = pu.follow_ups(rng["follow_ups"], m_orders, m_lines, members, cfg, cal)
    step("baskets")
    n_member_lines = len(m_lines.order) + len(f_lines.order)
    a_orders, a_lines = pu.anonymous_orders(rng["anonymous"], n_member_lines, cfg, cal, cat)
    step("anonymous sales")

    # one order table; lines point into it
    orders = pu.Orders.concat([m_orders, f_orders, a_orders])
    offset_f, offset_a = len(m_orders), len(m_orders) + len(f_orders)
    lines = pu.Lines(
        order=np.concatenate([m_lines.order, f_lines.order + offset_f, a_lines.order + offset_a]),
        sku=np.concatenate([m_lines.sku, f_lines.sku, a_lines.sku]),
        qty=np.concatenate([m_lines.qty, f_lines.qty, a_lines.qty]),
        cents=np.concatenate([m_lines.cents, f_lines.cents, a_lines.cents]),
    )
    # order numbers follow time
    by_time = np.argsort(orders.t, kind="stable")
    rank = np.empty(len(by_time), dtype=np.int64)
    rank[by_time] = np.arange(len(by_time))
    order_id = np.empty(len(orders), dtype=object)
    order_id[by_time] = _order_ids(cal, orders.t[by_time])
    # return lines carry "R" + the order number of the sale; they index the second half
    order_text = pa.array(np.concatenate([order_id, "R" + order_id]), type=pa.string())
    ret_idx, ret_t = pu.returns(rng["returns"], orders, lines, cfg, cal)
    step("returns")

    ids = pa.array(_member_ids(customers), type=pa.string())
    coupon_codes = list(cfg["coupons"]["codes"]) + [
        c["coupon_code"] for c in cfg["campaigns"]["list"]
    ]
    reps = [f"S{i + 1:03d}" for i in range(int(cfg["channels"]["sales_reps"]))]
    lo = lines.order
    sale = {
        "cust": orders.customer[lo],
        "oidx": lo,
        "t": orders.t[lo],
        "cents": lines.cents,
        "qty": lines.qty,
        "sku": lines.sku,
        "channel": orders.channel[lo],
        "store": orders.store[lo],
        "coupon": orders.coupon[lo],
        "rep": orders.rep[lo],
        "rank": rank[lo],
    }
    ro = lo[ret_idx]
    back = {
        "cust": orders.customer[ro],
        "oidx": ro + len(orders),
        "t": ret_t,
        "cents": -lines.cents[ret_idx],
        "qty": -lines.qty[ret_idx],
        "sku": lines.sku[ret_idx],
        "channel": orders.channel[ro],
        "store": orders.store[ro],
        "coupon": np.full(len(ro), -1),
        "rep": orders.rep[ro],
        "rank": np.full(len(ro), len(orders)),
    }
    cols = {k: np.concatenate([sale[k], back[k]]) for k in sale}
    sort = np.lexsort((cols["sku"], cols["rank"], cols["t"]))
    cols = {k: v[sort] for k, v in cols.items()}
    tx = pd.DataFrame(
        {
            "customer_id": _codes(ids, cols["cust"]),
            "order_id": _codes(order_text, cols["oidx"]),
            "ordered_at": people.to_timestamps(cal, cols["t"]),
            "amount": cols["cents"] / 100.0,
            "quantity": cols["qty"].astype(np.int64),
            "sku": _codes(cat.codes, cols["sku"]),
            "category": _codes(cat.category_codes, cat.category[cols["sku"]]),
            "channel": _codes(codes, cols["channel"]),
            "store": _codes(cfg["stores"]["names"], cols["store"]),
            "coupon_code": _codes(coupon_codes, cols["coupon"]),
            "sales_rep": _codes(reps, cols["rep"]),
        }
    )
    step("transactions")

    # ground truth per member
    member_rows = cols["cust"] >= 0
    mc, mt = cols["cust"][member_rows], cols["t"][member_rows]
    positive = cols["cents"][member_rows] > 0
    last_t = np.full(customers, -np.inf)
    np.maximum.at(last_t, mc[positive], mt[positive])
    spend = np.bincount(mc, weights=cols["cents"][member_rows], minlength=customers) / 100.0
    n_orders = np.bincount(orders.customer[orders.customer >= 0], minlength=customers)
    complained = people.complaint_flags(rng["touchpoints"], members.p, cfg)
    acquired_ts = pd.Series(people.to_timestamps(cal, members.acquired))
    lam_median, p_median = np.median(members.lam), np.median(members.p)
    segment = np.where(
        members.lam >= lam_median,
        np.where(members.p < p_median, "frequent_loyal", "frequent_fickle"),
        np.where(members.p < p_median, "occasional_loyal", "occasional_fickle"),
    )
    truth_customers = pd.DataFrame(
        {
            "customer_id": ids.to_pandas(),
            "acquired_at": acquired_ts.to_numpy(),
            "lambda": members.lam,
            "p": members.p,
            "spend_nu": members.nu,
            "expected_order_value": cfg["spend"]["p"] / members.nu,
            "bgnbd_repeats": members.repeats.astype(np.int64),
            "orders": n_orders.astype(np.int64),
            "dropout_at": pd.Series(people.to_timestamps(cal, last_t.clip(0)))
            .where(members.dropped)
            .to_numpy(),
            "alive_at_end": ~members.dropped,
            "planted_segment": segment,
            "home_channel": np.asarray(codes, dtype=object)[members.home_channel],
            "complained": complained,
        }
    )

    # campaigns and their members
    camp_cfg = cfg["campaigns"]
    campaigns = pd.DataFrame(
        {
            "campaign_id": [c["id"] for c in camp_cfg["list"]],
            "name": [c["name"] for c in camp_cfg["list"]],
            "channel": [c["channel"] for c in camp_cfg["list"]],
            "starts_at": pd.to_datetime([c["starts_at"] for c in camp_cfg["list"]]),
            "ends_at": [
                pd.Timestamp(c["starts_at"])
                + pd.Timedelta(days=c["days"])
                - pd.Timedelta(seconds=1)
                for c in camp_cfg["list"]
            ],
            "coupon_code": [c["coupon_code"] for c in camp_cfg["list"]],
            "partner": [c.get("partner") for c in camp_cfg["list"]],
        }
    )
    campaigns["ends_at"] = pd.to_datetime(campaigns["ends_at"])
    cm = members_df
    camp_ids = np.asarray(campaigns["campaign_id"], dtype=object)
    campaign_members_df = pd.DataFrame(
        {
            "campaign_id": camp_ids[cm["campaign"].to_numpy()],
            "customer_id": _codes(ids, cm["customer"].to_numpy()),
            "group": np.where(cm["control"].to_numpy(), "control", "target").astype(object),
            "sent_at": people.to_timestamps(cal, cm["sent"].to_numpy()),
        }
    )
    window = float(camp_cfg["response_days"])
    responded = _rate_within(
        mc[positive],
        mt[positive],
        cm["customer"].to_numpy(),
        cm["sent"].to_numpy(),
        window,
        customers,
    )
    for k, ct in enumerate(camp_truth):
        in_camp = cm["campaign"].to_numpy() == k
        ctrl = cm["control"].to_numpy()
        ct["target_response_rate"] = (
            float(responded[in_camp & ~ctrl].mean()) if ct["targets"] else 0.0
        )
        ct["control_response_rate"] = (
            float(responded[in_camp & ctrl].mean()) if ct["controls"] else 0.0
        )
        alive_ctrl = in_camp & ctrl & cm["alive"].to_numpy()
        natural = float(responded[alive_ctrl].mean()) if alive_ctrl.any() else 0.0
        ct["expected_uplift"] = ct["uplift"] * ct["alive_share_targets"] * (1.0 - natural)
    step("campaigns truth")

    # cross-sell truth: share of A buyers (orders of A) with B within the window, vs. all members
    seq_truth = []
    member_sku = cols["sku"][member_rows]
    wdays = float(cfg["cross_sell"]["window_days"])
    for pair in cfg["cross_sell"]["sequential"]:
        a, b = pair["first_rank"] - 1, pair["then_rank"] - 1
        a_rows = positive & (member_sku == a)
        b_rows = positive & (member_sku == b)
        after_a = _rate_within(
            mc[b_rows], mt[b_rows], mc[a_rows], mt[a_rows] + 1e-6, wdays, customers
        )
        other = positive & (member_sku != a)
        base = _rate_within(mc[b_rows], mt[b_rows], mc[other], mt[other] + 1e-6, wdays, customers)
        seq_truth.append(
            {
                "first": str(cat.codes[a]),
                "then": str(cat.codes[b]),
                "window_days": wdays,
                "probability": float(pair["probability"]),
                "first_lines": int(a_rows.sum()),
                "observed_rate_after_first": float(after_a.mean()) if a_rows.any() else 0.0,
                "observed_rate_after_other": float(base.mean()) if other.any() else 0.0,
            }
        )
    basket_truth = []
    order_sku = pd.DataFrame({"o": cols["oidx"], "s": cols["sku"]})[cols["cents"] > 0]
    for pair in cfg["cross_sell"]["same_basket"]:
        a, b = pair["first_rank"] - 1, pair["then_rank"] - 1
        with_a = set(order_sku["o"][order_sku["s"] == a])
        with_b = set(order_sku["o"][order_sku["s"] == b])
        n_orders_all = order_sku["o"].nunique()
        basket_truth.append(
            {
                "first": str(cat.codes[a]),
                "then": str(cat.codes[b]),
                "probability": float(pair["probability"]),
                "orders_with_first": len(with_a),
                "confidence": len(with_a & with_b) / len(with_a) if with_a else 0.0,
                "support_then": len(with_b) / n_orders_all if n_orders_all else 0.0,
            }
        )
    step("cross-sell truth")

    acquired_t = members.acquired
    cust_df = people.customers_table(
        rng["customers"],
        ids,
        acquired_ts,
        spend,
        _codes([labels_zh[c] for c in codes], members.home_channel),
        cfg,
    )
    signup_t = (cust_df["signup_at"] - cal.start).dt.total_seconds().to_numpy() / 86400.0
    target = ~cm["control"].to_numpy()
    resp = responded
    click_p = cfg["touchpoints"]["message_click_share"] * np.where(resp, 2.0, 0.8)
    click = target & (rng["touchpoints"].random(len(cm)) < np.clip(click_p, 0, 1))
    clicks = pd.DataFrame(
        {
            "customer": cm["customer"].to_numpy()[click],
            "t": cm["sent"].to_numpy()[click]
            + rng["touchpoints"].exponential(0.3, int(click.sum())),
        }
    )
    touch = people.touchpoints_table(
        rng["touchpoints"],
        ids,
        np.maximum(signup_t, 0.0),
        acquired_t,
        np.where(np.isfinite(last_t), last_t, acquired_t),
        members.dropped,
        complained,
        clicks,
        cfg,
        cal,
    )
    step("touchpoints")

    fcfg = cfg["funnel"]
    online = [codes.index(c) for c in fcfg["online_channels"]]
    window_start = (
        (cal.start + pd.DateOffset(days=cal.days) - pd.DateOffset(months=fcfg["months"]))
        - cal.start
    ).days
    pos_all = cols["cents"] > 0
    is_paid = (
        (cols["cust"] >= 0)
        & pos_all
        & np.isin(cols["channel"], online)
        & (cols["t"] >= window_start)
    )
    paid = pd.DataFrame(
        {"o": cols["oidx"][is_paid], "c": cols["cust"][is_paid], "t": cols["t"][is_paid]}
    )
    paid = paid.drop_duplicates("o")
    online_home = np.flatnonzero(np.isin(members.home_channel, online) & (acquired_t < cal.days))
    events, funnel_truth = people.events_table(
        rng["events"], ids, paid["c"].to_numpy(), paid["t"].to_numpy(), online_home, cfg, cal
    )
    step("events")

    dirty, dirty_counts = _plan_dirty(rng["dirty"], tx, cfg, cal)
    step("dirty rows")

    dropped_share = float(members.dropped.mean())
    truth = {
        "seed": seed,
        "customers": customers,
        "period": {"start": cfg["period"]["start"], "end": cfg["period"]["end"]},
        "time_unit": "days",
        "bgnbd": {k: float(cfg["bgnbd"][k]) for k in ("r", "alpha", "a", "b")},
        "spend": {k: float(cfg["spend"][k]) for k in ("p", "q", "v")},
        "spend_note": "order value z ~ Gamma(p, nu), nu ~ Gamma(q, v) (rates); mean p*v/(q-1)",
        "seasonality": [e["name"] for e in cfg["seasonality"]["events"]] + ["chinese_new_year"],
        "channels": {c: labels_zh[c] for c in codes},
        "member_levels": {lv["code"]: lv["label"] for lv in cfg["customers"]["member_levels"]},
        "cross_sell": {"window_days": wdays, "sequential": seq_truth, "same_basket": basket_truth},
        "campaigns": {
            "response_days": window,
            "control_share": float(camp_cfg["control_share"]),
            "list": camp_truth,
        },
        "complaints": {
            "rule": "P(complaint) = base + slope * p",
            "base": float(cfg["touchpoints"]["complaint_base"]),
            "slope": float(cfg["touchpoints"]["complaint_slope"]),
            "complainers": int(complained.sum()),
            "dropout_share_complainers": float(members.dropped[complained].mean())
            if complained.any()
            else 0.0,
            "dropout_share_others": float(members.dropped[~complained].mean())
            if (~complained).any()
            else 0.0,
        },
        "funnel": funnel_truth,
        "anonymous_line_share": float((tx["customer_id"].isna()).mean()),
        "return_lines": int((tx["amount"] < 0).sum()),
        "counts": {
            "lines": len(tx),
            "orders": len(np.unique(cols["oidx"])),
            "members_dropped_out": int(members.dropped.sum()),
            "dropped_share": dropped_share,
            "one_time_buyers": int((n_orders == 1).sum()),
            "bgnbd_one_time_buyers": int((members.repeats == 0).sum()),
        },
        "dirty": dirty_counts,
    }
    return {
        "transactions": tx,
        "customers": cust_df,
        "touchpoints": touch,
        "campaigns": campaigns,
        "campaign_members": campaign_members_df,
        "events": events,
        "transactions_dirty": dirty,
        "truth_customers": truth_customers,
        "truth": truth,
    }


def _plan_dirty(
    rng: np.random.Generator, tx: pd.DataFrame, cfg: dict[str, Any], cal: Calendar
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Bad rows planted in the transactions export, each placed right after a source line.

    Duplicates copy their source line exactly; the other kinds are copies under a fresh order
    number with one field spoiled (zero amount, a date in 2027, an amount that does not parse,
    a channel outside the code list).
    """
    dc = cfg["dirty"]
    n = len(tx)
    parts, counts = [], {}
    unknown = np.asarray(cfg["channels"]["unknown_labels"], dtype=object)
    bad_texts = np.asarray(["N/A", "--", "待定", "#VALUE!", "金额错误", "abc"], dtype=object)
    for kind in ("duplicate", "zero_amount", "future_date", "bad_amount", "unknown_channel"):
        k = int(rng.binomial(n, dc[kind]))
        src = np.sort(rng.choice(n, size=k, replace=False))
        rows = tx.iloc[src].copy()
        rows["dirty_kind"] = kind
        rows["amount_text"] = None
        rows["after_line"] = src
        if kind != "duplicate":
            rows["order_id"] = "E" + rows["order_id"].astype(str) + f"-{len(parts) + 1}"
        if kind == "zero_amount":
            rows["amount"] = 0.0
        elif kind == "future_date":
            time_of_day = rows["ordered_at"] - rows["ordered_at"].dt.normalize()
            day = pd.to_timedelta(rng.integers(0, 365, k), unit="D")
            rows["ordered_at"] = pd.Timestamp("2027-01-01") + day + time_of_day
        elif kind == "bad_amount":
            rows["amount"] = np.nan
            rows["amount_text"] = bad_texts[rng.integers(0, len(bad_texts), k)]
        elif kind == "unknown_channel":
            rows["channel"] = unknown[rng.integers(0, len(unknown), k)]
        parts.append(rows)
        counts[kind] = k
    dirty = pd.concat(parts, ignore_index=True).sort_values("after_line", kind="stable")
    return dirty.reset_index(drop=True), counts
