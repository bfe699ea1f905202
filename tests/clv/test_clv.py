"""Unit tests of crmlib.clv: summaries (hand-computed and a plain-pandas re-implementation),
likelihoods and fits against lifetimes, predictions, CLV against lifetimes'
customer_lifetime_value, the non-repeater P(alive) rule, lists and the input/result checks."""

from __future__ import annotations

import warnings
from typing import Any

import lifetimes
import numpy as np
import pandas as pd
import pytest
from autograd import value_and_grad

from crmlib import clv
from crmlib.clv import bgnbd, optimise
from crmlib.clv.likelihoods import bgnbd_log_likelihood, gamma_gamma_log_likelihood
from crmlib.clv.scoring import months_to_units
from crmlib.clv.settings import load_params
from crmlib.errors import ConfigError, CrmWarning, DataError

# --------------------------------------------------------------------------- helpers


def _tx(rows: list[tuple[str | None, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [f"o{i}" for i in range(len(rows))],
            "ordered_at": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "amount": [float(r[2]) for r in rows],
        }
    )


def _simulate_summary(n: int, seed: int, params: dict[str, float]) -> pd.DataFrame:
    """BG/NBD customers with Gamma-Gamma spend, drawn directly as a weekly summary."""
    rng = np.random.default_rng(seed)
    T = rng.integers(7, 500, size=n) / 7.0
    lam = rng.gamma(params["r"], 1 / params["alpha"], size=n)
    p = rng.beta(params["a"], params["b"], size=n)
    events = rng.poisson(lam * T)
    x = np.minimum(events, rng.geometric(p))
    share = np.zeros(n)
    pos = x > 0
    share[pos] = rng.beta(x[pos], events[pos] - x[pos] + 1)
    nu = rng.gamma(4.0, 1 / 15.0, size=n)
    m = np.zeros(n)
    m[pos] = rng.gamma(6.0 * x[pos], 1 / (nu[pos] * x[pos]))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": x,
            "recency": np.round(share * T * 7) / 7,
            "T": T,
            "monetary_value": m,
        }
    )


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return _simulate_summary(4000, 3, {"r": 0.3, "alpha": 5.0, "a": 0.8, "b": 2.5})


@pytest.fixture(scope="module")
def fitted(simulated: pd.DataFrame) -> tuple[clv.BetaGeoModel, clv.GammaGammaModel]:
    return clv.fit(simulated), clv.fit_spend(simulated)


# --------------------------------------------------------------------------- summary


def test_summary_hand_computed() -> None:
    tx = _tx(
        [
            ("A", "2024-01-01 09:00", 10),
            ("A", "2024-01-01 18:00", 5),  # same day: merged into one 15.0 purchase
            ("A", "2024-01-08", 20),
            ("A", "2024-01-15", 40),
            ("A", "2024-02-01", 99),  # after the observation end: ignored
            ("B", "2024-01-10", 7),
            ("B", "2024-01-12", -7),  # returns only: not a purchase day
            (None, "2024-01-03", 50),  # anonymous
            ("", "2024-01-04", 50),  # anonymous
            ("C", "2024-01-20", 0),  # $0 purchase counts (CDNOW convention)
            ("C", "2024-01-27", 30),
        ]
    )
    out = clv.summary(tx, as_of="2024-01-29", time_unit="D").set_index("customer_id")
    assert list(out.index) == ["A", "B", "C"]
    assert list(out.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert out.loc["A"].tolist() == [2, 14.0, 28.0, 30.0]  # (20 + 40) / 2
    assert out.loc["B"].tolist() == [0, 0.0, 19.0, 0.0]
    assert out.loc["C"].tolist() == [1, 7.0, 9.0, 30.0]
    weeks = clv.summary(tx, as_of="2024-01-29", time_unit="W").set_index("customer_id")
    assert weeks.loc["A", "T"] == pytest.approx(4.0)
    assert weeks.loc["C", "recency"] == pytest.approx(1.0)
    assert weeks.attrs["time_unit"] == "W"


def test_summary_holdout_hand_computed() -> None:
    tx = _tx(
        [
            ("A", "2024-01-01", 10),
            ("A", "2024-01-05", 30),
            ("A", "2024-01-20", 8),  # holdout
            ("A", "2024-01-20", 4),  # holdout, same day
            ("A", "2024-01-25", 6),  # holdout
            ("B", "2024-01-09", 5),
            ("D", "2024-01-12", 5),  # first purchase after calibration: not a calibration customer
        ]
    )
    out = clv.summary(
        tx, as_of="2024-01-30", calibration_end="2024-01-10", time_unit="D"
    ).set_index("customer_id")
    assert list(out.index) == ["A", "B"]
    a = out.loc["A"]
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 4.0, 9.0, 30.0)
    assert (a["frequency_holdout"], a["monetary_value_holdout"]) == (2, 9.0)  # (12 + 6) / 2
    assert out["duration_holdout"].tolist() == [20.0, 20.0]
    assert out.loc["B", "T"] == 1.0
    with pytest.raises(DataError, match="calibration_end"):
        clv.summary(tx, as_of="2024-01-10", calibration_end="2024-01-10")


