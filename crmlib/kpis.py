"""KPIs of a reporting period and their comparison with the previous period and a year ago.

KPI definitions (unit, direction, window, formula, format) are data in ``params/kpis.yaml``. A
period is a calendar month, quarter or year: by default the last complete one on or before
``as_of``. Each KPI is compared with the previous period and the same period a year earlier;
whether a change is good or bad depends on the KPI's ``higher_is_better``.

Everything here is numbers; :mod:`crmlib.present.benchmark` writes them for a report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib import campaigns as cp
from crmlib.compat import renamed_keyword
from crmlib.config import check_choice, load_params
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.data.orders import orders_once
from crmlib.data.results import cached
from crmlib.errors import ConfigError
from crmlib.kpi_coverage import COVERAGE_SLACK, TABLES, dataset_tables, kpi_reasons

__all__ = [
    "FORMATS",
    "PERIODS",
    "TABLES",
    "UNITS",
    "WINDOWS",
    "Period",
    "compare_periods",
    "dataset_tables",
    "direction",
    "COVERAGE_SLACK",
    "kpi_reasons",
    "kpi_table",
    "kpi_values",
    "load_kpis",
    "params_source",
    "period_bounds",
    "shift",
]

#: Reporting periods.
PERIODS: tuple[str, ...] = ("week", "month", "quarter", "year")
#: Units of a KPI (``share`` is a fraction, shown as a percent).
UNITS: tuple[str, ...] = ("count", "currency", "share", "ratio")
#: Windows a KPI is measured over.
WINDOWS: tuple[str, ...] = ("period", "trailing_year", "cumulative", "as_of")
#: How a KPI value is written in a report.
FORMATS: tuple[str, ...] = ("int", "money", "pct", "num")
_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}  # weeks: Monday-Sunday
_KPIS_FILE = "kpis.yaml"


# --------------------------------------------------------------------------------------------
# definitions
# --------------------------------------------------------------------------------------------
def params_source(name: str, params: str | Path | Mapping[str, Any] | None) -> str:
    """Where params ``name`` came from, for error messages: ``"kpis.yaml"``, ``"kpis.yaml with
    the call's params"`` or ``"kpis.yaml with <file>"``."""
    if params is None:
        return name
    if isinstance(params, Mapping):
        return f"{name} with the call's params"
    return f"{name} with {str(params)!r}"


