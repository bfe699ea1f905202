"""Customer value: RFM scores and segments, the value matrix and the Pareto view of revenue.

The steps a report takes:

1. :func:`rfm_table` aggregates the transactions (through Ibis) into one row per identified
   customer: recency, frequency and monetary value as of a reference date.
2. :func:`segment_rfm` scores R, F and M (quantiles, your own bin edges, or high/low against the
   mean, median or thresholds) and maps the scores to the segments of a scheme defined as data in
   ``params/segments.yaml`` (:func:`load_scheme`). Recency is always scored so that a HIGH score
   means a RECENT purchase.
3. :func:`segment_overview`, :func:`value_matrix`, :func:`pareto`, :func:`lorenz_curve`,
   :func:`gini` and :func:`member_share` summarise the result; the ``*_findings`` functions write
   the executive text; :func:`export_segments` writes the customer lists.

Definitions used throughout
---------------------------
* An *order* is one ``order_id`` of a customer; its value is the sum of its lines, so returns
  (negative lines) reduce it. An order whose net value is negative (a pure return or refund) is
  not a purchase: it reduces monetary value but counts towards neither frequency nor recency.
* *Anonymous* sales (``customer_id`` null or blank) have no RFM; :func:`member_share` counts them.
* Customers whose every order before ``as_of`` is a return have no purchase and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from crmlib.config import check_choice, check_range, merge, params_path, read_yaml
from crmlib.data import PERSONAL_FIELDS, as_table, execute, resolve_as_of
from crmlib.errors import ConfigError, DataError
from crmlib.i18n import check_language, labels, t
from crmlib.reporting import md_escape

__all__ = [
    "METRICS",
    "Scheme",
    "Scores",
    "Segmentation",
    "rfm_table",
    "score_rfm",
    "load_scheme",
    "scheme_names",
    "assign_segments",
    "segment_rfm",
    "segment_overview",
    "segment_grid",
    "value_quadrants",
    "value_matrix",
    "pareto",
    "lorenz_curve",
    "gini",
    "member_share",
    "export_segments",
    "export_lists",
    "display_table",
    "headline_findings",
    "scoring_note",
    "value_matrix_findings",
    "pareto_findings",
    "member_share_findings",
]

#: The three scored metrics, in score order.
METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
#: Column of the RFM table each metric is scored from (monetary may use ``aov`` instead).
_METRIC_COLUMN = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary"}
_SCORE_COLUMN = {"recency": "r_score", "frequency": "f_score", "monetary": "m_score"}
_DIMENSIONS = ("r", "f", "m", "fm")
_SCORINGS = ("quantile", "edges", "highlow")
_SPLITS = ("mean", "median")
_TOPS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)
#: Decimals kept in per-customer money totals (far below any currency's smallest unit).
_MONEY_DECIMALS = 6


# --------------------------------------------------------------------------------------------
# RFM table
# --------------------------------------------------------------------------------------------


def _window(transactions: Any, as_of: Any) -> tuple[ir.Table, pd.Timestamp]:
    """Canonical transactions up to the end of the ``as_of`` day, and that day."""
    t_ = as_table(transactions)
    day = resolve_as_of(t_, as_of)
    end = ibis.literal((day + pd.Timedelta(days=1)).to_pydatetime(), type="timestamp")
    return t_.filter(t_.ordered_at < end), day


def _is_member(t_: ir.Table) -> ir.BooleanValue:
    return t_.customer_id.notnull() & (t_.customer_id.strip() != "")


def rfm_table(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    frequency: str = "orders",
) -> pd.DataFrame:
    """Recency, frequency and monetary value per identified customer.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema: a pandas DataFrame, CSV/Parquet path or Ibis table
        (see :func:`crmlib.data.as_table`).
    as_of
        Reference date (ISO string, date or Timestamp). Lines after that day are ignored. ``None``
        or ``""`` means the date of the last transaction in the data.
    frequency
        ``"orders"`` (distinct purchase orders) or ``"days"`` (distinct purchase days, so several
        orders on one day count once). Both are returned; this chooses the ``frequency`` column.

    Returns
    -------
    pandas.DataFrame
        One row per customer with at least one purchase, sorted by ``customer_id``: ``customer_id``,
        ``first_purchase``, ``last_purchase``, ``recency_days`` (whole days from the last purchase
        day to ``as_of``; 0 = bought on the reference day), ``orders``, ``purchase_days``,
        ``frequency``, ``monetary`` (net revenue: sales minus returns, rounded to 6 decimals so that
        equal totals tie exactly), ``aov`` (monetary / orders)
        and ``as_of``.
    """
    check_choice("frequency", frequency, ("orders", "days"))
    window, day = _window(transactions, as_of)
    members = window.filter(_is_member(window))
    order_key = ibis.coalesce(members.order_id, members.ordered_at.cast("string"))
    orders = members.group_by(customer_id=members.customer_id, order_key=order_key).aggregate(
        # Rounded so an order whose lines cancel out is exactly 0, not -1e-15 (see below).
        amount=members.amount.fill_null(0).sum().round(_MONEY_DECIMALS),
        ordered_at=members.ordered_at.min(),
    )
    bought = orders.amount >= 0
    per_customer = (
        orders.group_by("customer_id")
        .aggregate(
            first_purchase=orders.ordered_at.min(where=bought),
            last_purchase=orders.ordered_at.max(where=bought),
            # COUNT, not a SUM of flags: DuckDB sums integers into a 128-bit type, which reaches
            # pandas as a column of Python Decimal objects (slow, and memory per customer).
            orders=orders.amount.count(where=bought),
            purchase_days=orders.ordered_at.date().nunique(where=bought),
            monetary=orders.amount.sum(),
        )
        .filter(lambda s: s.orders > 0)
        .order_by("customer_id")
    )
    out = execute(per_customer)
    out["customer_id"] = out["customer_id"].astype(str)
    for col in ("first_purchase", "last_purchase"):
        out[col] = pd.to_datetime(out[col])
        if getattr(out[col].dt, "tz", None) is not None:
            out[col] = out[col].dt.tz_localize(None)
    out["orders"] = out["orders"].astype("int64")
    out["purchase_days"] = out["purchase_days"].astype("int64")
    # Round away floating-point summation noise (1e-13 of a total): equal totals must tie
    # whatever order the engine added the lines in, or tie-broken ranks would depend on it.
    out["monetary"] = out["monetary"].astype("float64").round(_MONEY_DECIMALS)
    out["recency_days"] = (day - out["last_purchase"].dt.normalize()).dt.days.astype("int64")
    out["frequency"] = out["orders"] if frequency == "orders" else out["purchase_days"]
    out["aov"] = out["monetary"] / out["orders"]
    out["as_of"] = day
    cols = [
        "customer_id",
        "first_purchase",
        "last_purchase",
        "recency_days",
        "orders",
        "purchase_days",
        "frequency",
        "monetary",
        "aov",
        "as_of",
    ]
    return out[cols].reset_index(drop=True)


def member_share(transactions: Any, *, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Share of net revenue, orders and lines from identified members versus anonymous sales.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema (see :func:`rfm_table`).
    as_of
        Reference date, as in :func:`rfm_table`.

    Returns
    -------
    pandas.DataFrame
        Rows ``buyer`` = ``member`` and ``anonymous`` with ``revenue``, ``share_revenue``,
        ``orders``, ``share_orders``, ``lines``.
    """
    window, _ = _window(transactions, as_of)
    tagged = window.mutate(
        buyer=ibis.ifelse(_is_member(window), "member", "anonymous"),
        order_key=ibis.coalesce(window.order_id, window.ordered_at.cast("string")),
    )
    agg = tagged.group_by("buyer").aggregate(
        revenue=tagged.amount.fill_null(0).sum(),
        orders=tagged.order_key.nunique(),
        lines=tagged.count(),
    )
    out = execute(agg).set_index("buyer").reindex(["member", "anonymous"])
    out = out.fillna(0)
    out["orders"] = out["orders"].astype("int64")
    out["lines"] = out["lines"].astype("int64")
    total_rev, total_orders = out["revenue"].sum(), out["orders"].sum()
    out["share_revenue"] = out["revenue"] / total_rev if total_rev else np.nan
    out["share_orders"] = out["orders"] / total_orders if total_orders else np.nan
    out = out.reset_index()
    return out[["buyer", "revenue", "share_revenue", "orders", "share_orders", "lines"]]


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Scores of every customer and the bin edges that produced them.

    Attributes
    ----------
    table
        The RFM table with ``r_score``, ``f_score``, ``m_score`` (1 = lowest; for recency 1 = the
        longest ago) and ``fm_score`` = ceil((f_score + m_score) / 2).
    edges
        One row per metric and score: ``metric``, ``score``, ``lower``, ``upper``, ``customers``,
        in the metric's own unit (days for recency). For quantile scoring ``lower``/``upper`` are
        the smallest and largest value that received the score (tied values can straddle two
        scores); for edges and high/low scoring they are the configured bounds.
    scoring
        ``"quantile"``, ``"edges"`` or ``"highlow"``.
    rule
        Human-readable statement of how ties and bounds were treated.
    """

    table: pd.DataFrame
    edges: pd.DataFrame
    scoring: str
    rule: str


def _sorted_by_id(table: pd.DataFrame) -> pd.DataFrame:
    ids = table["customer_id"]
    if ids.is_monotonic_increasing:
        return table.reset_index(drop=True)
    return table.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _quantile_scores(oriented: np.ndarray, bins: int) -> np.ndarray:
    """Equal-count bins on ranks with ties broken by the current (customer_id) order.

    Position p (0-based) in the stable ascending order gets score floor(p * bins / n) + 1, i.e.
    the pandas ``rank(method="first")`` of the value, cut into ``bins`` equal-count groups.
    """
    n = len(oriented)
    order = np.argsort(oriented, kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n, dtype=np.int64)
    return (pos * bins // max(n, 1) + 1).astype(np.int64)


def _check_edges(metric: str, raw: Any) -> np.ndarray:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 3:
        raise ConfigError(
            f"parameter 'edges' for {metric} must be a list of at least 3 increasing numbers; got {raw!r}"
        )
    arr = np.asarray([float(x) for x in raw], dtype=float)
    if np.isnan(arr).any() or not (np.diff(arr) > 0).all():
        raise ConfigError(
            f"parameter 'edges' for {metric} must be strictly increasing; got {raw!r}"
        )
    return arr


def _edge_scores(metric: str, values: np.ndarray, edges: np.ndarray, ids: pd.Series) -> np.ndarray:
    outside = (values < edges[0]) | (values > edges[-1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ConfigError(
            f"parameter 'edges' for {metric} ({edges.tolist()}) does not cover value {float(values[i]):g} "
            f"of customer {ids.iloc[i]!r}; widen the first/last edge (use -.inf/.inf)"
        )
    k = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, values, side="right"), 1, k)  # [e_i, e_i+1), last closed
    return (k + 1 - idx if metric == "recency" else idx).astype(np.int64)


def score_rfm(
    table: pd.DataFrame,
    *,
    scoring: str = "quantile",
    bins: int = 5,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
    monetary: str = "total",
) -> Scores:
    """Score recency, frequency and monetary value; high scores are better, high R = recent.

    Parameters
    ----------
    table
        Output of :func:`rfm_table`.
    scoring
        ``"quantile"``: ``bins`` equal-count groups of the values ranked with ties broken by
        ``customer_id`` (pandas ``rank(method="first")`` after sorting by id), so a base where most
        customers bought once still gets every score (``pd.qcut`` fails there). ``"edges"``: your
        own bin edges per metric (``edges``). ``"highlow"``: 2 = high, 1 = low against ``split``.
    bins
        Number of quantile scores (2–10).
    edges
        For ``scoring="edges"``: ``{"recency": [0, 30, 90, 180, 365, .inf], "frequency": [...],
        "monetary": [...]}``, strictly increasing, in the metric's unit (days for recency). Bins
        are ``[lower, upper)`` with the last one closed. Recency bins score in reverse: the bin
        nearest 0 days gets the top score.
    split
        For ``scoring="highlow"``: ``"mean"`` or ``"median"`` of the base, or thresholds
        ``{"recency": 90, "frequency": 2, "monetary": 500}``. Tie rule: a value EQUAL to the
        reference counts as HIGH (for recency: days <= reference is high = recent). Beware the
        median on a base where most customers bought once: the median frequency is then 1 and
        every customer is high F (the edges table shows 0 customers at score 1); the mean
        separates repeat buyers.
    monetary
        ``"total"`` scores net revenue per customer, ``"aov"`` the average order value.

    Returns
    -------
    Scores
        The scored table, the bin edges actually used, the scoring and its tie rule.
    """
    check_choice("scoring", scoring, _SCORINGS)
    check_choice("monetary", monetary, ("total", "aov"))
    missing = [
        c for c in ("customer_id", "recency_days", "frequency", "monetary", "aov") if c not in table
    ]
    if missing:
        raise DataError(
            "the RFM table lacks column(s) " + ", ".join(missing) + "; build it with rfm_table()",
            column=missing[0],
        )
    out = _sorted_by_id(table.copy())
    columns = dict(_METRIC_COLUMN, monetary="monetary" if monetary == "total" else "aov")
    rows: list[dict[str, Any]] = []
    if scoring == "quantile":
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
            raise ConfigError(f"parameter 'bins' must be a whole number; got {bins!r}")
        check_range("bins", int(bins), low=2, high=10)
        bins = int(bins)
        rule = (
            f"{bins} equal-count groups of customers ranked by value; equal values are ordered by "
            "customer_id, so tied values can fall into neighbouring scores"
        )
        for metric in METRICS:
            values = out[columns[metric]].to_numpy(dtype=float)
            oriented = -values if metric == "recency" else values
            scores = _quantile_scores(oriented, bins)
            out[_SCORE_COLUMN[metric]] = scores
            frame = pd.DataFrame({"score": scores, "value": values})
            grouped = frame.groupby("score")["value"].agg(["min", "max", "size"])
            for score in range(1, bins + 1):
                if score in grouped.index:
                    lo, hi, size = grouped.loc[score]
                else:
                    lo, hi, size = np.nan, np.nan, 0
                rows.append(_edge_row(metric, score, lo, hi, int(size)))
    elif scoring == "edges":
        if not isinstance(edges, Mapping) or set(edges) != set(METRICS):
            raise ConfigError(
                "parameter 'edges' must map each of recency, frequency, monetary to a list of bin "
                f"edges; got {edges!r}"
            )
        rule = "bins are [lower, upper) with the last bin closed; recency bins score in reverse"
        for metric in METRICS:
            arr = _check_edges(metric, edges[metric])
            values = out[columns[metric]].to_numpy(dtype=float)
            scores = _edge_scores(metric, values, arr, out["customer_id"])
            out[_SCORE_COLUMN[metric]] = scores
            k = len(arr) - 1
            counts = np.bincount(scores, minlength=k + 1)
            for i in range(k):
                score = k - i if metric == "recency" else i + 1
                rows.append(_edge_row(metric, score, arr[i], arr[i + 1], int(counts[score])))
    else:
        if isinstance(split, Mapping):
            if set(split) != set(METRICS):
                raise ConfigError(
                    "parameter 'split' as thresholds must give recency, frequency and monetary; "
                    f"got {dict(split)!r}"
                )
            refs = {m: float(check_range(f"split.{m}", split[m])) for m in METRICS}
            how = "the given thresholds"
        else:
            check_choice("split", split, _SPLITS)
            refs = {
                m: float(getattr(out[columns[m]], split)()) if len(out) else np.nan for m in METRICS
            }
            how = f"the {split} of the base"
        rule = (
            f"high/low against {how}; a value equal to the reference counts as high "
            "(recency: days since the last purchase <= reference is high = recent)"
        )
        for metric in METRICS:
            values = out[columns[metric]].to_numpy(dtype=float)
            ref = refs[metric]
            high = values <= ref if metric == "recency" else values >= ref
            out[_SCORE_COLUMN[metric]] = np.where(high, 2, 1).astype(np.int64)
            lo_v = float(values.min()) if len(values) else np.nan
            hi_v = float(values.max()) if len(values) else np.nan
            n_high = int(high.sum())
            if metric == "recency":
                rows.append(_edge_row(metric, 1, ref, hi_v, len(values) - n_high))
                rows.append(_edge_row(metric, 2, lo_v, ref, n_high))
            else:
                rows.append(_edge_row(metric, 1, lo_v, ref, len(values) - n_high))
                rows.append(_edge_row(metric, 2, ref, hi_v, n_high))
    out["fm_score"] = np.ceil((out["f_score"] + out["m_score"]) / 2).astype(np.int64)
    edges_df = pd.DataFrame(rows, columns=["metric", "score", "lower", "upper", "customers"])
    return Scores(table=out, edges=edges_df, scoring=scoring, rule=rule)


def _edge_row(metric: str, score: int, lower: float, upper: float, customers: int) -> dict:
    return {
        "metric": metric,
        "score": int(score),
        "lower": float(lower),
        "upper": float(upper),
        "customers": int(customers),
    }


# --------------------------------------------------------------------------------------------
# Segment schemes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """A validated segment scheme (see ``params/segments.yaml``).

    Attributes
    ----------
    key
        Name of the scheme (``"cn8"``, ``"en11"`` or the user's).
    name
        ``{"en": ..., "zh": ...}`` title.
    dimensions
        Score columns the cells are built from (``r``, ``f``, ``m``, ``fm``).
    levels
        Label of score 1, 2, ... on every dimension.
    scoring
        Default scoring (``quantile``, ``edges`` or ``highlow``).
    segments
        One row per segment in display order: ``segment``, ``order``, ``name_en``, ``name_zh``,
        ``action_en``, ``action_zh``, ``colour``, ``cells`` (list of cell codes).
    """

    key: str
    name: dict[str, str]
    dimensions: tuple[str, ...]
    levels: tuple[str, ...]
    scoring: str
    segments: pd.DataFrame

    @property
    def cell_map(self) -> dict[str, str]:
        """Cell code -> segment key."""
        return {c: row.segment for row in self.segments.itertuples() for c in row.cells}

    def segment_name(self, segment: str, *, language: str = "en") -> str:
        """Display name of ``segment`` in ``language``."""
        check_language(language)
        row = self.segments.loc[self.segments["segment"] == segment]
        if row.empty:
            raise ConfigError(
                f"scheme {self.key!r} has no segment {segment!r}; "
                f"segments: {', '.join(self.segments['segment'])}"
            )
        return str(row[f"name_{language}"].iloc[0])


def _shipped_segments_file() -> Path:
    local = params_path("segments.yaml")
    if local.exists():
        return local
    return Path(__file__).resolve().parents[1] / "params" / "segments.yaml"


def _segments_params(params_file: str | Path | None = None) -> dict[str, Any]:
    base = read_yaml(_shipped_segments_file()) or {}
    if params_file is not None:
        base = merge(base, read_yaml(params_file) or {})
    return base


def scheme_names(*, params_file: str | Path | None = None) -> list[str]:
    """Names of the schemes defined in ``params/segments.yaml`` (plus ``params_file``)."""
    return list((_segments_params(params_file).get("schemes") or {}).keys())


def _bilingual(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(lang), str) and value.get(lang) for lang in ("en", "zh")
    ):
        raise ConfigError(f"{where} must give text for both en and zh; got {value!r}")
    return {"en": str(value["en"]), "zh": str(value["zh"])}


def _validate_scheme(key: str, spec: Any) -> Scheme:
    where = f"segment scheme {key!r}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a mapping with dimensions, levels and segments")
    dims = spec.get("dimensions")
    if not isinstance(dims, Sequence) or isinstance(dims, str) or not dims:
        raise ConfigError(f"{where}: 'dimensions' must be a list drawn from {_DIMENSIONS}")
    for d in dims:
        check_choice(f"{key}.dimensions", d, _DIMENSIONS)
    levels = [str(x) for x in spec.get("levels") or []]
    if len(levels) < 2 or len(set(levels)) != len(levels) or any(len(x) != 1 for x in levels):
        raise ConfigError(
            f"{where}: 'levels' must list at least 2 distinct one-character labels; got {levels!r}"
        )
    scoring = check_choice(f"{key}.scoring", spec.get("scoring", "quantile"), _SCORINGS)
    if scoring == "highlow" and len(levels) != 2:
        raise ConfigError(f"{where}: highlow scoring needs exactly 2 levels; got {levels!r}")
    segs = spec.get("segments")
    if not isinstance(segs, Sequence) or not segs:
        raise ConfigError(f"{where}: 'segments' must be a non-empty list")
    universe = {"".join(c) for c in product(levels, repeat=len(dims))}
    owner: dict[str, list[str]] = {}
    rows = []
    for i, seg in enumerate(segs):
        if not isinstance(seg, Mapping) or not seg.get("key"):
            raise ConfigError(f"{where}: segment #{i + 1} needs a 'key'")
        skey = str(seg["key"])
        name = _bilingual(f"{where}, segment {skey!r} name", seg.get("name"))
        action = _bilingual(f"{where}, segment {skey!r} action", seg.get("action"))
        cells = [str(c) for c in seg.get("cells") or []]
        unknown = [c for c in cells if c not in universe]
        if unknown:
            raise ConfigError(
                f"{where}, segment {skey!r}: cell(s) {', '.join(unknown)} are not combinations of "
                f"levels {levels} over dimensions {list(dims)}"
            )
        for c in cells:
            owner.setdefault(c, []).append(skey)
        rows.append(
            {
                "segment": skey,
                "order": i + 1,
                "name_en": name["en"],
                "name_zh": name["zh"],
                "action_en": action["en"],
                "action_zh": action["zh"],
                "colour": str(seg.get("colour") or "#6b6b6b"),
                "cells": cells,
            }
        )
    keys = [r["segment"] for r in rows]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{where}: segment keys repeat: {keys}")
    missing = sorted(universe - set(owner))
    overlapping = {c: s for c, s in sorted(owner.items()) if len(s) > 1}
    if missing or overlapping:
        parts = []
        if missing:
            parts.append("missing cell(s) " + ", ".join(missing))
        if overlapping:
            parts.append(
                "overlapping cell(s) "
                + "; ".join(f"{c} in {' and '.join(s)}" for c, s in overlapping.items())
            )
        raise ConfigError(
            f"{where} is not a complete partition of the score combinations: {'; '.join(parts)} "
            f"(cells are one label of {levels} per dimension {list(dims)})"
        )
    name = spec.get("name") or {"en": key, "zh": key}
    return Scheme(
        key=key,
        name=_bilingual(f"{where} name", name),
        dimensions=tuple(dims),
        levels=tuple(levels),
        scoring=scoring,
        segments=pd.DataFrame(rows),
    )


def load_scheme(
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    *,
    params_file: str | Path | None = None,
) -> Scheme:
    """Load and validate a segment scheme.

    Parameters
    ----------
    scheme
        A scheme name from ``params/segments.yaml`` (``"cn8"``, ``"en11"``), the path of a YAML
        file holding one scheme (the mapping with ``dimensions``, ``levels``, ``segments``), or
        that mapping as a dict. A :class:`Scheme` is returned unchanged.
    params_file
        Optional YAML file merged over ``params/segments.yaml`` (e.g. a report's own schemes).

    Raises
    ------
    ConfigError
        When the scheme is unknown, malformed, or not a complete partition of the score
        combinations (the message names the missing and overlapping cells).
    """
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, Mapping):
        return _validate_scheme(str(scheme.get("key", "custom")), scheme)
    text = str(scheme)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        spec = read_yaml(text)
        if isinstance(spec, Mapping) and "schemes" in spec and "segments" not in spec:
            found = list(spec["schemes"] or {})
            if len(found) != 1:
                raise ConfigError(
                    f"scheme file {text!r} must hold exactly one scheme; found {found or 'none'}"
                )
            return _validate_scheme(found[0], spec["schemes"][found[0]])
        return _validate_scheme(Path(text).stem, spec)
    schemes = _segments_params(params_file).get("schemes") or {}
    check_choice("scheme", text, list(schemes))
    return _validate_scheme(text, schemes[text])


def assign_segments(scored: pd.DataFrame, *, scheme: str | Scheme = "cn8") -> pd.DataFrame:
    """Map each customer's scores to a segment of ``scheme``.

    Parameters
    ----------
    scored
        ``Scores.table`` from :func:`score_rfm` (needs the score columns the scheme uses).
    scheme
        Scheme name or :class:`Scheme`.

    Returns
    -------
    pandas.DataFrame
        ``scored`` with ``cell`` (the cell code, e.g. ``"HHL"`` or ``"54"``) and ``segment``.
    """
    sch = load_scheme(scheme)
    n_levels = len(sch.levels)
    index = np.zeros(len(scored), dtype=np.int64)
    for d in sch.dimensions:
        col = f"{d}_score"
        if col not in scored:
            raise DataError(f"scores lack {col}; score the table with score_rfm()", column=col)
        s = scored[col].to_numpy(dtype=np.int64)
        bad = (s < 1) | (s > n_levels)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"scheme {sch.key!r} has {n_levels} levels but {col} of customer "
                f"{scored['customer_id'].iloc[i]!r} is {int(s[i])}; use bins={n_levels} "
                f"or scoring='{sch.scoring}'"
            )
        index = index * n_levels + (s - 1)
    cells = ["".join(c) for c in product(sch.levels, repeat=len(sch.dimensions))]
    cmap = sch.cell_map
    out = scored.copy()
    out["cell"] = np.asarray(cells, dtype=object)[index]
    out["segment"] = np.asarray([cmap[c] for c in cells], dtype=object)[index]
    return out


@dataclass(frozen=True)
class Segmentation:
    """Scores and segments of every customer.

    Attributes
    ----------
    customers
        Per customer: the RFM table, ``r_score``/``f_score``/``m_score``/``fm_score``, ``cell``
        and ``segment`` (the segment key).
    edges
        The bin edges actually used (see :class:`Scores`).
    scheme
        The :class:`Scheme`.
    scoring
        The scoring used.
    rule
        The tie rule of the scoring.
    """

    customers: pd.DataFrame
    edges: pd.DataFrame
    scheme: Scheme
    scoring: str
    rule: str


def segment_rfm(
    table: pd.DataFrame,
    *,
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    scoring: str | None = None,
    bins: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    split: str | Mapping[str, float] = "mean",
    monetary: str = "total",
) -> Segmentation:
    """Score the RFM table and assign every customer a segment of ``scheme``.

    Parameters
    ----------
    table
        Output of :func:`rfm_table`.
    scheme
        Scheme name, YAML path, mapping or :class:`Scheme` (see :func:`load_scheme`).
    scoring
        ``None`` or ``""`` uses the scheme's default (``highlow`` for cn8, ``quantile`` for
        en11); otherwise as in :func:`score_rfm`.
    bins
        Quantile bins; ``None`` or 0 means the scheme's number of levels (2 for cn8, 5 for en11).
    edges, split, monetary
        As in :func:`score_rfm`.
    """
    sch = load_scheme(scheme)
    scoring = scoring or sch.scoring
    bins = bins or len(sch.levels)
    if scoring == "quantile" and bins != len(sch.levels):
        raise ConfigError(
            f"parameter 'bins' must be {len(sch.levels)} for scheme {sch.key!r} "
            f"(its levels are {list(sch.levels)}); got {bins!r}"
        )
    if scoring == "highlow" and len(sch.levels) != 2:
        raise ConfigError(
            f"parameter 'scoring' 'highlow' gives 2 levels but scheme {sch.key!r} has "
            f"{len(sch.levels)}; use 'quantile' or 'edges'"
        )
    scores = score_rfm(
        table, scoring=scoring, bins=bins, edges=edges, split=split, monetary=monetary
    )
    segmented = assign_segments(scores.table, scheme=sch)
    return Segmentation(
        customers=segmented, edges=scores.edges, scheme=sch, scoring=scoring, rule=scores.rule
    )


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def segment_overview(segmentation: Segmentation, *, language: str = "en") -> pd.DataFrame:
    """Customers, orders, revenue and suggested action per segment, in display order.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (key), ``name``, ``customers``, ``share_customers``, ``orders``, ``revenue``,
        ``share_revenue``, ``aov`` (revenue / orders), ``mean_recency`` (days), ``action``,
        ``colour``. Segments without customers are kept with zeros.
    """
    check_language(language)
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
    out["name"] = segs[f"name_{language}"].to_numpy()
    out["action"] = segs[f"action_{language}"].to_numpy()
    out["colour"] = segs["colour"].to_numpy()
    return out[
        [
            "segment",
            "name",
            "customers",
            "share_customers",
            "orders",
            "revenue",
            "share_revenue",
            "aov",
            "mean_recency",
            "action",
            "colour",
        ]
    ]


def segment_grid(segmentation: Segmentation, *, language: str = "en") -> pd.DataFrame:
    """Customer counts per score cell, for the R × FM (or R × F·M) heatmap.

    Returns
    -------
    pandas.DataFrame
        One row per cell of the scheme: ``row`` (the R level label), ``column`` (the labels of the
        other dimensions, e.g. FM score or F·M high/low), ``cell``, ``customers``, ``segment``,
        ``name``. Rows run from the most recent level down.
    """
    check_language(language)
    sch = segmentation.scheme
    counts = segmentation.customers["cell"].value_counts()
    names = dict(zip(sch.segments["segment"], sch.segments[f"name_{language}"], strict=True))
    cmap = sch.cell_map
    rows = []
    for cell in ("".join(c) for c in product(sch.levels, repeat=len(sch.dimensions))):
        seg = cmap[cell]
        rows.append(
            {
                "row": cell[0],
                "column": cell[1:],
                "cell": cell,
                "customers": int(counts.get(cell, 0)),
                "segment": seg,
                "name": names[seg],
            }
        )
    out = pd.DataFrame(rows)
    rank = {lvl: i for i, lvl in enumerate(sch.levels)}
    out["_r"] = out["row"].map(rank)
    return (
        out.sort_values(["_r", "column"], ascending=[False, True])
        .drop(columns="_r")
        .reset_index(drop=True)
    )


def _value_params() -> dict[str, Any]:
    spec = _segments_params().get("value_matrix") or {}
    for key, q in spec.items():
        _bilingual(f"value_matrix quadrant {key!r} name", q.get("name"))
        check_choice(f"value_matrix.{key}.orders", q.get("orders"), ("high", "low"))
        check_choice(f"value_matrix.{key}.aov", q.get("aov"), ("high", "low"))
    combos = sorted((q["orders"], q["aov"]) for q in spec.values())
    if combos != sorted(product(("high", "low"), repeat=2)):
        raise ConfigError(
            "value_matrix in params/segments.yaml must define exactly one quadrant for each "
            f"orders × aov high/low combination; got {combos}"
        )
    return dict(spec)


def value_quadrants(table: pd.DataFrame, *, split: str = "mean") -> pd.DataFrame:
    """Place every customer in the order count × average order value matrix.

    Parameters
    ----------
    table
        Output of :func:`rfm_table` (or ``Segmentation.customers``).
    split
        ``"mean"`` or ``"median"`` of the base; a value equal to the split counts as high.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``orders``, ``aov``, ``monetary``, ``orders_split``, ``aov_split``,
        ``quadrant`` (``best``, ``spenders``, ``frequent``, ``uncertain`` as named in
        ``params/segments.yaml``).
    """
    check_choice("split", split, _SPLITS)
    spec = _value_params()
    out = table[["customer_id", "orders", "aov", "monetary"]].copy()
    o_split = float(getattr(out["orders"], split)())
    a_split = float(getattr(out["aov"], split)())
    hi_o = np.where(out["orders"].to_numpy() >= o_split, "high", "low")
    hi_a = np.where(out["aov"].to_numpy() >= a_split, "high", "low")
    lookup = {(q["orders"], q["aov"]): key for key, q in spec.items()}
    out["orders_split"] = o_split
    out["aov_split"] = a_split
    keys = pd.Series(hi_o, dtype=object) + "|" + pd.Series(hi_a, dtype=object)
    out["quadrant"] = keys.map({f"{o}|{a}": k for (o, a), k in lookup.items()}).to_numpy()
    return out


def value_matrix(table: pd.DataFrame, *, split: str = "mean", language: str = "en") -> pd.DataFrame:
    """Customers and revenue per value-matrix quadrant.

    Returns
    -------
    pandas.DataFrame
        ``quadrant``, ``name``, ``orders_level``, ``aov_level``, ``customers``,
        ``share_customers``, ``revenue``, ``share_revenue``, ``orders_split``, ``aov_split``,
        ``colour``; in the order of ``params/segments.yaml``.
    """
    check_language(language)
    quads = value_quadrants(table, split=split)
    spec = _value_params()
    grouped = quads.groupby("quadrant").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum")
    )
    out = grouped.reindex(list(spec)).fillna(0).reset_index(names="quadrant")
    out["customers"] = out["customers"].astype("int64")
    n, rev = out["customers"].sum(), out["revenue"].sum()
    out["share_customers"] = out["customers"] / n if n else np.nan
    out["share_revenue"] = out["revenue"] / rev if rev else np.nan
    out["name"] = [spec[k]["name"][language] for k in out["quadrant"]]
    out["orders_level"] = [spec[k]["orders"] for k in out["quadrant"]]
    out["aov_level"] = [spec[k]["aov"] for k in out["quadrant"]]
    out["colour"] = [str(spec[k].get("colour", "#6b6b6b")) for k in out["quadrant"]]
    out["orders_split"] = float(quads["orders_split"].iloc[0]) if len(quads) else np.nan
    out["aov_split"] = float(quads["aov_split"].iloc[0]) if len(quads) else np.nan
    return out[
        [
            "quadrant",
            "name",
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
    """
    values = _revenue(table)
    n, total = len(values), float(values.sum())
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1, dtype=float)
    return float(2.0 * np.dot(i, values) / (n * total) - (n + 1) / n)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

