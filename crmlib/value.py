"""Where customer value sits: per segment and score cell, in the value matrix, across customers.

* :func:`segment_overview` and :func:`segment_grid`: customers, orders and revenue per segment
  of a :class:`crmlib.segments.Segmentation`, and customers per score cell.
* :func:`value_quadrants` and :func:`value_matrix`: the order count × average order value matrix,
  a view of value that needs no scoring (quadrants defined in ``params/segments.yaml``).
* :func:`pareto`, :func:`lorenz_curve` and :func:`gini`: how concentrated revenue is.

Results carry keys (segment, quadrant), never display names: :mod:`crmlib.present.rfm` writes
them in the report's language.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.config import check_choice, check_range, load_params
from crmlib.errors import ConfigError, DataError
from crmlib.rfm import SPLITS
from crmlib.segments import PARAMS_FILE, Segmentation, check_bilingual

__all__ = [
    "segment_overview",
    "segment_grid",
    "value_matrix_spec",
    "value_quadrants",
    "value_matrix",
    "pareto",
    "lorenz_curve",
    "gini",
]

#: Top shares of customers whose revenue share :func:`pareto` reports by default.
_TOPS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


def segment_overview(segmentation: Segmentation) -> pd.DataFrame:
    """Customers, orders and revenue per segment, in the scheme's display order.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (key), ``customers``, ``share_customers``, ``orders``, ``revenue``,
        ``share_revenue``, ``aov`` (revenue / orders), ``mean_recency`` (days), ``colour``.
        Segments without customers are kept with zeros. Names and suggested actions in a
        language: :func:`crmlib.present.rfm.segment_overview`.
    """
    cust = segmentation.customers
    grouped = cust.groupby("segment").agg(
        customers=("customer_id", "size"),
        orders=("orders", "sum"),
        revenue=("monetary", "sum"),
        mean_recency=("recency_days", "mean"),
    )
    segs = segmentation.scheme.segments
    out = grouped.reindex(segs["segment"]).reset_index()
    out[["customers", "orders"]] = out[["customers", "orders"]].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    n, rev = out["customers"].sum(), out["revenue"].sum()
    out["share_customers"] = out["customers"] / n if n else np.nan
    out["share_revenue"] = out["revenue"] / rev if rev else np.nan
    out["aov"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    out["colour"] = segs["colour"].to_numpy()
    return out[
        [
            "segment",
            "customers",
            "share_customers",
            "orders",
            "revenue",
            "share_revenue",
            "aov",
            "mean_recency",
            "colour",
        ]
    ]


def segment_grid(segmentation: Segmentation) -> pd.DataFrame:
    """Customer counts per score cell, for the R × FM (or R × F·M) heatmap.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.

    Returns
    -------
    pandas.DataFrame
        One row per cell of the scheme: ``row`` (the R level label), ``column`` (the labels of the
        other dimensions, e.g. FM score or F·M high/low), ``cell``, ``customers``, ``segment``.
        Rows run from the most recent level down. Segment names in a language:
        :func:`crmlib.present.rfm.segment_grid`.
    """
    sch = segmentation.scheme
    counts = segmentation.customers["cell"].value_counts()
    cmap = sch.cell_map
    rows = [
        {
            "row": cell[0],
            "column": cell[1:],
            "cell": cell,
            "customers": int(counts.get(cell, 0)),
            "segment": cmap[cell],
        }
        for cell in sch.cells
    ]
    out = pd.DataFrame(rows)
    rank = {lvl: i for i, lvl in enumerate(sch.levels)}
    out["_r"] = out["row"].map(rank)
    return (
        out.sort_values(["_r", "column"], ascending=[False, True])
        .drop(columns="_r")
        .reset_index(drop=True)
    )


# --------------------------------------------------------------------------------------------
# Value matrix
# --------------------------------------------------------------------------------------------


def value_matrix_spec(
    *, params: str | Path | Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The quadrants of the value matrix, validated, in display order.

    Parameters
    ----------
    params
        Overrides merged over ``segments.yaml`` (a mapping, or the path of a YAML file).

    Returns
    -------
    dict
        Quadrant key -> ``name`` (``{"en": ..., "zh": ...}``), ``orders`` and ``aov`` (``"high"``
        or ``"low"``) and ``colour``.

    Raises
    ------
    ConfigError
        Naming the file, the key and the value when a quadrant is malformed or the four
        orders × aov high/low combinations are not each defined exactly once.
    """
    spec = load_params(PARAMS_FILE, params).get("value_matrix") or {}
    where = f"{PARAMS_FILE}: value_matrix"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must map quadrant keys to quadrants; got {spec!r}")
    for key, q in spec.items():
        if not isinstance(q, Mapping):
            raise ConfigError(f"{where}.{key} must be a mapping; got {q!r}")
        check_bilingual(f"{where}.{key}.name", q.get("name"))
        for axis in ("orders", "aov"):
            if q.get(axis) not in ("high", "low"):
                raise ConfigError(
                    f"{where}.{key}.{axis} must be 'high' or 'low'; got {q.get(axis)!r}"
                )
    combos = sorted((q["orders"], q["aov"]) for q in spec.values())
    if combos != sorted(product(("high", "low"), repeat=2)):
        raise ConfigError(
            f"{where} must define exactly one quadrant for each orders × aov high/low "
            f"combination; got {combos}"
        )
    return {str(key): dict(q) for key, q in spec.items()}


