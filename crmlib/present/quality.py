"""Words about a load: the data-quality tables, text and paragraph in Chinese or English.

The counts are :class:`crmlib.data.quality.QualityReport` (``Dataset.quality``); this module
names the tables, statuses, rules and channels in the report language, writes the command-line
text of ``crmwb validate`` and the executive paragraph of the data-quality report, and labels a
quarantine sample (``Dataset.quarantined``) for a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.data.load import check_source
from crmlib.data.params import DATA_PARAMS
from crmlib.data.quality import QualityReport
from crmlib.errors import ConfigError
from crmlib.i18n import check_language, has, t
from crmlib.present.format import MISSING, number, percent

__all__ = [
    "kind_label",
    "channel_label",
    "quality_table",
    "quality_summary",
    "quality_text",
    "quality_markdown",
    "quarantine_table",
    "validate_source",
]


def kind_label(kind: str, language: str) -> str:
    """Readable name of a repair, flag or reject kind (``unparseable_amount`` …) in ``language``.

    Parameters
    ----------
    kind
        A key of ``TableQuality.repaired``, ``flagged`` or ``rejected``, or a quarantine
        ``reason``; ``""`` (the totals of :meth:`QualityReport.to_frame`) stays empty.
    language
        ``"en"`` or ``"zh"`` (may be passed by position, as the old callers do).

    Returns
    -------
    str
        The label; ``unparseable_<column>`` and ``missing_<column>`` name the field; a kind
        without a label is returned as it is.
    """
    if not kind:
        return ""
    for prefix in ("unparseable_", "missing_"):
        if kind.startswith(prefix):
            column = kind.removeprefix(prefix)
            if has(f"data.field_{column}"):
                column = t(f"data.field_{column}", language)
            return t(f"data.kind_{prefix.rstrip('_')}", language, column=column)
    try:
        return t(f"data.kind_{kind}", language)
    except ConfigError:
        return kind


def channel_label(code: str, *, language: str = "en") -> str:
    """Display name of a sales channel code (``store`` -> Store / 门店) or of a message
    channel (``app_push`` -> app push / App 推送); "–" for none, unknown codes as given."""
    if code is None or pd.isna(code):
        return MISSING
    for key in (f"data.channel_{code}", f"summary.campaign_channel_{code}"):
        if has(key):
            return t(key, language)
    return str(code)


def quality_table(report: QualityReport, *, language: str = "en") -> pd.DataFrame:
    """:meth:`QualityReport.to_frame` for a report: tables, statuses, rules and columns named.

    Parameters
    ----------
    report
        The quality report of a load.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        The columns ``table, status, kind, rows, share`` under their labels in ``language``
        (``share`` as a fraction, for the caller to format).
    """
    check_language(language)
    frame = report.to_frame()
    frame["table"] = [t(f"data.table_{v}", language) for v in frame["table"]]
    frame["status"] = [t(f"data.status_{v}", language) for v in frame["status"]]
    frame["kind"] = [kind_label(v, language) for v in frame["kind"]]
    return frame.rename(
        columns={c: t(f"data.col_{c}", language) for c in ("table", "status", "kind", "rows")}
        | {"share": t("common.share", language)}
    )


def quality_summary(report: QualityReport, *, language: str = "en") -> pd.DataFrame:
    """:meth:`QualityReport.summary` for a report: table names and columns in ``language``."""
    check_language(language)
    frame = report.summary()
    frame["table"] = [t(f"data.table_{v}", language) for v in frame["table"]]
    return frame.rename(columns={c: t(f"data.col_{c}", language) for c in frame.columns})


def _sorted_counts(q: Any) -> list[tuple[str, str, int]]:
    """(status, kind, rows) of one table's repairs, flags and rejections, most rows first."""
    out = []
    for status, counts in (
        ("repaired", q.repaired),
        ("flagged", q.flagged),
        ("rejected", q.rejected),
    ):
        for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            out.append((status, kind, n))
    return out


