"""Work that Spark does with its own libraries rather than through Ibis expressions.

:func:`frequent_itemsets` mines frequent itemsets with Spark MLlib's FP-Growth
(``pyspark.ml.fpm.FPGrowth``) where the baskets live on the spark engine, so baskets that do not
fit in one machine's memory are mined by the cluster; only the frequent itemsets (with their
counts) travel to Python. :func:`crmlib.basket.association_rules` uses it whenever the
transactions live on the spark engine. The minimum count is the embedded miner's (the smallest
``c`` with ``c / n_baskets >= min_support``), so both find the same itemsets.
"""

from __future__ import annotations

import math
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from crmlib.data.engine import backend_name, backend_of
from crmlib.errors import ConfigError, DataError

__all__ = ["is_spark", "min_count", "frequent_itemsets"]


def is_spark(expr: ir.Expr) -> bool:
    """Whether ``expr``'s tables live on the spark engine."""
    return backend_name(backend_of(expr)) == "pyspark"


def min_count(min_support: float, n_baskets: int) -> int:
    """Smallest basket count ``c`` with ``c / n_baskets >= min_support`` (a float test, as the
    embedded miner and mlxtend make it); at least 1."""
    m = max(1, math.ceil(min_support * n_baskets))
    while m > 1 and (m - 1) / n_baskets >= min_support:
        m -= 1
    while m / n_baskets < min_support:
        m += 1
    return m


def frequent_itemsets(
    pairs: ir.Table, *, min_support: float, max_len: int | None = None
) -> tuple[pd.DataFrame, int]:
    """Frequent itemsets of the baskets in ``pairs``, mined by Spark MLlib's FP-Growth.

    Parameters
    ----------
    pairs
        An Ibis table on the spark engine with columns ``basket`` and ``item`` (one row per
        item in a basket; repeats are merged, rows with a null basket or item are left out).
    min_support
        Share of baskets an itemset must be in, ``0 < min_support <= 1``.
    max_len
        Longest itemset kept (``None``: no cap). FP-Growth has no such option, so longer
        itemsets are mined and dropped.

    Returns
    -------
    (pandas.DataFrame, int)
        Columns ``items`` (tuple of item names, sorted) and ``count`` (baskets holding all of
        them), every frequent itemset of one item and more, sorted by size then items; and the
        number of baskets.

    Raises
    ------
    DataError
        ``pairs`` does not live on the spark engine or lacks a column.
    ConfigError
        ``min_support`` or ``max_len`` is out of range.
    """
    if not 0 < float(min_support) <= 1:
        raise ConfigError(f"parameter 'min_support' must be in (0, 1]; got {min_support!r}")
    if max_len is not None and (isinstance(max_len, bool) or int(max_len) < 1):
        raise ConfigError(f"parameter 'max_len' must be a whole number >= 1; got {max_len!r}")
    missing = [c for c in ("basket", "item") if c not in pairs.columns]
    if missing:
        raise DataError(f"basket pairs lack column(s) {', '.join(missing)}", column=missing[0])
    con = backend_of(pairs)
    if backend_name(con) != "pyspark":
        raise DataError(
            "frequent_itemsets mines with Spark MLlib: the basket pairs must live on the spark "
            f"engine, not on {backend_name(con)}"
        )
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    clean = pairs.select(basket=pairs.basket.cast("string"), item=pairs.item.cast("string")).filter(
        lambda t: t.basket.notnull() & t.item.notnull()
    )
    frame: Any = con._session.sql(con.compile(clean))
    grouped = frame.groupBy("basket").agg(F.array_sort(F.collect_set("item")).alias("items"))
    grouped = grouped.persist()
    try:
        n = int(grouped.count())
        if n == 0:
            return pd.DataFrame({"items": pd.Series(dtype=object), "count": []}), 0
        need = min_count(float(min_support), n)
        # FP-Growth keeps itemsets with freq >= ceil(minSupport * n): ask for exactly ``need``
        model = FPGrowth(itemsCol="items", minSupport=(need - 0.5) / n).fit(grouped)
        found = model.freqItemsets
        if max_len is not None:
            found = found.filter(F.size("items") <= int(max_len))
        out = found.select(F.array_sort("items").alias("items"), "freq").toPandas()
    finally:
        grouped.unpersist()
    out = pd.DataFrame(
        {
            "items": [tuple(str(i) for i in items) for items in out["items"]],
            "count": out["freq"].astype("int64").to_numpy(),
        }
    )
    order = sorted(range(len(out)), key=lambda i: (len(out["items"][i]), out["items"][i]))
    return out.iloc[order].reset_index(drop=True), n
