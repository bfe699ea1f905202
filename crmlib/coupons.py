"""Coupon redemption: where the data records it, and the redemptions of each campaign member.

A redemption is measured from the ``coupon_redemptions`` table when the data has one (customer,
coupon code or campaign, redeemed_at), else from the coupon codes on order lines; when neither
exists it is not measured, and the reports say so instead of showing 0%. Numbers only: the
words are in :mod:`crmlib.present.campaigns`.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from crmlib.data import as_table, execute
from crmlib.measure import NotMeasured, not_measured

__all__ = ["SOURCES", "coupon_source", "member_redemptions", "unmeasured_reason"]

#: Where redemptions come from, in order of preference.
SOURCES: tuple[str, ...] = ("coupon_redemptions", "coupon_code")


def coupon_source(transactions: Any, redemptions: Any = None) -> str | None:
    """Where coupon redemption can be measured from, or None when it cannot.

    Parameters
    ----------
    transactions
        Canonical transactions.
    redemptions
        Canonical ``coupon_redemptions``, or None when the data has no such table.

    Returns
    -------
    str or None
        ``"coupon_redemptions"`` when that table has a row, else ``"coupon_code"`` when some
        order line carries a coupon code, else None.
    """
    if redemptions is not None:
        r = as_table(redemptions, table="coupon_redemptions")
        if int(execute(r.aggregate(n=r.count()))["n"].iloc[0]) > 0:
            return "coupon_redemptions"
    tx = as_table(transactions)
    coded = tx.coupon_code.notnull() & (tx.coupon_code.strip() != "")
    # one coded line settles it: the engine stops at the first instead of counting 10M lines
    return "coupon_code" if len(execute(tx.filter(coded).select("coupon_code").limit(1))) else None


def unmeasured_reason(redemptions: Any = None) -> NotMeasured:
    """The reason coupon redemption is not measured (for :func:`coupon_source` None)."""
    if redemptions is not None:
        return not_measured("no_data")
    return not_measured("column_not_mapped", table="transactions", column="coupon_code")


def member_redemptions(members: ir.Table, redemptions: Any, *, response_seconds: int) -> ir.Table:
    """Redemptions per campaign member within the response window (an Ibis expression).

    Parameters
    ----------
    members
        Campaign members with ``campaign_id, customer_id, group, sent_at`` and
        ``campaign_code`` (the campaign's coupon code, null when it has none).
    redemptions
        Canonical ``coupon_redemptions``. A row belongs to a campaign when its ``campaign_id``
        names it, or, without a campaign id, when its ``coupon_code`` is the campaign's code.
    response_seconds
        Length of the window after ``sent_at`` in seconds.

    Returns
    -------
    ibis.expr.types.Table
        ``campaign_id, customer_id, group, sent_at, redemptions`` for members with at least one
        redemption in ``[sent_at, sent_at + window)``.
    """
    r = as_table(redemptions, table="coupon_redemptions").select(
        r_customer="customer_id", r_campaign="campaign_id", r_code="coupon_code",
        redeemed_at="redeemed_at",
    )  # fmt: skip
    same_campaign = ibis.ifelse(
        r.r_campaign.notnull(),
        r.r_campaign == members.campaign_id,
        r.r_code.notnull() & (r.r_code == members.campaign_code),
    )
    j = members.join(
        r,
        [
            members.customer_id == r.r_customer,
            r.redeemed_at >= members.sent_at,
            r.redeemed_at < members.sent_at + ibis.interval(seconds=response_seconds),
            same_campaign.fill_null(False),
        ],
    )
    return j.group_by(["campaign_id", "customer_id", "group", "sent_at"]).aggregate(
        redemptions=j.count()
    )
