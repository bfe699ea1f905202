"""The forecast's track record (crmlib.clv.track_record) on CDNOW: a forecast saved by one run
is compared by a later run with the revenue its customers brought, computed here independently
from the transactions; complete months only, hidden and same-day runs left out."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv.track_record import FORECAST_FILE
from crmlib.measure import frame_reason
from crmlib.present.clv_forecast import track_record_table, track_record_text

MADE = pd.Timestamp("1997-09-30")
PARAMS = {"intervals": {"draws": 40, "forecast_months": 12, "horizons": [[0, 12]]}}


@pytest.fixture(scope="module")
def saved(cdnow_sample, tmp_path_factory):
    pack = tmp_path_factory.mktemp("reports") / "monthly"
    data = clv.summary(cdnow_sample, as_of=MADE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data)
    bands = clv.intervals(data, model=model, spend_model=spend, params=PARAMS, as_of=MADE,
                          customers=False)  # fmt: skip
    (pack / "1997-09").mkdir(parents=True)
    path = clv.save_forecast(bands, pack / "1997-09", as_of=MADE)
    assert path == pack / "1997-09" / FORECAST_FILE
    return pack, bands


def _actual(transactions: pd.DataFrame, end: pd.Timestamp) -> float:
    """Revenue of the customers of MADE in (MADE, end], straight from the transactions."""
    first = transactions.groupby("customer_id")["ordered_at"].transform("min")
    day = transactions["ordered_at"].dt.normalize()
    rows = (first <= MADE) & (day > MADE) & (day <= end)
    return float(transactions.loc[rows, "amount"].sum())


def test_later_run_compares_complete_months_with_what_happened(saved, cdnow_sample):
    pack, bands = saved
    later = pack / "1998-06"
    record = clv.track_record(cdnow_sample, run_dir=later, as_of="1998-06-30")
    assert len(record) == 1
    row = record.iloc[0]
    assert row["made_on"] == MADE
    # 273 days have passed: 8 complete months of 30.4375 days, the ninth is partial
    assert row["months"] == 8
    month = bands.forecast.query("segment == 'all' and month == 8").iloc[0]
    assert row["forecast"] == pytest.approx(month["revenue_cumulative"], rel=1e-6)
    assert row["actual"] == pytest.approx(_actual(cdnow_sample, month["end"]), rel=1e-9)
    assert row["error"] == pytest.approx(row["actual"] / row["forecast"] - 1)
    assert row["inside"] == (row["lower"] <= row["actual"] <= row["upper"])
    text = track_record_text(record, language="en")
    assert "1997-09-30" in text and "8 complete months" in text
    assert len(track_record_table(record, language="zh")) == 1


def test_no_complete_month_no_record(saved, cdnow_sample):
    pack, _ = saved
    record = clv.track_record(cdnow_sample, run_dir=pack / "next", as_of="1997-10-20")
    assert record.empty and frame_reason(record).reason == "no_data"
    assert "starts with this run" in track_record_text(record, language="en")


def test_same_day_hidden_and_unset_runs_are_left_out(saved, cdnow_sample, tmp_path):
    pack, bands = saved
    assert clv.track_record(cdnow_sample, run_dir=pack / "again", as_of=MADE).empty
    assert clv.track_record(cdnow_sample, run_dir="", as_of="1998-06-30").empty
    hidden = tmp_path / "pack" / ".1997-09-staging"
    hidden.mkdir(parents=True)
    clv.save_forecast(bands, hidden, as_of=MADE)
    assert clv.track_record(cdnow_sample, run_dir=tmp_path / "pack" / "x", as_of="1998-06-30").empty
    assert clv.save_forecast(bands, "", as_of=MADE) is None