_EXPORT_COLUMNS = (
    "customer_id",
    "segment",
    "cell",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "recency_days",
    "frequency",
    "orders",
    "monetary",
    "aov",
)


def export_segments(
    rfm_table: pd.DataFrame,
    path: str | Path,
    *,
    segments: Iterable[str] | None = None,
    include_personal: bool = False,
    customers: Any = None,
) -> list[Path]:
    """Write customer lists with ids and scores as CSV.

    Parameters
    ----------
    rfm_table
        ``Segmentation.customers`` (per customer with scores and ``segment``).
    path
        A ``.csv`` file: one file with every selected customer. Otherwise a folder: one
        ``<segment>.csv`` per selected segment (created if needed).
    segments
        Segment keys to export; ``None`` exports all.
    include_personal
        Add the personal fields (name, phone, email, address, postcode, birthday) from
        ``customers``. Without it no personal field is written, even if ``rfm_table`` holds one.
    customers
        The customers table (pandas, path or Ibis table in the canonical schema); needed when
        ``include_personal`` is true.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    if not isinstance(include_personal, bool):
        raise ConfigError(
            f"parameter 'include_personal' must be true or false; got {include_personal!r}"
        )
    if "segment" not in rfm_table:
        raise DataError(
            "the table lacks column segment; use Segmentation.customers", column="segment"
        )
    data = rfm_table[[c for c in _EXPORT_COLUMNS if c in rfm_table]].copy()
    if segments is not None:
        wanted = [str(s) for s in ([segments] if isinstance(segments, str) else segments)]
        present = set(rfm_table["segment"].unique())
        unknown = [s for s in wanted if s not in present]
        if unknown:
            raise ConfigError(
                f"parameter 'segments' names {', '.join(map(repr, unknown))}, which hold no customer; "
                f"segments present: {', '.join(sorted(present))}"
            )
        data = data[data["segment"].isin(wanted)]
    if include_personal:
        if customers is None:
            raise ConfigError(
                "parameter 'include_personal' is true but no 'customers' table was given"
            )
        cust_tbl = as_table(customers, table="customers")
        personal = execute(cust_tbl.select("customer_id", *PERSONAL_FIELDS))
        personal["customer_id"] = personal["customer_id"].astype(str)
        personal = personal.drop_duplicates("customer_id")
        data = data.merge(personal, on="customer_id", how="left")
    path = Path(path)
    written: list[Path] = []
    if path.suffix.lower() == ".csv":
        path.parent.mkdir(parents=True, exist_ok=True)
        data.to_csv(path, index=False, encoding="utf-8")
        written.append(path)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for seg, part in data.groupby("segment", sort=True):
            target = path / f"{seg}.csv"
            part.to_csv(target, index=False, encoding="utf-8")
            written.append(target)
    return written


def export_lists(
    segmentation: Segmentation,
    export_dir: str | Path | None,
    *,
    include_personal: bool = False,
    customers: Any = None,
    language: str = "en",
) -> str:
    """Write one CSV per segment to ``export_dir`` (if given) and describe the result.

    Parameters
    ----------
    segmentation
        Output of :func:`segment_rfm`.
    export_dir
        Target folder; ``None`` or ``""`` writes nothing.
    include_personal, customers
        As in :func:`export_segments`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        Markdown: a table of the files written with their customer counts, or a note that
        nothing was exported.
    """
    check_language(language)
    if export_dir is None or not str(export_dir).strip():
        return t("rfm.no_export", language)
    files = export_segments(
        segmentation.customers,
        Path(export_dir),
        include_personal=include_personal,
        customers=customers,
    )
    counts = segmentation.customers["segment"].value_counts()
    head = f"| {t('rfm.col_name', language)} | {t('rfm.col_customers', language)} | {t('rfm.col_file', language)} |"
    lines = [head, "|---|---:|---|"]
    for f in files:
        name = segmentation.scheme.segment_name(f.stem, language=language)
        lines.append(f"| {md_escape(name)} | {int(counts.get(f.stem, 0)):,} | {md_escape(f)} |")
    note = t("rfm.personal_included" if include_personal else "rfm.personal_excluded", language)
    return "\n".join(lines) + "\n\n" + note


# --------------------------------------------------------------------------------------------
# Display and executive text
# --------------------------------------------------------------------------------------------

_PERCENT_COLUMNS = ("share_customers", "share_revenue", "share_orders", "top_share")


def display_table(
    df: pd.DataFrame,
    *,
    language: str = "en",
    drop: Iterable[str] = ("colour", "segment", "quadrant"),
) -> pd.DataFrame:
    """A copy of a result table for reading: shares as percentages, money rounded, headers in
    ``language`` (``col_<column>`` in ``crmlib/labels/rfm.yaml``); segment and quadrant keys and
    colours are dropped by default."""
    check_language(language)
    out = df.drop(columns=[c for c in drop if c in df]).copy()
    for col in ("metric", "buyer", "orders_level", "aov_level"):
        if col in out and out[col].dtype != float:
            out[col] = out[col].map(lambda v: t(f"rfm.{v}", language) if isinstance(v, str) else v)
    for col in out.columns:
        if col in _PERCENT_COLUMNS:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(1 if col in ("mean_recency", "lower", "upper") else 2)
    names = labels("rfm", language)
    return out.rename(columns={c: names[f"col_{c}"] for c in out.columns if f"col_{c}" in names})


def _pct(x: float) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:.0%}"


def _top_segment(overview: pd.DataFrame) -> pd.Series:
    return overview.sort_values("share_revenue", ascending=False).iloc[0]


def headline_findings(segmentation: Segmentation, *, language: str = "en") -> str:
    """Three to four markdown bullet points for executives.

    Example (en): "Top 20% of customers bring 58% of revenue; 重要价值客户 are 9% of customers
    and 41% of revenue."
    """
    check_language(language)
    cust = segmentation.customers
    if cust.empty:
        return "- " + t("rfm.no_customers", language)
    overview = segment_overview(segmentation, language=language)
    p20 = pareto(cust, tops=(0.2,))["share_revenue"].iloc[0]
    top = _top_segment(overview)
    first = overview.iloc[0]
    lines = [
        t(
            "rfm.finding_base",
            language,
            customers=f"{len(cust):,}",
            as_of=pd.Timestamp(cust["as_of"].iloc[0]).date().isoformat(),
            revenue=f"{cust['monetary'].sum():,.0f}",
        ),
        t(
            "rfm.finding_pareto",
            language,
            share=_pct(p20),
            segment=md_escape(first["name"]),
            seg_customers=_pct(first["share_customers"]),
            seg_revenue=_pct(first["share_revenue"]),
        ),
    ]
    if top["segment"] != first["segment"]:
        lines.append(
            t(
                "rfm.finding_top_segment",
                language,
                segment=md_escape(top["name"]),
                seg_customers=_pct(top["share_customers"]),
                seg_revenue=_pct(top["share_revenue"]),
            )
        )
    one = float((cust["orders"] == 1).mean())
    lines.append(t("rfm.finding_one_timers", language, share=_pct(one)))
    return "\n".join(f"- {line}" for line in lines)


def scoring_note(segmentation: Segmentation, *, language: str = "en") -> str:
    """One markdown paragraph saying how scores were given and how ties were treated."""
    check_language(language)
    sch = segmentation.scheme
    key = f"rfm.scoring_{segmentation.scoring}"
    return t(key, language, scheme=md_escape(sch.name[language]), levels=len(sch.levels))


def value_matrix_findings(summary: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on the value matrix (output of :func:`value_matrix`)."""
    check_language(language)
    rows = summary.set_index("quadrant")
    lines = [
        t(
            "rfm.finding_value_split",
            language,
            orders=f"{summary['orders_split'].iloc[0]:.2f}",
            aov=f"{summary['aov_split'].iloc[0]:,.2f}",
        )
    ]
    for _, row in rows.iterrows():
        lines.append(
            t(
                "rfm.finding_quadrant",
                language,
                name=md_escape(row["name"]),
                customers=_pct(row["share_customers"]),
                revenue=_pct(row["share_revenue"]),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def pareto_findings(table: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown on revenue concentration, with the published norms from ``params/segments.yaml``."""
    check_language(language)
    shares = pareto(table).set_index("top_share")["share_revenue"]
    g = gini(table)
    lines = [
        t(
            "rfm.finding_concentration",
            language,
            top1=_pct(shares.get(0.01)),
            top5=_pct(shares.get(0.05)),
            top20=_pct(shares.get(0.2)),
            top50=_pct(shares.get(0.5)),
            gini=f"{g:.2f}",
        )
    ]
    norms = []
    for norm in _segments_params().get("pareto_norms") or []:
        value = norm["revenue_share"]
        text = (
            f"{value[0]:.0%}–{value[1]:.0%}" if isinstance(value, list) else f"{float(value):.0%}"
        )
        norms.append(f"{text} ({md_escape(norm['scope'][language])}; {md_escape(norm['source'])})")
    if norms:
        lines.append(t("rfm.finding_norms", language, norms="; ".join(norms)))
    return "\n".join(f"- {line}" for line in lines)


def member_share_findings(share: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown sentence on the share of sales from identified members (output of
    :func:`member_share`)."""
    check_language(language)
    rows = share.set_index("buyer")
    return "- " + t(
        "rfm.finding_members",
        language,
        revenue=_pct(rows.loc["member", "share_revenue"]),
        orders=_pct(rows.loc["member", "share_orders"]),
        anonymous=_pct(rows.loc["anonymous", "share_revenue"]),
    )
