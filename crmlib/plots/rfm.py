"""Charts of customer value: segment shares, the score heatmap, the value matrix, the Lorenz curve.

Each function takes a result table (from :mod:`crmlib.value`, or with names from
:mod:`crmlib.present.rfm`), draws on ``ax`` (a new figure when ``None``) and returns the Axes.
Text comes from ``crmlib/labels/rfm.yaml`` in ``language``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.ticker import PercentFormatter

from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.format import percent, times

__all__ = ["segment_shares", "score_heatmap", "value_matrix_plot", "lorenz_plot"]

_DIM_LABEL = {"r": "R", "f": "F", "m": "M", "fm": "FM"}


def segment_shares(overview: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Horizontal bars: share of customers next to share of revenue for every segment.

    Parameters
    ----------
    overview
        Output of :func:`crmlib.present.rfm.segment_overview` (in the same ``language``).
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(9, 0.5 * len(overview) + 1.6))
    y = np.arange(len(overview))
    h = 0.38
    cust = overview["share_customers"].fillna(0).to_numpy()
    rev = overview["share_revenue"].fillna(0).to_numpy()
    ax.barh(
        y - h / 2, cust, height=h, color="#b8c4cf", label=t("rfm.col_share_customers", language)
    )
    ax.barh(
        y + h / 2,
        rev,
        height=h,
        color=overview["colour"].tolist(),
        label=t("rfm.col_share_revenue", language),
    )
    top = max(float(cust.max(initial=0)), float(rev.max(initial=0)), 0.01)
    for yi, c, r in zip(y, cust, rev, strict=True):
        ax.text(
            c + top * 0.01,
            yi - h / 2,
            percent(c, digits=0),
            va="center",
            fontsize=8,
            color="#555555",
        )
        ax.text(r + top * 0.01, yi + h / 2, percent(r, digits=0), va="center", fontsize=8)
    ax.set_yticks(y, overview["name"].tolist())
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(t("rfm.chart_segments", language))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    ax.grid(axis="y", visible=False)
    return ax


def score_heatmap(
    grid: pd.DataFrame,
    *,
    language: str = "en",
    dimensions: tuple[str, ...] = ("r", "fm"),
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of customer counts: R level in rows (recent at the top) × the other scores.

    Parameters
    ----------
    grid
        Output of :func:`crmlib.present.rfm.segment_grid`.
    dimensions
        The scheme's dimensions (``Scheme.dimensions``), used for the axis labels.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    rows = list(dict.fromkeys(grid["row"]))
    cols = sorted(dict.fromkeys(grid["column"]))
    counts = grid.pivot(index="row", columns="column", values="customers").reindex(
        index=rows, columns=cols
    )
    names = grid.pivot(index="row", columns="column", values="name").reindex(
        index=rows, columns=cols
    )
    ax = get_ax(ax, figsize=(max(6.0, 1.55 * len(cols) + 2), max(3.5, 0.9 * len(rows) + 1.5)))
    cmap = LinearSegmentedColormap.from_list("rfm", ["#f4f7fa", PALETTE[0]])
    values = counts.to_numpy(dtype=float)
    ax.imshow(values, cmap=cmap, aspect="auto")
    vmax = float(np.nanmax(values)) if values.size else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = values[i, j]
            colour = "white" if vmax and v > 0.6 * vmax else "#222222"
            ax.text(j, i - 0.12, f"{int(v):,}", ha="center", va="center", fontsize=9, color=colour)
            ax.text(
                j, i + 0.2, names.iloc[i, j], ha="center", va="center", fontsize=6.5, color=colour
            )
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    rest = "·".join(_DIM_LABEL.get(d, d.upper()) for d in dimensions[1:])
    ax.set_xlabel(t("rfm.axis_rest", language, dims=rest))
    ax.set_ylabel(t("rfm.axis_r", language))
    ax.set_title(t("rfm.chart_grid", language))
    ax.grid(False)
    return ax


def value_matrix_plot(
    quadrants: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    language: str = "en",
    max_points: int = 20_000,
    seed: int = 0,
    ax: Axes | None = None,
) -> Axes:
    """Scatter of order count × average order value with the split lines and quadrant shares.

    Parameters
    ----------
    quadrants
        Output of :func:`crmlib.value.value_quadrants`.
    summary
        Output of :func:`crmlib.present.rfm.value_matrix` (same split and ``language``).
    max_points
        Draw at most this many customers (a fixed random sample) so large bases stay readable.
    seed
        Seed of that sample.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(9, 6))
    data = quadrants[quadrants["aov"] > 0]
    total = len(quadrants)
    if len(data) > max_points:
        data = data.sample(max_points, random_state=seed)
    colours = dict(zip(summary["quadrant"], summary["colour"], strict=True))
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-0.25, 0.25, len(data))
    ax.scatter(
        data["orders"] + jitter,
        data["aov"],
        s=6,
        alpha=0.35,
        c=data["quadrant"].map(colours).fillna("#999999").tolist(),
        linewidths=0,
    )
    ax.set_yscale("log")
    o_split, a_split = float(summary["orders_split"].iloc[0]), float(summary["aov_split"].iloc[0])
    ax.axvline(o_split, color="#333333", lw=1, ls="--")
    ax.axhline(a_split, color="#333333", lw=1, ls="--")
    ax.set_xlim(
        0.4, max(float(data["orders"].quantile(0.995)) if len(data) else 2.0, o_split * 2) + 0.6
    )
    xlo, xhi = ax.get_xlim()
    ylo, yhi = ax.get_ylim()
    for row in summary.itertuples():
        x = (o_split + xhi) / 2 if row.orders_level == "high" else (xlo + o_split) / 2
        y = np.sqrt(a_split * yhi) if row.aov_level == "high" else np.sqrt(ylo * a_split)
        text = (
            f"{row.name}\n{t('rfm.col_customers', language)} {percent(row.share_customers, digits=0)}"
            f" · {t('rfm.col_revenue', language)} {percent(row.share_revenue, digits=0)}"
        )
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=8.5,
            color=row.colour,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": row.colour, "alpha": 0.9},
        )
    ax.set_xlabel(t("rfm.col_orders", language))
    ax.set_ylabel(t("rfm.col_aov", language))
    title = t("rfm.chart_value_matrix", language)
    if len(data) < total:
        title += (
            "  (" + t("rfm.sample_note", language, shown=f"{len(data):,}", total=f"{total:,}") + ")"
        )
    ax.set_title(title)
    return ax


