"""HTML made safe and readable for mail clients (Gmail, Outlook, Apple Mail).

Notebook output is HTML written for a browser. Mail clients strip scripts, SVG, ``data:`` URIs,
web fonts and most CSS, and Gmail clips a body over about 102 KB. This module keeps what survives:

- :func:`sanitize` keeps an allow-list of tags, attributes and CSS properties, copies embedded
  ``<style>`` rules onto the elements (css-inline), turns embedded images into ``cid:``
  references through a callback, drops links that are not http(s) or mailto, and masks phone
  numbers and email addresses;
- :func:`prepare_chart` scales a chart image to what a 640 px card needs;
- :func:`pretrim` and :func:`cut_tables` cut tables to a few rows and columns with a visible
  "first N of M" note, and mark numeric cells so they align right;
- :func:`html_to_text` writes the plain-text alternative;
- :func:`inline_css` copies the stylesheet of a finished email onto its elements;
- :func:`mask_run_folder` masks phone numbers and email addresses in a run's report pages,
  executed notebooks and logs (everything the email may attach or link).

Nothing here knows about report runs; :mod:`crmlib.report.email.digest` puts it to work.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
import nbformat
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from PIL import Image

from crmlib.data.privacy import mask_html, mask_text
from crmlib.i18n import labels

__all__ = [
    "CARD_WIDTH",
    "CHART_MAX_PIXELS",
    "CHART_WIDTH",
    "ROWS_ATTR",
    "Chart",
    "cut_tables",
    "decode_image",
    "html_to_text",
    "inline_css",
    "mask_personal",
    "mask_run_folder",
    "prepare_chart",
    "pretrim",
    "sanitize",
    "text_width",
]

log = logging.getLogger(__name__)

#: Width in pixels of the email card and of a full-width chart in it.
CARD_WIDTH = 640
CHART_WIDTH = 600
#: Larger charts are scaled down to this width (twice the display width is sharp enough).
CHART_MAX_PIXELS = 1200
#: Where a table was cut before parsing, its original body-row count travels in this attribute.
ROWS_ATTR = "data-crmwb-rows"

# fmt: off
_ALLOWED_TAGS = frozenset([
    "p", "div", "span", "br", "hr", "b", "strong", "i", "em", "u", "s", "del", "code", "pre",
    "small", "sub", "sup", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "img", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
])
# dropped with everything inside them; any other tag not allowed is unwrapped (its text kept)
_DROP_TAGS = frozenset([
    "script", "style", "svg", "math", "iframe", "frame", "frameset", "object", "embed",
    "applet", "form", "input", "button", "select", "textarea", "option", "link", "meta", "base",
    "head", "title", "video", "audio", "source", "track", "canvas", "noscript", "template",
    "picture", "map", "area",
])
_ALLOWED_ATTRS = frozenset([
    ROWS_ATTR, "colspan", "rowspan", "align", "valign", "href", "src", "alt", "title", "width",
    "height", "style", "class",
])
_ALLOWED_STYLE = frozenset([
    "color", "background-color", "font-weight", "font-style", "text-align", "vertical-align",
    "white-space", "border", "border-top", "border-bottom", "border-left", "border-right",
    "padding", "padding-left", "padding-right", "padding-top", "padding-bottom",
])
# fmt: on
_NUMBER = re.compile(r"^[\s(+\-−]*[¥$€£]?\s*[\d.,\s]*\d[\d.,\s]*(%|‰|[kKmMbB]|万|亿)?\)?\s*$")
_NOWRAP_WIDTH = 12  # table cells this wide or less (CJK counts 2) are not wrapped

#: Masks email addresses and phone numbers in report text (see
#: :func:`crmlib.data.privacy.mask_text`): returns the masked text and how many were masked.
mask_personal = mask_text


@dataclass
class Chart:
    """An image of the email, sent as an inline MIME part and shown through ``cid:``.

    Attributes
    ----------
    data, subtype
        The image bytes and ``"png"`` or ``"jpeg"``.
    width
        Display width in pixels (at most :data:`CHART_WIDTH`).
    alt
        Alternative text (the chart's heading).
    cid, file
        Content-ID and file name, set by whoever numbers the charts of an email.
    """

    data: bytes
    subtype: str
    width: int
    alt: str
    cid: str = ""
    file: str = ""


def text_width(text: str) -> int:
    """Display width: CJK and other wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _num(value: Any) -> float | None:
    try:
        return float(str(value).rstrip("px"))
    except (TypeError, ValueError):
        return None


def _direct_rows(table: Tag) -> list[Tag]:
    """Rows of ``table`` itself (not of tables nested in its cells)."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _clean_style(style: str, *, drop: tuple[str, ...] = ()) -> str:
    keep = []
    for decl in style.split(";"):
        prop, sep, value = decl.partition(":")
        prop, value = prop.strip().lower(), value.strip()
        if not sep or prop not in _ALLOWED_STYLE or prop in drop:
            continue
        low = value.lower()
        if any(bad in low for bad in ("url(", "expression", "javascript:", "@import", "\\")):
            continue
        keep.append(f"{prop}: {value}")
    return "; ".join(keep)


def decode_image(src: str) -> tuple[bytes, str] | None:
    """The bytes and subtype (``png``, ``jpeg``, ``jpg``) of a base64 ``data:image/...`` URI,
    None for anything else."""
    match = re.match(r"data:image/(png|jpeg|jpg);base64,(.*)$", src.strip(), re.S | re.I)
    if not match:
        return None
    try:
        return base64.b64decode(re.sub(r"\s+", "", match.group(2))), match.group(1).lower()
    except (binascii.Error, ValueError):
        return None


def prepare_chart(data: bytes, subtype: str, *, alt: str) -> Chart | None:
    """A :class:`Chart` of the image ``data``, scaled down to :data:`CHART_MAX_PIXELS` wide.

    Returns None (with a logged warning) when ``data`` is not a readable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            width, height = img.size
            if width > CHART_MAX_PIXELS:
                scaled = img.resize(
                    (CHART_MAX_PIXELS, max(1, round(height * CHART_MAX_PIXELS / width))),
                    Image.Resampling.LANCZOS,
                )
                buf = io.BytesIO()
                scaled.save(buf, format="PNG" if subtype == "png" else "JPEG", optimize=True)
                data, width = buf.getvalue(), CHART_MAX_PIXELS
    except (OSError, ValueError) as exc:
        log.warning("an image output of the digest notebook is not a readable image: %s", exc)
        return None
    subtype = "jpeg" if subtype in ("jpg", "jpeg") else "png"
    return Chart(data=data, subtype=subtype, width=min(width, CHART_WIDTH), alt=alt)


def _clean_tag(
    tag: Tag,
    *,
    add_image: Callable[[bytes, str, str], Chart | None],
    attachments: Mapping[str, Any] | None,
) -> None:
    """Keep the allowed attributes of an allowed tag; images become ``cid:`` references."""
    name = tag.name.lower()
    attrs = {}
    for key, value in tag.attrs.items():
        key = key.lower()
        if key not in _ALLOWED_ATTRS or key == "class":
            continue
        value = " ".join(value) if isinstance(value, list) else str(value)
        if key == "style":
            # pandas' own CSS right-aligns every header; the email aligns by content
            value = _clean_style(value, drop=("text-align",) if name in ("th", "tr") else ())
            if not value:
                continue
        attrs[key] = value
    tag.attrs = attrs
    if name == "a":
        if not re.match(r"(https?:|mailto:)", attrs.get("href", ""), re.I):
            tag.unwrap()
    elif name == "img":
        src = attrs.get("src", "")
        decoded = decode_image(src)
        if decoded is None and src.startswith("attachment:") and attachments:
            bundle = attachments.get(src.removeprefix("attachment:"), {})
            for mime in ("image/png", "image/jpeg"):
                if mime in bundle:
                    decoded = decode_image(f"data:{mime};base64,{bundle[mime]}")
                    break
        chart = add_image(decoded[0], decoded[1], attrs.get("alt", "")) if decoded else None
        if chart is None:
            tag.decompose()
            return
        attrs["src"] = f"cid:{chart.cid}"
        attrs.pop("height", None)
        attrs["width"] = str(min(int(_num(attrs.get("width")) or chart.width), CHART_WIDTH))
        attrs["alt"] = chart.alt
    elif name == "table":
        attrs.update({"class": "data", "cellpadding": "0", "cellspacing": "0", "border": "0"})
        attrs.pop("width", None)


def _mask(soup: BeautifulSoup) -> int:
    """Mask personal data in the text and the href/alt/title attributes; return how many."""
    masked = 0
    for text in soup.find_all(string=True):
        new, n = mask_personal(str(text))
        if n:
            masked += n
            text.replace_with(NavigableString(new))
    for tag in soup.find_all(True):
        for key in ("href", "alt", "title"):
            if key in tag.attrs:
                new, n = mask_personal(tag.attrs[key])
                if n and key == "href":
                    tag.unwrap()
                    break
                if n:
                    masked += n
                    tag.attrs[key] = new
    return masked


def sanitize(
    fragment: str,
    *,
    add_image: Callable[[bytes, str, str], Chart | None],
    attachments: Mapping[str, Any] | None = None,
    allow_personal_data: bool,
) -> tuple[BeautifulSoup, int]:
    """Clean notebook HTML for email: allowed tags and attributes only, images as CID.

    Parameters
    ----------
    fragment
        HTML of one notebook output or rendered markdown cell.
    add_image
        Called with (bytes, subtype, alt) for every embedded image; returns the :class:`Chart`
        whose ``cid`` the ``<img>`` then points at, or None to drop the image.
    attachments
        The markdown cell's attachments, for ``attachment:`` image sources.
    allow_personal_data
        False masks phone numbers and email addresses (:data:`mask_personal`).

    Returns
    -------
    tuple
        The cleaned soup and the number of masked personal items. Embedded ``<style>`` rules
        (pandas Styler colours) are copied onto the elements first.
    """
    styles = re.findall(r"<style[^>]*>(.*?)</style>", fragment, flags=re.S | re.I)
    if styles:
        fragment = re.sub(r"<style[^>]*>.*?</style>", "", fragment, flags=re.S | re.I)
        try:
            fragment = css_inline.inline_fragment(fragment, "\n".join(styles))
        except (ValueError, css_inline.InlineError) as exc:
            log.debug("could not inline a notebook <style> block: %s", exc)
    soup = BeautifulSoup(fragment, "html.parser")
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        name = tag.name.lower()
        if name in _DROP_TAGS:
            tag.decompose()
        elif name not in _ALLOWED_TAGS:
            tag.unwrap()
        else:
            _clean_tag(tag, add_image=add_image, attachments=attachments)
    masked = 0 if allow_personal_data else _mask(soup)
    return soup, masked


def pretrim(fragment: str, max_rows: int) -> str:
    """Drop body rows beyond ``max_rows`` from a one-table fragment before it is parsed.

    A displayed DataFrame can have thousands of rows, which an HTML parser reads slowly; the
    original count is kept in the :data:`ROWS_ATTR` attribute for the "first N of M" note.
    """
    if fragment.lower().count("<table") != 1:
        return fragment
    match = re.search(r"<tbody[^>]*>(.*?)</tbody\s*>", fragment, re.S | re.I)
    if not match:
        return fragment
    body = match.group(1)
    ends = [m.end() for m in re.finditer(r"</tr\s*>", body, re.I)]
    if len(ends) <= max_rows or len(re.findall(r"<tr[\s>]", body, re.I)) != len(ends):
        return fragment
    fragment = fragment[: match.start(1)] + body[: ends[max_rows - 1]] + fragment[match.end(1) :]
    return re.sub(r"<table\b", f'<table {ROWS_ATTR}="{len(ends)}"', fragment, count=1, flags=re.I)


def _drop_range_index(head: list[Tag], body: list[Tag]) -> None:
    """Remove pandas' default row numbers (an unnamed first column 0, 1, 2, ...)."""
    firsts = [r.find(["td", "th"], recursive=False) for r in body]
    if not body or any(c is None or c.name != "th" for c in firsts):
        return
    if [c.get_text(strip=True) for c in firsts] != [str(i) for i in range(len(body))]:
        return
    heads = [r.find(["td", "th"], recursive=False) for r in head]
    if any(c is not None and (c.get_text(strip=True) or c.get("colspan")) for c in heads):
        return
    for cell in firsts + [c for c in heads if c is not None]:
        cell.decompose()


def _cut_columns(rows: list[Tag], max_cols: int) -> int:
    """Cut ``rows`` to ``max_cols`` columns (colspans count); return the widest row's width."""
    total_cols = 0
    for r in rows:
        position = 0
        for cell in r.find_all(["td", "th"], recursive=False):
            span = int(_num(cell.get("colspan")) or 1)
            if position >= max_cols:
                cell.decompose()
            elif position + span > max_cols:
                cell["colspan"] = str(max_cols - position)
            position += span
        total_cols = max(total_cols, position)
    return total_cols


def _mark_cells(head: list[Tag], body: list[Tag]) -> None:
    """Classes for the stylesheet: ``num`` (numbers), ``short`` (no wrap), ``num-head``."""
    numeric: dict[int, bool] = {}
    for r in body:
        for position, cell in enumerate(r.find_all(["td", "th"], recursive=False)):
            is_number = bool(_NUMBER.match(cell.get_text()))
            numeric[position] = numeric.get(position, True) and is_number
            if is_number:
                cell["class"] = "num"
            elif text_width(cell.get_text(strip=True)) <= _NOWRAP_WIDTH:
                cell["class"] = "short"
    for r in head:
        cells = r.find_all(["td", "th"], recursive=False)
        if all(int(_num(c.get("colspan")) or 1) == 1 for c in cells):
            for position, cell in enumerate(cells):
                if numeric.get(position):
                    cell["class"] = "num-head"


def cut_tables(html: str, *, max_rows: int, max_cols: int, language: str) -> str:
    """Cut every top-level table in ``html`` to ``max_rows`` body rows and ``max_cols`` columns.

    A note in ``language`` under each cut table says how much is shown; ``max_rows=0`` replaces
    each table with a note. pandas' default row numbers are dropped, and numeric cells get the
    ``num`` class (right-aligned by the email stylesheet).
    """
    soup = BeautifulSoup(html, "html.parser")
    text = labels("email", language)
    for table in soup.find_all("table"):
        if table.find_parent("table") is not None or table.decomposed:
            continue
        rows = _direct_rows(table)
        head = [r for r in rows if r.find_parent("thead") is not None]
        if not head:
            for r in rows:
                if r.find("td", recursive=False) is not None:
                    break
                head.append(r)
        body = [r for r in rows if r not in head]
        _drop_range_index(head, body)
        total_rows = max(len(body), int(_num(table.attrs.pop(ROWS_ATTR, None)) or 0))
        if max_rows == 0:
            note = soup.new_tag("p", attrs={"class": "note"})
            note.string = text["table_omitted"].format(total=total_rows)
            table.replace_with(note)
            continue
        notes = []
        if total_rows > max_rows:
            for r in body[max_rows:]:
                r.decompose()
            notes.append(text["rows_shown"].format(shown=max_rows, total=total_rows))
        total_cols = _cut_columns(head + body[:max_rows], max_cols)
        if total_cols > max_cols:
            notes.append(text["columns_shown"].format(shown=max_cols, total=total_cols))
        _mark_cells(head, body[:max_rows])
        for note_text in reversed(notes):
            note = soup.new_tag("p", attrs={"class": "note"})
            note.string = note_text
            table.insert_after(note)
    return str(soup)


def html_to_text(html: str) -> str:
    """Readable plain text of an email HTML fragment (tables as ``a | b`` rows)."""
    soup = BeautifulSoup(html, "html.parser")
    for table in soup.find_all("table"):
        if table.find_parent("table") is not None:
            continue
        lines = []
        for r in _direct_rows(table):
            cells = [" ".join(c.get_text(" ").split()) for c in r.find_all(["td", "th"])]
            lines.append(" | ".join(cells))
        table.replace_with(NavigableString("\n" + "\n".join(lines) + "\n"))
    for br in soup.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for items in soup.find_all(["ul", "ol"]):
        for child in list(items.children):
            if isinstance(child, NavigableString) and not child.strip():
                child.extract()  # list items on consecutive lines
    for li in soup.find_all("li"):
        li.insert(0, NavigableString("- "))
    for tag in soup.find_all(["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr"]):
        tag.append(NavigableString("\n"))
    for tag in soup.find_all(["h1", "h2", "h3"]):
        title = " ".join(tag.get_text(" ").split())
        underline = "-" * min(text_width(title), 60)
        tag.replace_with(NavigableString(f"\n{title}\n{underline}\n"))
    text = soup.get_text()
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def inline_css(html: str) -> str:
    """Copy the page's CSS onto its elements; only ``@media`` rules stay in ``<head>``.

    Class attributes are dropped (they only cost bytes once the styles are inline), except the
    classes an ``@media`` rule names: a phone's mail client applies those rules by class.
    """
    out = css_inline.inline(html, keep_at_rules=True, load_remote_stylesheets=False)
    media = " ".join(re.findall(r"@media[^{]*\{((?:[^{}]*\{[^{}]*\})*)", out))
    keep = set(re.findall(r"\.([A-Za-z][\w-]*)", media))

    def kept(match: re.Match[str]) -> str:
        names = [n for n in match.group(1).split() if n in keep]
        return f' class="{" ".join(names)}"' if names else ""

    return re.sub(r'\sclass="([^"]*)"', kept, out)


def _mask_notebook(path: Path) -> int:
    """Mask the markdown cells and the text outputs of an executed notebook in place."""
    nb = nbformat.read(path, as_version=4)
    masked = 0

    def masked_text(value: Any) -> str:
        nonlocal masked
        text = "".join(value) if isinstance(value, list) else str(value)
        new, n = mask_html(text)
        masked += n
        return new

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = masked_text(cell.source)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = masked_text(output["text"])
            if "evalue" in output:
                output["evalue"] = masked_text(output["evalue"])
                output["traceback"] = [masked_text(line) for line in output.get("traceback", [])]
            for mime, value in (output.get("data") or {}).items():
                if mime.startswith("text/") and isinstance(value, str | list):
                    output["data"][mime] = masked_text(value)
    if masked:
        tmp = path.with_name(f".{path.name}.masking")
        nbformat.write(nb, tmp)
        tmp.replace(path)
    return masked


def mask_run_folder(run_dir: str | Path) -> int:
    """Mask phone numbers and email addresses in the reports of a run, in place.

    The full report pages (``*.html``, which the email attaches), the executed notebooks
    (``*.ipynb``: markdown cells and text outputs; code is left alone) and the console logs
    (``logs/*.log``) of the run folder are masked as the email body is
    (:func:`crmlib.data.privacy.mask_text`). Used when a pack does not allow personal data.

    Parameters
    ----------
    run_dir
        The run folder (or its staging folder).

    Returns
    -------
    int
        How many items were masked.
    """
    run_dir = Path(run_dir)
    masked = 0
    for path in sorted(run_dir.glob("*.html")) + sorted(run_dir.glob("logs/*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        new, n = mask_html(text) if path.suffix == ".html" else mask_text(text)
        if n:
            tmp = path.with_name(f".{path.name}.masking")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)
            masked += n
    for path in sorted(run_dir.glob("*.ipynb")):
        try:
            masked += _mask_notebook(path)
        except (OSError, ValueError) as exc:  # an unreadable notebook: say so, mask the rest
            log.warning("cannot mask personal data in %s: %s", path, exc)
    return masked
