"""Benchmark: ``crmwb run monthly`` on a large demo, without and with the run cache.

Issue 15's figure: the monthly pack (eight notebooks, run two at a time on this 2-core machine)
for a demo retailer of 3M customers (about 10M order lines), and the same for 1M customers.
Target: at most 2 minutes wall and 4 GB peak memory at 10M lines.

For each size a demo is generated (``crmwb demo-data``) into a temporary project whose params
are the repository's, with its own cache folder; the cleaned tables are built once before the
timed runs (``load_dataset``, timed separately). Then, each a fresh ``crmwb run monthly``:

* ``baseline``: the run cache off (``CRMWB_RUN_CACHE=0``): every notebook computes what it needs,
  as before the cache existed;
* ``cold``: the cache on and empty: the notebooks of the run share what they compute;
* ``warm``: the cache full (the same day rerun, or an analyst opening the notebooks later).

The runs go in that order. The order tables kept beside the cleaned tables
(:mod:`crmlib.data.order_store`, formed once per dataset whether the run cache is on or off)
are formed during the baseline run, which therefore includes them; the cold and warm runs find
them formed, as every later run on the same data does.

Reported per run: wall seconds of the command, the peak of the summed resident memory of its
whole process tree (the runner, the notebook workers and their kernels, polled every 0.2 s),
and per notebook its seconds and its own peak (the runner's ``run.json``); the ratios against
``baseline`` come from the same invocation.

Usage: ``.venv/bin/python tests/benchmarks/bench_pack.py [--customers 3000000,1000000]
[--quick]``; ``--quick`` runs 100,000 customers. Figures go to ``reports/bench/pack.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CRMWB = [str(Path(sys.executable).with_name("crmwb"))]
MODES = ("baseline", "cold", "warm")


class TreePeak:
    """Peak of the summed resident memory of a process and all its descendants, polled."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self._pid)
            while not self._stop.wait(0.2):
                total = 0
                with contextlib.suppress(psutil.Error):
                    for proc in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            total += proc.memory_info().rss
                self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def make_project(work: Path, customers: int) -> tuple[Path, float]:
    """A project folder holding a demo of ``customers`` and the repository's params; the
    seconds the demo took to generate."""
    project = work / f"shop-{customers}"
    shutil.copytree(ROOT / "params", project / "params")
    started = time.perf_counter()
    subprocess.run(
        [*CRMWB, "demo-data", "--customers", str(customers), "--out", str(project / "data" / "demo")],
        cwd=project, check=True, env=_env(project, cache=False),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    packs = yaml.safe_load((project / "params" / "reports.yaml").read_text(encoding="utf-8"))
    packs["notebooks_dir"] = str(ROOT / "notebooks")
    (project / "params" / "reports.yaml").write_text(
        yaml.safe_dump(packs, allow_unicode=True), encoding="utf-8"
    )
    return project, seconds


def _env(project: Path, *, cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["CRMWB_PROJECT_DIR"] = str(project)
    env["CRMWB_RUN_CACHE"] = "1" if cache else "0"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def clean_once(project: Path) -> float:
    """Build the cleaned-table cache before the timed runs; seconds taken."""
    started = time.perf_counter()
    code = "from crmlib.data import load_dataset; load_dataset('params/data.yaml')"
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True,
                   env=_env(project, cache=False))  # fmt: skip
    return time.perf_counter() - started


def run_pack(project: Path, mode: str) -> dict[str, Any]:
    """One ``crmwb run monthly`` in ``mode`` (module text): wall, tree peak, per notebook."""
    reports = project / f"reports-{mode}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*CRMWB, "run", "monthly", "--reports-dir", str(reports)],
        cwd=project, env=_env(project, cache=mode != "baseline"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    peak = TreePeak(proc.pid)
    code = proc.wait()
    wall = time.perf_counter() - started
    peak_mb = peak.stop()
    [run_file] = sorted(reports.glob("monthly/*/run.json"))
    run = json.loads(run_file.read_text(encoding="utf-8"))
    return {
        "mode": mode,
        "exit": code,
        "status": run["status"],
        "wall_s": round(wall, 1),
        "peak_mb": peak_mb,
        "notebooks": {
            nb["name"]: {
                "seconds": nb["seconds"],
                "peak_mb": nb.get("peak_mb"),
                "status": nb["status"],
            }
            for nb in run["notebooks"]
        },  # fmt: skip
    }


def bench_size(work: Path, customers: int) -> dict[str, Any]:
    project, demo_s = make_project(work, customers)
    lines = _lines(project)
    clean_s = clean_once(project)
    print(f"{customers:,} customers, {lines:,} order lines: demo {demo_s:.0f} s, cleaning "
          f"{clean_s:.0f} s", flush=True)  # fmt: skip
    runs = {}
    for mode in MODES:
        runs[mode] = run_pack(project, mode)
        r = runs[mode]
        print(f"  {mode:<9} {r['status']:<7} {r['wall_s']:>7.1f} s  peak {r['peak_mb']:>8,.0f} MB",
              flush=True)  # fmt: skip
    base = runs["baseline"]["wall_s"]
    for r in runs.values():
        r["speedup_vs_baseline"] = round(base / r["wall_s"], 2) if r["wall_s"] else None
    shutil.rmtree(project, ignore_errors=True)
    return {"customers": customers, "lines": lines, "demo_s": round(demo_s, 1),
            "cleaning_s": round(clean_s, 1), "runs": runs}  # fmt: skip


def _lines(project: Path) -> int:
    import pyarrow.csv as pacsv

    demo = project / "data" / "demo"
    path = next(p for p in sorted(demo.iterdir()) if p.name.startswith("transactions"))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return pacsv.read_csv(path).num_rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="3000000,1000000",
                        help="demo sizes, comma-separated (default: %(default)s)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="100,000 customers")
    args = parser.parse_args(argv)
    sizes = [100_000] if args.quick else [int(s) for s in args.customers.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="crm-bench-pack-"))
    try:
        results = [bench_size(work, n) for n in sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'customers':>10} {'lines':>11} {'mode':<9} {'wall s':>7} {'x base':>7} "
          f"{'peak MB':>8}")  # fmt: skip
    for res in results:
        for r in res["runs"].values():
            print(f"{res['customers']:>10,} {res['lines']:>11,} {r['mode']:<9} {r['wall_s']:>7.1f} "
                  f"{r['speedup_vs_baseline']:>7.2f} {r['peak_mb']:>8,.0f}")  # fmt: skip
    names = list(results[0]["runs"]["baseline"]["notebooks"]) if results else []
    for res in results:
        print(f"\nper notebook, {res['customers']:,} customers (seconds; own peak MB)")
        for name in names:
            cells = [res["runs"][m]["notebooks"].get(name, {}) for m in MODES]
            print(
                f"  {name:<24}"
                + "".join(
                    f"{c.get('seconds', '-'):>9}{'':1}{c.get('peak_mb') or '-':>8}" for c in cells
                )
            )
    target = None
    big = [r for r in results if r["lines"] >= 9_000_000]
    if big:
        best = big[0]["runs"]["cold"]
        target = best["wall_s"] <= 120 and best["peak_mb"] <= 4096
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "sizes": results, "target_2min_4gb_at_10m_lines": target}  # fmt: skip
    path = ROOT / "reports" / "bench" / "pack.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"figures: {path}")
    if any(r["status"] != "ok" for res in results for r in res["runs"].values()):
        raise SystemExit(1)
    return out


if __name__ == "__main__":
    main()
