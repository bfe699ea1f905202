"""One definition of a purchase (crmlib.data.orders), the same in every analysis (issue 19, item 5).

A small shop, as of 2024-02-29 (a leap year):

* a: order A1 2023-07-01 120; order A2 2024-02-01 +80 and -80 (cancelled: no purchase)
* b: order B1 2024-02-20 50
* c: order C1 2024-02-10 0.00, no return (a free order: a purchase)
* d: order D1 2024-01-05 30; order D2 2024-02-15 49.36 - 14.54 - 22.70 - 12.12, which is
  +1.8e-15 in floating point and exactly 0 once rounded: cancelled, no purchase

Hand-computed, purchases only:

* last purchase: a 2023-07-01, b 2024-02-20, c 2024-02-10, d 2024-01-05
* recency at 2024-02-29: a = Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31 + Jan 31 +
  28 (1 to 29 Feb) = 243; b = 29 - 20 = 9; c = 29 - 10 = 19; d = (31 - 5) + 29 = 55
* purchases (orders and purchase days): 1 each
* stage at February 2024 (one-time buyers: at risk from 60 days, churned from 120): a churned
  (243), b new, c new, d active (55 < 60)
* February 2024: purchases B1 and C1 -> 2 orders, 2 active customers, both new; revenue
  (80 - 80) + 50 + 0 + (49.36 - 14.54 - 22.70 - 12.12) = 50; AOV 50 / 2 = 25
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import kpis, lifecycle, rfm, trends
from crmlib.clv import summaries
from crmlib.data import execute
from crmlib.data.orders import orders

AS_OF = "2024-02-29"
RECENCY = {"a": 243, "b": 9, "c": 19, "d": 55}


@pytest.fixture()
def shop() -> pd.DataFrame:
    rows = [
        ("a", "A1", "2023-07-01 10:00", 120.0),
        ("a", "A2", "2024-02-01 10:00", 80.0),
        ("a", "A2", "2024-02-01 11:00", -80.0),
        ("b", "B1", "2024-02-20 10:00", 50.0),
        ("c", "C1", "2024-02-10 10:00", 0.0),
        ("d", "D1", "2024-01-05 10:00", 30.0),
        *[("d", "D2", "2024-02-15 10:00", x) for x in (49.36, -14.54, -22.70, -12.12)],
    ]
    assert 49.36 - 14.54 - 22.70 - 12.12 > 0  # the floating-point noise the rounding removes
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


def test_the_definition_itself(shop):
    got = execute(orders(shop, as_of=pd.Timestamp(AS_OF))).set_index("order_id")
    assert got["purchase"].to_dict() == {
        "A1": True, "A2": False, "B1": True, "C1": True, "D1": True, "D2": False,
    }  # fmt: skip
    assert got.loc["D2", "amount"] == 0.0 and got.loc["A2", "amount"] == 0.0


def test_a_return_after_as_of_does_not_undo_the_purchase_as_of_that_day(shop):
    # A2's return is at 11:00 on 1 February; as of 31 January neither line exists, and with the
    # +80 line alone (a return booked a day later) the order is a purchase
    late = shop.copy()
    late.loc[2, "ordered_at"] = pd.Timestamp("2024-02-02 11:00")
    got = execute(orders(late, as_of=pd.Timestamp("2024-02-01"))).set_index("order_id")
    assert bool(got.loc["A2", "purchase"]) and got.loc["A2", "amount"] == 80.0


def test_rfm_counts_purchases_only(shop):
    table = rfm.rfm_table(shop, as_of=AS_OF).set_index("customer_id")
    assert table["recency_days"].to_dict() == RECENCY
    assert table["orders"].to_dict() == {"a": 1, "b": 1, "c": 1, "d": 1}
    # monetary is net revenue of every order, cancelled ones included: a 120 + 0, d 30 + 0
    assert table["monetary"].to_dict() == {"a": 120.0, "b": 50.0, "c": 0.0, "d": 30.0}


def test_lifecycle_counts_the_same_purchases(shop):
    latest = lifecycle.latest_stages(lifecycle.customer_stages(shop, as_of=AS_OF))
    latest = latest.set_index("customer_id")
    assert latest["recency_days"].to_dict() == RECENCY
    assert latest["purchase_days"].to_dict() == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert latest["stage"].astype(str).to_dict() == {
        "a": "churned", "b": "new", "c": "new", "d": "active",
    }  # fmt: skip


def test_clv_summary_counts_the_same_purchases(shop):
    got = summaries.summary(shop, as_of=AS_OF, time_unit="D").set_index("customer_id")
    assert got["frequency"].to_dict() == {"a": 0, "b": 0, "c": 0, "d": 0}  # 1 purchase day - 1
    # days from the last purchase to as_of = T - recency (days)
    assert (got["T"] - got["recency"]).to_dict() == {k: float(v) for k, v in RECENCY.items()}


def test_kpis_count_the_same_purchases(shop):
    values = kpis.kpi_values(shop, period=kpis.period_bounds(AS_OF, period="month"))
    assert values["customers"] == 4  # a, b, c, d have a purchase by 29 February
    assert values["active_customers"] == 2  # b and c
    assert values["new_customers"] == 2  # b and c
    assert values["revenue"] == pytest.approx(50.0)
    assert values["aov"] == pytest.approx(25.0)  # 50 / 2 purchases
    assert values["purchase_frequency"] == pytest.approx(1.0)  # 2 purchases / 2 customers


def test_trends_count_the_same_purchases(shop):
    feb = trends.period_trends(shop, as_of=AS_OF, years=1).set_index("period")
    row = feb.loc[pd.Period("2024-02", "M")]
    assert (row["orders"], row["customers"], row["new_customers"]) == (2, 2, 2)
    assert row["revenue"] == pytest.approx(50.0)
    assert row["aov"] == pytest.approx(25.0)
