"""Loading from a PostgreSQL engine (``engine: backend: postgres``): cleaning on the server with
exact counts, the same analyses as the embedded engine, and clear errors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pgserver
import pytest
import yaml
from compare import assert_same

from crmlib import clv, rfm
from crmlib.data import SCHEMAS, execute, load_dataset, resolve_as_of
from crmlib.data.load import check_source
from crmlib.errors import ConfigError, DataError

#: source column names of the "orders" table on the server (a POS export's own names)
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

#: a real database server is started: part of the slow suite
pytestmark = pytest.mark.slow


def _params(server: pgserver.PostgresServer, tmp: Path, **tables: Any) -> dict[str, Any]:
    return {
        "engine": {"backend": "postgres", "url": server.url},
        "quarantine_dir": str(tmp / "quarantine"),
        **tables,
    }


@pytest.fixture()
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRMWB_DATABASE_PASSWORD", pgserver.PASSWORD)
    return pgserver.PASSWORD


@pytest.fixture(scope="module")
def orders(postgres: pgserver.PostgresServer, demo_dataset: Any) -> pd.DataFrame:
    """The demo's transactions under source names in table ``orders``, plus eight planted rows."""
    tx = execute(demo_dataset.transactions).rename(columns=SOURCE)
    first = tx.iloc[0]
    planted = pd.DataFrame([first] * 8).reset_index(drop=True)
    planted["order_no"] = [f"P{i}" for i in range(8)]
    planted.loc[0, "order_no"] = first["order_no"]  # 0: an exact copy of row `first`
    planted.loc[1, "order_no"] = None  # 1: missing order_id
    planted.loc[2, "paid"] = 0.0  # 2: amount not a number (set to NaN on the server below)
    planted.loc[3, "paid"] = math.inf  # 3: amount infinite
    planted.loc[4, "ts"] = pd.Timestamp("2999-01-01")  # 4: future date
    planted.loc[5, "member"] = "  "  # 5: blank member: an anonymous sale, kept
    planted.loc[6, "member"] = "NULL"  # 6: "NULL": an anonymous sale, kept
    planted.loc[7, "channel"] = "天猫旗舰店"  # 7: an alias of tmall, kept
    frame = pd.concat([tx, planted], ignore_index=True)
    types = {SOURCE[c]: t for c, t in SCHEMAS["transactions"].items()}
    pgserver.copy_frame(postgres, "orders", frame, types)
    with postgres.connect().raw_sql("UPDATE orders SET paid = 'NaN' WHERE order_no = 'P2'"):
        pass
    frame.loc[frame["order_no"] == "P2", "paid"] = math.nan
    return frame


def test_cleaning_on_the_server_counts_every_row(
    postgres: pgserver.PostgresServer, orders: pd.DataFrame, password: str, tmp_path: Path
) -> None:
    params = _params(
        postgres, tmp_path, transactions={"table": "orders", "columns": SOURCE},
        cleaning={"max_date": "2100-01-01"},
    )  # fmt: skip
    ds = load_dataset(params)
    q = ds.quality.tables["transactions"]
    n_demo = len(orders) - 8
    # read: every demo line + 8 planted; rejected: planted rows 0-4 (one reason each)
    assert q.rows_read == n_demo + 8
    assert q.rejected == {
        "duplicate_line": 1,
        "missing_order_id": 1,
        "unparseable_amount": 2,
        "future_date": 1,
    }
    assert q.kept == n_demo + 3  # planted rows 5, 6, 7
    assert q.rows_read == q.kept + sum(q.rejected.values())
    demo_anonymous = int(orders["member"].iloc[:n_demo].isna().sum())
    assert q.flagged["anonymous_sale"] == demo_anonymous + 2
    # the cleaned table lives on the server and holds the kept rows
    assert ds.transactions._find_backends()[0][0].name == "postgres"
    assert int(execute(ds.transactions.count().as_table()).iloc[0, 0]) == q.kept
    kept = execute(ds.transactions.filter(ds.transactions.order_id == "P7"))
    assert kept["channel"].tolist() == ["tmall"]
    quarantine = pd.read_csv(q.quarantine_file, dtype=str, keep_default_na=False)
    assert sorted(quarantine["reason"]) == sorted(
        ["duplicate_line", "missing_order_id", "unparseable_amount", "unparseable_amount",
         "future_date"]
    )  # fmt: skip
    assert list(quarantine.columns[:2]) == ["source_row", "reason"]


