"""Per-customer predictions: expected purchases, P(alive), expected spend, lifetime value, and
the lists built on them (future high-value customers, valuable customers at risk).

Every function works on the unique (frequency, recency, T) rows of the summary, so scoring a
million customers takes seconds. Defaults come from ``params/clv.yaml``; pass ``params=`` (a
mapping or another YAML path) to override them per report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.bgnbd import BetaGeoModel
from crmlib.clv.dates import as_day, require_as_of
from crmlib.clv.fitted import TransactionModel
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.rows import check_summary
from crmlib.clv.settings import NON_REPEATER_RULES, load_params
from crmlib.clv.summaries import TIME_UNITS, day_values, weeks_in_units
from crmlib.compat import renamed_keyword
from crmlib.config import check_choice, check_range
from crmlib.data import execute
from crmlib.data.privacy import spreadsheet_safe
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError
from crmlib.membership import positions

__all__ = [
    "at_risk",
    "by_segment",
    "deciles",
    "discounted_purchases",
    "export_list",
    "future_high_value",
    "historical_value",
    "months_to_units",
    "p_alive_by_rule",
    "predict",
    "score",
]


def months_to_units(months: float, *, time_unit: str, days_per_month: float = 30.4375) -> float:
    """Length of ``months`` months in the model's time unit (days, or weeks of 7 days)."""
    check_choice("time_unit", time_unit, TIME_UNITS)
    return months * days_per_month / TIME_UNITS[time_unit]


def _unit(model: TransactionModel, time_unit: str | None) -> str:
    unit = time_unit or getattr(model, "time_unit_", "W")
    return check_choice("time_unit", unit, TIME_UNITS)


def p_alive_by_rule(
    model: TransactionModel,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    *,
    rule: str,
    hiatus: float,
) -> np.ndarray:
    """P(alive) per customer with ``rule`` for BG/NBD customers without a repeat purchase.

    Parameters
    ----------
    model
        A fitted transaction model.
    x, tx, T
        Frequency, recency and T of the customers (or of unique rows).
    rule
        One of :data:`crmlib.clv.settings.NON_REPEATER_RULES` (see ``clv.yaml``); other models
        than BG/NBD keep their own P(alive).
    hiatus
        Threshold of the ``"hiatus"`` rule in the model's time unit.
    """
    p = model.p_alive(x, tx, T)
    if isinstance(model, BetaGeoModel) and rule != "model":
        once = x == 0
        if rule == "first_purchase_dropout":
            p = np.where(once, model.p_alive_after_first(T), p)
        else:
            p = np.where(once & (T > hiatus), 0.0, p)
    return p


def predict(
    summary: pd.DataFrame,
    *,
    model: TransactionModel,
    horizon: float,
    time_unit: str | None = None,
    non_repeater_p_alive: str = "first_purchase_dropout",
    hiatus_weeks: float = 26.0,
) -> pd.DataFrame:
    """Expected repeat purchases over ``horizon`` and P(alive) per customer.

    Parameters
    ----------
    summary
        Customer summary (:func:`crmlib.clv.summary`).
    model
        A fitted transaction model (:func:`crmlib.clv.fit`).
    horizon
        Prediction horizon in the model's time unit.
    time_unit
        Unit of the summary; the model's (from its fitting summary) when None.
    non_repeater_p_alive
        Rule for the P(alive) of BG/NBD customers without a repeat purchase (see
        ``params/clv.yaml``); expected purchases stay the model's.
    hiatus_weeks
        Threshold of the ``"hiatus"`` rule.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, expected_purchases, p_alive``.
    """
    check_choice("non_repeater_p_alive", non_repeater_p_alive, NON_REPEATER_RULES)
    check_range("horizon", horizon, low=0.0)
    unit = _unit(model, time_unit)
    x, tx, T = check_summary(summary)
    hiatus = weeks_in_units(hiatus_weeks, unit)
    ids = summary["customer_id"] if "customer_id" in summary else pd.Series(summary.index)
    return pd.DataFrame(
        {
            "customer_id": ids.reset_index(drop=True),
            "expected_purchases": model.expected_purchases_sum([horizon], [1.0], x, tx, T),
            "p_alive": p_alive_by_rule(model, x, tx, T, rule=non_repeater_p_alive, hiatus=hiatus),
        }
    )


