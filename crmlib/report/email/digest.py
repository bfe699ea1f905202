"""The email of a report run: an executive digest in the body, the full reports linked or attached.

A run folder ``reports/<pack>/<period>/`` holds ``run.json`` and the executed notebooks. The body of
the email is built from the executed *digest* notebook named in ``run.json``: its markdown cells,
its HTML tables (cut to a few rows) and its charts (PNG outputs, sent as inline CID images). The
full HTML reports are linked when the run's settings give a ``report_base_url``, else attached
while their total stays under a limit, else listed by name.

The HTML is made to survive mail clients: a table-based 640 px layout, CSS inlined with css-inline
(only a small ``@media`` rule stays in ``<head>``), no scripts, no SVG, no ``data:`` URIs, no web
fonts, and a body kept under Gmail's ~100 KB clipping size (tables are cut further, then trailing
sections dropped, with a visible note). A plain-text alternative carries the same text.

Anything that looks like a phone number or an email address in the digest is masked unless the
run allows personal data (``allow_personal_data: true`` in the run settings).

Run settings are read from ``run.json["settings"]`` (a mapping written by the runner from the pack
definition); the keys and their defaults are in :data:`EMAIL_DEFAULTS`.

A failed run never mails the broken report: :func:`failure_notice` says which notebooks failed,
why, and where the executed notebooks and logs are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import mistune
import nbformat
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from PIL import Image

from crmlib.config import check_choice, check_range
from crmlib.errors import ReportError
from crmlib.i18n import check_language, labels
from crmlib.privacy import mask_text
from crmlib.report.packs import EMAIL_DEFAULTS as PACK_EMAIL_DEFAULTS

log = logging.getLogger(__name__)

#: Email settings a run may override in ``run.json["settings"]``, with their defaults (a pack
#: sets them under ``email:`` in ``params/reports.yaml``; :mod:`crmlib.report.packs` checks them).
EMAIL_DEFAULTS: dict[str, Any] = dict(PACK_EMAIL_DEFAULTS)

#: Cell tags whose cells never reach the email.
SKIP_TAGS = frozenset(
    {"parameters", "injected-parameters", "remove-cell", "remove_cell", "email-skip", "no-email"}
)
_SKIP_OUTPUT_TAGS = frozenset({"remove-output", "remove_output"})

#: Width in pixels of the email card and of a full-width chart in it.
CARD_WIDTH = 640
CHART_WIDTH = 600
_CHART_MAX_PIXELS = 1200  # larger charts are scaled down (2x the display width is sharp enough)

_TEMPLATES = Path(__file__).parent / "templates"
_ALLOWED_TAGS = frozenset(
    [
        "p",
        "div",
        "span",
        "br",
        "hr",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "del",
        "code",
        "pre",
        "small",
        "sub",
        "sup",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "a",
        "img",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
    ]
)
_DROP_TAGS = frozenset(
    [
        "script",
        "style",
        "svg",
        "math",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "form",
        "input",
        "button",
        "select",
        "textarea",
        "option",
        "link",
        "meta",
        "base",
        "head",
        "title",
        "video",
        "audio",
        "source",
        "track",
        "canvas",
        "noscript",
        "template",
        "picture",
        "map",
        "area",
    ]
)
#: Where a table was cut before parsing, its original body-row count travels in this attribute.
_ROWS_ATTR = "data-crmwb-rows"
_ALLOWED_ATTRS = frozenset(
    [
        _ROWS_ATTR,
        "colspan",
        "rowspan",
        "align",
        "valign",
        "href",
        "src",
        "alt",
        "title",
        "width",
        "height",
        "style",
        "class",
    ]
)
_ALLOWED_STYLE = frozenset(
    [
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "text-align",
        "vertical-align",
        "white-space",
        "border",
        "border-top",
        "border-bottom",
        "border-left",
        "border-right",
        "padding",
        "padding-left",
        "padding-right",
        "padding-top",
        "padding-bottom",
    ]
)
_NUMBER = re.compile(r"^[\s(+\-−]*[¥$€£]?\s*[\d.,\s]*\d[\d.,\s]*(%|‰|[kKmMbB]|万|亿)?\)?\s*$")
_NOWRAP_WIDTH = 12  # table cells this wide or less (CJK counts 2) are not wrapped
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# -- personal data -------------------------------------------------------------------------------

#: Masks email addresses and phone numbers in report text (see :func:`crmlib.privacy.mask_text`).
mask_personal = mask_text


# -- run folder ----------------------------------------------------------------------------------


def read_run(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json`` of a run folder, raising :class:`ReportError` naming the file on problems."""
    path = Path(run_dir) / "run.json"
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist: is {run_dir} a report run folder?") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(run, dict):
        raise ReportError(f"{path} must hold a JSON object; got {type(run).__name__}")
    for key in ("pack", "status"):
        if key not in run:
            raise ReportError(f"{path} has no {key!r}")
    check_choice("status", run["status"], ("ok", "failed"))
    return run


