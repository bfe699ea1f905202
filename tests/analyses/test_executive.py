"""Recommendations from rules kept as data, and facts from KPI tables."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import executive as ex
from crmlib.errors import ConfigError


def _comparison(**overrides: dict) -> pd.DataFrame:
    base = {
        "retention_rate": {"value": 0.30, "last_year": 0.33, "vs_last_year": "bad"},
        "churn_rate": {"value": 0.70, "last_year": 0.67, "vs_last_year": "bad"},
        "revenue": {"value": 1000.0, "last_year": 800.0, "vs_last_year": "good"},
    }
    base.update(overrides)
    rows = []
    for kpi, f in base.items():
        change = f["value"] - f["last_year"]
        rows.append({"kpi": kpi, "value": f["value"], "last_year": f["last_year"],
                     "change_last_year": change,
                     "relative_change_last_year": change / f["last_year"],
                     "vs_last_year": f["vs_last_year"]})  # fmt: skip
    return pd.DataFrame(rows)


def test_shipped_rules_fire_on_a_constructed_kpi_table():
    status = pd.DataFrame({"kpi": ["retention_rate"], "benchmark": [0.63],
                           "benchmark_source": ["survey"], "vs_benchmark": ["bad"]})  # fmt: skip
    facts = ex.build_facts(_comparison(), status,
                           value_at_risk={"customers": 12, "amount": 5000.0, "share": 0.1},
                           best_campaign={"name": "Spring", "uplift": 0.05,
                                          "incremental_revenue": 900.0, "channel": "sms"})  # fmt: skip
    assert facts["best_campaign.channel"] == "sms"  # the id from the data; words translate it
    recs = ex.recommend(facts)
    ids = [r["id"] for r in recs]
    assert ids[0] == "retention_below_benchmark"  # priority 1
    assert {"churn_rising", "value_at_risk", "scale_best_campaign"} <= set(ids)
    assert len(recs) <= 5
    assert [r["priority"] for r in recs] == sorted(r["priority"] for r in recs)
    assert set(recs[0]["template"]) == {"en", "zh"}
    assert "{retention_rate.value:pct}" in recs[0]["template"]["en"]


def test_rules_do_not_fire_when_kpis_are_fine():
    comp = _comparison(
        retention_rate={"value": 0.70, "last_year": 0.65, "vs_last_year": "good"},
        churn_rate={"value": 0.30, "last_year": 0.35, "vs_last_year": "good"},
    )
    status = pd.DataFrame({"kpi": ["retention_rate"], "benchmark": [0.63],
                           "benchmark_source": ["survey"], "vs_benchmark": ["good"]})  # fmt: skip
    ids = [r["id"] for r in ex.recommend(ex.build_facts(comp, status))]
    assert "retention_below_benchmark" not in ids and "churn_rising" not in ids
    assert "revenue_growing" in ids


RULES = {
    "max": 2,
    "rules": [
        {"id": "low", "priority": 3, "when": [{"fact": "x.value", "op": ">", "value": 1}],
         "text": {"en": "x is {x.value:num}", "zh": "x 为 {x.value:num}"}},
        {"id": "high", "priority": 1, "when": [{"fact": "x.value", "op": ">=", "value": 2}],
         "text": {"en": "share {y.value:pct}", "zh": "占比 {y.value:pct}"}},
        {"id": "missing", "priority": 0, "when": [],
         "text": {"en": "needs {z.value}", "zh": "需要 {z.value}"}},
        {"id": "third", "priority": 2, "when": [{"fact": "x.value", "op": "!=", "value": 0}],
         "text": {"en": "third", "zh": "第三"}},
    ],
}  # fmt: skip


def test_custom_rules_priority_limit_and_missing_facts():
    params = {"recommendations": RULES}
    recs = ex.recommend({"x.value": 2.0, "y.value": 0.25}, params=params)
    assert [r["id"] for r in recs] == ["high", "third"]
    assert recs[0]["template"]["en"] == "share {y.value:pct}"
    recs = ex.recommend({"x.value": 1.5, "y.value": 0.25}, params=params, max_items=5)
    assert [r["id"] for r in recs] == ["third", "low"]
    bad = [
        {"id": "bad", "when": [{"fact": "a", "op": "~", "value": 1}], "text": {"en": "", "zh": ""}}
    ]
    with pytest.raises(ConfigError):
        ex.recommend({}, params={"recommendations": {"rules": bad}})


def test_build_facts_leaves_out_missing_values():
    comp = _comparison(revenue={"value": float("nan"), "last_year": 1.0, "vs_last_year": "n/a"})
    facts = ex.build_facts(comp)
    assert "revenue.value" not in facts and facts["revenue.vs_last_year"] == "n/a"
    assert facts["retention_rate.value"] == pytest.approx(0.30)


def test_old_names_and_keywords_still_work_and_warn():
    from crmlib import summary

    with pytest.warns(DeprecationWarning, match="'rules' is deprecated"):
        recs = ex.recommend({"x.value": 2.0, "y.value": 0.25}, rules=RULES)
    assert [r["id"] for r in recs] == ["high", "third"]
    # the old module answered in words, and still does
    with (
        pytest.warns(DeprecationWarning, match="crmlib.present.executive.recommendations"),
        pytest.warns(DeprecationWarning, match="'rules' is deprecated"),
    ):
        old = summary.recommend({"x.value": 2.0, "y.value": 0.25}, rules=RULES)
    assert old == [{"id": "high", "priority": 1, "text": "share 25.0%"},
                   {"id": "third", "priority": 2, "text": "third"}]  # fmt: skip
    with pytest.warns(DeprecationWarning, match="crmlib.executive.build_facts"):
        facts = summary.build_facts(_comparison(), best_campaign={"channel": "sms"}, language="zh")
    assert facts["best_campaign.channel"] == "短信"
    with pytest.warns(DeprecationWarning, match="crmlib.executive.Summary"):
        assert summary.Summary is ex.Summary
