"""Sending the email of a report run over SMTP, exactly once per recipient.

SMTP settings come from environment variables, or from a git-ignored ``.env`` file in the project
root (real environment variables win; see ``.env.example``):

=========================  ==================================================================
``CRMWB_SMTP_HOST``        server name (required to send)
``CRMWB_SMTP_PORT``        port; default 587 for ``starttls``, 465 for ``ssl``, 25 for ``none``
``CRMWB_SMTP_SECURITY``    ``starttls`` (default), ``ssl`` or ``none`` (plain text: a login is
                           then refused unless the host is this machine, 127.0.0.1 / ::1 / localhost)
``CRMWB_SMTP_USER``        login name (no login when empty)
``CRMWB_SMTP_PASSWORD``    login password
``CRMWB_SMTP_SENDER``      the From address, e.g. ``CRM Reports <crm@example.com>`` (required)
``CRMWB_SMTP_TIMEOUT``     seconds to wait for the server (default 30)
``CRMWB_SMTP_RETRIES``     further attempts after a failed one (default 3)
``CRMWB_SMTP_BACKOFF``     seconds before the first retry, doubling each time (default 2)
=========================  ==================================================================

A successful run's digest goes to the pack's ``success`` recipients; a failed run sends only the
failure notice to the ``failure`` recipients. Each message is written to ``<run>/outbox/`` before
it is sent and removed from there once the server accepted it; ``<run>/sent.json`` records, per
recipient and message kind, the Message-ID and the time. A second ``send`` therefore never
emails anyone twice, and ``send --retry`` sends what is left in the outbox with its original
Message-ID. Delivery is at-least-once: if the process dies between the server's acceptance and
the write of ``sent.json``, that one message is sent again.

A recipient the server refuses permanently (a 5xx reply to RCPT TO or to the message) is recorded
once in ``<run>/refused.json`` with the server's reply, reported, and taken out of the outbox:
neither ``send`` nor ``send --retry`` tries that address again for the run. Temporary refusals
(4xx, a server that is down) stay in the outbox for ``send --retry``.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from filelock import Timeout as LockTimeout

from crmlib.alerts import CHANGES_FILE
from crmlib.errors import ConfigError, ReportError
from crmlib.report.archive import list_runs, read_run, send_lock, write_atomic, write_json
from crmlib.report.email.message import build_message, failure_notice
from crmlib.report.email.smtpconfig import (
    SECURITY_PORTS,
    SmtpSettings,
    check_plain_login,
    check_sender,
    project_root,
    smtp_settings,
)

__all__ = [
    "DRY_RUN_OUTBOX",
    "OUTBOX",
    "REFUSED_LOG",
    "SECURITY_PORTS",
    "SENT_LOG",
    "SendResult",
    "SmtpSettings",
    "project_root",
    "read_refused_log",
    "read_sent_log",
    "runs_with_outbox",
    "send_run",
    "smtp_settings",
]

log = logging.getLogger(__name__)

#: Folder names inside a run folder.
OUTBOX, DRY_RUN_OUTBOX, SENT_LOG = "outbox", "outbox-dry-run", "sent.json"
#: Recipients refused permanently, with the server's reply (never tried again for the run).
REFUSED_LOG = "refused.json"
_KIND_HEADER = "X-CRMWB-Kind"
_LOCK_WAIT = 120.0  # seconds a send waits for another send of the same run


@dataclass
class SendResult:
    """What :func:`send_run` did.

    Attributes
    ----------
    run_dir, kind
        The run folder and the kind of message (``"digest"`` or ``"failure"``).
    sent
        Recipients the server accepted a message for in this call.
    already_sent
        Recipients skipped because ``sent.json`` shows they already got this message.
    failed
        Recipient to error, for messages not delivered (they stay in the outbox).
    refused
        Recipient to the server's reply, for recipients refused permanently in this call
        (recorded in ``refused.json``, not in the outbox, never tried again).
    refused_before
        Recipient to the reply recorded earlier: skipped because refused permanently before.
    outbox
        Messages waiting in ``<run>/outbox/`` for ``send --retry``.
    written
        In a dry run, the ``.eml`` files written instead of sending.
    skipped
        Why nothing was sent on purpose (the pack sends no digest when its alerts list no
        change), or ``""``.
    """

    run_dir: Path
    kind: str
    dry_run: bool = False
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    refused_before: dict[str, str] = field(default_factory=dict)
    outbox: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing failed and nobody was refused in this call."""
        return not self.failed and not self.refused

    def __str__(self) -> str:
        return f"{self.run_dir}: {self.summary()}"

    def summary(self) -> str:
        """One line for logs and the command line."""
        if self.skipped:
            return f"{self.kind}: not sent: {self.skipped}"
        if self.dry_run:
            return (
                f"{self.kind}: dry run, {len(self.written)} message(s) written to {DRY_RUN_OUTBOX}/"
            )
        parts = [f"{self.kind}: sent {len(self.sent)}", f"already sent {len(self.already_sent)}"]
        if self.failed:
            parts.append(f"failed {len(self.failed)} ({len(self.outbox)} in {OUTBOX}/)")
        for label, refused in (("refused", self.refused), ("refused before", self.refused_before)):
            if refused:
                shown = "; ".join(f"{who}: {why}" for who, why in refused.items())
                parts.append(f"{label} (permanent, not retried) {len(refused)}: {shown}")
        return ", ".join(parts)


