"""Words on the customer lifecycle: findings, the rules in force, report title, sections, tables.

The numbers come from :mod:`crmlib.lifecycle` (stages and flows), :mod:`crmlib.cohorts`
(cohorts, order milestones, purchase intervals) and :mod:`crmlib.trends`; the text is from
``crmlib/labels/lifecycle.yaml`` in ``language`` (``"en"`` or ``"zh"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.cohorts import milestone_benchmark
from crmlib.compat import renamed_keyword
from crmlib.config import check_choice
from crmlib.data import as_table, parse_day, resolve_as_of
from crmlib.i18n import check_language, labels, t
from crmlib.lifecycle import (
    StageSummary,
    base_gap_percentiles,
    load_rules,
    stage_counts,
    stage_transitions,
)
from crmlib.measure import small_base
from crmlib.periods import freq_of
from crmlib.present import page
from crmlib.present.format import figure, number, percent
from crmlib.present.quality import channel_label
from crmlib.present.trends import decomposition_findings, trend_findings

__all__ = [
    "SECTIONS",
    "stage_findings",
    "cohort_findings",
    "milestone_findings",
    "interval_findings",
    "describe_rules",
    "headline_findings",
    "report_title",
    "section",
    "display_table",
]

#: Report sections with a heading (``h_<name>``) and an explanation (``md_<name>``) label.
SECTIONS: tuple[str, ...] = (
    "stages",
    "flows",
    "cohorts",
    "milestones",
    "intervals",
    "trends",
    "category_mix",
    "decomposition",
)

_Params = str | Path | Mapping[str, Any] | None


def _no_other_keywords(function: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"{function}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def stage_findings(stages: pd.DataFrame | StageSummary, *, language: str = "en") -> str:
    """Markdown bullets on the latest period's stage mix and its change from the period before.

    Parameters
    ----------
    stages
        Output of :func:`crmlib.lifecycle.customer_stages` or
        :func:`crmlib.lifecycle.stage_summary`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if stages.empty:
        return t("lifecycle.no_purchases", language)
    counts = stage_counts(stages)
    last = counts["period"].max()
    now = counts[counts["period"] == last].set_index("stage")
    lines = [
        t(
            "lifecycle.finding_stage_mix",
            language,
            period=str(last),
            customers=f"{int(now['customers'].sum()):,}",
            active=percent(
                now.loc["active", "share"]
                + now.loc["new", "share"]
                + now.loc["reactivated", "share"],
                digits=0,
            ),
            at_risk=percent(now.loc["at_risk", "share"], digits=0),
            churned=percent(now.loc["churned", "share"], digits=0),
        )
    ]
    if (counts["period"] == last - 1).any():
        moves = stage_transitions(stages, to_period=last)

        def flow(a: str, b: str) -> int:
            sel = moves[(moves["from_stage"] == a) & (moves["to_stage"] == b)]
            return int(sel["customers"].sum())

        lapsed = flow("active", "at_risk") + flow("new", "at_risk") + flow("reactivated", "at_risk")
        lines.append(
            t(
                "lifecycle.finding_flows",
                language,
                new=f"{int(now.loc['new', 'customers']):,}",
                reactivated=f"{int(now.loc['reactivated', 'customers']):,}",
                lapsed=f"{lapsed:,}",
                churned=f"{flow('at_risk', 'churned'):,}",
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def cohort_findings(cohorts: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on retention 1 period and 1 year after acquisition (complete cohorts only).

    Parameters
    ----------
    cohorts
        Output of :func:`crmlib.cohorts.cohort_retention`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if cohorts.empty:
        return t("lifecycle.no_purchases", language)
    parts = []
    quarterly = freq_of(cohorts["cohort"]) == "Q"
    unit = t(f"lifecycle.unit_{'quarter' if quarterly else 'month'}", language)
    for k in (1, 4) if quarterly else (1, 12):
        sel = cohorts[(cohorts["period_number"] == k) & cohorts["complete"]]
        if sel.empty:
            continue
        share = sel["customers"].sum() / sel["cohort_size"].sum()
        parts.append(
            t("lifecycle.finding_cohort", language, k=k, unit=unit, share=percent(share, digits=0))
        )
    if not parts:
        return "- " + t("lifecycle.finding_cohort_short", language)
    return "\n".join(f"- {p}" for p in parts)


def milestone_findings(
    milestones: pd.DataFrame,
    *,
    stabilises_after: int | None = None,
    language: str = "en",
    params: _Params = None,
    **kwargs: Any,
) -> str:
    """Markdown bullets on P(2nd|1st), P(3rd|2nd), P(4th|3rd) against the benchmark, and the plateau.

    Parameters
    ----------
    milestones
        Output of :func:`crmlib.cohorts.order_milestones`.
    stabilises_after
        Output of :func:`crmlib.cohorts.stabilisation_order`.
    language
        ``"en"`` or ``"zh"``.
    params
        Lifecycle rules; the benchmark figures come from ``milestones.benchmark.reorder``
        (``rules=`` is a deprecated alias).
    """
    params = renamed_keyword("milestone_findings", kwargs, "rules", "params", params)
    _no_other_keywords("milestone_findings", kwargs)
    check_language(language)
    bench = milestone_benchmark(params)
    minimum = int(load_rules(params)["milestones"]["min_customers"])
    ms = milestones.set_index("order_number")
    lines = []
    probs = {n: ms["probability"].get(n, np.nan) for n in (1, 2, 3)}

    def rate(n: int) -> str:
        """The reorder rate after order n with its base, or "–" and why below the minimum."""
        base = int(ms["eligible"].get(n, 0)) if "eligible" in ms else 0
        small = small_base(base, minimum=minimum)
        if small is not None:
            return figure(np.nan, language, why=small)
        return t("lifecycle.rate_of_base", language, rate=percent(probs[n], digits=0),
                 base=number(base))  # fmt: skip

    if not pd.isna(probs[1]):
        lines.append(
            t(
                "lifecycle.finding_milestones",
                language,
                p2=rate(1),
                p3=rate(2),
                p4=rate(3),
                b2=percent(bench.get(1, np.nan), digits=0),
                b3=percent(bench.get(2, np.nan), digits=0),
                b4=percent(bench.get(3, np.nan), digits=0),
                days=f"{float(ms['window_days'].iloc[0]):g}",
            )
        )
    if stabilises_after is None:
        lines.append(t("lifecycle.finding_no_plateau", language))
    else:
        lines.append(
            t(
                "lifecycle.finding_plateau",
                language,
                n=stabilises_after,
                p=percent(ms["probability"].get(stabilises_after, np.nan), digits=0),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def interval_findings(summary: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullet on the median and 90th-percentile purchase interval of the base.

    Parameters
    ----------
    summary
        Output of :func:`crmlib.cohorts.interval_summary`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    row = summary[summary["segment"] == "all"]
    if row.empty or row["intervals"].iloc[0] == 0:
        return "- " + t("lifecycle.finding_no_intervals", language)
    r = row.iloc[0]
    return "- " + t(
        "lifecycle.finding_intervals",
        language,
        median=f"{r['median_days']:.0f}",
        p90=f"{r.get('p90', np.nan):.0f}",
        intervals=f"{int(r['intervals']):,}",
    )


def describe_rules(
    transactions: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    language: str = "en",
    params: _Params = None,
    **overrides: Any,
) -> str:
    """Markdown that states the stage, reactivation and milestone rules in force, with numbers.

    For the percentile rule the thresholds are computed from ``transactions``.

    Parameters
    ----------
    transactions
        Canonical transactions.
    as_of
        Analysis date; None or "" means the last transaction day.
    language
        ``"en"`` or ``"zh"``.
    params, **overrides
        Rules and flat overrides as for :func:`crmlib.lifecycle.load_rules` (``rules=`` is a
        deprecated alias of ``params``).
    """
    params = renamed_keyword("describe_rules", overrides, "rules", "params", params)
    check_language(language)
    cfg = load_rules(params, **overrides)
    win, own, pct = cfg["window"], cfg["own_gap"], cfg["percentile"]
    fields = {
        "at_risk": f"{win['at_risk_days']:g}",
        "churned": f"{win['churned_days']:g}",
        "one_at_risk": f"{win['one_time_at_risk_days']:g}",
        "one_churned": f"{win['one_time_churned_days']:g}",
    }
    if cfg["rule"] == "window":
        text = t("lifecycle.rule_window", language, **fields)
    elif cfg["rule"] == "own_gap":
        text = t(
            "lifecycle.rule_own_gap",
            language,
            k_at_risk=f"{own['k_at_risk']:g}",
            k_churned=f"{own['k_churned']:g}",
            min_gaps=own["min_gaps"],
            **fields,
        )
    else:
        q = base_gap_percentiles(
            transactions, as_of=as_of, quantiles=(pct["at_risk"], pct["churned"])
        )
        if q.isna().any():
            text = t("lifecycle.rule_window", language, **fields)
        else:
            text = t(
                "lifecycle.rule_percentile",
                language,
                at_risk_q=f"{pct['at_risk'] * 100:g}",
                churned_q=f"{pct['churned'] * 100:g}",
                at_risk=f"{q.iloc[0]:.0f}",
                churned=f"{max(q.iloc[1], q.iloc[0] + 1):.0f}",
            )
    transactions = as_table(transactions)  # register a pandas frame once, not per query
    as_of_ts = resolve_as_of(transactions, as_of)
    lines = [
        text,
        t(f"lifecycle.rule_reactivation_{cfg['reactivation']}", language),
        t(
            "lifecycle.rule_milestones",
            language,
            days=f"{cfg['milestones']['window_days']:g}",
            as_of=as_of_ts.date().isoformat(),
        ),
    ]
    return "\n".join(f"- {line}" for line in lines)


def headline_findings(
    *,
    stages: pd.DataFrame | StageSummary | None = None,
    cohorts: pd.DataFrame | None = None,
    milestones: pd.DataFrame | None = None,
    stabilises_after: int | None = None,
    intervals: pd.DataFrame | None = None,
    trends: pd.DataFrame | None = None,
    decomposition: pd.DataFrame | None = None,
    language: str = "en",
    params: _Params = None,
    **kwargs: Any,
) -> str:
    """Short markdown list of the main findings from whichever tables are given.

    Parameters
    ----------
    stages, cohorts, milestones, intervals, trends, decomposition
        Outputs of :func:`crmlib.lifecycle.customer_stages` (or its
        :func:`~crmlib.lifecycle.stage_summary`),
        :func:`crmlib.cohorts.cohort_retention`, :func:`crmlib.cohorts.order_milestones`,
        :func:`crmlib.cohorts.interval_summary`, :func:`crmlib.trends.period_trends` and
        :func:`crmlib.trends.decompose_revenue`.
    stabilises_after
        Result of :func:`crmlib.cohorts.stabilisation_order`.
    language
        ``"en"`` or ``"zh"``.
    params
        Lifecycle rules, for the milestone benchmark (``rules=`` is a deprecated alias).
    """
    params = renamed_keyword("headline_findings", kwargs, "rules", "params", params)
    _no_other_keywords("headline_findings", kwargs)
    check_language(language)
    parts = []
    if trends is not None:
        parts.append(trend_findings(trends, language=language))
    if decomposition is not None:
        parts.append(decomposition_findings(decomposition, language=language))
    if stages is not None:
        parts.append(stage_findings(stages, language=language))
    if cohorts is not None:
        parts.append(cohort_findings(cohorts, language=language))
    if milestones is not None:
        parts.append(
            milestone_findings(
                milestones, stabilises_after=stabilises_after, language=language, params=params
            )
        )
    if intervals is not None:
        parts.append(interval_findings(intervals, language=language))
    return "\n".join(p for p in parts if p)


def report_title(
    as_of: str | pd.Timestamp,
    *,
    params: _Params = None,
    language: str = "en",
    heading: bool = True,
    **kwargs: Any,
) -> str:
    """Markdown title of the lifecycle report with the data date and period length.

    Parameters
    ----------
    as_of
        The analysis date.
    params
        Lifecycle rules, for the period length (``rules=`` is a deprecated alias).
    language
        ``"en"`` or ``"zh"``.
    heading
        False leaves the Markdown heading out: the notebook shows it as a heading cell
        (:mod:`crmlib.report.headings`).
    """
    params = renamed_keyword("report_title", kwargs, "rules", "params", params)
    _no_other_keywords("report_title", kwargs)
    check_language(language)
    cfg = load_rules(params)
    return page.title(
        "lifecycle.nb_title",
        "lifecycle.nb_subtitle",
        language=language,
        heading=heading,
        as_of=parse_day(as_of, required=True).date().isoformat(),
        period=t(f"lifecycle.period_{cfg['period']}", language),
    )


def section(name: str, *, language: str = "en", heading: bool = True) -> str:
    """Markdown heading and executive explanation of a report section.

    Parameters
    ----------
    name
        One of :data:`SECTIONS`, ``"headline"`` or ``"rules"``.
    language
        ``"en"`` or ``"zh"``.
    heading
        False leaves the Markdown heading out: the notebook shows it as a heading cell
        (:mod:`crmlib.report.headings`).
    """
    check_choice("section", name, (*SECTIONS, "headline", "rules"))
    return page.section("lifecycle", name, language=language, heading=heading)


#: Columns of lifecycle and cohort tables that hold shares: written as percents.
_SHARE_COLUMNS: tuple[str, ...] = ("probability", "ci_low", "ci_high")


def display_table(frame: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """A copy of a lifecycle, cohort or trends table for display: labelled columns and stages.

    Stage, factor and segment values (channel codes too) are translated; periods become text;
    probabilities and their bounds become percents. Other numbers are unchanged.

    Parameters
    ----------
    frame
        A table of :mod:`crmlib.lifecycle`, :mod:`crmlib.cohorts` or :mod:`crmlib.trends`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    names = {**labels("common", language), **labels("lifecycle", language)}
    out = frame.copy()
    for col in ("stage", "from_stage", "to_stage"):
        if col in out.columns:
            out[col] = [t(f"lifecycle.stage_{v}", language) for v in out[col].astype(str)]
    if "factor" in out.columns:
        out["factor"] = [t(f"lifecycle.factor_{v}", language) for v in out["factor"]]
    if "segment" in out.columns:
        out["segment"] = [
            t("lifecycle.segment_all", language)
            if v == "all"
            else channel_label(v, language=language)
            for v in out["segment"]
        ]
    for col in _SHARE_COLUMNS:
        if col in out.columns:
            out[col] = [percent(v, digits=1) for v in out[col]]
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
    return out.rename(columns=lambda c: names.get(c, c))
