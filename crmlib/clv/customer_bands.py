"""Per-customer intervals of the CLV figures from the forecast's parameter draws: for the whole
base (:func:`customer_table`) or for chosen customers only (:func:`chosen_customers`), such as
the twenty a page lists, which costs milliseconds where the whole base costs seconds per
million customers. Both compute each customer's figures the same way, so they agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.bgnbd import alive_after_first, alive_probability
from crmlib.clv.draws import ParameterDraws
from crmlib.clv.gamma_gamma import conditional_spend
from crmlib.clv.rows import check_summary, compress
from crmlib.clv.summaries import weeks_in_units
from crmlib.membership import isin

__all__ = ["MEASURES", "Part", "chosen_customers", "customer_table"]

#: The measures that get intervals, in the order their columns are placed.
MEASURES = ("expected_purchases", "p_alive", "expected_spend", "clv")
#: Customers scored per chunk for their intervals (draws × chunk values per measure).
_CHUNK = 20_000


@dataclass
class Part:
    """One group of customers fitted by one pair of models: its rows of the summary (in
    increasing order), its parameter draws, the point and per-draw arrays of
    :meth:`crmlib.clv.monthly.Run.draw` and each customer's (frequency, age) group, which the
    customers' intervals need."""

    rows: np.ndarray
    draws: ParameterDraws
    point: dict
    stacked: dict
    group: np.ndarray
    unit: str


def _bounds(values: np.ndarray, probabilities: Sequence[float]) -> np.ndarray:
    """Per row of ``values`` (customers × draws), its quantiles at ``probabilities`` as
    the forecast's tables take them (the ⌈p·n⌉-th smallest draw); shape (len(probabilities), rows)."""
    n = values.shape[1]
    kth = [max(0, int(np.ceil(p * n)) - 1) for p in probabilities]
    return np.partition(values, kth, axis=1)[:, kth].T


def customer_table(
    summary: pd.DataFrame,
    part: Part,
    *,
    settings: Mapping[str, Any],
    level: float,
    pool: ThreadPoolExecutor,
) -> pd.DataFrame:
    """Per-customer intervals, computed on the distinct (x, t_x, T, m) rows in chunks, each a
    customers × draws array per measure."""
    x, tx, T = check_summary(summary)
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").fillna(0.0).to_numpy(float)
    (ux, utx, uT, um), _, inverse = compress(x, tx, T, m)
    ugroup = np.empty(len(ux), dtype=np.int64)
    ugroup[inverse] = part.group
    theta = tuple(part.draws.purchase.T[:, None, :])  # each (1, draws)
    phi = tuple(part.draws.spend.T[:, None, :])
    # groups × draws
    at_horizon, discounted = part.stacked["at_horizon"].T, part.stacked["discounted"].T
    rule = settings["non_repeater_p_alive"]
    hiatus = weeks_in_units(settings["hiatus_weeks"], part.unit)
    probabilities = [(1 - level) / 2, (1 + level) / 2]
    bounds = {name: np.empty((2, len(ux))) for name in MEASURES}

    def chunk(start: int) -> None:
        part = slice(start, start + _CHUNK)
        cx, ctx, cT, cm = (v[part, None] for v in (ux, utx, uT, um))
        cg = ugroup[part]
        alive = alive_probability(theta, cx, ctx, cT)
        shown = alive
        if rule == "first_purchase_dropout":
            shown = np.where(cx == 0, alive_after_first(theta, cT), alive)
        elif rule == "hiatus":
            shown = np.where(cx == 0, np.where(cT > hiatus, 0.0, 1.0), alive)
        spend = conditional_spend(phi, cx, cm)
        values = {
            "expected_purchases": alive * at_horizon[cg],
            "p_alive": np.broadcast_to(shown, alive.shape),
            "expected_spend": np.broadcast_to(spend, alive.shape),
            "clv": alive * discounted[cg] * spend,
        }
        for name, value in values.items():
            bounds[name][:, part] = _bounds(value, probabilities)

    list(pool.map(chunk, range(0, len(ux), _CHUNK)))
    out = pd.DataFrame({"customer_id": summary["customer_id"].astype(str).to_numpy()})
    for name in MEASURES:
        out[f"{name}_lower"] = bounds[name][0][inverse]
        out[f"{name}_upper"] = bounds[name][1][inverse]
    return out


def chosen_customers(
    parts: Sequence[Part],
    summary: pd.DataFrame,
    ids: pd.Series,
    *,
    settings: Mapping[str, Any],
    level: float,
) -> pd.DataFrame:
    """The rows of :func:`customer_table` of the customers ``ids`` only (those the summary
    holds; no row, but the columns, when it holds none), from the ``parts`` of the draws over
    ``summary``."""
    hits = np.flatnonzero(isin(summary["customer_id"], set(ids.astype(str))))
    tables = [
        pd.DataFrame(
            {"customer_id": pd.Series(dtype=str)}
            | {f"{name}_{side}": pd.Series(dtype=float) for name in MEASURES
               for side in ("lower", "upper")}
        )
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as pool:
        for part in parts:
            if not len(part.rows):
                continue
            at = np.clip(np.searchsorted(part.rows, hits), 0, len(part.rows) - 1)
            inside = part.rows[at] == hits
            if not inside.any():
                continue
            chosen = Part(hits[inside], part.draws, part.point, part.stacked,
                          part.group[at[inside]], part.unit)  # fmt: skip
            tables.append(customer_table(summary.iloc[chosen.rows], chosen, settings=settings,
                                         level=level, pool=pool))  # fmt: skip
    return pd.concat(tables[1:], ignore_index=True) if len(tables) > 1 else tables[0]
