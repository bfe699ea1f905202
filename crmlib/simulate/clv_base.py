"""A customer base drawn from known BG/NBD and Gamma-Gamma parameters, with its future.

The demo retailer (:func:`crmlib.simulate.simulate`) runs the same clocks inside a full
retailer's export; checks of the CLV models need many small bases quickly, and the future that
followed each one. :func:`simulate_base` draws customers directly as a CLV summary (frequency,
recency, T, monetary value, at day resolution expressed in weeks) and then lets every customer
who is still active buy on for ``future_months`` months, so a forecast can be compared with what
happened.

The process (Fader, Hardie & Lee 2005; Fader & Hardie 2013): each customer buys at a Poisson rate
``λ ~ Gamma(r, α)`` and drops out after each repeat purchase with probability ``p ~ Beta(a, b)``;
each purchase is worth a Gamma(p_s, ν) amount with ``ν ~ Gamma(q, v)`` per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.config import check_range

__all__ = ["PURCHASE", "SPEND", "SimulatedBase", "future_purchases", "simulate_base"]

#: BG/NBD parameters (in weeks) close to the published CDNOW fit.
PURCHASE: dict[str, float] = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
#: Gamma-Gamma parameters of the spend per purchase.
SPEND: dict[str, float] = {"p": 6.0, "q": 4.0, "v": 15.0}

#: Days in a month of the forecast (365.25 / 12), as ``days_per_month`` in ``clv.yaml``.
_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class SimulatedBase:
    """A simulated base: its CLV summary, the future that followed and the parameters used."""

    summary: pd.DataFrame
    """``customer_id, frequency, recency, T, monetary_value`` (weeks), as
    :func:`crmlib.clv.summary` returns; plus ``future_orders`` and ``future_revenue``: what each
    customer bought in the ``future_months`` after the end of the observation."""
    future: pd.DataFrame
    """Per future month: ``month`` (1 = the first after the observation), ``orders``,
    ``revenue`` of the whole base."""
    purchase: dict[str, float]
    spend: dict[str, float]


def simulate_base(
    n: int,
    *,
    purchase: Mapping[str, float] | None = None,
    spend: Mapping[str, float] | None = None,
    max_days: int = 3 * 365,
    future_months: int = 12,
    seed: int = 1,
    covariates: pd.DataFrame | None = None,
    effects: Mapping[str, Mapping[str, float]] | None = None,
) -> SimulatedBase:
    """Draw ``n`` customers observed for 1..``max_days`` days since their first purchase.

    Parameters
    ----------
    n
        Customers.
    purchase, spend
        BG/NBD ``r, alpha, a, b`` (per week) and Gamma-Gamma ``p, q, v``; :data:`PURCHASE` and
        :data:`SPEND` by default.
    max_days
        Longest history; each customer's is uniform on 1..max_days days.
    future_months
        Months of 30.4375 days simulated after the observation.
    seed
        Seed of the random generator: the same seed gives the same base.
    covariates
        Numeric customer columns (``n`` rows) that change the customers' behaviour through
        ``effects``; they are copied into the summary.
    effects
        Planted effects per covariate column, as :mod:`crmlib.clv.covariates` models them:
        ``{"purchase": {column: γ}}`` multiplies the purchase rate by ``exp(γ z)`` (α scaled by
        ``exp(−γ z)``), ``"dropout"`` scales the dropout parameter ``a`` by ``exp(γ z)`` and
        ``"spend"`` the spend scale ``v`` (and so the mean spend) by ``exp(γ z)``.
    """
    n = int(check_range("n", n, low=1))
    months = int(check_range("future_months", future_months, low=0))
    bg = dict(PURCHASE if purchase is None else purchase)
    gg = dict(SPEND if spend is None else spend)
    scaled = _planted(covariates, effects, n)
    rng = np.random.default_rng(seed)
    t_days = rng.integers(1, int(max_days) + 1, size=n)
    T = t_days / 7.0
    lam = rng.gamma(bg["r"], 1.0 / (bg["alpha"] / scaled["purchase"]), size=n)
    p = rng.beta(bg["a"] * scaled["dropout"], bg["b"], size=n)
    events = rng.poisson(lam * T)  # repeat purchases had the customer never dropped out
    lifetime = rng.geometric(p)  # drops out right after this repeat purchase
    x = np.minimum(events, lifetime)
    # time of the x-th of `events` uniform event times on (0, T): Beta(x, events − x + 1) · T
    share = np.zeros(n)
    bought = x > 0
    share[bought] = rng.beta(x[bought], events[bought] - x[bought] + 1)
    recency = np.minimum(np.floor(share * t_days), t_days) / 7.0
    nu = rng.gamma(gg["q"], 1.0 / (gg["v"] * scaled["spend"]), size=n)
    monetary = np.zeros(n)
    monetary[bought] = rng.gamma(gg["p"] * x[bought], 1.0 / (nu[bought] * x[bought]))

    # the future: active customers (no dropout yet) buy on, up to `lifetime` purchases in all
    left = np.where(events < lifetime, lifetime - events, 0)
    lengths = np.full(months, _DAYS_PER_MONTH / 7.0)
    orders, revenue = future_purchases(rng, lam, left, lengths, nu=nu, spend_shape=gg["p"])
    summary = pd.DataFrame(
        {
            "customer_id": np.char.add("c", np.arange(n).astype(str)),
            "frequency": x,
            "recency": recency,
            "T": T,
            "monetary_value": monetary,
            "future_orders": orders.sum(axis=0),
            "future_revenue": revenue.sum(axis=0),
        }
    )
    if covariates is not None:
        for column in covariates.columns:
            summary[column] = covariates[column].to_numpy()
    summary.attrs["time_unit"] = "W"
    future = pd.DataFrame(
        {
            "month": np.arange(1, months + 1),
            "orders": orders.sum(axis=1),
            "revenue": revenue.sum(axis=1),
        }
    )
    return SimulatedBase(summary, future, bg, gg)


def _planted(
    covariates: pd.DataFrame | None, effects: Mapping[str, Mapping[str, float]] | None, n: int
) -> dict[str, np.ndarray | float]:
    """Per customer the factor ``exp(Σ γ z)`` of each behaviour (1.0 without covariates)."""
    out: dict[str, np.ndarray | float] = {"purchase": 1.0, "dropout": 1.0, "spend": 1.0}
    if covariates is None:
        return out
    if len(covariates) != n:
        raise ValueError(f"covariates has {len(covariates)} rows for {n} customers")
    for behaviour, planted in (effects or {}).items():
        if behaviour not in out:
            raise ValueError(f"unknown behaviour {behaviour!r}; expected purchase, dropout, spend")
        linear = sum(
            gamma * covariates[column].to_numpy(float) for column, gamma in planted.items()
        )
        out[behaviour] = np.exp(linear) * np.ones(n)
    return out


def future_purchases(
    rng: np.random.Generator,
    rate: np.ndarray,
    left: np.ndarray,
    lengths: np.ndarray,
    *,
    nu: np.ndarray,
    spend_shape: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders and revenue per period of customers buying at Poisson ``rate`` until their
    ``left`` remaining purchases are used up, each purchase worth Gamma(``spend_shape``, ``nu``).

    ``lengths`` are the periods' lengths in the rate's time unit. Returns two ``(periods, n)``
    arrays: whole orders and their revenue.
    """
    n = len(rate)
    cumulative = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=np.int64)
    orders = np.zeros((len(lengths), n), dtype=np.int64)
    for k, length in enumerate(lengths):
        cumulative = cumulative + rng.poisson(np.minimum(rate * length, 1e12))  # numpy's limit
        orders[k] = np.minimum(cumulative, left) - done
        done = done + orders[k]
    revenue = np.zeros(orders.shape)
    some = orders > 0
    scale = np.broadcast_to(1.0 / nu, orders.shape)
    revenue[some] = rng.gamma(spend_shape * orders[some], scale[some])
    return orders, revenue
