"""Cumulative expected purchases of active customers over a grid of future times, for many
parameter draws.

The BG/NBD expectation (:func:`crmlib.clv.bgnbd.expected_if_alive`) needs one Gauss
hypergeometric function per customer group (distinct frequency and age T), time and draw: two
hundred draws of 24 months over the 28,000 groups of a million customers are 134 million
evaluations. As a function of ``u = ln(α + T)`` the expectation is analytic and smooth, so
:class:`Curves` evaluates it exactly at :data:`NODES` Chebyshev points in ``u`` per frequency
and interpolates (barycentric formula) to every group's T: twelve times fewer evaluations, with a
relative error below 1e-10 on CDNOW-like parameters (``tests/clv/test_forecast.py`` checks it
against the exact values). Where interpolation would not save work (few ages per frequency),
every group is evaluated exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crmlib.clv.bgnbd import expected_if_alive

__all__ = ["NODES", "Curves"]

#: Chebyshev points per frequency.
NODES = 24
_K = np.arange(NODES)
_POINTS = np.cos(np.pi * (2 * _K + 1) / (2 * NODES))  # on [-1, 1]
_WEIGHTS = (-1.0) ** _K * np.sin(np.pi * (2 * _K + 1) / (2 * NODES))


class Curves:
    """Cumulative expected purchases at ``ends`` of active customers in the groups
    ``(x, T)``, as a (times × groups) array per parameter set."""

    def __init__(self, ends: np.ndarray, x: np.ndarray, T: np.ndarray) -> None:
        self.ends = np.asarray(ends, dtype=float)
        self.x, self.T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        self.frequencies, self.which = np.unique(self.x, return_inverse=True)
        self.interpolate = len(self.x) > 2 * NODES * len(self.frequencies)

    def exact(self, theta: Sequence[float]) -> np.ndarray:
        """Every group evaluated with the closed form."""
        return expected_if_alive(theta, self.ends[:, None], self.x, self.T)

    def __call__(self, theta: Sequence[float]) -> np.ndarray:
        """The curves of one parameter set ``(r, alpha, a, b)``: interpolated when that saves
        work, else exact."""
        if not self.interpolate:
            return self.exact(theta)
        alpha = theta[1]
        u = np.log(alpha + self.T)
        low, high = u.min(), u.max()
        nodes = (low + high) / 2 + (high - low) / 2 * _POINTS
        at_nodes = expected_if_alive(
            theta,
            self.ends[:, None, None],
            self.frequencies[None, :, None],
            (np.exp(nodes) - alpha)[None, None, :],
        )  # times × frequencies × nodes
        gap = u[:, None] - nodes[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            coefficients = _WEIGHTS / gap
        hit = gap == 0
        if hit.any():  # a group's T falls on a node: take the node's value
            rows = hit.any(axis=1)
            coefficients[rows] = hit[rows]
        coefficients /= coefficients.sum(axis=1, keepdims=True)
        out = np.empty((len(self.ends), len(self.x)))
        for k in range(len(self.ends)):
            out[k] = np.einsum("gj,gj->g", at_nodes[k][self.which], coefficients)
        return out
