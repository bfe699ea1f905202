"""``crmwb run`` of the monthly pack on each engine, and the command line's bad-input paths.

One small demo retailer (:data:`CUSTOMERS` members) is cleaned once on the embedded engine and
its canonical tables are given to three runs of the monthly pack of ``params/reports.yaml``:
as Parquet files on DuckDB, as tables on the test's PostgreSQL server, and as the same Parquet
files read by Spark in ``local[2]`` mode. The runs are made by the real command
(``python -m crmlib.report.cli run monthly``) in a process of its own, as a user makes them,
with only the data params file changed. Every notebook must succeed and the email digest's
headline figures (the executive summary's sentences, the KPI tiles, what moved, what to do
next: every figure of the digest, formatted as the reader sees it) must be identical to the
DuckDB run's, as must the run folder's period (the data's last complete day).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pgserver
import pytest
import yaml
from cli_runs import ROOT, run_monthly, write_params

#: members of the demo the runs read: every notebook has data, and a run takes about two minutes
CUSTOMERS = 500

#: Spark settings of a run's processes: each notebook's kernel starts its own local[2] session,
#: two at a time; the JVM compiles with its quick compiler only, which suits many short queries
SPARK_RUN_CONF = {
    "spark.sql.shuffle.partitions": 2,
    "spark.default.parallelism": 2,
    "spark.ui.enabled": False,
    "spark.driver.memory": "1g",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}

#: notebooks execute end to end and servers are started: part of the slow suite
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small demo's canonical tables: name -> {"parquet": path, "frame": pandas}."""
    from crmlib.data import SCHEMAS, execute, load_dataset
    from crmlib.simulate import write_demo

    tmp = tmp_path_factory.mktemp("run-demo")
    demo = write_demo(
        tmp / "demo", customers=CUSTOMERS, seed=11, config=ROOT / "params" / "simulate.yaml"
    )
    params = yaml.safe_load((ROOT / "params" / "data.yaml").read_text(encoding="utf-8"))
    for section in params.values():
        if isinstance(section, dict) and "path" in section:
            section["path"] = str(demo / Path(section["path"]).name)
    dataset = load_dataset(params, quarantine_dir=tmp / "quarantine", cache=False)
    out = {}
    for name in SCHEMAS:
        if dataset.has(name):
            path = tmp / f"{name}.parquet"
            dataset.table(name).to_parquet(path)
            out[name] = {"parquet": str(path), "frame": execute(dataset.table(name))}
    return out


def published_run(folder: Path, done: Any) -> Path:
    """The run folder ``crmwb run monthly`` published; every one of its 8 notebooks ran."""
    assert done.returncode == 0, done.stdout + done.stderr
    reports = folder / "reports" / "monthly"
    [run_dir] = [p for p in reports.iterdir() if not p.name.startswith(".")]
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    failed = {nb["name"]: nb["error"] for nb in run["notebooks"] if nb["status"] != "ok"}
    assert run["status"] == "ok" and not failed, failed
    assert len(run["notebooks"]) == 8
    return run_dir


def headline(run_dir: Path) -> str:
    """The email digest's text up to its list of attached reports (whose sizes differ)."""
    text = (run_dir / "email.txt").read_text(encoding="utf-8")
    body = text.split("\nFull reports\n", 1)[0]
    assert "Headline KPIs" in body and "Revenue" in body, body[:500]
    return body


@pytest.fixture(scope="module")
def duck_run(small_demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the monthly pack on the embedded engine, reading the Parquet files."""
    tmp = tmp_path_factory.mktemp("run-duckdb")
    tables = {name: {"path": t["parquet"]} for name, t in small_demo.items()}
    return published_run(tmp, run_monthly(tmp, write_params(tmp, {"backend": "duckdb"}, tables)))


def test_monthly_pack_on_postgres_gives_the_duckdb_figures(
    postgres: pgserver.PostgresServer, small_demo: dict[str, Any], duck_run: Path, tmp_path: Path
) -> None:
    from crmlib.data import SCHEMAS

    tables = {}
    for name, t in small_demo.items():
        pgserver.copy_frame(postgres, f"run_{name}", t["frame"], SCHEMAS[name])
        tables[name] = {"table": f"run_{name}"}
    params = write_params(tmp_path, {"backend": "postgres", "url": postgres.url}, tables)
    run_dir = published_run(tmp_path, run_monthly(tmp_path, params, password=pgserver.PASSWORD))
    assert run_dir.name == duck_run.name
    assert headline(run_dir) == headline(duck_run)


def test_monthly_pack_on_spark_gives_the_duckdb_figures(
    spark: Any, small_demo: dict[str, Any], duck_run: Path, tmp_path: Path
) -> None:
    tables = {name: {"path": t["parquet"]} for name, t in small_demo.items()}
    engine = {"backend": "spark", "master": "local[2]", "conf": SPARK_RUN_CONF}
    run_dir = published_run(tmp_path, run_monthly(tmp_path, write_params(tmp_path, engine, tables)))
    assert run_dir.name == duck_run.name
    assert headline(run_dir) == headline(duck_run)
