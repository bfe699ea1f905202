"""What the cross-sell analyses accept: item levels, basket kinds and the defaults of
``params/basket.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmlib.config import load_params

__all__ = ["LEVELS", "BASKETS", "ITEM_JOIN", "RULE_ARROW", "defaults", "pick"]

#: What an item is: a SKU, or a level of the category hierarchy (department > category >
#: subcategory).
LEVELS: tuple[str, ...] = ("sku", "subcategory", "category", "department")
#: What a basket is: one order, or one member's purchases on one calendar day.
BASKETS: tuple[str, ...] = ("order", "customer_day")

#: Joins the items of an itemset in a readable rule and in exported CSV files: ``"A + B"``.
ITEM_JOIN = " + "
#: Separates antecedent and consequent in a readable rule: ``"A + B → C"``.
RULE_ARROW = " → "


def defaults(params: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Cross-sell defaults from ``params/basket.yaml``, optionally overridden.

    Parameters
    ----------
    params
        A YAML file or a mapping merged over the defaults (``None``: defaults only). The
        defaults are the packaged file, overridden by the project's ``params/basket.yaml``.

    Returns
    -------
    dict
        Sections ``association``, ``sequential``, ``bundles`` and ``recommend``.
    """
    return load_params("basket.yaml", params)


def pick(value: Any, section: str, key: str) -> Any:
    """``value``, or the default ``[section][key]`` of ``params/basket.yaml`` when it is ``None``.

    Parameters
    ----------
    value
        What the caller passed.
    section, key
        Where the default lives, e.g. ``"association"``, ``"min_support"``.
    """
    return defaults()[section][key] if value is None else value
