"""Frequent itemsets of a basket × item incidence matrix, and the candidate rules they give.

Items rarer than the minimum support are dropped first; item pairs come from one sparse
co-occurrence product ``XᵀX``; triples are counted from the item triples of the few baskets
holding 3+ items that appear in frequent pairs, and longer itemsets (or very large baskets) go to
mlxtend's ``fpgrowth`` on that same reduced matrix. A catalogue of thousands of SKUs never
becomes a dense one-hot frame.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from crmlib.basket.arrays import distinct, runs

__all__ = ["min_basket_count", "frequent_itemsets", "candidate_rules"]


def min_basket_count(min_support: float, n: int) -> int:
    """Smallest basket count c with c / n >= min_support (mlxtend's float test).

    Parameters
    ----------
    min_support
        Minimum share of baskets.
    n
        Number of baskets.
    """
    m = max(1, math.ceil(min_support * n))
    while m > 1 and (m - 1) / n >= min_support:
        m -= 1
    while m / n < min_support:
        m += 1
    return m


def frequent_itemsets(
    x: sparse.csr_matrix, *, min_count: int, max_len: int | None
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Item counts and the frequent itemsets of 2+ items.

    Parameters
    ----------
    x
        Basket × item incidence matrix (0/1).
    min_count
        Minimum number of baskets holding the whole itemset.
    max_len
        Longest itemset (``None``: no cap).

    Returns
    -------
    tuple
        Baskets per item (all columns of ``x``), and ``{k: (codes, counts)}`` with the sorted
        column codes (m, k) of the frequent k-itemsets and their basket counts (m,).
    """
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
    in_pairs = distinct(np.concatenate([a, b]))
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
    uniq, _, n = runs(np.sort(np.concatenate(parts)))
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


def candidate_rules(
    counts: np.ndarray, found: dict[int, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Every rule X → Y with X ∪ Y a frequent itemset, as item codes and counts.

    Parameters
    ----------
    counts, found
        The output of :func:`frequent_itemsets`.

    Returns
    -------
    pandas.DataFrame
        ``ante`` and ``cons`` (tuples of item codes), ``n_antecedent``, ``n_consequent`` and
        ``n_both`` (basket counts).
    """
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
