"""Findings, rule text, title, sections and display tables of the lifecycle report.

The small case is the one of tests/analyses/test_lifecycle.py: six customers over January–April
2024 (as_of 2024-04-30), window rule with at risk after 40 / churned after 70 days (one-time
buyers 30 / 50 days).
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import cohorts, lifecycle, trends
from crmlib.errors import ConfigError
from crmlib.i18n import t
from crmlib.present import lifecycle as pl
from crmlib.present import page

AS_OF = "2024-04-30"
WINDOW = {
    "at_risk_days": 40,
    "churned_days": 70,
    "one_time_at_risk_days": 30,
    "one_time_churned_days": 50,
}
ORDERS = [
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
    ("E", "e2", "2024-04-05 10:00", -20.0),
    ("F", "f1", "2024-01-31 18:00", 12.0),
    ("F", "f2", "2024-03-01 18:00", 14.0),
    (None, "x1", "2024-02-01 12:00", 99.0),
]


@pytest.fixture()
def tx() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "customer_id": cust,
                "order_id": order,
                "ordered_at": pd.Timestamp(ts),
                "amount": amount,
                "category": "tea" if cust in ("A", "B") else "coffee",
                "channel": "web" if cust in ("A", "C", "E") else "store",
            }
            for cust, order, ts, amount in ORDERS
        ]
    )


def _stages(tx: pd.DataFrame) -> pd.DataFrame:
    return lifecycle.customer_stages(tx, as_of=AS_OF, overrides={"window": WINDOW})


def test_findings_and_rule_text_in_both_languages(tx):
    st = _stages(tx)
    co = cohorts.cohort_retention(tx, as_of=AS_OF)
    ms = cohorts.order_milestones(tx, as_of=AS_OF, window_days=30)
    iv = cohorts.interval_summary(cohorts.purchase_intervals(tx, as_of=AS_OF))
    en = pl.headline_findings(stages=st, cohorts=co, milestones=ms, intervals=iv, language="en")
    zh = pl.headline_findings(stages=st, cohorts=co, milestones=ms, intervals=iv, language="zh")
    assert "In 2024-04, 6 members were tracked" in en
    # P(2nd | 1st) = 3 / 5: a base of 5 customers, below the minimum of 30, is not quoted
    assert "60%" not in en and "– (base of 5, below the minimum of 30)" in en
    assert "2024-04 共跟踪 6 位自首购起的会员" in zh
    assert all(line.startswith("- ") for line in en.splitlines())
    rules_en = pl.describe_rules(tx, as_of=AS_OF, rule="own_gap", k_at_risk=1.5)
    assert "1.5×" in rules_en
    assert "百分位" in pl.describe_rules(tx, as_of=AS_OF, rule="percentile", language="zh")


def test_shares_are_whole_percents_and_missing_ones_a_dash(tx):
    st = _stages(tx)
    # April: 6 customers; new + active + reactivated = 3 → 50%, at risk 2 → 33%, churned 1 → 17%
    text = pl.stage_findings(st)
    assert "6 members" in text and "50%" in text and "33%" in text and "17%" in text
    ms = cohorts.order_milestones(tx, as_of=AS_OF, window_days=30, max_order=4)
    text = pl.milestone_findings(ms, stabilises_after=4, params={"milestones": {"benchmark": None}})
    assert "–" in text  # P(5th | 4th) has no eligible customer and no benchmark is given


def test_headline_findings_include_the_trends(tx):
    tr = trends.period_trends(tx, as_of=AS_OF, years=1)
    dec = trends.decompose_revenue(tr, base="2024-03", current="2024-04")
    text = pl.headline_findings(trends=tr, decomposition=dec, language="en")
    assert "from 2024-03 to 2024-04" in text


def test_title_sections_and_display_table(tx):
    title = pl.report_title(AS_OF, params={"period": "quarter"}, language="en")
    assert title.startswith("# " + t("lifecycle.nb_title", "en"))
    assert t("lifecycle.period_quarter", "en") in title
    for name in (*pl.SECTIONS, "headline", "rules"):
        assert pl.section(name, language="zh") == page.section("lifecycle", name, language="zh")
    with pytest.raises(ConfigError, match="section"):
        pl.section("nonsense")
    moves = lifecycle.stage_transitions(_stages(tx))
    shown = pl.display_table(moves, language="zh")
    assert t("lifecycle.stage_not_yet", "zh") in set(shown.iloc[:, 0])
    assert shown.select_dtypes("number").sum().sum() == moves.select_dtypes("number").sum().sum()


def test_milestone_rates_carry_their_base_and_small_bases_are_not_quoted():
    """The issue's case: 100%, 100%, 100% on 251, 36 and 8 customers (minimum 30)."""
    import pandas as pd

    from crmlib.present.lifecycle import milestone_findings

    ms = pd.DataFrame(
        {
            "order_number": [1, 2, 3],
            "reached": [900, 300, 50],
            "eligible": [251, 36, 8],
            "reordered": [251, 36, 8],
            "probability": [1.0, 1.0, 1.0],
            "ci_low": [0.98, 0.9, 0.6],
            "ci_high": [1.0, 1.0, 1.0],
            "window_days": [365.0] * 3,
        }
    )
    en = milestone_findings(ms, language="en")
    assert "100% (of 251) of one-order customers" in en
    assert "100% (of 36) of two-order customers" in en
    assert "– (base of 8, below the minimum of 30) of three-order customers" in en
    zh = milestone_findings(ms, language="zh")
    assert "100%（共 251 人）" in zh and "– (基数 8，低于最低要求 30)" in zh
