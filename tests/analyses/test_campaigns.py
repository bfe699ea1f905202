"""Campaign response, uplift intervals, channels, touchpoints, services and the funnel.

The findings and display tables on these results are tested in test_present_campaigns.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import campaigns as cp
from crmlib import channels as ch
from crmlib.errors import ConfigError


def _tx(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "amount", "channel", "coupon_code"]
    ).assign(ordered_at=lambda d: pd.to_datetime(d["ordered_at"]))


# -------------------------------------------------------------------------- intervals
@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
    ],
)
def test_newcombe_interval_matches_published_values(x1, n1, x2, n2, low, high):
    d, lo, hi = cp.uplift_interval(x1, n1, x2, n2)
    assert d == pytest.approx(x1 / n1 - x2 / n2)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wald_interval_matches_published_values():
    # Newcombe (1998) Table II, method 1 (simple asymptotic): 56/70 - 48/80 -> 0.0575, 0.3425
    _, lo, hi = cp.uplift_interval(56, 70, 48, 80, method="wald")
    assert (float(lo), float(hi)) == pytest.approx((0.0575, 0.3425), abs=5e-5)


def test_interval_is_nan_for_an_empty_group_and_rejects_unknown_methods():
    d, lo, hi = cp.uplift_interval(3, 10, 0, 0)
    assert np.isnan(d) and np.isnan(lo) and np.isnan(hi)
    with pytest.raises(ConfigError, match="method"):
        cp.uplift_interval(1, 2, 1, 2, method="exact")


# -------------------------------------------------------------------------- responses
def test_member_responses_window_and_coupon_on_a_small_case():
    members = pd.DataFrame(
        {
            "campaign_id": ["C1"] * 4,
            "customer_id": ["a", "b", "c", "d"],
            "group": ["target", "target", "control", "target"],
            "sent_at": pd.to_datetime(["2024-01-01 10:00"] * 4),
        }
    )
    campaigns = pd.DataFrame({"campaign_id": ["C1"], "name": ["Spring"], "coupon_code": ["SPR"],
                              "partner": [None], "channel": ["sms"],
                              "starts_at": pd.to_datetime(["2024-01-01"])})  # fmt: skip
    tx = _tx(
        [
            ("a", "o1", "2024-01-03 09:00", 50.0, "store", "SPR"),  # in window, coupon
            ("a", "o1", "2024-01-03 09:00", 30.0, "store", "SPR"),  # second line, same order
            ("b", "o2", "2024-01-15 10:00", 80.0, "web", None),  # exactly 14 days: outside
            ("b", "o3", "2024-01-01 09:59", 20.0, "web", None),  # before the message
            ("c", "o4", "2024-01-10 12:00", 40.0, "web", None),  # control responds
            ("d", "o5", "2024-01-05 12:00", -10.0, "web", None),  # return only: no response
        ]
    )
    r = cp.member_responses(members, tx, campaigns=campaigns, response_days=14).set_index(
        "customer_id"
    )
    assert r["responded"].to_dict() == {"a": True, "b": False, "c": True, "d": False}
    assert r.loc["a", "orders"] == 1 and r.loc["a", "coupon_orders"] == 1
    assert r.loc["a", "revenue"] == pytest.approx(80.0)
    assert r.loc["d", "revenue"] == pytest.approx(-10.0)

    table = cp.campaign_response(campaigns, members, tx, responses=r.reset_index())
    row = table.iloc[0]
    assert (row["targets"], row["controls"], row["responders"]) == (3, 1, 1)
    assert row["response_rate"] == pytest.approx(1 / 3)
    assert row["control_rate"] == pytest.approx(1.0)
    assert row["uplift"] == pytest.approx(1 / 3 - 1)
    assert row["coupon_redemption_rate"] == pytest.approx(1 / 3)
    # revenue per recipient: (80 + 0 - 10) / 3 targets vs 40 / 1 control
    assert row["revenue_per_recipient"] == pytest.approx(70 / 3)
    assert row["incremental_revenue"] == pytest.approx((70 / 3 - 40) * 3)


def test_campaign_uplift_recovers_the_planted_uplift(demo_params, demo_truth):
    from crmlib.data import load_dataset

    data = load_dataset(demo_params)
    table = cp.campaign_response(
        data.campaigns, data.campaign_members, data.transactions,
        response_days=demo_truth["campaigns"]["response_days"],
    ).set_index("campaign_id")  # fmt: skip
    planted = demo_truth["campaigns"]["list"]
    assert set(table.index) == {c["campaign_id"] for c in planted}
    for camp in planted:
        row = table.loc[camp["campaign_id"]]
        assert row["targets"] == camp["targets"] and row["controls"] == camp["controls"]
        # the simulator counts responders on its own clock: the rates must agree
        assert row["response_rate"] == pytest.approx(camp["target_response_rate"], abs=1e-9)
        assert row["control_rate"] == pytest.approx(camp["control_response_rate"], abs=1e-9)
        # the planted uplift (net of dropouts and natural buyers) lies in the interval
        assert row["uplift_low"] <= camp["expected_uplift"] <= row["uplift_high"]


def test_response_by_segment_splits_and_sums_to_the_total():
    responses = pd.DataFrame(
        {
            "campaign_id": ["C1"] * 6,
            "customer_id": list("abcdef"),
            "group": ["target", "target", "target", "control", "control", "target"],
            "sent_at": pd.Timestamp("2024-01-01"),
            "responded": [True, False, True, False, True, False],
            "orders": [1, 0, 1, 0, 1, 0],
            "revenue": [10.0, 0, 20, 0, 5, 0],
            "coupon_orders": [0] * 6,
        }
    )
    segments = pd.DataFrame({"customer_id": list("abcde"), "segment": ["x", "x", "y", "x", "y"]})
    out = cp.response_by_segment(responses, segments).set_index("segment")
    assert out.loc["x", "targets"] == 2 and out.loc["x", "responders"] == 1
    assert out.loc["y", "control_rate"] == pytest.approx(1.0)
    assert out.loc["unknown", "targets"] == 1
    assert out["targets"].sum() == 4 and out["controls"].sum() == 2


# -------------------------------------------------------------------------- as_of
def _shop_around_march() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three campaigns around the report date 2024-03-05 (response window 14 days).

    F1 "Feb" sent 2024-02-01: window closes 2024-02-15, complete on 2024-03-05.
    M1 "March" sent 2024-03-01: window runs to 2024-03-15, still open on 2024-03-05.
    A1 "April" sent 2024-04-01: after the report date.
    """
    campaigns = pd.DataFrame({"campaign_id": ["F1", "M1", "A1"], "name": ["Feb", "March", "April"],
                              "coupon_code": [None] * 3, "partner": [None] * 3,
                              "channel": ["sms"] * 3,
                              "starts_at": pd.to_datetime(["2024-02-01", "2024-03-01",
                                                           "2024-04-01"])})  # fmt: skip
    members = pd.DataFrame(
        {
            "campaign_id": ["F1"] * 6 + ["M1"] * 3 + ["A1"] * 2,
            "customer_id": list("abcdefghijk"),
            "group": ["target"] * 4
            + ["control"] * 2
            + ["target", "target", "control"]
            + ["target", "control"],
            "sent_at": pd.to_datetime(["2024-02-01"] * 6 + ["2024-03-01"] * 3 + ["2024-04-01"] * 2),
        }
    )
    tx = _tx(
        [
            ("a", "o1", "2024-02-03", 50.0, "web", None),  # F1 target, in window
            ("b", "o2", "2024-02-10", 30.0, "web", None),  # F1 target, in window
            ("h", "o3", "2024-03-03", 20.0, "web", None),  # M1 target, before as_of
            ("g", "o4", "2024-03-10", 99.0, "web", None),  # M1 target, AFTER as_of
            ("j", "o5", "2024-04-02", 10.0, "web", None),  # A1 target, after as_of
        ]
    )
    return campaigns, members, tx


