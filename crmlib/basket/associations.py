"""Cross-sell: what is bought together, and what is bought next.

Two kinds of rules:

* **Association rules** (:func:`association_rules`): items found in the same basket (one order, or
  one member's purchases on one day) more often than chance. Counts, support, confidence, lift,
  leverage and conviction follow mlxtend's definitions exactly. Items rarer than the minimum
  support are dropped first; item pairs come from one sparse co-occurrence product ``XᵀX``;
  triples are counted from the item triples of the few baskets holding 3+ items that appear in
  frequent pairs, and longer itemsets (or very large baskets) go to mlxtend's ``fpgrowth`` on
  that same reduced matrix. A catalogue of thousands of SKUs never becomes a dense one-hot
  frame. Each rule carries a one-sided Fisher exact p-value and a Benjamini–Hochberg q-value.
* **Sequential rules** (:func:`sequential_rules`): among members who bought A, the share who bought
  B on a *later* day at most ``within_days`` days after *an* A purchase, compared with the share of
  all members who bought B at all.

Both feed :func:`recommend` (next products per member or per segment) and
:func:`bundle_candidates`; :func:`describe_rules` and :func:`describe_sequential` write the
findings in plain English or Chinese.

Baskets and purchase histories are built through Ibis (:func:`crmlib.data.as_table`,
:func:`crmlib.data.execute`); return lines (negative ``amount``) are not purchases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse, special, stats

from crmlib.config import check_choice, check_range, merge, params_path, read_yaml
from crmlib.data import as_table, execute, parse_day
from crmlib.errors import ConfigError, DataError
from crmlib.i18n import check_language, t
from crmlib.reporting import md_escape

__all__ = [
    "LEVELS",
    "BASKETS",
    "defaults",
    "baskets",
    "association_rules",
    "sequential_rules",
    "sequential_gaps",
    "recommend",
    "segment_members",
    "summary_text",
    "describe_recommend",
    "recommend_table",
    "export_rules",
    "bundle_candidates",
    "fisher_p_values",
    "rule_metrics",
    "describe_rules",
    "describe_sequential",
    "rules_table",
    "sequential_table",
    "bundles_table",
]

#: What an item is: a SKU or a product category.
LEVELS: tuple[str, ...] = ("sku", "category")
#: What a basket is: one order, or one member's purchases on one calendar day.
BASKETS: tuple[str, ...] = ("order", "customer_day")

_ARROW = " → "
_JOIN = " + "

Transactions = pd.DataFrame | str | Path | ir.Table


# --------------------------------------------------------------------------------------------
# parameters


def defaults(params: str | Path | dict[str, Any] | None = None) -> dict[str, Any]:
    """Cross-sell defaults from ``params/basket.yaml``, optionally overridden.

    Parameters
    ----------
    params
        A YAML file or a mapping merged over the shipped defaults (``None``: defaults only).

    Returns
    -------
    dict
        Sections ``association``, ``sequential``, ``bundles`` and ``recommend``.
    """
    path = params_path("basket.yaml")
    if not path.exists():  # library used outside the project root
        path = Path(__file__).resolve().parents[1] / "params" / "basket.yaml"
    base = read_yaml(path) or {}
    if params is None:
        return base
    override = read_yaml(params) if isinstance(params, str | Path) else params
    return merge(base, override or {})


def _pick(value: Any, section: str, key: str) -> Any:
    return defaults()[section][key] if value is None else value


def _as_of_bound(as_of: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """Start of the day after ``as_of`` (exclusive bound), or None when ``as_of`` is empty."""
    day = parse_day(as_of)
    return None if day is None else day + pd.Timedelta(days=1)


def _purchases(
    transactions: Transactions, level: str, as_of: str | pd.Timestamp | None
) -> tuple[ir.Table, ir.Value]:
    """Purchase lines (no returns, an item present, up to ``as_of``) and their item column.

    Values are used as they are (``crmlib.data.load_dataset`` trims them while cleaning).
    """
    check_choice("level", level, LEVELS)
    tx = as_table(transactions)
    end = _as_of_bound(as_of)
    if end is not None:
        tx = tx.filter(tx.ordered_at < ibis.literal(end.to_pydatetime()))
    item = tx[level]
    tx = tx.filter(tx.amount.fill_null(0) >= 0, item.notnull(), item != "")
    return tx, tx[level]


def _known_customer(tx: ir.Table) -> ir.BooleanValue:
    cid = tx.customer_id
    return cid.notnull() & (cid != "")


# --------------------------------------------------------------------------------------------
# baskets


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
        ``"sku"`` or ``"category"``: what counts as an item.
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
        lines (negative ``amount``) and lines without an item are left out.
    """
    return execute(_basket_pairs(transactions, level=level, basket=basket, as_of=as_of))


