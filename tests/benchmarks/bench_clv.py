"""Benchmark of crmlib.clv on a simulated base of 1M customers (100k with --quick).

Draws a BG/NBD purchase process with Gamma-Gamma spend directly as a customer summary (no
transactions), at day resolution expressed in weeks (days / 7), then measures in one run:

- fit time of ``crmlib.clv.fit`` (median of three runs) (compression to unique rows + numpy likelihood with analytic
  gradient) against plain lifetimes ``BetaGeoFitter().fit(frequency, recency, T)`` on the
  uncompressed summary — target ratio >= 20x, parameters equal within 1e-3 relative;
- scoring time of ``crmlib.clv.score`` (expected purchases, P(alive), expected spend and
  12-month CLV) for every customer (median of three runs) — target < 5 s at 1M.

Run: ``.venv/bin/python tests/benchmarks/bench_clv.py [--quick]``; figures go to
``reports/bench/clv.json``.
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

from crmlib import clv  # noqa: E402
from crmlib.simulate.clv_base import PURCHASE, simulate_base  # noqa: E402

TRUE = PURCHASE  # weeks, close to CDNOW


def simulate(n: int, *, seed: int = 1, max_days: int = 3 * 365) -> pd.DataFrame:
    """BG/NBD customers observed for 1..max_days days since their first purchase."""
    return simulate_base(n, seed=seed, max_days=max_days, future_months=0).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k customers instead of 1M")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    data = simulate(n)

    from lifetimes import BetaGeoFitter

    runs = []
    for _ in range(3):  # median of three runs: the machine may be shared
        start = time.perf_counter()
        ours = clv.fit(data)
        runs.append(time.perf_counter() - start)
    t_ours = float(np.median(runs))

    start = time.perf_counter()
    base = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    t_base = time.perf_counter() - start

    rel = {k: abs(ours.params_[k] / float(base.params_[k]) - 1) for k in TRUE}

    start = time.perf_counter()
    spend = clv.fit_spend(data)
    t_spend = time.perf_counter() - start

    runs = []
    for _ in range(3):
        start = time.perf_counter()
        scores = clv.score(data, model=ours, spend_model=spend)
        runs.append(time.perf_counter() - start)
    t_score = float(np.median(runs))

    figures = {
        "customers": n,
        "unique_rows": ours.n_rows_,
        "fit_seconds": round(t_ours, 3),
        "lifetimes_fit_seconds": round(t_base, 3),
        "fit_speedup": round(t_base / t_ours, 1),
        "fit_speedup_target": 20,
        "max_relative_param_difference": float(max(rel.values())),
        "param_tolerance": 1e-3,
        "params": ours.params_,
        "lifetimes_params": {k: float(v) for k, v in base.params_.items()},
        "true_params": TRUE,
        "spend_fit_seconds": round(t_spend, 3),
        "score_seconds": round(t_score, 3),
        "score_target_seconds": 5.0 if n >= 1_000_000 else 0.5,
        "mean_clv": float(scores["clv"].mean()),
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
    print(f"crmlib.clv benchmark — {n:,} simulated customers ({ours.n_rows_:,} unique rows)")
    print(f"{'step':<34}{'seconds':>10}  note")
    print(f"{'crmlib.clv.fit (BG/NBD)':<34}{t_ours:>10.2f}")
    print(f"{'lifetimes BetaGeoFitter().fit':<34}{t_base:>10.2f}  baseline")
    print(
        f"{'fit speed-up':<34}{t_base / t_ours:>9.1f}x  target >= 20x; "
        f"max param diff {max(rel.values()):.1e} (tol 1e-3)"
    )
    print(f"{'crmlib.clv.fit_spend (Gamma-Gamma)':<34}{t_spend:>10.2f}")
    print(
        f"{'crmlib.clv.score (purchases, P(alive), CLV)':<34}{t_score:>10.2f}  target < "
        f"{figures['score_target_seconds']} s"
    )
    out = ROOT / "reports" / "bench" / "clv.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"figures written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
