"""Cross-sell rules: agreement with mlxtend, hand-computed cases, planted pairs of the demo."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from itertools import combinations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib import basket
from crmlib.basket import bitsets, itemsets
from crmlib.errors import ConfigError, DataError

with warnings.catch_warnings():  # mlxtend's import sets "always" for DeprecationWarning globally
    from mlxtend.frequent_patterns import association_rules as mlx_rules
    from mlxtend.frequent_patterns import fpgrowth

matplotlib.use("Agg")

METRICS = ["support", "confidence", "lift", "leverage", "conviction"]


def random_lines(seed: int, *, n_orders: int = 2500, n_items: int = 40) -> pd.DataFrame:
    """Random orders with skewed popularity, two planted pairs and one planted triple."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pop /= pop.sum()
    rows = []
    for o in range(n_orders):
        items = set(rng.choice(n_items, size=int(rng.integers(1, 6)), p=pop).tolist())
        if rng.random() < 0.08:
            items |= {12, 13}
        if rng.random() < 0.06:
            items |= {20, 25}
        if rng.random() < 0.05:
            items |= {30, 31, 32}
        for i in sorted(items):
            rows.append((f"O{o:05d}", f"C{o % 400:04d}", f"SKU{i:02d}", f"CAT{i % 7}", 12.5))
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "sku", "category", "amount"])
    frame["ordered_at"] = pd.Timestamp("2024-03-01") + pd.to_timedelta(
        rng.integers(0, 90, len(frame)), unit="D"
    )
    return frame