def discounted_purchases(
    model: TransactionModel,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    months: int,
    monthly_discount_rate: float,
    month_length: float,
) -> np.ndarray:
    """Sum over months k = 1..``months`` of the expected purchases in month k discounted by
    ``(1 + monthly_discount_rate) ** k`` (cash flows at the end of each month, as lifetimes'
    ``customer_lifetime_value``); ``month_length`` in the model's time unit."""
    months = int(check_range("horizon_months", months, low=1))
    steps = np.arange(1, months + 1, dtype=float)
    discount = (1.0 + monthly_discount_rate) ** -steps
    # Σ_k d_k (E_k − E_{k−1}) = Σ_k (d_k − d_{k+1}) E_k with d_{months+1} = 0
    coefficients = discount - np.append(discount[1:], 0.0)
    return model.expected_purchases_sum(steps * month_length, coefficients, frequency, recency, T)


def score(
    summary: pd.DataFrame,
    *,
    model: TransactionModel,
    spend_model: GammaGammaModel,
    params: Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    """Everything per customer: expected purchases, P(alive), expected spend and lifetime value.

    Parameters
    ----------
    summary
        Customer summary (:func:`crmlib.clv.summary`) with ``monetary_value``.
    model
        Fitted transaction model (:func:`crmlib.clv.fit`).
    spend_model
        Fitted Gamma-Gamma model (:func:`crmlib.clv.fit_spend`).
    params
        Overrides of ``params/clv.yaml``: ``horizon_months``, ``monthly_discount_rate``,
        ``days_per_month``, ``non_repeater_p_alive``, ``hiatus_weeks``; ``time_unit`` is the
        model's.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value, expected_purchases`` (over the
        horizon), ``p_alive``, ``expected_spend`` (per purchase), ``clv`` (discounted over the
        horizon) and ``clv_if_active`` (CLV divided by the model's own P(alive): the value at
        stake if the customer is still active), one row per customer in the order of ``summary``.
        ``p_alive`` applies the ``non_repeater_p_alive`` rule; expected purchases and CLV are
        the model's.
    """
    settings = load_params(params)
    unit = _unit(model, None)
    rule = settings["non_repeater_p_alive"]
    month = months_to_units(1, time_unit=unit, days_per_month=settings["days_per_month"])
    months = int(settings["horizon_months"])
    x, tx, T = check_summary(summary)
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").fillna(0.0).to_numpy(float)
    hiatus = weeks_in_units(settings["hiatus_weeks"], unit)
    p_model = model.p_alive(x, tx, T)
    p = p_alive_by_rule(model, x, tx, T, rule=rule, hiatus=hiatus)
    expected = model.expected_purchases_sum([months * month], [1.0], x, tx, T)
    discounted = discounted_purchases(
        model,
        x,
        tx,
        T,
        months=months,
        monthly_discount_rate=settings["monthly_discount_rate"],
        month_length=month,
    )
    spend = spend_model.expected_spend(x, m)
    clv = discounted * spend
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].reset_index(drop=True),
            "frequency": x.astype(np.int64),
            "recency": tx,
            "T": T,
            "monetary_value": m,
            "expected_purchases": expected,
            "p_alive": p,
            "expected_spend": spend,
            "clv": clv,
        }
    )
    # the model's expectations are P(alive) × expectations given alive, under its own P(alive)
    out["clv_if_active"] = np.where(p_model > 0, clv / np.where(p_model > 0, p_model, 1.0), 0.0)
    out.attrs["time_unit"] = unit
    out.attrs["horizon_months"] = months
    return out


@cached("historical_value")
def historical_value(transactions: Any, *, as_of: Any = None, **kwargs: Any) -> pd.DataFrame:
    """Net amount per identified customer up to ``as_of`` (inclusive), via Ibis.

    Parameters
    ----------
    transactions
        Canonical transactions (DataFrame, path or Ibis table).
    as_of
        Last day counted; ``observation_end=`` is a deprecated alias.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, historical_value``.
    """
    as_of = renamed_keyword("historical_value", kwargs, "observation_end", "as_of", as_of)
    end = as_day(require_as_of("historical_value", as_of, kwargs), "as_of")
    # the lines summed per customer and day (as_table already trimmed the ids and made a
    # blank one anonymous), then per customer
    days = day_values(transactions)
    days = days.filter(days.customer_id.notnull(), days.day <= end.date())
    expr = days.group_by("customer_id").aggregate(historical_value=days.value.sum())
    out = execute(expr.order_by("customer_id"))
    out["customer_id"] = out["customer_id"].astype(str)
    out["historical_value"] = out["historical_value"].fillna(0.0).astype(float)
    return out


