"""Charts of retention after acquisition: the cohort heatmap, order milestones, purchase intervals.

Each function takes a result of :mod:`crmlib.cohorts`, draws on ``ax`` (a new figure when
``None``) and returns the Axes. Text comes from ``crmlib/labels/lifecycle.yaml`` in ``language``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crmlib.errors import ConfigError
from crmlib.i18n import check_language, t
from crmlib.membership import lookup_labels
from crmlib.plots import PALETTE, get_ax
from crmlib.plots.lifecycle import thousands
from crmlib.present.format import why_not
from crmlib.present.quality import channel_label

__all__ = ["cohort_heatmap", "milestone_curve", "interval_distribution"]


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
        Output of :func:`crmlib.cohorts.cohort_retention`.
    value
        ``"share"`` (retention) or ``"cumulative_revenue_per_customer"``.
    max_periods
        Show period numbers 1 … max_periods only (period 0 is 100% by definition and left out
        of the share view).

    Cells of a period the data does not cover whole (``complete`` False: the period holding
    an ``as_of`` that is not its last day) are hatched, and a legend names the period.
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
            "format": PercentFormatter(1.0, decimals=0) if is_share else FuncFormatter(thousands),
            "shrink": 0.6,
        },
        vmin=0,
        linewidths=0 if wide.shape[1] > 20 else 0.3,
    )
    ax.grid(False)
    _mark_partial(ax, data, wide, language)
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


def _mark_partial(ax: Axes, data: pd.DataFrame, wide: pd.DataFrame, language: str) -> None:
    """Hatch the heatmap cells of a partial period and say so in a legend."""
    if "complete" not in data:
        return
    partial = data[~data["complete"].astype(bool)]
    if partial.empty:
        return
    rows = {c: i for i, c in enumerate(wide.index)}
    cols = {k: j for j, k in enumerate(wide.columns)}
    for coh, k in zip(partial["cohort"], partial["period_number"], strict=True):
        if coh in rows and k in cols:
            ax.add_patch(
                Rectangle(
                    (cols[k], rows[coh]), 1, 1, fill=False, hatch="///", edgecolor="0.35", lw=0
                )
            )
    periods = ", ".join(sorted({str(p) for p in partial["period"]}))
    note = why_not("partial_period", language, period=periods)
    handle = Patch(facecolor="white", edgecolor="0.35", hatch="///", label=note)
    ax.legend(handles=[handle], loc="upper right", fontsize=8, frameon=True)


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
        Output of :func:`crmlib.cohorts.order_milestones`.
    stabilises_after
        Output of :func:`crmlib.cohorts.stabilisation_order`; marked with a vertical line.
    benchmark
        Output of :func:`crmlib.cohorts.milestone_benchmark`; drawn as open markers.
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
        Output of :func:`crmlib.cohorts.purchase_intervals`.
    segments, by
        Optional per-customer segment table and its column (as in
        :func:`crmlib.cohorts.interval_summary`); the largest ``max_segments`` segments are drawn.
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
        col = by or next((c for c in segments.columns if c != "customer_id"), None)
        if col is None:
            raise ConfigError("segments must have a segment column besides customer_id")
        labels = lookup_labels(intervals["customer_id"], segments, key="customer_id", column=col)
        sizes = np.bincount(labels.codes, minlength=len(labels.categories))
        sns.ecdfplot(
            x=days, ax=ax, color="#333333", lw=2, label=t("lifecycle.segment_all", language)
        )
        # the largest segments; equal sizes in the order of their names
        for i, k in enumerate(np.argsort(-sizes, kind="stable")[:max_segments]):
            name = channel_label(str(labels.categories[k]), language=language)  # as the table
            sns.ecdfplot(x=days[labels.codes == k], ax=ax, color=PALETTE[i % len(PALETTE)],
                         lw=1.2, label=name)  # fmt: skip
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel(t("lifecycle.intervals_share", language))
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_xlim(0, max(xmax, 1))
    ax.set_xlabel(t("lifecycle.interval_days", language))
    ax.set_title(t("lifecycle.title_intervals", language))
    return ax