def load_kpis(
    params: str | Path | Mapping[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Read and check the KPI definitions (``kpis.yaml``).

    Parameters
    ----------
    params
        Overrides of ``kpis.yaml`` for this call: a mapping, or the path of a YAML file (see
        :func:`crmlib.config.load_params`). ``path=`` is a deprecated alias.

    Returns
    -------
    dict
        ``{"kpis": {id: definition}, "flat_tolerance": {...}, "recommendations": {...}}``.

    Raises
    ------
    ConfigError
        A definition lacks a field or has a value outside the allowed ones.
    """
    params = renamed_keyword("load_kpis", kwargs, "path", "params", params)
    if kwargs:
        raise TypeError(f"load_kpis() got unexpected keyword arguments {sorted(kwargs)}")
    source = params_source(_KPIS_FILE, params)
    raw = load_params(_KPIS_FILE, params)
    if not isinstance(raw.get("kpis"), Mapping):
        raise ConfigError(
            f"{source}: the KPI params need a mapping `kpis: {{id: definition}}`; "
            f"got {raw.get('kpis')!r}"
        )
    for key, spec in raw["kpis"].items():
        where = f"{source}: kpis.{key}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} must be a mapping; got {spec!r}")
        for field in ("unit", "higher_is_better", "window", "format", "formula", "scope"):
            if field not in spec:
                raise ConfigError(f"{where} lacks {field!r}; got {dict(spec)!r}")
        check_choice(f"{where}.unit", spec["unit"], UNITS)
        check_choice(f"{where}.higher_is_better", spec["higher_is_better"], (True, False, None))
        check_choice(f"{where}.window", spec["window"], WINDOWS)
        check_choice(f"{where}.format", spec["format"], FORMATS)
        formula = spec["formula"]
        if not isinstance(formula, Mapping) or set(formula) != {"en", "zh"}:
            raise ConfigError(f"{where}.formula must give en and zh; got {formula!r}")
    tol = raw.get("flat_tolerance") or {}
    out = dict(raw)
    out["flat_tolerance"] = {
        "relative": float(tol.get("relative", 0.01)),
        "share_points": float(tol.get("share_points", 0.002)),
    }
    out.setdefault("recommendations", {"max": 5, "rules": []})
    return out


# --------------------------------------------------------------------------------------------
# periods
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A reporting period: first and last day (inclusive), its calendar label (``2025-02``,
    ``2025Q1``, ``2025``) and whether it covers the whole calendar period (``complete``); a
    period that does not ends after :attr:`days` days."""

    start: pd.Timestamp
    end: pd.Timestamp
    label: str
    complete: bool = True

    @property
    def days(self) -> int:
        """Number of days from ``start`` to ``end``, both included."""
        return int((self.end - self.start).days) + 1


def period_bounds(as_of: Any, *, period: str = "month", complete: bool = True) -> Period:
    """The period to report as of ``as_of``.

    Parameters
    ----------
    as_of
        Analysis date.
    period
        ``"week"`` (Monday to Sunday), ``"month"``, ``"quarter"`` or ``"year"``.
    complete
        The last calendar period that ends on or before ``as_of``; otherwise the period
        holding ``as_of``, cut at ``as_of`` (``complete`` is then False unless ``as_of`` is
        its last day).
    """
    check_choice("period", period, PERIODS)
    day = pd.Timestamp(as_of).normalize()
    p = pd.Period(day, freq=_FREQ[period])
    if complete and day < p.end_time.normalize():
        p = p - 1
    full_end = p.end_time.normalize()
    end = min(full_end, day)
    return Period(p.start_time.normalize(), end, _label(p, period), complete=bool(end == full_end))


def _label(p: pd.Period, period: str) -> str:
    """``2024-06`` for a month, ``2024-W26`` for a week (ISO year and week of its Monday)."""
    if period != "week":
        return str(p)
    year, week, _ = p.start_time.isocalendar()
    return f"{year}-W{week:02d}"


def shift(period: Period, *, kind: str, unit: str) -> Period:
    """The previous period (``kind="previous"``) or the same period a year earlier
    (``kind="last_year"``) to compare ``period`` with.

    A complete period compares with the whole earlier period (February 2025 with all 31 days
    of January and all 29 days of February 2024). A running period compares with the same
    number of days from the start of the earlier period (1-20 February with 1-20 January),
    never past that period's end; the result's ``complete`` says which.

    Parameters
    ----------
    period
        The period (:func:`period_bounds`); whether it is complete is read from its dates.
    kind
        ``"previous"`` or ``"last_year"``.
    unit
        ``"week"``, ``"month"``, ``"quarter"`` or ``"year"``: the kind of calendar period
        ``period`` is. A week a year earlier is the week 52 weeks before (same weekdays).
    """
    check_choice("kind", kind, ("previous", "last_year"))
    check_choice("unit", unit, PERIODS)
    p = pd.Period(period.start, freq=_FREQ[unit])
    if kind == "previous":
        q = p - 1
    elif unit == "week":
        q = p - 52
    else:
        q = pd.Period(period.start - pd.DateOffset(years=1), freq=_FREQ[unit])
    start, full_end = q.start_time.normalize(), q.end_time.normalize()
    if period.end >= p.end_time.normalize():
        end = full_end
    else:
        end = min(full_end, start + (period.end - period.start))
    return Period(start, end, _label(q, unit), complete=bool(end == full_end))


def _ts(day: pd.Timestamp) -> Any:
    return ibis.literal(pd.Timestamp(day).to_pydatetime())


# --------------------------------------------------------------------------------------------
# KPI values
# --------------------------------------------------------------------------------------------
def _order_figures(
    tx: Any, od: Any, *, start: pd.Timestamp, y1: pd.Timestamp, y2: pd.Timestamp
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The order-based counts of :func:`kpi_values` from the lines ``tx`` (with ``member``)
    and their orders ``od``: revenue and orders of the period from ``start``, customers (new,
    kept from the year before ``y1``) and the repeat rate of the cohort acquired from ``y2``
    to ``y1``."""
    od = od.mutate(member=od.customer_id.notnull())
    inp = tx.filter(tx.ordered_at >= _ts(start))
    bought = od.filter(od.purchase & (od.ordered_at >= _ts(start)))
    agg = execute(
        inp.aggregate(
            revenue=inp.amount.sum(),
            member_revenue=inp.amount.sum(where=inp.member),
        ).cross_join(
            bought.aggregate(
                orders=bought.count(),
                member_orders=bought.count(where=bought.member),
                active=bought.customer_id.nunique(where=bought.member),
            )
        )
    ).iloc[0]
    # one pass per customer over the member purchases: their first purchase, whether they
    # bought in the year before ``y1`` and in the year after, and the cohort acquired from
    # ``y2`` to ``y1`` with whether it bought again within a year of its first purchase day
    mem = od.filter(od.member & od.purchase)
    per = mem.group_by("customer_id").aggregate(
        first=mem.ordered_at.min(),
        in_prev=((mem.ordered_at >= _ts(y2)) & (mem.ordered_at < _ts(y1))).any(),
        in_last=(mem.ordered_at >= _ts(y1)).any(),
    )
    per = per.mutate(first_day=per["first"].date())
    cohort = per.filter(
        (per.first_day >= ibis.literal(y2.date())) & (per.first_day < ibis.literal(y1.date()))
    ).select("customer_id", "first_day")
    j = mem.join(cohort, "customer_id")
    rep = j.group_by("customer_id").aggregate(
        again=((j.day > j.first_day) & (j.day <= j.first_day + ibis.interval(days=365))).any()
    )
    both = execute(
        per.aggregate(
            customers=per.count(),
            new=(per["first"] >= _ts(start)).sum(),
            prev=per.in_prev.sum(),
            kept=(per.in_prev & per.in_last).sum(),
        ).cross_join(rep.aggregate(n=rep.count(), again=rep.again.sum()))
    ).iloc[0]
    cust, rep_row = both[["customers", "new", "prev", "kept"]], both[["n", "again"]]
    return agg, cust, rep_row


@cached("kpi_values")
def kpi_values(
    data: Any,
    *,
    period: Period,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Every KPI of ``kpis.yaml`` for one period (NaN where :func:`kpi_reasons` gives a reason).

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` or canonical transactions alone.
    period
        The period (:func:`period_bounds`).
    response_days
        Campaign response window.
    clv
        Per-customer scores with a ``clv`` column (:func:`crmlib.clv.score`) for ``avg_clv``.
    responses
        :func:`crmlib.campaigns.member_responses` output, reused across periods.
    """
    tabs = dataset_tables(data)
    tx = as_table(tabs["transactions"])
    s, e = period.start, period.end
    e1 = e + pd.Timedelta(days=1)
    y1 = e1 - pd.DateOffset(years=1)
    y2 = e1 - pd.DateOffset(years=2)
    # orders and purchases as every analysis counts them (crmlib.data.orders): an order whose
    # lines cancel out (+80/-80) is no purchase; computed once for the three queries below
    with orders_once(tx, as_of=e, identified=False) as od:
        tx = tx.filter(tx.ordered_at < _ts(e1)).mutate(member=tx.customer_id.notnull())
        agg, cust, rep_row = _order_figures(tx, od, start=s, y1=y1, y2=y2)
    # top-20% revenue share over the trailing year
    last_year = tx.filter(tx.member & (tx.ordered_at >= _ts(y1)))
    spend = execute(last_year.group_by("customer_id").aggregate(r=last_year.amount.sum()))["r"]
    spend = np.sort(spend.astype(float).clip(lower=0).to_numpy())[::-1]
    if len(spend) and spend.sum() > 0:
        top = int(math.ceil(0.2 * len(spend)))
        top20 = float(spend[:top].sum() / spend.sum())
    else:
        top20 = np.nan

    def ratio(a: float, b: float) -> float:
        return float(a) / float(b) if b and not pd.isna(b) else np.nan

    out = {
        "customers": float(cust["customers"]),
        "active_customers": float(agg["active"]),
        "new_customers": float(cust["new"] or 0),
        "revenue": float(agg["revenue"] or 0.0),
        "aov": ratio(agg["revenue"] or 0.0, agg["orders"]),
        "purchase_frequency": ratio(agg["member_orders"], agg["active"]),
        "repeat_rate_1y": ratio(rep_row["again"] or 0, rep_row["n"]),
        "retention_rate": ratio(cust["kept"] or 0, cust["prev"]),
        "top20_share": top20,
        "member_share": ratio(agg["member_revenue"] or 0.0, agg["revenue"]),
    }
    out["churn_rate"] = (
        1.0 - out["retention_rate"] if np.isfinite(out["retention_rate"]) else np.nan
    )
    # campaigns: target members sent in the trailing year; response and coupons only where the
    # member's window has closed by the period end (sent_at + response_days <= end), as
    # ``complete`` in crmlib.campaigns; clicks against every recipient sent in the year
    out.update(campaign_response_rate=np.nan, coupon_redemption=np.nan, message_click_rate=np.nan)
    if tabs.get("campaign_members") is not None:
        if responses is None:
            responses = cp.member_responses(
                tabs["campaign_members"], tabs["transactions"], campaigns=tabs.get("campaigns"),
                response_days=response_days, as_of=e, redemptions=tabs.get("coupon_redemptions"),
            )  # fmt: skip
        sent = responses["sent_at"]
        window_end = e1 - pd.Timedelta(days=float(response_days))
        target = (sent >= y1) & (sent < e1) & (responses["group"] == "target")
        r = responses[target & (sent <= window_end)]
        if len(r):
            out["campaign_response_rate"] = float(r["responded"].mean())
            out["coupon_redemption"] = float(r["coupon_orders"].sum() / len(r))
        n_sent = int(target.sum())
        if n_sent and tabs.get("touchpoints") is not None:
            tp = as_table(tabs["touchpoints"], table="touchpoints")
            clicks = tp.filter(
                (tp.kind == "message_click") & (tp.occurred_at >= _ts(y1))
                & (tp.occurred_at < _ts(e1))
            )  # fmt: skip
            n_clicks = int(execute(clicks.aggregate(n=clicks.count()))["n"].iloc[0])
            out["message_click_rate"] = ratio(n_clicks, n_sent)
    out["cart_abandonment"] = np.nan
    if tabs.get("events") is not None:
        ev = as_table(tabs["events"], table="events")
        ev = ev.filter((ev.occurred_at >= _ts(s)) & (ev.occurred_at < _ts(e1)))
        c = execute(ev.aggregate(cart=(ev.event == "cart").sum(), pay=(ev.event == "pay").sum()))
        cart, pay = c["cart"].iloc[0], c["pay"].iloc[0]
        if cart and not pd.isna(cart):
            out["cart_abandonment"] = 1.0 - float(pay or 0) / float(cart)
    out["avg_clv"] = (
        float(pd.to_numeric(clv["clv"], errors="coerce").mean()) if clv is not None else np.nan
    )
    for key in kpi_reasons(data, period=period):  # never a number the data cannot support
        out[key] = np.nan
    return out


def kpi_table(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    complete: bool = True,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """KPIs of one period as a tidy table.

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` (every table it has is used) or transactions alone.
    as_of
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    period
        ``"month"``, ``"quarter"`` or ``"year"``.
    complete
        Report the last complete period on or before ``as_of`` (else the running one).
    response_days
        Campaign response window.
    clv
        Per-customer scores with a ``clv`` column for ``avg_clv``.
    params
        Overrides of ``kpis.yaml`` (:func:`load_kpis`); ``kpis=`` is a deprecated alias.

    Returns
    -------
    pandas.DataFrame
        ``kpi, value, why_not`` (a :class:`~crmlib.measure.NotMeasured` where the value is
        not measured, else None), ``unit, higher_is_better, window, period, period_start,
        period_end``.
    """
    params = renamed_keyword("kpi_table", kwargs, "kpis", "params", params)
    if kwargs:
        raise TypeError(f"kpi_table() got unexpected keyword arguments {sorted(kwargs)}")
    defs = load_kpis(params)
    tx = dataset_tables(data)["transactions"]
    day = resolve_as_of(tx, as_of)
    p = period_bounds(day, period=period, complete=complete)
    values = kpi_values(data, period=p, response_days=response_days, clv=clv)
    reasons = kpi_reasons(data, period=p)
    rows = [
        {
            "kpi": key,
            "value": float(values.get(key, np.nan)),
            "why_not": reasons.get(key),
            "unit": spec["unit"],
            "higher_is_better": spec["higher_is_better"],
            "window": spec["window"],
            "period": p.label,
            "period_start": p.start,
            "period_end": p.end,
        }
        for key, spec in defs["kpis"].items()
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# comparison with earlier periods
# --------------------------------------------------------------------------------------------
def direction(change: float, *, higher_is_better: bool | None, tolerance: float = 0.0) -> str:
    """Whether a change is good.

    Returns
    -------
    str
        ``"good"``, ``"bad"``, ``"flat"`` (``|change| <= tolerance``), ``"neutral"`` (the KPI
        has no good direction) or ``"n/a"`` (no change to judge).
    """
    if change is None or not np.isfinite(change):
        return "n/a"
    if abs(change) <= tolerance:
        return "flat"
    if higher_is_better is None:
        return "neutral"
    return "good" if (change > 0) == bool(higher_is_better) else "bad"


def _judge(
    value: float, other: float, unit: str, better: bool | None, tol: Mapping[str, float]
) -> tuple[float, float, str]:
    change = value - other if np.isfinite(value) and np.isfinite(other) else np.nan
    rel = change / abs(other) if np.isfinite(change) and other else np.nan
    if unit == "share":
        return change, rel, direction(change, higher_is_better=better,
                                      tolerance=tol["share_points"])  # fmt: skip
    return change, rel, direction(rel, higher_is_better=better, tolerance=tol["relative"])


@cached("compare_periods")
def compare_periods(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    complete: bool = True,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """KPIs of the period against the previous period and the same period a year earlier.

    Parameters
    ----------
    data, as_of, period, complete, response_days, clv
        As in :func:`kpi_table`.
    params
        Overrides of ``kpis.yaml`` (:func:`load_kpis`); ``kpis=`` is a deprecated alias.

    Returns
    -------
    pandas.DataFrame
        One row per KPI: ``kpi, unit, higher_is_better, value, previous, change_previous,
        relative_change_previous, vs_previous, last_year, change_last_year,
        relative_change_last_year, vs_last_year``, and ``why_not``, ``why_not_previous``,
        ``why_not_last_year`` (:func:`kpi_reasons`: a NotMeasured where that side is not
        measured, else None); ``vs_*`` is good / bad / flat / neutral / n/a, and n/a (never
        coloured, never counted as better or worse) whenever a side is not measured. Changes are absolute (share points for shares); relative changes are
        change / |earlier value|. ``attrs`` hold the three periods (``period``, ``previous``,
        ``last_year``: :class:`Period`) and ``unit``. A complete period is compared with the
        whole earlier periods; a running one (``complete=False``, ``as_of`` before the period's
        last day) with their same first days (:func:`shift`), and their ``complete`` is False.
    """
    params = renamed_keyword("compare_periods", kwargs, "kpis", "params", params)
    if kwargs:
        raise TypeError(f"compare_periods() got unexpected keyword arguments {sorted(kwargs)}")
    defs = load_kpis(params)
    tabs = dataset_tables(data)
    day = resolve_as_of(tabs["transactions"], as_of)
    cur = period_bounds(day, period=period, complete=complete)
    prev = shift(cur, kind="previous", unit=period)
    ly = shift(cur, kind="last_year", unit=period)
    responses = None
    if tabs.get("campaign_members") is not None:
        responses = cp.member_responses(
            tabs["campaign_members"], tabs["transactions"], campaigns=tabs.get("campaigns"),
            response_days=response_days, as_of=day, redemptions=tabs.get("coupon_redemptions"),
        )  # fmt: skip
    values = {
        name: kpi_values(data, period=p, response_days=response_days,
                         clv=clv if name == "current" else None, responses=responses)
        for name, p in (("current", cur), ("previous", prev), ("last_year", ly))
    }  # fmt: skip
    reasons = {
        name: kpi_reasons(data, period=p)
        for name, p in (("current", cur), ("previous", prev), ("last_year", ly))
    }
    tol = defs["flat_tolerance"]
    rows = []
    for key, spec in defs["kpis"].items():
        v = values["current"].get(key, np.nan)
        row: dict[str, Any] = {
            "kpi": key,
            "unit": spec["unit"],
            "higher_is_better": spec["higher_is_better"],
            "value": v,
            "why_not": reasons["current"].get(key),
        }
        for name in ("previous", "last_year"):
            other = values[name].get(key, np.nan)
            change, rel, verdict = _judge(v, other, spec["unit"], spec["higher_is_better"], tol)
            row.update({name: other, f"change_{name}": change,
                        f"relative_change_{name}": rel, f"vs_{name}": verdict,
                        f"why_not_{name}": reasons[name].get(key)})  # fmt: skip
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(period=cur, previous=prev, last_year=ly, unit=period)
    return out
