"""KPIs the data cannot support are "–" with the reason: never 0, never coloured, never counted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib import benchmark as bm
from crmlib import kpis
from crmlib.present import benchmark as words


def _tx() -> pd.DataFrame:
    """Members buying every week of 2024 from 1 January; no coupon code on any line."""
    days = pd.date_range("2024-01-01", "2024-12-31", freq="7D")
    rows = [(f"c{i % 20}", f"o{i}", day, 10.0 + i % 7) for i, day in enumerate(days.repeat(3))]
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: d["ordered_at"] + pd.Timedelta(hours=12)
    )


def test_reasons_follow_the_window_of_each_kpi():
    tx = _tx()
    dec = kpis.period_bounds("2024-12-31", period="month")
    why = kpis.kpi_reasons(tx, period=dec)
    # December 2024 itself is covered; the trailing year starts 2024-01-01 (covered); two years
    # back (retention's base year 2023) is not: the data starts 2024-01-01
    assert {k: w.reason for k, w in why.items() if w.reason == "before_data"} == {
        "repeat_rate_1y": "before_data",
        "retention_rate": "before_data",
        "churn_rate": "before_data",
    }
    assert why["coupon_redemption"].reason == "table_missing"  # no campaign members at all
    assert why["cart_abandonment"].detail == {"table": "events"}
    values = kpis.kpi_values(tx, period=dec)
    assert np.isnan(values["retention_rate"]) and np.isnan(values["churn_rate"])
    assert values["revenue"] > 0 and values["top20_share"] > 0


def test_a_year_ago_before_the_data_is_no_comparison():
    comp = kpis.compare_periods(_tx(), as_of="2024-12-31", period="month").set_index("kpi")
    revenue = comp.loc["revenue"]
    assert np.isnan(revenue["last_year"]) and revenue["vs_last_year"] == "n/a"
    assert revenue["why_not_last_year"].reason == "before_data"
    assert revenue["vs_previous"] != "n/a"  # November 2024 is measured
    for language, reason in (("en", "lies before the first order in the data"),
                             ("zh", "早于数据中的首笔订单")):  # fmt: skip
        table = words.comparison_table(comp.reset_index(), language=language)
        row = table.iloc[list(comp.index).index("revenue")].tolist()
        assert row[3] == f"– ({reason})" and "✓" not in row[3] and "✗" not in row[3]
        retention = table.iloc[list(comp.index).index("retention_rate")].tolist()
        assert retention[1] == f"– ({reason})" and retention[2:4] == ["–", "–"]  # said once
        bench = bm.compare_benchmarks(comp.reset_index())
        text = words.findings(comp.reset_index(), bench, language=language)
        assert ("0 KPIs improved on a year ago, 0 got worse" in text) or (
            "0 项指标改善，0 项变差" in text
        )
        assert reason in text


def test_coupon_redemption_without_codes_is_not_zero_and_not_below_a_benchmark():
    tx = _tx()
    members = pd.DataFrame({"campaign_id": ["K"] * 4, "customer_id": ["c1", "c2", "c3", "c4"],
                            "group": ["target"] * 4,
                            "sent_at": pd.to_datetime(["2024-11-02"] * 4)})  # fmt: skip
    from types import SimpleNamespace

    data = SimpleNamespace(transactions=tx, campaign_members=members, campaigns=None,
                           customers=None, touchpoints=None, events=None)  # fmt: skip
    comp = kpis.compare_periods(data, as_of="2024-12-31", period="month")
    row = comp.set_index("kpi").loc["coupon_redemption"]
    assert np.isnan(row["value"]) and row["why_not"].reason == "column_not_mapped"
    bench = bm.compare_benchmarks(comp)
    coupon = bench[bench["kpi"] == "coupon_redemption"]
    assert set(coupon["status"]) <= {"n/a", "context"}  # never "bad" against the 0.9%
    status = bm.benchmark_status(bench)
    table = words.comparison_table(comp, language="en", status=status)
    line = table.iloc[list(comp["kpi"]).index("coupon_redemption")].tolist()
    assert line[1] == "– (column coupon_code of transactions is not mapped)"
    assert "✗" not in " ".join(map(str, line)) and "0.0%" not in " ".join(map(str, line))
