"""Broken and hostile exports: one bad value costs one row, never the whole table.

Each case builds its input file, loads it with the real loader (:func:`crmlib.data.load_dataset`,
or ``crmwb validate`` in a subprocess where the exit status matters) and checks that rows read =
kept + rejected, with every rejected row named by its source row in the quarantine. Expected rows
and values are read off the input by hand.
"""

from __future__ import annotations

import gzip
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_data_load import CHANNELS

from crmlib import data
from crmlib.data.csvfiles import MAX_LINE_BYTES
from crmlib.errors import ConfigError, DataError

HEADER = "会员ID,订单号,下单时间,实付金额,渠道,数量\n"
COLUMNS = {
    "customer_id": "会员ID",
    "order_id": "订单号",
    "ordered_at": "下单时间",
    "amount": "实付金额",
    "channel": "渠道",
    "quantity": "数量",
}
ROOT = Path(__file__).resolve().parents[2]


def params(tmp_path: Path, path: Path, *, source: dict | None = None, **cleaning) -> dict:
    """Data params for one transactions file, with caches and quarantine inside tmp_path."""
    return {
        "transactions": {"path": str(path), "columns": COLUMNS, **(source or {})},
        "cleaning": {"channels_file": str(CHANNELS), **cleaning},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


def write(tmp_path: Path, lines: list[str], name: str = "tx.csv", end: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + "".join(line + end for line in lines)).encode())
    return path


def load(p: dict) -> tuple[pd.DataFrame, data.Dataset, pd.DataFrame]:
    """(kept transactions, the dataset, the quarantine), after checking the accounting."""
    ds = data.load_dataset(p, cache=False)
    tx = data.execute(ds.transactions)
    q = ds.quality["transactions"]
    rejected = pd.read_csv(q.quarantine_file, dtype=str, keep_default_na=False)
    assert q.rows_read == q.kept + q.n_rejected
    assert q.kept == len(tx) and q.n_rejected == len(rejected)
    assert rejected["reason"].value_counts().to_dict() == q.rejected
    return tx, ds, rejected


def named(rejected: pd.DataFrame) -> list[list[str]]:
    """``[source_row, reason]`` of every quarantined row."""
    return rejected[["source_row", "reason"]].values.tolist()


# -- 1. quantities that are no whole number ---------------------------------------------------


def test_nan_inf_and_huge_quantities_reject_only_their_rows(tmp_path):
    lines = [
        "C1,O1,2024-03-05,10,store,1",  # 1 kept
        "C1,O2,2024-03-05,10,store,NaN",  # 2
        "C1,O3,2024-03-05,10,store,inf",  # 3
        "C1,O4,2024-03-05,10,store,1e20",  # 4 beyond 2^53: no exact whole number
        "C1,O5,2024-03-05,10,store,-Infinity",  # 5
        "C1,O6,2024-03-05,10,store,1.5",  # 6 a fraction
        "C1,O7,2024-03-05,10,store,9007199254740992",  # 7 kept: exactly 2^53
        "C1,O8,2024-03-05,10,store,2",  # 8 kept
    ]
    tx, ds, rejected = load(params(tmp_path, write(tmp_path, lines)))
    assert tx["order_id"].tolist() == ["O1", "O7", "O8"]
    assert tx["quantity"].tolist() == [1, 2**53, 2]
    assert ds.quality["transactions"].rows_read == 8
    assert named(rejected) == [[str(r), "unparseable_quantity"] for r in (2, 3, 4, 5, 6)]
    # the quarantine keeps the text; a cell starting with - is written '- (no spreadsheet formula)
    assert rejected["数量"].tolist() == ["NaN", "inf", "1e20", "'-Infinity", "1.5"]


# -- 2. amounts that are no number, or no sale; placeholder dates -----------------------------


