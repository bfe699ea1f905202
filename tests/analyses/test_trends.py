"""Trends per period and the LMDI revenue decomposition, checked against plain pandas and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import trends
from crmlib.errors import ConfigError, DataError


def _orders(rows: list[tuple[str | None, str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "amount", "category"]
    ).assign(ordered_at=lambda d: pd.to_datetime(d["ordered_at"]))


@pytest.fixture()
def random_tx() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 4_000
    tx = pd.DataFrame(
        {
            # ids from 1: "0" is one of the loader's anonymous customer ids (as_table applies it)
            "customer_id": rng.integers(1, 701, n).astype(str),
            "order_id": rng.integers(0, 2_500, n).astype(str),  # orders span several lines
            "ordered_at": pd.Timestamp("2022-03-01")
            + pd.to_timedelta(rng.integers(0, 1_200, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "amount": np.round(rng.gamma(2.0, 40.0, n) * rng.choice([1, 1, 1, 1, -0.5], n), 2),
            "category": rng.choice(["tea", "coffee", "cups", "snacks", None], n),
        }
    )
    tx.loc[rng.choice(n, 40, replace=False), "customer_id"] = None  # anonymous sales
    return tx


def _pandas_trends(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The trend table re-implemented in plain pandas, per month."""
    tx = tx[tx["customer_id"].notna() & (tx["ordered_at"].dt.normalize() <= as_of)]
    # an order belongs to the (customer, order id) pair, placed at its first line
    orders = tx.groupby(["customer_id", "order_id"]).agg(
        at=("ordered_at", "min"), net=("amount", "sum"), low=("amount", "min")
    )
    orders = orders.reset_index()
    orders["period"] = orders["at"].dt.to_period("M")
    # a purchase: net positive, or zero without a return line (crmlib.data.orders)
    net = orders["net"].round(6)
    orders["purchase"] = (net > 0) | ((net == 0) & (orders["low"] >= 0))
    first = orders[orders["purchase"]].groupby("customer_id")["period"].min().rename("first")
    orders = orders.merge(first, on="customer_id", how="left")
    orders["is_new"] = orders["period"] == orders["first"]
    rows = []
    for period, g in orders.groupby("period"):
        buyers = g[g["purchase"]]
        rows.append(
            {
                "period": period,
                "revenue": g["net"].sum(),
                "orders": int(g["purchase"].sum()),
                "customers": buyers["customer_id"].nunique(),
                "new_customers": buyers.loc[buyers["is_new"], "customer_id"].nunique(),
                "new_revenue": g.loc[g["is_new"], "net"].sum(),
            }
        )
    return pd.DataFrame(rows).set_index("period")


def test_trends_match_a_plain_pandas_computation(random_tx):
    as_of = pd.Timestamp("2025-05-20")
    got = trends.period_trends(random_tx, as_of=as_of, years=3).set_index("period")
    assert len(got) == 36 and got.index[-1] == pd.Period("2025-05", "M")
    ref = _pandas_trends(random_tx, as_of).reindex(got.index, fill_value=0)
    for col in ("revenue", "new_revenue"):
        assert got[col].to_numpy() == pytest.approx(ref[col].to_numpy(), abs=1e-6), col
    for col in ("orders", "customers", "new_customers"):
        assert got[col].tolist() == ref[col].tolist(), col
    assert got["aov"].to_numpy() == pytest.approx((ref["revenue"] / ref["orders"]).to_numpy())
    assert got["orders_per_customer"].to_numpy() == pytest.approx(
        (ref["orders"] / ref["customers"]).to_numpy()
    )
    assert (got["revenue"] - got["new_revenue"] - got["returning_revenue"]).abs().max() < 1e-9
    assert got["complete"].tolist() == [True] * 35 + [False]