def mlxtend_reference(
    lines: pd.DataFrame, *, min_support: float, max_len: int, level: str = "sku"
) -> pd.DataFrame:
    """mlxtend's rules on a plain one-hot frame built independently with pandas."""
    onehot = pd.crosstab(lines["order_id"], lines[level]) > 0
    sets = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
    rules = mlx_rules(sets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.0)
    rules["key"] = [
        (tuple(sorted(a)), tuple(sorted(c)))
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    rules["n_both"] = np.rint(rules["support"] * len(onehot)).astype(int)
    rules["n_antecedent"] = np.rint(rules["antecedent support"] * len(onehot)).astype(int)
    rules["n_consequent"] = np.rint(rules["consequent support"] * len(onehot)).astype(int)
    return rules.set_index("key").sort_index()


def ours(lines: pd.DataFrame, **kwargs) -> pd.DataFrame:
    opts = dict(min_confidence=0.0, min_lift=0.0, significance=None, prune=False)
    opts.update(kwargs)
    rules = basket.association_rules(lines, **opts)
    rules["key"] = list(zip(rules["antecedents"], rules["consequents"], strict=True))
    return rules.set_index("key").sort_index()


def assert_same_rules(mine: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(mine.index) == list(ref.index)
    for col in ("n_both", "n_antecedent", "n_consequent"):
        np.testing.assert_array_equal(mine[col].to_numpy(), ref[col].to_numpy())
    for col in METRICS:
        np.testing.assert_allclose(mine[col].to_numpy(), ref[col].to_numpy(), rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------------------
# agreement with mlxtend


@pytest.mark.parametrize(
    ("seed", "min_support", "max_len"),
    [(1, 0.01, 2), (2, 0.01, 3), (3, 0.02, 3), (4, 0.005, 3), (5, 0.01, 4)],
)
def test_rules_match_mlxtend(seed: int, min_support: float, max_len: int) -> None:
    lines = random_lines(seed)
    ref = mlxtend_reference(lines, min_support=min_support, max_len=max_len)
    mine = ours(lines, min_support=min_support, max_len=max_len)
    assert len(mine) > 20
    assert_same_rules(mine, ref)
    if max_len >= 3:
        assert (mine["antecedents"].map(len) + mine["consequents"].map(len) == 3).any()


def test_level_wise_path_for_large_baskets_matches_mlxtend(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = random_lines(6)
    original = itemsets._count_triples
    monkeypatch.setattr(itemsets, "_count_triples", lambda xp, m, **kw: original(xp, m, budget=0))
    ref = mlxtend_reference(lines, min_support=0.01, max_len=3)
    assert_same_rules(ours(lines, min_support=0.01, max_len=3), ref)


def _switch_to_tid_lists_after(monkeypatch: pytest.MonkeyPatch, joins: int) -> None:
    """Let the bit-set miner join ``joins`` levels, then find the next one over budget."""
    original, calls = bitsets._joins, []

    def joins_then_stop(prefix: np.ndarray, *, limit: int) -> tuple | None:
        calls.append(1)
        return None if len(calls) > joins else original(prefix, limit=limit)

    monkeypatch.setattr(bitsets, "_joins", joins_then_stop)


@pytest.mark.parametrize(
    "path",
    [
        "bit sets",
        "tid-lists, dense table",
        "tid-lists, sorted lookup",
        "switch at 4",
        "candidates over budget",
    ],
)
def test_itemsets_of_any_length_match_mlxtend(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """No cap on the itemset length (max_len=0): mined level by level, never by mlxtend; bit
    sets, tid-lists with either way of looking up which basket holds an item, and a hand-over
    from bit sets to tid-lists after the triples all give mlxtend's rules."""
    if path.startswith("tid-lists"):
        monkeypatch.setattr(bitsets, "MAX_BITSET_BYTES", 0)
    if path.endswith("sorted lookup"):
        monkeypatch.setattr(itemsets, "DENSE_TABLE_CELLS", 0)
    if path == "switch at 4":
        _switch_to_tid_lists_after(monkeypatch, 1)
    if path == "candidates over budget":
        monkeypatch.setattr(bitsets, "MAX_CANDIDATES", 1)
    lines = random_lines(8)
    ref = mlxtend_reference(lines, min_support=0.004, max_len=None)
    mine = ours(lines, min_support=0.004, max_len=0)
    assert_same_rules(mine, ref)
    assert (mine["antecedents"].map(len) + mine["consequents"].map(len) >= 4).any()


@pytest.mark.parametrize("switch", [None, 1, 2])
def test_dense_categories_of_any_length_match_mlxtend(monkeypatch, switch: int | None) -> None:
    """Few categories, most baskets holding several: itemsets of five and more items, on bit
    sets alone and handed over to tid-lists after the triples or the 4-itemsets."""
    if switch is not None:
        _switch_to_tid_lists_after(monkeypatch, switch)
    rng = np.random.default_rng(9)
    lines = random_lines(9, n_orders=1500, n_items=12)
    extra = lines.sample(frac=0.6, random_state=1).assign(sku=lambda f: "SKU" + pd.Series(
        rng.integers(0, 12, len(f)), index=f.index).astype(str).str.zfill(2))  # fmt: skip
    lines = pd.concat([lines, extra], ignore_index=True).drop_duplicates(["order_id", "sku"])
    ref = mlxtend_reference(lines, min_support=0.01, max_len=None)
    mine = ours(lines, min_support=0.01, max_len=0)
    assert_same_rules(mine, ref)
    assert (mine["antecedents"].map(len) + mine["consequents"].map(len) >= 5).any()


def test_an_itemset_explosion_stops_with_the_parameter_to_raise(monkeypatch) -> None:
    monkeypatch.setattr(bitsets, "MAX_ITEMSETS", 5)
    with pytest.raises(DataError, match="raise min_support or set max_len"):
        ours(random_lines(8), min_support=0.004, max_len=0)


def test_category_level_matches_mlxtend() -> None:
    lines = random_lines(7)
    ref = mlxtend_reference(lines, min_support=0.02, max_len=3, level="category")
    mine = ours(lines, min_support=0.02, max_len=3, level="category")
    assert_same_rules(mine, ref)


def test_thresholds_filter_like_plain_pandas() -> None:
    lines = random_lines(8)
    everything = ours(lines, min_support=0.01, max_len=3)
    some = ours(lines, min_support=0.01, max_len=3, min_confidence=0.2, min_lift=1.5)
    expected = everything[(everything["confidence"] >= 0.2) & (everything["lift"] >= 1.5)]
    assert list(some.index) == list(expected.index)
    assert 0 < len(some) < len(everything)


# ------------------------------------------------------------------------------------------
# baskets


def test_baskets_skip_returns_and_keep_anonymous_orders() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", None, None, "c2", "c2"],
            "order_id": ["o1", "o1", "o2", "o3", "o3", "o4", "o4"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 09:00",
                    "2024-01-01 18:00",
                    "2024-01-02 10:00",
                    "2024-01-02 10:00",
                    "2024-01-03 10:00",
                    "2024-01-03 10:00",
                ]
            ),
            "amount": [10.0, 5.0, 3.0, 8.0, 2.0, 4.0, -4.0],
            "sku": ["A", "B", "C", "A", "B", "A", "D"],
        }
    )
    by_order = basket.baskets(lines, basket="order")
    got = sorted(by_order.groupby("basket")["item"].apply(lambda s: "".join(sorted(s))))
    assert got == ["A", "AB", "AB", "C"]  # o4 lost its returned D; o3 is anonymous
    by_day = basket.baskets(lines, basket="customer_day")
    got = sorted(by_day.groupby("basket")["item"].apply(lambda s: "".join(sorted(s))))
    assert got == ["A", "AB", "ABC"]  # c1's two orders on one day merge


def test_as_of_drops_later_lines() -> None:
    lines = random_lines(9)
    cut = "2024-04-15"
    early = lines[lines["ordered_at"] < pd.Timestamp(cut) + pd.Timedelta(days=1)]
    assert_same_rules(
        ours(lines, min_support=0.02, max_len=2, as_of=cut),
        ours(early, min_support=0.02, max_len=2),
    )


# ------------------------------------------------------------------------------------------
# significance and pruning


def test_fisher_p_values_match_scipy_and_a_hand_sum() -> None:
    n, n_a, n_c = 40, 12, 10
    cases = [(0, n_a, n_c), (3, n_a, n_c), (6, n_a, n_c), (10, n_a, n_c), (2, 3, 5)]
    p = basket.fisher_p_values(*map(np.array, zip(*cases, strict=True)), n)
    for (both, a, c), got in zip(cases, p, strict=True):
        table = [[both, a - both], [c - both, n - a - c + both]]
        assert got == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)
        hand = sum(
            math.comb(c, k) * math.comb(n - c, a - k) for k in range(both, min(a, c) + 1)
        ) / math.comb(n, a)
        assert got == pytest.approx(hand, rel=1e-12)


def test_fisher_p_values_match_exact_sums_on_larger_tables() -> None:
    """Against the survival function summed exactly in integers: both sides of the mode, the
    ends of the support and far into the upper tail (p-values down to 1e-300)."""
    rng = np.random.default_rng(4)
    n = 4_000
    n_a, n_c = rng.integers(1, 1_500, 40), rng.integers(1, 1_500, 40)
    low, high = np.maximum(0, n_a + n_c - n), np.minimum(n_a, n_c)
    mean = n_a * n_c / n
    k = np.concatenate(
        [
            np.clip(np.rint(mean + rng.normal(0, 3, 40) * np.sqrt(mean + 1)), low, high),
            low,
            high,
            np.clip(np.rint(mean * 1.5 + 5), low, high),
        ]
    ).astype(np.int64)
    a, c = np.tile(n_a, 4), np.tile(n_c, 4)
    got = basket.fisher_p_values(k, a, c, n)
    for both, aa, cc, p in zip(k.tolist(), a.tolist(), c.tolist(), got.tolist(), strict=True):
        tail = sum(
            math.comb(cc, j) * math.comb(n - cc, aa - j) for j in range(both, min(aa, cc) + 1)
        )
        exact = Fraction(tail, math.comb(n, aa))
        if exact > Fraction(1, 10**300):
            assert p == pytest.approx(float(exact), rel=1e-9), (both, aa, cc)
        else:
            assert p < 1e-290


def test_rule_p_values_and_bh_q_values() -> None:
    lines = random_lines(10)
    rules = ours(lines, min_support=0.01, max_len=2)
    n = int(rules["n_baskets"].iloc[0])
    for row in rules.head(5).itertuples():
        table = [
            [row.n_both, row.n_antecedent - row.n_both],
            [row.n_consequent - row.n_both, n - row.n_antecedent - row.n_consequent + row.n_both],
        ]
        assert row.p_value == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)
    # Benjamini-Hochberg by hand: q_(i) = min_{j>=i} p_(j) * m / j
    p = rules["p_value"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    q_sorted = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1)
    np.testing.assert_allclose(rules["q_value"].to_numpy(), q, rtol=1e-12)
    kept = ours(lines, min_support=0.01, max_len=2, significance=0.05)
    assert list(kept.index) == list(rules.index[rules["q_value"] <= 0.05])
    assert 0 < len(kept) < len(rules)


