"""Intervals on the CLV figures and the monthly cash-flow forecast (crmlib.clv.intervals).

The point figures must be the scores' (same model, same arithmetic); the interpolated curves
must match the closed form; and the intervals must hold what they claim, checked by simulation
from known parameters in ``test_coverage.py``.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv.bgnbd import expected_if_alive
from crmlib.clv.curves import Curves
from crmlib.clv.draws import parameter_draws
from crmlib.errors import ConfigError
from crmlib.present.clv_forecast import forecast_text
from crmlib.simulate.clv_base import simulate_base

FEW = {"intervals": {"draws": 60, "forecast_months": 12, "horizons": [[0, 6], [6, 12]]}}


@pytest.fixture(scope="module")
def fitted():
    base = simulate_base(3000, seed=11)
    data = base.summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data)
    return base, data, model, spend


def _segments(data: pd.DataFrame) -> pd.DataFrame:
    labels = np.where(data["frequency"] > 0, "repeat", "once")
    return pd.DataFrame({"customer_id": data["customer_id"], "segment": labels})


def test_point_figures_are_the_scores(fitted):
    _, data, model, spend = fitted
    scores = clv.score(data, model=model, spend_model=spend)
    out = clv.intervals(data, model=model, spend_model=spend, params=FEW, segments=_segments(data))
    value = out.horizons.query("segment == 'all' and first_month == 1 and last_month == 12")
    assert value["value"].iloc[0] == pytest.approx(scores["clv"].sum(), rel=1e-9)
    base = out.forecast.query("segment == 'all'")
    assert base["orders"].sum() == pytest.approx(scores["expected_purchases"].sum(), rel=1e-9)
    # the segments add up to the base, month by month
    parts = out.forecast.query("segment != 'all'").groupby("month")["revenue"].sum()
    np.testing.assert_allclose(parts.to_numpy(), base["revenue"].to_numpy(), rtol=1e-9)
    assert set(out.forecast["segment"]) == {"all", "once", "repeat"}
    sizes = out.forecast.drop_duplicates("segment").set_index("segment")["customers"]
    assert sizes["all"] == len(data) == sizes["once"] + sizes["repeat"]


def test_customer_intervals_hold_the_point_estimates(fitted):
    _, data, model, spend = fitted
    scores = clv.score(data, model=model, spend_model=spend)
    out = clv.intervals(data, model=model, spend_model=spend, params=FEW)
    table = out.customers
    assert list(table["customer_id"]) == list(scores["customer_id"])
    for name in ("expected_purchases", "p_alive", "expected_spend", "clv"):
        lower, upper, point = table[f"{name}_lower"], table[f"{name}_upper"], scores[name]
        assert (lower <= upper).all(), name
        # a point estimate lies inside its 95% interval for all but a few customers
        inside = ((lower <= point * (1 + 1e-9)) & (point <= upper * (1 + 1e-9))).mean()
        assert inside > 0.97, (name, inside)
    assert (table["clv_upper"] > table["clv_lower"]).mean() > 0.99  # intervals have width


def test_expected_interval_is_inside_the_outcome_band(fitted):
    _, data, model, spend = fitted
    out = clv.intervals(data, model=model, spend_model=spend, params=FEW, customers=False)
    month = out.forecast.query("segment == 'all'")
    assert (month["revenue_outcome_lower_95"] <= month["revenue_lower"] * 1.001).all()
    assert (month["revenue_outcome_upper_95"] >= month["revenue_upper"] * 0.999).all()
    # the bands nest: 50% inside 80% inside 95%
    assert (month["revenue_outcome_lower_95"] <= month["revenue_outcome_lower_80"]).all()
    assert (month["revenue_outcome_lower_80"] <= month["revenue_outcome_lower_50"]).all()
    assert (month["revenue_outcome_upper_50"] <= month["revenue_outcome_upper_80"]).all()
    assert out.customers.empty


def test_interpolated_curves_match_the_closed_form(fitted):
    _, data, model, spend = fitted
    big = simulate_base(200_000, seed=2).summary
    x, T = big["frequency"].to_numpy(float), big["T"].to_numpy(float)
    pairs = pd.DataFrame({"x": x, "T": T}).drop_duplicates()
    months = np.arange(1, 37) * 30.4375 / 7
    curves = Curves(months, pairs["x"].to_numpy(), pairs["T"].to_numpy())
    assert curves.interpolate
    draws = parameter_draws(model, spend, draws=20, seed=5)
    for theta in draws.purchase:
        approx = curves(theta)
        exact = expected_if_alive(theta, months[:, None], curves.x, curves.T)
        np.testing.assert_allclose(approx, exact, rtol=1e-8, atol=1e-12)


def test_draws_are_positive_and_centred_on_the_fit(fitted):
    _, _, model, spend = fitted
    draws = parameter_draws(model, spend, draws=4000, seed=1)
    assert (draws.purchase > 0).all() and (draws.spend > 0).all()
    log_sd = np.log(draws.purchase).std(axis=0)
    expected_sd = np.array(
        [model.standard_errors_[k] / model.params_[k] for k in ("r", "alpha", "a", "b")]
    )
    np.testing.assert_allclose(log_sd, expected_sd, rtol=0.06)
    medians = np.median(draws.purchase, axis=0)
    estimate = np.array([model.params_[k] for k in ("r", "alpha", "a", "b")])
    np.testing.assert_allclose(medians, estimate, rtol=5 * expected_sd.max() / np.sqrt(4000))


def test_unmeasured_covariance_says_why(fitted):
    _, data, model, spend = fitted
    broken = copy.deepcopy(model)
    broken.covariance_.iloc[:, :] = np.nan
    out = clv.intervals(data, model=broken, spend_model=spend, params=FEW)
    assert not out.measured
    assert out.why_not.reason == "not_identifiable"
    assert out.forecast.empty and out.customers.empty


def test_same_seed_same_intervals(fitted):
    _, data, model, spend = fitted
    one = clv.intervals(data, model=model, spend_model=spend, params=FEW, customers=False)
    two = clv.intervals(data, model=model, spend_model=spend, params=FEW, customers=False)
    pd.testing.assert_frame_equal(one.forecast, two.forecast)


def test_forecast_months_carry_dates(fitted):
    _, data, model, spend = fitted
    out = clv.intervals(
        data, model=model, spend_model=spend, params=FEW, as_of="2026-09-30", customers=False
    )
    first = out.forecast.iloc[0]
    assert first["start"] == pd.Timestamp("2026-10-01")
    assert first["end"] == pd.Timestamp("2026-10-30")  # 30.4375 days, rounded
    assert out.forecast["end"].iloc[11] == pd.Timestamp("2027-09-30")


def test_other_models_say_why_there_is_no_range(fitted):
    _, data, _, spend = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pnbd = clv.fit(data.head(800), model="pnbd")
    out = clv.intervals(data, model=pnbd, spend_model=spend, params=FEW)
    assert out.why_not.reason == "no_intervals" and out.why_not.detail == {"model": "pnbd"}
    assert out.forecast.empty and out.horizons.empty
    assert "BG/NBD" in forecast_text(out, language="en")
    assert "BG/NBD" in forecast_text(out, language="zh")


def test_bad_interval_settings_are_named(fitted):
    _, data, model, spend = fitted
    with pytest.raises(ConfigError, match="intervals.horizons"):
        clv.intervals(
            data, model=model, spend_model=spend, params={"intervals": {"horizons": [[12, 6]]}}
        )
    with pytest.raises(ConfigError, match="intervals.level"):
        clv.intervals(data, model=model, spend_model=spend, params={"intervals": {"level": 1.5}})


def test_a_segment_called_all_does_not_take_the_bases_place(fitted):
    _, data, model, spend = fitted
    segments = pd.DataFrame({"customer_id": data["customer_id"],
                             "segment": np.where(data["frequency"] > 0, "all", "few")})  # fmt: skip
    out = clv.intervals(data, model=model, spend_model=spend, params=FEW, segments=segments,
                        customers=False)  # fmt: skip
    sizes = out.forecast.drop_duplicates("segment").set_index("segment")["customers"]
    assert sizes["all"] == len(data)
    assert sizes["all (segment)"] == (data["frequency"] > 0).sum()


@pytest.mark.parametrize("seed", range(6))
def test_a_tiny_base_gives_finite_ranges_or_says_why(seed):
    data = simulate_base(80, seed=seed, max_days=200).summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data, min_repeaters_error=3)
    out = clv.intervals(data, model=model, spend_model=spend, params=FEW)
    if out.measured:
        numbers = out.horizons.select_dtypes("number").to_numpy()
        assert np.isfinite(numbers).all()
    else:
        assert out.why_not.reason == "not_identifiable" and out.customers.empty


@pytest.mark.parametrize("separate_fits", [False, True])
def test_listed_customers_intervals_equal_the_whole_bases(fitted, separate_fits):
    """A page lists twenty customers: their intervals, computed alone from the bands' draws,
    are exactly those of the whole base, also when segments have their own models (each
    customer then sits in its segment's part of the draws)."""
    _, data, model, spend = fitted
    models = {"repeat": (model, spend), "once": (model, spend)} if separate_fits else None
    common = {"model": model, "spend_model": spend, "params": FEW,
              "segments": _segments(data), "segment_models": models}  # fmt: skip
    whole = clv.intervals(data, customers=True, **common)
    bare = clv.intervals(data, customers=False, **common)
    assert bare.customers.empty
    rng = np.random.default_rng(5)
    listed = data.iloc[rng.choice(len(data), size=20, replace=False)][["customer_id"]]
    listed = pd.concat([listed, pd.DataFrame({"customer_id": ["not-a-customer"]})])
    listed = listed.assign(clv=1.0, p_alive=0.5).reset_index(drop=True)
    expected = clv.with_intervals(listed, whole)
    assert expected["clv_lower"].iloc[:20].notna().all()
    assert expected["clv_lower"].iloc[20:].isna().all()
    pd.testing.assert_frame_equal(clv.with_intervals(listed, bare, summary=data), expected)
    # one customer (the other segment's part has none listed), and nobody the summary holds
    for few in (listed.iloc[[0]], listed.iloc[[20]]):
        pd.testing.assert_frame_equal(clv.with_intervals(few, bare, summary=data),
                                      clv.with_intervals(few, whole))  # fmt: skip
    # without the summary the customers' intervals cannot be computed: the table as it was
    pd.testing.assert_frame_equal(clv.with_intervals(listed, bare), listed)
