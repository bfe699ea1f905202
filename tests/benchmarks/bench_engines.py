"""Benchmark: the same analyses on the three engines, DuckDB, PostgreSQL and Spark, side by side.

Data: ``--lines`` order lines (default 10M; ``--quick``: 200k) of ``lines / 10`` members (1M),
generated as in ``bench_summary.py`` (gamma-Poisson orders over three years, 1-4 lines an order,
3% returns, 5% anonymous sales, lines in time order) with a product on every line: one of 500
SKUs drawn from a Zipf-like law (a few best sellers, a long tail), in 25 categories; a line after
an order's first has a 40% chance of being the first line's partner SKU, so the rules have
something to find. The lines are written once to Parquet (untimed).

Each engine runs in a fresh Python process of its own, so its memory figure is its own:

* ``duckdb``: the embedded engine reads the Parquet file (``path:``);
* ``postgres``: a real PostgreSQL server started from Debian's binaries by the engine tests'
  fixture code (``tests/engines/pgserver.py``, imported, on a free loopback port with default
  settings and ``fsync=off``); the lines are loaded into a table with ``COPY`` before the
  engine's process starts (the load time is reported, not counted);
* ``spark``: PySpark in ``local[2]`` mode (driver memory ``--spark-memory``) reads the Parquet
  file (``path:``).

In each process, timed one after another: loading (``load_dataset`` of a data params file with
that ``engine:``: the cleaning, with its exact counts, runs on the engine), the per-customer
summary (:func:`crmlib.data.customer_summary`), RFM (:func:`crmlib.rfm.rfm_table`), lifecycle
stages by month (:func:`crmlib.lifecycle.stage_summary`: the stage counts, last flows and latest
stages that the reports read, staged 100,000 customers at a time) and association rules at SKU level
with the defaults of ``params/basket.yaml`` (:func:`crmlib.basket.association_rules`). Reported
per engine: wall seconds per step, the peak resident memory of the Python process per step and
overall (``VmHWM``, reset before each step)
and, for Spark, the peak of its Java process (polled with psutil every 0.2 s). The engines must
agree on every result's row count and on the RFM table's total monetary value (asserted).
Target (issue 13): no engine's Python process holds more than 2 GB at 10M lines on postgres or
spark.

Usage: ``.venv/bin/python tests/benchmarks/bench_engines.py [--quick] [--lines N]
[--engines duckdb,postgres,spark]``; figures go to ``reports/bench/engines.json``. Engines whose
components are missing (no PostgreSQL binaries, no Java) are skipped with the reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engines"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ENGINES = ("duckdb", "postgres", "spark")
N_SKUS = 500
N_CATEGORIES = 25
PARTNER_SHARE = 0.4
STEPS = ("load", "summary", "rfm", "lifecycle", "rules")


def write_lines(path: Path, lines: int, *, seed: int = 0) -> int:
    """Generate about ``lines`` order lines with SKUs (module docstring) into Parquet ``path``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from bench_summary import make_lines

    frame = make_lines(lines, seed=seed)
    rng = np.random.default_rng(seed + 1)
    n = len(frame)
    rank = np.minimum(rng.zipf(1.3, n), N_SKUS) - 1
    order = frame["order_id"].to_numpy()
    first = np.r_[True, order[1:] != order[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    partner = ~first & (rng.random(n) < PARTNER_SHARE)
    rank[partner] = rank[start[partner]] ^ 1
    sku = pc.binary_join_element_wise("S", pa.array(rank).cast(pa.string()), "")
    category = pc.binary_join_element_wise("K", pa.array(rank % N_CATEGORIES).cast(pa.string()), "")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("sku", sku).append_column("category", category)
    pq.write_table(table, path, row_group_size=1_000_000)
    return n


def load_postgres(server: Any, parquet: Path) -> float:
    """Copy the lines into table ``orders`` on ``server`` (CSV through COPY); seconds taken."""
    import duckdb
    import pgserver
    import psycopg

    started = time.perf_counter()
    csv = parquet.with_suffix(".csv")
    duckdb.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER false)")
    with psycopg.connect(
        host=server.host, port=server.port, user=pgserver.USER,
        password=pgserver.PASSWORD, dbname=pgserver.DATABASE,
    ) as conn:  # fmt: skip
        conn.execute("DROP TABLE IF EXISTS orders")
        conn.execute(
            "CREATE TABLE orders (customer_id text, order_id text, ordered_at timestamp, "
            "amount double precision, sku text, category text)"
        )
        with conn.cursor().copy("COPY orders FROM STDIN WITH (FORMAT csv)") as cp, csv.open(
            "rb"
        ) as fh:  # fmt: skip
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        conn.execute("ANALYZE orders")
    csv.unlink()
    return time.perf_counter() - started


def _params(engine: str, parquet: Path, work: Path, port: int | None, memory: str) -> dict:
    tables: dict[str, Any] = {"transactions": {"path": str(parquet)}}
    if engine == "duckdb":
        settings: dict[str, Any] = {"backend": "duckdb"}
    elif engine == "postgres":
        settings = {"backend": "postgres", "url": f"postgresql://crm@127.0.0.1:{port}/crm"}
        tables = {"transactions": {"table": "orders"}}
    else:
        settings = {
            "backend": "spark",
            "master": "local[2]",
            "conf": {
                "spark.driver.memory": memory,
                "spark.sql.shuffle.partitions": "8",
                "spark.ui.enabled": "false",
                "spark.sql.warehouse.dir": str(work / "warehouse"),
                "spark.local.dir": str(work / "spark-tmp"),
            },
        }
    tables["transactions"]["timezone"] = "UTC"
    return {"engine": settings, "quarantine_dir": str(work / f"quarantine-{engine}"), **tables}


class _ChildPeak:
    """Peak resident memory of this process's children (the Spark JVM), polled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def _reset_peak() -> None:
    """Start this process's peak resident memory afresh (Linux: ``/proc/self/clear_refs``)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def _peak_mb() -> float:
    """This process's peak resident memory since it started or since :func:`_reset_peak`.

    ``VmHWM`` of ``/proc/self/status``, not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across
    ``exec``, so a worker would report at least what the parent held when it was started.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def worker(engine: str, params_file: Path) -> dict[str, Any]:
    """Run every step on ``engine`` in this process; seconds, rows and memory (prints JSON)."""
    children = _ChildPeak()
    from crmlib import basket, lifecycle, rfm
    from crmlib.data import customer_summary, load_dataset, resolve_as_of

    params = json.loads(params_file.read_text(encoding="utf-8"))
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    rows: dict[str, int] = {}
    overall = 0.0

    def step(name: str, fn: Any) -> Any:
        nonlocal overall
        _reset_peak()
        started = time.perf_counter()
        out = fn()
        seconds[name] = round(time.perf_counter() - started, 2)
        peaks[name] = _peak_mb()
        overall = max(overall, peaks[name])
        print(f"  {engine:<8} {name:<10} {seconds[name]:8.2f} s  peak {peaks[name]:8.1f} MB",
              file=sys.stderr, flush=True)  # fmt: skip
        return out

    dataset = step("load", lambda: load_dataset(params, cache=False))
    tx = dataset.transactions
    rows["lines_kept"] = int(dataset.quality.tables["transactions"].kept)
    as_of = resolve_as_of(tx)
    rows["summary"] = len(step("summary", lambda: customer_summary(tx, as_of=as_of)))
    table = step("rfm", lambda: rfm.rfm_table(tx, as_of=as_of))
    rows["rfm"] = len(table)
    stages = step("lifecycle", lambda: lifecycle.stage_summary(tx, as_of=as_of))
    rows["lifecycle"] = int(stages.counts["customers"].sum())  # customer × period rows staged
    rules = step("rules", lambda: basket.association_rules(tx, level="sku", as_of=as_of))
    rows["rules"] = len(rules)
    monetary = [c for c in table.columns if "monetary" in c.lower()]
    check = round(float(table[monetary[0]].sum()), 2) if monetary else None
    return {
        "engine": engine,
        "seconds": seconds,
        "total_s": round(sum(seconds.values()), 2),
        "rows": rows,
        "rfm_monetary_sum": check,
        "python_peak_mb": overall,
        "step_peak_mb": peaks,
        "jvm_peak_mb": round(children.stop(), 1) if engine == "spark" else None,
    }


def _unavailable(engine: str) -> str | None:
    """Why ``engine`` cannot run here, or None."""
    if engine == "postgres":
        import pgserver

        if pgserver.find_binaries() is None:
            return f"no PostgreSQL server binaries: {pgserver.INSTALL_HINT}"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed: pip install -e '.[postgres]'"
    if engine == "spark":
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            return "no Java runtime: apt-get install default-jre-headless"
        try:
            import pyspark  # noqa: F401
        except ImportError:
            return "PySpark is not installed: pip install -e '.[spark]'"
    return None


def _run_engine(engine: str, params: dict, work: Path, password: str | None) -> dict[str, Any]:
    params_file = work / f"params-{engine}.json"
    params_file.write_text(json.dumps(params), encoding="utf-8")
    env = dict(os.environ)
    if password:
        env["CRMWB_DATABASE_PASSWORD"] = password
    done = subprocess.run(
        [sys.executable, __file__, "--worker", engine, "--params-file", str(params_file)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    if done.returncode:
        return {"engine": engine, "error": f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k lines")
    parser.add_argument("--lines", type=int, default=None, help="order lines (default 10M)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="default: %(default)s")
    parser.add_argument("--spark-memory", default="4g", help="Spark driver memory (local mode)")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--params-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.params_file)))
        return {}
    lines = args.lines or (200_000 if args.quick else 10_000_000)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    work = Path(tempfile.mkdtemp(prefix="crm-bench-engines-"))
    server = None
    try:
        parquet = work / "lines.parquet"
        started = time.perf_counter()
        n = write_lines(parquet, lines)
        print(f"{n:,} order lines of {lines // 10:,} members generated in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        results, skipped, load_pg = [], {}, None
        for engine in engines:
            why = _unavailable(engine)
            if why:
                skipped[engine] = why
                print(f"{engine}: skipped: {why}", flush=True)
                continue
            port, password = None, None
            if engine == "postgres":
                import pgserver

                server = pgserver.start_server(pgserver.find_binaries())
                port, password = server.port, pgserver.PASSWORD
                load_pg = round(load_postgres(server, parquet), 1)
                print(f"postgres: {n:,} lines loaded with COPY in {load_pg} s", flush=True)
            params = _params(engine, parquet, work, port, args.spark_memory)
            results.append(_run_engine(engine, params, work, password))
            if server is not None:
                server.stop()
                server = None
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    ok = [r for r in results if "error" not in r]
    print(f"\n{'step (s)':<16}" + "".join(f"{r['engine']:>12}" for r in results))
    for name in STEPS:
        print(
            f"{name:<16}" + "".join(f"{r.get('seconds', {}).get(name, '-'):>12}" for r in results)
        )
    for key, label in (("total_s", "total (s)"), ("python_peak_mb", "Python peak MB"),
                       ("jvm_peak_mb", "JVM peak MB")):  # fmt: skip
        print(f"{label:<16}" + "".join(f"{str(r.get(key, '-')):>12}" for r in results))
    for r in results:
        if "error" in r:
            print(f"{r['engine']}: failed ({r['error']})")
    agree = len({json.dumps(r["rows"], sort_keys=True) for r in ok}) <= 1 and (
        len({r["rfm_monetary_sum"] for r in ok}) <= 1
    )
    print(f"results agree across engines: {agree}" + (f" {ok[0]['rows']}" if ok else ""))
    remote = [r for r in ok if r["engine"] != "duckdb"]
    target = None if args.quick else all(r["python_peak_mb"] <= 2048 for r in remote)
    out = {
        "lines": n,
        "customers": lines // 10,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "postgres_load_s": load_pg,
        "engines": results,
        "skipped": skipped,
        "agree": agree,
        "target_python_peak_le_2gb": target,
    }
    path = ROOT / "reports" / "bench" / "engines.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"figures: {path}")
    if not agree or any("error" in r for r in results):
        raise SystemExit(1)
    return out


if __name__ == "__main__":
    main()
