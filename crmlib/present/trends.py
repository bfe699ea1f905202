"""Words on the trends: the last complete period against a year earlier, and the revenue bridge.

The numbers come from :mod:`crmlib.trends` (:func:`crmlib.trends.period_trends`,
:func:`crmlib.trends.decompose_revenue`); the text is from ``crmlib/labels/lifecycle.yaml`` in
``language`` (``"en"`` or ``"zh"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmlib.i18n import check_language, t
from crmlib.periods import PERIODS_PER_YEAR, freq_of
from crmlib.present.format import MISSING, money, number, percent, pp, times

__all__ = ["trend_findings", "decomposition_findings", "decomposition_table", "takeaway"]


def _signed_money(value: Any) -> str:
    """A change in money with its sign: ``+¥220,096``, ``-¥14,259``; "–" when not measured."""
    text = money(value)
    return text if text == MISSING or text.startswith("-") or float(value) == 0 else f"+{text}"


def _signed_percent(value: Any) -> str:
    """A relative change with its sign: ``0.5`` -> ``"+50.0%"``; "–" when not measured."""
    text = pp(value, digits=1, sign=True)
    return text if text == MISSING else f"{text}%"


def trend_findings(trends: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on the last complete period against the same period a year earlier.

    Parameters
    ----------
    trends
        Output of :func:`crmlib.trends.period_trends`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        Markdown bullets (revenue and its change, customers and AOV change, returning share);
        a note when no earlier period is there to compare with.
    """
    check_language(language)
    done = trends[trends["complete"]]
    if done.empty:
        return "- " + t("lifecycle.finding_no_trend", language)
    cur = done["period"].max()
    freq = freq_of(trends["period"])
    ago = cur - PERIODS_PER_YEAR[freq]
    by = trends.set_index("period")
    if ago not in by.index:
        ago = cur - 1
    if ago not in by.index:
        return "- " + t("lifecycle.finding_no_trend", language)
    a, b = by.loc[ago], by.loc[cur]

    def rel(col: str) -> str:
        return _signed_percent(b[col] / a[col] - 1) if a[col] else MISSING

    lines = [
        t(
            "lifecycle.finding_trend",
            language,
            period=str(cur),
            base=str(ago),
            revenue=money(b["revenue"]),
            revenue_change=rel("revenue"),
            customers_change=rel("customers"),
            aov_change=rel("aov"),
        )
    ]
    if b["revenue"]:
        lines.append(
            t(
                "lifecycle.finding_returning",
                language,
                share=percent(b["returning_revenue"] / b["revenue"], digits=0),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def decomposition_findings(decomposition: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullet naming the revenue change and each factor's contribution.

    Parameters
    ----------
    decomposition
        Output of :func:`crmlib.trends.decompose_revenue`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    d = decomposition.set_index("factor")
    total = d.loc["revenue"]
    pct = total["current_value"] / total["base_value"] - 1 if total["base_value"] > 0 else np.nan
    parts = {
        f: _signed_money(d.loc[f, "contribution"])
        for f in ("customers", "orders_per_customer", "aov")
    }
    return "- " + t(
        "lifecycle.finding_decomposition",
        language,
        base=str(total["base_period"]),
        current=str(total["current_period"]),
        change=_signed_money(total["contribution"]),
        change_pct=_signed_percent(pct),
        customers=parts["customers"],
        frequency=parts["orders_per_customer"],
        aov=parts["aov"],
    )


def decomposition_table(decomposition: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """The revenue decomposition for the page: each driver labelled with its scope (members'
    revenue, not the summary's total), its value in both periods (named by the periods), its
    contribution in money and its share of the change as a percent.

    Parameters
    ----------
    decomposition
        Output of :func:`crmlib.trends.decompose_revenue`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        Text cells; ``attrs["note"]`` says why the split is partial when its method is not LMDI
        (``""`` otherwise).
    """
    check_language(language)
    d = decomposition.set_index("factor")
    base, current = str(d["base_period"].iloc[0]), str(d["current_period"].iloc[0])
    shown = {
        "customers": number,
        "orders_per_customer": lambda v: times(v, digits=2),
        "aov": lambda v: money(v, digits=2),
        "revenue": money,
    }
    rows = []
    for factor, write in shown.items():
        r = d.loc[factor]
        rows.append({
            t("lifecycle.factor", language): t(f"lifecycle.dec_{factor}", language),
            base: write(r["base_value"]),
            current: write(r["current_value"]),
            t("lifecycle.contribution", language): _signed_money(r["contribution"]),
            t("lifecycle.share_of_change", language): percent(r["share_of_change"], digits=0),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    method = str(d["method"].iloc[0])
    out.attrs["note"] = "" if method == "lmdi" else t(f"lifecycle.dec_method_{method}", language)
    return out


def takeaway(decomposition: pd.DataFrame, *, language: str = "en") -> str:
    """The page's one line: how members' revenue moved and which driver moved it most (the
    driver whose contribution goes the way of the total and is largest); ``""`` when the split
    is not measured (no change, or a period without buying members).

    Parameters
    ----------
    decomposition
        Output of :func:`crmlib.trends.decompose_revenue`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    d = decomposition.set_index("factor")
    total = d.loc["revenue"]
    if str(total["method"]) != "lmdi" or not total["base_value"] > 0:
        return ""
    up = total["contribution"] > 0
    drivers = d.loc[["customers", "orders_per_customer", "aov"], "contribution"]
    driver = (drivers if up else -drivers).idxmax()
    return t(
        "lifecycle.takeaway",
        language,
        change=_signed_percent(total["current_value"] / total["base_value"] - 1),
        base=str(total["base_period"]),
        current=str(total["current_period"]),
        driver=t(
            f"lifecycle.takeaway_{driver}_{'up' if drivers[driver] > 0 else 'down'}", language
        ),
        contribution=_signed_money(drivers[driver]),
        total=_signed_money(total["contribution"]),
    )
