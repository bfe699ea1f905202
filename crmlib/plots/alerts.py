"""Chart of the daily alert report: where today's customers stand, high value apart.

Text comes from ``crmlib/labels/alerts.yaml`` and ``crmlib/labels/lifecycle.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.plots.lifecycle import thousands
from crmlib.present.alerts import STAGES

__all__ = ["stage_chart"]


def stage_chart(states: pd.DataFrame, *, language: str = "en", ax: Axes | None = None) -> Axes:
    """Horizontal bars: customers per lifecycle stage today, high-value customers apart.

    Parameters
    ----------
    states
        Today's snapshot (:func:`crmlib.alerts.customer_states`); must not be empty.
    language
        ``"en"`` or ``"zh"``.
    ax
        Axes to draw on; a new figure when ``None``.
    """
    check_language(language)
    ax = get_ax(ax, figsize=(8, 3.6))
    counts = (
        pd.crosstab(pd.Categorical(states["stage"], categories=STAGES), states["high_value"])
        .reindex(columns=[True, False], fill_value=0)
        .iloc[::-1]
    )
    labels = [t(f"lifecycle.stage_{s}", language) for s in counts.index]
    left = np.zeros(len(counts))
    for flag, colour in ((True, PALETTE[3]), (False, PALETTE[0])):
        values = counts[flag].to_numpy()
        ax.barh(
            labels,
            values,
            left=left,
            color=colour,
            label=t("alerts.high_value" if flag else "alerts.other_customers", language),
        )
        left += values
    for y, total in enumerate(left):
        ax.text(total, y, f" {int(total):,}", va="center", fontsize=9)
    ax.set_xlabel(t("alerts.axis_customers", language))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ticks read as "0"
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_title(
        t("alerts.chart_title", language, day=states["as_of"].iloc[0].strftime("%Y-%m-%d"))
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=9, frameon=False)
    ax.margins(x=0.12)
    return ax