def test_pruning_drops_rules_no_better_than_a_general_one() -> None:
    # 10 baskets: A→C holds in 4 of 5 A-baskets; A+B→C in 2 of 3 (lower) so it is pruned;
    # X+Y→Z in 3 of 3 beats X→Z (3/4) and Y→Z (3/4) so it stays.
    rows = (
        [["A", "B", "C"]] * 2
        + [["A", "B"]]
        + [["A", "C"]] * 2
        + [["X", "Y", "Z"]] * 3
        + [["X"], ["Y"]]
    )
    lines = pd.DataFrame(
        [(f"o{i}", "c", item, 1.0) for i, items in enumerate(rows) for item in items],
        columns=["order_id", "customer_id", "sku", "amount"],
    ).assign(ordered_at=pd.Timestamp("2024-01-01"))
    full = ours(lines, min_support=0.1, max_len=3)
    pruned = ours(lines, min_support=0.1, max_len=3, prune=True)
    conf = full["confidence"].to_dict()
    assert conf[(("A",), ("C",))] == pytest.approx(4 / 5)
    assert conf[(("A", "B"), ("C",))] == pytest.approx(2 / 3)
    assert (("A", "B"), ("C",)) not in pruned.index
    assert (("X", "Y"), ("Z",)) in pruned.index
    # the rule for every multi-item antecedent is kept iff it beats all of its sub-rules
    for (ante, cons), row in full.iterrows():
        if len(ante) < 2:
            continue
        best = max(conf[(sub, cons)] for r in range(1, len(ante)) for sub in combinations(ante, r))
        assert ((ante, cons) in pruned.index) == (row["confidence"] > best + 1e-12)
    single = full[full["antecedents"].map(len) == 1]
    assert set(single.index) <= set(pruned.index)


