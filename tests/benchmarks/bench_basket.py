"""Benchmark of crmlib.basket against mlxtend on a large, skewed catalogue.

Association rules: 500,000 baskets over 5,000 SKUs with Zipf-like popularity (plus a few planted
pairs and triples), min support 0.001, itemsets up to 3 items. Baseline: mlxtend ``fpgrowth`` +
``association_rules(num_itemsets=...)`` on the plain sparse one-hot frame of the same baskets,
built from the same order lines. Both must give the same rules (asserted: counts exact, metrics
to 1e-9). Targets: >= 10x faster, <= 1 GB peak memory.

The same 500,000 baskets with no cap on the itemset length (``max_len=0``; mlxtend
``max_len=None``), and a dense category-level case: 150,000 baskets over 200 categories, several
per basket, with planted bundles of four to six categories, min support 0.01, no cap. Targets:
>= 10x mlxtend, identical rules.

Sequential rules: 1,000,000 members / 10,000,000 order lines, 30-day window. Target < 60 s.

Memory method: each method runs in its own subprocess; peak memory is the process's peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), reported both in full and as
the increase over the RSS just before the call (after imports and reading the order lines).

Usage: ``.venv/bin/python tests/benchmarks/bench_basket.py [--quick]``; figures go to
``reports/bench/basket.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_baskets(path: Path, *, n_baskets: int, n_skus: int, seed: int = 1) -> int:
    """Order lines of ``n_baskets`` orders over ``n_skus`` SKUs with Zipf-like popularity."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_skus + 1) ** 1.05
    pop /= pop.sum()
    sizes = 1 + rng.poisson(1.6, n_baskets)
    order = np.repeat(np.arange(n_baskets), sizes)
    sku = rng.choice(n_skus, size=len(order), p=pop)
    extra_o, extra_s = [order], [sku]
    # planted pairs and triples among mid-popularity SKUs
    for k, (items, rate) in enumerate(
        [((40, 41), 0.01), ((60, 61), 0.008), ((80, 81, 82), 0.006), ((100, 101, 102), 0.004)]
    ):
        hit = np.flatnonzero(np.random.default_rng(seed + k + 1).random(n_baskets) < rate)
        for it in items:
            extra_o.append(hit)
            extra_s.append(np.full(len(hit), it))
    order = np.concatenate(extra_o)
    sku = np.concatenate(extra_s)
    n = len(order)
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("C", (order % (n_baskets // 3 + 1)).astype(str))),
            "order_id": pa.array(np.char.add("O", order.astype(str))),
            "ordered_at": pa.array(
                np.datetime64("2024-01-01") + (order % 365).astype("timedelta64[D]")
            ).cast(pa.timestamp("us")),
            "amount": pa.array(np.full(n, 9.9)),
            "sku": pa.array(np.char.add("SKU", sku.astype(str))),
        }
    )
    pq.write_table(table, path)
    return n


def write_dense_baskets(path: Path, *, n_baskets: int, n_categories: int, seed: int = 3) -> int:
    """Order lines at category level: few categories, several per basket, and planted bundles
    of four to six categories, so that itemsets run long (a grocery export's category rules)."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_categories + 1) ** 0.8
    pop /= pop.sum()
    sizes = 1 + rng.poisson(9.0, n_baskets)  # a grocery basket spans about ten categories
    order = np.repeat(np.arange(n_baskets), sizes)
    cat = rng.choice(n_categories, size=len(order), p=pop)
    extra_o, extra_c = [order], [cat]
    for k, size in enumerate((4, 5, 6, 5, 4)):
        items = np.arange(10 + 12 * k, 10 + 12 * k + size)
        chosen = np.flatnonzero(rng.random(n_baskets) < 0.03)
        extra_o.append(np.repeat(chosen, size))
        extra_c.append(np.tile(items, len(chosen)))
    order, cat = np.concatenate(extra_o), np.concatenate(extra_c)
    table = pa.table(
        {
            "order_id": pa.array(np.char.add("O", order.astype(str))),
            "customer_id": pa.array(np.char.add("C", (order % 50_000).astype(str))),
            "sku": pa.array(np.char.add("CAT", cat.astype(str))),
            "amount": pa.array(np.full(len(order), 10.0)),
            "ordered_at": pa.array(
                np.datetime64("2024-01-01") + (order % 365).astype("timedelta64[D]")
            ).cast(pa.timestamp("us")),
        }
    )
    pq.write_table(table, path)
    return len(order)


def write_histories(path: Path, *, n_customers: int, n_lines: int, seed: int = 2) -> None:
    """Order lines of ``n_customers`` members over 3 years, ``n_lines`` in all, 5,000 SKUs."""
    rng = np.random.default_rng(seed)
    cust = np.sort(rng.integers(0, n_customers, n_lines))
    day = rng.integers(0, 1095, n_lines)
    pop = 1.0 / np.arange(1, 5001) ** 1.05
    pop /= pop.sum()
    sku = rng.choice(5000, size=n_lines, p=pop)
    # planted: a share of buyers of SKU 30 buy SKU 31 within 2-20 days
    a_rows = np.flatnonzero((sku == 30) & (rng.random(n_lines) < 0.3))
    cust = np.concatenate([cust, cust[a_rows]])
    day = np.concatenate([day, day[a_rows] + rng.integers(2, 21, len(a_rows))])
    sku = np.concatenate([sku, np.full(len(a_rows), 31)])
    n = len(cust)
    cust_ids = pa.array(np.arange(n_customers).astype(str)).dictionary_encode()
    table = pa.table(
        {
            "customer_id": pa.DictionaryArray.from_arrays(
                pa.array(cust, type=pa.int32()), cust_ids.dictionary
            ).cast(pa.string()),
            "order_id": pa.array((cust * 2000 + day).astype(str)),
            "ordered_at": pa.array(np.datetime64("2023-01-01") + day.astype("timedelta64[D]")).cast(
                pa.timestamp("us")
            ),
            "amount": pa.array(np.full(n, 19.9)),
            "sku": pa.DictionaryArray.from_arrays(
                pa.array(sku, type=pa.int32()),
                pa.array(np.char.add("SKU", np.arange(5000).astype(str))),
            ).cast(pa.string()),
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)


# ------------------------------------------------------------------------------------------
# workers (each in its own process)


def worker_ours(data: Path, out: Path, min_support: float, max_len: int) -> dict:
    import pandas as pd

    from crmlib import basket
    from crmlib.basket import associations
    from crmlib.data import connection

    connection()  # open the embedded database before timing (mlxtend's imports are untimed too)
    lines = pd.read_parquet(data)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    rules = basket.association_rules(
        lines,
        min_support=min_support,
        min_confidence=0.0,
        min_lift=0.0,
        max_len=max_len,
        significance=None,
        prune=False,
    )
    seconds = time.perf_counter() - t0
    # the same work split in two: order lines -> incidence matrix, then mining alone
    t1 = time.perf_counter()
    x, items = associations.incidence(lines, level="sku", basket="order", as_of=None)
    t2 = time.perf_counter()
    associations.rules_from_incidence(
        x,
        items,
        min_support=min_support,
        min_confidence=0.0,
        min_lift=0.0,
        max_len=max_len or None,  # 0 means no cap, as association_rules reads it
        significance=None,
        prune=False,
    )
    mining = time.perf_counter() - t2
    keys = [
        "|".join(a) + ">" + "|".join(c)
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    frame = pd.DataFrame({"key": keys}).join(
        rules[["n_both", "support", "confidence", "lift", "leverage", "conviction"]]
    )
    frame["n_baskets"] = rules.attrs["n_baskets"]
    frame.to_parquet(out)
    return {
        "seconds": seconds,
        "baskets_seconds": t2 - t1,
        "mining_seconds": mining,
        "peak_mb": _peak_mb(),
        "rss_before_mb": rss0,
        "rules": len(rules),
    }


def worker_mlxtend(data: Path, out: Path, min_support: float, max_len: int) -> dict:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from scipy import sparse

    lines = pd.read_parquet(data)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    pairs = lines[lines["amount"] >= 0][["order_id", "sku"]].drop_duplicates()
    rows, _ = pd.factorize(pairs["order_id"])
    cols, skus = pd.factorize(pairs["sku"], sort=True)
    x = sparse.csr_matrix(
        (np.ones(len(rows), dtype=bool), (rows, cols)), shape=(rows.max() + 1, len(skus))
    )
    onehot = pd.DataFrame.sparse.from_spmatrix(x, columns=[str(s) for s in skus])
    t_frame = time.perf_counter() - t0
    sets = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_len or None)
    rules = association_rules(
        sets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.0
    )
    seconds = time.perf_counter() - t0
    keys = [
        "|".join(sorted(a)) + ">" + "|".join(sorted(c))
        for a, c in zip(rules["antecedents"], rules["consequents"], strict=True)
    ]
    n = len(onehot)
    frame = pd.DataFrame(
        {
            "key": keys,
            "n_both": np.rint(rules["support"].to_numpy() * n).astype(np.int64),
            "support": rules["support"].to_numpy(),
            "confidence": rules["confidence"].to_numpy(),
            "lift": rules["lift"].to_numpy(),
            "leverage": rules["leverage"].to_numpy(),
            "conviction": rules["conviction"].to_numpy(),
        }
    )
    frame["n_baskets"] = n
    frame.to_parquet(out)
    return {
        "seconds": seconds,
        "one_hot_seconds": t_frame,
        "mining_seconds": seconds - t_frame,
        "peak_mb": _peak_mb(),
        "rss_before_mb": rss0,
        "rules": len(rules),
    }


def worker_sequential(data: Path, within_days: int, min_customers: int) -> dict:
    from crmlib import basket
    from crmlib.data import connection

    connection()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    rules = basket.sequential_rules(
        data, within_days=within_days, min_customers=min_customers, level="sku"
    )
    seconds = time.perf_counter() - t0
    top = rules.iloc[0] if len(rules) else None
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "rss_before_mb": rss0,
        "rules": len(rules),
        "top_rule": None if top is None else f"{top['antecedent']} -> {top['consequent']}",
        "top_lift": None if top is None else float(top["lift"]),
    }


def _run_worker(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: Path, theirs: Path) -> dict:
    import pandas as pd

    a = pd.read_parquet(ours).set_index("key").sort_index()
    b = pd.read_parquet(theirs).set_index("key").sort_index()
    same_keys = a.index.equals(b.index)
    assert same_keys, f"rule sets differ: {len(a)} vs {len(b)} rules"
    assert (a["n_both"] == b["n_both"]).all(), "basket counts differ"
    worst = 0.0
    for col in ("support", "confidence", "lift", "leverage", "conviction"):
        x, y = a[col].to_numpy(), b[col].to_numpy()
        finite = np.isfinite(x) & np.isfinite(y)
        assert (np.isinf(x) == np.isinf(y)).all(), f"{col}: infinities differ"
        # relative to the value where it exceeds 1 (a conviction of thousands keeps 1e-9 of it)
        scale = np.maximum(1.0, np.abs(y[finite]))
        diff = float(np.max(np.abs(x[finite] - y[finite]) / scale)) if finite.any() else 0.0
        assert diff <= 1e-9, f"{col} differs by {diff} (relative above 1)"
        worst = max(worst, diff)
    return {"identical": True, "rules": len(a), "max_abs_diff": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a fast check")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "ours":
            res = worker_ours(Path(rest[0]), Path(rest[1]), float(rest[2]), int(rest[3]))
        elif kind == "mlxtend":
            res = worker_mlxtend(Path(rest[0]), Path(rest[1]), float(rest[2]), int(rest[3]))
        else:
            res = worker_sequential(Path(rest[0]), int(rest[1]), int(rest[2]))
        sys.stdout.write(json.dumps(res) + "\n")
        return

    if args.quick:
        n_baskets, n_skus, n_customers, n_lines = 50_000, 1_000, 100_000, 1_000_000
        n_dense, n_categories = 30_000, 100
    else:
        n_baskets, n_skus, n_customers, n_lines = 500_000, 5_000, 1_000_000, 10_000_000
        n_dense, n_categories = 150_000, 200
    dense_support = 0.01
    min_support, max_len, within_days, min_customers = 0.001, 3, 30, 50
    results: dict = {
        "sizes": {
            "baskets": n_baskets,
            "skus": n_skus,
            "min_support": min_support,
            "max_len": max_len,
            "customers": n_customers,
            "order_lines_sequential": n_lines,
            "within_days": within_days,
        },
        "memory_method": "peak RSS of a fresh subprocess per method (getrusage ru_maxrss); "
        "'increase' subtracts the RSS just before the call (imports and order lines loaded)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "baskets.parquet"
        dense = tmp_path / "dense.parquet"
        results["sizes"]["order_lines_baskets"] = write_baskets(
            data, n_baskets=n_baskets, n_skus=n_skus
        )
        ours = _run_worker(
            "ours", str(data), str(tmp_path / "ours.parquet"), str(min_support), str(max_len)
        )
        theirs = _run_worker(
            "mlxtend", str(data), str(tmp_path / "mlx.parquet"), str(min_support), str(max_len)
        )
        results["association"] = {
            "crmlib": ours,
            "mlxtend": theirs,
            "speedup": theirs["seconds"] / ours["seconds"],
            "speedup_mining_only": theirs["mining_seconds"] / ours["mining_seconds"],
            "check": compare(tmp_path / "ours.parquet", tmp_path / "mlx.parquet"),
        }
        for name, case_data, support, cap in (
            ("association_no_cap", data, min_support, 0),
            ("association_dense", dense, dense_support, 0),
        ):
            if name == "association_dense":
                results["sizes"]["dense_order_lines"] = write_dense_baskets(
                    dense, n_baskets=n_dense, n_categories=n_categories
                )
            mine = _run_worker("ours", str(case_data), str(tmp_path / f"{name}_ours.parquet"),
                               str(support), str(cap))  # fmt: skip
            other = _run_worker("mlxtend", str(case_data), str(tmp_path / f"{name}_mlx.parquet"),
                                str(support), str(cap))  # fmt: skip
            results[name] = {
                "min_support": support,
                "max_len": cap,
                "crmlib": mine,
                "mlxtend": other,
                "speedup": other["seconds"] / mine["seconds"],
                "speedup_mining_only": other["mining_seconds"] / mine["mining_seconds"],
                "check": compare(
                    tmp_path / f"{name}_ours.parquet", tmp_path / f"{name}_mlx.parquet"
                ),  # fmt: skip
            }
        hist = tmp_path / "histories.parquet"
        write_histories(hist, n_customers=n_customers, n_lines=n_lines)
        results["sequential"] = _run_worker(
            "sequential", str(hist), str(within_days), str(min_customers)
        )

    a, s = results["association"], results["sequential"]
    rows = [
        ("association rules", "crmlib.basket", a["crmlib"]),
        ("association rules", "mlxtend fpgrowth+rules", a["mlxtend"]),
        ("sequential rules", "crmlib.basket", s),
    ]
    out = [
        f"{'task':<20}{'method':<26}{'seconds':>9}{'peak MB':>10}{'increase MB':>13}{'rules':>8}"
    ]
    for task, method, r in rows:
        out.append(
            f"{task:<20}{method:<26}{r['seconds']:>9.2f}{r['peak_mb']:>10.0f}"
            f"{r['peak_mb'] - r['rss_before_mb']:>13.0f}{r['rules']:>8}"
        )
    out.append(
        f"order lines -> rules: crmlib {a['crmlib']['seconds']:.2f} s "
        f"(baskets {a['crmlib']['baskets_seconds']:.2f} s in the database, mining "
        f"{a['crmlib']['mining_seconds']:.2f} s); mlxtend {a['mlxtend']['seconds']:.2f} s "
        f"(one-hot frame {a['mlxtend']['one_hot_seconds']:.2f} s, mining "
        f"{a['mlxtend']['mining_seconds']:.2f} s)"
    )
    out.append(
        f"speed-up vs mlxtend: {a['speedup']:.1f}x end to end, "
        f"{a['speedup_mining_only']:.1f}x mining only (target >= 10x); identical rules: "
        f"{a['check']['identical']} ({a['check']['rules']} rules, max diff "
        f"{a['check']['max_abs_diff']:.1e}); sequential target < 60 s"
    )
    for name, label in (("association_no_cap", "no length cap (max_len=0)"),
                        ("association_dense", "dense categories, no cap")):  # fmt: skip
        r = results[name]
        out.append(
            f"{label}: crmlib {r['crmlib']['seconds']:.2f} s ({r['crmlib']['peak_mb']:.0f} MB "
            f"peak), mlxtend {r['mlxtend']['seconds']:.2f} s: {r['speedup']:.1f}x end to end, "
            f"{r['speedup_mining_only']:.1f}x mining only (target >= 10x); identical rules: "
            f"{r['check']['identical']} ({r['check']['rules']} rules)"
        )
    sys.stdout.write("\n".join(out) + "\n")
    results["load_average"] = os.getloadavg()
    results["cpus"] = os.cpu_count()
    out.append(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    sys.stdout.write(out[-1] + "\n")
    target = ROOT / "reports" / "bench" / "basket.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    results["quick"] = args.quick
    target.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
