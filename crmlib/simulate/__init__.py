"""The synthetic demo retailer, with its ground truth.

A Chinese omni-channel retailer (stores, web shop, WeChat mini-program, Tmall, JD, key accounts,
call centre) whose members are acquired over 2023-01-01 .. 2026-09-30 and buy by a BG/NBD
process with Gamma-Gamma spend, with shopping festivals, planted cross-sell pairs, campaigns with
control groups, complaints that go with dropout, an online funnel and a realistic, slightly dirty
export. Every planted figure comes from ``params/simulate.yaml`` and is written to ``truth.json``
so analyses can be checked against what was planted.

Public API: :func:`simulate` (tables in memory), :func:`write_demo` (files on disk) and
:func:`demo_data_command` (the ``crmwb demo-data`` command).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crmlib.simulate.assumptions import load_assumptions
from crmlib.simulate.retailer import random_streams, simulate

__all__ = ["demo_data_command", "load_assumptions", "load_truth", "simulate", "write_demo"]

log = logging.getLogger(__name__)

#: Steps reported to the progress bar (simulation, then files).
_STEPS = 16


def write_demo(
    out_dir: str | Path = "data/demo",
    *,
    customers: int = 50_000,
    seed: int = 42,
    config: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Build the demo retailer and write it to ``out_dir``.

    Parameters
    ----------
    out_dir
        Target folder; replaced as a whole once every file is written.
    customers
        Number of members acquired over the period.
    seed
        Random seed; the same seed and config give byte-identical files.
    config
        Business assumptions (YAML shaped like ``params/simulate.yaml``); None for that file.
    progress
        Show a progress bar (tqdm) on stderr.

    Returns
    -------
    Path
        ``out_dir``, holding ``transactions.csv.gz`` and ``customers.csv.gz`` (Chinese headers,
        UTF-8 with BOM), ``touchpoints``, ``campaigns``, ``campaign_members``, ``events`` and
        ``truth_customers`` as Parquet, and ``truth.json``.
    """
    from tqdm.auto import tqdm

    from crmlib.simulate.export import write_tables

    cfg = load_assumptions(config)
    with tqdm(total=_STEPS, disable=not progress, desc="demo data", unit="step") as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)
            log.debug("demo data: %s done", name)

        data = simulate(customers=customers, seed=seed, config=config, progress=step)
        rng = random_streams(seed)["export"]
        path = write_tables(data, Path(out_dir), cfg, rng, step)
    return path


def demo_data_command(
    out_dir: str | Path | None = None,
    *,
    customers: int = 50_000,
    seed: int = 42,
    cdnow: bool = False,
    progress: bool = True,
) -> Path:
    """What ``crmwb demo-data [--customers N] [--seed S] [--out DIR] [--cdnow]`` does.

    Parameters
    ----------
    out_dir
        Target folder; None for ``data/demo`` (or ``data/cdnow`` with ``cdnow``).
    customers, seed
        Size and seed of the synthetic retailer (ignored with ``cdnow``).
    cdnow
        Write the CDNOW sample shipped with lifetimes (canonical Parquet, read by
        ``params/data_cdnow.yaml``) instead of the synthetic retailer.
    progress
        Show a progress bar while building the synthetic retailer.

    Returns
    -------
    Path
        The folder written.
    """
    if cdnow:
        from crmlib.datasets import write_cdnow

        return write_cdnow(out_dir or "data/cdnow")
    return write_demo(out_dir or "data/demo", customers=customers, seed=seed, progress=progress)


def load_truth(demo_dir: str | Path) -> dict[str, Any]:
    """Read ``truth.json`` of a demo folder."""
    import json

    with (Path(demo_dir) / "truth.json").open(encoding="utf-8") as fh:
        return json.load(fh)
