"""Cross-sell on an export without item columns (CDNOW has no SKU): said, not crashed, not 0."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from crmlib import basket  # noqa: E402
from crmlib.measure import frame_reason  # noqa: E402
from crmlib.plots.basket import bundle_chart, pair_heatmap, timing_chart  # noqa: E402
from crmlib.present import basket as words  # noqa: E402
from crmlib.present.page import show  # noqa: E402

LINES = pd.DataFrame(
    {
        "customer_id": ["A", "A", "B", "B", "C"],
        "order_id": ["1", "2", "3", "4", "5"],
        "ordered_at": pd.to_datetime(
            ["2024-01-02", "2024-02-03", "2024-01-05", "2024-03-01", "2024-03-02"]
        ),
        "amount": [10.0, 12.0, 30.0, 8.0, 5.0],
    }
)


def test_rules_without_an_item_column_say_which_column_to_map():
    rules = basket.association_rules(LINES, min_support=0.01, significance=None)
    sequential = basket.sequential_rules(LINES, min_customers=1, min_lift=0)
    for result in (rules, sequential):
        assert result.empty
        why = frame_reason(result)
        assert (why.reason, why.detail) == (
            "column_not_mapped",
            {"table": "transactions", "column": "sku"},
        )
    bundles = basket.bundle_candidates(rules)
    offers = basket.recommend(LINES, rules, segment="all")  # no merge on an empty frame
    gaps = basket.sequential_gaps(LINES, pairs=sequential)
    assert bundles.empty and offers.empty and gaps.empty
    assert frame_reason(offers) == frame_reason(bundles) == frame_reason(gaps) == why

    en = words.describe_rules(rules, language="en")
    assert "Not measured: column sku of transactions is not mapped" in en
    assert "try a lower minimum support" not in en  # not a threshold problem
    assert "未映射" in words.describe_sequential(sequential, language="zh")
    assert "not mapped" in words.summary_text(rules, sequential, bundles, language="en")
    table = show(words.rules_table(rules, language="en"))
    assert table._repr_html_() == (
        '<p class="crmwb-empty">– (column sku of transactions is not mapped)</p>'
    )
    assert "<th" not in show(words.recommend_table(offers, language="zh"))._repr_html_()
    for ax in (
        pair_heatmap(rules, language="en"),
        bundle_chart(bundles, language="en"),
        timing_chart(gaps, within_days=30, language="en"),
    ):
        assert [x.get_text() for x in ax.texts] == ["– (column sku of transactions is not mapped)"]
        plt.close(ax.figure)


def test_an_item_column_with_no_rule_found_is_a_threshold_matter():
    lines = LINES.assign(sku=["x", "y", "x", "z", "y"])
    rules = basket.association_rules(lines, min_support=0.9, significance=None)
    assert rules.empty and frame_reason(rules) is None
    assert "try a lower minimum support" in words.describe_rules(rules, language="en")
    assert show(words.rules_table(rules, language="en"))._repr_html_() == (
        '<p class="crmwb-empty">–</p>'
    )
