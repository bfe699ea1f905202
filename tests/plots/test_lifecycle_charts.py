"""Lifecycle, cohort and trend charts draw in both languages from the analyses' tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from crmlib import cohorts, lifecycle, plots, trends
from crmlib.i18n import t
from crmlib.plots import cohorts as cplots
from crmlib.plots import lifecycle as lplots
from crmlib.present import lifecycle as lwords

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


def test_charts_draw_in_both_languages(tx, tmp_path):
    st = lifecycle.customer_stages(tx, as_of=AS_OF, overrides={"window": WINDOW})
    co = cohorts.cohort_retention(tx, as_of=AS_OF)
    ms = cohorts.order_milestones(tx, as_of=AS_OF, window_days=30)
    iv = cohorts.purchase_intervals(tx, as_of=AS_OF)
    seg = cohorts.acquisition_segments(tx, as_of=AS_OF)
    tr = trends.period_trends(tx, as_of=AS_OF, years=1)
    dec = trends.decompose_revenue(tr, base="2024-03", current="2024-04")
    mix = trends.category_mix(tx, as_of=AS_OF, years=1)
    for language in ("en", "zh"):
        axes = [
            lplots.stage_area(lifecycle.stage_counts(st), language=language),
            lplots.stage_flow(lifecycle.stage_transitions(st), language=language),
            lplots.transition_heatmap(lifecycle.stage_transitions(st), language=language),
            cplots.cohort_heatmap(co, language=language),
            cplots.cohort_heatmap(co, value="cumulative_revenue_per_customer", language=language),
            cplots.milestone_curve(
                ms, stabilises_after=2, benchmark=cohorts.milestone_benchmark(), language=language
            ),
            cplots.interval_distribution(iv, language=language),
            cplots.interval_distribution(iv, segments=seg, language=language),
            lplots.category_mix_area(mix, language=language),
            lplots.decomposition_waterfall(dec, language=language),
        ]
        for i, ax in enumerate(axes):
            assert ax.get_title() or ax.texts, f"chart {i} has no title"
            if language == "zh":  # rendering is slow; the Chinese run also checks the font
                plots.save_png(ax, tmp_path / f"{language}_{i}.png")
        panels = lplots.trend_panels(tr, language=language)
        assert len(panels) == 6 and panels[0].get_title()
        plt.close("all")
    assert len(list(tmp_path.glob("*.png"))) == 10


def test_interval_segments_are_named_as_in_the_table_beside_the_chart(tx):
    iv = cohorts.purchase_intervals(tx, as_of=AS_OF)
    seg = cohorts.acquisition_segments(tx, as_of=AS_OF)
    table = cohorts.interval_summary(iv, segments=seg)
    for language in ("en", "zh"):
        ax = cplots.interval_distribution(iv, segments=seg, language=language)
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        shown = set(lwords.display_table(table, language=language).iloc[:, 0])
        assert legend[0] == t("lifecycle.segment_all", language)
        assert legend[1:] and set(legend[1:]) <= shown, (legend, shown)
        plt.close("all")


def test_stage_order_comes_from_the_frame_or_the_caller(tx):
    st = lifecycle.customer_stages(tx, as_of=AS_OF, overrides={"window": WINDOW})
    moves = lifecycle.stage_transitions(st)
    names = [t.get_text() for t in lplots.transition_heatmap(moves).get_xticklabels()]
    plain = moves.astype({"from_stage": str, "to_stage": str})  # e.g. read back from a CSV
    assert [t.get_text() for t in lplots.transition_heatmap(plain).get_xticklabels()] == names
    two = lplots.transition_heatmap(moves, to_stages=["churned", "at_risk"])
    assert [t.get_text() for t in two.get_xticklabels()] == ["Churned", "At risk"]
    counts = lifecycle.stage_counts(st)
    legend = lplots.stage_area(counts.astype({"stage": str})).get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names
    plt.close("all")


def test_moved_chart_names_still_work():
    with pytest.warns(DeprecationWarning, match="crmlib.plots.cohorts.cohort_heatmap"):
        old = lplots.cohort_heatmap
    assert old is cplots.cohort_heatmap
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from crmlib.plots.lifecycle import STAGE_COLOURS  # noqa: F401  (not moved: no warning)
