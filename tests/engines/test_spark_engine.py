"""Loading on the Spark engine (``engine: backend: spark``): cleaning by Spark with exact counts,
the same analyses as the embedded engine, clear errors, and MLlib's FP-Growth finding the same
frequent itemsets as the embedded miner."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from compare import assert_same
from scipy import sparse

from crmlib import basket, clv, rfm
from crmlib.basket.itemsets import frequent_itemsets as embedded_itemsets
from crmlib.basket.itemsets import min_basket_count
from crmlib.data import execute, load_dataset, resolve_as_of
from crmlib.data.params import resolve_params
from crmlib.data.spark import frequent_itemsets, is_spark, min_count
from crmlib.errors import ConfigError, DataError

#: Spark is started (one local[2] session per test run): part of the slow suite
pytestmark = pytest.mark.slow

#: source column names of the orders file (a POS export's own names)
SOURCE = {
    "customer_id": "member",
    "order_id": "order_no",
    "ordered_at": "ts",
    "amount": "paid",
    "quantity": "qty",
    "sku": "sku",
    "product_name": "product_name",
    "category": "category",
    "department": "department",
    "subcategory": "subcategory",
    "channel": "channel",
    "store": "store",
    "coupon_code": "coupon_code",
    "sales_rep": "sales_rep",
}


def _params(tmp: Path, **tables: Any) -> dict[str, Any]:
    return {
        "engine": {"backend": "spark", "master": "local[2]"},
        "quarantine_dir": str(tmp / "quarantine"),
        **tables,
    }


@pytest.fixture(scope="module")
def orders_file(demo_dataset: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The demo's transactions under source names as Parquet, plus eight planted rows."""
    tx = execute(demo_dataset.transactions).rename(columns=SOURCE)
    first = tx.iloc[0]
    planted = pd.DataFrame([first] * 8).reset_index(drop=True)
    planted["order_no"] = [f"P{i}" for i in range(8)]
    planted.loc[0, "order_no"] = first["order_no"]  # 0: an exact copy of row `first`
    planted.loc[1, "order_no"] = None  # 1: missing order_id
    planted.loc[2, "paid"] = math.nan  # 2: amount not a number
    planted.loc[3, "paid"] = math.inf  # 3: amount infinite
    planted.loc[4, "ts"] = pd.Timestamp("2999-01-01")  # 4: future date
    planted.loc[5, "member"] = "  "  # 5: blank member: an anonymous sale, kept
    planted.loc[6, "member"] = "NULL"  # 6: "NULL": an anonymous sale, kept
    planted.loc[7, "channel"] = "天猫旗舰店"  # 7: an alias of tmall, kept
    frame = pd.concat([tx, planted], ignore_index=True)
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    path = tmp_path_factory.mktemp("spark-orders") / "orders.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # keep NaN a NaN (pandas' own conversion would write it as null, a missing amount)
    paid = pa.array(frame["paid"].to_numpy(dtype=float), from_pandas=False)
    table = table.set_column(table.schema.get_field_index("paid"), "paid", paid)
    pq.write_table(table, path)
    return path, len(tx)


def test_cleaning_on_spark_counts_every_row(
    spark: Any, orders_file: tuple[Path, int], tmp_path: Path
) -> None:
    path, n_demo = orders_file
    params = _params(
        tmp_path, transactions={"path": str(path), "columns": SOURCE},
        cleaning={"max_date": "2100-01-01"},
    )  # fmt: skip
    ds = load_dataset(params)
    q = ds.quality.tables["transactions"]
    # read: every demo line + 8 planted; rejected: planted rows 0-4 (one reason each)
    assert q.rows_read == n_demo + 8
    assert q.rejected == {
        "duplicate_line": 1,
        "missing_order_id": 1,
        "unparseable_amount": 2,
        "future_date": 1,
    }
    assert q.kept == n_demo + 3  # planted rows 5, 6, 7
    assert is_spark(ds.transactions)
    assert int(execute(ds.transactions.count().as_table()).iloc[0, 0]) == q.kept
    kept = execute(ds.transactions.filter(ds.transactions.order_id == "P7"))
    assert kept["channel"].tolist() == ["tmall"]
    quarantine = pd.read_csv(q.quarantine_file, dtype=str, keep_default_na=False)
    assert sorted(quarantine["reason"]) == sorted(
        ["duplicate_line", "missing_order_id", "unparseable_amount", "unparseable_amount",
         "future_date"]
    )  # fmt: skip


def test_analyses_on_spark_equal_the_embedded_ones(
    spark: Any, spark_parquet: dict[str, str], demo_dataset: Any, tmp_path: Path
) -> None:
    spark.read.parquet(spark_parquet["customers"]).createOrReplaceTempView("crm_test_customers")
    params = _params(
        tmp_path, transactions={"path": spark_parquet["transactions"]},
        customers={"query": "SELECT * FROM crm_test_customers"},
    )  # fmt: skip
    ds = load_dataset(params)
    assert (
        ds.quality.tables["transactions"].kept == demo_dataset.quality.tables["transactions"].kept
    )
    assert ds.quality.tables["customers"].kept == demo_dataset.quality.tables["customers"].kept
    assert_same(rfm.rfm_table(demo_dataset.transactions), rfm.rfm_table(ds.transactions))
    day = resolve_as_of(demo_dataset.transactions, None)
    assert_same(
        clv.summary(demo_dataset.transactions, as_of=day), clv.summary(ds.transactions, as_of=day)
    )


