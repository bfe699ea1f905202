"""The email of a run as files in its folder and as a MIME message ready to send.

:func:`write_email` writes the body once, into the run folder (``email.html``, ``email.txt``,
``email/chart-*.png``) and records it in ``run.json["email"]``; :func:`build_message` puts exactly
those files into an :class:`~email.message.EmailMessage` (HTML and plain-text alternatives,
charts as inline ``cid:`` parts, full reports attached where the plan says so, with phone numbers
and email addresses masked in them unless the run allows personal data). A failed run
gets :func:`failure_notice` instead, which never carries the broken report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from crmlib.data.privacy import mask_html
from crmlib.errors import ReportError
from crmlib.report.archive import read_run, update_run, write_atomic
from crmlib.report.email.bidi import strip_bidi
from crmlib.report.email.digest import build_digest, failure_digest
from crmlib.report.email.parts import Digest, email_settings, run_language, run_period

__all__ = ["build_message", "failure_notice", "write_email"]


def write_email(run_dir: str | Path) -> Path:
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
    write_atomic(html_path, strip_bidi(digest.html))
    write_atomic(run_dir / "email.txt", strip_bidi(digest.text))
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
    msg["Subject"] = strip_bidi(digest.subject)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=digest.kind, domain=address.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "zh-CN" if run_language(run) == "zh" else "en"
    msg["X-CRMWB-Kind"] = digest.kind
    msg["X-CRMWB-Run"] = f"{run['pack']}/{run_period(run, run_dir)}/{run.get('run_id', '')}"
    msg.set_content(strip_bidi(digest.text))
    msg.add_alternative(strip_bidi(digest.html), subtype="html")
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
    allow = email_settings(run)["allow_personal_data"]
    for path in digest.attachments:
        page = path.read_text(encoding="utf-8", errors="replace")
        if not allow:  # the full reports are masked like the body
            page = mask_html(page)[0]
        msg.add_attachment(page, subtype="html", charset="utf-8", filename=path.name)
    return msg


def build_message(run_dir: str | Path, *, to: str | Sequence[str], sender: str) -> EmailMessage:
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


def failure_notice(run_dir: str | Path, *, to: str | Sequence[str], sender: str) -> EmailMessage:
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
    digest = failure_digest(run, run_dir)
    return _new_message(digest, run=run, run_dir=run_dir, to=to, sender=sender)
