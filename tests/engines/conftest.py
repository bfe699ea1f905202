"""Fixtures of the engine tests: a real PostgreSQL server, a Spark session, the demo on each.

The server is started from Debian's binaries (:mod:`pgserver`) once per test session and stopped
after it. Without the binaries the tests skip, saying how to install them; with
``CRMWB_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) a missing server fails them instead. Spark
runs in ``local[2]`` mode, one session for the whole test run, on the Java runtime found on the
PATH; without Java or PySpark the Spark tests skip, or fail with ``CRMWB_REQUIRE_SPARK=1``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgserver  # noqa: E402


def _unavailable(reason: str) -> None:
    if os.environ.get("CRMWB_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (CRMWB_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[pgserver.PostgresServer]:
    """A running PostgreSQL server on a free 127.0.0.1 port, for the whole session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[postgres]'")
    bindir = pgserver.find_binaries()
    if bindir is None:
        _unavailable(
            f"no PostgreSQL server binaries under /usr/lib/postgresql: {pgserver.INSTALL_HINT}"
        )
    try:
        server = pgserver.start_server(bindir)
    except (RuntimeError, OSError) as exc:
        _unavailable(f"could not start PostgreSQL from {bindir}: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_dataset(demo_params: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's demo retailer loaded and cleaned on the embedded DuckDB engine."""
    from crmlib.data import load_dataset

    return load_dataset(demo_params, quarantine_dir=tmp_path_factory.mktemp("duck-q"), cache=False)


@pytest.fixture(scope="session")
def pg_demo(postgres: pgserver.PostgresServer, demo_dataset: Any) -> dict[str, Any]:
    """The demo's canonical tables copied into PostgreSQL: name -> Ibis table on the server."""
    from crmlib.data import SCHEMAS, execute

    con = postgres.connect()
    out = {}
    for name, types in SCHEMAS.items():
        if not demo_dataset.has(name):
            continue
        pgserver.copy_frame(postgres, name, execute(demo_dataset.table(name)), types)
        out[name] = con.table(name)
    return out


@pytest.fixture(scope="session")
def duck_demo(demo_dataset: Any) -> dict[str, Any]:
    """The same canonical tables on the embedded DuckDB engine."""
    from crmlib.data import SCHEMAS

    return {n: demo_dataset.table(n) for n in SCHEMAS if demo_dataset.has(n)}


def _spark_unavailable(reason: str) -> None:
    if os.environ.get("CRMWB_REQUIRE_SPARK") == "1":
        pytest.fail(f"Spark is required here (CRMWB_REQUIRE_SPARK=1): {reason}")
    pytest.skip(reason)


#: Spark settings of the test session: two cores, few shuffle partitions (the demo is small)
SPARK_TEST_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The process's Spark session in ``local[2]`` mode, for the whole test run."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _spark_unavailable("PySpark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _spark_unavailable(
            "no Java runtime for Spark: apt-get install default-jre-headless "
            "(or openjdk-17-jre-headless)"
        )
    from crmlib.data import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    conf = {**SPARK_TEST_CONF, "spark.sql.warehouse.dir": str(warehouse)}
    try:
        session = spark_session("local[2]", conf)
    except Exception as exc:  # noqa: BLE001 - any start failure is reported the same way
        _spark_unavailable(f"could not start Spark in local[2] mode: {exc}")
    session.sparkContext.setLogLevel("ERROR")
    yield session


@pytest.fixture(scope="session")
def spark_parquet(demo_dataset: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo's canonical tables as Parquet files (written by DuckDB): name -> path."""
    from crmlib.data import SCHEMAS

    folder = tmp_path_factory.mktemp("spark-demo")
    out = {}
    for name in SCHEMAS:
        if demo_dataset.has(name):
            path = folder / f"{name}.parquet"
            demo_dataset.table(name).to_parquet(path)
            out[name] = str(path)
    return out


@pytest.fixture(scope="session")
def spark_demo(spark: Any, spark_parquet: dict[str, str]) -> dict[str, Any]:
    """The demo's canonical tables read by Spark: name -> Ibis table on the spark engine."""
    from crmlib.data import connect_engine

    con = connect_engine({"backend": "spark", "master": "local[2]"})
    out = {}
    for name, path in spark_parquet.items():
        frame = spark.read.parquet(path)
        frame.createOrReplaceTempView(f"demo_{name}")
        out[name] = con.table(f"demo_{name}")
    return out
