"""The one-page executive summary: headline KPIs, segment movements, value at risk, the best
campaign, the top cross-sell finding and recommendations derived from the numbers.

Recommendations are rules kept as data (``recommendations`` in ``params/kpis.yaml``): each has
conditions on *facts* (KPI values, their verdicts against the previous period, a year ago and
the benchmarks, and the findings below) and a text in English and Chinese with placeholders
filled from the facts. The summary is the body of the weekly email, so it stays short.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmlib import benchmark as bm
from crmlib import campaigns as cp
from crmlib import reporting
from crmlib.config import check_choice, check_range
from crmlib.data import resolve_as_of
from crmlib.errors import ConfigError
from crmlib.i18n import catalogue, check_language, t

#: KPIs shown as headline tiles unless the report names others.
HEADLINE_KPIS: tuple[str, ...] = (
    "revenue",
    "active_customers",
    "new_customers",
    "aov",
    "repeat_rate_1y",
    "retention_rate",
    "campaign_response_rate",
    "avg_clv",
)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+\.[A-Za-z0-9_]+)(?::([a-z]+))?\}")


# --------------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------------
def value_at_risk(
    transactions: Any,
    *,
    as_of: Any = None,
    lookback_days: int = 90,
    top_share: float = 0.2,
    min_drop: float = 0.1,
    clv_params: Mapping[str, Any] | str | None = None,
) -> pd.DataFrame:
    """High-value customers whose P(alive) is falling, and the value they hold.

    The CLV model is fitted as of ``as_of`` and applied to each customer's history as of
    ``as_of`` and as of ``lookback_days`` earlier. *Drifting* customers are among the top
    ``top_share`` by CLV at the earlier date and their P(alive) fell by at least ``min_drop``.

    Returns
    -------
    pandas.DataFrame
        Per drifting customer: ``customer_id, clv_then, clv_now, p_alive_then, p_alive_now``,
        sorted by ``clv_then``. ``attrs["summary"]``: ``customers, amount`` (sum of
        ``clv_then``), ``lost`` (sum of ``clv_then - clv_now``), ``share`` (amount / CLV of all
        customers at the earlier date), ``lookback_days``.
    """
    from crmlib import clv

    check_range("lookback_days", lookback_days, low=1)
    check_range("top_share", top_share, low=0, high=1, low_inclusive=False)
    check_range("min_drop", min_drop, low=0, high=1)
    day = resolve_as_of(transactions, as_of)
    analysis = clv.analyse(transactions, as_of=day, params=clv_params)
    earlier = day - pd.Timedelta(days=int(lookback_days))
    summ = clv.summary(transactions, observation_end=earlier,
                       time_unit=analysis.settings["time_unit"])  # fmt: skip
    then = clv.score(summ, model=analysis.model, spend_model=analysis.spend_model,
                     params=analysis.settings)  # fmt: skip
    now = analysis.scores[["customer_id", "clv", "p_alive"]]
    both = then[["customer_id", "clv", "p_alive"]].merge(
        now, on="customer_id", suffixes=("_then", "_now")
    )
    cut = both["clv_then"].quantile(1 - top_share) if len(both) else np.inf
    drift = both[
        (both["clv_then"] >= cut) & (both["p_alive_now"] <= both["p_alive_then"] - min_drop)
    ]
    drift = drift.sort_values("clv_then", ascending=False, kind="stable").reset_index(drop=True)
    total = float(then["clv"].sum())
    out = drift[["customer_id", "clv_then", "clv_now", "p_alive_then", "p_alive_now"]].copy()
    out.attrs["summary"] = {
        "customers": int(len(out)),
        "amount": float(out["clv_then"].sum()),
        "lost": float((out["clv_then"] - out["clv_now"]).sum()),
        "share": float(out["clv_then"].sum() / total) if total > 0 else np.nan,
        "lookback_days": int(lookback_days),
    }
    out.attrs["scores"] = analysis.scores
    return out


def segment_movements(
    transactions: Any, *, as_of: Any = None, period: str = "month"
) -> pd.DataFrame:
    """Customers per lifecycle stage in the latest period against the one before.

    Returns
    -------
    pandas.DataFrame
        ``stage, previous, current, change`` (customers), in the order of the stages.
    """
    from crmlib import lifecycle

    check_choice("period", period, ("month", "quarter"))
    day = resolve_as_of(transactions, as_of)
    stages = lifecycle.customer_stages(transactions, as_of=day, period=period)
    counts = lifecycle.stage_counts(stages)
    periods = sorted(counts["period"].unique())
    if len(periods) < 2:
        return pd.DataFrame(columns=["stage", "previous", "current", "change"])
    prev, cur = periods[-2], periods[-1]
    wide = counts.pivot_table(index="stage", columns="period", values="customers",
                              aggfunc="sum", observed=False).fillna(0)  # fmt: skip
    out = pd.DataFrame(
        {
            "stage": [str(s) for s in wide.index],
            "previous": wide[prev].astype("int64").to_numpy(),
            "current": wide[cur].astype("int64").to_numpy(),
        }
    )
    out["change"] = out["current"] - out["previous"]
    out.attrs.update(previous=str(prev), current=str(cur))
    return out


def top_cross_sell(
    transactions: Any,
    *,
    as_of: Any = None,
    within_days: int = 30,
    min_customers: int = 30,
    min_lift: float = 1.0,
) -> pd.Series | None:
    """The strongest "A then B within N days" rule (``crmlib.basket.sequential_rules``): the
    highest lift among rules with at least ``min_customers`` customers; None when none."""
    from crmlib import basket

    rules = basket.sequential_rules(
        transactions, within_days=within_days, as_of=as_of, min_lift=min_lift
    )
    rules = rules[rules["n_both"] >= min_customers]
    if rules.empty:
        return None
    return rules.sort_values(["lift", "n_both"], ascending=False, kind="stable").iloc[0]


# --------------------------------------------------------------------------------------------
# facts and recommendations
# --------------------------------------------------------------------------------------------
def build_facts(
    comparison: pd.DataFrame,
    status: pd.DataFrame | None = None,
    *,
    value_at_risk: Mapping[str, Any] | None = None,
    best_campaign: pd.Series | Mapping[str, Any] | None = None,
    cross_sell: pd.Series | Mapping[str, Any] | None = None,
    movements: pd.DataFrame | None = None,
    language: str = "en",
) -> dict[str, Any]:
    """Flat ``{"<kpi>.<field>": value}`` facts for the recommendation rules (see
    ``params/kpis.yaml``); NaN values are left out so that rules on them do not fire."""
    check_language(language)
    facts: dict[str, Any] = {}
    fields = ("value", "previous", "last_year", "change_previous", "change_last_year",
              "relative_change_previous", "relative_change_last_year", "vs_previous",
              "vs_last_year")  # fmt: skip
    for _, row in comparison.iterrows():
        for f in fields:
            if f in row.index:
                facts[f"{row['kpi']}.{f}"] = row[f]
    if status is not None:
        for _, row in status.iterrows():
            facts[f"{row['kpi']}.benchmark"] = row["benchmark"]
            facts[f"{row['kpi']}.vs_benchmark"] = row["vs_benchmark"]
            facts[f"{row['kpi']}.benchmark_source"] = row["benchmark_source"]
    if value_at_risk:
        for k in ("customers", "amount", "lost", "share"):
            facts[f"value_at_risk.{k}"] = value_at_risk.get(k)
    if best_campaign is not None:
        b = dict(best_campaign)
        channel = str(b.get("channel", ""))
        key = f"summary.campaign_channel_{channel}"
        facts.update(
            {
                "best_campaign.name": b.get("name"),
                "best_campaign.id": b.get("campaign_id"),
                "best_campaign.uplift": b.get("uplift"),
                "best_campaign.incremental_revenue": b.get("incremental_revenue"),
                "best_campaign.channel": t(key, language) if key in catalogue() else channel,
            }
        )
    if cross_sell is not None:
        c = dict(cross_sell)
        facts.update(
            {
                "cross_sell.first": c.get("antecedent"),
                "cross_sell.then": c.get("consequent"),
                "cross_sell.share": c.get("share"),
                "cross_sell.lift": c.get("lift"),
                "cross_sell.days": c.get("within_days"),
            }
        )
    if movements is not None and len(movements):
        m = movements.set_index("stage")
        for stage in m.index:
            facts[f"stages.{stage}_change"] = int(m.loc[stage, "change"])
            facts[f"stages.{stage}"] = int(m.loc[stage, "current"])
    return {
        k: v
        for k, v in facts.items()
        if v is not None and not (isinstance(v, float) and not np.isfinite(v))
    }


def _format_fact(value: Any, fmt: str | None, language: str) -> str:
    if isinstance(value, str):
        return reporting.md_escape(value)  # a name from the data or the user's YAML
    if fmt is None:
        return str(value)
    if fmt == "pts":
        return f"{float(value) * 100:.1f}"
    if fmt in ("pct", "pp", "money", "int", "num"):
        return bm.format_value(float(value), fmt=fmt, language=language)
    raise ConfigError(f"unknown placeholder format {fmt!r}; use pct, pp, pts, money, int or num")


def _holds(cond: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    if not isinstance(cond, Mapping) or "fact" not in cond:
        raise ConfigError(f"a recommendation condition needs fact, op and value; got {cond!r}")
    op = check_choice("op", cond.get("op", "=="), tuple(_OPS))
    if cond["fact"] not in facts:
        return False
    have, want = facts[cond["fact"]], cond.get("value")
    try:
        return bool(_OPS[op](have, want))
    except TypeError:
        return False


def recommend(
    facts: Mapping[str, Any],
    *,
    rules: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    language: str = "en",
    max_items: int | None = None,
) -> list[dict[str, Any]]:
    """Recommendations whose conditions hold, best priority first.

    Parameters
    ----------
    facts
        Output of :func:`build_facts`.
    rules
        ``{"max": n, "rules": [...]}`` or a list of rules; default the ``recommendations`` of
        ``params/kpis.yaml``. A rule: ``id``, ``priority`` (1 first), ``when`` (conditions
        ``{fact, op, value}``, all must hold) and ``text`` ``{en, zh}`` with ``{fact}`` or
        ``{fact:pct|pp|money|int|num}`` placeholders.
    max_items
        At most this many (default the rules' ``max``, else 5).

    Returns
    -------
    list of dict
        ``{"id", "priority", "text"}``. A rule whose text names a missing fact is skipped.
    """
    check_language(language)
    spec = bm.load_kpis()["recommendations"] if rules is None else rules
    if isinstance(spec, Mapping):
        items, limit = spec.get("rules") or [], spec.get("max", 5)
    else:
        items, limit = list(spec), 5
    limit = int(max_items or limit)
    chosen = []
    for order, rule in enumerate(items):
        if not isinstance(rule, Mapping) or "text" not in rule or "id" not in rule:
            raise ConfigError(f"a recommendation rule needs id, when and text; got {rule!r}")
        text = rule["text"]
        if not isinstance(text, Mapping) or language not in text:
            raise ConfigError(f"recommendation {rule['id']!r} has no {language} text")
        if not all(_holds(c, facts) for c in rule.get("when") or []):
            continue
        names = [m.group(1) for m in _PLACEHOLDER.finditer(text[language])]
        if any(n not in facts for n in names):
            continue
        filled = _PLACEHOLDER.sub(
            lambda m: _format_fact(facts[m.group(1)], m.group(2), language), text[language]
        )
        chosen.append((int(rule.get("priority", 9)), order, rule["id"], filled))
    chosen.sort()
    return [{"id": i, "priority": p, "text": s} for p, _, i, s in chosen[:limit]]


# --------------------------------------------------------------------------------------------
# the whole summary
# --------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """Everything the executive summary shows (see :func:`executive_summary`)."""

    as_of: pd.Timestamp
    comparison: pd.DataFrame
    benchmarks: pd.DataFrame
    status: pd.DataFrame
    at_risk: pd.DataFrame | None
    movements: pd.DataFrame | None
    campaigns: pd.DataFrame | None
    best_campaign: pd.Series | None
    cross_sell: pd.Series | None
    facts: dict[str, Any]
    recommendations: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def executive_summary(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    language: str = "en",
    response_days: float = 14.0,
    lookback_days: int = 90,
    top_share: float = 0.2,
    min_drop: float = 0.1,
    within_days: int = 30,
    max_recommendations: int = 5,
) -> Summary:
    """Compute the executive summary of a :class:`crmlib.data.Dataset` (or transactions).

    Parameters
    ----------
    data
        Dataset; sections needing a missing table are left out with a note.
    as_of
        Analysis date (ISO); empty means the last transaction date.
    period
        KPI period: ``"month"``, ``"quarter"`` or ``"year"`` (segment movements use months for
        ``"month"`` and quarters otherwise).
    response_days
        Campaign response window.
    lookback_days, top_share, min_drop
        Value at risk (:func:`value_at_risk`).
    within_days
        Window of the cross-sell rule ("B within N days of A").
    max_recommendations
        At most this many recommendations (three to five read best).
    """
    check_language(language)
    check_range("max_recommendations", max_recommendations, low=1, high=10)
    tabs = bm._unpack(data)
    tx = tabs["transactions"]
    day = resolve_as_of(tx, as_of)
    notes: list[str] = []
    at_risk = None
    scores = None
    try:
        at_risk = value_at_risk(tx, as_of=day, lookback_days=lookback_days,
                                top_share=top_share, min_drop=min_drop)  # fmt: skip
        scores = at_risk.attrs["scores"]
    except (ConfigError, ValueError) as exc:
        notes.append(t("summary.note_no_clv", language, reason=reporting.md_escape(exc)))
    comparison = bm.compare_periods(data, as_of=day, period=period,
                                    response_days=response_days, clv=scores)  # fmt: skip
    bench = bm.compare_benchmarks(comparison)
    status = bm.benchmark_status(bench)
    movements = segment_movements(tx, as_of=day, period="month" if period == "month" else "quarter")
    response = best = None
    if tabs.get("campaigns") is not None and tabs.get("campaign_members") is not None:
        response = cp.campaign_response(tabs["campaigns"], tabs["campaign_members"], tx,
                                        response_days=response_days, as_of=day)  # fmt: skip
        best = cp.best_campaign(response[response["complete"]])
    else:
        notes.append(t("common.missing_table", language, table="campaigns"))
    cross = top_cross_sell(tx, as_of=day, within_days=within_days)
    facts = build_facts(
        comparison, status,
        value_at_risk=at_risk.attrs["summary"] if at_risk is not None else None,
        best_campaign=best, cross_sell=cross, movements=movements, language=language,
    )  # fmt: skip
    recs = recommend(facts, language=language, max_items=max_recommendations)
    return Summary(day, comparison, bench, status, at_risk, movements, response, best, cross,
                   facts, recs, notes)  # fmt: skip


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------
def title(summary: Summary, *, language: str = "en") -> str:
    """Markdown title with the period and the data date."""
    p = summary.comparison.attrs["period"]
    return reporting.title(
        "summary.title", "summary.subtitle", language=language, period=p.label,
        as_of=summary.as_of.date(),
    )  # fmt: skip


def headline(summary: Summary, *, language: str = "en") -> str:
    """Three or four sentences: revenue and customers, retention against the benchmark."""
    f = summary.facts
    lines = []
    if "revenue.value" in f:
        lines.append(
            t(
                "summary.h_revenue",
                language,
                revenue=bm.format_value(f["revenue.value"], fmt="money", language=language),
                yoy=_signed_pct(f.get("revenue.relative_change_last_year")),
                active=bm.format_value(f.get("active_customers.value", np.nan), fmt="int"),
                new=bm.format_value(f.get("new_customers.value", np.nan), fmt="int"),
            )
        )
    if "retention_rate.value" in f:
        key = (
            "summary.h_retention_bench"
            if "retention_rate.benchmark" in f
            else "summary.h_retention"
        )
        lines.append(
            t(
                key,
                language,
                retention=bm.format_value(f["retention_rate.value"], fmt="pct"),
                bench=bm.format_value(f.get("retention_rate.benchmark", np.nan), fmt="pct"),
                repeat=bm.format_value(f.get("repeat_rate_1y.value", np.nan), fmt="pct"),
            )
        )
    return "\n".join(f"- {x}" for x in lines)


def _signed_pct(x: Any) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x * 100:+.1f}%"


def kpi_tiles(
    summary: Summary, *, kpis: Sequence[str] = HEADLINE_KPIS, language: str = "en"
) -> pd.DataFrame:
    """Small table of the headline KPIs: value, vs previous, vs a year ago, benchmark."""
    have = [k for k in kpis if k in set(summary.comparison["kpi"])]
    table = bm.comparison_table(summary.comparison, language=language, status=summary.status,
                                only=have)  # fmt: skip
    values = summary.comparison.set_index("kpi").loc[have, "value"]
    return table[np.isfinite(values.to_numpy(float))].reset_index(drop=True)


def findings(summary: Summary, *, language: str = "en") -> str:
    """Segment movements, value at risk, best campaign and the top cross-sell, as bullets."""
    check_language(language)
    lines = []
    m = summary.movements
    if m is not None and len(m):
        mm = m.set_index("stage")

        def stage(s: str) -> str:
            return t(f"lifecycle.stage_{s}", language)

        parts = [
            t("summary.f_stage_part", language, stage=stage(s), n=f"{int(mm.loc[s, 'current']):,}",
              change=f"{int(mm.loc[s, 'change']):+,}")
            for s in mm.index if s in ("active", "at_risk", "reactivated", "churned")
        ]  # fmt: skip
        lines.append(t("summary.f_stages", language, period=m.attrs.get("current", ""),
                       parts="; ".join(parts)))  # fmt: skip
    if summary.at_risk is not None:
        s = summary.at_risk.attrs["summary"]
        lines.append(
            t(
                "summary.f_at_risk",
                language,
                n=f"{s['customers']:,}",
                amount=bm.format_value(s["amount"], fmt="money", language=language),
                share=bm.format_value(s["share"], fmt="pct"),
                lost=bm.format_value(s["lost"], fmt="money", language=language),
                days=s["lookback_days"],
            )
        )
    b = summary.best_campaign
    if b is not None:
        lines.append(
            t(
                "summary.f_campaign",
                language,
                name=reporting.md_escape(b["name"]),
                uplift=f"{b['uplift'] * 100:.1f}",
                low=f"{b['uplift_low'] * 100:.1f}",
                high=f"{b['uplift_high'] * 100:.1f}",
                revenue=bm.format_value(b["incremental_revenue"], fmt="money", language=language),
            )
        )
    c = summary.cross_sell
    if c is not None:
        lines.append(
            t(
                "summary.f_cross_sell",
                language,
                first=reporting.md_escape(c["antecedent"]),
                then=reporting.md_escape(c["consequent"]),
                share=bm.format_value(c["share"], fmt="pct"),
                days=int(c["within_days"]),
                lift=f"{c['lift']:.1f}",
            )
        )
    lines += summary.notes
    return "\n".join(f"- {x}" for x in lines)


def recommendations_markdown(summary: Summary, *, language: str = "en") -> str:
    """Numbered recommendations, or a sentence saying none was triggered."""
    if not summary.recommendations:
        return t("summary.no_recommendations", language)
    return "\n".join(f"{i}. {r['text']}" for i, r in enumerate(summary.recommendations, 1))


def section(name: str, *, language: str = "en") -> str:
    """Heading (and a one-line explanation) of a summary section."""
    check_choice("section", name, ("kpis", "findings", "recommendations", "movements"))
    return reporting.section("summary", name, language=language)


def footer(summary: Summary, *, language: str = "en") -> str:
    """Where the definitions and the full reports are, and the benchmark sources."""
    return t("summary.footer", language)
