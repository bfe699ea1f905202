"""Words of the customer-value report: findings, named tables, display tables, charts, escaping."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests draw off-screen

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from crmlib import currency, rfm, segments, value
from crmlib.errors import ConfigError
from crmlib.plots import rfm as rfm_plots
from crmlib.present import rfm as present_rfm
from crmlib.present.format import MISSING


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


# The hand-computed base of tests/analyses/test_rfm.py (as of 2024-06-30): seven customers
# with a purchase, one who only returned goods, two anonymous sales.
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


def test_findings_text_in_both_languages():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(table, scheme="cn8")
    p20 = value.pareto(table, tops=(0.2,))["share_revenue"].iloc[0]
    en = present_rfm.headline_findings(seg, language="en")
    zh = present_rfm.headline_findings(seg, language="zh")
    assert f"Top 20% of customers bring {p20:.0%} of revenue" in en
    assert "重要价值客户" in zh and f"{p20:.0%}" in zh
    assert "73%" in present_rfm.pareto_findings(table, language="en")
    share = rfm.member_share(HAND, as_of="2024-06-30")
    assert "匿名" in present_rfm.member_share_findings(share, language="zh")
    assert "equal to the reference counts as high" in present_rfm.scoring_note(seg, language="en")
    shown = present_rfm.display_table(
        present_rfm.segment_overview(seg, language="zh"), language="zh"
    )
    assert {"客群", "客户占比", "建议动作"} <= set(shown.columns)


def test_tables_carry_names_in_the_language():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(table, scheme="cn8")
    ov = present_rfm.segment_overview(seg, language="zh")
    assert len(ov) == 8 and ov["name"].iloc[0] == "重要价值客户"
    assert ov.columns.tolist() == [
        "segment", "name", "customers", "share_customers", "orders", "revenue",
        "share_revenue", "aov", "mean_recency", "action", "colour",
    ]  # fmt: skip
    numbers = value.segment_overview(seg)
    pd.testing.assert_frame_equal(ov.drop(columns=["name", "action"]), numbers)
    grid = present_rfm.segment_grid(seg, language="en")
    assert grid.set_index("cell").loc["HHH", "name"] == "Important value"
    summary = present_rfm.value_matrix(table, split="mean", language="zh").set_index("quadrant")
    assert "最佳" in summary.loc["best", "name"]
    assert summary.loc["spenders", "customers"] == 2
    assert present_rfm.segment_name(seg.scheme, "important_value", language="zh") == "重要价值客户"
    with pytest.raises(ConfigError, match="no segment 'nope'"):
        present_rfm.segment_name(seg.scheme, "nope")


def test_value_matrix_findings_name_the_quadrants_of_a_plain_matrix():
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    named = present_rfm.value_matrix(table, language="zh")
    plain = value.value_matrix(table)
    text = present_rfm.value_matrix_findings(plain, language="zh")
    assert text == present_rfm.value_matrix_findings(named, language="zh")
    assert "最佳" in text


def test_unmeasured_shares_read_as_a_dash():
    empty = rfm.rfm_table(HAND, as_of="2020-01-01")  # nobody had bought yet
    seg = segments.segment_rfm(
        empty, scheme="cn8", split={"recency": 1, "frequency": 1, "monetary": 1}
    )
    shown = present_rfm.display_table(present_rfm.segment_overview(seg, language="en"))
    assert set(shown["Share of customers"]) == {MISSING}
    text = present_rfm.pareto_findings(empty, language="en")
    assert f"top 20% {MISSING}" in text and f"Gini coefficient {MISSING}" in text
    assert "n/a" not in text and "nan" not in text
    assert present_rfm.headline_findings(seg, language="en").startswith("- No identified customer")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_charts_draw_labelled_axes(language, tmp_path):
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    try:
        for name in ("cn8", "en11"):
            seg = segments.segment_rfm(table, scheme=name)
            ax = rfm_plots.segment_shares(
                present_rfm.segment_overview(seg, language=language), language=language
            )
            assert ax.get_title() and len(ax.get_yticklabels()) == len(seg.scheme.segments)
            ax = rfm_plots.score_heatmap(
                present_rfm.segment_grid(seg, language=language),
                dimensions=seg.scheme.dimensions,
                language=language,
            )
            assert ax.get_xlabel() and ax.get_ylabel()
        ax = rfm_plots.value_matrix_plot(
            value.value_quadrants(table),
            present_rfm.value_matrix(table, language=language),
            language=language,
        )
        assert ax.get_xlabel() and ax.get_title()
        ax = rfm_plots.lorenz_plot(
            value.lorenz_curve(table), gini=value.gini(table), top20_share=0.5, language=language
        )
        assert "0." in ax.get_title()
        ax.figure.savefig(tmp_path / "lorenz.png")
        assert (tmp_path / "lorenz.png").stat().st_size > 5_000
    finally:
        plt.close("all")


HOSTILE = ("<img src=x onerror=alert(1)>", "双11*狂欢_")


def rendered(markdown: str) -> tuple[str, str]:
    """The HTML mistune (nbconvert's Markdown renderer) makes of ``markdown``, and its text."""
    import mistune
    from bs4 import BeautifulSoup

    html = mistune.html(markdown)
    return html, BeautifulSoup(html, "html.parser").get_text()


def test_names_from_the_users_yaml_cannot_inject_markup(tmp_path):
    mine = {
        "name": {"en": HOSTILE[0], "zh": HOSTILE[1]},
        "dimensions": ["r"],
        "levels": ["L", "H"],
        "scoring": "highlow",
        "segments": [
            {"key": "active", "name": {"en": HOSTILE[0], "zh": HOSTILE[0]}, "cells": ["H"],
             "action": {"en": "Keep", "zh": "保持"}, "colour": "#000000"},
            {"key": "lapsed", "name": {"en": HOSTILE[1], "zh": HOSTILE[1]}, "cells": ["L"],
             "action": {"en": "Wake", "zh": "唤醒"}, "colour": "#999999"},
        ],
    }  # fmt: skip
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
    table = rfm.rfm_table(HAND, as_of="2024-06-30")
    seg = segments.segment_rfm(
        table, scheme=str(path), split={"recency": 30, "frequency": 1, "monetary": 1}
    )
    matrix = present_rfm.value_matrix(table)
    matrix["name"] = [HOSTILE[i % 2] for i in range(len(matrix))]
    norms = [{"revenue_share": 0.8, "scope": {"en": HOSTILE[0], "zh": HOSTILE[0]},
              "source": HOSTILE[1]}]  # fmt: skip
    for language in ("en", "zh"):
        texts = {
            "headline": present_rfm.headline_findings(seg, language=language),
            "scoring": present_rfm.scoring_note(seg, language=language),
            "matrix": present_rfm.value_matrix_findings(matrix, language=language),
            "pareto": present_rfm.pareto_findings(
                table, language=language, params={"pareto_norms": norms}
            ),
            "export": present_rfm.export_lists(seg, tmp_path / "lists", language=language),
        }
        visible = {}
        for what, text in texts.items():
            html, visible[what] = rendered(text)
            assert "<img" not in html, what
        for what in ("matrix", "pareto", "export"):
            assert HOSTILE[0] in visible[what] and HOSTILE[1] in visible[what], what
        assert mine["name"][language] in visible["scoring"]
        assert any(name in visible["headline"] for name in HOSTILE)


def _tied_base():
    # Ten customers: recency 29 days (five) or 3 days (five), all one order, monetary 10..100
    # (no ties). Recency and frequency have ties, monetary has none.
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "recency_days": [29] * 5 + [3] * 5,
            "frequency": [1] * 10,
            "orders": [1] * 10,
            "monetary": [10.0 * (i + 1) for i in range(10)],
            "aov": [10.0 * (i + 1) for i in range(10)],
            "as_of": pd.Timestamp("2024-03-01"),
        }
    )