def update_run(run_dir: Path, key: str, value: Any) -> None:
    """Set ``run.json[key] = value``, writing the file atomically."""
    path = Path(run_dir) / "run.json"
    run = json.loads(path.read_text(encoding="utf-8"))
    run[key] = value
    _write_atomic(path, json.dumps(run, ensure_ascii=False, indent=2).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the archive is read by other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def email_settings(run: Mapping[str, Any]) -> dict[str, Any]:
    """The email settings of a run: :data:`EMAIL_DEFAULTS` overridden by ``run["settings"]``.

    ``report_base_url`` and ``allow_personal_data`` are also accepted at the top of ``run.json``.
    Raises :class:`~crmlib.errors.ConfigError` naming a bad setting.
    """
    given = dict(run.get("settings") or {})
    for key in ("report_base_url", "allow_personal_data"):
        if key in run and key not in given:
            given[key] = run[key]
    out = {key: given.get(key, default) for key, default in EMAIL_DEFAULTS.items()}
    out["report_base_url"] = str(out["report_base_url"] or "")
    check_choice("allow_personal_data", out["allow_personal_data"], (True, False))
    check_range("attach_limit_mb", out["attach_limit_mb"], low=0)
    check_range("max_html_kb", out["max_html_kb"], low=10, high=102)
    for key in ("max_table_rows", "max_table_columns", "max_charts"):
        check_range(key, out[key], low=1)
        out[key] = int(out[key])
    return out


def _language(run: Mapping[str, Any]) -> str:
    return check_language(run.get("language") or "en")


def _period(run: Mapping[str, Any], run_dir: Path) -> str:
    """The run's period from ``run.json`` (the runner writes the email in a staging folder whose
    name is not the period, so the folder name is never used)."""
    period = run.get("period") or run.get("run_id")
    if not period:
        raise ReportError(f"{Path(run_dir) / 'run.json'} names no 'period' (or 'run_id')")
    return str(period)


def _published_dir(run: Mapping[str, Any], run_dir: Path) -> Path:
    """Where the run is (or will be) published: ``reports/<pack>/<period>/``.

    The runner writes the email while the run is still in its hidden staging folder
    ``reports/<pack>/.tmp-<period>-<pid>-<tag>/``, which is renamed into place afterwards; a
    failure notice must point at the final folder, not at the staging one.
    """
    run_dir = Path(run_dir).resolve()
    if run_dir.name.startswith((".tmp-", ".old-")):
        return run_dir.parent / _period(run, run_dir)
    return run_dir


def _title(run: Mapping[str, Any]) -> str:
    return str(run.get("title") or run["pack"])


def _cid_token(run: Mapping[str, Any], run_dir: Path) -> str:
    # from run.json only: the same run gives the same content ids in staging and once published
    seed = f"{run['pack']}|{_period(run, run_dir)}|{run.get('started_at', '')}"
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:12]


def _human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} MB"


# -- HTML cleaning -------------------------------------------------------------------------------


@dataclass
class _Chart:
    data: bytes
    subtype: str
    width: int
    alt: str
    cid: str = ""
    file: str = ""


@dataclass
class _Block:
    kind: str  # "html" or "chart"
    html: str = ""
    chart: _Chart | None = None
    tables: int = 0


@dataclass
class _Content:
    blocks: list[_Block] = field(default_factory=list)
    charts: list[_Chart] = field(default_factory=list)
    masked: int = 0
    charts_left_out: int = 0


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


