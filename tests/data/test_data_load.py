"""Loading raw exports: encodings, formats, cleaning rules, quarantine and errors.

Every case builds its own small file, so the expected values are read off the input by hand.
"""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

from crmlib import data
from crmlib.errors import ConfigError, DataError

CHANNELS = Path(__file__).resolve().parents[2] / "params" / "channels.yaml"
HEADER = "会员ID,订单号,下单时间,实付金额,渠道\n"
COLUMNS = {
    "customer_id": "会员ID",
    "order_id": "订单号",
    "ordered_at": "下单时间",
    "amount": "实付金额",
    "channel": "渠道",
}


def params(tmp_path: Path, tx: Path | dict, **cleaning) -> dict:
    """Data params for one transactions source, with caches and quarantine inside tmp_path."""
    spec = tx if isinstance(tx, dict) else {"path": str(tx), "columns": COLUMNS}
    return {
        "transactions": spec,
        "cleaning": {"channels_file": str(CHANNELS), **cleaning},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


def write(tmp_path: Path, body: str, name: str = "tx.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode(encoding))
    return path


def load(p: dict) -> tuple[pd.DataFrame, data.Dataset]:
    ds = data.load_dataset(p, cache=False)
    return data.execute(ds.transactions), ds


def quarantine(ds: data.Dataset, table: str = "transactions") -> pd.DataFrame:
    return pd.read_csv(ds.quality[table].quarantine_file, dtype=str, keep_default_na=False)


def check_counts(ds: data.Dataset, rows_in_file: int, table: str = "transactions") -> None:
    """Counts add up to the input rows and agree with the table and the quarantine file."""
    q = ds.quality[table]
    assert q.rows_read == rows_in_file
    assert q.kept + q.n_rejected == rows_in_file
    assert q.kept == len(data.execute(ds.table(table)))
    qf = quarantine(ds, table)
    assert len(qf) == q.n_rejected
    assert qf["reason"].value_counts().to_dict() == q.rejected


def test_bom_csv_headers_and_values(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes(("\ufeff" + HEADER + "C1,O1,2024-03-05 10:00:00,12.5,store\n").encode())
    tx, ds = load(params(tmp_path, path))
    assert tx[["customer_id", "order_id", "amount", "channel"]].values.tolist() == [
        ["C1", "O1", 12.5, "store"]
    ]
    assert tx["ordered_at"].iloc[0] == pd.Timestamp("2024-03-05 10:00:00")
    check_counts(ds, 1)


@pytest.mark.parametrize("gz", [False, True])
def test_gbk_csv_with_chinese_headers_is_transcoded(tmp_path, gz):
    body = (HEADER + "张三01,O1,2024-03-05,88,门店\n李四02,O2,2024-03-06,9,天猫\n").encode("gbk")
    path = tmp_path / ("tx.csv.gz" if gz else "tx.csv")
    path.write_bytes(gzip.compress(body) if gz else body)
    p = params(tmp_path, path)
    p["transactions"]["encoding"] = "gbk"
    tx, ds = load(p)
    assert tx["customer_id"].tolist() == ["张三01", "李四02"]
    assert tx["channel"].tolist() == ["store", "tmall"]
    check_counts(ds, 2)


def test_gbk_file_read_as_utf8_names_the_file_and_hints_encoding(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes((HEADER + "C1,O1,2024-03-05,88,门店\n").encode("gbk"))
    with pytest.raises(DataError) as err:
        load(params(tmp_path, path))
    assert str(path) in str(err.value)


def test_invalid_bytes_for_the_declared_encoding(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes(HEADER.encode("gbk") + b"C1,O1,2024-03-05,\xff\xff,store\n")
    p = params(tmp_path, path)
    p["transactions"]["encoding"] = "gbk"
    with pytest.raises(DataError) as err:
        load(p)
    assert str(path) in str(err.value) and "gbk" in str(err.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"¥1,234.50"', 1234.5),
        ("￥88", 88.0),
        ("1234.5元", 1234.5),
        ('"1,234.5元"', 1234.5),
        ("(12.00)", -12.0),
        ("-7.25", -7.25),
        ("RMB 30", 30.0),
        ("15", 15.0),
    ],
)
def test_amount_text_is_parsed(tmp_path, raw, expected):
    tx, ds = load(params(tmp_path, write(tmp_path, f"C1,O1,2024-03-05,{raw},store\n")))
    assert tx["amount"].tolist() == [expected]
    plain = raw.lstrip("-").replace(".", "", 1).isdigit()
    assert ds.quality["transactions"].repaired.get("amount_format", 0) == (0 if plain else 1)


def test_unparseable_amount_is_quarantined_with_the_column_in_the_reason(tmp_path):
    tx, ds = load(
        params(tmp_path, write(tmp_path, "C1,O1,2024-03-05,12,store\nC1,O2,2024-03-05,abc,store\n"))
    )
    assert tx["order_id"].tolist() == ["O1"]
    qf = quarantine(ds)
    assert qf[["source_row", "reason", "实付金额"]].values.tolist() == [
        ["2", "unparseable_amount", "abc"]
    ]
    check_counts(ds, 2)


def test_mixed_date_formats(tmp_path):
    raw = [
        "2024-03-05",
        "2024-03-05 14:22:01",
        "2024-03-05T14:22:01",
        "2024/3/5 14:22",
        "2024/03/05",
        "2024年3月5日",
        "20240305",
        "2024-03-05T06:22:00Z",
        "2024-03-05T14:22:00+08:00",
    ]
    expected = [
        "2024-03-05",
        "2024-03-05 14:22:01",
        "2024-03-05 14:22:01",
        "2024-03-05 14:22",
        "2024-03-05",
        "2024-03-05",
        "2024-03-05",
        "2024-03-05 14:22",  # 06:22 UTC is 14:22 in Asia/Shanghai
        "2024-03-05 14:22",
    ]
    body = "".join(f"C1,O{i},{r},1,store\n" for i, r in enumerate(raw))
    tx, ds = load(params(tmp_path, write(tmp_path, body)))
    assert tx["ordered_at"].tolist() == [pd.Timestamp(e) for e in expected]
    repaired = ds.quality["transactions"].repaired
    assert repaired["date_format"] == 4  # 2024/3/5 14:22, 2024/03/05, 2024年3月5日, 20240305
    assert repaired["timezone_converted"] == 2
    check_counts(ds, len(raw))


def test_timezone_of_offset_values_follows_the_params(tmp_path):
    p = params(tmp_path, write(tmp_path, "C1,O1,2024-03-05T12:00:00Z,1,store\n"))
    p["transactions"]["timezone"] = "Europe/London"
    tx, _ = load(p)
    assert tx["ordered_at"].tolist() == [pd.Timestamp("2024-03-05 12:00")]


def test_exact_duplicate_lines_dropped_counted_and_quarantined(tmp_path):
    body = (
        "C1,O1,2024-03-05,10,store\n"
        "C1,O1,2024-03-05,10,store\n"
        "C1,O1,2024-03-05,11,store\n"  # differs in amount: not a duplicate
        "C1,O1,2024-03-05,10,store\n"
    )
    path = write(tmp_path, body)
    tx, ds = load(params(tmp_path, path))
    assert tx["amount"].tolist() == [10.0, 11.0]
    qf = quarantine(ds)
    assert qf[["source_row", "reason"]].values.tolist() == [
        ["2", "duplicate_line"],
        ["4", "duplicate_line"],
    ]
    check_counts(ds, 4)
    tx_keep, ds_keep = load(params(tmp_path, path, duplicates="keep"))
    assert len(tx_keep) == 4 and ds_keep.quality["transactions"].n_rejected == 0


def test_returns_net_and_drop(tmp_path):
    path = write(tmp_path, "C1,O1,2024-03-05,100,store\nC1,O2,2024-03-06,-30,store\n")
    tx, ds = load(params(tmp_path, path))
    assert tx["amount"].sum() == 70.0
    assert ds.quality["transactions"].flagged["return"] == 1
    tx, ds = load(params(tmp_path, path, returns="drop"))
    assert tx["amount"].tolist() == [100.0]
    assert ds.quality["transactions"].rejected == {"return": 1}
    assert quarantine(ds)["source_row"].tolist() == ["2"]
    check_counts(ds, 2)


def test_zero_amounts_kept_or_quarantined(tmp_path):
    path = write(tmp_path, "C1,O1,2024-03-05,0,store\nC1,O2,2024-03-06,5,store\n")
    tx, ds = load(params(tmp_path, path))
    assert len(tx) == 2 and ds.quality["transactions"].flagged["zero_amount"] == 1
    tx, ds = load(params(tmp_path, path, zero_amounts="quarantine"))
    assert tx["order_id"].tolist() == ["O2"]
    assert ds.quality["transactions"].rejected == {"zero_amount": 1}
    check_counts(ds, 2)


def test_missing_customer_ids_are_anonymous_sales(tmp_path):
    ids = ["", " ", "0", "NULL", "null", "-", "C9", "C10"]
    body = "".join(f"{c},O{i},2024-03-05,1,store\n" for i, c in enumerate(ids))
    tx, ds = load(params(tmp_path, write(tmp_path, body)))
    assert tx["customer_id"].isna().sum() == 6
    assert tx["customer_id"].dropna().tolist() == ["C9", "C10"]
    assert ds.quality["transactions"].flagged["anonymous_sale"] == 6
    check_counts(ds, len(ids))


def test_missing_customer_id_rejects_rows_of_other_tables(tmp_path):
    tx = write(tmp_path, "C1,O1,2024-03-05,1,store\n")
    cust = tmp_path / "customers.csv"
    cust.write_text("customer_id,name\nC1,Ann\nNULL,Bob\n", encoding="utf-8")
    p = params(tmp_path, tx)
    p["customers"] = {"path": str(cust)}
    ds = data.load_dataset(p, cache=False)
    assert ds.quality["customers"].rejected == {"missing_customer_id": 1}
    assert quarantine(ds, "customers")["name"].tolist() == ["Bob"]
    check_counts(ds, 2, "customers")


def test_future_dates(tmp_path):
    body = "C1,O1,2024-03-05,1,store\nC1,O2,2024-03-31 23:59:59,1,store\nC1,O3,2024-04-01,1,store\n"
    path = write(tmp_path, body)
    tx, ds = load(params(tmp_path, path, max_date="2024-03-31"))
    assert tx["order_id"].tolist() == ["O1", "O2"]
    assert quarantine(ds)[["source_row", "reason"]].values.tolist() == [["3", "future_date"]]
    check_counts(ds, 3)
    tx, ds = load(params(tmp_path, path, max_date="2024-03-31", future_dates="keep"))
    assert len(tx) == 3 and ds.quality["transactions"].flagged["future_date"] == 1


def test_future_dates_default_to_the_load_time(tmp_path):
    tomorrow = (pd.Timestamp.now() + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    body = f"C1,O1,2024-03-05,1,store\nC1,O2,{tomorrow},1,store\n"
    tx, ds = load(params(tmp_path, write(tmp_path, body)))
    assert tx["order_id"].tolist() == ["O1"]
    assert ds.quality["transactions"].rejected == {"future_date": 1}


def test_channels_map_through_aliases(tmp_path):
    raw = [
        "门店",
        "官网",
        "微信小程序",
        "天猫",
        "京东",
        "大客户",
        "呼叫中心",
        "Store",
        "call center",
        "fax",
        "",
    ]
    expected = ["store", "web", "wechat", "tmall", "jd", "key_account", "call_centre", "store",
                "call_centre", "unknown", "unknown"]  # fmt: skip
    body = "".join(f"C1,O{i},2024-03-05,1,{c}\n" for i, c in enumerate(raw))
    path = write(tmp_path, body)
    tx, ds = load(params(tmp_path, path))
    assert tx["channel"].tolist() == expected
    repaired = ds.quality["transactions"].repaired
    assert repaired == {"channel_unknown": 1, "channel_missing": 1}  # aliases are no repair
    tx, ds = load(params(tmp_path, path, unknown_channels="quarantine"))
    assert "fax" not in tx["channel"].tolist() and len(tx) == len(raw) - 1
    assert quarantine(ds)[["reason", "渠道"]].values.tolist() == [["unknown_channel", "fax"]]
    check_counts(ds, len(raw))


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError) as err:
        load(params(tmp_path, missing))
    assert err.value.file == str(missing) and str(missing) in str(err.value)


def test_missing_required_column_names_file_and_column(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("会员ID,订单号,实付金额\nC1,O1,5\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load(params(tmp_path, path))
    assert err.value.file == str(path)
    assert err.value.column == "下单时间"
    assert "下单时间" in str(err.value) and str(path) in str(err.value)
    assert "会员ID" in str(err.value.value)  # lists the columns that were found


def test_nothing_parseable_names_file_column_row_and_value(tmp_path):
    path = write(tmp_path, "C1,O1,yesterday,5,store\nC1,O2,tomorrow,6,store\n")
    with pytest.raises(DataError) as err:
        load(params(tmp_path, path))
    e = err.value
    assert (e.file, e.column, e.row, e.value) == (str(path), "下单时间", 1, "yesterday")
    for part in (str(path), "下单时间", "row 1", "'yesterday'"):
        assert part in str(e)


def test_empty_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no data rows"):
        load(params(tmp_path, write(tmp_path, "")))


def test_duckdb_database_source_by_table_and_query(tmp_path):
    db = tmp_path / "shop.db"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE orders AS SELECT * FROM (VALUES "
            "('C1', 'O1', TIMESTAMP '2024-03-05 10:00', 12.5, '门店'), "
            "('C2', 'O2', TIMESTAMP '2024-03-06 11:00', -2.0, 'jd'), "
            "('C2', 'O3', NULL, 3.0, 'jd')) t(cust, oid, ts, paid, ch)"
        )
    cols = {
        "customer_id": "cust",
        "order_id": "oid",
        "ordered_at": "ts",
        "amount": "paid",
        "channel": "ch",
    }
    p = params(tmp_path, {"url": f"duckdb:///{db}", "table": "orders", "columns": cols})
    tx, ds = load(p)
    assert tx[["customer_id", "amount", "channel"]].values.tolist() == [
        ["C1", 12.5, "store"],
        ["C2", -2.0, "jd"],
    ]
    assert ds.quality["transactions"].rejected == {"missing_ordered_at": 1}
    check_counts(ds, 3)
    p = params(
        tmp_path,
        {"url": f"duckdb:///{db}", "query": "SELECT * FROM orders WHERE paid > 0", "columns": cols},
    )
    tx, ds = load(p)
    assert tx["order_id"].tolist() == ["O1"]  # O3 passes the query but has no date
    check_counts(ds, 2)


def test_sqlite_database_source(tmp_path):
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.execute(
            "CREATE TABLE orders (customer_id TEXT, order_id TEXT, ordered_at TEXT, amount REAL)"
        )
        con.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [("C1", "O1", "2024-03-05 10:00:00", 5.0), ("C1", "O2", "2024/3/6", 7.0)],
        )
    tx, ds = load(params(tmp_path, {"url": f"sqlite:///{db}", "table": "orders"}))
    assert tx["ordered_at"].tolist() == [
        pd.Timestamp("2024-03-05 10:00"),
        pd.Timestamp("2024-03-06"),
    ]
    assert tx["amount"].tolist() == [5.0, 7.0]
    check_counts(ds, 2)


def test_relative_url_resolves_against_the_working_directory(tmp_path, monkeypatch):
    with duckdb.connect(str(tmp_path / "rel.db")) as con:
        con.execute(
            "CREATE TABLE t AS SELECT 'C1' customer_id, 'O1' order_id, DATE '2024-01-02' ordered_at, 1 amount"
        )
    monkeypatch.chdir(tmp_path)
    tx, _ = load(params(tmp_path, {"url": "duckdb:///rel.db", "table": "t"}))
    assert tx["ordered_at"].tolist() == [pd.Timestamp("2024-01-02")]


def test_parquet_with_timezone_aware_timestamps_is_converted(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "order_id": ["O1"],
            "ordered_at": pd.to_datetime(["2024-03-05 02:00"]).tz_localize("UTC"),
            "amount": [4],
            "quantity": [2],
        }
    )
    path = tmp_path / "tx.parquet"
    frame.to_parquet(path)
    tx, _ = load(params(tmp_path, {"path": str(path)}))
    assert tx["ordered_at"].tolist() == [pd.Timestamp("2024-03-05 10:00")]
    assert tx["quantity"].tolist() == [2] and tx["amount"].tolist() == [4.0]


def test_other_tables_parse_types_and_quarantine(tmp_path):
    tx = write(tmp_path, "C1,O1,2024-03-05,1,store\n")
    cust = tmp_path / "customers.csv"
    cust.write_text(
        "customer_id,signup_at,birthday,points\n"
        'C1,2023/1/2,1990-05-06,"1,200"\n'
        "C2,not a date,1991-01-01,3\n"
        "C3,2023-01-05,,x\n",
        encoding="utf-8",
    )
    p = params(tmp_path, tx)
    p["customers"] = {"path": str(cust)}
    ds = data.load_dataset(p, cache=False)
    got = data.execute(ds.customers)
    assert got["customer_id"].tolist() == ["C1"]
    assert got["points"].tolist() == [1200.0]
    assert got["birthday"].astype(str).tolist() == ["1990-05-06"]
    assert ds.quality["customers"].rejected == {"unparseable_signup_at": 1, "unparseable_points": 1}
    check_counts(ds, 3, "customers")
    assert ds.has("customers") and not ds.has("events")


def test_canonical_schema_and_as_table_round_trip(tmp_path):
    _, ds = load(params(tmp_path, write(tmp_path, "C1,O1,2024-03-05,1,store\n")))
    assert list(ds.transactions.columns) == list(data.SCHEMAS["transactions"])
    schema = ds.transactions.schema()
    for col, dtype in data.SCHEMAS["transactions"].items():
        assert type(schema[col]) is type(ibis.dtype(dtype)), col


def test_unknown_cleaning_option_and_bad_choice_raise_config_error(tmp_path):
    path = write(tmp_path, "C1,O1,2024-03-05,1,store\n")
    with pytest.raises(ConfigError, match="retruns"):
        load(params(tmp_path, path, retruns="drop"))
    with pytest.raises(ConfigError, match="'cleaning.returns'.*'net', 'drop'.*'keep'"):
        load(params(tmp_path, path, returns="keep"))
    p = params(tmp_path, path)
    p["transactions"]["timezone"] = "Mars/Olympus"
    with pytest.raises(ConfigError, match="timezone"):
        load(p)


def test_quarantine_rows_match_an_independent_check(tmp_path):
    """Source rows and reasons in the quarantine agree with a plain pandas reading of the file."""
    body = (
        "C1,O1,2024-03-05,10,store\n"
        "C1,O2,bad,10,store\n"
        "C1,O3,2024-03-05,x,store\n"
        "C1,O1,2024-03-05,10,store\n"
        "C1,O4,2099-03-05,10,store\n"
        ",O5,2024-03-05,10,store\n"
    )
    path = write(tmp_path, body)
    _, ds = load(params(tmp_path, path, max_date="2030-01-01"))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(frame["下单时间"], errors="coerce", format="%Y-%m-%d")
    amounts = pd.to_numeric(frame["实付金额"], errors="coerce")
    expected = []
    for i, row in frame.iterrows():
        if frame.iloc[:i].eq(row).all(axis=1).any():
            expected.append([str(i + 1), "duplicate_line"])
        elif pd.isna(dates[i]):
            expected.append([str(i + 1), "unparseable_ordered_at"])
        elif pd.isna(amounts[i]):
            expected.append([str(i + 1), "unparseable_amount"])
        elif dates[i] > pd.Timestamp("2030-01-01"):
            expected.append([str(i + 1), "future_date"])
    assert quarantine(ds)[["source_row", "reason"]].values.tolist() == expected
    check_counts(ds, len(frame))


def test_demo_dirty_rows_match_the_planted_truth(demo_params, demo_truth, tmp_path):
    """The demo export plants dirty rows and records how many; cleaning must find each kind."""
    ds = data.load_dataset(demo_params, quarantine_dir=tmp_path / "q", cache=False)
    q = ds.quality["transactions"]
    dirty = demo_truth["dirty"]
    assert q.rejected == {
        "duplicate_line": dirty["duplicate"],
        "future_date": dirty["future_date"],
        "unparseable_amount": dirty["bad_amount"],
    }
    assert q.flagged["zero_amount"] == dirty["zero_amount"]
    assert q.repaired["channel_unknown"] == dirty["unknown_channel"]
    assert q.flagged["return"] == demo_truth["return_lines"]
    # the demo records coupon redemptions as coupon codes on orders, not as a table
    assert set(ds.quality.ok) == set(data.SCHEMAS) - {"coupon_redemptions"}
    channels = set(data.execute(ds.transactions.select("channel").distinct())["channel"])
    assert channels <= {
        "store",
        "web",
        "wechat",
        "tmall",
        "jd",
        "key_account",
        "call_centre",
        "unknown",
    }


def test_campaign_member_groups_map_aliases_and_quarantine_unknown_values(tmp_path):
    tx = write(tmp_path, "C1,O1,2024-03-05,1,store\n")
    members = tmp_path / "members.csv"
    members.write_text(
        "campaign_id,customer_id,group,sent_at\n"
        "K1,C1,Target,2024-03-01\n"  # canonical, other case: not a repair
        "K1,C2, treatment ,2024-03-01\n"  # alias
        "K1,C3,对照组,2024-03-01\n"  # alias
        "K1,C4,HOLDOUT,2024-03-01\n"  # alias, other case
        "K1,C5,vip,2024-03-01\n"  # unknown
        "K1,C6,control,\n",  # missing sent_at is kept (campaigns fall back to starts_at)
        encoding="utf-8",
    )
    p = params(tmp_path, tx)
    p["campaign_members"] = {"path": str(members)}
    ds = data.load_dataset(p, cache=False)
    got = data.execute(ds.campaign_members).set_index("customer_id")["group"].to_dict()
    assert got == {"C1": "target", "C2": "target", "C3": "control", "C4": "control",
                   "C6": "control"}  # fmt: skip
    q = ds.quality["campaign_members"]
    assert q.rejected == {"unknown_group": 1}
    assert q.repaired == {"group_alias": 3}
    check_counts(ds, 6, "campaign_members")
    rows = quarantine(ds, "campaign_members")
    assert rows[["source_row", "reason", "group"]].values.tolist() == [
        ["5", "unknown_group", "vip"]
    ]

    # aliases are configurable; an alias may not mean both groups
    p["cleaning"]["group_aliases"] = {"target": ["vip"], "control": []}
    ds = data.load_dataset(p, cache=False)
    assert ds.quality["campaign_members"].rejected == {"unknown_group": 3}
    assert ds.quality["campaign_members"].repaired == {"group_alias": 1}
    p["cleaning"]["group_aliases"] = {"target": ["x"], "control": ["X"]}
    with pytest.raises(ConfigError, match="group_aliases"):
        data.load_dataset(p, cache=False)


def test_repeated_customer_and_campaign_keys_are_quarantined_after_the_first(tmp_path):
    tx = write(tmp_path, "C1,O1,2024-03-05,1,store\n")
    cust = tmp_path / "customers.csv"
    cust.write_text(
        "customer_id,member_level,signup_at\n"
        "C1,gold,2023-01-01\n"
        "C2,silver,not a date\n"  # rejected for its date, so the next C2 line is the one kept
        "C1,silver,2023-02-01\n"  # same key, different line
        "C2,bronze,2023-03-01\n"
        "C1,gold,2023-01-01\n",  # exact repeat of line 1: duplicate_line comes first
        encoding="utf-8",
    )
    camp = tmp_path / "campaigns.csv"
    camp.write_text(
        "campaign_id,name,starts_at\nK1,Spring,2024-03-01\nK1,Spring again,2024-03-02\n",
        encoding="utf-8",
    )
    members = tmp_path / "members.csv"
    members.write_text(
        "campaign_id,customer_id,group,sent_at\nK1,C1,target,2024-03-01\n", encoding="utf-8"
    )
    p = params(tmp_path, tx)
    p["customers"] = {"path": str(cust)}
    p["campaigns"] = {"path": str(camp)}
    p["campaign_members"] = {"path": str(members)}
    ds = data.load_dataset(p, cache=False)

    got = data.execute(ds.customers).set_index("customer_id")["member_level"].to_dict()
    assert got == {"C1": "gold", "C2": "bronze"}
    assert ds.quality["customers"].rejected == {
        "duplicate_key": 1,
        "unparseable_signup_at": 1,
        "duplicate_line": 1,
    }
    check_counts(ds, 5, "customers")
    rows = quarantine(ds, "customers")
    assert rows[["source_row", "reason"]].values.tolist() == [
        ["2", "unparseable_signup_at"],
        ["3", "duplicate_key"],
        ["5", "duplicate_line"],
    ]

    campaigns = data.execute(ds.campaigns)
    assert campaigns[["campaign_id", "name"]].values.tolist() == [["K1", "Spring"]]
    assert ds.quality["campaigns"].rejected == {"duplicate_key": 1}
    assert quarantine(ds, "campaigns")[["source_row", "reason", "name"]].values.tolist() == [
        ["2", "duplicate_key", "Spring again"]
    ]
    check_counts(ds, 2, "campaigns")
    # the member joins one campaign row, not two
    joined = ds.campaign_members.join(ds.campaigns, "campaign_id")
    assert int(data.execute(joined.count().name("n").as_table())["n"].iloc[0]) == 1
    assert "duplicate_key" in ds.quality.to_frame()["kind"].tolist()


def test_relative_paths_of_a_params_file_are_read_from_its_project(tmp_path, monkeypatch):
    """A notebook's kernel starts in notebooks/: the default params/data.yaml and the relative
    paths in it are found in the project folder, as when run from the project root."""
    project = tmp_path / "project"
    (project / "params").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "data").mkdir()
    (project / "params" / "channels.yaml").write_bytes(CHANNELS.read_bytes())
    (project / "data" / "tx.csv").write_text(HEADER + "C1,O1,2024-03-05,12,门店\n", "utf-8")
    (project / "params" / "data.yaml").write_text(
        "transactions:\n  path: data/tx.csv\n  columns:\n"
        + "".join(f"    {k}: {v}\n" for k, v in COLUMNS.items()),
        encoding="utf-8",
    )
    monkeypatch.delenv("CRMWB_PROJECT_DIR", raising=False)
    for cwd in (project, project / "notebooks"):
        monkeypatch.chdir(cwd)
        ds = data.load_dataset("params/data.yaml", cache=False)
        assert data.execute(ds.transactions)["channel"].tolist() == ["store"]
        assert ds.source["transactions"]["path"] == str((project / "data" / "tx.csv").resolve())
        assert ds.source["quarantine_dir"] == str((project / "data" / "quarantine").resolve())
        assert ds.source["cleaning"]["channels_file"] == str(
            (project / "params" / "channels.yaml").resolve()
        )


def test_a_frame_given_to_as_table_reads_as_the_loaded_csv(tmp_path):
    # the same ids and offset times through the loader (CSV, timezone Asia/Shanghai by default)
    # and as a pandas frame with aware timestamps: the same anonymous sales, the same local times
    ids = ["", " ", "0", "NULL", "null", "-", "C9", " C10 "]
    stamps = ["2024-03-06T01:30:00+08:00", "2024-03-05T12:00:00Z"] * 4
    body = "".join(
        f"{c},O{i},{t},1,store\n" for i, (c, t) in enumerate(zip(ids, stamps, strict=True))
    )
    loaded, _ = load(params(tmp_path, write(tmp_path, body)))
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": [f"O{i}" for i in range(len(ids))],
            "ordered_at": pd.to_datetime(stamps, utc=True, format="ISO8601"),
            "amount": 1.0,
        }
    )
    got = data.execute(data.as_table(frame))
    # 01:30+08:00 is 01:30 in Shanghai; 12:00Z is 20:00 in Shanghai
    assert got["ordered_at"].tolist() == [
        pd.Timestamp("2024-03-06 01:30"), pd.Timestamp("2024-03-05 20:00")
    ] * 4  # fmt: skip
    assert got["ordered_at"].tolist() == loaded["ordered_at"].tolist()
    assert got["customer_id"].isna().tolist() == [True] * 6 + [False] * 2
    assert got["customer_id"].tolist()[6:] == ["C9", "C10"]
    assert got["customer_id"].isna().tolist() == loaded["customer_id"].isna().tolist()
    assert got["customer_id"].dropna().tolist() == loaded["customer_id"].dropna().tolist()
