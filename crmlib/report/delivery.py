"""Deprecated: sending the email of a run is :mod:`crmlib.report.email.delivery`."""

from crmlib.compat import moved

__all__: list[str] = []

__getattr__ = moved(
    __name__,
    {
        name: "crmlib.report.email.delivery"
        for name in (
            "DRY_RUN_OUTBOX",
            "OUTBOX",
            "SECURITY_PORTS",
            "SENT_LOG",
            "SendResult",
            "SmtpSettings",
            "project_root",
            "read_sent_log",
            "runs_with_outbox",
            "send_run",
            "smtp_settings",
        )
    },
)
