"""Charts of customer lifetime value: the backtest (by frequency bucket and over time), the
distribution of CLV, CLV by segment and P(active) against time since the last purchase.

Each function takes a result of :mod:`crmlib.clv` (its tables, or any object carrying them),
draws on ``ax`` (a new figure when ``None``) and returns the Axes. Text comes from
``crmlib/labels/clv.yaml`` in ``language``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crmlib.currency import current_currency
from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.format import money, percent

__all__ = [
    "BacktestTables",
    "backtest_by_frequency",
    "tracking_plot",
    "clv_distribution",
    "clv_by_segment",
    "p_alive_by_recency",
]


class BacktestTables(Protocol):
    """What the backtest charts read of a backtest (:class:`crmlib.clv.validation.Backtest`)."""

    @property
    def by_frequency(self) -> pd.DataFrame:
        """``bucket, actual, predicted, naive`` per calibration-frequency bucket."""

    @property
    def tracking(self) -> pd.DataFrame:
        """``week, actual, predicted, period`` (cumulative repeat purchases)."""


def _thousands(value: float, _pos: int = 0) -> str:
    return f"{value:,.0f}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def backtest_by_frequency(
    check: BacktestTables, *, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Mean holdout repeat purchases per customer by calibration frequency: actual, model, naive.

    Parameters
    ----------
    check
        Output of :func:`crmlib.clv.backtest`.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 4.5))
    table = check.by_frequency
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", color=PALETTE[0], label=t("clv.actual", language))
    ax.plot(x, table["predicted"], marker="s", color=PALETTE[1], label=t("clv.model", language))
    ax.plot(
        x,
        table["naive"],
        marker="^",
        linestyle="--",
        color=PALETTE[7],
        label=t("clv.naive", language),
    )
    ax.set_xticks(x, table["bucket"].tolist())
    ax.set_xlabel(t("clv.axis_bucket", language))
    ax.set_ylabel(t("clv.axis_per_customer", language))
    ax.set_ylim(bottom=0)
    ax.set_title(t("clv.chart_by_frequency", language))
    ax.legend(frameon=False)
    return ax


def tracking_plot(check: BacktestTables, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Weekly cumulative repeat purchases of the calibration cohort, actual against expected,
    with the end of the calibration period marked."""
    check_language(language)
    ax = get_ax(ax, figsize=(9, 4.5))
    track = check.tracking
    ax.plot(track["week"], track["actual"], color=PALETTE[0], label=t("clv.actual", language))
    ax.plot(
        track["week"],
        track["predicted"],
        color=PALETTE[1],
        linestyle="--",
        label=t("clv.model", language),
    )
    calibration = track.loc[track["period"] == "calibration", "week"]
    if len(calibration):
        end = float(calibration.max()) + 0.5
        ax.axvline(end, color="#888888", linewidth=1)
        ax.text(
            end,
            ax.get_ylim()[1] * 0.97,
            " " + t("clv.calibration_end", language),
            va="top",
            fontsize=9,
            color="#555555",
        )
    ax.set_xlabel(t("clv.axis_week", language))
    ax.set_ylabel(t("clv.axis_cumulative", language))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_title(t("clv.chart_tracking", language))
    ax.legend(frameon=False, loc="upper left")
    return ax


def clv_distribution(
    scores: pd.DataFrame, *, language: str = "en", bins: int = 40, ax: Axes | None = None
) -> Axes:
    """Histogram of customers' CLV on a log scale, with the median marked."""
    check_language(language)
    ax = get_ax(ax, figsize=(8, 4.5))
    months = scores.attrs.get("horizon_months", 12)
    values = scores["clv"].to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values):
        # the lowest 0.1% share the first bin so a few near-zero values do not stretch the axis
        low, high = np.quantile(values, [0.001, 1.0])
        edges = np.geomspace(max(low, high * 1e-6), high * 1.0001, bins + 1)
        ax.hist(np.clip(values, edges[0], None), bins=edges, color=PALETTE[0], alpha=0.85)
        median = float(np.median(values))
        ax.axvline(median, color=PALETTE[1], linewidth=1.5)
        ax.text(
            median,
            ax.get_ylim()[1] * 0.95,
            " " + t("clv.median", language, value=money(median)),
            color=PALETTE[1],
            va="top",
        )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel(
        t("clv.axis_clv", language, months=months, currency=current_currency().name(language))
    )
    ax.set_ylabel(t("clv.axis_customers", language))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_title(t("clv.chart_distribution", language, months=months))
    return ax


