"""Purchases of the demo retailer: members' BG/NBD clocks, campaigns, baskets, cross-sell, returns.

Everything is vectorised over customers and orders (no loop per customer), so a million
customers take minutes, not hours. Arrays are columnar; times are calendar days since the start
of the period as floats (the fraction is the time of day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmlib.simulate.calendar import Calendar, hour_of_day

__all__ = [
    "Catalogue",
    "Members",
    "Orders",
    "Lines",
    "build_catalogue",
    "draw_members",
    "assign_channels",
    "campaign_members",
    "basket_lines",
    "allocate_amounts",
    "order_values",
    "follow_ups",
    "anonymous_orders",
    "returns",
]


# order sources, kept per order for the ground truth
FIRST, REPEAT, CAMPAIGN, FOLLOW_UP, ANONYMOUS, RETURN = range(6)


@dataclass
class Catalogue:
    """SKUs ordered by popularity rank (index 0 is the best seller)."""

    codes: np.ndarray
    category: np.ndarray  # index into category_codes
    category_codes: list[str]
    category_names: list[str]
    price: np.ndarray
    popularity: np.ndarray  # probability of each SKU per line


@dataclass
class Members:
    """Per-customer draws of the planted processes."""

    n: int
    acquired: np.ndarray  # calendar time of the first order
    lam: np.ndarray  # purchases per (operational) day
    p: np.ndarray  # dropout probability after each repeat purchase
    nu: np.ndarray  # Gamma-Gamma rate of the customer's order values
    home_channel: np.ndarray
    home_store: np.ndarray
    rep: np.ndarray
    dropped: np.ndarray  # BG/NBD clock stopped within the period
    repeats: np.ndarray  # BG/NBD repeat purchases within the period


@dataclass
class Orders:
    """Columnar order headers."""

    customer: np.ndarray
    t: np.ndarray
    channel: np.ndarray
    store: np.ndarray
    rep: np.ndarray
    coupon: np.ndarray  # index into the coupon code list, -1 for none
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        """One ``Orders`` holding every part's orders in order (columns concatenated).

        Parameters
        ----------
        parts
            Order batches (e.g. background, campaign and follow-up orders); their row order is
            kept.
        """
        return Orders(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("customer", "t", "channel", "store", "rep", "coupon", "source")
            )
        )


@dataclass
class Lines:
    """Columnar order lines; ``order`` indexes the order headers."""

    order: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    cents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def build_catalogue(rng: np.random.Generator, cfg: dict[str, Any]) -> Catalogue:
    """SKUs with categories, list prices and Zipf popularity."""
    cat_cfg = cfg["catalogue"]
    n = int(cat_cfg["skus"])
    cats = list(cat_cfg["categories"].items())
    shares = np.array([c["share"] for _, c in cats], dtype=float)
    category = rng.choice(len(cats), size=n, p=shares / shares.sum())
    codes = np.empty(n, dtype=object)
    price = np.empty(n)
    for k, (_, c) in enumerate(cats):
        members = np.flatnonzero(category == k)
        numbers = rng.permutation(len(members)) + 1
        codes[members] = [f"{c['prefix']}{num:04d}" for num in numbers]
        raw = c["price"] * np.exp(rng.normal(0.0, c["spread"], len(members)))
        price[members] = np.round(raw) - 0.1  # shelf prices like 168.9
    price = np.maximum(price, 1.9)
    weights = 1.0 / np.arange(1, n + 1) ** float(cat_cfg["popularity_exponent"])
    return Catalogue(
        codes=codes.astype(str),
        category=category,
        category_codes=[k for k, _ in cats],
        category_names=[c["name"] for _, c in cats],
        price=price,
        popularity=weights / weights.sum(),
    )


def draw_members(
    rng: np.random.Generator, n: int, cfg: dict[str, Any], cal: Calendar
) -> tuple[Members, Orders]:
    """Acquire ``n`` members and run their BG/NBD purchase clocks over the period.

    Returns the members and their orders (first orders and BG/NBD repeat orders).
    """
    bg, sp, ch = cfg["bgnbd"], cfg["spend"], cfg["channels"]
    days = cal.days
    growth = np.exp(cfg["acquisition"]["growth_per_year"] * np.arange(days) / 365.25)
    weight = growth * cal.intensity ** cfg["acquisition"]["seasonality_weight"]
    day0 = rng.choice(days, size=n, p=weight / weight.sum())
    hours = cfg["seasonality"]["hour_weights"]
    t0 = day0 + hour_of_day(rng, n, hours) / 86400.0

    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], size=n)
    p = rng.beta(bg["a"], bg["b"], size=n)
    nu = rng.gamma(sp["q"], 1.0 / sp["v"], size=n)

    # BG/NBD on the operational clock: the Poisson process of purchases after the first order,
    # stopped after the K-th repeat purchase where K ~ Geometric(p).
    u0 = cal.to_operational(t0)
    span = np.maximum(days - u0, 0.0)
    n_events = rng.poisson(lam * span)
    k_stop = rng.geometric(np.clip(p, 1e-12, 1.0))
    total = int(n_events.sum())
    who = np.repeat(np.arange(n), n_events)
    u = u0[who] + rng.random(total) * span[who]
    order = np.lexsort((u, who))
    who, u = who[order], u[order]
    first_event = np.cumsum(n_events) - n_events
    rank = np.arange(total) - first_event[who]
    keep = rank < k_stop[who]
    who, u = who[keep], u[keep]
    repeats = np.minimum(n_events, k_stop)
    dropped = k_stop <= n_events

    t_rep = cal.to_calendar(u)
    t_rep = np.floor(t_rep) + hour_of_day(rng, len(t_rep), hours) / 86400.0
    t_rep = np.clip(np.maximum(t_rep, t0[who] + 1.0 / 1440.0), 0.0, days - 1e-6)

    codes = ch["codes"]
    shares = np.array([ch["member_shares"].get(c, 0.0) for c in codes], dtype=float)
    members = Members(
        n=n,
        acquired=t0,
        lam=lam,
        p=p,
        nu=nu,
        home_channel=rng.choice(len(codes), size=n, p=shares / shares.sum()),
        home_store=rng.integers(0, len(cfg["stores"]["names"]), size=n),
        rep=rng.integers(0, int(ch["sales_reps"]), size=n),
        dropped=dropped,
        repeats=repeats,
    )
    customer = np.concatenate([np.arange(n), who])
    t = np.concatenate([t0, t_rep])
    source = np.concatenate([np.full(n, FIRST), np.full(len(who), REPEAT)]).astype(np.int8)
    orders = assign_channels(rng, customer, t, source, members, cfg)
    return members, orders


def assign_channels(
    rng: np.random.Generator,
    customer: np.ndarray,
    t: np.ndarray,
    source: np.ndarray,
    members: Members,
    cfg: dict[str, Any],
) -> Orders:
    """Order headers for members' orders: channel (home or switched), store, sales rep, coupon."""
    ch = cfg["channels"]
    codes = ch["codes"]
    shares = np.array([ch["member_shares"].get(c, 0.0) for c in codes], dtype=float)
    m = len(t)
    channel = members.home_channel[customer].copy()
    switch = rng.random(m) < ch["switch_share"]
    channel[switch] = rng.choice(len(codes), size=int(switch.sum()), p=shares / shares.sum())
    store = np.full(m, -1, dtype=np.int64)
    in_store = channel == codes.index("store")
    home = rng.random(m) < cfg["stores"]["home_share"]
    n_stores = len(cfg["stores"]["names"])
    store[in_store] = np.where(
        home[in_store],
        members.home_store[customer[in_store]],
        rng.integers(0, n_stores, m)[in_store],
    )
    rep = np.full(m, -1, dtype=np.int64)
    key = channel == codes.index("key_account")
    rep[key] = members.rep[customer[key]]
    coupon = np.full(m, -1, dtype=np.int64)
    with_coupon = rng.random(m) < cfg["coupons"]["share"]
    coupon[with_coupon] = rng.integers(0, len(cfg["coupons"]["codes"]), int(with_coupon.sum()))
    return Orders(
        customer=np.asarray(customer, dtype=np.int64),
        t=np.asarray(t, dtype=float),
        channel=channel.astype(np.int64),
        store=store,
        rep=rep,
        coupon=coupon,
        source=np.asarray(source, dtype=np.int8),
    )


