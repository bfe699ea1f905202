"""Benchmark: one customer's profile on a million customers, against pulling the lines to pandas.

Data: ``--lines`` order lines (default 10M, about 1M members; ``--quick``: 500k) generated as
in ``bench_engines.py`` (gamma-Poisson orders over three years, SKUs and categories), written
once to Parquet and loaded with :func:`crmlib.data.load_dataset` on the embedded engine (the
cleaning is timed and reported, not counted: a notebook's data is cleaned once and cached).

Timed, in one process:

* ``base``: :func:`crmlib.profile.profile_base`, what a profile needs from the whole base
  (RFM scores, the CLV model fitted on a fixed sample of 50,000 customers, who bought what in
  that sample), computed once per data and day (``base_cold``) and then read from its cache
  (``base_warm``: every later notebook or export of the same data and day);
* ``profile``: :func:`crmlib.profile.customer_profile` of five customers spread over the id
  range, with that base (median and maximum);
* baseline ``full_analyses``: the way the reports answer the same questions, for every
  customer: the CLV fit and scores of the whole base (:func:`crmlib.clv.analyse`, notebook 03)
  and every customer's lifecycle stages by month (:func:`crmlib.lifecycle.customer_stages`,
  notebook 04), from which one customer's row would then be read.

Target (issue 18): a profile opened in a notebook (cached base + one profile) in at most 5 s
at 1M customers on this 2-core machine; the first of the day (``base_cold`` + profile) is
reported beside it. The ratio ``full_analyses / (base_cold + profile)`` says what the
per-customer path saves even then.

Usage: ``.venv/bin/python tests/benchmarks/bench_profile.py [--quick] [--lines N]``; figures go
to ``reports/bench/profile.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_S = 5.0


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500k lines")
    parser.add_argument("--lines", type=int, default=None, help="order lines (default 10M)")
    args = parser.parse_args(argv)
    lines = args.lines or (500_000 if args.quick else 10_000_000)

    from bench_engines import write_lines

    from crmlib import clv, lifecycle, profile
    from crmlib.data import load_dataset

    warnings.simplefilter("ignore")  # model warnings belong to reports, not to timings
    with tempfile.TemporaryDirectory(prefix="crmwb-bench-profile-") as tmp:
        work = Path(tmp)
        parquet = work / "lines.parquet"
        n = write_lines(parquet, lines)
        params = {
            "transactions": {"path": str(parquet), "timezone": "UTC"},
            "cache_dir": str(work / "cache"),
            "quarantine_dir": str(work / "quarantine"),
        }
        data, t_load = _timed(lambda: load_dataset(params))
        base, t_base = _timed(lambda: profile.profile_base(data))
        _, t_warm = _timed(lambda: profile.profile_base(data))
        ids = base.segments["customer_id"].sort_values().to_numpy()
        picks = [str(ids[int(i * (len(ids) - 1) / 4)]) for i in range(5)]
        times = []
        for cid in picks:
            _, t = _timed(lambda c=cid: profile.customer_profile(data, c, base=base))
            times.append(t)

        def full() -> None:
            clv.analyse(data.transactions, as_of=base.as_of)
            lifecycle.customer_stages(data.transactions, as_of=base.as_of)

        _, t_full = _timed(full)
    median = statistics.median(times)
    out = {
        "lines": n,
        "customers": len(ids),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_s": round(t_load, 2),
        "base_cold_s": round(t_base, 2),
        "base_warm_s": round(t_warm, 2),
        "profile_median_s": round(median, 2),
        "profile_max_s": round(max(times), 2),
        "notebook_profile_cold_s": round(t_base + times[0], 2),
        "notebook_profile_warm_s": round(t_warm + median, 2),
        "baseline_full_analyses_s": round(t_full, 2),
        "ratio_full_over_cold_profile": round(t_full / (t_base + times[0]), 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    out["target_warm_profile_le_5s"] = out["notebook_profile_warm_s"] <= TARGET_S
    for key, value in out.items():
        print(f"{key:<28} {value}")
    path = ROOT / "reports" / "bench" / "profile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"figures: {path}")
    return out


if __name__ == "__main__":
    main()
