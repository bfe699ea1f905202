"""Customer lifetime value: purchase summaries, BG/NBD and Gamma-Gamma models, scores, backtest."""

from crmlib.clv.models import (
    BetaGeoModel,
    CrmWarning,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    TransactionModel,
    fit,
    fit_spend,
)
from crmlib.clv.summaries import summary

__all__ = [
    "BetaGeoModel",
    "CrmWarning",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "TransactionModel",
    "fit",
    "fit_spend",
    "summary",
]
