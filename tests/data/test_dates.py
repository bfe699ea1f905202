"""The report date: one rule for every analysis (``crmlib.data.resolve_as_of``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crmlib import channels, clv, lifecycle, rfm
from crmlib.basket.purchases import as_of_bound
from crmlib.data import parse_day, resolve_as_of
from crmlib.errors import ConfigError, DataError


def _tx(*stamps: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(stamps))],
            "order_id": [f"o{i}" for i in range(len(stamps))],
            "ordered_at": pd.to_datetime(list(stamps)),
            "amount": [10.0] * len(stamps),
        }
    )


def test_empty_as_of_is_the_day_of_the_last_line_when_that_day_is_over():
    """A last order at 23:59 (after the 23:00 cut-off) closes its day: 17 May is complete."""
    tx = _tx("2024-03-01 09:00", "2024-05-17 23:59", "2024-04-02 10:00")
    for empty in (None, "", "   "):
        assert resolve_as_of(tx, empty) == pd.Timestamp("2024-05-17")


def test_an_export_ending_at_0401_on_the_first_reports_the_last_day_of_the_month():
    """Data ending at 04:01 on 1 January holds four hours of January: the day is partial.

    The default as_of is the last complete day, 31 December; a given date still wins, and
    the user may declare the export whole up to its last day.
    """
    tx = _tx("2017-12-02 10:00", "2017-12-31 18:30", "2018-01-01 04:01")
    assert resolve_as_of(tx) == pd.Timestamp("2017-12-31")
    assert resolve_as_of(tx, "2018-01-01") == pd.Timestamp("2018-01-01")
    assert resolve_as_of(tx, last_day_complete=True) == pd.Timestamp("2018-01-01")
    # a cut-off before 04:01 makes the day complete; False always takes the day before
    assert resolve_as_of(tx, day_end="04:00") == pd.Timestamp("2018-01-01")
    assert resolve_as_of(tx, day_end="04:02") == pd.Timestamp("2017-12-31")
    tx_late = _tx("2017-12-31 23:30")
    assert resolve_as_of(tx_late, last_day_complete=False) == pd.Timestamp("2017-12-30")
    with pytest.raises(ConfigError, match="day_end"):
        resolve_as_of(tx, day_end="late")


def test_a_date_only_export_keeps_its_last_day():
    """Dates without a time of day (all at midnight) cannot show a partial day."""
    tx = _tx("2024-03-01", "2024-05-17", "2024-04-02")
    assert resolve_as_of(tx) == pd.Timestamp("2024-05-17")


def test_given_as_of_is_a_midnight_day_without_time_zone():
    tx = _tx("2024-03-01 09:00")
    assert resolve_as_of(tx, "2024-06-30") == pd.Timestamp("2024-06-30")
    assert resolve_as_of(tx, pd.Timestamp("2024-06-30 15:30")) == pd.Timestamp("2024-06-30")
    assert resolve_as_of(tx, dt.date(2024, 6, 30)) == pd.Timestamp("2024-06-30")
    # wall-clock day kept, zone dropped (canonical timestamps are naive local time)
    aware = resolve_as_of(tx, "2024-06-30T23:00:00+08:00")
    assert aware == pd.Timestamp("2024-06-30") and aware.tzinfo is None


@pytest.mark.parametrize("bad", ["not a date", "2024-13-45", pd.NaT, float("nan")])
def test_a_bad_as_of_is_a_parameter_error_naming_it(bad):
    with pytest.raises(ConfigError, match="as_of"):
        resolve_as_of(_tx("2024-03-01"), bad)
    with pytest.raises(ConfigError, match="start"):
        parse_day(bad, name="start")


def test_required_day_and_empty_day():
    assert parse_day("") is None
    with pytest.raises(ConfigError, match="as_of"):
        parse_day("", required=True)


def test_no_dated_line_is_a_data_error():
    empty = _tx().astype({"ordered_at": "datetime64[us]"})
    with pytest.raises(DataError, match="as_of"):
        resolve_as_of(empty)
    assert resolve_as_of(empty, "2024-01-31") == pd.Timestamp("2024-01-31")


def test_every_analysis_uses_the_same_rule():
    tx = _tx("2024-03-01 09:00", "2024-05-17 23:59")
    assert channels.resolve_as_of is resolve_as_of
    assert lifecycle.resolve_as_of is resolve_as_of
    assert clv.observation_end(tx) == clv.observation_end(tx, as_of="") == resolve_as_of(tx)
    assert (rfm.rfm_table(tx)["as_of"] == resolve_as_of(tx)).all()
    assert as_of_bound("2024-05-17 10:00") == pd.Timestamp("2024-05-18")
    assert as_of_bound("") is None