def _decode_image(src: str) -> tuple[bytes, str] | None:
    match = re.match(r"data:image/(png|jpeg|jpg);base64,(.*)$", src.strip(), re.S | re.I)
    if not match:
        return None
    try:
        return base64.b64decode(re.sub(r"\s+", "", match.group(2))), match.group(1).lower()
    except (binascii.Error, ValueError):
        return None


def _sanitize(
    fragment: str,
    *,
    add_image: Callable[[bytes, str, str], _Chart | None],
    attachments: Mapping[str, Any] | None = None,
    allow_personal_data: bool,
) -> tuple[BeautifulSoup, int]:
    """Clean notebook HTML for email: allowed tags and attributes only, images as CID.

    Embedded ``<style>`` rules (pandas Styler colours) are first copied onto the elements.
    Returns the soup and the number of masked personal items.
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
            continue
        if name not in _ALLOWED_TAGS:
            tag.unwrap()
            continue
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
                continue
        elif name == "img":
            src = attrs.get("src", "")
            decoded = _decode_image(src)
            if decoded is None and src.startswith("attachment:") and attachments:
                bundle = attachments.get(src.removeprefix("attachment:"), {})
                for mime in ("image/png", "image/jpeg"):
                    if mime in bundle:
                        decoded = _decode_image(f"data:{mime};base64,{bundle[mime]}")
                        break
            chart = add_image(decoded[0], decoded[1], attrs.get("alt", "")) if decoded else None
            if chart is None:
                tag.decompose()
                continue
            attrs["src"] = f"cid:{chart.cid}"
            attrs.pop("height", None)
            attrs["width"] = str(min(int(_num(attrs.get("width")) or chart.width), CHART_WIDTH))
            attrs["alt"] = chart.alt
        elif name == "table":
            attrs.update({"class": "data", "cellpadding": "0", "cellspacing": "0", "border": "0"})
            attrs.pop("width", None)
    masked = 0
    if not allow_personal_data:
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
    return soup, masked


def _num(value: Any) -> float | None:
    try:
        return float(str(value).rstrip("px"))
    except (TypeError, ValueError):
        return None


def _direct_rows(table: Tag) -> list[Tag]:
    """Rows of ``table`` itself (not of tables nested in its cells)."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _pretrim(fragment: str, max_rows: int) -> str:
    """Drop body rows beyond ``max_rows`` from a one-table fragment before it is parsed.

    A displayed DataFrame can have thousands of rows, which an HTML parser reads slowly; the
    original count is kept in the ``data-crmwb-rows`` attribute for the "first N of M" note.
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
    return re.sub(r"<table\b", f'<table {_ROWS_ATTR}="{len(ends)}"', fragment, count=1, flags=re.I)


def _text_width(text: str) -> int:
    """Display width: CJK and other wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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


