"""Page building blocks: report titles, section headings and tables without the row index.

The topic modules prepare what a report shows (translated, formatted tables; text with figures);
these helpers put it on the page the same way in every report:

* :func:`title` and :func:`section` build the Markdown of a report title and of a section heading
  with its executive explanation from the label catalogue (``crmlib/labels/<topic>.yaml``);
* :func:`show` wraps a table for ``display()``: the HTML and text pandas renders, without the
  meaningless 0, 1, 2, ... row numbers (an index that carries labels is kept), with thousands
  separators and sensible decimals for numbers, and "–" for missing values.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

import pandas as pd

from crmlib.config import REPORT_RUN_ENV
from crmlib.errors import ConfigError
from crmlib.i18n import has, t
from crmlib.present.format import MISSING
from crmlib.present.format import number as format_number

__all__ = [
    "EMPTY_TEXT",
    "title",
    "section",
    "glossary",
    "md_escape",
    "WORD_JOINER",
    "REPORT_RUN_ENV",
    "Table",
    "show",
    "MISSING",
    "format_number",
]


def title(
    title_key: str,
    subtitle_key: str,
    *,
    language: str = "en",
    heading: bool = True,
    **fields: Any,
) -> str:
    """Markdown title (``#``) and subtitle of a report.

    Parameters
    ----------
    title_key, subtitle_key
        Label keys (``"lifecycle.nb_title"``); the subtitle is filled with ``fields``.
    language
        ``"en"`` or ``"zh"``.
    heading
        False: the subtitle alone, for a notebook whose title is a Markdown heading cell
        (:mod:`crmlib.report.headings`).
    """
    subtitle = t(subtitle_key, language, **fields)
    return f"# {t(title_key, language)}\n\n{subtitle}" if heading else subtitle


def section(topic: str, name: str, *, language: str = "en", heading: bool = True) -> str:
    """Markdown heading (``##``) of a report section and its explanation when there is one.

    The heading is label ``<topic>.h_<name>``; the explanation ``<topic>.md_<name>`` follows as a
    paragraph when the catalogue holds it. With ``heading=False`` only the explanation (possibly
    ``""``): the notebook shows the heading as a Markdown cell (:mod:`crmlib.report.headings`).
    """
    key = f"{topic}.md_{name}"
    parts = [f"## {t(f'{topic}.h_{name}', language)}"] if heading else []
    if has(key):
        parts.append(t(key, language))
    return "\n\n".join(parts)


def glossary(terms: list[str] | tuple[str, ...], *, language: str = "en") -> str:
    """Markdown bullets explaining ``terms`` (keys of ``crmlib/labels/glossary.yaml``: ``lift``,
    ``p_active``, ``interval``, ``gini`` ...), in the order given.

    Raises
    ------
    ConfigError
        Naming a term the glossary lacks.
    """
    missing = [term for term in terms if term == "title" or not has(f"glossary.{term}")]
    if missing:
        raise ConfigError(f"parameter 'terms': no glossary entry for {missing[0]!r}")
    return "\n".join(f"- {t(f'glossary.{term}', language)}" for term in terms)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
#: Placed between ``http:`` and ``//`` of a URL in data: invisible, but no linkifier sees a URL.
WORD_JOINER = "\u2060"
# what Markdown or a mail client would turn into a link: a scheme's colon (http: mailto:
# javascript:), www. and the @ of an email address
_LINK_PARTS = re.compile(r"(?<=[A-Za-z0-9])(:)(//)?|(?<![A-Za-z0-9])([Ww]{3})(\.)|(@)")


def _break_link(match: re.Match[str]) -> str:
    if match.group(1):
        return "\\:" + (WORD_JOINER + "//" if match.group(2) else "")
    if match.group(3):
        return match.group(3) + WORD_JOINER + "\\."
    return "\\@"


def md_escape(value: Any) -> str:
    """``value`` as literal text inside report Markdown: HTML and Markdown characters escaped,
    links broken.

    nbconvert passes raw HTML in Markdown through to the page, so every data value written into
    report text (product, campaign, segment or store names) goes through this first. A URL or an
    email address in a value stays readable but is no link: the colon of ``http:`` (and of any
    ``word:``), the dot of ``www.`` and the ``@`` are Markdown escapes (shown as themselves,
    never autolinked), and an invisible word joiner (:data:`WORD_JOINER`) after ``http:`` and
    ``www`` keeps mail clients from linking the text on their own.
    """
    # quotes stay as they are: with < and > escaped no tag (hence no attribute) can open, and an
    # entity such as &#x27; would have its # escaped below and show as text
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))
    return _LINK_PARTS.sub(_break_link, text)


def _formatters(frame: pd.DataFrame) -> dict[Any, Any]:
    """``format_number`` for every numeric column (not booleans); other columns as pandas shows them."""
    return {
        col: format_number
        for col, dtype in frame.dtypes.items()
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    }


def _positional(index: pd.Index) -> bool:
    """Whether ``index`` is pandas' row numbering (unnamed, one level, integers): no information."""
    return index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype)


#: ``attrs`` key of a frame: the line a report shows instead of the frame when it has no rows
#: (e.g. why nothing could be measured); "–" when not set.
EMPTY_TEXT = "empty_text"


class Table:
    """A table for ``display()`` in a report: pandas' own rendering without the row numbers.

    Attributes
    ----------
    frame
        The table shown.
    index
        Whether the row index is shown (only when it carries labels).
    """

    def __init__(self, frame: pd.DataFrame, tidy: pd.DataFrame | None = None) -> None:
        self.frame = frame
        self.tidy = tidy
        self.index = not _positional(frame.index)

    def _empty(self) -> str | None:
        """The line shown instead of a table without rows (never a header alone), or None."""
        if len(self.frame):
            return None
        return str(self.frame.attrs.get(EMPTY_TEXT) or MISSING)

    def _repr_html_(self) -> str:
        if (empty := self._empty()) is not None:
            return f'<p class="crmwb-empty">{html.escape(empty)}</p>'
        with pd.option_context("display.max_colwidth", None):  # a reason or source cut at 50
            return self._html() + self._tidy_html()  # characters ("is not ma...") says less

    def _html(self) -> str:
        return self.frame.to_html(
            index=self.index,
            formatters=_formatters(self.frame),
            na_rep=MISSING,
            notebook=True,
            max_rows=pd.get_option("display.max_rows"),
            max_cols=pd.get_option("display.max_columns"),
            show_dimensions=pd.get_option("display.show_dimensions"),
        )

    def _tidy_html(self) -> str:
        """For the analyst in JupyterLab: the numbers behind the table, folded away; never on
        a report page (``crmwb run`` sets :data:`REPORT_RUN_ENV`)."""
        if self.tidy is None or os.environ.get(REPORT_RUN_ENV):
            return ""
        summary = html.escape(TIDY_SUMMARY.format(rows=len(self.tidy), columns=self.tidy.shape[1]))
        return f"<details><summary>{summary}</summary>{self.tidy.to_html(max_rows=30)}</details>"

    def __repr__(self) -> str:
        if (empty := self._empty()) is not None:
            return empty
        return self.frame.to_string(
            index=self.index,
            formatters=_formatters(self.frame),
            na_rep=MISSING,
            max_rows=pd.get_option("display.max_rows"),
            min_rows=pd.get_option("display.min_rows"),
            max_cols=pd.get_option("display.max_columns"),
            show_dimensions=pd.get_option("display.show_dimensions"),
        )


#: The fold that holds the tidy frame under a table in JupyterLab.
TIDY_SUMMARY = "Data behind this table · 表格背后的数据 ({rows:,} × {columns})"


def show(frame: pd.DataFrame, *, tidy: pd.DataFrame | None = None) -> Table:
    """``frame`` ready for ``display()`` in a report, without pandas' row numbers.

    An unnamed integer index (0, 1, 2, ... or the positions left after filtering or sorting) is
    hidden; a named or labelled index is shown as pandas shows it. Numeric columns are written
    by :func:`format_number`; text columns (already formatted by the topic modules) as they are.

    ``tidy``, the frame the table was written from (numbers, not text), is shown under it folded
    away for the analyst in JupyterLab, and left out of report pages.
    """
    return Table(frame, tidy)
