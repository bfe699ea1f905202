"""Static covariates in BG/NBD and Gamma-Gamma (crmlib.clv.covariates): the likelihood reduces
to the plain one without covariates, its gradient is right, planted effects are recovered within
their 95% intervals and the likelihood-ratio test tells effects from noise."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from scipy.special import gammaln

from crmlib.clv.covariates import (
    bgnbd_covariate_ll_grad,
    design_matrix,
    fit_covariates,
    spend_covariate_ll_grad,
)
from crmlib.clv.likelihoods import bgnbd_log_likelihood, gamma_gamma_log_likelihood
from crmlib.errors import ConfigError
from crmlib.simulate.clv_base import simulate_base

PLANTED = {
    "purchase": {"member": 0.5, "web": 0.0},
    "dropout": {"member": -0.7, "web": 0.4},
    "spend": {"member": 0.3, "web": -0.2},
}


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    n = 20_000
    member = (rng.random(n) < 0.4).astype(float)
    channel = rng.choice(["store", "web", "app"], n, p=[0.5, 0.3, 0.2])
    covariates = pd.DataFrame({"member": member, "web": (channel == "web").astype(float)})
    base = simulate_base(n, seed=9, covariates=covariates, effects=PLANTED)
    data = base.summary.copy()
    data["channel"] = channel
    data["noise"] = rng.normal(size=n)  # a covariate without effect
    return data


def test_without_covariates_the_likelihoods_are_the_plain_ones(planted):
    x, tx, T = (planted[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    none = np.empty((len(x), 0))
    theta = np.array([0.3, 5.0, 0.8, 2.0])
    plain, plain_grad = bgnbd_log_likelihood(theta, x, tx, T)
    value, grad = bgnbd_covariate_ll_grad(np.log(theta), x, tx, T, none, np.ones(len(x)))
    assert value == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(grad, plain_grad * theta, rtol=1e-9)  # d/d ln θ = θ d/dθ
    keep = x > 0
    m = planted["monetary_value"].to_numpy(float)[keep]
    spend = np.array([6.0, 4.0, 15.0])
    plain, plain_grad = gamma_gamma_log_likelihood(spend, x[keep], m)
    value, grad = spend_covariate_ll_grad(np.log(spend), x[keep], m, none[keep], np.ones(len(m)))
    assert value == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(grad, plain_grad * spend, rtol=1e-9)


def _purchase_rows(phi, x, tx, T, z):
    """The BG/NBD log-likelihood with covariates per row, written out from FHL (2005) eq. 6."""
    k = z.shape[1]
    r, alpha, a, b = np.exp(phi[:4])
    alpha_i = alpha * np.exp(-(z @ phi[4 : 4 + k]))
    a_i = a * np.exp(z @ phi[4 + k :])
    out = np.empty(len(x))
    for i in range(len(x)):
        a1 = gammaln(r + x[i]) - gammaln(r) + r * np.log(alpha_i[i])
        a2 = gammaln(a_i[i] + b) + gammaln(b + x[i]) - gammaln(b) - gammaln(a_i[i] + b + x[i])
        a3 = -(r + x[i]) * np.log(alpha_i[i] + T[i])
        a4 = 0.0
        if x[i] > 0:
            a4 = np.log(a_i[i] / (b + x[i] - 1)) - (r + x[i]) * np.log(alpha_i[i] + tx[i])
        out[i] = a1 + a2 + np.log(np.exp(a3) + (np.exp(a4) if x[i] > 0 else 0.0))
    return out


def _spend_rows(phi, x, m, z):
    """The Gamma-Gamma log-likelihood with covariates per customer (Fader et al. 2005)."""
    p, q, v = np.exp(phi[:3])
    v_i = v * np.exp(z @ phi[3:])
    return (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v_i)
        + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v_i)
    )  # fmt: skip


def test_with_covariates_the_likelihoods_are_the_written_out_ones(planted):
    """Values against the formulas evaluated row by row, weighted rows against repeated ones."""
    sample = planted.head(400)
    x, tx, T = (sample[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    z = sample[["member", "web"]].to_numpy(float)
    phi = np.array([np.log(0.3), np.log(5.0), np.log(0.8), np.log(2.0), 0.2, -0.1, -0.3, 0.1])
    w = np.random.default_rng(1).integers(1, 4, len(x)).astype(float)
    value, _ = bgnbd_covariate_ll_grad(phi, x, tx, T, z, w)
    assert value == pytest.approx(float(w @ _purchase_rows(phi, x, tx, T, z)), rel=1e-10)
    rows = np.repeat(np.arange(len(x)), w.astype(int))
    repeated = bgnbd_covariate_ll_grad(phi, x[rows], tx[rows], T[rows], z[rows], np.ones(len(rows)))
    np.testing.assert_allclose(repeated[1], bgnbd_covariate_ll_grad(phi, x, tx, T, z, w)[1])
    keep = x > 0
    m = sample["monetary_value"].to_numpy(float)[keep]
    phi_s = np.array([np.log(6.0), np.log(4.0), np.log(15.0), 0.2, -0.1])
    value, _ = spend_covariate_ll_grad(phi_s, x[keep], m, z[keep], w[keep])
    assert value == pytest.approx(float(w[keep] @ _spend_rows(phi_s, x[keep], m, z[keep])))


def test_gradients_match_finite_differences(planted):
    sample = planted.head(3000)
    x, tx, T = (sample[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    z = sample[["member", "web"]].to_numpy(float)
    w = np.ones(len(x))
    phi = np.array([np.log(0.3), np.log(5.0), np.log(0.8), np.log(2.0), 0.2, -0.1, -0.3, 0.1])
    numeric = approx_fprime(phi, lambda p: bgnbd_covariate_ll_grad(p, x, tx, T, z, w)[0], 1e-6)
    np.testing.assert_allclose(bgnbd_covariate_ll_grad(phi, x, tx, T, z, w)[1], numeric, rtol=2e-4)
    keep = x > 0
    m = sample["monetary_value"].to_numpy(float)[keep]
    phi_s = np.array([np.log(6.0), np.log(4.0), np.log(15.0), 0.2, -0.1])
    args = (x[keep], m, z[keep], w[keep])
    numeric = approx_fprime(phi_s, lambda p: spend_covariate_ll_grad(p, *args)[0], 1e-6)
    np.testing.assert_allclose(spend_covariate_ll_grad(phi_s, *args)[1], numeric, rtol=2e-4)


def test_planted_effects_are_recovered_within_their_intervals(planted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_covariates(planted, columns=["member", "channel"])
    effects = result.effects.set_index(["behaviour", "covariate"])
    # store is the most common channel, so the reference: web's effect is against store; app
    # has no planted effect
    for behaviour, planted_effects in PLANTED.items():
        for column, gamma in planted_effects.items():
            name = "channel=web" if column == "web" else column
            row = effects.loc[(behaviour, name)]
            assert row["lower_95"] <= gamma <= row["upper_95"], (behaviour, column, row)
        row = effects.loc[(behaviour, "channel=app")]
        assert row["lower_95"] <= 0.0 <= row["upper_95"], (behaviour, row)
    assert result.tests.set_index("model")["helps"].all()
    assert result.helps


def test_a_covariate_without_effect_does_not_help(planted):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_covariates(planted, columns=["noise"])
    tests = result.tests.set_index("model")
    assert not tests["helps"].any(), tests
    assert (tests["df"] == pd.Series({"purchase": 2, "spend": 1})).all()
    assert (tests["statistic"] >= 0).all()


def test_design_matrix_names_levels_and_refuses_bad_columns():
    table = pd.DataFrame({"level": ["gold", "basic", "basic", None], "flag": [True, False, True, False],
                          "age": [20.0, 30.0, 40.0, 50.0]})  # fmt: skip
    design = design_matrix(table, ["level", "flag", "age"], min_customers=1)
    assert list(design.columns) == ["level=(missing)", "level=gold", "flag", "age"]
    assert design.attrs["references"] == {"level": "basic"}
    # levels of fewer customers than the minimum are pooled, not measured one by one
    many = pd.DataFrame({"level": ["basic"] * 40 + ["gold"] * 35 + ["diamond"] * 3 + ["vip"] * 2})
    pooled = design_matrix(many, ["level"])
    assert list(pooled.columns) == ["level=(other)", "level=gold"]
    assert pooled["level=(other)"].sum() == 5
    assert design["age"].mean() == pytest.approx(0.0) and design["age"].std() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="not a customer column"):
        design_matrix(table, ["channel"])
    with pytest.raises(ConfigError, match="single value"):
        design_matrix(pd.DataFrame({"c": ["a", "a"]}), ["c"])


@pytest.mark.parametrize(
    "z",
    [
        np.random.default_rng(5).integers(0, 2, (20_000, 9)).astype(float),  # dummies
        np.random.default_rng(6).integers(0, 4, (5_000, 3)) / 3.0,  # a few levels
        np.array([[1.0, -0.0], [1.0, 0.0], [0.5, 2.0], [0.5, 2.0]]),  # signed zeros are equal
        np.random.default_rng(7).normal(size=(3_000, 12)),  # codes too wide: rows sorted
        np.array([[np.nan, 1.0], [0.0, 1.0], [np.nan, 1.0]]),  # a missing value: rows sorted
        np.zeros((0, 3)),
    ],
    ids=["dummies", "levels", "signed zeros", "wide", "missing", "empty"],
)
def test_covariate_rows_group_as_numpy_unique_does(z: np.ndarray) -> None:
    """The likelihoods sum per covariate row in np.unique's order; hashing keeps that order."""
    from crmlib.clv.covariate_likelihoods import _unique_rows

    rows, level = _unique_rows(z)
    want_rows, want_level = np.unique(z, axis=0, return_inverse=True)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(level, want_level.reshape(-1))


