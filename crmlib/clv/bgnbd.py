"""BG/NBD (Fader, Hardie & Lee 2005) with the vectorised likelihood and its analytic gradient.

Fitted by L-BFGS-B on log-parameters over the weighted unique rows of the summary, which is more
than twenty times faster than lifetimes' autograd likelihood on a million customers; on very
large data the fit starts from a sample of rows and is polished by Newton steps on all of them.
Predictions follow FHL (2005), equations (9), (10) and (12).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import hyp2f1

from crmlib.clv.fitted import TransactionModel
from crmlib.clv.likelihoods import PARAM_NAMES, BgnbdRows, bgnbd_ll_grad, weighted_sum
from crmlib.clv.optimise import (
    covariance,
    log_objective,
    maximise,
    newton,
    objective_hessian,
    single_threaded_blas,
)
from crmlib.clv.rows import compress

__all__ = ["BetaGeoModel", "alive_after_first", "alive_probability", "expected_if_alive"]

#: Above this many unique rows, BG/NBD is estimated on a sample of rows and polished by Newton
#: steps on all of them (see :func:`crmlib.clv.optimise.newton`).
_NEWTON_ROWS = 100_000
_SAMPLE_ROWS = 20_000


class BetaGeoModel(TransactionModel):
    """BG/NBD (Fader, Hardie & Lee 2005) with a vectorised likelihood and analytic gradient."""

    kind = "bgnbd"
    _collapses_rows = True

    def _fit_rows(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        scale = 10.0 / T.max()  # fit in rescaled time for conditioning; alpha scales back
        scaled = BgnbdRows.build(x, tx, T, w, scale)
        rows = scaled.rescaled(1.0 / scale)
        self.n_rows_ = scaled.n_rows

        def ll_scaled(theta: np.ndarray) -> tuple[float, np.ndarray]:
            return bgnbd_ll_grad(theta, scaled)

        def ll(theta_: np.ndarray) -> tuple[float, np.ndarray]:
            return bgnbd_ll_grad(theta_, rows)

        unscale = np.array([1.0, 1.0 / scale, 1.0, 1.0])
        polished = None
        with single_threaded_blas():
            if scaled.n_rows > _NEWTON_ROWS:
                # Large data: estimate on a uniform sample of customers (an unbiased
                # estimate of the likelihood), then polish on all rows with a few Newton steps.
                pick = np.random.default_rng(0).choice(len(x), _SAMPLE_ROWS, replace=False)
                sample = BgnbdRows.build(x[pick], tx[pick], T[pick], w[pick], scale)

                def ll_sample(theta_: np.ndarray) -> tuple[float, np.ndarray]:
                    return bgnbd_ll_grad(theta_, sample)

                start, _ = maximise(ll_sample, np.ones(4), w[pick].sum(), self.penalizer)
                # the sample's Hessian of the mean objective approximates the full one
                sample_objective = log_objective(ll_sample, w[pick].sum(), self.penalizer)
                phi0 = np.log(start)
                hess0 = objective_hessian(sample_objective, phi0, sample_objective(phi0)[1])
                polished = newton(ll_scaled, start, w.sum(), self.penalizer, start_hessian=hess0)
        if polished is not None:
            theta_scaled, hess, objective_value = polished
            theta = theta_scaled * unscale
            self._message = "converged (Newton)"
            converged = True
            # Hessian of the mean objective in log-parameters -> covariance of the estimates
            try:
                cov = np.linalg.inv(hess * w.sum()) * np.outer(theta, theta)
            except np.linalg.LinAlgError:
                cov = np.full((4, 4), np.nan)
        else:
            theta_scaled, result = maximise(ll_scaled, np.ones(4), w.sum(), self.penalizer)
            objective_value = float(result.fun)
            self._message = str(result.message)
            converged = bool(result.success)
            theta = theta_scaled * unscale
            with np.errstate(all="ignore"):
                cov = covariance(ll, theta)
        # log-likelihood in the original time unit: rescaling time by `scale` shifts it by
        # −ln(scale)·Σ w x (the Jacobian of the repeat-purchase times)
        penalty = self.penalizer * np.sum(theta_scaled**2)
        value = -(objective_value - penalty) * w.sum() + np.log(scale) * weighted_sum(w, x)
        self._store(theta, cov, value, converged)

    def expected_purchases(
        self, t: float | np.ndarray, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Conditional expected repeat purchases in ``(T, T + t]`` (FHL 2005, eq. 10): the
        expectation of a customer still active times P(alive)."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        return self._if_alive(t, x, T) * self.p_alive(x, tx, T)

    def expected_purchases_sum(
        self, times: Any, coefficients: Any, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """``Σ_k coefficients[k] · expected_purchases(times[k], …)``, with the hypergeometric
        part computed once per unique (frequency, T) pair and times P(alive) per customer."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        (xk, Tk), _, inverse = compress(x, T)
        total = np.zeros(len(xk))
        for t, c in zip(times, coefficients, strict=True):
            total += c * self._if_alive(t, xk, Tk)
        return total[inverse] * self.p_alive(x, tx, T)

    def _if_alive(self, t: Any, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return expected_if_alive(self._theta(), t, x, T)

    def _theta(self) -> tuple[float, ...]:
        return tuple(self.params_[n] for n in PARAM_NAMES["bgnbd"])

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive) of FHL (2005) eq. 12; 1 for customers without repeat purchase."""
        self._check_fitted()
        return alive_probability(self._theta(), frequency, recency, T)

    def p_alive_after_first(self, T: Any) -> np.ndarray:
        """P(alive) of a one-time buyer if the first purchase were also a dropout opportunity
        (the MBG/NBD assumption with the BG/NBD parameters): ``1 / (1 + a/b ((α+T)/α)^r)``."""
        self._check_fitted()
        return alive_after_first(self._theta(), T)

    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)] of FHL (2005) eq. 9."""
        self._check_fitted()
        r, alpha, a, b = (self.params_[n] for n in PARAM_NAMES["bgnbd"])
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


