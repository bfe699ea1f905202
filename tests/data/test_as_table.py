"""as_table applies the loader's rules: anonymous customer ids and time-zone-aware timestamps."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from crmlib import kpis, rfm
from crmlib.data import as_table, execute, load_dataset
from crmlib.errors import DataError


def _tx(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


# --- one rule for anonymous sales (issue 19, item 4) -----------------------------------------


def test_a_blank_customer_id_is_an_anonymous_sale_in_the_kpis_as_in_rfm():
    # one member "a" and one sale with a blank id, 100 each, in March 2024
    tx = _tx([("a", "1", "2024-03-01 10:00", 100.0), (" ", "2", "2024-03-02 10:00", 100.0)])
    march = kpis.period_bounds("2024-03-31", period="month")
    values = kpis.kpi_values(tx, period=march)
    assert values["customers"] == 1  # only "a"; the blank id is no customer
    assert values["active_customers"] == 1
    assert values["member_share"] == pytest.approx(0.5)  # member revenue 100 / all 200
    assert values["purchase_frequency"] == pytest.approx(1.0)  # 1 member order / 1 member
    share = rfm.member_share(tx, as_of="2024-03-31").set_index("buyer")
    assert share.loc["member", "share_revenue"] == pytest.approx(0.5)  # the same 100 / 200


def test_as_table_applies_the_loaders_anonymous_values_and_trims_ids():
    # the loader's cleaning.missing_customer_values, compared trimmed and case-insensitively
    ids = [
        "",
        "   ",
        "0",
        "NULL",
        "null",
        "None",
        "-",
        "NA",
        "N/A",
        "nan",
        "nil",
        None,
        " C1 ",
        "C2",
    ]
    tx = _tx([(c, str(i), "2024-03-05", 1.0) for i, c in enumerate(ids)])
    got = execute(as_table(tx))["customer_id"]
    assert got.isna().sum() == 12  # all but the last two
    assert got.dropna().tolist() == ["C1", "C2"]


def test_missing_customer_values_can_be_given():
    tx = _tx(
        [
            ("0", "1", "2024-03-05", 1.0),
            ("x", "2", "2024-03-05", 1.0),
            (" ", "3", "2024-03-05", 1.0),
        ]
    )
    got = execute(as_table(tx, missing_customer_values=["x"]))["customer_id"]
    assert got.tolist()[0] == "0" and got.iloc[1:].isna().all()  # a blank id stays anonymous


def test_a_loaded_table_keeps_the_ids_its_loader_made(tmp_path):
    """The loader's own missing values decide: with ``guest`` as the only one, ``0`` is a
    customer in the analyses as in the loaded table (as_table does not apply its defaults)."""
    (tmp_path / "tx.csv").write_text(
        "customer_id,order_id,ordered_at,amount\n0,1,2024-03-05,10\nguest,2,2024-03-05,30\n",
        encoding="utf-8",
    )
    data = load_dataset({"transactions": {"path": str(tmp_path / "tx.csv")},
                         "cleaning": {"missing_customer_values": ["guest"]},
                         "cache_dir": str(tmp_path / "cache"),
                         "quarantine_dir": str(tmp_path / "quarantine")})  # fmt: skip
    ids = execute(as_table(data.transactions))["customer_id"]
    assert ids.iloc[0] == "0" and pd.isna(ids.iloc[1])
    share = rfm.member_share(data.transactions, as_of="2024-03-05").set_index("buyer")
    assert share.loc["member", "share_revenue"] == pytest.approx(0.25)  # "0": 10 of 40
    # naming the values still applies them
    named = execute(as_table(data.transactions, missing_customer_values=["0"]))["customer_id"]
    assert named.isna().all()


def test_the_anonymous_rule_applies_to_ibis_tables_and_other_tables():
    con = ibis.duckdb.connect()
    con.raw_sql(
        "CREATE TABLE m AS SELECT * FROM (VALUES ('k1', ' c7 ', 'target'), ('k1', 'NULL', 'control'))"
        ' AS t(campaign_id, customer_id, "group")'
    )
    got = execute(as_table(con.table("m"), table="campaign_members"))["customer_id"]
    assert got.iloc[0] == "c7" and pd.isna(got.iloc[1])


def test_a_table_as_table_returned_is_given_back_as_it_is():
    t = as_table(_tx([("a", "1", "2024-03-05", 1.0)]))
    assert as_table(t) is t
    some = t.filter(t.amount > 0)
    assert as_table(some) is some  # rows filtered from a canonical table are canonical
    assert as_table(t.mutate(customer_id=ibis.literal(" "))) is not t  # a changed one is not


# --- time-zone-aware DataFrames (issue 19, item 6) -------------------------------------------


def test_an_aware_frame_is_converted_into_the_default_zone_not_read_as_utc():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "order_id": ["1", "2"],
            "ordered_at": pd.to_datetime(["2024-03-06 01:30+08:00", "2024-03-05 12:00+08:00"]),
            "amount": [50.0, 20.0],
        }
    )
    got = execute(as_table(tx))["ordered_at"].tolist()
    # +08:00 is Asia/Shanghai time (no daylight saving): the wall-clock time is kept
    assert got == [pd.Timestamp("2024-03-06 01:30"), pd.Timestamp("2024-03-05 12:00")]
    # so an analysis as of 2024-03-05 does not see a's purchase of 6 March (local time);
    # read as UTC it was 2024-03-05 17:30 and counted
    table = rfm.rfm_table(tx, as_of="2024-03-05")
    assert table["customer_id"].tolist() == ["b"]


def test_an_aware_frame_is_converted_into_the_given_zone():
    # 2024-03-06 01:30+08:00 = 2024-03-05 17:30 UTC = 18:30 in Berlin (CET, UTC+1 in March)
    tx = pd.DataFrame(
        {
            "customer_id": ["a"],
            "order_id": ["1"],
            "ordered_at": pd.to_datetime(["2024-03-06 01:30+08:00"]),
            "amount": [50.0],
        }
    )
    got = execute(as_table(tx, timezone="Europe/Berlin"))["ordered_at"].tolist()
    assert got == [pd.Timestamp("2024-03-05 18:30")]


def test_datetime_objects_with_different_offsets_are_converted():
    # 01:30+08:00 is 01:30 in Shanghai; 01:30+00:00 (UTC) is 09:30 in Shanghai
    stamps = [
        dt.datetime(2024, 3, 6, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(2024, 3, 6, 1, 30, tzinfo=dt.UTC),
    ]
    tx = pd.DataFrame(
        {"customer_id": ["a", "b"], "order_id": ["1", "2"], "amount": [1.0, 1.0]}
    ).assign(ordered_at=pd.Series(stamps, dtype=object))
    got = execute(as_table(tx))["ordered_at"].tolist()
    assert got == [pd.Timestamp("2024-03-06 01:30"), pd.Timestamp("2024-03-06 09:30")]


def test_aware_and_naive_values_in_one_column_are_refused():
    aware = dt.datetime(2024, 3, 6, 1, 30, tzinfo=dt.UTC)
    tx = pd.DataFrame(
        {"customer_id": ["a", "b"], "order_id": ["1", "2"], "amount": [1.0, 1.0]}
    ).assign(ordered_at=pd.Series([aware, dt.datetime(2024, 3, 6, 2, 0)], dtype=object))
    with pytest.raises(DataError, match=r"aware and naive.*column ordered_at, row 1"):
        as_table(tx)


def test_an_unknown_zone_is_refused():
    tx = _tx([("a", "1", "2024-03-05", 1.0)])
    with pytest.raises(DataError, match="IANA time zone.*Mars/Olympus"):
        as_table(tx, timezone="Mars/Olympus")


def test_an_aware_ibis_column_is_converted_too():
    con = ibis.duckdb.connect()
    con.raw_sql(
        "CREATE TABLE tz AS SELECT 'a' AS customer_id, '1' AS order_id, "
        "TIMESTAMPTZ '2024-03-06 01:30:00+08:00' AS ordered_at, 5.0 AS amount"
    )
    got = execute(as_table(con.table("tz")))["ordered_at"].tolist()
    assert got == [pd.Timestamp("2024-03-06 01:30")]


def test_naive_timestamps_are_kept_as_they_are():
    tx = _tx([("a", "1", "2024-03-06 01:30", 1.0)])
    assert execute(as_table(tx))["ordered_at"].tolist() == [pd.Timestamp("2024-03-06 01:30")]
