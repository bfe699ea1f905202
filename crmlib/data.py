"""Canonical tables of the workbook and the way into them.

Every analysis works on the canonical tables of the data contract (see README): users map their
own column names in ``params/data.yaml``; nothing downstream sees the source names.

Transaction-level work runs as Ibis expressions on one embedded DuckDB connection per process, so
the same code can run on PostgreSQL or Spark. Public functions accept a pandas DataFrame, a file
path or an Ibis table (:func:`as_table`) and return pandas (:func:`execute`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from filelock import FileLock

from crmlib import cleaning
from crmlib.config import check_choice, read_yaml
from crmlib.errors import ConfigError, DataError
from crmlib.i18n import check_language, t
from crmlib.privacy import mask_delimited
from crmlib.quality import QualityReport, kind_label

#: Canonical schema of every table: column -> Ibis type. The first columns listed in
#: :data:`REQUIRED` must be present in a source; the rest are filled with nulls when absent.
SCHEMAS: dict[str, dict[str, str]] = {
    "transactions": {
        "customer_id": "string",  # empty = anonymous sale
        "order_id": "string",
        "ordered_at": "timestamp",
        "amount": "float64",  # net paid; negative = return
        "quantity": "int64",
        "sku": "string",
        "category": "string",
        "channel": "string",
        "store": "string",
        "coupon_code": "string",
        "sales_rep": "string",
    },
    "customers": {
        "customer_id": "string",
        "name": "string",
        "phone": "string",
        "email": "string",
        "address": "string",
        "postcode": "string",
        "source_channel": "string",
        "signup_at": "timestamp",
        "birthday": "date",
        "member_level": "string",
        "points": "float64",
    },
    "touchpoints": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "channel": "string",
        "kind": "string",
        "content": "string",
    },
    "campaigns": {
        "campaign_id": "string",
        "name": "string",
        "channel": "string",
        "starts_at": "timestamp",
        "ends_at": "timestamp",
        "coupon_code": "string",
        "partner": "string",
    },
    "campaign_members": {
        "campaign_id": "string",
        "customer_id": "string",
        "group": "string",  # target or control
        "sent_at": "timestamp",
    },
    "events": {
        "customer_id": "string",
        "occurred_at": "timestamp",
        "event": "string",  # visit, view, cart, pay
    },
}

#: Columns a source must provide for each table.
REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_id", "ordered_at", "amount"),
    "customers": ("customer_id",),
    "touchpoints": ("customer_id", "occurred_at", "kind"),
    "campaigns": ("campaign_id",),
    "campaign_members": ("campaign_id", "customer_id", "group"),
    "events": ("customer_id", "occurred_at", "event"),
}

#: Personal fields that reports mask unless a report explicitly asks for them.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "phone", "email", "address", "postcode", "birthday")

#: Free-text and staff columns a report leaves out of quarantine samples unless asked
#: (:meth:`Dataset.quarantined` with ``unmapped=True``): message text can hold anything a
#: customer wrote, and sales_rep names an employee.
REPORT_HIDDEN_FIELDS: dict[str, tuple[str, ...]] = {
    "transactions": ("sales_rep",),
    "touchpoints": ("content",),
}

_CONNECTION: Any = None


def connection() -> Any:
    """The process-wide embedded DuckDB connection (an Ibis backend), created on first use."""
    global _CONNECTION
    if _CONNECTION is None:
        _CONNECTION = ibis.duckdb.connect()
    return _CONNECTION


def execute(expr: ir.Expr) -> pd.DataFrame:
    """Run an Ibis table expression on the workbook's connection and return pandas.

    The result is what the backend's ``to_pandas`` gives, but each Arrow column is converted
    by Arrow itself: Ibis's DuckDB backend sends every column that holds a null through a
    Python list, which on a million rows costs seconds (customer ids, dates, nullable
    numbers); Ibis's own type conversions are still applied afterwards. One difference: an
    integer column holding nulls comes back as float64 with NaN, not as Python objects.
    """
    con = connection()
    if not isinstance(expr, ir.Table):
        return con.to_pandas(expr)
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = con.to_pyarrow(expr)
    frame = pd.DataFrame(
        {
            name: col.to_pylist()
            if pa.types.is_nested(col.type) or pa.types.is_dictionary(col.type)
            else col.to_pandas()
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return DuckDBPandasData.convert_table(frame, expr.schema())


def _read_file(path: Path) -> ir.Table:
    if not path.exists():
        raise DataError("input file does not exist", file=str(path))
    con = connection()
    name = path.name.lower()
    if name.endswith(".parquet"):
        return con.read_parquet(str(path))
    if name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return con.read_csv(str(path))
    raise DataError(
        "unsupported file type; use .csv, .csv.gz or .parquet", file=str(path), value=path.suffix
    )


def as_table(obj: pd.DataFrame | str | Path | ir.Table, *, table: str = "transactions") -> ir.Table:
    """Return ``obj`` as an Ibis table in the canonical schema of ``table``.

    Parameters
    ----------
    obj
        A pandas DataFrame or Ibis table with canonical column names, or the path of a CSV or
        Parquet file that already uses them (raw exports go through ``load_dataset`` instead).
    table
        Which canonical table ``obj`` holds: one of :data:`SCHEMAS`.

    Returns
    -------
    ibis.Table
        Every canonical column in canonical order and type; optional columns that ``obj`` lacks
        are null. Extra columns are dropped.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    if table not in SCHEMAS:
        raise DataError(f"unknown table {table!r}; expected one of {', '.join(SCHEMAS)}")
    source = str(obj) if isinstance(obj, str | Path) else None
    if isinstance(obj, str | Path):
        obj = _read_file(Path(obj))
    elif isinstance(obj, pd.DataFrame):
        obj = ibis.memtable(obj)
    elif not isinstance(obj, ir.Table):
        raise DataError(
            f"{table} must be a pandas DataFrame, a file path or an Ibis table; "
            f"got {type(obj).__name__}"
        )
    missing = [c for c in REQUIRED[table] if c not in obj.columns]
    if missing:
        raise DataError(
            f"{table} lacks required column(s) {', '.join(missing)}",
            file=source,
            column=missing[0],
        )
    cols = {}
    for col, dtype in SCHEMAS[table].items():
        if col in obj.columns:
            cols[col] = obj[col] if obj[col].type() == ibis.dtype(dtype) else obj[col].cast(dtype)
        else:
            cols[col] = ibis.null().cast(dtype)
    return obj.select(**cols)


