"""Words of the KPI and benchmark report: KPI names, values and changes as text, display tables,
findings, notes and headings in Chinese or English.

The numbers come from :mod:`crmlib.kpis` (KPIs and their change on earlier periods) and
:mod:`crmlib.benchmark` (the comparison with cited industry figures); the labels from
``crmlib/labels/benchmark.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.compat import renamed_keyword
from crmlib.config import check_choice
from crmlib.currency import current_currency
from crmlib.i18n import check_language, labels, t
from crmlib.kpis import FORMATS, Period, load_kpis
from crmlib.measure import NotMeasured
from crmlib.present import page
from crmlib.present.format import MISSING, figure, money, percent, pp, why_not

__all__ = [
    "SECTIONS",
    "benchmark_table",
    "change_text",
    "comparison_table",
    "context_notes",
    "definitions_table",
    "findings",
    "format_value",
    "kpi_formats",
    "kpi_name",
    "period_label",
    "report_title",
    "section",
    "short_source",
]

#: Sections of the benchmark report.
SECTIONS: tuple[str, ...] = ("headline", "periods", "benchmarks", "context", "definitions")

_Params = str | Path | Mapping[str, Any] | None


def format_value(value: float, *, fmt: str, language: str = "en") -> str:
    """A KPI value as text.

    Parameters
    ----------
    value
        The value (missing or infinite: "–").
    fmt
        ``int`` 12,345 · ``money`` ¥12,345 (Chinese from ¥10,000: ¥1.2万) · ``pct`` 12.3% ·
        ``num`` 1.23 · ``pp`` +1.2 (a change of a share, in points).
    language
        ``"en"`` or ``"zh"``.
    """
    check_choice("format", fmt, (*FORMATS, "pp"))
    if value is None or not np.isfinite(value):
        return MISSING
    if fmt == "int":
        return money(value, symbol="", digits=0)
    if fmt == "money":
        if language == "zh" and abs(value) >= 1e4:
            return f"{money(value / 1e4, digits=1)}万"
        return money(value)
    if fmt == "pct":
        return percent(value, digits=1)
    if fmt == "pp":
        return pp(value, digits=1, sign=True)
    return money(value, symbol="", digits=2)


def change_text(row: Mapping[str, Any], *, which: str, fmt: str, language: str = "en") -> str:
    """``▲ +3.2%`` style text of a change with its verdict (✓ good, ✗ bad).

    Parameters
    ----------
    row
        A row of :func:`crmlib.kpis.compare_periods`.
    which
        ``"previous"`` or ``"last_year"``.
    fmt
        The KPI's format: shares (``pct``) change in points, other KPIs by a relative change.
    language
        ``"en"`` or ``"zh"``.
    """
    verdict = row[f"vs_{which}"]
    if verdict == "n/a":
        # say why when the earlier side is not measured (crmlib.kpis.kpi_reasons); when this
        # period's value is not, its own cell says why and the changes are a plain "–"
        if isinstance(row.get("why_not"), NotMeasured):
            return MISSING
        why = row.get(f"why_not_{which}")
        return figure(np.nan, language, why=why) if isinstance(why, NotMeasured) else MISSING
    change = row[f"change_{which}"]
    rel = row[f"relative_change_{which}"]
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    if fmt == "pct":
        unit = " pp" if language == "en" else " 个百分点"
        amount = pp(change, digits=1, sign=True) + unit
    else:
        amount = pp(rel, digits=1, sign=True) + "%" if np.isfinite(rel) else MISSING
    mark = {"good": " ✓", "bad": " ✗"}.get(verdict, "")
    return f"{arrow} {amount}{mark}"


def period_label(period: Period | None, *, language: str = "en") -> str:
    """The label of a reporting period: ``2025-02`` when it is complete, ``2025-02 (days 1–20)``
    when it stops before the calendar period's end ("" for None).

    Parameters
    ----------
    period
        A :class:`crmlib.kpis.Period` (``comparison.attrs["period"]``, ``["previous"]``,
        ``["last_year"]`` of :func:`crmlib.kpis.compare_periods`).
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if period is None:
        return ""
    if getattr(period, "complete", True):
        return period.label
    return t("benchmark.period_partial", language, label=period.label, days=period.days)


def kpi_name(kpi: str, *, language: str = "en") -> str:
    """Display name of a KPI (``crmlib/labels/benchmark.yaml``: ``kpi_<id>``); the id when it has
    none."""
    names = labels("benchmark", language)
    return names.get(f"kpi_{kpi}", kpi)