def test_campaigns_as_of_use_only_what_was_known_on_that_day():
    campaigns, members, tx = _shop_around_march()
    r = cp.member_responses(members, tx, campaigns=campaigns, response_days=14, as_of="2024-03-05")
    # A1's two members were sent after the report date: 11 read = 9 used + 2 left out
    assert set(r["campaign_id"]) == {"F1", "M1"}
    assert r.attrs["members"]["read"] == 11 and r.attrs["members"]["used"] == 9
    assert r.attrs["members"]["dropped_sent_after_as_of"] == 2
    by = r.set_index("customer_id")
    # g's purchase on 2024-03-10 lies after as_of: not a response (without the cut it was one)
    assert not by.loc["g", "responded"] and by.loc["g", "revenue"] == 0.0
    assert by.loc["h", "responded"] and by.loc["a", "responded"] and by.loc["b", "responded"]
    # windows: F1 2024-02-01 + 14 d = 2024-02-15 <= 2024-03-06 (end of the as_of day) -> closed;
    # M1 2024-03-01 + 14 d = 2024-03-15 > 2024-03-06 -> open
    assert by["complete"].to_dict() == {
        **dict.fromkeys("abcdef", True),
        **dict.fromkeys("ghi", False),
    }

    table = cp.campaign_response(campaigns, members, tx, response_days=14, as_of="2024-03-05")
    assert table["campaign_id"].tolist() == ["F1", "M1"]  # April is not listed
    f1, m1 = table.iloc[0], table.iloc[1]
    assert bool(f1["complete"]) and not bool(m1["complete"])
    # F1: targets a-d, responders a, b -> 2/4 = 0.5; control e, f none -> 0; uplift 0.5
    assert (f1["targets"], f1["responders"], f1["controls"]) == (4, 2, 2)
    assert f1["uplift"] == pytest.approx(0.5)
    assert f1["revenue_per_recipient"] == pytest.approx((50 + 30) / 4)
    # M1: targets g, h; only h bought by 2024-03-05 -> 1/2 (with g's later purchase it was 2/2)
    assert m1["responders"] == 1 and m1["response_rate"] == pytest.approx(0.5)
    assert m1["target_revenue"] == pytest.approx(20.0)
    assert table.attrs["as_of"] == pd.Timestamp("2024-03-05")
    # the best campaign is chosen among complete campaigns only
    assert cp.best_campaign(table)["campaign_id"] == "F1"
    assert cp.best_campaign(table[~table["complete"]]) is None

    # response by segment pools complete campaigns only (M1's window is open)
    segments = pd.DataFrame({"customer_id": list("abcdefghi"), "segment": list("xxyyxyxxy")})
    seg = cp.response_by_segment(r, segments).set_index("segment")
    # F1 only: x = targets a, b (both respond), control e; y = targets c, d (none), control f
    assert seg.loc["x", "targets"] == 2 and seg.loc["x", "responders"] == 2
    assert seg.loc["y", "targets"] == 2 and seg.loc["y", "responders"] == 0
    assert seg["targets"].sum() == 4 and seg.attrs["open_campaigns"] == ["M1"]
    per = cp.response_by_segment(r, segments, by_campaign=True)
    assert per.groupby("campaign_id")["complete"].all().to_dict() == {"F1": True, "M1": False}


