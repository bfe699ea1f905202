"""What a campaign without a control group may still say: an observational comparison.

With no member held back, no uplift can be measured: customers who got the message would
largely have bought anyway (a grocery's weekly shoppers "respond" at 90%). What can be said is
how recipients bought compared with *similar* customers who got no message, over the same
window. :func:`observational_effect` does this by direct standardisation:

1. The comparison pool of a campaign is every customer with a purchase in the year before its
   first send (``pool_days``) who was not a member of the campaign.
2. Recipients and pool are split into strata by their orders in the ``lookback_days`` before
   the send (0, 1, 2–3, 4 or more): pre-campaign behaviour, nothing after the send.
3. The comparison rate is the pool's response rate per stratum, weighted by the recipients'
   mix over the strata: what recipients would have done at the pool's rates.
4. The estimate is the recipients' response rate minus the comparison rate, with a normal
   interval from the binomial variances of both (strata independent). Recipients in a stratum
   the pool lacks are left out and counted.

It is an estimate, not a randomised test: recipients were chosen for a reason the strata may
not capture, so the report labels it as such and never calls it uplift.
:func:`mark_measurement` says per campaign which method measured it, or why nothing could.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from crmlib.config import check_range
from crmlib.coupons import coupon_source, unmeasured_reason
from crmlib.data import as_table, execute
from crmlib.measure import mark_column, mark_rows
from crmlib.membership import isin

__all__ = ["STRATA", "mark_measurement", "observational_effect"]

#: Upper bounds (inclusive) of the strata of orders in the look-back window; the last is open.
STRATA: tuple[int, ...] = (0, 1, 3)

_COLUMNS = [
    "campaign_id",
    "recipients_compared",
    "recipients_left_out",
    "comparison_customers",
    "recipient_rate",
    "comparison_rate",
    "estimate",
    "estimate_low",
    "estimate_high",
]


def _stratum(orders: pd.Series) -> pd.Series:
    """Stratum index of each customer's look-back order count (see :data:`STRATA`)."""
    return pd.Series(np.searchsorted(np.array(STRATA), orders.to_numpy(), side="left"),
                     index=orders.index)  # fmt: skip


def observational_effect(
    transactions: Any,
    responses: pd.DataFrame,
    *,
    response_days: float,
    as_of: pd.Timestamp,
    confidence: float = 0.95,
    lookback_days: int = 90,
    pool_days: int = 365,
) -> pd.DataFrame:
    """Recipients against similar non-recipients, per campaign of ``responses``.

    Parameters
    ----------
    transactions
        Canonical transactions (any engine; one aggregate per campaign).
    responses
        :func:`crmlib.campaigns.member_responses` rows of the campaigns to compare (their
        target members are the recipients; every member counts as one, whatever the group).
    response_days
        The response window after the send.
    as_of
        Report day: nothing after its end is read.
    confidence
        Two-sided level of the interval.
    lookback_days, pool_days
        Days before the send that define the strata, and the pool (customers who bought in
        the ``pool_days`` before the send).

    Returns
    -------
    pandas.DataFrame
        Per campaign: ``recipients_compared`` (recipients in strata the pool has),
        ``recipients_left_out``, ``comparison_customers``, ``recipient_rate`` (response rate of
        the recipients compared), ``comparison_rate`` (standardised to the recipients' mix), ``estimate`` (recipients' rate minus the comparison rate) and its
        interval ``estimate_low`` / ``estimate_high``. NaN where nobody could be compared.
    """
    check_range("confidence", confidence, low=0, high=1, low_inclusive=False, high_inclusive=False)
    tx = as_table(transactions)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for campaign_id, members in responses.groupby("campaign_id", sort=True):
        sent = pd.Timestamp(members["sent_at"].min())
        close = min(sent + pd.Timedelta(days=float(response_days)), end)
        per = _customer_windows(tx, sent, close, lookback_days=lookback_days, pool_days=pool_days)
        recipients = members.drop_duplicates("customer_id").set_index("customer_id")
        rec_prior = per["prior"].reindex(recipients.index).fillna(0)
        rec = pd.DataFrame(
            {"stratum": _stratum(rec_prior), "responded": recipients["responded"].astype(bool)}
        )
        pool = per[(per["active"] > 0) & ~isin(per.index, recipients.index)]
        pool_by = (
            pd.DataFrame({"stratum": _stratum(pool["prior"]), "responded": pool["responses"] > 0})
            .groupby("stratum")["responded"]
            .agg(["sum", "count"])
        )
        covered = rec["stratum"].isin(pool_by.index)
        rows.append(_standardise(campaign_id, rec[covered], int((~covered).sum()), pool_by, z))
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in _COLUMNS})
    return pd.DataFrame(rows, columns=_COLUMNS)


