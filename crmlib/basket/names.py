"""What readers see for an item: the product's name where the data maps one, else its code.

Rules, bundles and recommendations are computed on item codes (a SKU is unambiguous; two
products may share a name). When ``transactions.product_name`` is mapped, each SKU's name is
read once (:func:`item_names`) and kept in the result's ``attrs["item_names"]``; the words layer
(:mod:`crmlib.present.basket`) and the charts show names through :func:`named`. Category levels
are names already.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import pandas as pd

from crmlib.basket.params import ITEM_JOIN, RULE_ARROW
from crmlib.basket.purchases import Transactions
from crmlib.data import as_table, execute

__all__ = ["ITEM_NAMES", "item_names", "named"]

#: ``attrs`` key of a result frame that maps item codes to display names.
ITEM_NAMES = "item_names"

#: Columns of the basket results that hold one item, and those that hold a tuple of items.
_ONE = ("item", "item_a", "item_b", "antecedent", "consequent")
_MANY = ("antecedents", "consequents")


def item_names(transactions: Transactions, *, level: str = "sku") -> dict[str, str]:
    """Display name per SKU: its most frequent ``product_name`` (ties: alphabetical first).

    A name used by several SKUs gets the code in brackets (``"Whole milk (1098066)"``), so two
    products never read alike. Empty for other levels, and when ``product_name`` is not mapped.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema (any engine; one row per SKU and name comes back).
    level
        The item level of the analysis; only ``"sku"`` has names to look up.
    """
    if level != "sku":
        return {}
    tx = as_table(transactions)
    if "product_name" not in tx.columns:
        return {}
    named_lines = tx.filter(
        tx.sku.notnull(), tx.sku != "", tx.product_name.notnull(), tx.product_name.strip() != ""
    )
    counts = execute(
        named_lines.group_by(sku=named_lines.sku, name=named_lines.product_name.strip()).aggregate(
            n=ibis._.count()
        )
    )
    if counts.empty:
        return {}
    counts = counts.sort_values(["sku", "n", "name"], ascending=[True, False, True])
    best = counts.drop_duplicates("sku").set_index("sku")["name"].astype(str)
    shared = best.duplicated(keep=False)
    labels = best.where(~shared, best + " (" + best.index.astype(str) + ")")
    return {str(k): str(v) for k, v in labels.items()}


def named(frame: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of a basket result with item codes replaced by names (and ``rule`` rewritten).

    ``names`` defaults to ``frame.attrs["item_names"]``; without names the frame comes back
    unchanged (a copy). Codes without a name stay as they are.
    """
    names = dict(names if names is not None else frame.attrs.get(ITEM_NAMES) or {})
    out = frame.copy()
    if not names:
        return out

    def one(v: object) -> object:
        return names.get(str(v), v)

    for col in _ONE:
        if col in out:
            out[col] = out[col].map(one)
    for col in _MANY:
        if col in out:
            out[col] = out[col].map(lambda items: tuple(one(i) for i in items))
    if "because" in out:  # the items a recommendation rests on, joined
        out["because"] = out["because"].map(
            lambda text: ITEM_JOIN.join(str(one(i)) for i in str(text).split(ITEM_JOIN))
        )
    if {"rule", *_MANY} <= set(out):
        out["rule"] = [
            ITEM_JOIN.join(map(str, a)) + RULE_ARROW + ITEM_JOIN.join(map(str, c))
            for a, c in zip(out["antecedents"], out["consequents"], strict=True)
        ]
    return out
