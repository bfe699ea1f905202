"""Cross-sell charts: strongest pairs, days from A to B, bundle candidates.

Each function takes a tidy table from :mod:`crmlib.basket`, draws on ``ax`` (a new figure when
``None``) and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.basket import named, not_measured_text

__all__ = ["pair_heatmap", "timing_chart", "bundle_chart"]


def _empty(ax: Axes, title: str, language: str, result: pd.DataFrame | None = None) -> Axes:
    """No bars or cells: a one-line figure saying why (not measured, or nothing found), never
    an empty chart with axes."""
    ax.figure.set_size_inches(ax.figure.get_size_inches()[0], 0.9)
    ax.set_title(title, fontsize="medium", loc="left")
    why = not_measured_text(result, language, short=True) if result is not None else ""
    ax.text(
        0.5,
        0.5,
        why or t("basket.no_data", language),
        ha="center",
        va="center",
        wrap=True,
        transform=ax.transAxes,
    )
    ax.set_axis_off()
    return ax


def pair_heatmap(
    rules: pd.DataFrame, *, top: int = 12, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Heatmap of lift between the items of the strongest pair rules.

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.association_rules`; single-item rules are used.
    top
        Number of items shown: those appearing in the highest-lift pairs.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 6.5))
    title = t("basket.chart_pairs_title", language)
    rules = named(rules)
    pairs = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    if pairs.empty:
        return _empty(ax, title, language, rules)
    pairs = pairs.assign(
        a=pairs["antecedents"].map(lambda v: v[0]), b=pairs["consequents"].map(lambda v: v[0])
    ).sort_values("lift", ascending=False)
    items: list[str] = []
    for a, b in zip(pairs["a"], pairs["b"], strict=True):
        for item in (a, b):
            if item not in items and len(items) < top:
                items.append(item)
        if len(items) >= top:
            break
    items = sorted(items)
    grid = pd.DataFrame(np.nan, index=items, columns=items)
    shown = pairs[pairs["a"].isin(items) & pairs["b"].isin(items)]
    for a, b, lift in zip(shown["a"], shown["b"], shown["lift"], strict=True):
        grid.loc[a, b] = lift
        grid.loc[b, a] = lift  # lift is symmetric
    sns.heatmap(
        grid,
        ax=ax,
        cmap="Blues",
        annot=len(items) <= 15,
        fmt=".1f",
        linewidths=0.5,
        cbar_kws={"label": t("basket.lift", language)},
        mask=grid.isna(),
        vmin=1.0,
    )
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)
    return ax


def timing_chart(
    gaps: pd.DataFrame,
    *,
    within_days: int | None = None,
    top: int = 6,
    language: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Distribution of days from A to B for "A then B" rules (box plot with each member's gap).

    Parameters
    ----------
    gaps
        Output of :func:`crmlib.basket.sequential_gaps`.
    within_days
        The window, shown in the title and as the axis limit.
    top
        Number of pairs shown, in the order they first appear in ``gaps`` (the order of the
        rules given to :func:`crmlib.basket.sequential_gaps`).
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 1.2 + 0.7 * top))
    days = int(within_days) if within_days else int(gaps["days"].max()) if len(gaps) else 0
    title = t("basket.chart_timing_title", language, days=days)
    if gaps.empty:
        return _empty(ax, title, language, gaps)
    arrow = " → "
    gaps = named(gaps)
    data = gaps.assign(pair=gaps["antecedent"].astype(str) + arrow + gaps["consequent"].astype(str))
    order = list(pd.unique(data["pair"]))[:top]
    data = data[data["pair"].isin(order)]
    sns.boxplot(
        data=data,
        x="days",
        y="pair",
        order=order,
        ax=ax,
        color=PALETTE[0],
        showfliers=False,
        width=0.55,
        boxprops={"alpha": 0.35},
    )
    # seaborn jitters with numpy's global generator: a fixed seed, restored after, so the
    # same data always draws the same chart (whatever ran before in the notebook)
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(
            data=data, x="days", y="pair", order=order, ax=ax, color=PALETTE[0], size=2.5, alpha=0.4
        )
    finally:
        np.random.set_state(state)
    ax.set_title(title)
    ax.set_xlabel(t("basket.days_a_to_b", language))
    ax.set_ylabel("")
    if days:
        ax.set_xlim(0, days + 1)
    return ax


def bundle_chart(
    bundles: pd.DataFrame, *, top: int = 10, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Horizontal bars of the bundle candidates' lift, labelled with their basket share.

    Parameters
    ----------
    bundles
        Output of :func:`crmlib.basket.bundle_candidates`.
    top
        Number of pairs shown (highest lift first).
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 1.2 + 0.45 * min(top, max(len(bundles), 1))))
    title = t("basket.chart_bundles_title", language)
    if bundles.empty:
        return _empty(ax, title, language, bundles)
    data = named(bundles.head(top)).iloc[::-1]
    labels = data["item_a"].astype(str) + " + " + data["item_b"].astype(str)
    bars = ax.barh(labels, data["lift"], color=PALETTE[1])
    support = t("basket.support", language)
    for bar, share in zip(bars, data["support"], strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f"  {support} {share:.1%}",
            va="center",
            fontsize="small",
        )
    ax.axvline(1.0, color=PALETTE[7], linewidth=1, linestyle="--")
    ax.set_title(title)
    ax.set_xlabel(t("basket.lift", language))
    ax.margins(x=0.25)
    return ax
