"""CSV lines that do not split into the header's fields: quarantined, counted and numbered.

Every case builds its own small file; expected rows and values are read off the input by hand or
by Python's own CSV reader.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd
import pytest
from test_data_load import CHANNELS, COLUMNS, HEADER  # the same Chinese export layout

from crmlib import data
from crmlib.errors import DataError
from crmlib.present.quality import quality_table, quality_text, quarantine_table


def params(tmp_path: Path, path: Path, **source) -> dict:
    """Data params for one transactions file, with caches and quarantine inside tmp_path."""
    return {
        "transactions": {"path": str(path), "columns": COLUMNS, **source},
        "cleaning": {"channels_file": str(CHANNELS)},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


def write(tmp_path: Path, body: str, name: str = "tx.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_bytes((header + body).encode("utf-8"))
    return path


def load(p: dict) -> tuple[pd.DataFrame, data.Dataset]:
    ds = data.load_dataset(p, cache=False)
    return data.execute(ds.transactions), ds


def quarantine(ds: data.Dataset) -> pd.DataFrame:
    return pd.read_csv(ds.quality["transactions"].quarantine_file, dtype=str, keep_default_na=False)


def check_counts(ds: data.Dataset, rows_in_file: int) -> None:
    """Counts add up to the data rows of the file and agree with the table and the quarantine."""
    q = ds.quality["transactions"]
    assert q.rows_read == rows_in_file
    assert q.kept + q.n_rejected == rows_in_file
    assert q.kept == len(data.execute(ds.transactions))
    qf = quarantine(ds)
    assert len(qf) == q.n_rejected
    assert qf["reason"].value_counts().to_dict() == q.rejected


def test_malformed_lines_are_quarantined_and_later_rows_keep_their_numbers(tmp_path):
    lines = [
        "C1,O1,2024-03-05,10,store",  # 1 kept
        "C1,O2,2024-03-05,手机壳,蓝色,11,store",  # 2 too many fields
        "C1,O3,2024-03-05,12,store",  # 3 kept
        "C1,O4,2024-03-05",  # 4 too few fields
        "C1,O5,2024-03-05,13,store",  # 5 kept
        "C1,O6,yesterday,14,store",  # 6 unparseable date
        "C1,O7,2024-03-05,15,store",  # 7 kept
        'C1,O8,2024-03-05,16,"store',  # 8 quote never closed (last line)
    ]
    tx, ds = load(params(tmp_path, write(tmp_path, "\n".join(lines) + "\n")))
    assert tx["order_id"].tolist() == ["O1", "O3", "O5", "O7"]
    assert tx["amount"].tolist() == [10.0, 12.0, 13.0, 15.0]
    q = ds.quality["transactions"]
    assert q.rejected == {"malformed_line": 3, "unparseable_ordered_at": 1}
    check_counts(ds, len(lines))

    qf = quarantine(ds)
    assert list(qf.columns[:4]) == ["source_row", "reason", "detail", "line_text"]
    assert qf[["source_row", "reason", "line_text"]].values.tolist() == [
        ["2", "malformed_line", lines[1]],
        ["4", "malformed_line", lines[3]],
        ["6", "unparseable_ordered_at", ""],
        ["8", "malformed_line", lines[7]],
    ]
    assert "TOO MANY COLUMNS" in qf["detail"][0]
    assert "MISSING COLUMNS" in qf["detail"][1]
    assert qf["detail"][2] == ""
    assert "unterminated quote" in qf["detail"][3]
    # the row rejected for its date keeps its original values under the source's columns
    assert qf.loc[2, ["订单号", "下单时间"]].tolist() == ["O6", "yesterday"]
    assert (qf.loc[[0, 1, 3], "订单号"] == "").all()


def test_malformed_line_is_labelled_in_the_quality_summary(tmp_path):
    body = "C1,O1,2024-03-05,10,store\nC1,O2,2024-03-05,蓝色,10,store\n"
    _, ds = load(params(tmp_path, write(tmp_path, body)))
    frame = quality_table(ds.quality, language="en")
    assert "Malformed line (wrong number of fields or unclosed quote)" in set(frame["Rule"])
    assert "格式错误的行（字段数不符或引号未闭合）: 1" in quality_text(ds.quality, language="zh")
    # the quarantine sample a report shows keeps the row number and the translated reason
    sample = quarantine_table(ds.quarantined(unmapped=False), language="en")
    assert sample.iloc[0, :2].tolist() == [
        2,
        "Malformed line (wrong number of fields or unclosed quote)",
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_gbk_file_with_a_malformed_line(tmp_path, gz):
    lines = [
        "张三01,O1,2024-03-05,88,门店",
        "李四02,O2,2024-03-05,手机壳,蓝色,9,天猫",
        "王五03,O3,2024-03-06,7,天猫",
    ]
    raw = (HEADER + "\n".join(lines) + "\n").encode("gbk")
    path = tmp_path / ("tx.csv.gz" if gz else "tx.csv")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    tx, ds = load(params(tmp_path, path, encoding="gbk"))
    assert tx["customer_id"].tolist() == ["张三01", "王五03"]
    qf = quarantine(ds)
    assert qf[["source_row", "reason", "line_text"]].values.tolist() == [
        ["2", "malformed_line", lines[1]]
    ]
    check_counts(ds, 3)


def source_rows(text: str) -> list[list[str]]:
    """Data records of a CSV text by Python's reader, blank lines left out (row 1 = first)."""
    return [row for row in csv.reader(io.StringIO(text)) if row][1:]


