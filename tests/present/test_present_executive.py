"""Words of the executive summary: recommendation texts, findings, headline and safe Markdown."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crmlib import executive as ex
from crmlib.errors import ConfigError
from crmlib.i18n import t
from crmlib.measure import not_measured
from crmlib.present import executive as words


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
                     "vs_last_year": f["vs_last_year"], "vs_previous": "n/a"})  # fmt: skip
    out = pd.DataFrame(rows)
    out.attrs["period"] = type("P", (), {"label": "2024-06"})()
    return out


def _summary(facts: dict, recs: list, **fields) -> ex.Summary:
    base = dict(
        as_of=pd.Timestamp("2024-06-30"), comparison=_comparison(), benchmarks=pd.DataFrame(),
        status=pd.DataFrame(), at_risk=None, movements=None, campaigns=None, best_campaign=None,
        cross_sell=None, facts=facts, recommendations=recs,
    )  # fmt: skip
    return ex.Summary(**(base | fields))


def test_shipped_rules_are_worded_in_both_languages():
    status = pd.DataFrame({"kpi": ["retention_rate"], "benchmark": [0.63],
                           "benchmark_source": ["survey"], "vs_benchmark": ["bad"]})  # fmt: skip
    facts = ex.build_facts(_comparison(), status,
                           value_at_risk={"customers": 12, "amount": 5000.0, "share": 0.1},
                           best_campaign={"name": "Spring", "uplift": 0.05,
                                          "incremental_revenue": 900.0, "channel": "sms"})  # fmt: skip
    recs = words.recommendations(facts, language="en")
    ids = [r["id"] for r in recs]
    assert ids == [r["id"] for r in ex.recommend(facts)]
    text = recs[0]["text"]
    assert "30.0%" in text and "63.0%" in text
    zh = words.recommendations(facts, language="zh")
    assert [r["id"] for r in zh] == ids and "30.0%" in zh[0]["text"]
    spring = next(r for r in recs if r["id"] == "scale_best_campaign")["text"]
    assert "Spring" in spring and "5.0 points" in spring and "SMS" in spring
    assert "短信" in next(r for r in zh if r["id"] == "scale_best_campaign")["text"]


def test_custom_rule_texts_and_formats():
    rules = {"recommendations": {"rules": [
        {"id": "a", "priority": 1, "when": [],
         "text": {"en": "x {x.value:num}, y {y.value:pct}, {y.value:pts} points, {n.value:int}",
                  "zh": "x {x.value}"}},
    ]}}  # fmt: skip
    facts = {"x.value": 2.0, "y.value": 0.25, "n.value": 12345.0}
    recs = words.recommendations(facts, params=rules)
    assert recs == [{"id": "a", "priority": 1,
                     "text": "x 2.00, y 25.0%, 25.0 points, 12,345"}]  # fmt: skip
    assert words.recommendations(facts, params=rules, language="zh")[0]["text"] == "x 2.0"
    odd = {"recommendations": {"rules": [{"id": "b", "when": [], "text": {"en": "{x.value:odd}"}}]}}
    with pytest.raises(ConfigError, match="odd"):
        words.recommendations(facts, params=odd)
    with pytest.raises(ConfigError, match="no zh text"):
        words.recommendations(facts, params=odd, language="zh")


def test_headline_findings_and_notes():
    facts = {"revenue.value": 12345.0, "revenue.relative_change_last_year": 0.25,
             "active_customers.value": 1200.0, "retention_rate.value": 0.3}  # fmt: skip
    notes = [{"note": "no_clv", "reason": "too few <customers>"},
             {"note": "missing_table", "table": "campaigns"}]  # fmt: skip
    summary = _summary(facts, [], notes=notes)
    head = words.headline(summary, language="en")
    assert "¥12,345" in head and "+25.0%" in head and "1,200" in head and "30.0%" in head
    assert "¥1.2万" in words.headline(summary, language="zh")
    found = words.findings(summary, language="en")
    assert "too few &lt;customers&gt;" in found
    assert t("common.missing_table", "en", table="campaigns") in found
    assert words.recommendations_markdown(summary) == t("summary.no_recommendations", "en")
    assert words.title(summary, language="zh").startswith("# ")
    assert words.section("kpis") == "## " + t("summary.h_kpis", "en") + "\n\n" + t(
        "summary.md_kpis", "en"
    )
    assert words.section("kpis", heading=False) == t("summary.md_kpis", "en")
    assert words.title(summary, language="zh", heading=False) == t(
        "summary.subtitle",
        "zh",
        period=words.period_label(summary.comparison.attrs["period"], language="zh"),
        as_of=summary.as_of.date(),
    )


def test_the_footer_points_only_to_reports_the_run_contains():
    summary = _summary({}, [])
    every = words.footer(summary)
    assert "(07)" in every and "report 06" in every
    weekly = "00_executive_summary,01_data_quality,02_customer_value,04_lifecycle_retention"
    found = words.footer(summary, reports=weekly)
    assert "07" not in found and "06" not in found
    assert "params/kpis.yaml" in found and "params/benchmarks.yaml" in found
    assert words.footer(summary, reports=["00_executive_summary", "07_benchmarks"]) == (
        t("summary.footer_definitions_report", "en") + " " + t("summary.footer_details", "en")
    )
    zh = words.footer(summary, language="zh", reports=weekly)
    assert "07" not in zh and "06" not in zh and "params/kpis.yaml" in zh


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
    facts = ex.build_facts(_comparison(), best_campaign=best, cross_sell=cross)
    recs = ex.recommend(facts, max_items=10)
    assert {"scale_best_campaign", "cross_sell"} <= {r["id"] for r in recs}
    summary = _summary(facts, recs, best_campaign=best, cross_sell=cross)
    for language in ("en", "zh"):
        for text in (words.findings(summary, language=language),
                     words.recommendations_markdown(summary, language=language)):  # fmt: skip
            html, visible = rendered(text)
            assert "<img" not in html
            assert HOSTILE[0] in visible and HOSTILE[1] in visible


def test_old_names_in_crmlib_summary_still_work_and_warn():
    from crmlib import summary

    with pytest.warns(DeprecationWarning, match="crmlib.present.executive.HEADLINE_KPIS"):
        assert summary.HEADLINE_KPIS == words.HEADLINE_KPIS
    with pytest.warns(DeprecationWarning, match="crmlib.present.executive.section"):
        assert summary.section("kpis", language="zh") == words.section("kpis", language="zh")


def test_findings_name_the_periods_the_lifecycle_moved_between():
    movements = pd.DataFrame({"stage": ["new", "active", "at_risk", "reactivated", "churned"],
                              "previous": [3, 10, 2, 0, 1], "current": [1, 8, 5, 1, 1]})  # fmt: skip
    movements["change"] = movements["current"] - movements["previous"]
    movements.attrs.update(previous="2024Q1", current="2024Q2")
    s = _summary({}, [], movements=movements)
    en = words.findings(s, language="en")
    # active 8 (10 -> 8: -2), at risk 5 (+3), reactivated 1 (+1), churned 1 (+0)
    assert "Lifecycle (2024Q2, change on 2024Q1):" in en
    assert "(-2)" in en and "(+3)" in en
    assert "（2024Q2，较 2024Q1 变化）" in words.findings(s, language="zh")
    # a running period is labelled with the days it covers
    running = ex.Summary(**{**s.__dict__, "comparison": _comparison()})
    running.comparison.attrs["period"] = type(
        "P", (), {"label": "2024-07", "complete": False, "days": 3}
    )()
    assert "2024-07 (days 1–3)" in words.title(running, language="en")


def test_no_rule_is_no_verdict_on_kpis_that_could_not_be_compared():
    """Without a year-ago side, "no rule triggered" must not read as "in line with last year";
    a CLV model the data cannot pin down is said to be no planning figure."""
    comparison = _comparison()
    comparison["why_not_last_year"] = [not_measured("before_data", first="2024-01-02")] + [None] * (
        len(comparison) - 1
    )
    notes = [{"note": "clv_unidentified", "parameters": "a, b"}]
    summary = _summary({}, [], comparison=comparison, notes=notes)
    for language in ("en", "zh"):
        text = words.recommendations_markdown(summary, language=language)
        assert text == t("summary.no_recommendations_partly", language, n=1,
                         total=len(comparison))  # fmt: skip
        assert t("summary.no_recommendations", language) not in text
    found = words.findings(summary, language="en")
    assert "cannot pin down the lifetime-value model (a, b)" in found


def test_the_summary_record_holds_what_the_next_run_compares():
    status = pd.DataFrame({"kpi": ["retention_rate"], "benchmark": [0.63],
                           "benchmark_source": ["survey"], "vs_benchmark": ["bad"]})  # fmt: skip
    facts = ex.build_facts(_comparison(), status)
    summary = _summary(facts, ex.recommend(facts), status=status)
    record = words.summary_record(summary, language="en")
    assert json.loads(json.dumps(record)) == record  # plain JSON data
    retention = record["kpis"]["retention_rate"]
    assert retention["value"] == pytest.approx(0.30) and retention["shown"] == "30.0%"
    assert retention["vs_benchmark"] == "bad" and retention["name"] == t(
        "benchmark.kpi_retention_rate", "en"
    )
    recs = record["recommendations"]
    # retention below its benchmark, churn up on last year, revenue 1,000 against 800 (+25%)
    assert set(recs) == {"retention_below_benchmark", "churn_rising", "revenue_growing"}
    assert "25.0%" in recs["revenue_growing"] and "¥1,000" in recs["revenue_growing"]
    assert (
        "30.0%" in recs["retention_below_benchmark"]
        and "63.0%" in recs["retention_below_benchmark"]
    )
    assert "70.0%" in recs["churn_rising"] and "+3.0" in recs["churn_rising"]
    assert record["as_of"] == "2024-06-30"
