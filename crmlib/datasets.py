"""Public datasets in the canonical schema: the CDNOW music-CD purchases shipped with lifetimes.

CDNOW (Fader, Hardie & Lee 2005) is the standard benchmark of BG/NBD and Gamma-Gamma: purchases
of a cohort of 23,570 customers who made their first purchase in the first quarter of 1997,
followed to the end of June 1998; the 1/10 sample holds 2,357 of them. The text files ship inside
the ``lifetimes`` wheel and are read through :mod:`importlib.resources` (``lifetimes.datasets``
itself needs ``pkg_resources``, which current setuptools no longer ships).
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlib.config import check_choice
from crmlib.data.schema import SCHEMAS
from crmlib.errors import DataError

__all__ = ["CDNOW_FILES", "cdnow_file", "cdnow", "write_cdnow"]

#: File name of each CDNOW variant inside ``lifetimes/datasets``.
CDNOW_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}


def cdnow_file(kind: str = "sample") -> Path:
    """Path of the CDNOW text file (``kind`` "sample" or "master") in the installed lifetimes."""
    check_choice("kind", kind, CDNOW_FILES)
    try:
        root = resources.files("lifetimes") / "datasets" / CDNOW_FILES[kind]
    except ModuleNotFoundError as exc:
        raise DataError("the lifetimes package is not installed; CDNOW ships inside it") from exc
    path = Path(str(root))
    if not path.exists():
        raise DataError("CDNOW file missing from the lifetimes installation", file=str(path))
    return path


def cdnow(kind: str = "sample") -> pd.DataFrame:
    """CDNOW purchases as canonical transactions.

    Parameters
    ----------
    kind
        ``"sample"`` (the 1/10 sample: 2,357 customers, 6,919 lines) or ``"master"`` (all
        23,570 customers).

    Returns
    -------
    pandas.DataFrame
        One row per line of the file with every canonical transactions column:
        ``customer_id`` (the file's customer id, without leading zeros, as text), ``order_id``
        (``<customer_id>-<line number within the customer>``), ``ordered_at`` (midnight of the
        purchase day), ``amount`` (dollars), ``quantity`` (CDs); the other columns are null.
        Lines of the same customer and day stay separate lines (the BG/NBD literature merges
        them into one purchase day; the CLV summary does that).

    Raises
    ------
    ConfigError
        When ``kind`` is not "sample" or "master".
    DataError
        When the file cannot be found or parsed.
    """
    path = cdnow_file(kind)
    # the sample has no header and two ids (master id, then the id within the sample); the
    # master file has a header line and one id
    if kind == "sample":
        names, header, id_col = (
            ["master_id", "sample_id", "date", "cds", "dollars"],
            None,
            "sample_id",
        )
    else:
        names, header, id_col = ["master_id", "date", "cds", "dollars"], 0, "master_id"
    try:
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            header=header,
            names=names,
            dtype={"master_id": str, "sample_id": str, "date": str},
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse CDNOW file: {exc}", file=str(path)) from exc
    customer = raw[id_col].str.lstrip("0")
    line_no = raw.groupby(customer, sort=False).cumcount() + 1
    ordered_at = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    if ordered_at.isna().any():
        row = int(np.flatnonzero(ordered_at.isna())[0])
        raise DataError(
            "unparseable date", file=str(path), column="date", row=row, value=raw["date"].iloc[row]
        )
    out = pd.DataFrame(
        {
            "customer_id": customer.astype(object),
            "order_id": (customer + "-" + line_no.astype(str)).astype(object),
            "ordered_at": ordered_at.astype("datetime64[us]"),
            "amount": raw["dollars"].astype("float64"),
            "quantity": raw["cds"].astype("int64"),
        }
    )
    for col in SCHEMAS["transactions"]:
        if col not in out:
            out[col] = pd.Series([None] * len(out), dtype=object)
    return out[list(SCHEMAS["transactions"])]


def write_cdnow(out_dir: str | Path = "data/cdnow", *, kind: str = "sample") -> Path:
    """Write CDNOW (see :func:`cdnow`) as ``transactions.parquet`` in ``out_dir``.

    The file is written under a temporary name and renamed, so readers never see half a file.

    Returns
    -------
    Path
        ``out_dir``.
    """
    frame = cdnow(kind)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # null-only columns would be typed "null"; give them the canonical string type
    schema = pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    )
    tmp = out / f".transactions.parquet.tmp-{os.getpid()}"
    pq.write_table(table.cast(schema), tmp)
    shutil.move(tmp, out / "transactions.parquet")
    return out
