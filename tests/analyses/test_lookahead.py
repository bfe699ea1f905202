"""No analysis looks past ``as_of``.

One small shop is built here, with transactions, customers, touchpoints, campaigns, campaign
members and funnel events on both sides of the report date :data:`AS_OF`. Every public analysis
that takes ``as_of`` runs twice with ``as_of=AS_OF``: on the whole shop, and on the shop cut at
the end of that day (every row dated later removed). The results must be identical: what was
known on the report date is all that may count.

A new analysis is covered by adding one ``(name, callable)`` entry to :data:`ANALYSES`; the
callable takes a :class:`Shop` and returns the analysis result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmlib import (
    basket,
    campaigns,
    channels,
    clv,
    cohorts,
    executive,
    kpis,
    lifecycle,
    rfm,
    segments,
    trends,
    value,
)
from crmlib.data import Dataset

#: The report date: in the middle of the shop's data.
AS_OF = "2024-03-15"
#: Members of the test shop.
N_MEMBERS = 90
#: End of the calibration period of the lifetime-value backtest (holdout: to ``AS_OF``).
CALIBRATION = "2023-09-30"
#: Everything at or after this instant lies after the report date.
END = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)

#: Row-accounting attrs: how many rows a function *read* differs by construction when later
#: rows are present (e.g. campaign members sent after ``as_of``, counted and left out).
#: Every other attr must match.
ACCOUNTING_ATTRS = frozenset({"members"})


@dataclasses.dataclass(frozen=True)
class Shop:
    """The canonical tables of the test shop (pandas frames as ``crmlib.data.as_table`` takes)."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    touchpoints: pd.DataFrame
    campaigns: pd.DataFrame
    campaign_members: pd.DataFrame
    events: pd.DataFrame

    @property
    def data(self) -> Dataset:
        """The shop as a :class:`crmlib.data.Dataset` (for the KPIs and the summary)."""
        return Dataset(
            transactions=self.transactions,
            customers=self.customers,
            touchpoints=self.touchpoints,
            campaigns=self.campaigns,
            campaign_members=self.campaign_members,
            events=self.events,
        )

    def cut(self) -> Shop:
        """The shop as it stood at the end of the report date: every later row removed."""

        def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
            return frame[frame[column] < END].reset_index(drop=True)

        return Shop(
            transactions=before(self.transactions, "ordered_at"),
            customers=before(self.customers, "signup_at"),
            touchpoints=before(self.touchpoints, "occurred_at"),
            campaigns=before(self.campaigns, "starts_at"),
            campaign_members=before(self.campaign_members, "sent_at"),
            events=before(self.events, "occurred_at"),
        )


