"""The order store (crmlib.data.order_store): a loaded dataset's orders formed once, read back as
forming them from the lines gives them, for any ``as_of``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crmlib.clv import summaries
from crmlib.clv.scoring import historical_value
from crmlib.data import as_table, execute, load_dataset, order_store
from crmlib.data.orders import ORDERS_FILE, PARTS_FILE, orders

FILES = (ORDERS_FILE, PARTS_FILE, summaries.DAYS_FILE)

#: Lines chosen for the cases the store must get right: an order whose return comes days later
#: (o2: bought 03-01, returned 03-05), one returned in full later (o3), a free order (o4), an
#: anonymous sale (o7) and an order whose lines span three days (o6).
LINES = """customer_id,order_id,ordered_at,amount,sku
c1,o1,2024-03-01 10:00:00,100.0,A
c1,o1,2024-03-01 10:00:00,20.5,B
c1,o2,2024-03-01 12:00:00,80.0,A
c1,o2,2024-03-05 09:00:00,-30.0,A
c2,o3,2024-03-02 08:00:00,50.0,C
c2,o3,2024-03-09 08:00:00,-50.0,C
c2,o4,2024-03-03 08:00:00,0.0,D
,o7,2024-03-04 11:00:00,9.0,G
c4,o6,2024-03-06 10:00:00,40.0,H
c4,o6,2024-03-07 10:00:00,-10.0,H
c4,o6,2024-03-08 10:00:00,5.0,J
c4,o8,2024-03-10 10:00:00,70.0,A
"""

AS_OF = [None, "2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-10"]


def _params(tmp_path: Path) -> dict[str, Any]:
    return {
        "transactions": {"path": str(tmp_path / "tx.csv")},
        "cache_dir": str(tmp_path / "cache"),
        "quarantine_dir": str(tmp_path / "quarantine"),
    }


@pytest.fixture()
def dataset(tmp_path: Path) -> Any:
    (tmp_path / "tx.csv").write_text(LINES, encoding="utf-8")
    return load_dataset(_params(tmp_path))


def _formed(lines: Any, as_of: Any, identified: bool) -> pd.DataFrame:
    """The orders grouped from the lines themselves (a filtered table has no store)."""
    table = as_table(lines)
    table = table.filter(table.ordered_at.notnull())
    assert order_store.find(table) is None
    return _sorted(orders(table, as_of=as_of, identified=identified))


def _sorted(expr: Any) -> pd.DataFrame:
    frame = execute(expr)
    return frame.sort_values(["customer_id", "order_id"], ignore_index=True, na_position="first")


@pytest.mark.parametrize("identified", [True, False])
@pytest.mark.parametrize("as_of", AS_OF)
def test_stored_orders_equal_orders_formed_from_the_lines(
    dataset: Any, as_of: Any, identified: bool
) -> None:
    day = None if as_of is None else pd.Timestamp(as_of)
    stored = orders(dataset.transactions, as_of=day, identified=identified)
    assert "crm_orders_" in str(stored.compile())  # read from the store, not the lines
    pd.testing.assert_frame_equal(_sorted(stored), _formed(dataset.transactions, day, identified))


def test_an_order_spanning_as_of_counts_only_its_lines_up_to_that_day(dataset: Any) -> None:
    by_day = {
        day: _sorted(orders(dataset.transactions, as_of=pd.Timestamp(day))).set_index("order_id")
        for day in ["2024-03-04", "2024-03-05", "2024-03-07", "2024-03-08", "2024-03-09"]
    }
    assert by_day["2024-03-04"].loc["o2", "amount"] == 80.0  # the return came on 03-05
    assert by_day["2024-03-05"].loc["o2", "amount"] == 50.0
    assert by_day["2024-03-07"].loc["o6", "amount"] == 30.0
    assert by_day["2024-03-08"].loc["o6", "amount"] == 35.0
    # o3 is a purchase until its full return on 03-09, then no purchase at all
    assert bool(by_day["2024-03-08"].loc["o3", "purchase"])
    assert not bool(by_day["2024-03-09"].loc["o3", "purchase"])


def test_the_store_is_written_once_beside_the_cleaned_tables(dataset: Any, tmp_path: Path) -> None:
    folder = Path(dataset.source["cache_dir"]) / dataset.fingerprint
    execute(orders(dataset.transactions).count())
    execute(summaries.purchase_days(dataset.transactions, as_of="2024-03-10").count())
    written = {name: (folder / name).stat().st_mtime_ns for name in FILES}
    again = load_dataset(_params(tmp_path))  # another notebook loading the same data
    assert again.fingerprint == dataset.fingerprint
    execute(orders(again.transactions, as_of=pd.Timestamp("2024-03-05")).count())
    execute(summaries.purchase_days(again.transactions, as_of="2024-03-05").count())
    assert {name: (folder / name).stat().st_mtime_ns for name in FILES} == written
    parts = pd.read_parquet(folder / PARTS_FILE)
    assert sorted(set(parts["order_id"])) == ["o2", "o3", "o6"]  # only orders spanning days


def test_clv_summaries_read_the_stored_day_values(dataset: Any) -> None:
    end = pd.Timestamp("2024-03-10")
    stored = summaries.purchase_days(dataset.transactions, as_of=end)
    assert "crm_customer_days_" in str(stored.compile())
    table = as_table(dataset.transactions)
    formed = summaries.purchase_days(table.filter(table.ordered_at.notnull()), as_of=end)
    assert "crm_customer_days_" not in str(formed.compile())
    pd.testing.assert_frame_equal(
        execute(stored).sort_values(["customer_id", "day"], ignore_index=True),
        execute(formed).sort_values(["customer_id", "day"], ignore_index=True),
    )


@pytest.mark.parametrize("as_of", AS_OF[1:])
def test_stored_purchase_histories_equal_those_formed_from_the_lines(
    dataset: Any, as_of: str
) -> None:
    stored = summaries.purchase_history(dataset.transactions, as_of=as_of)
    assert "crm_purchase_days_" in str(stored.compile())  # read from the store, one per day
    table = as_table(dataset.transactions)
    formed = summaries.purchase_history(table.filter(table.ordered_at.notnull()), as_of=as_of)
    assert "crm_purchase_days_" not in str(formed.compile())
    columns = ["customer_id", "day", "value", "first_day"]
    pd.testing.assert_frame_equal(
        execute(stored).sort_values(["customer_id", "day"], ignore_index=True)[columns],
        execute(formed).sort_values(["customer_id", "day"], ignore_index=True)[columns],
    )


def test_a_purchase_history_counts_an_order_as_it_stood_on_its_day(dataset: Any) -> None:
    def first_days(as_of: str) -> dict[str, str]:
        rows = execute(summaries.purchase_history(dataset.transactions, as_of=as_of))
        days = pd.to_datetime(rows["first_day"]).dt.strftime("%Y-%m-%d")
        return dict(zip(rows["customer_id"], days, strict=True))

    # o3 (c2, 03-02) is a purchase until its full return on 03-09; the free order o4 (03-03)
    # then is c2's first purchase
    assert first_days("2024-03-08")["c2"] == "2024-03-02"
    assert first_days("2024-03-10")["c2"] == "2024-03-03"


def test_data_without_a_cache_forms_its_orders_from_the_lines(tmp_path: Path) -> None:
    (tmp_path / "tx.csv").write_text(LINES, encoding="utf-8")
    data = load_dataset(
        {"transactions": {"path": str(tmp_path / "tx.csv")}, "quarantine_dir": str(tmp_path)},
        cache=False,
    )
    assert order_store.find(as_table(data.transactions)) is None
    assert len(execute(orders(data.transactions))) == 6


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2024-03-05", {"c1": 170.5, "c2": 50.0}),
        ("2024-03-10", {"c1": 170.5, "c2": 0.0, "c4": 105.0}),
    ],
)
def test_historical_value_sums_every_line_of_the_customer(
    dataset: Any, as_of: str, expected: dict[str, float]
) -> None:
    stored = historical_value(dataset.transactions, as_of=as_of)
    table = as_table(dataset.transactions)
    formed = historical_value(table.filter(table.ordered_at.notnull()), as_of=as_of)
    assert dict(zip(stored["customer_id"], stored["historical_value"], strict=True)) == expected
    pd.testing.assert_frame_equal(stored, formed)
