"""The whole CLV analysis in one call, for notebooks and scheduled reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.clv.models import GammaGammaModel, TransactionModel, fit, fit_spend
from crmlib.clv.scoring import load_params, score
from crmlib.clv.summaries import _as_day, summary
from crmlib.config import check_range
from crmlib.data import resolve_as_of
from crmlib.reporting import md_escape


def observation_end(transactions: Any, *, as_of: Any = "") -> pd.Timestamp:
    """The analysis date: ``as_of`` when given (ISO date), else the day of the last transaction.

    The same rule as every report (:func:`crmlib.data.resolve_as_of`).
    """
    return resolve_as_of(transactions, as_of)


def calibration_end(end: Any, *, holdout_months: int) -> pd.Timestamp:
    """Last day of the calibration period when the holdout covers the last ``holdout_months``."""
    check_range("holdout_months", holdout_months, low=1, high=120)
    return _as_day(end, "observation_end") - pd.DateOffset(months=int(holdout_months))


@dataclass
class Analysis:
    """Result of :func:`analyse`."""

    observation_end: pd.Timestamp
    summary: pd.DataFrame
    model: TransactionModel
    spend_model: GammaGammaModel
    scores: pd.DataFrame
    settings: dict[str, Any]


def analyse(
    transactions: Any,
    *,
    as_of: Any = "",
    params: Mapping[str, Any] | str | Path | None = None,
) -> Analysis:
    """Summary, fitted models and per-customer scores as of ``as_of``.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    as_of
        Analysis date (ISO); empty means the last transaction date.
    params
        Overrides of ``params/clv.yaml`` (``model``, ``time_unit``, ``horizon_months``,
        ``monthly_discount_rate`` …).

    Returns
    -------
    Analysis
    """
    settings = load_params(params)
    end = observation_end(transactions, as_of=as_of)
    data = summary(transactions, observation_end=end, time_unit=settings["time_unit"])
    model = fit(data, model=settings["model"], penalizer=settings["penalizer"])
    warn = settings["warnings"]
    spend = fit_spend(
        data,
        penalizer=settings["penalizer"],
        min_repeaters=warn["min_repeaters"],
        min_repeaters_error=warn["min_repeaters_error"],
        max_spend_correlation=warn["max_spend_correlation"],
    )
    scores = score(data, model=model, spend_model=spend, params=settings)
    return Analysis(end, data, model, spend, scores, settings)


def rfm_segments(
    transactions: Any, *, as_of: Any = "", scheme: str = "cn8", language: str = "en"
) -> pd.DataFrame:
    """RFM segment of every customer (``crmlib.rfm``) with its display name in ``language``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, segment``.
    """
    from crmlib import rfm

    end = observation_end(transactions, as_of=as_of)
    seg = rfm.segment_rfm(rfm.rfm_table(transactions, as_of=end), scheme=scheme)
    names = {
        key: seg.scheme.segment_name(key, language=language)
        for key in seg.scheme.segments["segment"]
    }
    out = seg.customers[["customer_id", "segment"]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["segment"] = out["segment"].map(names)
    return out


def value_by_segment(
    analysis: Analysis,
    transactions: Any,
    *,
    scheme: str = "cn8",
    language: str = "en",
) -> tuple[pd.DataFrame, str]:
    """CLV by RFM segment of ``scheme`` (``crmlib.rfm``), or by CLV decile when ``scheme`` is
    empty; returns the table (for :func:`crmlib.plots.clv.clv_by_segment`) and a note saying
    which segmentation was used."""
    from crmlib.clv.scoring import by_segment, deciles
    from crmlib.i18n import t

    if not scheme:
        return deciles(analysis.scores), t("clv.segment_source_deciles", language)
    segments = rfm_segments(
        transactions, as_of=analysis.observation_end, scheme=scheme, language=language
    )
    note = t("clv.segment_source_rfm", language, scheme=md_escape(scheme))
    return by_segment(analysis.scores, segments), note


def export_note(
    table: pd.DataFrame, export_dir: str | Path, *, name: str, language: str = "en"
) -> str:
    """Write ``table`` (ids and scores only) to ``<export_dir>/<name>.csv`` and return a sentence
    saying where; nothing is written and "" returned when ``export_dir`` is empty."""
    from crmlib.clv.scoring import export_list
    from crmlib.clv.text import export_text

    if not export_dir:
        return ""
    path = export_list(table, Path(export_dir) / f"{name}.csv")
    return export_text(path, language=language)
