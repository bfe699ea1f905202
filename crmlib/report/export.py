"""Executed notebooks to HTML pages an executive can read: no code, charts embedded.

The page uses nbconvert's ``lab`` look through the workbook's own template
(``crmlib/report/templates/report``), which drops the scripts the stock template loads from
CDNs; images are embedded, so a report is one self-contained file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from crmlib.errors import ReportError

#: Cells with any of these tags are left out of the HTML entirely.
REMOVE_CELL_TAGS: tuple[str, ...] = ("remove-cell", "remove_cell")
#: Cells with any of these tags lose their outputs in the HTML (code is hidden for every cell).
REMOVE_OUTPUT_TAGS: tuple[str, ...] = ("remove-output", "remove_output")


def _templates_dir() -> str:
    return str(resources.files("crmlib.report").joinpath("templates"))


def html_exporter(*, code: bool = False):
    """An nbconvert ``HTMLExporter`` configured for reports.

    Parameters
    ----------
    code
        Show the code cells (for analysts); reports hide them.
    """
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        template_file="report/index.html.j2",
        extra_template_paths=[_templates_dir()],
    )
    exporter.exclude_input = not code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    return exporter


def export_html(
    notebook: str | Path,
    html_path: str | Path | None = None,
    *,
    title: str | None = None,
    code: bool = False,
) -> Path:
    """Write the HTML page of an executed notebook and return its path.

    Parameters
    ----------
    notebook
        The executed ``.ipynb``. A notebook that stopped on an error is exported too: the
        error output shows where and why.
    html_path
        Where to write; default next to the notebook with the ``.html`` suffix.
    title
        Page title; default the notebook's first heading, else its file name.
    code
        Keep the code cells (off for reports).

    Raises
    ------
    ReportError
        When the notebook cannot be read or converted.
    """
    import nbformat

    notebook = Path(notebook)
    html_path = Path(html_path) if html_path is not None else notebook.with_suffix(".html")
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # nbformat raises JSON, IO and validation errors alike
        raise ReportError(f"cannot read notebook {str(notebook)!r}: {exc}") from exc
    if title is None:
        title = _first_heading(nb) or notebook.stem
    nb.metadata["title"] = title
    try:
        body, _ = html_exporter(code=code).from_notebook_node(
            nb, resources={"metadata": {"name": title}}
        )
    except Exception as exc:  # nbconvert wraps template and conversion errors variously
        raise ReportError(f"cannot export {str(notebook)!r} to HTML: {exc}") from exc
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html_path)
    return html_path


def _first_heading(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    return None
