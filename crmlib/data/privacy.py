"""Masking of personal data for display: known personal fields, and contact data in free text.

Columns known to hold personal fields (:data:`~crmlib.data.schema.PERSONAL_FIELDS`) are masked
field by field (:func:`mask_personal`, :func:`mask_value`). :func:`mask_text` is the safety net
for text whose content nobody mapped: report prose, the email body, and the text of a malformed
source line kept in the quarantine or quoted in an error (:func:`mask_delimited`,
:func:`mask_line`), a whole HTML page (:func:`mask_html`).

:func:`spreadsheet_safe` (and :func:`spreadsheet_safe_sql` for a quarantine file written by the
database) keeps a CSV export from running formulas when it is opened in a spreadsheet: a text
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``,
as OWASP recommends against CSV injection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crmlib.data.schema import PERSONAL_FIELDS
from crmlib.errors import ConfigError

__all__ = [
    "FORMULA_START",
    "mask_value",
    "mask_personal",
    "mask_text",
    "mask_delimited",
    "mask_line",
    "mask_html",
    "spreadsheet_safe",
    "spreadsheet_safe_sql",
]


def mask_value(value: Any, kind: str) -> Any:
    """Mask one personal value for display.

    Parameters
    ----------
    value
        The value; None, NaN and empty strings are returned unchanged.
    kind
        Which personal field (one of :data:`PERSONAL_FIELDS`): ``phone`` keeps the first 3 and
        last 4 digits (``138****1234``), ``email`` the first character and the domain
        (``a***@x.com``), ``name`` the first character (``张**``), ``address`` the first 6
        characters (``上海市浦东新…``), ``postcode`` the first 3 characters, ``birthday`` the year.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return value
    text = str(value).strip()
    if not text:
        return value
    if kind == "phone":
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 8:
            return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
        return "*" * len(digits or text)
    if kind == "email":
        local, at, domain = text.partition("@")
        return f"{local[:1]}***@{domain}" if at else f"{text[:1]}***"
    if kind == "name":
        return text[:1] + "**"
    if kind == "address":
        return text[:6] + "…" if len(text) > 6 else text[:2] + "…"
    if kind == "postcode":
        return text[:3] + "***"
    if kind == "birthday":
        return text[:4] + "-**-**"
    raise ConfigError(
        f"parameter 'kind' must be one of {', '.join(map(repr, PERSONAL_FIELDS))}; got {kind!r}"
    )


