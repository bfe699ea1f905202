"""Executed notebooks to HTML pages an executive can read: no code, charts embedded.

The page uses nbconvert's ``lab`` look through the workbook's own template
(``crmlib/report/templates/report``), which drops the scripts the stock template loads from
CDNs; images are embedded, so a report is one self-contained file.

Chinese text would otherwise depend on the reader's fonts (a machine without CJK fonts shows
boxes), so a page holding CJK characters carries a subset of the bundled Noto Sans SC
(:func:`crmlib.fonts.cjk_font_file`) with just those characters, as a WOFF ``@font-face`` with a
``data:`` URL (:func:`embed_cjk_font`). Its ``unicode-range`` lists only those characters, so
Latin text keeps the system font. This is for the full HTML pages only: mail clients block
``data:`` fonts, and the email keeps its system-font stack.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import logging
import re
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmlib.errors import ReportError
from crmlib.fonts import cjk_font_file
from crmlib.i18n import t
from crmlib.report.headings import localize_headings, notebook_language

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

__all__ = [
    "WIDGET_MIME",
    "drop_widgets",
    "tidy_executed",
    "markdown_without_math",
    "reader_warnings",
    "CJK_FONT_FAMILY",
    "REMOVE_CELL_TAGS",
    "REMOVE_OUTPUT_TAGS",
    "cjk_characters",
    "cjk_font_face",
    "cjk_font_subset",
    "embed_cjk_font",
    "export_html",
    "html_exporter",
]

log = logging.getLogger(__name__)

#: Family name of the embedded CJK font subset; first in the pages' font stacks.
CJK_FONT_FAMILY = "CRMWB Noto Sans SC"

#: Cells with any of these tags are left out of the HTML entirely.
REMOVE_CELL_TAGS: tuple[str, ...] = ("remove-cell", "remove_cell")
#: Cells with any of these tags lose their outputs in the HTML (code is hidden for every cell).
REMOVE_OUTPUT_TAGS: tuple[str, ...] = ("remove-output", "remove_output")


def _templates_dir() -> str:
    return str(resources.files("crmlib.report").joinpath("templates"))


_DOLLAR = re.compile(r"(?<!\\)\$")


def markdown_without_math(source: str) -> str:
    """Markdown to HTML as nbconvert renders it, with every ``$`` a dollar sign, never math.

    nbconvert reads ``$…$`` as a formula: on US-dollar data, "held **$23,153** … of which
    $9,364" became one formula showing the asterisks. Reports write money, not formulas (no
    notebook or label of the workbook holds one), so each unescaped ``$`` is escaped first.
    """
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(_DOLLAR.sub(r"\\$", source))


#: A Python warning as written to stderr: ``/path/file.py:64: CrmWarning: message`` and, on the
#: next line, the indented source line that raised it.
_WARNING = re.compile(r"^\S+?\.py:\d+: (?P<kind>\w+): (?P<message>.*)\n(?:[ \t]+\S.*\n?)?", re.M)


def reader_warnings(text: str) -> str:
    """A notebook's stderr as a page shows it: a workbook warning (``CrmWarning``, the data or
    the model needs care) becomes "⚠ message", without the file path and source line a
    reader cannot use; other libraries' warnings are left out (the executed notebook in the run
    folder keeps everything). Text that is no warning is kept."""

    def one(match: re.Match[str]) -> str:
        return f"⚠ {match['message']}\n" if match["kind"] == "CrmWarning" else ""

    return _WARNING.sub(one, text)


def _clean_stderr(nb) -> None:
    """Rewrite the stderr streams of ``nb`` in place with :func:`reader_warnings`; a stream left
    empty is dropped."""
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = reader_warnings(out.get("text", ""))
                if not out["text"].strip():
                    continue
            outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs


#: Output type of an interactive widget (a parameter form, a progress bar): live only in
#: JupyterLab, so a page or an email shows nothing of it.
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def drop_widgets(nb) -> None:
    """Remove widget outputs and the saved widget state from executed notebook ``nb``, in place."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_MIME not in o.get("data", {})]


def _read_tidied(notebook: str | Path) -> tuple[Any, str]:
    """The executed notebook at ``notebook`` as its page and email show it (headings in the
    run's language, no widgets), and that language.

    Raises
    ------
    ReportError
        When the notebook cannot be read.
    """
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # nbformat raises JSON, IO and validation errors alike
        raise ReportError(f"cannot read notebook {str(notebook)!r}: {exc}") from exc
    language = notebook_language(nb)
    localize_headings(nb, language=language)
    drop_widgets(nb)
    return nb, language


def tidy_executed(notebook: str | Path) -> None:
    """Prepare an executed notebook for its page and email, in place: headings in the run's
    language (:func:`~crmlib.report.headings.localize_headings`), no widgets.

    Raises
    ------
    ReportError
        When the notebook cannot be read.
    """
    import nbformat

    nb, _ = _read_tidied(notebook)
    nbformat.write(nb, notebook)