def test_campaign_response_refuses_responses_computed_for_another_day():
    campaigns, members, tx = _shop_around_march()
    r = cp.member_responses(members, tx, campaigns=campaigns, as_of="2024-04-30")
    with pytest.raises(ConfigError, match="as_of"):
        cp.campaign_response(campaigns, members, tx, as_of="2024-03-05", responses=r)
    same_day = cp.member_responses(members, tx, campaigns=campaigns, as_of="2024-03-05")
    with pytest.raises(ConfigError, match="response_days"):
        cp.campaign_response(
            campaigns, members, tx, as_of="2024-03-05", responses=same_day, response_days=7
        )
    # a table built by hand has no date: members sent after as_of are left out and counted
    hand = r.drop(columns="complete")
    hand.attrs = {}
    table = cp.campaign_response(campaigns, members, tx, as_of="2024-03-05", responses=hand)
    assert table["campaign_id"].tolist() == ["F1", "M1"]
    assert table.attrs["members"]["dropped_sent_after_as_of"] == 2
    assert table["complete"].tolist() == [True, False]


# -------------------------------------------------------------------------- channels
def test_multichannel_and_channel_trends_on_a_small_case():
    tx = _tx(
        [
            ("a", "1", "2023-01-05", 100.0, "store", None),
            ("a", "2", "2024-06-05", 50.0, "web", None),
            ("b", "3", "2023-02-05", 30.0, "store", None),
            ("c", "4", "2024-06-20", 70.0, "store", None),
            (None, "5", "2024-06-21", 10.0, "store", None),
        ]
    )
    m = ch.multichannel(tx, as_of="2024-06-30", active_days=365).set_index("group")
    assert m.loc["multi", "customers"] == 1 and m.loc["single", "customers"] == 2
    assert m.loc["single", "revenue_per_customer"] == pytest.approx(50.0)
    # retention: first purchase before 2023-07-01 -> a (multi, retained), b (single, lost)
    assert m.loc["multi", "retention_rate"] == 1.0 and m.loc["single", "retention_rate"] == 0.0
    tr = ch.channel_trends(tx, as_of="2024-06-30")
    june = tr[(tr["period"] == "2024-06-01") & (tr["channel"] == "store")].iloc[0]
    assert june["revenue"] == pytest.approx(80.0) and june["orders"] == 2
    assert june["customers"] == 1 and june["aov"] == pytest.approx(40.0)