# ------------------------------------------------------------------------------------------
# A then B within N days


def dated(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "sku"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["order_id"] = frame["customer_id"] + frame["ordered_at"].dt.strftime("%Y%m%d")
    frame["amount"] = 10.0
    return frame


def test_sequential_rules_hand_computed() -> None:
    lines = dated(
        [
            ("c1", "2024-01-01", "A"),
            ("c1", "2024-01-11", "B"),  # B 10 days after A
            ("c2", "2024-01-01", "A"),
            ("c2", "2024-01-01", "B"),  # same day: not after
            ("c3", "2024-01-01", "A"),
            ("c3", "2024-02-15", "B"),  # 45 days: outside
            ("c4", "2024-01-01", "A"),
            ("c4", "2024-03-01", "A"),
            ("c4", "2024-03-05", "B"),  # 4 days after the second A
            ("c5", "2024-01-01", "B"),
            ("c5", "2024-01-20", "A"),  # B only before A
            ("c6", "2024-01-01", "C"),
        ]
    )
    rules = basket.sequential_rules(lines, within_days=30, min_customers=1, min_lift=0.0)
    ab = rules.set_index(["antecedent", "consequent"]).loc[("A", "B")]
    assert ab["n_antecedent"] == 5 and ab["n_both"] == 2
    assert ab["share"] == pytest.approx(2 / 5)
    assert ab["n_consequent"] == 5 and ab["n_customers"] == 6  # B: c1-c5; members: c1-c6
    assert ab["baseline_share"] == pytest.approx(5 / 6)
    assert ab["lift"] == pytest.approx((2 / 5) / (5 / 6))
    assert ab["median_days"] == pytest.approx(7.0)  # gaps 10 and 4
    ba = rules.set_index(["antecedent", "consequent"]).loc[("B", "A")]
    assert ba["n_both"] == 1 and ba["median_days"] == pytest.approx(19.0)
    gaps = basket.sequential_gaps(lines, pairs=[("A", "B")], within_days=30)
    assert sorted(zip(gaps["customer_id"], gaps["days"], strict=True)) == [("c1", 10), ("c4", 4)]
    wider = basket.sequential_rules(lines, within_days=45, min_customers=1, min_lift=0.0)
    assert wider.set_index(["antecedent", "consequent"]).loc[("A", "B"), "n_both"] == 3


def test_sequential_rules_match_a_plain_pandas_version() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    lines = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 300, n)],
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "sku": [f"S{i}" for i in rng.integers(0, 12, n)],
            "amount": rng.choice([10.0, -10.0], n, p=[0.95, 0.05]),
        }
    )
    lines["order_id"] = [f"o{i}" for i in range(n)]
    window = 21
    rules = basket.sequential_rules(lines, within_days=window, min_customers=5, min_lift=0.0)
    # plain pandas: cross join each member's purchase days
    buys = lines[lines["amount"] >= 0].assign(day=lambda d: d["ordered_at"].dt.normalize())
    buys = buys[["customer_id", "sku", "day"]].drop_duplicates()
    pairs = buys.merge(buys, on="customer_id", suffixes=("_a", "_b"))
    gap = (pairs["day_b"] - pairs["day_a"]).dt.days
    pairs = pairs[(gap > 0) & (gap <= window) & (pairs["sku_a"] != pairs["sku_b"])]
    pairs = pairs.assign(gap=gap[pairs.index])
    per = pairs.groupby(["customer_id", "sku_a", "sku_b"])["gap"].min().reset_index()
    agg = per.groupby(["sku_a", "sku_b"]).agg(n_both=("gap", "size"), median=("gap", "median"))
    agg = agg[agg["n_both"] >= 5]
    buyers = buys.groupby("sku")["customer_id"].nunique()
    total = buys["customer_id"].nunique()
    got = rules.set_index(["antecedent", "consequent"]).sort_index()
    agg = agg.sort_index()
    assert list(got.index) == [tuple(i) for i in agg.index]
    np.testing.assert_array_equal(got["n_both"].to_numpy(), agg["n_both"].to_numpy())
    np.testing.assert_allclose(got["median_days"].to_numpy(), agg["median"].to_numpy())
    share = agg["n_both"].to_numpy() / buyers.reindex(agg.index.get_level_values(0)).to_numpy()
    base = buyers.reindex(agg.index.get_level_values(1)).to_numpy() / total
    np.testing.assert_allclose(got["lift"].to_numpy(), share / base, rtol=1e-12)
    strong = basket.sequential_rules(lines, within_days=window, min_customers=5, min_lift=1.2)
    assert len(strong) == int((got["lift"] >= 1.2).sum())
    assert (strong["lift"] >= 1.2).all()


