"""The workbook's exception hierarchy.

Every problem a user can cause (bad data, bad parameters, a failing report) raises a subclass of
:class:`CrmError`, so the command line can print a readable message instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CrmError",
    "DataError",
    "ConfigError",
    "ReportError",
    "CrmWarning",
    "did_you_mean",
]


class CrmError(Exception):
    """Base class of every error the workbook raises on purpose."""


class DataError(CrmError):
    """Input data cannot be used: a file is missing, a required column is absent, nothing parses.

    The message names the file, column, row and value wherever they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        value: object | None = None,
    ) -> None:
        self.file, self.column, self.row, self.value = file, column, row, value
        where = [
            f"{label} {val!r}" if label == "value" else f"{label} {val}"
            for label, val in (("file", file), ("column", column), ("row", row), ("value", value))
            if val is not None
        ]
        super().__init__(message + (f" ({', '.join(where)})" if where else ""))


class ConfigError(CrmError):
    """A parameter or params file is invalid; the message names it, what is allowed and what was given."""


class ReportError(CrmError):
    """A report run, export or delivery failed."""


class CrmWarning(UserWarning):
    """A result can be computed but should be read with care (weak fit, model assumption broken)."""


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'sales_value'?"`` for the closest of ``choices``, or ``""`` if none is close.

    For error messages about a name that is not there: a mapped column missing from a file's
    header, an unknown params key. Case and surrounding spaces are ignored when comparing.
    """
    names = [str(c) for c in choices]
    folded = {n.strip().casefold(): n for n in names}
    close = difflib.get_close_matches(str(word).strip().casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean {folded[close[0]]!r}?" if close else ""
