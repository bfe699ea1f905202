"""Bad input on a database or Spark engine, through the command line as a user meets it.

An unreachable server (a closed loopback port), a wrong password (the test server checks
passwords over TCP with scram-sha-256), a missing table, and queries that fail on the server
(at once, or only when rows are read) must each stop ``crmwb validate --params FILE`` and
``crmwb run`` with exit status 2 and one ``error:`` line naming the engine, its host and the
table, never the password and never a traceback; ``crmwb run`` stops before any notebook starts,
so no run folder, published or half-written, is left in the reports folder.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pgserver
import pytest
from cli_runs import crmwb, run_monthly, write_params

#: servers and Spark sessions are started: part of the slow suite
pytestmark = pytest.mark.slow

WRONG = "wrong-pw-7731"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_refused(folder: Path, params: Path, expected: list[str], password: str | None) -> None:
    """``validate`` and ``run`` both exit 2 naming every text of ``expected``; nothing left."""
    for done in (
        crmwb("validate", "--params", str(params), password=password, timeout=300),
        run_monthly(folder, params, password=password),
    ):
        out = done.stdout + done.stderr
        assert done.returncode == 2, f"{done.args[3]}: exit {done.returncode}\n{out}"
        for text in expected:
            assert text in out, f"{done.args[3]}: {text!r} not in\n{out}"
        assert "Traceback" not in out, out
        for secret in (pgserver.PASSWORD, WRONG):
            assert secret not in out, out
    reports = folder / "reports"
    left = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*")) if (
        reports.exists()
    ) else []  # fmt: skip
    assert not [p for p in left if p.startswith("monthly")], left


@pytest.fixture(scope="module")
def pg_orders(postgres: pgserver.PostgresServer, pg_demo: dict[str, Any]) -> str:
    """The demo's transactions on the server (table ``transactions``, canonical columns)."""
    return "transactions"


def test_unreachable_database_server(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql://crm@127.0.0.1:{port}/crm"
    params = write_params(
        tmp_path, {"backend": "postgres", "url": url}, {"transactions": {"table": "orders"}}
    )
    expected = [f"postgres engine at 127.0.0.1:{port}/crm", "error:"]
    _assert_refused(tmp_path, params, expected, password=pgserver.PASSWORD)


def test_wrong_password(postgres: pgserver.PostgresServer, pg_orders: str, tmp_path: Path) -> None:
    params = write_params(
        tmp_path,
        {"backend": "postgres", "url": postgres.url},
        {"transactions": {"table": pg_orders}},
    )
    expected = [
        f"postgres engine at 127.0.0.1:{postgres.port}/crm",
        "password authentication failed",
        "CRMWB_DATABASE_PASSWORD",
    ]
    _assert_refused(tmp_path, params, expected, password=WRONG)


def test_missing_table(postgres: pgserver.PostgresServer, pg_orders: str, tmp_path: Path) -> None:
    params = write_params(
        tmp_path,
        {"backend": "postgres", "url": postgres.url},
        {"transactions": {"table": pg_orders}, "customers": {"table": "no_such_members"}},
    )
    expected = [
        f"postgres engine at 127.0.0.1:{postgres.port}/crm",
        "customers",
        "no_such_members",
    ]
    _assert_refused(tmp_path, params, expected, password=pgserver.PASSWORD)


@pytest.mark.parametrize(
    "query, says",
    [
        # refused when the query is read: a relation that does not exist
        ("SELECT * FROM orders_of_nowhere", "orders_of_nowhere"),
        # accepted, but fails on the server as soon as a row is computed
        (
            "SELECT customer_id, order_id, ordered_at, amount / 0 AS amount FROM transactions",
            "division by zero",
        ),
    ],
    ids=["unknown-relation", "fails-on-rows"],
)
def test_query_failing_on_the_server(
    postgres: pgserver.PostgresServer, pg_orders: str, tmp_path: Path, query: str, says: str
) -> None:
    params = write_params(
        tmp_path, {"backend": "postgres", "url": postgres.url}, {"transactions": {"query": query}}
    )
    expected = [f"postgres engine at 127.0.0.1:{postgres.port}/crm", "transactions", says]
    _assert_refused(tmp_path, params, expected, password=pgserver.PASSWORD)


def test_unreachable_spark_master(tmp_path: Path) -> None:
    port = _closed_port()
    params = write_params(
        tmp_path,
        {"backend": "spark", "master": f"spark://127.0.0.1:{port}"},
        {"transactions": {"path": str(tmp_path / "orders.parquet")}},
    )
    expected = [f"spark engine at spark://127.0.0.1:{port}", f"127.0.0.1:{port}"]
    _assert_refused(tmp_path, params, expected, password=None)


def test_missing_path_and_failing_query_on_spark(
    spark: Any, spark_parquet: dict[str, str], tmp_path: Path
) -> None:
    engine = {"backend": "spark", "master": "local[1]", "conf": {"spark.ui.enabled": "false"}}
    missing = str(tmp_path / "no_orders.parquet")
    params = write_params(tmp_path / "path", engine, {"transactions": {"path": missing}})
    _assert_refused(tmp_path / "path", params, ["spark engine at local[1]", missing], password=None)
    query = "SELECT * FROM no_such_view"
    params = write_params(tmp_path / "query", engine, {"transactions": {"query": query}})
    _assert_refused(
        tmp_path / "query", params, ["spark engine at local[1]", "transactions"], password=None
    )
