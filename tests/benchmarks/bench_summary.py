"""Benchmark: per-customer summary via Ibis/DuckDB against lifetimes' pandas implementation.

Generates transaction lines with vectorised numpy (10M lines, ~1M customers; ``--quick``: 1M
lines, ~100k customers), runs :func:`crmlib.data.customer_summary` and
``lifetimes.utils.summary_data_from_transaction_data(freq="D")`` on the same DataFrame, checks
that frequency, recency and T are identical for every customer, and reports both times and the
ratio (target: at least 8x faster). Figures go to ``reports/bench/summary.json``.

Run: ``.venv/bin/python tests/benchmarks/bench_summary.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crmlib.data import customer_summary  # noqa: E402

TARGET = 8.0


def make_lines(lines: int, customers: int, *, seed: int = 0) -> pd.DataFrame:
    """Transaction lines over 3 years; customers with skewed activity, several lines per order."""
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.6, 1.0, customers)
    customer = rng.choice(customers, size=lines, p=weights / weights.sum())
    start = np.datetime64("2023-01-01T00:00:00", "s")
    seconds = rng.integers(0, 3 * 365 * 86_400, size=lines)
    order = np.arange(lines) // 2  # two lines per order on average of the id space
    return pd.DataFrame(
        {
            "customer_id": pd.array(np.char.add("C", customer.astype(str)), dtype="str"),
            "order_id": pd.array(np.char.add("O", order.astype(str)), dtype="str"),
            "ordered_at": start + seconds.astype("timedelta64[s]"),
            "amount": np.round(rng.gamma(2.0, 60.0, size=lines), 2),
        }
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M lines instead of 10M")
    args = parser.parse_args(argv)
    lines = 1_000_000 if args.quick else 10_000_000
    customers = lines // 10

    t0 = time.perf_counter()
    frame = make_lines(lines, customers)
    t_gen = time.perf_counter() - t0

    customer_summary(frame.head(1000))  # warm up the connection, as a notebook session would
    t0 = time.perf_counter()
    ours = customer_summary(frame, monetary=True)
    t_ours = time.perf_counter() - t0

    from lifetimes.utils import summary_data_from_transaction_data

    t0 = time.perf_counter()
    theirs = summary_data_from_transaction_data(
        frame, "customer_id", "ordered_at", freq="D", monetary_value_col="amount"
    )
    t_theirs = time.perf_counter() - t0

    theirs = theirs.reindex(ours["customer_id"])
    same = {
        col: bool(np.array_equal(ours[col].to_numpy(), theirs[col].to_numpy().astype("int64")))
        for col in ("frequency", "recency", "T")
    }
    monetary = bool(
        np.allclose(ours["monetary_value"].to_numpy(), theirs["monetary_value"].to_numpy())
    )
    ratio = t_theirs / t_ours
    result = {
        "benchmark": "summary",
        "lines": lines,
        "customers": len(ours),
        "baseline": "lifetimes.utils.summary_data_from_transaction_data(freq='D')",
        "seconds_crmlib": round(t_ours, 3),
        "seconds_baseline": round(t_theirs, 3),
        "ratio": round(ratio, 2),
        "target_ratio": TARGET,
        "meets_target": ratio >= TARGET,
        "identical": same,
        "monetary_value_close": monetary,
        "seconds_generate": round(t_gen, 3),
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
    width = max(len(k) for k in result)
    sys.stdout.write(
        f"customer_summary vs lifetimes on {lines:,} lines ({len(ours):,} customers)\n"
        + "".join(f"  {k:<{width}}  {v}\n" for k, v in result.items())
    )
    out = ROOT / "reports" / "bench" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if not all(same.values()):
        raise SystemExit("frequency/recency/T differ from lifetimes")
    return result


if __name__ == "__main__":
    main()