def test_touchpoint_effects_and_complaint_churn_on_a_small_case():
    tx = _tx(
        [
            ("a", "1", "2024-01-01", 10.0, "store", None),
            ("a", "2", "2024-01-20", 10.0, "store", None),
            ("b", "3", "2024-01-01", 10.0, "store", None),
            ("b", "4", "2024-09-01", 10.0, "store", None),
        ]
    )
    tp = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "occurred_at": pd.to_datetime(["2024-01-10", "2024-01-10"]),
            "channel": ["web", "web"],
            "kind": ["complaint", "inquiry"],
            "content": ["", ""],
        }
    )
    eff = ch.touchpoint_effects(tp, tx, window_days=30, as_of="2024-09-30").set_index("kind")
    assert eff.loc["complaint", "purchase_rate"] == 1.0
    assert eff.loc["inquiry", "purchase_rate"] == 0.0
    # base: both customers acquired before 2024-01-01? no: first purchases on 2024-01-01, so
    # the January base counts customers acquired before January -> none -> NaN
    assert np.isnan(eff.loc["complaint", "base_rate"])
    churn = ch.complaint_churn(tp, tx, churn_days=180, as_of="2024-09-30").set_index("group")
    assert churn.loc["with_kind", "churn_rate"] == 1.0  # a: last purchase in January
    assert churn.loc["others", "churn_rate"] == 0.0


