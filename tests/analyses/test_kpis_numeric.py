"""The executive summary's facts and the campaign and event KPIs on small hand-built shops.

Every expected value is worked out by hand from the rows below; the arithmetic is in the
comment beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import executive, kpis
from crmlib.data import Dataset, as_table


def _tx(rows: list[tuple]) -> pd.DataFrame:
    cols = ["customer_id", "order_id", "ordered_at", "amount", "sku", "coupon_code"]
    rows = [tuple(r) + (None,) * (len(cols) - len(r)) for r in rows]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(ordered_at=pd.to_datetime(frame["ordered_at"]))


def _frame(rows: list[tuple], cols: list[str], *, dates: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(**{c: pd.to_datetime(frame[c]) for c in dates})


# --------------------------------------------------------------------------------------------
# campaign and event KPIs
# --------------------------------------------------------------------------------------------
# Period under test: June 2024. Its end is 2024-07-01 00:00, so the trailing year starts
# 2023-07-01 and, with a 14-day response window, only members sent up to 2024-06-17 00:00 have
# a closed window.
CAMPAIGNS = _frame(
    [
        ("C0", "Old", "sms", "2023-06-15", "OLD"),  # sent before the trailing year
        ("C1", "May", "sms", "2024-05-01", "SUMMER"),
        ("C2", "June", "email", "2024-06-20", "JUNE"),  # window still open at the period end
    ],
    ["campaign_id", "name", "channel", "starts_at", "coupon_code"],
    dates=("starts_at",),
)
MEMBERS = _frame(
    [
        ("C0", "t5", "target", "2023-06-15 10:00"),
        ("C1", "t1", "target", "2024-05-01 10:00"),
        ("C1", "t2", "target", "2024-05-01 10:00"),
        ("C1", "t3", "target", "2024-05-01 10:00"),
        ("C1", "t4", "target", "2024-05-01 10:00"),
        ("C1", "k1", "control", "2024-05-01 10:00"),
        ("C1", "k2", "control", "2024-05-01 10:00"),
        ("C2", "t1", "target", "2024-06-20 10:00"),
        ("C2", "t2", "target", "2024-06-20 10:00"),
    ],
    ["campaign_id", "customer_id", "group", "sent_at"],
    dates=("sent_at",),
)
CAMPAIGN_TX = _tx(
    [
        (None, "oa", "2023-04-03", 1.0, "A", None),  # an anonymous sale: the data starts here
        ("t5", "o0", "2023-06-16", 40.0, "A", "OLD"),  # responds to C0 (before the year)
        ("t1", "o1", "2024-05-03", 50.0, "A", "SUMMER"),  # responds to C1 with its coupon
        ("t2", "o2", "2024-05-10", 30.0, "A", None),  # responds to C1 without the coupon
        ("t3", "o3", "2024-05-20", 20.0, "A", "SUMMER"),  # after C1's window (ends 05-15 10:00)
        ("k1", "o4", "2024-05-05", 10.0, "A", None),  # control member: not a recipient
        ("t1", "o5", "2024-06-22", 60.0, "A", "JUNE"),  # responds to C2, window still open
    ]
)
TOUCHPOINTS = _frame(
    [
        ("t3", "2023-06-20 09:00", "sms", "message_click"),  # before the trailing year
        ("t1", "2024-05-01 11:00", "sms", "message_click"),
        ("t2", "2024-06-20 12:00", "email", "message_click"),
        ("t4", "2024-05-02 09:00", "store", "registration"),  # not a click
        ("t1", "2024-07-01 09:00", "email", "message_click"),  # after the period
    ],
    ["customer_id", "occurred_at", "channel", "kind"],
    dates=("occurred_at",),
)
EVENTS = _frame(
    [
        ("t1", "2024-05-31 23:00", "cart"),  # before the period
        ("t1", "2024-06-02 10:00", "visit"),
        ("t1", "2024-06-02 10:05", "cart"),
        ("t1", "2024-06-02 10:09", "pay"),
        ("t2", "2024-06-05 10:00", "cart"),
        ("t3", "2024-06-07 10:00", "cart"),
        ("t4", "2024-06-30 22:00", "cart"),
        ("t4", "2024-07-01 00:10", "pay"),  # after the period
    ],
    ["customer_id", "occurred_at", "event"],
    dates=("occurred_at",),
)


def _campaign_shop(members: pd.DataFrame = MEMBERS) -> Dataset:
    return Dataset(
        transactions=as_table(CAMPAIGN_TX),
        touchpoints=as_table(TOUCHPOINTS, table="touchpoints"),
        campaigns=as_table(CAMPAIGNS, table="campaigns"),
        campaign_members=as_table(members, table="campaign_members"),
        events=as_table(EVENTS, table="events"),
    )


def test_campaign_and_event_kpis_on_a_hand_built_shop():
    june = kpis.period_bounds("2024-06-30", period="month")
    clv = pd.DataFrame({"customer_id": ["t1", "t2", "t3"], "clv": [100.0, 200.0, 600.0]})
    v = kpis.kpi_values(_campaign_shop(), period=june, response_days=14, clv=clv)
    # recipients with a closed window, sent in [2023-07-01, 2024-06-17]: C1's t1, t2, t3, t4
    # (C0 was sent before the year, C2 after 06-17); t1 and t2 bought within 14 days -> 2 / 4
    assert v["campaign_response_rate"] == pytest.approx(2 / 4)
    # orders with the campaign's coupon in the window: t1's o1 (SUMMER); t3's o3 came too late
    # -> 1 / 4 recipients
    assert v["coupon_redemption"] == pytest.approx(1 / 4)
    # clicks in [2023-07-01, 2024-07-01): t1 05-01 and t2 06-20 = 2; recipients sent in the
    # same year: C1 4 + C2 2 = 6 -> 2 / 6
    assert v["message_click_rate"] == pytest.approx(2 / 6)
    # June: carts t1, t2, t3, t4 = 4 sessions, payments t1 = 1 -> 1 - 1/4
    assert v["cart_abandonment"] == pytest.approx(0.75)
    # (100 + 200 + 600) / 3
    assert v["avg_clv"] == pytest.approx(300.0)


def test_a_campaign_kpi_is_measured_once_a_window_has_closed():
    # May 2024 up to 05-10: the trailing year starts 2023-05-11. C0's t5 (sent 2023-06-15,
    # window closed) responded with C0's coupon; C1's window closes 05-15 10:00, so its four
    # recipients are not judged yet -> response 1 / 1, coupon 1 / 1
    may = kpis.period_bounds("2024-05-10", period="month", complete=False)
    v = kpis.kpi_values(_campaign_shop(), period=may, response_days=14)
    assert v["campaign_response_rate"] == pytest.approx(1 / 1)
    assert v["coupon_redemption"] == pytest.approx(1 / 1)
    # clicks in [2023-05-11, 2024-05-11): t3 2023-06-20 and t1 2024-05-01 = 2; recipients sent
    # in that year: t5 + C1's 4 = 5 -> 2 / 5
    assert v["message_click_rate"] == pytest.approx(2 / 5)
    # without C0 no window has closed: no response rate or coupon redemption, but messages were
    # sent and clicked, so the click rate is measured: 2 clicks / C1's 4 recipients
    v = kpis.kpi_values(_campaign_shop(MEMBERS[MEMBERS["campaign_id"] != "C0"]), period=may,
                        response_days=14)  # fmt: skip
    assert np.isnan(v["campaign_response_rate"]) and np.isnan(v["coupon_redemption"])
    assert v["message_click_rate"] == pytest.approx(2 / 4)


def test_a_blank_customer_id_is_an_anonymous_sale():
    # "a" and a blank id each buy 100 in June: one customer, half the sales from members
    # (the anonymous sale of 1 May only says the data covers June from its first day)
    tx = _tx([("", "0", "2024-05-01", 5.0), ("a", "1", "2024-06-10", 100.0),
              ("", "2", "2024-06-11", 100.0)])  # fmt: skip
    v = kpis.kpi_values(tx, period=kpis.period_bounds("2024-06-30", period="month"))
    assert v["customers"] == 1 and v["active_customers"] == 1 and v["new_customers"] == 1
    assert v["member_share"] == pytest.approx(100 / 200)
    assert v["revenue"] == pytest.approx(200.0) and v["aov"] == pytest.approx(200 / 2)
    assert v["purchase_frequency"] == pytest.approx(1 / 1)  # one member order, one active member


# --------------------------------------------------------------------------------------------
# value at risk: the selection on hand-made scores
# --------------------------------------------------------------------------------------------
class _Fitted:
    """A fitted model whose parameters the data pins down."""

    def parameters(self) -> pd.DataFrame:
        return pd.DataFrame({"parameter": ["r"], "identifiable": [True]})


class _Analysis:
    settings = {"time_unit": "D"}
    model = spend_model = _Fitted()

    def __init__(self, scores: pd.DataFrame) -> None:
        self.scores = scores


def test_value_at_risk_selects_top_customers_whose_p_alive_fell(monkeypatch):
    ids = [f"c{i:02d}" for i in range(1, 11)]
    then = pd.DataFrame({"customer_id": ids, "clv": [100.0 * i for i in range(1, 11)],
                         "p_alive": [0.9] * 10})  # fmt: skip
    now = then.assign(clv=then["clv"] * 0.9, p_alive=0.9)
    now.loc[now["customer_id"] == "c10", ["clv", "p_alive"]] = (400.0, 0.5)  # fell by 0.4
    now.loc[now["customer_id"] == "c09", "p_alive"] = 0.85  # fell by 0.05 < min_drop
    now.loc[now["customer_id"] == "c01", "p_alive"] = 0.1  # fell a lot, but low value
    now = pd.concat([now, pd.DataFrame({"customer_id": ["new"], "clv": [5000.0],
                                        "p_alive": [0.1]})])  # fmt: skip
    monkeypatch.setattr(executive.clv, "analyse", lambda *a, **k: _Analysis(now))
    monkeypatch.setattr(executive.clv, "summary", lambda *a, **k: None)
    monkeypatch.setattr(executive.clv, "score", lambda *a, **k: then)
    tx = _tx([("c01", "1", "2024-06-30", 1.0)])
    out = executive.value_at_risk(tx, as_of="2024-06-30", top_share=0.2, min_drop=0.1)
    # top 20% by CLV then: 0.8 quantile of 100..1000 = 800 + 0.2 x 100 = 820 -> c09, c10;
    # of those only c10 fell by at least 0.1 ("new" was not a customer 90 days ago)
    assert out["customer_id"].tolist() == ["c10"]
    s = out.attrs["summary"]
    assert s["customers"] == 1
    assert s["amount"] == pytest.approx(1000.0)  # c10's CLV then
    assert s["lost"] == pytest.approx(1000.0 - 400.0)  # then - now
    assert s["share"] == pytest.approx(1000.0 / 5500.0)  # of 100 + 200 + ... + 1000 = 5,500
    assert s["lookback_days"] == 90


# --------------------------------------------------------------------------------------------
# the executive summary of a hand-built shop, as of a day in the middle of its data
# --------------------------------------------------------------------------------------------
AS_OF = "2024-06-30"


def _summary_shop() -> pd.DataFrame:
    rows: list[tuple] = []
    for i in range(40):  # x: A on 04-02, then B on 04-07 (5 days later)
        rows += [(f"x{i:02d}", f"xa{i}", "2024-04-02", 10.0, "A"),
                 (f"x{i:02d}", f"xb{i}", "2024-04-07", 20.0, "B")]  # fmt: skip
    for i in range(40):  # y: C once, on 04-10
        rows.append((f"y{i:02d}", f"yc{i}", "2024-04-10", 10.0, "C"))
    for i in range(25):  # z: D on 04-02, then E on 04-10 (8 days later)
        rows += [(f"z{i:02d}", f"zd{i}", "2024-04-02", 10.0, "D"),
                 (f"z{i:02d}", f"ze{i}", "2024-04-10", 10.0, "E")]  # fmt: skip
    for i in range(5):  # n: first purchase in June 2024
        rows.append((f"n{i}", f"n{i}", "2024-06-15", 100.0, "F"))
    rows += [
        (None, "anon-june", "2024-06-20", 50.0, "F"),  # anonymous, June 2024
        (None, "anon-may", "2024-05-20", 200.0, "F"),  # anonymous, May 2024
        ("w", "w1", "2023-06-02", 1000.0, "G"),  # June 2023 (the data's first day), never again
        # after the report date: must not count anywhere
        ("y01", "late0", "2024-07-02", 999.0, "C"),
        ("x00", "late1", "2024-07-05", 999.0, "B"),
        ("y00", "late2", "2024-07-06", 999.0, "A"),
        (None, "late3", "2024-08-01", 999.0, "F"),
    ]
    return _tx(rows)


@pytest.fixture(scope="module")
def summary() -> executive.Summary:
    return executive.executive_summary(_summary_shop(), as_of=AS_OF, period="month")


def test_summary_kpi_facts(summary):
    f = summary.facts
    p = summary.comparison.attrs
    assert (p["period"].label, p["previous"].label, p["last_year"].label) == (
        "2024-06",
        "2024-05",
        "2023-06",
    )
    # June 2024: n0..n4 5 x 100 + anonymous 50 = 550 (July rows left out)
    assert f["revenue.value"] == pytest.approx(550.0)
    assert f["revenue.previous"] == pytest.approx(200.0)  # May 2024: the anonymous 200
    assert f["revenue.last_year"] == pytest.approx(1000.0)  # June 2023: w's 1,000
    # (550 - 200) / 200 = +175% good; (550 - 1000) / 1000 = -45% bad
    assert f["revenue.relative_change_previous"] == pytest.approx(1.75)
    assert f["revenue.relative_change_last_year"] == pytest.approx(-0.45)
    assert (f["revenue.vs_previous"], f["revenue.vs_last_year"]) == ("good", "bad")
    assert f["active_customers.value"] == 5 and f["new_customers.value"] == 5
    assert f["new_customers.last_year"] == 1  # w, June 2023
    # members up to 2024-06-30: x 40 + y 40 + z 25 + n 5 + w 1
    assert f["customers.value"] == 111
    assert f["aov.value"] == pytest.approx(550 / 6)  # 5 member orders + 1 anonymous
    assert f["member_share.value"] == pytest.approx(500 / 550)
    # retention's base year [2022-07-01, 2023-07-01) is covered from 2023-06-02 only (the data
    # starts there): its base would be June 2023's customers alone, so it is not measured
    # (it read 0 / 1 = 0% retention and 100% churn before)
    assert np.isnan(f.get("retention_rate.value", np.nan))
    assert np.isnan(f.get("churn_rate.value", np.nan))
    reasons = summary.comparison.set_index("kpi")["why_not"]
    assert reasons["retention_rate"].reason == "before_data" and reasons["revenue"] is None


def test_summary_segment_movements(summary):
    m = summary.movements.set_index("stage")
    assert (m.attrs["previous"], m.attrs["current"]) == ("2024-05", "2024-06")
    # end of May: x (last 04-07, 54 days, repeat: at risk from 90), y (04-10, 51 days,
    # one-time: at risk from 60), z (04-10, 51 days) -> 105 active; w (2023-06-10, > 120 days,
    # one-time) churned
    assert (m.loc["active", "previous"], m.loc["churned", "previous"]) == (105, 1)
    assert (m.loc["at_risk", "previous"], m.loc["new", "previous"]) == (0, 0)
    # end of June: x 84 days and z 81 days (repeat, < 90) active = 65; y 81 days (one-time,
    # >= 60) at risk = 40; n new = 5; w churned = 1; x00 and y00's July orders do not count
    assert m.loc["active", "current"] == 65 and m.loc["active", "change"] == 65 - 105
    assert m.loc["at_risk", "current"] == 40 and m.loc["at_risk", "change"] == 40
    assert m.loc["new", "current"] == 5 and m.loc["churned", "current"] == 1
    assert m.loc["reactivated", "current"] == 0
    f = summary.facts
    assert f["stages.at_risk_change"] == 40 and f["stages.active"] == 65


def test_summary_top_cross_sell(summary):
    # A then B: 40 of the 40 A buyers bought B 5 days later -> share 1.0; B buyers 40 of the 111
    # members -> baseline 40 / 111; lift 111 / 40 = 2.775. D then E has the higher lift
    # (111 / 25 = 4.44) but only 25 customers, fewer than the 30 required. y00's July A does
    # not count.
    f = summary.facts
    assert (f["cross_sell.first"], f["cross_sell.then"]) == ("A", "B")
    assert f["cross_sell.share"] == pytest.approx(1.0)
    assert f["cross_sell.lift"] == pytest.approx(111 / 40)
    assert f["cross_sell.days"] == 30
    assert summary.cross_sell["n_both"] == 40
    # with 20 customers enough, D then E wins
    de = executive.top_cross_sell(_summary_shop(), as_of=AS_OF, min_customers=20)
    assert (de["antecedent"], de["consequent"], de["n_both"]) == ("D", "E", 25)
    assert de["lift"] == pytest.approx(111 / 25)
    # with more customers required than any rule has: none
    assert executive.top_cross_sell(_summary_shop(), as_of=AS_OF, min_customers=41) is None


def test_summary_without_campaign_tables_says_so(summary):
    assert summary.best_campaign is None and summary.campaigns is None
    assert {"note": "missing_table", "table": "campaigns"} in summary.notes
    assert not any(k.startswith("best_campaign.") for k in summary.facts)


def test_summary_movements_are_those_of_the_kpi_period(summary):
    # as of 2024-07-03 the KPIs report June (the last complete month); the lifecycle movements
    # are June's too (end of June against end of May), not those of 1-3 July, so y01's order of
    # 07-02 changes nothing and every fact of June stays as of 2024-06-30
    later = executive.executive_summary(_summary_shop(), as_of="2024-07-03", period="month")
    assert later.comparison.attrs["period"].label == "2024-06"
    pd.testing.assert_frame_equal(later.movements, summary.movements)
    assert (later.movements.attrs["previous"], later.movements.attrs["current"]) == (
        "2024-05",
        "2024-06",
    )
    for key in ("revenue.value", "active_customers.value", "stages.at_risk", "stages.active"):
        assert later.facts[key] == summary.facts[key]
