"""Chart of the customer profile: orders and spend per month, so a reader sees the rhythm.

Text comes from ``crmlib/labels/profile.yaml``; money in the data's currency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from crmlib.currency import current_currency
from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax

__all__ = ["history_chart"]


def history_chart(monthly: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Bars of spend per month (every month from the first to the last purchase, empty ones
    included) and a line of orders on the right axis.

    Parameters
    ----------
    monthly
        :attr:`crmlib.profile.Profile.monthly` (``month`` periods, ``orders``, ``revenue``).
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 3.6))
    months = pd.period_range(monthly["month"].min(), monthly["month"].max(), freq="M")
    full = monthly.set_index("month").reindex(months, fill_value=0)
    x = np.arange(len(full))
    ax.bar(x, full["revenue"].to_numpy(float), color=PALETTE[0], width=0.8)
    cur = current_currency()
    unit = cur.name_zh if language == "zh" else cur.symbol.strip()
    ax.set_ylabel(t("profile.axis_revenue", language, unit=unit))
    ax.set_xlabel(t("profile.axis_month", language))
    step = max(1, len(full) // 12)
    ax.set_xticks(x[::step], [str(p) for p in full.index[::step]], rotation=45, ha="right")
    right = ax.twinx()
    right.plot(x, full["orders"].to_numpy(float), color=PALETTE[3], marker="o", lw=1.5)
    right.set_ylabel(t("profile.axis_orders", language), color=PALETTE[3])
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylim(bottom=0)
    right.grid(False)
    ax.set_title(t("profile.chart_title", language))
    return ax