def value_quadrants(
    table: pd.DataFrame,
    *,
    split: str = "mean",
    params: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Place every customer in the order count × average order value matrix.

    Parameters
    ----------
    table
        Output of :func:`crmlib.rfm.rfm_table` (or ``Segmentation.customers``).
    split
        ``"mean"`` or ``"median"`` of the base; a value equal to the split counts as high.
    params
        Overrides of ``segments.yaml`` (see :func:`value_matrix_spec`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``orders``, ``aov``, ``monetary``, ``orders_split``, ``aov_split``,
        ``quadrant`` (``best``, ``spenders``, ``frequent``, ``uncertain`` as named in
        ``params/segments.yaml``).
    """
    check_choice("split", split, SPLITS)
    spec = value_matrix_spec(params=params)
    out = table[["customer_id", "orders", "aov", "monetary"]]  # a new frame (copy-on-write)
    o_split = float(getattr(out["orders"], split)())
    a_split = float(getattr(out["aov"], split)())
    high_orders = out["orders"].to_numpy() >= o_split
    high_aov = out["aov"].to_numpy() >= a_split
    lookup = {(q["orders"], q["aov"]): key for key, q in spec.items()}
    out["orders_split"] = o_split
    out["aov_split"] = a_split
    # one name per (orders, aov) level: low/low, low/high, high/low, high/high
    names = [lookup.get((o, a)) for o in ("low", "high") for a in ("low", "high")]
    out["quadrant"] = np.asarray(names, dtype=object)[2 * high_orders + high_aov]
    return out


def value_matrix(
    table: pd.DataFrame,
    *,
    split: str = "mean",
    params: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Customers and revenue per value-matrix quadrant.

    Parameters
    ----------
    table
        Output of :func:`crmlib.rfm.rfm_table` (or ``Segmentation.customers``).
    split
        As in :func:`value_quadrants`.
    params
        Overrides of ``segments.yaml`` (see :func:`value_matrix_spec`).

    Returns
    -------
    pandas.DataFrame
        ``quadrant``, ``orders_level``, ``aov_level``, ``customers``, ``share_customers``,
        ``revenue``, ``share_revenue``, ``orders_split``, ``aov_split``, ``colour``; in the
        order of ``params/segments.yaml``. Quadrant names in a language:
        :func:`crmlib.present.rfm.value_matrix`.
    """
    quads = value_quadrants(table, split=split, params=params)
    spec = value_matrix_spec(params=params)
    grouped = quads.groupby("quadrant").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum")
    )
    out = grouped.reindex(list(spec)).fillna(0).reset_index(names="quadrant")
    out["customers"] = out["customers"].astype("int64")
    n, rev = out["customers"].sum(), out["revenue"].sum()
    out["share_customers"] = out["customers"] / n if n else np.nan
    out["share_revenue"] = out["revenue"] / rev if rev else np.nan
    out["orders_level"] = [spec[k]["orders"] for k in out["quadrant"]]
    out["aov_level"] = [spec[k]["aov"] for k in out["quadrant"]]
    out["colour"] = [str(spec[k].get("colour", "#6b6b6b")) for k in out["quadrant"]]
    out["orders_split"] = float(quads["orders_split"].iloc[0]) if len(quads) else np.nan
    out["aov_split"] = float(quads["aov_split"].iloc[0]) if len(quads) else np.nan
    return out[
        [
            "quadrant",
            "orders_level",
            "aov_level",
            "customers",
            "share_customers",
            "revenue",
            "share_revenue",
            "orders_split",
            "aov_split",
            "colour",
        ]
    ]


# --------------------------------------------------------------------------------------------
# Revenue concentration
# --------------------------------------------------------------------------------------------


def _revenue(table: pd.DataFrame) -> np.ndarray:
    """Net revenue per customer, negatives (net returners) counted as 0, sorted ascending."""
    if "monetary" not in table:
        raise DataError(
            "the table lacks column monetary; build it with rfm_table()", column="monetary"
        )
    values = np.clip(table["monetary"].to_numpy(dtype=float), 0.0, None)
    return np.sort(values)


def pareto(table: pd.DataFrame, *, tops: Iterable[float] = _TOPS) -> pd.DataFrame:
    """Revenue share of the top customers.

    Customers are ranked by net revenue; the top ``x`` share is the ``ceil(x * n)`` customers
    with the highest revenue. Customers whose returns exceed their purchases count as 0.

    Parameters
    ----------
    table
        Per-customer table with ``monetary`` (output of :func:`crmlib.rfm.rfm_table`).
    tops
        Shares of customers, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        ``top_share``, ``customers``, ``revenue``, ``share_revenue`` per requested share.
    """
    values = _revenue(table)[::-1]
    n, total = len(values), float(values.sum())
    cum = np.concatenate([[0.0], np.cumsum(values)])
    rows = []
    for x in tops:
        check_range("tops", x, low=0, high=1, low_inclusive=False)
        k = min(n, max(1, math.ceil(round(x * n, 9)))) if n else 0
        rows.append(
            {
                "top_share": float(x),
                "customers": int(k),
                "revenue": float(cum[k]),
                "share_revenue": float(cum[k] / total) if total else np.nan,
            }
        )
    return pd.DataFrame(rows)


def lorenz_curve(table: pd.DataFrame, *, points: int = 201) -> pd.DataFrame:
    """Points of the Lorenz curve of net revenue over customers (poorest first).

    Parameters
    ----------
    table
        Per-customer table with ``monetary``.
    points
        At most this many points, evenly spaced in customer share (0 and 1 included).

    Returns
    -------
    pandas.DataFrame
        ``share_customers`` and ``share_revenue`` (cumulative), from (0, 0) to (1, 1).
    """
    check_range("points", points, low=2)
    values = _revenue(table)
    n, total = len(values), float(values.sum())
    cum = np.concatenate([[0.0], np.cumsum(values)]) / (total if total else 1.0)
    if total:
        cum[-1] = 1.0  # exact end point despite rounding in the running sum
    idx = np.unique(np.round(np.linspace(0, n, min(int(points), n + 1))).astype(np.int64))
    return pd.DataFrame({"share_customers": idx / max(n, 1), "share_revenue": cum[idx]})


def gini(table: pd.DataFrame) -> float:
    """Gini coefficient of net revenue over customers (0 = equal, 1 = one customer has all).

    Uses G = 2 Σ i·x_(i) / (n Σ x) − (n + 1) / n on values sorted ascending (i = 1..n);
    negative net revenue counts as 0.

    Parameters
    ----------
    table
        Per-customer table with ``monetary``.

    Returns
    -------
    float
        The coefficient; NaN when there is no customer or no revenue.
    """
    values = _revenue(table)
    n, total = len(values), float(values.sum())
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1, dtype=float)
    return float(2.0 * np.dot(i, values) / (n * total) - (n + 1) / n)
