"""Findings text and display tables of the cross-sell report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import basket
from crmlib.present import basket as pb


def association_frame(n: int = 6) -> pd.DataFrame:
    """Rules shaped like :func:`crmlib.basket.association_rules` output, strongest lift first."""
    lift = np.linspace(4.26, 1.31, n)
    rules = pd.DataFrame(
        {
            "antecedents": [(f"SKU{i:02d}",) for i in range(n)],
            "consequents": [(f"SKU{i + 10:02d}", f"SKU{i + 20:02d}") for i in range(n)],
            "n_both": np.arange(n) + 30,
            "n_baskets": 2500,
            "support": np.linspace(0.1234, 0.0123, n),
            "confidence": np.linspace(0.355, 0.051, n),
            "lift": lift,
            "q_value": np.geomspace(3.14e-9, 0.0412, n),
        }
    )
    rules["rule"] = [
        " + ".join(a) + " → " + " + ".join(c)
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    rules.attrs.update({"level": "sku", "basket": "order", "n_baskets": 2500})
    return rules


def sequential_frame() -> pd.DataFrame:
    """Rules shaped like :func:`crmlib.basket.sequential_rules` output."""
    seq = pd.DataFrame(
        {
            "antecedent": ["X", "Y"],
            "consequent": ["Y", "Z"],
            "n_antecedent": [120, 80],
            "n_both": [30, 12],
            "n_consequent": [90, 60],
            "n_customers": [1000, 1000],
            "share": [0.25, 0.15],
            "baseline_share": [0.0607, 0.06],
            "lift": [4.12, 2.5],
            "median_days": [12.0, 7.5],
            "within_days": [30, 30],
        }
    )
    seq.attrs.update({"level": "sku", "within_days": 30, "n_customers": 1000})
    return seq


def test_plain_language_text_in_both_languages() -> None:
    rules = association_frame()
    top = rules.iloc[0]
    en = pb.describe_rules(rules, language="en", top=3)
    assert f"{top['lift']:.1f}×" in en and top["antecedents"][0] in en
    assert "Customers who buy" in en
    assert "(in 36% of their baskets)" in en and en.count("\n- ") == 3
    zh = pb.describe_rules(rules, language="zh", top=3)
    assert "购买" in zh and f"{top['lift']:.1f}" in zh
    seq = sequential_frame()
    text = pb.describe_sequential(seq, language="en")
    assert "within 30 days 4.1×" in text and "median 12 days" in text
    assert "median 7.5 days" in text
    assert "30 天内" in pb.describe_sequential(seq, language="zh")
    assert pb.describe_rules(rules.iloc[:0], language="zh") != ""
    assert pb.describe_sequential(seq.iloc[:0], language="en") != ""


def test_summary_names_what_was_analysed() -> None:
    rules, seq = association_frame(), sequential_frame()
    bundles = pd.DataFrame({"item_a": ["A"], "item_b": ["B"]})
    en = pb.summary_text(rules, seq, bundles, language="en")
    assert "2,500" in en or "2500" in en
    assert "1,000" in en or "1000" in en
    assert pb.summary_text(rules, seq, bundles, language="zh") != en


def test_display_tables_keep_their_number_formats() -> None:
    rules = association_frame()
    table = pb.rules_table(rules, language="en", top=4)
    assert len(table) == 4 and list(table.index) == [0, 1, 2, 3]
    first = table.iloc[0].tolist()
    assert first == ["SKU00 → SKU10 + SKU20", 30, "12.34%", "35.5%", "4.26", "3.1e-09"]
    assert pb.rules_table(rules, language="zh").columns[0] == "规则"
    seq = pb.sequential_table(sequential_frame(), language="en")
    assert seq.iloc[0].tolist() == ["X", "Y", 120, 30, "25.0%", "6.1%", "4.12", 12.0]
    bundles = pd.DataFrame(
        {
            "item_a": ["A", "C"],
            "item_b": ["B", "D"],
            "n_both": [40, 20],
            "support": [0.016, 0.008],
            "lift": [3.456, 2.0],
            "confidence_ab": [0.5, np.nan],
            "confidence_ba": [0.25, 0.75],
        }
    )
    shown = pb.bundles_table(bundles, language="en")
    assert shown.iloc[0].tolist() == ["A", "B", 40, "1.60%", "3.46", "50.0%", "25.0%"]
    # a direction whose rule did not pass the thresholds has no confidence: shown as "–"
    assert shown.iloc[1].tolist() == ["C", "D", 20, "0.80%", "2.00", "–", "75.0%"]
    recs = pd.DataFrame(
        {
            "segment": ["x", "x"],
            "rank": [1, 2],
            "item": ["D", "E"],
            "n_customers": [2, 1],
            "share": [1.0, 0.5],
            "mean_score": [2.0, 5.0],
        }
    )
    offers = pb.recommend_table(recs, language="en")
    assert offers.iloc[1].tolist() == [2, "E", 1, "50.0%", "5.00"]
    assert len(offers.columns) == 5


def test_recommend_explanation_names_the_segment() -> None:
    everyone = pb.describe_recommend(None, language="en")
    assert everyone == pb.describe_recommend("  ", language="en")
    by_key = pb.describe_recommend("important_value", language="zh", scheme="cn8")
    assert by_key == pb.describe_recommend("重要价值客户", language="zh", scheme="cn8")
    assert "重要价值客户" in by_key
    assert "Unknown group" in pb.describe_recommend(" Unknown group ", language="en")


def test_old_names_in_crmlib_basket_still_work_and_warn() -> None:
    rules = association_frame()
    with pytest.warns(DeprecationWarning, match="crmlib.present.basket.describe_rules"):
        old = basket.describe_rules
    assert old(rules, language="en", top=2) == pb.describe_rules(rules, language="en", top=2)
    with pytest.warns(DeprecationWarning, match="crmlib.present.basket"):
        table = basket.rules_table(rules, language="zh", top=3)
    pd.testing.assert_frame_equal(table, pb.rules_table(rules, language="zh", top=3))


# ------------------------------------------------------------------------------------------
# data values written into report Markdown stay text

HOSTILE = ("<img src=x onerror=alert(1)>", "双11*狂欢_")


def rendered(markdown: str) -> tuple[str, str]:
    """The HTML mistune (nbconvert's Markdown renderer) makes of ``markdown``, and its text."""
    import mistune
    from bs4 import BeautifulSoup

    html = mistune.html(markdown)
    return html, BeautifulSoup(html, "html.parser").get_text()


def hostile_lines() -> pd.DataFrame:
    """Orders where the two hostile product names are bought together and one after the other."""
    rows = []
    for c in range(20):
        cust = f"C{c:02d}"
        if c < 8:
            rows += [(f"{cust}-1", cust, HOSTILE[0], 1), (f"{cust}-1", cust, HOSTILE[1], 1)]
        if c < 5:
            rows += [(f"{cust}-2", cust, HOSTILE[0], 10), (f"{cust}-3", cust, HOSTILE[1], 15)]
        rows.append((f"{cust}-4", cust, "plain", 20))
    lines = pd.DataFrame(rows, columns=["order_id", "customer_id", "sku", "day"])
    lines["ordered_at"] = pd.Timestamp("2024-03-01") + pd.to_timedelta(lines.pop("day"), unit="D")
    return lines.assign(category="CAT", amount=12.5)


def test_product_and_segment_names_cannot_inject_markup() -> None:
    lines = hostile_lines()
    rules = basket.association_rules(
        lines, min_support=0.01, max_len=2, min_lift=1.0, significance=None
    )
    pair = rules[rules["antecedents"].map(lambda a: a == (HOSTILE[0],))]
    assert len(pair)
    seq = basket.sequential_rules(lines, within_days=30, min_customers=1, min_lift=0.0)
    seq = seq[seq["antecedent"].isin(HOSTILE) & seq["consequent"].isin(HOSTILE)]
    assert len(seq)
    for language in ("en", "zh"):
        texts = [
            pb.describe_rules(pair, language=language, top=1),
            pb.describe_sequential(seq, language=language, top=1),
        ]
        for text in texts:
            html, visible = rendered(text)
            assert "<img" not in html
            assert HOSTILE[0] in visible and HOSTILE[1] in visible
        for name in HOSTILE:
            html, visible = rendered(pb.describe_recommend(name, language=language))
            assert "<img" not in html and name in visible
