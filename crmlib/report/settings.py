"""The settings of a report pack, each checked on its own.

A pack in ``params/reports.yaml`` names its notebooks and says how its run folder is named
(``period``), when it runs (``schedule`` in ``timezone``), how long each notebook may take
(``timeout``), who gets the email (``recipients``) and how the email is built (``email``). The
functions here check one setting each; :func:`crmlib.report.packs.build_pack` puts them together.
Every problem raises :class:`~crmlib.errors.ConfigError` naming the pack and the setting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from crmlib.config import check_choice, check_range
from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES
from crmlib.report.parameters import error_prefix, matches_type

__all__ = [
    "DEFAULT_TIMEOUT",
    "EMAIL_DEFAULTS",
    "PERIODS",
    "check_base_url",
    "check_cron",
    "check_description",
    "check_email_settings",
    "check_names",
    "check_recipients",
    "check_timeouts",
    "check_timezone",
    "period_name",
]

#: The run folder of a pack is named after the period its ``as_of`` date falls in.
PERIODS: tuple[str, ...] = ("day", "week", "month")
#: Seconds a notebook may run unless its pack says otherwise.
DEFAULT_TIMEOUT: float = 600.0

#: Email settings a pack may give under ``email:`` (copied into ``run.json["settings"]``, where
#: :mod:`crmlib.report.email` reads them), with their defaults.
EMAIL_DEFAULTS: dict[str, Any] = {
    "report_base_url": "",  # base URL of the published reports/ folder; links instead of files
    "attach_limit_mb": 0.0,  # total size of attached full reports, in MB; 0: attach none (ask for it)
    "allow_personal_data": False,  # True keeps phone numbers and email addresses in the digest
    "max_table_rows": 15,  # body rows shown per table before "showing the first N of M rows"
    "max_table_columns": 10,  # columns shown per table
    "max_charts": 12,  # charts shown in the body; the rest are in the full report
    "max_html_kb": 100,  # size of the HTML body in KB (Gmail clips at about 102 KB)
    "send_when_nothing_changed": True,  # False: no digest when the run's alerts list no change
}
#: (type, lowest, highest) each email setting must have.
_EMAIL_CHECKS: dict[str, tuple[str, float | None, float | None]] = {
    "report_base_url": ("str", None, None),
    "attach_limit_mb": ("float", 0, None),
    "allow_personal_data": ("bool", None, None),
    "max_table_rows": ("int", 1, None),
    "max_table_columns": ("int", 1, None),
    "max_charts": ("int", 1, None),
    "max_html_kb": ("float", 10, 102),
    "send_when_nothing_changed": ("bool", None, None),
}

_EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
_BASE_URL = re.compile(r"https?://[^/?#@\s\\]+(?:[/?#]\S*)?", re.IGNORECASE)


def period_name(period: str, day: dt.date) -> str:
    """Name of the run folder for ``day``: ``2026-W47`` (week), ``2026-11`` (month), ``2026-11-22`` (day).

    Weeks are ISO weeks (Monday first), so the days around New Year belong to the ISO year.
    """
    check_choice("period", period, PERIODS)
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def check_cron(name: str, value: Any) -> str:
    """Return ``value`` if it is a valid cron expression (croniter syntax), else raise."""
    if not isinstance(value, str) or not croniter.is_valid(value):
        raise ConfigError(
            f"parameter {name!r} must be a cron expression such as '0 7 * * 1' "
            f"(minute hour day-of-month month day-of-week); got {value!r}"
        )
    return value


def check_timezone(name: str, value: Any) -> str:
    """Return ``value`` if it is an IANA time zone name (``Asia/Shanghai``), else raise."""
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"parameter {name!r} must be an IANA time zone such as 'Asia/Shanghai' or 'UTC'; "
            f"got {value!r}"
        ) from None
    return str(value)


def check_names(value: Any, what: str, where: str) -> list[str]:
    """``value`` as a list of names (one name or None allowed); ``what`` and ``where`` (an
    :func:`~crmlib.report.parameters.error_prefix`) name it in the error."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}{what} must be a list of names; got {value!r}")
    return value


