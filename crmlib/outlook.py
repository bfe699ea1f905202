"""The revenue outlook of the executive summary: what today's customers are expected to bring
over the CLV horizon, with the range actual revenue should land in, and how the last forecast
fared (:func:`revenue_outlook`).

It reuses the CLV models the summary fitted for the value at risk and the forecast of
notebook 03 (:func:`crmlib.clv.plan`: the same models, draws and seed), so both pages quote one
number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib import clv
from crmlib.clv.forecast import Uncertainty
from crmlib.executive import Summary
from crmlib.kpi_coverage import dataset_tables
from crmlib.measure import NotMeasured, not_measured

__all__ = ["Outlook", "revenue_outlook"]


@dataclass
class Outlook:
    """Result of :func:`revenue_outlook`."""

    bands: Uncertainty
    """The forecast with its ranges (:func:`crmlib.clv.intervals`), base only."""
    record: pd.DataFrame
    """Earlier forecasts of the pack against what happened (:func:`crmlib.clv.track_record`)."""


def revenue_outlook(
    summary: Summary,
    data: Any,
    *,
    run_dir: str | Path | None = None,
    segments: pd.DataFrame | None = None,
) -> Outlook | NotMeasured:
    """The outlook of ``summary`` (:func:`crmlib.executive.executive_summary` of ``data``).

    Parameters
    ----------
    summary
        The executive summary; its value at risk carries the fitted CLV models.
    data
        The dataset it was computed from (the transactions and, for fits per acquisition
        channel, the customers).
    run_dir
        This run's folder, whose siblings hold the pack's earlier forecasts; empty: no record.
    segments
        ``customer_id, segment``: the breakdown notebook 03 forecasts by (its named RFM
        segments). The outlook quotes the base either way; with the same segments as notebook
        03 the two pages share one computation of the forecast (the run cache).

    Returns
    -------
    Outlook
        Or ``no_data`` when the summary has no CLV model (see its notes).
    """
    analysis = summary.at_risk.attrs.get("analysis") if summary.at_risk is not None else None
    if analysis is None:
        return not_measured("no_data")
    tables = dataset_tables(data)
    projection = clv.plan(analysis, customers=tables.get("customers"), segments=segments,
                          customer_intervals=False, drivers=False)  # fmt: skip
    record = clv.track_record(tables["transactions"], run_dir=run_dir, as_of=analysis.as_of,
                              level=projection.bands.level)  # fmt: skip
    return Outlook(projection.bands, record)
