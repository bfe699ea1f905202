"""Gamma-Gamma model of the mean spend per repeat purchase (Fader & Hardie 2013).

Fitted by L-BFGS-B on log-parameters over the unique (frequency, mean spend) pairs of the repeat
customers, with the analytic gradient of :func:`crmlib.clv.likelihoods.gamma_gamma_ll_grad`.

References
----------
Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
http://brucehardie.com/notes/025/.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.fitted import FittedModel
from crmlib.clv.likelihoods import PARAM_NAMES, SpendRows, gamma_gamma_ll_grad
from crmlib.clv.optimise import covariance, maximise
from crmlib.clv.rows import check_summary, compress
from crmlib.config import check_range
from crmlib.errors import CrmWarning, DataError

__all__ = ["GammaGammaModel", "conditional_spend"]


class GammaGammaModel(FittedModel):
    """Gamma-Gamma model of the mean spend per repeat purchase (Fader & Hardie 2013).

    Fitted on customers with ``frequency > 0`` and ``monetary_value > 0``. :meth:`fit` warns
    (:class:`CrmWarning`) when q ≤ 1 (expected spend infinite), when frequency and monetary value
    are correlated beyond ``max_spend_correlation`` (the model assumes independence) and when
    fewer than ``min_repeaters`` customers bought again; it stops with :class:`DataError` below
    ``min_repeaters_error``.
    """

    kind = "gamma_gamma"

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        min_repeaters: int = 100,
        min_repeaters_error: int = 10,
        max_spend_correlation: float = 0.3,
    ) -> None:
        self.penalizer = check_range("penalizer", penalizer, low=0.0)
        self.min_repeaters = check_range("min_repeaters", min_repeaters, low=0)
        self.min_repeaters_error = check_range("min_repeaters_error", min_repeaters_error, low=3)
        self.max_spend_correlation = check_range(
            "max_spend_correlation", max_spend_correlation, low=0.0, high=1.0
        )

    def fit(self, summary: pd.DataFrame) -> GammaGammaModel:
        """Fit on the repeat customers of ``summary``; returns ``self``."""
        x = check_summary(summary)[0]
        m = pd.to_numeric(summary.get("monetary_value"), errors="coerce")
        if m is None or "monetary_value" not in summary.columns:
            raise DataError("the customer summary lacks a required column", column="monetary_value")
        m = m.to_numpy(dtype=float)
        keep = (x > 0) & np.isfinite(m) & (m > 0)
        n = int(keep.sum())
        self.n_customers_ = n
        if n < self.min_repeaters_error:
            raise DataError(
                f"only {n} customers bought again with a positive spend; the spend model needs at "
                f"least {self.min_repeaters_error}",
                column="frequency",
            )
        if n < self.min_repeaters:
            warnings.warn(
                f"only {n} customers bought again; the spend model's estimates are uncertain "
                f"(warning threshold {self.min_repeaters})",
                CrmWarning,
                stacklevel=2,
            )
        xk, mk = x[keep], m[keep]
        varied = n > 2 and xk.std() > 0 and mk.std() > 0
        self.correlation_ = float(np.corrcoef(xk, mk)[0, 1]) if varied else float("nan")
        if np.isfinite(self.correlation_) and abs(self.correlation_) > self.max_spend_correlation:
            warnings.warn(
                f"frequency and mean spend of repeat customers are correlated "
                f"(r = {self.correlation_:.2f}, threshold {self.max_spend_correlation}); the "
                "Gamma-Gamma model assumes they are independent, so expected spend is biased",
                CrmWarning,
                stacklevel=2,
            )
        (xu, mu), w, _ = compress(xk, mk)
        self.n_rows_ = len(xu)
        scale = 10.0 / mu.max()  # spend rescaled for conditioning; v scales back
        scaled = SpendRows.build(xu, mu * scale, w)
        theta, result = maximise(
            lambda th: gamma_gamma_ll_grad(th, scaled), np.ones(3), w.sum(), self.penalizer
        )
        theta = theta * np.array([1.0, 1.0, 1.0 / scale])
        rows = SpendRows.build(xu, mu, w)

        def ll(theta_: np.ndarray) -> tuple[float, np.ndarray]:
            return gamma_gamma_ll_grad(theta_, rows)

        with np.errstate(all="ignore"):
            cov = covariance(ll, theta)
            value = ll(theta)[0]
        self._store(theta, cov, value, bool(result.success))
        if not self.converged_:
            warnings.warn(
                f"the spend model did not converge ({result.message})", CrmWarning, stacklevel=2
            )
        if self.params_["q"] <= 1:
            warnings.warn(
                f"the spend model's q = {self.params_['q']:.3f} is at most 1: the expected "
                "spend is infinite, so no lifetime value can be computed; check for extreme "
                "spend values (outliers, wholesale orders)",
                CrmWarning,
                stacklevel=2,
            )
        return self

    def population_mean(self) -> float:
        """Expected mean spend per purchase of a customer not seen buying again: ``p v / (q − 1)``."""
        self._check_fitted()
        p, q, v = (self.params_[n] for n in PARAM_NAMES["gamma_gamma"])
        if q <= 1:
            raise DataError(
                f"the spend model's q = {q:.3f} is at most 1, so the expected spend is infinite; "
                "remove extreme spend values or segment the customers before computing CLV",
                column="monetary_value",
            )
        return p * v / (q - 1)

    def expected_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Conditional expected mean spend per purchase (note 025, eq. 5); population mean for
        customers without a (positive) repeat purchase."""
        self.population_mean()  # raises when q <= 1
        theta = tuple(self.params_[n] for n in PARAM_NAMES["gamma_gamma"])
        return conditional_spend(theta, frequency, monetary_value)


def conditional_spend(theta: Any, frequency: Any, monetary_value: Any) -> np.ndarray:
    """Conditional expected mean spend per purchase (note 025, eq. 5) for parameters
    ``(p, q, v)``: ``(1 − w) p v / (q − 1) + w m`` with ``w = p x / (p x + q − 1)``; the
    population mean for customers without a (positive) repeat purchase; infinite where
    ``q <= 1``. Every argument broadcasts (parameters of shape (draws, 1) against customers)."""
    p, q, v = theta
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    usable = (x > 0) & (m > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(np.asarray(q) > 1, p * v / (q - 1), np.inf)
        weight = np.where(usable, p * x / (p * x + q - 1), 0.0)
        return (1 - weight) * mean + weight * np.where(usable, m, 0.0)
