"""Charts of the customer lifecycle and the trends: stage counts, stage flows, trends, revenue bridge.

Each function takes a result of :mod:`crmlib.lifecycle` or :mod:`crmlib.trends`, draws on ``ax``
(a new figure when ``None``) and returns the Axes (:func:`trend_panels` takes and returns an array
of Axes). Text comes from ``crmlib/labels/lifecycle.yaml`` in ``language``. The stage order is
taken from the frame's ordered stage column (or given as ``stages``), so the charts need no
analysis module. Cohort, milestone and interval charts are in :mod:`crmlib.plots.cohorts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crmlib.compat import moved
from crmlib.errors import ConfigError
from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, font_path, get_ax

__all__ = [
    "STAGE_COLOURS",
    "thousands",
    "stage_area",
    "stage_flow",
    "transition_heatmap",
    "trend_panels",
    "category_mix_area",
    "decomposition_waterfall",
]

#: One colour per stage (and "not_yet": no purchase yet), in display order, the same in every chart.
STAGE_COLOURS: dict[str, str] = {
    "not_yet": "#b8c4cf",
    "new": PALETTE[2],
    "active": PALETTE[0],
    "reactivated": PALETTE[4],
    "at_risk": PALETTE[1],
    "churned": PALETTE[3],
}


def _stage_name(stage: str, language: str) -> str:
    return t(f"lifecycle.stage_{stage}", language)


def _stage_order(column: pd.Series, stages: Sequence[str] | None) -> list[str]:
    """``stages`` when given, else the categories of an ordered stage column, else the stages
    found in ``column`` in the order of :data:`STAGE_COLOURS`."""
    if stages is not None:
        return list(stages)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories]
    found = set(column.astype(str))
    return [s for s in STAGE_COLOURS if s in found] + sorted(found - set(STAGE_COLOURS))


def _x(periods: pd.Series) -> pd.DatetimeIndex:
    return pd.PeriodIndex(periods).to_timestamp()


def thousands(x: float, _pos: int | None = None) -> str:
    """Axis tick text for large numbers: ``1.2M``, ``35k``, ``9,876`` (a matplotlib formatter).

    Parameters
    ----------
    x
        The tick value.
    _pos
        The tick position (unused; matplotlib passes it).
    """
    if abs(x) >= 1e6:
        return f"{x / 1e6:.1f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    return f"{x:,.0f}"


def stage_area(
    counts: pd.DataFrame,
    *,
    share: bool = False,
    stages: Sequence[str] | None = None,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Stacked area of customers per lifecycle stage over time.

    Parameters
    ----------
    counts
        Output of :func:`crmlib.lifecycle.stage_counts`.
    share
        Plot each stage's share of the period's customers instead of counts.
    stages
        Stages in stacking order; None takes the categories of the ordered ``stage`` column.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when None.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(10, 4.8))
    col = "share" if share else "customers"
    stages = _stage_order(counts["stage"], stages)
    wide = counts.pivot(index="period", columns="stage", values=col).reindex(columns=stages)
    wide = wide.fillna(0)
    x = _x(wide.index.to_series())
    ax.stackplot(
        x,
        *[wide[s].to_numpy() for s in stages],
        labels=[_stage_name(s, language) for s in stages],
        colors=[STAGE_COLOURS[s] for s in stages],
        alpha=0.9,
        linewidth=0,
    )
    if len(x) > 1:
        ax.set_xlim(x.min(), x.max())
    if share:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1)
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_ylabel(t("common.share_customers" if share else "common.customers", language))
    ax.set_xlabel(t("lifecycle.period", language))
    ax.set_title(t("lifecycle.title_stage_area", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax


def _ribbon(x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float]) -> MplPath:
    """Closed band from the span y0 at x0 to the span y1 at x1 with S-shaped Bézier edges."""
    xm = (x0 + x1) / 2
    verts = [
        (x0, y0[0]),
        (xm, y0[0]),
        (xm, y1[0]),
        (x1, y1[0]),
        (x1, y1[1]),
        (xm, y1[1]),
        (xm, y0[1]),
        (x0, y0[1]),
        (x0, y0[0]),
    ]
    codes = [
        MplPath.MOVETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.LINETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CLOSEPOLY,
    ]
    return MplPath(verts, codes)


def stage_flow(
    transitions: pd.DataFrame,
    *,
    language: str = "en",
    gap: float = 0.02,
    from_stages: Sequence[str] | None = None,
    to_stages: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Alluvial chart of where customers moved between two periods.

    Left bars are the stages in the earlier period (plus customers who had not bought yet), right
    bars the stages in the later period; each band's thickness is the number of customers who moved
    along it, coloured by the stage they came from.

    Parameters
    ----------
    transitions
        Output of :func:`crmlib.lifecycle.stage_transitions`.
    language
        ``"en"`` or ``"zh"``.
    gap
        Vertical space between stage bars, as a share of all customers.
    from_stages, to_stages
        Order of the bars on the left and on the right; None takes the categories of the ordered
        ``from_stage`` and ``to_stage`` columns.
    ax
        Axes to draw on; a new figure when None.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(10, 6))
    total = float(transitions["customers"].sum())
    if total <= 0:
        ax.text(0.5, 0.5, t("lifecycle.no_purchases", language), ha="center", va="center")
        ax.set_axis_off()
        return ax
    flows = transitions[transitions["customers"] > 0]
    left = flows.groupby("from_stage", observed=True)["customers"].sum() / total
    right = flows.groupby("to_stage", observed=True)["customers"].sum() / total
    from_order = _stage_order(transitions["from_stage"], from_stages)
    to_order = _stage_order(transitions["to_stage"], to_stages)
    left_order = [s for s in from_order if s in left.index]
    right_order = [s for s in to_order if s in right.index]

    def spans(sizes: pd.Series, order: list[str]) -> dict[str, list[float]]:
        out, top = {}, 1.0 + gap * (len(order) - 1)
        for s in order:
            out[s] = [top - sizes[s], top]  # [bottom, top], filled from the top
            top -= sizes[s] + gap
        return out

    lspan, rspan = spans(left, left_order), spans(right, right_order)
    lcursor = {s: v[1] for s, v in lspan.items()}
    rcursor = {s: v[1] for s, v in rspan.items()}
    bar_w, x0, x1 = 0.06, 0.0, 1.0
    for a in left_order:
        for b in right_order:
            sel = flows[(flows["from_stage"] == a) & (flows["to_stage"] == b)]
            if sel.empty:
                continue
            h = float(sel["customers"].sum()) / total
            ya = (lcursor[a] - h, lcursor[a])
            yb = (rcursor[b] - h, rcursor[b])
            lcursor[a] -= h
            rcursor[b] -= h
            path = _ribbon(x0 + bar_w, x1, ya, yb)
            ax.add_patch(PathPatch(path, facecolor=STAGE_COLOURS[a], alpha=0.35, lw=0))
    for side, span, x, ha, dx in (
        (left, lspan, x0, "right", -0.01),
        (right, rspan, x1, "left", bar_w + 0.01),
    ):
        for s, (bottom, top) in span.items():
            ax.add_patch(
                plt.Rectangle((x, bottom), bar_w, top - bottom, color=STAGE_COLOURS[s], lw=0)
            )
            n = int(round(side[s] * total))
            ax.text(
                x + dx,
                (bottom + top) / 2,
                f"{_stage_name(s, language)}  {n:,}",
                ha=ha,
                va="center",
                fontsize=9,
            )
    ax.set_xlim(-0.45, 1.5)
    top = 1.0 + gap * (max(len(left_order), len(right_order)) - 1)
    ax.set_ylim(-0.02, top + 0.08)
    from_p, to_p = transitions["from_period"].iloc[0], transitions["to_period"].iloc[0]
    for x, label in ((x0, from_p), (x1, to_p)):
        ax.text(x + bar_w / 2, top + 0.03, str(label), ha="center", va="bottom", fontsize="large")
    ax.set_axis_off()
    ax.set_title(t("lifecycle.title_flow", language, from_period=from_p, to_period=to_p))
    return ax


def transition_heatmap(
    transitions: pd.DataFrame,
    *,
    from_stages: Sequence[str] | None = None,
    to_stages: Sequence[str] | None = None,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of transitions: rows = stage in the earlier period, columns = stage now.

    Cells show the share of the row's customers (the number of customers in small type).

    Parameters
    ----------
    transitions
        Output of :func:`crmlib.lifecycle.stage_transitions`.
    from_stages, to_stages
        Order of the rows and of the columns; None takes the categories of the ordered
        ``from_stage`` and ``to_stage`` columns.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when None.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 5))
    columns = _stage_order(transitions["to_stage"], to_stages)
    present = transitions.groupby("from_stage", observed=False)["customers"].sum()
    from_order = _stage_order(transitions["from_stage"], from_stages)
    rows = [s for s in from_order if present.get(s, 0) > 0]
    share = transitions.pivot(index="from_stage", columns="to_stage", values="share_of_from")
    counts = transitions.pivot(index="from_stage", columns="to_stage", values="customers")
    share = share.reindex(index=rows, columns=columns).fillna(0)
    counts = counts.reindex(index=rows, columns=columns).fillna(0)
    annot = np.array(
        [
            [f"{s:.0%}\n{int(c):,}" for s, c in zip(rs, rc, strict=True)]
            for rs, rc in zip(share.to_numpy(), counts.to_numpy(), strict=True)
        ]
    )
    sns.heatmap(
        share,
        ax=ax,
        annot=annot,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=False,
        linewidths=0.5,
        annot_kws={"fontsize": 8},
    )
    ax.set_yticklabels([_stage_name(s, language) for s in rows], rotation=0)
    ax.set_xticklabels([_stage_name(s, language) for s in columns], rotation=0)
    ax.set_ylabel(t("lifecycle.from_stage", language))
    ax.set_xlabel(t("lifecycle.to_stage", language))
    ax.set_title(
        t(
            "lifecycle.title_transition_heatmap",
            language,
            from_period=transitions["from_period"].iloc[0],
            to_period=transitions["to_period"].iloc[0],
        )
    )
    return ax


_TREND_METRICS = (
    "revenue",
    "customers",
    "orders",
    "orders_per_customer",
    "aov",
    "median_interval_days",
)


def _metric_label(metric: str, language: str) -> str:
    common = {"revenue", "customers", "orders", "aov"}
    return t(f"common.{metric}" if metric in common else f"lifecycle.{metric}", language)


def trend_panels(
    trends: pd.DataFrame,
    *,
    metrics: Sequence[str] = _TREND_METRICS,
    language: str = "en",
    axes: np.ndarray | None = None,
) -> np.ndarray:
    """Small multiples: one line per metric over time; a partial last period is drawn hollow.

    Parameters
    ----------
    trends
        Output of :func:`crmlib.trends.period_trends`.
    metrics
        Columns to draw, one panel each.
    axes
        An array of at least ``len(metrics)`` Axes; a new 2-column … 3-column grid when None.

    Returns
    -------
    numpy.ndarray
        The Axes, flattened.
    """
    check_language(language)
    for m in metrics:
        if m not in trends.columns:
            raise ConfigError(
                f"parameter 'metrics' must name columns of the trends table; got {m!r}"
            )
    if axes is None:
        font_path()
        ncols = 3 if len(metrics) > 4 else 2
        nrows = int(np.ceil(len(metrics) / ncols))
        _, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows), sharex=True)
        axes = np.atleast_1d(grid).ravel()
    axes = np.asarray(axes).ravel()
    x = _x(trends["period"])
    done = trends["complete"].to_numpy()
    for i, (ax, m) in enumerate(zip(axes, metrics, strict=False)):
        y = trends[m].to_numpy(dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(x[done], y[done], color=colour, lw=1.6)
        if (~done).any():
            ax.plot(x, y, color=colour, lw=1, ls=":", alpha=0.8)
            ax.plot(x[~done], y[~done], ls="none", marker="o", mfc="white", color=colour)
        ax.set_title(_metric_label(m, language), fontsize=10)
        ax.yaxis.set_major_formatter(
            FuncFormatter(thousands)
            if m in ("revenue", "customers", "orders", "aov")
            else FuncFormatter(lambda v, _p: f"{v:.2f}" if v < 10 else f"{v:.0f}")
        )
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.set_ylim(bottom=0)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    axes[0].figure.suptitle(t("lifecycle.title_trends", language), x=0.02, ha="left")
    axes[0].figure.tight_layout()
    return axes


def category_mix_area(mix: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Stacked area of each category's share of revenue per period.

    Parameters
    ----------
    mix
        Output of :func:`crmlib.trends.category_mix`.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(10, 4.5))
    wide = mix.pivot(index="period", columns="category", values="share").fillna(0).clip(lower=0)
    x = _x(wide.index.to_series())
    names = [
        t(f"lifecycle.{c}", language) if c in ("other", "unknown") else str(c) for c in wide.columns
    ]
    ax.stackplot(
        x,
        *[wide[c].to_numpy() for c in wide.columns],
        labels=names,
        colors=[PALETTE[i % len(PALETTE)] for i in range(wide.shape[1])],
        alpha=0.9,
        linewidth=0,
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1)
    if len(x) > 1:
        ax.set_xlim(x.min(), x.max())
    ax.set_ylabel(t("common.share_revenue", language))
    ax.set_title(t("lifecycle.title_category_mix", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return ax


def decomposition_waterfall(
    decomposition: pd.DataFrame, *, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Waterfall from base-period revenue through the three factor contributions to current revenue.

    Parameters
    ----------
    decomposition
        Output of :func:`crmlib.trends.decompose_revenue`.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(9, 4.8))
    d = decomposition.set_index("factor")
    base_p, cur_p = d.loc["revenue", "base_period"], d.loc["revenue", "current_period"]
    v0, v1 = float(d.loc["revenue", "base_value"]), float(d.loc["revenue", "current_value"])
    steps = [float(d.loc[f, "contribution"]) for f in ("customers", "orders_per_customer", "aov")]
    labels = [
        t("lifecycle.base_revenue", language, period=base_p),
        t("lifecycle.factor_customers", language),
        t("lifecycle.factor_orders_per_customer", language),
        t("lifecycle.factor_aov", language),
        t("lifecycle.current_revenue", language, period=cur_p),
    ]
    bottoms, heights, colours = [0.0], [v0], ["#8a9aa8"]
    level = v0
    for s in steps:
        bottoms.append(level if s >= 0 else level + s)
        heights.append(abs(s))
        colours.append(PALETTE[2] if s >= 0 else PALETTE[3])
        level += s
    bottoms.append(0.0)
    heights.append(v1)
    colours.append("#8a9aa8")
    x = np.arange(len(labels))
    ax.bar(x, heights, bottom=bottoms, color=colours, width=0.6)
    texts = [thousands(v0), *[f"{s:+,.0f}" for s in steps], thousands(v1)]
    for xi, b, h, txt in zip(x, bottoms, heights, texts, strict=True):
        ax.text(xi, b + h, txt, ha="center", va="bottom", fontsize=9)
    level = v0
    for i, s in enumerate(steps):
        ax.plot([i + 0.3, i + 0.7], [level, level], color="#999999", lw=0.8)
        level += s
    ax.plot([3.3, 3.7], [level, level], color="#999999", lw=0.8)
    lo = min(bottoms[1:4] + [v0, v1])
    ax.set_ylim(max(0.0, lo - 0.25 * (max(v0, v1) - lo + 1)), max(v0, v1, level) * 1.08)
    ax.set_xticks(x, labels, fontsize=9)
    ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_ylabel(t("common.revenue", language))
    ax.set_title(t("lifecycle.title_decomposition", language, base=base_p, current=cur_p))
    return ax


__getattr__ = moved(
    __name__,
    dict.fromkeys(
        ("cohort_heatmap", "milestone_curve", "interval_distribution"), "crmlib.plots.cohorts"
    ),
)