def test_multi_line_field_and_blank_line_before_a_malformed_line(tmp_path):
    body = (
        "C1,O1,2024-03-05,10,store\n"
        'C1,"O2 first line\n\nO2 third line",2024-03-05,11,store\n'  # one record, three lines
        "\n"  # a blank line: skipped, not numbered
        "C1,O3,2024-03-05,12,store\n"
        "C1,O4,2024-03-05,手机壳,蓝色,13,store\n"
        "C1,O5,2024-03-05,14,store\n"
        "C1,O6,someday,15,store\n"
    )
    tx, ds = load(params(tmp_path, write(tmp_path, body)))
    assert tx["order_id"].tolist() == ["O1", "O2 first line\n\nO2 third line", "O3", "O5"]
    records = source_rows(HEADER + body)
    malformed = [i + 1 for i, row in enumerate(records) if len(row) != 5]
    bad_date = [i + 1 for i, row in enumerate(records) if row[2] == "someday"]
    assert (malformed, bad_date) == ([4], [6])
    assert quarantine(ds)[["source_row", "reason"]].values.tolist() == [
        [str(malformed[0]), "malformed_line"],
        [str(bad_date[0]), "unparseable_ordered_at"],
    ]
    check_counts(ds, len(records))


def test_unclosed_quote_swallows_lines_up_to_the_next_quote(tmp_path):
    lines = [
        "C1,O1,2024-03-05,10,store",
        'C1,"O2,2024-03-05,11,store',  # the quote opened here ...
        'C1,O3,2024-03-05,"12",store',  # ... closes here: both lines are one malformed row
        "C1,O4,2024-03-05,13,store",
        "C1,O5,never,14,store",
    ]
    tx, ds = load(params(tmp_path, write(tmp_path, "\n".join(lines) + "\n")))
    assert tx["order_id"].tolist() == ["O1", "O4"]
    qf = quarantine(ds)
    assert qf[["source_row", "reason", "line_text"]].values.tolist() == [
        ["2", "malformed_line", lines[1] + "\n" + lines[2]],
        ["4", "unparseable_ordered_at", ""],
    ]
    check_counts(ds, 4)
    assert any("source row 2" in note for note in ds.quality["transactions"].notes)


def test_every_line_malformed_is_fatal_and_names_the_file(tmp_path):
    path = write(tmp_path, "C1,O1,2024-03-05,10,store,x\nC1,O2\n")
    with pytest.raises(DataError) as err:
        load(params(tmp_path, path))
    e = err.value
    assert (e.file, e.row, e.value) == (str(path), 1, "C1,O1,2024-03-05,10,store,x")
    assert "malformed_line" in str(e) and str(path) in str(e)


def test_header_with_an_unclosed_quote_is_fatal(tmp_path):
    header = '会员ID,"订单号,下单时间,实付金额,渠道\n'
    path = write(tmp_path, "C1,O1,2024-03-05,10,store\n", header=header)
    with pytest.raises(DataError, match="header") as err:
        load(params(tmp_path, path))
    assert err.value.file == str(path) and str(path) in str(err.value)