def _build_shop() -> Shop:
    """Members and some anonymous sales from 2022-01 to 2024-12, with a seeded generator.

    Rows fall on the report date itself (kept in the cut shop) and on the next midnight
    (removed), so the edge of the cut is tested too.
    """
    rng = np.random.default_rng(20240315)
    catalogue = {
        "A1": "apparel", "A2": "apparel", "B1": "beauty", "B2": "beauty", "C1": "care",
        "C2": "care", "D1": "drinks",
    }  # fmt: skip
    skus = list(catalogue)
    start, stop = pd.Timestamp("2022-01-01"), pd.Timestamp("2024-12-31")
    span = (stop - start).days
    lines = []
    signups = []
    order = 0
    for i in range(N_MEMBERS):
        cid = f"c{i:02d}"
        heavy = i % 3 == 0  # a third buy every few weeks
        first = start + pd.Timedelta(days=int(rng.integers(0, span - 60)))
        if heavy:
            first = start + pd.Timedelta(days=int(rng.integers(0, 200)))
        quits = pd.Timestamp("2023-11-01") if heavy and i % 2 == 0 else stop  # they drift away
        signups.append((cid, first - pd.Timedelta(days=int(rng.integers(0, 30)))))
        n_orders = 12 + int(rng.poisson(6)) if heavy else 1 + int(rng.poisson(3))
        when, follow = first, False
        for _ in range(n_orders):
            if when > min(stop, quits):
                break
            order += 1
            basket_skus = rng.choice(skus[:-1], size=1 + int(rng.integers(0, 3)), replace=False)
            if "A1" in basket_skus and rng.random() < 0.7:  # bought together
                basket_skus = np.unique(np.append(basket_skus, "B1"))
            if follow:  # C1 is followed by D1 in the next order
                basket_skus = np.unique(np.append(basket_skus, "D1"))
            stamp = when + pd.Timedelta(hours=int(rng.integers(9, 21)))
            channel = ("store", "web", "app")[int(rng.integers(0, 3))]
            coupon = "SPRING" if rng.random() < 0.15 else None
            for sku in basket_skus:
                amount = float(rng.integers(20, 200))
                lines.append((cid, f"o{order}", stamp, amount, sku, channel, coupon))
            if rng.random() < 0.08:  # a return a few days later
                back = stamp + pd.Timedelta(days=3)
                lines.append((cid, f"o{order}", back, -20.0, basket_skus[0], channel, None))
            follow = "C1" in basket_skus and rng.random() < 0.8
            gap = (5, 20) if follow else (10, 45) if heavy else (20, 150)
            when = when + pd.Timedelta(days=int(rng.integers(*gap)))
    for k in range(40):  # anonymous sales
        order += 1
        stamp = start + pd.Timedelta(days=int(rng.integers(0, span)), hours=12)
        lines.append((None, f"o{order}", stamp, 35.0, skus[k % len(skus)], "store", None))
    # the edges of the report date, bought by members who signed up long before
    old, older = [cid for cid, signup in signups if signup < pd.Timestamp("2023-01-01")][:2]
    lines += [
        (old, "edge1", pd.Timestamp(AS_OF) + pd.Timedelta(hours=23, minutes=59), 80.0, "A1",
         "web", None),  # last minute of the report date: counts
        (old, "edge2", END, 90.0, "B1", "web", None),  # first instant after it: does not
        (older, "edge3", END, 70.0, "A1", "store", None),
    ]  # fmt: skip
    tx = pd.DataFrame(
        lines,
        columns=["customer_id", "order_id", "ordered_at", "amount", "sku", "channel",
                 "coupon_code"],
    )  # fmt: skip
    tx["category"] = tx["sku"].map(catalogue)
    tx["quantity"] = 1
    tx["store"] = np.where(tx["channel"] == "store", "S1", None)
    tx["sales_rep"] = None
    customers = pd.DataFrame(signups, columns=["customer_id", "signup_at"])
    customers["member_level"] = [("regular", "silver", "gold")[i % 3] for i in range(N_MEMBERS)]
    customers["points"] = [float(i % 4) * 100 for i in range(N_MEMBERS)]
    customers["source_channel"] = [("store", "web")[i % 2] for i in range(N_MEMBERS)]
    customers.loc[len(customers)] = {  # a member who signs up after the report date
        "customer_id": "late", "signup_at": END + pd.Timedelta(days=5), "member_level": "gold",
        "points": 500.0, "source_channel": "web",
    }  # fmt: skip

    ids = [f"c{i:02d}" for i in range(N_MEMBERS)]
    kinds = ("inquiry", "complaint", "message_click", "activity_query")
    touch = [
        (ids[int(rng.integers(0, N_MEMBERS))], start + pd.Timedelta(days=int(rng.integers(0, span))),
         ("web", "phone")[j % 2], kinds[j % len(kinds)], "")
        for j in range(200)
    ]  # fmt: skip
    touch.append(("c03", END, "phone", "complaint", ""))
    touchpoints = pd.DataFrame(touch, columns=["customer_id", "occurred_at", "channel", "kind",
                                               "content"])  # fmt: skip

    sends = {  # campaign -> first send; K4's window is open on the report date, K5 and K6 later
        "K1": "2023-03-01", "K2": "2023-09-01", "K3": "2024-01-10", "K4": "2024-03-10",
        "K5": "2024-03-16", "K6": "2024-06-01",
    }  # fmt: skip
    camp = pd.DataFrame(
        {
            "campaign_id": list(sends),
            "name": [f"Campaign {k}" for k in sends],
            "channel": ["sms", "email", "sms", "app", "sms", "email"],
            "starts_at": pd.to_datetime(list(sends.values())),
            "ends_at": pd.to_datetime(list(sends.values())) + pd.Timedelta(days=14),
            "coupon_code": ["SPRING", None, "SPRING", None, None, "SPRING"],
            "partner": [None, "Bank", None, None, None, None],
        }
    )
    members = []
    for k, day in sends.items():
        for j, cid in enumerate(rng.choice(ids, size=24, replace=False)):
            sent = pd.Timestamp(day) + pd.Timedelta(hours=10 + (j % 3))
            members.append((k, cid, "control" if j % 4 == 0 else "target", sent))
    campaign_members = pd.DataFrame(members, columns=["campaign_id", "customer_id", "group",
                                                      "sent_at"])  # fmt: skip

    steps = ("visit", "view", "cart", "pay")
    ev = []
    for j in range(300):
        when = start + pd.Timedelta(days=int(rng.integers(0, span)), hours=10)
        depth = 1 + int(rng.integers(0, 4))
        ev += [(ids[j % N_MEMBERS], when, step) for step in steps[:depth]]
    ev.append(("c04", END, "cart"))
    events = pd.DataFrame(ev, columns=["customer_id", "occurred_at", "event"])
    return Shop(tx, customers, touchpoints, camp, campaign_members, events)


