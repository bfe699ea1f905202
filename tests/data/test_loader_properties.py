"""Properties of the CSV loader on generated input: every row accounted for, no stray exception.

Hypothesis writes transactions exports two ways: well-formed files (rows of random text, numbers
and dates, quoted by Python's CSV writer, with random line ends), where every row written must be
read, and files of arbitrary bytes after the header. Either way loading either raises
:class:`~crmlib.errors.DataError` or returns counts where rows read = kept + rejected, the kept
rows are the table and the quarantine names each rejected row once by its source row.

Not generated: a carriage return alone inside an unquoted field of a file of LF lines; DuckDB's
reader refuses such a file as a whole (a DataError, "state machine reached an invalid state").
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_data_load import CHANNELS

from crmlib import data
from crmlib.errors import DataError

COLUMNS = ["customer_id", "order_id", "ordered_at", "amount", "channel", "quantity"]
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["NaN", "inf", "-Infinity", "1e308", "１２０", "￥８８", "(12.5)", "¥1,234"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.dates().map(lambda d: d.strftime("%Y/%m/%d")),
    st.sampled_from(
        ["0001-01-01", "1900-01-01", "2024-02-30", "２０２４－０３－０５", "9999-12-31"]
    ),
)
# no lone CR: Python's writer leaves it unquoted in a file of LF lines, where it is no line end
# and no value either (DuckDB refuses the whole file; see the module docstring); no lone
# surrogate (U+D800): no UTF-8 file can hold one, so no export does
text = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=20)
field = st.one_of(text, numbers, dates)
rows = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["C1", "C2", ""]), text),
        text,
        st.one_of(dates, text),
        st.one_of(numbers, text),
        st.one_of(st.sampled_from(["store", "门店", "web", ""]), text),
        st.one_of(numbers, field),
    ),
    min_size=1,
    max_size=12,
)
#: One usable row, so a file is not refused because every generated row was rejected.
GOOD = ("C1", "O-good", "2024-03-05 10:00:00", "10", "store", "1")
#: Bytes that make up CSV files: field text, separators, quotes, line ends, full-width digits.
_pieces = st.sampled_from([b",", b'"', b"\n", b"\r\n", b"\r", b"C1", b"2024-03-05", b"NaN"])
_utf8 = st.text(st.characters(codec="utf-8"), max_size=8).map(lambda t: t.encode("utf-8"))
csv_bytes = st.lists(
    st.one_of(_pieces, _pieces, _utf8, _utf8, st.binary(max_size=1)), max_size=60
).map(b"".join)


def check(path: Path, folder: Path, rows_written: int | None) -> None:
    """Load ``path``; a DataError is an answer, anything else must add up."""
    params = {
        "transactions": {"path": str(path)},
        "cleaning": {"channels_file": str(CHANNELS)},
        "quarantine_dir": str(folder / "quarantine"),
        "cache_dir": str(folder / "cache"),
    }
    try:
        ds = data.load_dataset(params, cache=False)
    except DataError:
        return
    q = ds.quality["transactions"]
    assert q.rows_read == q.kept + q.n_rejected
    if rows_written is not None:
        assert q.rows_read == rows_written
    assert len(data.execute(ds.transactions)) == q.kept
    quarantine = pd.read_csv(q.quarantine_file, dtype=str, keep_default_na=False)
    assert len(quarantine) == q.n_rejected
    source_rows = quarantine["source_row"].astype(int)
    assert source_rows.is_unique and source_rows.between(1, q.rows_read).all()
    assert quarantine["reason"].value_counts().to_dict() == q.rejected


@SETTINGS
@given(rows=rows, line_end=st.sampled_from(["\n", "\r\n"]), odd=st.integers(0, 12))
def test_well_formed_files_lose_no_row(rows, line_end, odd):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end)
    writer.writerow(COLUMNS)
    writer.writerow(GOOD)
    writer.writerows(rows)
    body = buf.getvalue()
    if odd < len(rows):  # one line with the other line end
        other = "\r\n" if line_end == "\n" else "\n"
        head, sep, tail = body.rpartition(line_end)
        body = head + other + tail if sep else body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tx.csv"
        path.write_bytes(body.encode("utf-8"))
        # a record that is all blank (every field "") is no row; count those Python's reader sees
        written = sum(1 for r in csv.reader(io.StringIO(body, newline="")) if r) - 1
        check(path, Path(tmp), written)


@SETTINGS
@given(
    body=st.one_of(csv_bytes, csv_bytes, csv_bytes, st.binary(max_size=400)), header=st.booleans()
)
def test_arbitrary_bytes_give_counts_or_a_data_error(body, header):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tx.csv"
        head = (",".join(COLUMNS) + "\n" + ",".join(GOOD) + "\n").encode() if header else b""
        path.write_bytes(head + body)
        check(path, Path(tmp), None)
