"""Words of the executive summary: title, headline, KPI tiles, findings, recommendations and
footer in Chinese or English, the body of the weekly email.

The numbers come from :func:`crmlib.executive.executive_summary`; KPI values and changes are
written by :mod:`crmlib.present.benchmark`, labels come from ``crmlib/labels/summary.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.config import check_choice
from crmlib.errors import ConfigError
from crmlib.executive import PLACEHOLDER, Summary, recommend
from crmlib.i18n import check_language, has, t
from crmlib.measure import NotMeasured
from crmlib.present import page
from crmlib.present.benchmark import (
    comparison_table,
    format_value,
    kpi_formats,
    kpi_name,
    period_label,
)
from crmlib.present.format import MISSING, number, pp, times, why_not

__all__ = [
    "HEADLINE_KPIS",
    "SECTIONS",
    "findings",
    "footer",
    "summary_record",
    "headline",
    "kpi_tiles",
    "localized_facts",
    "outlook_text",
    "recommendation_texts",
    "recommendations",
    "recommendations_markdown",
    "section",
    "title",
]

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

#: Sections of the executive summary.
SECTIONS: tuple[str, ...] = ("kpis", "findings", "recommendations", "movements")

#: Stages named in the findings' lifecycle sentence.
_FINDING_STAGES = ("active", "at_risk", "reactivated", "churned")


# --------------------------------------------------------------------------------------------
# recommendations
# --------------------------------------------------------------------------------------------
def localized_facts(facts: Mapping[str, Any], *, language: str = "en") -> dict[str, Any]:
    """``facts`` with the codes from the data written for a reader (the campaign channel).

    Parameters
    ----------
    facts
        :func:`crmlib.executive.build_facts` output.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    out = dict(facts)
    channel = out.get("best_campaign.channel")
    if channel is not None:
        key = f"summary.campaign_channel_{channel}"
        out["best_campaign.channel"] = t(key, language) if has(key) else str(channel)
    return out


def _format_fact(value: Any, fmt: str | None, language: str) -> str:
    if isinstance(value, str):
        return page.md_escape(value)  # a name from the data or the user's YAML
    if fmt is None:
        return str(value)
    if fmt == "pts":
        return pp(float(value), digits=1)
    if fmt == "times":  # a ratio such as a lift, as the findings write it
        return times(float(value), digits=1)
    if fmt in ("pct", "pp", "money", "int", "num"):
        return format_value(float(value), fmt=fmt, language=language)
    raise ConfigError(
        f"unknown placeholder format {fmt!r}; use pct, pp, pts, times, money, int or num"
    )


def recommendation_texts(
    recommendations: Sequence[Mapping[str, Any]],
    facts: Mapping[str, Any],
    *,
    language: str = "en",
) -> list[dict[str, Any]]:
    """The chosen recommendations with their text in ``language``, placeholders filled.

    Parameters
    ----------
    recommendations
        :func:`crmlib.executive.recommend` output (``id``, ``priority``, ``template``).
    facts
        The facts they were chosen on (:func:`crmlib.executive.build_facts`).
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    list of dict
        ``{"id", "priority", "text"}``.

    Raises
    ------
    ConfigError
        A rule has no text in ``language`` or a placeholder names an unknown format.
    """
    check_language(language)
    shown = localized_facts(facts, language=language)
    out = []
    for rec in recommendations:
        template = rec["template"]
        if language not in template:
            raise ConfigError(f"recommendation {rec['id']!r} has no {language} text")
        text = PLACEHOLDER.sub(
            lambda m: _format_fact(shown[m.group(1)], m.group(2), language), template[language]
        )
        if rec.get("rough_benchmark"):  # say so where the reader acts on it
            text += t("summary.rough_benchmark", language)
        out.append({"id": rec["id"], "priority": rec["priority"], "text": text})
    return out


