"""MBG/NBD and Pareto/NBD, fitted by lifetimes' own fitters on the weighted unique rows.

Speed matters less for these models, so lifetimes fits them (its likelihoods, its optimiser);
this module feeds the fitters the weighted unique rows of the summary, keeps their console
output and warnings-filter changes out of the user's session, and adds the covariance of the
estimates from a numerical Hessian.

References
----------
Batislam, Denizel & Filiztekin (2007) — MBG/NBD. Schmittlein, Morrison & Colombo (1987) —
Pareto/NBD.
"""

from __future__ import annotations

import abc
import contextlib
import io
import logging
import warnings
from typing import Any

import numpy as np

from crmlib.clv.fitted import TransactionModel
from crmlib.clv.likelihoods import PARAM_NAMES
from crmlib.clv.optimise import numeric_covariance
from crmlib.errors import DataError

__all__ = ["ModifiedBetaGeoModel", "ParetoNBDModel"]

log = logging.getLogger(__name__)


class _LifetimesModel(TransactionModel):
    """A model fitted by a lifetimes fitter on the weighted unique rows of the summary."""

    _fitter_name = ""

    def _fitter(self) -> Any:
        import lifetimes

        return getattr(lifetimes, self._fitter_name)(penalizer_coef=self.penalizer)

    def _fit_rows(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        from lifetimes.utils import ConvergenceError

        fitter = self._fitter()
        captured = io.StringIO()
        # lifetimes prints the optimiser output on failure and resets a warnings filter inside its
        # likelihood; keep both out of the user's session.
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            try:
                self._run_fitter(fitter, x.astype(int), tx, T, w)
            except ConvergenceError as exc:
                log.debug("lifetimes output: %s", captured.getvalue())
                raise DataError(
                    f"the {self.kind} model did not converge on this data ({exc}); try more "
                    "history, more repeat buyers or the bgnbd model"
                ) from None
        self.lifetimes_ = fitter
        names = PARAM_NAMES[self.kind]
        theta = np.array([float(fitter.params_[n]) for n in names])

        def ll(theta_: np.ndarray) -> float:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                return self._total_log_likelihood(theta_, x, tx, T, w)

        cov = numeric_covariance(ll, theta)
        value = ll(theta)
        self._message = "converged"
        self._store(theta, cov, value, True)

    def _run_fitter(
        self, fitter: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
    ) -> None:
        """Fit the lifetimes ``fitter`` on the weighted rows."""
        fitter.fit(x, tx, T, weights=w)

    @staticmethod
    @abc.abstractmethod
    def _total_log_likelihood(
        theta: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
    ) -> float:
        """Summed log-likelihood at natural parameters ``theta`` (lifetimes' formula)."""

    def expected_purchases(
        self, t: float | np.ndarray, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        self._check_fitted()
        with np.errstate(all="ignore"):
            out = self.lifetimes_.conditional_expected_number_of_purchases_up_to_time(
                t, np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float)
            )
        return np.asarray(out, dtype=float)

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        self._check_fitted()
        with np.errstate(all="ignore"):
            out = self.lifetimes_.conditional_probability_alive(
                np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float)
            )
        return np.asarray(out, dtype=float)

    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(
            self.lifetimes_.expected_number_of_purchases_up_to_time(np.asarray(t, float)),
            dtype=float,
        )


class ModifiedBetaGeoModel(_LifetimesModel):
    """MBG/NBD (Batislam et al. 2007) through lifetimes' ``ModifiedBetaGeoFitter``."""

    kind = "mbgnbd"
    _fitter_name = "ModifiedBetaGeoFitter"

    @staticmethod
    def _total_log_likelihood(
        theta: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
    ) -> float:
        from lifetimes import ModifiedBetaGeoFitter

        # lifetimes returns the mean negative log-likelihood per customer
        return (
            -float(ModifiedBetaGeoFitter._negative_log_likelihood(np.log(theta), x, tx, T, w, 0.0))
            * w.sum()
        )


class ParetoNBDModel(_LifetimesModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) through lifetimes' ``ParetoNBDFitter``."""

    kind = "pnbd"
    _fitter_name = "ParetoNBDFitter"

    def _run_fitter(
        self, fitter: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
    ) -> None:
        """lifetimes' Nelder-Mead from a fixed start, then once more from where it stopped.

        lifetimes starts Pareto/NBD from a random point and stops at tolerance 1e-4; on a flat
        likelihood that sometimes ends short of the optimum (seen: s 2.68 instead of 1.21,
        log-likelihood 0.4 lower), so the same data gave different models run to run. A fixed
        start makes the fit repeatable and the restart finishes what the first run left.
        """
        fitter.fit(x, tx, T, weights=w, initial_params=np.ones(4))
        scale = fitter._scale  # lifetimes fits alpha and beta on a rescaled time axis
        start = fitter.params_[["r", "alpha", "s", "beta"]].to_numpy(float, copy=True)
        start[[1, 3]] *= scale
        fitter.fit(x, tx, T, weights=w, initial_params=start)

    @staticmethod
    def _total_log_likelihood(
        theta: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
    ) -> float:
        from lifetimes import ParetoNBDFitter

        # lifetimes divides the summed log-likelihood by the mean weight
        return -float(ParetoNBDFitter._negative_log_likelihood(theta, x, tx, T, w, 0.0)) * w.mean()
