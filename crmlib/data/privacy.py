"""Masking of personal data for display: known personal fields, and contact data in free text.

Columns known to hold personal fields (:data:`~crmlib.data.schema.PERSONAL_FIELDS`) are masked
field by field (:func:`mask_personal`, :func:`mask_value`). :func:`mask_text` is the safety net
for text whose content nobody mapped: report prose, the email body, and the text of a malformed
source line kept in the quarantine (:func:`mask_delimited`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmlib.data.schema import PERSONAL_FIELDS
from crmlib.errors import ConfigError

__all__ = ["mask_value", "mask_personal", "mask_text", "mask_delimited"]


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


_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE_RES = (
    # mainland China mobile, optionally with +86 / 86: 13800138000, +86 138 0013 8000
    re.compile(r"(?<![\w.,+])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\w|[.,]\d)"),
    # international with a leading +: +44 20 7946 0958, +1 (555) 123-4567
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\w|[.,]\d)"),
    # landline with an area code: 010-12345678, (0755) 8888 8888
    re.compile(r"(?<![\w.,])\(?0\d{2,3}\)?[\s-]\d{3,4}[\s-]?\d{4}(?!\w|[.,]\d)"),
    # North American style: (555) 123-4567, 555-123-4567, 555.123.4567
    re.compile(r"(?<![\w.,])\(?\d{3}\)?[\s.-]\d{3}[.-]\d{4}(?!\w|[.,]\d)"),
)


def mask_text(text: str) -> tuple[str, int]:
    """Mask what looks like an email address or a phone number in ``text``.

    Email addresses keep their first character (``j***@***``); phone numbers keep their last two
    digits (``+** *** **** **00``). This is a safety net for report text, not a PII detector:
    it errs towards masking long separated digit groups.

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
        return match.group(0)[0] + "***@***"

    def phone(match: re.Match[str]) -> str:
        nonlocal count
        found = match.group(0)
        digits = sum(ch.isdigit() for ch in found)
        if not 8 <= digits <= 15:
            return found
        count += 1
        seen = 0
        out = []
        for ch in found:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > digits - 2 else "*")
            else:
                out.append(ch)
        return "".join(out)

    text = _EMAIL_RE.sub(email, text)
    for pattern in _PHONE_RES:
        text = pattern.sub(phone, text)
    return text, count


_FIELD_SEPARATORS = re.compile(r"([,;\t|])")


def mask_delimited(text: str) -> tuple[str, int]:
    """:func:`mask_text` applied to each field of a delimited line (``,`` ``;`` tab ``|``).

    A phone number right after a comma is not masked by :func:`mask_text`, which keeps digit
    groups such as ``1,234`` intact; in a raw CSV line every field follows a separator.

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
