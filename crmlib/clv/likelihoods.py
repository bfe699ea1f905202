"""Log-likelihoods of the BG/NBD and Gamma-Gamma models with their analytic gradients.

Small vectorised numpy functions on the weighted unique rows of a summary; the formulas are the
ones of lifetimes 0.11.3 and the tests compare both (log-likelihood and gradient). Each model's
data is arranged once (:class:`BgnbdRows`, :class:`SpendRows`) so that an optimiser can evaluate
the likelihood many times cheaply.

References
----------
Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2) — BG/NBD, equation (6) and the note
http://brucehardie.com/notes/004/. Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
Value", http://brucehardie.com/notes/025/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from crmlib.clv.rows import factorize, factorize_first

__all__ = [
    "PARAM_NAMES",
    "BgnbdRows",
    "SpendRows",
    "bgnbd_ll_grad",
    "bgnbd_log_likelihood",
    "gamma_gamma_ll_grad",
    "gamma_gamma_log_likelihood",
    "weighted_sum",
]

#: Parameter names of each model, in the order of lifetimes.
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pnbd": ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "v"),
}


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """Weighted sum without BLAS (whose threads stall on busy shared machines)."""
    return float(np.einsum("i,i->", weights, values))


class BgnbdRows(NamedTuple):
    """Data of the BG/NBD likelihood arranged for speed.

    The unique frequencies with their summed weights (for the terms in x only), the ages of
    customers without a repeat purchase (whose term needs T only), and the rows of repeat
    customers, whose ``x``, ``t_x`` and ``T`` are held as unique values plus an index: at day
    resolution they take few distinct values, so logarithms are taken once per value.
    """

    xu: np.ndarray
    wu: np.ndarray
    T0: np.ndarray
    w0: np.ndarray
    w: np.ndarray
    x: np.ndarray
    x_vals: np.ndarray
    x_idx: np.ndarray
    tx_vals: np.ndarray
    tx_idx: np.ndarray
    T_vals: np.ndarray
    T_idx: np.ndarray
    w_T: np.ndarray
    wx_T: np.ndarray

    @classmethod
    def build(
        cls, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray, scale: float = 1.0
    ) -> BgnbdRows:
        xu, inv = factorize(x)
        wu = np.bincount(inv, weights=w, minlength=len(xu))
        zero = x == 0
        T0, inv0 = factorize(T[zero])
        w0 = np.bincount(inv0, weights=w[zero], minlength=len(T0))
        pos = ~zero
        x_vals, x_idx = factorize(x[pos])
        tx_vals, tx_idx = factorize(tx[pos])
        T_vals, T_idx = factorize(T[pos])
        w_pos = w[pos]
        # collapse repeat customers with the same (x, t_x, T) into one weighted row
        key = (x_idx.astype(np.int64) * len(tx_vals) + tx_idx) * len(T_vals) + T_idx
        rows, first = factorize_first(key)
        if len(first) < len(key):
            w_pos = np.bincount(rows, weights=w_pos, minlength=len(first))
            x_idx, tx_idx, T_idx = x_idx[first], tx_idx[first], T_idx[first]
        x_pos = x_vals[x_idx]
        return cls(
            xu,
            wu,
            T0 * scale,
            w0,
            w_pos,
            x_pos,
            x_vals,
            x_idx,
            tx_vals * scale,
            tx_idx,
            T_vals * scale,
            T_idx,
            np.bincount(T_idx, weights=w_pos, minlength=len(T_vals)),
            np.bincount(T_idx, weights=w_pos * x_pos, minlength=len(T_vals)),
        )

    @property
    def n_rows(self) -> int:
        """Rows the likelihood runs over: distinct ages of one-time buyers plus distinct
        (x, t_x, T) of repeat buyers."""
        return len(self.T0) + len(self.w)

    def rescaled(self, factor: float) -> BgnbdRows:
        """The same rows with every time multiplied by ``factor``."""
        return self._replace(
            T0=self.T0 * factor, tx_vals=self.tx_vals * factor, T_vals=self.T_vals * factor
        )


def bgnbd_ll_grad(params: np.ndarray, d: BgnbdRows) -> tuple[float, np.ndarray]:
    """Total BG/NBD log-likelihood and its gradient in (r, alpha, a, b).

    Per customer (lifetimes' notation, FHL 2005 eq. 6):
    ``A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))`` with
    ``A1 = lnΓ(r+x) − lnΓ(r) + r ln α``,
    ``A2 = lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)``,
    ``A3 = −(r+x) ln(α+T)``, ``A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)``.
    A1 + A2 are evaluated on the unique frequencies; customers without a repeat purchase
    contribute A3 only; for the others ``ln(e^A3 + e^A4) = A3 + ln(1 + e^D)`` with
    ``D = A4 − A3``, whose derivative weights are ``1 − σ(D)`` and ``σ(D)``.
    """
    r, alpha, a, b = params
    xu, wu = d.xu, d.wu
    ll = weighted_sum(
        wu,
        gammaln(r + xu)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + xu)
        - gammaln(b)
        - gammaln(a + b + xu),
    )
    g_r = weighted_sum(wu, digamma(r + xu) - digamma(r) + np.log(alpha))
    g_alpha = wu.sum() * r / alpha
    dg_ab = digamma(a + b) - digamma(a + b + xu)
    g_a = weighted_sum(wu, dg_ab)
    g_b = weighted_sum(wu, dg_ab + digamma(b + xu) - digamma(b))
    # customers without repeat purchase: A3 = −r ln(α+T)
    log_aT0 = np.log(alpha + d.T0)
    ll -= r * weighted_sum(d.w0, log_aT0)
    g_r -= weighted_sum(d.w0, log_aT0)
    g_alpha -= r * weighted_sum(d.w0, 1.0 / (alpha + d.T0))
    # repeat customers. Terms in T only are summed per distinct T with the weights w_T and
    # w·x_T gathered at build time; the rest row by row, logarithms once per distinct value.
    log_aT_vals = np.log(alpha + d.T_vals)
    inv_aT_vals = 1.0 / (alpha + d.T_vals)
    rx_T = r * d.w_T + d.wx_T  # Σ w (r + x) per distinct T
    ll -= weighted_sum(rx_T, log_aT_vals)  # −Σ w (r+x) ln(α+T)
    g_r -= weighted_sum(d.w_T, log_aT_vals)
    g_alpha -= weighted_sum(rx_T, inv_aT_vals)
    rx = r + d.x
    log_ratio = np.log(alpha + d.tx_vals)[d.tx_idx] - log_aT_vals[d.T_idx]  # ln(α+t_x) − ln(α+T)
    diff = (np.log(a) - np.log(b + d.x_vals - 1))[d.x_idx] - rx * log_ratio  # D = A4 − A3
    e = np.exp(np.minimum(diff, 700.0))
    soft = np.log1p(e)  # ln(1 + e^D)
    if diff.max(initial=0.0) > 700.0:  # beyond exp's range ln(1 + e^D) = D
        soft += np.maximum(diff - 700.0, 0.0)
    ll += weighted_sum(d.w, soft)
    wp4 = d.w * (e / (1.0 + e))  # w σ(D): weight of the A4 branch
    g_r -= weighted_sum(wp4, log_ratio)
    inv_gap = (1.0 / (alpha + d.tx_vals))[d.tx_idx] - inv_aT_vals[d.T_idx]
    g_alpha -= weighted_sum(wp4 * rx, inv_gap)
    g_a += wp4.sum() / a
    g_b -= weighted_sum(
        np.bincount(d.x_idx, weights=wp4, minlength=len(d.x_vals)), 1.0 / (b + d.x_vals - 1)
    )
    return float(ll), np.array([g_r, g_alpha, g_a, g_b])


def bgnbd_log_likelihood(
    params: Mapping[str, float] | np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """BG/NBD log-likelihood of customers and its gradient (Fader, Hardie & Lee 2005, eq. 6).

    Parameters
    ----------
    params
        ``r, alpha, a, b`` as a mapping or an array in that order.
    frequency, recency, T
        Repeat purchases, time of the last purchase and age of each customer (or unique row).
    weights
        Number of customers per row (1 when None).

    Returns
    -------
    (float, numpy.ndarray)
        The summed log-likelihood and its gradient with respect to ``(r, alpha, a, b)``.
    """
    theta = _as_params(params, PARAM_NAMES["bgnbd"])
    x = np.asarray(frequency, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    rows = BgnbdRows.build(x, np.asarray(recency, float), np.asarray(T, float), w)
    return bgnbd_ll_grad(theta, rows)


class SpendRows(NamedTuple):
    """Data of the Gamma-Gamma likelihood: unique frequencies with summed weights (the gamma
    functions depend on x only), per-row ``x·m`` and weights, and the constant sums of ln m."""

    xu: np.ndarray
    wu: np.ndarray
    x: np.ndarray
    xm: np.ndarray
    w: np.ndarray
    sum_log_m: float
    sum_x_log_m: float

    @classmethod
    def build(cls, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> SpendRows:
        xu, inv = np.unique(x, return_inverse=True)
        wu = np.bincount(inv.ravel(), weights=w)
        log_m = np.log(m)
        return cls(xu, wu, x, x * m, w, weighted_sum(w, log_m), weighted_sum(w, x * log_m))


def gamma_gamma_ll_grad(params: np.ndarray, d: SpendRows) -> tuple[float, np.ndarray]:
    """Total Gamma-Gamma log-likelihood and gradient in (p, q, v); see
    :func:`gamma_gamma_log_likelihood` for the formula."""
    p, q, v = params
    xu, wu = d.xu, d.wu
    u = p * xu
    dg_uq = digamma(u + q)
    log_v = np.log(v)
    log_xu = np.log(xu)
    ll = weighted_sum(wu, gammaln(u + q) - gammaln(u) - gammaln(q) + q * log_v + u * log_xu)
    ll += p * d.sum_x_log_m - d.sum_log_m
    g_p = weighted_sum(wu, xu * (dg_uq - digamma(u) + log_xu)) + d.sum_x_log_m
    g_q = weighted_sum(wu, dg_uq - digamma(q) + log_v)
    g_v = wu.sum() * q / v
    # per row: −(p x + q) ln(x m + v)
    log_xmv = np.log(d.xm + v)
    pxq = p * d.x + q
    ll -= weighted_sum(d.w, pxq * log_xmv)
    g_p -= weighted_sum(d.w, d.x * log_xmv)
    g_q -= weighted_sum(d.w, log_xmv)
    g_v -= weighted_sum(d.w, pxq / (d.xm + v))
    return float(ll), np.array([g_p, g_q, g_v])


def gamma_gamma_log_likelihood(
    params: Mapping[str, float] | np.ndarray,
    frequency: np.ndarray,
    monetary_value: np.ndarray,
    *,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Gamma-Gamma log-likelihood of repeat customers' mean spend and its gradient in (p, q, v).

    Same form as lifetimes' ``GammaGammaFitter`` (Fader & Hardie 2013, note 025, eq. 3 with the
    density of the mean of ``x`` gamma variables): for ``u = p x``,
    ``lnΓ(u+q) − lnΓ(u) − lnΓ(q) + q ln v + (u−1) ln m + u ln x − (u+q) ln(x m + v)``.
    """
    theta = _as_params(params, PARAM_NAMES["gamma_gamma"])
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return gamma_gamma_ll_grad(theta, SpendRows.build(x, m, w))


def _as_params(params: Mapping[str, float] | np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    if isinstance(params, Mapping):
        return np.array([float(params[n]) for n in names])
    return np.asarray(params, dtype=float)
