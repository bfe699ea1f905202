"""Cross-sell results read product names where the data maps them, codes otherwise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from crmlib import basket  # noqa: E402
from crmlib.basket.names import item_names, named  # noqa: E402
from crmlib.plots.basket import bundle_chart  # noqa: E402
from crmlib.present.basket import bundles_table, describe_rules, rules_table  # noqa: E402

#: 10 orders: 1098066 and 826249 together in 6 (always together), 555 alone in 4.
_ORDERS = [("1098066", "826249")] * 6 + [("555",)] * 4
_NAMES = {"1098066": "Whole milk", "826249": "Cornflakes", "555": "Whole milk"}


def _lines(with_names: bool) -> pd.DataFrame:
    rows = []
    for o, items in enumerate(_ORDERS):
        for sku in items:
            rows.append(
                {
                    "customer_id": f"C{o}",
                    "order_id": f"O{o}",
                    "ordered_at": pd.Timestamp("2024-03-01") + pd.Timedelta(days=o),
                    "amount": 2.0,
                    "sku": sku,
                    "product_name": _NAMES[sku] if with_names else None,
                    "department": "Dairy" if _NAMES[sku] == "Whole milk" else "Cereal",
                }
            )
    return pd.DataFrame(rows)


def _rules(lines: pd.DataFrame) -> pd.DataFrame:
    return basket.association_rules(
        lines, min_support=0.3, min_confidence=0.5, min_lift=1.0, significance=None
    )


def test_names_shared_by_two_skus_carry_the_code():
    """Two SKUs named 'Whole milk' must not read alike; Cornflakes is unique."""
    assert item_names(_lines(True)) == {
        "1098066": "Whole milk (1098066)",
        "555": "Whole milk (555)",
        "826249": "Cornflakes",
    }
    assert item_names(_lines(True), level="category") == {}
    assert item_names(_lines(False)) == {}


def test_rules_are_computed_on_codes_and_read_with_names():
    """Support 6/10 = 60%, confidence 100%, lift 1 / 0.6 = 1.67 both ways."""
    rules = _rules(_lines(True))
    assert set(rules["rule"]) == {"1098066 → 826249", "826249 → 1098066"}
    shown = rules_table(rules, language="en")
    assert set(shown.iloc[:, 0]) == {
        "Whole milk (1098066) → Cornflakes",
        "Cornflakes → Whole milk (1098066)",
    }
    for language, words in (("en", "buy **Cornflakes**"), ("zh", "购买 **Cornflakes**")):
        text = describe_rules(rules, language=language)
        assert words in text and "1.7" in text and "826249" not in text
    bundles = basket.bundle_candidates(rules, min_lift=1.0, min_support=0.1)
    assert bundles[["item_a", "item_b"]].values.tolist() == [["1098066", "826249"]]
    assert bundles_table(bundles, language="en").iloc[0, :2].tolist() == [
        "Whole milk (1098066)",
        "Cornflakes",
    ]
    ax = bundle_chart(bundles, language="en")
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [
        "Whole milk (1098066) + Cornflakes"
    ]
    plt.close(ax.figure)


def test_without_names_the_codes_show():
    rules = _rules(_lines(False))
    assert named(rules)["rule"].tolist() == rules["rule"].tolist()
    assert "buy **826249**" in describe_rules(rules, language="en") or "buy **1098066**" in (
        describe_rules(rules, language="en")
    )


def test_a_category_level_is_an_item_level():
    """Department level: Dairy (milk) and Cereal (cornflakes) in 6 orders, Dairy alone in 4."""
    rules = basket.association_rules(
        _lines(True),
        level="department",
        min_support=0.3,
        min_confidence=0.5,
        min_lift=0.5,
        significance=None,
    )
    cereal = rules[rules["rule"] == "Cereal → Dairy"].iloc[0]
    assert (cereal["support"], cereal["confidence"]) == (0.6, 1.0)
    assert rules.attrs["item_names"] == {}
