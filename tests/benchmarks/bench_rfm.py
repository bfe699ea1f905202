"""Benchmark: RFM scores and segments of crmlib.rfm against a plain pandas groupby implementation.

Data: 1M customers / 10M order lines (``--quick``: 100k customers / 1M lines) generated with
vectorised numpy, written to Parquet in a temporary folder. Both implementations compute the same
thing from that file: RFM per customer as of the last transaction day (orders with a negative net
value are returns, not purchases), 1-5 quantile scores on mid-ranks (equal values share a score), FM = ceil((F+M)/2)
and the English 11-segment grid. Their scores and segments must be identical.

Method: each implementation runs in a fresh Python subprocess (after its imports) so one does not
inherit the other's memory. Time is wall-clock from reading the file to the finished per-customer
table. Peak memory is the subprocess's peak resident set size (``ru_maxrss``, the kernel's
high-water mark) minus its RSS after imports (read with psutil), compared with the input size =
the in-memory Arrow size of the four columns used (customer_id, order_id, ordered_at, amount).

Run: ``.venv/bin/python tests/benchmarks/bench_rfm.py [--quick]``; figures go to
``reports/bench/rfm.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def generate(path: Path, *, customers: int, lines: int, seed: int = 1) -> int:
    """Write the synthetic transactions to ``path``; return the Arrow in-memory size in bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_orders = int(lines / 2.5)
    # Skewed purchase propensity: most customers buy once, a few buy often.
    weight = rng.pareto(1.3, customers) + 0.05
    # Every customer orders at least once; further orders go by propensity.
    more = rng.choice(customers, size=n_orders - customers, p=weight / weight.sum())
    order_customer = rng.permutation(np.concatenate([np.arange(customers), more]))
    start = np.datetime64("2023-01-01T00:00:00", "s").astype(np.int64)
    span = 3 * 365 * 86_400
    order_time = start + rng.integers(0, span, n_orders)
    # Each order gets 1+ lines: 10M lines over 4M orders.
    extra = rng.multinomial(lines - n_orders, np.full(n_orders, 1 / n_orders))
    per_order = 1 + extra
    line_order = np.repeat(np.arange(n_orders), per_order)
    amount = np.round(rng.lognormal(3.5, 0.9, lines), 2)
    returns = rng.random(lines) < 0.03
    amount[returns] = -amount[returns]
    anonymous = rng.random(n_orders) < 0.08  # anonymous orders: no customer_id
    cust = pc.cast(pa.array(order_customer[line_order] + 10_000_000), pa.string())
    cust = pc.if_else(pa.array(anonymous[line_order]), pa.scalar(None, pa.string()), cust)
    table = pa.table(
        {
            "customer_id": cust,
            "order_id": pc.cast(pa.array(line_order + 100_000_000), pa.string()),
            "ordered_at": pa.array(order_time[line_order].astype("datetime64[s]")).cast(
                pa.timestamp("us")
            ),
            "amount": pa.array(amount),
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)
    return int(table.nbytes)


# The two implementations run as child processes: `python bench_rfm.py --run <impl> <in> <out>`.


def run_crmlib(src: str, out: str) -> float:
    from crmlib import rfm

    t0 = time.perf_counter()
    table = rfm.rfm_table(src)
    seg = rfm.segment_rfm(table, scheme="en11", scoring="quantile", bins=5)
    result = seg.customers[["customer_id", "r_score", "f_score", "m_score", "fm_score", "segment"]]
    elapsed = time.perf_counter() - t0
    result.to_parquet(out, index=False)
    return elapsed


def run_pandas(src: str, out: str) -> float:
    import numpy as np
    import pandas as pd

    from crmlib.rfm import load_scheme

    scheme = load_scheme("en11")  # the 11-segment grid, read before the clock starts
    cell_to_segment = scheme.cell_map
    t0 = time.perf_counter()
    df = pd.read_parquet(src, columns=["customer_id", "order_id", "ordered_at", "amount"])
    as_of = df["ordered_at"].max().normalize()
    df = df[df["customer_id"].notna() & (df["customer_id"].str.strip() != "")]
    orders = (
        df.assign(returned=df["amount"] < 0)
        .groupby(["customer_id", "order_id"], sort=False)
        .agg(
            amount=("amount", "sum"), ordered_at=("ordered_at", "min"), returned=("returned", "any")
        )
    )
    orders = orders.reset_index()
    orders["amount"] = orders["amount"].round(6)  # as crmlib: lines that cancel out net to 0
    monetary = orders.groupby("customer_id")["amount"].sum()
    bought = orders[(orders["amount"] > 0) | ((orders["amount"] == 0) & ~orders["returned"])]
    per = bought.groupby("customer_id").agg(
        orders=("order_id", "size"), last_purchase=("ordered_at", "max")
    )
    per["monetary"] = monetary.reindex(per.index).round(6)  # as crmlib: equal totals tie
    per = per.sort_index()
    recency = (as_of - per["last_purchase"].dt.normalize()).dt.days
    n = len(per)
    scores = {}
    for name, values in (("r", -recency), ("f", per["orders"]), ("m", per["monetary"])):
        # mid-ranks: equal values share a score; score = floor(5 (rank - 1/2) / n) + 1
        twice = (2 * values.rank(method="average")).to_numpy(dtype=np.int64)
        scores[name] = (twice - 1) * 5 // (2 * n) + 1
    result = pd.DataFrame(
        {
            "customer_id": per.index.to_numpy(),
            "r_score": scores["r"],
            "f_score": scores["f"],
            "m_score": scores["m"],
        }
    )
    result["fm_score"] = np.ceil((result["f_score"] + result["m_score"]) / 2).astype(np.int64)
    cell = result["r_score"].astype(str) + result["fm_score"].astype(str)
    result["segment"] = cell.map(cell_to_segment)
    elapsed = time.perf_counter() - t0
    result.to_parquet(out, index=False)
    return elapsed


def _child(impl: str, src: str, out: str) -> None:
    import resource

    import pandas as pd
    import psutil
    import pyarrow.parquet  # noqa: F401  (pandas reads Parquet through it)

    import crmlib.rfm  # noqa: F401
    from crmlib.data import connection

    # Fixed start-up costs (imports, the embedded DuckDB connection, the params) are paid before
    # the baseline so the figure is the memory the data needs.
    connection()
    crmlib.rfm.load_scheme("en11")
    pd.DataFrame({"x": [1]}).to_parquet(out)
    base = psutil.Process().memory_info().rss
    seconds = {"crmlib": run_crmlib, "pandas": run_pandas}[impl](src, out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    json.dump({"seconds": seconds, "peak_rss": peak, "base_rss": base}, sys.stdout)


def _measure(impl: str, src: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--run", impl, str(src), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{impl} run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M lines instead of 10M")
    parser.add_argument("--run", nargs=3, metavar=("IMPL", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _child(*args.run)
        return

    import pandas as pd

    customers, lines = (100_000, 1_000_000) if args.quick else (1_000_000, 10_000_000)
    with tempfile.TemporaryDirectory(prefix="bench_rfm_") as tmp:
        tmp_path = Path(tmp)
        src = tmp_path / "transactions.parquet"
        t0 = time.perf_counter()
        input_bytes = generate(src, customers=customers, lines=lines)
        gen_seconds = time.perf_counter() - t0
        results = {}
        for impl in ("pandas", "crmlib"):
            results[impl] = _measure(impl, src, tmp_path / f"{impl}.parquet")
        a = pd.read_parquet(tmp_path / "crmlib.parquet").sort_values("customer_id")
        b = pd.read_parquet(tmp_path / "pandas.parquet").sort_values("customer_id")
        cols = ["customer_id", "r_score", "f_score", "m_score", "fm_score", "segment"]
        identical = bool(
            len(a) == len(b) and all((a[c].to_numpy() == b[c].to_numpy()).all() for c in cols)
        )
        file_bytes = src.stat().st_size
        if not identical:
            merged = a.merge(b, on="customer_id", how="outer", suffixes=("_crmlib", "_pandas"))
            for c in cols[1:]:
                diff = merged[merged[f"{c}_crmlib"] != merged[f"{c}_pandas"]]
                print(f"{c}: {len(diff):,} customers differ", diff.head(3).to_dict("records"))
        scored = len(a)

    rows = []
    for impl, r in results.items():
        extra = r["peak_rss"] - r["base_rss"]
        rows.append(
            {
                "implementation": impl,
                "seconds": round(r["seconds"], 2),
                "peak_rss_mib": round(r["peak_rss"] / 2**20, 1),
                "peak_above_baseline_mib": round(extra / 2**20, 1),
                "peak_over_input": round(extra / input_bytes, 2),
            }
        )
    ratio = results["crmlib"]["seconds"] / results["pandas"]["seconds"]
    mem_ratio = (results["crmlib"]["peak_rss"] - results["crmlib"]["base_rss"]) / input_bytes
    report = {
        "benchmark": "rfm",
        "mode": "quick" if args.quick else "full",
        "lines": lines,
        "customers_generated": customers,
        "customers_scored": scored,
        "input_arrow_mib": round(input_bytes / 2**20, 1),
        "input_parquet_mib": round(file_bytes / 2**20, 1),
        "generate_seconds": round(gen_seconds, 1),
        "results": rows,
        "time_ratio_crmlib_over_pandas": round(ratio, 3),
        "time_target": "<= 1.0 (no slower than pandas)",
        "crmlib_peak_over_input": round(mem_ratio, 2),
        "memory_target": "<= 2.0 x input (Arrow in-memory size)",
        "identical_scores_and_segments": identical,
        "memory_method": "peak RSS (ru_maxrss) of a fresh subprocess minus its RSS after imports and start-up (DuckDB connection, scheme params)",
    }
    print(f"RFM benchmark ({report['mode']}): {lines:,} lines, {scored:,} customers scored")
    print(
        f"input: {report['input_arrow_mib']} MiB in memory (Arrow), {report['input_parquet_mib']} MiB Parquet"
    )
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"time ratio crmlib / pandas: {ratio:.2f} (target <= 1.0)")
    print(f"crmlib peak memory / input: {mem_ratio:.2f} (target <= 2.0)")
    print(f"identical scores and segments: {identical}")
    out = ROOT / "reports" / "bench" / "rfm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if not identical:
        raise SystemExit("crmlib and pandas scores differ")


if __name__ == "__main__":
    main()
