"""Per-customer summary, coverage and masking of personal fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import data
from crmlib.errors import ConfigError


def lines(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


def test_customer_summary_hand_computed_case():
    """Hand-computed summary; the last line is at 23:30, so 31 January is a complete day.

    The default end is the last *complete* day (``resolve_as_of``): a last order at or after
    23:00 closes its day, so the end stays 31 January and A's T is 30 days.
    """
    tx = lines(
        [
            ("A", "1", "2024-01-01 09:00", 10.0),
            ("A", "1", "2024-01-01 09:00", 5.0),  # second line of the same order
            ("A", "2", "2024-01-01 18:00", 7.0),  # same day: not a repeat purchase day
            ("A", "3", "2024-01-11 10:00", 20.0),
            ("A", "4", "2024-01-12 10:00", -4.0),  # return: revenue only
            ("B", "5", "2024-01-20 12:00", 30.0),
            (None, "6", "2024-01-31 23:30", 99.0),  # anonymous: sets the default end only
        ]
    )
    got = data.customer_summary(tx, monetary=True, orders=True).set_index("customer_id")
    assert got.attrs["as_of"] == pd.Timestamp("2024-01-31")
    a, b = got.loc["A"], got.loc["B"]
    assert (a.orders, a.purchase_days, a.frequency, a.recency, a["T"]) == (3, 2, 1, 10, 30)
    assert a.revenue == pytest.approx(38.0)
    assert a.monetary_value == pytest.approx(20.0)
    assert a.first_purchase == pd.Timestamp("2024-01-01")  # purchase days, not times
    assert a.last_purchase == pd.Timestamp("2024-01-11")  # the return on the 12th is no purchase
    assert (b.orders, b.frequency, b.recency, b["T"], b.monetary_value) == (1, 0, 0, 11, 0.0)


def test_customer_summary_as_of_cuts_later_lines():
    tx = lines([("A", "1", "2024-01-01", 1.0), ("A", "2", "2024-02-01", 1.0)])
    got = data.customer_summary(tx, as_of="2024-01-15")
    assert got[["frequency", "recency", "T"]].values.tolist() == [[0, 0, 14]]


def test_customer_summary_matches_lifetimes():
    from lifetimes.utils import summary_data_from_transaction_data

    rng = np.random.default_rng(3)
    n = 3000
    tx = pd.DataFrame(
        {
            "customer_id": rng.integers(1, 301, n).astype(str),
            "order_id": np.arange(n).astype(str),
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 200 * 24 * 60, n), unit="min"),
            "amount": rng.gamma(2.0, 40.0, n).round(2),
        }
    )
    # lifetimes ends on the last line's day; ours defaults to the last complete day, so give it
    last_day = tx["ordered_at"].max().normalize()
    ours = data.customer_summary(tx, monetary=True, as_of=last_day).set_index("customer_id")
    ref = summary_data_from_transaction_data(
        tx, "customer_id", "ordered_at", monetary_value_col="amount", freq="D"
    ).reindex(ours.index)
    for col in ("frequency", "recency", "T"):
        assert (ours[col].to_numpy() == ref[col].to_numpy()).all(), col
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"])


def test_customer_summary_matches_plain_pandas_with_returns_and_anonymous_lines():
    rng = np.random.default_rng(5)
    n = 2000
    ids = rng.integers(1, 151, n).astype(str).astype(object)
    ids[rng.random(n) < 0.1] = None
    tx = pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": (np.arange(n) // 2).astype(str),
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 90 * 24, n), unit="h"),
            "amount": np.where(rng.random(n) < 0.1, -5.0, rng.gamma(2.0, 20.0, n).round(2)),
        }
    )
    end = pd.Timestamp("2024-03-15")
    ours = data.customer_summary(tx, as_of="2024-03-15", orders=True).set_index("customer_id")

    known = tx[tx["customer_id"].notna() & (tx["ordered_at"].dt.normalize() <= end)]
    buys = known[known["amount"] >= 0].assign(day=lambda d: d["ordered_at"].dt.normalize())
    expect = buys.groupby("customer_id").agg(
        orders=("order_id", "nunique"),
        purchase_days=("day", "nunique"),
        first=("day", "min"),
        last=("day", "max"),
    )
    expect["revenue"] = known.groupby("customer_id")["amount"].sum()
    expect["recency"] = (expect["last"] - expect["first"]).dt.days
    expect["T"] = (end - expect["first"]).dt.days
    expect = expect.reindex(ours.index)
    assert len(ours) == buys["customer_id"].nunique()
    for col in ("orders", "purchase_days", "recency", "T"):
        assert (ours[col].to_numpy() == expect[col].to_numpy()).all(), col
    assert (ours["frequency"] == ours["purchase_days"] - 1).all()
    np.testing.assert_allclose(ours["revenue"], expect["revenue"])


def test_coverage_by_month_and_channel():
    tx = lines(
        [
            ("A", "1", "2024-01-05", 10.0),
            ("A", "1", "2024-01-05", 5.0),
            ("B", "2", "2024-01-20", 7.0),
            (None, "3", "2024-02-01", 3.0),
            ("A", "4", "2024-03-01", 1.0),
        ]
    ).assign(channel=["store", "store", "web", None, "store"])
    got = data.coverage(tx, as_of="2024-02-28")
    assert got.assign(period=got["period"].dt.strftime("%Y-%m")).values.tolist() == [
        ["2024-01", "store", 2, 1, 1, 15.0],
        ["2024-01", "web", 1, 1, 1, 7.0],
        ["2024-02", "unknown", 1, 1, 0, 3.0],
    ]
    with pytest.raises(ConfigError, match="freq"):
        data.coverage(tx, freq="year")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("phone", "13812341234", "138****1234"),
        ("phone", "+86 138-1234-1234", "861******1234"),
        ("email", "alice@x.com", "a***@x.com"),
        ("name", "张三丰", "张**"),
        ("name", "Alice Smith", "A**"),
        ("address", "上海市浦东新区世纪大道100号", "上海市浦东新…"),
        ("postcode", "200120", "200***"),
        ("birthday", "1990-05-06", "1990-**-**"),
        ("phone", "", ""),
    ],
)
def test_mask_value(kind, value, expected):
    assert data.mask_value(value, kind) == expected


def test_mask_personal_leaves_other_columns_and_missing_values():
    frame = pd.DataFrame({"phone": ["13812341234", None], "city": ["上海", "北京"]})
    got = data.mask_personal(frame)
    assert got["phone"].tolist()[0] == "138****1234" and got["phone"].isna().tolist()[1]
    assert got["city"].tolist() == ["上海", "北京"]
    assert frame["phone"].tolist()[0] == "13812341234"  # input untouched
    renamed = data.mask_personal(frame.rename(columns={"phone": "手机"}), columns={"手机": "phone"})
    assert renamed["手机"].tolist()[0] == "138****1234"
    with pytest.raises(ConfigError, match="kind"):
        data.mask_value("x", "iban")


def test_customer_summary_monetary_matches_plain_pandas_with_returns_and_missing_amounts():
    rng = np.random.default_rng(11)
    n = 3000
    amount = rng.gamma(2.0, 30.0, n).round(2)
    amount[rng.random(n) < 0.1] = -7.5  # returns: revenue only
    amount[rng.random(n) < 0.05] = np.nan  # missing amount: still a purchase
    stamps = pd.Series(
        pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h")
    )
    stamps[rng.random(n) < 0.02] = pd.NaT  # undated lines count nowhere
    tx = pd.DataFrame(
        {
            "customer_id": rng.integers(1, 121, n).astype(str),
            "order_id": rng.integers(0, 2000, n).astype(str),  # orders may span days
            "ordered_at": stamps,
            "amount": amount,
        }
    )
    tx.loc[tx["customer_id"] == "7", "amount"] = -1.0  # returns only: left out
    end = pd.Timestamp("2024-02-20")
    ours = data.customer_summary(tx, as_of="2024-02-20", monetary=True, orders=True)

    dated = tx[tx["ordered_at"].notna() & (tx["ordered_at"].dt.normalize() <= end)]
    buys = dated[~(dated["amount"] < 0)].assign(day=lambda d: d["ordered_at"].dt.normalize())
    first_day = buys.groupby("customer_id")["day"].min()
    on_first = buys["day"] == buys["customer_id"].map(first_day)
    expect = pd.DataFrame(
        {
            "first_purchase": first_day,
            "last_purchase": buys.groupby("customer_id")["day"].max(),
            "orders": buys.groupby("customer_id")["order_id"].nunique(),
            "purchase_days": buys.groupby("customer_id")["day"].nunique(),
            "revenue": dated.groupby("customer_id")["amount"].sum(),
            "paid": buys.groupby("customer_id")["amount"].sum(),
            "first_revenue": buys[on_first].groupby("customer_id")["amount"].sum(),
        }
    ).dropna(subset=["purchase_days"])
    frequency = expect["purchase_days"] - 1
    expect["monetary_value"] = np.where(
        frequency > 0, (expect["paid"] - expect["first_revenue"]) / frequency.clip(lower=1), 0.0
    )
    expect["T"] = (end - first_day).dt.days
    expect = expect.reindex(ours["customer_id"])

    assert "7" not in set(ours["customer_id"])
    assert ours["customer_id"].tolist() == sorted(expect.index)
    assert (ours["first_purchase"].to_numpy() == expect["first_purchase"].to_numpy()).all()
    assert (ours["last_purchase"].to_numpy() == expect["last_purchase"].to_numpy()).all()
    for col in ("orders", "purchase_days", "T"):
        assert (ours[col].to_numpy() == expect[col].to_numpy()).all(), col
    np.testing.assert_allclose(ours["revenue"], expect["revenue"])
    np.testing.assert_allclose(ours["monetary_value"], expect["monetary_value"])


def test_customer_summary_orders_customers_as_python_sorts_their_ids():
    ids = ["b", "A", "张三", "a10", "a9", "Z", "李四", "a"]
    tx = lines([(c, str(i), "2024-01-01", 1.0) for i, c in enumerate(ids)])
    got = data.customer_summary(tx)
    assert got["customer_id"].tolist() == sorted(ids)
    assert got.index.tolist() == list(range(len(ids)))


def test_customer_summary_columns_by_default_and_on_request():
    tx = lines([("A", "1", "2024-01-01 09:00", 10.0), ("A", "2", "2024-01-03 10:00", 4.0)])
    base = ["customer_id", "first_purchase", "last_purchase", "purchase_days", "revenue"]
    lifetimes_cols = ["frequency", "recency", "T"]
    assert data.customer_summary(tx).columns.tolist() == base + lifetimes_cols
    # as_of given: by default the 3rd (last order 10:00) is a partial day, so it would end on the 2nd
    both = data.customer_summary(tx, monetary=True, orders=True, as_of="2024-01-03")
    assert both.columns.tolist() == [
        *base[:3],
        "orders",
        *base[3:],
        *lifetimes_cols,
        "monetary_value",
    ]
    assert str(both["first_purchase"].dtype) == "datetime64[us]"
    assert both[["orders", "purchase_days", "monetary_value"]].values.tolist() == [[2, 2, 4.0]]