def parse_day(value: Any, *, name: str = "as_of", required: bool = False) -> pd.Timestamp | None:
    """A date parameter as a day (midnight, time zone dropped), or None when it is empty.

    Parameters
    ----------
    value
        ISO date or timestamp (``"2026-06-30"``, :class:`pandas.Timestamp`, ``datetime``);
        ``None`` or a blank string means "not given".
    name
        Parameter name used in the error message.
    required
        Raise instead of returning None when ``value`` is empty.

    Raises
    ------
    ConfigError
        When ``value`` is not a date (or is empty and ``required``).
    """
    message = f"parameter {name!r} must be an ISO date such as 2026-06-30; got {value!r}"
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(message)
        return None
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(message) from exc
    if pd.isna(day):
        raise ConfigError(message)
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    return day.normalize()


def resolve_as_of(
    transactions: pd.DataFrame | str | Path | ir.Table,
    as_of: str | pd.Timestamp | None = None,
    *,
    name: str = "as_of",
) -> pd.Timestamp:
    """The report date: ``as_of`` as a day, or the day of the last transaction when empty.

    Parameters
    ----------
    transactions
        Canonical transactions (see :func:`as_table`); read only when ``as_of`` is empty.
    as_of
        ISO date; ``None`` or ``""`` means the last transaction date.
    name
        Parameter name used in error messages.

    Raises
    ------
    ConfigError
        When ``as_of`` is not a date.
    DataError
        When ``as_of`` is empty and the transactions hold no dated line.
    """
    day = parse_day(as_of, name=name)
    if day is not None:
        return day
    tx = as_table(transactions)
    last = execute(tx.aggregate(last=tx.ordered_at.max()))["last"].iloc[0]
    if pd.isna(last):
        raise DataError(
            f"the transactions hold no dated line, so {name} cannot default to the last one",
            column="ordered_at",
        )
    return parse_day(last, name=name)