def test_touchpoint_base_rates_match_a_customer_by_customer_count():
    """The base rate of each kind: for the month of each touch, the share of customers acquired
    before the month who buy within the window after its first day, counted here customer by
    customer with sets."""
    rng = np.random.default_rng(12)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 900), unit="D")
    who = [f"c{i}" for i in rng.integers(0, 120, 900)]
    tx = _tx(
        [
            (c, str(i), d, 10.0, "store", None)
            for i, (c, d) in enumerate(zip(who, days, strict=True))
        ]
    )
    touched = pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 200, 150), unit="D")
    tp = pd.DataFrame({"customer_id": [f"c{i}" for i in rng.integers(0, 130, 150)],
                       "occurred_at": touched, "channel": "web",
                       "kind": rng.choice(["complaint", "inquiry"], 150), "content": ""})  # fmt: skip
    window = 21
    eff = ch.touchpoint_effects(tp, tx, window_days=window, as_of="2024-10-31").set_index("kind")
    bought = {(c, d.normalize()) for c, d in zip(tx["customer_id"], tx["ordered_at"], strict=True)}
    first = tx.groupby("customer_id")["ordered_at"].min()

    def base(start: pd.Timestamp) -> float:
        eligible = [c for c, f in first.items() if f < start]
        hits = [c for c in eligible
                if any((c, start + pd.Timedelta(days=k)) in bought for k in range(window))]  # fmt: skip
        return len(hits) / len(eligible)

    counted = tp[tp["occurred_at"] < pd.Timestamp("2024-10-31") - pd.Timedelta(days=window - 1)]
    for kind, rows in counted.groupby("kind"):
        months = rows["occurred_at"].dt.to_period("M").dt.start_time
        expected = np.mean([base(m) for m in months])
        assert eff.loc[kind, "base_rate"] == pytest.approx(expected, rel=1e-12)
        assert eff.loc[kind, "touches"] == len(rows)


def test_service_usage_names_a_missing_level_unknown_in_order_of_appearance():
    tx = _tx(
        [
            ("a", "1", "2024-01-01", 100.0, "store", None),
            ("b", "2", "2024-01-01", 20.0, "store", None),
            ("c", "3", "2024-02-01", 30.0, "store", None),
            ("d", "4", "2024-02-01", 40.0, "store", None),
        ]
    )
    customers = pd.DataFrame({"customer_id": ["a", "c", "d"], "member_level": ["gold", None, "gold"],
                              "points": [1.0, 0.0, 0.0]})  # fmt: skip
    u = ch.service_usage(customers, tx, as_of="2024-03-01")
    levels = u[u["service"] == "member_level"]
    assert list(levels["group"]) == ["gold", "unknown"]  # b and c have no level
    assert list(levels["customers"]) == [2, 2]
    assert levels["revenue_per_customer"].tolist() == pytest.approx([70.0, 25.0])


def test_service_usage_groups_by_level_points_and_coupons():
    tx = _tx(
        [
            ("a", "1", "2024-01-01", 100.0, "store", "X"),
            ("b", "2", "2024-01-01", 20.0, "store", None),
            ("b", "3", "2024-02-01", 20.0, "store", None),
        ]
    )
    customers = pd.DataFrame({"customer_id": ["a", "b"], "member_level": ["gold", "regular"],
                              "points": [10.0, 0.0]})  # fmt: skip
    u = ch.service_usage(customers, tx, as_of="2024-03-01").set_index(["service", "group"])
    assert u.loc[("coupon", "coupon_user"), "revenue_per_customer"] == pytest.approx(100.0)
    assert u.loc[("points", "no_points"), "orders_per_customer"] == pytest.approx(2.0)
    assert u.loc[("member_level", "gold"), "share"] == pytest.approx(0.5)


# -------------------------------------------------------------------------- funnel
def test_funnel_on_a_small_case():
    ev = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c", "d"],
            "occurred_at": pd.to_datetime(["2024-01-01"] * 8),
            "event": ["visit", "view", "cart", "pay", "visit", "view", "visit", "visit"],
        }
    )
    f = ch.funnel(ev)
    assert f["count"].tolist() == [4, 2, 1, 1]
    assert f["rate_from_previous"].tolist() == pytest.approx([1.0, 0.5, 0.5, 1.0])
    assert f["rate_from_first"].iloc[-1] == pytest.approx(0.25)
    assert f["dropped"].tolist() == [2, 1, 0, 0]
    assert ch.funnel(ev, count="customers")["count"].tolist() == [4, 2, 1, 1]
    with pytest.raises(ConfigError):
        ch.funnel(ev, steps=["visit"])