@pytest.fixture(scope="module")
def shops() -> tuple[Shop, Shop]:
    """The whole shop and the same shop cut at the end of the report date."""
    whole = _build_shop()
    cut = whole.cut()
    assert len(cut.transactions) < len(whole.transactions)  # there is something to leave out
    assert len(cut.campaign_members) < len(whole.campaign_members)
    assert len(cut.touchpoints) < len(whole.touchpoints) and len(cut.events) < len(whole.events)
    return whole, cut


# ------------------------------------------------------------------------------ the analyses
def _rfm(s: Shop) -> pd.DataFrame:
    return rfm.rfm_table(s.transactions, as_of=AS_OF)


def _segmentation(s: Shop) -> segments.Segmentation:
    return segments.segment_rfm(_rfm(s), scheme="cn8")


def _stages(s: Shop) -> pd.DataFrame:
    return lifecycle.customer_stages(s.transactions, as_of=AS_OF)


def _responses(s: Shop) -> pd.DataFrame:
    return campaigns.member_responses(
        s.campaign_members, s.transactions, campaigns=s.campaigns, as_of=AS_OF
    )


def _campaign_response(s: Shop) -> pd.DataFrame:
    return campaigns.campaign_response(s.campaigns, s.campaign_members, s.transactions, as_of=AS_OF)


def _rules(s: Shop) -> pd.DataFrame:
    return basket.association_rules(
        s.transactions, level="sku", min_support=0.02, min_confidence=0.1, as_of=AS_OF
    )


def _clv_summary(s: Shop) -> pd.DataFrame:
    return clv.summary(s.transactions, as_of=AS_OF)


def _clv_scores(s: Shop) -> pd.DataFrame:
    return clv.analyse(s.transactions, as_of=AS_OF).scores


def _backtest(s: Shop) -> clv.Backtest:
    return clv.backtest(s.transactions, calibration_end=CALIBRATION, as_of=AS_OF)