def test_non_finite_and_absurd_amounts_and_placeholder_dates_are_quarantined(tmp_path):
    lines = [
        "C1,O1,2024-03-05,10,store,1",  # 1 kept
        "C1,O2,2024-03-05,NaN,store,1",  # 2 unparseable
        "C1,O3,2024-03-05,inf,store,1",  # 3 unparseable
        "C1,O4,2024-03-05,-inf,store,1",  # 4 unparseable
        "C1,O5,2024-03-05,Infinity,store,1",  # 5 unparseable
        "C1,O6,2024-03-05,1e308,store,1",  # 6 beyond max_amount (1e9)
        "C1,O7,2024-03-05,1000000000,store,1",  # 7 kept: exactly max_amount
        "C1,O8,2024-03-05,-1000000001,store,1",  # 8 beyond -max_amount
        "C1,O9,0001-01-01,10,store,1",  # 9 before min_date (1970-01-01)
        "C1,O10,1900-01-01,10,store,1",  # 10 before min_date
        "C1,O11,1970-01-01 00:00:00,10,store,1",  # 11 kept: exactly min_date
        "C1,O12,1969-12-31 23:59:59,10,store,1",  # 12 before min_date
    ]
    path = write(tmp_path, lines)
    tx, ds, rejected = load(params(tmp_path, path))
    assert tx["order_id"].tolist() == ["O1", "O7", "O11"]
    # 10 + 1,000,000,000 + 10
    assert tx["amount"].sum() == 1_000_000_020.0 and math.isfinite(tx["amount"].sum())
    assert named(rejected) == [
        ["2", "unparseable_amount"],
        ["3", "unparseable_amount"],
        ["4", "unparseable_amount"],
        ["5", "unparseable_amount"],
        ["6", "implausible_amount"],
        ["8", "implausible_amount"],
        ["9", "before_min_date"],
        ["10", "before_min_date"],
        ["12", "before_min_date"],
    ]
    # both bounds are rules: no lower date bound keeps 9, 10 and 12; a higher cap keeps 8
    tx, _, rejected = load(params(tmp_path, path, min_date="", max_amount=2e9))
    assert tx["order_id"].tolist() == ["O1", "O7", "O8", "O9", "O10", "O11", "O12"]
    assert named(rejected) == [[str(r), "unparseable_amount"] for r in (2, 3, 4, 5)] + [
        ["6", "implausible_amount"]
    ]


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("max_amount", 0),
        ("max_amount", float("inf")),
        ("max_amount", "lots"),
        ("max_amount", True),
        ("min_date", "1970-13-45"),
    ],
)
def test_bad_bounds_are_refused_by_name(tmp_path, rule, value):
    path = write(tmp_path, ["C1,O1,2024-03-05,10,store,1"])
    with pytest.raises(ConfigError, match=f"cleaning.{rule}"):
        data.load_dataset(params(tmp_path, path, **{rule: value}), cache=False)


# -- 3. a line too long to be a value ---------------------------------------------------------


def test_line_over_the_limit_stops_the_load_naming_file_line_and_row(tmp_path):
    huge = "x" * (MAX_LINE_BYTES + 1)
    body = (
        "C1,O1,2024-03-05,10,store,1\n"  # file line 2, row 1
        "\n"  # line 3: blank, not numbered
        'C1,O2,2024-03-05,10,"a\nb",1\n'  # lines 4-5, row 2 (a quoted field spans two lines)
        f"C1,O3,2024-03-05,10,{huge},1\n"  # line 6, row 3
        "C1,O4,2024-03-05,10,store,1\n"
    )
    path = tmp_path / "tx.csv"
    path.write_bytes((HEADER + body).encode())
    with pytest.raises(DataError, match="line 6 of the file is longer than 1,999,999 bytes") as err:
        data.load_dataset(params(tmp_path, path), cache=False)
    assert (err.value.file, err.value.row) == (str(path), 3)


def test_line_just_under_the_limit_loads(tmp_path):
    # "C1,O2,2024-03-05,10," is 20 bytes and ",1" 2: the line is exactly the limit
    field = "x" * (MAX_LINE_BYTES - 22)
    lines = ["C1,O1,2024-03-05,10,store,1", f"C1,O2,2024-03-05,10,{field},1"]
    tx, _, rejected = load(params(tmp_path, write(tmp_path, lines)))
    assert tx["order_id"].tolist() == ["O1", "O2"] and len(rejected) == 0
    assert tx["channel"].tolist() == ["store", "unknown"]


