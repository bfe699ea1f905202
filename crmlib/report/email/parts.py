"""What every email of a run shares: its settings, its frame (subject, header, footer), templates.

Run settings are read from ``run.json["settings"]`` (a mapping written by the runner from the
pack's ``email:`` settings); the keys and their defaults are in :data:`EMAIL_DEFAULTS`. The
templates are ``crmlib/report/templates/email*.j2`` with the stylesheet ``email.css``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from crmlib.config import check_choice, check_range
from crmlib.errors import ReportError
from crmlib.i18n import check_language, labels
from crmlib.report.archive import RUN_JSON
from crmlib.report.email.mailsafe import inline_css
from crmlib.report.settings import EMAIL_DEFAULTS as PACK_EMAIL_DEFAULTS
from crmlib.report.settings import check_base_url

__all__ = [
    "EMAIL_DEFAULTS",
    "TEMPLATES_DIR",
    "Digest",
    "cid_token",
    "common_context",
    "email_settings",
    "published_dir",
    "render",
    "run_language",
    "run_period",
    "run_title",
]

#: Email settings a run may override in ``run.json["settings"]``, with their defaults (a pack
#: sets them under ``email:`` in ``params/reports.yaml``; :mod:`crmlib.report.settings` checks them).
EMAIL_DEFAULTS: dict[str, Any] = dict(PACK_EMAIL_DEFAULTS)

#: Folder of the email templates and stylesheet.
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


@dataclass
class Digest:
    """The parts of a report email, ready to be written to disk or put into an EmailMessage.

    Attributes
    ----------
    kind
        ``"digest"`` for a successful run, ``"failure"`` for a failure notice.
    subject, html, text
        Subject line, the exact HTML body (with ``cid:`` image references), the plain text.
    images
        Inline images: ``(cid, subtype, bytes, file name)`` per chart.
    attachments
        Paths of the full HTML reports to attach.
    info
        What went into the email (for ``run.json["email"]``).
    """

    kind: str
    subject: str
    html: str
    text: str
    images: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def email_settings(run: Mapping[str, Any]) -> dict[str, Any]:
    """The email settings of a run: :data:`EMAIL_DEFAULTS` overridden by ``run["settings"]``.

    ``report_base_url`` and ``allow_personal_data`` are also accepted at the top of ``run.json``.
    Raises :class:`~crmlib.errors.ConfigError` naming a bad setting.
    """
    given = dict(run.get("settings") or {})
    for key in ("report_base_url", "allow_personal_data"):
        if key in run and key not in given:
            given[key] = run[key]
    out = {key: given.get(key, default) for key, default in EMAIL_DEFAULTS.items()}
    out["report_base_url"] = check_base_url(out["report_base_url"] or "")
    check_choice("allow_personal_data", out["allow_personal_data"], (True, False))
    check_range("attach_limit_mb", out["attach_limit_mb"], low=0)
    check_range("max_html_kb", out["max_html_kb"], low=10, high=102)
    for key in ("max_table_rows", "max_table_columns", "max_charts"):
        check_range(key, out[key], low=1)
        out[key] = int(out[key])
    return out


def run_language(run: Mapping[str, Any]) -> str:
    """The language of a run's email (``"en"`` when ``run.json`` names none)."""
    return check_language(run.get("language") or "en")


def run_period(run: Mapping[str, Any], run_dir: str | Path) -> str:
    """The run's period from ``run.json``.

    The runner writes the email in a staging folder whose name is not the period, so the
    folder name is never used.
    """
    period = run.get("period") or run.get("run_id")
    if not period:
        raise ReportError(f"{Path(run_dir) / RUN_JSON} names no 'period' (or 'run_id')")
    return str(period)


def run_title(run: Mapping[str, Any]) -> str:
    """The heading of a run's email: the pack's description, else the pack's name."""
    return str(run.get("title") or run["pack"])


def published_dir(run: Mapping[str, Any], run_dir: str | Path) -> Path:
    """Where the run is (or will be) published: ``reports/<pack>/<period>/``.

    The runner writes the email while the run is still in its hidden staging folder
    ``reports/<pack>/.tmp-<period>-<pid>-<tag>/``, which is renamed into place afterwards; a
    failure notice must point at the final folder, not at the staging one.
    """
    run_dir = Path(run_dir).resolve()
    if run_dir.name.startswith((".tmp-", ".old-")):
        return run_dir.parent / run_period(run, run_dir)
    return run_dir


def cid_token(run: Mapping[str, Any], run_dir: str | Path) -> str:
    """A token that makes a run's image content ids unique.

    It comes from ``run.json`` only, so the same run gives the same content ids in staging
    and once published.
    """
    seed = f"{run['pack']}|{run_period(run, run_dir)}|{run.get('started_at', '')}"
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:12]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def _stylesheet() -> str:
    return (TEMPLATES_DIR / "email.css").read_text(encoding="utf-8")


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render the email template ``template`` (``"email.html.j2"``, ``"email.txt.j2"``, ...).

    HTML templates come out with their CSS inlined (:func:`~crmlib.report.email.mailsafe.inline_css`).
    """
    out = _environment().get_template(template).render(**context)
    return inline_css(out) if template.endswith(".html.j2") else out


def common_context(run: Mapping[str, Any], run_dir: str | Path, language: str) -> dict[str, Any]:
    """The template context every email of ``run`` shares: labels, subject, header, footer."""
    text = labels("email", language)
    status = run["status"]
    fingerprint = str(run.get("data_fingerprint") or "-")
    footer = [
        text["footer_run"].format(run_id=run.get("run_id") or "-", fingerprint=fingerprint[:16]),
        text["footer_sent"],
    ]
    period = run_period(run, run_dir)
    subject_key = "subject_ok" if status == "ok" else "subject_failed"
    return {
        "L": text,
        "html_lang": "zh-CN" if language == "zh" else "en",
        "css": _stylesheet(),
        "pack": run["pack"],
        "title": run_title(run),
        "period": period,
        "as_of": run.get("as_of") or run.get("data_as_of") or "",
        "period_note": text["period_in_progress"] if run.get("period_complete") is False else "",
        "status": status,
        "status_label": text["status_ok" if status == "ok" else "status_failed"],
        "subject": text[subject_key].format(title=run_title(run), period=period),
        "preheader": "",  # the inbox preview line; a digest sets its headline
        "footer": footer,
    }
