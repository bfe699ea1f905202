"""The data-quality report: what loading read, kept, repaired and rejected, per table.

Loading (:func:`crmlib.data.load_dataset`) counts every repair and every rejection; this module
holds those counts, checks that they add up (``rows_read == kept + rejected``) and presents them as
a tidy table, as text for the command line and as markdown for the data-quality report. A CSV line
that does not split into the header's fields is read and rejected too (``malformed_line``), so the
counts cover every data row of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from crmlib.errors import ConfigError, DataError
from crmlib.i18n import check_language, has, t

#: Order of the status column of :meth:`QualityReport.to_frame`.
STATUSES: tuple[str, ...] = ("read", "kept", "repaired", "flagged", "rejected")


@dataclass
class TableQuality:
    """Counts of one table's load.

    Attributes
    ----------
    table
        Canonical table name.
    source
        Where the rows came from (file path or database URL).
    rows_read
        Data rows read from the source (header not counted), malformed CSV lines included; a
        record whose quoted field spans lines counts once, blank lines not at all.
    kept
        Rows in the cleaned table.
    repaired
        Kept rows changed by a cleaning rule, by kind (``amount_format``, ``date_format``,
        ``channel_alias`` …). A row repaired in two columns counts once under each kind.
    flagged
        Kept rows worth knowing about that were not changed, by kind (``missing_customer_id``,
        ``return``, ``zero_amount``).
    rejected
        Rows written to the quarantine file, by reason (``duplicate_line``, ``future_date``,
        ``unparseable_<column>`` …; ``malformed_line`` for a CSV line with too many or too few
        fields or an unclosed quote, quarantined with its ``line_text`` and the parser's
        ``detail``).
    quarantine_file
        Path of the quarantine CSV (written even when empty, so an old one never lingers).
    notes
        Remarks on the source, such as a mapped optional column the source lacks.
    """

    table: str
    source: str
    rows_read: int
    kept: int
    repaired: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    quarantine_file: str | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.repaired = {k: int(v) for k, v in self.repaired.items() if v}
        self.flagged = {k: int(v) for k, v in self.flagged.items() if v}
        self.rejected = {k: int(v) for k, v in self.rejected.items() if v}
        if self.rows_read != self.kept + self.n_rejected:
            raise DataError(
                f"{self.table}: rows read ({self.rows_read}) != kept ({self.kept}) + rejected "
                f"({self.n_rejected}); the cleaning rules lost rows",
                file=self.source,
            )

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows, all reasons together."""
        return sum(self.rejected.values())

    @property
    def n_repaired(self) -> int:
        """Number of repairs, all kinds together."""
        return sum(self.repaired.values())


