"""Customer lifetime value: purchase summaries, BG/NBD and Gamma-Gamma models, scores, backtest.

Typical use::

    from crmlib import clv

    data = clv.summary(transactions, as_of="2026-09-30")
    model = clv.fit(data)                 # BG/NBD; "mbgnbd", "pnbd" also offered
    spend = clv.fit_spend(data)           # Gamma-Gamma on repeat customers
    scores = clv.score(data, model=model, spend_model=spend)
    check = clv.backtest(transactions, calibration_end="2026-03-31", as_of="2026-09-30")
    bands = clv.intervals(data, model=model, spend_model=spend, as_of="2026-09-30")

or everything at once: ``clv.analyse(transactions, as_of=...)``. The report text about these
results is in :mod:`crmlib.present.clv`, the charts in :mod:`crmlib.plots.clv`.

Modules: :mod:`~crmlib.clv.summaries` (per-customer histories), :mod:`~crmlib.clv.models`
(``fit``, ``fit_spend`` and the model classes, one family per module: ``bgnbd``,
``lifetimes_models``, ``gamma_gamma``; on ``rows``, ``likelihoods``, ``optimise``, ``fitted``),
:mod:`~crmlib.clv.scoring` (predictions, CLV and the customer lists),
:mod:`~crmlib.clv.validation` (backtest), :mod:`~crmlib.clv.covariates` (static covariates with
a likelihood-ratio test), :mod:`~crmlib.clv.segment_fits` (a fit per segment, tested for equality), :mod:`~crmlib.clv.forecast` (intervals and the
monthly cash-flow forecast, on :mod:`~crmlib.clv.draws` and :mod:`~crmlib.clv.curves`; the customers' intervals in :mod:`~crmlib.clv.customer_bands`), :mod:`~crmlib.clv.workflow` (the one-call analysis),
:mod:`~crmlib.clv.settings` (``clv.yaml``) and :mod:`~crmlib.clv.dates`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from crmlib.clv.covariates import CovariateFit, covariate_effects, fit_covariates
from crmlib.clv.dates import calibration_end, observation_end
from crmlib.clv.forecast import Uncertainty, intervals, with_intervals
from crmlib.clv.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    fit,
    fit_spend,
)
from crmlib.clv.planning import Plan, plan
from crmlib.clv.scoring import (
    RISK_RULES,
    at_risk,
    by_segment,
    deciles,
    future_high_value,
    predict,
    score,
)
from crmlib.clv.segment_fits import SegmentFits, fit_by_segment
from crmlib.clv.summaries import summary
from crmlib.clv.track_record import save_forecast, track_record
from crmlib.clv.validation import Backtest, backtest, better_rule, tracking
from crmlib.clv.workflow import Analysis, analyse
from crmlib.compat import moved

__all__ = [
    "Analysis",
    "Backtest",
    "BetaGeoModel",
    "CovariateFit",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "Uncertainty",
    "ParetoNBDModel",
    "Plan",
    "analyse",
    "at_risk",
    "backtest",
    "better_rule",
    "RISK_RULES",
    "SegmentFits",
    "by_segment",
    "calibration_end",
    "covariate_effects",
    "deciles",
    "fit",
    "fit_by_segment",
    "fit_covariates",
    "fit_spend",
    "future_high_value",
    "intervals",
    "observation_end",
    "plan",
    "predict",
    "save_forecast",
    "score",
    "summary",
    "track_record",
    "tracking",
    "with_intervals",
]

_moved = moved(
    __name__,
    {
        "CrmWarning": "crmlib.errors",
        "TransactionModel": "crmlib.clv.fitted",
        "bgnbd_log_likelihood": "crmlib.clv.likelihoods",
        "gamma_gamma_log_likelihood": "crmlib.clv.likelihoods",
        "discounted_purchases": "crmlib.clv.scoring",
        "export_list": "crmlib.clv.scoring",
        "historical_value": "crmlib.clv.scoring",
        "months_to_units": "crmlib.clv.scoring",
        "load_params": "crmlib.clv.settings",
        "rfm_segments": "crmlib.clv.workflow",
        "export_note": "crmlib.present.clv",
        "value_by_segment": "crmlib.present.clv",
    },
)


def __getattr__(name: str) -> Any:
    """Old top-level names, served from their modules with a :class:`DeprecationWarning`."""
    if name == "text":
        warnings.warn(
            "crmlib.clv.text moved to crmlib.present.clv; the old module will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("crmlib.clv.text")
    return _moved(name)