def test_quarterly_trends_and_median_interval_by_hand():
    tx = _orders(
        [
            ("a", "1", "2024-01-05", 10.0, "tea"),
            ("a", "2", "2024-01-25", 20.0, "tea"),  # gap 20 (Q1)
            ("a", "3", "2024-05-04", 30.0, "cups"),  # gap 100 (Q2)
            ("b", "4", "2024-02-01", 40.0, "tea"),
            ("b", "5", "2024-04-01", 50.0, "tea"),  # gap 60 (Q2)
            ("c", "6", "2024-06-30", 5.0, None),
            ("d", "7", "2023-08-01", 8.0, "tea"),  # 2023Q3; 2023Q4 stays empty
        ]
    )
    got = trends.period_trends(tx, period="quarter", years=2).set_index("period")
    # two years would start at 2022Q3; periods before the first sale are left out
    assert list(got.index.astype(str)) == ["2023Q3", "2023Q4", "2024Q1", "2024Q2"]
    q1, q2 = got.loc[pd.Period("2024Q1", "Q")], got.loc[pd.Period("2024Q2", "Q")]
    assert (q1["revenue"], q1["orders"], q1["customers"], q1["new_customers"]) == (70, 3, 2, 2)
    assert q1["median_interval_days"] == 20
    assert q2["median_interval_days"] == 80  # median of 100 and 60
    assert (q2["new_revenue"], q2["returning_revenue"]) == (5, 80)
    assert got.loc[pd.Period("2023Q4", "Q"), "revenue"] == 0  # empty periods are kept
    assert got["complete"].all()  # as_of = 2024-06-30, the last day of Q2

    mix = trends.category_mix(tx, period="quarter", years=2, top=1)
    q2mix = mix[mix["period"] == pd.Period("2024Q2", "Q")].set_index("category")["revenue"]
    assert q2mix.to_dict() == {"tea": 50.0, "other": 35.0}  # cups 30 + unknown 5 → other
    shares = mix.dropna(subset=["share"]).groupby("period")["share"].sum()
    assert len(shares) == 3  # the empty quarter has no shares
    assert shares.to_numpy() == pytest.approx(1.0)


def test_decomposition_adds_up_exactly(random_tx):
    tr = trends.period_trends(random_tx, as_of="2025-05-20", years=3)
    for base, current in (("2024-04", "2025-04"), ("2023-01", "2025-03"), ("2025-03", "2025-04")):
        d = trends.decompose_revenue(tr, base=base, current=current).set_index("factor")
        parts = d.loc[["customers", "orders_per_customer", "aov"], "contribution"].sum()
        total = d.loc["revenue", "contribution"]
        assert parts == pytest.approx(total, rel=1e-12, abs=1e-9)
        assert total == pytest.approx(
            d.loc["revenue", "current_value"] - d.loc["revenue", "base_value"]
        )
        # factor values multiply back to the revenue of each period
        for side in ("base_value", "current_value"):
            product = np.prod(d.loc[["customers", "orders_per_customer", "aov"], side])
            assert product == pytest.approx(d.loc["revenue", side])
        assert (d["method"] == "lmdi").all()


def test_decomposition_hand_cases():
    base = [("a", "1", "2024-01-10", 10.0, "x"), ("b", "2", "2024-01-11", 10.0, "x")]
    more_customers = base + [(c, f"o{c}", "2024-02-10", 10.0, "x") for c in ("a", "b", "c", "d")]
    tr = trends.period_trends(_orders(more_customers), years=1)
    d = trends.decompose_revenue(tr, base="2024-01", current="2024-02").set_index("factor")
    # twice the customers, same frequency and order value: the whole +20 is the customers'
    assert d["contribution"].to_dict() == pytest.approx(
        {"customers": 20.0, "orders_per_customer": 0.0, "aov": 0.0, "revenue": 20.0}
    )
    # revenue 20 → 40: customers halve (2 → 1), AOV quadruples (10 → 40);
    # LMDI weight L(40, 20) = 20 / ln 2, so customers give −20 and AOV 2 · 20 = +40
    swap = base + [("a", "3", "2024-02-10", 40.0, "x")]
    tr = trends.period_trends(_orders(swap), years=1)
    d = trends.decompose_revenue(tr, base="2024-01", current="2024-02").set_index("factor")
    weight = 20 / np.log(2)
    assert d.loc["customers", "contribution"] == pytest.approx(weight * np.log(0.5))
    assert d.loc["customers", "contribution"] == pytest.approx(-20.0)
    assert d.loc["aov", "contribution"] == pytest.approx(40.0)
    assert d.loc["orders_per_customer", "contribution"] == pytest.approx(0.0)
    assert d.loc["revenue", "contribution"] == pytest.approx(20.0)


