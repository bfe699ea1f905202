"""Frequent itemsets of 3+ items counted on bit sets (Apriori candidates, one AND per candidate).

Each item's baskets are a row of bits (one bit per basket of the reduced matrix); a k-itemset's
baskets are the AND of its items' rows. Candidates of k+1 items join two frequent k-itemsets
that share their first k-1 items and are kept only when every k-subset is frequent (Apriori),
so each candidate costs one AND of two rows and a popcount. On dense data (a few hundred
categories, baskets of ten) this is many times faster than counting extensions with sparse
products; when the rows or the candidates outgrow their budget the miner stops and hands the
itemsets it reached to the tid-list miner (:func:`crmlib.basket.itemsets.frequent_itemsets`).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from crmlib.errors import DataError

__all__ = [
    "MAX_BITSET_BYTES",
    "MAX_CANDIDATES",
    "MAX_CANDIDATE_WORDS",
    "MAX_ITEMSETS",
    "check_level",
    "fits",
    "item_bits",
    "level_wise",
]

#: Most memory held by the bit rows of one level of itemsets (and by the items' rows).
MAX_BITSET_BYTES = 256 * 2**20
#: Most 64-bit words ANDed to count one level's candidates (about a second of work), and most
#: candidates of one level held at once (about 50 bytes each).
MAX_CANDIDATE_WORDS = 1_500_000_000
MAX_CANDIDATES = 10_000_000
#: Most frequent itemsets of one length: beyond it mining stops and names the parameters to raise.
MAX_ITEMSETS = 5_000_000
#: Bytes of candidate rows ANDed at once (small enough to stay in the processor's cache).
_BLOCK_BYTES = 2**20
#: Basket × item cells made dense at once to pack the items' bits.
_DENSE_CELLS = 16 * 2**20


def check_level(n_itemsets: int, length: int) -> None:
    """Stop with the parameters to raise when ``n_itemsets`` frequent itemsets of ``length``
    items are more than :data:`MAX_ITEMSETS`."""
    if n_itemsets > MAX_ITEMSETS:
        raise DataError(
            f"{n_itemsets:,} itemsets of {length} items reach the minimum support: too many "
            "to mine; raise min_support or set max_len (params/basket.yaml)",
            value=f"max {MAX_ITEMSETS:,}",
        )


def fits(xp: sparse.csr_matrix) -> bool:
    """Whether the items' bit rows of the basket × item matrix ``xp`` stay within the budget."""
    n_baskets, n_items = xp.shape
    return n_items * _words(n_baskets) * 8 <= MAX_BITSET_BYTES


def item_bits(xp: sparse.csr_matrix) -> np.ndarray:
    """One row of bits per column of the basket × item matrix: (items, words) of uint64, one
    bit per basket (the same bit of the same word for a basket in every row)."""
    n_baskets, n_items = xp.shape
    n_words = _words(n_baskets)
    out = np.zeros((n_items, n_words * 8), dtype=np.uint8)
    xc = xp.tocsc()
    step = max(1, _DENSE_CELLS // max(n_baskets, 1))
    for lo in range(0, n_items, step):
        hi = min(lo + step, n_items)
        dense = xc[:, lo:hi].toarray().T != 0  # a few columns at a time, as booleans
        packed = np.packbits(dense, axis=1)
        out[lo:hi, : packed.shape[1]] = packed
    return out.view(np.uint64)


def level_wise(
    xp: sparse.csr_matrix, pairs: np.ndarray, *, min_count: int, max_len: int | None
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], np.ndarray | None]:
    """Frequent itemsets of 3+ items of ``xp``, level by level, from its frequent pairs.

    Parameters
    ----------
    xp
        Basket × item incidence matrix (only baskets that can hold a 3-itemset).
    pairs
        The frequent 2-itemsets as column codes of ``xp`` (m, 2), sorted within and across rows.
    min_count, max_len
        As :func:`crmlib.basket.itemsets.frequent_itemsets`.

    Returns
    -------
    tuple
        ``{k: (codes, counts)}`` of the levels mined (column codes of ``xp``), and ``None`` when
        done, or the last level's itemsets (m, k) when a budget stopped the miner: the itemsets
        of more items must be mined from them by other means.
    """
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not fits(xp):
        return found, pairs
    items = item_bits(xp)
    n_items, n_words = items.shape
    if len(pairs) * n_words * 8 > MAX_BITSET_BYTES:
        return found, pairs
    sets = pairs
    rows = items[pairs[:, 0]] & items[pairs[:, 1]]
    keys: list[np.ndarray] = [np.arange(n_items, dtype=np.int64)]
    keys.append(_keys(sets, keys, n_items))
    k = 2
    while len(sets) > 1 and (max_len is None or k < max_len):
        joined = _joins(
            keys[-1] // n_items, limit=min(MAX_CANDIDATES, MAX_CANDIDATE_WORDS // n_words)
        )
        if joined is None:  # too many candidates to hold or to AND: tid-lists take over
            return found, sets
        left, right = joined
        added = sets[right, -1]
        candidates = np.column_stack([sets[left], added])
        whole = _subsets_frequent(candidates, keys, n_items)
        left, added, candidates = left[whole], added[whole], candidates[whole]
        counts = _counts(rows, items, left, added)
        keep = counts >= min_count
        if not keep.any():
            break
        check_level(int(keep.sum()), k + 1)
        if int(keep.sum()) * n_words * 8 > MAX_BITSET_BYTES:
            return found, sets
        sets = candidates[keep]
        found[k + 1] = (sets, counts[keep])
        k += 1
        if max_len is not None and k >= max_len:
            break
        rows = rows[left[keep]] & items[added[keep]]
        keys.append(_keys(sets, keys, n_items))
    return found, None


