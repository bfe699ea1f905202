"""The cleaning rules, one at a time, on the cleaning pass itself (``crmlib.data.cleaning``).

Each case writes a tiny CSV export, cleans it with :func:`clean_table` against a fixed channel
list and a fixed future-date cut-off, and checks the exact rows kept, the counts and the
quarantine; the expected values are read off the input by hand.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from crmlib.data.cleaning import MALFORMED_COLUMNS, QUARANTINE_COLUMNS, clean_table
from crmlib.data.dates import future_cutoff
from crmlib.data.engine import connection
from crmlib.data.parsing import parse_number, parse_timestamp
from crmlib.data.quality import TableQuality
from crmlib.data.rules import DEFAULTS, check_rules
from crmlib.data.schema import REQUIRED, SCHEMAS
from crmlib.data.sources import Source
from crmlib.errors import ConfigError, DataError

HEADER = "customer_id,order_id,ordered_at,amount,channel\n"
CHANNELS = {"store": ["门店", "shop"], "web": ["官网"]}
MAX_DATE = "2024-12-31 23:59:59"


def clean(
    tmp_path: Path,
    body: str,
    *,
    header: str = HEADER,
    table: str = "transactions",
    max_date: str = MAX_DATE,
    **rules,
) -> tuple[pd.DataFrame, TableQuality, pd.DataFrame]:
    """Clean ``header + body`` as ``table``: (kept rows, counts, quarantine by source row)."""
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.csv"
    path.write_text(header + body, encoding="utf-8")
    con = connection().con
    name = f"test_clean_{uuid.uuid4().hex[:8]}"
    quarantine = tmp_path / f"{name}.quarantine.csv"
    done = clean_table(
        con,
        Source(table=table, path=path),
        schema=SCHEMAS[table],
        required=REQUIRED[table],
        rules=check_rules(rules),
        channels=CHANNELS,
        max_date=pd.Timestamp(max_date),
        quarantine=quarantine,
        table_name=name,
    )
    try:
        kept = con.execute(f'SELECT * FROM "{name}"').df()
        kept = kept.astype(object).where(kept.notna(), None)  # missing values as None
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
    rejected = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    return kept, done.quality, rejected


def rows(quarantine: pd.DataFrame) -> list[list[str]]:
    """``[source_row, reason]`` of every quarantined row."""
    return quarantine[list(QUARANTINE_COLUMNS)].values.tolist()


# -- amounts and currency symbols -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "amount", "repaired"),
    [
        ("12.5", 12.5, 0),
        ('"¥1,234.50"', 1234.5, 1),
        ("￥88", 88.0, 1),
        ("99元", 99.0, 1),
        ("RMB 30", 30.0, 1),
        ("cny 7", 7.0, 1),  # symbols match case-insensitively
        ("US$12", 12.0, 1),
        ("$3.25", 3.25, 1),
        ("(12.00)", -12.0, 1),
        ("（5）", -5.0, 1),  # full-width parentheses
        ("-7", -7.0, 0),
    ],
)
def test_currency_symbols_and_separators_are_stripped(tmp_path, raw, amount, repaired):
    kept, q, _ = clean(tmp_path, f"C1,O1,2024-03-05,{raw},store\n")
    assert kept["amount"].tolist() == [amount]
    assert q.repaired.get("amount_format", 0) == repaired


def test_amount_rules_are_configurable(tmp_path):
    body = "C1,O1,2024-03-05,EUR 5,store\nC1,O2,2024-03-05,¥6,store\nC1,O3,2024-03-05,(4),store\n"
    kept, q, quarantine = clean(
        tmp_path, body, currency_symbols=["EUR"], parentheses_negative=False
    )
    assert kept[["order_id", "amount"]].values.tolist() == [["O1", 5.0], ["O3", 4.0]]
    assert rows(quarantine) == [["2", "unparseable_amount"]]
    assert q.repaired == {"amount_format": 2}
    # without a thousands separator, "1,234" is no number
    body = 'C1,O1,2024-03-05,"1,234",store\nC1,O2,2024-03-05,1,store\n'
    kept, _, quarantine = clean(tmp_path, body, thousands_separator="")
    assert kept["order_id"].tolist() == ["O2"]
    assert rows(quarantine) == [["1", "unparseable_amount"]]


def test_parse_number_sql_on_its_own():
    sql, repaired = parse_number("x", "VARCHAR", rules=DEFAULTS)
    values = ["¥1,234.50", "(3)", "12", "abc", None]
    got = duckdb.sql(
        f"SELECT {sql}, {repaired} FROM unnest(?::VARCHAR[]) t(x)", params=[values]
    ).fetchall()
    assert got == [(1234.5, True), (-3.0, True), (12.0, False), (None, False), (None, False)]
    # a typed number column is cast, never a repair; NaN and infinities are no number
    sql, repaired = parse_number("x", "DECIMAL(18,2)", rules=DEFAULTS)
    assert repaired == "false"
    got = duckdb.sql(f"SELECT {sql} FROM unnest([1.5, 2]::DECIMAL(18,2)[]) t(x)").fetchall()
    assert got == [(1.5,), (2.0,)]
    sql, _ = parse_number("x", "DOUBLE", rules=DEFAULTS)
    got = duckdb.sql(
        f"SELECT {sql} FROM unnest(['nan', 'inf', '-inf', '3']::DOUBLE[]) t(x)"
    ).fetchall()
    assert got == [(None,), (None,), (None,), (3.0,)]


# -- date formats ---------------------------------------------------------------------------------


def test_date_formats_iso_and_configured(tmp_path):
    raw = {
        "O1": ("2024-03-05", "2024-03-05 00:00"),
        "O2": ("2024-03-05T14:22:01", "2024-03-05 14:22:01"),
        "O3": ("2024/3/5 14:22", "2024-03-05 14:22"),  # configured: repaired
        "O4": ("2024年3月5日", "2024-03-05 00:00"),  # configured: repaired
        "O5": ("20240305", "2024-03-05 00:00"),  # configured: repaired
        "O6": ("2024-03-05T06:22:00Z", "2024-03-05 14:22"),  # offset: converted to Shanghai
        "O7": ("05.03.2024", None),  # no format reads it
    }
    body = "".join(f"C1,{order},{text},1,store\n" for order, (text, _) in raw.items())
    kept, q, quarantine = clean(tmp_path, body)
    expected = {order: pd.Timestamp(when) for order, (_, when) in raw.items() if when}
    assert dict(zip(kept["order_id"], kept["ordered_at"], strict=True)) == expected
    assert q.repaired == {"date_format": 3, "timezone_converted": 1}
    assert rows(quarantine) == [["7", "unparseable_ordered_at"]]
    assert quarantine["ordered_at"].tolist() == ["05.03.2024"]  # the original value is kept

    kept, q, quarantine = clean(tmp_path, body, date_formats=["%d.%m.%Y"])
    assert kept.set_index("order_id").loc["O7", "ordered_at"] == pd.Timestamp("2024-03-05")
    # only the configured formats (and what DuckDB's own cast reads, such as 2024/3/5) parse
    assert kept.set_index("order_id").loc["O3", "ordered_at"] == pd.Timestamp("2024-03-05 14:22")
    assert rows(quarantine) == [["4", "unparseable_ordered_at"], ["5", "unparseable_ordered_at"]]


def test_parse_timestamp_sql_keeps_naive_values_and_converts_offsets():
    sql, _, converted = parse_timestamp(
        "x", "VARCHAR", timezone="Europe/London", date_formats=["%Y/%m/%d"]
    )
    got = duckdb.sql(
        f"SELECT {sql}, {converted} FROM unnest(?::VARCHAR[]) t(x)",
        params=[["2024-07-01 10:00", "2024-07-01T10:00:00+02:00", "2024/07/01", "july"]],
    ).fetchall()
    assert [(None if v is None else pd.Timestamp(v), c) for v, c in got] == [
        (pd.Timestamp("2024-07-01 10:00"), False),
        (pd.Timestamp("2024-07-01 09:00"), True),  # 08:00 UTC is 09:00 in London (BST)
        (pd.Timestamp("2024-07-01"), False),
        (None, False),
    ]


# -- duplicates, returns, zero amounts ------------------------------------------------------------


def test_exact_duplicate_lines_drop_or_keep(tmp_path):
    body = (
        "C1,O1,2024-03-05,10,store\n"
        "C1,O1,2024-03-05,10,store\n"  # repeat of row 1
        "C1,O1,2024-03-05,10,web\n"  # another channel: no duplicate
        "C1,O1,2024-03-05,10,store\n"  # repeat of row 1
    )
    kept, q, quarantine = clean(tmp_path, body)
    assert kept["channel"].tolist() == ["store", "web"]
    assert q.rejected == {"duplicate_line": 2}
    assert rows(quarantine) == [["2", "duplicate_line"], ["4", "duplicate_line"]]
    kept, q, quarantine = clean(tmp_path, body, duplicates="keep")
    assert len(kept) == 4 and q.rejected == {} and quarantine.empty


def test_returns_net_or_drop(tmp_path):
    body = "C1,O1,2024-03-05,100,store\nC1,O2,2024-03-06,-30,store\nC1,O3,2024-03-06,(5),store\n"
    kept, q, _ = clean(tmp_path, body)
    assert kept["amount"].tolist() == [100.0, -30.0, -5.0]
    assert q.flagged == {"return": 2} and q.rejected == {}
    kept, q, quarantine = clean(tmp_path, body, returns="drop")
    assert kept["amount"].tolist() == [100.0]
    assert rows(quarantine) == [["2", "return"], ["3", "return"]]
    assert q.flagged == {}  # a quarantined return is no kept row


def test_zero_amounts_keep_or_quarantine(tmp_path):
    body = "C1,O1,2024-03-05,0,store\nC1,O2,2024-03-06,5,store\nC1,O3,2024-03-06,¥0.00,store\n"
    kept, q, _ = clean(tmp_path, body)
    assert kept["amount"].tolist() == [0.0, 5.0, 0.0]
    assert q.flagged == {"zero_amount": 2}
    kept, q, quarantine = clean(tmp_path, body, zero_amounts="quarantine")
    assert kept["order_id"].tolist() == ["O2"]
    assert rows(quarantine) == [["1", "zero_amount"], ["3", "zero_amount"]]


# -- anonymous sales ------------------------------------------------------------------------------


def test_missing_customer_values_are_anonymous_sales(tmp_path):
    ids = ["", "  ", "0", "NULL", "none", "N/A", "-", "C9"]
    body = "".join(f"{c},O{i},2024-03-05,1,store\n" for i, c in enumerate(ids))
    kept, q, quarantine = clean(tmp_path, body)
    assert kept["customer_id"].tolist() == [None] * 7 + ["C9"]
    assert q.flagged == {"anonymous_sale": 7} and quarantine.empty
    # the list is a rule: "guest" means no customer, "0" becomes an id like any other
    kept, q, _ = clean(tmp_path, "guest,O1,2024-03-05,1,store\n0,O2,2024-03-05,1,store\n",
                       missing_customer_values=["guest"])  # fmt: skip
    assert kept["customer_id"].tolist() == [None, "0"]
    assert q.flagged == {"anonymous_sale": 1}


def test_text_is_trimmed_of_tabs_and_line_breaks_as_analyses_trim_it(tmp_path):
    # the loaded ids are final: as_table reads a loaded table's ids without trimming again
    body = ('"\tC7 ",O1,2024-03-05,1,store\n"C8\r\n","O2\t",2024-03-05,1,"\tweb"\n'
            '" \t",O3,2024-03-05,1,store\n')  # fmt: skip
    kept, q, _ = clean(tmp_path, body)
    assert kept["customer_id"].tolist() == ["C7", "C8", None]
    assert kept["order_id"].tolist() == ["O1", "O2", "O3"]
    assert kept["channel"].tolist() == ["store", "web", "store"]  # a known channel, not unknown
    assert q.flagged == {"anonymous_sale": 1}


def test_missing_customer_id_rejects_a_customers_row(tmp_path):
    kept, q, quarantine = clean(
        tmp_path, "C1,Ann\nNULL,Bob\n", header="customer_id,name\n", table="customers"
    )
    assert kept["customer_id"].tolist() == ["C1"]
    assert rows(quarantine) == [["2", "missing_customer_id"]]
    assert quarantine["name"].tolist() == ["Bob"]


# -- future dates ---------------------------------------------------------------------------------


def test_future_dates_after_the_cutoff(tmp_path):
    body = (
        "C1,O1,2024-06-30 23:59:59,1,store\n"  # the last second of max_date: kept
        "C1,O2,2024-07-01 00:00:00,1,store\n"  # the next day: future
        "C1,O3,2030-01-01,1,store\n"
    )
    cutoff = future_cutoff("2024-06-30", timezone="Asia/Shanghai")
    assert cutoff == pd.Timestamp("2024-06-30 23:59:59.999999")
    kept, q, quarantine = clean(tmp_path, body, max_date=str(cutoff))
    assert kept["order_id"].tolist() == ["O1"]
    assert rows(quarantine) == [["2", "future_date"], ["3", "future_date"]]
    kept, q, quarantine = clean(tmp_path, body, max_date=str(cutoff), future_dates="keep")
    assert len(kept) == 3 and q.flagged == {"future_date": 2} and quarantine.empty


def test_future_cutoff_of_a_timestamp_and_of_the_load_time():
    assert future_cutoff("2024-06-30 12:00", timezone="UTC") == pd.Timestamp("2024-06-30 12:00")
    now = pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None)
    got = future_cutoff("", timezone="Asia/Shanghai")
    assert got.tzinfo is None and abs(got - now) < pd.Timedelta(minutes=1)


# -- channels -------------------------------------------------------------------------------------


def test_unknown_channels_map_or_quarantine(tmp_path):
    raw = ["store", "门店", " Shop ", "官网", "fax", ""]
    body = "".join(f"C1,O{i},2024-03-05,1,{c}\n" for i, c in enumerate(raw))
    kept, q, quarantine = clean(tmp_path, body)
    assert kept["channel"].tolist() == ["store", "store", "store", "web", "unknown", "unknown"]
    assert q.repaired == {"channel_unknown": 1, "channel_missing": 1}  # aliases are no repair
    kept, q, quarantine = clean(tmp_path, body, unknown_channels="quarantine")
    assert kept["channel"].tolist() == ["store", "store", "store", "web", "unknown"]  # blank
    assert rows(quarantine) == [["5", "unknown_channel"]]
    assert quarantine["channel"].tolist() == ["fax"]


# -- every row accounted for ----------------------------------------------------------------------


def test_rows_read_equal_kept_plus_rejected_with_the_first_reason(tmp_path):
    body = (
        "C1,O1,2024-03-05,10,store\n"  # 1 kept
        "C1,O1,2024-03-05,10,store\n"  # 2 duplicate_line (before any other reason)
        ",O3,2024-03-05,10,store\n"  # 3 kept: anonymous sale
        "C1,,2024-03-05,10,store\n"  # 4 missing_order_id
        "C1,O5,someday,x,store\n"  # 5 unparseable_ordered_at (amount is bad too)
        "C1,O6,2024-03-05,x,store\n"  # 6 unparseable_amount
        "C1,O7,2099-01-01,-3,store\n"  # 7 future_date (a return too)
        "C1,O8,2024-03-05,-3,store\n"  # 8 kept: return
        "C1,O9,2024-03-05,0,fax\n"  # 9 kept: zero amount, unknown channel
        "C1,O10,2024-03-05,1,store,extra\n"  # 10 malformed_line
        "C1,O1,2024-03-05,10,store\n"  # 11 duplicate_line
    )
    kept, q, quarantine = clean(tmp_path, body)
    assert q.rows_read == 11 == q.kept + q.n_rejected
    assert (q.kept, len(kept)) == (4, 4)
    assert kept["order_id"].tolist() == ["O1", "O3", "O8", "O9"]
    assert rows(quarantine) == [
        ["2", "duplicate_line"],
        ["4", "missing_order_id"],
        ["5", "unparseable_ordered_at"],
        ["6", "unparseable_amount"],
        ["7", "future_date"],
        ["10", "malformed_line"],
        ["11", "duplicate_line"],
    ]
    assert q.rejected == quarantine["reason"].value_counts().to_dict()
    assert q.flagged == {"anonymous_sale": 1, "return": 1, "zero_amount": 1}
    assert q.repaired == {"channel_unknown": 1}
    assert list(quarantine.columns) == [*QUARANTINE_COLUMNS, *MALFORMED_COLUMNS,
                                        "customer_id", "order_id", "ordered_at", "amount",
                                        "channel"]  # fmt: skip
    assert quarantine.loc[quarantine["source_row"] == "10", "line_text"].tolist() == [
        "C1,O10,2024-03-05,1,store,extra"
    ]


def test_counts_that_do_not_add_up_are_refused():
    with pytest.raises(DataError, match="rows read"):
        TableQuality("transactions", "x.csv", rows_read=3, kept=2, rejected={})


# -- the rules themselves -------------------------------------------------------------------------


def test_check_rules_fills_defaults_and_names_what_is_wrong():
    rules = check_rules({"returns": "drop"})
    assert rules["returns"] == "drop" and rules["duplicates"] == DEFAULTS["duplicates"]
    with pytest.raises(ConfigError, match="retruns"):
        check_rules({"retruns": "drop"})
    with pytest.raises(ConfigError, match="'cleaning.zero_amounts'.*'sometimes'"):
        check_rules({"zero_amounts": "sometimes"})
    with pytest.raises(ConfigError, match="max_date"):
        check_rules({"max_date": "next tuesday"})
    with pytest.raises(ConfigError, match="thousands_separator"):
        check_rules({"thousands_separator": ",,"})