# ------------------------------------------------------------------------------------------
# recommendations and bundles


def test_recommend_excludes_owned_items_and_ranks_by_rule_strength() -> None:
    rules = pd.DataFrame(
        {
            "antecedents": [("A",), ("A",), ("A", "B"), ("C",)],
            "consequents": [("B",), ("D",), ("E",), ("A",)],
            "lift": [3.0, 2.0, 5.0, 1.5],
            "confidence": [0.5, 0.4, 0.6, 0.3],
        }
    )
    lines = dated(
        [
            ("u1", "2024-01-01", "A"),
            ("u2", "2024-01-01", "A"),
            ("u2", "2024-01-02", "B"),
            ("u3", "2024-01-01", "C"),
        ]
    )
    rec = basket.recommend(lines, rules, top_n=5)
    got = {c: list(g["item"]) for c, g in rec.groupby("customer_id")}
    assert got == {"u1": ["B", "D"], "u2": ["E", "D"], "u3": ["A"]}
    assert list(rec[rec.customer_id == "u2"]["rank"]) == [1, 2]
    top1 = basket.recommend(lines, rules, top_n=1, customers=["u2"])
    assert list(top1["item"]) == ["E"]
    seg = pd.DataFrame({"customer_id": ["u1", "u2", "u3"], "segment": ["x", "x", "y"]})
    grouped = basket.recommend(lines, rules, customers=seg, segment="x", top_n=2)
    # D is in both members' lists; B and E in one each, E by the stronger rule (lift 5 vs 3)
    assert list(grouped["item"]) == ["D", "E"]
    assert list(grouped["n_customers"]) == [2, 1]
    assert grouped["share"].tolist() == [1.0, 0.5]


