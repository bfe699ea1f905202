"""Findings text of the trends and of the revenue decomposition."""

from __future__ import annotations

import pandas as pd

from crmlib import trends
from crmlib.present import trends as pt


def _orders(rows: list[tuple[str | None, str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "amount", "category"]
    ).assign(ordered_at=lambda d: pd.to_datetime(d["ordered_at"]))


def test_single_customer_findings_text():
    tx = _orders([("solo", "1", "2024-01-10", 12.0, "x"), ("solo", "2", "2025-01-20", 18.0, "x")])
    tr = trends.period_trends(tx, as_of="2025-01-31", years=2)
    d = trends.decompose_revenue(tr)
    en = pt.decomposition_findings(d, language="en")
    zh = pt.decomposition_findings(d, language="zh")
    assert "from 2024-01 to 2025-01" in en and "+¥6" in en and "+50.0%" in en
    assert "2024-01 到 2025-01" in zh
    text = pt.trend_findings(tr, language="en")
    assert "Members' revenue in 2025-01 was ¥18 (+50.0% vs 2024-01)" in text


def test_money_without_symbol_and_missing_changes():
    tx = _orders(
        [
            ("a", "1", "2024-01-10", 1000.0, "x"),
            ("b", "2", "2024-02-10", 12345.6, "x"),
            ("b", "3", "2024-03-10", 5.0, "x"),
        ]
    )
    tr = trends.period_trends(tx, as_of="2024-03-31", years=1)
    text = pt.trend_findings(tr.iloc[:2], language="en")  # 2024-02 against 2024-01
    assert "was ¥12,346 (+1134.6% vs 2024-01)" in text  # money in the data's currency
    empty = tr.assign(complete=False)
    assert pt.trend_findings(empty, language="en").startswith("- ")


def test_the_decomposition_table_names_its_scope_periods_and_units():
    """One member: 1 order of ¥12 in 2024-01, 2 orders of ¥9 in 2025-01 (hand-counted)."""
    tx = _orders(
        [
            ("solo", "1", "2024-01-10", 12.0, "x"),
            ("solo", "2", "2025-01-10", 9.0, "x"),
            ("solo", "3", "2025-01-20", 9.0, "x"),
            (None, "4", "2025-01-21", 100.0, "x"),  # anonymous: not members' revenue
        ]
    )
    d = trends.decompose_revenue(trends.period_trends(tx, as_of="2025-01-31", years=2))
    table = pt.decomposition_table(d, language="en")
    assert list(table.columns) == [
        "Factor", "2024-01", "2025-01", "Contribution to the change", "Share of the change",
    ]  # fmt: skip
    rows = table.set_index("Factor")
    assert rows.loc["Buying members", ["2024-01", "2025-01"]].tolist() == ["1", "1"]
    assert rows.loc["Orders per member", ["2024-01", "2025-01"]].tolist() == ["1.00", "2.00"]
    assert rows.loc["Average order value (members)", "2025-01"] == "¥9.00"
    assert rows.loc["Revenue (members)"].tolist() == ["¥12", "¥18", "+¥6", "100%"]
    assert rows.loc["Buying members", "Contribution to the change"] == "¥0"
    assert table.attrs["note"] == ""
    zh = pt.decomposition_table(d, language="zh")
    assert "会员销售额" in set(zh["因素"])


def test_the_takeaway_names_the_driver_that_moved_revenue_most():
    """Members' revenue ¥12 -> ¥18: the one member ordered twice instead of once (+¥6 from
    orders per member; customers and order value moved nothing of it)."""
    tx = _orders(
        [
            ("solo", "1", "2024-01-10", 12.0, "x"),
            ("solo", "2", "2025-01-10", 9.0, "x"),
            ("solo", "3", "2025-01-20", 9.0, "x"),
        ]
    )
    d = trends.decompose_revenue(trends.period_trends(tx, as_of="2025-01-31", years=2))
    line = pt.takeaway(d, language="en")
    assert line.startswith("**In one line:** members' revenue moved +50.0% from 2024-01 to 2025-01")
    assert "members ordered more often" in line and "of the +¥6 change" in line
    assert "会员下单更频繁" in pt.takeaway(d, language="zh")
    flat = _orders([("solo", "1", "2024-01-10", 12.0, "x"), ("solo", "2", "2025-01-10", 12.0, "x")])
    same = trends.decompose_revenue(trends.period_trends(flat, as_of="2025-01-31", years=2))
    assert pt.takeaway(same, language="en") == ""
