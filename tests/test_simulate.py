"""The demo retailer: determinism, the data contract, planted dirt, BG/NBD and cross-sell truth.

Counts are recomputed here from the written files with plain pandas and compared with what
truth.json says was planted.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from lifetimes import BetaGeoFitter

from crmlib.config import read_yaml
from crmlib.data import SCHEMAS
from crmlib.errors import ConfigError
from crmlib.simulate import export as sim_export
from crmlib.simulate import simulate, write_demo

ROOT = Path(__file__).resolve().parents[1]
PERIOD_END = pd.Timestamp("2026-10-01")  # exclusive
CHANNELS_ZH = {"门店", "官网", "微信小程序", "天猫", "京东", "大客户", "呼叫中心"}


def _data_yaml() -> dict[str, Any]:
    return read_yaml(ROOT / "params" / "data.yaml")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def raw_tx(demo_dir: Path) -> pd.DataFrame:
    """The transactions export as text, with canonical column names."""
    cols = {v: k for k, v in _data_yaml()["transactions"]["columns"].items()}
    return _read_csv(demo_dir / "transactions.csv.gz").rename(columns=cols)


def _parse_amount(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace("¥", "", regex=False).str.replace(",", "", regex=False)
    ok = cleaned.str.fullmatch(r"-?\d+(\.\d+)?")
    return pd.to_numeric(cleaned.where(ok), errors="coerce")


def _parse_time(text: pd.Series) -> pd.Series:
    iso = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    slash = pd.to_datetime(text, format="%Y/%m/%d %H:%M", errors="coerce")
    return iso.fillna(slash)


@pytest.fixture(scope="module")
def clean_tx(raw_tx: pd.DataFrame) -> pd.DataFrame:
    """Export lines that are valid: parsed, no duplicates, in the period, known channel, non-zero."""
    tx = raw_tx.drop_duplicates().copy()
    tx["amount"] = _parse_amount(tx["amount"])
    tx["ordered_at"] = _parse_time(tx["ordered_at"])
    ok = (
        tx["amount"].notna()
        & (tx["amount"] != 0)
        & (tx["ordered_at"] < PERIOD_END)
        & tx["channel"].isin(CHANNELS_ZH)
    )
    return tx[ok]


@pytest.fixture(scope="module")
def memory() -> dict[str, Any]:
    """The session demo's tables in memory (same size, seed and config as ``demo_dir``)."""
    return simulate(customers=3_000, seed=7, config=ROOT / "params" / "simulate.yaml")


