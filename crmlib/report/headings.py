"""Section headings as Markdown cells: one notebook, reports in either language.

A heading cell is a Markdown cell holding one heading line and, in its metadata, the label of
the heading: ``{"crmwb": {"heading": "rfm.segment_overview"}}``. In JupyterLab it reads in
both languages (``## Segment overview · 客户分群概览``) and feeds the outline and the table of
contents. When a run is exported, :func:`localize_headings` writes each heading in the
report's language and leaves out the heading of a section that showed nothing (a section the
data cannot fill, or the cells after an error).
"""

from __future__ import annotations

import re
from typing import Any

from crmlib.i18n import LANGUAGES, t

__all__ = [
    "EMPTY_SECTION_TAG",
    "bilingual_heading",
    "heading_key",
    "heading_level",
    "heading_text",
    "localize_headings",
    "notebook_language",
]

#: Tag put on the heading of an empty section: it keeps the cell off the page and the email.
EMPTY_SECTION_TAG = "remove-cell"
_HEADING = re.compile(r"^(#{1,6})\s")
_REMOVE_TAGS = frozenset({"remove-cell", "remove_cell"})


def heading_key(cell: Any) -> str | None:
    """The label key of a heading cell, None for any other cell."""
    if cell.get("cell_type") != "markdown":
        return None
    meta = cell.get("metadata", {}).get("crmwb") or {}
    return meta.get("heading")


def heading_level(cell: Any) -> int:
    """The level of a heading cell (1 for ``#``); 0 when its source is not a heading line."""
    match = _HEADING.match(cell.get("source", ""))
    return len(match.group(1)) if match else 0


def heading_text(key: str, *, language: str = "en") -> str:
    """The text of heading label ``key`` in ``language``, without Markdown ``#`` marks."""
    return t(key, language).lstrip("#").strip()


def bilingual_heading(key: str, *, level: int = 2) -> str:
    """The source of a heading cell as committed: ``## English · 中文``."""
    en, zh = (heading_text(key, language=lang) for lang in ("en", "zh"))
    return f"{'#' * level} {en}" + (f" · {zh}" if zh != en else "")


def _removed(cell: Any) -> bool:
    return bool(_REMOVE_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def _shows_something(cell: Any) -> bool:
    if _removed(cell):
        return False
    if cell.get("cell_type") == "markdown":
        return heading_key(cell) is None and bool(cell.get("source", "").strip())
    return any(_visible(out) for out in cell.get("outputs", []))


def _visible(output: Any) -> bool:
    kind = output.get("output_type")
    if kind == "stream":
        return bool(str(output.get("text", "")).strip())
    if kind in ("display_data", "execute_result"):  # an empty Markdown display shows nothing
        return any(str(value).strip() for value in output.get("data", {}).values())
    return kind == "error"


def localize_headings(nb: Any, *, language: str = "en") -> Any:
    """Write every heading cell of executed notebook ``nb`` in ``language``; tag the heading
    of an empty section ``remove-cell``. Changes ``nb`` in place and returns it.

    A section runs from its heading to the next heading of the same or a higher level; it is
    empty when none of its cells (sub-headings aside) shows an output or a note.
    """
    cells = nb.cells
    for i, cell in enumerate(cells):
        key = heading_key(cell)
        if key is None:
            continue
        level = heading_level(cell) or 2
        cell["source"] = f"{'#' * level} {heading_text(key, language=language)}"
        section = []
        for other in cells[i + 1 :]:
            if heading_key(other) is not None and (heading_level(other) or 2) <= level:
                break
            section.append(other)
        if level > 1 and not any(_shows_something(c) for c in section) and not _removed(cell):
            cell.setdefault("metadata", {}).setdefault("tags", []).append(EMPTY_SECTION_TAG)
    return nb


def notebook_language(nb: Any) -> str:
    """The report language papermill recorded for ``nb`` (``"en"`` when it recorded none)."""
    language = (nb.metadata.get("papermill", {}).get("parameters") or {}).get("language", "en")
    return language if language in LANGUAGES else "en"
