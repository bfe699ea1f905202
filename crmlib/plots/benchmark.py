"""Charts of the KPI comparison: KPIs against industry benchmarks, and changes on a year ago.

Each function takes a result of :mod:`crmlib.benchmark` or :mod:`crmlib.kpis`, draws on ``ax``
(a new figure when ``None``) and returns the Axes. Text comes from ``crmlib/labels/benchmark.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.benchmark import kpi_name, short_source

__all__ = ["benchmark_chart", "change_chart"]

_GOOD, _BAD, _GREY = PALETTE[2], PALETTE[3], "#9e9e9e"


def benchmark_chart(bench: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Share KPIs (ours, dot) against each benchmark figure (bar, range as a band).

    Only entries of kind benchmark or competitor with a KPI in share units are drawn.
    """
    check_language(language)
    rows = bench[
        bench["kind"].isin(["benchmark", "competitor"])
        & bench["kpi"].notna()
        & (bench["unit"] == "share")
        & np.isfinite(bench["our_value"].astype(float))
    ].iloc[::-1]
    ax = get_ax(ax, figsize=(8, max(2.5, 0.5 * len(rows) + 1.2)))
    y = np.arange(len(rows))
    names = [
        f"{kpi_name(k, language=language)} · {short_source(s, year=yr)[:34]}"
        for k, s, yr in zip(rows["kpi"], rows["source"], rows["year"], strict=True)
    ]
    colors = [_GOOD if s == "good" else _BAD if s == "bad" else _GREY for s in rows["status"]]
    ax.barh(
        y, rows["value"], color="#d9d9d9", height=0.6, label=t("benchmark.col_benchmark", language)
    )
    for yi, lo, hi in zip(y, rows["low"], rows["high"], strict=True):
        if np.isfinite(lo):
            ax.plot([lo, hi], [yi, yi], color="#7f7f7f", linewidth=6, alpha=0.5)
    ax.scatter(rows["our_value"], y, color=colors, s=70, zorder=3,
               label=t("benchmark.chart_ours", language))  # fmt: skip
    ax.set_yticks(y, names)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(t("benchmark.chart_benchmarks", language))
    ax.legend(frameon=False, loc="lower right")
    ax.grid(axis="y", visible=False)
    return ax


def change_chart(
    comparison: pd.DataFrame,
    *,
    which: str = "last_year",
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Relative change of each KPI on the previous period or a year ago, coloured good/bad."""
    check_language(language)
    col = f"relative_change_{which}"
    rows = comparison[np.isfinite(comparison[col].astype(float))].iloc[::-1]
    ax = get_ax(ax, figsize=(8, max(2.5, 0.4 * len(rows) + 1.2)))
    y = np.arange(len(rows))
    verdict = rows[f"vs_{which}"]
    colors = [_GOOD if v == "good" else _BAD if v == "bad" else _GREY for v in verdict]
    ax.barh(y, rows[col], color=colors, height=0.6)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, [kpi_name(k, language=language) for k in rows["kpi"]])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(t("benchmark.chart_changes", language))
    ax.grid(axis="y", visible=False)
    return ax