def _cut_tables(html: str, *, max_rows: int, max_cols: int, language: str) -> str:
    """Cut every top-level table in ``html`` to ``max_rows`` body rows and ``max_cols`` columns.

    ``max_rows=0`` replaces each table with a note. Numeric cells get the ``num`` class.
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
        total_rows = max(len(body), int(_num(table.attrs.pop(_ROWS_ATTR, None)) or 0))
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
        total_cols = 0
        for r in head + body[:max_rows]:
            position = 0
            for cell in r.find_all(["td", "th"], recursive=False):
                span = int(_num(cell.get("colspan")) or 1)
                if position >= max_cols:
                    cell.decompose()
                elif position + span > max_cols:
                    cell["colspan"] = str(max_cols - position)
                position += span
            total_cols = max(total_cols, position)
        if total_cols > max_cols:
            notes.append(text["columns_shown"].format(shown=max_cols, total=total_cols))
        numeric: dict[int, bool] = {}
        for r in body[:max_rows]:
            for position, cell in enumerate(r.find_all(["td", "th"], recursive=False)):
                is_number = bool(_NUMBER.match(cell.get_text()))
                numeric[position] = numeric.get(position, True) and is_number
                if is_number:
                    cell["class"] = "num"
                elif _text_width(cell.get_text(strip=True)) <= _NOWRAP_WIDTH:
                    cell["class"] = "short"
        for r in head:
            cells = r.find_all(["td", "th"], recursive=False)
            if all(int(_num(c.get("colspan")) or 1) == 1 for c in cells):
                for position, cell in enumerate(cells):
                    if numeric.get(position):
                        cell["class"] = "num-head"
        for note_text in reversed(notes):
            note = soup.new_tag("p", attrs={"class": "note"})
            note.string = note_text
            table.insert_after(note)
    return str(soup)


def _html_to_text(html: str) -> str:
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
        underline = "-" * min(_text_width(title), 60)
        tag.replace_with(NavigableString(f"\n{title}\n{underline}\n"))
    text = soup.get_text()
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- digest content ------------------------------------------------------------------------------


def _digest_notebook(run: Mapping[str, Any], run_dir: Path) -> tuple[str, Path]:
    notebooks = [nb for nb in run.get("notebooks") or [] if isinstance(nb, Mapping)]
    wanted = str(run.get("digest") or "")
    stem = wanted.removesuffix(".ipynb")
    entry = next(
        (nb for nb in notebooks if str(nb.get("name", "")).removesuffix(".ipynb") == stem), None
    )
    if entry is None and not wanted and notebooks:
        entry = notebooks[0]
    if entry is None:
        raise ReportError(
            f"run.json in {run_dir} names digest notebook {wanted!r}, which is not among its "
            f"notebooks {[nb.get('name') for nb in notebooks]}"
        )
    name = str(entry.get("name"))
    path = Path(run_dir) / str(entry.get("ipynb") or f"{stem or name}.ipynb")
    if not path.exists():
        raise ReportError(f"the executed digest notebook {path} does not exist")
    return name, path


def _extract(nb_path: Path, *, language: str, token: str, settings: Mapping[str, Any]) -> _Content:
    """Turn the executed digest notebook into email blocks (sanitized, masked, tables uncut)."""
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(f"the executed digest notebook {nb_path} cannot be read: {exc}") from exc
    content = _Content()
    allow = bool(settings["allow_personal_data"])
    heading = ""
    charts = content.charts

    def add_image(data: bytes, subtype: str, alt: str) -> _Chart | None:
        if len(charts) >= settings["max_charts"]:
            content.charts_left_out += 1
            return None
        number = len(charts) + 1
        chart = _prepare_chart(
            data,
            subtype,
            alt=alt or heading or labels("email", language)["chart_alt"].format(number=number),
        )
        if chart is None:
            return None
        chart.cid = f"chart-{number:02d}.{token}@crmwb"
        chart.file = f"chart-{number:02d}.{chart.subtype}"
        charts.append(chart)
        return chart

    def add_html(fragment: str, attachments: Mapping[str, Any] | None = None) -> None:
        soup, masked = _sanitize(
            fragment, add_image=add_image, attachments=attachments, allow_personal_data=allow
        )
        content.masked += masked
        nonlocal heading
        titles = soup.find_all(["h1", "h2", "h3", "h4"])
        heading = " ".join(titles[-1].get_text(" ").split()) if titles else heading
        if soup.get_text(strip=True) or soup.find("img"):
            content.blocks.append(
                _Block("html", html=str(soup), tables=len(soup.find_all("table")))
            )

    render = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & SKIP_TAGS:
            continue
        if cell.cell_type == "markdown":
            if cell.source.strip():
                add_html(str(render(cell.source)), cell.get("attachments"))
            continue
        if cell.cell_type != "code" or tags & _SKIP_OUTPUT_TAGS:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data", {})
            image = next((m for m in ("image/png", "image/jpeg") if m in data), None)
            if image is not None:
                decoded = _decode_image(f"data:{image};base64,{data[image]}")
                alt = str(output.get("metadata", {}).get("alt", "") or "")
                chart = add_image(*decoded, alt) if decoded else None
                if chart is not None:
                    content.blocks.append(_Block("chart", chart=chart))
            elif "text/html" in data:
                add_html(_pretrim(_text(data["text/html"]), settings["max_table_rows"]))
            elif "text/markdown" in data:
                add_html(str(render(_text(data["text/markdown"]))))
    return content


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _prepare_chart(data: bytes, subtype: str, *, alt: str) -> _Chart | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            width, height = img.size
            if width > _CHART_MAX_PIXELS:
                scaled = img.resize(
                    (_CHART_MAX_PIXELS, max(1, round(height * _CHART_MAX_PIXELS / width))),
                    Image.Resampling.LANCZOS,
                )
                buf = io.BytesIO()
                scaled.save(buf, format="PNG" if subtype == "png" else "JPEG", optimize=True)
                data, width = buf.getvalue(), _CHART_MAX_PIXELS
    except (OSError, ValueError) as exc:
        log.warning("an image output of the digest notebook is not a readable image: %s", exc)
        return None
    subtype = "jpeg" if subtype in ("jpg", "jpeg") else "png"
    return _Chart(data=data, subtype=subtype, width=min(width, CHART_WIDTH), alt=alt)


# -- rendering -----------------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def _css() -> str:
    return (_TEMPLATES / "email.css").read_text(encoding="utf-8")


def _inline(html: str) -> str:
    """Copy the CSS onto the elements; keep only the @media rule in <head>."""
    out = css_inline.inline(html, keep_at_rules=True, load_remote_stylesheets=False)
    # css-inline keeps class attributes; they only cost bytes once the styles are inline
    return re.sub(r'\sclass="[^"]*"', "", out)


def _common_context(run: Mapping[str, Any], run_dir: Path, language: str) -> dict[str, Any]:
    text = labels("email", language)
    status = run["status"]
    fingerprint = str(run.get("data_fingerprint") or "-")
    footer = [
        text["footer_run"].format(run_id=run.get("run_id") or "-", fingerprint=fingerprint[:16]),
        text["footer_sent"],
    ]
    period = _period(run, run_dir)
    subject_key = "subject_ok" if status == "ok" else "subject_failed"
    return {
        "L": text,
        "html_lang": "zh-CN" if language == "zh" else "en",
        "css": _css(),
        "pack": run["pack"],
        "title": _title(run),
        "period": period,
        "as_of": run.get("as_of") or "",
        "status": status,
        "status_label": text["status_ok" if status == "ok" else "status_failed"],
        "subject": text[subject_key].format(title=_title(run), period=period),
        "footer": footer,
    }


def _plan_reports(
    run: Mapping[str, Any], run_dir: Path, settings: Mapping[str, Any], language: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """How each full report reaches the reader: a link, an attachment, or the archive."""
    text = labels("email", language)
    base = settings["report_base_url"].rstrip("/")
    limit = float(settings["attach_limit_mb"]) * 1_000_000
    period = _period(run, run_dir)
    used = 0
    plan: list[dict[str, Any]] = []
    kinds = set()
    for nb in run.get("notebooks") or []:
        name = str(nb.get("name", ""))
        html_name = str(nb.get("html") or f"{name}.html")
        path = Path(run_dir) / html_name
        seconds = nb.get("seconds")
        row = {
            "name": name,
            "seconds": "" if seconds is None else text["seconds"].format(seconds=round(seconds)),
            "file": html_name,
            "url": "",
            "attach": False,
        }
        if nb.get("status", "ok") != "ok" or not path.exists():
            row["access"] = text["not_produced"]
        elif base:
            row["url"] = f"{base}/{run['pack']}/{period}/{html_name}"
            row["access"] = text["open_online"]
            kinds.add("linked")
        elif used + path.stat().st_size <= limit:
            used += path.stat().st_size
            row["attach"] = True
            row["access"] = text["attached"].format(size=_human_size(path.stat().st_size))
            kinds.add("attached")
        else:
            row["access"] = text["in_archive"]
            kinds.add("listed")
        plan.append(row)
    notes = []
    if "linked" in kinds:
        notes.append(text["reports_linked"])
    if "attached" in kinds:
        notes.append(text["reports_attached"])
    if "listed" in kinds:
        notes.append(
            text["reports_listed"].format(
                limit=_human_size(limit), folder=f"reports/{run['pack']}/{period}/"
            )
        )
    return plan, notes


@dataclass
class Digest:
    """The parts of a report email, ready to be written to disk or put into an EmailMessage.

    Attributes
    ----------
    kind
        ``"digest"`` for a successful run, ``"failure"`` for a failure notice.
    subject, html, text
        Subject line, the exact HTML body (with ``cid:`` image references), the plain text.
    images
        Inline images: ``(cid, subtype, bytes, file name)`` per chart.
    attachments
        Paths of the full HTML reports to attach.
    info
        What went into the email (for ``run.json["email"]``).
    """

    kind: str
    subject: str
    html: str
    text: str
    images: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def build_digest(run_dir: Path, *, settings: Mapping[str, Any] | None = None) -> Digest:
    """Build the executive digest of a successful run (a failure notice for a failed run).

    Parameters
    ----------
    run_dir
        The run folder ``reports/<pack>/<period>/`` holding ``run.json``.
    settings
        Overrides of the run's email settings (see :data:`EMAIL_DEFAULTS`).

    Returns
    -------
    Digest
        Subject, HTML body, plain text, inline images and attachments.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    if settings:
        run = {**run, "settings": {**(run.get("settings") or {}), **settings}}
    cfg = email_settings(run)
    language = _language(run)
    if run["status"] != "ok":
        return _failure_digest(run, run_dir, cfg, language)
    text = labels("email", language)
    digest_name, nb_path = _digest_notebook(run, run_dir)
    content = _extract(nb_path, language=language, token=_cid_token(run, run_dir), settings=cfg)
    reports, report_notes = _plan_reports(run, run_dir, cfg, language)
    context = _common_context(run, run_dir, language)
    limit = int(cfg["max_html_kb"]) * 1000
    blocks = list(content.blocks)
    steps = sorted({cfg["max_table_rows"], 8, 4, 2, 0}, reverse=True)
    steps = [s for s in steps if s <= cfg["max_table_rows"]]
    shortened = False
    while True:
        for rows in steps:
            html, rendered = _render_blocks(
                context, blocks, content, reports, report_notes, rows, cfg, shortened, language
            )
            if len(html.encode("utf-8")) <= limit:
                break
        else:
            # even without tables it is too long: keep small tables, drop sections from the end
            if not blocks:
                raise ReportError(
                    f"the email of {run_dir} is over {cfg['max_html_kb']} KB even without content"
                )
            steps = [min(2, cfg["max_table_rows"])]
            blocks.pop()
            shortened = True
            continue
        break
    for block in rendered["blocks"]:
        if block["kind"] == "html":
            block["text"] = _html_to_text(block["html"])
    if not content.blocks:
        log.warning("digest notebook %s of %s has no output to show", digest_name, run_dir)
    kept = [c for c in content.charts if f'src="cid:{c.cid}"' in html]
    plain = _environment().get_template("email.txt.j2").render(**rendered)
    return Digest(
        kind="digest",
        subject=context["subject"],
        html=html,
        text=plain,
        images=[(c.cid, c.subtype, c.data, c.file) for c in kept],
        attachments=[Path(run_dir) / r["file"] for r in reports if r["attach"]],
        info={
            "kind": "digest",
            "digest": digest_name,
            "language": language,
            "subject": context["subject"],
            "html_bytes": len(html.encode("utf-8")),
            "table_rows": rows,
            "shortened": shortened,
            "masked": content.masked,
            "charts_left_out": content.charts_left_out,
            "attachments": [r["file"] for r in reports if r["attach"]],
            "links": {r["name"]: r["url"] for r in reports if r["url"]},
            "archived": [r["file"] for r in reports if r["access"] == text["in_archive"]],
        },
    )


