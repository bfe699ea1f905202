"""The forecast a finance team plans with, in one call: what drives value (static covariates),
whether groups of customers need models of their own, and the monthly forecast with its ranges
from the right models (:func:`plan`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from crmlib.clv.bgnbd import BetaGeoModel
from crmlib.clv.covariates import CovariateFit, covariate_effects
from crmlib.clv.forecast import Drawn, Uncertainty, draw_forecast, from_draws
from crmlib.clv.segment_fits import SegmentFits, fit_by_segment
from crmlib.clv.workflow import Analysis
from crmlib.data import execute
from crmlib.data.results import cached
from crmlib.measure import NotMeasured, not_measured

__all__ = ["Plan", "plan"]


@dataclass
class Plan:
    """Result of :func:`plan`."""

    bands: Uncertainty
    """Intervals and the monthly forecast (:func:`crmlib.clv.intervals`)."""
    drivers: CovariateFit | NotMeasured
    """Effects of the ``covariates`` of ``clv.yaml``, or why they were not tested."""
    segment_fits: SegmentFits | NotMeasured | None
    """Fits per group of ``segment_fits.by``, or why not; None when switched off."""

    @property
    def effects(self) -> pd.DataFrame:
        """The covariates' effects (:attr:`CovariateFit.effects`); empty when not tested."""
        return self.drivers.effects if isinstance(self.drivers, CovariateFit) else pd.DataFrame()


def _groups(customers: Any, column: str) -> pd.DataFrame | NotMeasured:
    if customers is None:
        return not_measured("table_missing", table="customers")
    if column not in customers.columns:
        return not_measured("column_not_mapped", table="customers", column=column)
    table = (
        customers
        if isinstance(customers, pd.DataFrame)
        else execute(customers.select("customer_id", column))
    )
    table = table[["customer_id", column]].dropna()
    if table.empty:
        return not_measured("column_not_mapped", table="customers", column=column)
    return table


def plan(
    analysis: Analysis,
    *,
    customers: Any,
    segments: pd.DataFrame | None = None,
    customer_intervals: bool = True,
    drivers: bool = True,
) -> Plan:
    """Drivers, fits per group where groups differ, and the forecast from those models.

    Parameters
    ----------
    analysis
        Output of :func:`crmlib.clv.analyse` (its settings carry ``covariates``,
        ``significance``, ``segment_fits`` and ``intervals``).
    customers
        The customer table (DataFrame or Ibis table), or None when the data has none.
    segments
        ``customer_id, segment`` for the forecast's breakdown when one model serves all
        customers (e.g. named RFM segments); when the groups of ``segment_fits.by`` differ, the
        forecast is broken down by those groups instead, each with its own models.
    customer_intervals
        Compute per-customer intervals for the whole base too. Without them the bands keep
        their draws, and :func:`crmlib.clv.with_intervals` given the analysis's summary computes
        the intervals of the customers a page lists (the same figures, in milliseconds).
    drivers
        Test the covariates (False: ``drivers`` is ``no_data``, for a forecast alone).

    Notes
    -----
    The run cache keeps the two costly steps, the covariates' test and the forecast's draws
    (shared by every plan of the same analysis and breakdown); the tables are made from the
    draws at each call, in milliseconds without the whole base's customer intervals.
    """
    effects = _drivers(analysis, customers=customers) if drivers else not_measured("no_data")
    fits, drawn = _forecast(analysis, customers=customers, segments=segments)
    return Plan(from_draws(drawn, analysis.summary, customers=customer_intervals), effects, fits)


@cached("clv.drivers")
def _drivers(analysis: Analysis, *, customers: Any) -> CovariateFit | NotMeasured:
    """The covariates of the analysis's settings tested (:func:`covariate_effects`)."""
    settings = analysis.settings
    return covariate_effects(analysis.summary, customers=customers,
                             columns=settings["covariates"], significance=settings["significance"])  # fmt: skip


@cached("clv.forecast")
def _forecast(
    analysis: Analysis, *, customers: Any, segments: pd.DataFrame | None
) -> tuple[SegmentFits | NotMeasured | None, Drawn]:
    """The fits per group and the forecast's draws of :func:`plan`: one computation for every
    plan of the same analysis and breakdown, with or without drivers and customer intervals
    (the executive summary's outlook and notebook 03's forecast)."""
    settings = analysis.settings
    options = settings["segment_fits"]
    fits: SegmentFits | NotMeasured | None = None
    if options["enabled"] and not isinstance(analysis.model, BetaGeoModel):
        # fits per group are BG/NBD, and so are the ranges: another model keeps its page's
        fits = not_measured("no_intervals", model=analysis.model.kind)
    elif options["enabled"]:
        groups = _groups(customers, options["by"])
        fits = groups if isinstance(groups, NotMeasured) else fit_by_segment(
            analysis.summary, groups, segment=options["by"],
            min_customers=options["min_customers"], min_repeaters=options["min_repeaters"],
            significance=settings["significance"],
        )  # fmt: skip
    common = {"model": analysis.model, "spend_model": analysis.spend_model, "params": settings,
              "as_of": analysis.as_of}  # fmt: skip
    if isinstance(fits, SegmentFits) and fits.differ:
        drawn = draw_forecast(analysis.summary, segments=groups, segment=options["by"],
                              segment_models=fits.models, **common)  # fmt: skip
    else:
        drawn = draw_forecast(analysis.summary, segments=segments, **common)
    return fits, drawn
