"""Report notebooks are committed clean: no outputs, one documented parameters cell, thin code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from crmlib.i18n import has
from crmlib.report.headings import bilingual_heading, heading_key, heading_level

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
STANDARD_PARAMETERS = {"data_params", "language", "as_of"}


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_report_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(_code_cells(nb)) if c.outputs or c.execution_count]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs; run nbstripout"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_cells_are_headings_or_analyst_notes_left_out_of_reports(path):
    """A markdown cell cannot follow the `language` parameter: it is either a heading cell,
    which the export writes in the report's language, or a note for the analyst in JupyterLab
    (tagged remove-cell); report text comes from crmlib in the report's language."""
    nb = nbformat.read(path, as_version=4)
    shown = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown"
        and heading_key(c) is None
        and "remove-cell" not in c.metadata.get("tags", [])
    ]
    assert not shown, f"{path.name}: markdown cells {shown} would appear in every report language"
    notes = [c for c in nb.cells if c.cell_type == "markdown" and heading_key(c) is None]
    outlined = [c.source.splitlines()[0] for c in notes if c.source.startswith("#")]
    assert not outlined, f"{path.name}: analyst notes with headings {outlined} clutter the outline"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_section_headings_are_markdown_cells_in_both_languages(path):
    """JupyterLab's outline and table of contents list the sections; the committed text is
    the label in both languages, so it cannot drift from what the reports show."""
    nb = nbformat.read(path, as_version=4)
    headings = [c for c in nb.cells if heading_key(c) is not None]
    assert headings, f"{path.name} has no heading cells"
    for cell in headings:
        key = heading_key(cell)
        assert has(key), f"{path.name}: heading label {key!r} is not in crmlib/labels"
        level = heading_level(cell)
        assert cell.source == bilingual_heading(key, level=level or 2), (
            f"{path.name}: heading cell {key!r} reads {cell.source!r}"
        )
    levels = [heading_level(c) for c in headings]
    assert levels[0] == 1 and levels.count(1) == 1, f"{path.name}: one title first, got {levels}"
    code_before = [c for c in nb.cells[: nb.cells.index(headings[0])] if c.cell_type == "code"]
    assert not code_before, f"{path.name}: the title heading comes before any code"


_HEADING_LINE = re.compile(r"(^|\n)#{1,6} ")
_TITLE_CALLS = {"section", "title", "report_title"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_print_no_headings(path):
    """A heading printed by code is invisible to the outline: code shows explanations only."""
    nb = nbformat.read(path, as_version=4)
    for cell in _code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not _HEADING_LINE.search(node.value), (
                    f"{path.name}: code writes a Markdown heading: {node.value!r}"
                )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                assert name != "heading", f"{path.name}: words.heading() prints a heading"
                if name in _TITLE_CALLS and isinstance(node.func.value, ast.Name):
                    quiet = any(
                        k.arg == "heading"
                        and isinstance(k.value, ast.Constant)
                        and k.value.value is False
                        for k in node.keywords
                    )
                    assert quiet, f"{path.name}: {ast.unparse(node)} prints its heading"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_documented_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in _code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    source = tagged[0].source
    names = set()
    for node in ast.parse(source).body:
        assert isinstance(node, ast.AnnAssign | ast.Assign), (
            f"{path.name}: the parameters cell holds only assignments"
        )
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        names.add(target.id)
        line = source.splitlines()[node.lineno - 1]
        assert "#" in line, f"{path.name}: parameter {target.id} has no comment saying what it does"
    assert STANDARD_PARAMETERS <= names, f"{path.name} lacks {STANDARD_PARAMETERS - names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_only_calls_the_library(path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(
                node, ast.FunctionDef | ast.ClassDef | ast.While | ast.AsyncFunctionDef
            ), f"{path.name}: logic belongs in crmlib, not the notebook:\n{cell.source}"
