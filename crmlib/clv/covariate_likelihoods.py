"""Log-likelihoods (and gradients) of BG/NBD and Gamma-Gamma with static covariates.

The covariates of a retailer are few categories (channel, member level, region): customers
fall into a handful of levels, and the frequencies into a few dozen values. The gamma and
digamma terms of both likelihoods depend only on the level and the frequency, so each
likelihood is built once for its rows (:class:`PurchaseLikelihood`, :class:`SpendLikelihood`)
and then evaluates those terms once per (level, frequency) and only logarithms per row. A fit
on a million customers evaluates the likelihood hundreds of times; this is what makes it
seconds and not minutes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

__all__ = [
    "PurchaseLikelihood",
    "SpendLikelihood",
    "bgnbd_covariate_ll_grad",
    "spend_covariate_ll_grad",
]


class _Levels:
    """Rows grouped by their covariate row and by frequency: ``level`` (row → level of ``z``),
    ``cell`` (row → (level, frequency) cell), and per cell its level and frequency."""

    def __init__(self, x: np.ndarray, z: np.ndarray) -> None:
        if z.shape[1]:
            self.z, self.level = _unique_rows(z)
        else:
            self.z, self.level = np.zeros((1, 0)), np.zeros(len(x), dtype=np.int64)
        values, x_code = np.unique(x, return_inverse=True)
        cells, self.cell = np.unique(
            self.level * len(values) + x_code.reshape(-1), return_inverse=True
        )
        self.cell = self.cell.reshape(-1)
        self.cell_level, self.cell_x = cells // len(values), values[cells % len(values)]

    def per_level(self, values: np.ndarray) -> np.ndarray:
        """Sum per level of per-row values."""
        return np.bincount(self.level, weights=values, minlength=len(self.z))


def _unique_rows(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(z, axis=0, return_inverse=True)``: the distinct rows in lexicographic order
    and each row's index among them. Each column's sorted codes are combined into one integer
    per row, which sorts as the rows do (hashing, where sorting a million rows of nine columns
    takes four seconds); the rows are sorted directly when a value is missing or the codes
    would not fit."""
    if np.isnan(z).any():
        rows, level = np.unique(z, axis=0, return_inverse=True)
        return rows, level.reshape(-1)
    codes = np.zeros(len(z), dtype=np.int64)
    span = 1
    for j in range(z.shape[1]):
        code, values = pd.factorize(z[:, j], sort=True)
        span *= max(len(values), 1)
        if span >= 2**62:
            rows, level = np.unique(z, axis=0, return_inverse=True)
            return rows, level.reshape(-1)
        codes = codes * len(values) + code
    level, _ = pd.factorize(codes, sort=True)
    first = np.empty(level.max() + 1 if len(level) else 0, dtype=np.int64)
    first[level[::-1]] = np.arange(len(level) - 1, -1, -1)  # each level's first row
    return z[first], level.astype(np.int64)