def test_a_customer_table_gives_each_summary_customer_its_first_row(planted):
    """Covariates from a separate customer table (text ids, shuffled, an id listed twice) give
    the fit on the summary's own columns; a customer the table lacks has missing values."""
    own = planted.assign(customer_id=[f"c{i}" for i in range(len(planted))])
    table = own[["customer_id", "member", "channel"]].sample(frac=1.0, random_state=3)
    table["customer_id"] = table["customer_id"].astype("string[pyarrow]")
    twice = table.iloc[[0]].assign(member=1.0 - table["member"].iloc[0], channel="app")
    table = pd.concat([table, twice], ignore_index=True)  # the later row is not used
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = fit_covariates(own, columns=["member", "channel"])
        joined = fit_covariates(own, columns=["member", "channel"], customers=table)
    pd.testing.assert_frame_equal(joined.effects, direct.effects)
    assert joined.params == direct.params and joined.references == {"channel": "store"}
    lacking = table[table["customer_id"] != "c0"]
    with pytest.raises(ConfigError, match="'member' has missing values"):
        fit_covariates(own, columns=["member", "channel"], customers=lacking)
    design = design_matrix(own.head(50).assign(channel=[None] + ["store"] * 49), ["channel"],
                           min_customers=1)  # fmt: skip
    assert list(design.columns) == ["channel=(missing)"] and design.iloc[0, 0] == 1.0
