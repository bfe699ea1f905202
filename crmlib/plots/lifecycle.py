"""Charts of lifecycle and retention: stage counts, stage flows, cohorts, milestones, intervals, trends.

Each function takes a result of :mod:`crmlib.lifecycle` or :mod:`crmlib.trends`, draws on ``ax``
(a new figure when ``None``) and returns the Axes (:func:`trend_panels` takes and returns an array
of Axes). Text comes from ``crmlib/labels/lifecycle.yaml`` in ``language``.
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

from crmlib.errors import ConfigError
from crmlib.i18n import check_language, t
from crmlib.lifecycle import NOT_YET, STAGES
from crmlib.plots import PALETTE, font_path, get_ax

__all__ = [
    "STAGE_COLOURS",
    "stage_area",
    "stage_flow",
    "transition_heatmap",
    "cohort_heatmap",
    "milestone_curve",
    "interval_distribution",
    "trend_panels",
    "category_mix_area",
    "decomposition_waterfall",
]

#: One colour per stage, the same in every chart.
STAGE_COLOURS: dict[str, str] = {
    NOT_YET: "#b8c4cf",
    "new": PALETTE[2],
    "active": PALETTE[0],
    "reactivated": PALETTE[4],
    "at_risk": PALETTE[1],
    "churned": PALETTE[3],
}


def _stage_name(stage: str, language: str) -> str:
    return t(f"lifecycle.stage_{stage}", language)


def _x(periods: pd.Series) -> pd.DatetimeIndex:
    return pd.PeriodIndex(periods).to_timestamp()


def _thousands(x: float, _pos: int | None = None) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:.1f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    return f"{x:,.0f}"


def stage_area(
    counts: pd.DataFrame, *, share: bool = False, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Stacked area of customers per lifecycle stage over time.

    Parameters
    ----------
    counts
        Output of :func:`crmlib.lifecycle.stage_counts`.
    share
        Plot each stage's share of the period's customers instead of counts.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(10, 4.8))
    col = "share" if share else "customers"
    wide = counts.pivot(index="period", columns="stage", values=col).reindex(columns=list(STAGES))
    wide = wide.fillna(0)
    x = _x(wide.index.to_series())
    ax.stackplot(
        x,
        *[wide[s].to_numpy() for s in STAGES],
        labels=[_stage_name(s, language) for s in STAGES],
        colors=[STAGE_COLOURS[s] for s in STAGES],
        alpha=0.9,
        linewidth=0,
    )
    if len(x) > 1:
        ax.set_xlim(x.min(), x.max())
    if share:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1)
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
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
    gap
        Vertical space between stage bars, as a share of all customers.
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
    left_order = [s for s in (NOT_YET, *STAGES) if s in left.index]
    right_order = [s for s in STAGES if s in right.index]

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
    transitions: pd.DataFrame, *, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Heatmap of transitions: rows = stage in the earlier period, columns = stage now.

    Cells show the share of the row's customers (the number of customers in small type).
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 5))
    present = transitions.groupby("from_stage", observed=False)["customers"].sum()
    rows = [s for s in (NOT_YET, *STAGES) if present.get(s, 0) > 0]
    share = transitions.pivot(index="from_stage", columns="to_stage", values="share_of_from")
    counts = transitions.pivot(index="from_stage", columns="to_stage", values="customers")
    share = share.reindex(index=rows, columns=list(STAGES)).fillna(0)
    counts = counts.reindex(index=rows, columns=list(STAGES)).fillna(0)
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
    ax.set_xticklabels([_stage_name(s, language) for s in STAGES], rotation=0)
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


def cohort_heatmap(
    cohorts: pd.DataFrame,
    *,
    value: str = "share",
    max_periods: int | None = None,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Cohort matrix as a heatmap: rows = first-purchase cohort, columns = periods since.

    Parameters
    ----------
    cohorts
        Output of :func:`crmlib.lifecycle.cohort_retention`.
    value
        ``"share"`` (retention) or ``"cumulative_revenue_per_customer"``.
    max_periods
        Show period numbers 1 … max_periods only (period 0 is 100% by definition and left out
        of the share view).
    """
    check_language(language)
    data = cohorts[cohorts["period_number"] >= (1 if value == "share" else 0)]
    if max_periods is not None:
        data = data[data["period_number"] <= max_periods]
    wide = data.pivot(index="cohort", columns="period_number", values=value)
    ax = get_ax(ax, figsize=(11, max(3.5, 0.22 * len(wide) + 1.5)))
    annotate = wide.shape[1] <= 14 and wide.shape[0] <= 30
    is_share = value == "share"
    sns.heatmap(
        wide,
        ax=ax,
        cmap="Blues" if is_share else "Greens",
        annot=annotate,
        fmt=".0%" if is_share else ",.0f",
        annot_kws={"fontsize": 7},
        cbar_kws={
            "format": PercentFormatter(1.0, decimals=0) if is_share else FuncFormatter(_thousands),
            "shrink": 0.6,
        },
        vmin=0,
        linewidths=0 if wide.shape[1] > 20 else 0.3,
    )
    ax.grid(False)
    sizes = cohorts.groupby("cohort")["cohort_size"].first()
    labels = [f"{c}  (n={sizes[c]:,})" for c in wide.index]
    step = max(1, len(labels) // 24)
    ax.set_yticks(np.arange(len(labels))[::step] + 0.5, labels[::step], rotation=0, fontsize=8)
    xt = np.arange(wide.shape[1])
    xstep = max(1, len(xt) // 18)
    ax.set_xticks(xt[::xstep] + 0.5, [str(c) for c in wide.columns[::xstep]], rotation=0)
    ax.set_xlabel(t("lifecycle.period_number", language))
    ax.set_ylabel(t("lifecycle.cohort", language))
    ax.set_title(
        t(
            "lifecycle.title_cohort_share" if is_share else "lifecycle.title_cohort_revenue",
            language,
        )
    )
    return ax


def milestone_curve(
    milestones: pd.DataFrame,
    *,
    stabilises_after: int | None = None,
    benchmark: pd.Series | None = None,
    confidence: float = 0.95,
    min_customers: int = 1,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """P(order n+1 | n orders) by n with its Wilson band, the plateau and a published benchmark.

    Parameters
    ----------
    milestones
        Output of :func:`crmlib.lifecycle.order_milestones`.
    stabilises_after
        Output of :func:`crmlib.lifecycle.stabilisation_order`; marked with a vertical line.
    benchmark
        Output of :func:`crmlib.lifecycle.milestone_benchmark`; drawn as open markers.
    confidence
        Level of the band, for the legend.
    min_customers
        Order numbers with fewer eligible customers are not drawn.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(9, 4.8))
    ms = milestones[(milestones["eligible"] >= min_customers) & milestones["probability"].notna()]
    n = ms["order_number"].to_numpy()
    ax.fill_between(
        n,
        ms["ci_low"],
        ms["ci_high"],
        color=PALETTE[0],
        alpha=0.18,
        lw=0,
        label=t("lifecycle.confidence_band", language, level=confidence),
    )
    ax.plot(
        n,
        ms["probability"],
        marker="o",
        color=PALETTE[0],
        label=t("lifecycle.reorder_probability", language),
    )
    for x, p, e in zip(n, ms["probability"], ms["eligible"], strict=True):
        ax.annotate(
            f"{p:.0%}",
            (x, p),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
        )
        ax.annotate(
            f"n={e:,}",
            (x, 0),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=6,
            color="#777777",
        )
    if benchmark is not None and len(benchmark):
        ax.plot(
            benchmark.index,
            benchmark.to_numpy(),
            ls="none",
            marker="D",
            mfc="none",
            color=PALETTE[1],
            label=t("lifecycle.benchmark", language, source=benchmark.attrs.get("source", "")),
        )
    if stabilises_after is not None:
        ax.axvline(stabilises_after, color=PALETTE[2], ls="--", lw=1.2)
        ax.text(
            stabilises_after,
            1.02,
            " " + t("lifecycle.plateau", language, n=stabilises_after),
            color=PALETTE[2],
            fontsize=9,
            va="bottom",
        )
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if len(n):
        ax.set_xticks(n)
    ax.set_xlabel(t("lifecycle.order_number", language))
    ax.set_ylabel(t("lifecycle.reorder_probability", language))
    ax.set_title(t("lifecycle.title_milestones", language))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.07), frameon=False, fontsize=8)
    return ax


def interval_distribution(
    intervals: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    by: str | None = None,
    max_segments: int = 6,
    clip_quantile: float = 0.99,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Distribution of days between purchases: a histogram, or one ECDF per segment.

    Parameters
    ----------
    intervals
        Output of :func:`crmlib.lifecycle.purchase_intervals`.
    segments, by
        Optional per-customer segment table and its column (as in
        :func:`crmlib.lifecycle.interval_summary`); the largest ``max_segments`` segments are drawn.
    clip_quantile
        The x axis stops at this quantile of all intervals (long tails squash the view).
    """
    check_language(language)
    ax = get_ax(ax, figsize=(9, 4.5))
    days = intervals["days"]
    if days.empty:
        ax.text(0.5, 0.5, t("lifecycle.finding_no_intervals", language), ha="center", va="center")
        ax.set_axis_off()
        return ax
    xmax = float(days.quantile(clip_quantile))
    if segments is None:
        bins = np.linspace(0, max(xmax, 1), 50)
        ax.hist(days.clip(upper=xmax), bins=bins, color=PALETTE[0], alpha=0.85)
        for q, style in ((0.5, "-"), (0.9, "--")):
            v = float(days.quantile(q))
            ax.axvline(v, color=PALETTE[1], ls=style, lw=1.2)
            ax.text(v, ax.get_ylim()[1] * 0.95, f" P{int(q * 100)} = {v:.0f}", color=PALETTE[1])
        ax.set_ylabel(t("lifecycle.intervals", language))
    else:
        col = by or next(c for c in segments.columns if c != "customer_id")
        seg = segments[["customer_id", col]].drop_duplicates("customer_id")
        merged = intervals.merge(seg, on="customer_id", how="left")
        merged[col] = merged[col].astype("string").fillna("unassigned")
        biggest = merged[col].value_counts().index[:max_segments]
        sns.ecdfplot(
            x=days, ax=ax, color="#333333", lw=2, label=t("lifecycle.segment_all", language)
        )
        for i, name in enumerate(biggest):
            sel = merged.loc[merged[col] == name, "days"]
            sns.ecdfplot(x=sel, ax=ax, color=PALETTE[i % len(PALETTE)], lw=1.2, label=str(name))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel(t("lifecycle.intervals_share", language))
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_xlim(0, max(xmax, 1))
    ax.set_xlabel(t("lifecycle.interval_days", language))
    ax.set_title(t("lifecycle.title_intervals", language))
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
            FuncFormatter(_thousands)
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
    texts = [_thousands(v0), *[f"{s:+,.0f}" for s in steps], _thousands(v1)]
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
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylabel(t("common.revenue", language))
    ax.set_title(t("lifecycle.title_decomposition", language, base=base_p, current=cur_p))
    return ax
