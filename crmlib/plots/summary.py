"""Charts of the executive summary: KPI tiles and lifecycle stage movements.

Each function takes a :class:`crmlib.executive.Summary`, draws on ``ax`` (a new figure when
``None``) and returns the Axes. Text comes from ``crmlib/labels/summary.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.benchmark import (
    change_text,
    format_value,
    kpi_formats,
    kpi_name,
    period_label,
)
from crmlib.present.executive import HEADLINE_KPIS

if TYPE_CHECKING:
    from crmlib.executive import Summary

__all__ = ["kpi_tiles_chart", "movement_chart"]

_GOOD, _BAD, _GREY = PALETTE[2], PALETTE[3], "#7f7f7f"


def kpi_tiles_chart(
    summary: Summary,
    *,
    kpis: Sequence[str] = HEADLINE_KPIS,
    columns: int = 4,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """A grid of tiles: KPI name, value and the change on a year ago (green better, red worse)."""
    check_language(language)
    comp = summary.comparison.set_index("kpi")
    formats = kpi_formats()
    keys = [k for k in kpis if k in comp.index and np.isfinite(comp.loc[k, "value"])]
    rows = max(1, int(np.ceil(len(keys) / columns)))
    ax = get_ax(ax, figsize=(2.3 * columns, 1.35 * rows + 0.5))
    ax.set_xlim(0, columns)
    ax.set_ylim(0, rows)
    ax.axis("off")
    for i, key in enumerate(keys):
        r, c = divmod(i, columns)
        x, y = c + 0.05, rows - r - 0.95
        row = comp.loc[key]
        verdict = row["vs_last_year"]
        edge = _GOOD if verdict == "good" else _BAD if verdict == "bad" else _GREY
        ax.add_patch(FancyBboxPatch((x, y), 0.9, 0.88, boxstyle="round,pad=0.0,rounding_size=0.06",
                                    facecolor="#f7f7f7", edgecolor=edge, linewidth=1.5))  # fmt: skip
        fmt = formats[key]
        ax.text(x + 0.45, y + 0.72, kpi_name(key, language=language), ha="center",
                va="center", fontsize=9, color="#333333")  # fmt: skip
        ax.text(x + 0.45, y + 0.44, format_value(row["value"], fmt=fmt, language=language),
                ha="center", va="center", fontsize=15, color="#222222")  # fmt: skip
        change = change_text(row.to_dict() | {"kpi": key}, which="last_year", fmt=fmt,
                             language=language)  # fmt: skip
        change = change.replace(" ✓", "").replace(" ✗", "")  # the colour carries the verdict
        ax.text(x + 0.45, y + 0.15, f"{change} {t('summary.chart_yoy', language)}"
                if change != "–" else "–", ha="center", va="center", fontsize=8.5,
                color=edge)  # fmt: skip
    period = period_label(summary.comparison.attrs["period"], language=language)
    ax.set_title(t("summary.chart_tiles", language, period=period))
    return ax


def movement_chart(summary: Summary, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Customers per lifecycle stage in the previous and the latest period, side by side."""
    check_language(language)
    m = summary.movements
    ax = get_ax(ax, figsize=(8, 3.2))
    if m is None or m.empty:
        ax.axis("off")
        return ax
    y = np.arange(len(m))[::-1]
    names = [t(f"lifecycle.stage_{s}", language) for s in m["stage"]]
    ax.barh(y + 0.2, m["previous"], height=0.4, color="#c7c7c7", label=m.attrs.get("previous"))
    ax.barh(y - 0.2, m["current"], height=0.4, color=PALETTE[0], label=m.attrs.get("current"))
    for yi, cur, ch in zip(y, m["current"], m["change"], strict=True):
        ax.text(cur, yi - 0.2, f"  {ch:+,}", va="center", fontsize=8.5)
    ax.set_yticks(y, names)
    ax.set_title(t("summary.chart_movements", language, previous=m.attrs.get("previous", ""),
                   current=m.attrs.get("current", "")))  # fmt: skip
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.margins(x=0.12)
    ax.grid(axis="y", visible=False)
    return ax