#: Every public analysis that takes ``as_of``, as (name, callable on a Shop).
ANALYSES: list[Any] = [
    # rfm, segments, value
    ("rfm.rfm_table", _rfm),
    ("rfm.member_share", lambda s: rfm.member_share(s.transactions, as_of=AS_OF)),
    ("segments.segment_rfm", _segmentation),
    ("value.segment_overview", lambda s: value.segment_overview(_segmentation(s))),
    ("value.segment_grid", lambda s: value.segment_grid(_segmentation(s))),
    ("value.value_quadrants", lambda s: value.value_quadrants(_rfm(s))),
    ("value.value_matrix", lambda s: value.value_matrix(_rfm(s))),
    ("value.pareto", lambda s: value.pareto(_rfm(s))),
    ("value.lorenz_curve", lambda s: value.lorenz_curve(_rfm(s))),
    ("value.gini", lambda s: value.gini(_rfm(s))),
    # lifecycle
    ("lifecycle.customer_stages", _stages),
    ("lifecycle.base_gap_percentiles",
     lambda s: lifecycle.base_gap_percentiles(s.transactions, as_of=AS_OF)),
    ("lifecycle.latest_stages", lambda s: lifecycle.latest_stages(_stages(s))),
    ("lifecycle.stage_counts", lambda s: lifecycle.stage_counts(_stages(s))),
    ("lifecycle.stage_transitions", lambda s: lifecycle.stage_transitions(_stages(s))),
    # cohorts
    ("cohorts.cohort_retention", lambda s: cohorts.cohort_retention(s.transactions, as_of=AS_OF)),
    ("cohorts.order_milestones", lambda s: cohorts.order_milestones(s.transactions, as_of=AS_OF)),
    ("cohorts.purchase_intervals",
     lambda s: cohorts.purchase_intervals(s.transactions, as_of=AS_OF)),
    ("cohorts.acquisition_segments",
     lambda s: cohorts.acquisition_segments(s.transactions, as_of=AS_OF)),
    # trends
    ("trends.period_trends", lambda s: trends.period_trends(s.transactions, as_of=AS_OF)),
    ("trends.category_mix", lambda s: trends.category_mix(s.transactions, as_of=AS_OF)),
    ("trends.decompose_revenue",
     lambda s: trends.decompose_revenue(trends.period_trends(s.transactions, as_of=AS_OF))),
    # campaigns
    ("campaigns.member_responses", _responses),
    ("campaigns.campaign_response", _campaign_response),
    ("campaigns.response_by_segment",
     lambda s: campaigns.response_by_segment(
         _responses(s), _segmentation(s).customers, by_campaign=True)),
    ("campaigns.best_campaign", lambda s: campaigns.best_campaign(_campaign_response(s))),
    # channels
    ("channels.channel_trends", lambda s: channels.channel_trends(s.transactions, as_of=AS_OF)),
    ("channels.multichannel", lambda s: channels.multichannel(s.transactions, as_of=AS_OF)),
    ("channels.touchpoint_counts", lambda s: channels.touchpoint_counts(s.touchpoints, as_of=AS_OF)),
    ("channels.touchpoint_effects",
     lambda s: channels.touchpoint_effects(s.touchpoints, s.transactions, as_of=AS_OF)),
    ("channels.complaint_churn",
     lambda s: channels.complaint_churn(s.touchpoints, s.transactions, as_of=AS_OF)),
    ("channels.service_usage",
     lambda s: channels.service_usage(s.customers, s.transactions, as_of=AS_OF)),
    ("channels.funnel", lambda s: channels.funnel(s.events, as_of=AS_OF)),
    # KPIs
    ("kpis.kpi_values",
     lambda s: kpis.kpi_values(s.data, period=kpis.period_bounds(AS_OF, complete=False))),
    ("kpis.kpi_table", lambda s: kpis.kpi_table(s.data, as_of=AS_OF)),
    ("kpis.compare_periods", lambda s: kpis.compare_periods(s.data, as_of=AS_OF)),
    ("kpis.compare_periods(partial)",
     lambda s: kpis.compare_periods(s.data, as_of=AS_OF, complete=False)),
    # executive summary
    ("executive.executive_summary", lambda s: executive.executive_summary(s.data, as_of=AS_OF)),
    ("executive.segment_movements",
     lambda s: executive.segment_movements(s.transactions, as_of=AS_OF)),
    ("executive.top_cross_sell",
     lambda s: executive.top_cross_sell(s.transactions, as_of=AS_OF, min_customers=3)),
    ("executive.value_at_risk", lambda s: executive.value_at_risk(s.transactions, as_of=AS_OF)),
    # basket
    ("basket.baskets", lambda s: basket.baskets(s.transactions, as_of=AS_OF)),
    ("basket.association_rules", _rules),
    ("basket.sequential_rules",
     lambda s: basket.sequential_rules(s.transactions, level="sku", min_customers=2, min_lift=1.0,
                                       as_of=AS_OF)),
    ("basket.sequential_gaps",
     lambda s: basket.sequential_gaps(s.transactions, pairs=[("C1", "D1")], level="sku",
                                      as_of=AS_OF)),
    ("basket.recommend", lambda s: basket.recommend(s.transactions, _rules(s), as_of=AS_OF)),
    ("basket.segment_members",
     lambda s: basket.segment_members(s.transactions, segment="important_value", as_of=AS_OF)),
    # lifetime value
    ("clv.summary", _clv_summary),
    ("clv.observation_end", lambda s: clv.observation_end(s.transactions, as_of=AS_OF)),
    ("clv.analyse", _clv_scores),
    ("clv.future_high_value",
     lambda s: clv.future_high_value(_clv_scores(s), s.transactions, as_of=AS_OF)),
    ("clv.backtest", _backtest),
    ("clv.tracking",
     lambda s: clv.tracking(s.transactions, model=_backtest(s).model, calibration_end=CALIBRATION,
                            as_of=AS_OF)),
]  # fmt: skip


# ------------------------------------------------------------------------------ comparison
def _same(a: Any, b: Any, where: str) -> None:
    """Assert that two analysis results are identical (floats to 1e-9 relative)."""
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), where
        pd.testing.assert_frame_equal(
            a.reset_index(drop=True) if a.index.name is None else a,
            b.reset_index(drop=True) if b.index.name is None else b,
            check_exact=False, rtol=1e-9, obj=where,
        )  # fmt: skip
        _same_attrs(a.attrs, b.attrs, where)
    elif isinstance(a, pd.Series):
        assert isinstance(b, pd.Series), where
        pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-9, obj=where)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float | np.floating) and not isinstance(a, bool):
        assert isinstance(b, float | np.floating), where
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-9), where
    elif hasattr(a, "params_"):  # a fitted model: its fitted parameters
        _same(dict(a.params_), dict(b.params_), f"{where}.params_")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _same_attrs(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    keys = (set(a) | set(b)) - ACCOUNTING_ATTRS
    for key in sorted(keys):
        assert key in a and key in b, f"{where}.attrs[{key!r}]"
        _same(a[key], b[key], f"{where}.attrs[{key!r}]")


@pytest.mark.parametrize(("name", "analysis"), ANALYSES, ids=[n for n, _ in ANALYSES])
def test_results_as_of_a_day_ignore_every_later_row(
    name: str, analysis: Callable[[Shop], Any], shops: tuple[Shop, Shop]
) -> None:
    whole, cut = shops
    _same(analysis(whole), analysis(cut), name)
