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
