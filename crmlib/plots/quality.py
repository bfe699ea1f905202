"""Charts of the data-quality report: coverage by month and channel, and what cleaning did.

Each function takes a result of :mod:`crmlib.data` (``coverage``, ``Dataset.quality``), draws on
``ax`` (a new figure when ``None``) and returns the Axes. Text comes from ``crmlib/labels`` in
``language``, names of rules and channels from :mod:`crmlib.present.quality`.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from crmlib.compat import moved
from crmlib.config import check_choice
from crmlib.data.quality import QualityReport
from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present import quality as words
from crmlib.present.format import number, percent

__all__ = ["coverage_plot", "cleaning_plot"]


def _compact(value: float, language: str) -> str:
    if language == "zh":
        for size, unit in ((1e8, "亿"), (1e4, "万")):
            if abs(value) >= size:
                return f"{value / size:,.1f}{unit}"
        return f"{value:,.0f}"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.1f}{unit}"
    return f"{value:,.0f}"


def coverage_plot(
    coverage: pd.DataFrame,
    *,
    metric: str = "revenue",
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Stacked monthly bars of ``metric`` by channel.

    Parameters
    ----------
    coverage
        Output of :func:`crmlib.data.coverage` (columns ``period``, ``channel`` and the metric).
    metric
        ``"revenue"``, ``"orders"``, ``"lines"`` or ``"customers"``.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    check_choice("metric", metric, ("revenue", "orders", "lines", "customers"))
    ax = get_ax(ax, figsize=(10, 4.5))
    wide = coverage.pivot_table(
        index="period", columns="channel", values=metric, aggfunc="sum", fill_value=0
    ).sort_index()
    order = wide.sum().sort_values(ascending=False).index.tolist()
    if "unknown" in order:  # unknown last, in grey
        order = [c for c in order if c != "unknown"] + ["unknown"]
    wide = wide[order]
    x = mdates.date2num(pd.to_datetime(wide.index).to_pydatetime())
    width = 25 if len(x) < 2 else float(np.median(np.diff(x))) * 0.8
    bottom = np.zeros(len(wide))
    for i, channel in enumerate(order):
        colour = "#b0b0b0" if channel == "unknown" else PALETTE[i % len(PALETTE)]
        values = wide[channel].to_numpy(dtype=float)
        ax.bar(
            x,
            values,
            bottom=bottom,
            width=width,
            color=colour,
            label=words.channel_label(channel, language=language),
            align="center",
        )
        bottom += values
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, language)))
    label = t(f"common.{metric}", language) if metric in ("revenue", "orders") else metric
    ax.set_ylabel(label)
    ax.set_xlabel(t("common.month", language))
    ax.set_title(t(f"data.chart_coverage_{metric}", language))
    ax.legend(
        title=t("common.channel", language),
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
    )
    return ax


def cleaning_plot(
    report: QualityReport,
    *,
    table: str = "transactions",
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars: rows repaired, flagged and rejected per rule for one table.

    Parameters
    ----------
    report
        The data-quality report of a load (``Dataset.quality``).
    table
        Which table to show.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    frame = report.to_frame()
    frame = frame[
        (frame["table"] == table) & frame["status"].isin(["repaired", "flagged", "rejected"])
    ]
    ax = get_ax(ax, figsize=(9, 0.42 * max(len(frame), 1) + 1.6))
    colours = {"repaired": PALETTE[0], "flagged": PALETTE[5], "rejected": PALETTE[3]}
    names = [words.kind_label(k, language=language) for k in frame["kind"]]
    y = np.arange(len(frame))
    ax.barh(y, frame["rows"].to_numpy(), color=[colours[s] for s in frame["status"]])
    top = float(frame["rows"].max()) if len(frame) else 1.0
    low = float(frame["rows"].min()) if len(frame) else 1.0
    log = top / max(low, 1.0) > 50  # small counts stay visible next to large ones
    for yi, n, share in zip(y, frame["rows"], frame["share"], strict=True):
        ax.text(
            n * 1.15 if log else n + top * 0.01,
            yi,
            f"{number(int(n))} ({percent(share, digits=1)})",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(0.8, top * 8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    else:
        ax.set_xlim(0, top * 1.25)
    ax.set_xlabel(t("data.col_rows_log" if log else "data.col_rows", language))
    handles = [Patch(color=c, label=t(f"data.status_{s}", language)) for s, c in colours.items()]
    ax.legend(handles=handles, loc="lower right", frameon=False)
    ax.set_title(t("data.chart_cleaning", language, table=t(f"data.table_{table}", language)))
    return ax


__getattr__ = moved(__name__, {"channel_label": "crmlib.present.quality"})