def test_bundle_candidates_merge_both_directions() -> None:
    lines = random_lines(11)
    rules = basket.association_rules(
        lines,
        min_support=0.01,
        max_len=2,
        min_confidence=0.0,
        min_lift=0.0,
        significance=None,
        prune=False,
    )
    bundles = basket.bundle_candidates(rules, min_lift=2.0, min_support=0.02)
    pairs = rules[(rules["lift"] >= 2.0) & (rules["support"] >= 0.02)]
    expected = {
        tuple(sorted(a + c))
        for a, c in zip(pairs["antecedents"], pairs["consequents"], strict=True)
    }
    assert set(zip(bundles["item_a"], bundles["item_b"], strict=True)) == expected
    assert ("SKU12", "SKU13") in expected
    row = bundles.set_index(["item_a", "item_b"]).loc[("SKU12", "SKU13")]
    r = rules.set_index(["antecedents", "consequents"])
    assert row["confidence_ab"] == pytest.approx(r.loc[(("SKU12",), ("SKU13",)), "confidence"])
    assert row["confidence_ba"] == pytest.approx(r.loc[(("SKU13",), ("SKU12",)), "confidence"])


# ------------------------------------------------------------------------------------------
# parameters, export, charts


def test_export_rules_writes_readable_csv(tmp_path) -> None:
    lines = random_lines(15)
    rules = basket.association_rules(lines, min_support=0.01, max_len=3, min_lift=1.0)
    files = basket.export_rules(rules, export_dir=tmp_path / "out")
    back = pd.read_csv(files[0], encoding="utf-8-sig")
    assert len(back) == len(rules)
    assert back["antecedents"].tolist() == [" + ".join(a) for a in rules["antecedents"]]
    np.testing.assert_allclose(back["lift"].to_numpy(), rules["lift"].to_numpy())


def test_bad_parameters_raise_config_error() -> None:
    lines = random_lines(12, n_orders=50)
    with pytest.raises(ConfigError, match="level"):
        basket.association_rules(lines, level="brand", min_support=0.1)
    with pytest.raises(ConfigError, match="min_support"):
        basket.association_rules(lines, min_support=0)
    with pytest.raises(ConfigError, match="basket"):
        basket.association_rules(lines, min_support=0.1, basket="week")
    with pytest.raises(ConfigError, match="within_days"):
        basket.sequential_rules(lines, within_days=0)
    with pytest.raises(ConfigError, match="as_of"):
        basket.association_rules(lines, min_support=0.1, as_of="soon")


