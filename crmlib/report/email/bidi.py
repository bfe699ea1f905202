"""Invisible direction controls taken out of email text.

Unicode bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) change the order in
which the following characters are shown without being visible themselves: a file name
``invoice‮fdp.exe`` shows as ``invoiceexe.pdf``. Text from data (campaign names, SKUs, error
messages) reaches the subject and body of an email, so every email text passes through
:func:`strip_bidi` before it is written or sent. Right-to-left scripts need none of these
controls to display correctly.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "strip_bidi"]

#: The explicit bidirectional formatting characters of Unicode (UAX #9, table 1): embeddings,
#: overrides, isolates and their terminators, and the implicit marks LRM, RLM and ALM.
BIDI_CONTROLS: frozenset[str] = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_BIDI = re.compile(f"[{''.join(sorted(BIDI_CONTROLS))}]")


def strip_bidi(text: str) -> str:
    """``text`` without Unicode bidirectional controls (:data:`BIDI_CONTROLS`)."""
    return _BIDI.sub("", text)
