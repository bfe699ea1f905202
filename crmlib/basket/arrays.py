"""Array helpers shared by the basket miner and the "A then B" rules (the touchpoints' base
rates use :func:`distinct` too): sort-based runs and distinct values of int64 arrays, and items
as integer codes.

Sort-based on purpose: ``np.unique`` on large int64 arrays takes a hash path in numpy 2.3+ that
is many times slower than a sort.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["runs", "distinct", "item_codes"]


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of a sorted array with the index of their first row and their counts.

    Parameters
    ----------
    values
        A sorted one-dimensional array.

    Returns
    -------
    tuple of numpy.ndarray
        The distinct values, the index of each one's first row and how many rows hold it.
    """
    if not len(values):
        empty = np.empty(0, dtype=np.int64)
        return values[:0], empty, empty
    start = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    counts = np.diff(np.r_[start, len(values)])
    return values[start], start, counts


def distinct(values: np.ndarray, *, nearly_sorted: bool = False) -> np.ndarray:
    """Sorted distinct values of an int64 array (sort-based, see :func:`runs`).

    ``nearly_sorted``: the values come in long ordered stretches (keys led by a member code
    that the rows are already ordered by); numpy's stable sort (timsort) then merges the
    stretches, about ten times faster than its default sort on 9M such keys, which it
    otherwise beats slightly on values in random order.
    """
    return runs(np.sort(values, kind="stable" if nearly_sorted else "quicksort"))[0]


def item_codes(items: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each line's item as a code into the sorted distinct item names.

    One pass over the lines' item column as the engine returned it (Arrow text, dictionary
    encoded by :func:`pandas.factorize`), instead of a second query for the distinct items.

    Parameters
    ----------
    items
        The lines' item names, none missing.

    Returns
    -------
    tuple of numpy.ndarray
        The int64 code of each line, and the item names (object array) in sorted order.
    """
    codes, names = pd.factorize(items, sort=True)
    if len(codes) and codes.min() < 0:  # a code of -1 would index the last item
        raise ValueError(f"{int((codes < 0).sum())} lines have no item; filter them first")
    return codes.astype(np.int64, copy=False), np.asarray(pd.Index(names).astype(str), dtype=object)
