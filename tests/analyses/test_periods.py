"""Identified orders and period helpers shared by lifecycle, cohorts and trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib import periods
from crmlib.data import execute
from crmlib.errors import ConfigError


def test_identified_orders_leave_out_anonymous_sales_and_later_days():
    tx = pd.DataFrame(
        {
            "customer_id": [" a ", "a", "a", None, "", "b"],
            "order_id": ["1", "1", "2", "3", "4", "5"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-05 10:00",
                    "2024-01-05 11:00",
                    "2024-01-09 09:00",
                    "2024-01-06 09:00",
                    "2024-01-07 09:00",
                    "2024-02-01 09:00",
                ]
            ),
            "amount": [10.0, 5.0, -3.0, 9.0, 9.0, 7.0],
        }
    )
    got = execute(periods.identified_orders(tx, as_of=pd.Timestamp("2024-01-31")))
    got = got.sort_values("order_id", ignore_index=True)
    assert got["customer_id"].tolist() == ["a", "a"]  # stripped; anonymous and later left out
    assert got["amount"].tolist() == [15.0, -3.0]
    assert got["purchase"].tolist() == [True, False]  # a pure return is no purchase


def test_period_helpers():
    days = pd.Series(pd.to_datetime(["2024-02-10", "2024-05-31"]))
    months = periods.period_of(days, freq="M")
    assert months.astype(str).tolist() == ["2024-02", "2024-05"]
    assert periods.freq_of(months) == "M"
    assert periods.freq_of(periods.period_of(days, freq="Q")) == "Q"
    ends = periods.period_end(months)
    assert ends.tolist() == [np.datetime64("2024-02-29"), np.datetime64("2024-05-31")]
    assert periods.as_period("2025Q3", freq="Q", name="base") == pd.Period("2025Q3", "Q")
    with pytest.raises(ConfigError, match="'base'.*2025-09.*got 'soon'"):
        periods.as_period("soon", freq="M", name="base")
    assert periods.PERIODS_PER_YEAR[periods.PERIODS["quarter"]] == 4


def test_last_complete_period_is_the_one_ending_on_or_before_as_of():
    """Hand cases: a month is complete on its last day; a mid-month day falls back one month."""
    from crmlib.periods import last_complete_period

    assert last_complete_period("2017-12-31") == pd.Period("2017-12", "M")
    assert last_complete_period("2018-01-01") == pd.Period("2017-12", "M")
    assert last_complete_period("2018-01-15") == pd.Period("2017-12", "M")
    assert last_complete_period("2018-03-31", freq="Q") == pd.Period("2018Q1", "Q")
    assert last_complete_period("2018-03-30", freq="Q") == pd.Period("2017Q4", "Q")
    # ISO weeks end on Sunday: 2017-12-31 is a Sunday, 2018-01-03 a Wednesday
    assert str(last_complete_period("2017-12-31", freq="W")) == "2017-12-25/2017-12-31"
    assert str(last_complete_period("2018-01-03", freq="W")) == "2017-12-25/2017-12-31"


def test_weeks_run_monday_to_sunday_and_compare_with_the_week_before_and_52_weeks_before():
    """3 July 2024 is a Wednesday: the last complete week is Monday 24 - Sunday 30 June
    (ISO week 26); the week before is 17-23 June; 52 weeks earlier is 26 June - 2 July 2023."""
    from crmlib.kpis import period_bounds, shift

    week = period_bounds("2024-07-03", period="week")
    assert (week.start, week.end, week.label, week.complete) == (
        pd.Timestamp("2024-06-24"), pd.Timestamp("2024-06-30"), "2024-W26", True)  # fmt: skip
    before = shift(week, kind="previous", unit="week")
    assert (before.start, before.end, before.label) == (
        pd.Timestamp("2024-06-17"), pd.Timestamp("2024-06-23"), "2024-W25")  # fmt: skip
    ago = shift(week, kind="last_year", unit="week")
    assert (ago.start, ago.end, ago.label) == (
        pd.Timestamp("2023-06-26"), pd.Timestamp("2023-07-02"), "2023-W26")  # fmt: skip
    running = period_bounds("2024-07-03", period="week", complete=False)
    assert (running.start, running.end, running.complete) == (
        pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-03"), False)  # fmt: skip
    assert shift(running, kind="previous", unit="week").end == pd.Timestamp("2024-06-26")


def test_weekly_kpis_count_the_week_only():
    """Revenue of week 26 by hand: 20 (Mon 24 June) + 30 (Sun 30 June) = 50; the week before
    holds the Sunday 23 June order (10); Monday 1 July (40) belongs to the next week. (The data
    begins on 1 May, so the week before is inside it; a year ago is not: "–".)"""
    from crmlib.kpis import compare_periods

    tx = pd.DataFrame({
        "customer_id": ["e", "a", "b", "c", "d"], "order_id": ["o0", "o1", "o2", "o3", "o4"],
        "ordered_at": pd.to_datetime(["2024-05-01 12:00", "2024-06-23 12:00", "2024-06-24 09:00",
                                      "2024-06-30 20:00", "2024-07-01 10:00"]),
        "amount": [5.0, 10.0, 20.0, 30.0, 40.0],
    })  # fmt: skip
    table = compare_periods(tx, as_of="2024-07-03", period="week").set_index("kpi")
    assert table.attrs["period"].label == "2024-W26"
    assert table.loc["revenue", "value"] == 50.0 and table.loc["revenue", "previous"] == 10.0
    assert table.loc["active_customers", "value"] == 2.0
    assert table.loc["revenue", "why_not_last_year"].reason == "before_data"