def lorenz_plot(
    lorenz: pd.DataFrame,
    *,
    gini: float,
    top20_share: float,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Lorenz curve of revenue with the line of equality and the top-20% mark.

    Parameters
    ----------
    lorenz
        Output of :func:`crmlib.value.lorenz_curve`.
    gini
        Output of :func:`crmlib.value.gini` (shown in the title).
    top20_share
        Revenue share of the top 20% of customers (from :func:`crmlib.value.pareto`).
    """
    check_language(language)
    ax = get_ax(ax, figsize=(6.5, 6))
    x, y = lorenz["share_customers"].to_numpy(), lorenz["share_revenue"].to_numpy()
    ax.fill_between(x, y, x, color=PALETTE[0], alpha=0.12)
    ax.plot(x, y, color=PALETTE[0], lw=2)
    ax.plot([0, 1], [0, 1], color="#888888", lw=1, ls="--", label=t("rfm.equality", language))
    # The top 20% of customers are the last 20% on the Lorenz axis: from 0.8 to 1.
    y80 = 1.0 - top20_share
    ax.plot([0.8, 0.8], [0, y80], color=PALETTE[1], lw=1)
    ax.plot([0.8, 1.0], [y80, y80], color=PALETTE[1], lw=1)
    ax.annotate(
        "",
        xy=(0.97, 1.0),
        xytext=(0.97, y80),
        arrowprops={"arrowstyle": "<->", "color": PALETTE[1]},
    )
    ax.text(
        0.78,
        0.05,
        t("rfm.top20_mark", language, share=percent(top20_share, digits=0)),
        ha="right",
        va="bottom",
        color=PALETTE[1],
        fontsize=10,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": PALETTE[1], "alpha": 0.9},
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t("rfm.axis_share_customers", language))
    ax.set_ylabel(t("rfm.axis_share_revenue", language))
    ax.set_title(t("rfm.chart_lorenz", language, gini=times(gini, digits=2)))
    ax.legend(loc="upper left", frameon=False)
    ax.set_aspect("equal")
    return ax
