"""KPI definitions on hand-computed cases, the direction logic and the benchmark file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import benchmark as bm
from crmlib import kpis
from crmlib.errors import ConfigError


def _tx(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"])
    return frame.assign(ordered_at=pd.to_datetime(frame["ordered_at"]))


# A small shop. Period under test: 2024-06 (as_of 2024-06-30).
ROWS = [
    ("a", "1", "2022-08-10", 100.0),  # a: first 2022-08, again 2022-09 (repeat within a year)
    ("a", "2", "2022-09-10", 50.0),
    ("a", "3", "2024-06-03", 40.0),  # a active in June 2024, also in the last 12 months
    ("b", "4", "2022-10-01", 60.0),  # b: first 2022-10, never again; bought in prev year only
    ("b", "5", "2023-03-01", 10.0),  # (same customer, later day: repeat within a year)
    ("c", "6", "2023-05-01", 30.0),  # c: bought in the previous 12 months and in June 2024
    ("c", "7", "2024-06-10", 20.0),
    ("c", "7", "2024-06-10", 10.0),  # second line of order 7
    ("d", "8", "2024-06-15", 200.0),  # d: new in June 2024
    ("d", "9", "2024-06-20", -50.0),  # d: a return
    (None, "10", "2024-06-21", 30.0),  # anonymous sale
    ("e", "11", "2022-12-01", 10.0),  # e: acquired in the repeat cohort, never again
]


def test_kpis_on_a_hand_computed_case():
    p = kpis.period_bounds("2024-06-30", period="month")
    assert (p.start, p.end, p.label) == (pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-30"),
                                         "2024-06")  # fmt: skip
    v = kpis.kpi_values(_tx(ROWS), period=p)
    assert v["customers"] == 5
    assert v["active_customers"] == 3  # a, c, d
    assert v["new_customers"] == 1  # d
    june_revenue = 40 + 20 + 10 + 200 - 50 + 30
    assert v["revenue"] == pytest.approx(june_revenue)
    assert v["aov"] == pytest.approx(june_revenue / 4)  # orders 3, 7, 8, 10 (9 is a return)
    assert v["purchase_frequency"] == pytest.approx(3 / 3)  # member orders 3, 7, 8
    assert v["member_share"] == pytest.approx((june_revenue - 30) / june_revenue)
    # repeat within a year: cohort first purchase in [2022-07-01, 2023-07-01): a, b, c, e
    # a again 2022-09 (yes), b again 2023-03 (yes, within 365 days), c no, e no
    assert v["repeat_rate_1y"] == pytest.approx(2 / 4)
    # retention: bought in [2022-07-01, 2023-07-01): a, b, c, e; again in the last 12 months: a, c
    assert v["retention_rate"] == pytest.approx(2 / 4)
    assert v["churn_rate"] == pytest.approx(0.5)
    # top 20% of 3 customers with revenue in the last 12 months -> ceil(0.6) = 1 customer:
    # a 40, c 30, d 150 -> 150 / 220
    assert v["top20_share"] == pytest.approx(150 / 220)
    # no campaign, events or CLV tables: not computed
    assert np.isnan(v["campaign_response_rate"]) and np.isnan(v["cart_abandonment"])


def test_top20_share_against_a_plain_pandas_computation():
    rng = np.random.default_rng(3)
    n = 400
    tx = _tx(
        [
            (f"c{rng.integers(0, 120)}", str(i), f"2024-{rng.integers(1, 13):02d}-15",
             float(rng.gamma(2.0, 50.0)))
            for i in range(n)
        ]
    )  # fmt: skip
    v = kpis.kpi_values(tx, period=kpis.period_bounds("2024-12-31", period="year"))
    spend = tx.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = int(np.ceil(0.2 * len(spend)))
    assert v["top20_share"] == pytest.approx(spend.iloc[:top].sum() / spend.sum())
    assert v["revenue"] == pytest.approx(tx["amount"].sum())


def test_period_bounds_and_shifts():
    p = kpis.period_bounds("2024-05-15", period="month")
    assert p.label == "2024-04"  # the last complete month
    running = kpis.period_bounds("2024-05-15", period="month", complete=False)
    assert (running.start, running.end) == (pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-15"))
    q = kpis.period_bounds("2024-06-30", period="quarter")
    assert q.label == "2024Q2"
    assert kpis.shift(q, kind="previous", unit="quarter").label == "2024Q1"
    ly = kpis.shift(running, kind="last_year", unit="month")
    assert (ly.start, ly.end) == (pd.Timestamp("2023-05-01"), pd.Timestamp("2023-05-15"))
    with pytest.raises(ConfigError, match="period"):
        kpis.period_bounds("2024-05-15", period="fortnight")


@pytest.mark.parametrize(
    ("change", "better", "tol", "expected"),
    [
        (0.05, True, 0.0, "good"),
        (-0.05, True, 0.0, "bad"),
        (0.05, False, 0.0, "bad"),
        (-0.05, False, 0.0, "good"),
        (0.005, True, 0.01, "flat"),
        (0.05, None, 0.0, "neutral"),
        (float("nan"), True, 0.0, "n/a"),
    ],
)
def test_direction(change, better, tol, expected):
    assert kpis.direction(change, higher_is_better=better, tolerance=tol) == expected


def test_compare_periods_judges_churn_down_as_good():
    # churn falls and retention rises year over year -> good for both
    # the data starts in July 2021, so the year-ago retention's base year is covered
    rows = [("h", "h0", "2021-07-05", 10.0)]
    rows += [(f"x{i}", f"o{i}", "2022-06-10", 10.0) for i in range(4)]
    rows += [
        ("x0", "p0", "2023-06-10", 10.0)
    ]  # 1 of 5 (h, x0-x3) retained into the year to 2023-06
    rows += [(f"x{i}", f"q{i}", "2023-05-10", 10.0) for i in range(4, 8)]
    rows += [(f"x{i}", f"r{i}", "2024-06-10", 10.0) for i in range(4, 7)]  # 3 of 5 retained
    comp = kpis.compare_periods(_tx(rows), as_of="2024-06-30", period="month").set_index("kpi")
    assert comp.loc["retention_rate", "vs_last_year"] == "good"
    assert comp.loc["churn_rate", "vs_last_year"] == "good"
    assert comp.loc["churn_rate", "change_last_year"] < 0


def test_shipped_kpis_and_benchmarks_are_valid():
    defs = kpis.load_kpis()
    for key in ("customers", "revenue", "aov", "repeat_rate_1y", "retention_rate", "churn_rate",
                "top20_share", "member_share", "campaign_response_rate", "coupon_redemption",
                "avg_clv"):  # fmt: skip
        assert key in defs["kpis"]
    assert defs["kpis"]["churn_rate"]["higher_is_better"] is False
    bench = bm.load_benchmarks(include_examples=True)
    for col in ("value", "unit", "year", "source", "scope"):
        assert bench[col].notna().all() and (bench[col].astype(str) != "").all()
    values = bench.set_index("id")["value"]
    # the figures cited in REFERENCES.md
    assert values["rjmetrics_repeat_1y"] == 0.32
    assert values["cart_abandonment_baymard"] == pytest.approx(0.6982)
    assert values["email_click_mailchimp"] == pytest.approx(0.0207)
    assert values["coupon_redemption_inmar"] == pytest.approx(0.009)
    assert "secondary" in bench.set_index("id").loc["retention_retail", "source"]
    assert "competitor_example" not in set(bm.load_benchmarks()["id"])


@pytest.mark.parametrize("missing", ["value", "unit", "year", "source", "scope"])
def test_a_benchmark_entry_without_a_required_field_is_rejected(missing):
    entry = {"kpi": "retention_rate", "value": 0.6, "unit": "share", "year": 2020,
             "source": "x", "scope": "y"}  # fmt: skip
    del entry[missing]
    with pytest.raises(ConfigError, match=missing):
        bm.load_benchmarks({"benchmarks": {"bad": entry}})


def test_benchmark_comparison_notes_unit_and_scope_mismatch():
    values = pd.DataFrame({"kpi": ["retention_rate", "aov"], "value": [0.5, 200.0]})
    figures = bm.load_benchmarks(
        {
            "benchmarks": {
                "same": {"kpi": "retention_rate", "value": 0.63, "unit": "share", "year": 2018,
                         "source": "s", "scope": "retail", "comparability": "direct"},
                "wrong_unit": {"kpi": "aov", "value": 30.0, "unit": "ratio", "year": 2018,
                               "source": "s", "scope": "x", "comparability": "approximate"},
                "claim": {"kind": "context", "value": 5, "unit": "ratio", "year": 2014,
                          "source": "HBR", "scope": "5-25x"},
            }
        }
    )  # fmt: skip
    out = bm.compare_benchmarks(values, figures).set_index("id")
    assert out.loc["same", "status"] == "bad" and out.loc["same", "gap"] == pytest.approx(-0.13)
    assert out.loc["same", "comparable_note"] == ""
    assert out.loc["wrong_unit", "status"] == "n/a"
    assert out.loc["wrong_unit", "comparable_note"] == "unit,scope"
    assert out.loc["claim", "status"] == "context"


def test_params_override_the_shipped_kpis_and_benchmarks():
    defs = kpis.load_kpis({"flat_tolerance": {"relative": 0.05}})
    assert defs["flat_tolerance"]["relative"] == 0.05
    assert "retention_rate" in defs["kpis"]  # the shipped definitions stay
    figures = bm.load_benchmarks({"benchmarks": {"mine": {"kpi": "aov", "value": 30.0,
                                                          "unit": "currency", "year": 2024,
                                                          "source": "s", "scope": "x"}}})  # fmt: skip
    assert {"mine", "rjmetrics_repeat_1y"} <= set(figures["id"])


def test_a_wrong_value_names_the_params_the_key_and_the_value():
    with pytest.raises(ConfigError, match=r"kpis\.yaml with the call's params.*kpis\.aov.*'bits'"):
        kpis.load_kpis({"kpis": {"aov": {"unit": "bits"}}})
    with pytest.raises(ConfigError, match=r"benchmarks\.yaml.*benchmarks\.x\.year.*'soon'"):
        bm.load_benchmarks({"benchmarks": {"x": {"value": 1, "unit": "share", "year": "soon",
                                                "source": "s", "scope": "y"}}})  # fmt: skip


def test_old_names_and_keywords_still_work_and_warn():
    p = kpis.period_bounds("2024-06-30", period="month")
    with pytest.warns(DeprecationWarning, match="crmlib.kpis.period_bounds"):
        assert bm.period_bounds("2024-06-30", period="month") == p
    with pytest.warns(DeprecationWarning, match="'kpis' is deprecated"):
        out = bm.compare_benchmarks(pd.DataFrame({"kpi": ["aov"], "value": [1.0]}),
                                    kpis=kpis.load_kpis())  # fmt: skip
    assert len(out) == len(bm.load_benchmarks())


def _daily(first: str, last: str, amount: float = 100.0) -> pd.DataFrame:
    """One order of ``amount`` by one customer every day from ``first`` to ``last``."""
    days = pd.date_range(first, last, freq="D")
    return pd.DataFrame({"customer_id": "a", "order_id": [f"o{i}" for i in range(len(days))],
                         "ordered_at": days, "amount": amount})  # fmt: skip


def test_complete_periods_compare_with_complete_periods():
    # 100 a day from 2024-01-01 to 2025-02-28; the last complete month as of 2025-02-28 is Feb
    tx = _daily("2024-01-01", "2025-02-28")
    comp = kpis.compare_periods(tx, as_of="2025-02-28", period="month")
    prev, ly = comp.attrs["previous"], comp.attrs["last_year"]
    assert (prev.start, prev.end, prev.label) == (pd.Timestamp("2025-01-01"),
                                                  pd.Timestamp("2025-01-31"), "2025-01")  # fmt: skip
    assert (ly.start, ly.end, ly.label) == (pd.Timestamp("2024-02-01"),
                                            pd.Timestamp("2024-02-29"), "2024-02")  # fmt: skip
    assert prev.complete and ly.complete
    revenue = comp.set_index("kpi").loc["revenue"]
    assert revenue["value"] == pytest.approx(2800.0)  # 28 days x 100
    assert revenue["previous"] == pytest.approx(3100.0)  # January: 31 days x 100
    assert revenue["last_year"] == pytest.approx(2900.0)  # February 2024: 29 days x 100
    # -300 / 3,100 = -9.7% and -100 / 2,900 = -3.4%, both beyond the 1% flat tolerance
    assert revenue["relative_change_previous"] == pytest.approx(-300 / 3100)
    assert revenue["relative_change_last_year"] == pytest.approx(-100 / 2900)
    assert (revenue["vs_previous"], revenue["vs_last_year"]) == ("bad", "bad")


def test_a_complete_quarter_compares_with_the_whole_previous_quarter():
    tx = _daily("2024-01-01", "2025-03-31")
    comp = kpis.compare_periods(tx, as_of="2025-03-31", period="quarter")
    prev = comp.attrs["previous"]
    assert (prev.start, prev.end, prev.label) == (pd.Timestamp("2024-10-01"),
                                                  pd.Timestamp("2024-12-31"), "2024Q4")  # fmt: skip
    revenue = comp.set_index("kpi").loc["revenue"]
    assert revenue["value"] == pytest.approx(9000.0)  # 2025Q1: 31 + 28 + 31 = 90 days x 100
    assert revenue["previous"] == pytest.approx(9200.0)  # 2024Q4: 31 + 30 + 31 = 92 days x 100
    assert revenue["last_year"] == pytest.approx(9100.0)  # 2024Q1: 31 + 29 + 31 = 91 days x 100


def test_a_running_period_compares_with_the_same_elapsed_days():
    tx = _daily("2024-01-01", "2025-02-20")
    comp = kpis.compare_periods(tx, as_of="2025-02-20", period="month", complete=False)
    cur, prev, ly = (comp.attrs[k] for k in ("period", "previous", "last_year"))
    assert (cur.start, cur.end, cur.complete, cur.days) == (
        pd.Timestamp("2025-02-01"),
        pd.Timestamp("2025-02-20"),
        False,
        20,
    )
    # days 1-20 of January 2025 and of February 2024
    assert (prev.start, prev.end, prev.complete, prev.days) == (
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2025-01-20"),
        False,
        20,
    )
    assert (ly.start, ly.end, ly.complete, ly.days) == (
        pd.Timestamp("2024-02-01"),
        pd.Timestamp("2024-02-20"),
        False,
        20,
    )
    revenue = comp.set_index("kpi").loc["revenue"]
    # 20 days x 100 in each period: no change
    assert (revenue["value"], revenue["previous"], revenue["last_year"]) == (2000.0, 2000.0, 2000.0)
    assert (revenue["vs_previous"], revenue["vs_last_year"]) == ("flat", "flat")
    # a running quarter: 2025-01-01 to 2025-02-20 is 31 + 20 = 51 days; 2024Q4 days 1-51 end on
    # 2024-10-01 + 50 days = 2024-11-20
    q = kpis.shift(kpis.period_bounds("2025-02-20", period="quarter", complete=False),
                   kind="previous", unit="quarter")  # fmt: skip
    assert (q.start, q.end, q.days, q.complete) == (pd.Timestamp("2024-10-01"),
                                                    pd.Timestamp("2024-11-20"), 51, False)  # fmt: skip
    # a running period longer than the earlier one stops at that period's end: March 1-30 (30
    # days) against all of February 2025 (28 days)
    march = kpis.period_bounds("2025-03-30", period="month", complete=False)
    feb = kpis.shift(march, kind="previous", unit="month")
    assert (feb.start, feb.end, feb.complete) == (pd.Timestamp("2025-02-01"),
                                                  pd.Timestamp("2025-02-28"), True)  # fmt: skip
