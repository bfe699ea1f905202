"""KPI table of a period, its comparison with earlier periods and with industry benchmarks.

KPI definitions (unit, direction, window, formula) are data in ``params/kpis.yaml``; benchmark
figures with their source, year and scope in ``params/benchmarks.yaml``. A period is a calendar
month, quarter or year: by default the last complete one on or before ``as_of``. Each KPI is
compared with the previous period and the same period a year earlier; whether a change is good
or bad depends on the KPI's ``higher_is_better``.
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
from crmlib import reporting
from crmlib.config import check_choice, params_path, read_yaml
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.errors import ConfigError
from crmlib.i18n import check_language, labels, t

PERIODS: tuple[str, ...] = ("month", "quarter", "year")
UNITS: tuple[str, ...] = ("count", "currency", "share", "ratio")
WINDOWS: tuple[str, ...] = ("period", "trailing_year", "cumulative", "as_of")
FORMATS: tuple[str, ...] = ("int", "money", "pct", "num")
KINDS: tuple[str, ...] = ("benchmark", "competitor", "context")
COMPARABILITY: tuple[str, ...] = ("direct", "approximate", "not comparable")
_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


# --------------------------------------------------------------------------------------------
# definitions
# --------------------------------------------------------------------------------------------
def load_kpis(path: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read and check the KPI definitions (``params/kpis.yaml`` by default).

    Returns
    -------
    dict
        ``{"kpis": {id: definition}, "flat_tolerance": {...}, "recommendations": {...}}``.

    Raises
    ------
    ConfigError
        A definition lacks a field or has a value outside the allowed ones.
    """
    raw = dict(path) if isinstance(path, Mapping) else read_yaml(path or params_path("kpis.yaml"))
    if not isinstance(raw, Mapping) or not isinstance(raw.get("kpis"), Mapping):
        raise ConfigError("the KPI params need a mapping `kpis: {id: definition}`")
    for key, spec in raw["kpis"].items():
        where = f"kpis.{key}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} must be a mapping; got {spec!r}")
        for field in ("unit", "higher_is_better", "window", "format", "formula", "scope"):
            if field not in spec:
                raise ConfigError(f"{where} lacks {field!r}")
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


