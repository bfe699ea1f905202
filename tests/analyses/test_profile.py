"""The customer profile: a planted customer's known orders, segment, stage, campaigns and
suggestions; the clear message for an unknown id; masking; the CSV-safe export."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pandas as pd
import pytest

from crmlib import profile
from crmlib.data import load_dataset
from crmlib.errors import DataError
from crmlib.present import profile as words

pytestmark = pytest.mark.filterwarnings("ignore::crmlib.errors.CrmWarning")

PHONE = "13812345678"


def _lines() -> pd.DataFrame:
    """C0001: three orders (Jan, Feb, Mar 2024; P1, P2, P1). 40 peers C01xx buy P1 then P3 in
    June; 20 others C02xx buy only P4. So C0001's peers (the other buyers of P1 or P2) are 40,
    all of whom bought P3, as did 40 of all 61 customers."""
    rows = [
        ("C0001", "a1", "2024-01-05", "P1", "Dairy", "web", 100.0),
        ("C0001", "a2", "2024-02-10", "P2", "Bakery", "web", 200.0),
        ("C0001", "a3", "2024-03-01", "P1", "Dairy", "store", 300.0),
    ]
    for i in range(40):
        rows += [(f"C01{i:02d}", f"p{i}a", "2024-06-01", "P1", "Dairy", "web", 50.0),
                 (f"C01{i:02d}", f"p{i}b", "2024-06-02", "P3", "Coffee", "web", 50.0)]  # fmt: skip
    rows += [(f"C02{i:02d}", f"o{i}", "2024-06-05", "P4", "Tea", "web", 50.0) for i in range(20)]
    out = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "ordered_at", "sku", "category", "channel",
                       "amount"])  # fmt: skip
    out["ordered_at"] = pd.to_datetime(out["ordered_at"] + " 12:00")
    out["product_name"] = out["sku"].map({"P1": "Milk", "P2": "Rye bread", "P3": "Coffee beans",
                                          "P4": "Green tea"})  # fmt: skip
    return out


def _data() -> SimpleNamespace:
    customers = pd.DataFrame({
        "customer_id": ["C0001"], "name": ["张三"], "phone": [PHONE],
        "member_level": ['=HYPERLINK("http://example.com")'], "points": [120.0],
    })  # fmt: skip
    campaigns = pd.DataFrame({"campaign_id": ["K1"], "name": ["Spring mail"],
                              "starts_at": pd.to_datetime(["2024-02-09"])})  # fmt: skip
    members = pd.DataFrame({"campaign_id": ["K1"], "customer_id": ["C0001"], "group": ["target"],
                            "sent_at": pd.to_datetime(["2024-02-09 09:00"])})  # fmt: skip
    touch = pd.DataFrame({"customer_id": ["C0001"], "occurred_at": pd.to_datetime(["2024-04-01"]),
                          "channel": ["phone"], "kind": ["complaint"]})  # fmt: skip
    return SimpleNamespace(
        transactions=_lines(), customers=customers, campaigns=campaigns,
        campaign_members=members, touchpoints=touch, coupon_redemptions=None, events=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def planted() -> profile.Profile:
    return profile.customer_profile(_data(), "C0001", as_of="2024-06-30", min_customers=5)


def test_the_planted_customer_shows_their_known_orders(planted):
    o = planted.overview.iloc[0]
    assert (o["orders"], o["monetary"], o["recency_days"]) == (3, 600.0, 121)
    assert planted.monthly["revenue"].tolist() == [100.0, 200.0, 300.0]
    assert planted.monthly["month"].astype(str).tolist() == ["2024-01", "2024-02", "2024-03"]
    cats = planted.categories.set_index("category")["revenue"].to_dict()
    assert cats == {"Dairy": 400.0, "Bakery": 200.0}
    assert planted.channels.set_index("channel")["orders"].to_dict() == {"web": 2, "store": 1}
    got = [(int(n), d.date().isoformat()) for n, d in planted.milestones.itertuples(index=False)]
    assert got == [(2, "2024-02-10"), (3, "2024-03-01")]


def test_segment_and_stage_follow_the_rules_by_hand(planted):
    """R: 121 days against a mean of 28.5 (1,741 days / 61 customers) is low; F 3 and M 600 are above the means (1.69, 91.8):
    LHH, 'important to win back'. Stages with the 90/180-day windows: new in January, active
    to April (60 days at 30 April), at risk from May (91 days at 31 May)."""
    assert planted.rfm["cell"].iloc[0] == "LHH"
    assert planted.rfm["segment"].iloc[0] == "important_retain"
    stages = planted.stages["stage"].astype(str).tolist()
    assert stages == ["new", "active", "active", "active", "at_risk", "at_risk"]
    text = words.headline(planted, language="en")
    assert "Important to win back" in text and "At risk" in text and "121 days ago" in text


def test_campaigns_touchpoints_and_suggestions(planted):
    c = planted.campaigns.iloc[0]
    assert (c["campaign_id"], c["name"], bool(c["responded"]), c["revenue"]) == (
        "K1", "Spring mail", True, 200.0)  # fmt: skip
    assert planted.touchpoints["kind"].tolist() == ["complaint"]
    s = planted.suggestions
    assert s["sku"].tolist() == ["P3"] and s["name"].tolist() == ["Coffee beans"]
    assert s.attrs["peers"] == 40 and s["together"].iloc[0] == 40  # the other buyers of P1
    assert s["confidence"].iloc[0] == pytest.approx(1.0)
    assert s["lift"].iloc[0] == pytest.approx(1.0 / (40 / 61))


def test_value_on_parameters_the_data_cannot_pin_down_says_why_and_gives_no_interval(planted):
    """Sixty-one customers of a few orders each: the model's dropout is not identified, so the
    profile gives no interval (not a confident one) and the text says why."""
    v = planted.value.iloc[0]
    assert bool(v["hiatus_active"])  # 121 days = 17 weeks since the last order, under 26
    assert pd.isna(v["clv_low"]) and pd.isna(v["clv_high"])
    assert "cannot pin down" in words.value_text(planted, language="en")


def test_personal_fields_are_masked_unless_asked(planted):
    shown = planted.identity.set_index("field")["value"]
    assert shown["phone"] == "138****5678" and shown["name"] == "张**"
    raw = profile.customer_profile(_data(), "C0001", as_of="2024-06-30", personal=True)
    assert raw.identity.set_index("field")["value"]["phone"] == PHONE


def test_an_unknown_id_gets_the_closest_ids():
    with pytest.raises(DataError, match=r"'C0009' has no order.*did you mean 'C0001'"):
        profile.customer_profile(_data(), "C0009", as_of="2024-06-30")


def test_export_keeps_every_id_and_neutralises_formulas(tmp_path):
    path = tmp_path / "profiles.csv"
    out = profile.export_profiles(_data(), ["C0001", "NOPE"], path, as_of="2024-06-30",
                                  min_customers=5)  # fmt: skip
    assert out.attrs["counts"] == {"read": 2, "written": 1, "not_found": 1}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    level = next(r["value"] for r in rows if r["field"] == "member_level")
    assert level.startswith("'=")
    assert PHONE not in path.read_text(encoding="utf-8-sig")
    missing = [r for r in rows if r["customer_id"] == "NOPE"]
    assert len(missing) == 1 and missing[0]["section"] == "not_found"


def test_the_base_is_cached_per_data_and_day(tmp_path, monkeypatch):
    """A second profile of the same data and day reads the base from the cache folder; another
    day computes its own."""
    _lines().to_csv(tmp_path / "tx.csv", index=False)
    params = {"transactions": {"path": str(tmp_path / "tx.csv")},
              "cache_dir": str(tmp_path / "cache"),
              "quarantine_dir": str(tmp_path / "quarantine")}  # fmt: skip
    data = load_dataset(params)
    first = profile.profile_base(data, as_of="2024-06-30")
    kept = list((tmp_path / "cache" / "profile").iterdir())
    assert len(kept) == 1 and (kept[0] / "base.pkl").exists()
    with monkeypatch.context() as m:  # the second call must read, not compute
        m.setattr(profile, "_build_base", lambda *a, **k: pytest.fail("the base was recomputed"))
        again = profile.profile_base(data, as_of="2024-06-30")
    pd.testing.assert_frame_equal(first.segments, again.segments)
    assert again.model.params_ == first.model.params_
    profile.profile_base(data, as_of="2024-06-15")
    assert len(list((tmp_path / "cache" / "profile").iterdir())) == 2


def test_returns_are_not_purchases_and_open_or_control_campaigns_claim_no_response():
    """Hand-built: customer a buys in January, February, March and on 10 April; a return
    arrives on 20 December. As of 31 December the last purchase is 38 weeks back, so the hiatus
    rule (26 weeks) says inactive, whatever the return's date. Campaign C1 had a in its control
    group; C2 went out two days before the data ends, so its response is not known yet."""
    tx = pd.DataFrame({
        "customer_id": ["a"] * 5 + ["b"] * 3,
        "order_id": ["1", "2", "3", "4", "4r", "b1", "b2", "b3"],
        "ordered_at": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-03-05", "2024-04-10",
                                      "2024-12-20", "2024-01-05", "2024-02-05", "2024-12-31"]),
        "amount": [50.0, 60.0, 70.0, 80.0, -80.0, 10.0, 20.0, 30.0],
    })  # fmt: skip
    campaigns = pd.DataFrame({"campaign_id": ["C1", "C2"], "name": ["Spring", "Winter"],
                              "starts_at": pd.to_datetime(["2024-03-01", "2024-12-29"])})  # fmt: skip
    members = pd.DataFrame({"campaign_id": ["C1", "C2", "C1"], "customer_id": ["a", "a", "b"],
                            "sent_at": pd.to_datetime(["2024-03-01", "2024-12-29", "2024-03-01"]),
                            "group": ["control", "target", "target"]})  # fmt: skip
    data = SimpleNamespace(transactions=tx, customers=None, campaigns=campaigns,
                           campaign_members=members, touchpoints=None, coupon_redemptions=None,
                           events=None)  # fmt: skip
    p = profile.customer_profile(data, "a", as_of="2024-12-31")
    assert p.milestones["order_number"].tolist() == [2, 3, 4]  # the return is no 5th order
    assert p.monthly.set_index("month")["orders"].sum() == 4
    assert not bool(p.value["hiatus_active"].iloc[0])
    by_id = p.campaigns.set_index("campaign_id")
    assert by_id.loc["C2", "responded"] is None and by_id.loc["C1", "group"] == "control"
    text = words.campaigns_text(p, language="en")
    assert text.startswith("1 campaign(s) received, responded to 0")
    assert "1 of them still within the response window" in text and "control group" in text
    table = words.table(p, "campaigns", language="en").set_index("Campaign")
    assert table.loc["C2", "Responded"] == "–" and table.loc["C2", "Campaign name"] == "Winter"
