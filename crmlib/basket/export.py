"""The cross-sell rule tables as CSV files for spreadsheet users."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmlib.basket.params import ITEM_JOIN
from crmlib.data.privacy import spreadsheet_safe

__all__ = ["export_rules"]


def export_rules(
    rules: pd.DataFrame,
    sequential: pd.DataFrame | None = None,
    bundles: pd.DataFrame | None = None,
    *,
    export_dir: str | Path,
) -> list[Path]:
    """Write the rule tables as CSV (UTF-8 with BOM, so spreadsheet programs show Chinese).

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.association_rules`; item tuples are written as ``"A + B"``.
    sequential, bundles
        Outputs of :func:`crmlib.basket.sequential_rules` and
        :func:`crmlib.basket.bundle_candidates` (optional).
    export_dir
        Folder to write to; created when missing.

    Returns
    -------
    list of Path
        The files written: ``association_rules.csv``, ``sequential_rules.csv``,
        ``bundle_candidates.csv``.
    """
    folder = Path(export_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = rules.copy()
    for col in ("antecedents", "consequents"):
        out[col] = out[col].map(ITEM_JOIN.join)
    written = []
    tables = {
        "association_rules": out,
        "sequential_rules": sequential,
        "bundle_candidates": bundles,
    }
    for name, table in tables.items():
        if table is None:
            continue
        path = folder / f"{name}.csv"
        spreadsheet_safe(table).to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    return written