def campaign_members(
    rng: np.random.Generator,
    members: Members,
    bg_orders: Orders,
    cfg: dict[str, Any],
    cal: Calendar,
) -> tuple[pd.DataFrame, Orders, list[dict[str, Any]]]:
    """Campaign member lists (target/control) and the orders the campaigns add.

    Alive targets (BG/NBD clock still running at ``sent_at``) buy within the response window
    with the campaign's planted ``uplift`` probability, on top of their own purchases.
    """
    camp_cfg = cfg["campaigns"]
    window = float(camp_cfg["response_days"])
    last_bg = np.full(members.n, -np.inf)
    np.maximum.at(last_bg, bg_orders.customer, bg_orders.t)
    frames, extra_c, extra_t, extra_k, planted = [], [], [], [], []
    n_coupons = len(cfg["coupons"]["codes"])
    for k, camp in enumerate(camp_cfg["list"]):
        start = (pd.Timestamp(camp["starts_at"]) - cal.start).days
        eligible = members.acquired < start
        chosen = np.flatnonzero(eligible & (rng.random(members.n) < camp["reach"]))
        control = rng.random(len(chosen)) < camp_cfg["control_share"]
        sent = start + (10 * 3600 + rng.integers(0, 7200, len(chosen))) / 86400.0
        alive = ~members.dropped[chosen] | (last_bg[chosen] > sent)
        respond = ~control & alive & (rng.random(len(chosen)) < camp["uplift"])
        delay = np.minimum(rng.exponential(3.0, len(chosen)), window - 0.01)
        t_buy = sent + delay
        respond &= t_buy < cal.days
        extra_c.append(chosen[respond])
        extra_t.append(t_buy[respond])
        extra_k.append(np.full(int(respond.sum()), k))
        frames.append(
            pd.DataFrame(
                {
                    "campaign": k,
                    "customer": chosen,
                    "control": control,
                    "sent": sent,
                    "alive": alive,
                }
            )
        )
        planted.append(
            {
                "campaign_id": camp["id"],
                "uplift": float(camp["uplift"]),
                "targets": int((~control).sum()),
                "controls": int(control.sum()),
                "alive_share_targets": float(alive[~control].mean()) if (~control).any() else 0.0,
                "campaign_orders": int(respond.sum()),
            }
        )
    customer = np.concatenate(extra_c)
    t = np.concatenate(extra_t)
    orders = assign_channels(
        rng, customer, t, np.full(len(t), CAMPAIGN, dtype=np.int8), members, cfg
    )
    which = np.concatenate(extra_k)
    use_code = rng.random(len(t)) < cfg["coupons"]["campaign_code_share"]
    # campaign codes follow the generic codes in the coupon list
    orders.coupon = np.where(use_code, n_coupons + which, -1)
    return pd.concat(frames, ignore_index=True), orders, planted


