"""Which KPIs the data can support for a period, and why not: the coverage rule of the KPIs.

:func:`kpi_reasons` is what :mod:`crmlib.kpis` asks before it states a value: a KPI whose window
starts before the data, or that needs a table or a column the data lacks, is not measured
(:mod:`crmlib.measure`) rather than computed from part of what it should count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from crmlib.coupons import coupon_source, unmeasured_reason
from crmlib.data import as_table, execute
from crmlib.measure import NotMeasured, not_measured

if TYPE_CHECKING:
    from crmlib.kpis import Period

__all__ = ["COVERAGE_SLACK", "TABLES", "dataset_tables", "kpi_reasons"]

#: Canonical tables a KPI may read.
TABLES: tuple[str, ...] = (
    "transactions",
    "customers",
    "touchpoints",
    "campaigns",
    "campaign_members",
    "coupon_redemptions",
    "events",
)

#: KPIs whose rate rests on the year before the trailing year (retention's base, the cohort of
#: the repeat rate), and KPIs of the trailing year; the rest are of the period itself.
_TWO_YEARS = ("repeat_rate_1y", "retention_rate", "churn_rate")
_TRAILING = ("top20_share", "campaign_response_rate", "coupon_redemption", "message_click_rate")
#: Share of a KPI's window that may precede the first order in the data (see kpi_reasons).
COVERAGE_SLACK = 1 / 12
#: KPIs that need more than the transactions: (table, KPIs).
_NEEDS = (
    ("campaign_members", ("campaign_response_rate", "coupon_redemption", "message_click_rate")),
    ("touchpoints", ("message_click_rate",)),
    ("events", ("cart_abandonment",)),
)
_PERIOD = ("active_customers", "new_customers", "revenue", "aov", "purchase_frequency",
           "member_share", "cart_abandonment")  # fmt: skip


def kpi_reasons(data: Any, *, period: Period) -> dict[str, NotMeasured]:
    """Why KPIs of ``period`` cannot be measured from ``data`` (KPI -> reason; measured ones
    are absent).

    - ``before_data``: the first order in the data comes later than the first twelfth of the
      KPI's window (the period itself; the trailing year; two years for retention, churn and
      the repeat rate), so part of what it counts is missing: a year-ago comparison from before
      the data began is not a comparison. (A shop's first order may come a little after its
      export starts, hence the twelfth: a month of a year, two or three days of a month.)
    - ``table_missing``: campaign KPIs without campaign members, clicks without touchpoints,
      cart abandonment without events.
    - ``column_not_mapped`` (or ``no_data``): coupon redemption when the data has neither
      a ``coupon_redemptions`` row nor a coupon code on an order line
      (:func:`crmlib.coupons.coupon_source`).
    """
    tabs = dataset_tables(data)
    tx = as_table(tabs["transactions"])
    row = execute(tx.aggregate(first=tx.ordered_at.min())).iloc[0]
    out: dict[str, NotMeasured] = {}
    for table, keys in _NEEDS:
        if tabs.get(table) is None:
            for key in keys:
                out.setdefault(key, not_measured("table_missing", table=table))
    if coupon_source(tx, tabs.get("coupon_redemptions")) is None:
        out.setdefault("coupon_redemption", unmeasured_reason(tabs.get("coupon_redemptions")))
    if pd.isna(row["first"]):
        return out
    first = pd.Timestamp(row["first"]).normalize()
    e1 = period.end + pd.Timedelta(days=1)
    starts = {key: e1 - pd.DateOffset(years=2) for key in _TWO_YEARS}
    starts.update({key: e1 - pd.DateOffset(years=1) for key in _TRAILING})
    starts.update({key: period.start for key in _PERIOD})
    for key, start in starts.items():
        if start + (e1 - start) * COVERAGE_SLACK < first:
            out.setdefault(key, not_measured("before_data", first=first.date().isoformat()))
    return out


def dataset_tables(data: Any) -> dict[str, Any]:
    """The tables of ``data`` by name (:data:`TABLES`; None where it has none).

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset`, or canonical transactions alone.
    """
    if hasattr(data, "transactions"):
        return {name: getattr(data, name, None) for name in TABLES}
    return {"transactions": data}
