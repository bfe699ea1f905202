"""Lifecycle stages, flows, cohorts, milestones and intervals against hand-computed cases.

The small case: six customers over January–April 2024 (as_of 2024-04-30), window rule with
at risk after 40 / churned after 70 days (one-time buyers 30 / 50 days).

=====  ===========================================  =======  ========  ===========  ===========
cust   purchase days                                Jan      Feb       Mar          Apr
=====  ===========================================  =======  ========  ===========  ===========
A      01-10, 02-09, 03-10, 04-10                   new      active    active       active
B      01-05, 04-20                                 new      churned   churned      reactivated
C      02-15                                        –        new       at_risk      churned
D      03-01, 03-20                                 –        –         new          at_risk
E      04-02 (+ a pure return order on 04-05)       –        –         –            new
F      01-31, 03-01                                 new      active    active       at_risk
=====  ===========================================  =======  ========  ===========  ===========

B, end of Feb: 55 days since a single purchase ≥ 50 → churned. C, end of Mar: 45 days ≥ 30 →
at risk; end of Apr 75 ≥ 50 → churned. D, end of Apr: 41 days ≥ 40 (two purchase days) → at risk.
F, end of Feb: 29 days < 30 → still active; buys in Mar (not lapsed, so active, but reactivated
under the per-period rule); end of Apr 60 days ≥ 40 → at risk.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlib import cohorts, stats
from crmlib import lifecycle as lc
from crmlib.data import resolve_as_of
from crmlib.errors import ConfigError, DataError

AS_OF = "2024-04-30"
WINDOW = {
    "at_risk_days": 40,
    "churned_days": 70,
    "one_time_at_risk_days": 30,
    "one_time_churned_days": 50,
}

ORDERS = [
    # customer, order, day, amount
    ("A", "a1", "2024-01-10 10:00", 10.0),
    ("A", "a2", "2024-02-09 11:00", 10.0),
    ("A", "a3", "2024-03-10 09:00", 10.0),
    ("A", "a4", "2024-04-10 12:00", 10.0),
    ("B", "b1", "2024-01-05 15:00", 40.0),
    ("B", "b2", "2024-04-20 15:00", 60.0),
    ("C", "c1", "2024-02-15 08:00", 25.0),
    ("D", "d1", "2024-03-01 20:00", 30.0),
    ("D", "d2", "2024-03-20 20:00", 35.0),
    ("E", "e1", "2024-04-02 10:00", 50.0),
    ("E", "e2", "2024-04-05 10:00", -20.0),  # a pure return: revenue, but no purchase
    ("F", "f1", "2024-01-31 18:00", 12.0),
    ("F", "f2", "2024-03-01 18:00", 14.0),
    (None, "x1", "2024-02-01 12:00", 99.0),  # anonymous sale: left out
    ("", "x2", "2024-03-01 12:00", 99.0),  # empty id: anonymous too
    ("A", "late", "2024-05-03 12:00", 500.0),  # after as_of: ignored
]

EXPECTED = {
    "A": ["new", "active", "active", "active"],
    "B": ["new", "churned", "churned", "reactivated"],
    "C": [None, "new", "at_risk", "churned"],
    "D": [None, None, "new", "at_risk"],
    "E": [None, None, None, "new"],
    "F": ["new", "active", "active", "at_risk"],
}
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04"]


@pytest.fixture()
def tx() -> pd.DataFrame:
    rows = []
    for cust, order, ts, amount in ORDERS:
        # split each order over two lines to check that orders, not lines, are counted
        for share in (0.5, 0.5):
            rows.append(
                {
                    "customer_id": cust,
                    "order_id": order,
                    "ordered_at": pd.Timestamp(ts),
                    "amount": amount * share,
                    "category": "tea" if cust in ("A", "B") else "coffee",
                    "channel": "web" if cust in ("A", "C", "E") else "store",
                }
            )
    return pd.DataFrame(rows)


def _stages(tx: pd.DataFrame, **kw) -> pd.DataFrame:
    return lc.customer_stages(tx, as_of=AS_OF, overrides={"window": WINDOW}, **kw)


def test_each_stage_of_the_hand_computed_case(tx):
    st = _stages(tx)
    got = {(r.customer_id, str(r.period)): r.stage for r in st.itertuples(index=False)}
    expected = {
        (c, m): s
        for c, stages in EXPECTED.items()
        for m, s in zip(MONTHS, stages, strict=True)
        if s is not None
    }
    assert got == expected
    assert st["stage"].dtype == pd.CategoricalDtype(lc.STAGES, ordered=True)


def test_stage_rows_carry_recency_thresholds_and_revenue(tx):
    st = _stages(tx).set_index(["customer_id", "period"])
    b_feb = st.loc[("B", pd.Period("2024-02", "M"))]
    assert b_feb["recency_days"] == 55
    assert (b_feb["at_risk_after"], b_feb["churned_after"]) == (30, 50)
    d_apr = st.loc[("D", pd.Period("2024-04", "M"))]
    assert d_apr["recency_days"] == 41 and d_apr["purchase_days"] == 2
    assert (d_apr["at_risk_after"], d_apr["churned_after"]) == (40, 70)
    e_apr = st.loc[("E", pd.Period("2024-04", "M"))]
    assert e_apr["orders"] == 1  # the return order is no purchase
    assert e_apr["revenue"] == pytest.approx(30.0)  # 50 − 20, returns included


def test_per_period_reactivation_rule(tx):
    st = _stages(tx, reactivation="period")
    f = st[st["customer_id"] == "F"].set_index("period")["stage"]
    assert f[pd.Period("2024-03", "M")] == "reactivated"
    b = st[st["customer_id"] == "B"].set_index("period")["stage"]
    assert b[pd.Period("2024-04", "M")] == "reactivated"


def test_own_gap_rule_uses_the_customers_rhythm():
    days = ["2024-01-01", "2024-01-11", "2024-01-21"]  # gaps 10, 10 → median 10
    tx = pd.DataFrame(
        {
            "customer_id": "G",
            "order_id": [f"g{i}" for i in range(3)],
            "ordered_at": pd.to_datetime(days),
            "amount": 5.0,
        }
    )
    own = lc.customer_stages(tx, as_of="2024-02-29", rule="own_gap", overrides={"window": WINDOW})
    win = lc.customer_stages(tx, as_of="2024-02-29", rule="window", overrides={"window": WINDOW})
    feb = pd.Period("2024-02", "M")
    own_feb = own.set_index("period").loc[feb]
    # 39 days since the last purchase ≥ 3 × 10 → churned; the window rule (40 days) says active
    assert own_feb["recency_days"] == 39
    assert (own_feb["at_risk_after"], own_feb["churned_after"]) == (20, 30)
    assert own_feb["stage"] == "churned"
    assert win.set_index("period").loc[feb, "stage"] == "active"
    # with min_gaps 3 the customer has too few gaps and falls back to the window rule
    fallback = lc.customer_stages(
        tx, as_of="2024-02-29", rule="own_gap", min_gaps=3, overrides={"window": WINDOW}
    )
    assert fallback.set_index("period").loc[feb, "stage"] == "active"


def test_percentile_rule_thresholds_are_the_gap_quantiles(tx):
    gaps = np.array([30, 30, 31, 106, 19, 30])  # every gap of the small case, by hand
    q = lc.base_gap_percentiles(tx, as_of=AS_OF, quantiles=(0.8, 0.9))
    assert q.to_numpy() == pytest.approx(np.quantile(gaps, [0.8, 0.9]))
    st = lc.customer_stages(tx, as_of=AS_OF, rule="percentile")
    assert st["at_risk_after"].unique() == pytest.approx([np.quantile(gaps, 0.8)])
    assert st["churned_after"].unique() == pytest.approx([np.quantile(gaps, 0.9)])


def test_stage_counts_and_transitions(tx):
    st = _stages(tx)
    counts = lc.stage_counts(st)
    apr = counts[counts["period"] == pd.Period("2024-04", "M")].set_index("stage")
    assert apr["customers"].to_dict() == {
        "new": 1,
        "active": 1,
        "reactivated": 1,
        "at_risk": 2,
        "churned": 1,
    }
    assert apr["share"].sum() == pytest.approx(1.0)

    moves = lc.stage_transitions(st)
    nonzero = {
        (r.from_stage, r.to_stage): r.customers
        for r in moves.itertuples(index=False)
        if r.customers
    }
    assert nonzero == {
        ("active", "active"): 1,
        ("active", "at_risk"): 1,
        ("churned", "reactivated"): 1,
        ("at_risk", "churned"): 1,
        ("new", "at_risk"): 1,
        ("not_yet", "new"): 1,
    }
    assert len(moves) == 6 * 5  # every from × to combination is listed
    feb_mar = lc.stage_transitions(st, from_period="2024-02", to_period="2024-03")
    got = {
        (r.from_stage, r.to_stage): r.customers
        for r in feb_mar.itertuples(index=False)
        if r.customers
    }
    assert got == {
        ("active", "active"): 2,
        ("churned", "churned"): 1,
        ("new", "at_risk"): 1,
        ("not_yet", "new"): 1,
    }
    with pytest.raises(ConfigError, match="from_period"):
        lc.stage_transitions(st, from_period="2024-04", to_period="2024-03")


def test_cohort_counts_and_revenue(tx):
    co = cohorts.cohort_retention(tx, as_of=AS_OF)
    jan = co[co["cohort"] == pd.Period("2024-01", "M")].set_index("period_number")
    assert jan["cohort_size"].unique().tolist() == [3]  # A, B, F
    assert jan["customers"].tolist() == [3, 1, 2, 2]
    assert jan["revenue"].tolist() == pytest.approx([10 + 40 + 12, 10, 10 + 14, 10 + 60])
    assert jan["share"].tolist() == pytest.approx([1, 1 / 3, 2 / 3, 2 / 3])
    assert jan["cumulative_revenue_per_customer"].iloc[-1] == pytest.approx((62 + 10 + 24 + 70) / 3)
    sizes = co.groupby("cohort")["cohort_size"].first()
    assert sizes.to_dict() == {
        pd.Period("2024-01", "M"): 3,
        pd.Period("2024-02", "M"): 1,
        pd.Period("2024-03", "M"): 1,
        pd.Period("2024-04", "M"): 1,
    }
    assert co["complete"].all()
    quarterly = cohorts.cohort_retention(tx, as_of=AS_OF, period="quarter")
    q = quarterly.set_index(["cohort", "period_number"])
    assert q.loc[(pd.Period("2024Q1", "Q"), 0), "cohort_size"] == 5
    assert q.loc[(pd.Period("2024Q1", "Q"), 1), "customers"] == 2  # A and B buy in Q2
    assert not q.loc[(pd.Period("2024Q2", "Q"), 0), "complete"]  # as_of is mid-quarter
    wide = cohorts.cohort_matrix(co, value="customers")
    assert wide.loc[pd.Period("2024-01", "M"), "2"] == 2


def test_cohort_export_writes_csv(tx, tmp_path):
    co = cohorts.cohort_retention(tx, as_of=AS_OF)
    paths = cohorts.export_cohorts(co, tmp_path)
    assert [p.name for p in paths] == [
        "cohort_retention.csv",
        "cohort_share.csv",
        "cohort_customers.csv",
        "cohort_revenue.csv",
    ]
    back = pd.read_csv(tmp_path / "cohort_customers.csv")
    assert back.loc[back["cohort"] == "2024-01", "0"].item() == 3


def test_milestones_hand_computed(tx):
    ms = cohorts.order_milestones(tx, as_of=AS_OF, window_days=30, max_order=4)
    got = ms.set_index("order_number")[["reached", "eligible", "reordered"]]
    # n=1: first orders by 03-31 from A, B, C, D, F; A (30 d), D (19 d), F (30 d) reorder ≤ 30 d
    # n=2: 2nd orders by 03-31 from A, D, F; only A reorders (30 d); B's 2nd (04-20) is censored
    # n=3: A's 3rd (03-10) is eligible; the 4th follows after 31 days → no reorder
    assert got.to_dict("index") == {
        1: {"reached": 6, "eligible": 5, "reordered": 3},
        2: {"reached": 4, "eligible": 3, "reordered": 1},
        3: {"reached": 1, "eligible": 1, "reordered": 0},
        4: {"reached": 1, "eligible": 0, "reordered": 0},
    }
    assert ms["probability"].iloc[0] == pytest.approx(0.6)
    assert np.isnan(ms["probability"].iloc[3])


def test_wilson_interval_matches_newcombe_and_the_formula():
    # Newcombe (1998), Statistics in Medicine 17, Table I: 81/263 → score interval 0.2553–0.3662
    low, high = stats.wilson_interval(81, 263)
    assert (float(low), float(high)) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    # the closed form written out independently, 90% level
    x, n, z = 3, 5, 1.6448536269514722
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = stats.wilson_interval([x, 0], [n, 0], confidence=0.9)
    assert low[0] == pytest.approx(centre - half) and high[0] == pytest.approx(centre + half)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_stabilisation_order_rule():
    probs = [0.30, 0.50, 0.62, 0.70, 0.71, 0.72, 0.70, 0.71]
    ms = pd.DataFrame(
        {
            "order_number": range(1, 9),
            "eligible": [500, 300, 200, 150, 120, 100, 80, 60],
            "probability": probs,
        }
    )
    # from n=4 the next three values (0.71, 0.72, 0.70) stay within 0.03 of 0.70
    assert cohorts.stabilisation_order(ms, plateau_tolerance=0.03, plateau_run=3) == 4
    assert cohorts.stabilisation_order(ms, plateau_tolerance=0.005, plateau_run=3) is None
    # too few customers at the later orders: no plateau can be confirmed
    assert cohorts.stabilisation_order(ms, plateau_run=3, min_customers=200) is None


def test_purchase_intervals_and_summary_by_segment(tx):
    iv = cohorts.purchase_intervals(tx, as_of=AS_OF)
    by_cust = iv.groupby("customer_id")["days"].apply(list).to_dict()
    assert by_cust == {"A": [30, 30, 31], "B": [106], "D": [19], "F": [30]}
    seg = cohorts.acquisition_segments(tx, column="channel", as_of=AS_OF)
    assert seg.set_index("customer_id")["channel"].to_dict() == {
        "A": "web",
        "B": "store",
        "C": "web",
        "D": "store",
        "E": "web",
        "F": "store",
    }
    summary = cohorts.interval_summary(iv, segments=seg).set_index("segment")
    assert summary.loc["all", "median_days"] == 30
    assert summary.loc["all", "intervals"] == 6
    assert summary.loc["store", "customers"] == 3
    assert summary.loc["store", "median_days"] == pytest.approx(np.median([106, 19, 30]))
    assert summary.loc["web", "p90"] == pytest.approx(np.quantile([30, 30, 31], 0.9))


def test_acquisition_segment_of_an_order_of_several_categories_is_the_first_value() -> None:
    """The first order of X holds lines of three categories (one missing) at the same moment;
    every line order of the source gives the same segment: the first known value."""
    lines = pd.DataFrame(
        {
            "customer_id": ["X", "X", "X", "X", "Y", "Y"],
            "order_id": ["o2", "o1", "o1", "o1", "o3", "o3"],
            "ordered_at": pd.to_datetime(
                ["2024-02-01", "2024-01-05", "2024-01-05", "2024-01-05", "2024-01-07", "2024-01-07"]
            ),  # fmt: skip
            "amount": [5.0, 10.0, 20.0, 30.0, 8.0, 9.0],
            "category": ["Apparel", "Shoes", None, "Bags", None, None],
        }
    )
    for order in ([0, 1, 2, 3, 4, 5], [3, 2, 1, 0, 5, 4], [2, 0, 3, 1, 4, 5]):
        seg = cohorts.acquisition_segments(lines.iloc[order], column="category", as_of=AS_OF)
        assert seg.to_dict("list") == {"customer_id": ["X", "Y"], "category": ["Bags", "unknown"]}


def test_bad_rules_raise_config_errors(tx):
    with pytest.raises(ConfigError, match="churned_days"):
        lc.load_rules(at_risk_days=100, churned_days=50)
    with pytest.raises(ConfigError, match="'rule'"):
        lc.load_rules(rule="bg_nbd")
    with pytest.raises(ConfigError, match="unknown lifecycle parameter"):
        lc.load_rules(at_risk=3)
    with pytest.raises(ConfigError, match="period"):
        lc.customer_stages(tx, period="week")
    with pytest.raises(ConfigError, match="as_of"):
        lc.customer_stages(tx, as_of="not a date")
    with pytest.raises(DataError, match="amount"):
        lc.customer_stages(tx.drop(columns="amount"))


def test_edge_cases_empty_single_and_one_time_buyers():
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="str"),
            "order_id": pd.Series(dtype="str"),
            "ordered_at": pd.Series(dtype="datetime64[us]"),
            "amount": pd.Series(dtype="float64"),
        }
    )
    st = lc.customer_stages(empty, as_of="2024-04-30")
    assert st.empty and list(lc.stage_counts(st).columns) == [
        "period",
        "stage",
        "customers",
        "share",
    ]
    assert cohorts.cohort_retention(empty, as_of="2024-04-30").empty
    with pytest.raises(DataError, match="as_of"):
        resolve_as_of(empty)

    single = pd.DataFrame(
        {
            "customer_id": ["S"],
            "order_id": ["s1"],
            "ordered_at": [pd.Timestamp("2024-01-15")],
            "amount": [9.0],
        }
    )
    st = lc.customer_stages(single, as_of="2024-04-30", overrides={"window": WINDOW})
    # recency at month ends: 16, 45 (≥ 30 → at risk), 76 and 106 (≥ 50 → churned)
    assert st["recency_days"].tolist() == [16, 45, 76, 106]
    assert st["stage"].tolist() == ["new", "at_risk", "churned", "churned"]
    assert cohorts.purchase_intervals(single).empty

    one_time = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_id": ["1", "2", "3"],
            "ordered_at": pd.to_datetime(["2023-01-05", "2023-02-10", "2023-03-15"]),
            "amount": [5.0, 6.0, 7.0],
        }
    )
    pct = lc.customer_stages(one_time, as_of="2024-04-30", rule="percentile")
    # nobody has a gap, so the percentile rule falls back to the one-time windows
    one_time_windows = lc.load_rules()["window"]
    assert pct["at_risk_after"].unique().tolist() == [one_time_windows["one_time_at_risk_days"]]
    ms = cohorts.order_milestones(one_time, as_of="2024-04-30")
    assert ms.loc[0, "eligible"] == 3 and ms.loc[0, "reordered"] == 0
    assert cohorts.stabilisation_order(ms) is None
    assert cohorts.interval_summary(cohorts.purchase_intervals(one_time)).loc[0, "intervals"] == 0


def test_rules_layer_defaults_under_a_partial_mapping(tx):
    rules = lc.load_rules({"rule": "own_gap", "window": {"at_risk_days": 45}})
    assert rules["rule"] == "own_gap"
    assert rules["window"]["at_risk_days"] == 45
    assert rules["window"]["churned_days"] == lc.load_rules()["window"]["churned_days"]
    with pytest.raises(ConfigError, match="at_risk_days"):
        lc.load_rules({"window": {"at_risk_days": -1}})
    st = lc.customer_stages(tx, as_of=AS_OF, params={"window": WINDOW})
    assert st.equals(_stages(tx))


def test_old_rules_keyword_and_moved_names_still_work(tx):
    rules = lc.load_rules(overrides={"window": WINDOW})
    with pytest.warns(DeprecationWarning, match="'rules' is deprecated"):
        old = lc.customer_stages(tx, as_of=AS_OF, rules=rules)
    assert old.equals(lc.customer_stages(tx, as_of=AS_OF, params=rules))
    with pytest.raises(TypeError, match="both"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lc.customer_stages(tx, as_of=AS_OF, params=rules, rules=rules)
    with pytest.warns(DeprecationWarning, match="crmlib.cohorts.cohort_retention"):
        old_cohorts = lc.cohort_retention
    assert old_cohorts is cohorts.cohort_retention
    with pytest.warns(DeprecationWarning, match="crmlib.present.lifecycle.headline_findings"):
        old_headline = lc.headline_findings
    with pytest.warns(DeprecationWarning):
        text = old_headline(stages=old, rules=rules)
    assert text.startswith("- In 2024-04, 6 members were tracked")
    with pytest.raises(AttributeError):
        _ = lc.no_such_name


def test_planted_churners_are_classified_churned(demo_params, demo_dir):
    """Customers whose planted dropout lies over a year before as_of are mostly churned."""
    from crmlib.data import load_dataset

    tx = load_dataset(demo_params).transactions
    as_of = resolve_as_of(tx)
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    dead = truth[truth["dropout_at"] < as_of - pd.Timedelta(days=365)]
    assert len(dead) >= 50, "the demo plants too few early dropouts to check"
    for rule, floor in (("window", 0.95), ("percentile", 0.85), ("own_gap", 0.85)):
        last = lc.latest_stages(lc.customer_stages(tx, rule=rule))
        got = last.merge(dead[["customer_id"]], on="customer_id")
        assert len(got) >= 0.9 * len(dead[dead["orders"] > 0])
        rate = (got["stage"] == "churned").mean()
        assert rate >= floor, f"{rule}: only {rate:.0%} of planted churners are churned"


def test_demo_cohort_sizes_equal_first_purchase_counts(demo_params):
    from crmlib.data import execute, load_dataset

    tx = load_dataset(demo_params).transactions
    co = cohorts.cohort_retention(tx)
    # independent count: first month of each identified customer's positive-net orders
    lines = execute(tx.select("customer_id", "order_id", "ordered_at", "amount"))
    lines = lines[lines["customer_id"].notna() & (lines["customer_id"].str.strip() != "")]
    orders = lines.groupby(["customer_id", "order_id"]).agg(
        at=("ordered_at", "min"), net=("amount", "sum")
    )
    orders = orders[orders["net"] > 0].reset_index()
    first = orders.groupby("customer_id")["at"].min().dt.to_period("M")
    expected = first.value_counts().sort_index()
    sizes = co.groupby("cohort")["cohort_size"].first().sort_index()
    assert sizes.to_dict() == expected.to_dict()
    # active counts at k = 0 equal the cohort sizes, and shares never exceed 1
    k0 = co[co["period_number"] == 0]
    assert (k0["customers"] == k0["cohort_size"]).all()
    assert co["share"].between(0, 1).all()


@pytest.mark.parametrize(
    "rules",
    [{}, {"rule": "percentile"}, {"rule": "own_gap"}, {"period": "quarter"}],
    ids=["window", "percentile", "own_gap", "quarter"],
)
def test_stage_summary_in_chunks_equals_the_tables_of_every_row(demo_params, rules):
    """Staged 500 customers at a time, the counts, last flows and latest stages equal those of
    customer_stages's rows (the percentile thresholds come from the whole base in both)."""
    from crmlib.data import load_dataset

    tx = load_dataset(demo_params).transactions
    rows = lc.customer_stages(tx, **rules)
    summary = lc.stage_summary(tx, customers_per_chunk=500, **rules)
    assert summary.chunks > 2
    pd.testing.assert_frame_equal(lc.stage_counts(summary), lc.stage_counts(rows))
    pd.testing.assert_frame_equal(lc.stage_transitions(summary), lc.stage_transitions(rows))
    pd.testing.assert_frame_equal(lc.latest_stages(summary), lc.latest_stages(rows))
    assert lc.stage_counts(summary)["customers"].sum() == len(rows)


