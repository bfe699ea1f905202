"""Masking contact data in free text and HTML, and CSV cells a spreadsheet would run."""

from __future__ import annotations

import csv

import duckdb
import pandas as pd
import pytest

from crmlib.data.privacy import (
    mask_html,
    mask_line,
    mask_text,
    spreadsheet_safe,
    spreadsheet_safe_sql,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # CJK letters right before or after the digits do not protect a number
        ("手机13812345678", "手机*********78"),
        ("电话13812345678联系", "电话*********78联系"),
        # full-width digits (Chinese spreadsheets): masked, the kept two stay full-width
        ("手机１３８１２３４５６７８", "手机*********７８"),
        ("１３８－１２３４－５６７８", "***－****－**７８"),
        # dotted groups
        ("call 138.1234.5678 today", "call ***.****.**78 today"),
        # two numbers separated by a comma, with or without a space, or by 、 or a full-width ，
        ("13812345678,13987654321", "*********78,*********21"),
        ("13812345678, 13987654321", "*********78, *********21"),
        ("13812345678、13987654321", "*********78、*********21"),
        ("１３８１２３４５６７８，１３９８７６５４３２１", "*********７８，*********２１"),
        # addresses with non-ASCII letters
        ("jürgen@bücher.de", "j***@***"),
        ("用户@例子.中国", "用***@***"),
        ("mail: ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ", "mail: ａ***@***"),
        # forms masked before
        ("+86 138 0013 8000", "+** *** **** **00"),
        ("office 010-12345678.", "office ***-******78."),
        ("(555) 123-4567", "(***) ***-**67"),
    ],
)
def test_common_forms_of_phone_numbers_and_addresses_are_masked(text, expected):
    masked, count = mask_text(text)
    assert masked == expected
    # two items where two numbers are separated (by , 、 or ，), else one
    assert count == (2 if text.startswith(("13812345678", "１３８１２３４５６７８，")) else 1)


@pytest.mark.parametrize(
    "text",
    [
        "revenue ¥12,345,678.90 on 2026-09-30",
        "orders 1,381,234,567 and 13,812,345,678",  # thousands groups, never a phone
        "amount 13812345678.50",  # eleven digits with decimals: an amount
        "share 0.13812345678",
        "dates 2024-01-15 2024/01/15 20240115 2024.01.15",
        "order ids ORD13812345678 SO-2024-000123 100234567890 A-1381234",
        "time 13:81:23, week 2026-W47, 12.5%, +3.2 pp, -1,234",
        "金额 １２，３４５.６７ 元",
        "+1234567.89 and -13812345678.5",
        "timestamp 1381234567890",  # 13 digits: too long for a mobile number
    ],
)
def test_ordinary_numbers_are_not_masked(text):
    assert mask_text(text) == (text, 0)


def test_mask_line_masks_a_customer_line_whole_and_others_by_pattern():
    line = "M0000001,张伟,手机13812345678,上海市浦东新区"
    assert mask_line(line, whole=True) == "***"
    assert mask_line("C1,O1,13812345678,a@b.cn", whole=False) == "C1,O1,*********78,a***@***"
    assert mask_line("", whole=True) == "" and mask_line(None) is None


def test_mask_html_masks_text_and_attributes_but_not_markup_or_images():
    page = (
        "<html><head><style>.x{color:red}</style></head><body>"
        '<table><tr><td title="13812345678">13812345678</td><td>¥1,234</td></tr></table>'
        '<a href="mailto:vip@example.com">vip@example.com</a>'
        '<img src="data:image/png;base64,iVBOR13812345678w0KGgo=" alt="chart">'
        "<!-- 13900001111 --><p>手机１３８１２３４５６７８</p></body></html>"
    )
    masked, count = mask_html(page)
    for raw in ("13812345678</td>", 'title="13812345678"', "vip@example.com", "13900001111"):
        assert raw not in masked
    assert "１３８１２３４５６７８" not in masked
    # the embedded image is untouched, the markup and other numbers too
    assert 'src="data:image/png;base64,iVBOR13812345678w0KGgo="' in masked
    assert "<td>¥1,234</td>" in masked and "<style>.x{color:red}</style>" in masked
    # title, cell, href, link text, comment, paragraph
    assert count == 6


def test_spreadsheet_safe_neutralises_text_cells_only():
    frame = pd.DataFrame(
        {
            "product": ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "tea"],
            "note": ["-2+3", "\tTAB", "\rCR", "-12.5"],
            "amount": [-5.0, 3.0, -0.5, 1.0],
            "count": [-1, 2, 3, -4],
            "kind": pd.Categorical(["=x", "y", "y", "=x"]),
        },
        index=["=i", "b", "c", "d"],
    )
    safe = spreadsheet_safe(frame)
    assert safe["product"].tolist() == [
        '\'=HYPERLINK("http://evil","x")',
        "'+cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "tea",
    ]
    # a text cell that is a plain number stays a number; "-2+3" is a formula
    assert safe["note"].tolist() == ["'-2+3", "'\tTAB", "'\rCR", "-12.5"]
    # numeric columns are numbers: negative values are left alone, dtype kept
    assert safe["amount"].tolist() == [-5.0, 3.0, -0.5, 1.0] and safe["amount"].dtype == float
    assert safe["count"].tolist() == [-1, 2, 3, -4] and safe["count"].dtype == "int64"
    assert safe["kind"].tolist() == ["'=x", "y", "y", "'=x"]
    assert safe.index.tolist() == ["'=i", "b", "c", "d"]
    # the input is not changed
    assert frame["product"].iloc[0].startswith("=")


def test_spreadsheet_safe_column_names():
    safe = spreadsheet_safe(pd.DataFrame({"=evil": [1], "ok": ["a"]}))
    assert list(safe.columns) == ["'=evil", "ok"]


def test_spreadsheet_safe_sql_applies_the_same_rule(tmp_path):
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE q AS SELECT * FROM (VALUES "
        "(1, '-r', '=HYPERLINK(1)', '-5', NULL, -5.5), "
        "(2, 'x', '@x', E'\\tTab', '-1+2', 2.0)) t(source_row, reason, a, b, c, d)"
    )
    out = tmp_path / "q.csv"
    query = spreadsheet_safe_sql("SELECT * FROM q", keep=("source_row", "reason"))
    con.execute(f"COPY ({query} ORDER BY source_row) TO '{out}' (FORMAT csv, HEADER true)")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["source_row", "reason", "a", "b", "c", "d"],
        # the kept columns are as they were (reason -r is not touched); -5 and -5.5 are numbers
        ["1", "-r", "'=HYPERLINK(1)", "-5", "", "-5.5"],
        ["2", "x", "'@x", "'\tTab", "'-1+2", "2.0"],
    ]
    # the pandas rule gives the same cells
    frame = pd.DataFrame({"a": ["=HYPERLINK(1)", "@x"], "b": ["-5", "\tTab"], "c": [None, "-1+2"]})
    assert spreadsheet_safe(frame).fillna("").values.tolist() == [
        [r[2], r[3], r[4]] for r in rows[1:]
    ]
