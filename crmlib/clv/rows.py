"""Customer summaries as model input: their checks, and identical customers collapsed into rows.

The models are fitted and applied on the unique (frequency, recency, T) rows of a summary,
weighted by how many customers share them; at day or week resolution a million customers
collapse into far fewer rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.errors import DataError

__all__ = [
    "check_summary",
    "compress",
    "compress_summary",
    "factorize",
    "factorize_first",
]


def _column(summary: pd.DataFrame, name: str) -> np.ndarray:
    if name not in summary.columns:
        raise DataError("the customer summary lacks a required column", column=name)
    values = pd.to_numeric(summary[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            "the customer summary holds a missing, infinite or negative value",
            column=name,
            row=row,
            value=summary[name].iloc[row],
        )
    return values


def check_summary(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``frequency``, ``recency``, ``T`` of ``summary`` as arrays after checking them.

    Raises
    ------
    DataError
        When a column is missing, a value is missing, negative or (for frequency) not whole, or
        recency exceeds T, or a customer without repeat purchase has a recency other than 0.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError(f"the customer summary must be a pandas DataFrame; got {type(summary)}")
    if len(summary) == 0:
        raise DataError("the customer summary is empty: no customer to fit the model on")
    x = _column(summary, "frequency")
    tx = _column(summary, "recency")
    T = _column(summary, "T")
    for mask, column, message in (
        (x != np.round(x), "frequency", "frequency must be a whole number of repeat purchases"),
        (tx > T * (1 + 1e-12), "recency", "recency must not exceed T (the customer's age)"),
        ((x == 0) & (tx != 0), "recency", "customers without repeat purchase must have recency 0"),
    ):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            raise DataError(message, column=column, row=row, value=summary[column].iloc[row])
    return np.round(x), tx, T


def compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given equal-length columns (hash-based, in order of first appearance).

    Returns
    -------
    (unique_columns, counts, inverse)
        ``unique_columns[k][inverse] == columns[k]`` and ``counts`` the number of rows per unique row.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(np.asarray(column), sort=False)
        if len(uniques) and key.max(initial=0) > (np.iinfo(np.int64).max // len(uniques)) - 1:
            key, _ = pd.factorize(key, sort=False)  # re-number to keep the combined key small
        key = key * len(uniques) + codes
    inverse, _ = pd.factorize(key, sort=False)
    inverse = inverse.astype(np.int64)
    counts = np.bincount(inverse).astype(float)
    # codes are numbered by first appearance: a row is first where its code exceeds all before it
    is_new = np.empty(len(inverse), dtype=bool)
    if len(inverse):
        is_new[0] = True
        is_new[1:] = inverse[1:] > np.maximum.accumulate(inverse)[:-1]
    first = np.flatnonzero(is_new)
    return [np.asarray(c)[first] for c in columns], counts, inverse


def compress_summary(
    x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique (frequency, recency, T) rows with counts.

    Customers without repeat purchase have recency 0, so they collapse on T alone; only repeat
    customers need the full key.

    Returns
    -------
    ([frequency, recency, T], counts)
        The unique rows (one-time buyers first) and the number of customers per row.
    """
    zero = x == 0
    codes, T0 = pd.factorize(T[zero], sort=False)
    counts0 = np.bincount(codes, minlength=len(T0)).astype(float)
    pos = ~zero
    (xp, txp, Tp), counts_p, _ = compress(x[pos], tx[pos], T[pos])
    return (
        [
            np.concatenate([np.zeros(len(T0)), xp]),
            np.concatenate([np.zeros(len(T0)), txp]),
            np.concatenate([np.asarray(T0, dtype=float), Tp]),
        ],
        np.concatenate([counts0, counts_p]),
    )


def factorize_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` (numbered by first appearance) and the position of each first.

    Returns
    -------
    (codes, first)
        ``codes[i]`` numbers the distinct value of ``values[i]``; ``first[k]`` is the position
        where distinct value ``k`` first appears.
    """
    codes, _ = pd.factorize(values, sort=False)
    codes = codes.astype(np.intp)
    is_new = np.empty(len(codes), dtype=bool)
    if len(codes):
        is_new[0] = True
        is_new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return codes, np.flatnonzero(is_new)


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (in order of appearance, as floats) and each element's index into them.

    Returns
    -------
    (uniques, codes)
        ``uniques[codes] == values``.
    """
    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(uniques, dtype=float), codes.astype(np.intp)