def _render_blocks(
    context: Mapping[str, Any],
    blocks: Sequence[_Block],
    content: _Content,
    reports: list[dict[str, Any]],
    report_notes: list[str],
    rows: int,
    cfg: Mapping[str, Any],
    shortened: bool,
    language: str,
) -> tuple[str, dict[str, Any]]:
    text = labels("email", language)
    shown = []
    for block in blocks:
        if block.kind == "chart" and block.chart is not None:
            chart = block.chart
            shown.append(
                {
                    "kind": "chart",
                    "cid": chart.cid,
                    "width": chart.width,
                    "alt": chart.alt,
                    "text": text["chart_text"].format(title=chart.alt),
                }
            )
        else:
            html = block.html
            if block.tables:
                html = _cut_tables(
                    html, max_rows=rows, max_cols=cfg["max_table_columns"], language=language
                )
            shown.append({"kind": "html", "html": html})
    notes = []
    if not blocks and not shortened:
        notes.append(text["no_digest"].format(name=context["title"]))
    if shortened:
        notes.append(text["body_shortened"])
    if content.charts_left_out:
        notes.append(text["charts_left_out"].format(count=content.charts_left_out))
    if content.masked:
        notes.append(text["masked"].format(count=content.masked))
    rendered = {
        **context,
        "blocks": shown,
        "notes": notes,
        "reports": reports,
        "report_notes": report_notes,
    }
    html = _environment().get_template("email.html.j2").render(**rendered)
    return _inline(html), rendered


