"""Run All in JupyterLab: every notebook runs to the end in a kernel started in ``notebooks/``.

``make lab`` runs ``jupyter lab notebooks/``; JupyterLab starts each notebook's kernel in the
notebook's folder. The test builds a project as a user has it (``notebooks/``, ``params/`` with
relative data paths, ``data/demo/``), starts the ``python3`` kernel in its ``notebooks/`` folder
through nbclient (as Jupyter Server does), with no ``CRMWB_PROJECT_DIR``, and runs every cell
with the notebook's own default parameters.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_HEADING_LINE = re.compile(r"(?m)^#{1,6} ")


@pytest.fixture(scope="module")
def lab_project(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder as ``make install`` and ``make demo-data`` leave it."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "params", root / "params")
    shutil.copytree(demo_dir, root / "data" / "demo")
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_from_the_notebooks_folder(path: Path, lab_project: Path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.delenv("CRMWB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(lab_project)  # nothing may depend on where the server was started
    folder = lab_project / "notebooks"
    nb = nbformat.read(folder / path.name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()  # raises CellExecutionError naming the cell on any error

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [c for c in nb.cells if c.cell_type == "code" and c.outputs]
    assert len(shown) >= 2, f"{path.name}: Run All showed almost nothing"
    folded = [
        out
        for cell in shown
        for out in cell.outputs
        if "Data behind this table" in out.get("data", {}).get("text/html", "")
    ]
    # the analyst gets the numbers behind the tables (data quality shows counts only, and the
    # first daily-alerts run has no earlier day to list changes against)
    if path.stem not in ("01_data_quality", "09_daily_alerts"):
        assert folded, f"{path.name}: no table shows its tidy frame in JupyterLab"
    for cell in shown:  # sections are Markdown cells; code prints no headings
        for out in cell.outputs:
            text = out.get("data", {}).get("text/markdown", "")
            assert not _HEADING_LINE.search(text), f"{path.name}: code printed a heading: {text!r}"
