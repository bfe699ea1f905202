"""Do the 95% ranges hold 95% of the truth? A simulation study from known parameters.

Each replication draws a base of customers from known BG/NBD and Gamma-Gamma parameters
(:func:`crmlib.simulate.clv_base.simulate_base`) together with the 12 months that followed,
fits both models, and asks :func:`crmlib.clv.intervals` for the 95% ranges of the base's
12-month revenue (undiscounted). Two truths are checked:

- the revenue the base actually brought in the 12 months (the outcome range must hold it);
- the expectation under the true parameters, given each customer's history (the expected range,
  which reflects the parameters' uncertainty only, must hold it).

With 120 replications, a range that truly holds 95% lands between 90% and 98% with
probability above 0.98 (binomial), so the test fails for a miscalibrated method, not by chance.
"""

from __future__ import annotations

import copy
import warnings

from crmlib import clv
from crmlib.simulate.clv_base import simulate_base

REPLICATIONS = 120
CUSTOMERS = 1000
PARAMS = {
    "horizon_months": 12,
    "monthly_discount_rate": 0.0,
    "intervals": {"forecast_months": 12, "horizons": [[0, 12]], "draws": 200, "seed": 7},
}


def test_95_percent_ranges_hold_the_truth_95_percent_of_the_time():
    outcome_hits = expected_hits = 0
    for rep in range(REPLICATIONS):
        base = simulate_base(CUSTOMERS, seed=5000 + rep)
        data = base.summary
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, spend = clv.fit(data), clv.fit_spend(data)
        bands = clv.intervals(data, model=model, spend_model=spend, params=PARAMS, customers=False)
        assert bands.measured
        row = bands.horizons.iloc[0]
        actual = base.future["revenue"].sum()
        outcome_hits += row["value_outcome_lower"] <= actual <= row["value_outcome_upper"]
        true_model, true_spend = copy.copy(model), copy.copy(spend)
        true_model.params_, true_spend.params_ = dict(base.purchase), dict(base.spend)
        truth = clv.score(data, model=true_model, spend_model=true_spend, params=PARAMS)
        expected_hits += row["value_lower"] <= truth["clv"].sum() <= row["value_upper"]
    assert 0.90 <= outcome_hits / REPLICATIONS <= 0.98, outcome_hits
    assert 0.90 <= expected_hits / REPLICATIONS <= 0.98, expected_hits


def test_short_histories_get_wide_ranges_that_still_hold_or_say_why():
    """Four months of history cannot pin dropout down: the ranges must be wide, still hold the
    truth, and where no covariance can be estimated the result says why instead of a number."""
    measured = hits = 0
    widths = []
    for rep in range(40):
        base = simulate_base(CUSTOMERS, seed=9000 + rep, max_days=120)
        data = base.summary
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, spend = clv.fit(data), clv.fit_spend(data)
        bands = clv.intervals(data, model=model, spend_model=spend, params=PARAMS, customers=False)
        if not bands.measured:
            assert bands.why_not.reason == "not_identifiable" and bands.horizons.empty
            continue
        measured += 1
        row = bands.horizons.iloc[0]
        hits += (
            row["value_outcome_lower"] <= base.future["revenue"].sum() <= row["value_outcome_upper"]
        )
        widths.append((row["value_outcome_upper"] - row["value_outcome_lower"]) / row["value"])
    assert measured >= 30
    assert hits / measured >= 0.90, (hits, measured)
    assert sorted(widths)[len(widths) // 2] > 0.4  # a median range wider than 40% of the value
