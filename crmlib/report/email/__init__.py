"""The email of a report run: an executive digest in the body, the full reports linked or attached.

======================================  ========================================================
:mod:`~crmlib.report.email.digest`      the executed digest notebook -> the email's body (or
                                        the failure notice of a failed run)
:mod:`~crmlib.report.email.mailsafe`    HTML made safe and readable for mail clients: allowed
                                        tags, CSS inlined, images as CID, tables cut
:mod:`~crmlib.report.email.parts`       what every email of a run shares: settings, subject,
                                        header, footer, templates
:mod:`~crmlib.report.email.message`     the email as files in the run folder and as a MIME
                                        message; the failure notice
:mod:`~crmlib.report.email.delivery`    sending over SMTP, exactly once per recipient
======================================  ========================================================

The run folder ``reports/<pack>/<period>/`` and its ``run.json`` are read and written through
:mod:`crmlib.report.archive`. The names below are the package's public API.
"""

from __future__ import annotations

from crmlib.report.archive import read_run, update_run
from crmlib.report.email.digest import SKIP_TAGS, build_digest, failure_digest
from crmlib.report.email.mailsafe import CARD_WIDTH, CHART_WIDTH, mask_personal
from crmlib.report.email.message import build_message, failure_notice, write_email
from crmlib.report.email.parts import EMAIL_DEFAULTS, Digest, email_settings

__all__ = [
    "CARD_WIDTH",
    "CHART_WIDTH",
    "EMAIL_DEFAULTS",
    "SKIP_TAGS",
    "Digest",
    "build_digest",
    "build_message",
    "email_settings",
    "failure_digest",
    "failure_notice",
    "mask_personal",
    "read_run",
    "update_run",
    "write_email",
]