def _top(values: pd.Series, share: float) -> np.ndarray:
    """Boolean mask of the top ``share`` of rows by ``values`` (ties broken by position)."""
    n = max(1, int(np.ceil(share * len(values))))
    order = np.argsort(-values.to_numpy(dtype=float), kind="stable")
    mask = np.zeros(len(values), dtype=bool)
    mask[order[:n]] = True
    return mask


def future_high_value(
    scores: pd.DataFrame,
    transactions: Any,
    *,
    as_of: Any = None,
    top_share: float = 0.1,
    flagged_only: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """Customers predicted to be among the top ``top_share`` by CLV who are not yet among the top
    ``top_share`` by historical value (net amount to date).

    Parameters
    ----------
    scores
        Output of :func:`score`.
    transactions
        Canonical transactions, for the historical value.
    as_of
        Analysis date (the history counts up to it); ``observation_end=`` is a deprecated alias.
    top_share
        Share of customers counted as top, in (0, 1].
    flagged_only
        Return only the flagged customers.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, clv, historical_value, top_predicted, top_historical,
        future_high_value`` for every scored customer, sorted by CLV (highest first); with
        ``flagged_only`` just ``customer_id, clv, historical_value`` of the flagged customers.
    """
    as_of = renamed_keyword("future_high_value", kwargs, "observation_end", "as_of", as_of)
    as_of = require_as_of("future_high_value", as_of, kwargs)
    check_range("top_share", top_share, low=0.0, high=1.0, low_inclusive=False)
    history = historical_value(transactions, as_of=as_of)
    found = positions(scores["customer_id"], history["customer_id"])  # no merge: no copies
    spent = np.full(len(found), np.nan)
    spent[found >= 0] = history["historical_value"].to_numpy(dtype=float)[found[found >= 0]]
    out = scores[["customer_id", "clv"]].reset_index(drop=True)
    out["historical_value"] = np.where(np.isnan(spent), 0.0, spent)
    out["top_predicted"] = _top(out["clv"], top_share)
    out["top_historical"] = _top(out["historical_value"], top_share)
    out["future_high_value"] = out["top_predicted"] & ~out["top_historical"]
    out = out.sort_values("clv", ascending=False, kind="stable").reset_index(drop=True)
    if flagged_only:
        out = out.loc[out["future_high_value"], ["customer_id", "clv", "historical_value"]]
        return out.reset_index(drop=True)
    return out


#: Ways of telling that a customer is slipping away: the model's P(alive), or the hiatus rule
#: (no purchase for ``hiatus_weeks``), which often classifies as well or better.
RISK_RULES: tuple[str, ...] = ("p_alive", "hiatus")


def at_risk(
    scores: pd.DataFrame,
    *,
    top_share: float = 0.1,
    p_alive_below: float = 0.5,
    rule: str = "p_alive",
    hiatus_weeks: float = 26.0,
) -> pd.DataFrame:
    """Valuable customers who are probably slipping away: among the top ``top_share`` of
    customers by value at stake (``clv_if_active``, what they would be worth if still active),
    those whose P(alive) is below ``p_alive_below`` (``rule="p_alive"``), or who have not bought
    for more than ``hiatus_weeks`` (``rule="hiatus"``). Use the rule that classified better in
    the backtest (:func:`crmlib.clv.better_rule`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id, clv_if_active, clv, p_alive, time_since_last_purchase`` (in the summary's
        time unit) — identifiers and scores only — sorted by value at stake; ``attrs["rule"]``.
    """
    check_range("top_share", top_share, low=0.0, high=1.0, low_inclusive=False)
    check_range("p_alive_below", p_alive_below, low=0.0, high=1.0)
    check_choice("rule", rule, RISK_RULES)
    check_range("hiatus_weeks", hiatus_weeks, low=0.0, low_inclusive=False)
    top = _top(scores["clv_if_active"], top_share)
    if rule == "p_alive":
        slipping = scores["p_alive"] < p_alive_below
    else:
        hiatus = weeks_in_units(hiatus_weeks, scores.attrs.get("time_unit", "W"))
        slipping = scores["T"] - scores["recency"] > hiatus
    chosen = scores.loc[top & slipping]
    out = pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].to_numpy(),
            "clv_if_active": chosen["clv_if_active"].to_numpy(),
            "clv": chosen["clv"].to_numpy(),
            "p_alive": chosen["p_alive"].to_numpy(),
            "time_since_last_purchase": (chosen["T"] - chosen["recency"]).to_numpy(),
        }
    )
    out = out.sort_values("clv_if_active", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["time_unit"] = scores.attrs.get("time_unit", "W")
    out.attrs["rule"] = rule
    return out


def deciles(scores: pd.DataFrame, *, column: str = "clv") -> pd.DataFrame:
    """Customers split into ten equal groups by ``column`` (decile 1 = highest), with each
    decile's customers, total and share of the total.

    Returns
    -------
    pandas.DataFrame
        ``decile, customers, total, mean, share``.
    """
    if column not in scores.columns:
        raise ConfigError(f"parameter 'column' must be a column of the scores; got {column!r}")
    values = scores[column].to_numpy(dtype=float)
    order = np.argsort(-values, kind="stable")
    decile = np.empty(len(values), dtype=np.int64)
    decile[order] = np.arange(len(values)) * 10 // max(len(values), 1) + 1
    frame = pd.DataFrame({"decile": decile, "value": values})
    out = frame.groupby("decile", as_index=False).agg(
        customers=("value", "size"), total=("value", "sum"), mean=("value", "mean")
    )
    grand = out["total"].sum()
    out["share"] = out["total"] / grand if grand else 0.0
    return out


def by_segment(
    scores: pd.DataFrame, segments: pd.DataFrame, *, segment: str = "segment"
) -> pd.DataFrame:
    """CLV per segment of any segmentation (RFM segment, channel, cohort …).

    Parameters
    ----------
    scores
        Output of :func:`score`.
    segments
        Per-customer table with ``customer_id`` and the ``segment`` column, one row per
        customer.
    segment
        Name of the segment column.

    Returns
    -------
    pandas.DataFrame
        ``segment, customers, clv_total, clv_mean, clv_median, p_alive_mean, share_clv``, sorted
        by total CLV.

    Raises
    ------
    DataError
        When ``segments`` lists a customer twice (naming the row and the id).
    """
    if segment not in segments.columns or "customer_id" not in segments.columns:
        raise ConfigError(
            f"parameter 'segments' must have columns 'customer_id' and {segment!r}; "
            f"got {list(segments.columns)!r}"
        )
    ids = segments["customer_id"].astype(str)
    twice = ids.duplicated()
    if twice.any():  # which segment would count the customer's value?
        row = int(np.flatnonzero(twice.to_numpy())[0])
        raise DataError(
            "a customer is listed twice in the segments; give one segment per customer",
            column="customer_id", row=row, value=ids.iloc[row],
        )  # fmt: skip
    # each scored customer's segment, found by position: a merge would copy both tables
    found = positions(scores["customer_id"], ids)
    kept = found >= 0
    table = scores.loc[kept, ["clv", "p_alive"]].reset_index(drop=True)
    table[segment] = segments[segment].iloc[found[kept]].reset_index(drop=True)
    out = table.groupby(segment, as_index=False, observed=True).agg(
        customers=("clv", "size"),
        clv_total=("clv", "sum"),
        clv_mean=("clv", "mean"),
        clv_median=("clv", "median"),
        p_alive_mean=("p_alive", "mean"),
    )
    total = out["clv_total"].sum()
    out["share_clv"] = out["clv_total"] / total if total else 0.0
    out = out.rename(columns={segment: "segment"})
    return out.sort_values("clv_total", ascending=False, kind="stable").reset_index(drop=True)


def export_list(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a customer list to CSV (UTF-8 with BOM, so spreadsheet tools read Chinese) keeping
    only ``customer_id`` and numeric score columns — never personal fields. Returns the path."""
    if "customer_id" not in table.columns:
        raise ConfigError("parameter 'table' must have a 'customer_id' column")
    keep = ["customer_id"] + [
        c for c in table.columns if c != "customer_id" and pd.api.types.is_numeric_dtype(table[c])
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(table[keep]).to_csv(
        path, index=False, encoding="utf-8-sig", float_format="%.6g"
    )
    return path
