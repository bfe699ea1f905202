"""The executive summary in numbers: headline KPIs, segment movements, value at risk, the best
campaign, the top cross-sell finding and the recommendations the numbers trigger.

Recommendations are rules kept as data (``recommendations`` in ``params/kpis.yaml``): each has
conditions on *facts* (KPI values, their verdicts against the previous period, a year ago and
the benchmarks, and the findings below) and a text per language with placeholders filled from
the facts. This module decides which rules fire; :mod:`crmlib.present.executive` writes the
summary, the body of the weekly email.
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib import basket, clv, lifecycle
from crmlib import campaigns as cp
from crmlib.basket.names import ITEM_NAMES, named
from crmlib.benchmark import benchmark_status, compare_benchmarks
from crmlib.clv.summaries import weeks_in_units
from crmlib.compat import renamed_keyword
from crmlib.config import check_choice, check_range
from crmlib.data import resolve_as_of
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError
from crmlib.kpis import compare_periods, dataset_tables, load_kpis
from crmlib.membership import isin, positions

__all__ = [
    "PLACEHOLDER",
    "RISK_RULE_CHOICES",
    "Summary",
    "build_facts",
    "executive_summary",
    "recommend",
    "risk_rule",
    "segment_movements",
    "top_cross_sell",
    "value_at_risk",
]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

#: A placeholder of a recommendation text: ``{fact}`` or ``{fact:format}``.
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+\.[A-Za-z0-9_]+)(?::([a-z]+))?\}")


# --------------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------------
def _amount_range(
    summary: pd.DataFrame, customers: pd.Series, analysis: Any
) -> tuple[float, float]:
    """95% range of the drifting customers' summed CLV (:func:`crmlib.clv.intervals` on their
    earlier histories with the analysis's models); NaN when it cannot be computed."""
    if customers.empty:
        return 0.0, 0.0
    if not isinstance(analysis.model, clv.BetaGeoModel):  # ranges are computed for BG/NBD
        return np.nan, np.nan
    horizon = int(analysis.settings["horizon_months"])
    params = {**analysis.settings, "intervals": {**analysis.settings["intervals"],
              "forecast_months": horizon, "horizons": [[0, horizon]]}}  # fmt: skip
    part = summary[isin(summary["customer_id"], set(customers))]
    bands = clv.intervals(part, model=analysis.model, spend_model=analysis.spend_model,
                          params=params, customers=False)  # fmt: skip
    if not bands.measured:
        return np.nan, np.nan
    row = bands.horizons.iloc[0]
    return float(row["value_lower"]), float(row["value_upper"])