def clv_by_segment(
    table: pd.DataFrame, *, language: str = "en", top: int = 12, ax: Axes | None = None
) -> Axes:
    """Share of total CLV per segment (bars, largest first) with the mean CLV written on each.

    Parameters
    ----------
    table
        Output of :func:`crmlib.clv.by_segment` (any segmentation) or of :func:`crmlib.clv.deciles`
        (its ``decile`` column is used as the segment).
    top
        Largest segments shown.
    """
    check_language(language)
    if "segment" not in table.columns and "decile" in table.columns:
        table = table.rename(
            columns={"decile": "segment", "share": "share_clv", "mean": "clv_mean"}
        )
        table["segment"] = table["segment"].map(lambda d: f"D{d}")
    shown = table.head(top)
    ax = get_ax(ax, figsize=(8, 0.45 * len(shown) + 1.6))
    y = np.arange(len(shown))
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(shown))]
    ax.barh(y, shown["share_clv"], color=colours)
    for yi, share, mean in zip(y, shown["share_clv"], shown["clv_mean"], strict=True):
        ax.text(
            share,
            yi,
            f" {percent(share, digits=0)} · {money(mean)}",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(y, [str(s) for s in shown["segment"]])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(np.max(shown["share_clv"].to_numpy(), initial=0)), 0.01) * 1.3)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t("clv.axis_share_clv", language) + " · " + t("clv.axis_mean_clv", language))
    ax.set_title(t("clv.chart_by_segment", language))
    return ax


def p_alive_by_recency(
    scores: pd.DataFrame, *, language: str = "en", bins: int = 20, ax: Axes | None = None
) -> Axes:
    """Mean P(active) against time since the last purchase, one line per purchase-frequency
    group (one purchase only, 1–2, 3–6, 7+ repeat purchases)."""
    check_language(language)
    ax = get_ax(ax, figsize=(8, 4.5))
    unit = scores.attrs.get("time_unit", "W")
    since = (scores["T"] - scores["recency"]).to_numpy(dtype=float)
    freq = scores["frequency"].to_numpy()
    groups = [
        (freq == 0, t("clv.one_time", language)),
        ((freq >= 1) & (freq <= 2), t("clv.repeaters", language, low=1, high=2)),
        ((freq >= 3) & (freq <= 6), t("clv.repeaters", language, low=3, high=6)),
        (freq >= 7, t("clv.repeaters_open", language, low=7)),
    ]
    edges = np.linspace(0, max(float(since.max(initial=0)), 1e-9), bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    for k, (mask, name) in enumerate(groups):
        if not mask.any():
            continue
        which = np.clip(np.digitize(since[mask], edges) - 1, 0, bins - 1)
        sums = np.bincount(
            which, weights=scores["p_alive"].to_numpy(dtype=float)[mask], minlength=bins
        )
        counts = np.bincount(which, minlength=bins)
        keep = counts > 0
        ax.plot(
            centres[keep],
            sums[keep] / counts[keep],
            marker="o",
            markersize=3,
            color=PALETTE[k],
            label=name,
        )
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t("clv.axis_since_last", language, unit=t(f"clv.unit_{unit}", language)))
    ax.set_ylabel(t("clv.axis_p_alive", language))
    ax.set_title(t("clv.chart_p_alive", language))
    ax.legend(frameon=False)
    return ax
