"""Report presentation helpers: headings from the label catalogue, tables without row numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib.i18n import t
from crmlib.present import benchmark, campaigns, executive, lifecycle
from crmlib.present import page as reporting


def test_section_is_heading_and_explanation_when_there_is_one():
    with_md = reporting.section("lifecycle", "stages", language="zh")
    assert with_md == f"## {t('lifecycle.h_stages', 'zh')}\n\n{t('lifecycle.md_stages', 'zh')}"
    assert reporting.section("lifecycle", "headline") == f"## {t('lifecycle.h_headline', 'en')}"


def test_topic_sections_use_the_shared_heading():
    assert campaigns.section("funnel") == reporting.section("campaigns", "funnel")
    assert lifecycle.section("rules", language="zh") == reporting.section(
        "lifecycle", "rules", language="zh"
    )
    assert benchmark.section("periods") == reporting.section("benchmark", "periods")
    assert executive.section("kpis") == reporting.section("summary", "kpis")


def test_title_is_a_level_one_heading_with_a_filled_subtitle():
    text = reporting.title(
        "lifecycle.nb_title", "lifecycle.nb_subtitle", as_of="2026-06-30", period="month"
    )
    first, _, rest = text.partition("\n\n")
    assert first == "# " + t("lifecycle.nb_title", "en")
    assert rest == t("lifecycle.nb_subtitle", "en", as_of="2026-06-30", period="month")


def test_show_hides_row_numbers_only():
    frame = pd.DataFrame({"KPI": ["a", "b", "c"], "Value": [1.5, 2.25, 3.0]})
    html = reporting.show(frame)._repr_html_()
    # same table as pandas renders, minus the 0, 1, 2 row headers, numbers written for readers
    assert html == frame.to_html(
        index=False, notebook=True, formatters={"Value": reporting.format_number}
    )
    assert "<th>0</th>" not in html and "<td>2.25</td>" in html and "<td>3</td>" in html
    assert "<th>0</th>" in frame._repr_html_()
    filtered = frame.iloc[[2, 0]]  # positions left after filtering are no information either
    assert "<th>2</th>" not in reporting.show(filtered)._repr_html_()
    assert repr(reporting.show(frame)).splitlines()[0].split() == ["KPI", "Value"]


def test_show_keeps_an_index_that_carries_labels():
    labelled = pd.DataFrame({"Value": [1, 2]}, index=pd.Index(["x", "y"]))
    named = pd.DataFrame({"Value": [1, 2]}, index=pd.Index([2024, 2025], name="year"))
    assert "<th>x</th>" in reporting.show(labelled)._repr_html_()
    assert "<th>2024</th>" in reporting.show(named)._repr_html_()


def test_numbers_are_written_for_readers():
    cases = {
        1600784.43: "1,600,784",
        1234: "1,234",
        246.584: "246.58",
        -12.5: "-12.50",
        0.04213: "0.042",
        3.1e-9: "3.1e-09",
        0.0: "0",
        float("nan"): "–",
        None: "–",
    }
    for value, text in cases.items():
        assert reporting.format_number(value) == text, value
    frame = pd.DataFrame(
        {"Segment": ["A", None], "Revenue": [7262538.04, None], "Flag": [True, False]}
    )
    html = reporting.show(frame)._repr_html_()
    assert "7,262,538" in html and "–" in html and "True" in html


def test_data_values_in_markdown_stay_text():
    import mistune

    hostile = '<img src=x onerror="alert(1)"> **双11**_狂欢 [link](http://x) `code` #1 | a'
    rendered = mistune.html(f"Best campaign: {reporting.md_escape(hostile)}")
    assert "<img" not in rendered and "<strong>" not in rendered and "<a " not in rendered
    assert "<code>" not in rendered
    # what the reader sees is the original text
    from bs4 import BeautifulSoup

    shown = BeautifulSoup(rendered, "html.parser").get_text().strip()
    # the only addition is the invisible word joiner that keeps http://x from being linked
    assert shown.replace(reporting.WORD_JOINER, "") == f"Best campaign: {hostile}"


URLS_AND_ADDRESSES = [
    "**x http://evil.example/a**",
    "SKU https://evil.example/login?u=1",
    "visit www.evil.example today",
    "write to boss@evil.example",
    "javascript:alert(document.cookie)",
    "<http://evil.example> [click](https://evil.example)",
    "HTTP://EVIL.EXAMPLE/A and ftp://files.example",
]


def _renderers():
    """Markdown as nbconvert renders report pages, and as the email digest renders its cells."""
    import mistune
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    digest = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
    linkify = mistune.create_markdown(escape=False, plugins=["url"])  # GFM-style bare URLs
    return {"nbconvert": markdown2html_mistune, "digest": digest, "url plugin": linkify}


def test_urls_in_data_values_are_never_links():
    from bs4 import BeautifulSoup

    for value in URLS_AND_ADDRESSES:
        escaped = reporting.md_escape(value)
        for name, render in _renderers().items():
            html = str(render(f"Top product: **{escaped}** and *{escaped}*"))
            soup = BeautifulSoup(html, "html.parser")
            assert soup.find("a") is None, (name, value, html)
            # no scheme a mail client could link on its own: http:// is broken by a word joiner
            text = soup.get_text()
            assert "http://" not in text.lower() and "https://" not in text.lower(), (name, text)
            assert "www." not in text.lower(), (name, text)
            # what the reader sees is the value itself
            assert text.replace(reporting.WORD_JOINER, "").count(value) == 2, (name, value, text)


def test_link_breaking_keeps_ordinary_text_readable():
    import mistune

    for value in ("Revenue: ¥1,234", "12:30 at 门店A", "a*b_c", "5 @ 10 each"):
        html = mistune.html(reporting.md_escape(value))
        assert html.strip() == f"<p>{value}</p>", html


def test_quotes_in_data_read_as_quotes():
    """A source titled 'The Value of Keeping the Right Customers' showed &#x27; as text."""
    import mistune

    from crmlib.present.page import md_escape

    text = md_escape("Gallo, 'The Value of Keeping the Right Customers', HBR \"2014\" <b>")
    assert "&#x27;" not in text and "&quot;" not in text
    rendered = mistune.html(text)
    assert "'The Value of Keeping the Right Customers'" in rendered and "<b>" not in rendered


