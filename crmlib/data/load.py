"""Loading a data source: params -> cleaned canonical tables, quarantine and quality report.

:func:`load_dataset` reads the data params (:mod:`crmlib.data.params`), cleans every configured
table (:mod:`crmlib.data.cleaning`) and returns a :class:`Dataset`: the canonical tables as Ibis
tables, the quality report (:mod:`crmlib.data.quality`) and the quarantined rows.
Cleaned tables are cached as Parquet by the fingerprint of the params and source files.
:func:`check_source` cleans afresh and collects every table's problem instead of stopping at
the first (``crmwb validate``).

With ``engine: backend: postgres`` the tables stay on the server: each is read by ``table:`` or
``query:`` and cleaned there (:mod:`crmlib.data.dbclean`); the Dataset's tables are Ibis tables
on that server, nothing is cached locally, and only the counts and the quarantined rows (up to
``engine.quarantine_limit``) come to this machine. ``backend: spark`` works the same way on
one Spark session (:func:`crmlib.data.engine.spark_session`): tables are read by Spark from
``path:`` (Parquet, CSV; any URI Spark reads), ``table:`` or ``query:``.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from filelock import FileLock

from crmlib.currency import Currency, use_currency
from crmlib.data.cleaning import MALFORMED_COLUMNS, QUARANTINE_COLUMNS, clean_table
from crmlib.data.dates import future_cutoff
from crmlib.data.dbclean import clean_remote, remote_sources
from crmlib.data.engine import connect_engine, connection, mark_cleaned
from crmlib.data.params import DATA_PARAMS, fingerprint_of, resolve_params
from crmlib.data import order_store, results
from crmlib.data.privacy import mask_delimited, mask_personal
from crmlib.data.quality import QualityReport
from crmlib.data.rules import read_channels
from crmlib.data.schema import PERSONAL_FIELDS, REPORT_HIDDEN_FIELDS, REQUIRED, SCHEMAS
from crmlib.data.sources import Source
from crmlib.errors import ConfigError, DataError

__all__ = ["Dataset", "load_dataset", "check_source"]


@dataclass
class Dataset:
    """The cleaned canonical tables of one data source.

    Attributes
    ----------
    transactions, customers, touchpoints, campaigns, campaign_members, coupon_redemptions, events
        Cleaned canonical Ibis tables (every column of :data:`SCHEMAS` in order and type), or
        None when the source does not provide that table.
    quality
        Data-quality report of the load.
    source
        The resolved params (absolute paths, cleaning rules with defaults filled in).
    fingerprint
        Hash of the source files' size and modification time and of the params; the cleaned
        tables are cached under ``data/.cache/<fingerprint>/``.
    """

    transactions: ir.Table
    customers: ir.Table | None = None
    touchpoints: ir.Table | None = None
    campaigns: ir.Table | None = None
    campaign_members: ir.Table | None = None
    coupon_redemptions: ir.Table | None = None
    events: ir.Table | None = None
    quality: QualityReport = field(default_factory=QualityReport)
    source: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    def has(self, name: str) -> bool:
        """Whether the source provides table ``name`` (one of :data:`SCHEMAS`)."""
        if name not in SCHEMAS:
            raise ConfigError(f"unknown table {name!r}; expected one of {', '.join(SCHEMAS)}")
        return getattr(self, name) is not None

    def table(self, name: str) -> ir.Table:
        """Table ``name``; raises DataError naming the table when the source lacks it."""
        if not self.has(name):
            raise DataError(f"the data source does not provide the {name} table")
        return getattr(self, name)

    def quarantined(
        self,
        table: str = "transactions",
        *,
        limit: int | None = None,
        mask: bool = True,
        language: str | None = None,
        unmapped: bool = True,
    ) -> pd.DataFrame:
        """Rejected rows of ``table``: ``source_row``, ``reason`` and the original columns.

        A malformed CSV line (reason ``malformed_line``) has no original columns; its
        ``detail`` (the parser's error) and ``line_text`` (the raw line) say what was wrong.

        Parameters
        ----------
        table
            Canonical table name.
        limit
            Return at most this many rows (the first by source row).
        mask
            Mask personal fields with :func:`mask_personal`: the customers table's personal
            columns (:data:`PERSONAL_FIELDS`, found through the column mapping) and, in any
            table, source columns named like a personal field (``phone`` …). The raw text of a
            malformed line is masked too: email addresses and phone numbers in it, or all of it
            for the customers table (names and addresses follow no pattern).
        language
            Deprecated: the reasons and leading column names in a language are
            :func:`crmlib.present.quality.quarantine_table`.
        unmapped
            True: every column of the source file, under its source name. False (what a report
            shows): only the columns mapped onto the canonical schema, under their canonical
            names, without the free-text and staff columns of :data:`REPORT_HIDDEN_FIELDS`;
            source columns the mapping does not name (an address or phone column of an order
            export) are left out, and so is a malformed line's raw text (its ``detail`` stays
            when any row has one).
        """
        q = self.quality.tables.get(table)
        if q is None or not q.quarantine_file or not Path(q.quarantine_file).exists():
            return pd.DataFrame(columns=list(QUARANTINE_COLUMNS))
        frame = pd.read_csv(q.quarantine_file, dtype=str, nrows=limit, keep_default_na=False)
        frame["source_row"] = frame["source_row"].astype("int64")
        mapping = (self.source.get(table) or {}).get("columns") or {}
        lead = list(QUARANTINE_COLUMNS)
        # a malformed line (crmlib.data.cleaning): the parser's error and the line's raw text
        extra = [c for c in MALFORMED_COLUMNS if c in frame.columns]
        # source column -> canonical column, for the columns of this table's schema
        canonical: dict[str, str] = {}
        for col in SCHEMAS.get(table, {}):
            raw = mapping.get(col, col)
            match = [c for c in frame.columns[2:] if c.strip().lstrip("\ufeff").strip() == raw]
            if match:
                canonical[match[0]] = col
        if mask:
            kinds: dict[str, str] = {}
            for column in frame.columns[2:]:
                if column in extra:
                    continue
                col = canonical.get(column)
                if col is not None:
                    if table == "customers" and col in PERSONAL_FIELDS:
                        kinds[column] = col
                elif column in PERSONAL_FIELDS:
                    kinds[column] = column
            frame = mask_personal(frame, columns=kinds)
            if "line_text" in extra:
                frame["line_text"] = [
                    _mask_line(text, whole=table == "customers") for text in frame["line_text"]
                ]
        if not unmapped:
            hidden = set(REPORT_HIDDEN_FIELDS.get(table, ()))
            keep = [c for c, col in canonical.items() if col not in hidden]
            keep.sort(key=lambda c: list(SCHEMAS[table]).index(canonical[c]))
            # the error of a malformed line says what is wrong; its raw text stays out of reports
            detail = ["detail"] if "detail" in extra and frame["detail"].ne("").any() else []
            frame = frame[lead + detail + keep].rename(columns={c: canonical[c] for c in keep})
        if language is not None:
            warnings.warn(
                "Dataset.quarantined(language=...) is deprecated; the words are "
                "crmlib.present.quality.quarantine_table(frame, language=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            words = importlib.import_module("crmlib.present.quality")
            frame = words.quarantine_table(frame, language=language)
        return frame


def _mask_line(text: str, *, whole: bool) -> str:
    """The raw text of a malformed line, masked: entirely (``whole``: a customers line, whose
    names and addresses no pattern finds), else its email addresses and phone numbers."""
    if not text:
        return text
    return "***" if whole else mask_delimited(text)[0]


def _clean_all(
    resolved: Mapping[str, Any],
    *,
    quarantine_dir: Path,
    out_dir: Path | None,
    strict: bool,
) -> tuple[QualityReport, dict[str, str]]:
    """Clean every configured table; returns the report and table -> parquet path/table name."""
    rules = resolved["cleaning"]
    channels = read_channels(rules["channels_file"])
    con = connection().con
    report = QualityReport()
    where: dict[str, str] = {}
    tag = uuid.uuid4().hex[:8]
    for name in SCHEMAS:
        entry = resolved.get(name)
        if not entry:
            continue
        source = Source.from_params(name, entry)
        try:
            done = clean_table(
                con,
                source,
                schema=SCHEMAS[name],
                required=REQUIRED[name],
                rules=rules,
                channels=channels,
                max_date=future_cutoff(rules.get("max_date"), timezone=source.timezone),
                quarantine=quarantine_dir / f"{name}.quarantine.csv",
                parquet=out_dir / f"{name}.parquet" if out_dir else None,
                table_name=None if out_dir else f"crm_{name}_{tag}",
            )
        except DataError as exc:
            if strict:
                raise
            report.fatal.append(f"{name}: {exc}")
            continue
        report.tables[name] = done.quality
        where[name] = str(done.parquet) if done.parquet else str(done.table_name)
    return report, where


def _clean_database(
    resolved: Mapping[str, Any], *, quarantine_dir: Path, strict: bool
) -> tuple[QualityReport, dict[str, ir.Table]]:
    """Clean every configured table on the database engine; the report and the tables."""
    settings = resolved["engine"]
    rules = resolved["cleaning"]
    channels = read_channels(rules["channels_file"])
    report = QualityReport()
    tables: dict[str, ir.Table] = {}
    for source in remote_sources(resolved, connect_engine(settings)):
        name, entry = source.table, resolved[source.table]
        try:
            kept, quality = clean_remote(
                source,
                schema=SCHEMAS[name],
                required=REQUIRED[name],
                rules=rules,
                channels=channels,
                max_date=future_cutoff(rules.get("max_date"), timezone=entry["timezone"]),
                quarantine=quarantine_dir / f"{name}.quarantine.csv",
                quarantine_limit=settings["quarantine_limit"],
            )
        except DataError as exc:
            if strict:
                raise
            report.fatal.append(f"{name}: {exc}")
            continue
        report.tables[name] = quality
        tables[name] = kept
    return report, tables


def _publish_quarantine(report: QualityReport, target: Path) -> None:
    """Copy cached quarantine files to the user's quarantine folder (atomically) and point the
    report at the copies."""
    target.mkdir(parents=True, exist_ok=True)
    for q in report.tables.values():
        if not q.quarantine_file:
            continue
        src = Path(q.quarantine_file)
        dst = target / src.name
        if src.resolve() == dst.resolve() or not src.exists():
            continue
        tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        q.quarantine_file = str(dst)


def load_dataset(
    params: str | Path | Mapping[str, Any] = DATA_PARAMS,
    *,
    quarantine_dir: str | Path | None = None,
    cache: bool = True,
) -> Dataset:
    """Load, clean and validate the data source described by ``params``.

    Parameters
    ----------
    params
        Path of a data params file (``params/data.yaml``) or the same content as a mapping.
        Per table: ``path`` (.csv, .csv.gz, .parquet; relative to the project folder, see
        :mod:`crmlib.data.params`) or
        ``url`` (``duckdb:///file.db`` / ``sqlite:///file.db``) with ``table`` or ``query``;
        ``encoding`` (utf-8 by default, BOM tolerated; gbk, gb18030 … are transcoded);
        ``timezone`` of naive timestamps; ``columns`` {canonical: source}. Cleaning rules go
        under ``cleaning:`` (see :data:`crmlib.data.rules.DEFAULTS`).
    quarantine_dir
        Folder for ``<table>.quarantine.csv`` (rejected rows with source row and reason);
        default ``quarantine_dir`` of the params, else ``data/quarantine``.
    cache
        Reuse cleaned tables cached as Parquet under ``data/.cache/<fingerprint>/`` when the
        source files and params are unchanged; build the cache otherwise. Safe with several
        processes at once (a file lock, and a temporary folder renamed into place).

    Returns
    -------
    Dataset
        Cleaned canonical tables, quality report, resolved params and fingerprint. Timestamps
        are naive local time in each table's ``timezone``.

    Raises
    ------
    DataError
        A source file is missing, lacks a required column, cannot be read or decoded, has no
        data rows, or no row survives cleaning; the message names file, column, row and value.
    ConfigError
        The params are invalid.
    """
    resolved = resolve_params(params)
    use_currency(Currency(**resolved["currency"]))  # money in this data's currency from now on
    if quarantine_dir is not None:
        resolved["quarantine_dir"] = str(Path(quarantine_dir).resolve())
    qdir = Path(resolved["quarantine_dir"])
    fp = fingerprint_of(resolved)
    if resolved["engine"]["backend"] != "duckdb":  # the tables stay on the server: no cache
        report, remote = _clean_database(resolved, quarantine_dir=qdir, strict=True)
        remote = {name: mark_cleaned(t) for name, t in remote.items()}
        return Dataset(**remote, quality=report, source=resolved, fingerprint=fp)
    con = connection()
    if not cache:
        report, where = _clean_all(resolved, quarantine_dir=qdir, out_dir=None, strict=True)
        tables = {name: mark_cleaned(con.table(tname)) for name, tname in where.items()}
        return Dataset(**tables, quality=report, source=resolved, fingerprint=fp)

    root = Path(resolved["cache_dir"])
    final = root / fp
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{fp}.lock"), timeout=3600):
        if not (final / "quality.json").exists():
            tmp = root / f".tmp-{fp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(parents=True)
            try:
                report, _ = _clean_all(
                    resolved, quarantine_dir=tmp / "quarantine", out_dir=tmp, strict=True
                )
                for q in report.tables.values():
                    q.quarantine_file = str(
                        final / "quarantine" / Path(str(q.quarantine_file)).name
                    )
                (tmp / "quality.json").write_text(
                    json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
                )
                try:
                    os.rename(tmp, final)
                except OSError:
                    if not (final / "quality.json").exists():
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    report = QualityReport.from_dict(
        json.loads((final / "quality.json").read_text(encoding="utf-8"))
    )
    _publish_quarantine(report, qdir)
    tables = {
        name: mark_cleaned(
            con.read_parquet(str(final / f"{name}.parquet"), table_name=f"crm_{name}_{fp}")
        )
        for name in report.tables
    }
    dataset = Dataset(**tables, quality=report, source=resolved, fingerprint=fp)
    results.register(dataset)  # analyses of these tables may keep their results (run cache)
    order_store.register(dataset)  # their orders are formed once, beside them
    return dataset


def check_source(
    params: str | Path | Mapping[str, Any] = DATA_PARAMS,
    *,
    quarantine_dir: str | Path | None = None,
) -> QualityReport:
    """Clean every configured table afresh (no cache) and collect what went wrong.

    Quarantined rows are written as by :func:`load_dataset`; the cleaned tables are dropped.

    Parameters
    ----------
    params
        Path of a data params file, or the same content as a mapping.
    quarantine_dir
        Folder for the quarantine files; default ``quarantine_dir`` of the params.

    Returns
    -------
    QualityReport
        Counts of every table that loaded; ``fatal`` holds ``"<table>: <problem>"`` for each
        table that did not (a missing file or column, nothing usable).

    Raises
    ------
    ConfigError
        The params are invalid.
    """
    resolved = resolve_params(params)
    if quarantine_dir is not None:
        resolved["quarantine_dir"] = str(Path(quarantine_dir).resolve())
    if resolved["engine"]["backend"] != "duckdb":
        report, _ = _clean_database(
            resolved, quarantine_dir=Path(resolved["quarantine_dir"]), strict=False
        )
        return report
    report, where = _clean_all(
        resolved, quarantine_dir=Path(resolved["quarantine_dir"]), out_dir=None, strict=False
    )
    for tname in where.values():
        connection().con.execute(f'DROP TABLE IF EXISTS "{tname}"')
    return report