def recommendations(
    facts: Mapping[str, Any],
    *,
    language: str = "en",
    params: Mapping[str, Any] | str | Path | None = None,
    max_items: int | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The recommendations ``facts`` trigger (:func:`crmlib.executive.recommend`), worded.

    Parameters
    ----------
    facts
        :func:`crmlib.executive.build_facts` output.
    language
        ``"en"`` or ``"zh"``.
    params, max_items
        As in :func:`crmlib.executive.recommend` (``rules=`` is its deprecated alias).

    Returns
    -------
    list of dict
        ``{"id", "priority", "text"}``, best priority first.
    """
    check_language(language)
    chosen = recommend(facts, params=params, max_items=max_items, **kwargs)
    return recommendation_texts(chosen, facts, language=language)


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------
def title(summary: Summary, *, language: str = "en", heading: bool = True) -> str:
    """Markdown title with the period and the data date; ``heading=False`` gives the line of
    period and data date alone."""
    p = summary.comparison.attrs["period"]
    return page.title(
        "summary.title", "summary.subtitle", language=language, heading=heading,
        period=period_label(p, language=language),
        as_of=summary.as_of.date(),
    )  # fmt: skip


def _signed_percent(x: Any) -> str:
    text = pp(x, digits=1, sign=True)
    return text if text == MISSING else f"{text}%"


def headline(summary: Summary, *, language: str = "en") -> str:
    """Two bullets: revenue and customers, retention (against the benchmark when there is one)."""
    f = summary.facts
    lines = []
    if "revenue.value" in f:
        lines.append(
            t(
                "summary.h_revenue",
                language,
                revenue=format_value(f["revenue.value"], fmt="money", language=language),
                yoy=_signed_percent(f.get("revenue.relative_change_last_year")),
                active=format_value(f.get("active_customers.value", np.nan), fmt="int"),
                new=format_value(f.get("new_customers.value", np.nan), fmt="int"),
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
                retention=format_value(f["retention_rate.value"], fmt="pct"),
                bench=format_value(f.get("retention_rate.benchmark", np.nan), fmt="pct"),
                repeat=format_value(f.get("repeat_rate_1y.value", np.nan), fmt="pct"),
            )
        )
    return "\n".join(f"- {x}" for x in lines)


def kpi_tiles(
    summary: Summary, *, kpis: Sequence[str] = HEADLINE_KPIS, language: str = "en"
) -> pd.DataFrame:
    """Small table of the headline KPIs that were measured: value, vs previous, vs a year ago,
    benchmark."""
    have = [k for k in kpis if k in set(summary.comparison["kpi"])]
    table = comparison_table(summary.comparison, language=language, status=summary.status,
                             only=have)  # fmt: skip
    values = summary.comparison.set_index("kpi").loc[have, "value"]
    return table[np.isfinite(values.to_numpy(float))].reset_index(drop=True)


def _note(note: Mapping[str, str], language: str) -> str:
    if note.get("note") == "no_clv":
        return t("summary.note_no_clv", language, reason=page.md_escape(note.get("reason", "")))
    if note.get("note") == "clv_unidentified":
        return t("summary.note_clv_unidentified", language, parameters=note.get("parameters", ""))
    if note.get("note") == "missing_table":
        return t("common.missing_table", language, table=note.get("table", ""))
    raise ConfigError(f"unknown note of the executive summary: {dict(note)!r}")


def _amount_range(figures: Mapping[str, Any], language: str) -> str:
    """ " (95% range ¥a – ¥b)" after the value at risk, or "" where it was not computed."""
    low, high = figures.get("amount_lower"), figures.get("amount_upper")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return t("summary.f_at_risk_range", language,
             low=format_value(low, fmt="money", language=language),
             high=format_value(high, fmt="money", language=language))  # fmt: skip


def outlook_text(outlook: Any, *, language: str = "en") -> str:
    """One bullet: the revenue today's customers are expected to bring over the CLV horizon
    with its range, and how the last forecast fared (:func:`crmlib.outlook.revenue_outlook`)."""
    check_language(language)
    why = outlook if isinstance(outlook, NotMeasured) else outlook.bands.why_not
    if why is not None:
        return "- " + t("summary.f_outlook_none", language, reason=why_not(why, language))
    bands = outlook.bands
    horizon = int(bands.settings["horizon_months"])
    row = bands.horizons[(bands.horizons["segment"] == "all")
                         & (bands.horizons["last_month"] == horizon)].iloc[0]  # fmt: skip
    money_ = {k: format_value(row[k], fmt="money", language=language)
              for k in ("value", "value_outcome_lower", "value_outcome_upper")}  # fmt: skip
    text = t("summary.f_outlook", language, months=horizon, value=money_["value"],
             low=money_["value_outcome_lower"], high=money_["value_outcome_upper"],
             customers=number(int(bands.forecast["customers"].iloc[0])))  # fmt: skip
    record = outlook.record
    if len(record):
        latest = record.iloc[0]
        text += t("summary.f_outlook_record", language,
                  made_on=latest["made_on"].date().isoformat(), months=int(latest["months"]),
                  error=f"{latest['error'] * 100:+.1f}%",
                  where=t("summary.f_outlook_inside" if latest["inside"]
                          else "summary.f_outlook_outside", language))  # fmt: skip
    return "- " + text


def findings(summary: Summary, *, language: str = "en") -> str:
    """Segment movements, value at risk, best campaign, the top cross-sell and what could not be
    measured, as Markdown bullets."""
    check_language(language)
    lines = []
    m = summary.movements
    if m is not None and len(m):
        mm = m.set_index("stage")
        parts = [
            t("summary.f_stage_part", language, stage=t(f"lifecycle.stage_{s}", language),
              n=number(int(mm.loc[s, "current"])), change=f"{int(mm.loc[s, 'change']):+,}")
            for s in mm.index if s in _FINDING_STAGES
        ]  # fmt: skip
        lines.append(t("summary.f_stages", language, period=m.attrs.get("current", ""),
                       previous=m.attrs.get("previous", ""), parts="; ".join(parts)))  # fmt: skip
    if summary.at_risk is not None:
        s = summary.at_risk.attrs["summary"]
        rule = s.get("rule", "p_alive")
        text = t(
            "summary.f_at_risk" + ("_hiatus" if rule == "hiatus" else ""),
            language,
            n=number(s["customers"]),
            amount=format_value(s["amount"], fmt="money", language=language),
            range=_amount_range(s, language),
            share=format_value(s["share"], fmt="pct"),
            lost=format_value(s["lost"], fmt="money", language=language),
            days=s["lookback_days"],
            weeks=f"{s.get('hiatus_weeks') or 0:g}",
        )
        evidence = summary.at_risk.attrs.get("evidence")
        if evidence is not None:
            acc = evidence.set_index("rule")["accuracy"]
            text += t(
                f"summary.f_at_risk_why_{rule}",
                language,
                model=format_value(acc.get("p_alive", np.nan), fmt="pct"),
                hiatus=format_value(acc.get("hiatus", np.nan), fmt="pct"),
            )
        elif s.get("rule_source") == "untested":
            text += t("summary.f_at_risk_untested", language)
        lines.append(text)
    b = summary.best_campaign
    if b is not None:
        lines.append(
            t(
                "summary.f_campaign",
                language,
                name=page.md_escape(b["name"]),
                uplift=pp(b["uplift"], digits=1),
                low=pp(b["uplift_low"], digits=1),
                high=pp(b["uplift_high"], digits=1),
                revenue=format_value(b["incremental_revenue"], fmt="money", language=language),
            )
        )
    c = summary.cross_sell
    if c is not None:
        lines.append(
            t(
                "summary.f_cross_sell",
                language,
                first=page.md_escape(c["antecedent"]),
                then=page.md_escape(c["consequent"]),
                share=format_value(c["share"], fmt="pct"),
                days=int(c["within_days"]),
                lift=times(c["lift"], digits=1),
            )
        )
    lines += [_note(n, language) for n in summary.notes]
    return "\n".join(f"- {x}" for x in lines)


def recommendations_markdown(summary: Summary, *, language: str = "en") -> str:
    """Numbered recommendations, or a sentence saying none was triggered."""
    if not summary.recommendations:
        # "in line with last year" only where last year could be compared at all
        cmp = summary.comparison
        unmeasured = (
            int(cmp["why_not_last_year"].notna().sum()) if "why_not_last_year" in cmp else 0
        )
        if unmeasured:
            return t("summary.no_recommendations_partly", language, n=unmeasured, total=len(cmp))
        return t("summary.no_recommendations", language)
    texts = recommendation_texts(summary.recommendations, summary.facts, language=language)
    return "\n".join(f"{i}. {r['text']}" for i, r in enumerate(texts, 1))


def section(name: str, *, language: str = "en", heading: bool = True) -> str:
    """Heading (and a one-line explanation) of a summary section (:data:`SECTIONS`);
    ``heading=False`` gives the explanation alone."""
    check_choice("section", name, SECTIONS)
    return page.section("summary", name, language=language, heading=heading)


#: Notebooks the footer may point to, by what the reader finds there.
BENCHMARK_REPORT = "07_benchmarks"
CAMPAIGN_REPORT = "06_campaigns_channels"


def footer(
    summary: Summary, *, language: str = "en", reports: str | Sequence[str] | None = None
) -> str:
    """Where the KPI definitions, the benchmark sources and the details are.

    Parameters
    ----------
    summary
        The summary the footer closes.
    language
        ``"en"`` or ``"zh"``.
    reports
        The notebooks of this run (names, or one comma-separated string as ``crmwb run``
        passes ``pack_notebooks``): the footer points only to reports the reader received.
        None or empty: every report of the workbook.
    """
    if isinstance(reports, str):
        reports = [r.strip() for r in reports.split(",") if r.strip()]
    every = not reports
    names = set(reports or ())
    parts = [
        t("summary.footer_definitions_report", language)
        if every or BENCHMARK_REPORT in names
        else t("summary.footer_definitions_files", language)
    ]
    if every or CAMPAIGN_REPORT in names:
        parts.append(t("summary.footer_campaigns", language))
    parts.append(t("summary.footer_details", language))
    return " ".join(parts) if language == "en" else "".join(parts)


def summary_record(summary: Summary, *, language: str = "en") -> dict[str, Any]:
    """The summary's headline figures as plain JSON data, for the next run to compare with
    (:mod:`crmlib.report.changes`): the period, each measured KPI with its value (raw and as
    shown) and its verdicts, and the recommendations by id in ``language``.
    """
    check_language(language)
    formats = kpi_formats()
    status = summary.status.set_index("kpi")["vs_benchmark"] if len(summary.status) else {}
    kpis = {}
    for _, row in summary.comparison.iterrows():
        if not np.isfinite(row.get("value", np.nan)):  # not measured: nothing to compare
            continue
        kpi, value = str(row["kpi"]), float(row["value"])
        verdict = row.get("vs_last_year")
        kpis[kpi] = {
            "name": kpi_name(kpi, language=language),
            "value": value,
            "shown": format_value(value, fmt=formats[kpi], language=language),
            "vs_last_year": verdict if isinstance(verdict, str) else None,
            "vs_benchmark": status.get(kpi),
        }
    texts = recommendation_texts(summary.recommendations, summary.facts, language=language)
    return {
        "period": period_label(summary.comparison.attrs["period"], language=language),
        "as_of": summary.as_of.date().isoformat(),
        "language": language,
        "kpis": kpis,
        "recommendations": {r["id"]: r["text"] for r in texts},
    }