def mask_personal(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Copy of ``frame`` with personal fields masked by :func:`mask_value`.

    Parameters
    ----------
    frame
        Any table.
    columns
        {column of ``frame``: kind of personal field}; by default every column named like a
        personal field (:data:`PERSONAL_FIELDS`).
    """
    if columns is None:
        columns = {c: c for c in frame.columns if c in PERSONAL_FIELDS}
    out = frame.copy()
    for column, kind in columns.items():
        if column in out.columns:
            out[column] = out[column].map(lambda v, k=kind: mask_value(v, k)).astype(object)
    return out


# Full-width forms (U+FF01..U+FF5E: １, ＠, ．, ＋ ...) read as their ASCII twins, one character
# for one, so a pattern can be matched on this shadow of a text and replaced in the text itself.
_ASCII_TWINS = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# An ASCII letter or digit (or _) right before or after a number makes it part of a code or id;
# CJK text does not: 手机13812345678 and 电话13812345678联系 are phone numbers.
_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"
# not a decimal fraction (0.13812345678, 13812345678.50) or a thousands group (1,380)
_NOT_DECIMAL_BEFORE = r"(?<![0-9]\.)"
_NOT_DECIMAL_AFTER = r"(?!\.[0-9])(?!,[0-9]{3}(?![0-9]))"
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RES = (
    # mainland China mobile, optionally with +86 / 86: 13800138000, +86 138 0013 8000,
    # 138-0013-8000, 138.0013.8000
    re.compile(
        rf"{_B}(?<!\+){_NOT_DECIMAL_BEFORE}(?:\+?86[\s-]?)?1[3-9][0-9](?:[\s.-]?[0-9]{{4}}){{2}}"
        rf"{_E}{_NOT_DECIMAL_AFTER}"
    ),
    # international with a leading +: +44 20 7946 0958, +1 (555) 123-4567
    re.compile(
        rf"{_B}(?<!\+)\+[0-9]{{1,3}}(?:[\s-]?\(?[0-9]{{1,4}}\)?){{2,5}}{_E}{_NOT_DECIMAL_AFTER}"
    ),
    # landline with an area code: 010-12345678, (0755) 8888 8888
    re.compile(
        rf"{_B}{_NOT_DECIMAL_BEFORE}\(?0[0-9]{{2,3}}\)?[\s-][0-9]{{3,4}}[\s-]?[0-9]{{4}}"
        rf"{_E}{_NOT_DECIMAL_AFTER}"
    ),
    # North American style: (555) 123-4567, 555-123-4567, 555.123.4567
    re.compile(
        rf"{_B}{_NOT_DECIMAL_BEFORE}\(?[0-9]{{3}}\)?[\s.-][0-9]{{3}}[.-][0-9]{{4}}"
        rf"{_E}{_NOT_DECIMAL_AFTER}"
    ),
)


def mask_text(text: str) -> tuple[str, int]:
    """Mask what looks like an email address or a phone number in ``text``.

    Email addresses keep their first character (``j***@***``); phone numbers keep their last two
    digits (``+** *** **** **00``). Numbers next to CJK text (``手机13812345678``), written in
    full-width digits (``１３８…``) or grouped with dots (``138.1234.5678``), and addresses with
    non-ASCII letters (``jürgen@bücher.de``, ``用户@例子.中国``) are found too. Amounts
    (``12,345.67``), dates, percentages and ids glued to letters (``ORD13812345678``) are not
    masked. This is a safety net for report text, not a PII detector: it errs towards masking
    long separated digit groups.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    tuple of (str, int)
        The masked text and how many items were masked.
    """
    count = 0

    def email(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return text[match.start()] + "***@***"

    def phone(match: re.Match[str]) -> str:
        nonlocal count
        found = text[match.start() : match.end()]
        shadow = match.group(0)
        digits = sum(ch in "0123456789" for ch in shadow)
        if not 8 <= digits <= 15:
            return found
        count += 1
        seen = 0
        out = []
        for ch, twin in zip(found, shadow, strict=True):
            if twin in "0123456789":
                seen += 1
                out.append(ch if seen > digits - 2 else "*")
            else:
                out.append(ch)
        return "".join(out)

    for pattern, replace in [(_EMAIL_RE, email)] + [(p, phone) for p in _PHONE_RES]:
        shadow = text.translate(_ASCII_TWINS)
        pieces, last = [], 0
        for match in pattern.finditer(shadow):
            pieces += [text[last : match.start()], replace(match)]
            last = match.end()
        text = "".join(pieces) + text[last:]
    return text, count


_FIELD_SEPARATORS = re.compile(r"([,;\t|])")


def mask_delimited(text: str) -> tuple[str, int]:
    """:func:`mask_text` applied to each field of a delimited line (``,`` ``;`` tab ``|``).

    Each field is masked on its own, so no pattern runs across a separator.

    Returns
    -------
    tuple of (str, int)
        The masked line and how many items were masked.
    """
    pieces = _FIELD_SEPARATORS.split(text)
    count = 0
    for i in range(0, len(pieces), 2):  # even indexes are fields, odd ones separators
        pieces[i], n = mask_text(pieces[i])
        count += n
    return "".join(pieces), count


def mask_line(text: str | None, *, whole: bool = False) -> str | None:
    """The raw text of a source line as an error message or a view may quote it.

    Parameters
    ----------
    text
        The line (None and "" are returned as they are).
    whole
        True for a line of the customers table, whose names and addresses no pattern finds:
        all of it becomes ``***``. False: its email addresses and phone numbers are masked
        (:func:`mask_delimited`).
    """
    if not text:
        return text
    return "***" if whole else mask_delimited(text)[0]


_TAG_OR_TEXT = re.compile(r"(<!--.*?-->|<[^>]*>)", re.S)
_ATTRIBUTE = re.compile(r"""(\s[\w:-]+\s*=\s*)("[^"]*"|'[^']*')""")


