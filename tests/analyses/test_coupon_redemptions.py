"""Coupon redemption from a ``coupon_redemptions`` table, from coupon codes on orders, or
declared unmeasured: never 0% for what the data does not record."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from crmlib import campaigns as cp
from crmlib import coupons
from crmlib.data import load_dataset
from crmlib.kpis import kpi_table
from crmlib.present import campaigns as words

#: Campaign C (code SPRING) sent 1 March to r1-r4, all of whom buy something in the window.
TX = pd.DataFrame(
    {
        "customer_id": ["r1", "r2", "r3", "r4", "r1", "r2", "r3", "r4"],
        "order_id": ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"],
        "ordered_at": pd.to_datetime(["2024-01-05"] * 4 + ["2024-03-03"] * 4),
        "amount": [10.0] * 8,
    }
)
CAMPAIGNS = pd.DataFrame(
    {
        "campaign_id": ["C", "D"],
        "name": ["Spring mail", "Other"],
        "coupon_code": ["SPRING", "OTHER"],
        "starts_at": pd.to_datetime(["2024-03-01", "2024-03-01"]),
    }
)
MEMBERS = pd.DataFrame(
    {
        "campaign_id": ["C"] * 4,
        "customer_id": ["r1", "r2", "r3", "r4"],
        "group": ["target"] * 4,
        "sent_at": pd.to_datetime(["2024-03-01"] * 4),
    }
)
#: r1 redeems C by campaign id on day 2; r3 by C's code on day 5; r4 C's code on day 20 (after
#: the 14-day window); r2 redeems campaign D's code; r5 is no member of C.
REDEMPTIONS = pd.DataFrame(
    {
        "customer_id": ["r1", "r3", "r4", "r2", "r5"],
        "campaign_id": ["C", None, None, None, "C"],
        "coupon_code": [None, "SPRING", "SPRING", "OTHER", None],
        "redeemed_at": pd.to_datetime(
            ["2024-03-02", "2024-03-05", "2024-03-20", "2024-03-03", "2024-03-02"]
        ),
    }
)


def _response(**kw) -> pd.DataFrame:
    return cp.campaign_response(CAMPAIGNS, MEMBERS, TX, response_days=14, as_of="2024-03-31", **kw)


def test_redemptions_are_counted_per_campaign_within_the_window():
    """Hand count: r1 (by campaign id) and r3 (by code) inside the window; 2 of 4 = 50%."""
    responses = cp.member_responses(MEMBERS, TX, campaigns=CAMPAIGNS, response_days=14,
                                    as_of="2024-03-31", redemptions=REDEMPTIONS)  # fmt: skip
    assert responses.attrs["coupon_source"] == "coupon_redemptions"
    got = responses.set_index("customer_id")["coupon_orders"].to_dict()
    assert got == {"r1": 1, "r2": 0, "r3": 1, "r4": 0}
    row = _response(redemptions=REDEMPTIONS).set_index("campaign_id").loc["C"]
    assert row["coupon_orders"] == 2
    assert row["coupon_redemption_rate"] == pytest.approx(0.5)


def test_without_redemptions_or_codes_redemption_is_not_measured():
    """No table and no coupon code on an order: NaN with the column to map, and the words."""
    response = _response()
    assert math.isnan(response.set_index("campaign_id").loc["C", "coupon_redemption_rate"])
    why = response.attrs["not_measured"]["coupon_redemption_rate"]
    assert why.reason == "column_not_mapped" and why.detail["column"] == "coupon_code"
    text = words.campaign_findings(response, language="en")
    assert "coupon_code" in text and "0.00%" not in text
    empty = REDEMPTIONS.iloc[0:0]
    assert coupons.coupon_source(TX, empty) is None
    assert _response(redemptions=empty).attrs["not_measured"]["coupon_redemption_rate"].reason == (
        "no_data"
    )


def test_codes_on_orders_are_the_fallback():
    """With codes on orders and no redemptions table, an order with C's code is a redemption."""
    tx = TX.assign(coupon_code=[None] * 4 + ["SPRING", None, None, "OTHER"])
    assert coupons.coupon_source(tx) == "coupon_code"
    response = cp.campaign_response(CAMPAIGNS, MEMBERS, tx, response_days=14, as_of="2024-03-31")
    assert response.set_index("campaign_id").loc["C", "coupon_redemption_rate"] == 0.25


def test_a_redemptions_file_is_loaded_mapped_and_measured_by_the_kpis(tmp_path):
    """The table goes through the data contract: mapped columns, dates, and the KPI uses it."""
    (tmp_path / "tx.csv").write_text(
        "cust,order,at,value\n"
        + "".join(f"r{i},o{i}{m},2023-{m:02d}-10 12:00,10\n" for i in range(1, 5)
                  for m in range(1, 13))
        + "".join(f"r{i},p{i},2024-03-03 12:00,10\n" for i in range(1, 5)),
        encoding="utf-8",
    )  # fmt: skip
    CAMPAIGNS.to_csv(tmp_path / "campaigns.csv", index=False)
    MEMBERS.to_csv(tmp_path / "members.csv", index=False)
    REDEMPTIONS.rename(columns={"customer_id": "member", "redeemed_at": "used"}).to_csv(
        tmp_path / "redeemed.csv", index=False
    )
    data = load_dataset(
        {
            "transactions": {
                "path": str(tmp_path / "tx.csv"),
                "columns": {
                    "customer_id": "cust",
                    "order_id": "order",
                    "ordered_at": "at",
                    "amount": "value",
                },
            },
            "campaigns": {"path": str(tmp_path / "campaigns.csv")},
            "campaign_members": {"path": str(tmp_path / "members.csv")},
            "coupon_redemptions": {
                "path": str(tmp_path / "redeemed.csv"),
                "columns": {"customer_id": "member", "redeemed_at": "used"},
            },
            "cache_dir": str(tmp_path / "cache"),
            "quarantine_dir": str(tmp_path / "quarantine"),
        }  # fmt: skip
    )
    assert data.has("coupon_redemptions")
    table = kpi_table(data, as_of="2024-03-31", period="month")
    row = table.set_index("kpi").loc["coupon_redemption"]
    assert row["value"] == pytest.approx(0.5)
    assert not row["why_not"]
