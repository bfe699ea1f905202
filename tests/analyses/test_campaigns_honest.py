"""Campaigns on a real export: no control group, sent before the data, window past its end,
no coupon codes. Each is measured another way or says why not; no false claim is made."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from crmlib import campaigns as cp
from crmlib.present import campaigns as words


def _tx(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"] + " 12:00")
    )


#: Recipients r1-r4 of C (sent 1 March), none held back. In the 90 days before: r1, r2 one
#: order each, r3 none, r4 two. Within 14 days r1, r3, r4 buy. Comparison pool (bought in the
#: year before, not in C): n1, n2 one order each (n1 buys in the window), n3, n4 two (n3 buys).
TX = _tx(
    [
        ("n1", "a1", "2024-01-05", 10.0), ("n2", "a2", "2024-01-06", 10.0),
        ("n3", "a3", "2024-01-07", 10.0), ("n3", "a4", "2024-02-01", 10.0),
        ("n4", "a5", "2024-01-08", 10.0), ("n4", "a6", "2024-02-02", 10.0),
        ("r1", "b1", "2024-01-10", 10.0), ("r2", "b2", "2024-01-12", 10.0),
        ("r4", "b3", "2024-01-20", 10.0), ("r4", "b4", "2024-02-10", 10.0),
        ("n1", "c1", "2024-03-02", 10.0), ("n3", "c2", "2024-03-08", 10.0),
        ("r1", "d1", "2024-03-05", 20.0), ("r3", "d2", "2024-03-03", 20.0),
        ("r4", "d3", "2024-03-10", 20.0),
    ]
)  # fmt: skip
CAMPAIGNS = pd.DataFrame(
    {
        "campaign_id": ["B", "C", "E"],
        "name": ["Before the data", "Spring mail", "Late push"],
        "channel": ["sms"] * 3,
        "partner": [None] * 3,
        "coupon_code": [None] * 3,
        "starts_at": pd.to_datetime(["2023-12-15", "2024-03-01", "2024-03-25"]),
    }
)
MEMBERS = pd.DataFrame(
    {
        "campaign_id": ["B", "C", "C", "C", "C", "E"],
        "customer_id": ["r1", "r1", "r2", "r3", "r4", "r2"],
        "group": ["target"] * 6,
        "sent_at": pd.to_datetime(["2023-12-15"] + ["2024-03-01"] * 4 + ["2024-03-25"]),
    }
)


@pytest.fixture(scope="module")
def response() -> pd.DataFrame:
    return cp.campaign_response(CAMPAIGNS, MEMBERS, TX, response_days=14, as_of="2024-03-31")


def test_without_a_control_group_recipients_are_compared_with_similar_customers(response):
    """Hand computation (direct standardisation over orders in the 90 days before 1 March).

    r3 (no prior order) has no counterpart in the pool: left out. Compared: r1, r2 (1 order)
    and r4 (2 orders): weights 2/3 and 1/3; recipients' rate 2/3 (r1, r4). Pool rates: 1 order
    n1 yes, n2 no -> 1/2; 2 orders n3 yes, n4 no -> 1/2. Comparison rate 1/2; estimate 1/6.
    Variance 4/9*(1/4)/2 + 1/9*(1/4)/2 + (2/3)(1/3)/3 = 0.1435185.
    """
    c = response.set_index("campaign_id").loc["C"]
    assert c["method"] == "observational" and c["why_not"] == "no_control_group"
    assert math.isnan(c["uplift"]) and math.isnan(c["control_rate"])
    assert c["comparison_customers"] == 4
    assert c["comparison_rate"] == pytest.approx(0.5)
    assert (c["recipients_compared"], c["recipient_rate"]) == (3, pytest.approx(2 / 3))
    assert c["estimate"] == pytest.approx(1 / 6)
    half = 1.959963984540054 * math.sqrt(4 / 9 * 0.25 / 2 + 1 / 9 * 0.25 / 2 + 2 / 9 / 3)
    assert (c["estimate_low"], c["estimate_high"]) == pytest.approx((1 / 6 - half, 1 / 6 + half))
    assert c["response_rate"] == pytest.approx(3 / 4)  # all four recipients: r1, r3, r4


def test_campaigns_the_data_cannot_measure_are_marked_and_never_scored(response):
    by = response.set_index("campaign_id")
    assert by.loc["B", "why_not"] == "before_data"  # sent 15 Dec, the data starts 5 Jan
    assert by.loc["E", "why_not"] == "beyond_data"  # 25 Mar + 14 days runs past 31 Mar
    shown = words.display_table(response, columns=words.campaign_columns(response))
    rate = shown.set_index("Campaign ID" if "Campaign ID" in shown else shown.columns[0])
    assert list(rate.iloc[:, list(shown.columns).index("Response rate") - 1]) == [
        "–", "75.0%", "–"
    ]  # fmt: skip
    assert "lies before the first order in the data" in shown.iloc[0].tolist()[-1]
    assert "runs past the end of the data" in shown.iloc[2].tolist()[-1]


def test_findings_claim_no_control_group_and_no_zero_coupon_rate(response):
    for language in ("en", "zh"):
        text = words.campaign_findings(response, language=language)
        intro = words.section("campaigns", language=language, response=response)
        assert "measured against a control group" not in text and "设有对照组" not in text
        assert "Each campaign held back a control group" not in intro
        assert "0.00%" not in text and " 0.0%" not in text
        if language == "en":
            assert "1 campaigns held back no control group" in text
            assert "an estimate, not a randomised test" in text
            assert "**Spring mail** at +16.7 points" in text
            assert "66.7% of 3 recipients against 50.0% of comparable customers" in text
            assert "Coupon redemption: – (column coupon_code of transactions is not mapped)" in text
            assert "sent before the first order in the data (Before the data)" in text
            assert (
                "not a randomised test" in intro and "held back a control group that" not in intro
            )
        else:
            assert "观察性估计" in text and "未保留对照组" in intro
            assert "优惠券核销率：–（transactions 表的 coupon_code 列未映射）" in text
    assert not words.has_uplift(response)  # the uplift chart is not drawn


def test_with_a_control_group_the_uplift_stays():
    members = pd.concat(
        [MEMBERS, pd.DataFrame({"campaign_id": ["C", "C"], "customer_id": ["n1", "n2"],
                                "group": ["control"] * 2,
                                "sent_at": pd.to_datetime(["2024-03-01"] * 2)})],
        ignore_index=True,
    )  # fmt: skip
    response = cp.campaign_response(CAMPAIGNS, members, TX, response_days=14, as_of="2024-03-31")
    c = response.set_index("campaign_id").loc["C"]
    # targets 3/4 against control 1/2 (n1 bought): uplift 0.25
    assert c["method"] == "control_group" and c["uplift"] == pytest.approx(0.25)
    assert c["why_not"] == "" and math.isnan(c["estimate"])
    assert words.has_uplift(response)
    assert "measured against a control group" in words.campaign_findings(response)


def test_no_channel_column_is_said_not_read_as_one_channel():
    """CDNOW has no channel: 'Unknown brought 100.0% of revenue' and '100% one channel'."""
    from crmlib import channels as ch

    trends = ch.channel_trends(TX, as_of="2024-03-31")
    multi = ch.multichannel(TX, as_of="2024-03-31")
    assert not words.channels_measured(trends)
    en = words.channel_findings(trends, multi, language="en")
    assert "– (column channel of transactions is not mapped)" in en
    assert "100.0%" not in en and "Unknown" not in en
    assert "未映射" in words.channel_findings(trends, multi, language="zh")
    with_channel = ch.channel_trends(TX.assign(channel="web"), as_of="2024-03-31")
    assert words.channels_measured(with_channel)


def test_a_missing_campaigns_table_gets_a_heading_without_an_explanation():
    text = words.section("campaigns", language="en", missing=True)
    assert text.startswith("## ") and "\n" not in text and "control group" not in text


def test_members_without_a_group_column_are_recipients(tmp_path):
    """A real export lists recipients only: no group column. It loads (group is optional) and
    every member is default_group (target): the campaign is observational, and it is said."""
    from crmlib import data

    orders = tmp_path / "orders.csv"
    TX.assign(ordered_at=TX["ordered_at"].dt.strftime("%Y-%m-%d %H:%M")).to_csv(orders, index=False)
    members = tmp_path / "members.csv"
    members.write_text(
        "campaign_id,customer_id,sent_at\n"
        + "".join(f"C,{c},2024-03-01\n" for c in ("r1", "r2", "r3", "r4")),
        encoding="utf-8",
    )
    campaigns = tmp_path / "campaigns.csv"
    CAMPAIGNS[CAMPAIGNS["campaign_id"] == "C"].to_csv(campaigns, index=False)
    ds = data.load_dataset(
        {
            "transactions": {"path": str(orders)},
            "campaigns": {"path": str(campaigns)},
            "campaign_members": {"path": str(members)},
            "quarantine_dir": str(tmp_path / "q"),
            "cache_dir": str(tmp_path / "cache"),
        },
        cache=False,
    )
    assert ds.quality["campaign_members"].rejected == {}
    response = cp.campaign_response(ds.campaigns, ds.campaign_members, ds.transactions,
                                    response_days=14, as_of="2024-03-31")  # fmt: skip
    c = response.set_index("campaign_id").loc["C"]
    assert (c["targets"], c["controls"], c["method"]) == (4, 0, "observational")
    assert c["estimate"] == pytest.approx(1 / 6)  # as in the hand computation above
    assert response.attrs["members"]["group_defaulted"] == 4
    text = words.campaign_findings(response, language="en")
    assert "4 of 4 campaign members had no group and were given the default group" in text
    control = cp.campaign_response(ds.campaigns, ds.campaign_members, ds.transactions,
                                   response_days=14, as_of="2024-03-31",
                                   default_group="control")  # fmt: skip
    assert control.set_index("campaign_id").loc["C", "controls"] == 4


def test_member_services_without_levels_points_or_coupons_say_what_to_map():
    from crmlib import channels as ch

    usage = ch.service_usage(None, TX, as_of="2024-03-31")
    assert usage.empty
    en = words.service_findings(usage, language="en")
    assert en.startswith("- Member services: – (the data has no member level, points or coupon")
    assert "member_level" in words.service_findings(usage, language="zh")
