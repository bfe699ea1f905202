"""Customer lifetime value: purchase summaries, BG/NBD and Gamma-Gamma models, scores, backtest.

Typical use::

    from crmlib import clv

    data = clv.summary(transactions, observation_end="2026-09-30")
    model = clv.fit(data)                 # BG/NBD; "mbgnbd", "pnbd" also offered
    spend = clv.fit_spend(data)           # Gamma-Gamma on repeat customers
    scores = clv.score(data, model=model, spend_model=spend)
    check = clv.backtest(transactions, calibration_end="2026-03-31", observation_end="2026-09-30")
"""

from crmlib.clv import text
from crmlib.clv.models import (
    BetaGeoModel,
    CrmWarning,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    TransactionModel,
    bgnbd_log_likelihood,
    fit,
    fit_spend,
    gamma_gamma_log_likelihood,
)
from crmlib.clv.scoring import (
    at_risk,
    by_segment,
    deciles,
    discounted_purchases,
    export_list,
    future_high_value,
    historical_value,
    load_params,
    months_to_units,
    predict,
    score,
)
from crmlib.clv.summaries import summary
from crmlib.clv.validation import Backtest, backtest, tracking
from crmlib.clv.workflow import (
    Analysis,
    analyse,
    calibration_end,
    export_note,
    observation_end,
    rfm_segments,
    value_by_segment,
)

__all__ = [
    "Analysis",
    "analyse",
    "calibration_end",
    "observation_end",
    "rfm_segments",
    "value_by_segment",
    "export_note",
    "Backtest",
    "BetaGeoModel",
    "CrmWarning",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "TransactionModel",
    "at_risk",
    "backtest",
    "bgnbd_log_likelihood",
    "by_segment",
    "deciles",
    "discounted_purchases",
    "export_list",
    "fit",
    "fit_spend",
    "future_high_value",
    "gamma_gamma_log_likelihood",
    "historical_value",
    "load_params",
    "months_to_units",
    "predict",
    "score",
    "summary",
    "text",
    "tracking",
]
