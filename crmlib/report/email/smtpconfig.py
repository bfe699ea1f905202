"""SMTP settings: where the server is, how to reach it safely, and who sends.

Read from environment variables or a git-ignored ``.env`` file in the project root (see
:mod:`crmlib.report.email.delivery` for the variables). Values are checked where they are read:
a sender with a line break cannot add headers, and a login is never sent in clear text to
another machine.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from dotenv import dotenv_values

from crmlib.config import PARAMS_FOLDER, check_choice, check_range
from crmlib.errors import ConfigError

__all__ = [
    "SECURITY_PORTS",
    "SmtpSettings",
    "check_plain_login",
    "check_sender",
    "is_loopback",
    "project_root",
    "smtp_settings",
]

#: Security modes of the SMTP connection and their default ports.
SECURITY_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
#: Host names taken as this machine without looking them up (plain-text login is allowed there).
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server (:mod:`crmlib.report.email.delivery` lists the variables)."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding
    ``pyproject.toml`` or a ``params/`` folder (an installed workbook's project has no
    ``pyproject.toml``); ``start`` itself when there is none."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() or (folder / PARAMS_FOLDER).is_dir():
            return folder
    return start


def smtp_settings(
    *, env: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> SmtpSettings:
    """Read the SMTP settings from the environment and a ``.env`` file.

    Parameters
    ----------
    env
        The environment to read (default ``os.environ``); its values win over the file's.
    dotenv_path
        The ``.env`` file (default: ``.env`` in :func:`project_root`). A missing file is fine.
        The file is only read: ``os.environ`` is not changed.

    Raises
    ------
    ConfigError
        When a value is invalid; the message names the variable.
    """
    path = Path(dotenv_path) if dotenv_path is not None else project_root() / ".env"
    values: dict[str, str] = {}
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ if env is None else env)

    def get(name: str, default: str = "") -> str:
        return str(values.get(f"CRMWB_SMTP_{name}", "") or default).strip()

    def number(name: str, default: float, *, low: float, high: float | None = None) -> float:
        raw = get(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"CRMWB_SMTP_{name} must be a number; got {raw!r}") from None
        return check_range(f"CRMWB_SMTP_{name}", value, low=low, high=high)

    security = check_choice(
        "CRMWB_SMTP_SECURITY", get("SECURITY", "starttls").lower(), SECURITY_PORTS
    )
    sender = get("SENDER")
    if sender:
        check_sender(sender)
    return SmtpSettings(
        host=get("HOST"),
        port=int(number("PORT", SECURITY_PORTS[security], low=1, high=65535)),
        security=security,
        user=get("USER"),
        password=str(values.get("CRMWB_SMTP_PASSWORD", "") or ""),
        sender=sender,
        timeout=number("TIMEOUT", 30.0, low=0.1),
        retries=int(number("RETRIES", 3, low=0, high=20)),
        backoff=number("BACKOFF", 2.0, low=0),
    )


def check_sender(sender: str) -> str:
    """Return ``sender`` if it is one From address (``Name <a@b.example>`` or ``a@b.example``).

    Raises
    ------
    ConfigError
        Naming ``CRMWB_SMTP_SENDER`` for a line break or other control character (which would
        let the value add mail headers) or a value that holds no single address.
    """
    bad = [c for c in sender if ord(c) < 32 or ord(c) == 127]
    if bad:
        raise ConfigError(
            f"CRMWB_SMTP_SENDER must be one line without control characters; got {sender!r}"
        )
    address = parseaddr(sender)[1]
    if "@" not in address or address.count("@") != 1:
        raise ConfigError(
            "CRMWB_SMTP_SENDER must be one address such as 'CRM Reports <crm@example.com>'; "
            f"got {sender!r}"
        )
    return sender


def is_loopback(host: str) -> bool:
    """True when ``host`` is this machine: ``localhost`` or a loopback address (127.0.0.0/8,
    ``::1``). Other names are not looked up, so a name cannot be made to point here."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_plain_login(settings: SmtpSettings) -> None:
    """Refuse to send a login and password unencrypted to another machine."""
    if settings.user and settings.security == "none" and not is_loopback(settings.host):
        raise ConfigError(
            f"CRMWB_SMTP_SECURITY=none would send the login of CRMWB_SMTP_USER in clear text to "
            f"{settings.host!r}; use starttls or ssl (a plain-text login is allowed only to this "
            "machine: localhost, 127.0.0.1, ::1)"
        )
