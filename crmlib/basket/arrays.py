"""Sort-based helpers on int64 arrays shared by the basket miner and the "A then B" rules.

Sort-based on purpose: ``np.unique`` on large int64 arrays takes a hash path in numpy 2.3+ that
is many times slower than a sort.
"""

from __future__ import annotations

import numpy as np

__all__ = ["runs", "distinct"]


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


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (sort-based, see :func:`runs`)."""
    return runs(np.sort(values))[0]