def test_members_without_send_time_fall_back_to_the_campaign_start_and_every_drop_is_counted():
    members = pd.DataFrame(
        {
            "campaign_id": ["K1", "K1", "K1", "K2", "K9", "K3"],
            "customer_id": ["a", "b", None, "c", "d", "e"],
            "group": ["target", " Control", "target", "vip", "target", "target"],
            "sent_at": pd.to_datetime(["2024-01-01", None, "2024-01-01", "2024-01-01", None,
                                       "2024-01-01"]),
        }
    )  # fmt: skip
    campaigns = pd.DataFrame({"campaign_id": ["K1", "K2"], "name": ["Spring", "Summer"],
                              "coupon_code": [None, None], "partner": [None, None],
                              "channel": ["sms", "sms"],
                              "starts_at": pd.to_datetime(["2024-01-05", "2024-01-01"])})  # fmt: skip
    tx = _tx([("a", "o1", "2024-01-02", 10.0, "web", None), ("b", "o2", "2024-01-06", 5.0, "web", None),
              ("e", "o3", "2024-01-02", 7.0, "web", None)])  # fmt: skip
    r = cp.member_responses(members, tx, campaigns=campaigns)
    # b has no sent_at: K1 starts 2024-01-05, so the 2024-01-06 order is a response
    b = r.set_index("customer_id").loc["b"]
    assert b["sent_at"] == pd.Timestamp("2024-01-05") and b["group"] == "control"
    assert bool(b["responded"])
    counts = r.attrs["members"]
    assert counts == {"read": 6, "used": 3, "sent_at_from_campaign": 1, "group_defaulted": 0,
                      "dropped_no_send_date": 1, "dropped_missing_customer": 1,
                      "dropped_unknown_group": 1, "dropped_sent_after_as_of": 0}  # fmt: skip
    dropped = sum(v for k, v in counts.items() if k.startswith("dropped_"))
    assert counts["used"] + dropped == counts["read"]

    table = cp.campaign_response(campaigns, members, tx, responses=r)
    # e belongs to K3, which the campaigns table lacks
    assert table.attrs["members"]["dropped_unknown_campaign"] == 1


# -------------------------------------------------------------------------- old names
def test_names_that_moved_still_work_with_a_deprecation_warning():
    from crmlib.present import campaigns as present

    with pytest.warns(DeprecationWarning, match="crmlib.channels.funnel"):
        assert cp.funnel is ch.funnel
    with pytest.warns(DeprecationWarning, match="crmlib.present.campaigns.campaign_findings"):
        assert cp.campaign_findings is present.campaign_findings
    with pytest.warns(DeprecationWarning):
        assert cp.FUNNEL_STEPS == ch.FUNNEL_STEPS
    with pytest.raises(AttributeError):
        cp.no_such_name  # noqa: B018


def test_touchpoint_effects_without_any_purchase_have_no_base() -> None:
    """Only returns in the lines: no customer ever bought, so there is no base rate to compare
    with (NaN, shown as "–"), and no touch was followed by a purchase."""
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "order_id": ["1", "2"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [-5.0, -3.0],
        }
    )
    touches = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "occurred_at": pd.to_datetime(["2023-12-01", "2023-12-02"]),
            "kind": ["inquiry", "complaint"],
            "channel": ["web", "web"],
        }
    )
    out = ch.touchpoint_effects(touches, lines, as_of="2024-03-01").set_index("kind")
    assert out["purchase_rate"].tolist() == [0.0, 0.0]
    assert out["base_rate"].isna().all() and out["lift"].isna().all()