def quality_text(report: QualityReport, *, language: str = "en") -> str:
    """Plain-text summary of a load for the command line (``crmwb validate``).

    Per table: rows read, kept and rejected, each repair, flag and rejection reason with its
    rows, notes on the source, and where the quarantine file is; then the fatal problems, or a
    line saying every table loaded.
    """
    check_language(language)
    lines = [t("data.quality_heading", language)]
    for name, q in report.tables.items():
        lines.append("")
        lines.append(
            t(
                "data.text_table",
                language,
                table=t(f"data.table_{name}", language),
                source=q.source,
                read=number(int(q.rows_read)),
                kept=number(int(q.kept)),
                rejected=number(int(q.n_rejected)),
            )
        )
        for status, kind, n in _sorted_counts(q):
            lines.append(
                f"  {t(f'data.status_{status}', language)}: "
                f"{kind_label(kind, language)}: {number(int(n))}"
            )
        for note in q.notes:
            lines.append(f"  ! {note}")
        if q.n_rejected and q.quarantine_file:
            lines.append("  " + t("data.text_quarantine", language, path=q.quarantine_file))
    for message in report.fatal:
        lines.append("")
        lines.append(t("data.text_fatal", language, message=message))
    if not report.fatal:
        lines.append("")
        lines.append(t("data.text_ok", language))
    return "\n".join(lines)


def quality_markdown(report: QualityReport, *, language: str = "en") -> str:
    """A short executive paragraph on the load: per table the key figures and the main reason
    rows were rejected, as a markdown list."""
    check_language(language)
    parts = []
    for name, q in report.tables.items():
        top = max(q.rejected.items(), key=lambda kv: kv[1], default=None)
        parts.append(
            t(
                "data.md_table",
                language,
                table=t(f"data.table_{name}", language),
                read=number(int(q.rows_read)),
                kept=number(int(q.kept)),
                kept_pct=percent(q.kept / (q.rows_read or 1), digits=1),
                repaired=number(int(q.n_repaired)),
                rejected=number(int(q.n_rejected)),
            )
            + (
                t(
                    "data.md_top_reason",
                    language,
                    reason=kind_label(top[0], language),
                    rows=number(int(top[1])),
                )
                if top
                else ""
            )
        )
    for message in report.fatal:
        parts.append(t("data.text_fatal", language, message=message))
    return "\n".join(f"- {p}" for p in parts)


def quarantine_table(frame: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """A quarantine sample (``Dataset.quarantined``) for a report: reasons, the leading columns
    (``source_row``, ``reason``, ``detail``) and the workbook's fields named in ``language``;
    unmapped source columns keep the export's own names."""
    check_language(language)
    frame = frame.copy()
    frame["reason"] = [kind_label(r, language) for r in frame["reason"]]
    names = {
        "source_row": t("data.col_source_row", language),
        "reason": t("data.col_reason", language),
        "detail": t("data.col_detail", language),
    }
    fields = {c: t(f"data.field_{c}", language) for c in frame.columns if has(f"data.field_{c}")}
    return frame.rename(columns={**fields, **names})


def validate_source(
    params: str | Path | Mapping[str, Any] = DATA_PARAMS,
    *,
    language: str = "en",
    quarantine_dir: str | Path | None = None,
) -> tuple[str, int]:
    """Check a data source and return ``(summary text, exit code)`` for the command line.

    Every configured table is cleaned afresh (:func:`crmlib.data.check_source`, no cache) and
    quarantined rows are written; the text (:func:`quality_text`) lists rows read, kept,
    repaired and rejected per table and any fatal problem.

    Returns
    -------
    tuple of (str, int)
        The summary in ``language``, and 0 when every table loaded, 1 on a data problem (a
        missing file, column, or nothing usable), 2 on invalid params.
    """
    check_language(language)
    try:
        report = check_source(params, quarantine_dir=quarantine_dir)
    except ConfigError as exc:
        return t("data.text_config_error", language, message=str(exc)), 2
    if "transactions" not in report.tables and not any(
        m.startswith("transactions:") for m in report.fatal
    ):
        report.fatal.append("transactions: " + t("data.text_no_transactions", language))
    return quality_text(report, language=language), 1 if report.fatal else 0