@dataclass
class QualityReport:
    """Data-quality report of a load: one :class:`TableQuality` per table plus fatal problems.

    Attributes
    ----------
    tables
        Counts per canonical table that loaded.
    fatal
        Messages of problems that stopped a table from loading (only :func:`crmlib.data.validate`
        collects them; :func:`crmlib.data.load_dataset` raises instead).
    """

    tables: dict[str, TableQuality] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)

    @property
    def ok(self) -> list[str]:
        """Tables that loaded and kept at least one row."""
        return [name for name, q in self.tables.items() if q.kept > 0]

    def __getitem__(self, table: str) -> TableQuality:
        return self.tables[table]

    def to_frame(self, language: str | None = None) -> pd.DataFrame:
        """Tidy table of the counts: ``table, status, kind, rows, share``.

        ``status`` is one of :data:`STATUSES`; ``kind`` names the repair, flag or reject reason
        (empty for the totals); ``share`` is ``rows / rows_read`` of that table. With
        ``language``, kinds and column names are translated for a report.
        """
        records = []
        for name, q in self.tables.items():
            base = q.rows_read or 1
            records.append((name, "read", "", q.rows_read, q.rows_read / base))
            records.append((name, "kept", "", q.kept, q.kept / base))
            for status, counts in (
                ("repaired", q.repaired),
                ("flagged", q.flagged),
                ("rejected", q.rejected),
            ):
                for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                    records.append((name, status, kind, n, n / base))
        frame = pd.DataFrame(records, columns=["table", "status", "kind", "rows", "share"])
        frame["rows"] = frame["rows"].astype("int64")
        if language is None:
            return frame
        check_language(language)
        frame["table"] = [t(f"data.table_{v}", language) for v in frame["table"]]
        frame["status"] = [t(f"data.status_{v}", language) for v in frame["status"]]
        frame["kind"] = [kind_label(v, language) for v in frame["kind"]]
        return frame.rename(
            columns={c: t(f"data.col_{c}", language) for c in ("table", "status", "kind", "rows")}
            | {"share": t("common.share", language)}
        )

    def summary(self, language: str | None = None) -> pd.DataFrame:
        """One row per table: ``table, rows_read, kept, repaired, flagged, rejected``."""
        frame = pd.DataFrame(
            [
                (n, q.rows_read, q.kept, q.n_repaired, sum(q.flagged.values()), q.n_rejected)
                for n, q in self.tables.items()
            ],
            columns=["table", "rows_read", "kept", "repaired", "flagged", "rejected"],
        )
        if language is None:
            return frame
        check_language(language)
        frame["table"] = [t(f"data.table_{v}", language) for v in frame["table"]]
        return frame.rename(columns={c: t(f"data.col_{c}", language) for c in frame.columns})

    def to_text(self, language: str = "en") -> str:
        """Plain-text summary for the command line."""
        check_language(language)
        lines = [t("data.quality_heading", language)]
        for name, q in self.tables.items():
            lines.append("")
            lines.append(
                t(
                    "data.text_table",
                    language,
                    table=t(f"data.table_{name}", language),
                    source=q.source,
                    read=f"{q.rows_read:,}",
                    kept=f"{q.kept:,}",
                    rejected=f"{q.n_rejected:,}",
                )
            )
            for status, counts in (
                ("repaired", q.repaired),
                ("flagged", q.flagged),
                ("rejected", q.rejected),
            ):
                for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                    lines.append(
                        f"  {t(f'data.status_{status}', language)}: "
                        f"{kind_label(kind, language)}: {n:,}"
                    )
            for note in q.notes:
                lines.append(f"  ! {note}")
            if q.n_rejected and q.quarantine_file:
                lines.append("  " + t("data.text_quarantine", language, path=q.quarantine_file))
        for message in self.fatal:
            lines.append("")
            lines.append(t("data.text_fatal", language, message=message))
        if not self.fatal:
            lines.append("")
            lines.append(t("data.text_ok", language))
        return "\n".join(lines)

    def to_markdown(self, language: str = "en") -> str:
        """A short executive paragraph on the load, with the key figures."""
        check_language(language)
        parts = []
        for name, q in self.tables.items():
            top = max(q.rejected.items(), key=lambda kv: kv[1], default=None)
            parts.append(
                t(
                    "data.md_table",
                    language,
                    table=t(f"data.table_{name}", language),
                    read=f"{q.rows_read:,}",
                    kept=f"{q.kept:,}",
                    kept_pct=f"{q.kept / (q.rows_read or 1):.1%}",
                    repaired=f"{q.n_repaired:,}",
                    rejected=f"{q.n_rejected:,}",
                )
                + (
                    t(
                        "data.md_top_reason",
                        language,
                        reason=kind_label(top[0], language),
                        rows=f"{top[1]:,}",
                    )
                    if top
                    else ""
                )
            )
        for message in self.fatal:
            parts.append(t("data.text_fatal", language, message=message))
        return "\n".join(f"- {p}" for p in parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the load cache stores it next to the cleaned tables)."""
        return {"tables": {n: asdict(q) for n, q in self.tables.items()}, "fatal": self.fatal}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tables={n: TableQuality(**q) for n, q in data.get("tables", {}).items()},
            fatal=list(data.get("fatal", [])),
        )


def kind_label(kind: str, language: str) -> str:
    """Readable name of a repair, flag or reject kind (``unparseable_amount`` …) in ``language``."""
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