def test_long_cells_are_written_whole_in_html():
    """A reason or a source is never cut to pandas' 50 characters with "..."."""
    why = "– (column coupon_code of transactions is not mapped in the data params)"
    html_text = reporting.show(pd.DataFrame({"KPI": ["Coupon redemption"], "Value": [why]}))
    assert why in html_text._repr_html_()


def test_the_glossary_explains_the_terms_asked_for_in_order_and_names_an_unknown_one():
    from crmlib.errors import ConfigError
    from crmlib.i18n import t
    from crmlib.present import page as pg

    en = pg.glossary(["lift", "p_active"], language="en").splitlines()
    assert en == [f"- {t('glossary.lift', 'en')}", f"- {t('glossary.p_active', 'en')}"]
    assert en[0].startswith("- **Lift**:")
    assert pg.glossary(["gini"], language="zh").startswith("- **基尼系数**")
    with pytest.raises(ConfigError, match="'nps'"):
        pg.glossary(["lift", "nps"])
    with pytest.raises(ConfigError, match="'title'"):
        pg.glossary(["title"])


def test_every_report_that_uses_a_term_explains_it():
    """Pages that speak of lift, P(active), intervals or the Gini coefficient end with a
    glossary that explains them."""
    import ast
    from pathlib import Path

    import nbformat

    uses = {"05_cross_sell": "lift", "03_lifetime_value": "p_active",
            "06_campaigns_channels": "interval", "02_customer_value": "gini",
            "00_executive_summary": "p_active"}  # fmt: skip
    for name, term in uses.items():
        path = Path(__file__).parents[2] / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        calls = [c.source for c in nb.cells if "page.glossary(" in c.source]
        assert len(calls) == 1, name
        terms = ast.literal_eval(calls[0].split("page.glossary(", 1)[1].split(", language")[0])
        assert term in terms, (name, terms)


def test_the_tidy_frame_is_folded_under_the_table_in_jupyterlab_and_left_out_of_reports(
    monkeypatch,
):
    tidy = pd.DataFrame({"segment": ["a", "b"], "share": [0.25, 0.75]})
    shown = pd.DataFrame({"Segment": ["A", "B"], "Share": ["25.0%", "75.0%"]})
    monkeypatch.delenv(reporting.REPORT_RUN_ENV, raising=False)
    html = reporting.show(shown, tidy=tidy)._repr_html_()
    assert "<details>" in html and "0.25" in html and "25.0%" in html
    assert "Data behind this table" in html and "(2 × 2)" in html
    assert "<details>" not in reporting.show(shown)._repr_html_()
    monkeypatch.setenv(reporting.REPORT_RUN_ENV, "1")  # what crmwb run sets for its kernels
    html = reporting.show(shown, tidy=tidy)._repr_html_()
    assert "<details>" not in html and "0.25" not in html and "25.0%" in html