def test_small_gzip_with_a_huge_field_fails_in_bounded_memory(tmp_path):
    """A 512 MiB field in a gzip of about half a MiB: an error, and little memory spent."""
    path = tmp_path / "bomb.csv.gz"
    block = gzip.compress(b"x" * 2**20)  # gzip members may be concatenated
    with path.open("wb") as fh:
        fh.write(gzip.compress((HEADER + "C1,O1,2024-03-05,10,store,1\nC1,O2,").encode()))
        for _ in range(512):
            fh.write(block)
        fh.write(gzip.compress(b",2024-03-05,10,store,1\nC1,O3,2024-03-05,10,store,1\n"))
    assert path.stat().st_size < 2**20
    script = textwrap.dedent(
        f"""
        import resource, sys
        from crmlib import data
        from crmlib.errors import DataError
        params = {params(tmp_path, path)!r}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            data.load_dataset(params, cache=False)
        except DataError as exc:
            print("DataError", exc.row, exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew_kib", after - before)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    first, grew = out.stdout.strip().splitlines()
    assert first.startswith("DataError 2 line 3 of the file is longer than")
    # holding the field would take 512 MiB at least; reading it in chunks takes a few dozen
    assert int(grew.split()[1]) < 200 * 1024, grew


# -- 4. one CR LF line among LF lines, and the other way round --------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("usual", "odd"), [("\n", "\r\n"), ("\r\n", "\n")])
def test_mixed_line_ends_load_every_line(tmp_path, usual, odd, gz):
    rows = [
        "C1,O1,2024-03-05,10,store,1",  # 1
        "C1,O2,2024-03-05,11,store,1",  # 2 ends with the odd line end
        "C1,O3,2024-03-05,12,store,1",  # 3
        "C1,O4,2024-03-05,手机壳,蓝色,13,store,1",  # 4 too many fields
        "C1,O5,2024-03-05,14,store,1",  # 5
    ]
    text = HEADER.replace("\n", usual) + "".join(
        row + (odd if i == 1 else usual) for i, row in enumerate(rows)
    )
    path = tmp_path / ("tx.csv.gz" if gz else "tx.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    tx, ds, rejected = load(params(tmp_path, path))
    assert tx["order_id"].tolist() == ["O1", "O2", "O3", "O5"]
    assert tx["amount"].tolist() == [10.0, 11.0, 12.0, 14.0]
    assert named(rejected) == [["4", "malformed_line"]]
    assert rejected["line_text"].tolist() == [rows[3]]
    note = " ".join(ds.quality["transactions"].notes)
    # file line 3 holds row 2; the header and the other 4 rows end the usual way
    crlf, lf = (1, 5) if odd == "\r\n" else (5, 1)
    assert f"{crlf} line(s) end with CR LF (Windows) and {lf} with LF alone" in note


# -- 5. a UTF-8 file declared gbk -------------------------------------------------------------


UTF8_ROWS = ["张三01,O1,2024-03-05,88,门店,1", "李四02,O2,2024-03-06,9,天猫,2"]


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_file_declared_gbk_is_refused(tmp_path, bom):
    path = write(tmp_path, UTF8_ROWS)
    if bom:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with pytest.raises(DataError, match="looks like UTF-8") as err:
        data.load_dataset(params(tmp_path, path, source={"encoding": "gbk"}), cache=False)
    assert err.value.file == str(path) and "encoding: utf-8" in str(err.value)


def test_the_same_rows_in_gbk_still_load(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes((HEADER + "".join(r + "\n" for r in UTF8_ROWS)).encode("gbk"))
    tx, _, rejected = load(params(tmp_path, path, source={"encoding": "gbk"}))
    assert tx["customer_id"].tolist() == ["张三01", "李四02"]
    assert tx["channel"].tolist() == ["store", "tmall"] and len(rejected) == 0


def test_validate_exits_2_on_a_utf8_file_declared_gbk(tmp_path):
    path = write(tmp_path, UTF8_ROWS)
    yml = tmp_path / "data.yaml"
    yml.write_text(
        yaml.safe_dump(params(tmp_path, path, source={"encoding": "gbk"}), allow_unicode=True)
    )
    out = subprocess.run(
        [sys.executable, "-m", "crmlib.report.cli", "validate", "--params", str(yml)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "looks like UTF-8" in out.stdout + out.stderr
    assert "error:" in out.stderr and "Traceback" not in out.stdout + out.stderr


# -- 6. full-width digits ---------------------------------------------------------------------


def test_full_width_digits_are_normalised_and_counted(tmp_path):
    lines = [
        "C1,O1,2024-03-05,１２０,store,１",  # 1 amount 120, quantity 1: full_width
        "C1,O2,2024-03-05,￥８８,store,1",  # 2 88: full_width and amount_format (the ¥)
        "C1,O3,２０２４－０３－０５,10,store,1",  # 3 an ISO date once folded: full_width
        'C1,O4,2024-03-05,"１，２３４．５",store,1',  # 4 1234.5: full_width, amount_format
        "C1,O5,2024-03-05,12,store,1",  # 5 plain
        "C1,O6,2024-03-05,１２x,store,1",  # 6 no number even folded
    ]
    tx, ds, rejected = load(params(tmp_path, write(tmp_path, lines)))
    assert tx["order_id"].tolist() == ["O1", "O2", "O3", "O4", "O5"]
    assert tx["amount"].tolist() == [120.0, 88.0, 10.0, 1234.5, 12.0]
    assert tx["quantity"].tolist() == [1, 1, 1, 1, 1]
    assert tx["ordered_at"].tolist() == [pd.Timestamp("2024-03-05")] * 5
    q = ds.quality["transactions"]
    assert q.repaired == {"full_width": 4, "amount_format": 2}
    assert named(rejected) == [["6", "unparseable_amount"]]
    assert rejected["实付金额"].tolist() == ["１２x"]  # the quarantine keeps the original
