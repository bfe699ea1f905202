"""RFM numbers: hand-computed cases, tie handling, scheme partitions, recency direction, Pareto
and exports (the report's words are tested in tests/present/test_present_rfm.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from crmlib import rfm, segments, value
from crmlib.errors import ConfigError, DataError


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


# Eight customers and two anonymous sales, small enough to compute by hand (as of 2024-06-30):
#   a: orders 1 (2024-06-30, 100), 2 (2024-06-01, 50)             -> R 0,  F 2, M 150
#   b: order 3 (2024-01-01, 200) and order 4 (a pure return, -40)  -> R 181, F 1, M 160
#   c: order 5 lines 80 and -30 (partial return), order 6 same day 20
#                                                                  -> R 10 (06-20), F 2 orders / 1 day, M 70
#   d: order 7 (2023-06-30, 500)                                   -> R 366 (2024 is a leap year), F 1, M 500
#   e: orders 8, 9, 10 (2024-06-29, 06-15, 05-01, 10 each)         -> R 1, F 3, M 30
#   f: order 11 (2024-07-05) lies after as_of and is ignored; order 12 (2024-03-31, 60)
#                                                                  -> R 91, F 1, M 60
#   g: only a return (order 13, -20)                               -> no purchase, not in the table
#   h: order 14 (2024-06-25, 0.0, a free sample)                   -> R 5, F 1, M 0
#   anonymous: order 15 (customer_id null, 70), order 16 (blank id, 30)
HAND = _tx(
    [
        ("a", "1", "2024-06-30 18:00", 100.0),
        ("a", "2", "2024-06-01 09:00", 50.0),
        ("b", "3", "2024-01-01 10:00", 200.0),
        ("b", "4", "2024-02-01 10:00", -40.0),
        ("c", "5", "2024-06-20 10:00", 80.0),
        ("c", "5", "2024-06-20 10:00", -30.0),
        ("c", "6", "2024-06-20 15:00", 20.0),
        ("d", "7", "2023-06-30 12:00", 500.0),
        ("e", "8", "2024-06-29 12:00", 10.0),
        ("e", "9", "2024-06-15 12:00", 10.0),
        ("e", "10", "2024-05-01 12:00", 10.0),
        ("f", "11", "2024-07-05 12:00", 999.0),
        ("f", "12", "2024-03-31 12:00", 60.0),
        ("g", "13", "2024-05-01 12:00", -20.0),
        ("h", "14", "2024-06-25 12:00", 0.0),
        (None, "15", "2024-06-10 12:00", 70.0),
        ("", "16", "2024-06-11 12:00", 30.0),
    ]
)
EXPECTED = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f", "h"],
        "recency_days": [0, 181, 10, 366, 1, 91, 5],
        "orders": [2, 1, 2, 1, 3, 1, 1],
        "purchase_days": [2, 1, 1, 1, 3, 1, 1],
        "monetary": [150.0, 160.0, 70.0, 500.0, 30.0, 60.0, 0.0],
    }
)


def test_rfm_table_matches_hand_computation():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    got = table[EXPECTED.columns]
    pd.testing.assert_frame_equal(got, EXPECTED, check_dtype=False)
    assert (table["frequency"] == table["orders"]).all()
    assert table["aov"].tolist() == pytest.approx([75.0, 160.0, 35.0, 500.0, 10.0, 60.0, 0.0])
    assert (table["as_of"] == pd.Timestamp("2024-06-30")).all()


def test_frequency_can_count_purchase_days():
    table = rfm.rfm_table(HAND, as_of="2024-06-30", frequency="days")
    assert table.set_index("customer_id")["frequency"].to_dict() == dict(
        zip(EXPECTED["customer_id"], EXPECTED["purchase_days"], strict=True)
    )


def test_default_as_of_is_the_last_complete_day():
    """The last line (f's order 11) is at 12:00 on 2024-07-05: that day is partial.

    The default ``as_of`` is the last complete day, 2024-07-04, so order 11 is after it:
    f has only order 12 (2024-03-31, 60.0), 95 days before (30 + 31 + 30 + 4).
    Given explicitly, 2024-07-05 wins and order 11 counts.
    """
    table = rfm.rfm_table(HAND)
    assert table["as_of"].iloc[0] == pd.Timestamp("2024-07-04")
    f = table.set_index("customer_id").loc["f"]
    assert (f["recency_days"], f["orders"], f["monetary"]) == (95, 1, 60.0)
    table = rfm.rfm_table(HAND, as_of="2024-07-05")
    f = table.set_index("customer_id").loc["f"]
    assert (f["recency_days"], f["orders"], f["monetary"]) == (0, 2, 1059.0)


def test_member_share_counts_anonymous_sales():
    share = rfm.member_share(HAND, as_of="2024-06-30").set_index("buyer")
    member_revenue = 150 + 160 + 70 + 500 + 30 + 60 - 20 + 0  # g's return included
    assert share.loc["member", "revenue"] == pytest.approx(member_revenue)
    assert share.loc["anonymous", "revenue"] == pytest.approx(100.0)
    assert share.loc["anonymous", "share_revenue"] == pytest.approx(100 / (member_revenue + 100))
    assert share.loc["member", "orders"] == 13  # orders 1-10, 12, 13, 14
    assert share.loc["anonymous", "orders"] == 2
    assert share["share_orders"].sum() == pytest.approx(1.0)


def test_highlow_scores_against_the_mean_with_ties_high():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    scores = rfm.score_rfm(table, scoring="highlow", split="mean").table.set_index("customer_id")
    mean_r = np.mean([0, 181, 10, 366, 1, 91, 5])  # 93.43: recent = at or below
    mean_f = 11 / 7
    mean_m = 970 / 7  # 138.57
    assert mean_r > 91 and mean_f < 2 and 130 < mean_m < 150
    assert scores["r_score"].to_dict() == {"a": 2, "b": 1, "c": 2, "d": 1, "e": 2, "f": 2, "h": 2}
    assert scores["f_score"].to_dict() == {"a": 2, "b": 1, "c": 2, "d": 1, "e": 2, "f": 1, "h": 1}
    assert scores["m_score"].to_dict() == {"a": 2, "b": 2, "c": 1, "d": 2, "e": 1, "f": 1, "h": 1}


def test_value_equal_to_the_reference_counts_as_high():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    thresholds = {"recency": 10, "frequency": 2, "monetary": 160}
    scores = rfm.score_rfm(table, scoring="highlow", split=thresholds)
    s = scores.table.set_index("customer_id")
    assert s.loc["c", "r_score"] == 2  # 10 days == threshold -> recent
    assert s.loc["f", "r_score"] == 1
    assert s.loc["a", "f_score"] == 2  # 2 orders == threshold
    assert s.loc["b", "m_score"] == 2  # 160 == threshold
    assert s.loc["a", "m_score"] == 1
    edges = scores.edges.set_index(["metric", "score"])
    assert edges.loc[("recency", 2), "upper"] == 10
    assert edges.loc[("recency", 2), "customers"] == 4  # a, c, e, h
    assert edges["customers"].groupby(level="metric").sum().eq(7).all()


def test_median_split():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    s = rfm.score_rfm(table, scoring="highlow", split="median").table.set_index("customer_id")
    # median recency 10 days, frequency 1, monetary 70
    assert s["r_score"].to_dict() == {"a": 2, "b": 1, "c": 2, "d": 1, "e": 2, "f": 1, "h": 2}
    assert set(s["f_score"]) == {2}
    assert s["m_score"].to_dict() == {"a": 2, "b": 2, "c": 2, "d": 2, "e": 1, "f": 1, "h": 1}


def test_quantile_scores_by_hand():
    # Ten customers; monetary 10..100 in a shuffled id order; bins=5 -> two customers per score.
    ids = [f"c{i:02d}" for i in range(10)]
    money = [40.0, 10.0, 100.0, 70.0, 20.0, 90.0, 30.0, 60.0, 80.0, 50.0]
    table = pd.DataFrame(
        {
            "customer_id": ids,
            "recency_days": [5, 5, 5, 5, 5, 1, 1, 1, 1, 1],
            "frequency": [1] * 10,
            "monetary": money,
            "aov": money,
        }
    )
    scores = rfm.score_rfm(table, scoring="quantile", bins=5)
    s = scores.table.set_index("customer_id")
    # Monetary has no ties: value of rank k (1..10) has percentile p = (k - 1/2) / 10 and score
    # floor(5p) + 1: ranks 1-2 (p .05, .15) -> 1, 3-4 -> 2, 5-6 -> 3, 7-8 -> 4, 9-10 -> 5.
    assert s["m_score"].tolist() == [2, 1, 5, 4, 1, 5, 2, 3, 4, 3]
    # Equal values share a score, whatever their ids. Recency, oriented so recent ranks high:
    #   5 days (c00..c04) hold ranks 1..5, mid-rank 3, p = 2.5/10 = .25, floor(1.25) + 1 = 2;
    #   1 day  (c05..c09) hold ranks 6..10, mid-rank 8, p = 7.5/10 = .75, floor(3.75) + 1 = 4.
    assert s["r_score"].tolist() == [2, 2, 2, 2, 2, 4, 4, 4, 4, 4]
    # Frequency 1 for all ten: mid-rank 5.5, p = .5, floor(2.5) + 1 = 3 (the middle score).
    assert s["f_score"].tolist() == [3] * 10
    assert scores.unequal == ("recency", "frequency")
    r = scores.edges[scores.edges["metric"] == "recency"].set_index("score")
    assert r["customers"].tolist() == [0, 5, 0, 5, 0]
    assert (r.loc[2, "lower"], r.loc[2, "upper"], r.loc[4, "lower"], r.loc[4, "upper"]) == (
        5,
        5,
        1,
        1,
    )
    assert r.loc[[1, 3, 5], ["lower", "upper"]].isna().all().all()
    m = scores.edges[scores.edges["metric"] == "monetary"].set_index("score")
    assert m["customers"].tolist() == [2] * 5
    assert m[["lower", "upper"]].to_numpy().tolist() == [
        [10, 20], [30, 40], [50, 60], [70, 80], [90, 100]
    ]  # fmt: skip
    # The same table under other ids gives every customer the same scores.
    renamed = table.assign(customer_id=[f"z{9 - i}" for i in range(10)])
    again = rfm.score_rfm(renamed, scoring="quantile", bins=5).table.set_index("customer_id")
    back = again.rename(index={f"z{9 - i}": ids[i] for i in range(10)}).loc[ids]
    score_cols = ["r_score", "f_score", "m_score"]
    pd.testing.assert_frame_equal(back[score_cols], s[score_cols], check_names=False)


def _identical(n, *, recency=29, orders=1, money=100.0, as_of="2024-03-01"):
    return pd.DataFrame(
        {
            "customer_id": [f"id{i:02d}" for i in range(n)],
            "recency_days": [recency] * n,
            "frequency": [orders] * n,
            "orders": [orders] * n,
            "monetary": [money] * n,
            "aov": [money / orders] * n,
            "as_of": pd.Timestamp(as_of),
        }
    )


@pytest.mark.parametrize(
    ("scheme", "scoring", "cell", "name"),
    [
        # Ten alike: mid-rank 5.5 of 10, p = .5; five scores: floor(2.5) + 1 = 3, so R 3,
        # FM ceil((3 + 3) / 2) = 3 -> en11 row R3, column 3: Potential Loyalist.
        ("en11", None, "33", "Potential Loyalist"),
        # cn8 by default: high/low against the mean (29 days, 1 order, 100); every value equals
        # the mean and a value equal to the reference counts as high -> HHH.
        ("cn8", None, "HHH", "重要价值客户"),
        # cn8 by quantile (two scores): floor(2 * .5) + 1 = 2 = high on every metric -> HHH.
        ("cn8", "quantile", "HHH", "重要价值客户"),
    ],
)
def test_identical_customers_get_one_score_and_one_segment(scheme, scoring, cell, name):
    seg = segments.segment_rfm(_identical(10), scheme=scheme, scoring=scoring)
    c = seg.customers
    assert c[["r_score", "f_score", "m_score", "cell", "segment"]].drop_duplicates().shape[0] == 1
    assert c["cell"].iloc[0] == cell
    lang = "zh" if scheme == "cn8" else "en"
    names = seg.scheme.segments.set_index("segment")[f"name_{lang}"]
    assert names[c["segment"].iloc[0]] == name
    if seg.scoring == "quantile":
        assert seg.unequal == ("recency", "frequency", "monetary")


def test_a_single_customer_who_bought_on_as_of_is_not_lost():
    tx = _tx([("solo", "1", "2024-03-05 10:00", 50.0)])
    table = rfm.rfm_table(tx, as_of="2024-03-05")
    assert table["recency_days"].tolist() == [0]
    # A base of one: mid-rank 1 of 1, p = 1/2; five scores -> floor(2.5) + 1 = 3 on R, F and M,
    # FM ceil((3 + 3) / 2) = 3 -> en11 R3/FM3: Potential Loyalist (the middle: no one to compare
    # with). The old id-ordered ranks gave position 0 -> score 1 everywhere -> Lost.
    en11 = segments.segment_rfm(table, scheme="en11")
    names = en11.scheme.segments.set_index("segment")["name_en"]
    solo = en11.customers.iloc[0]
    assert (solo["r_score"], solo["f_score"], solo["m_score"]) == (3, 3, 3)
    assert names[solo["segment"]] == "Potential Loyalist"
    # Alone, the customer's values are the base's mean: equal counts as high -> 重要价值客户.
    cn8 = segments.segment_rfm(table, scheme="cn8")
    assert cn8.customers["cell"].tolist() == ["HHH"]
    # By quantile with two scores: floor(2 * 1/2) + 1 = 2 = high.
    assert segments.segment_rfm(table, scheme="cn8", scoring="quantile").customers[
        "cell"
    ].tolist() == ["HHH"]


def _shop_400(seed=19):
    """400 members drawn from few distinct values, so most values are shared by many."""
    rng = np.random.default_rng(seed)
    n = 400
    orders = rng.choice([1, 1, 1, 2, 2, 3, 5], n)
    return pd.DataFrame(
        {
            "customer_id": [f"m{i:03d}" for i in range(n)],
            "recency_days": rng.choice([0, 3, 29, 29, 90, 200, 365], n),
            "frequency": orders,
            "orders": orders,
            "monetary": orders * rng.choice([50.0, 100.0, 100.0, 250.0], n),
            "aov": 0.0,
            "as_of": pd.Timestamp("2024-03-01"),
        }
    ).assign(aov=lambda d: d["monetary"] / d["orders"])


@pytest.mark.parametrize("scheme", ["en11", "cn8"])
def test_relabelled_ids_keep_every_segment_in_a_400_member_shop(scheme):
    shop = _shop_400()
    rng = np.random.default_rng(7)
    new_ids = rng.permutation([f"n{i:03d}" for i in range(len(shop))])
    renamed = shop.assign(customer_id=new_ids)
    before = segments.segment_rfm(shop, scheme=scheme, scoring="quantile").customers
    after = segments.segment_rfm(renamed, scheme=scheme, scoring="quantile").customers
    old_of = dict(zip(new_ids, shop["customer_id"], strict=True))
    after = after.assign(customer_id=after["customer_id"].map(old_of)).set_index("customer_id")
    before = before.set_index("customer_id")
    cols = ["r_score", "f_score", "m_score", "segment"]
    changed = (after.loc[before.index, cols] != before[cols]).any(axis=1).mean()
    assert changed == 0.0
    # Equal values share a score: one score per distinct recency, frequency and value.
    for col, score in (
        ("recency_days", "r_score"),
        ("frequency", "f_score"),
        ("monetary", "m_score"),
    ):
        assert before.groupby(col)[score].nunique().eq(1).all()


def _one_timer_base(n=1000, seed=3):
    rng = np.random.default_rng(seed)
    orders = np.where(rng.random(n) < 0.8, 1, rng.integers(2, 12, n))
    money = np.round(orders * rng.lognormal(4, 0.7, n), 2)
    ids = rng.permutation([f"m{i:05d}" for i in range(n)])
    return pd.DataFrame(
        {
            "customer_id": ids,
            "recency_days": rng.integers(0, 1000, n),
            "frequency": orders,
            "orders": orders,
            "monetary": money,
            "aov": money / orders,
        }
    )


def test_quantile_scoring_survives_heavy_ties():
    table = _one_timer_base()
    n_once = int((table["frequency"] == 1).sum())
    assert n_once / len(table) == pytest.approx(0.8, abs=0.03)
    with pytest.raises(ValueError):
        pd.qcut(table["frequency"], 5)  # the naive way fails on the ties
    scores = rfm.score_rfm(table, scoring="quantile", bins=5)
    s = scores.table
    # Every one-order customer gets one F score: they hold ranks 1..n_once, mid-rank
    # (n_once + 1) / 2, percentile n_once / 2 / 1000 (about .4), score floor(5 p) + 1.
    once = s.loc[s["frequency"] == 1, "f_score"]
    assert once.nunique() == 1
    assert once.iloc[0] == (n_once * 5) // 2000 + 1
    # More orders never means a lower F score, and each frequency has exactly one score.
    by_f = s.groupby("frequency")["f_score"].agg(["min", "max"]).sort_index()
    assert (by_f["min"] == by_f["max"]).all()
    assert by_f["min"].is_monotonic_increasing
    # Plain pandas re-implementation, in the table's own (shuffled) order: mid-ranks
    # (rank(method="average")), percentile (rank - 1/2) / n, score floor(5 p) + 1.
    rank = table["frequency"].rank(method="average")
    expected = np.floor((rank - 0.5) / len(table) * 5).astype(int) + 1
    got = s.set_index("customer_id").loc[table["customer_id"], "f_score"].to_numpy()
    assert (got == expected.to_numpy()).all()
    # The edges table shows the actual sizes (unequal) and ranges that do not overlap.
    assert "frequency" in scores.unequal
    edges = scores.edges[scores.edges["metric"] == "frequency"].set_index("score")
    assert edges["customers"].sum() == 1000
    assert edges.loc[once.iloc[0], "customers"] == n_once
    filled = edges[edges["customers"] > 0]
    assert (filled["lower"].to_numpy()[1:] > filled["upper"].to_numpy()[:-1]).all()
    assert edges.loc[edges["customers"] == 0, ["lower", "upper"]].isna().all().all()
    # Monetary has (almost) no ties: equal-count bins of 200 each.
    assert s["m_score"].value_counts().sort_index().tolist() == [200] * 5


def test_quantile_bins_without_ties_are_equal_count():
    # Seven distinct values, five scores: rank k has p = (k - 1/2) / 7 and score floor(5 p) + 1:
    # k=1 .36 -> 1; k=2 1.07 -> 2; k=3 1.79 -> 2; k=4 2.5 -> 3; k=5 3.21 -> 4; k=6 3.93 -> 4;
    # k=7 4.64 -> 5. Sizes 1, 2, 1, 2, 1 are as equal as seven customers allow: not "unequal".
    money = [70.0, 10.0, 50.0, 30.0, 20.0, 60.0, 40.0]
    table = pd.DataFrame(
        {
            "customer_id": list("abcdefg"),
            "recency_days": [7, 1, 5, 3, 2, 6, 4],
            "frequency": [7, 1, 5, 3, 2, 6, 4],
            "monetary": money,
            "aov": money,
        }
    )
    scores = rfm.score_rfm(table, scoring="quantile", bins=5)
    s = scores.table.set_index("customer_id")
    assert s["m_score"].to_dict() == {"a": 5, "b": 1, "c": 4, "d": 2, "e": 2, "f": 4, "g": 3}
    # Recency runs the other way: 1 day is the most recent (rank 7 -> 5), 7 days rank 1 -> 1.
    assert s["r_score"].to_dict() == {"a": 1, "b": 5, "c": 2, "d": 4, "e": 4, "f": 2, "g": 3}
    assert scores.unequal == ()


def test_custom_edges():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    edges = {
        "recency": [0, 7, 100, math.inf],
        "frequency": [1, 2, 3, math.inf],
        "monetary": [0, 50, 200, math.inf],
    }
    scores = rfm.score_rfm(table, scoring="edges", edges=edges)
    s = scores.table.set_index("customer_id")
    # recency [0,7) -> 3, [7,100) -> 2, [100, inf] -> 1
    assert s["r_score"].to_dict() == {"a": 3, "b": 1, "c": 2, "d": 1, "e": 3, "f": 2, "h": 3}
    assert s["f_score"].to_dict() == {"a": 2, "b": 1, "c": 2, "d": 1, "e": 3, "f": 1, "h": 1}
    assert s["m_score"].to_dict() == {"a": 2, "b": 2, "c": 2, "d": 3, "e": 1, "f": 2, "h": 1}
    r = scores.edges[scores.edges["metric"] == "recency"].set_index("score")
    assert (r.loc[3, "lower"], r.loc[3, "upper"], r.loc[3, "customers"]) == (0, 7, 3)
    with pytest.raises(ConfigError, match="does not cover value 366"):
        rfm.score_rfm(table, scoring="edges", edges={**edges, "recency": [0, 7, 100, 365]})
    with pytest.raises(ConfigError, match="strictly increasing"):
        rfm.score_rfm(table, scoring="edges", edges={**edges, "frequency": [1, 3, 2]})


@pytest.mark.parametrize("name", ["cn8", "en11"])
def test_shipped_schemes_are_complete_partitions(name):
    scheme = segments.load_scheme(name)
    cells = [c for cs in scheme.segments["cells"] for c in cs]
    n_levels, n_dims = len(scheme.levels), len(scheme.dimensions)
    assert len(cells) == len(set(cells)) == n_levels**n_dims
    assert set(scheme.segments["name_zh"]).isdisjoint({""})
    assert scheme.segments["action_zh"].str.len().gt(0).all()
    assert scheme.segments["action_en"].str.len().gt(0).all()


def test_cn8_and_en11_grids_are_the_published_ones():
    cn8 = segments.load_scheme("cn8").cell_map
    names = segments.load_scheme("cn8").segments.set_index("segment")["name_zh"]
    published = {
        "HHH": "重要价值客户",
        "LHH": "重要保持客户",
        "HLH": "重要发展客户",
        "LLH": "重要挽留客户",
        "HHL": "一般价值客户",
        "LHL": "一般保持客户",
        "HLL": "一般发展客户",
        "LLL": "一般挽留客户",
    }
    assert {cell: names[seg] for cell, seg in cn8.items()} == published
    grid = {
        5: ["Recent Customers", "Potential Loyalist", "Loyal Customers", "Champions", "Champions"],
        4: [
            "Promising",
            "Potential Loyalist",
            "Potential Loyalist",
            "Loyal Customers",
            "Champions",
        ],
        3: [
            "Promising",
            "Need Attention",
            "Potential Loyalist",
            "Loyal Customers",
            "Loyal Customers",
        ],
        2: ["About To Sleep", "Need Attention", "Need Attention", "At Risk", "At Risk"],
        1: ["Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"],
    }
    en11 = segments.load_scheme("en11")
    en_names = en11.segments.set_index("segment")["name_en"]
    for r, row in grid.items():
        for fm, name in enumerate(row, start=1):
            assert en_names[en11.cell_map[f"{r}{fm}"]] == name


def test_scheme_validation_names_missing_and_overlapping_cells(tmp_path):
    with open("params/segments.yaml", encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)["schemes"]["cn8"]
    broken = dict(spec, segments=[dict(s) for s in spec["segments"]])
    broken["segments"][0]["cells"] = ["HHL"]  # HHH now missing, HHL in two segments
    with pytest.raises(
        ConfigError, match=r"missing cell\(s\) HHH.*HHL in important_value and general_value"
    ):
        segments.load_scheme(broken)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="HHH"):
        segments.load_scheme(path)
    with pytest.raises(ConfigError, match="'scheme' must be one of"):
        segments.load_scheme("nope")


def test_user_scheme_from_yaml_without_code(tmp_path):
    mine = {
        "name": {"en": "Two groups", "zh": "两类"},
        "dimensions": ["r"],
        "levels": ["L", "H"],
        "scoring": "highlow",
        "segments": [
            {
                "key": "active",
                "name": {"en": "Active", "zh": "活跃"},
                "cells": ["H"],
                "action": {"en": "Keep", "zh": "保持"},
                "colour": "#000000",
            },
            {
                "key": "lapsed",
                "name": {"en": "Lapsed", "zh": "沉默"},
                "cells": ["L"],
                "action": {"en": "Wake", "zh": "唤醒"},
                "colour": "#999999",
            },
        ],
    }
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(
        table, scheme=str(path), split={"recency": 30, "frequency": 1, "monetary": 1}
    )
    assert seg.customers.set_index("customer_id")["segment"].to_dict() == {
        "a": "active",
        "b": "lapsed",
        "c": "active",
        "d": "lapsed",
        "e": "active",
        "f": "lapsed",
        "h": "active",
    }
    assert seg.scheme.segments.set_index("segment").loc["lapsed", "name_zh"] == "沉默"


def _recency_base():
    """A base where most customers are mid-range, plus two heavy buyers: one bought yesterday,
    one three years ago."""
    rng = np.random.default_rng(11)
    n = 500
    orders = rng.integers(1, 4, n)
    base = pd.DataFrame(
        {
            "customer_id": [f"x{i:04d}" for i in range(n)],
            "recency_days": rng.integers(30, 400, n),
            "frequency": orders,
            "orders": orders,
            "monetary": orders * 50.0,
            "aov": 50.0,
        }
    )
    heavy = pd.DataFrame(
        {
            "customer_id": ["yesterday", "three_years_ago"],
            "recency_days": [1, 3 * 365],
            "frequency": [40, 40],
            "orders": [40, 40],
            "monetary": [20_000.0, 20_000.0],
            "aov": [500.0, 500.0],
        }
    )
    return pd.concat([base, heavy], ignore_index=True)


@pytest.mark.parametrize(
    ("scheme", "recent", "lapsed"),
    [("cn8", "重要价值客户", "重要保持客户"), ("en11", "Champions", "Can't Lose Them")],
)
def test_recent_always_means_high_r(scheme, recent, lapsed):
    seg = segments.segment_rfm(_recency_base(), scheme=scheme)
    s = seg.customers.set_index("customer_id")
    lang = "zh" if scheme == "cn8" else "en"
    names = seg.scheme.segments.set_index("segment")[f"name_{lang}"]
    assert names[s.loc["yesterday", "segment"]] == recent
    assert names[s.loc["three_years_ago", "segment"]] == lapsed
    assert s.loc["yesterday", "r_score"] == len(seg.scheme.levels)
    assert s.loc["three_years_ago", "r_score"] == 1


def test_segment_overview_adds_up():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(table, scheme="cn8")
    ov = value.segment_overview(seg)
    assert len(ov) == 8 and ov["segment"].iloc[0] == "important_value"
    assert "name" not in ov and "action" not in ov  # words are added by crmlib.present.rfm
    assert ov["customers"].sum() == 7 and ov["revenue"].sum() == pytest.approx(970.0)
    assert ov["share_customers"].sum() == pytest.approx(1.0)
    assert ov["share_revenue"].sum() == pytest.approx(1.0)
    # Hand: a (R H, F H, M H) is the only important_value customer: 150 revenue, 2 orders.
    top = ov.set_index("segment").loc["important_value"]
    assert (top["customers"], top["orders"], top["revenue"], top["aov"]) == (1, 2, 150.0, 75.0)
    assert top["mean_recency"] == 0
    # b (R L, F L, M H) and d (R L, F L, M H) are important_recover.
    rec = ov.set_index("segment").loc["important_recover"]
    assert (rec["customers"], rec["revenue"], rec["mean_recency"]) == (2, 660.0, (181 + 366) / 2)
    grid = value.segment_grid(seg)
    assert grid["customers"].sum() == 7 and grid["row"].iloc[0] == "H"


def test_value_matrix_by_hand():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    quads = value.value_quadrants(table, split="mean").set_index("customer_id")
    # mean orders 11/7 = 1.57; mean AOV (75+160+35+500+10+60+0)/7 = 120
    assert quads["quadrant"].to_dict() == {
        "a": "frequent",
        "b": "spenders",
        "c": "frequent",
        "d": "spenders",
        "e": "frequent",
        "f": "uncertain",
        "h": "uncertain",
    }
    summary = value.value_matrix(table, split="mean").set_index("quadrant")
    assert summary.loc["spenders", "customers"] == 2
    assert summary.loc["spenders", "share_revenue"] == pytest.approx(660 / 970)
    assert summary.loc["best", "customers"] == 0
    assert summary["aov_split"].iloc[0] == pytest.approx(120.0)
    assert (summary.loc["best", "orders_level"], summary.loc["best", "aov_level"]) == (
        "high",
        "high",
    )
    assert "name" not in summary


def test_pareto_and_gini_match_numpy():
    rng = np.random.default_rng(5)
    money = rng.lognormal(5, 1.2, 2_000)
    money[:50] = -10.0  # net returners count as zero
    table = pd.DataFrame({"customer_id": np.arange(2_000).astype(str), "monetary": money})
    x = np.clip(money, 0, None)
    desc = np.sort(x)[::-1]
    p = value.pareto(table).set_index("top_share")
    for share in (0.01, 0.05, 0.1, 0.2, 0.5):
        k = int(np.ceil(share * len(x)))
        assert p.loc[share, "customers"] == k
        assert p.loc[share, "share_revenue"] == pytest.approx(desc[:k].sum() / x.sum())
    # Gini as the mean absolute difference over twice the mean (a different formula).
    mad = np.abs(x[:, None] - x[None, :]).mean()
    assert value.gini(table) == pytest.approx(mad / (2 * x.mean()), rel=1e-9)
    lorenz = value.lorenz_curve(table, points=101)
    assert lorenz.iloc[0].tolist() == [0.0, 0.0] and lorenz.iloc[-1].tolist() == [1.0, 1.0]
    assert (np.diff(lorenz["share_revenue"]) >= 0).all()
    at80 = lorenz.loc[np.isclose(lorenz["share_customers"], 0.8), "share_revenue"].iloc[0]
    assert 1 - at80 == pytest.approx(p.loc[0.2, "share_revenue"])


def test_export_writes_personal_fields_only_when_asked(tmp_path):
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(table, scheme="cn8")
    customers = pd.DataFrame(
        {
            "customer_id": list("abcdefgh"),
            "name": [f"张{c}" for c in "abcdefgh"],
            "phone": [f"1380000000{i}" for i in range(8)],
            "email": [f"{c}@example.com" for c in "abcdefgh"],
        }
    )
    leaky = seg.customers.merge(customers, on="customer_id")  # a table that carries personal data
    files = segments.export_segments(leaky, tmp_path / "lists")
    assert sorted(f.name for f in files) == sorted(
        f"{s}.csv" for s in seg.customers["segment"].unique()
    )
    for f in files:
        head = pd.read_csv(f, dtype=str)
        assert not {"name", "phone", "email", "address"} & set(head.columns)
        assert {"customer_id", "segment", "r_score", "f_score", "m_score"} <= set(head.columns)
    one = segments.export_segments(
        seg.customers, tmp_path / "value.csv", segments=["important_value"]
    )
    assert pd.read_csv(one[0], dtype=str)["customer_id"].tolist() == ["a"]
    with pytest.raises(ConfigError, match="customers"):
        segments.export_segments(seg.customers, tmp_path / "x.csv", include_personal=True)
    full = segments.export_segments(
        seg.customers, tmp_path / "full.csv", include_personal=True, customers=customers
    )
    out = pd.read_csv(full[0], dtype=str).set_index("customer_id")
    assert out.loc["a", "name"] == "张a" and out.loc["a", "phone"] == "13800000000"
    with pytest.raises(ConfigError, match="nope"):
        segments.export_segments(seg.customers, tmp_path / "y.csv", segments=["nope"])


def test_bad_parameters_raise_config_errors():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    with pytest.raises(ConfigError, match="frequency"):
        rfm.rfm_table(HAND, frequency="visits")
    with pytest.raises(ConfigError, match="as_of"):
        rfm.rfm_table(HAND, as_of="30/06/2024x")
    with pytest.raises(ConfigError, match="bins"):
        segments.segment_rfm(table, scheme="en11", bins=4)
    with pytest.raises(ConfigError, match="split"):
        rfm.score_rfm(table, scoring="highlow", split="mode")
    with pytest.raises(DataError, match="customer_id"):
        rfm.rfm_table(HAND.drop(columns="customer_id"))


def test_demo_truth_recency_and_anonymous_share(demo_dir, demo_params, demo_truth):
    from crmlib.data import load_dataset

    data = load_dataset(demo_params)
    table = rfm.rfm_table(data.transactions)
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    # Every planted member with an order is a scored customer, and nobody else.
    assert set(table["customer_id"]) == set(truth.loc[truth["orders"] > 0, "customer_id"])
    # Anonymous sales: the share of order lines without a member matches the planted share.
    share = rfm.member_share(data.transactions).set_index("buyer")
    lines = share.loc["anonymous", "lines"] / share["lines"].sum()
    assert lines == pytest.approx(demo_truth["anonymous_line_share"], abs=0.01)
    # Planted dropouts among repeat buyers sit at low R: high R really means still buying.
    seg = segments.segment_rfm(table, scheme="en11")
    s = seg.customers.merge(truth[["customer_id", "alive_at_end", "orders"]], on="customer_id")
    repeaters = s[s["orders_y"] >= 2]
    alive_by_r = repeaters.groupby("r_score")["alive_at_end"].mean()
    assert alive_by_r[5] > alive_by_r[1] + 0.2
    gone = repeaters.groupby("alive_at_end")["recency_days"].mean()
    assert gone[False] > gone[True]


def test_lines_that_cancel_out_net_to_exactly_zero():
    # 14.54 + 22.70 + 12.12 - 49.36 is -7.1e-15 in floating point; the order nets to exactly 0
    # whatever order the engine adds the lines in. Its lines cancel out (a return), so it is no
    # purchase (crmlib.data.orders): z's only purchase is order 3 (5.0), monetary 0 + 5 = 5.0.
    lines = [14.54, 22.70, 12.12, -49.36]
    assert sum(lines) != 0
    tx = _tx(
        [("z", "1", "2024-01-01", a) for a in lines]
        + [("y", "2", "2024-01-02", 5.0), ("z", "3", "2024-01-02", 5.0)]
    )
    table = rfm.rfm_table(tx).set_index("customer_id")
    assert table.loc["z", "orders"] == 1
    assert table.loc["z", "monetary"] == 5.0
    assert table.loc["z", "first_purchase"] == pd.Timestamp("2024-01-02")
    only_cancelled = rfm.rfm_table(tx[tx["order_id"] != "3"])
    assert only_cancelled["customer_id"].tolist() == ["y"]


TWO_GROUPS = {
    "name": {"en": "Two groups", "zh": "两类"},
    "dimensions": ["r"],
    "levels": ["L", "H"],
    "scoring": "highlow",
    "segments": [
        {"key": "active", "name": {"en": "Active", "zh": "活跃"}, "cells": ["H"],
         "action": {"en": "Keep", "zh": "保持"}, "colour": "#000000"},
        {"key": "lapsed", "name": {"en": "Lapsed", "zh": "沉默"}, "cells": ["L"],
         "action": {"en": "Wake", "zh": "唤醒"}, "colour": "#999999"},
    ],
}  # fmt: skip


def test_params_override_the_shipped_segments_file(tmp_path):
    params = {"schemes": {"two": TWO_GROUPS}}
    assert segments.scheme_names(params=params)[-1] == "two"
    assert {"cn8", "en11"} <= set(segments.scheme_names(params=params))
    assert segments.load_scheme("two", params=params).levels == ("L", "H")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    assert segments.load_scheme("two", params=path).segments["segment"].tolist() == [
        "active",
        "lapsed",
    ]
    with pytest.raises(ConfigError, match=r"'scheme' must be one of .*segments\.yaml.*'two'"):
        segments.load_scheme("two")
    broken = {"schemes": {"two": dict(TWO_GROUPS, levels=["L", "H", "X"])}}
    with pytest.raises(ConfigError, match=r"scheme 'two' in segments\.yaml.*highlow"):
        segments.load_scheme("two", params=broken)


def test_value_matrix_errors_name_the_file_the_key_and_the_value():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    assert list(value.value_matrix_spec()) == ["best", "spenders", "frequent", "uncertain"]
    bad = {"value_matrix": {"best": {"orders": "middle"}}}
    with pytest.raises(
        ConfigError, match=r"segments\.yaml: value_matrix\.best\.orders .*'high' or 'low'.*'middle'"
    ):
        value.value_matrix(table, params=bad)
    twice = {"value_matrix": {"spenders": {"orders": "high"}}}  # two high/high quadrants
    with pytest.raises(ConfigError, match=r"segments\.yaml: value_matrix must define exactly one"):
        value.value_quadrants(table, params=twice)


def test_old_rfm_names_still_work_with_a_deprecation_warning():
    from crmlib.present import rfm as present_rfm

    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    with pytest.warns(DeprecationWarning, match=r"crmlib\.segments\.segment_rfm"):
        seg = rfm.segment_rfm(table, scheme="cn8")
    with pytest.warns(DeprecationWarning, match=r"crmlib\.present\.rfm\.segment_overview"):
        old = rfm.segment_overview(seg, language="zh")
    pd.testing.assert_frame_equal(old, present_rfm.segment_overview(seg, language="zh"))
    assert old["name"].iloc[0] == "重要价值客户"
    with pytest.warns(DeprecationWarning, match=r"crmlib\.value\.gini"):
        assert rfm.gini(table) == value.gini(table)


def test_old_segments_keywords_still_work_with_a_deprecation_warning(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"schemes": {"two": TWO_GROUPS}}), encoding="utf-8")
    with pytest.warns(DeprecationWarning, match="'params_file' is deprecated"):
        assert "two" in segments.scheme_names(params_file=path)
    with pytest.warns(DeprecationWarning, match="'params_file' is deprecated"):
        scheme = segments.load_scheme("two", params_file=path)
    with pytest.warns(DeprecationWarning, match="segment_name"):
        assert scheme.segment_name("lapsed", language="zh") == "沉默"
    with pytest.raises(TypeError, match="both 'params' and its deprecated alias"):
        segments.load_scheme("two", params=path, params_file=path)
    with pytest.raises(TypeError, match="unexpected keyword argument 'rules'"):
        segments.load_scheme("two", rules=path)


def test_member_share_counts_orders_as_every_analysis_does() -> None:
    """Hand-counted: members c1 (orders o1 of two lines, o2 returned in full) and c2 (o1 too: an
    order id is its customer's; two undated-id lines at one time: one order); anonymous sales
    with an empty, a blank and an "N/A" id (two ids, three orders); a line after as_of."""
    lines = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c1", "c2", "c2", "c2", "", "  ", "N/A", "c1"],
            "order_id": ["o1", "o1", "o2", "o2", "o1", None, None, "a1", "a2", "a3", "o9"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-05-01 10:00",
                    "2024-05-01 10:00",
                    "2024-05-02 09:00",
                    "2024-05-03 09:00",
                    "2024-05-04 12:00",
                    "2024-05-05 08:00",
                    "2024-05-05 08:00",
                    "2024-05-06 10:00",
                    "2024-05-06 11:00",
                    "2024-05-07 10:00",
                    "2024-07-01 10:00",
                ]
            ),  # fmt: skip
            "amount": [10.0, 5.0, 20.0, -20.0, 7.0, 3.0, 4.0, 6.0, 8.0, 2.0, 99.0],
        }
    )
    share = rfm.member_share(lines, as_of="2024-06-30").set_index("buyer")
    assert share.loc["member", "orders"] == 4  # c1: o1, o2; c2: o1, the order of 05-05
    assert share.loc["anonymous", "orders"] == 3
    assert share.loc["member", "lines"] == 7 and share.loc["anonymous", "lines"] == 3
    assert share.loc["member", "revenue"] == pytest.approx(29.0)
    assert share.loc["anonymous", "revenue"] == pytest.approx(16.0)
    assert share.loc["member", "share_orders"] == pytest.approx(4 / 7)
    assert share.loc["member", "share_revenue"] == pytest.approx(29 / 45)