def test_decomposition_defaults_empty_period_and_errors():
    tx = _orders(
        [
            ("a", "1", "2023-03-10", 10.0, "x"),
            ("a", "2", "2024-03-10", 30.0, "x"),
            ("b", "3", "2024-04-15", 10.0, "x"),
        ]
    )
    tr = trends.period_trends(tx, as_of="2024-04-15", years=2)
    d = trends.decompose_revenue(tr)
    # current = last complete period (2024-03), base = the same month a year earlier
    assert (str(d["current_period"][0]), str(d["base_period"][0])) == ("2024-03", "2023-03")
    empty = trends.decompose_revenue(tr, base="2023-05", current="2024-03").set_index("factor")
    assert (empty["method"] == "empty_period").all()
    assert empty.loc["customers", "contribution"] == pytest.approx(30.0)
    assert empty.loc[["customers", "orders_per_customer", "aov"], "contribution"].sum() == 30.0
    with pytest.raises(ConfigError, match="current"):
        trends.decompose_revenue(tr, base="2023-03", current="2030-01")
    negative = _orders(
        [
            ("a", "1", "2024-01-10", 10.0, "x"),
            ("a", "2", "2024-02-10", 10.0, "x"),
            ("a", "r", "2024-02-11", -30.0, "x"),
        ]
    )
    tr = trends.period_trends(negative, years=1)
    with pytest.raises(DataError, match="not positive"):
        trends.decompose_revenue(tr, base="2024-01", current="2024-02")


def test_single_customer():
    tx = _orders([("solo", "1", "2024-01-10", 12.0, "x"), ("solo", "2", "2025-01-20", 18.0, "x")])
    tr = trends.period_trends(tx, as_of="2025-01-31", years=2)
    assert tr["customers"].max() == 1 and tr["revenue"].sum() == 30
    d = trends.decompose_revenue(tr).set_index("factor")
    assert d.loc["revenue", "contribution"] == 6
    assert d.loc["revenue", "current_value"] / d.loc["revenue", "base_value"] - 1 == 0.5


def test_params_override_and_old_names():
    tx = _orders(
        [
            ("a", "1", "2023-01-10", 12.0, "tea"),
            ("a", "2", "2024-03-20", 18.0, "x"),
            ("a", "3", "2025-01-20", 18.0, "x"),
        ]
    )
    one_year = trends.period_trends(tx, as_of="2025-01-31", params={"trends": {"years": 1}})
    assert len(one_year) == 11  # 2024-03 (the first sale in the year) … 2025-01
    assert len(trends.period_trends(tx, as_of="2025-01-31")) == 25  # 3 years: from 2023-01
    with pytest.warns(DeprecationWarning, match="'rules' is deprecated"):
        old = trends.period_trends(tx, as_of="2025-01-31", rules={"trends": {"years": 1}})
    assert old.equals(one_year)
    mix = trends.category_mix(tx, as_of="2025-01-31", params={"trends": {"top_categories": 1}})
    assert list(mix["category"].cat.categories) == ["x", "other"]  # tea (12) < x (36)
    with pytest.raises(TypeError, match="window"):
        trends.period_trends(tx, window=3)
    with pytest.warns(DeprecationWarning, match="crmlib.present.trends.trend_findings"):
        old_findings = trends.trend_findings
    assert old_findings(one_year, language="en").startswith("- ")


@pytest.mark.parametrize("period", ["month", "quarter"])
def test_median_interval_equals_the_median_of_every_gap(period: str) -> None:
    """The engine counts gaps per period; the median drawn from those counts is that of the gaps
    themselves (odd and even counts, repeated values)."""
    rng = np.random.default_rng(5)
    rows = [
        (
            f"c{c}",
            f"{c}-{k}",
            str(pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(d))),
            10.0,
            "x",
        )
        for c in range(60)
        for k, d in enumerate(rng.integers(0, 700, rng.integers(1, 9)))
    ]
    tx = _orders(rows)
    got = trends.period_trends(tx, period=period, years=3).set_index("period")
    days = (
        tx[["customer_id", "ordered_at"]]
        .drop_duplicates()
        .sort_values(["customer_id", "ordered_at"])
    )
    days["gap"] = days.groupby("customer_id")["ordered_at"].diff().dt.days
    days = days.dropna(subset=["gap"])
    expected = days.groupby(days["ordered_at"].dt.to_period("M" if period == "month" else "Q"))[
        "gap"
    ].median()
    assert len(expected) >= 8
    pd.testing.assert_series_equal(
        got["median_interval_days"].dropna(),
        expected.astype(float),
        check_names=False,
        check_index_type=False,
    )
