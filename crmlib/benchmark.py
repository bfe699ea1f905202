"""Our KPIs against cited industry benchmarks.

Benchmark figures with their source, year, scope and comparability are data in
``params/benchmarks.yaml``. :func:`compare_benchmarks` sets each figure beside the KPI it is
compared with (:mod:`crmlib.kpis`), with the gap and whether it is good; a figure in another unit
or for another scope says so rather than being judged. Everything here is numbers;
:mod:`crmlib.present.benchmark` writes them for a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.compat import moved, renamed_keyword
from crmlib.config import check_choice, load_params
from crmlib.errors import ConfigError
from crmlib.kpis import UNITS, direction, load_kpis, params_source

__all__ = [
    "COLUMNS",
    "COMPARABILITY",
    "KINDS",
    "benchmark_status",
    "compare_benchmarks",
    "load_benchmarks",
]

#: Kinds of benchmark entry: an industry figure, a competitor's, or a context claim (no KPI).
KINDS: tuple[str, ...] = ("benchmark", "competitor", "context")
#: How closely a figure measures what our KPI measures.
COMPARABILITY: tuple[str, ...] = ("direct", "approximate", "not comparable")
#: Columns of :func:`load_benchmarks`.
COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "kpi",
    "value",
    "low",
    "high",
    "unit",
    "year",
    "source",
    "scope",
    "comparability",
    "note",
)

_FILE = "benchmarks.yaml"


def load_benchmarks(
    params: str | Path | Mapping[str, Any] | None = None,
    *,
    include_examples: bool = False,
    kpi_params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Read and check the benchmark figures (``benchmarks.yaml``).

    Parameters
    ----------
    params
        Overrides of ``benchmarks.yaml`` for this call: a mapping ``{"benchmarks": {id: entry}}``
        or the path of a YAML file (see :func:`crmlib.config.load_params`). ``path=`` is a
        deprecated alias.
    include_examples
        Keep entries marked ``example: true`` (documentation entries).
    kpi_params
        Overrides of ``kpis.yaml`` (:func:`crmlib.kpis.load_kpis`); an entry naming an unknown
        KPI is an error. ``kpis=`` is a deprecated alias.

    Returns
    -------
    pandas.DataFrame
        ``id, kind, kpi, value, low, high, unit, year, source, scope, comparability, note``.

    Raises
    ------
    ConfigError
        An entry lacks value, unit, year, source or scope, or a field has a wrong value; the
        message names the file, the entry and the value given.
    """
    params = renamed_keyword("load_benchmarks", kwargs, "path", "params", params)
    kpi_params = renamed_keyword("load_benchmarks", kwargs, "kpis", "kpi_params", kpi_params)
    if kwargs:
        raise TypeError(f"load_benchmarks() got unexpected keyword arguments {sorted(kwargs)}")
    source = params_source(_FILE, params)
    entries = load_params(_FILE, params).get("benchmarks")
    if not isinstance(entries, Mapping):
        raise ConfigError(
            f"{source}: the benchmark params need a mapping `benchmarks: {{id: entry}}`; "
            f"got {entries!r}"
        )
    known = set(load_kpis(kpi_params)["kpis"])
    rows = []
    for key, e in entries.items():
        where = f"{source}: benchmarks.{key}"
        if not isinstance(e, Mapping):
            raise ConfigError(f"{where} must be a mapping; got {e!r}")
        for field in ("value", "unit", "year", "source", "scope"):
            if e.get(field) in (None, ""):
                raise ConfigError(f"{where} lacks {field!r} (every entry needs value, unit, "
                                  f"year, source and scope); got {dict(e)!r}")  # fmt: skip
        value = e["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.value must be a number; got {value!r}")
        check_choice(f"{where}.unit", e["unit"], UNITS)
        year = e["year"]
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise ConfigError(f"{where}.year must be a year such as 2018; got {year!r}")
        kind = check_choice(f"{where}.kind", e.get("kind", "benchmark"), KINDS)
        comp = check_choice(
            f"{where}.comparability", e.get("comparability", "approximate"), COMPARABILITY
        )
        kpi = e.get("kpi")
        if kpi is not None and kpi not in known:
            raise ConfigError(f"{where}.kpi must be one of {sorted(known)} or empty; got {kpi!r}")
        rng = e.get("range")
        if rng is not None and (not isinstance(rng, list | tuple) or len(rng) != 2):
            raise ConfigError(f"{where}.range must be [low, high]; got {rng!r}")
        if e.get("example") and not include_examples:
            continue
        rows.append(
            {
                "id": key,
                "kind": kind,
                "kpi": kpi,
                "value": float(value),
                "low": float(rng[0]) if rng else np.nan,
                "high": float(rng[1]) if rng else np.nan,
                "unit": e["unit"],
                "year": int(year),
                "source": str(e["source"]),
                "scope": str(e["scope"]),
                "comparability": comp,
                "note": str(e.get("note") or ""),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def compare_benchmarks(
    values: pd.DataFrame,
    benchmarks: pd.DataFrame | None = None,
    *,
    params: str | Path | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Each benchmark entry with the KPI it compares with, the gap and whether it is good.

    Parameters
    ----------
    values
        :func:`crmlib.kpis.kpi_table` or :func:`crmlib.kpis.compare_periods` output (columns
        ``kpi`` and ``value``).
    benchmarks
        :func:`load_benchmarks` output; default the figures of ``benchmarks.yaml``.
    params
        Overrides of ``kpis.yaml`` (:func:`crmlib.kpis.load_kpis`); ``kpis=`` is a deprecated
        alias.

    Returns
    -------
    pandas.DataFrame
        Benchmark columns plus ``our_value, our_unit, our_scope, gap`` (ours - benchmark),
        ``why_not`` (why our value is not measured, from ``values`` when it says),
        ``status`` (good / bad / neutral / n/a; context entries are ``context``),
        ``unit_match`` and ``comparable_note`` (what differs: ``unit``, ``scope``).
    """
    params = renamed_keyword("compare_benchmarks", kwargs, "kpis", "params", params)
    if kwargs:
        raise TypeError(f"compare_benchmarks() got unexpected keyword arguments {sorted(kwargs)}")
    defs = load_kpis(params)
    bench = load_benchmarks(kpi_params=params) if benchmarks is None else benchmarks
    ours = values.set_index("kpi")["value"]
    # why a KPI could not be measured (crmlib.kpis), so every page gives the same reason
    reasons = values.set_index("kpi")["why_not"] if "why_not" in values else pd.Series(dtype=object)
    rows = []
    for _, b in bench.iterrows():
        row = b.to_dict()
        kpi = b["kpi"] if isinstance(b["kpi"], str) else None
        spec = defs["kpis"].get(kpi) if kpi else None
        v = float(ours.get(kpi, np.nan)) if kpi else np.nan
        row["our_value"] = v
        row["why_not"] = reasons.get(kpi) if kpi else None
        row["our_unit"] = spec["unit"] if spec else ""
        row["our_scope"] = spec["scope"] if spec else ""
        row["unit_match"] = bool(spec) and spec["unit"] == b["unit"]
        if b["kind"] == "context":
            row["gap"], row["status"] = np.nan, "context"
        elif spec is None or not row["unit_match"]:
            row["gap"], row["status"] = np.nan, "n/a"
        else:
            gap = v - float(b["value"]) if np.isfinite(v) else np.nan
            row["gap"] = gap
            row["status"] = direction(gap, higher_is_better=spec["higher_is_better"])
            if row["status"] == "flat":
                row["status"] = "good"
        notes = []
        if spec is not None and not row["unit_match"]:
            notes.append("unit")
        if b["comparability"] != "direct":
            notes.append("scope")
        row["comparable_note"] = ",".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def benchmark_status(bench: pd.DataFrame) -> pd.DataFrame:
    """One verdict per KPI from the benchmark comparison.

    Parameters
    ----------
    bench
        :func:`compare_benchmarks` output.

    Returns
    -------
    pandas.DataFrame
        ``kpi, benchmark, benchmark_source, vs_benchmark, comparability``: per KPI the first
        entry of kind benchmark (else competitor) with a status good, bad or neutral, a
        directly comparable one before one whose scope differs.
    """
    pool = bench[bench["kind"].isin(["benchmark", "competitor"]) & bench["kpi"].notna()]
    pool = pool[pool["status"].isin(["good", "bad", "neutral"])]
    pool = pool.assign(
        _k=pool["kind"].map({"benchmark": 0, "competitor": 1}),
        _c=(pool["comparability"] != "direct").astype(int),
    )
    pool = pool.sort_values(["_k", "_c"], kind="stable").drop_duplicates("kpi")
    return pd.DataFrame(
        {
            "kpi": pool["kpi"].to_numpy(),
            "benchmark": pool["value"].to_numpy(float),
            "benchmark_source": pool["source"].to_numpy(),
            "vs_benchmark": pool["status"].to_numpy(),
            "comparability": pool["comparability"].to_numpy(),
        }
    )


__getattr__ = moved(
    __name__,
    {
        name: "crmlib.kpis"
        for name in (
            "PERIODS",
            "WINDOWS",
            "FORMATS",
            "Period",
            "period_bounds",
            "shift",
            "kpi_values",
            "kpi_table",
            "compare_periods",
        )
    }
    | {
        name: "crmlib.present.benchmark"
        for name in (
            "format_value",
            "change_text",
            "kpi_name",
            "short_source",
            "comparison_table",
            "benchmark_table",
            "context_notes",
            "definitions_table",
            "findings",
            "section",
            "report_title",
        )
    },
)
