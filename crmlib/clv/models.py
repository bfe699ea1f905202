"""Choose and fit a model: :func:`fit` for repeat purchasing (BG/NBD, MBG/NBD, Pareto/NBD) and
:func:`fit_spend` for spend (Gamma-Gamma).

The model classes live one family per module (:mod:`crmlib.clv.bgnbd`,
:mod:`crmlib.clv.lifetimes_models`, :mod:`crmlib.clv.gamma_gamma`) on shared machinery: the
checks and unique rows of a summary (:mod:`crmlib.clv.rows`), the likelihoods
(:mod:`crmlib.clv.likelihoods`) and the optimiser (:mod:`crmlib.clv.optimise`). They are
re-exported here, so ``from crmlib.clv.models import BetaGeoModel`` keeps working.

References
----------
Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2) — BG/NBD, equations (6), (9), (10) and the note
http://brucehardie.com/notes/004/. Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
Value", http://brucehardie.com/notes/025/. Batislam, Denizel & Filiztekin (2007) — MBG/NBD.
"""

from __future__ import annotations

import pandas as pd

from crmlib.clv.bgnbd import BetaGeoModel
from crmlib.clv.fitted import TransactionModel
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.lifetimes_models import ModifiedBetaGeoModel, ParetoNBDModel
from crmlib.compat import moved
from crmlib.config import check_choice

__all__ = [
    "MODELS",
    "BetaGeoModel",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "TransactionModel",
    "fit",
    "fit_spend",
]

#: Transaction models offered by :func:`fit`.
MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pnbd")


def fit(summary: pd.DataFrame, *, model: str = "bgnbd", penalizer: float = 0.0) -> TransactionModel:
    """Fit a repeat-purchase model on a customer summary.

    Parameters
    ----------
    summary
        Output of :func:`crmlib.clv.summary` (``frequency, recency, T`` per customer).
    model
        ``"bgnbd"`` (BG/NBD, fast own fitter), ``"mbgnbd"`` or ``"pnbd"`` (lifetimes' fitters).
    penalizer
        L2 penalty on the parameters; 0 (unbiased) unless the fit fails to converge.

    Returns
    -------
    TransactionModel
        Fitted: ``params_`` (``r, alpha, a, b`` or ``r, alpha, s, beta``), ``standard_errors_``,
        ``log_likelihood_``, ``converged_``.
    """
    check_choice("model", model, MODELS)
    cls = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pnbd": ParetoNBDModel}[model]
    return cls(penalizer=penalizer).fit(summary)


def fit_spend(
    summary: pd.DataFrame,
    *,
    penalizer: float = 0.0,
    min_repeaters: int = 100,
    min_repeaters_error: int = 10,
    max_spend_correlation: float = 0.3,
) -> GammaGammaModel:
    """Fit the Gamma-Gamma spend model on the repeat customers of a summary.

    Parameters
    ----------
    summary
        Output of :func:`crmlib.clv.summary` (``frequency, monetary_value`` per customer).
    penalizer
        L2 penalty on the parameters (0 by default).
    min_repeaters, min_repeaters_error, max_spend_correlation
        Warning and error thresholds (defaults of ``params/clv.yaml``, section ``warnings``).

    Returns
    -------
    GammaGammaModel
        Fitted: ``params_`` (``p, q, v``), ``standard_errors_``, ``correlation_``.
    """
    return GammaGammaModel(
        penalizer=penalizer,
        min_repeaters=min_repeaters,
        min_repeaters_error=min_repeaters_error,
        max_spend_correlation=max_spend_correlation,
    ).fit(summary)


__getattr__ = moved(
    __name__,
    {
        "PARAM_NAMES": "crmlib.clv.likelihoods",
        "bgnbd_log_likelihood": "crmlib.clv.likelihoods",
        "gamma_gamma_log_likelihood": "crmlib.clv.likelihoods",
        "check_summary": "crmlib.clv.rows",
        "compress": "crmlib.clv.rows",
        "CrmWarning": "crmlib.errors",
    },
)
