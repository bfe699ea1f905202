"""Expected and simulated orders and revenue of a base, month by month, for one set of model
parameters: the step :func:`crmlib.clv.intervals` repeats for every parameter draw.

:class:`Layout` arranges the customers once (distinct frequency/age groups, distinct rows per
segment with their counts and spend sums); :meth:`Run.draw` then gives, for one parameter set,
the expected orders and revenue per month and segment, each group's expectation at the CLV
horizon and its discounted sum, and (for a draw) the deviation of a simulated future from that
expectation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crmlib.clv.bgnbd import alive_probability
from crmlib.clv.curves import Curves
from crmlib.clv.gamma_gamma import conditional_spend
from crmlib.clv.rows import compress
from crmlib.simulate.clv_base import future_purchases

__all__ = ["Customers", "Layout", "Run", "arrange"]


@dataclass(frozen=True)
class Layout:
    """The summary arranged for the draws: distinct (x, T) groups, distinct (segment, x, t_x,
    T) rows with their customers' counts and spend sums, and the customers' codes."""

    gx: np.ndarray
    gT: np.ndarray
    rx: np.ndarray
    rtx: np.ndarray
    rT: np.ndarray
    row_key: np.ndarray  # group * n_segments + segment
    count: np.ndarray
    usable: np.ndarray  # customers with a positive repeat spend
    spend_sum: np.ndarray  # their summed monetary value
    group: np.ndarray  # per customer
    segment: np.ndarray  # per customer
    n_segments: int


def arrange(
    x: np.ndarray, tx: np.ndarray, T: np.ndarray, m: np.ndarray, seg: np.ndarray, n_seg: int
) -> Layout:
    """Arrange customers (frequency, recency, T, monetary value, segment code of ``n_seg``)
    for :class:`Run`."""
    (gx, gT), _, group = compress(x, T)
    (rx, rtx, rT, rseg), count, row = compress(x, tx, T, seg)
    row_group = np.empty(len(count), dtype=np.int64)
    row_group[row] = group
    usable = (x > 0) & (m > 0)
    return Layout(
        gx=gx,
        gT=gT,
        rx=rx,
        rtx=rtx,
        rT=rT,
        row_key=row_group * n_seg + rseg.astype(np.int64),
        count=count,
        usable=np.bincount(row, weights=usable, minlength=len(count)),
        spend_sum=np.bincount(row, weights=np.where(usable, m, 0.0), minlength=len(count)),
        group=group,
        segment=seg,
        n_segments=n_seg,
    )


@dataclass(frozen=True)
class Customers:
    """Every customer's frequency, recency, T and monetary value, for the simulated futures."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    m: np.ndarray


class Run:
    """One computation of :func:`intervals`: the customers, the month grid and the per-draw
    step, which :meth:`draw` runs for one parameter set."""

    def __init__(
        self,
        data: Customers,
        layout: Layout,
        *,
        ends: np.ndarray,
        horizon: int,
        discount: np.ndarray,
        sample_customers: int,
        seed: int,
    ) -> None:
        self.data, self.layout, self.ends, self.horizon = data, layout, ends, horizon
        self.curves = Curves(ends, layout.gx, layout.gT)
        self.lengths = np.diff(ends, prepend=0.0)
        self.discount = discount
        self.share = min(1.0, sample_customers / max(len(data.x), 1))
        self.seed = seed

    def _segments(self, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Sum the columns of ``values`` (months × customers) per segment code."""
        n = self.layout.n_segments
        out = np.zeros((values.shape[0], n))
        for k in range(values.shape[0]):
            out[k] = np.bincount(codes, weights=values[k], minlength=n)
        return out

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Each of ``n`` customers independently with probability ``share``, in order: the
        number taken is binomial and the chosen ones a uniform subset of that size, which is the
        same law as a coin per customer without drawing ``n`` random numbers per draw."""
        return np.sort(rng.choice(n, size=rng.binomial(n, self.share), replace=False))

    def draw(self, theta: Sequence[float], phi: Sequence[float], index: int | None) -> dict:
        """Everything one parameter set gives; ``index`` numbers the draw (its random stream),
        None for the point estimate (no simulated outcome)."""
        lay = self.layout
        cumulative = self.curves.exact(theta) if index is None else self.curves(theta)
        monthly = np.diff(cumulative, axis=0, prepend=0.0)
        alive = alive_probability(theta, lay.rx, lay.rtx, lay.rT)
        p, q, v = phi
        size = len(lay.gx) * lay.n_segments
        weights_orders = np.bincount(lay.row_key, alive * lay.count, minlength=size)
        out = {"orders": monthly @ weights_orders.reshape(len(lay.gx), lay.n_segments)}
        if q > 1:
            mean = p * v / (q - 1)
            w = np.where(lay.rx > 0, p * lay.rx / (p * lay.rx + q - 1), 0.0)
            spend = mean * (lay.count - lay.usable * w) + w * lay.spend_sum
            weights_revenue = np.bincount(lay.row_key, alive * spend, minlength=size)
            out["revenue"] = monthly @ weights_revenue.reshape(len(lay.gx), lay.n_segments)
        else:  # the expected spend is infinite under these parameters
            out["revenue"] = np.full_like(out["orders"], np.inf)
        out["at_horizon"] = cumulative[self.horizon - 1].copy()  # not a view of all months
        out["discounted"] = self.discount[: self.horizon] @ monthly[: self.horizon]
        if index is not None:
            out.update(self._outcome(theta, phi, monthly, index))
        return out

    def _outcome(
        self, theta: Sequence[float], phi: Sequence[float], monthly: np.ndarray, index: int
    ) -> dict:
        """Deviations of simulated actual orders and revenue from their expectation, per month
        and segment, for one parameter set (a sample of customers, scaled to the base)."""
        rng = np.random.default_rng([self.seed, index])
        d, lay = self.data, self.layout
        pick = slice(None) if self.share >= 1 else self._sample(rng, len(d.x))
        x, tx, T, m = d.x[pick], d.tx[pick], d.T[pick], d.m[pick]
        r, alpha, a, b = theta
        p, q, v = phi
        alive_p = alive_probability(theta, x, tx, T)
        active = rng.random(len(x)) < alive_p
        rate = rng.gamma(r + x, 1.0 / (alpha + T))  # posterior of an active customer
        # draws of extreme parameters can put a dropout probability at 0 in floating point
        dropout = np.clip(rng.beta(a, b + x), 1e-12, 1.0)
        left = np.where(active, rng.geometric(dropout), 0)
        usable = (x > 0) & (m > 0)
        xu = np.where(usable, x, 0.0)
        nu = rng.gamma(q + p * xu, 1.0 / (v + xu * np.where(usable, m, 0.0)))
        orders, revenue = future_purchases(rng, rate, left, self.lengths, nu=nu, spend_shape=p)
        expected_orders = alive_p * monthly[:, lay.group[pick]]
        codes = lay.segment[pick]
        scale = 1.0 / np.sqrt(self.share)
        out = {"orders_deviation": self._segments(orders - expected_orders, codes) * scale}
        if q > 1:
            expected_revenue = expected_orders * conditional_spend(phi, x, m)
            deviation = self._segments(revenue - expected_revenue, codes) * scale
        else:
            deviation = np.zeros((len(self.ends), lay.n_segments))
        out["revenue_deviation"] = deviation
        return out
