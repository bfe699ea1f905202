"""Findings, notes, section headings and display tables of the campaigns and channels report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import campaigns as cp
from crmlib import channels as ch
from crmlib.errors import ConfigError
from crmlib.present import campaigns as pc
from crmlib.present import page


def _tx(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "amount", "channel", "coupon_code"]
    ).assign(ordered_at=lambda d: pd.to_datetime(d["ordered_at"]))


def test_findings_report_every_repaired_or_dropped_member():
    members = pd.DataFrame(
        {
            "campaign_id": ["K1", "K1", "K1", "K2", "K9", "K3"],
            "customer_id": ["a", "b", None, "c", "d", "e"],
            "group": ["target", " Control", "target", "vip", "target", "target"],
            "sent_at": pd.to_datetime(["2024-01-01", None, "2024-01-01", "2024-01-01", None,
                                       "2024-01-01"]),
        }
    )  # fmt: skip
    campaigns = pd.DataFrame({"campaign_id": ["K1", "K2"], "name": ["Spring", "Summer"],
                              "coupon_code": [None, None], "partner": [None, None],
                              "channel": ["sms", "sms"],
                              "starts_at": pd.to_datetime(["2024-01-05", "2024-01-01"])})  # fmt: skip
    tx = _tx([("a", "o1", "2024-01-02", 10.0, "web", None), ("b", "o2", "2024-01-06", 5.0, "web", None),
              ("e", "o3", "2024-01-02", 7.0, "web", None)])  # fmt: skip
    table = cp.campaign_response(campaigns, members, tx)
    text = pc.campaign_findings(table)
    assert "1 of 6 campaign members had no send time" in text
    assert "their campaign is not in the campaigns table" in text
    assert "neither target nor control" in text
    zh = pc.campaign_findings(table, language="zh")
    assert "6 名活动成员中有 1 名缺少发送时间" in zh


def test_findings_as_of_name_only_complete_campaigns_and_say_what_was_left_out():
    campaigns = pd.DataFrame({"campaign_id": ["F1", "M1", "A1"], "name": ["Feb", "March", "April"],
                              "coupon_code": [None] * 3, "partner": [None] * 3,
                              "channel": ["sms"] * 3,
                              "starts_at": pd.to_datetime(["2024-02-01", "2024-03-01",
                                                           "2024-04-01"])})  # fmt: skip
    members = pd.DataFrame(
        {
            "campaign_id": ["F1"] * 4 + ["M1"] * 2 + ["A1"] * 2,
            "customer_id": list("abcdghjk"),
            "group": ["target", "target", "control", "control", "target", "control",
                      "target", "control"],
            "sent_at": pd.to_datetime(["2024-02-01"] * 4 + ["2024-03-01"] * 2 + ["2024-04-01"] * 2),
        }
    )  # fmt: skip
    tx = _tx(
        [
            ("z", "o0", "2024-01-15", 5.0, "web", None),  # the data begins before the campaigns
            ("a", "o1", "2024-02-03", 50.0, "web", None),  # F1 target responds
            ("g", "o2", "2024-03-10", 99.0, "web", None),  # M1 target, after as_of
            ("j", "o3", "2024-04-02", 10.0, "web", None),
        ]
    )  # A1, sent after as_of
    table = cp.campaign_response(campaigns, members, tx, response_days=14, as_of="2024-03-05")
    text = pc.campaign_findings(table)
    # F1: 1/2 targets - 0/2 controls = +50.0 points; M1's window (to 2024-03-15) is open;
    # A1 (sent 2024-04-01) is not in the table at all
    assert "Best campaign: **Feb** (F1) raised the response rate by 50.0 percentage points" in text
    assert "March" not in text and "April" not in text and "100.0" not in text
    assert "1 campaigns measured against a control group" in text
    assert "1 of 2 campaigns are left out of these findings" in text and "2024-03-05" in text
    assert "2 of 8 campaign members were left out: their message was sent after" in text
    zh = pc.campaign_findings(table, language="zh")
    assert "2 个活动中有 1 个未纳入以下结论" in zh and "March" not in zh
    assert "8 名活动成员中有 2 名未纳入分析" in zh
    # nothing complete yet: no best campaign, only the note
    early = cp.campaign_response(campaigns, members, tx, response_days=14, as_of="2024-02-05")
    words = pc.campaign_findings(early)
    assert "Best campaign" not in words and "1 of 1 campaigns are left out" in words


def test_member_notes_write_counts_with_thousands_separators_and_skip_zeros():
    notes = pc.member_notes(
        {"read": 12_345, "dropped_unknown_group": 1_200, "dropped_no_send_date": 0}
    )
    assert len(notes) == 1 and "1,200" in notes[0] and "12,345" in notes[0]
    assert pc.member_notes({}) == []


def test_findings_write_data_values_as_text_not_html_or_markdown():
    hostile = "<img src=x onerror=alert(1)> **big** [x](javascript:y)"
    members = pd.DataFrame(
        {
            "campaign_id": ["K<1>"] * 4,
            "customer_id": ["a", "b", "c", "d"],
            "group": ["target", "target", "control", "control"],
            "sent_at": pd.to_datetime(["2024-01-01"] * 4),
        }
    )
    campaigns = pd.DataFrame({"campaign_id": ["K<1>"], "name": [hostile], "coupon_code": [None],
                              "partner": ["<b>Partner</b>"], "channel": ["sms"],
                              "starts_at": pd.to_datetime(["2024-01-01"])})  # fmt: skip
    tx = _tx([("z", "o0", "2023-12-20", 10.0, "<script>x</script>", None),
              ("a", "o1", "2024-01-02", 10.0, "<script>x</script>", None),
              ("b", "o2", "2024-01-03", 10.0, "<script>x</script>", None)])  # fmt: skip
    # as of 2024-01-31 the 14-day window (to 2024-01-15) has closed: the campaign is complete
    table = cp.campaign_response(campaigns, members, tx, as_of="2024-01-31")
    for language in ("en", "zh"):
        text = pc.campaign_findings(table, language=language)
        assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
        assert "K&lt;1&gt;" in text and r"\*\*big\*\*" in text and r"\[x\]" in text
    trends = ch.channel_trends(tx, as_of="2024-01-31")
    multi = ch.multichannel(tx, as_of="2024-01-31")
    channels = pc.channel_findings(trends, multi)
    assert "<script>" not in channels and "&lt;script&gt;x&lt;/script&gt;" in channels


def test_funnel_labels_and_findings_name_the_model_stages():
    names = pc.funnel_labels(model="aarrr", language="zh")
    assert set(names) == {"visit", "view", "cart", "pay"} and all(names.values())
    with pytest.raises(ConfigError, match="model"):
        pc.funnel_labels(model="abc")
    ev = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c", "d"],
            "occurred_at": pd.to_datetime(["2024-01-01"] * 8),
            "event": ["visit", "view", "cart", "pay", "visit", "view", "visit", "visit"],
        }
    )
    text = pc.funnel_findings(ch.funnel(ev), model="steps")
    # 1 of 4 visits pays; the largest drop is visit -> view (2 of 4 lost)
    assert "25.00%" in text and "50.0%" in text


def test_section_and_missing_note():
    assert pc.section("funnel") == page.section("campaigns", "funnel")
    assert pc.section("funnel", language="zh").startswith("## ")
    with pytest.raises(ConfigError, match="section"):
        pc.section("nope")
    assert pc.missing_note("events").startswith("> ")


def test_display_table_writes_rates_money_dates_and_labels():
    frame = pd.DataFrame(
        {
            "group": ["single", "multi"],
            "sent_at": pd.to_datetime(["2024-01-05", "2024-02-01"]),
            "response_rate": [0.1234, np.nan],
            "incremental_revenue": [12_345.6, -85.0],
        }
    )
    out = pc.display_table(frame, columns=["sent_at", "response_rate", "incremental_revenue"])
    assert out.iloc[:, 0].tolist() == ["2024-01-05", "2024-02-01"]
    assert out.iloc[:, 1].tolist() == ["12.3%", "–"]
    assert out.iloc[:, 2].tolist() == ["¥12,346", "-¥85"]
    zh = pc.display_table(frame, language="zh")
    assert list(zh.columns) != list(frame.columns)  # translated headers
