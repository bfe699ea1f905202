"""One model per segment (crmlib.clv.fit_by_segment): the equality test tells different
segments from equal ones, each segment's fit recovers its own parameters, small segments keep
the pooled models, and the rolled-up forecast is the sum of the segments' own forecasts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv.segment_fits import fit_by_segment
from crmlib.simulate.clv_base import simulate_base

LOYAL = {"r": 0.6, "alpha": 4.0, "a": 1.5, "b": 4.0}
LOYAL_SPEND = {"p": 6.0, "q": 4.0, "v": 30.0}


def _two_segments(loyal: dict, loyal_spend: dict, *, n: int = 6000, seed: int = 3):
    first = simulate_base(n, seed=seed).summary
    second = simulate_base(n, seed=seed + 1, purchase=loyal, spend=loyal_spend).summary
    second["customer_id"] = "L" + second["customer_id"]
    data = pd.concat([first, second], ignore_index=True)
    data.attrs["time_unit"] = "W"
    segments = pd.DataFrame(
        {"customer_id": data["customer_id"], "segment": ["new"] * n + ["loyal"] * n}
    )
    return data, segments


@pytest.fixture(scope="module")
def different():
    data, segments = _two_segments(LOYAL, LOYAL_SPEND)
    return data, segments, fit_by_segment(data, segments)


def test_different_segments_are_told_apart(different):
    _, _, fits = different
    assert fits.differ
    tests = fits.tests.set_index("model")
    assert tests.loc["purchase", "df"] == 4 and tests.loc["spend", "df"] == 3
    assert (tests["p_value"] < 1e-6).all()


def test_each_segment_recovers_its_own_parameters(different):
    _, _, fits = different
    truths = {"new": {**simulate_base(1).purchase, **simulate_base(1).spend},
              "loyal": {**LOYAL, **LOYAL_SPEND}}  # fmt: skip
    for name, (purchase, spend) in fits.models.items():
        table = pd.concat([purchase.parameters(), spend.parameters()]).set_index("parameter")
        for parameter, truth in truths[name].items():
            estimate, error = table.loc[parameter, ["estimate", "std_error"]]
            assert abs(estimate - truth) < 3.5 * error, (name, parameter, estimate, truth)


def test_equal_segments_are_not_split():
    data, segments = _two_segments(simulate_base(1).purchase, simulate_base(1).spend, seed=21)
    fits = fit_by_segment(data, segments)
    assert fits.why_not is None and len(fits.tests) == 2
    assert not fits.differ, fits.tests


def test_small_segments_keep_the_pooled_models(different):
    data, segments, _ = different
    few = segments.copy()
    few.loc[few.index[:40], "segment"] = "tiny"
    fits = fit_by_segment(data, few)
    table = fits.table.set_index("segment")
    assert not table.loc["tiny", "own_fit"] and table.loc["loyal", "own_fit"]
    assert table.loc["tiny", "r"] == pytest.approx(fits.pooled[0].params_["r"])
    only_one = fit_by_segment(data, few, min_customers=6100)
    assert only_one.why_not.reason == "small_base" and not only_one.differ


def test_rolled_up_forecast_is_the_sum_of_the_segments(different):
    data, segments, fits = different
    pooled_model, pooled_spend = fits.pooled
    params = {"intervals": {"draws": 40, "forecast_months": 12, "horizons": [[0, 12]]}}
    bands = clv.intervals(data, model=pooled_model, spend_model=pooled_spend, params=params,
                          segments=segments, segment_models=fits.models)  # fmt: skip
    values = bands.horizons.set_index("segment")["value"]
    assert values["all"] == pytest.approx(values["new"] + values["loyal"], rel=1e-12)
    for name, (purchase, spend) in fits.models.items():
        part = data[segments["segment"].to_numpy() == name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = clv.score(part, model=purchase, spend_model=spend)
        assert values[name] == pytest.approx(scores["clv"].sum(), rel=1e-9)
    customers = bands.customers.set_index("customer_id")
    assert list(customers.index) == list(data["customer_id"])  # the summary's order
    assert np.isfinite(customers["clv_upper"]).all()
    row = bands.horizons.set_index("segment").loc["all"]
    assert row["value_outcome_lower"] < row["value"] < row["value_outcome_upper"]