# -- send log and outbox -------------------------------------------------------------------------


def read_sent_log(run_dir: Path) -> list[dict[str, str]]:
    """The entries of ``<run>/sent.json``: recipient, kind, message_id, sent_at."""
    path = Path(run_dir) / SENT_LOG
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc}); fix or remove it") from exc
    return list(data.get("sent", []))


def _record_sent(run_dir: Path, entry: dict[str, str]) -> None:
    write_json(Path(run_dir) / SENT_LOG, {"sent": read_sent_log(run_dir) + [entry]})


def read_refused_log(run_dir: Path) -> list[dict[str, str]]:
    """The entries of ``<run>/refused.json``: recipient, kind, error, refused_at."""
    path = Path(run_dir) / REFUSED_LOG
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc}); fix or remove it") from exc
    return list(data.get("refused", []))


def _record_refused(run_dir: Path, entry: dict[str, str]) -> None:
    write_json(Path(run_dir) / REFUSED_LOG, {"refused": read_refused_log(run_dir) + [entry]})


def _address(value: str) -> str:
    return parseaddr(value)[1].strip().lower()


def _slug(recipient: str) -> str:
    return re.sub(r"[^a-z0-9@._-]", "_", recipient.lower())


def runs_with_outbox(reports_dir: str | Path = "reports") -> list[Path]:
    """Run folders under ``reports_dir`` whose ``outbox/`` still holds unsent messages, oldest
    first: what ``crmwb send --retry`` without a run sends."""
    reports_dir = Path(reports_dir)
    found = [reports_dir / run["path"] for run in list_runs(reports_dir)]
    return [run for run in reversed(found) if any((run / OUTBOX).glob("*.eml"))]


def _outbox_path(folder: Path, kind: str, recipient: str) -> Path:
    return folder / f"{kind}--{_slug(recipient)}.eml"


def _read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        return email.message_from_binary_file(fh, policy=email.policy.default)


def _write_eml(path: Path, msg: EmailMessage) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, msg.as_bytes())


def _recipients(run: Mapping[str, Any], kind: str) -> list[str]:
    group = "success" if kind == "digest" else "failure"
    given = (run.get("recipients") or {}).get(group) or []
    if isinstance(given, str):
        given = [given]
    seen, out = set(), []
    for value in given:
        address = _address(str(value))
        if address and address not in seen:
            seen.add(address)
            out.append(str(value).strip())
    return out


