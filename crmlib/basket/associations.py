"""Association rules: items found in the same basket more often than chance.

A basket is one order, or one member's purchases on one day. Counts, support, confidence,
lift, leverage and conviction follow mlxtend's definitions exactly; the itemsets are mined by
:mod:`crmlib.basket.itemsets` from a sparse basket × item incidence matrix built in the
database through Ibis (:func:`crmlib.data.as_table`, :func:`crmlib.data.execute`), or, where the
lines live on the spark engine, by Spark MLlib's FP-Growth on the cluster. Each rule
carries a one-sided Fisher exact p-value and a Benjamini–Hochberg q-value
(:mod:`crmlib.basket.significance`). Return lines (negative ``amount``) are not purchases.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse, stats

from crmlib.basket.arrays import item_codes
from crmlib.basket.itemsets import candidate_rules, frequent_itemsets, min_basket_count
from crmlib.basket.names import ITEM_NAMES, item_names
from crmlib.basket.params import BASKETS, ITEM_JOIN, RULE_ARROW, defaults, pick
from crmlib.basket.purchases import Transactions, known_customer, purchase_lines, unmapped_item
from crmlib.basket.significance import fisher_p_values, prune_mask
from crmlib.config import check_choice, check_range
from crmlib.data import execute
from crmlib.data import spark as spark_miner
from crmlib.data.results import cached
from crmlib.errors import ConfigError
from crmlib.measure import mark_frame

__all__ = [
    "baskets",
    "incidence",
    "rule_metrics",
    "rules_from_incidence",
    "rules_from_itemsets",
    "coded_itemsets",
    "association_rules",
]


def baskets(
    transactions: Transactions,
    *,
    level: str = "sku",
    basket: str = "order",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Distinct (basket, item) pairs: the rows of the basket × item incidence matrix.

    Parameters
    ----------
    transactions
        Order lines (DataFrame, file or Ibis table in the canonical schema).
    level
        An item of :data:`~crmlib.basket.LEVELS`: ``"sku"`` or a category level.
    basket
        ``"order"``: one basket per ``order_id`` (anonymous sales included). ``"customer_day"``:
        one basket per member and calendar day; anonymous sales cannot be joined across orders,
        so each of their orders stays a basket of its own.
    as_of
        Last day of data used (ISO date); ``None`` or ``""`` uses everything.

    Returns
    -------
    pandas.DataFrame
        Columns ``basket`` (string key) and ``item``, one row per item present in a basket. Return
        lines (negative ``amount``) and lines without an item are left out. Sorted by basket and
        item, so the same data always gives the same frame.
    """
    pairs = _basket_pairs(transactions, level=level, basket=basket, as_of=as_of)
    return execute(pairs.order_by(["basket", "item"]))


