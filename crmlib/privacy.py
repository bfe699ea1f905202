"""Masking of personal data (email addresses, phone numbers) inside free text.

Columns known to hold personal fields are masked field by field (:func:`crmlib.data.mask_personal`);
this module is the safety net for text whose content nobody mapped: report prose, the email body,
and the text of a malformed source line kept in the quarantine.
"""

from __future__ import annotations

import re

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
