"""Lifetime value a finance team can plan with: intervals on every CLV figure and the monthly
cash-flow forecast of the base and its segments, with its bands.

:func:`intervals` takes a customer summary and the fitted BG/NBD and Gamma-Gamma models and
returns, from parameter sets drawn from the fits' sampling distribution
(:mod:`crmlib.clv.draws`):

- per customer, the interval of expected purchases, P(alive), expected spend and CLV;
- per future month, for the base and each segment, the expected orders and revenue with the
  interval of that expectation, and the band in which the month's *actual* revenue should fall;
- the discounted value of the base over chosen horizons (months 1–12, 13–36 …).

Two kinds of interval, because they answer two questions:

- *expected* (``_lower``/``_upper``): how sure the model is of the expectation, from the spread
  of the parameters alone. This is the interval of a CLV figure;
- *outcome* (``_outcome_lower_95`` …): where the revenue that will actually be booked should
  fall. It adds the chance of individual customers buying or not: for each parameter draw the
  base's future is simulated from the model (who is still active, their purchase rate and
  dropout drawn from their posterior, purchases, spend). Above ``sample_customers`` customers a
  random sample is simulated and its deviations from the expectation scaled by
  ``1/sqrt(share)``, which keeps their variance that of the whole base.

Cost: one evaluation of the BG/NBD expectation per draw, month and distinct (frequency, T) pair;
a million customers take about twenty seconds for 200 draws and 24 months on two cores. Memory
stays bounded: draws run one at a time and customers are scored in chunks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.bgnbd import BetaGeoModel
from crmlib.clv.customer_bands import MEASURES, Part, chosen_customers, customer_table
from crmlib.clv.draws import ParameterDraws, parameter_draws
from crmlib.clv.fitted import TransactionModel
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.monthly import Customers, Run, arrange
from crmlib.clv.rows import check_summary
from crmlib.clv.scoring import months_to_units
from crmlib.clv.settings import load_params
from crmlib.errors import ConfigError
from crmlib.measure import NotMeasured, not_measured
from crmlib.membership import lookup_labels

__all__ = [
    "ALL",
    "Drawn",
    "Uncertainty",
    "draw_forecast",
    "from_draws",
    "intervals",
    "segment_codes",
    "with_intervals",
]

#: Segment label of the whole base in the forecast tables.
ALL = "all"


@dataclass
class Uncertainty:
    """Result of :func:`intervals`."""

    customers: pd.DataFrame
    """Per customer: ``customer_id`` and ``<measure>_lower`` / ``<measure>_upper`` of
    expected purchases, P(alive), expected spend and CLV (empty without ``customers=True``)."""
    forecast: pd.DataFrame
    """Per segment (``"all"`` for the base) and future month: ``month, start, end, customers``,
    ``orders`` and ``revenue`` (expected) with ``_lower``/``_upper`` (interval of the
    expectation) and ``_outcome_lower_<band>``/``_outcome_upper_<band>`` per band; and
    ``revenue_cumulative`` (months 1 to this one) with ``revenue_cumulative_outcome_lower`` /
    ``_upper`` at ``level``."""
    horizons: pd.DataFrame
    """Per segment and horizon: ``first_month, last_month, value`` (discounted revenue) with
    its expected and outcome interval."""
    level: float
    bands: tuple[float, ...]
    draws: int
    why_not: NotMeasured | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    drawn: Drawn | None = field(default=None, repr=False)
    """The draws the tables were made from (:func:`draw_forecast`): with them
    :func:`with_intervals` computes the intervals of the customers it is given when
    ``customers`` was not computed for the whole base."""

    @property
    def measured(self) -> bool:
        """Whether intervals could be computed (the fits' covariances were estimated)."""
        return self.why_not is None


def _quantiles(values: np.ndarray, probabilities: Sequence[float]) -> np.ndarray:
    """Quantiles over the first axis (the draws), without interpolating between draws (an
    infinite draw then bounds the interval only when it reaches the quantile)."""
    return np.quantile(values, probabilities, axis=0, method="inverted_cdf")


def segment_codes(
    summary: pd.DataFrame, segments: pd.DataFrame | None, column: str
) -> tuple[np.ndarray, list[str]]:
    """Per customer the code of its segment and the segments' names (``[]`` without
    segments). Customers that ``segments`` does not list fall in ``"unassigned"``."""
    if segments is None:
        return np.zeros(len(summary), dtype=np.int64), []
    if column not in segments.columns or "customer_id" not in segments.columns:
        raise ConfigError(
            f"parameter 'segments' must have columns 'customer_id' and {column!r}; "
            f"got {list(segments.columns)!r}"
        )
    ids = summary["customer_id"].astype(str)
    labels = lookup_labels(
        ids, segments.astype({"customer_id": str}), key="customer_id", column=column
    )
    # the base's own label stays unique
    names = [f"{ALL} (segment)" if n == ALL else str(n) for n in labels.categories]
    uniques, recode = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    return recode.reshape(-1)[labels.codes].astype(np.int64), [str(u) for u in uniques]


def _month_dates(as_of: Any, months: int, days_per_month: float) -> tuple[list, list]:
    if as_of is None or as_of == "":
        return [pd.NaT] * months, [pd.NaT] * months
    day = pd.Timestamp(as_of).normalize()
    edges = [day + pd.Timedelta(days=round(k * days_per_month)) for k in range(months + 1)]
    return [e + pd.Timedelta(days=1) for e in edges[:-1]], edges[1:]


def intervals(
    summary: pd.DataFrame,
    *,
    model: BetaGeoModel,
    spend_model: GammaGammaModel,
    params: Mapping[str, Any] | str | Path | None = None,
    segments: pd.DataFrame | None = None,
    segment: str = "segment",
    as_of: Any = None,
    customers: bool = True,
    segment_models: Mapping[str, tuple[TransactionModel, GammaGammaModel]] | None = None,
) -> Uncertainty:
    """Intervals on the CLV figures and the monthly cash-flow forecast with its bands.

    Parameters
    ----------
    summary
        Customer summary (:func:`crmlib.clv.summary`) with ``monetary_value``.
    model, spend_model
        The fitted BG/NBD (:func:`crmlib.clv.fit`) and Gamma-Gamma
        (:func:`crmlib.clv.fit_spend`) models.
    params
        Overrides of ``params/clv.yaml``: ``horizon_months``, ``monthly_discount_rate``,
        ``days_per_month``, ``non_repeater_p_alive``, ``hiatus_weeks`` (as :func:`score`) and the
        section ``intervals``: ``draws``, ``level``, ``bands``, ``forecast_months``,
        ``horizons``, ``sample_customers``, ``seed``.
    segments
        Optional ``customer_id`` and ``segment`` per customer: the forecast and the horizons
        are then given per segment as well as for the base (``"all"``).
    segment
        The segment column of ``segments``.
    as_of
        The summary's analysis date: the forecast months then carry their dates.
    customers
        Compute the per-customer intervals (False for the forecast alone).
    segment_models
        Models fitted per segment (:func:`crmlib.clv.fit_by_segment`), by segment name: each
        segment's customers are then forecast with their own models, and the base is their sum;
        segments without their own models use ``model`` and ``spend_model``.

    Returns
    -------
    Uncertainty
        With ``why_not`` set and empty tables when a fit's covariance could not be estimated
        (``not_identifiable``) or the model is not BG/NBD (``no_intervals``).
    """
    drawn = draw_forecast(
        summary, model=model, spend_model=spend_model, params=params, segments=segments,
        segment=segment, as_of=as_of, segment_models=segment_models,
    )  # fmt: skip
    return from_draws(drawn, summary, customers=customers)


@dataclass
class Drawn:
    """The costly step of :func:`intervals` (:func:`draw_forecast`): every parameter draw run
    over the base. :func:`from_draws` turns it into the tables, with or without the customers'
    intervals, so that a forecast and a forecast with customer intervals share it."""

    parts: list[Part]
    names: list[str]
    sizes: np.ndarray
    horizons: list[tuple[int, int]]
    discount: np.ndarray
    dates: tuple[list, list]
    level: float
    bands: tuple[float, ...]
    draws: int
    settings: dict[str, Any]
    why_not: NotMeasured | None = None


def draw_forecast(
    summary: pd.DataFrame,
    *,
    model: BetaGeoModel,
    spend_model: GammaGammaModel,
    params: Mapping[str, Any] | str | Path | None = None,
    segments: pd.DataFrame | None = None,
    segment: str = "segment",
    as_of: Any = None,
    segment_models: Mapping[str, tuple[TransactionModel, GammaGammaModel]] | None = None,
) -> Drawn:
    """The parameter draws of :func:`intervals` run over ``summary`` (its arguments, without
    ``customers``); :func:`from_draws` makes the tables."""
    settings = load_params(params)
    opts = settings["intervals"]
    level = float(opts["level"])
    bands = tuple(sorted({float(b) for b in opts["bands"]} | {level}))
    x = check_summary(summary)[0]
    codes, names = segment_codes(summary, segments, segment)
    unit = getattr(model, "time_unit_", "W")
    month = months_to_units(1, time_unit=unit, days_per_month=settings["days_per_month"])
    horizons = [(int(a), int(b)) for a, b in opts["horizons"]]
    horizon = int(settings["horizon_months"])
    if (0, horizon) not in horizons:
        horizons.insert(0, (0, horizon))
    months = max(int(opts["forecast_months"]), horizon, max(b for _, b in horizons))
    discount = (1.0 + settings["monthly_discount_rate"]) ** -np.arange(1, months + 1.0)
    grid = _Grid(
        ends=np.arange(1, months + 1) * month,
        horizon=horizon,
        discount=discount,
        sample_customers=int(opts["sample_customers"]),
        draws=int(opts["draws"]),
        seed=int(opts["seed"]),
    )
    if segment_models is None:
        groups = [(np.arange(len(x)), model, spend_model, codes, max(len(names), 1))]
    else:
        groups = [
            (np.flatnonzero(codes == s), *segment_models.get(name, (model, spend_model)),
             np.zeros(int((codes == s).sum()), dtype=np.int64), 1)
            for s, name in enumerate(names)
        ]  # fmt: skip
    drawn = Drawn(
        parts=[],
        names=names,
        sizes=np.bincount(codes, minlength=max(len(names), 1)),
        horizons=horizons,
        discount=discount,
        dates=_month_dates(as_of, months, settings["days_per_month"]),
        level=level,
        bands=bands,
        draws=grid.draws,
        settings=settings,
    )
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for number, (rows, part_model, part_spend, part_codes, n_seg) in enumerate(groups):
            done = _compute(summary.iloc[rows], part_model, part_spend, part_codes, n_seg,
                            grid=grid, part=number, pool=pool)  # fmt: skip
            if isinstance(done, NotMeasured):
                drawn.why_not, drawn.parts = done, []
                return drawn
            drawn.parts.append(Part(rows, *done))
    return drawn


def from_draws(drawn: Drawn, summary: pd.DataFrame, *, customers: bool = True) -> Uncertainty:
    """The tables of :func:`intervals` from its draws over ``summary`` (the same summary
    :func:`draw_forecast` took); ``customers``: with the per-customer intervals."""
    result = Uncertainty(
        customers=pd.DataFrame(),
        forecast=pd.DataFrame(),
        horizons=pd.DataFrame(),
        level=drawn.level,
        bands=drawn.bands,
        draws=0,
        settings=drawn.settings,
        why_not=drawn.why_not,
    )
    if drawn.why_not is not None:
        return result
    result.drawn = drawn
    parts = drawn.parts
    point = {k: np.concatenate([p.point[k] for p in parts], axis=-1) for k in _MONTHLY[:2]}
    stacked = {k: np.concatenate([p.stacked[k] for p in parts], axis=-1) for k in _MONTHLY}
    result.draws = drawn.draws
    if customers:
        with ThreadPoolExecutor(max_workers=_threads()) as pool:
            table = pd.concat(
                [customer_table(summary.iloc[p.rows], p, settings=drawn.settings,
                                 level=drawn.level, pool=pool) for p in parts],
                ignore_index=True,
            )  # fmt: skip
        order = np.concatenate([p.rows for p in parts])
        result.customers = table.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    labels = [ALL] + drawn.names if drawn.names else [ALL]
    result.forecast = _forecast_table(
        point, stacked, labels, drawn.sizes, level=drawn.level, bands=drawn.bands,
        dates=drawn.dates,
    )  # fmt: skip
    result.horizons = _horizon_table(
        point, stacked, labels, drawn.horizons, drawn.discount, level=drawn.level
    )
    return result


def _threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


#: Per-draw arrays of months × segments that add up across separately fitted segments.
_MONTHLY = ("orders", "revenue", "orders_deviation", "revenue_deviation")


@dataclass(frozen=True)
class _Grid:
    """The months, horizon and draws of one :func:`intervals` computation."""

    ends: np.ndarray
    horizon: int
    discount: np.ndarray
    sample_customers: int
    draws: int
    seed: int


def _compute(
    summary: pd.DataFrame,
    model: TransactionModel,
    spend_model: GammaGammaModel,
    codes: np.ndarray,
    n_segments: int,
    *,
    grid: _Grid,
    part: int,
    pool: ThreadPoolExecutor,
) -> tuple[ParameterDraws, dict, dict, np.ndarray, str] | NotMeasured:
    """The draws, the point and per-draw monthly arrays of one group of customers fitted by
    one pair of models and its customers' groups, or why not."""
    if not isinstance(model, BetaGeoModel):
        return not_measured("no_intervals", model=model.kind)
    # separately fitted segments get independent draws: a seed of their own
    draws = parameter_draws(model, spend_model, draws=grid.draws, seed=grid.seed + 7919 * part)
    if draws.why_not is not None:
        return draws.why_not
    x, tx, T = check_summary(summary)
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").fillna(0.0).to_numpy(float)
    arranged = arrange(x, tx, T, m, codes, n_segments)
    run = Run(Customers(x, tx, T, m), arranged, ends=grid.ends, horizon=grid.horizon,
              discount=grid.discount, sample_customers=grid.sample_customers,
              seed=grid.seed + 7919 * part)  # fmt: skip
    theta_hat = [model.params_[k] for k in ("r", "alpha", "a", "b")]
    phi_hat = [spend_model.params_[k] for k in ("p", "q", "v")]
    point = run.draw(theta_hat, phi_hat, None)
    drawn = list(pool.map(run.draw, draws.purchase, draws.spend, range(draws.n)))
    stacked = {k: np.stack([d[k] for d in drawn]) for k in drawn[0]}
    return draws, point, stacked, arranged.group, getattr(model, "time_unit_", "W")


def _with_total(values: np.ndarray, named: bool) -> np.ndarray:
    """Append the base (sum over segments) as the first segment on the last axis."""
    total = values.sum(axis=-1, keepdims=True)
    return np.concatenate([total, values], axis=-1) if named else total


def _forecast_table(
    point: dict,
    stacked: dict,
    labels: list[str],
    sizes: np.ndarray,
    *,
    level: float,
    bands: Sequence[float],
    dates: tuple[list, list],
) -> pd.DataFrame:
    named = len(labels) > 1
    months = point["orders"].shape[0]
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    counts = np.concatenate([[sizes.sum()], sizes]) if named else np.array([sizes.sum()])
    frames = []
    for s, label in enumerate(labels):
        frame = pd.DataFrame(
            {
                "segment": label,
                "month": np.arange(1, months + 1),
                "start": dates[0],
                "end": dates[1],
                "customers": int(counts[s]),
            }
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for measure in ("orders", "revenue"):
        expected = _with_total(stacked[measure], named)  # draws × months × segments
        outcome = expected + _with_total(stacked[f"{measure}_deviation"], named)
        out[measure] = _with_total(point[measure], named).T.ravel()
        bounds = _quantiles(expected, [lo, hi])
        out[f"{measure}_lower"] = bounds[0].T.ravel()
        out[f"{measure}_upper"] = bounds[1].T.ravel()
        for band in bands:
            b_lo, b_hi = _quantiles(np.maximum(outcome, 0.0), [(1 - band) / 2, (1 + band) / 2])
            tag = f"{round(band * 100):d}"
            out[f"{measure}_outcome_lower_{tag}"] = b_lo.T.ravel()
            out[f"{measure}_outcome_upper_{tag}"] = b_hi.T.ravel()
    # revenue summed from month 1: what a later run compares with what customers brought since
    running = np.cumsum(np.maximum(_with_total(stacked["revenue"], named) + _with_total(
        stacked["revenue_deviation"], named), 0.0), axis=1)  # fmt: skip
    out["revenue_cumulative"] = np.cumsum(_with_total(point["revenue"], named), axis=0).T.ravel()
    c_lo, c_hi = _quantiles(running, [lo, hi])
    out["revenue_cumulative_outcome_lower"] = c_lo.T.ravel()
    out["revenue_cumulative_outcome_upper"] = c_hi.T.ravel()
    return out


def _horizon_table(
    point: dict,
    stacked: dict,
    labels: list[str],
    horizons: Sequence[tuple[int, int]],
    discount: np.ndarray,
    *,
    level: float,
) -> pd.DataFrame:
    named = len(labels) > 1
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    expected = _with_total(stacked["revenue"], named)
    outcome = np.maximum(expected + _with_total(stacked["revenue_deviation"], named), 0.0)
    rows = []
    for first, last in horizons:
        weights = np.zeros(len(discount))
        weights[first:last] = discount[first:last]
        value_point = weights @ _with_total(point["revenue"], named)
        value = np.einsum("k,dks->ds", weights, expected)
        value_outcome = np.einsum("k,dks->ds", weights, outcome)
        bounds, outcome_bounds = _quantiles(value, [lo, hi]), _quantiles(value_outcome, [lo, hi])
        for s, label in enumerate(labels):
            rows.append(
                {
                    "segment": label,
                    "first_month": first + 1,
                    "last_month": last,
                    "value": value_point[s],
                    "value_lower": bounds[0, s],
                    "value_upper": bounds[1, s],
                    "value_outcome_lower": outcome_bounds[0, s],
                    "value_outcome_upper": outcome_bounds[1, s],
                }
            )
    out = pd.DataFrame(rows)
    # per horizon: the base first, then the segments by value
    out["_base"] = out["segment"] != ALL
    out = out.sort_values(["first_month", "_base", "value"], ascending=[True, True, False])
    return out.drop(columns="_base").reset_index(drop=True)


def with_intervals(
    table: pd.DataFrame, bands: Uncertainty, *, summary: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``table`` (one row per customer, with ``customer_id``) with the interval columns
    ``<measure>_lower`` and ``<measure>_upper`` of :func:`intervals` placed after each measure
    it holds (``clv``, ``p_alive``, ``expected_purchases``, ``expected_spend``).

    The intervals come from ``bands.customers``; when the bands were made without them
    (``customers=False``), give ``summary``, the customer summary the bands were computed
    from: the intervals of ``table``'s customers alone are then computed from the bands'
    draws, equal to those of the whole base. Unchanged when neither is available."""
    if "customer_id" not in table.columns:
        return table
    known = bands.customers
    if known.empty and summary is not None and bands.drawn is not None:
        known = chosen_customers(bands.drawn.parts, summary, table["customer_id"],
                                 settings=bands.settings, level=bands.level)  # fmt: skip
    if "customer_id" not in known.columns:  # no intervals computed, nor computable here
        return table
    held = [name for name in MEASURES if name in table.columns]
    extra = [f"{name}_{side}" for name in held for side in ("lower", "upper")]
    lookup = known.set_index("customer_id")[extra]
    joined = lookup.reindex(table["customer_id"].astype(str).to_numpy())
    out = table.copy()
    order: list[str] = []
    for column in table.columns:
        order.append(column)
        if column in held:
            out[f"{column}_lower"] = joined[f"{column}_lower"].to_numpy()
            out[f"{column}_upper"] = joined[f"{column}_upper"].to_numpy()
            order += [f"{column}_lower", f"{column}_upper"]
    out = out[order]
    out.attrs = dict(table.attrs)
    return out