@cached("value_at_risk")
def value_at_risk(
    transactions: Any,
    *,
    as_of: Any = None,
    lookback_days: int = 90,
    top_share: float = 0.2,
    min_drop: float = 0.1,
    rule: str = "p_alive",
    params: Mapping[str, Any] | str | Path | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """High-value customers who are drifting away, and the value they hold.

    The CLV model is fitted as of ``as_of`` and applied to each customer's history as of
    ``as_of`` and as of ``lookback_days`` earlier. *Drifting* customers are among the top
    ``top_share`` by CLV at the earlier date and, by ``rule``: their P(alive) fell by at least
    ``min_drop`` (``"p_alive"``), or they had bought within ``hiatus_weeks`` (``clv.yaml``) at
    the earlier date and have not since (``"hiatus"``). Choose the rule that classified better
    in the backtest (:func:`crmlib.clv.better_rule`).

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    lookback_days, top_share, min_drop, rule
        See above.
    params
        Overrides of ``clv.yaml`` (:func:`crmlib.clv.analyse`); ``clv_params=`` is a deprecated
        alias.

    Returns
    -------
    pandas.DataFrame
        Per drifting customer: ``customer_id, clv_then, clv_now, p_alive_then, p_alive_now``,
        sorted by ``clv_then``. ``attrs["summary"]``: ``customers, amount`` (sum of
        ``clv_then``) with ``amount_lower, amount_upper`` (its 95% range from the models'
        uncertainty, :func:`crmlib.clv.intervals`; NaN when not computable), ``lost`` (sum of ``clv_then - clv_now``), ``share`` (amount / CLV of all
        customers at the earlier date), ``lookback_days``; ``attrs["scores"]``: the scores as of
        ``as_of``; ``attrs["unidentified"]``: the models' parameters the data cannot pin down
        (:meth:`crmlib.clv.fitted.TransactionModel.parameters`), empty when all are.
    """
    params = renamed_keyword("value_at_risk", kwargs, "clv_params", "params", params)
    if kwargs:
        raise TypeError(f"value_at_risk() got unexpected keyword arguments {sorted(kwargs)}")
    check_range("lookback_days", lookback_days, low=1)
    check_range("top_share", top_share, low=0, high=1, low_inclusive=False)
    check_range("min_drop", min_drop, low=0, high=1)
    check_choice("rule", rule, clv.RISK_RULES)
    day = resolve_as_of(transactions, as_of)
    analysis = clv.analyse(transactions, as_of=day, params=params)
    earlier = day - pd.Timedelta(days=int(lookback_days))
    summ = clv.summary(transactions, as_of=earlier,
                       time_unit=analysis.settings["time_unit"])  # fmt: skip
    then = clv.score(summ, model=analysis.model, spend_model=analysis.spend_model,
                     params=analysis.settings)  # fmt: skip
    columns = ["clv", "p_alive"] + (["T", "recency"] if rule == "hiatus" else [])
    # customers scored at both dates, in the earlier order: an inner merge on the ids without
    # the merge's copies of 3M text ids
    at = positions(then["customer_id"], analysis.scores["customer_id"])
    kept = np.flatnonzero(at >= 0)
    parts = [then[["customer_id"]].iloc[kept], then[columns].iloc[kept].add_suffix("_then"),
             analysis.scores[columns].iloc[at[kept]].add_suffix("_now")]  # fmt: skip
    both = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
    cut = both["clv_then"].quantile(1 - top_share) if len(both) else np.inf
    if rule == "p_alive":
        drifting = both["p_alive_now"] <= both["p_alive_then"] - min_drop
    else:  # quiet now, not yet at the earlier date; gaps in the model's time unit
        hiatus = weeks_in_units(analysis.settings["hiatus_weeks"], analysis.settings["time_unit"])
        drifting = (both["T_then"] - both["recency_then"] <= hiatus) & (
            both["T_now"] - both["recency_now"] > hiatus
        )
    drift = both[(both["clv_then"] >= cut) & drifting]
    drift = drift.sort_values("clv_then", ascending=False, kind="stable").reset_index(drop=True)
    total = float(then["clv"].sum())
    out = drift[["customer_id", "clv_then", "clv_now", "p_alive_then", "p_alive_now"]].copy()
    low, high = _amount_range(summ, out["customer_id"], analysis)
    out.attrs["summary"] = {
        "customers": int(len(out)),
        "amount": float(out["clv_then"].sum()),
        "amount_lower": low,
        "amount_upper": high,
        "lost": float((out["clv_then"] - out["clv_now"]).sum()),
        "share": float(out["clv_then"].sum() / total) if total > 0 else np.nan,
        "lookback_days": int(lookback_days),
        "rule": rule,
        "hiatus_weeks": float(analysis.settings["hiatus_weeks"]) if rule == "hiatus" else None,
    }
    out.attrs["scores"] = analysis.scores
    out.attrs["analysis"] = analysis  # the fitted models, for the revenue outlook
    fitted = pd.concat([analysis.model.parameters(), analysis.spend_model.parameters()])
    out.attrs["unidentified"] = fitted.loc[~fitted["identifiable"], "parameter"].tolist()
    return out


#: How :func:`executive_summary` finds drifting customers: by the rule that won the CLV backtest,
#: or by one rule outright (:data:`crmlib.clv.RISK_RULES`).
RISK_RULE_CHOICES: tuple[str, ...] = ("backtest", *clv.RISK_RULES)


@cached("risk_rule")
def risk_rule(
    transactions: Any, *, as_of: Any = None, rule: str = "backtest", holdout_months: int = 6
) -> tuple[str, pd.DataFrame | None]:
    """The rule for drifting customers, and the evidence for it.

    ``rule="backtest"`` fits the CLV model on the history up to ``holdout_months`` before
    ``as_of`` and keeps whichever of P(alive) and the hiatus rule told active from inactive
    customers better in the months after (:func:`crmlib.clv.better_rule`); where the history is
    too short for a backtest, the hiatus rule, which needs no model. Any other ``rule`` is used
    as given.

    Returns
    -------
    tuple
        The rule (``"p_alive"`` or ``"hiatus"``) and the backtest's ``classification`` table
        (None when no backtest ran).
    """
    check_choice("rule", rule, RISK_RULE_CHOICES)
    if rule != "backtest":
        return rule, None
    day = resolve_as_of(transactions, as_of)
    try:
        check = clv.backtest(
            transactions,
            calibration_end=clv.calibration_end(day, holdout_months=holdout_months),
            as_of=day,
        )
    except (ConfigError, DataError, ValueError):  # too little history before the holdout
        return "hiatus", None
    return clv.better_rule(check), check.classification


@cached("segment_movements")
def segment_movements(
    transactions: Any, *, as_of: Any = None, period: str = "month"
) -> pd.DataFrame:
    """Customers per lifecycle stage in the latest period against the one before.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    period
        ``"month"`` or ``"quarter"``.

    Returns
    -------
    pandas.DataFrame
        ``stage, previous, current, change`` (customers), in the order of the stages;
        ``attrs``: ``previous`` and ``current`` period labels.
    """
    check_choice("period", period, ("month", "quarter"))
    day = resolve_as_of(transactions, as_of)
    # the rules resolved as notebook 04 resolves them: the run cache then stages the base once
    rules = lifecycle.load_rules(None, period=period)
    counts = lifecycle.stage_counts(lifecycle.stage_summary(transactions, as_of=day, params=rules))
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


@cached("top_cross_sell")
def top_cross_sell(
    transactions: Any,
    *,
    as_of: Any = None,
    within_days: int = 30,
    min_customers: int = 30,
    min_lift: float = 1.0,
) -> pd.Series | None:
    """The strongest "A then B within N days" rule (:func:`crmlib.basket.sequential_rules`).

    Returns
    -------
    pandas.Series or None
        The rule of highest lift among those with at least ``min_customers`` customers and a
        lift above ``min_lift`` (at lift 1, buyers of A buy B no more than anyone), its
        items by product name where the data maps one (:func:`crmlib.basket.names.named`);
        None when there is none.
    """
    rules = basket.sequential_rules(
        transactions, within_days=within_days, as_of=as_of, min_lift=min_lift
    )
    # a rule at lift 1 is what every customer does anyway: no cross-sell to headline
    rules = rules[(rules["n_both"] >= min_customers) & (rules["lift"] > min_lift)]
    if rules.empty:
        return None
    best = rules.sort_values(["lift", "n_both"], ascending=False, kind="stable").head(1)
    return named(best, rules.attrs.get(ITEM_NAMES)).iloc[0]


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
) -> dict[str, Any]:
    """Flat ``{"<kpi>.<field>": value}`` facts for the recommendation rules.

    Parameters
    ----------
    comparison
        :func:`crmlib.kpis.compare_periods` output.
    status
        :func:`crmlib.benchmark.benchmark_status` output.
    value_at_risk
        ``attrs["summary"]`` of :func:`value_at_risk`.
    best_campaign
        :func:`crmlib.campaigns.best_campaign` output.
    cross_sell
        :func:`top_cross_sell` output.
    movements
        :func:`segment_movements` output.

    Returns
    -------
    dict
        The facts ``params/kpis.yaml`` lists; NaN values are left out so that rules on them
        do not fire. ``best_campaign.channel`` is the channel id as in the data.
    """
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
            facts[f"{row['kpi']}.benchmark_comparability"] = row.get("comparability", "direct")
    if value_at_risk:
        for k in ("customers", "amount", "lost", "share"):
            facts[f"value_at_risk.{k}"] = value_at_risk.get(k)
    if best_campaign is not None:
        b = dict(best_campaign)
        facts.update(
            {
                "best_campaign.name": b.get("name"),
                "best_campaign.id": b.get("campaign_id"),
                "best_campaign.uplift": b.get("uplift"),
                "best_campaign.incremental_revenue": b.get("incremental_revenue"),
                "best_campaign.channel": str(b.get("channel", "")),
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


def _rule_spec(params: Any, kwargs: dict[str, Any]) -> tuple[list[Any], int]:
    """The rules and their ``max`` from ``params`` (``kpis.yaml`` overrides) or the deprecated
    ``rules=`` (``{"max": n, "rules": [...]}`` or a list of rules)."""
    rules = kwargs.pop("rules", None)
    if kwargs:
        raise TypeError(f"recommend() got unexpected keyword arguments {sorted(kwargs)}")
    if rules is not None:
        if params is not None:
            raise TypeError("recommend() got both 'params' and its deprecated alias 'rules'")
        warnings.warn(
            "recommend(): keyword 'rules' is deprecated, use params={'recommendations': rules}",
            DeprecationWarning,
            stacklevel=3,
        )
        if not isinstance(rules, Mapping):
            return list(rules), 5
        return list(rules.get("rules") or []), rules.get("max", 5)
    spec = load_kpis(params)["recommendations"]
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"kpis.yaml: recommendations must be a mapping {{max, rules}}; got {spec!r}"
        )
    return list(spec.get("rules") or []), spec.get("max", 5)


def recommend(
    facts: Mapping[str, Any],
    *,
    params: Mapping[str, Any] | str | Path | None = None,
    max_items: int | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Recommendation rules whose conditions hold, best priority first.

    Parameters
    ----------
    facts
        Output of :func:`build_facts`.
    params
        Overrides of ``kpis.yaml`` (its ``recommendations``: ``max`` and ``rules``). A rule:
        ``id``, ``priority`` (1 first), ``when`` (conditions ``{fact, op, value}``, all must
        hold) and ``text`` ``{en, zh}`` with ``{fact}`` or ``{fact:pct|pp|pts|times|money|int|num}``
        placeholders. ``rules=`` (the ``recommendations`` mapping itself, or a list of rules)
        is a deprecated alias.
    max_items
        At most this many (default the rules' ``max``, else 5).

    Returns
    -------
    list of dict
        ``{"id", "priority", "template", "rough_benchmark"}``; ``template`` is the rule's
        ``text`` per language, written out by
        :func:`crmlib.present.executive.recommendation_texts`. A rule whose text names a missing
        fact is skipped. A rule that fires on a benchmark of another scope
        (``rough_benchmark``) comes after every other, whatever its priority: a rough yardstick
        never heads the list.
    """
    items, limit = _rule_spec(params, kwargs)
    limit = int(max_items or limit)
    chosen = []
    for order, rule in enumerate(items):
        if not isinstance(rule, Mapping) or "text" not in rule or "id" not in rule:
            raise ConfigError(f"a recommendation rule needs id, when and text; got {rule!r}")
        text = rule["text"]
        if not isinstance(text, Mapping) or not all(isinstance(s, str) for s in text.values()):
            raise ConfigError(f"recommendation {rule['id']!r} needs text {{en, zh}}; got {text!r}")
        if not all(_holds(c, facts) for c in rule.get("when") or []):
            continue
        names = [m.group(1) for s in text.values() for m in PLACEHOLDER.finditer(s)]
        if any(n not in facts for n in names):
            continue
        rough = _rough_benchmark(rule, facts)
        chosen.append((rough, int(rule.get("priority", 9)), order, rule["id"], dict(text)))
    chosen.sort(key=lambda c: c[:4])
    return [
        {"id": i, "priority": p, "template": s, "rough_benchmark": r}
        for r, p, _, i, s in chosen[:limit]
    ]


def _rough_benchmark(rule: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    """True when ``rule`` fires on a benchmark verdict whose benchmark is not directly
    comparable (another market, year or definition): such a rule never heads the list."""
    for cond in rule.get("when") or []:
        fact = str(cond.get("fact", ""))
        if fact.endswith(".vs_benchmark"):
            kpi = fact.rsplit(".", 1)[0]
            if facts.get(f"{kpi}.benchmark_comparability", "direct") != "direct":
                return True
    return False


# --------------------------------------------------------------------------------------------
# the whole summary
# --------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """Everything the executive summary shows (see :func:`executive_summary`).

    ``notes`` say what could not be measured: ``{"note": "no_clv", "reason": ...}``,
    ``{"note": "clv_unidentified", "parameters": "a, b"}`` (the CLV model's parameters the
    data cannot pin down) or ``{"note": "missing_table", "table": ...}``.
    """

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
    notes: list[dict[str, str]] = field(default_factory=list)


def executive_summary(
    data: Any,
    *,
    as_of: Any = None,
    period: str = "month",
    response_days: float = 14.0,
    lookback_days: int = 90,
    top_share: float = 0.2,
    min_drop: float = 0.1,
    within_days: int = 30,
    max_recommendations: int = 5,
    risk: str = "backtest",
) -> Summary:
    """Compute the executive summary of a :class:`crmlib.data.Dataset` (or transactions).

    Parameters
    ----------
    data
        Dataset; sections needing a missing table are left out with a note.
    as_of
        Analysis date (ISO); empty means the last complete day of the data (:func:`crmlib.data.resolve_as_of`).
    period
        KPI period: ``"week"`` (Monday to Sunday), ``"month"``, ``"quarter"`` or ``"year"``; the
        KPIs report the last complete one on or before ``as_of``. Segment movements compare
        the stages at the end of that period with the end of the month (week, month) or
        quarter (otherwise) before it.
    response_days
        Campaign response window.
    lookback_days, top_share, min_drop
        Value at risk (:func:`value_at_risk`).
    within_days
        Window of the cross-sell rule ("B within N days of A").
    max_recommendations
        At most this many recommendations (three to five read best).
    risk
        How drifting customers are found (:func:`risk_rule`): ``"backtest"`` (the rule that
        classified better in the CLV backtest), ``"p_alive"`` or ``"hiatus"``.
    """
    check_range("max_recommendations", max_recommendations, low=1, high=10)
    tabs = dataset_tables(data)
    tx = tabs["transactions"]
    day = resolve_as_of(tx, as_of)
    notes: list[dict[str, str]] = []
    at_risk = None
    scores = None
    try:
        rule, evidence = risk_rule(tx, as_of=day, rule=risk)
        at_risk = value_at_risk(tx, as_of=day, lookback_days=lookback_days,
                                top_share=top_share, min_drop=min_drop, rule=rule)  # fmt: skip
        at_risk.attrs["evidence"] = evidence
        # how the rule was chosen: by the backtest, as asked, or untested (too little history)
        at_risk.attrs["summary"]["rule_source"] = (
            "backtest" if evidence is not None else "given" if risk != "backtest" else "untested"
        )
        scores = at_risk.attrs["scores"]
        if at_risk.attrs["unidentified"]:  # the CLV figures rest on a model the data cannot pin
            notes.append({"note": "clv_unidentified",
                          "parameters": ", ".join(at_risk.attrs["unidentified"])})  # fmt: skip
    except (ConfigError, ValueError) as exc:
        notes.append({"note": "no_clv", "reason": str(exc)})
    comparison = compare_periods(data, as_of=day, period=period,
                                 response_days=response_days, clv=scores)  # fmt: skip
    bench = compare_benchmarks(comparison)
    status = benchmark_status(bench)
    # the lifecycle movements of the period the KPIs report (its end against the period before),
    # not of the running days after it
    movements = segment_movements(tx, as_of=comparison.attrs["period"].end,
                                  period="quarter" if period in ("quarter", "year") else "month")  # fmt: skip
    response = best = None
    if tabs.get("campaigns") is not None and tabs.get("campaign_members") is not None:
        response = cp.campaign_response(tabs["campaigns"], tabs["campaign_members"], tx,
                                        response_days=response_days, as_of=day,
                                        redemptions=tabs.get("coupon_redemptions"))  # fmt: skip
        best = cp.best_campaign(response[response["complete"]])
    else:
        notes.append({"note": "missing_table", "table": "campaigns"})
    cross = top_cross_sell(tx, as_of=day, within_days=within_days)
    facts = build_facts(
        comparison, status,
        value_at_risk=at_risk.attrs["summary"] if at_risk is not None else None,
        best_campaign=best, cross_sell=cross, movements=movements,
    )  # fmt: skip
    recs = recommend(facts, max_items=max_recommendations)
    return Summary(day, comparison, bench, status, at_risk, movements, response, best, cross,
                   facts, recs, notes)  # fmt: skip
