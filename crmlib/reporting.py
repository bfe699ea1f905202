"""Notebook presentation: report titles, section headings and tables without the row index.

The topic modules prepare what a report shows (translated, formatted tables; text with figures);
these helpers put it on the page the same way in every report:

* :func:`title` and :func:`section` build the Markdown of a report title and of a section heading
  with its executive explanation from the label catalogue (``crmlib/labels/<topic>.yaml``);
* :func:`show` wraps a table for ``display()``: the same HTML and text as pandas renders, but
  without the meaningless 0, 1, 2, ... row numbers (an index that carries labels is kept).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmlib.i18n import has, t


def title(title_key: str, subtitle_key: str, *, language: str = "en", **fields: Any) -> str:
    """Markdown title (``#``) and subtitle of a report.

    Parameters
    ----------
    title_key, subtitle_key
        Label keys (``"lifecycle.nb_title"``); the subtitle is filled with ``fields``.
    language
        ``"en"`` or ``"zh"``.
    """
    return f"# {t(title_key, language)}\n\n{t(subtitle_key, language, **fields)}"


def section(topic: str, name: str, *, language: str = "en") -> str:
    """Markdown heading (``##``) of a report section and its explanation when there is one.

    The heading is label ``<topic>.h_<name>``; the explanation ``<topic>.md_<name>`` follows as a
    paragraph when the catalogue holds it.
    """
    heading = f"## {t(f'{topic}.h_{name}', language)}"
    key = f"{topic}.md_{name}"
    return heading + (f"\n\n{t(key, language)}" if has(key) else "")


def _positional(index: pd.Index) -> bool:
    """Whether ``index`` is pandas' row numbering (unnamed, one level, integers): no information."""
    return index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype)


class Table:
    """A table for ``display()`` in a report: pandas' own rendering without the row numbers.

    Attributes
    ----------
    frame
        The table shown.
    index
        Whether the row index is shown (only when it carries labels).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.index = not _positional(frame.index)

    def _repr_html_(self) -> str:
        return self.frame.to_html(
            index=self.index,
            notebook=True,
            max_rows=pd.get_option("display.max_rows"),
            max_cols=pd.get_option("display.max_columns"),
            show_dimensions=pd.get_option("display.show_dimensions"),
        )

    def __repr__(self) -> str:
        return self.frame.to_string(
            index=self.index,
            max_rows=pd.get_option("display.max_rows"),
            min_rows=pd.get_option("display.min_rows"),
            max_cols=pd.get_option("display.max_columns"),
            show_dimensions=pd.get_option("display.show_dimensions"),
        )


def show(frame: pd.DataFrame) -> Table:
    """``frame`` ready for ``display()`` in a report, without pandas' row numbers.

    An unnamed integer index (0, 1, 2, ... or the positions left after filtering or sorting) is
    hidden; a named or labelled index is shown as pandas shows it. Values and formatting are
    pandas' own, so this changes nothing but the index column.
    """
    return Table(frame)