def mask_html(page: str) -> tuple[str, int]:
    """:func:`mask_text` applied to the text and attribute values of an HTML page.

    The markup stays as it is: tags, and attribute values holding ``data:`` URIs (embedded
    images), are not changed; text between tags (table cells, headings, scripts holding data)
    and the other attribute values (``title``, ``alt``, ``href`` …) are masked. Fast enough for
    a full report page of several MB, which an HTML parser would read slowly.

    Returns
    -------
    tuple of (str, int)
        The masked page and how many items were masked.
    """
    count = 0

    def attribute(match: re.Match[str]) -> str:
        nonlocal count
        quoted = match.group(2)
        if quoted[1:].lstrip().lower().startswith("data:"):
            return match.group(0)
        new, n = mask_text(quoted)
        count += n
        return match.group(1) + new

    pieces = _TAG_OR_TEXT.split(page)
    for i, piece in enumerate(pieces):
        if i % 2 and not piece.startswith("<!--"):  # a tag
            pieces[i] = _ATTRIBUTE.sub(attribute, piece)
        elif piece:  # text or a comment
            pieces[i], n = mask_text(piece)
            count += n
    return "".join(pieces), count


#: A CSV cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a plain number (-12, +3.5, -1e-3) is a number to a spreadsheet, not a formula
_PLAIN_NUMBER = r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"


def _is_text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _safe_cell(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not re.fullmatch(_PLAIN_NUMBER, value)
    ):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` that a spreadsheet opens without running anything in it.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    (:data:`FORMULA_START`) gets a leading ``'`` (OWASP's advice on CSV injection), so
    ``=HYPERLINK(...)`` in a product name is shown as text. Numeric columns are left alone (a
    negative number is a number), and so is text that is a plain number (``-12.5``). Column
    names and a text index are treated the same way. Every CSV export goes through this.

    Parameters
    ----------
    frame
        The table about to be written as CSV.
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if _is_text(column.dtype):
            out.isetitem(position, column.map(_safe_cell))
    if out.columns.nlevels == 1:
        out.columns = out.columns.map(_safe_cell)
    if out.index.nlevels == 1 and _is_text(out.index.dtype):
        out.index = out.index.map(_safe_cell)
    return out


def spreadsheet_safe_sql(query: str, *, keep: Sequence[str] = ()) -> str:
    """SQL (DuckDB) selecting what ``query`` selects, with :func:`spreadsheet_safe`'s rule applied
    to every column except ``keep``: for a CSV the database writes itself (``COPY … TO``).

    Parameters
    ----------
    query
        A ``SELECT`` statement.
    keep
        Columns left as they are (row numbers, reason codes); they come first.
    """
    starts = "".join({"\t": "\\t", "\r": "\\r", "-": "\\-"}.get(c, c) for c in FORMULA_START)
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in keep)
    others = f"COLUMNS(* EXCLUDE ({quoted}))" if keep else "COLUMNS(*)"
    text = f"CAST({others} AS VARCHAR)"
    safe = (
        f"CASE WHEN regexp_matches({text}, '^[{starts}]') "
        f"AND NOT regexp_full_match({text}, '{_PLAIN_NUMBER}') "
        f"THEN '''' || {text} ELSE {text} END"
    )
    return f"SELECT {quoted + ', ' if keep else ''}{safe} FROM ({query})"