def html_exporter(*, code: bool = False) -> HTMLExporter:
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
    exporter.register_filter("markdown2html", markdown_without_math)
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

    notebook = Path(notebook)
    html_path = Path(html_path) if html_path is not None else notebook.with_suffix(".html")
    nb, language = _read_tidied(notebook)  # headings and the back link in its language
    if title is None:
        title = _first_heading(nb) or notebook.stem
    nb.metadata["title"] = title
    _clean_stderr(nb)
    back = t("report.back_to_index", language)
    try:
        body, _ = html_exporter(code=code).from_notebook_node(
            nb, resources={"metadata": {"name": title}, "crmwb_back": back}
        )
    except Exception as exc:  # nbconvert wraps template and conversion errors variously
        raise ReportError(f"cannot export {str(notebook)!r} to HTML: {exc}") from exc
    body = embed_cjk_font(body)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html_path)
    return html_path


def _first_heading(nb) -> str | None:
    for cell in nb.cells:
        removed = set(cell.metadata.get("tags", [])) & set(REMOVE_CELL_TAGS)
        if cell.cell_type != "markdown" or removed:
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    return None


@cache
def _font_cmap() -> frozenset[int]:
    """Code points the bundled CJK font has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(str(cjk_font_file()), lazy=True) as font:
        return frozenset(font.getBestCmap())


def cjk_characters(text: str) -> str:
    """The distinct wide (CJK) characters of ``text`` the bundled font can draw, sorted.

    Wide and fullwidth characters (East Asian width W or F): ideographs, kana, CJK and
    fullwidth punctuation. Character references (``&#x4e2d;``) are read as characters.
    """
    wide = {ch for ch in set(html_lib.unescape(text)) if unicodedata.east_asian_width(ch) in "WF"}
    if not wide:
        return ""
    cmap = _font_cmap()
    return "".join(sorted(ch for ch in wide if ord(ch) in cmap))


def _unicode_range(chars: str) -> str:
    """CSS ``unicode-range`` of ``chars``: consecutive code points merged into ranges."""
    points = sorted({ord(ch) for ch in chars})
    parts, start = [], None
    for i, point in enumerate(points):
        start = point if start is None else start
        if i + 1 == len(points) or points[i + 1] != point + 1:
            parts.append(f"U+{start:X}" if start == point else f"U+{start:X}-{point:X}")
            start = None
    return ", ".join(parts)


def cjk_font_subset(chars: str) -> bytes:
    """A WOFF font holding only ``chars`` of the bundled Noto Sans SC (no hinting, no layout
    tables: a report's few hundred characters come to some tens of KB)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.desubroutinize = True  # smaller once compressed
    options.layout_features = []
    options.name_IDs = [0, 1, 2, 13, 14]  # copyright, family, style, licence (SIL OFL)
    options.notdef_outline = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    with TTFont(str(cjk_font_file()), lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(ch) for ch in chars])
        subsetter.subset(font)
        font.flavor = "woff"
        buffer = io.BytesIO()
        font.save(buffer)
    return buffer.getvalue()


def cjk_font_face(text: str) -> str:
    """A CSS ``@font-face`` rule embedding the CJK characters of ``text``, or ``""`` when it has
    none (or the font cannot be subset: the page then falls back to the reader's fonts)."""
    chars = cjk_characters(text)
    if not chars:
        return ""
    try:
        data = cjk_font_subset(chars)
    except Exception as exc:  # fontTools raises a mix of IO, table and assertion errors
        log.warning("cannot embed the CJK font subset: %s", exc)
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'@font-face {{ font-family: "{CJK_FONT_FAMILY}"; font-style: normal; '
        f"font-weight: 100 900; font-display: swap; "
        f'src: url(data:font/woff;base64,{encoded}) format("woff"); '
        f"unicode-range: {_unicode_range(chars)}; }}"
    )


def embed_cjk_font(page: str) -> str:
    """``page`` (a whole HTML document) with a ``<style>`` embedding the subset of the bundled
    CJK font its characters need, placed before ``</head>``; unchanged when it has no CJK text.

    The page's CSS must name :data:`CJK_FONT_FAMILY` first in its font stack. Never use this on
    email HTML: mail clients block ``data:`` fonts.
    """
    head_end = re.search(r"</head\s*>", page, re.I)
    if head_end is None:
        return page
    body = re.sub(r"<(script|style)\b.*?</\1\s*>", "", page[head_end.end() :], flags=re.S | re.I)
    title = re.search(r"<title[^>]*>(.*?)</title\s*>", page[: head_end.start()], re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", body) + (title.group(1) if title else "")
    rule = cjk_font_face(text)
    if not rule:
        return page
    style = f'<style type="text/css" id="crmwb-cjk-font">{rule}</style>\n'
    return page[: head_end.start()] + style + page[head_end.start() :]
