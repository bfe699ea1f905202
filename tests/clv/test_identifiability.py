"""One year of weekly shoppers cannot tell how customers stop buying: the report says so, and
no interval of a positive parameter goes below zero."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv.fitted import IDENTIFIABLE_RELATIVE_ERROR
from crmlib.present import clv as words


def _weekly_shoppers() -> pd.DataFrame:
    """400 households buying in most weeks of 2017 (nobody stops): a grocery's year."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2017-01-02 10:00")
    rows = []
    for h in range(400):
        p, offset = rng.uniform(0.5, 0.95), int(rng.integers(0, 7))
        for w in range(52):
            if w == 0 or rng.random() < p:
                day = start + pd.Timedelta(days=7 * w + offset)
                rows.append((f"H{h:04d}", f"H{h}W{w}", day, float(rng.gamma(4, 10))))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"])


@pytest.fixture(scope="module")
def fitted():
    summary = clv.summary(_weekly_shoppers(), as_of="2017-12-31")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fit on this data warns; what it says is tested here
        model = clv.fit(summary, model="bgnbd")
        spend = clv.fit_spend(summary)
    return model, spend


def test_intervals_of_positive_parameters_stay_positive(fitted):
    model, spend = fitted
    for table in (model.parameters(), spend.parameters()):
        assert (table["lower_95"] >= 0).all() and (table["upper_95"] >= table["estimate"]).all()
        # log scale: the estimate is the geometric middle of its interval
        middle = np.sqrt(table["lower_95"] * table["upper_95"])
        finite = np.isfinite(middle) & (middle > 0)
        assert np.allclose(middle[finite], table["estimate"][finite], rtol=1e-9)


def test_dropout_is_not_identifiable_and_the_report_says_so(fitted):
    model, spend = fitted
    table = model.parameters().set_index("parameter")
    weak = table.index[~table["identifiable"]].tolist()
    assert set(weak) >= {"b"}  # nobody stopped within the year: dropout is a guess
    assert all(table.loc[weak, "why_not"] == "not_identifiable")
    # each weak parameter has a huge relative error, or a degenerate (zero) standard error
    rel = table.loc[weak, "relative_error"].fillna(np.inf)
    assert ((rel > IDENTIFIABLE_RELATIVE_ERROR) | (table.loc[weak, "std_error"] == 0)).all()
    assert table.loc[["r", "alpha"], "identifiable"].all()  # how often they buy is clear
    en = words.identifiability_note(model, spend, language="en")
    assert "too short to tell how quickly customers stop buying" in en and "b" in en
    zh = words.identifiability_note(model, spend, language="zh")
    assert "无法判断客户流失的快慢" in zh
    shown = words.parameter_table(model, spend, language="en")
    assert "Note" in shown.columns and "the data cannot pin down b" in " ".join(shown["Note"])


def test_a_well_identified_fit_has_no_note(cdnow_sample):
    """The CDNOW calibration (1997-01 to 1997-09, Fader, Hardie & Lee 2005): every parameter
    pinned down, no warning."""
    summary = clv.summary(cdnow_sample, as_of="1998-06-30", calibration_end="1997-09-30",
                          time_unit="W")  # fmt: skip
    model = clv.fit(summary, model="bgnbd")
    table = model.parameters()
    assert table["identifiable"].all() and (table["relative_error"] < 0.5).all()
    spend = clv.fit_spend(summary)
    assert words.identifiability_note(model, spend, language="en") == ""


def test_backtest_buckets_follow_the_spread_of_weekly_shoppers():
    """Calibration to 30 Sep: households have dozens of repeat purchases, so fixed buckets
    0…7+ would put nearly everyone in '7+'; the buckets are ranges at the quantiles instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = clv.backtest(_weekly_shoppers(), calibration_end="2017-09-30", as_of="2017-12-31")
    buckets = check.by_frequency
    assert "7+" not in set(buckets["bucket"])
    assert buckets["customers"].sum() == 400 and len(buckets) >= 4
    assert buckets["customers"].max() <= 0.4 * 400  # no bucket holds most households
    assert buckets["bucket"].iloc[-1].endswith("+") and "–" in buckets["bucket"].iloc[0]


def test_time_since_last_purchase_names_its_unit(fitted):
    model, spend = fitted
    summary = clv.summary(_weekly_shoppers(), as_of="2017-12-31")
    scores = clv.score(summary, model=model, spend_model=spend)
    risk = clv.at_risk(scores, top_share=0.5, p_alive_below=1.0)
    assert "Time since last purchase (weeks)" in words.localise(risk, language="en").columns
    assert "距上次购买时间 (周)" in words.localise(risk, language="zh").columns
