"""Heading cells: bilingual in the notebook, the report's language on the page, empty sections
left out."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from crmlib.i18n import t
from crmlib.report.export import WIDGET_MIME, export_html, tidy_executed
from crmlib.report.headings import (
    bilingual_heading,
    heading_text,
    localize_headings,
    notebook_language,
)


def _heading(key: str, level: int = 2):
    cell = new_markdown_cell(bilingual_heading(key, level=level))
    cell.metadata["crmwb"] = {"heading": key}
    return cell


def _shown(text: str):
    cell = new_code_cell("display(x)")
    cell.outputs = [new_output("display_data", data={"text/markdown": text})]
    return cell


def _notebook(*cells, language: str | None = None):
    nb = new_notebook(cells=list(cells))
    if language:
        nb.metadata["papermill"] = {"parameters": {"language": language}}
    return nb


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def test_bilingual_heading_joins_both_languages_and_strips_markdown_marks():
    assert bilingual_heading("rfm.segment_overview", level=2) == (
        f"## {t('rfm.segment_overview', 'en')} · {t('rfm.segment_overview', 'zh')}"
    )
    # the data-quality labels carry their own '#': the heading text does not repeat it
    assert t("data.nb_title", "en").startswith("#")
    assert heading_text("data.nb_title", language="en") == "Data quality"
    assert bilingual_heading("data.nb_title", level=1) == "# Data quality · 数据质量报告"


def test_headings_are_written_in_the_report_language():
    nb = _notebook(_heading("rfm.title", 1), _heading("rfm.segment_overview"), _shown("text"))
    localize_headings(nb, language="zh")
    assert nb.cells[0].source == f"# {t('rfm.title', 'zh')}"
    assert nb.cells[1].source == f"## {t('rfm.segment_overview', 'zh')}"
    assert _tags(nb.cells[1]) == []


def test_the_heading_of_a_section_that_shows_nothing_is_left_out():
    empty = new_code_cell("if False: display(x)")
    blank = _shown("   ")  # display(Markdown("")) draws nothing either
    note = new_markdown_cell("a note for the analyst")
    note.metadata["tags"] = ["remove-cell"]
    nb = _notebook(
        _heading("rfm.title", 1),
        _heading("rfm.pareto"), note, empty, blank,  # nothing shown
        _heading("rfm.value_matrix"), _shown("figures"),  # shown
        _heading("rfm.member_share"),  # last, no cells at all
    )  # fmt: skip
    localize_headings(nb, language="en")
    assert "remove-cell" in _tags(nb.cells[1])
    assert "remove-cell" not in _tags(nb.cells[5])
    assert "remove-cell" in _tags(nb.cells[7])
    assert "remove-cell" not in _tags(nb.cells[0]), "the title always stays"


def test_a_section_with_a_shown_sub_section_keeps_its_heading_and_an_error_counts():
    failed = new_code_cell("1/0")
    failed.outputs = [new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    nb = _notebook(
        _heading("basket.section_rules"),
        _heading("basket.section_pairs", 3), _shown("heatmap"),
        _heading("basket.section_bundles"), failed,
        _heading("basket.section_recommend"), new_code_cell("not run"),
    )  # fmt: skip
    localize_headings(nb, language="en")
    assert [("remove-cell" in _tags(nb.cells[i])) for i in (0, 1, 3, 5)] == [
        False, False, False, True,
    ]  # fmt: skip


def test_localizing_twice_changes_nothing():
    nb = _notebook(_heading("rfm.title", 1), _heading("rfm.pareto"), new_code_cell(""))
    localize_headings(nb, language="zh")
    once = nbformat.writes(nb)
    localize_headings(nb, language="zh")
    assert nbformat.writes(nb) == once
    assert _tags(nb.cells[1]) == ["remove-cell"]


def test_the_run_language_comes_from_papermill_and_the_file_is_rewritten(tmp_path):
    path = tmp_path / "run.ipynb"
    nbformat.write(
        _notebook(_heading("rfm.title", 1), _heading("rfm.pareto"), _shown("x"), language="zh"),
        path,
    )
    assert notebook_language(nbformat.read(path, as_version=4)) == "zh"
    assert notebook_language(_notebook()) == "en"
    assert notebook_language(_notebook(language="fr")) == "en"
    tidy_executed(path)
    assert nbformat.read(path, as_version=4).cells[1].source == f"## {t('rfm.pareto', 'zh')}"


def test_the_exported_page_shows_the_localized_headings_and_title(tmp_path):
    path = tmp_path / "run.ipynb"
    nbformat.write(
        _notebook(
            _heading("rfm.title", 1),
            _heading("rfm.pareto"),
            _shown("figures"),
            _heading("rfm.member_share"),
            new_code_cell(""),
            language="zh",
        ),  # fmt: skip
        path,
    )
    page = export_html(path).read_text(encoding="utf-8")
    assert f"<title>{t('rfm.title', 'zh')}</title>" in page
    assert t("rfm.pareto", "zh") in page
    assert t("rfm.member_share", "zh") not in page, "an empty section's heading is left out"
    assert t("rfm.pareto", "en") not in page


def test_widgets_live_in_jupyterlab_only(tmp_path):
    """A parameter form or a progress bar is interactive: the page and the email get nothing
    of it, neither the output nor the saved widget state."""
    form = new_code_cell("parameter_form(...)")
    form.outputs = [
        new_output(
            "display_data",
            data={WIDGET_MIME: {"model_id": "abc"}, "text/plain": "VBox(children=(Text(...)))"},
        )
    ]
    nb = _notebook(_heading("rfm.title", 1), form, _shown("figures"), language="en")
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    tidy_executed(path)
    tidied = nbformat.read(path, as_version=4)
    assert "widgets" not in tidied.metadata and tidied.cells[1].outputs == []
    assert tidied.cells[2].outputs, "other outputs stay"
    nbformat.write(nb, path)  # exported without tidying first: the page is clean too
    page = export_html(path).read_text(encoding="utf-8")
    assert "VBox" not in page and "widget-state" not in page
