"""The whole CLV analysis in one call, for notebooks and scheduled reports.

:func:`analyse` returns the summary, the fitted models and the per-customer scores as of the
analysis date; :func:`rfm_segments` gives every customer's RFM segment (:mod:`crmlib.segments`) so
that value can be split by segment with :func:`crmlib.clv.scoring.by_segment`. What a report
says about them is in :mod:`crmlib.present.clv`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib import rfm, segments
from crmlib.clv.dates import calibration_end, observation_end
from crmlib.clv.fitted import TransactionModel
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.models import fit, fit_spend
from crmlib.clv.scoring import score
from crmlib.clv.settings import load_params
from crmlib.clv.summaries import summary
from crmlib.compat import moved
from crmlib.data.results import cached

__all__ = ["Analysis", "analyse", "calibration_end", "observation_end", "rfm_segments"]


@dataclass
class Analysis:
    """Result of :func:`analyse`."""

    as_of: pd.Timestamp
    """The analysis date: the summary and the scores describe customers as of this day."""
    summary: pd.DataFrame
    model: TransactionModel
    spend_model: GammaGammaModel
    scores: pd.DataFrame
    settings: dict[str, Any]

    @property
    def observation_end(self) -> pd.Timestamp:
        """Deprecated name of :attr:`as_of`."""
        warnings.warn(
            "Analysis.observation_end is deprecated, use Analysis.as_of",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.as_of


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
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    params
        Overrides of ``params/clv.yaml`` (``model``, ``time_unit``, ``horizon_months``,
        ``monthly_discount_rate`` …).

    Returns
    -------
    Analysis
    """
    # the run cache keys the resolved date and settings: the executive summary (defaults) and
    # notebook 03 (its parameters spelled out, the same values) share one fit
    return _analyse(transactions, as_of=observation_end(transactions, as_of=as_of),
                    settings=load_params(params))  # fmt: skip


@cached("clv.analyse")
def _analyse(transactions: Any, *, as_of: pd.Timestamp, settings: dict[str, Any]) -> Analysis:
    """:func:`analyse` on a resolved date and settings."""
    end = as_of
    data = summary(transactions, as_of=end, time_unit=settings["time_unit"])
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
    transactions: Any, *, as_of: Any = "", scheme: str = "cn8", **kwargs: Any
) -> pd.DataFrame:
    """RFM segment of every customer (:mod:`crmlib.rfm`, :mod:`crmlib.segments`).

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    as_of
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    scheme
        Segment scheme of ``params/segments.yaml`` (``"cn8"``, ``"en11"``) or a scheme file.
    **kwargs
        ``language`` (deprecated): return the segments' display names in that language, as
        :func:`crmlib.present.clv.segment_names` does.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, segment`` (the segment key).
    """
    language = kwargs.pop("language", None)
    if kwargs:
        raise TypeError(f"rfm_segments() got an unexpected keyword argument {next(iter(kwargs))!r}")
    out = _segment_keys(transactions, as_of=observation_end(transactions, as_of=as_of),
                        scheme=scheme)  # fmt: skip
    if language is None:
        return out
    warnings.warn(
        "rfm_segments(language=...) is deprecated: it returns segment keys; name them with "
        "crmlib.present.clv.segment_names",
        DeprecationWarning,
        stacklevel=2,
    )
    present = importlib.import_module("crmlib.present.clv")
    return present.segment_names(out, scheme=scheme, language=language)


@cached("rfm_segments")
def _segment_keys(transactions: Any, *, as_of: pd.Timestamp, scheme: str) -> pd.DataFrame:
    """:func:`rfm_segments` on a resolved date (the lifetime value, channels and forecast
    pages each ask for them; the run cache computes them once)."""
    seg = segments.segment_rfm(rfm.rfm_table(transactions, as_of=as_of), scheme=scheme)
    out = seg.customers[["customer_id", "segment"]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    return out


__getattr__ = moved(
    __name__,
    {"value_by_segment": "crmlib.present.clv", "export_note": "crmlib.present.clv"},
)
