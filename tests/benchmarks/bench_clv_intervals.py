"""Benchmark of crmlib.clv.intervals on a simulated base of 1M customers (100k with --quick).

Measures in one run, on the default settings of ``clv.yaml`` (200 parameter draws, a 24-month
forecast, horizons of months 1–12 and 13–24):

- time of ``crmlib.clv.intervals``: per-customer intervals of expected purchases, P(alive),
  expected spend and CLV, and the monthly forecast with its bands — target <= 30 s at 1M;
- the process's peak memory (resident set, including the simulated data and the fits) —
  target <= 2 GB;
- against the baseline, the forecast alone (no per-customer intervals) with every curve
  evaluated by the closed form instead of interpolated: the speed-up over our forecast alone,
  and the largest relative difference of the forecast's figures (interpolation must not move
  them: tolerance 1e-6).

Run: ``.venv/bin/python tests/benchmarks/bench_clv_intervals.py [--quick]``; figures go to
``reports/bench/clv_intervals.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crmlib import clv  # noqa: E402
from crmlib.clv.curves import Curves  # noqa: E402
from crmlib.simulate.clv_base import simulate_base  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k customers instead of 1M")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    data = simulate_base(n, seed=1, future_months=0).summary
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data)
    t_fit = time.perf_counter() - start

    start = time.perf_counter()
    result = clv.intervals(data, model=model, spend_model=spend, as_of="2026-09-30")
    t_ours = time.perf_counter() - start
    peak = _peak_mb()

    start = time.perf_counter()
    clv.intervals(data, model=model, spend_model=spend, as_of="2026-09-30", customers=False)
    t_forecast = time.perf_counter() - start

    exact_call = Curves.__call__
    Curves.__call__ = Curves.exact  # the baseline: every curve by the closed form
    try:
        start = time.perf_counter()
        baseline = clv.intervals(
            data, model=model, spend_model=spend, as_of="2026-09-30", customers=False
        )
        t_base = time.perf_counter() - start
    finally:
        Curves.__call__ = exact_call
    numeric = result.forecast.select_dtypes("number").columns.drop(["month", "customers"])
    ours_values = result.forecast[numeric].to_numpy(float)
    base_values = baseline.forecast[numeric].to_numpy(float)
    difference = float(np.max(np.abs(ours_values / base_values - 1)))

    months = int(result.forecast["month"].max())
    figures = {
        "customers": n,
        "draws": result.draws,
        "forecast_months": months,
        "fit_seconds": round(t_fit, 3),
        "intervals_seconds": round(t_ours, 3),
        "intervals_target_seconds": 30.0 if n >= 1_000_000 else 3.0,
        "peak_memory_mb": round(peak, 1),
        "peak_memory_target_mb": 2048,
        "forecast_only_seconds": round(t_forecast, 3),
        "baseline_forecast_seconds": round(t_base, 3),
        "speedup_vs_closed_form": round(t_base / t_forecast, 2),
        "max_relative_difference_vs_closed_form": difference,
        "difference_tolerance": 1e-6,
        "value_12_months": result.horizons.iloc[0][["value", "value_lower", "value_upper"]]
        .astype(float)
        .to_dict(),
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
    print(f"crmlib.clv.intervals benchmark — {n:,} simulated customers, {result.draws} draws")
    print(f"{'step':<52}{'seconds':>9}  note")
    print(f"{'fit BG/NBD + Gamma-Gamma':<52}{t_fit:>9.2f}")
    print(
        f"{'intervals: customers + forecast + horizons':<52}{t_ours:>9.2f}  target <= "
        f"{figures['intervals_target_seconds']:.0f} s; peak memory {peak:,.0f} MB (<= 2048)"
    )
    print(f"{'forecast alone (no per-customer intervals)':<52}{t_forecast:>9.2f}")
    print(
        f"{'baseline: forecast alone, closed-form curves':<52}{t_base:>9.2f}  "
        f"ours {t_base / t_forecast:.1f}x faster; max difference {difference:.1e} (tol 1e-6)"
    )
    out = ROOT / "reports" / "bench" / "clv_intervals.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"figures written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