# -- SMTP ----------------------------------------------------------------------------------------


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.security == "ssl":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            conn.starttls(context=context)
    if settings.user:
        check_plain_login(settings)
        conn.login(settings.user, settings.password)
    return conn


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        return f"{type(exc).__name__} {exc.smtp_code}: {text}"
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: BaseException) -> bool:
    """The server refused this recipient or this message for good (a 5xx reply to RCPT TO or
    to the message); retrying will not change it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _fatal(exc: BaseException) -> bool:
    """A problem with the server, the account or the sender that stops every further message
    (it stays in the outbox for ``send --retry`` once fixed)."""
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError)


def _describe_refusal(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
            for code, text in exc.recipients.values()
        )
    return _describe(exc)


# -- sending -------------------------------------------------------------------------------------


def _nothing_changed(run: Mapping[str, Any], run_dir: Path) -> str:
    """Why the digest is not sent, or "": the pack asks for no email when its alerts
    (``<run>/alerts/changes.json``, :func:`crmlib.alerts.save_states`) list no change."""
    if (run.get("settings") or {}).get("send_when_nothing_changed", True):
        return ""
    path = run_dir / CHANGES_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""  # no alert counts: the run is not an alert run, send as usual
    if int(summary.get("total", 1)) > 0:
        return ""
    since = summary.get("compared_with")
    return (
        f"nothing changed since {since}" if since else "first run: states kept as the baseline"
    ) + " (send_when_nothing_changed: false)"


def send_run(
    run_dir: Path,
    *,
    dry_run: bool = False,
    retry: bool = False,
    settings: SmtpSettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Email a run: the digest to its success list, or the failure notice to its failure list.

    Parameters
    ----------
    run_dir
        The run folder ``reports/<pack>/<period>/`` holding ``run.json``.
    dry_run
        Write the messages to ``<run>/outbox-dry-run/*.eml`` instead of sending them.
    retry
        Send only the messages left in ``<run>/outbox/`` by an earlier failed send.
    settings
        SMTP settings (default: :func:`smtp_settings` with the ``.env`` of the run's project).
    sleep
        Waits between attempts (replaceable in tests).

    Returns
    -------
    SendResult
        Who got the message now, who had it already, what failed and what waits in the outbox.

    Raises
    ------
    ConfigError
        When sending is needed and the SMTP host or sender is not configured.
    ReportError
        When the run folder is unusable or another send of the same run holds its lock too long.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    kind = "digest" if run["status"] == "ok" else "failure"
    if settings is None:
        settings = smtp_settings(dotenv_path=project_root(run_dir) / ".env")
    result = SendResult(run_dir=run_dir, kind=kind, dry_run=dry_run)
    result.skipped = "" if retry or kind != "digest" else _nothing_changed(run, run_dir)
    if result.skipped:
        log.info("%s: %s", run_dir, result.summary())
        return result
    try:
        with send_lock(run_dir, timeout=_LOCK_WAIT):
            _send_locked(run, run_dir, kind, settings, result, retry=retry, sleep=sleep)
    except LockTimeout:
        raise ReportError(
            f"another send of {run_dir} has been running for over {_LOCK_WAIT:.0f} s"
        ) from None
    log.info("%s: %s", run_dir, result.summary())
    return result


def _send_locked(
    run: Mapping[str, Any],
    run_dir: Path,
    kind: str,
    settings: SmtpSettings,
    result: SendResult,
    *,
    retry: bool,
    sleep: Callable[[float], None],
) -> None:
    outbox = run_dir / OUTBOX
    done = {(e.get("kind"), _address(e.get("recipient", ""))) for e in read_sent_log(run_dir)}
    refused = {
        (e.get("kind"), _address(e.get("recipient", ""))): str(e.get("error", ""))
        for e in read_refused_log(run_dir)
    }
    # (recipient, .eml path or None when the message still has to be built)
    pending: list[tuple[str, Path | None]] = []
    if retry:
        for path in sorted(outbox.glob(f"{kind}--*.eml")) if outbox.exists() else []:
            pending.append((str(_read_eml(path)["To"]), path))
    else:
        recipients = _recipients(run, kind)
        if not recipients:
            log.warning("%s: no %s recipients in run.json; nothing to send", run_dir, kind)
        for recipient in recipients:
            path = _outbox_path(outbox, kind, _address(recipient))
            pending.append((recipient, path if path.exists() else None))
    todo = []
    for recipient, path in pending:
        if (kind, _address(recipient)) in done:
            result.already_sent.append(recipient)
            if path is not None:
                path.unlink(missing_ok=True)
        elif (kind, _address(recipient)) in refused:
            result.refused_before[recipient] = refused[(kind, _address(recipient))]
            if path is not None:
                path.unlink(missing_ok=True)
        elif "@" not in _address(recipient):
            result.failed[recipient] = "not an email address"
        else:
            todo.append((recipient, path))
    if not todo:
        return
    # a dry run sends nothing, so a placeholder may stand in for a missing sender
    sender = settings.sender or ("CRM Workbook <crm-reports@localhost>" if result.dry_run else "")
    if not sender:
        raise ConfigError(
            "CRMWB_SMTP_SENDER is not set (environment or .env); it is the From address"
        )
    check_sender(sender)
    if not result.dry_run and not settings.host:
        raise ConfigError("CRMWB_SMTP_HOST is not set (environment or .env); cannot send email")
    if not result.dry_run:
        check_plain_login(settings)

    messages: list[tuple[str, Path, EmailMessage]] = []
    for recipient, path in todo:
        if path is not None:
            messages.append((recipient, path, _read_eml(path)))
            continue
        builder = build_message if kind == "digest" else failure_notice
        msg = builder(run_dir, to=recipient, sender=sender)
        path = _outbox_path(outbox, kind, _address(recipient))
        if not result.dry_run:
            _write_eml(path, msg)  # written before sending, so a crash leaves it for --retry
        messages.append((recipient, path, msg))

    if result.dry_run:
        for recipient, _, msg in messages:
            target = _outbox_path(run_dir / DRY_RUN_OUTBOX, kind, _address(recipient))
            _write_eml(target, msg)
            result.written.append(target)
        return
    _deliver(messages, run_dir, kind, settings, result, sleep=sleep)


def _deliver(
    messages: list[tuple[str, Path, EmailMessage]],
    run_dir: Path,
    kind: str,
    settings: SmtpSettings,
    result: SendResult,
    *,
    sleep: Callable[[float], None],
) -> None:
    conn: smtplib.SMTP | None = None
    envelope_from = _address(settings.sender)
    stop_reason = ""
    try:
        for recipient, path, msg in messages:
            if stop_reason:
                result.failed[recipient] = f"not attempted: {stop_reason}"
                result.outbox.append(path)
                continue
            for attempt in range(settings.retries + 1):
                try:
                    if conn is None:
                        conn = _connect(settings)
                    conn.send_message(
                        msg, from_addr=envelope_from or None, to_addrs=[_address(recipient)]
                    )
                except (smtplib.SMTPException, OSError) as exc:
                    error = _describe(exc)
                    if _permanent(exc):
                        error = _describe_refusal(exc)
                        log.warning(
                            "%s: %s to %s refused for good, not retried: %s",
                            run_dir,
                            kind,
                            recipient,
                            error,
                        )
                        _record_refused(
                            run_dir,
                            {
                                "recipient": _address(recipient),
                                "kind": kind,
                                "error": error,
                                "refused_at": datetime.now(UTC).isoformat(timespec="seconds"),
                            },
                        )
                        path.unlink(missing_ok=True)
                        result.refused[recipient] = error
                        if not isinstance(exc, smtplib.SMTPRecipientsRefused):
                            _close(conn)
                            conn = None
                        break
                    if _fatal(exc) or attempt == settings.retries:
                        log.warning("%s: %s to %s not sent: %s", run_dir, kind, recipient, error)
                        result.failed[recipient] = error
                        result.outbox.append(path)
                        stop_reason = error
                        _close(conn)
                        conn = None
                        break
                    wait = settings.backoff * 2**attempt
                    log.info(
                        "%s: %s to %s failed (%s); retrying in %.1f s",
                        run_dir,
                        kind,
                        recipient,
                        error,
                        wait,
                    )
                    _close(conn)
                    conn = None
                    sleep(wait)
                else:
                    _record_sent(
                        run_dir,
                        {
                            "recipient": _address(recipient),
                            "kind": kind,
                            "message_id": str(msg["Message-ID"]),
                            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        },
                    )
                    path.unlink(missing_ok=True)
                    result.sent.append(recipient)
                    break
    finally:
        _close(conn)
    outbox = run_dir / OUTBOX
    if outbox.exists() and not any(outbox.iterdir()):
        outbox.rmdir()