def load_benchmarks(
    path: str | Path | Mapping[str, Any] | None = None,
    *,
    include_examples: bool = False,
    kpis: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read and check the benchmark figures (``params/benchmarks.yaml`` by default).

    Parameters
    ----------
    path
        File or mapping ``{"benchmarks": {id: entry}}``.
    include_examples
        Keep entries marked ``example: true`` (documentation entries).
    kpis
        KPI definitions (:func:`load_kpis`); an entry naming an unknown KPI is an error.

    Returns
    -------
    pandas.DataFrame
        ``id, kind, kpi, value, low, high, unit, year, source, scope, comparability, note``.

    Raises
    ------
    ConfigError
        An entry lacks value, unit, year, source or scope, or a field has a wrong value; the
        message names the entry.
    """
    raw = dict(path) if isinstance(path, Mapping) else read_yaml(
        path or params_path("benchmarks.yaml")
    )  # fmt: skip
    entries = raw.get("benchmarks") if isinstance(raw, Mapping) else None
    if not isinstance(entries, Mapping):
        raise ConfigError("the benchmark params need a mapping `benchmarks: {id: entry}`")
    known = set((kpis or load_kpis())["kpis"])
    rows = []
    for key, e in entries.items():
        where = f"benchmarks.{key}"
        if not isinstance(e, Mapping):
            raise ConfigError(f"{where} must be a mapping; got {e!r}")
        for field in ("value", "unit", "year", "source", "scope"):
            if e.get(field) in (None, ""):
                raise ConfigError(f"{where} lacks {field!r} (every entry needs value, unit, "
                                  "year, source and scope)")  # fmt: skip
        value = e["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.value must be a number; got {value!r}")
        check_choice(f"{where}.unit", e["unit"], UNITS)
        year = e["year"]
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise ConfigError(f"{where}.year must be a year such as 2018; got {year!r}")
        kind = check_choice(f"{where}.kind", e.get("kind", "benchmark"), KINDS)
        comp = check_choice(
            f"{where}.comparability", e.get("comparability", "approximate"), COMPARABILITY
        )
        kpi = e.get("kpi")
        if kpi is not None and kpi not in known:
            raise ConfigError(f"{where}.kpi must be one of {sorted(known)} or empty; got {kpi!r}")
        rng = e.get("range")
        if rng is not None and (not isinstance(rng, list | tuple) or len(rng) != 2):
            raise ConfigError(f"{where}.range must be [low, high]; got {rng!r}")
        if e.get("example") and not include_examples:
            continue
        rows.append(
            {
                "id": key,
                "kind": kind,
                "kpi": kpi,
                "value": float(value),
                "low": float(rng[0]) if rng else np.nan,
                "high": float(rng[1]) if rng else np.nan,
                "unit": e["unit"],
                "year": int(year),
                "source": str(e["source"]),
                "scope": str(e["scope"]),
                "comparability": comp,
                "note": str(e.get("note") or ""),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "kind",
            "kpi",
            "value",
            "low",
            "high",
            "unit",
            "year",
            "source",
            "scope",
            "comparability",
            "note",
        ],  # fmt: skip
    )


# --------------------------------------------------------------------------------------------
# periods
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A reporting period: first and last day (inclusive) and its label."""

    start: pd.Timestamp
    end: pd.Timestamp
    label: str


def period_bounds(as_of: Any, *, period: str = "month", complete: bool = True) -> Period:
    """The period to report as of ``as_of``.

    With ``complete`` the last calendar period that ends on or before ``as_of``; otherwise the
    period holding ``as_of``, cut at ``as_of``.
    """
    check_choice("period", period, PERIODS)
    day = pd.Timestamp(as_of).normalize()
    p = pd.Period(day, freq=_FREQ[period])
    if complete and day < p.end_time.normalize():
        p = p - 1
    end = min(p.end_time.normalize(), day)
    return Period(p.start_time.normalize(), end, str(p))


def shift(period: Period, *, kind: str, unit: str) -> Period:
    """The previous period (``kind="previous"``) or the same period a year earlier."""
    check_choice("kind", kind, ("previous", "last_year"))
    p = pd.Period(period.start, freq=_FREQ[unit])
    q = p - 1 if kind == "previous" else pd.Period(period.start - pd.DateOffset(years=1),
                                                    freq=_FREQ[unit])  # fmt: skip
    length = period.end - period.start
    end = min(q.end_time.normalize(), q.start_time.normalize() + length)
    return Period(q.start_time.normalize(), end, str(q))


def _ts(day: pd.Timestamp) -> Any:
    return ibis.literal(pd.Timestamp(day).to_pydatetime())


# --------------------------------------------------------------------------------------------
# KPI values
# --------------------------------------------------------------------------------------------
def _unpack(data: Any) -> dict[str, Any]:
    if hasattr(data, "transactions"):
        return {
            name: getattr(data, name, None)
            for name in (
                "transactions",
                "customers",
                "touchpoints",
                "campaigns",
                "campaign_members",
                "events",
            )  # fmt: skip
        }
    return {"transactions": data}


def kpi_values(
    data: Any,
    *,
    period: Period,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Every KPI of ``params/kpis.yaml`` for one period (NaN where the data lacks a table).

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
    tabs = _unpack(data)
    tx = as_table(tabs["transactions"])
    s, e = period.start, period.end
    e1 = e + pd.Timedelta(days=1)
    y1 = e1 - pd.DateOffset(years=1)
    y2 = e1 - pd.DateOffset(years=2)
    tx = tx.filter(tx.ordered_at < _ts(e1))
    purchase = tx.amount.isnull() | (tx.amount >= 0)
    tx = tx.mutate(purchase=purchase, member=tx.customer_id.notnull())
    inp = tx.filter(tx.ordered_at >= _ts(s))
    agg = execute(
        inp.aggregate(
            revenue=inp.amount.sum(),
            member_revenue=inp.amount.sum(where=inp.member),
            orders=inp.order_id.nunique(where=inp.purchase),
            member_orders=inp.order_id.nunique(where=inp.purchase & inp.member),
            active=inp.customer_id.nunique(where=inp.purchase & inp.member),
        )
    ).iloc[0]
    mem = tx.filter(tx.member & tx.purchase)
    per = mem.group_by("customer_id").aggregate(
        first=mem.ordered_at.min(),
        in_prev=((mem.ordered_at >= _ts(y2)) & (mem.ordered_at < _ts(y1))).any(),
        in_last=(mem.ordered_at >= _ts(y1)).any(),
    )
    cust = execute(
        per.aggregate(
            customers=per.count(),
            new=(per["first"] >= _ts(s)).sum(),
            prev=per.in_prev.sum(),
            kept=(per.in_prev & per.in_last).sum(),
        )
    ).iloc[0]
    # repeat within a year of the first purchase day, cohort acquired 12-24 months before
    days = mem.select("customer_id", day=mem.ordered_at.date()).distinct()
    firsts = days.group_by("customer_id").aggregate(first_day=days.day.min())
    cohort = firsts.filter(
        (firsts.first_day >= ibis.literal(y2.date())) & (firsts.first_day < ibis.literal(y1.date()))
    )
    j = days.join(cohort, "customer_id")
    rep = j.group_by("customer_id").aggregate(
        again=((j.day > j.first_day) & (j.day <= j.first_day + ibis.interval(days=365))).any()
    )
    rep_row = execute(rep.aggregate(n=rep.count(), again=rep.again.sum())).iloc[0]
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
    # campaigns: members sent in the trailing year
    out.update(campaign_response_rate=np.nan, coupon_redemption=np.nan, message_click_rate=np.nan)
    if tabs.get("campaign_members") is not None:
        if responses is None:
            responses = cp.member_responses(
                tabs["campaign_members"], tabs["transactions"], campaigns=tabs.get("campaigns"),
                response_days=response_days,
            )  # fmt: skip
        sent = responses["sent_at"]
        window_end = e1 - pd.Timedelta(days=float(response_days))
        r = responses[(sent >= y1) & (sent < window_end) & (responses["group"] == "target")]
        if len(r):
            out["campaign_response_rate"] = float(r["responded"].mean())
            out["coupon_redemption"] = float(r["coupon_orders"].sum() / len(r))
            if tabs.get("touchpoints") is not None:
                tp = as_table(tabs["touchpoints"], table="touchpoints")
                clicks = tp.filter(
                    (tp.kind == "message_click") & (tp.occurred_at >= _ts(y1))
                    & (tp.occurred_at < _ts(e1))
                )  # fmt: skip
                n_clicks = int(execute(clicks.aggregate(n=clicks.count()))["n"].iloc[0])
                all_sent = responses[(sent >= y1) & (sent < e1) & (responses["group"] == "target")]
                out["message_click_rate"] = ratio(n_clicks, len(all_sent))
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
    return out


def kpi_table(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    complete: bool = True,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    kpis: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """KPIs of one period as a tidy table.

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` (every table it has is used) or transactions alone.
    as_of
        Analysis date (ISO); empty means the last transaction date.
    period
        ``"month"``, ``"quarter"`` or ``"year"``.
    complete
        Report the last complete period on or before ``as_of`` (else the running one).
    clv
        Per-customer scores with a ``clv`` column for ``avg_clv``.
    kpis
        Definitions (:func:`load_kpis`); default ``params/kpis.yaml``.

    Returns
    -------
    pandas.DataFrame
        ``kpi, value, unit, higher_is_better, window, period, period_start, period_end``.
    """
    defs = kpis or load_kpis()
    tx = _unpack(data)["transactions"]
    day = resolve_as_of(tx, as_of)
    p = period_bounds(day, period=period, complete=complete)
    values = kpi_values(data, period=p, response_days=response_days, clv=clv)
    return _tidy(values, p, defs)


def _tidy(values: Mapping[str, float], p: Period, defs: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for key, spec in defs["kpis"].items():
        rows.append(
            {
                "kpi": key,
                "value": float(values.get(key, np.nan)),
                "unit": spec["unit"],
                "higher_is_better": spec["higher_is_better"],
                "window": spec["window"],
                "period": p.label,
                "period_start": p.start,
                "period_end": p.end,
            }
        )
    return pd.DataFrame(rows)


def direction(change: float, *, higher_is_better: bool | None, tolerance: float = 0.0) -> str:
    """``"good"``, ``"bad"``, ``"flat"`` (``|change| <= tolerance``), ``"neutral"`` (the KPI has
    no good direction) or ``"n/a"`` (no change to judge)."""
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


def compare_periods(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    complete: bool = True,
    response_days: float = 14.0,
    clv: pd.DataFrame | None = None,
    kpis: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """KPIs of the period against the previous period and the same period a year earlier.

    Returns
    -------
    pandas.DataFrame
        One row per KPI: ``kpi, unit, higher_is_better, value, previous, change_previous,
        relative_change_previous, vs_previous, last_year, change_last_year,
        relative_change_last_year, vs_last_year``; ``vs_*`` is good / bad / flat / neutral /
        n/a. Changes are absolute (share points for shares); relative changes are
        change / |earlier value|. ``attrs`` hold the three periods.
    """
    defs = kpis or load_kpis()
    tabs = _unpack(data)
    day = resolve_as_of(tabs["transactions"], as_of)
    cur = period_bounds(day, period=period, complete=complete)
    prev = shift(cur, kind="previous", unit=period)
    ly = shift(cur, kind="last_year", unit=period)
    responses = None
    if tabs.get("campaign_members") is not None:
        responses = cp.member_responses(
            tabs["campaign_members"], tabs["transactions"], campaigns=tabs.get("campaigns"),
            response_days=response_days,
        )  # fmt: skip
    values = {
        name: kpi_values(data, period=p, response_days=response_days,
                         clv=clv if name == "current" else None, responses=responses)
        for name, p in (("current", cur), ("previous", prev), ("last_year", ly))
    }  # fmt: skip
    tol = defs["flat_tolerance"]
    rows = []
    for key, spec in defs["kpis"].items():
        v = values["current"].get(key, np.nan)
        row: dict[str, Any] = {
            "kpi": key,
            "unit": spec["unit"],
            "higher_is_better": spec["higher_is_better"],
            "value": v,
        }
        for name in ("previous", "last_year"):
            other = values[name].get(key, np.nan)
            change, rel, verdict = _judge(v, other, spec["unit"], spec["higher_is_better"], tol)
            row.update({name: other, f"change_{name}": change,
                        f"relative_change_{name}": rel, f"vs_{name}": verdict})  # fmt: skip
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(period=cur, previous=prev, last_year=ly, unit=period)
    return out


def compare_benchmarks(
    values: pd.DataFrame,
    benchmarks: pd.DataFrame | None = None,
    *,
    kpis: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Each benchmark entry with the KPI it compares with, the gap and whether it is good.

    Parameters
    ----------
    values
        :func:`kpi_table` or :func:`compare_periods` output (columns ``kpi`` and ``value``).
    benchmarks
        :func:`load_benchmarks` output; default ``params/benchmarks.yaml``.

    Returns
    -------
    pandas.DataFrame
        Benchmark columns plus ``our_value, our_unit, our_scope, gap`` (ours - benchmark),
        ``status`` (good / bad / neutral / n/a; context entries are ``context``),
        ``unit_match`` and ``comparable_note`` (what differs: unit, scope, source quality).
    """
    defs = kpis or load_kpis()
    bench = load_benchmarks(kpis=defs) if benchmarks is None else benchmarks
    ours = values.set_index("kpi")["value"]
    rows = []
    for _, b in bench.iterrows():
        row = b.to_dict()
        kpi = b["kpi"] if isinstance(b["kpi"], str) else None
        spec = defs["kpis"].get(kpi) if kpi else None
        v = float(ours.get(kpi, np.nan)) if kpi else np.nan
        row["our_value"] = v
        row["our_unit"] = spec["unit"] if spec else ""
        row["our_scope"] = spec["scope"] if spec else ""
        row["unit_match"] = bool(spec) and spec["unit"] == b["unit"]
        if b["kind"] == "context":
            row["gap"], row["status"] = np.nan, "context"
        elif spec is None or not row["unit_match"]:
            row["gap"], row["status"] = np.nan, "n/a"
        else:
            gap = v - float(b["value"]) if np.isfinite(v) else np.nan
            row["gap"] = gap
            row["status"] = direction(gap, higher_is_better=spec["higher_is_better"])
            if row["status"] == "flat":
                row["status"] = "good"
        notes = []
        if spec is not None and not row["unit_match"]:
            notes.append("unit")
        if b["comparability"] != "direct":
            notes.append("scope")
        row["comparable_note"] = ",".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def benchmark_status(bench: pd.DataFrame) -> pd.DataFrame:
    """One verdict per KPI from the benchmark comparison: the first entry of kind benchmark
    (else competitor) with a status: ``kpi, benchmark, benchmark_source, vs_benchmark``."""
    pool = bench[bench["kind"].isin(["benchmark", "competitor"]) & bench["kpi"].notna()]
    pool = pool[pool["status"].isin(["good", "bad", "neutral"])]
    pool = pool.assign(_k=pool["kind"].map({"benchmark": 0, "competitor": 1}))
    pool = pool.sort_values("_k", kind="stable").drop_duplicates("kpi")
    return pd.DataFrame(
        {
            "kpi": pool["kpi"].to_numpy(),
            "benchmark": pool["value"].to_numpy(float),
            "benchmark_source": pool["source"].to_numpy(),
            "vs_benchmark": pool["status"].to_numpy(),
        }
    )


# --------------------------------------------------------------------------------------------
# display
# --------------------------------------------------------------------------------------------
def format_value(value: float, *, fmt: str, language: str = "en") -> str:
    """A KPI value as text: ``int`` 12,345 · ``money`` ¥12,345 · ``pct`` 12.3% · ``num`` 1.23."""
    check_choice("format", fmt, (*FORMATS, "pp"))
    if value is None or not np.isfinite(value):
        return "–"
    if fmt == "int":
        return f"{value:,.0f}"
    if fmt == "money":
        if language == "zh" and abs(value) >= 1e4:
            return f"¥{value / 1e4:,.1f}万"
        return f"¥{value:,.0f}"
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    if fmt == "pp":
        return f"{value * 100:+.1f}"
    return f"{value:,.2f}"


def change_text(row: Mapping[str, Any], *, which: str, fmt: str, language: str = "en") -> str:
    """``▲ +3.2%`` style text of a change with its verdict (✓ good, ✗ bad)."""
    verdict = row[f"vs_{which}"]
    if verdict == "n/a":
        return "–"
    change = row[f"change_{which}"]
    rel = row[f"relative_change_{which}"]
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    if fmt == "pct":
        amount = f"{change * 100:+.1f} pp" if language == "en" else f"{change * 100:+.1f} 个百分点"
    else:
        amount = f"{rel * 100:+.1f}%" if np.isfinite(rel) else "–"
    mark = {"good": " ✓", "bad": " ✗"}.get(verdict, "")
    return f"{arrow} {amount}{mark}"


def kpi_name(kpi: str, *, language: str = "en") -> str:
    """Display name of a KPI (``crmlib/labels/benchmark.yaml``: ``kpi_<id>``)."""
    names = labels("benchmark", language)
    return names.get(f"kpi_{kpi}", kpi)


def _kpi_markdown(kpi: str, *, language: str) -> str:
    """:func:`kpi_name` for report Markdown: a KPI id from the user's YAML without a label is
    escaped (it is data), a label from the catalogue is written as it is."""
    names = labels("benchmark", language)
    key = f"kpi_{kpi}"
    return names[key] if key in names else reporting.md_escape(kpi)


def comparison_table(
    comparison: pd.DataFrame,
    *,
    language: str = "en",
    kpis: Mapping[str, Any] | None = None,
    status: pd.DataFrame | None = None,
    only: list[str] | None = None,
) -> pd.DataFrame:
    """Display table of :func:`compare_periods`: KPI, value, vs previous, vs last year
    (and vs benchmark when ``status`` from :func:`benchmark_status` is given)."""
    check_language(language)
    defs = kpis or load_kpis()
    rows = comparison if not only else comparison.set_index("kpi").loc[only].reset_index()
    st = status.set_index("kpi") if status is not None else None
    out = []
    for _, r in rows.iterrows():
        fmt = defs["kpis"][r["kpi"]]["format"]
        line = {
            t("benchmark.col_kpi", language): kpi_name(r["kpi"], language=language),
            t("benchmark.col_value", language): format_value(r["value"], fmt=fmt, language=language),
            t("benchmark.col_vs_previous", language): change_text(r, which="previous", fmt=fmt,
                                                                 language=language),
            t("benchmark.col_vs_last_year", language): change_text(r, which="last_year", fmt=fmt,
                                                                  language=language),
        }  # fmt: skip
        if st is not None:
            if r["kpi"] in st.index:
                b = st.loc[r["kpi"]]
                mark = {"good": "✓", "bad": "✗"}.get(b["vs_benchmark"], "")
                text = f"{format_value(b['benchmark'], fmt=fmt, language=language)} {mark}".strip()
            else:
                text = "–"
            line[t("benchmark.col_vs_benchmark", language)] = text
        out.append(line)
    return pd.DataFrame(out)


def benchmark_table(bench: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """Display table of :func:`compare_benchmarks` (context entries left out)."""
    check_language(language)
    defs = load_kpis()
    rows = []
    for _, b in bench[bench["kind"] != "context"].iterrows():
        kpi = b["kpi"] if isinstance(b["kpi"], str) else None
        fmt = defs["kpis"][kpi]["format"] if kpi else ("pct" if b["unit"] == "share" else "num")
        bench_text = format_value(b["value"], fmt=fmt, language=language)
        if np.isfinite(b["low"]):
            bench_text = (f"{format_value(b['low'], fmt=fmt, language=language)}–"
                          f"{format_value(b['high'], fmt=fmt, language=language)}")  # fmt: skip
        notes = []
        if "unit" in b["comparable_note"]:
            notes.append(t("benchmark.note_unit", language))
        notes.append(t(f"benchmark.comparability_{b['comparability'].replace(' ', '_')}",
                       language))  # fmt: skip
        if b["note"]:
            notes.append(b["note"])
        rows.append(
            {
                t("benchmark.col_kpi", language): kpi_name(kpi, language=language) if kpi else "–",
                t("benchmark.col_ours", language): format_value(b["our_value"], fmt=fmt,
                                                                language=language),
                t("benchmark.col_benchmark", language): bench_text,
                t("benchmark.col_status", language): t(
                    f"benchmark.status_{b['status'].replace('/', '')}", language
                ),
                t("benchmark.col_scope", language): b["scope"],
                t("benchmark.col_source", language): f"{b['source']} ({b['year']})",
                t("benchmark.col_comparability", language): "; ".join(notes),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def context_notes(bench: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown list of the context claims (not KPIs) with their sources."""
    check_language(language)
    ctx = bench[bench["kind"] == "context"]
    if ctx.empty:
        return ""
    lines = [t("benchmark.context_intro", language)]
    lines += [
        f"- {reporting.md_escape(r['scope'])} — {reporting.md_escape(r['source'])}"
        for _, r in ctx.iterrows()
    ]
    return "\n".join(lines)


def definitions_table(
    *, language: str = "en", kpis: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """KPI definitions for the report: name, formula, unit, direction."""
    defs = kpis or load_kpis()
    rows = []
    for key, spec in defs["kpis"].items():
        better = spec["higher_is_better"]
        rows.append(
            {
                t("benchmark.col_kpi", language): kpi_name(key, language=language),
                t("benchmark.col_formula", language): spec["formula"][language],
                t("benchmark.col_unit", language): t(f"benchmark.unit_{spec['unit']}", language),
                t("benchmark.col_direction", language): t(
                    "benchmark.dir_up" if better else "benchmark.dir_down" if better is False
                    else "benchmark.dir_none", language
                ),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def findings(comparison: pd.DataFrame, bench: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language summary: how many KPIs improved on a year ago, which benchmarks we miss."""
    check_language(language)
    p = comparison.attrs.get("period")
    good = comparison[comparison["vs_last_year"] == "good"]["kpi"].tolist()
    bad = comparison[comparison["vs_last_year"] == "bad"]["kpi"].tolist()
    lines = [
        t(
            "benchmark.f_period",
            language,
            period=p.label if p else "",
            good=len(good),
            bad=len(bad),
        )
    ]
    if bad:
        lines.append(t("benchmark.f_worse", language,
                       kpis=", ".join(_kpi_markdown(k, language=language) for k in bad)))  # fmt: skip
    st = bench[bench["status"].isin(["good", "bad"])]
    below = st[st["status"] == "bad"]
    lines.append(t("benchmark.f_bench", language, n=len(st), ok=len(st) - len(below)))
    for _, b in below.drop_duplicates("kpi").iterrows():
        fmt = "pct" if b["unit"] == "share" else "num"
        lines.append(
            t(
                "benchmark.f_below",
                language,
                kpi=_kpi_markdown(b["kpi"], language=language),
                ours=format_value(b["our_value"], fmt=fmt),
                bench=format_value(b["value"], fmt=fmt),
                source=reporting.md_escape(short_source(b["source"], year=b["year"])),
            )
        )
    return "\n".join(f"- {x}" for x in lines)


def short_source(source: str, *, year: int) -> str:
    """The first part of a source citation with its year, for chart labels."""
    head = str(source).split(",")[0].strip()
    return head if str(year) in head else f"{head} {year}"


def section(name: str, *, language: str = "en") -> str:
    """Markdown heading and explanation of a section of the benchmark report."""
    check_choice("section", name, ("headline", "periods", "benchmarks", "context", "definitions"))
    return reporting.section("benchmark", name, language=language)


def report_title(comparison: pd.DataFrame, *, language: str = "en") -> str:
    """Title and subtitle with the period compared."""
    p, prev, ly = (comparison.attrs.get(k) for k in ("period", "previous", "last_year"))
    return reporting.title(
        "benchmark.nb_title", "benchmark.nb_subtitle", language=language, period=p.label,
        previous=prev.label, last_year=ly.label, start=p.start.date(), end=p.end.date(),
    )  # fmt: skip
