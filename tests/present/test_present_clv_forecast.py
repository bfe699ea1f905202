"""The forecast's words and fan chart: every figure with its range, in both languages; the
reason when there is no range; axes with their units."""

from __future__ import annotations

import copy
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlib import clv  # noqa: E402
from crmlib.measure import not_measured  # noqa: E402
from crmlib.plots.clv_forecast import forecast_fan  # noqa: E402
from crmlib.present import clv as clv_words  # noqa: E402
from crmlib.present.clv_forecast import forecast_text, horizon_table, method_note  # noqa: E402
from crmlib.present.format import money  # noqa: E402
from crmlib.simulate.clv_base import simulate_base  # noqa: E402

PARAMS = {"intervals": {"draws": 50, "forecast_months": 6, "horizons": [[0, 12], [12, 24]]}}


@pytest.fixture(scope="module")
def bands():
    data = simulate_base(2000, seed=4).summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data)
    segments = pd.DataFrame(
        {
            "customer_id": data["customer_id"],
            "segment": np.where(data["frequency"] > 0, "回头客", "one-off"),
        }
    )
    return clv.intervals(
        data, model=model, spend_model=spend, params=PARAMS, segments=segments, as_of="2026-09-30"
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_text_gives_value_and_both_ranges(bands, language):
    text = forecast_text(bands, language=language)
    base = bands.horizons.query("segment == 'all'")
    first, later = base.iloc[0], base.iloc[1]
    for value in ("value", "value_lower", "value_upper", "value_outcome_lower",
                  "value_outcome_upper"):  # fmt: skip
        assert money(first[value]) in text, value
    assert money(later["value"]) in text and "13" in text
    assert "1.0%" in text  # the discount rate the value rests on
    assert str(bands.draws) in method_note(bands, language=language)
    wide = forecast_text(bands, language=language, unidentified=True)
    assert len(wide) > len(text)


def test_horizon_table_puts_the_base_first_then_segments_by_value(bands):
    table = horizon_table(bands, language="en")
    first = bands.horizons.query("first_month == 1 and segment != 'all'")
    by_value = list(first.sort_values("value", ascending=False)["segment"])
    assert list(table["Segment"][:3]) == ["All customers", *by_value]
    values = bands.horizons.query("first_month == 1 and segment != 'all'")["value"]
    assert list(values) == sorted(values, reverse=True)
    assert table.columns[3] == "Expected value, 95% range"
    assert " – " in table.iloc[0, 3]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_fan_chart_has_bands_units_and_dates(bands, language):
    ax = forecast_fan(bands, language=language)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(bands.bands) + 1
    assert "yuan" in ax.get_ylabel() or "元" in ax.get_ylabel() or "¥" in ax.get_ylabel()
    assert ax.get_ylim()[0] == 0
    assert len(ax.collections) == len(bands.bands)  # one shaded band each
    plt.close(ax.figure)


def test_no_range_is_said_in_text_and_chart(bands):
    empty = copy.copy(bands)
    empty.why_not = not_measured("not_identifiable", parameter="a, b")
    empty.forecast, empty.horizons = pd.DataFrame(), pd.DataFrame()
    text = forecast_text(empty, language="en")
    assert text.startswith("No forecast range") and "a, b" in text
    ax = forecast_fan(empty, language="zh")
    assert any("a, b" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)
    assert horizon_table(empty, language="en").empty


def test_customer_lists_carry_their_ranges(bands):
    data = simulate_base(2000, seed=4).summary
    table = pd.DataFrame({"customer_id": data["customer_id"][:5], "clv": 1.0, "p_alive": 0.5})
    shown = clv.with_intervals(table, bands)
    assert list(shown.columns) == ["customer_id", "clv", "clv_lower", "clv_upper", "p_alive",
                                   "p_alive_lower", "p_alive_upper"]  # fmt: skip
    assert shown[["clv_lower", "p_alive_upper"]].notna().all().all()
    localised = clv_words.localise(shown, language="en")
    assert "Lifetime value, low" in localised.columns
    assert str(localised["P(active), high"].iloc[0]).endswith("%")


def test_segment_totals_carry_the_forecasts_ranges(cdnow_sample):
    from crmlib.present.clv_forecast import named_segments

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = clv.analyse(cdnow_sample, as_of="1997-12-31", params=PARAMS)
    segments = named_segments(cdnow_sample, as_of=analysis.as_of, scheme="en11")
    bands = clv.intervals(analysis.summary, model=analysis.model, spend_model=analysis.spend_model,
                          params=analysis.settings, segments=segments, customers=False)  # fmt: skip
    table, _ = clv_words.value_by_segment(analysis, cdnow_sample, scheme="en11", bands=bands)
    assert (table["clv_total_lower"] < table["clv_total"]).all()
    assert (table["clv_total"] < table["clv_total_upper"]).all()
    plain, _ = clv_words.value_by_segment(analysis, cdnow_sample, scheme="en11")
    assert "clv_total_lower" not in plain.columns