def _basket_pairs(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> ir.Table:
    return _basket_lines(transactions, level=level, basket=basket, as_of=as_of).distinct()


def _basket_lines(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> ir.Table:
    """(basket key, item) of every purchase line, repeats included."""
    check_choice("basket", basket, BASKETS)
    tx, item = purchase_lines(transactions, level=level, as_of=as_of)
    if basket == "order":
        key = tx.order_id
    else:
        day_key = ibis.literal("c|") + tx.customer_id + "|" + tx.ordered_at.date().cast("string")
        key = ibis.ifelse(known_customer(tx), day_key, ibis.literal("o|") + tx.order_id)
    return tx.select(basket=key, item=item).filter(ibis._.basket.notnull())


def incidence(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Basket × item incidence matrix (CSR, 0/1) and the item names of its columns.

    Baskets travel from the database as 64-bit hashes (two basket keys share a hash with
    probability about n² / 2⁶⁵, 3e-8 for a million baskets), items as their names, coded in
    Python (:func:`~crmlib.basket.arrays.item_codes`); repeated lines merge in the sparse
    matrix.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    level, basket, as_of
        As in :func:`baskets`.

    Returns
    -------
    tuple
        The matrix (baskets × items) and the item names of its columns, sorted.
    """
    lines = _basket_lines(transactions, level=level, basket=basket, as_of=as_of)
    res = execute(lines.select(key=lines.basket.hash(), i=lines.item))
    i_codes, items = item_codes(res["i"])
    b_codes, _ = pd.factorize(res["key"].to_numpy(dtype=np.int64))
    n_b = int(b_codes.max()) + 1 if len(b_codes) else 0
    x = sparse.csr_matrix(
        (np.ones(len(b_codes), dtype=np.int32), (b_codes, i_codes)), shape=(n_b, len(items))
    )
    x.sum_duplicates()
    x.data[:] = 1
    return x, np.asarray(items, dtype=object)


def rule_metrics(
    n_both: np.ndarray, n_antecedent: np.ndarray, n_consequent: np.ndarray, n_baskets: int
) -> dict[str, np.ndarray]:
    """Support, confidence, lift, leverage and conviction as mlxtend defines them.

    Parameters
    ----------
    n_both, n_antecedent, n_consequent
        Per rule: baskets holding both sides, the antecedent, the consequent.
    n_baskets
        Number of baskets.

    Returns
    -------
    dict
        ``antecedent_support``, ``consequent_support``, ``support``, ``confidence``, ``lift``,
        ``leverage`` and ``conviction``, one array each.
    """
    s_ac = np.asarray(n_both, dtype=float) / n_baskets
    s_a = np.asarray(n_antecedent, dtype=float) / n_baskets
    s_c = np.asarray(n_consequent, dtype=float) / n_baskets
    conf = s_ac / s_a
    conviction = np.full(conf.shape, np.inf)
    below = conf < 1.0
    conviction[below] = (1.0 - s_c[below]) / (1.0 - conf[below])
    return {
        "antecedent_support": s_a,
        "consequent_support": s_c,
        "support": s_ac,
        "confidence": conf,
        "lift": conf / s_c,
        "leverage": s_ac - s_a * s_c,
        "conviction": conviction,
    }


def rules_from_incidence(
    x: sparse.csr_matrix,
    items: np.ndarray,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float,
    max_len: int | None,
    significance: float | None,
    prune: bool,
) -> pd.DataFrame:
    """The association rules of an incidence matrix (the mining step of
    :func:`association_rules`, with every option already checked).

    Parameters
    ----------
    x, items
        The output of :func:`incidence`.
    min_support, min_confidence, min_lift, max_len, significance, prune
        As in :func:`association_rules`; ``max_len=None`` means no cap.

    Returns
    -------
    pandas.DataFrame
        The rules as :func:`association_rules` returns them, without ``attrs``.
    """
    n = x.shape[0]
    counts, found = (
        frequent_itemsets(x, min_count=min_basket_count(min_support, n), max_len=max_len)
        if n
        else (np.zeros(len(items), dtype=np.int64), {})
    )
    return rules_from_itemsets(
        counts,
        found,
        items,
        n,
        min_confidence=min_confidence,
        min_lift=min_lift,
        significance=significance,
        prune=prune,
    )


def coded_itemsets(
    itemsets: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Frequent itemsets given by item names, recoded as the embedded miner returns them.

    Parameters
    ----------
    itemsets
        Columns ``items`` (sorted tuples of item names) and ``count``, every frequent itemset
        of one item and more (:func:`crmlib.data.spark.frequent_itemsets`).

    Returns
    -------
    tuple
        Item names (the frequent single items, sorted), their basket counts, and
        ``{k: (codes, counts)}`` for the itemsets of ``k >= 2`` items, as
        :func:`crmlib.basket.itemsets.frequent_itemsets` gives them.
    """
    sizes = itemsets["items"].map(len).to_numpy()
    single = itemsets[sizes == 1]
    names = np.asarray([items[0] for items in single["items"]], dtype=object)
    order = np.argsort(names, kind="stable")
    names = names[order]
    counts = single["count"].to_numpy(dtype=np.int64)[order]
    code = {name: i for i, name in enumerate(names)}
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in sorted(set(sizes.tolist()) - {1}):
        rows = itemsets[sizes == k]
        codes = np.asarray([sorted(code[i] for i in items) for items in rows["items"]])
        found[k] = (codes.astype(np.int64), rows["count"].to_numpy(dtype=np.int64))
    return names, counts, found


def rules_from_itemsets(
    counts: np.ndarray,
    found: dict[int, tuple[np.ndarray, np.ndarray]],
    items: np.ndarray,
    n: int,
    *,
    min_confidence: float,
    min_lift: float,
    significance: float | None,
    prune: bool,
) -> pd.DataFrame:
    """The association rules of mined frequent itemsets (every option already checked).

    Parameters
    ----------
    counts, found
        Baskets per item and the frequent itemsets of 2+ items, as
        :func:`crmlib.basket.itemsets.frequent_itemsets` returns them.
    items
        The item names of the codes.
    n
        Number of baskets.
    min_confidence, min_lift, significance, prune
        As in :func:`association_rules`.

    Returns
    -------
    pandas.DataFrame
        The rules as :func:`association_rules` returns them, without ``attrs``.
    """
    columns = [
        "antecedents",
        "consequents",
        "rule",
        "n_antecedent",
        "n_consequent",
        "n_both",
        "n_baskets",
        "antecedent_support",
        "consequent_support",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "p_value",
        "q_value",
    ]
    if n == 0:
        return pd.DataFrame({c: [] for c in columns})
    rules = candidate_rules(counts, found)
    if rules.empty:
        return pd.DataFrame({c: [] for c in columns})
    rules["n_baskets"] = n
    metrics = rule_metrics(rules["n_both"], rules["n_antecedent"], rules["n_consequent"], n)
    for name, values in metrics.items():
        rules[name] = values
    rules["p_value"] = fisher_p_values(
        rules["n_both"].to_numpy(),
        rules["n_antecedent"].to_numpy(),
        rules["n_consequent"].to_numpy(),
        n,
    )
    # Benjamini–Hochberg across every candidate rule mined from the frequent itemsets
    rules["q_value"] = stats.false_discovery_control(rules["p_value"].to_numpy(), method="bh")
    keep = (rules["confidence"] >= min_confidence) & (rules["lift"] >= min_lift)
    if significance is not None:
        keep &= rules["q_value"] <= significance
    if prune:
        keep &= ~prune_mask(rules)
    rules = rules[keep.to_numpy()].copy()
    names = items

    def label(codes: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(sorted(str(names[c]) for c in codes))

    rules["antecedents"] = rules["ante"].map(label)
    rules["consequents"] = rules["cons"].map(label)
    rules["rule"] = [
        ITEM_JOIN.join(a) + RULE_ARROW + ITEM_JOIN.join(c)
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    rules = rules.sort_values(
        ["lift", "support", "rule"], ascending=[False, False, True], kind="stable"
    )
    return rules[columns].reset_index(drop=True)


@cached("association_rules")
def association_rules(
    transactions: Transactions,
    *,
    level: str = "sku",
    min_support: float | None = None,
    min_confidence: float | None = None,
    min_lift: float | None = None,
    max_len: int | None = None,
    basket: str = "order",
    significance: float | Literal["params"] | None = "params",
    prune: bool | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Association rules "customers who buy X also buy Y" mined from baskets.

    Parameters
    ----------
    transactions
        Order lines (DataFrame, file or Ibis table in the canonical schema).
    level
        An item of :data:`~crmlib.basket.LEVELS`: ``"sku"`` or a category level.
    min_support
        Minimum share of baskets holding the whole itemset (``None``: ``params/basket.yaml``).
        Items rarer than this are dropped before mining.
    min_confidence
        Minimum share of baskets with the antecedent that also hold the consequent.
    min_lift
        Minimum lift (confidence divided by the consequent's support).
    max_len
        Longest itemset mined; 2 gives pair rules only (``None``: from params; pass ``0`` for
        no cap).
    basket
        ``"order"`` or ``"customer_day"`` (see :func:`baskets`).
    significance
        Keep rules whose Benjamini–Hochberg adjusted one-sided Fisher p-value (``q_value``) is
        at most this; ``None`` keeps every rule (the p- and q-values are reported either way).
        ``"params"`` (default) takes the value in ``params/basket.yaml``.
    prune
        Drop rules whose confidence is not above that of a rule with the same consequent and an
        antecedent that is a proper (non-empty) subset.
    as_of
        Last day of data used (ISO date); ``None`` or ``""`` uses everything.

    Returns
    -------
    pandas.DataFrame
        One row per rule, strongest lift first: ``antecedents`` and ``consequents`` (sorted
        tuples of item names), ``rule`` (readable ``"A + B → C"``), the basket counts
        ``n_antecedent``, ``n_consequent``, ``n_both``, ``n_baskets``, then
        ``antecedent_support``, ``consequent_support``, ``support``, ``confidence``, ``lift``,
        ``leverage``, ``conviction`` (mlxtend's definitions), ``p_value`` and ``q_value``.
        ``attrs`` records ``level``, ``basket`` and ``n_baskets``.

    Notes
    -----
    Candidate rules are all splits of the frequent itemsets (support >= ``min_support``,
    tested as ``count / n_baskets >= min_support`` like mlxtend), so the rules, counts and
    metrics equal those of mlxtend's ``fpgrowth`` + ``association_rules(num_itemsets=...)``
    on the same baskets. The Benjamini–Hochberg
    family is that whole candidate set, before the confidence and lift filters.

    Where the transactions live on the spark engine the itemsets are mined there, by Spark
    MLlib's FP-Growth (:func:`crmlib.data.spark.frequent_itemsets`): no basket travels to
    Python, only the frequent itemsets with their counts, and the rules equal the embedded
    miner's. FP-Growth has no length cap, so ``max_len`` drops longer itemsets after mining.
    On the other engines the baskets travel as integer hashes into a sparse matrix
    (:func:`incidence`), about 16 bytes per distinct (basket, item) pair.
    """
    section = "association"
    min_support = check_range(
        "min_support",
        pick(min_support, section, "min_support"),
        low=0,
        high=1,
        low_inclusive=False,
    )
    min_confidence = check_range(
        "min_confidence", pick(min_confidence, section, "min_confidence"), low=0, high=1
    )
    min_lift = check_range("min_lift", pick(min_lift, section, "min_lift"), low=0)
    max_len = pick(max_len, section, "max_len")
    if max_len is not None and max_len != 0:
        if not isinstance(max_len, int) or isinstance(max_len, bool):
            raise ConfigError(f"parameter 'max_len' must be a whole number; got {max_len!r}")
        check_range("max_len", max_len, low=2)
    max_len = max_len or None
    if isinstance(significance, str):
        check_choice("significance", significance, ["params"])
        significance = defaults()[section]["significance"]
    if significance is not None:
        check_range("significance", significance, low=0, high=1, low_inclusive=False)
    prune = bool(pick(prune, section, "prune"))
    check_choice("basket", basket, BASKETS)
    options = {
        "min_confidence": min_confidence,
        "min_lift": min_lift,
        "significance": significance,
        "prune": prune,
    }
    pairs = _basket_pairs(transactions, level=level, basket=basket, as_of=as_of)
    if spark_miner.is_spark(pairs):  # mined by the cluster: only the itemsets reach Python
        itemsets, n = spark_miner.frequent_itemsets(pairs, min_support=min_support, max_len=max_len)
        items, counts, found = coded_itemsets(itemsets)
        rules = rules_from_itemsets(counts, found, items, n, **options)
    else:
        x, items = incidence(transactions, level=level, basket=basket, as_of=as_of)
        n = int(x.shape[0])
        rules = rules_from_incidence(x, items, min_support=min_support, max_len=max_len, **options)
    rules.attrs.update(
        {
            "level": level,
            "basket": basket,
            "n_baskets": n,
            ITEM_NAMES: item_names(transactions, level=level),
        }
    )
    if rules.empty and (why := unmapped_item(transactions, level=level, as_of=as_of)) is not None:
        mark_frame(rules, why)
    return rules