def check_recipients(value: Any, where: str) -> dict[str, list[str]]:
    """A pack's ``recipients``: ``{"success": [addresses], "failure": [addresses]}``."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}recipients must be a mapping {{success: [...], failure: [...]}}; got {value!r}"
        )
    unknown = set(value) - {"success", "failure"}
    if unknown:
        raise ConfigError(
            f"{where}recipients may list 'success' and 'failure' only; got {sorted(unknown)}"
        )
    out = {}
    for kind in ("success", "failure"):
        addresses = check_names(value.get(kind), f"recipients.{kind}", where)
        for address in addresses:
            # one address, bare or written "Name <a@b.example>", on one line
            found = getaddresses([address])
            if (
                len(found) != 1
                or not _EMAIL_ADDRESS.fullmatch(found[0][1])
                or any(ord(c) < 32 or ord(c) == 127 for c in address)
            ):
                raise ConfigError(
                    f"{where}recipients.{kind} holds {address!r}, which is not an email address"
                )
        out[kind] = addresses
    return out


def check_email_settings(value: Any, *, pack: str | None = None) -> dict[str, Any]:
    """Validate a pack's ``email:`` mapping (keys and types as in :data:`EMAIL_DEFAULTS`).

    Returns the settings given (defaults are not filled in), numbers as int or float.

    Raises
    ------
    ConfigError
        Naming the pack and the setting for an unknown key, a wrong type or a value out of range.
    """
    where = error_prefix(pack)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}email must be a mapping of settings ({', '.join(EMAIL_DEFAULTS)}); "
            f"got {value!r}"
        )
    unknown = sorted(str(k) for k in set(value) - set(EMAIL_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{where}unknown email setting(s) {unknown}; allowed: {', '.join(EMAIL_DEFAULTS)}"
        )
    out: dict[str, Any] = {}
    for key, given in value.items():
        kind, low, high = _EMAIL_CHECKS[key]
        name = f"email.{key}"
        if not matches_type(given, kind):
            raise ConfigError(
                f"{error_prefix(pack, None, name)}must be {'a number' if kind == 'float' else kind}; "
                f"got {type(given).__name__} {given!r}"
            )
        if low is not None or high is not None:
            try:
                check_range(name, given, low=low, high=high)
            except ConfigError as exc:
                raise ConfigError(f"{where}{exc}") from None
        if key == "report_base_url":
            given = check_base_url(given, where=where)
        out[key] = given
    return out


def check_base_url(value: Any, *, where: str = "") -> str:
    """``report_base_url``: empty, or an ``http://`` / ``https://`` address with a host.

    The email links every full report under it, so any other scheme (``javascript:``,
    ``file:``, ``data:``) and any space or control character are refused.

    Parameters
    ----------
    value
        The setting as given.
    where
        An :func:`~crmlib.report.parameters.error_prefix` naming the pack.
    """
    text = "" if value is None else str(value)
    if text and (not _BASE_URL.fullmatch(text) or any(ord(c) < 33 or ord(c) == 127 for c in text)):
        raise ConfigError(
            f"{where}email.report_base_url must be a web address starting http:// or https:// "
            f"(e.g. https://reports.example.com/crm); got {text!r}"
        )
    return text


def check_description(value: Any, where: str) -> str | dict[str, str]:
    """A pack's description: one line of text, or {en: ..., zh: ...}."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in set(value) - set(LANGUAGES))
        if unknown or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(
                f"{where}description must be text or a mapping {{en: text, zh: text}}; got {value!r}"
            )
        return {str(k): v for k, v in value.items()}
    return str(value)


def check_timeouts(value: Any, notebooks: Sequence[str], pack: str) -> dict[str, float]:
    """Per-notebook timeouts from a number or a mapping {default: s, <notebook>: s}."""
    where = error_prefix(pack)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        value = {"default": value}
    unknown = set(value) - {"default", *notebooks}
    if unknown:
        raise ConfigError(
            f"{where}timeout names {sorted(unknown)}, which are not notebooks of the pack"
        )
    out = {}
    for name in notebooks:
        seconds = value.get(name, value.get("default", DEFAULT_TIMEOUT))
        try:
            out[name] = float(check_range("timeout", seconds, low=0, low_inclusive=False))
        except ConfigError as exc:
            raise ConfigError(f"{error_prefix(pack, name)}{exc}") from None
    return out