# ---------------------------------------------------------------------------------------------
# Loading: params/data.yaml -> cleaned canonical tables, quarantine and quality report
# ---------------------------------------------------------------------------------------------

#: Bump when the cleaning rules change, so cached tables of an older version are not reused.
CLEANING_VERSION = "4"

#: Top-level keys of params/data.yaml that are not tables.
_SETTINGS = ("cleaning", "quarantine_dir", "cache_dir")
_TABLE_KEYS = ("path", "url", "table", "query", "encoding", "timezone", "columns", "delimiter")

logger = logging.getLogger(__name__)


@dataclass
class Dataset:
    """The cleaned canonical tables of one data source.

    Attributes
    ----------
    transactions, customers, touchpoints, campaigns, campaign_members, events
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
            Translate the reasons and the two leading column names for a report.
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
            return pd.DataFrame(columns=["source_row", "reason"])
        frame = pd.read_csv(q.quarantine_file, dtype=str, nrows=limit, keep_default_na=False)
        frame["source_row"] = frame["source_row"].astype("int64")
        mapping = (self.source.get(table) or {}).get("columns") or {}
        lead = ["source_row", "reason"]
        # a malformed line (crmlib.cleaning): the parser's error and the line's raw text
        extra = [c for c in _MALFORMED_COLUMNS if c in frame.columns]
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
            frame["reason"] = [kind_label(r, language) for r in frame["reason"]]
            frame = frame.rename(
                columns={
                    "source_row": t("data.col_source_row", language),
                    "reason": t("data.col_reason", language),
                    "detail": t("data.col_detail", language),
                }
            )
        return frame


#: Quarantine columns that describe a malformed source line (see :mod:`crmlib.cleaning`).
_MALFORMED_COLUMNS = ("detail", "line_text")


def _mask_line(text: str, *, whole: bool) -> str:
    """The raw text of a malformed line, masked: entirely (``whole``: a customers line, whose
    names and addresses no pattern finds), else its email addresses and phone numbers."""
    if not text:
        return text
    return "***" if whole else mask_delimited(text)[0]


def _resolve(params: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check params; paths become absolute (relative ones against the working dir)."""
    raw = read_yaml(params) if isinstance(params, str | Path) else dict(params)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"data params must be a mapping of tables; got {type(raw).__name__}")
    unknown = set(raw) - set(SCHEMAS) - set(_SETTINGS)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in data params; "
            f"allowed: {', '.join((*SCHEMAS, *_SETTINGS))}"
        )
    if not raw.get("transactions"):
        raise ConfigError("data params must configure the transactions table")
    cwd = Path.cwd()
    rules = cleaning.check_rules(raw.get("cleaning") or {})
    rules["channels_file"] = str((cwd / rules["channels_file"]).resolve())
    out: dict[str, Any] = {"cleaning": rules}
    for key in ("quarantine_dir", "cache_dir"):
        default = "data/quarantine" if key == "quarantine_dir" else "data/.cache"
        out[key] = str((cwd / str(raw.get(key) or default)).resolve())
    for name in SCHEMAS:
        spec = raw.get(name)
        if not spec:
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"parameter {name!r} must be a mapping with a path or url")
        extra = set(spec) - set(_TABLE_KEYS)
        if extra:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(extra))} for table {name!r}; "
                f"allowed: {', '.join(_TABLE_KEYS)}"
            )
        if bool(spec.get("path")) == bool(spec.get("url")):
            raise ConfigError(f"parameter {name!r} needs exactly one of `path` and `url`")
        columns = dict(spec.get("columns") or {})
        bad = set(columns) - set(SCHEMAS[name])
        if bad:
            raise ConfigError(
                f"parameter '{name}.columns' maps unknown canonical column(s) "
                f"{', '.join(sorted(bad))}; allowed: {', '.join(SCHEMAS[name])}"
            )
        entry = {k: spec[k] for k in _TABLE_KEYS if spec.get(k) is not None}
        entry["columns"] = {k: str(v) for k, v in columns.items()}
        entry.setdefault("encoding", "utf-8")
        entry.setdefault("timezone", "Asia/Shanghai")
        try:
            zoneinfo.ZoneInfo(str(entry["timezone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"parameter '{name}.timezone' must be an IANA time zone such as Asia/Shanghai; "
                f"got {entry['timezone']!r}"
            ) from exc
        if "path" in entry:
            entry["path"] = str((cwd / str(entry["path"])).resolve())
        out[name] = entry
    return out


def _max_date(rules: Mapping[str, Any], timezone: str) -> pd.Timestamp:
    if rules.get("max_date"):
        stamp = pd.Timestamp(str(rules["max_date"]))
        if len(str(rules["max_date"])) <= 10:  # a date: the whole day counts
            stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return stamp
    return pd.Timestamp.now(tz=timezone).tz_localize(None).floor("s")


def _source_files(resolved: Mapping[str, Any]) -> list[Path]:
    files = [Path(resolved["cleaning"]["channels_file"])]
    for name in SCHEMAS:
        entry = resolved.get(name)
        if not entry:
            continue
        if "path" in entry:
            files.append(Path(entry["path"]))
        else:
            rest = str(entry["url"]).partition("://")[2]
            db = Path(rest[1:] if rest.startswith("/") else rest)
            files.append(db if db.is_absolute() else Path.cwd() / db)
    return files


def fingerprint(params: str | Path | Mapping[str, Any] = "params/data.yaml") -> str:
    """Hash of the resolved params and the size and modification time of every source file.

    When ``cleaning.max_date`` is empty (future dates are judged against the load time), the
    load date is part of the hash, so a cache is reused within the day it was built.
    """
    return _fingerprint(_resolve(params))


def _fingerprint(resolved: Mapping[str, Any]) -> str:
    stats = []
    for path in _source_files(resolved):
        st = path.stat() if path.exists() else None
        stats.append([str(path), st.st_size if st else None, st.st_mtime_ns if st else None])
    tz = resolved["transactions"].get("timezone", "Asia/Shanghai")
    day = "" if resolved["cleaning"]["max_date"] else str(_max_date({}, tz).date())
    content = {k: v for k, v in resolved.items() if k not in ("quarantine_dir", "cache_dir")}
    payload = json.dumps(
        {"params": content, "files": stats, "day": day, "version": CLEANING_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _source_of(name: str, entry: Mapping[str, Any]) -> cleaning.Source:
    return cleaning.Source(
        table=name,
        path=Path(entry["path"]) if "path" in entry else None,
        url=entry.get("url"),
        db_table=entry.get("table"),
        query=entry.get("query"),
        encoding=str(entry.get("encoding", "utf-8")),
        timezone=str(entry.get("timezone", "Asia/Shanghai")),
        columns=dict(entry.get("columns") or {}),
        delimiter=entry.get("delimiter"),
    )


def _clean_all(
    resolved: Mapping[str, Any],
    *,
    quarantine_dir: Path,
    out_dir: Path | None,
    strict: bool,
) -> tuple[QualityReport, dict[str, str]]:
    """Clean every configured table; returns the report and table -> parquet path/table name."""
    rules = resolved["cleaning"]
    channels = cleaning.read_channels(rules["channels_file"])
    con = connection().con
    report = QualityReport()
    where: dict[str, str] = {}
    tag = uuid.uuid4().hex[:8]
    for name in SCHEMAS:
        entry = resolved.get(name)
        if not entry:
            continue
        source = _source_of(name, entry)
        try:
            done = cleaning.clean_table(
                con,
                source,
                schema=SCHEMAS[name],
                required=REQUIRED[name],
                rules=rules,
                channels=channels,
                max_date=_max_date(rules, source.timezone),
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
    params: str | Path | Mapping[str, Any] = "params/data.yaml",
    *,
    quarantine_dir: str | Path | None = None,
    cache: bool = True,
) -> Dataset:
    """Load, clean and validate the data source described by ``params``.

    Parameters
    ----------
    params
        Path of a data params file (``params/data.yaml``) or the same content as a mapping.
        Per table: ``path`` (.csv, .csv.gz, .parquet; relative to the working directory) or
        ``url`` (``duckdb:///file.db`` / ``sqlite:///file.db``) with ``table`` or ``query``;
        ``encoding`` (utf-8 by default, BOM tolerated; gbk, gb18030 … are transcoded);
        ``timezone`` of naive timestamps; ``columns`` {canonical: source}. Cleaning rules go
        under ``cleaning:`` (see :data:`crmlib.cleaning.DEFAULTS`).
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
    resolved = _resolve(params)
    if quarantine_dir is not None:
        resolved["quarantine_dir"] = str(Path(quarantine_dir).resolve())
    qdir = Path(resolved["quarantine_dir"])
    fp = _fingerprint(resolved)
    con = connection()
    if not cache:
        report, where = _clean_all(resolved, quarantine_dir=qdir, out_dir=None, strict=True)
        tables = {name: con.table(tname) for name, tname in where.items()}
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
        name: con.read_parquet(str(final / f"{name}.parquet"), table_name=f"crm_{name}_{fp}")
        for name in report.tables
    }
    return Dataset(**tables, quality=report, source=resolved, fingerprint=fp)


def validate(
    params: str | Path | Mapping[str, Any] = "params/data.yaml",
    *,
    language: str = "en",
    quarantine_dir: str | Path | None = None,
) -> tuple[str, int]:
    """Check a data source and return ``(summary text, exit code)`` for the command line.

    Every configured table is cleaned afresh (no cache) and quarantined rows are written; the
    text lists rows read, kept, repaired and rejected per table and any fatal problem.

    Returns
    -------
    tuple of (str, int)
        The summary in ``language``, and 0 when every table loaded, 1 on a data problem (a
        missing file, column, or nothing usable), 2 on invalid params.
    """
    check_language(language)
    try:
        resolved = _resolve(params)
        if quarantine_dir is not None:
            resolved["quarantine_dir"] = str(Path(quarantine_dir).resolve())
        report, where = _clean_all(
            resolved, quarantine_dir=Path(resolved["quarantine_dir"]), out_dir=None, strict=False
        )
    except ConfigError as exc:
        return t("data.text_config_error", language, message=str(exc)), 2
    for tname in where.values():
        connection().con.execute(f'DROP TABLE IF EXISTS "{tname}"')
    if "transactions" not in report.tables and not any(
        m.startswith("transactions:") for m in report.fatal
    ):
        report.fatal.append("transactions: " + t("data.text_no_transactions", language))
    return report.to_text(language), 1 if report.fatal else 0


# ---------------------------------------------------------------------------------------------
# Personal fields
# ---------------------------------------------------------------------------------------------


def mask_value(value: Any, kind: str) -> Any:
    """Mask one personal value for display.

    Parameters
    ----------
    value
        The value; None, NaN and empty strings are returned unchanged.
    kind
        Which personal field (one of :data:`PERSONAL_FIELDS`): ``phone`` keeps the first 3 and
        last 4 digits (``138****1234``), ``email`` the first character and the domain
        (``a***@x.com``), ``name`` the first character (``张**``), ``address`` the first 6
        characters (``上海市浦东新…``), ``postcode`` the first 3 characters, ``birthday`` the year.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return value
    text = str(value).strip()
    if not text:
        return value
    if kind == "phone":
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 8:
            return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
        return "*" * len(digits or text)
    if kind == "email":
        local, at, domain = text.partition("@")
        return f"{local[:1]}***@{domain}" if at else f"{text[:1]}***"
    if kind == "name":
        return text[:1] + "**"
    if kind == "address":
        return text[:6] + "…" if len(text) > 6 else text[:2] + "…"
    if kind == "postcode":
        return text[:3] + "***"
    if kind == "birthday":
        return text[:4] + "-**-**"
    raise ConfigError(
        f"parameter 'kind' must be one of {', '.join(map(repr, PERSONAL_FIELDS))}; got {kind!r}"
    )


def mask_personal(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Copy of ``frame`` with personal fields masked by :func:`mask_value`.

    Parameters
    ----------
    frame
        Any table.
    columns
        {column of ``frame``: kind of personal field}; by default every column named like a
        personal field (:data:`PERSONAL_FIELDS`).
    """
    if columns is None:
        columns = {c: c for c in frame.columns if c in PERSONAL_FIELDS}
    out = frame.copy()
    for column, kind in columns.items():
        if column in out.columns:
            out[column] = out[column].map(lambda v, k=kind: mask_value(v, k)).astype(object)
    return out


# ---------------------------------------------------------------------------------------------
# Per-customer and per-period summaries of the transactions
# ---------------------------------------------------------------------------------------------


def _as_of(value: Any) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"parameter 'observation_end' must be an ISO date; got {value!r}"
        ) from exc


def customer_summary(
    transactions: pd.DataFrame | str | Path | ir.Table,
    *,
    observation_end: str | pd.Timestamp | None = None,
    monetary: bool = False,
    orders: bool = False,
) -> pd.DataFrame:
    """Per identified customer: purchase history in the lifetimes convention (days).

    Purchases are lines with a non-negative (or missing) amount; returns (negative lines) count
    in revenue only. Anonymous lines (no ``customer_id``) and lines dated after
    ``observation_end`` are left out; customers with returns only are left out.

    Parameters
    ----------
    transactions
        Canonical transactions (see :func:`as_table`).
    observation_end
        Last day of observation (ISO date); default the date of the last transaction line.
    monetary
        Also return ``monetary_value``: mean revenue per repeat purchase day (the first purchase
        day excluded; 0 when frequency is 0), as lifetimes computes it for Gamma-Gamma. Costs
        three more aggregates (about a fifth more time).
    orders
        Also return ``orders``: distinct order ids with a purchase. An exact distinct count is a
        second pass over the lines (about two thirds more time on ten million lines), so it is
        off unless asked for.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by ``customer_id``: ``first_purchase`` and
        ``last_purchase`` (days, as midnight timestamps), ``purchase_days`` (distinct purchase
        days), ``revenue`` (net, returns included), ``frequency`` (purchase days - 1, the repeat
        purchase days), ``recency`` (days from the first to the last purchase day) and ``T``
        (days from the first purchase day to ``observation_end``) — the definitions of
        ``lifetimes.utils.summary_data_from_transaction_data(freq="D")`` — plus
        ``monetary_value`` and ``orders`` when asked for. ``attrs["observation_end"]`` holds
        the observation end used.
    """
    tx = as_table(transactions)
    end = _as_of(observation_end)
    if end is None:
        last = execute(tx.aggregate(last=tx.ordered_at.max()))["last"].iloc[0]
        if pd.isna(last):
            raise DataError("transactions hold no dated line", column="ordered_at")
        end = pd.Timestamp(last).normalize()
    end_date = ibis.literal(end.date())
    # Comparing the timestamp itself (rather than its date) lets Parquet row groups be skipped.
    cutoff = ibis.literal((end + pd.Timedelta(days=1)).to_pydatetime(), type="timestamp")
    lines = tx.filter(tx.customer_id.notnull(), tx.ordered_at < cutoff)
    purchase = lines.amount.isnull() | (lines.amount >= 0)
    # One pass per (customer, day), then one per customer: distinct purchase days, first and
    # last purchase day and first-day revenue fall out of the same two aggregations (no
    # self-join). The first pass keeps only days and sums: carrying the purchase timestamps
    # through it cost a fifth of the whole summary on ten million lines.
    daily = lines.group_by(customer_id=lines.customer_id, day=lines.ordered_at.date()).aggregate(
        bought=purchase.any(),
        revenue=lines.amount.sum(),
        **({"paid": lines.amount.sum(where=purchase).fill_null(0)} if monetary else {}),
    )
    bought = daily.bought
    per = daily.group_by("customer_id").aggregate(
        first_purchase=daily.day.min(where=bought),
        last_purchase=daily.day.max(where=bought),
        purchase_days=daily.day.count(where=bought),
        revenue=daily.revenue.sum(),
        **(
            {
                "paid": daily.paid.sum(where=bought),
                "first_revenue": daily.paid.argmin(daily.day, where=bought),
            }
            if monetary
            else {}
        ),
    )
    per = per.filter(per.purchase_days > 0)
    if orders:
        bought_lines = lines.filter(purchase)
        counts = bought_lines.group_by("customer_id").aggregate(
            orders=bought_lines.order_id.nunique()
        )
        per = per.left_join(counts, "customer_id").select(
            *[per[c] for c in per.columns], orders=counts.orders.fill_null(0)
        )
    frequency = per.purchase_days - 1
    columns = {
        "frequency": frequency,
        "recency": per.last_purchase.delta(per.first_purchase, unit="day"),
        "T": end_date.delta(per.first_purchase, unit="day"),
    }
    if monetary:
        columns["monetary_value"] = ibis.ifelse(
            frequency > 0, (per.paid - per.first_revenue) / frequency, 0.0
        )
    result = per.select(
        customer_id=per.customer_id,
        # As timestamps: a date column would reach pandas as a million Python objects.
        first_purchase=per.first_purchase.cast("timestamp"),
        last_purchase=per.last_purchase.cast("timestamp"),
        **({"orders": per.orders} if orders else {}),
        purchase_days=per.purchase_days,
        revenue=per.revenue,
        **columns,
    )
    # Sorting in the engine (parallel, on the key bytes) beats sorting the strings in pandas:
    # on a million customers the pandas sort took a tenth of the whole summary.
    out = execute(result.order_by("customer_id"))
    for col in ("orders", "purchase_days", "frequency", "recency", "T"):
        if col in out:
            out[col] = out[col].astype("int64")
    for col in ("revenue", "monetary_value"):
        if col in out:
            out[col] = out[col].astype("float64").fillna(0.0)
    out = out.reset_index(drop=True)
    out.attrs["observation_end"] = end
    return out


def coverage(
    transactions: pd.DataFrame | str | Path | ir.Table,
    *,
    freq: str = "month",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Orders, lines, customers and revenue per period and channel.

    Parameters
    ----------
    transactions
        Canonical transactions (see :func:`as_table`).
    freq
        ``"month"``, ``"week"`` or ``"day"``.
    as_of
        Leave out lines after this date (ISO); default keep everything.

    Returns
    -------
    pandas.DataFrame
        ``period`` (start of the period, timestamp), ``channel`` (``unknown`` when missing),
        ``lines``, ``orders``, ``customers`` (identified), ``revenue`` (net), sorted by period
        and channel.
    """
    check_choice("freq", freq, ("month", "week", "day"))
    tx = as_table(transactions)
    end = _as_of(as_of)
    if end is not None:
        tx = tx.filter(tx.ordered_at.date() <= ibis.literal(end.date()))
    unit = {"month": "M", "week": "W", "day": "D"}[freq]
    grouped = tx.mutate(
        period=tx.ordered_at.truncate(unit), channel=tx.channel.fill_null("unknown")
    ).group_by(["period", "channel"])
    out = execute(
        grouped.aggregate(
            lines=ibis._.count(),
            orders=ibis._.order_id.nunique(),
            customers=ibis._.customer_id.nunique(),
            revenue=ibis._.amount.sum(),
        ).order_by(["period", "channel"])
    )
    for col in ("lines", "orders", "customers"):
        out[col] = out[col].astype("int64")
    out["revenue"] = out["revenue"].astype("float64").fillna(0.0)
    return out.reset_index(drop=True)