def _basket_pairs(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> ir.Table:
    return _basket_lines(transactions, level=level, basket=basket, as_of=as_of).distinct()


def _basket_lines(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> ir.Table:
    """(basket key, item) of every purchase line, repeats included."""
    check_choice("basket", basket, BASKETS)
    tx, item = _purchases(transactions, level, as_of)
    if basket == "order":
        key = tx.order_id
    else:
        day_key = ibis.literal("c|") + tx.customer_id + "|" + tx.ordered_at.date().cast("string")
        key = ibis.ifelse(_known_customer(tx), day_key, ibis.literal("o|") + tx.order_id)
    return tx.select(basket=key, item=item).filter(ibis._.basket.notnull())


def _incidence(
    transactions: Transactions, *, level: str, basket: str, as_of: str | pd.Timestamp | None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Basket × item incidence matrix (CSR, 0/1) and the item names of its columns.

    Baskets and items travel from the database as 64-bit hashes, so only integers cross into
    Python; repeated lines merge in the sparse matrix. Item hashes are checked against the item
    names (one small grouped query); two basket keys share a hash with probability about
    n² / 2⁶⁵ (3e-8 for a million baskets).
    """
    lines = _basket_lines(transactions, level=level, basket=basket, as_of=as_of)
    per_item = execute(lines.group_by(["item", lines.item.hash().name("h")]).aggregate())
    per_item = per_item.sort_values("item", ignore_index=True)
    items = per_item["item"].astype(str).to_numpy(dtype=object)
    hashes = per_item["h"].to_numpy(dtype=np.int64)
    if len(_distinct(hashes)) == len(hashes):
        res = execute(lines.select(key=lines.basket.hash(), i=lines.item.hash()))
        i_codes = pd.Index(hashes).get_indexer(res["i"].to_numpy(dtype=np.int64))
    else:
        res = execute(lines.select(key=lines.basket.hash(), i=lines.item))
        i_codes = np.searchsorted(items, res["i"].astype(str).to_numpy(dtype=object))
    b_codes, _ = pd.factorize(res["key"].to_numpy(dtype=np.int64))
    n_b = int(b_codes.max()) + 1 if len(b_codes) else 0
    x = sparse.csr_matrix(
        (np.ones(len(b_codes), dtype=np.int32), (b_codes, i_codes)), shape=(n_b, len(items))
    )
    x.sum_duplicates()
    x.data[:] = 1
    return x, np.asarray(items, dtype=object)


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of a sorted array with the index of their first row and their counts.

    Sort-based on purpose: ``np.unique`` on large int64 arrays takes a hash path in numpy 2.3+
    that is many times slower than a sort.
    """
    if not len(values):
        empty = np.empty(0, dtype=np.int64)
        return values[:0], empty, empty
    start = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    counts = np.diff(np.r_[start, len(values)])
    return values[start], start, counts


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (sort-based, see :func:`_runs`)."""
    return _runs(np.sort(values))[0]


def _min_count(min_support: float, n: int) -> int:
    """Smallest basket count c with c / n >= min_support (mlxtend's float test)."""
    m = max(1, math.ceil(min_support * n))
    while m > 1 and (m - 1) / n >= min_support:
        m -= 1
    while m / n < min_support:
        m += 1
    return m


def _frequent_itemsets(
    x: sparse.csr_matrix, *, min_count: int, max_len: int | None
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Item counts and frequent itemsets of 2+ items as {k: (codes (m, k) sorted, counts (m,))}."""
    counts = np.asarray(x.sum(axis=0)).ravel().astype(np.int64)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    frequent = np.flatnonzero(counts >= min_count)
    if len(frequent) < 2 or (max_len is not None and max_len < 2):
        return counts, found
    xf = x[:, frequent].tocsr()
    per_basket = np.diff(xf.indptr)
    x2 = xf[per_basket >= 2]
    # all pair counts at once: the co-occurrence product XᵀX (sparse, frequent items only)
    co = sparse.triu((x2.T @ x2).tocsr(), k=1).tocoo()
    keep = co.data >= min_count
    a, b, n_ab = frequent[co.row[keep]], frequent[co.col[keep]], co.data[keep].astype(np.int64)
    if not len(n_ab):
        return counts, found
    found[2] = (np.column_stack([a, b]), n_ab)
    if max_len is not None and max_len < 3:
        return counts, found
    # longer itemsets live in baskets holding 3+ items that appear in frequent pairs
    in_pairs = _distinct(np.concatenate([a, b]))
    xp = x[:, in_pairs].tocsr()
    xp = xp[np.diff(xp.indptr) >= 3]
    if xp.shape[0] < min_count:
        return counts, found
    triples = _count_triples(xp, min_count) if max_len == 3 else None
    if triples is not None:
        codes, n_abc = triples
        if len(n_abc):
            found[3] = (in_pairs[codes], n_abc)
        return counts, found
    found.update(_fpgrowth_long(xp, in_pairs, min_count=min_count, max_len=max_len))
    return counts, found


def _count_triples(
    xp: sparse.csr_matrix, min_count: int, *, budget: int = 20_000_000
) -> tuple[np.ndarray, np.ndarray] | None:
    """Frequent 3-itemsets by enumerating each basket's item triples (vectorised per basket size).

    Returns local column codes (m, 3) and counts, or ``None`` when the baskets hold more than
    ``budget`` triples in all (large baskets), in which case fpgrowth does the work.
    """
    xp = xp.copy()
    xp.sort_indices()
    n_cols = xp.shape[1]
    sizes = np.diff(xp.indptr).astype(np.int64)
    if int((sizes * (sizes - 1) * (sizes - 2) // 6).sum()) > budget or n_cols**3 >= 2**62:
        return None
    parts = []
    for size in np.unique(sizes).tolist():
        rows = np.flatnonzero(sizes == size)
        block = xp.indices[xp.indptr[rows][:, None] + np.arange(size)].astype(np.int64)
        combo = np.array(list(combinations(range(size), 3)), dtype=np.int64)
        code = (block[:, combo[:, 0]] * n_cols + block[:, combo[:, 1]]) * n_cols + block[
            :, combo[:, 2]
        ]
        parts.append(code.ravel())
    uniq, _, n = _runs(np.sort(np.concatenate(parts)))
    keep = n >= min_count
    uniq = uniq[keep]
    codes = np.column_stack([uniq // (n_cols * n_cols), (uniq // n_cols) % n_cols, uniq % n_cols])
    return codes, n[keep].astype(np.int64)


def _mlxtend_fpgrowth() -> Any:
    """mlxtend's ``fpgrowth``, imported without its side effect on the process: its import runs
    ``warnings.simplefilter("always", DeprecationWarning)``, which would repeat every deprecation
    warning of every library for the rest of the session (a notebook's, a test run's)."""
    with warnings.catch_warnings():
        from mlxtend.frequent_patterns import fpgrowth
    return fpgrowth


def _fpgrowth_long(
    xp: sparse.csr_matrix, columns: np.ndarray, *, min_count: int, max_len: int | None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Frequent itemsets of 3+ items by mlxtend's fpgrowth on the reduced incidence matrix."""
    fpgrowth = _mlxtend_fpgrowth()

    n_red = xp.shape[0]
    frame = pd.DataFrame.sparse.from_spmatrix(
        xp.astype(bool), columns=[str(i) for i in range(xp.shape[1])]
    )
    # (min_count - 0.5) / n_red keeps mlxtend's float threshold exactly at min_count baskets
    sets = fpgrowth(
        frame, min_support=(min_count - 0.5) / n_red, use_colnames=False, max_len=max_len
    )
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if sets.empty:
        return found
    sizes = sets["itemsets"].map(len).to_numpy()
    n_sets = np.rint(sets["support"].to_numpy() * n_red).astype(np.int64)
    for k in sorted(set(sizes[sizes >= 3].tolist())):
        sel = sizes == k
        codes = np.array([sorted(columns[list(s)]) for s in sets["itemsets"][sel]], dtype=np.int64)
        found[k] = (codes.reshape(-1, k), n_sets[sel])
    return found


def _candidate_rules(
    counts: np.ndarray, found: dict[int, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Every rule X → Y with X ∪ Y a frequent itemset, as item codes and counts."""
    if 2 not in found:
        return pd.DataFrame(
            {"ante": [], "cons": [], "n_antecedent": [], "n_consequent": [], "n_both": []}
        )
    pairs, n_ab = found[2]
    a, b = pairs[:, 0], pairs[:, 1]
    ante: list[tuple[int, ...]] = [(int(v),) for v in np.concatenate([a, b])]
    cons: list[tuple[int, ...]] = [(int(v),) for v in np.concatenate([b, a])]
    n_a = list(np.concatenate([counts[a], counts[b]]))
    n_c = list(np.concatenate([counts[b], counts[a]]))
    n_both = list(np.concatenate([n_ab, n_ab]))
    if len(found) > 1:
        lookup: dict[tuple[int, ...], int] = {(int(i),): int(c) for i, c in enumerate(counts)}
        for codes, n in found.values():
            lookup.update(zip(map(tuple, codes.tolist()), n.tolist(), strict=True))
        for k, (codes, n) in found.items():
            if k < 3:
                continue
            for row, n_set in zip(codes.tolist(), n.tolist(), strict=True):
                for r in range(1, k):
                    for x in combinations(row, r):
                        y = tuple(v for v in row if v not in x)
                        ante.append(x)
                        cons.append(y)
                        n_a.append(lookup[x])
                        n_c.append(lookup[y])
                        n_both.append(n_set)
    return pd.DataFrame(
        {
            "ante": ante,
            "cons": cons,
            "n_antecedent": np.asarray(n_a, dtype=np.int64),
            "n_consequent": np.asarray(n_c, dtype=np.int64),
            "n_both": np.asarray(n_both, dtype=np.int64),
        }
    )


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


def fisher_p_values(
    n_both: np.ndarray,
    n_antecedent: np.ndarray,
    n_consequent: np.ndarray,
    n_baskets: int,
    *,
    chunk_terms: int = 4_000_000,
) -> np.ndarray:
    """One-sided Fisher exact p-values that A and C co-occur more often than chance.

    The hypergeometric survival function P(X >= n_both), X the number of baskets holding C
    among ``n_antecedent`` baskets drawn from ``n_baskets`` of which ``n_consequent`` hold C:
    the same figure as ``scipy.stats.fisher_exact(table, alternative="greater")`` on the 2×2
    table ``[[n_both, n_antecedent - n_both], [n_consequent - n_both, rest]]``.

    Vectorised over rules. Each sum starts at the tail term nearest the mode and walks away
    from it (upper tail from n_both when n_both is above the mode, else one minus the lower
    tail from n_both - 1), so terms only shrink: the first comes from log-gamma, the next from
    the ratio of successive hypergeometric probabilities, and the walk stops after
    15 standard deviations + 100 terms, where the remaining terms are below double precision.
    ``chunk_terms`` bounds the terms held in memory at once.
    """
    k = np.asarray(n_both, dtype=np.int64)
    n_a = np.asarray(n_antecedent, dtype=np.int64)
    n_c = np.asarray(n_consequent, dtype=np.int64)
    n = int(n_baskets)
    lo = np.maximum(0, n_a + n_c - n)
    hi = np.minimum(n_a, n_c)
    mode = ((n_a + 1) * (n_c + 1)) // (n + 2)
    upper = k > mode
    start = np.where(upper, k, k - 1)
    end = np.where(upper, hi, lo)
    sd = np.sqrt(n_a * (n_c / n) * (1 - n_c / n) * np.maximum(n - n_a, 0) / max(n - 1, 1))
    cap = np.ceil(15 * sd).astype(np.int64) + 100
    length = np.where(upper, end - start + 1, start - end + 1)
    length = np.clip(np.minimum(length, cap), 0, None)
    total = np.zeros(len(k), dtype=float)
    live = np.flatnonzero(length > 0)
    if len(live):
        cum = np.cumsum(length[live])
        cuts = np.unique(np.searchsorted(cum, np.arange(chunk_terms, cum[-1], chunk_terms)))
        for part in np.split(live, cuts):
            if len(part):
                total[part] = _tail_sums(
                    start[part], upper[part], length[part], n_a[part], n_c[part], n
                )
    p = np.where(upper, total, 1.0 - total)
    return np.clip(p, 0.0, 1.0)


def _tail_sums(
    start: np.ndarray,
    upper: np.ndarray,
    length: np.ndarray,
    n_a: np.ndarray,
    n_c: np.ndarray,
    n: int,
) -> np.ndarray:
    """Sum of ``length`` hypergeometric probabilities from ``start`` away from the mode."""
    first = (
        _log_comb(n_c, start)
        + _log_comb(n - n_c, n_a - start)
        - _log_comb(np.full(len(start), n), n_a)
    )
    heads = np.r_[0, np.cumsum(length)[:-1]]
    owner = np.repeat(np.arange(len(start)), length)
    offset = np.arange(int(length.sum())) - heads[owner]
    up = upper[owner]
    prev = (start[owner] + np.where(up, offset - 1, 1 - offset)).astype(float)
    a, c = n_a[owner].astype(float), n_c[owner].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(
            up,
            np.log((c - prev) * (a - prev)) - np.log((prev + 1.0) * (n - c - a + prev + 1.0)),
            np.log(prev * (n - c - a + prev)) - np.log((c - prev + 1.0) * (a - prev + 1.0)),
        )
    step[heads] = 0.0
    rel = np.cumsum(step)
    rel -= np.repeat(rel[heads], length)
    return np.exp(first) * np.add.reduceat(np.exp(rel), heads)


def _prune_mask(rules: pd.DataFrame) -> np.ndarray:
    """True for rules whose confidence is not above that of a rule with a smaller antecedent.

    Compared with every non-empty proper subset X' of the antecedent X for the same consequent Y
    (X' ∪ Y is frequent whenever X ∪ Y is, so the general rule is always a candidate); ratios are
    compared on integer counts, so ties are exact.
    """
    pruned = np.zeros(len(rules), dtype=bool)
    long = np.flatnonzero(rules["ante"].map(len).to_numpy() >= 2)
    if not len(long):
        return pruned
    general = {
        (x, y): (int(nb), int(na))
        for x, y, nb, na in zip(
            rules["ante"], rules["cons"], rules["n_both"], rules["n_antecedent"], strict=True
        )
    }
    antes, conss = rules["ante"].to_numpy(), rules["cons"].to_numpy()
    n_b, n_a = rules["n_both"].to_numpy(), rules["n_antecedent"].to_numpy()
    for i in long:
        x, y = antes[i], conss[i]
        for r in range(1, len(x)):
            for sub in combinations(x, r):
                nb_s, na_s = general[(sub, y)]
                # conf(X→Y) <= conf(X'→Y)  <=>  n_b(X) * n_a(X') <= n_b(X') * n_a(X)
                if int(n_b[i]) * na_s <= nb_s * int(n_a[i]):
                    pruned[i] = True
                    break
            if pruned[i]:
                break
    return pruned


def rule_metrics(
    n_both: np.ndarray, n_antecedent: np.ndarray, n_consequent: np.ndarray, n_baskets: int
) -> dict[str, np.ndarray]:
    """Support, confidence, lift, leverage and conviction as mlxtend defines them."""
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


def _rules_from_incidence(
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
    n = x.shape[0]
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
    counts, found = _frequent_itemsets(x, min_count=_min_count(min_support, n), max_len=max_len)
    rules = _candidate_rules(counts, found)
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
        keep &= ~_prune_mask(rules)
    rules = rules[keep.to_numpy()].copy()
    names = items

    def label(codes: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(sorted(str(names[c]) for c in codes))

    rules["antecedents"] = rules["ante"].map(label)
    rules["consequents"] = rules["cons"].map(label)
    rules["rule"] = [
        _JOIN.join(a) + _ARROW + _JOIN.join(c)
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    rules = rules.sort_values(
        ["lift", "support", "rule"], ascending=[False, False, True], kind="stable"
    )
    return rules[columns].reset_index(drop=True)


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
        ``"sku"`` or ``"category"``: what counts as an item.
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
    """
    section = "association"
    min_support = check_range(
        "min_support",
        _pick(min_support, section, "min_support"),
        low=0,
        high=1,
        low_inclusive=False,
    )
    min_confidence = check_range(
        "min_confidence", _pick(min_confidence, section, "min_confidence"), low=0, high=1
    )
    min_lift = check_range("min_lift", _pick(min_lift, section, "min_lift"), low=0)
    max_len = _pick(max_len, section, "max_len")
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
    prune = bool(_pick(prune, section, "prune"))
    check_choice("basket", basket, BASKETS)
    x, items = _incidence(transactions, level=level, basket=basket, as_of=as_of)
    rules = _rules_from_incidence(
        x,
        items,
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=min_lift,
        max_len=max_len,
        significance=significance,
        prune=prune,
    )
    rules.attrs.update({"level": level, "basket": basket, "n_baskets": int(x.shape[0])})
    return rules


# --------------------------------------------------------------------------------------------
# A then B within N days


@dataclass(frozen=True)
class _Events:
    """Members' distinct purchase days per item, as integer arrays sorted by (member, day)."""

    cust: np.ndarray  # dense member code
    day: np.ndarray  # days since 1970-01-01
    code: np.ndarray  # index into items
    items: np.ndarray  # item names, sorted
    buyers: np.ndarray  # members who bought each item
    n_customers: int  # members with any purchase
    ids: np.ndarray | None = None  # customer_id per member code (when asked for)


def _events(
    transactions: Transactions,
    level: str,
    as_of: str | pd.Timestamp | None,
    *,
    only: Sequence[str] | None = None,
    with_ids: bool = False,
) -> _Events:
    """Distinct (member, item, purchase day) of members' purchases, built in the database.

    Only integers cross into Python: members and items travel as 64-bit hashes (items are
    checked for hash collisions against their names; two members share a hash with probability
    about n² / 2⁶⁵, 3e-8 for a million members), already sorted by member and day.
    """
    tx, item = _purchases(transactions, level, as_of)
    tx = tx.filter(_known_customer(tx))
    if only is not None:
        tx = tx.filter(item.isin(list(only)))
    base = tx.select(customer_id=tx.customer_id, item=item, day=tx.ordered_at.date().epoch_days())
    per_item = execute(base.group_by(["item", base.item.hash().name("h")]).aggregate())
    per_item = per_item.sort_values("item", ignore_index=True)
    items = per_item["item"].astype(str).to_numpy(dtype=object)
    hashes = per_item["h"].to_numpy(dtype=np.int64)
    exact = len(np.unique(hashes)) == len(hashes)
    member = base.customer_id if with_ids else base.customer_id.hash()
    ev = execute(base.select(c=member, i=base.item.hash() if exact else base.item, d=base.day))
    n_items = len(items)
    if ev.empty:
        empty = np.empty(0, dtype=np.int64)
        return _Events(empty, empty, empty, items, np.zeros(n_items, dtype=np.int64), 0, None)
    if with_ids:
        cust, ids = pd.factorize(ev["c"], sort=True)
        ids = np.asarray(ids, dtype=object)
    else:
        cust, _ = pd.factorize(ev["c"].to_numpy(dtype=np.int64))
        ids = None
    if exact:
        code = pd.Index(hashes).get_indexer(ev["i"].to_numpy(dtype=np.int64))
    else:
        code = np.searchsorted(items, ev["i"].astype(str).to_numpy(dtype=object))
    day = ev["d"].to_numpy(dtype=np.int64)
    del ev
    cust, code = cust.astype(np.int64), code.astype(np.int64)
    n_customers = int(cust.max()) + 1
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    if n_customers * span * n_items < 2**62:
        # one int64 key per line: sorting it orders by (member, day, item) and drops repeats
        key = _distinct((cust * span + (day - first_day)) * n_items + code)
        code = key % n_items
        rest = key // n_items
        day, cust = rest % span + first_day, rest // span
    else:
        o = np.lexsort((code, day, cust))
        cust, day, code = cust[o], day[o], code[o]
        new = np.ones(len(cust), dtype=bool)
        new[1:] = (cust[1:] != cust[:-1]) | (day[1:] != day[:-1]) | (code[1:] != code[:-1])
        cust, day, code = cust[new], day[new], code[new]
    buyers = np.bincount(_distinct(cust * n_items + code) % n_items, minlength=n_items)
    return _Events(
        cust=cust,
        day=day,
        code=code,
        items=items,
        buyers=buyers.astype(np.int64),
        n_customers=n_customers,
        ids=ids,
    )


def _follow_pairs(
    cust: np.ndarray,
    day: np.ndarray,
    code: np.ndarray,
    n_items: int,
    within_days: int,
    *,
    chunk_pairs: int = 8_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every member and ordered item pair (A, B) where B followed an A purchase on a later day
    within ``within_days`` days: the member, the pair code ``A * n_items + B`` and the shortest gap
    in days. Inputs sorted by (cust, day, code)."""
    empty = np.empty(0, dtype=np.int64)
    if len(cust) < 2:
        return empty, empty, empty
    span = int(day.max() - day.min()) + within_days + 2
    key = cust * span + (day - day.min())
    start = np.searchsorted(key, key, side="right")  # first purchase on a later day
    stop = np.searchsorted(key, key + within_days, side="right")
    n_follow = stop - start
    # split at member boundaries so that each chunk holds whole members
    total = np.cumsum(n_follow)
    bounds = [0]
    while bounds[-1] < len(cust):
        lo = bounds[-1]
        base = total[lo - 1] if lo else 0
        hi = int(np.searchsorted(total, base + chunk_pairs, side="right"))
        hi = max(hi, lo + 1)
        if hi < len(cust):
            hi = int(np.searchsorted(cust, cust[hi - 1], side="right"))
        bounds.append(min(hi, len(cust)))
    out_c, out_p, out_g = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        counts = n_follow[lo:hi]
        m = int(counts.sum())
        if m == 0:
            continue
        i = np.repeat(np.arange(lo, hi, dtype=np.int64), counts)
        offset = np.arange(m, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        j = start[i] + offset
        a, b = code[i], code[j]
        ok = a != b
        i, j, a, b = i[ok], j[ok], a[ok], b[ok]
        gap = day[j] - day[i]
        pair = a * n_items + b
        c = cust[i]
        # keep the shortest gap per (member, pair)
        width = n_items * n_items * (within_days + 1)
        if (int(c.max()) + 1) * width < 2**62:
            key = np.sort((c * n_items * n_items + pair) * (within_days + 1) + gap)
            c, rest = key // width, key % width
            pair, gap = rest // (within_days + 1), rest % (within_days + 1)
        else:
            order = np.lexsort((gap, pair, c))
            c, pair, gap = c[order], pair[order], gap[order]
        first = np.ones(len(c), dtype=bool)
        first[1:] = (c[1:] != c[:-1]) | (pair[1:] != pair[:-1])
        out_c.append(c[first])
        out_p.append(pair[first])
        out_g.append(gap[first])
    if not out_c:
        return empty, empty, empty
    return np.concatenate(out_c), np.concatenate(out_p), np.concatenate(out_g)


def _sequential_core(ev: _Events, within_days: int, min_customers: int) -> pd.DataFrame:
    """Per-pair table of the "A then B" rules."""
    items, buyers, n_customers = ev.items, ev.buyers, ev.n_customers
    n_items = len(items)
    eligible = buyers >= min_customers
    keep = eligible[ev.code] if n_items else np.zeros(0, dtype=bool)
    _, p, g = _follow_pairs(ev.cust[keep], ev.day[keep], ev.code[keep], n_items, within_days)
    # sort by (pair, gap) through one int64 key: pair * (window + 1) + gap
    key = np.sort(p * (within_days + 1) + g)
    p, g = key // (within_days + 1), key % (within_days + 1)
    uniq, first, n_both = _runs(p)
    big = n_both >= min_customers
    lo, n = first[big], n_both[big]
    median = (g[lo + (n - 1) // 2] + g[lo + n // 2]) / 2.0
    a, b = uniq[big] // max(n_items, 1), uniq[big] % max(n_items, 1)
    n_a, n_b = buyers[a], buyers[b]
    share = n / n_a if len(n) else np.empty(0)
    baseline = n_b / n_customers if n_customers else np.empty(0)
    table = pd.DataFrame(
        {
            "antecedent": items[a].astype(str) if len(a) else np.empty(0, dtype=object),
            "consequent": items[b].astype(str) if len(b) else np.empty(0, dtype=object),
            "n_antecedent": n_a.astype(np.int64),
            "n_both": n.astype(np.int64),
            "n_consequent": n_b.astype(np.int64),
            "n_customers": np.full(len(n), n_customers, dtype=np.int64),
            "share": share,
            "baseline_share": baseline,
            "lift": share / baseline if len(n) else np.empty(0),
            "median_days": median,
            "within_days": np.full(len(n), within_days, dtype=np.int64),
        }
    )
    return table


def sequential_rules(
    transactions: Transactions,
    *,
    within_days: int | None = None,
    level: str | None = None,
    min_customers: int | None = None,
    min_lift: float | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rules "A then B within N days" from each member's dated purchases.

    A member *bought B within N days after A* when some purchase of B falls on a later calendar
    day than some purchase of A and at most ``within_days`` days after it (same-day purchases
    are basket behaviour, see :func:`association_rules`; B bought only before A does not
    count). The member's gap is the shortest such A-to-B distance in days.

    Parameters
    ----------
    transactions
        Order lines (DataFrame, file or Ibis table in the canonical schema). Anonymous sales and
        return lines are left out.
    within_days
        The window N in days (``None``: ``params/basket.yaml``).
    level
        ``"sku"`` or ``"category"``.
    min_customers
        Minimum number of members who bought A and then B within the window; items with fewer
        buyers than this are skipped before pairing.
    min_lift
        Minimum lift (``share / baseline_share``) of a rule (``None``: ``params/basket.yaml``).
    as_of
        Last day of data used (ISO date); ``None`` or ``""`` uses everything.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair (A, B), strongest lift first: ``antecedent`` (A),
        ``consequent`` (B), ``n_antecedent`` (members who bought A), ``n_both`` (of those, who
        bought B within the window after A), ``n_consequent`` (members who bought B at all),
        ``n_customers`` (members with any purchase), ``share`` = n_both / n_antecedent,
        ``baseline_share`` = n_consequent / n_customers, ``lift`` = share / baseline_share,
        ``median_days`` (median of the members' gaps) and ``within_days``.

    Notes
    -----
    A purchases made less than N days before the end of the data have a shorter window to be
    followed; the share is therefore a lower bound for recent buyers. Vectorised on sorted
    numpy arrays (one binary search per purchase for its window), so 10 million order lines
    take seconds.
    """
    within_days = _pick(within_days, "sequential", "within_days")
    level = _pick(level, "sequential", "level")
    min_customers = _pick(min_customers, "sequential", "min_customers")
    for name, value in (("within_days", within_days), ("min_customers", min_customers)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise ConfigError(f"parameter {name!r} must be a whole number; got {value!r}")
    check_range("within_days", int(within_days), low=1)
    check_range("min_customers", int(min_customers), low=1)
    min_lift = check_range("min_lift", _pick(min_lift, "sequential", "min_lift"), low=0)
    ev = _events(transactions, level, as_of)
    table = _sequential_core(ev, int(within_days), int(min_customers))
    table = table[table["lift"] >= min_lift]
    table = table.sort_values(
        ["lift", "n_both", "antecedent", "consequent"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    n_members = ev.n_customers
    table.attrs.update({"level": level, "within_days": int(within_days), "n_customers": n_members})
    return table


def sequential_gaps(
    transactions: Transactions,
    *,
    pairs: pd.DataFrame | Sequence[tuple[str, str]],
    within_days: int | None = None,
    level: str | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Days from A to B per member for chosen pairs (the data behind the timing chart).

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    pairs
        The (A, B) pairs: a frame with ``antecedent`` and ``consequent`` columns (such as the
        top rows of :func:`sequential_rules`) or a sequence of tuples.
    within_days, level, as_of
        As in :func:`sequential_rules`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``antecedent``, ``consequent``, ``days`` (the member's shortest gap
        from an A purchase to a later B purchase within the window), in the order of ``pairs``.
    """
    within_days = int(_pick(within_days, "sequential", "within_days"))
    check_range("within_days", within_days, low=1)
    level = _pick(level, "sequential", "level")
    if isinstance(pairs, pd.DataFrame):
        wanted = list(
            zip(pairs["antecedent"].astype(str), pairs["consequent"].astype(str), strict=True)
        )
    else:
        wanted = [(str(a), str(b)) for a, b in pairs]
    out = pd.DataFrame({"customer_id": [], "antecedent": [], "consequent": [], "days": []})
    if not wanted:
        return out.astype({"days": np.int64})
    names = sorted({a for a, _ in wanted} | {b for _, b in wanted})
    ev = _events(transactions, level, as_of, only=names, with_ids=True)
    if not len(ev.cust) or ev.ids is None:
        return out.astype({"days": np.int64})
    items, n_items = ev.items, len(ev.items)
    index = {name: i for i, name in enumerate(items)}
    c, p, g = _follow_pairs(ev.cust, ev.day, ev.code, n_items, within_days)
    rank = {
        index[a] * n_items + index[b]: i
        for i, (a, b) in enumerate(wanted)
        if a in index and b in index
    }
    sel = np.isin(p, np.fromiter(rank, dtype=np.int64, count=len(rank)))
    res = pd.DataFrame(
        {
            "_rank": pd.Series(p[sel]).map(rank).to_numpy(),
            "customer_id": ev.ids[c[sel]],
            "antecedent": items[p[sel] // n_items].astype(str),
            "consequent": items[p[sel] % n_items].astype(str),
            "days": g[sel].astype(np.int64),
        }
    )
    res = res.sort_values(["_rank", "customer_id"], kind="stable")
    return res.drop(columns="_rank").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# recommendations and bundles


def _rule_items(rules: pd.DataFrame) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    if {"antecedents", "consequents"} <= set(rules.columns):
        return [tuple(v) for v in rules["antecedents"]], [tuple(v) for v in rules["consequents"]]
    if {"antecedent", "consequent"} <= set(rules.columns):
        return [(str(v),) for v in rules["antecedent"]], [(str(v),) for v in rules["consequent"]]
    raise DataError(
        "rules need antecedents/consequents (association_rules) or antecedent/consequent "
        "(sequential_rules) columns",
        column="antecedents",
    )


def _customer_filter(
    customers: pd.DataFrame | Iterable[str] | None, segment: str | None
) -> list[str] | None:
    if customers is None:
        return None
    if isinstance(customers, pd.DataFrame):
        if "customer_id" not in customers.columns:
            raise DataError("customers table lacks customer_id", column="customer_id")
        frame = customers
        if "segment" in frame.columns and (frame["segment"].astype(str) == str(segment)).any():
            frame = frame[frame["segment"].astype(str) == str(segment)]
        return frame["customer_id"].astype(str).tolist()
    if isinstance(customers, str):
        return [customers]
    return [str(c) for c in customers]


def segment_members(
    transactions: Transactions,
    *,
    segment: str | None,
    scheme: str = "cn8",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame | None:
    """Members of one RFM segment (:mod:`crmlib.rfm`), for :func:`recommend`.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    segment
        Segment key (``"important_value"``) or its English or Chinese name; ``None`` or ``""``
        means every member (returns ``None``).
    scheme
        RFM scheme name of ``params/segments.yaml`` (``"cn8"`` or ``"en11"``).
    as_of
        Reference date of the RFM scores (ISO date).

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` and ``segment`` (the key) of the segment's members.
    """
    if segment is None or not str(segment).strip():
        return None
    from crmlib import rfm

    seg = rfm.segment_rfm(rfm.rfm_table(transactions, as_of=as_of), scheme=scheme)
    table = seg.scheme.segments
    wanted = str(segment).strip()
    match = table[
        (table["segment"] == wanted) | (table["name_en"] == wanted) | (table["name_zh"] == wanted)
    ]
    if match.empty:
        raise ConfigError(
            f"parameter 'segment' must be one of {', '.join(map(repr, table['segment']))} "
            f"(or their names); got {segment!r}"
        )
    key = str(match["segment"].iloc[0])
    members = seg.customers.loc[seg.customers["segment"] == key, ["customer_id", "segment"]]
    return members.reset_index(drop=True)


def recommend(
    transactions: Transactions,
    rules: pd.DataFrame,
    *,
    customers: pd.DataFrame | Iterable[str] | None = None,
    segment: str | None = None,
    top_n: int | None = None,
    level: str | None = None,
    score: str | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Top next products per member (or for a segment) by cross-sell rules.

    A rule applies to a member who has bought every item of its antecedent; each consequent
    item the member has not bought yet becomes a candidate, scored by the strongest applicable
    rule.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema (what each member already bought).
    rules
        Output of :func:`association_rules` or :func:`sequential_rules`.
    customers
        Members to recommend for: customer ids, or a per-member frame with ``customer_id`` (and
        ``segment``, used with ``segment``). ``None``: every member with a purchase.
    segment
        A segment name. With a frame in ``customers`` whose ``segment`` column holds this
        value, only those rows are used; either way the result is one list for the group.
    top_n
        Products per member or for the segment (``None``: ``params/basket.yaml``).
    level
        Item level of the rules (``None``: ``rules.attrs["level"]``, else ``"sku"``).
    score
        ``"lift"`` or ``"confidence"`` (sequential rules: ``"lift"`` or ``"share"``).
    as_of
        Last day of purchase history used (ISO date).

    Returns
    -------
    pandas.DataFrame
        Per member: ``customer_id``, ``rank``, ``item``, ``score``, ``because`` (the rule's
        antecedent). For a segment: ``segment``, ``rank``, ``item``, ``n_customers`` (members
        for whom the item is in their top list), ``share`` of the segment's members,
        ``mean_score``.
    """
    top_n = int(_pick(top_n, "recommend", "top_n"))
    check_range("top_n", top_n, low=1)
    score = _pick(score, "recommend", "score")
    if score == "confidence" and "confidence" not in rules.columns and "share" in rules.columns:
        score = "share"
    check_choice("score", score, [c for c in ("lift", "confidence", "share") if c in rules.columns])
    level = level or rules.attrs.get("level", "sku")
    wanted = _customer_filter(customers, segment)
    tx, item = _purchases(transactions, level, as_of)
    tx = tx.filter(_known_customer(tx))
    bought = execute(tx.select(customer_id=tx.customer_id, item=item).distinct())
    if wanted is not None:
        bought = bought[bought["customer_id"].isin(set(wanted))]
    ante, cons = _rule_items(rules)
    rule_tab = pd.DataFrame(
        {
            "rule_id": np.arange(len(rules)),
            "ante": ante,
            "cons": cons,
            "score": rules[score].to_numpy(dtype=float),
        }
    )
    sides = rule_tab.explode("ante")[["rule_id", "ante"]].rename(columns={"ante": "item"})
    size = rule_tab["ante"].map(len)
    hits = bought.merge(sides, on="item")
    matched = hits.groupby(["customer_id", "rule_id"], sort=False).size().rename("n").reset_index()
    matched = matched[matched["n"].to_numpy() == size.to_numpy()[matched["rule_id"].to_numpy()]]
    cand = matched[["customer_id", "rule_id"]].merge(rule_tab, on="rule_id").explode("cons")
    cand = cand.rename(columns={"cons": "item"})
    owned = bought.assign(_owned=True)
    cand = cand.merge(owned, on=["customer_id", "item"], how="left")
    cand = cand[cand["_owned"].isna()]
    cand["because"] = cand["ante"].map(_JOIN.join)
    cand = cand.sort_values(["customer_id", "score", "item"], ascending=[True, False, True])
    cand = cand.drop_duplicates(["customer_id", "item"])
    cand["rank"] = cand.groupby("customer_id").cumcount() + 1
    per = cand[cand["rank"] <= top_n][["customer_id", "rank", "item", "score", "because"]]
    per = per.reset_index(drop=True)
    if segment is None:
        return per
    n_members = len(set(wanted)) if wanted is not None else bought["customer_id"].nunique()
    grp = per.groupby("item").agg(n_customers=("customer_id", "size"), mean_score=("score", "mean"))
    grp = grp.reset_index().sort_values(
        ["n_customers", "mean_score", "item"], ascending=[False, False, True]
    )
    grp = grp.head(top_n).reset_index(drop=True)
    grp.insert(0, "segment", str(segment))
    grp.insert(1, "rank", np.arange(1, len(grp) + 1))
    grp["share"] = grp["n_customers"] / n_members if n_members else np.nan
    return grp[["segment", "rank", "item", "n_customers", "share", "mean_score"]]


def bundle_candidates(
    rules: pd.DataFrame,
    *,
    min_lift: float | None = None,
    min_support: float | None = None,
) -> pd.DataFrame:
    """Item pairs bought together far more often than chance and often enough to bundle.

    Parameters
    ----------
    rules
        Output of :func:`association_rules` (pair rules are used; both directions of a pair
        merge into one row).
    min_lift
        Minimum lift of the pair (``None``: ``params/basket.yaml``).
    min_support
        Minimum share of baskets holding both items.

    Returns
    -------
    pandas.DataFrame
        ``item_a``, ``item_b`` (alphabetical), ``n_both``, ``support``, ``lift``,
        ``confidence_ab`` (share of item_a baskets holding item_b), ``confidence_ba``; highest
        lift first.
    """
    min_lift = check_range("min_lift", _pick(min_lift, "bundles", "min_lift"), low=0)
    min_support = check_range(
        "min_support", _pick(min_support, "bundles", "min_support"), low=0, high=1
    )
    cols = ["item_a", "item_b", "n_both", "support", "lift", "confidence_ab", "confidence_ba"]
    if rules.empty:
        return pd.DataFrame({c: [] for c in cols})
    ante, cons = _rule_items(rules)
    single = np.array([len(a) == 1 and len(c) == 1 for a, c in zip(ante, cons, strict=True)])
    r = rules[single].copy()
    r["x"] = [a[0] for a, s in zip(ante, single, strict=True) if s]
    r["y"] = [c[0] for c, s in zip(cons, single, strict=True) if s]
    r = r[(r["lift"] >= min_lift) & (r["support"] >= min_support)]
    if r.empty:
        return pd.DataFrame({c: [] for c in cols})
    fwd = r[r["x"] < r["y"]].set_index(["x", "y"])
    bwd = r[r["x"] > r["y"]].set_index(["y", "x"])
    bwd.index.names = ["x", "y"]
    keys = fwd.index.union(bwd.index)
    first = fwd.reindex(keys).combine_first(bwd.reindex(keys))
    out = pd.DataFrame(
        {
            "item_a": keys.get_level_values(0),
            "item_b": keys.get_level_values(1),
            "n_both": first["n_both"].to_numpy().astype(np.int64),
            "support": first["support"].to_numpy(),
            "lift": first["lift"].to_numpy(),
            "confidence_ab": fwd["confidence"].reindex(keys).to_numpy(),
            "confidence_ba": bwd["confidence"].reindex(keys).to_numpy(),
        }
    )
    return out.sort_values(["lift", "support"], ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# plain-language text and display tables


def _times(x: float) -> str:
    return f"{x:.1f}"


def describe_rules(rules: pd.DataFrame, *, language: str = "en", top: int = 5) -> str:
    """The strongest association rules as a markdown list in plain language.

    "Customers who buy X also buy Y 3.2× more often than average (in 35% of their baskets)."
    """
    check_language(language)
    check_range("top", top, low=1)
    if rules.empty:
        return t("basket.no_rules", language)
    lines = [t("basket.rules_intro", language, n=len(rules), baskets=rules["n_baskets"].iloc[0])]
    for row in rules.head(top).itertuples(index=False):
        lines.append(
            "- "
            + t(
                "basket.rule_sentence",
                language,
                x=_JOIN.join(map(md_escape, row.antecedents)),
                y=_JOIN.join(map(md_escape, row.consequents)),
                lift=_times(row.lift),
                confidence=f"{row.confidence:.0%}",
            )
        )
    return "\n".join(lines)


def describe_sequential(rules: pd.DataFrame, *, language: str = "en", top: int = 5) -> str:
    """The strongest "A then B" rules as a markdown list in plain language.

    "Buyers of X buy Y within 30 days 4.1× as often as the average customer (median 12 days)."
    """
    check_language(language)
    check_range("top", top, low=1)
    if rules.empty:
        return t("basket.no_sequential", language)
    lines = [t("basket.sequential_intro", language, n=len(rules))]
    for row in rules.head(top).itertuples(index=False):
        lines.append(
            "- "
            + t(
                "basket.sequential_sentence",
                language,
                x=md_escape(row.antecedent),
                y=md_escape(row.consequent),
                days=int(row.within_days),
                lift=_times(row.lift),
                median=f"{row.median_days:g}",
                share=f"{row.share:.0%}",
            )
        )
    return "\n".join(lines)


def rules_table(rules: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """The top association rules as a display table with headings in ``language``."""
    check_language(language)
    cols = ["rule", "n_both", "support", "confidence", "lift", "q_value"]
    out = rules.head(top)[cols].copy()
    out["support"] = out["support"].map("{:.2%}".format)
    out["confidence"] = out["confidence"].map("{:.1%}".format)
    out["lift"] = out["lift"].map("{:.2f}".format)
    out["q_value"] = out["q_value"].map("{:.1e}".format)
    return out.rename(columns={c: t(f"basket.col_{c}", language) for c in cols}).reset_index(
        drop=True
    )


def sequential_table(rules: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """The top "A then B" rules as a display table with headings in ``language``."""
    check_language(language)
    cols = [
        "antecedent",
        "consequent",
        "n_antecedent",
        "n_both",
        "share",
        "baseline_share",
        "lift",
        "median_days",
    ]
    out = rules.head(top)[cols].copy()
    for c in ("share", "baseline_share"):
        out[c] = out[c].map("{:.1%}".format)
    out["lift"] = out["lift"].map("{:.2f}".format)
    return out.rename(columns={c: t(f"basket.col_{c}", language) for c in cols}).reset_index(
        drop=True
    )


def bundles_table(bundles: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """Bundle candidates as a display table with headings in ``language``."""
    check_language(language)
    cols = ["item_a", "item_b", "n_both", "support", "lift", "confidence_ab", "confidence_ba"]
    out = bundles.head(top)[cols].copy()
    out["support"] = out["support"].map("{:.2%}".format)
    for c in ("confidence_ab", "confidence_ba"):
        out[c] = out[c].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
    out["lift"] = out["lift"].map("{:.2f}".format)
    return out.rename(columns={c: t(f"basket.col_{c}", language) for c in cols}).reset_index(
        drop=True
    )


def summary_text(
    rules: pd.DataFrame,
    sequential: pd.DataFrame,
    bundles: pd.DataFrame,
    *,
    language: str = "en",
) -> str:
    """One sentence with what was analysed and found (for the top of the report)."""
    check_language(language)
    level = rules.attrs.get("level", "sku")
    kind = rules.attrs.get("basket", "order")
    return t(
        "basket.summary",
        language,
        baskets=int(rules.attrs.get("n_baskets", 0)),
        basket_kind=t(f"basket.basket_{kind}", language),
        members=int(sequential.attrs.get("n_customers", 0)),
        level=t(f"basket.level_{level}", language),
        rules=len(rules),
        sequential=len(sequential),
        bundles=len(bundles),
    )


def describe_recommend(segment: str | None, *, language: str = "en", scheme: str = "cn8") -> str:
    """The explanation above the recommendation table, naming the segment when there is one."""
    check_language(language)
    if segment is None or not str(segment).strip():
        who = t("basket.all_members", language)
    else:
        from crmlib import rfm

        table = rfm.load_scheme(scheme).segments
        wanted = str(segment).strip()
        match = table[
            (table["segment"] == wanted)
            | (table["name_en"] == wanted)
            | (table["name_zh"] == wanted)
        ]
        name = str(match[f"name_{language}"].iloc[0]) if len(match) else wanted
        who = t("basket.segment_members", language, name=md_escape(name))
    return t("basket.explain_recommend", language, who=who)


def recommend_table(recs: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """Segment-level recommendations (:func:`recommend` with ``segment``) for display."""
    check_language(language)
    cols = ["rank", "item", "n_customers", "share", "mean_score"]
    out = recs[cols].copy()
    out["share"] = out["share"].map("{:.1%}".format)
    out["mean_score"] = out["mean_score"].map("{:.2f}".format)
    names = {c: t(f"basket.col_{c}", language) for c in cols if c != "share"}
    names["share"] = t("common.share_customers", language)
    return out.rename(columns=names).reset_index(drop=True)


def export_rules(
    rules: pd.DataFrame,
    sequential: pd.DataFrame | None = None,
    bundles: pd.DataFrame | None = None,
    *,
    export_dir: str | Path,
) -> list[Path]:
    """Write the rule tables as CSV (UTF-8 with BOM, so spreadsheet programs show Chinese).

    Parameters
    ----------
    rules
        Output of :func:`association_rules`; item tuples are written as ``"A + B"``.
    sequential, bundles
        Outputs of :func:`sequential_rules` and :func:`bundle_candidates` (optional).
    export_dir
        Folder to write to; created when missing.

    Returns
    -------
    list of Path
        The files written: ``association_rules.csv``, ``sequential_rules.csv``,
        ``bundle_candidates.csv``.
    """
    folder = Path(export_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = rules.copy()
    for col in ("antecedents", "consequents"):
        out[col] = out[col].map(_JOIN.join)
    written = []
    tables = {
        "association_rules": out,
        "sequential_rules": sequential,
        "bundle_candidates": bundles,
    }
    for name, table in tables.items():
        if table is None:
            continue
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    return written