def test_analyses_through_the_engine_equal_the_embedded_ones(
    postgres: pgserver.PostgresServer, pg_demo: dict[str, Any], demo_dataset: Any,
    password: str, tmp_path: Path,
) -> None:  # fmt: skip
    params = _params(
        postgres, tmp_path, transactions={"table": "transactions"},
        customers={"query": "SELECT * FROM customers"},
    )  # fmt: skip
    ds = load_dataset(params)
    duck = demo_dataset.quality.tables["transactions"]
    assert ds.quality.tables["transactions"].kept == duck.kept
    assert ds.quality.tables["customers"].kept == demo_dataset.quality.tables["customers"].kept
    assert_same(rfm.rfm_table(demo_dataset.transactions), rfm.rfm_table(ds.transactions))
    day = resolve_as_of(demo_dataset.transactions, None)
    assert_same(
        clv.summary(demo_dataset.transactions, as_of=day), clv.summary(ds.transactions, as_of=day)
    )


def test_wrong_password_names_engine_and_host_not_the_password(
    postgres: pgserver.PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRMWB_DATABASE_PASSWORD", "not-the-password-42")
    with pytest.raises(DataError) as err:
        load_dataset(_params(postgres, tmp_path, transactions={"table": "orders"}))
    text = str(err.value)
    assert "postgres engine at 127.0.0.1" in text and str(postgres.port) in text
    assert "password authentication failed" in text
    assert "not-the-password-42" not in text


def test_unreachable_server(tmp_path: Path, password: str) -> None:
    server = pgserver.PostgresServer(bindir=Path("."), folder=tmp_path, port=pgserver._free_port())
    with pytest.raises(DataError, match=rf"postgres engine at 127\.0\.0\.1:{server.port}"):
        load_dataset(_params(server, tmp_path, transactions={"table": "orders"}))


def test_missing_table_and_failing_query(
    postgres: pgserver.PostgresServer, password: str, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"127\.0\.0\.1.*no readable table 'no_such_orders'"):
        load_dataset(_params(postgres, tmp_path, transactions={"table": "no_such_orders"}))
    with pytest.raises(DataError, match=r"query failed on the postgres engine at 127\.0\.0\.1"):
        load_dataset(
            _params(postgres, tmp_path, transactions={"query": "SELECT * FROM nowhere_at_all"})
        )
    report = check_source(_params(postgres, tmp_path, transactions={"table": "no_such_orders"}))
    assert report.fatal and "no_such_orders" in report.fatal[0]


def test_engine_params_are_checked(tmp_path: Path) -> None:
    base = {"transactions": {"table": "orders"}}
    with pytest.raises(ConfigError, match="must not hold a password"):
        load_dataset({"engine": {"backend": "postgres", "url": "postgresql://u:pw@h/db"}, **base})
    with pytest.raises(ConfigError, match="engine.url' is for backend postgres"):
        load_dataset({"engine": {"backend": "spark", "url": "postgresql://u@h/db"}, **base})
    with pytest.raises(ConfigError, match="engine.backend"):
        load_dataset({"engine": {"backend": "oracle"}, **base})
    with pytest.raises(ConfigError, match="exactly one of `table` and `query`"):
        load_dataset({"engine": {"backend": "postgres", "url": "postgresql://u@h/db"},
                      "transactions": {"query": "SELECT 1", "table": "x"}})  # fmt: skip


def test_cli_validate_exits_2_without_the_password(
    postgres: pgserver.PostgresServer, orders: pd.DataFrame, tmp_path: Path
) -> None:
    params = tmp_path / "data.yaml"
    params.write_text(
        yaml.safe_dump(_params(postgres, tmp_path, transactions={"table": "no_such_orders"})),
        encoding="utf-8",
    )
    env = {"CRMWB_DATABASE_PASSWORD": "wrong-pw-123", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "crmlib.report.cli", "validate", "--params", str(params)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr + done.stdout
    out = done.stdout + done.stderr
    assert "127.0.0.1" in out and "wrong-pw-123" not in out and "Traceback" not in out