def test_invalid_utf8_past_the_sampled_lines_keeps_the_encoding_hint(tmp_path):
    good = "".join(f"C{i},O{i},2024-03-05,10,store\n" for i in range(6000))
    path = tmp_path / "tx.csv"
    path.write_bytes((HEADER + good).encode() + b"C1,O9,2024-03-05,\xff\xfe,store\n")
    with pytest.raises(DataError) as err:
        load(params(tmp_path, path))
    e = err.value
    assert (e.file, e.row) == (str(path), 6001)
    assert "encoding" in str(e) and "gbk" in str(e)


def test_tab_separated_file_with_a_malformed_first_row(tmp_path):
    header = HEADER.replace(",", "\t")
    body = "C1\tO1\t2024-03-05\t10\tstore\textra\nC1\tO2\t2024-03-05\t11\tstore\n"
    tx, ds = load(params(tmp_path, write(tmp_path, body, name="tx.tsv", header=header)))
    assert tx["order_id"].tolist() == ["O2"]
    assert quarantine(ds)[["source_row", "reason"]].values.tolist() == [["1", "malformed_line"]]
    check_counts(ds, 2)


def test_backslash_escaped_quotes_are_detected(tmp_path):
    header = HEADER.replace("渠道\n", "渠道,备注\n")
    body = "".join(f'C1,O{i},2024-03-05,10,store,"say \\"hi\\", {i}"\n' for i in range(3))
    tx, ds = load(params(tmp_path, write(tmp_path, body, header=header)))
    assert tx["order_id"].tolist() == ["O0", "O1", "O2"]
    check_counts(ds, 3)


def test_source_columns_named_like_the_quarantine_columns_keep_their_values(tmp_path):
    header = HEADER.replace("渠道\n", "渠道,detail\n")
    body = "C1,O1,2024-03-05,10,store,blue\nC1,O2,2024-03-05,x,store,red\nC1,O3\n"
    _, ds = load(params(tmp_path, write(tmp_path, body, header=header)))
    qf = quarantine(ds)
    assert list(qf.columns[:4]) == ["source_row", "reason", "detail_", "line_text"]
    assert qf[["source_row", "detail", "line_text"]].values.tolist() == [
        ["2", "red", ""],
        ["3", "", "C1,O3"],
    ]
    check_counts(ds, 3)


def test_quarantined_view_masks_the_raw_text_of_a_malformed_line(tmp_path):
    """A malformed line's text may hold anything the export held; the analyst's view masks the
    contact data in it, and a report's view shows only the parser's error."""
    path = write(
        tmp_path,
        "C1,O1,2024-01-05,10,门店\n"
        "C2,O2,2024-01-06,20,门店,13812341234,bob@example.com\n"  # two stray fields
        "C3,O3,2024-01-07,30,门店\n",
    )
    _, ds = load(params(tmp_path, path))
    analyst = ds.quarantined("transactions")
    assert analyst["reason"].tolist() == ["malformed_line"]
    text = analyst["line_text"].iloc[0]
    assert "13812341234" not in text and "bob@example.com" not in text
    assert text.startswith("C2,O2,2024-01-06,20,门店,") and "34" in text  # last two digits kept
    assert data.mask_value("13812341234", "phone") != "13812341234"
    raw = ds.quarantined("transactions", mask=False)
    assert raw["line_text"].iloc[0] == "C2,O2,2024-01-06,20,门店,13812341234,bob@example.com"

    report = quarantine_table(ds.quarantined("transactions", unmapped=False), language="en")
    assert "line_text" not in report.columns
    assert "TOO MANY COLUMNS" in report["Parser error"].iloc[0]


def test_malformed_customers_line_is_masked_whole(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,name,phone\nC1,张三,13900001111\nC2,李四,13900002222,extra\n", "utf-8"
    )
    tx = write(tmp_path, "C1,O1,2024-01-05,10,门店\n")
    p = params(tmp_path, tx)
    p["customers"] = {"path": str(customers)}
    _, ds = load(p)
    got = ds.quarantined("customers")
    assert got["reason"].tolist() == ["malformed_line"]
    assert got["line_text"].tolist() == ["***"]