# -- failure notice ------------------------------------------------------------------------------


def _short_error(error: Any, *, limit: int = 400) -> str:
    """The first lines of an error message, without terminal colour codes."""
    if not error:
        return ""
    text = _ANSI.sub("", error if isinstance(error, str) else json.dumps(error, ensure_ascii=False))
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and set(line.strip()) != {"-"}
    ]
    short = " · ".join(lines[:3])
    return short if len(short) <= limit else short[: limit - 1] + "…"


def _failure_digest(
    run: Mapping[str, Any], run_dir: Path, cfg: Mapping[str, Any], language: str
) -> Digest:
    text = labels("email", language)
    context = _common_context(run, run_dir, language)
    masked = 0

    def clean(error: Any) -> str:
        nonlocal masked
        short = _short_error(error)
        if not cfg["allow_personal_data"]:
            short, n = mask_personal(short)
            masked += n
        return short or "-"

    failed, files = [], []
    for nb in run.get("notebooks") or []:
        status = str(nb.get("status", "ok"))
        if status == "ok":
            continue
        failed.append(
            {
                "name": str(nb.get("name", "?")),
                "status": text.get(f"status_{status}", status),
                "error": clean(nb.get("error")),
            }
        )
        if nb.get("ipynb") and (Path(run_dir) / str(nb["ipynb"])).exists():
            files.append(str(nb["ipynb"]))
    if run.get("error") or not failed:
        failed.append(
            {
                "name": str(run["pack"]),
                "status": text["status_failed"],
                "error": clean(run.get("error")),
            }
        )
    # the console logs the runner records per notebook (run.json "log", under logs/): those of
    # the failed notebooks, or all of them when the run failed outside any notebook
    notebooks = [nb for nb in run.get("notebooks") or [] if isinstance(nb, Mapping)]
    broken = [nb for nb in notebooks if str(nb.get("status", "ok")) != "ok"] or notebooks
    for nb in broken:
        log_file = nb.get("log")
        if log_file and (Path(run_dir) / str(log_file)).exists() and str(log_file) not in files:
            files.append(str(log_file))
    rendered = {
        **context,
        "title": text["failure_title"].format(title=_title(run)),
        "intro": text["failure_intro"].format(pack=run["pack"], period=context["period"]),
        "failed": failed,
        "folder": str(_published_dir(run, run_dir)),
        "files": files,
        "command": f".venv/bin/crmwb run {run['pack']} --send",
    }
    env = _environment()
    html = _inline(env.get_template("email_failure.html.j2").render(**rendered))
    plain = env.get_template("email_failure.txt.j2").render(**rendered)
    return Digest(
        kind="failure",
        subject=context["subject"],
        html=html,
        text=plain,
        info={
            "kind": "failure",
            "language": language,
            "subject": context["subject"],
            "html_bytes": len(html.encode("utf-8")),
            "failed": [nb["name"] for nb in failed],
            "masked": masked,
        },
    )


