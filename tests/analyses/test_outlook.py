"""The executive summary's revenue outlook (crmlib.outlook): the same value and range as
notebook 03's forecast, the last forecast's record, and a reason where there is no model."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from crmlib import clv, outlook
from crmlib import executive as ex
from crmlib.clv.workflow import rfm_segments
from crmlib.data import load_dataset
from crmlib.present import executive as words
from crmlib.present.clv_forecast import forecast_text
from crmlib.present.format import money


@pytest.fixture(scope="module")
def demo(demo_params):
    data = load_dataset(demo_params)
    return data, ex.executive_summary(data)


def test_outlook_quotes_the_forecast_of_notebook_03(demo, tmp_path):
    data, summary = demo
    result = outlook.revenue_outlook(summary, data, run_dir=tmp_path / "pack" / "run")
    assert result.bands.measured and result.record.empty
    # notebook 03: its own analysis of the same day, with RFM segments for the breakdown
    analysis = clv.analyse(data.transactions, as_of=summary.as_of)
    segments = rfm_segments(data.transactions, as_of=summary.as_of)
    page = clv.plan(analysis, customers=data.customers, segments=segments, drivers=False,
                    customer_intervals=False).bands  # fmt: skip
    text = words.outlook_text(result, language="en")
    for column in ("value", "value_outcome_lower", "value_outcome_upper"):
        figure = page.horizons.query("segment == 'all' and first_month == 1").iloc[0][column]
        assert money(figure) in text, column
        assert money(figure) in forecast_text(page, language="en")
    assert words.outlook_text(result, language="zh").startswith("- 展望")


def test_outlook_reports_the_last_forecasts_record(demo, tmp_path):
    data, summary = demo
    earlier_day = summary.as_of - pd.Timedelta(days=100)
    analysis = clv.analyse(data.transactions, as_of=earlier_day)
    bands = clv.plan(analysis, customers=data.customers, drivers=False,
                     customer_intervals=False).bands  # fmt: skip
    (tmp_path / "pack" / "old").mkdir(parents=True)
    clv.save_forecast(bands, tmp_path / "pack" / "old", as_of=earlier_day)
    result = outlook.revenue_outlook(summary, data, run_dir=tmp_path / "pack" / "now")
    assert len(result.record) == 1 and result.record.iloc[0]["months"] == 3
    text = words.outlook_text(result, language="en")
    assert earlier_day.date().isoformat() in text and "3 complete months" in text


def test_no_model_no_outlook_and_a_reason(demo):
    data, summary = demo
    without = dataclasses.replace(summary, at_risk=None)
    result = outlook.revenue_outlook(without, data)
    assert result.reason == "no_data"
    assert words.outlook_text(result, language="en").startswith("- Outlook: –")
