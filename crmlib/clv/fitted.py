"""What every fitted CLV model shares: the fitted state with its parameter table, and the base
class of the repeat-purchase models (fit on a customer summary, then predict per customer).

Fitted state ends in ``_`` (``params_``, ``standard_errors_``, ``covariance_`` …) and ``fit``
returns the model, as in lifetimes.
"""

from __future__ import annotations

import abc
import warnings
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.likelihoods import PARAM_NAMES
from crmlib.clv.rows import check_summary, compress, compress_summary
from crmlib.config import check_range
from crmlib.errors import CrmError, CrmWarning, DataError
from crmlib.measure import WHY_NOT_DETAIL, mark_rows

__all__ = ["IDENTIFIABLE_RELATIVE_ERROR", "FittedModel", "TransactionModel"]

#: Largest relative standard error (std_error / estimate) at which a parameter counts as pinned
#: down by the data. At 1.0 the 95% interval already spans a factor of e^3.92, about 50: e.g.
#: a BG/NBD dropout parameter fitted on one year of weekly shoppers, who have not yet shown
#: how they stop. The published CDNOW fit has relative errors of 0.05 to 0.3.
IDENTIFIABLE_RELATIVE_ERROR = 1.0


class FittedModel:
    """Shared state of fitted models: ``params_``, standard errors and a tidy parameter table."""

    kind: str = ""
    params_: dict[str, float]
    covariance_: pd.DataFrame
    standard_errors_: dict[str, float]
    log_likelihood_: float
    converged_: bool
    n_customers_: int
    n_rows_: int

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise CrmError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def _store(self, theta: np.ndarray, cov: np.ndarray, ll: float, converged: bool) -> None:
        names = PARAM_NAMES[self.kind]
        self.params_ = {n: float(v) for n, v in zip(names, theta, strict=True)}
        self.covariance_ = pd.DataFrame(cov, index=list(names), columns=list(names))
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        self.standard_errors_ = {n: float(s) for n, s in zip(names, se, strict=True)}
        self.log_likelihood_ = float(ll)
        self.converged_ = bool(converged)

    def parameters(self) -> pd.DataFrame:
        """Fitted parameters with standard errors, 95% intervals and whether the data pins them.

        Every parameter of these models is positive, so the interval is computed on the log
        scale (delta method: ``estimate * exp(±1.96 * std_error / estimate)``); it never goes
        below zero. ``relative_error`` is ``std_error / estimate``; above
        :data:`IDENTIFIABLE_RELATIVE_ERROR` (or with no finite standard error) the data cannot
        pin the parameter down: ``identifiable`` is False and ``why_not`` is
        ``not_identifiable`` (:mod:`crmlib.measure`). The estimate is kept; the report says
        what it means for the predictions.
        """
        self._check_fitted()
        table = pd.DataFrame(
            {
                "parameter": list(self.params_),
                "estimate": list(self.params_.values()),
                "std_error": [self.standard_errors_[n] for n in self.params_],
            }
        )
        est, se = table["estimate"].to_numpy(float), table["std_error"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rel = np.where(est > 0, se / est, np.nan)
            table["lower_95"] = est * np.exp(-1.96 * rel)
            table["upper_95"] = est * np.exp(1.96 * rel)
        table["relative_error"] = rel
        table["identifiable"] = np.isfinite(rel) & (rel <= IDENTIFIABLE_RELATIVE_ERROR) & (se > 0)
        table = mark_rows(table, ~table["identifiable"], "not_identifiable", columns=[])
        table[WHY_NOT_DETAIL] = [
            {"parameter": name} if not ok else None
            for name, ok in zip(table["parameter"], table["identifiable"], strict=True)
        ]
        return table

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(unfitted)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({shown}, customers={self.n_customers_})"


class TransactionModel(FittedModel, abc.ABC):
    """Base of the repeat-purchase models: fit on a customer summary, then predict per customer.

    Attributes set by :meth:`fit`
    -----------------------------
    params_ : dict of str to float
    standard_errors_ : dict of str to float
    covariance_ : pandas.DataFrame
    log_likelihood_ : float
        Summed over customers.
    converged_ : bool
    n_customers_, n_rows_ : int
        Customers fitted and the unique (frequency, recency, T) rows they collapse into.
    time_unit_ : str
        ``"W"`` or ``"D"``, taken from ``summary.attrs["time_unit"]`` (``"W"`` when absent).
    """

    #: Whether :meth:`_fit_rows` collapses identical customers itself (else :meth:`fit` does).
    _collapses_rows = False

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = check_range("penalizer", penalizer, low=0.0)

    def fit(self, summary: pd.DataFrame) -> TransactionModel:
        """Fit the model on a customer summary (:func:`crmlib.clv.summary`); returns ``self``."""
        x, tx, T = check_summary(summary)
        if not (x > 0).any():
            raise DataError(
                "no customer bought more than once, so repeat buying cannot be modelled",
                column="frequency",
            )
        self.time_unit_ = str(summary.attrs.get("time_unit", "W"))
        self.n_customers_ = len(x)
        if self._collapses_rows:
            self._fit_rows(x, tx, T, np.ones_like(x))
        else:
            (xu, txu, Tu), counts = compress_summary(x, tx, T)
            self.n_rows_ = len(xu)
            self._fit_rows(xu, txu, Tu, counts)
        if not self.converged_:
            warnings.warn(
                f"the {self.kind} fit did not converge ({self._message}); predictions may be "
                "unreliable — check the data (enough repeat buyers, a long enough history)",
                CrmWarning,
                stacklevel=2,
            )
        return self

    # subclasses implement these
    @abc.abstractmethod
    def _fit_rows(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        """Fit on unique rows ``x, tx, T`` with counts ``w`` and store the fitted state."""

    @abc.abstractmethod
    def expected_purchases(
        self, t: float | np.ndarray, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units of customers with this history."""

    def expected_purchases_sum(
        self, times: Any, coefficients: Any, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """``Σ_k coefficients[k] · expected_purchases(times[k], …)`` per customer (a discounted
        sum of monthly purchases is such a combination), computed on the unique rows."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        (xu, txu, Tu), _, inverse = compress(x, tx, T)
        total = np.zeros(len(xu))
        for t, c in zip(times, coefficients, strict=True):
            total += c * self.expected_purchases(t, xu, txu, Tu)
        return total[inverse]

    @abc.abstractmethod
    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Probability that customers with this history are still active (model's own value)."""

    @abc.abstractmethod
    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases within ``t`` of a new customer's first purchase."""