# The formulas as functions of the parameters, which broadcast: parameters of shape (draws, 1)
# against customers of shape (n,) give a (draws, n) array (see crmlib.clv.uncertainty).
def expected_if_alive(theta: Any, t: Any, x: Any, T: Any) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` of an active customer with ``x`` repeat purchases:
    ``(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]``.

    ``theta`` is ``(r, alpha, a, b)``; every argument broadcasts."""
    r, alpha, a, b = theta
    t, x, T = (np.asarray(v, dtype=float) for v in (t, x, T))
    ca, cb, cc = r + x, b + x, a + b + x - 1
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        raw = hyp2f1(ca, cb, cc, z)
        log_ratio = (r + x) * np.log((alpha + T) / (alpha + t + T))
        hyp = np.log(raw)
        # ₂F₁ is negative only where a + b + x − 1 < 0 (no repeat purchase and a + b < 1, as
        # drawn parameter sets can have): no logarithm there, the series is small
        negative = np.isfinite(raw) & (raw <= 0)
        bad = ~np.isfinite(hyp) & ~negative
        if np.any(bad):  # Euler's transformation where the series overflows
            alt = np.log(hyp2f1(cc - ca, cc - cb, cc, z)) + (cc - ca - cb) * np.log1p(-z)
            hyp = np.where(bad, alt, hyp)
        out = cc / (a - 1) * -np.expm1(hyp + log_ratio)
        if np.any(negative):
            out = np.where(negative, cc / (a - 1) * (1 - np.exp(log_ratio) * raw), out)
        return out


def alive_probability(theta: Any, x: Any, tx: Any, T: Any) -> np.ndarray:
    """P(alive) of FHL (2005) eq. 12 for parameters ``(r, alpha, a, b)``; 1 without a repeat
    purchase. Every argument broadcasts."""
    r, alpha, a, b = theta
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    with np.errstate(over="ignore"):
        log_odds = (
            np.log(a)
            - np.log(b + np.maximum(x, 1) - 1)
            + (r + x) * np.log((alpha + T) / (alpha + tx))
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_odds)), 1.0)


def alive_after_first(theta: Any, T: Any) -> np.ndarray:
    """P(alive) of a one-time buyer if the first purchase were a dropout opportunity:
    ``1 / (1 + a/b ((α+T)/α)^r)`` for parameters ``(r, alpha, a, b)``."""
    r, alpha, a, b = theta
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + a / b * ((alpha + np.asarray(T, dtype=float)) / alpha) ** r)