def basket_lines(
    rng: np.random.Generator, n_orders: int, cfg: dict[str, Any], cat: Catalogue
) -> Lines:
    """1-4 lines per order with SKUs by popularity, plus the planted same-basket pairs."""
    share = np.asarray(cfg["catalogue"]["lines_per_order"], dtype=float)
    n_lines = rng.choice(np.arange(1, len(share) + 1), size=n_orders, p=share / share.sum())
    order = np.repeat(np.arange(n_orders), n_lines)
    sku = rng.choice(len(cat.codes), size=len(order), p=cat.popularity)
    for pair in cfg["cross_sell"]["same_basket"]:
        first, then = pair["first_rank"] - 1, pair["then_rank"] - 1
        holders = np.unique(order[sku == first])
        add = holders[rng.random(len(holders)) < pair["probability"]]
        order = np.concatenate([order, add])
        sku = np.concatenate([sku, np.full(len(add), then)])
    # one line per SKU in an order
    key = order.astype(np.int64) * len(cat.codes) + sku
    key = np.unique(key)
    order, sku = key // len(cat.codes), key % len(cat.codes)
    qw = np.asarray(cfg["catalogue"]["quantity_weights"], dtype=float)
    qty = rng.choice(np.arange(1, len(qw) + 1), size=len(order), p=qw / qw.sum())
    return Lines(order=order, sku=sku, qty=qty)


def allocate_amounts(lines: Lines, order_cents: np.ndarray, cat: Catalogue) -> np.ndarray:
    """Split each order's paid amount over its lines in proportion to list price x quantity.

    The cents of a line are rounded; the last line of an order takes the rounding difference,
    so the lines of an order add up exactly to the order's amount.
    """
    weight = cat.price[lines.sku] * lines.qty
    total = np.bincount(lines.order, weights=weight, minlength=len(order_cents))
    cents = np.round(order_cents[lines.order] * weight / total[lines.order]).astype(np.int64)
    paid = np.bincount(lines.order, weights=cents, minlength=len(order_cents)).astype(np.int64)
    last = np.flatnonzero(np.r_[lines.order[1:] != lines.order[:-1], True])
    cents[last] += order_cents[lines.order[last]] - paid[lines.order[last]]
    return cents


