"""Report notebooks are committed clean: no outputs, one documented parameters cell, thin code."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

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
def test_markdown_cells_are_analyst_notes_left_out_of_reports(path):
    """A markdown cell cannot follow the `language` parameter, so it is a note for the analyst
    in JupyterLab (tagged remove-cell); report text comes from crmlib in the report's language."""
    nb = nbformat.read(path, as_version=4)
    shown = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and "remove-cell" not in c.metadata.get("tags", [])
    ]
    assert not shown, f"{path.name}: markdown cells {shown} would appear in every report language"


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