def _words(n_baskets: int) -> int:
    return max(1, -(-n_baskets // 64))


def _keys(sets: np.ndarray, keys: list[np.ndarray], n_items: int) -> np.ndarray:
    """Sorted int64 key of each itemset of a level: its prefix's row in the level before ×
    n_items + its last item (rows sorted lexicographically keep the keys sorted)."""
    return _rows_of(sets[:, :-1], keys, n_items) * n_items + sets[:, -1]


def _rows_of(sets: np.ndarray, keys: list[np.ndarray], n_items: int) -> np.ndarray:
    """Row of each itemset (m, j) in the level of j items, or -1 when it is not frequent.
    ``keys[i]`` are the sorted keys of the level of i + 1 items (``keys[0]``: the items)."""
    at = sets[:, 0].astype(np.int64)
    for j in range(1, sets.shape[1]):
        level = keys[j]
        key = at * n_items + sets[:, j]
        pos = np.minimum(np.searchsorted(level, key), len(level) - 1)
        at = np.where((at >= 0) & (level[pos] == key), pos, -1)
    return at


def _joins(prefix: np.ndarray, *, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Every pair of rows i < j sharing a prefix (``prefix`` sorted): (i, j) in order, or
    ``None`` when there are more than ``limit`` (counted before any pair is made)."""
    n = len(prefix)
    end = np.searchsorted(prefix, prefix, side="right")
    partners = end - np.arange(n) - 1
    total = int(partners.sum())
    if total > limit:
        return None
    left = np.repeat(np.arange(n, dtype=np.int64), partners)
    first = np.cumsum(partners) - partners
    right = left + 1 + (np.arange(total, dtype=np.int64) - np.repeat(first, partners))
    return left, right


def _subsets_frequent(candidates: np.ndarray, keys: list[np.ndarray], n_items: int) -> np.ndarray:
    """Whether every k-subset of each (k+1)-candidate is frequent. The subsets without the last
    or the one before it are the two joined itemsets; the others are looked up."""
    ok = np.ones(len(candidates), dtype=bool)
    width = candidates.shape[1]
    for drop in range(width - 2):
        subset = np.delete(candidates[ok], drop, axis=1)
        ok[ok] = _rows_of(subset, keys, n_items) >= 0
    return ok


def _counts(rows: np.ndarray, items: np.ndarray, left: np.ndarray, added: np.ndarray) -> np.ndarray:
    """Baskets holding each candidate: popcount of its parent's row AND its added item's row."""
    n_words = rows.shape[1]
    step = max(1, _BLOCK_BYTES // (8 * n_words))
    out = np.empty(len(left), dtype=np.int64)
    for start in range(0, len(left), step):
        stop = min(start + step, len(left))
        block = rows[left[start:stop]] & items[added[start:stop]]
        out[start:stop] = np.bitwise_count(block).sum(axis=1, dtype=np.int64)
    return out