def order_values(rng: np.random.Generator, nu: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """Gamma-Gamma order values in cents (at least 1 yuan) for orders of customers with rate nu."""
    z = rng.gamma(cfg["spend"]["p"], 1.0 / nu)
    return np.maximum(np.round(z * 100.0), 100).astype(np.int64)


def follow_ups(
    rng: np.random.Generator,
    orders: Orders,
    lines: Lines,
    members: Members,
    cfg: dict[str, Any],
    cal: Calendar,
) -> tuple[Orders, Lines]:
    """Planted sequential cross-sell: buyers of A buy B within the window with extra probability."""
    window = float(cfg["cross_sell"]["window_days"])
    parts_o, parts_sku = [], []
    for pair in cfg["cross_sell"]["sequential"]:
        first, then = pair["first_rank"] - 1, pair["then_rank"] - 1
        src = lines.order[(lines.sku == first) & (orders.customer[lines.order] >= 0)]
        src = src[rng.random(len(src)) < pair["probability"]]
        t = orders.t[src] + rng.uniform(0.5, window - 0.5, len(src))
        t = np.floor(t) + hour_of_day(rng, len(t), cfg["seasonality"]["hour_weights"]) / 86400.0
        keep = t < cal.days
        src, t = src[keep], t[keep]
        parts_o.append(
            Orders(
                customer=orders.customer[src],
                t=t,
                channel=orders.channel[src],
                store=orders.store[src],
                rep=orders.rep[src],
                coupon=np.full(len(t), -1, dtype=np.int64),
                source=np.full(len(t), FOLLOW_UP, dtype=np.int8),
            )
        )
        parts_sku.append(np.full(len(t), then))
    new = Orders.concat(parts_o)
    sku = np.concatenate(parts_sku)
    qw = np.asarray(cfg["catalogue"]["quantity_weights"], dtype=float)
    new_lines = Lines(
        order=np.arange(len(new)),
        sku=sku,
        qty=rng.choice(np.arange(1, len(qw) + 1), size=len(new), p=qw / qw.sum()),
    )
    new_lines.cents = order_values(rng, members.nu[new.customer], cfg)
    return new, new_lines


def anonymous_orders(
    rng: np.random.Generator,
    n_member_lines: int,
    cfg: dict[str, Any],
    cal: Calendar,
    cat: Catalogue,
) -> tuple[Orders, Lines]:
    """Walk-in sales without a member id, sized so they make the planted share of lines."""
    share = float(cfg["anonymous"]["line_share"])
    lpo = np.asarray(cfg["catalogue"]["lines_per_order"], dtype=float)
    mean_lines = float((np.arange(1, len(lpo) + 1) * lpo).sum() / lpo.sum())
    n = int(round(share / (1.0 - share) * n_member_lines / mean_lines))
    growth = np.exp(cfg["acquisition"]["growth_per_year"] * np.arange(cal.days) / 365.25)
    weight = growth * cal.intensity
    day = rng.choice(cal.days, size=n, p=weight / weight.sum())
    t = day + hour_of_day(rng, n, cfg["seasonality"]["hour_weights"]) / 86400.0
    codes = cfg["channels"]["codes"]
    anon = cfg["anonymous"]["channel_shares"]
    ch_codes = [codes.index(c) for c in anon]
    ch_share = np.array(list(anon.values()), dtype=float)
    channel = np.asarray(ch_codes)[rng.choice(len(ch_codes), size=n, p=ch_share / ch_share.sum())]
    store = np.where(
        channel == codes.index("store"),
        rng.integers(0, len(cfg["stores"]["names"]), n),
        -1,
    )
    coupon = np.where(
        rng.random(n) < cfg["coupons"]["share"],
        rng.integers(0, len(cfg["coupons"]["codes"]), n),
        -1,
    )
    orders = Orders(
        customer=np.full(n, -1, dtype=np.int64),
        t=t,
        channel=channel.astype(np.int64),
        store=store.astype(np.int64),
        rep=np.full(n, -1, dtype=np.int64),
        coupon=coupon.astype(np.int64),
        source=np.full(n, ANONYMOUS, dtype=np.int8),
    )
    lines = basket_lines(rng, n, cfg, cat)
    nu = rng.gamma(cfg["spend"]["q"], 1.0 / cfg["spend"]["v"], size=n)
    lines.cents = allocate_amounts(lines, order_values(rng, nu, cfg), cat)
    return orders, lines


def returns(
    rng: np.random.Generator, orders: Orders, lines: Lines, cfg: dict[str, Any], cal: Calendar
) -> tuple[np.ndarray, np.ndarray]:
    """Pick returned lines and their return times (1..max_days after the purchase, within the period).

    Returns the indices of the returned lines and the calendar times of the returns.
    """
    picked = np.flatnonzero(rng.random(len(lines.order)) < cfg["returns"]["line_share"])
    t = orders.t[lines.order[picked]] + rng.uniform(
        1.0, float(cfg["returns"]["max_days"]), len(picked)
    )
    keep = t < cal.days
    return picked[keep], t[keep]
