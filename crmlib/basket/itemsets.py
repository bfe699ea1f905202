"""Frequent itemsets of a basket × item incidence matrix, and the candidate rules they give.

Items rarer than the minimum support are dropped first; item pairs come from one sparse
co-occurrence product ``XᵀX``; with itemsets capped at three items, triples are counted from the
item triples of the few baskets holding 3+ items that appear in frequent pairs; longer itemsets
(or very large baskets) are mined level by level on that same reduced matrix: on bit sets, one
AND per Apriori candidate (:mod:`crmlib.basket.bitsets`), or, where the bit rows would outgrow
their budget, on tid-lists, each itemset's extensions counted by one sparse product
(:func:`_level_wise`). A catalogue of thousands of SKUs never becomes a dense one-hot frame, and
no step runs item by item in Python."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from crmlib.basket import bitsets
from crmlib.basket.arrays import distinct, runs
from crmlib.errors import DataError

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
    if x.dtype.itemsize < 4 or x.dtype.kind == "b":  # products of int8 or bool would overflow
        x = x.astype(np.int32)
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
    local = np.searchsorted(in_pairs, np.column_stack([a, b]))
    local = local[np.lexsort((local[:, 1], local[:, 0]))]
    mined, rest = bitsets.level_wise(xp, local, min_count=min_count, max_len=max_len)
    if rest is not None:  # the bit rows outgrew their budget: go on with tid-lists
        mined.update(_level_wise(xp, rest, min_count=min_count, max_len=max_len))
    found.update({k: (in_pairs[codes], n) for k, (codes, n) in mined.items()})
    return counts, found


def _count_triples(
    xp: sparse.csr_matrix, min_count: int, *, budget: int = 20_000_000
) -> tuple[np.ndarray, np.ndarray] | None:
    """Frequent 3-itemsets by enumerating each basket's item triples (vectorised per basket size).

    Returns local column codes (m, 3) and counts, or ``None`` when the baskets hold more than
    ``budget`` triples in all (large baskets), in which case the level-wise miner does the work.
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


#: Most basket ids the miner gathers to extend one level of itemsets (about 8 bytes each):
#: beyond it the miner stops and names the parameters to raise.
MAX_GATHERED = 400_000_000
#: Itemsets whose extensions are counted in one sparse product.
_CHUNK = 4096
#: Largest basket × item table held as dense booleans to look up who holds what.
DENSE_TABLE_CELLS = 256 * 2**20


def _level_wise(
    xp: sparse.csr_matrix, sets: np.ndarray, *, min_count: int, max_len: int | None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Frequent itemsets longer than ``sets`` (frequent k-itemsets as column codes of ``xp``,
    sorted within and across rows), level by level on the reduced matrix ``xp``.

    Each frequent k-itemset keeps the ids of the baskets holding it (its tid-list, as one sparse
    column). The counts of all its one-item extensions come from one sparse product
    ``M_kᵀ X`` (itemsets × items); an extension by an item after the itemset's last is kept when
    its count reaches ``min_count``, so every (k+1)-itemset is found once, from its first k
    items, and all its subsets are frequent. Its tid-list is the parent's baskets that hold the
    item. Counts are exact, so the itemsets (and the rules built on them) are mlxtend's.
    Returns ``{k: (codes, counts)}`` in column codes of ``xp``.
    """
    holds = _membership(xp)
    tids, ptr = _tid_lists(xp, sets, holds)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    k = sets.shape[1]
    while len(sets) and (max_len is None or k < max_len):
        parent, item, count = _extensions(sets, tids, ptr, xp, min_count=min_count)
        if not len(count):
            break
        bitsets.check_level(len(count), k + 1)
        gathered = int(np.diff(ptr)[parent].sum())
        if gathered > MAX_GATHERED:
            raise DataError(
                f"itemsets of {k + 1} items would need {gathered:,} basket ids in memory; raise "
                "min_support or set max_len (params/basket.yaml)",
                value=f"max {MAX_GATHERED:,}",
            )
        sets = np.column_stack([sets[parent], item])
        found[k + 1] = (sets, count)
        k += 1
        if max_len is not None and k >= max_len:
            break
        tids, ptr = _gather(tids, ptr, parent, item, holds)
    return found


def _tid_lists(
    xp: sparse.csr_matrix, sets: np.ndarray, holds: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The baskets holding each itemset: its rarest item's baskets, kept where they hold every
    other item (one concatenated tid array and its pointers)."""
    xc = xp.tocsc()
    xc.sort_indices()
    per_item = np.diff(xc.indptr)
    rows = np.arange(len(sets))
    rarest = sets[rows, np.argmin(per_item[sets], axis=1)]
    tids, ptr = xc.indices.astype(np.int64), xc.indptr.astype(np.int64)
    for j in range(sets.shape[1]):
        tids, ptr = _gather(tids, ptr, rarest if j == 0 else rows, sets[:, j], holds)
    return tids, ptr


def _extensions(
    sets: np.ndarray, tids: np.ndarray, ptr: np.ndarray, xp: sparse.csr_matrix, *, min_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequent one-item extensions of the itemsets: (parent row, added item, count), ordered
    by parent then item, so that the new itemsets stay sorted."""
    n_baskets = xp.shape[0]
    last = sets[:, -1]
    parts = []
    for start in range(0, len(sets), _CHUNK):
        stop = min(start + _CHUNK, len(sets))
        lo, hi = ptr[start], ptr[stop]
        m = sparse.csc_matrix(
            (np.ones(hi - lo, dtype=np.int32), tids[lo:hi], ptr[start : stop + 1] - lo),
            shape=(n_baskets, stop - start),
        )
        counts = (m.T @ xp).tocoo()  # itemsets of this chunk × items
        row = counts.row.astype(np.int64) + start
        keep = (counts.data >= min_count) & (counts.col > last[row])
        parts.append((row[keep], counts.col[keep].astype(np.int64), counts.data[keep]))
    parent = np.concatenate([p[0] for p in parts])
    item = np.concatenate([p[1] for p in parts])
    count = np.concatenate([p[2] for p in parts]).astype(np.int64)
    order = np.lexsort((item, parent))
    return parent[order], item[order], count[order]


def _membership(xp: sparse.csr_matrix) -> Any:
    """A function telling whether baskets hold items (arrays of equal length): a dense bit
    table when it fits in 256 MB, else a sorted lookup of basket × item codes."""
    n_baskets, n_items = xp.shape
    if n_baskets * n_items <= DENSE_TABLE_CELLS:
        table = xp.astype(bool).toarray()
        return lambda baskets, items: table[baskets, items]
    coo = xp.tocoo()
    member = np.sort(coo.row.astype(np.int64) * n_items + coo.col)

    def holds(baskets: np.ndarray, items: np.ndarray) -> np.ndarray:
        key = baskets * n_items + items
        at = np.minimum(np.searchsorted(member, key), len(member) - 1)
        return member[at] == key

    return holds


def _gather(
    tids: np.ndarray, ptr: np.ndarray, parent: np.ndarray, item: np.ndarray, holds: Any
) -> tuple[np.ndarray, np.ndarray]:
    """For each (parent, item): the parent's tids whose basket holds the item, as one
    concatenated tid array and its pointers."""
    sizes = np.diff(ptr)[parent]
    starts = np.repeat(ptr[parent] - (np.cumsum(sizes) - sizes), sizes)
    baskets = tids[starts + np.arange(int(sizes.sum()))]
    owner = np.repeat(np.arange(len(parent)), sizes)
    hold = holds(baskets, item[owner])
    kept = np.bincount(owner[hold], minlength=len(parent))
    return baskets[hold], np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)


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