# -- files and messages --------------------------------------------------------------------------


def write_email(run_dir: Path) -> Path:
    """Write the email of a run into its folder and record it in ``run.json["email"]``.

    Writes ``email.html`` (the exact HTML body that is sent, images as ``cid:`` references),
    ``email.txt`` (the plain-text alternative) and the chart images in ``email/``. For a failed
    run these hold the failure notice.

    Parameters
    ----------
    run_dir
        The run folder holding ``run.json``.

    Returns
    -------
    Path
        The path of ``email.html``.
    """
    run_dir = Path(run_dir)
    digest = build_digest(run_dir)
    images_dir = run_dir / "email"
    if images_dir.exists():
        for old in images_dir.glob("chart-*"):
            old.unlink()
    images = []
    if digest.images:
        images_dir.mkdir(exist_ok=True)
        for cid, subtype, data, name in digest.images:
            (images_dir / name).write_bytes(data)
            images.append({"file": f"email/{name}", "cid": cid, "subtype": subtype})
    html_path = run_dir / "email.html"
    _write_atomic(html_path, digest.html.encode("utf-8"))
    _write_atomic(run_dir / "email.txt", digest.text.encode("utf-8"))
    info = {
        **digest.info,
        "html": "email.html",
        "text": "email.txt",
        "images": images,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    update_run(run_dir, "email", info)
    return html_path


def _new_message(
    digest: Digest,
    *,
    run: Mapping[str, Any],
    run_dir: Path,
    to: str | Sequence[str],
    sender: str,
) -> EmailMessage:
    recipients = [to] if isinstance(to, str) else [str(r) for r in to]
    recipients = [r.strip() for r in recipients if r and r.strip()]
    if not recipients:
        raise ReportError(f"no recipient given for the {digest.kind} email of {run_dir}")
    address = parseaddr(sender)[1]
    if "@" not in address:
        raise ReportError(f"sender {sender!r} is not an email address (set CRMWB_SMTP_SENDER)")
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=digest.kind, domain=address.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "zh-CN" if _language(run) == "zh" else "en"
    msg["X-CRMWB-Kind"] = digest.kind
    msg["X-CRMWB-Run"] = f"{run['pack']}/{_period(run, run_dir)}/{run.get('run_id', '')}"
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    if digest.images:
        html_part = msg.get_payload()[1]
        for cid, subtype, data, name in digest.images:
            html_part.add_related(
                data,
                maintype="image",
                subtype=subtype,
                cid=f"<{cid}>",
                filename=name,
                disposition="inline",
            )
    for path in digest.attachments:
        msg.add_attachment(path.read_bytes(), maintype="text", subtype="html", filename=path.name)
    return msg


def build_message(run_dir: Path, *, to: str | Sequence[str], sender: str) -> EmailMessage:
    """The email of a run as an :class:`~email.message.EmailMessage`, ready to send.

    Uses the files written by :func:`write_email` (written first when missing), so the HTML sent
    is exactly ``email.html``. For a failed run this is :func:`failure_notice`.

    Parameters
    ----------
    run_dir
        The run folder holding ``run.json``.
    to
        One address or a list of addresses for the ``To`` header.
    sender
        The ``From`` address, e.g. ``"CRM Reports <crm@example.com>"``.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    if run["status"] != "ok":
        return failure_notice(run_dir, to=to, sender=sender)
    info = run.get("email") or {}
    needed = [info.get("html"), info.get("text")] + [i.get("file") for i in info.get("images", [])]
    if info.get("kind") != "digest" or not all(n and (run_dir / n).exists() for n in needed):
        write_email(run_dir)
        run = read_run(run_dir)
        info = run["email"]
    digest = Digest(
        kind="digest",
        subject=str(info["subject"]),
        html=(run_dir / info["html"]).read_text(encoding="utf-8"),
        text=(run_dir / info["text"]).read_text(encoding="utf-8"),
        images=[
            (i["cid"], i["subtype"], (run_dir / i["file"]).read_bytes(), Path(i["file"]).name)
            for i in info.get("images", [])
        ],
        attachments=[run_dir / name for name in info.get("attachments", [])],
    )
    missing = [p for p in digest.attachments if not p.exists()]
    if missing:
        raise ReportError(f"reports to attach are missing: {', '.join(map(str, missing))}")
    return _new_message(digest, run=run, run_dir=run_dir, to=to, sender=sender)


def failure_notice(run_dir: Path, *, to: str | Sequence[str], sender: str) -> EmailMessage:
    """A short email saying which notebooks of a failed run failed, why, and where the logs are.

    It never carries the broken report: no attachments, no links to it.

    Parameters
    ----------
    run_dir
        The run folder of a failed run.
    to
        One address or a list of addresses (the pack's failure recipients).
    sender
        The ``From`` address.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    if run["status"] == "ok":
        raise ReportError(f"the run in {run_dir} did not fail; send its digest instead")
    digest = _failure_digest(run, run_dir, email_settings(run), _language(run))
    return _new_message(digest, run=run, run_dir=run_dir, to=to, sender=sender)