def _kpi_markdown(kpi: str, *, language: str) -> str:
    """:func:`kpi_name` for report Markdown: a KPI id from the user's YAML without a label is
    escaped (it is data), a label from the catalogue is written as it is."""
    names = labels("benchmark", language)
    key = f"kpi_{kpi}"
    return names[key] if key in names else page.md_escape(kpi)


def kpi_formats(params: _Params = None) -> dict[str, str]:
    """How each KPI is written: ``{kpi: "int" | "money" | "pct" | "num"}``.

    Parameters
    ----------
    params
        Overrides of ``kpis.yaml`` (:func:`crmlib.kpis.load_kpis`).
    """
    return {key: spec["format"] for key, spec in load_kpis(params)["kpis"].items()}


def short_source(source: str, *, year: int) -> str:
    """The first part of a source citation with its year, for chart labels."""
    head = str(source).split(",")[0].strip()
    return head if str(year) in head else f"{head} {year}"


def comparison_table(
    comparison: pd.DataFrame,
    *,
    language: str = "en",
    params: _Params = None,
    status: pd.DataFrame | None = None,
    only: list[str] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Display table of :func:`crmlib.kpis.compare_periods`.

    Parameters
    ----------
    comparison
        :func:`crmlib.kpis.compare_periods` output.
    language
        ``"en"`` or ``"zh"``.
    params
        Overrides of ``kpis.yaml``; ``kpis=`` is a deprecated alias.
    status
        :func:`crmlib.benchmark.benchmark_status` output: adds a "vs benchmark" column.
    only
        These KPIs, in this order (default all).

    Returns
    -------
    pandas.DataFrame
        KPI, value, vs previous, vs last year (and vs benchmark), translated and written out.
    """
    params = renamed_keyword("comparison_table", kwargs, "kpis", "params", params)
    if kwargs:
        raise TypeError(f"comparison_table() got unexpected keyword arguments {sorted(kwargs)}")
    check_language(language)
    formats = kpi_formats(params)
    rows = comparison if not only else comparison.set_index("kpi").loc[only].reset_index()
    st = status.set_index("kpi") if status is not None else None
    out = []
    for _, r in rows.iterrows():
        fmt = formats[r["kpi"]]
        line = {
            t("benchmark.col_kpi", language): kpi_name(r["kpi"], language=language),
            t("benchmark.col_value", language): (
                figure(np.nan, language, why=r["why_not"])
                if isinstance(r.get("why_not"), NotMeasured)
                else format_value(r["value"], fmt=fmt, language=language)
            ),
            t("benchmark.col_vs_previous", language): change_text(r, which="previous", fmt=fmt,
                                                                 language=language),
            t("benchmark.col_vs_last_year", language): change_text(r, which="last_year", fmt=fmt,
                                                                  language=language),
        }  # fmt: skip
        if st is not None:
            if r["kpi"] in st.index and not isinstance(r.get("why_not"), NotMeasured):
                b = st.loc[r["kpi"]]
                mark = {"good": "✓", "bad": "✗"}.get(b["vs_benchmark"], "")
                text = f"{format_value(b['benchmark'], fmt=fmt, language=language)} {mark}".strip()
            else:
                text = MISSING
            line[t("benchmark.col_vs_benchmark", language)] = text
        out.append(line)
    return pd.DataFrame(out)


def benchmark_table(
    bench: pd.DataFrame, *, language: str = "en", params: _Params = None
) -> pd.DataFrame:
    """Display table of :func:`crmlib.benchmark.compare_benchmarks` (context entries left out).

    Parameters
    ----------
    bench
        :func:`crmlib.benchmark.compare_benchmarks` output.
    language
        ``"en"`` or ``"zh"``.
    params
        Overrides of ``kpis.yaml`` (how each KPI is written).
    """
    check_language(language)
    formats = kpi_formats(params)
    rows = []
    for _, b in bench[bench["kind"] != "context"].iterrows():
        kpi = b["kpi"] if isinstance(b["kpi"], str) else None
        fmt = formats[kpi] if kpi else ("pct" if b["unit"] == "share" else "num")
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
                t("benchmark.col_kpi", language): kpi_name(kpi, language=language) if kpi
                else MISSING,
                t("benchmark.col_ours", language): (
                    figure(np.nan, language, why=b["why_not"])
                    if isinstance(b.get("why_not"), NotMeasured)
                    else format_value(b["our_value"], fmt=fmt, language=language)
                ),
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
    """Markdown list of the context claims (not KPIs) with their sources ("" when none)."""
    check_language(language)
    ctx = bench[bench["kind"] == "context"]
    if ctx.empty:
        return ""
    lines = [t("benchmark.context_intro", language)]
    lines += [
        f"- {page.md_escape(r['scope'])} — {page.md_escape(r['source'])}" for _, r in ctx.iterrows()
    ]
    return "\n".join(lines)


def definitions_table(
    params: _Params = None, *, language: str = "en", **kwargs: Any
) -> pd.DataFrame:
    """KPI definitions for the report: name, formula, unit, direction.

    Parameters
    ----------
    params
        Overrides of ``kpis.yaml``; ``kpis=`` is a deprecated alias.
    language
        ``"en"`` or ``"zh"``.
    """
    params = renamed_keyword("definitions_table", kwargs, "kpis", "params", params)
    if kwargs:
        raise TypeError(f"definitions_table() got unexpected keyword arguments {sorted(kwargs)}")
    defs = load_kpis(params)
    rows = []
    for key, spec in defs["kpis"].items():
        better = spec["higher_is_better"]
        rows.append(
            {
                t("benchmark.col_kpi", language): kpi_name(key, language=language),
                t("benchmark.col_formula", language): spec["formula"][language],
                t("benchmark.col_unit", language): (
                    current_currency().name(language)
                    if spec["unit"] == "currency"
                    else t(f"benchmark.unit_{spec['unit']}", language)
                ),
                t("benchmark.col_direction", language): t(
                    "benchmark.dir_up" if better else "benchmark.dir_down" if better is False
                    else "benchmark.dir_none", language
                ),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def findings(comparison: pd.DataFrame, bench: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language summary: how many KPIs improved on a year ago, which benchmarks we miss.

    Parameters
    ----------
    comparison
        :func:`crmlib.kpis.compare_periods` output.
    bench
        :func:`crmlib.benchmark.compare_benchmarks` output.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        Markdown bullets.
    """
    check_language(language)
    p = comparison.attrs.get("period")
    good = comparison[comparison["vs_last_year"] == "good"]["kpi"].tolist()
    bad = comparison[comparison["vs_last_year"] == "bad"]["kpi"].tolist()
    lines = [
        t(
            "benchmark.f_period",
            language,
            period=period_label(p, language=language),
            good=len(good),
            bad=len(bad),
        )
    ]
    if bad:
        lines.append(t("benchmark.f_worse", language,
                       kpis=", ".join(_kpi_markdown(k, language=language) for k in bad)))  # fmt: skip
    unmeasured = []
    for _, r in comparison[comparison["vs_last_year"] == "n/a"].iterrows():
        why = r.get("why_not") or r.get("why_not_last_year")
        if isinstance(why, NotMeasured):
            unmeasured.append(f"{_kpi_markdown(r['kpi'], language=language)} "
                              f"({why_not(why, language)})")  # fmt: skip
    if unmeasured:
        lines.append(t("benchmark.f_unmeasured", language, n=len(unmeasured),
                       kpis="; ".join(unmeasured)))  # fmt: skip
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
                source=page.md_escape(short_source(b["source"], year=b["year"])),
            )
        )
    return "\n".join(f"- {x}" for x in lines)


def section(name: str, *, language: str = "en", heading: bool = True) -> str:
    """Markdown heading and explanation of a section of the benchmark report (:data:`SECTIONS`);
    ``heading=False`` gives the explanation alone."""
    check_choice("section", name, SECTIONS)
    return page.section("benchmark", name, language=language, heading=heading)


def report_title(comparison: pd.DataFrame, *, language: str = "en", heading: bool = True) -> str:
    """Title and subtitle of the benchmark report with the periods compared.

    Parameters
    ----------
    comparison
        :func:`crmlib.kpis.compare_periods` output (its ``attrs`` hold the periods).
    language
        ``"en"`` or ``"zh"``.
    heading
        False leaves the Markdown heading out: the notebook shows it as a heading cell
        (:mod:`crmlib.report.headings`).
    """
    p, prev, ly = (comparison.attrs.get(k) for k in ("period", "previous", "last_year"))
    return page.title(
        "benchmark.nb_title", "benchmark.nb_subtitle", language=language, heading=heading,
        period=period_label(p, language=language), previous=period_label(prev, language=language),
        last_year=period_label(ly, language=language), start=p.start.date(), end=p.end.date(),
    )  # fmt: skip
