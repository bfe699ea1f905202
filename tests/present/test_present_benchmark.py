"""Words of the KPI and benchmark report: values as text, changes, tables and safe Markdown."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib import benchmark, kpis
from crmlib.present import benchmark as words


def _tx(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "amount"])
    return frame.assign(ordered_at=pd.to_datetime(frame["ordered_at"]))


ROWS = [
    ("a", "1", "2022-08-10", 100.0),
    ("a", "2", "2022-09-10", 50.0),
    ("a", "3", "2024-06-03", 40.0),
    ("b", "4", "2022-10-01", 60.0),
    ("b", "5", "2023-03-01", 10.0),
    ("c", "6", "2023-05-01", 30.0),
    ("c", "7", "2024-06-10", 20.0),
    ("d", "8", "2024-06-15", 200.0),
    ("d", "9", "2024-06-20", -50.0),
    (None, "10", "2024-06-21", 30.0),
    ("e", "11", "2022-12-01", 10.0),
]


@pytest.mark.parametrize(
    ("value", "fmt", "language", "expected"),
    [
        (1234567.891, "int", "en", "1,234,568"),
        (12345.6, "money", "en", "¥12,346"),
        (12345.6, "money", "zh", "¥1.2万"),
        (999.4, "money", "zh", "¥999"),
        (0.1234, "pct", "en", "12.3%"),
        (-0.05, "pp", "en", "-5.0"),
        (0.05, "pp", "en", "+5.0"),
        (1234.5, "num", "en", "1,234.50"),
        (float("nan"), "money", "en", "–"),
        (None, "pct", "en", "–"),
    ],
)
def test_format_value(value, fmt, language, expected):
    assert words.format_value(value, fmt=fmt, language=language) == expected


def test_change_text_in_points_for_shares_and_relative_otherwise():
    row = {"vs_last_year": "good", "change_last_year": 0.032, "relative_change_last_year": 0.1}
    assert words.change_text(row, which="last_year", fmt="pct") == "▲ +3.2 pp ✓"
    assert (
        words.change_text(row, which="last_year", fmt="pct", language="zh") == "▲ +3.2 个百分点 ✓"
    )
    fall = {"vs_previous": "bad", "change_previous": -5.0, "relative_change_previous": -0.25}
    assert words.change_text(fall, which="previous", fmt="money") == "▼ -25.0% ✗"
    assert words.change_text({"vs_previous": "n/a"}, which="previous", fmt="int") == "–"


def test_names_sources_and_formats():
    assert words.kpi_name("retention_rate") != "retention_rate"
    assert words.kpi_name("my_own_kpi", language="zh") == "my_own_kpi"
    assert words.short_source("RJMetrics, 2013 benchmark report", year=2013) == "RJMetrics 2013"
    assert words.short_source("Baymard 2024, checkout study", year=2024) == "Baymard 2024"
    assert words.kpi_formats()["retention_rate"] == "pct"


def test_tables_are_translated_and_written_out():
    comparison = kpis.compare_periods(_tx(ROWS), as_of="2024-06-30", period="month")
    bench = benchmark.compare_benchmarks(comparison)
    status = benchmark.benchmark_status(bench)
    for language in ("en", "zh"):
        table = words.comparison_table(comparison, language=language, status=status)
        assert len(table) == len(comparison) and table.shape[1] == 5
        assert table.map(lambda x: isinstance(x, str)).all().all()
        shown = words.benchmark_table(bench, language=language)
        assert len(shown) == int((bench["kind"] != "context").sum())
        assert len(words.definitions_table(language=language)) == len(kpis.load_kpis()["kpis"])
        assert words.section("periods", language=language).startswith("## ")
        assert words.report_title(comparison, language=language).startswith("# ")
    only = words.comparison_table(comparison, only=["revenue", "aov"])
    assert only.iloc[:, 0].tolist() == [words.kpi_name("revenue"), words.kpi_name("aov")]
    revenue = comparison.set_index("kpi").loc["revenue", "value"]
    assert only.iloc[0, 1] == words.format_value(revenue, fmt="money") == "¥240"


HOSTILE = ("<img src=x onerror=alert(1)>", "双11*狂欢_")


def rendered(markdown: str) -> tuple[str, str]:
    """The HTML mistune (nbconvert's Markdown renderer) makes of ``markdown``, and its text."""
    import mistune
    from bs4 import BeautifulSoup

    html = mistune.html(markdown)
    return html, BeautifulSoup(html, "html.parser").get_text()


def test_names_and_sources_from_the_yaml_cannot_inject_markup():
    comparison = kpis.compare_periods(_tx(ROWS), as_of="2024-06-30", period="month")
    # the call's params replace the shipped retention figure's value and source, key by key
    figures = benchmark.load_benchmarks(
        {
            "benchmarks": {
                "retention_retail": {"kpi": "retention_rate", "value": 0.99, "unit": "share", "year": 2020,
                         "source": HOSTILE[0], "scope": "retail", "comparability": "direct"},
                "claim": {"kind": "context", "value": 5, "unit": "ratio", "year": 2014,
                          "source": HOSTILE[1], "scope": HOSTILE[0]},
            }
        }
    )  # fmt: skip
    bench = benchmark.compare_benchmarks(comparison, figures)
    assert bench.set_index("id").loc["retention_retail", "status"] == "bad"
    # a KPI of the user's own without a label keeps its id as its name
    custom = comparison.iloc[:1].assign(kpi=HOSTILE[1], vs_last_year="bad")
    comparison = pd.concat([comparison, custom], ignore_index=True)
    comparison.attrs = custom.attrs
    for language in ("en", "zh"):
        html, visible = rendered(words.findings(comparison, bench, language=language))
        assert "<img" not in html and HOSTILE[0] in visible and HOSTILE[1] in visible
        html, visible = rendered(words.context_notes(bench, language=language))
        assert "<img" not in html and HOSTILE[0] in visible and HOSTILE[1] in visible


def test_old_names_in_crmlib_benchmark_still_work_and_warn():
    with pytest.warns(DeprecationWarning, match="crmlib.present.benchmark.kpi_name"):
        assert benchmark.kpi_name("aov", language="zh") == words.kpi_name("aov", language="zh")


def test_a_running_period_and_its_comparisons_say_how_many_days_they_cover():
    # 1-20 February 2025 against 1-20 January 2025 and 1-20 February 2024
    days = pd.date_range("2024-01-01", "2025-02-20", freq="D")
    tx = pd.DataFrame({"customer_id": "a", "order_id": [str(i) for i in range(len(days))],
                       "ordered_at": days, "amount": 100.0})  # fmt: skip
    comparison = kpis.compare_periods(tx, as_of="2025-02-20", period="month", complete=False)
    en = words.report_title(comparison, language="en")
    assert "2025-02 (days 1–20)" in en and "2025-01 (days 1–20)" in en
    assert "2024-02 (days 1–20)" in en
    zh = words.report_title(comparison, language="zh")
    assert "2025-01（第 1–20 天）" in zh and "2024-02（第 1–20 天）" in zh
    bench = benchmark.compare_benchmarks(comparison)
    assert "Period 2025-02 (days 1–20):" in words.findings(comparison, bench, language="en")
    # a complete month keeps its plain label, and so do its whole earlier periods
    full = kpis.compare_periods(tx, as_of="2025-01-31", period="month")
    assert words.period_label(full.attrs["previous"], language="zh") == "2024-12"
    assert "compared with 2024-12 and 2024-01." in words.report_title(full)