def test_defaults_merge_a_call_override_over_the_params_file() -> None:
    shipped = basket.defaults()
    assert set(shipped) >= {"association", "sequential", "bundles", "recommend"}
    merged = basket.defaults({"recommend": {"top_n": 2}})
    assert merged["recommend"]["top_n"] == 2
    assert merged["recommend"]["score"] == shipped["recommend"]["score"]
    assert merged["association"] == shipped["association"]


def test_match_segment_by_key_or_name() -> None:
    from crmlib.basket.recommendations import match_segment

    segments = pd.DataFrame(
        {"segment": ["a_key", "b_key"], "name_en": ["Alpha", "Beta"], "name_zh": ["甲", "乙"]}
    )
    for name in ("b_key", " Beta ", "乙"):
        assert match_segment(segments, name)["segment"].tolist() == ["b_key"]
    assert match_segment(segments, "gamma").empty


def test_charts_return_axes() -> None:
    from crmlib.plots import basket as bplots

    lines = random_lines(14)
    rules = basket.association_rules(lines, min_support=0.01, max_len=2, min_lift=1.0)
    ax = bplots.pair_heatmap(rules, language="zh")
    assert ax.get_title()
    bundles = basket.bundle_candidates(rules, min_lift=1.5, min_support=0.01)
    assert bplots.bundle_chart(bundles, language="en").patches
    gaps = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "antecedent": ["X", "X", "Y"],
            "consequent": ["Y", "Y", "Z"],
            "days": [3, 10, 5],
        }
    )
    assert bplots.timing_chart(gaps, within_days=30).get_xlabel()
    matplotlib.pyplot.close("all")


# ------------------------------------------------------------------------------------------
# planted pairs of the demo retailer


def test_demo_planted_pairs_are_found(demo_params, demo_truth) -> None:
    from crmlib.data import load_dataset

    tx = load_dataset(demo_params).transactions
    truth = demo_truth["cross_sell"]
    window = int(truth["window_days"])
    seq = basket.sequential_rules(tx, within_days=window, min_customers=10)
    top = set(zip(seq["antecedent"].head(10), seq["consequent"].head(10), strict=True))
    for pair in truth["sequential"]:
        assert (pair["first"], pair["then"]) in top
        row = seq.set_index(["antecedent", "consequent"]).loc[(pair["first"], pair["then"])]
        assert row["lift"] > 2 and 0 < row["median_days"] <= window
    rules = basket.association_rules(tx, min_support=0.002, max_len=2, min_lift=1.0)
    found = rules.set_index(["antecedents", "consequents"])
    for pair in truth["same_basket"]:
        key = ((pair["first"],), (pair["then"],))
        assert key in found.index
        assert found.loc[key, "lift"] > 2
        assert found.loc[key, "confidence"] == pytest.approx(pair["confidence"], abs=0.03)
    members = basket.segment_members(tx, segment="重要价值客户", scheme="cn8")
    assert len(members) > 0 and set(members["segment"]) == {"important_value"}
    offers = basket.recommend(tx, rules, customers=members, segment="important_value", top_n=3)
    assert 0 < len(offers) <= 3 and (offers["n_customers"] <= len(members)).all()
    assert basket.segment_members(tx, segment="") is None
    strongest = set(map(tuple, (rules["antecedents"] + rules["consequents"]).head(6)))
    for pair in truth["same_basket"]:
        assert (pair["first"], pair["then"]) in strongest or (
            pair["then"],
            pair["first"],
        ) in strongest


def test_item_codes_are_the_sorted_names_and_refuse_a_missing_item():
    from crmlib.basket.arrays import item_codes

    codes, names = item_codes(pd.Series(["b", "a", "b", "c"], dtype="string[pyarrow]"))
    assert codes.tolist() == [1, 0, 1, 2] and names.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="1 lines have no item"):
        item_codes(pd.Series(["b", None, "a"]))