def _customer_windows(
    tx: Any, sent: pd.Timestamp, close: pd.Timestamp, *, lookback_days: int, pool_days: int
) -> pd.DataFrame:
    """Per customer around one send: look-back orders, any purchase in the pool window, and
    purchases in the response window (one aggregate on the engine)."""

    def at(day: pd.Timestamp) -> Any:
        return ibis.literal(day.to_pydatetime(), type="timestamp")

    start = sent - pd.Timedelta(days=pool_days)
    lookback = sent - pd.Timedelta(days=lookback_days)
    lines = tx.filter(
        tx.customer_id.notnull(),
        tx.customer_id != "",
        tx.amount.isnull() | (tx.amount >= 0),
        tx.ordered_at >= at(start),
        tx.ordered_at < at(close),
    )
    before = lines.ordered_at < at(sent)
    agg = lines.group_by("customer_id").aggregate(
        prior=lines.order_id.nunique(where=before & (lines.ordered_at >= at(lookback))),
        active=lines.count(where=before),
        responses=lines.count(where=~before),
    )
    out = execute(agg).set_index("customer_id")
    return out.astype({"prior": "int64", "active": "int64", "responses": "int64"})


def _standardise(
    campaign_id: Any, rec: pd.DataFrame, left_out: int, pool_by: pd.DataFrame, z: float
) -> dict[str, Any]:
    """One campaign's standardised comparison from recipients and per-stratum pool counts."""
    n = len(rec)
    row: dict[str, Any] = {
        "campaign_id": campaign_id,
        "recipients_compared": n,
        "recipients_left_out": left_out,
        "comparison_customers": int(pool_by["count"].sum()) if len(pool_by) else 0,
    }
    if n == 0:
        return {**row, **dict.fromkeys(_COLUMNS[4:], np.nan)}  # nothing to compare
    weights = rec["stratum"].value_counts(normalize=True)
    p = (pool_by["sum"] / pool_by["count"]).reindex(weights.index)
    m = pool_by["count"].reindex(weights.index)
    expected = float((weights * p).sum())
    observed = float(rec["responded"].mean())
    variance = float((weights**2 * p * (1 - p) / m).sum()) + observed * (1 - observed) / n
    estimate = observed - expected
    half = z * np.sqrt(variance)
    return {
        **row,
        "recipient_rate": observed,
        "comparison_rate": expected,
        "estimate": estimate,
        "estimate_low": estimate - half,
        "estimate_high": estimate + half,
    }


#: Columns a campaign without a control group cannot have (there is nobody to compare with).
_UPLIFT_COLUMNS = ["uplift", "uplift_low", "uplift_high", "relative_uplift", "control_rate",
                   "control_revenue_per_recipient", "incremental_responders",
                   "incremental_revenue"]  # fmt: skip
#: Columns of the observational comparison of a campaign without a control group.
_EFFECT_COLUMNS = ["recipients_compared", "comparison_customers", "recipient_rate",
                   "comparison_rate", "estimate", "estimate_low", "estimate_high"]  # fmt: skip


def mark_measurement(
    table: pd.DataFrame,
    responses: pd.DataFrame,
    transactions: Any,
    *,
    day: pd.Timestamp,
    response_days: float,
    confidence: float,
) -> pd.DataFrame:
    """Say per campaign how it was measured, or why it was not (crmlib.measure marks).

    ``table`` is the per-campaign table of :func:`crmlib.campaigns.campaign_response` before
    marking, ``responses`` its member responses; returns a copy with ``method``, the
    observational columns and ``why_not`` / ``why_not_detail``.

    ``method`` is ``control_group`` when members were held back, else ``observational``: the
    recipients against similar customers who got no message
    (:func:`crmlib.campaign_effect.observational_effect`, columns ``comparison_*`` and
    ``estimate*``), never an uplift. A campaign sent before the first order in the data
    (``before_data``) or whose window runs past the report day (``beyond_data``) is not
    measured: its rates are kept for the analyst but marked, and no finding quotes them.
    """
    table = table.copy()
    no_control = table["controls"].to_numpy() == 0
    table["method"] = np.where(no_control, "observational", "control_group")
    for col in _EFFECT_COLUMNS:
        table[col] = np.nan
    first = execute(as_table(transactions).aggregate(first=ibis._.ordered_at.min()))["first"][0]
    first_day = pd.Timestamp(first).normalize() if pd.notna(first) else day
    before = pd.to_datetime(table["sent_at"]).to_numpy() < first_day.to_datetime64()
    beyond = ~table["complete"].to_numpy(dtype=bool)
    if "coupon_source" in responses.attrs:
        source, why = responses.attrs["coupon_source"], responses.attrs["coupon_reason"]
    else:  # responses made without the attrs (an older or hand-built frame)
        source, why = coupon_source(transactions), unmeasured_reason()
    if source is None:  # neither redemptions nor coupon codes in the data: not 0%
        table["coupon_redemption_rate"] = np.nan
        mark_column(table, "coupon_redemption_rate", why)
    measurable = no_control & ~before & ~beyond
    if measurable.any():
        ids = table.loc[measurable, "campaign_id"]
        rec = responses[responses["campaign_id"].isin(ids) & (responses["group"] == "target")]
        found = observational_effect(transactions, rec, response_days=response_days, as_of=day,
                                     confidence=confidence).set_index("campaign_id")  # fmt: skip
        for col in _EFFECT_COLUMNS:
            table.loc[measurable, col] = table.loc[measurable, "campaign_id"].map(found[col])
    table = mark_rows(table, before, "before_data", columns=[], detail={"first": first_day})
    table = mark_rows(table, beyond & ~before, "beyond_data", columns=[])
    table = mark_rows(table, no_control & ~before & ~beyond, "no_control_group",
                      columns=_UPLIFT_COLUMNS)  # fmt: skip
    return table
