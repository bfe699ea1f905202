"""Benchmark: per-customer summary via Ibis/DuckDB against lifetimes' pandas implementation.

Generates transaction lines with vectorised numpy (10M lines, ~1M customers; ``--quick``: 1M
lines, ~100k customers) and writes them once to a Parquet file. Two variants are timed:

* ``parquet`` (load and summarise): :func:`crmlib.data.customer_summary` on the file path,
  against ``pandas.read_parquet`` + ``lifetimes.utils.summary_data_from_transaction_data``
  (``freq="D"``) on the same file;
* ``dataframe`` (already in memory): ``customer_summary`` on the generated DataFrame, against
  ``summary_data_from_transaction_data`` on the DataFrame.

lifetimes runs once, on the DataFrame read from the file (the same lines as the generated one);
its time serves both variants, with the read added for ``parquet``. Every crmlib result must
give frequency, recency and T identical to lifetimes for every customer, and monetary_value
equal within float tolerance. The ratio (lifetimes time / crmlib time; target at least 8x) is
wall-clock time; process CPU seconds are reported too, since the machine may be shared. Figures
go to ``reports/bench/summary.json``.

Run: ``.venv/bin/python tests/benchmarks/bench_summary.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crmlib.data import connection, customer_summary  # noqa: E402

TARGET = 8.0


def make_lines(lines: int, customers: int, *, seed: int = 0) -> pd.DataFrame:
    """Transaction lines over 3 years; customers with skewed activity, several lines per order."""
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.6, 1.0, customers)
    customer = rng.choice(customers, size=lines, p=weights / weights.sum())
    start = np.datetime64("2023-01-01T00:00:00", "s")
    seconds = rng.integers(0, 3 * 365 * 86_400, size=lines)
    order = np.arange(lines) // 2  # two lines per order on average of the id space

    def ids(prefix: str, numbers: np.ndarray) -> pd.Series:
        text = pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")
        return pd.Series(pd.arrays.ArrowStringArray(text), dtype="str")

    return pd.DataFrame(
        {
            "customer_id": ids("C", customer),
            "order_id": ids("O", order),
            "ordered_at": start + seconds.astype("timedelta64[s]"),
            "amount": np.round(rng.gamma(2.0, 60.0, size=lines), 2),
        }
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn):
    c0, t0 = _cpu(), time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0, _cpu() - c0


def _same(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict[str, bool]:
    theirs = theirs.reindex(ours["customer_id"])
    same = {
        col: bool(np.array_equal(ours[col].to_numpy(), theirs[col].to_numpy().astype("int64")))
        for col in ("frequency", "recency", "T")
    }
    same["customers"] = len(ours) == len(theirs) and not theirs["frequency"].isna().any()
    same["monetary_value_close"] = bool(
        np.allclose(ours["monetary_value"].to_numpy(), theirs["monetary_value"].to_numpy())
    )
    return same


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M lines instead of 10M")
    args = parser.parse_args(argv)
    lines = 1_000_000 if args.quick else 10_000_000
    customers = lines // 10

    from lifetimes.utils import summary_data_from_transaction_data

    frame, t_gen, _ = _timed(lambda: make_lines(lines, customers))
    with tempfile.TemporaryDirectory(prefix="bench_summary_") as tmp:
        path = Path(tmp) / "transactions.parquet"
        frame.to_parquet(path, index=False)
        size_mb = path.stat().st_size / 1e6

        customer_summary(frame.head(1000))  # warm up the connection, as a notebook session would
        ours_file, t_file, c_file = _timed(lambda: customer_summary(path, monetary=True))
        ours_frame, t_frame, c_frame = _timed(lambda: customer_summary(frame, monetary=True))

        read, t_read, c_read = _timed(lambda: pd.read_parquet(path))
    theirs, t_lt, c_lt = _timed(
        lambda: summary_data_from_transaction_data(
            read, "customer_id", "ordered_at", freq="D", monetary_value_col="amount"
        )
    )

    variants = {
        "parquet": {
            "seconds_crmlib": t_file,
            "seconds_baseline": t_read + t_lt,
            "cpu_seconds_crmlib": c_file,
            "cpu_seconds_baseline": c_read + c_lt,
            "identical": _same(ours_file, theirs),
        },
        "dataframe": {
            "seconds_crmlib": t_frame,
            "seconds_baseline": t_lt,
            "cpu_seconds_crmlib": c_frame,
            "cpu_seconds_baseline": c_lt,
            "identical": _same(ours_frame, theirs),
        },
    }
    for v in variants.values():
        v["ratio"] = round(v["seconds_baseline"] / v["seconds_crmlib"], 2)
        v["meets_target"] = v["ratio"] >= TARGET
        for key in [k for k in v if k.startswith(("seconds", "cpu"))]:
            v[key] = round(v[key], 3)
    result = {
        "benchmark": "summary",
        "lines": lines,
        "customers": len(ours_file),
        "baseline": "lifetimes.utils.summary_data_from_transaction_data(freq='D')",
        "target_ratio": TARGET,
        "meets_target": all(v["meets_target"] for v in variants.values()),
        "variants": variants,
        "parquet_mb": round(size_mb, 1),
        "seconds_generate": round(t_gen, 3),
        "duckdb_threads": connection()
        .con.execute("select current_setting('threads')")
        .fetchone()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}",
    }

    out = sys.stdout
    out.write(
        f"customer_summary vs lifetimes on {lines:,} lines ({len(ours_file):,} customers)\n"
        f"  {'variant':<10} {'crmlib s':>9} {'lifetimes s':>12} {'ratio':>7} {'target':>7}"
        f" {'crmlib cpu':>11} {'lifetimes cpu':>14}  identical F/R/T, monetary\n"
    )
    for name, v in variants.items():
        same = v["identical"]
        out.write(
            f"  {name:<10} {v['seconds_crmlib']:>9.2f} {v['seconds_baseline']:>12.2f}"
            f" {v['ratio']:>6.2f}x {TARGET:>6.1f}x {v['cpu_seconds_crmlib']:>11.2f}"
            f" {v['cpu_seconds_baseline']:>14.2f}  "
            f"{all(same[c] for c in ('frequency', 'recency', 'T', 'customers'))},"
            f" {same['monetary_value_close']}\n"
        )
    out.write(
        f"  lifetimes: read_parquet {t_read:.2f} s + summary {t_lt:.2f} s;"
        f" load average {result['load_average']}\n"
    )
    path_out = ROOT / "reports" / "bench" / "summary.json"
    path_out.parent.mkdir(parents=True, exist_ok=True)
    path_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if not all(all(v["identical"].values()) for v in variants.values()):
        raise SystemExit("crmlib's summary differs from lifetimes")
    return result


if __name__ == "__main__":
    main()