def test_scoring_note_says_when_ties_make_bins_unequal():
    seg = segments.segment_rfm(_tied_base(), scheme="en11")
    # Recency: 29 days hold ranks 1-5 (mid-rank 3, p .25 -> score 2), 3 days ranks 6-10
    # (p .75 -> 4): sizes 0, 5, 0, 5, 0 instead of 2 each. Frequency: all ten at score 3.
    assert seg.unequal == ("recency", "frequency")
    en = present_rfm.scoring_note(seg, language="en")
    zh = present_rfm.scoring_note(seg, language="zh")
    assert "share one rank" in en and "共用一个排名" in zh
    assert "not equal-sized for recency and frequency;" in en
    assert "最近消费和消费频率的各组人数并不相等" in zh
    assert "customer ID" not in en and "会员ID" not in zh  # ids never order the ranks
    # Without ties the note says nothing about unequal groups.
    distinct = _tied_base().assign(recency_days=range(10), frequency=range(1, 11))
    plain = segments.segment_rfm(distinct, scheme="en11")
    assert plain.unequal == ()
    assert "equal-sized for" not in present_rfm.scoring_note(plain, language="en")
    assert "人数并不相等" not in present_rfm.scoring_note(plain, language="zh")
    # Nor for high/low scoring, whose two groups are never meant to be equal.
    assert segments.segment_rfm(_tied_base(), scheme="cn8").unequal == ()


def test_money_columns_carry_the_data_currency():
    """Revenue and order values are written with the currency of the data, not bare numbers."""
    seg = segments.segment_rfm(rfm.rfm_table(HAND, as_of="2024-06-30"), scheme="cn8")
    overview = present_rfm.segment_overview(seg, language="en")
    try:
        currency.use_currency("USD")
        shown = present_rfm.display_table(overview)
    finally:
        currency.use_currency(None)
    total = overview["revenue"].sum()
    assert all(v.startswith("$") or v == MISSING for v in shown["Revenue"])
    assert sum(float(v[1:].replace(",", "")) for v in shown["Revenue"]) == pytest.approx(
        total, abs=len(shown)
    )
    assert all(v.startswith("$") or v == MISSING for v in shown["Average order value"])