def _pandas_summary(tx: pd.DataFrame, end: str) -> pd.DataFrame:
    """Plain-pandas re-implementation of the CDNOW conventions (test oracle)."""
    t = tx[tx["customer_id"].notna() & (tx["customer_id"] != "")].copy()
    t["day"] = t["ordered_at"].dt.normalize()
    t = t[t["day"] <= pd.Timestamp(end)]
    days = t.groupby(["customer_id", "day"]).agg(
        value=("amount", "sum"), buys=("amount", lambda s: (s >= 0).any())
    )
    days = days[days["buys"]].reset_index().sort_values(["customer_id", "day"])
    rows = []
    for cid, g in days.groupby("customer_id"):
        first, last = g["day"].iloc[0], g["day"].iloc[-1]
        rep = g["value"].iloc[1:]
        rows.append(
            {
                "customer_id": cid,
                "frequency": len(g) - 1,
                "recency": (last - first).days / 7,
                "T": (pd.Timestamp(end) - first).days / 7,
                "monetary_value": rep.mean() if len(rep) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def test_summary_matches_pandas_reimplementation() -> None:
    rng = np.random.default_rng(11)
    n = 600
    ids = rng.choice([f"k{i:03d}" for i in range(80)] + [None], size=n)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200 * 24, n), unit="h")
    amount = np.round(rng.normal(40, 30, n), 2)
    tx = pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": np.arange(n).astype(str),
            "ordered_at": when,
            "amount": amount,
        }
    )
    ours = clv.summary(tx, as_of="2024-06-30")
    oracle = _pandas_summary(tx, "2024-06-30")
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True), oracle.reset_index(drop=True), check_dtype=False
    )


# --------------------------------------------------------------------------- likelihoods


