"""Recommendations follow the evidence: the at-risk rule that won the backtest, and a rough
benchmark never heads the list."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from crmlib import clv
from crmlib import executive as ex
from crmlib.data import load_dataset
from crmlib.errors import ConfigError
from crmlib.present import executive as words


def _check(p_alive: float, hiatus: float):
    table = pd.DataFrame({"rule": ["p_alive", "hiatus"], "accuracy": [p_alive, hiatus]})
    return types.SimpleNamespace(classification=table)


def test_the_better_classifier_wins_and_the_simpler_rule_wins_a_tie():
    assert clv.better_rule(_check(0.80, 0.70)) == "p_alive"
    assert clv.better_rule(_check(0.25, 0.67)) == "hiatus"
    assert clv.better_rule(_check(0.70, 0.70)) == "hiatus"
    assert clv.better_rule(_check(np.nan, 0.60)) == "hiatus"


def _scores() -> pd.DataFrame:
    # weeks: T = age, recency = time of the last purchase; gap = T - recency
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "clv_if_active": [900.0, 800.0, 700.0, 600.0, 10.0],
            "clv": [100.0, 700.0, 50.0, 550.0, 5.0],
            "p_alive": [0.10, 0.90, 0.40, 0.95, 0.05],
            "T": [100.0, 100.0, 100.0, 100.0, 100.0],
            "recency": [90.0, 60.0, 80.0, 73.0, 0.0],  # gaps 10, 40, 20, 27, 100
        }
    )
    scores.attrs["time_unit"] = "W"
    return scores


def test_at_risk_by_either_rule_counted_by_hand():
    top4 = 0.8  # a, b, c, d by value at stake; e is not valuable
    by_model = clv.at_risk(_scores(), top_share=top4, p_alive_below=0.5)
    assert by_model["customer_id"].tolist() == ["a", "c"] and by_model.attrs["rule"] == "p_alive"
    by_gap = clv.at_risk(_scores(), top_share=top4, rule="hiatus", hiatus_weeks=26)
    assert by_gap["customer_id"].tolist() == ["b", "d"]  # 40 and 27 weeks without a purchase
    assert by_gap.attrs["rule"] == "hiatus"
    days = _scores()
    days.attrs["time_unit"] = "D"
    days[["T", "recency"]] *= 7.0  # the same history counted in days
    assert clv.at_risk(days, top_share=top4, rule="hiatus", hiatus_weeks=26)[
        "customer_id"
    ].tolist() == ["b", "d"]
    with pytest.raises(ConfigError, match="rule"):
        clv.at_risk(_scores(), rule="gut_feeling")


@pytest.fixture(scope="module")
def demo_tx(demo_params):
    return load_dataset(demo_params).transactions


def test_value_at_risk_by_the_hiatus_rule_matches_gaps_counted_from_the_orders(demo_tx):
    """Drifting by the hiatus rule: bought within 26 weeks as of 90 days ago, not since. The
    gaps are recounted here from the dates of the orders with a positive net amount."""
    day = clv.observation_end(demo_tx)
    found = ex.value_at_risk(demo_tx, as_of=day, rule="hiatus", top_share=0.2)
    assert found.attrs["summary"]["rule"] == "hiatus"
    orders = clv.summary(demo_tx, as_of=day)  # customers the model scores
    tx = pd.DataFrame(demo_tx.to_pandas() if hasattr(demo_tx, "to_pandas") else demo_tx)
    tx = tx[tx["customer_id"].isin(orders["customer_id"])]
    tx = tx[tx.groupby("order_id")["amount"].transform("sum") > 0]  # purchases, not returns
    stamps = pd.to_datetime(tx["ordered_at"]).dt.tz_localize(None).dt.normalize()
    then = pd.Timestamp(day) - pd.Timedelta(days=90)
    last_then = stamps[stamps <= then].groupby(tx["customer_id"]).max()
    last_now = stamps[stamps <= pd.Timestamp(day)].groupby(tx["customer_id"]).max()
    hiatus = pd.Timedelta(weeks=26)
    quiet_now = (pd.Timestamp(day) - last_now) > hiatus
    active_then = (then - last_then) <= hiatus
    expected = set(last_then.index[active_then.reindex(last_then.index, fill_value=False)]) & set(
        quiet_now.index[quiet_now]
    )
    got = set(found["customer_id"])
    assert got, "the demo has drifting high-value customers"
    figures = found.attrs["summary"]  # the amount comes with the range of the models' uncertainty
    assert figures["amount_lower"] < figures["amount"] < figures["amount_upper"]
    assert figures["amount_upper"] < 2 * figures["amount"]
    assert got <= expected, sorted(got - expected)[:5]
    assert len(got) < len(expected), "only the valuable ones: the top 20% by CLV"


def test_the_summary_uses_the_rule_that_won_the_backtest_and_says_why(demo_tx):
    rule, evidence = ex.risk_rule(demo_tx, rule="backtest")
    acc = evidence.set_index("rule")["accuracy"]
    assert set(acc.index) == {"p_alive", "hiatus"} and acc.between(0, 1).all()
    assert rule == clv.better_rule(types.SimpleNamespace(classification=evidence))
    assert ex.risk_rule(demo_tx, rule="p_alive") == ("p_alive", None)
    with pytest.raises(ConfigError, match="rule"):
        ex.risk_rule(demo_tx, rule="vibes")


def _status(comparability: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kpi": ["retention_rate"],
            "benchmark": [0.63],
            "benchmark_source": ["survey"],
            "vs_benchmark": ["bad"],
            "comparability": [comparability],
        }
    )


def _comparison() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"kpi": "retention_rate", "value": 0.30, "last_year": 0.33,
             "change_last_year": -0.03, "vs_last_year": "bad"},
            {"kpi": "churn_rate", "value": 0.70, "last_year": 0.67,
             "change_last_year": 0.03, "vs_last_year": "bad"},
        ]
    )  # fmt: skip


def test_a_rough_benchmark_never_heads_the_list_and_says_so():
    direct = ex.recommend(ex.build_facts(_comparison(), _status("direct")))
    assert [r["id"] for r in direct] == ["retention_below_benchmark", "churn_rising"]
    facts = ex.build_facts(_comparison(), _status("approximate"))
    rough = ex.recommend(facts)
    assert [r["id"] for r in rough] == ["churn_rising", "retention_below_benchmark"]
    assert [r["rough_benchmark"] for r in rough] == [False, True]
    texts = words.recommendation_texts(rough, facts, language="en")
    assert "rough yardstick" in texts[1]["text"] and "rough" not in texts[0]["text"]
    zh = words.recommendation_texts(rough, facts, language="zh")
    assert "仅作大致参照" in zh[1]["text"]


def test_benchmark_status_prefers_a_directly_comparable_figure():
    bench = pd.DataFrame(
        {
            "kind": ["benchmark", "benchmark"],
            "kpi": ["retention_rate", "retention_rate"],
            "status": ["bad", "good"],
            "value": [0.6, 0.2],
            "source": ["other market", "our market"],
            "comparability": ["approximate", "direct"],
        }
    )
    from crmlib.benchmark import benchmark_status

    status = benchmark_status(bench)
    assert status.loc[0, "benchmark_source"] == "our market"
    assert status.loc[0, "comparability"] == "direct"


def test_too_short_a_history_for_a_backtest_falls_back_to_the_rule_without_a_model():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_id": ["1", "2", "3"],
            "ordered_at": pd.to_datetime(["2024-05-02", "2024-06-10", "2024-06-12"]),
            "amount": [10.0, 12.0, 8.0],
        }
    )
    assert ex.risk_rule(tx, as_of="2024-06-30") == ("hiatus", None)