def test_missing_path_and_failing_query_name_the_engine(spark: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.parquet")
    with pytest.raises(DataError, match=r"spark engine at local\[2\].*nowhere\.parquet"):
        load_dataset(_params(tmp_path, transactions={"path": missing}))
    with pytest.raises(DataError, match=r"query failed on the spark engine"):
        load_dataset(_params(tmp_path, transactions={"query": "SELECT * FROM no_such_table"}))


def test_spark_params_are_checked(tmp_path: Path) -> None:
    ok = resolve_params(
        {"engine": {"backend": "spark", "conf": {"spark.executor.memory": "4g"}},
         "transactions": {"path": "s3a://bucket/orders/"}}
    )  # fmt: skip
    assert ok["engine"]["master"] == "local[*]"
    assert ok["engine"]["conf"] == {"spark.executor.memory": "4g"}
    assert ok["transactions"]["path"] == "s3a://bucket/orders/"  # a URI stays as it is
    with pytest.raises(ConfigError, match="exactly one of `path`, `table` and `query`"):
        resolve_params({"engine": "spark", "transactions": {"path": "a.parquet", "table": "t"}})
    with pytest.raises(ConfigError, match="engine.url' is for backend postgres"):
        resolve_params(
            {"engine": {"backend": "spark", "url": "postgresql://u@h/d"},
             "transactions": {"table": "t"}}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="are for backend spark"):
        resolve_params({"engine": {"master": "local[2]"}, "transactions": "a.csv"})


def _pair_table(spark: Any, pairs: pd.DataFrame) -> Any:
    from crmlib.data import connect_engine

    con = connect_engine({"backend": "spark", "master": "local[2]"})
    spark.createDataFrame(pairs[["basket", "item"]].astype(str)).createOrReplaceTempView(
        "crm_test_pairs"
    )
    return con.table("crm_test_pairs")


def test_mllib_itemsets_equal_the_embedded_miner(spark: Any, demo_dataset: Any) -> None:
    pairs = basket.baskets(demo_dataset.transactions)  # distinct (basket, item), computed once
    support, max_len = 0.002, 3
    # the embedded miner on the incidence matrix of the same pairs
    b_codes, _ = pd.factorize(pairs["basket"])
    i_codes, items = pd.factorize(pairs["item"])
    x = sparse.csr_matrix(
        (np.ones(len(pairs), dtype=np.int32), (b_codes, i_codes)),
        shape=(b_codes.max() + 1, len(items)),
    )
    n = x.shape[0]
    need = min_basket_count(support, n)
    assert min_count(support, n) == need
    counts, found = embedded_itemsets(x, min_count=need, max_len=max_len)
    expected = {(str(items[i]),): int(c) for i, c in enumerate(counts) if c >= need}
    for codes, n_set in found.values():
        for row, c in zip(codes, n_set, strict=True):
            expected[tuple(sorted(str(items[i]) for i in row))] = int(c)
    assert any(len(k) >= 2 for k in expected), "the demo must hold frequent pairs to compare"

    got, n_spark = frequent_itemsets(
        _pair_table(spark, pairs), min_support=support, max_len=max_len
    )
    assert n_spark == n
    assert dict(zip(got["items"], got["count"].astype(int), strict=True)) == expected


def test_itemsets_refuse_a_table_off_spark(demo_dataset: Any) -> None:
    from crmlib.data import as_table

    pairs = as_table(demo_dataset.transactions).select(basket="order_id", item="sku")
    with pytest.raises(DataError, match="must live on the spark engine, not on duckdb"):
        frequent_itemsets(pairs, min_support=0.01)


def test_association_rules_on_spark_are_mined_by_mllib(
    spark_demo: dict[str, Any], demo_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the spark engine no basket travels to Python: the incidence matrix is never built,
    and the rules (no length cap, so itemsets of 3+ items count too) equal the embedded ones."""
    from crmlib.basket import associations

    options = {
        "level": "category",
        "min_support": 0.001,
        "max_len": 0,
        "significance": None,
        "min_lift": 0.0,
    }
    expected = basket.association_rules(demo_dataset.transactions, **options)
    sizes = expected["antecedents"].map(len) + expected["consequents"].map(len)
    assert sizes.max() >= 4, "the demo categories must hold itemsets of 4 items to compare"

    def no_incidence(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the baskets were pulled into Python on the spark engine")

    monkeypatch.setattr(associations, "incidence", no_incidence)
    got = basket.association_rules(spark_demo["transactions"], **options)
    assert_same(expected, got, "association rules mined by Spark MLlib")
