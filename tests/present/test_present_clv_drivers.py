"""What the report says about what drives value and about fits per group, and the one-call
plan behind it (crmlib.clv.plan)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlib import clv
from crmlib.clv.settings import load_params
from crmlib.clv.workflow import Analysis
from crmlib.measure import not_measured
from crmlib.present.clv_drivers import drivers_table, drivers_text, segment_fits_text
from crmlib.simulate.clv_base import simulate_base

FAST = {"intervals": {"draws": 40, "forecast_months": 12, "horizons": [[0, 12]]},
        "covariates": ["member_level"], "segment_fits": {"by": "source_channel"}}  # fmt: skip


def _analysis(data: pd.DataFrame) -> Analysis:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, spend = clv.fit(data), clv.fit_spend(data)
        scores = clv.score(data, model=model, spend_model=spend)
    return Analysis(pd.Timestamp("2026-09-30"), data, model, spend, scores, load_params(FAST))


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(1)
    n = 8000
    gold = (rng.random(n) < 0.3).astype(float)
    web = (rng.random(n) < 0.5).astype(float)
    effects = {"purchase": {"gold": 0.6}, "spend": {"gold": 0.4}, "dropout": {"web": 1.0}}
    covariates = pd.DataFrame({"gold": gold, "web": web})
    data = simulate_base(n, seed=5, covariates=covariates, effects=effects).summary
    customers = pd.DataFrame(
        {
            "customer_id": data["customer_id"],
            "member_level": np.where(gold == 1, "金卡", "普通"),
            "source_channel": np.where(web == 1, "官网", "门店"),
        }
    )
    return _analysis(data.drop(columns=["gold", "web"])), customers


@pytest.mark.parametrize("language", ["en", "zh"])
def test_drivers_name_level_reference_factor_and_range(planted, language):
    analysis, customers = planted
    result = clv.plan(analysis, customers=customers, customer_intervals=False)
    text = drivers_text(result.drivers, language=language)
    assert "金卡" in text and "普通" in text  # the level and the reference it is compared with
    effects = result.effects.set_index(["behaviour", "covariate"])
    purchase = effects.loc[("purchase", "member_level=金卡")]
    assert f"{purchase['multiplier']:.2f}" in text
    assert f"{purchase['multiplier_lower']:.2f}" in text
    assert "p = " in text or "p < " in text
    table = drivers_table(result.drivers, language=language)
    assert len(table) == ((effects["lower_95"] > 0) | (effects["upper_95"] < 0)).sum()


def test_groups_that_differ_get_their_own_models_and_breakdown(planted):
    analysis, customers = planted
    result = clv.plan(analysis, customers=customers, customer_intervals=False)
    fits = result.segment_fits
    assert fits.differ and set(fits.models) == {"官网", "门店"}
    assert set(result.bands.forecast["segment"]) == {"all", "官网", "门店"}
    text = segment_fits_text(fits, language="en")
    assert "source channel" in text and "behave differently" in text


def test_missing_columns_and_tables_say_why(planted):
    analysis, customers = planted
    result = clv.plan(analysis, customers=None, customer_intervals=False)
    assert result.drivers.reason == "table_missing"
    assert result.segment_fits.reason == "table_missing"
    assert result.effects.empty and result.bands.measured  # the forecast does not need them
    assert "customers" in drivers_text(result.drivers, language="en")
    lacking = clv.plan(analysis, customers=customers[["customer_id", "member_level"]],
                       customer_intervals=False)  # fmt: skip
    assert lacking.segment_fits.reason == "column_not_mapped"
    assert "source_channel" in segment_fits_text(lacking.segment_fits, language="en")


def test_no_effect_means_one_model(planted):
    analysis, customers = planted
    shuffled = customers.copy()
    shuffled["member_level"] = np.random.default_rng(2).permutation(shuffled["member_level"])
    fit = clv.covariate_effects(analysis.summary, customers=shuffled, columns=["member_level"])
    text = drivers_text(fit, language="en")
    assert "one model serves all customers" in text
    assert drivers_table(fit, language="en").empty
    assert drivers_text(not_measured("no_data"), language="zh").startswith("未检验")


def test_pooled_and_missing_levels_read_as_words():
    effects = pd.DataFrame(
        {
            "behaviour": ["purchase", "spend"],
            "covariate": ["member_level=(other)", "member_level=(missing)"],
            "estimate": [0.7, -0.4], "std_error": [0.1, 0.1], "lower_95": [0.5, -0.6],
            "upper_95": [0.9, -0.2], "multiplier": [2.01, 0.67], "multiplier_lower": [1.65, 0.55],
            "multiplier_upper": [2.46, 0.82],
        }
    )  # fmt: skip
    tests = pd.DataFrame({"model": ["purchase", "spend"], "p_value": [1e-5, 0.01],
                          "helps": [True, True]})  # fmt: skip
    fit = clv.CovariateFit(effects, tests, {}, ["member_level=(other)", "member_level=(missing)"],
                           0.05, references={"member_level": "普通"})  # fmt: skip
    en, zh = drivers_text(fit, language="en"), drivers_text(fit, language="zh")
    assert "a rarer member level (levels of under 30 customers each; against 普通)" in en
    assert "member level no value" in en and "(other)" not in en and "(missing)" not in en
    assert "会员等级为较少见取值的客户" in zh and "会员等级为未填写的客户" in zh
    assert (
        "**会员等级有影响**：" in zh
    )  # bold closes before the colon, as Markdown needs in Chinese


def test_other_models_are_not_split_into_bgnbd_groups(planted):
    analysis, customers = planted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pnbd = clv.fit(analysis.summary.head(1500), model="pnbd")
    other = Analysis(analysis.as_of, analysis.summary, pnbd, analysis.spend_model,
                     analysis.scores, analysis.settings)  # fmt: skip
    result = clv.plan(other, customers=customers, customer_intervals=False, drivers=False)
    assert result.segment_fits.reason == "no_intervals"
    assert result.bands.why_not.reason == "no_intervals"
    assert "BG/NBD" in segment_fits_text(result.segment_fits, language="en")