def test_stage_summary_of_the_hand_computed_case_and_its_limits(tx):
    summary = lc.stage_summary(tx, as_of=AS_OF, overrides={"window": WINDOW}, customers_per_chunk=2)
    latest = dict(
        zip(summary.latest["customer_id"], summary.latest["stage"].astype(str), strict=True)
    )
    assert latest == {c: stages[-1] for c, stages in EXPECTED.items()}
    moves = lc.stage_transitions(summary, from_period="2024-03", to_period="2024-04")
    b_path = moves[(moves["from_stage"] == "churned") & (moves["to_stage"] == "reactivated")]
    assert b_path["customers"].tolist() == [1]
    assert summary.period == pd.Period("2024-04", freq="M")
    with pytest.raises(ConfigError, match="2024-03 and 2024-04 only.*customer_stages"):
        lc.stage_transitions(summary, to_period="2024-03")
    with pytest.raises(ConfigError, match="only"):
        lc.latest_stages(summary, period="2024-02")
    with pytest.raises(ConfigError, match="customers_per_chunk"):
        lc.stage_summary(tx, customers_per_chunk=0)
    empty = lc.stage_summary(tx.iloc[:0], as_of=AS_OF)
    assert empty.empty and empty.latest.empty
    assert lc.stage_counts(empty).empty
    with pytest.raises(DataError, match="no purchase"):
        lc.stage_transitions(empty)