def test_bgnbd_likelihood_and_gradient_match_lifetimes(simulated: pd.DataFrame) -> None:
    x, tx, T = (simulated[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    w = np.random.default_rng(0).integers(1, 4, len(x)).astype(float)
    theta = np.array([0.4, 6.0, 0.7, 2.1])
    ll, grad = bgnbd_log_likelihood(theta, x, tx, T, weights=w)

    def theirs(log_params: np.ndarray) -> float:
        return lifetimes.BetaGeoFitter._negative_log_likelihood(log_params, x, tx, T, w, 0.0)

    value, g_log = value_and_grad(theirs)(np.log(theta))
    assert ll == pytest.approx(-value * w.sum(), rel=1e-12)
    np.testing.assert_allclose(grad, -g_log * w.sum() / theta, rtol=1e-9)


def test_gamma_gamma_likelihood_and_gradient_match_lifetimes(simulated: pd.DataFrame) -> None:
    rep = simulated[simulated["frequency"] > 0]
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    w = np.ones_like(x)
    theta = np.array([5.0, 3.0, 12.0])
    ll, grad = gamma_gamma_log_likelihood(theta, x, m, weights=w)

    def theirs(log_params: np.ndarray) -> float:
        return lifetimes.GammaGammaFitter._negative_log_likelihood(log_params, x, m, w, 0.0)

    value, g_log = value_and_grad(theirs)(np.log(theta))
    assert ll == pytest.approx(-value * w.sum(), rel=1e-12)
    np.testing.assert_allclose(grad, -g_log * w.sum() / theta, rtol=1e-9)


# --------------------------------------------------------------------------- fits


def _assert_bgnbd_matches_lifetimes(model: clv.BetaGeoModel, summary: pd.DataFrame) -> Any:
    """Parameters and standard errors as lifetimes' BetaGeoFitter finds them on ``summary``;
    returns that fitter."""
    base = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    for name in ("r", "alpha", "a", "b"):
        assert model.params_[name] == pytest.approx(float(base.params_[name]), rel=1e-4)
        assert model.standard_errors_[name] == pytest.approx(
            float(base.standard_errors_[name]), rel=1e-2
        )
    return base


def test_fit_matches_lifetimes(simulated: pd.DataFrame, fitted: tuple) -> None:
    model, _ = fitted
    base = _assert_bgnbd_matches_lifetimes(model, simulated)
    x, tx, T = (simulated[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    theirs = lifetimes.BetaGeoFitter._negative_log_likelihood(
        np.log(base.params_.to_numpy(float)), x, tx, T, np.ones_like(x), 0.0
    )
    assert model.log_likelihood_ == pytest.approx(-theirs * len(x), rel=1e-7)
    assert model.converged_ and model.n_customers_ == len(simulated)
    assert model.n_rows_ < len(simulated)
    table = model.parameters()
    assert list(table["parameter"]) == ["r", "alpha", "a", "b"]
    assert (table["lower_95"] < table["estimate"]).all()


def test_fit_spend_matches_lifetimes(simulated: pd.DataFrame, fitted: tuple) -> None:
    _, spend = fitted
    rep = simulated[simulated["frequency"] > 0]
    base = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    for name in ("p", "q", "v"):
        assert spend.params_[name] == pytest.approx(float(base.params_[name]), rel=1e-4)
    expected = base.conditional_expected_average_profit(rep["frequency"], rep["monetary_value"])
    np.testing.assert_allclose(
        spend.expected_spend(rep["frequency"], rep["monetary_value"]), expected, rtol=1e-4
    )


@pytest.mark.parametrize("kind", ["mbgnbd", "pnbd"])
def test_other_models_match_lifetimes_fitters(simulated: pd.DataFrame, kind: str) -> None:
    small = simulated.iloc[:1500]
    model = clv.fit(small, model=kind)
    cls = {"mbgnbd": lifetimes.ModifiedBetaGeoFitter, "pnbd": lifetimes.ParetoNBDFitter}[kind]
    with warnings.catch_warnings():
        base = cls().fit(small["frequency"], small["recency"], small["T"])
    # The same optimum: our fit (lifetimes' fitter on the weighted unique rows) reaches at least
    # the log-likelihood lifetimes reaches on every row.
    x, tx, T = (small[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    theirs = np.array([float(base.params_[name]) for name in model.params_])
    theirs_ll = model._total_log_likelihood(theirs, x, tx, T, np.ones_like(x))
    assert model.log_likelihood_ >= theirs_ll - 1e-6 * abs(theirs_ll)
    if kind == "mbgnbd":
        for name, value in model.params_.items():
            assert value == pytest.approx(float(base.params_[name]), rel=2e-3)
    # Pareto/NBD's likelihood is so flat near its optimum that lifetimes' own fit of these rows
    # (random start) ends run to run at different parameters (one seen at 1.16, 1.21, 1.57),
    # so only the likelihood is compared; ours starts from a fixed point and is repeatable.
    if kind == "pnbd":
        assert clv.fit(small, model=kind).params_ == model.params_
    p = model.p_alive(small["frequency"], small["recency"], small["T"])
    assert np.all((p > 0) & (p <= 1))


def test_fit_params_and_results_are_checked(simulated: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="model"):
        clv.fit(simulated, model="xyz")
    bad = simulated.copy()
    bad.loc[5, "recency"] = bad.loc[5, "T"] + 1
    with pytest.raises(DataError, match="recency") as info:
        clv.fit(bad)
    assert info.value.row == 5
    no_repeat = simulated.assign(frequency=0, recency=0.0)
    with pytest.raises(DataError, match="more than once"):
        clv.fit(no_repeat)


# --------------------------------------------------------------------------- predictions


def test_predictions_match_lifetimes(simulated: pd.DataFrame, fitted: tuple) -> None:
    model, _ = fitted
    base = lifetimes.BetaGeoFitter()
    base.params_ = pd.Series(model.params_)
    x, tx, T = (simulated[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(
        model.expected_purchases(26.0, x, tx, T),
        base.conditional_expected_number_of_purchases_up_to_time(26.0, x, tx, T),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        model.p_alive(x, tx, T), base.conditional_probability_alive(x, tx, T), rtol=1e-9
    )
    np.testing.assert_allclose(
        model.expected_purchases_new(np.array([1.0, 10.0, 52.0])),
        base.expected_number_of_purchases_up_to_time(np.array([1.0, 10.0, 52.0])),
        rtol=1e-9,
    )


@pytest.mark.parametrize(("unit", "freq", "days"), [("W", "W", 7 * 4.345), ("D", "D", 30.0)])
def test_clv_matches_lifetimes_with_the_right_freq(
    simulated: pd.DataFrame, fitted: tuple, unit: str, freq: str, days: float
) -> None:
    model, spend = fitted
    factor = 1.0 if unit == "W" else 7.0  # the simulated summary is in weeks
    data = simulated.assign(recency=simulated["recency"] * factor, T=simulated["T"] * factor)
    data.attrs["time_unit"] = unit
    refit = clv.BetaGeoModel()
    refit.params_ = dict(model.params_)
    refit.params_["alpha"] *= factor
    refit.time_unit_ = unit
    scores = clv.score(
        data,
        model=refit,
        spend_model=spend,
        params={"horizon_months": 12, "monthly_discount_rate": 0.01, "days_per_month": days},
    )
    bg = lifetimes.BetaGeoFitter()
    bg.params_ = pd.Series(refit.params_)
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time
    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series(spend.params_)
    theirs = gg.customer_lifetime_value(
        bg,
        data["frequency"],
        data["recency"],
        data["T"],
        data["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq=freq,
    )
    np.testing.assert_allclose(scores["clv"], theirs, rtol=1e-8)
    # the quickstart's mistake (daily freq on a weekly summary) is a factor-of-7 error in time
    if unit == "W":
        wrong = gg.customer_lifetime_value(
            bg, data["frequency"], data["recency"], data["T"], data["monetary_value"], freq="D"
        )
        assert wrong.sum() > 3 * scores["clv"].sum()


def test_months_to_units() -> None:
    assert months_to_units(12, time_unit="D") == pytest.approx(365.25)
    assert months_to_units(1, time_unit="W") == pytest.approx(30.4375 / 7)
    with pytest.raises(ConfigError):
        months_to_units(1, time_unit="M")


def test_non_repeater_p_alive_rules(simulated: pd.DataFrame, fitted: tuple) -> None:
    model, _ = fitted
    r, alpha, a, b = (model.params_[k] for k in ("r", "alpha", "a", "b"))
    once = simulated[simulated["frequency"] == 0].head(50)
    T = once["T"].to_numpy()
    got = clv.predict(once, model=model, horizon=10.0)
    np.testing.assert_allclose(got["p_alive"], 1 / (1 + a / b * ((alpha + T) / alpha) ** r))
    assert np.all(np.diff(got["p_alive"].to_numpy()[np.argsort(T)]) <= 1e-12)  # falls with T
    kept = clv.predict(once, model=model, horizon=10.0, non_repeater_p_alive="model")
    assert (kept["p_alive"] == 1.0).all()
    hiatus = clv.predict(
        once, model=model, horizon=10.0, non_repeater_p_alive="hiatus", hiatus_weeks=20
    )
    assert hiatus["p_alive"].tolist() == [1.0 if t <= 20 else 0.0 for t in T]
    # expected purchases stay the model's under every rule
    np.testing.assert_allclose(got["expected_purchases"], kept["expected_purchases"])


def test_score_is_complete(simulated: pd.DataFrame, fitted: tuple) -> None:
    model, spend = fitted
    scores = clv.score(simulated, model=model, spend_model=spend)
    assert list(scores["customer_id"]) == list(simulated["customer_id"])
    assert scores.notna().all().all()
    assert (scores["clv"] >= 0).all()
    assert (scores["p_alive"].between(0, 1)).all()
    assert (scores["clv_if_active"] >= scores["clv"] - 1e-9).all()
    longer = clv.score(simulated, model=model, spend_model=spend, params={"horizon_months": 24})
    assert (longer["clv"] >= scores["clv"] - 1e-9).all()
    # undiscounted 12-month CLV = spend x expected purchases over 12 months
    flat = clv.score(
        simulated, model=model, spend_model=spend, params={"monthly_discount_rate": 0.0}
    )
    np.testing.assert_allclose(
        flat["clv"], flat["expected_spend"] * flat["expected_purchases"], rtol=1e-9
    )


def test_lists_hand_computed() -> None:
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "clv": [100.0, 80.0, 10.0, 5.0, 1.0],
            "clv_if_active": [110.0, 400.0, 12.0, 300.0, 2.0],
            "p_alive": [0.9, 0.2, 0.8, 0.1, 0.5],
            "recency": [1.0, 2.0, 3.0, 4.0, 5.0],
            "T": [2.0, 10.0, 4.0, 20.0, 6.0],
        }
    )
    tx = _tx([("a", "2024-01-01", 500), ("c", "2024-01-01", 900), ("d", "2024-01-01", 50)])
    fhv = clv.future_high_value(scores, tx, as_of="2024-02-01", top_share=0.4)
    # top 2 by CLV: a, b; top 2 by history: c (900), a (500) -> b is a future high-value customer
    assert fhv.loc[fhv["future_high_value"], "customer_id"].tolist() == ["b"]
    risk = clv.at_risk(scores, top_share=0.4, p_alive_below=0.5)
    # top 2 by value at stake: b (400), d (300); both have P(alive) < 0.5
    assert risk["customer_id"].tolist() == ["b", "d"]
    assert risk["time_since_last_purchase"].tolist() == [8.0, 16.0]
    dec = clv.deciles(scores)
    assert dec["customers"].sum() == 5 and dec["share"].sum() == pytest.approx(1.0)
    seg = clv.by_segment(
        scores, pd.DataFrame({"customer_id": list("abcde"), "segment": list("xxyyy")})
    )
    assert seg.set_index("segment").loc["x", "clv_total"] == 180.0
    twice = pd.DataFrame({"customer_id": list("abca"), "segment": list("xyyz")})
    with pytest.raises(DataError, match="listed twice") as caught:
        clv.by_segment(scores, twice)  # which segment gets a's value? say so, do not guess
    assert caught.value.row == 3 and caught.value.value == "a"


# --------------------------------------------------------------------------- warnings


def test_spend_warnings_and_errors() -> None:
    rng = np.random.default_rng(5)
    n = 400
    x = rng.integers(1, 10, n)
    correlated = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "frequency": x,
            "recency": np.ones(n),
            "T": np.full(n, 5.0),
            "monetary_value": 10.0 * x + rng.gamma(2.0, 1.0, n),
        }
    )
    with pytest.warns(CrmWarning, match="correlated"):
        clv.fit_spend(correlated)
    few = correlated.iloc[:30].assign(monetary_value=rng.gamma(5.0, 3.0, 30))
    with pytest.warns(CrmWarning, match="only 30 customers"):
        clv.fit_spend(few)
    with pytest.raises(DataError, match="needs at least 10"):
        clv.fit_spend(few.iloc[:5])
    # spend drawn from the Gamma-Gamma model itself with q = 0.8 (infinite population mean)
    nu = rng.gamma(0.8, 1 / 15.0, n)
    heavy = correlated.assign(monetary_value=rng.gamma(6.0 * x, 1 / (nu * x)))
    with pytest.warns(CrmWarning, match="at most 1"):
        spend = clv.fit_spend(heavy)
    assert spend.params_["q"] <= 1
    with pytest.raises(DataError, match="infinite"):
        spend.expected_spend([1, 0], [10.0, 0.0])


def test_load_params_checks() -> None:
    base = load_params()
    assert base["model"] == "bgnbd" and base["penalizer"] == 0.0
    with pytest.raises(ConfigError, match="monthly_discount_rate"):
        load_params({"monthly_discount_rate": 2})
    with pytest.raises(ConfigError, match="non_repeater_p_alive"):
        load_params({"non_repeater_p_alive": "sometimes"})


def test_non_convergence_warns(simulated: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.optimize import OptimizeResult

    def stalled(fun, x0, **kwargs):  # an optimiser that gives up at the start
        value, grad = fun(x0)
        return OptimizeResult(x=x0, fun=value, jac=grad, success=False, message="stopped")

    monkeypatch.setattr(optimise, "minimize", stalled)
    with pytest.warns(CrmWarning, match="did not converge"):
        model = clv.fit(simulated)
    assert not model.converged_


def test_large_data_path_matches_lifetimes(
    simulated: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above _NEWTON_ROWS unique rows the fit starts from a sample and polishes with Newton
    steps; forced here on the small simulated base, it must still equal lifetimes' fit."""
    monkeypatch.setattr(bgnbd, "_NEWTON_ROWS", 500)
    monkeypatch.setattr(bgnbd, "_SAMPLE_ROWS", 600)
    model = clv.fit(simulated)
    assert model._message == "converged (Newton)"
    _assert_bgnbd_matches_lifetimes(model, simulated)
