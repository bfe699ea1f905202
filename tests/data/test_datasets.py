"""CDNOW as canonical transactions: counts against the raw file and the published figures."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from crmlib.config import read_yaml
from crmlib.data import SCHEMAS, as_table, execute
from crmlib.datasets import cdnow, write_cdnow
from crmlib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _raw_lines(name: str) -> list[list[str]]:
    text = (resources.files("lifetimes") / "datasets" / name).read_text()
    return [line.split() for line in text.splitlines() if line.strip()]


def test_sample_counts_match_the_file(cdnow_sample: pd.DataFrame) -> None:
    rows = _raw_lines("CDNOW_sample.txt")
    assert len(rows) == 6_919
    assert len({r[1] for r in rows}) == 2_357
    assert len(cdnow_sample) == len(rows)
    assert cdnow_sample["customer_id"].nunique() == 2_357
    assert cdnow_sample["amount"].sum() == pytest.approx(sum(float(r[4]) for r in rows))
    assert cdnow_sample["quantity"].sum() == sum(int(r[3]) for r in rows)
    first = rows[0]
    row = cdnow_sample.iloc[0]
    assert row["customer_id"] == str(int(first[1]))
    assert row["ordered_at"] == pd.Timestamp(first[2])
    assert row["amount"] == float(first[4])


def test_sample_is_canonical(cdnow_sample: pd.DataFrame) -> None:
    assert list(cdnow_sample.columns) == list(SCHEMAS["transactions"])
    assert cdnow_sample["order_id"].is_unique
    assert cdnow_sample[["customer_id", "order_id", "ordered_at", "amount"]].notna().all().all()
    for col in ("sku", "category", "channel", "store", "coupon_code", "sales_rep"):
        assert cdnow_sample[col].isna().all()
    assert cdnow_sample["ordered_at"].min() == pd.Timestamp("1997-01-01")
    assert cdnow_sample["ordered_at"].max() <= pd.Timestamp("1998-06-30")
    assert (cdnow_sample["amount"] == 0).any()  # CDNOW holds $0 lines (see REFERENCES.md)
    table = execute(as_table(cdnow_sample))
    assert len(table) == len(cdnow_sample)


def test_sample_reproduces_published_calibration_counts(cdnow_sample: pd.DataFrame) -> None:
    # Fader, Hardie & Lee (2005): calibration to 1997-09-30, same-day purchases merged: 2,457
    # repeat purchases by 946 repeaters; 1,882 repeat purchases in the holdout to 1998-06-30
    days = cdnow_sample[["customer_id", "ordered_at"]].drop_duplicates()
    first = days.groupby("customer_id")["ordered_at"].transform("min")
    repeat = days[days["ordered_at"] > first]
    calibration = repeat[repeat["ordered_at"] <= pd.Timestamp("1997-09-30")]
    holdout = repeat[repeat["ordered_at"] > pd.Timestamp("1997-09-30")]
    assert len(calibration) == 2_457
    assert calibration["customer_id"].nunique() == 946
    assert len(holdout) == 1_882


def test_master_counts_match_the_file() -> None:
    rows = _raw_lines("CDNOW_master.txt")[1:]  # header line
    master = cdnow("master")
    assert len(master) == len(rows)
    assert master["customer_id"].nunique() == len({r[0] for r in rows}) == 23_570
    assert master["amount"].sum() == pytest.approx(sum(float(r[3]) for r in rows))


def test_write_cdnow_where_data_cdnow_yaml_points(tmp_path: Path) -> None:
    params = read_yaml(ROOT / "params" / "data_cdnow.yaml")
    target = Path(params["transactions"]["path"])
    assert "columns" not in params["transactions"]
    out = write_cdnow(tmp_path / target.parent)
    written = out / target.name
    assert written.exists()
    assert [p.name for p in out.iterdir()] == [target.name]
    frame = execute(as_table(written))
    assert len(frame) == 6_919
    assert frame["customer_id"].nunique() == 2_357
    assert frame["amount"].sum() == pytest.approx(cdnow("sample")["amount"].sum())


def test_unknown_kind_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="kind"):
        cdnow("full")
