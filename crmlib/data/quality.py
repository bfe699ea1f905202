"""The data-quality report: what loading read, kept, repaired and rejected, per table.

Loading (:func:`crmlib.data.load_dataset`) counts every repair and every rejection; this module
holds those counts, checks that they add up (``rows_read == kept + rejected``) and gives them as
tidy tables. A CSV line that does not split into the header's fields is read and rejected too
(``malformed_line``), so the counts cover every data row of the file. The words (translated
tables, the command-line text, the executive paragraph) are in :mod:`crmlib.present.quality`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from crmlib.errors import DataError

__all__ = ["STATUSES", "TableQuality", "QualityReport"]

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
        Messages of problems that stopped a table from loading (only
        :func:`crmlib.data.check_source` collects them; :func:`crmlib.data.load_dataset` raises
        instead).
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
        (empty for the totals); ``share`` is ``rows / rows_read`` of that table.

        ``language`` is deprecated: the translated table is
        :func:`crmlib.present.quality.quality_table`.
        """
        if language is not None:
            return _words("to_frame", "quality_table")(self, language=language)
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
        return frame

    def summary(self, language: str | None = None) -> pd.DataFrame:
        """One row per table: ``table, rows_read, kept, repaired, flagged, rejected``.

        ``language`` is deprecated: the translated table is
        :func:`crmlib.present.quality.quality_summary`.
        """
        if language is not None:
            return _words("summary", "quality_summary")(self, language=language)
        return pd.DataFrame(
            [
                (n, q.rows_read, q.kept, q.n_repaired, sum(q.flagged.values()), q.n_rejected)
                for n, q in self.tables.items()
            ],
            columns=["table", "rows_read", "kept", "repaired", "flagged", "rejected"],
        )

    def to_text(self, language: str = "en") -> str:
        """Deprecated: :func:`crmlib.present.quality.quality_text`."""
        return _words("to_text", "quality_text")(self, language=language)

    def to_markdown(self, language: str = "en") -> str:
        """Deprecated: :func:`crmlib.present.quality.quality_markdown`."""
        return _words("to_markdown", "quality_markdown")(self, language=language)

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


def _words(method: str, function: str) -> Callable[..., Any]:
    """The presentation function that replaces the deprecated ``QualityReport.<method>``."""
    warnings.warn(
        f"QualityReport.{method}() in a language is deprecated; the words are "
        f"crmlib.present.quality.{function}(report, language=...)",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module("crmlib.present.quality"), function)
