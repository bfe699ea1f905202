"""Write the demo retailer to disk the way a Chinese POS / e-commerce export looks.

Transactions and customers go to gzip CSV with Chinese headers (UTF-8 with BOM), Chinese channel
names, mixed amount and date formats and the planted bad rows; the other tables go to Parquet with
canonical names. Files are written into a temporary folder that replaces the target only when
everything is written, so a crash never leaves a half-written demo.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "transactions_export",
    "customers_export",
    "write_tables",
]


_BOM = "\ufeff".encode()


def _text(values: pd.Series | np.ndarray) -> pa.Array:
    """Strings with empty text for missing values."""
    arr = pa.array(values, from_pandas=True)
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    return pc.fill_null(arr, "")


def _amount_text(amount: np.ndarray, bad: pd.Series, currency: np.ndarray) -> pa.Array:
    """``123.50`` for most amounts, ``¥1,234.50`` where ``currency``; ``bad`` text where given."""
    finite = np.isfinite(amount)
    cents = np.where(finite, np.round(np.nan_to_num(amount) * 100.0), 0).astype(np.int64)
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), width=2, padding="0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    text = pc.binary_join_element_wise(sign, whole, ".", frac, "")
    fancy = currency & finite
    if fancy.any():
        shown = [("-" if c < 0 else "") + f"¥{abs(c) / 100:,.2f}" for c in cents[fancy].tolist()]
        text = pc.replace_with_mask(text, pa.array(fancy), pa.array(shown, type=pa.string()))
    has_bad = bad.notna().to_numpy()
    if has_bad.any():
        spoiled = pa.array(bad[has_bad].astype(str).tolist(), type=pa.string())
        text = pc.replace_with_mask(text, pa.array(has_bad), spoiled)
    return text


def _date_text(ts: pd.Series, slash: np.ndarray) -> pa.Array:
    """``2024-03-05 14:22:10`` for most timestamps, ``2024/3/5 14:22`` where ``slash``."""
    arr = pa.array(ts.astype("datetime64[s]").to_numpy(), type=pa.timestamp("s"))
    iso = pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
    short = pc.binary_join_element_wise(
        pc.cast(pc.year(arr), pa.string()),
        "/",
        pc.cast(pc.month(arr), pa.string()),
        "/",
        pc.cast(pc.day(arr), pa.string()),
        " ",
        pc.cast(pc.hour(arr), pa.string()),
        ":",
        pc.utf8_lpad(pc.cast(pc.minute(arr), pa.string()), width=2, padding="0"),
        "",
    )
    return pc.if_else(pa.array(slash), short, iso)


def _write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8 CSV with BOM, gzip with a fixed header (same input gives the same bytes)."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz,
    ):
        gz.write(_BOM)
        pacsv.write_csv(
            table, gz, write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed")
        )


def transactions_export(
    tx: pd.DataFrame, dirty: pd.DataFrame, cfg: dict[str, Any], rng: np.random.Generator
) -> pa.Table:
    """The order-line export: clean lines with the planted bad rows placed after their sources."""
    n = len(tx)
    dc = cfg["dirty"]
    # formats are drawn per clean line; a planted row is written like its source line, so a
    # duplicate is byte-identical to the line it copies
    slash = rng.random(n) < dc["slash_date_share"]
    currency = rng.random(n) < dc["currency_format_share"]
    source_line = np.concatenate([np.arange(n), dirty["after_line"].to_numpy(dtype=np.int64)])
    key = np.concatenate([np.arange(n) * 2, dirty["after_line"].to_numpy(dtype=np.int64) * 2 + 1])
    both = pd.concat(
        [tx.assign(amount_text=None), dirty.drop(columns=["dirty_kind", "after_line"])],
        ignore_index=True,
    )
    order = np.argsort(key, kind="stable")
    both = both.iloc[order].reset_index(drop=True)
    source_line = source_line[order]
    labels = cfg["channels"]["labels_zh"]
    # channel codes to Chinese names; labels outside the code list (planted dirt) stay as they are
    channel = both["channel"].map(labels).fillna(both["channel"])
    heads = cfg["export"]["transactions_headers"]
    cols = {
        "customer_id": _text(both["customer_id"]),
        "order_id": _text(both["order_id"]),
        "ordered_at": _date_text(both["ordered_at"], slash[source_line]),
        "amount": _amount_text(
            both["amount"].to_numpy(dtype=float),
            both["amount_text"],
            currency[source_line],
        ),
        "quantity": pc.cast(pa.array(both["quantity"].to_numpy()), pa.string()),
        "sku": _text(both["sku"]),
        "category": _text(both["category"].map(_category_names(cfg))),
        "channel": _text(channel),
        "store": _text(both["store"]),
        "coupon_code": _text(both["coupon_code"]),
        "sales_rep": _text(both["sales_rep"]),
    }
    return pa.table({heads[k]: v for k, v in cols.items()})


def _category_names(cfg: dict[str, Any]) -> dict[str, str]:
    return {k: v["name"] for k, v in cfg["catalogue"]["categories"].items()}


def customers_export(customers: pd.DataFrame, cfg: dict[str, Any]) -> pa.Table:
    """The member export with Chinese headers; dates as text, points as whole numbers."""
    heads = cfg["export"]["customers_headers"]
    birthday = pd.to_datetime(customers["birthday"]).dt.strftime("%Y-%m-%d")
    signup = _date_text(customers["signup_at"], np.zeros(len(customers), dtype=bool))
    cols = {
        "customer_id": _text(customers["customer_id"]),
        "name": _text(customers["name"]),
        "phone": _text(customers["phone"]),
        "email": _text(customers["email"]),
        "address": _text(customers["address"]),
        "postcode": _text(customers["postcode"]),
        "source_channel": _text(customers["source_channel"]),
        "signup_at": signup,
        "birthday": _text(birthday),
        "member_level": _text(customers["member_level"]),
        "points": pc.cast(pa.array(customers["points"].to_numpy().astype(np.int64)), pa.string()),
    }
    return pa.table({heads[k]: v for k, v in cols.items()})


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def write_tables(
    data: dict[str, Any],
    out_dir: Path,
    cfg: dict[str, Any],
    rng: np.random.Generator,
    step: Any,
) -> Path:
    """Write every table into a fresh temporary folder, then move it onto ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _write_csv(
            transactions_export(data["transactions"], data["transactions_dirty"], cfg, rng),
            tmp / "transactions.csv.gz",
        )
        step("transactions.csv.gz")
        _write_csv(customers_export(data["customers"], cfg), tmp / "customers.csv.gz")
        step("customers.csv.gz")
        for name in ("touchpoints", "campaigns", "campaign_members", "events", "truth_customers"):
            _write_parquet(data[name], tmp / f"{name}.parquet")
        step("parquet tables")
        with (tmp / "truth.json").open("w", encoding="utf-8") as fh:
            json.dump(data["truth"], fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        step("truth.json")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir
