"""The fan chart of the monthly revenue forecast (:func:`crmlib.clv.intervals`): the expected
revenue per month with the bands in which actual revenue should fall."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from crmlib.currency import current_currency
from crmlib.i18n import check_language, t
from crmlib.plots import PALETTE, get_ax
from crmlib.present.format import money_short, why_not

__all__ = ["ForecastBands", "forecast_fan"]


class ForecastBands(Protocol):
    """What the fan chart reads of :class:`crmlib.clv.forecast.Uncertainty`."""

    @property
    def forecast(self) -> pd.DataFrame:
        """Per segment and month: ``revenue`` and ``revenue_outcome_lower/upper_<band>``."""

    @property
    def bands(self) -> tuple[float, ...]:
        """Levels of the outcome bands."""

    @property
    def why_not(self) -> Any:
        """Why there is no forecast, or None."""


def forecast_fan(
    bands: ForecastBands, *, language: str = "en", segment: str = "all", ax: Axes | None = None
) -> Axes:
    """Expected revenue per future month of ``segment`` (the base by default), with the
    outcome bands (widest lightest) in the data's currency; months by their end date when the
    forecast carries dates."""
    check_language(language)
    ax = get_ax(ax, figsize=(8, 4.5))
    table = bands.forecast
    rows = table[table["segment"] == segment] if "segment" in table.columns else table
    if rows.empty:  # say why on the chart rather than leave it blank
        reason = "" if bands.why_not is None else why_not(bands.why_not, language)
        ax.text(0.5, 0.5, t("clv.forecast_not_measured", language, reason=reason),
                ha="center", va="center", transform=ax.transAxes, wrap=True)  # fmt: skip
        ax.set_axis_off()
        return ax
    dated = rows["end"].notna().all()
    x = pd.to_datetime(rows["end"]) if dated else rows["month"]
    for alpha, band in zip((0.18, 0.3, 0.45), sorted(bands.bands, reverse=True), strict=False):
        tag = f"{round(band * 100):d}"
        ax.fill_between(
            x,
            rows[f"revenue_outcome_lower_{tag}"],
            rows[f"revenue_outcome_upper_{tag}"],
            color=PALETTE[0],
            alpha=alpha,
            linewidth=0,
            label=t("clv.forecast_band", language, band=band),
        )
    ax.plot(
        x,
        rows["revenue"],
        color=PALETTE[1],
        linewidth=2,
        label=t("clv.forecast_expected", language),
    )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: money_short(v, language, symbol="")))
    currency = current_currency().name(language)
    ax.set_ylabel(t("clv.axis_revenue_month", language, currency=currency))
    ax.set_xlabel(t("clv.axis_month", language))
    ax.set_title(t("clv.chart_forecast", language, months=int(rows["month"].max())))
    ax.legend(loc="upper right", frameon=False)
    if dated:
        ax.figure.autofmt_xdate()
    return ax
