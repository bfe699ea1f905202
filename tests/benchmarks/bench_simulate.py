"""Benchmark of the demo retailer (crmlib.simulate).

1. Purchase generation: the vectorised BG/NBD clocks of ``crmlib.simulate.purchases.draw_members``
   against a baseline that runs the same process customer by customer in a Python loop (the way
   lifetimes' ``beta_geometric_nbd_model`` generator does), on the same customers and planted
   parameters. Both must give the same mean number of repeat purchases within sampling error
   (asserted). The vectorised time includes acquisition and channel draws the loop skips, and
   most members buy once or twice, so the loop is short: the ratio is reported, target >= 1.5x.
2. Whole demo: ``write_demo`` (simulation and every file) at 50,000 members (target < 60 s on a
   2-core machine) and at 1,000,000 members (target: minutes, peak memory < 8 GB), each in its own
   subprocess; peak memory is the subprocess's peak resident set size.

Usage: ``.venv/bin/python tests/benchmarks/bench_simulate.py [--quick]`` (``--quick``: 10,000
members and no million-member build); figures go to ``reports/bench/simulate.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crmlib.simulate import load_assumptions  # noqa: E402
from crmlib.simulate.calendar import build_calendar  # noqa: E402
from crmlib.simulate.purchases import draw_members  # noqa: E402


def loop_repeats(lam: np.ndarray, p: np.ndarray, span: np.ndarray, seed: int) -> np.ndarray:
    """Baseline: BG/NBD repeat purchases per customer, one customer at a time."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(lam), dtype=np.int64)
    for i in range(len(lam)):
        t, x = 0.0, 0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > span[i]:
                break
            x += 1
            if rng.random() < p[i]:
                break
        out[i] = x
    return out


def bench_purchases(n: int) -> dict[str, float]:
    cfg = load_assumptions(ROOT / "params" / "simulate.yaml")
    cal = build_calendar(cfg)
    start = time.perf_counter()
    members, _ = draw_members(np.random.default_rng(1), n, cfg, cal)
    fast = time.perf_counter() - start
    span = cal.days - cal.to_operational(members.acquired)
    start = time.perf_counter()
    slow_repeats = loop_repeats(members.lam, members.p, span, seed=2)
    slow = time.perf_counter() - start
    se = np.sqrt(members.repeats.var() / n + slow_repeats.var() / n)
    diff = abs(members.repeats.mean() - slow_repeats.mean())
    assert diff < 4 * se, f"vectorised and loop means differ: {diff:.4f} (se {se:.4f})"
    return {
        "customers": n,
        "vectorised_s": fast,
        "python_loop_s": slow,
        "speedup": slow / fast,
        "mean_repeats_vectorised": float(members.repeats.mean()),
        "mean_repeats_loop": float(slow_repeats.mean()),
    }


_BUILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from crmlib.simulate import write_demo
start = time.perf_counter()
write_demo({out!r}, customers={n}, seed=42)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak}}))
"""


def bench_build(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        code = _BUILD.format(root=str(ROOT), out=str(out), n=n)
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
        size = sum(f.stat().st_size for f in out.iterdir())
    return {
        "customers": n,
        "seconds": figures["seconds"],
        "peak_mb": figures["peak_mb"],
        "lines": truth["counts"]["lines"],
        "orders": truth["counts"]["orders"],
        "folder_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no 1M build")
    args = parser.parse_args()
    purchases = bench_purchases(20_000 if args.quick else 100_000)
    builds = [bench_build(10_000 if args.quick else 50_000)]
    if not args.quick:
        builds.append(bench_build(1_000_000))

    print("BG/NBD purchase generation")
    print(f"{'customers':>10} {'vectorised s':>13} {'python loop s':>14} {'speedup':>8}")
    print(
        f"{purchases['customers']:>10,} {purchases['vectorised_s']:>13.3f} "
        f"{purchases['python_loop_s']:>14.3f} {purchases['speedup']:>7.1f}x"
    )
    print("\nwrite_demo (simulation + files)")
    print(f"{'customers':>10} {'seconds':>9} {'peak MB':>9} {'lines':>11} {'folder MB':>10}")
    for b in builds:
        print(
            f"{b['customers']:>10,} {b['seconds']:>9.1f} {b['peak_mb']:>9.0f} "
            f"{b['lines']:>11,} {b['folder_mb']:>10.1f}"
        )
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    figures = {"quick": args.quick, "purchases": purchases, "write_demo": builds}
    (out / "simulate.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
