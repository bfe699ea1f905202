"""Charts of campaigns and channels: uplift with confidence intervals, revenue by channel,
purchase after touchpoints and the online funnel.

Each function takes a result of :mod:`crmlib.campaigns` or :mod:`crmlib.channels`, draws on
``ax`` (a new figure when ``None``) and returns the Axes. Text comes from ``crmlib/labels/campaigns.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crmlib.currency import axis_unit
from crmlib.i18n import catalogue, check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.campaigns import funnel_labels

__all__ = ["uplift_chart", "channel_revenue", "touchpoint_chart", "funnel_chart"]


def _label(key: str, language: str, fallback: str) -> str:
    return t(key, language) if key in catalogue() else fallback


def uplift_chart(response: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Uplift of each campaign over its control group with the confidence interval.

    Parameters
    ----------
    response
        Output of :func:`crmlib.campaigns.campaign_response` (or :func:`response_by_segment`,
        whose ``segment`` column then names the rows).
    """
    check_language(language)
    table = response.dropna(subset=["uplift"]).iloc[::-1]
    ax = get_ax(ax, figsize=(8, max(2.5, 0.45 * len(table) + 1.2)))
    if "name" in table.columns:
        names = [
            f"{n} ({t('campaigns.chart_partner', language)})" if p else str(n)
            for n, p in zip(
                table["name"], table.get("is_partner", [False] * len(table)), strict=True
            )  # fmt: skip
        ]
    else:
        names = table["segment"].astype(str).tolist()
    y = np.arange(len(table))
    sig = table["significant"].to_numpy(bool)
    colors = [PALETTE[0] if s else PALETTE[7] for s in sig]
    ax.barh(y, table["uplift"] * 100, color=colors, alpha=0.85, height=0.6)
    ax.errorbar(
        table["uplift"] * 100,
        y,
        xerr=[
            (table["uplift"] - table["uplift_low"]) * 100,
            (table["uplift_high"] - table["uplift"]) * 100,
        ],
        fmt="none",
        ecolor="#333333",
        capsize=3,
        linewidth=1,
    )
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel(t("campaigns.chart_uplift_x", language))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:+.0f}"))
    days = response.attrs.get("response_days", 14)
    ax.set_title(t("campaigns.chart_uplift", language, days=f"{days:g}"))
    ax.grid(axis="y", visible=False)
    return ax


def channel_revenue(
    trends: pd.DataFrame, *, months: int = 24, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Revenue by channel over the last ``months`` periods as a stacked area."""
    check_language(language)
    ax = get_ax(ax, figsize=(9, 4.5))
    wide = trends.pivot_table(index="period", columns="channel", values="revenue", aggfunc="sum")
    wide = wide.fillna(0.0).sort_index().iloc[-int(months) :]
    order = wide.sum().sort_values(ascending=False).index
    wide = wide[order]
    names = [_label(f"data.channel_{c}", language, str(c)) for c in wide.columns]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(wide.columns))]
    divisor, unit = axis_unit(language)  # 万元 / $ thousands: the data's currency
    ax.stackplot(wide.index, (wide / divisor).T.to_numpy(), labels=names, colors=colors, alpha=0.9)
    ax.set_ylabel(f"{t('common.revenue', language)} ({unit})")
    ax.set_title(t("campaigns.chart_channels", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    ax.margins(x=0)
    return ax


def touchpoint_chart(
    effects: pd.DataFrame, *, language: str = "en", ax: Axes | None = None
) -> Axes:
    """Share buying within the window after each kind of touchpoint, against the base rate."""
    check_language(language)
    table = effects.sort_values("purchase_rate")
    ax = get_ax(ax, figsize=(8, max(2.5, 0.55 * len(table) + 1.2)))
    y = np.arange(len(table))
    names = [_label(f"campaigns.kind_{k}", language, str(k)) for k in table["kind"]]
    ax.barh(y + 0.2, table["purchase_rate"], height=0.4, color=PALETTE[0],
            label=t("campaigns.chart_after", language))  # fmt: skip
    ax.barh(y - 0.2, table["base_rate"], height=0.4, color=PALETTE[7],
            label=t("campaigns.chart_base", language))  # fmt: skip
    ax.set_yticks(y, names)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(t("campaigns.chart_touch", language, days=effects.attrs.get("window_days", 30)))
    ax.legend(frameon=False, loc="lower right")
    ax.grid(axis="y", visible=False)
    return ax


def funnel_chart(
    table: pd.DataFrame, *, model: str = "steps", language: str = "en", ax: Axes | None = None
) -> Axes:
    """Funnel bars (count per step, centred) with the conversion from the previous step."""
    check_language(language)
    ax = get_ax(ax, figsize=(8, 0.8 * len(table) + 1.2))
    names = funnel_labels(table["step"], model=model, language=language)
    y = np.arange(len(table))[::-1]
    counts = table["count"].to_numpy(float)
    ax.barh(y, counts, left=-counts / 2, color=PALETTE[0], height=0.7)
    top = counts.max() if len(counts) else 1.0
    for yi, c, step, rate in zip(y, counts, table["step"], table["rate_from_previous"],
                                 strict=True):  # fmt: skip
        ax.text(-top / 2 - top * 0.02, yi, names[step], ha="right", va="center")
        text = f"{c:,.0f}" if yi == y[0] else f"{c:,.0f}  ({rate * 100:.0f}%)"
        ax.text(top / 2 + top * 0.02, yi, text, ha="left", va="center")
    ax.set_xlim(-top * 1.05, top * 1.05)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(t("campaigns.chart_funnel", language))
    return ax