def test_same_seed_gives_identical_files(demo_dir: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again", customers=3_000, seed=7)
    names = sorted(p.name for p in demo_dir.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert "transactions.csv.gz" in names and "truth.json" in names
    for name in names:
        assert (demo_dir / name).read_bytes() == (again / name).read_bytes(), name


def test_other_seed_gives_other_data(demo_dir: Path, tmp_path: Path) -> None:
    other = write_demo(tmp_path / "other", customers=3_000, seed=8)
    a = gzip.decompress((demo_dir / "transactions.csv.gz").read_bytes())
    b = gzip.decompress((other / "transactions.csv.gz").read_bytes())
    assert a != b


def test_export_headers_match_shipped_column_map() -> None:
    sim = read_yaml(ROOT / "params" / "simulate.yaml")["export"]
    data = _data_yaml()
    assert sim["transactions_headers"] == data["transactions"]["columns"]
    assert sim["customers_headers"] == data["customers"]["columns"]


#: Contract fields the demo retailer does not simulate: its catalogue has SKU codes and one
#: category level, as many POS exports do (the loader leaves them empty, the reports say so).
NOT_SIMULATED = ("product_name", "department", "subcategory")


def test_every_canonical_field_is_present_and_filled(demo_dir: Path) -> None:
    data = _data_yaml()
    for table in ("transactions", "customers"):
        raw = _read_csv(demo_dir / f"{table}.csv.gz")
        inverse = {v: k for k, v in data[table]["columns"].items()}
        expected = [c for c in SCHEMAS[table] if c not in NOT_SIMULATED]
        assert [inverse[c] for c in raw.columns] == expected
        for col in raw.columns:
            assert (raw[col] != "").any(), (table, col)
    for table in ("touchpoints", "campaigns", "campaign_members", "events"):
        frame = pd.read_parquet(demo_dir / f"{table}.parquet")
        assert list(frame.columns) == list(SCHEMAS[table]), table
        assert len(frame) > 0
        for col in frame.columns:
            if not (table == "campaigns" and col == "partner"):
                assert frame[col].notna().all(), (table, col)
    campaigns = pd.read_parquet(demo_dir / "campaigns.parquet")
    assert campaigns["partner"].notna().any() and campaigns["partner"].isna().any()


def test_export_is_utf8_with_bom_and_chinese(demo_dir: Path, raw_tx: pd.DataFrame) -> None:
    with gzip.open(demo_dir / "transactions.csv.gz", "rb") as fh:
        head = fh.read(3)
    assert head == b"\xef\xbb\xbf"
    known = raw_tx["channel"].isin(CHANNELS_ZH)
    assert known.mean() > 0.99
    assert set(raw_tx.loc[known, "channel"]) == CHANNELS_ZH
    amounts = raw_tx["amount"]
    assert amounts.str.fullmatch(r"-?\d+\.\d{2}").mean() > 0.9
    assert amounts.str.fullmatch(r"-?¥\d{1,3}(,\d{3})*\.\d{2}").any()
    dates = raw_tx["ordered_at"]
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").mean() > 0.8
    assert dates.str.fullmatch(r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}").any()


def test_dirty_counts_match_the_file(raw_tx: pd.DataFrame, demo_truth: dict[str, Any]) -> None:
    amount = _parse_amount(raw_tx["amount"])
    when = _parse_time(raw_tx["ordered_at"])
    found = {
        "duplicate": int(raw_tx.duplicated().sum()),
        "zero_amount": int((amount == 0).sum()),
        "future_date": int((when >= PERIOD_END).sum()),
        "bad_amount": int(amount.isna().sum()),
        "unknown_channel": int((~raw_tx["channel"].isin(CHANNELS_ZH)).sum()),
    }
    assert found == demo_truth["dirty"]
    assert all(v > 0 for v in found.values())
    assert when.notna().all()
    assert (when >= pd.Timestamp("2023-01-01")).all()


def test_clean_lines_are_the_in_memory_transactions(
    clean_tx: pd.DataFrame, memory: dict[str, Any]
) -> None:
    tx = memory["transactions"]
    assert len(clean_tx) == len(tx)
    assert np.isclose(clean_tx["amount"].sum(), tx["amount"].sum())
    assert clean_tx["order_id"].nunique() == tx["order_id"].nunique()
    assert (tx["ordered_at"] >= pd.Timestamp("2023-01-01")).all()
    assert (tx["ordered_at"] < PERIOD_END).all()


def test_customers_table(demo_dir: Path, demo_truth: dict[str, Any]) -> None:
    cols = {v: k for k, v in _data_yaml()["customers"]["columns"].items()}
    cust = _read_csv(demo_dir / "customers.csv.gz").rename(columns=cols)
    assert len(cust) == demo_truth["customers"] == cust["customer_id"].nunique()
    digits = cust["phone"].str.replace(r"^\+86 ", "", regex=True).str.replace(" ", "")
    assert digits.str.fullmatch(r"1[3-9]\d{9}").all()
    assert set(cust["member_level"]) <= {"普通", "银卡", "金卡", "钻石"}
    assert cust["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    assert cust["postcode"].str.fullmatch(r"\d{6}").all()
    assert cust["source_channel"].isin(CHANNELS_ZH).all()
    assert (cust["email"] == "").any() and cust["email"].str.contains("@").any()


def test_bgnbd_repeats_match_closed_form(demo_dir: Path, demo_truth: dict[str, Any]) -> None:
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    model = BetaGeoFitter()
    model.params_ = pd.Series(demo_truth["bgnbd"])
    t_days = (PERIOD_END - truth["acquired_at"]).dt.total_seconds().to_numpy() / 86400.0
    expected = model.expected_number_of_purchases_up_to_time(t_days)
    p_none = model.probability_of_n_purchases_up_to_time(t_days, 0)
    repeats = truth["bgnbd_repeats"].to_numpy()
    n = len(repeats)
    # sampling error of the mean over customers; seasonality shifts each T only slightly
    assert abs(repeats.mean() - expected.mean()) < 4 * repeats.std() / np.sqrt(n)
    one_time = (repeats == 0).mean()
    assert abs(one_time - p_none.mean()) < 4 * np.sqrt(p_none.mean() * (1 - p_none.mean()) / n)
    assert 0.6 <= one_time <= 0.75


def test_transactions_follow_the_planted_process(
    clean_tx: pd.DataFrame, demo_dir: Path, demo_truth: dict[str, Any]
) -> None:
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    members = clean_tx[(clean_tx["customer_id"] != "") & (clean_tx["amount"] > 0)]
    # orders per member in the file equal the planted process plus campaign/follow-up orders
    orders = members.groupby("customer_id")["order_id"].nunique()
    assert orders.reindex(truth["customer_id"]).fillna(0).to_numpy().tolist() == (
        truth["orders"].tolist()
    )
    assert (truth["orders"] >= truth["bgnbd_repeats"] + 1).all()
    # one-time buyers by purchase day, the BG/NBD convention
    days = members.assign(day=members["ordered_at"].dt.normalize()).groupby("customer_id")["day"]
    frequency = days.nunique() - 1
    model = BetaGeoFitter()
    model.params_ = pd.Series(demo_truth["bgnbd"])
    t_days = (PERIOD_END - truth["acquired_at"]).dt.total_seconds().to_numpy() / 86400.0
    p_none = model.probability_of_n_purchases_up_to_time(t_days, 0).mean()
    share = (frequency == 0).mean()
    assert 0.6 <= share <= 0.7
    assert p_none - 0.08 < share <= p_none + 0.01  # extra orders only lower the share
    # first order of each member is the planted acquisition
    first = members.groupby("customer_id")["ordered_at"].min()
    acquired = truth.set_index("customer_id")["acquired_at"]
    # (some dates are written without seconds)
    assert (first.sort_index() == acquired.sort_index().dt.floor("min")).all() is False or (
        (first.sort_index().dt.floor("min") == acquired.sort_index().dt.floor("min")).all()
    )
    # no member buys after the recorded dropout
    last = members.groupby("customer_id")["ordered_at"].max()
    dropped = truth.dropna(subset=["dropout_at"]).set_index("customer_id")["dropout_at"]
    assert (last.reindex(dropped.index) <= dropped).all()
    assert truth["alive_at_end"].eq(truth["dropout_at"].isna()).all()


def test_order_values_follow_gamma_gamma(memory: dict[str, Any]) -> None:
    tx = memory["transactions"]
    spend = memory["truth"]["spend"]
    members = tx[tx["customer_id"].notna() & (tx["amount"] > 0)]
    order_value = members.groupby("order_id")["amount"].sum()
    expected = spend["p"] * spend["v"] / (spend["q"] - 1)  # E[z] over customers
    # mean over orders of a Gamma-Gamma population: within 15% of the planted mean
    assert abs(order_value.mean() / expected - 1) < 0.15


def test_anonymous_sales_and_returns(memory: dict[str, Any]) -> None:
    tx = memory["transactions"]
    assert abs(tx["customer_id"].isna().mean() - 0.08) < 0.015
    returns = tx[tx["amount"] < 0]
    assert abs(len(returns) / len(tx) - 0.02) < 0.006
    sales = tx[tx["amount"] > 0].copy()
    sales["return_id"] = "R" + sales["order_id"]
    matched = returns.merge(
        sales[["return_id", "sku", "amount", "ordered_at"]],
        left_on=["order_id", "sku"],
        right_on=["return_id", "sku"],
        suffixes=("", "_sale"),
    )
    assert len(matched) == len(returns)
    assert np.allclose(matched["amount"], -matched["amount_sale"])
    assert (matched["ordered_at"] > matched["ordered_at_sale"]).all()
    assert (returns["quantity"] < 0).all()


def test_channels_stores_and_sales_reps(memory: dict[str, Any]) -> None:
    tx = memory["transactions"]
    expected = {"store", "web", "wechat", "tmall", "jd", "key_account", "call_centre"}
    assert set(tx["channel"]) == expected
    assert tx.loc[tx["channel"] == "store", "store"].notna().all()
    assert tx.loc[tx["channel"] != "store", "store"].isna().all()
    assert tx.loc[tx["channel"] == "key_account", "sales_rep"].str.fullmatch(r"S\d{3}").all()
    assert tx.loc[tx["channel"] != "key_account", "sales_rep"].isna().all()
    share = tx["coupon_code"].notna().mean()
    assert 0.05 < share < 0.25
    assert tx["sku"].nunique() > 300 and tx["category"].nunique() == 8


def test_planted_sequential_pairs(clean_tx: pd.DataFrame, demo_truth: dict[str, Any]) -> None:
    members = clean_tx[(clean_tx["customer_id"] != "") & (clean_tx["amount"] > 0)]
    window = pd.Timedelta(days=demo_truth["cross_sell"]["window_days"])
    for pair in demo_truth["cross_sell"]["sequential"]:
        first = members[members["sku"] == pair["first"]][["customer_id", "ordered_at"]]
        then = members[members["sku"] == pair["then"]][["customer_id", "ordered_at"]]
        joined = first.reset_index().merge(then, on="customer_id", suffixes=("", "_b"))
        gap = joined["ordered_at_b"] - joined["ordered_at"]
        hit = joined[(gap > pd.Timedelta(0)) & (gap <= window)]["index"].nunique()
        rate = hit / len(first)
        assert rate == pytest.approx(pair["observed_rate_after_first"], abs=0.02)
        # buyers of other SKUs rarely buy B within the window
        others = members[members["sku"] != pair["first"]].sample(5_000, random_state=0)
        joined = (
            others[["customer_id", "ordered_at"]]
            .reset_index()
            .merge(then, on="customer_id", suffixes=("", "_b"))
        )
        gap = joined["ordered_at_b"] - joined["ordered_at"]
        base = joined[(gap > pd.Timedelta(0)) & (gap <= window)]["index"].nunique() / len(others)
        assert rate > pair["probability"] * 0.5
        assert rate > 5 * base


def test_planted_same_basket_pairs(clean_tx: pd.DataFrame, demo_truth: dict[str, Any]) -> None:
    lines = clean_tx[clean_tx["amount"] > 0]
    baskets = lines.groupby("order_id")["sku"].agg(set)
    for pair in demo_truth["cross_sell"]["same_basket"]:
        with_first = baskets[baskets.map(lambda s, a=pair["first"]: a in s)]
        confidence = with_first.map(lambda s, b=pair["then"]: b in s).mean()
        support = baskets.map(lambda s, b=pair["then"]: b in s).mean()
        assert confidence == pytest.approx(pair["confidence"], abs=1e-9)
        assert confidence > pair["probability"] * 0.6
        assert confidence / support > 5  # lift


def test_campaign_response_rates(
    clean_tx: pd.DataFrame, demo_dir: Path, demo_truth: dict[str, Any]
) -> None:
    members = pd.read_parquet(demo_dir / "campaign_members.parquet")
    assert set(members["group"]) == {"target", "control"}
    assert abs((members["group"] == "control").mean() - 0.10) < 0.03
    buys = clean_tx[(clean_tx["customer_id"] != "") & (clean_tx["amount"] > 0)]
    joined = members.reset_index().merge(
        buys[["customer_id", "ordered_at"]], on="customer_id", how="left"
    )
    gap = joined["ordered_at"] - joined["sent_at"]
    window = pd.Timedelta(days=demo_truth["campaigns"]["response_days"])
    # the export keeps whole seconds; sent_at too, so the window test is exact
    responded = joined[(gap >= pd.Timedelta(0)) & (gap < window)]["index"].unique()
    members["responded"] = members.index.isin(responded)
    pooled = members.groupby("group")["responded"].mean()
    assert pooled["target"] > pooled["control"]
    for planted in demo_truth["campaigns"]["list"]:
        rows = members[members["campaign_id"] == planted["campaign_id"]]
        if len(rows) == 0:
            continue
        rates = rows.groupby("group")["responded"].mean()
        assert rates.get("target", 0.0) == pytest.approx(planted["target_response_rate"], abs=0.01)
        assert rates.get("control", 0.0) == pytest.approx(
            planted["control_response_rate"], abs=0.01
        )


def test_complaints_go_with_dropout(demo_dir: Path, demo_truth: dict[str, Any]) -> None:
    touch = pd.read_parquet(demo_dir / "touchpoints.parquet")
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    complainers = set(touch.loc[touch["kind"] == "complaint", "customer_id"])
    flagged = truth["customer_id"].isin(complainers)
    assert flagged.sum() == demo_truth["complaints"]["complainers"]
    assert (flagged == truth["complained"]).all()
    assert truth.loc[flagged, "p"].mean() > truth.loc[~flagged, "p"].mean()
    kinds = {"registration", "inquiry", "activity_query", "complaint", "message_click"}
    assert set(touch["kind"]) == kinds
    assert (touch["kind"] == "registration").sum() == len(truth)


def test_funnel_conversion(demo_dir: Path, demo_truth: dict[str, Any]) -> None:
    events = pd.read_parquet(demo_dir / "events.parquet")
    counts = events["event"].value_counts()
    planted = demo_truth["funnel"]["conversion"]
    assert counts["view"] / counts["visit"] == pytest.approx(planted["visit_to_view"], abs=0.01)
    assert counts["cart"] / counts["view"] == pytest.approx(planted["view_to_cart"], abs=0.01)
    assert counts["pay"] / counts["cart"] == pytest.approx(planted["cart_to_pay"], abs=0.01)
    assert events["occurred_at"].min() >= pd.Timestamp(demo_truth["funnel"]["window_start"])


def test_truth_json_is_complete(demo_truth: dict[str, Any]) -> None:
    for key in ("bgnbd", "spend", "cross_sell", "campaigns", "complaints", "funnel", "dirty"):
        assert key in demo_truth
    assert set(demo_truth["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert len(demo_truth["cross_sell"]["sequential"]) == 3
    assert len(demo_truth["cross_sell"]["same_basket"]) == 2
    assert len(demo_truth["campaigns"]["list"]) == 8


def test_failed_write_leaves_old_demo_untouched(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "marker.txt").write_text("old")

    def broken(df: pd.DataFrame, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(sim_export, "_write_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_demo(out, customers=200, seed=1)
    assert [p.name for p in out.iterdir()] == ["marker.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_bad_parameters_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="customers"):
        simulate(customers=10)
    with pytest.raises(ConfigError, match="customers"):
        simulate(customers=2.5)  # type: ignore[arg-type]
    cfg = yaml.safe_load((ROOT / "params" / "simulate.yaml").read_text(encoding="utf-8"))
    cfg["spend"]["q"] = 0.8
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("spend.q")):
        simulate(customers=500, config=bad)
    del cfg["bgnbd"]
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="bgnbd"):
        simulate(customers=500, config=bad)
