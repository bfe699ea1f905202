"""Recommendations from rules kept as data, facts from KPI tables, the summary text."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import summary as sm
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
    facts = sm.build_facts(_comparison(), status,
                           value_at_risk={"customers": 12, "amount": 5000.0, "share": 0.1},
                           best_campaign={"name": "Spring", "uplift": 0.05,
                                          "incremental_revenue": 900.0, "channel": "sms"})  # fmt: skip
    recs = sm.recommend(facts, language="en")
    ids = [r["id"] for r in recs]
    assert ids[0] == "retention_below_benchmark"  # priority 1
    assert {"churn_rising", "value_at_risk", "scale_best_campaign"} <= set(ids)
    assert len(recs) <= 5
    text = recs[0]["text"]
    assert "30.0%" in text and "63.0%" in text
    zh = sm.recommend(facts, language="zh")
    assert [r["id"] for r in zh] == ids and "30.0%" in zh[0]["text"]
    spring = next(r for r in recs if r["id"] == "scale_best_campaign")["text"]
    assert "Spring" in spring and "5.0 points" in spring and "SMS" in spring


def test_rules_do_not_fire_when_kpis_are_fine():
    comp = _comparison(
        retention_rate={"value": 0.70, "last_year": 0.65, "vs_last_year": "good"},
        churn_rate={"value": 0.30, "last_year": 0.35, "vs_last_year": "good"},
    )
    status = pd.DataFrame({"kpi": ["retention_rate"], "benchmark": [0.63],
                           "benchmark_source": ["survey"], "vs_benchmark": ["good"]})  # fmt: skip
    ids = [r["id"] for r in sm.recommend(sm.build_facts(comp, status))]
    assert "retention_below_benchmark" not in ids and "churn_rising" not in ids
    assert "revenue_growing" in ids


def test_custom_rules_priority_limit_and_missing_facts():
    rules = {
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
    recs = sm.recommend({"x.value": 2.0, "y.value": 0.25}, rules=rules)
    assert [r["id"] for r in recs] == ["high", "third"]
    assert recs[0]["text"] == "share 25.0%"
    recs = sm.recommend({"x.value": 1.5, "y.value": 0.25}, rules=rules, max_items=5)
    assert [r["id"] for r in recs] == ["third", "low"]
    with pytest.raises(ConfigError):
        sm.recommend({}, rules=[{"id": "bad", "when": [{"fact": "a", "op": "~", "value": 1}],
                                 "text": {"en": "", "zh": ""}}])  # fmt: skip


def test_build_facts_leaves_out_missing_values():
    comp = _comparison(revenue={"value": float("nan"), "last_year": 1.0, "vs_last_year": "n/a"})
    facts = sm.build_facts(comp)
    assert "revenue.value" not in facts and facts["revenue.vs_last_year"] == "n/a"
    assert facts["retention_rate.value"] == pytest.approx(0.30)


HOSTILE = ("<img src=x onerror=alert(1)>", "双11*狂欢_")


def rendered(markdown: str) -> tuple[str, str]:
    """The HTML mistune (nbconvert's Markdown renderer) makes of ``markdown``, and its text."""
    import mistune
    from bs4 import BeautifulSoup

    html = mistune.html(markdown)
    return html, BeautifulSoup(html, "html.parser").get_text()


def test_campaign_and_product_names_cannot_inject_markup():
    best = pd.Series({"name": HOSTILE[0], "campaign_id": "c1", "uplift": 0.05,
                      "uplift_low": 0.01, "uplift_high": 0.09,
                      "incremental_revenue": 900.0, "channel": HOSTILE[1]})  # fmt: skip
    cross = pd.Series({"antecedent": HOSTILE[1], "consequent": HOSTILE[0], "share": 0.2,
                       "lift": 3.0, "within_days": 30})  # fmt: skip
    for language in ("en", "zh"):
        facts = sm.build_facts(_comparison(), best_campaign=best, cross_sell=cross,
                               language=language)  # fmt: skip
        recs = sm.recommend(facts, language=language, max_items=10)
        assert {"scale_best_campaign", "cross_sell"} <= {r["id"] for r in recs}
        summary = sm.Summary(
            as_of=pd.Timestamp("2024-06-30"), comparison=_comparison(), benchmarks=pd.DataFrame(),
            status=pd.DataFrame(), at_risk=None, movements=None, campaigns=None,
            best_campaign=best, cross_sell=cross, facts=facts, recommendations=recs,
        )  # fmt: skip
        for text in (sm.findings(summary, language=language),
                     sm.recommendations_markdown(summary, language=language)):  # fmt: skip
            html, visible = rendered(text)
            assert "<img" not in html
            assert HOSTILE[0] in visible and HOSTILE[1] in visible