class PurchaseLikelihood:
    """Total BG/NBD log-likelihood with covariates and its gradient in
    ``phi = (ln r, ln α, ln a, ln b, γ_purchase…, γ_dropout…)`` over weighted rows.

    Per row (FHL 2005, eq. 6, with the customer's ``α_i`` and ``a_i``):
    ``lnΓ(r+x) − lnΓ(r) + r ln α_i + lnΓ(a_i+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a_i+b+x)
    − (r+x) ln(α_i+T) + [x>0] ln(1 + e^D)``, ``D = ln a_i − ln(b+x−1) + (r+x) ln((α_i+T)/(α_i+t_x))``.

    Parameters
    ----------
    x, tx, T
        Frequency, recency and age per row.
    z
        Covariate row per row (rows, k); k may be 0.
    w
        Weight per row (customers it stands for).
    """

    def __init__(
        self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, z: np.ndarray, w: np.ndarray
    ) -> None:
        x, tx, T, w = (np.asarray(v, dtype=float) for v in (x, tx, T, w))
        # repeaters first: the soft term ln(1 + e^D) is theirs alone, computed on a slice
        order = np.argsort(x <= 0, kind="stable")
        self.x, self.tx, self.T, self.w = x[order], tx[order], T[order], w[order]
        self.k = z.shape[1]
        self.groups = _Levels(self.x, np.asarray(z, dtype=float)[order])
        self.n_repeat = int((self.x > 0).sum())
        self.cell_w = np.bincount(self.groups.cell, weights=self.w)
        self.w_level = self.groups.per_level(self.w)
        self.wx = self.w * self.x

    def __call__(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        g, k, R, w = self.groups, self.k, self.n_repeat, self.w
        r, alpha, a, b = np.exp(phi[:4])
        alpha_l = alpha * np.exp(-(g.z @ phi[4 : 4 + k]))
        a_l = a * np.exp(g.z @ phi[4 + k :])
        n_levels, n_cells = len(a_l), len(g.cell_x)
        # the gamma terms, once per (level, frequency) cell
        cx, ca = g.cell_x, a_l[g.cell_level]
        cell_ll = (
            gammaln(r + cx) - gammaln(r) + gammaln(ca + b) + gammaln(b + cx) - gammaln(b)
            - gammaln(ca + b + cx)
        )  # fmt: skip
        cell_dr = digamma(r + cx) - digamma(r)
        cell_da = digamma(ca + b) - digamma(ca + b + cx)
        cell_db = digamma(ca + b) + digamma(b + cx) - digamma(b) - digamma(ca + b + cx)
        # b + x − 1 and the soft term's ln a_i − ln(b + x − 1), also once per cell
        cell_bx1 = np.where(cx > 0, b + cx - 1, 1.0)
        cell_c = np.log(ca) - np.log(cell_bx1)
        # per row: the logarithms of the ages
        alpha_i = alpha_l[g.level]
        aT, atx = alpha_i + self.T, alpha_i + self.tx
        log_aT = np.log(aT)
        span = log_aT - np.log(atx)  # ln((α_i + T) / (α_i + t_x))
        rx = r + self.x
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            diff = cell_c[g.cell[:R]] + rx[:R] * span[:R]
            soft = np.logaddexp(0.0, diff)
            sigma = np.exp(diff - soft)  # e^D / (1 + e^D)
        ws = w[:R] * sigma
        cell_ws = np.bincount(g.cell[:R], weights=ws, minlength=n_cells)
        log_alpha_l = np.log(alpha_l)
        w_log_aT = w @ log_aT
        ll = (
            self.cell_w @ cell_ll
            + r * (self.w_level @ log_alpha_l)
            - r * w_log_aT
            - self.wx @ log_aT
            + w[:R] @ soft
        )
        d_r = self.cell_w @ cell_dr + self.w_level @ log_alpha_l - w_log_aT + ws @ span[:R]
        # d/d ln α_i per row, (w (r/α_i − (r+x)/(α_i+T)) + wσ (r+x) (1/(α_i+T) − 1/(α_i+t_x))) α_i,
        # summed per level, where α_i is the level's
        inv_aT = 1.0 / aT
        inner = w * inv_aT
        inner[:R] -= ws * (inv_aT[:R] - 1.0 / atx[:R])
        via_alpha_l = r * self.w_level - alpha_l * g.per_level(rx * inner)
        via_a_l = np.bincount(
            g.cell_level, weights=self.cell_w * cell_da, minlength=n_levels
        ) * a_l + np.bincount(
            g.cell_level, weights=cell_ws, minlength=n_levels
        )  # the soft term's σ / a_i, times a_i for d/d ln a
        d_b = self.cell_w @ cell_db - cell_ws @ (1.0 / cell_bx1)
        grad = np.concatenate(
            [
                [r * d_r, via_alpha_l.sum(), via_a_l.sum(), b * d_b],
                -(g.z.T @ via_alpha_l),
                g.z.T @ via_a_l,
            ]
        )
        return float(ll), grad


class SpendLikelihood:
    """Total Gamma-Gamma log-likelihood with covariates and its gradient in
    ``phi = (ln p, ln q, ln v, γ_spend…)``: per repeat customer, with ``u = p x`` and
    ``v_i = v e^{γ z}``, ``lnΓ(u+q) − lnΓ(u) − lnΓ(q) + q ln v_i + (u−1) ln m + u ln x
    − (u+q) ln(x m + v_i)``.

    Parameters
    ----------
    x, m
        Frequency and mean spend per repeat customer.
    z
        Covariate row per customer (rows, k).
    w
        Weight per row.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray, z: np.ndarray, w: np.ndarray) -> None:
        self.x, self.m, self.w = (np.asarray(v, dtype=float) for v in (x, m, w))
        self.groups = _Levels(self.x, np.asarray(z, dtype=float))
        self.xm = self.x * self.m
        self.log_m, self.log_x = np.log(self.m), np.log(self.x)
        self.cell_w = np.bincount(self.groups.cell, weights=self.w)
        self.w_log_m = float(self.w @ self.log_m)

    def __call__(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        g, w, x = self.groups, self.w, self.x
        p, q, v = np.exp(phi[:3])
        v_l = v * np.exp(g.z @ phi[3:])
        u_cell = p * g.cell_x
        v_i = v_l[g.level]
        u = p * x
        xmv = self.xm + v_i
        log_xmv = np.log(xmv)
        w_level = g.per_level(w)
        ll = (
            self.cell_w @ (gammaln(u_cell + q) - gammaln(u_cell) - gammaln(q))
            + q * (w_level @ np.log(v_l))
            + w @ ((u - 1) * self.log_m + u * self.log_x - (u + q) * log_xmv)
        )
        d_p = self.cell_w @ (g.cell_x * (digamma(u_cell + q) - digamma(u_cell))) + w @ (
            x * (self.log_m + self.log_x - log_xmv)
        )
        d_q = self.cell_w @ (digamma(u_cell + q) - digamma(q)) + w_level @ np.log(v_l) - w @ log_xmv
        via_v_l = (q * w_level / v_l - g.per_level(w * (u + q) / xmv)) * v_l
        grad = np.concatenate([[p * d_p, q * d_q, via_v_l.sum()], g.z.T @ via_v_l])
        return float(ll), grad


def bgnbd_covariate_ll_grad(
    phi: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, z: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """One evaluation of :class:`PurchaseLikelihood` (build the class once to evaluate often)."""
    return PurchaseLikelihood(x, tx, T, z, w)(phi)


def spend_covariate_ll_grad(
    phi: np.ndarray, x: np.ndarray, m: np.ndarray, z: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """One evaluation of :class:`SpendLikelihood` (build the class once to evaluate often)."""
    return SpendLikelihood(x, m, z, w)(phi)
