"""The data params (``params/data.yaml``): reading and checking them, and their fingerprint.

The params name each table's source (a file ``path``, or a database ``url`` with ``table`` or
``query``), its ``encoding``, ``timezone``, ``delimiter`` and ``columns`` mapping, and hold the
cleaning rules (``cleaning:``, :mod:`crmlib.data.rules`), ``quarantine_dir`` and ``cache_dir``.
A relative ``path`` (and ``channels_file``, ``quarantine_dir``, ``cache_dir``) is read from the
working directory when it exists there, else from the project folder: the folder holding the
``params/`` folder of the params file, or :func:`crmlib.config.project_dir` for params given as a
mapping or kept elsewhere. Run from the project root, both are the working directory. A database
``url`` is read from the working directory.

The ``engine:`` section names where the tables live and the work runs (:data:`ENGINE_KEYS`):
``backend: duckdb`` (the default: files and DuckDB/SQLite databases, embedded) or ``backend:
postgres`` with ``url: postgresql://user@host:port/database``, whose tables are named by
``table:`` or ``query:``; the password comes from ``CRMWB_DATABASE_PASSWORD`` (environment or
the project's ``.env``), never from params. ``backend: spark`` runs on a Spark session
(``master:``, ``local[*]`` by default, and ``conf:``, a map of Spark settings); its tables are
read by Spark from ``path:`` (Parquet or CSV; any URI Spark reads: ``hdfs://``, ``s3a://`` …),
or named by ``table:`` in Spark's catalog or ``query:`` (Spark SQL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crmlib.config import PARAMS_FOLDER, project_dir, read_yaml, resolve_params_file, resolve_path
from crmlib.currency import currency
from crmlib.data.dates import future_cutoff
from crmlib.data.rules import CLEANING_VERSION, check_rules
from crmlib.data.schema import SCHEMAS
from crmlib.errors import ConfigError, did_you_mean

__all__ = [
    "DATA_PARAMS",
    "BACKENDS",
    "ENGINE_KEYS",
    "PASSWORD_VARIABLE",
    "SETTINGS",
    "TABLE_KEYS",
    "resolve_params",
    "source_files",
    "fingerprint",
    "fingerprint_of",
]

#: The data params file a call reads when it names none.
DATA_PARAMS = "params/data.yaml"

#: Top-level keys of the data params that are not tables.
SETTINGS: tuple[str, ...] = ("engine", "cleaning", "quarantine_dir", "cache_dir", "currency")

#: Engines a data params file may name under ``engine: backend:``.
BACKENDS: tuple[str, ...] = ("duckdb", "postgres", "spark")

#: Keys of the ``engine:`` section.
ENGINE_KEYS: tuple[str, ...] = ("backend", "url", "master", "conf", "quarantine_limit")

#: Environment variable (or ``.env`` entry) holding the database password.
PASSWORD_VARIABLE = "CRMWB_DATABASE_PASSWORD"

#: Keys of a table's entry in the data params.
TABLE_KEYS: tuple[str, ...] = (
    "path", "url", "table", "query", "encoding", "timezone", "columns", "delimiter",
)  # fmt: skip


def resolve_params(params: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check data params; every setting filled in, every path made absolute.

    Parameters
    ----------
    params
        Path of a data params file, or the same content as a mapping.

    Returns
    -------
    dict
        ``cleaning`` (the checked rules, ``channels_file`` absolute), ``quarantine_dir`` and
        ``cache_dir`` (absolute; ``data/quarantine`` and ``data/.cache`` by default) and one
        entry per configured table (``encoding`` utf-8 and ``timezone`` Asia/Shanghai by
        default, ``path`` absolute). A relative path is taken from the working directory when it
        exists there, else from the project folder (see the module docstring).

    Raises
    ------
    ConfigError
        Naming the key and value that are not allowed.
    """
    if not isinstance(params, str | Path):
        return _resolve(dict(params), project=project_dir())
    path = resolve_path(params)
    raw = read_yaml(path)
    folder = path.resolve().parent
    project = folder.parent if folder.name == PARAMS_FOLDER else project_dir()
    try:
        return _resolve(raw, project=project)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (params file {str(path)!r})") from exc


def _absolute(path: Any, project: Path) -> str:
    """``path`` from the working directory when it exists there, else from ``project``."""
    return str(resolve_path(str(path), base=project).resolve())


def _resolve(raw: Any, *, project: Path) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"data params must be a mapping of tables; got {type(raw).__name__}")
    unknown = set(raw) - set(SCHEMAS) - set(SETTINGS)
    if unknown:
        first = sorted(map(str, unknown))[0]
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} in data params"
            f"{did_you_mean(first, (*SCHEMAS, *SETTINGS))}; "
            f"allowed: {', '.join((*SCHEMAS, *SETTINGS))}"
        )
    if not raw.get("transactions"):
        raise ConfigError("data params must configure the transactions table")
    engine = _engine(raw.get("engine"))
    rules = check_rules(raw.get("cleaning") or {})
    rules["channels_file"] = str(
        resolve_params_file(rules["channels_file"], base=project).resolve()
    )
    out: dict[str, Any] = {"engine": engine, "cleaning": rules}
    out["currency"] = dataclasses.asdict(currency(raw.get("currency")))
    for key in ("quarantine_dir", "cache_dir"):
        default = "data/quarantine" if key == "quarantine_dir" else "data/.cache"
        out[key] = _absolute(raw.get(key) or default, project)
    for name in SCHEMAS:
        spec = raw.get(name)
        if not spec:
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"parameter {name!r} must be a mapping with a path or url")
        extra = set(spec) - set(TABLE_KEYS)
        if extra:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(map(str, extra)))} for table {name!r}"
                f"{did_you_mean(sorted(map(str, extra))[0], TABLE_KEYS)}; "
                f"allowed: {', '.join(TABLE_KEYS)}"
            )
        if engine["backend"] == "spark":
            _check_spark_table(name, spec)
        elif engine["backend"] != "duckdb":
            _check_database_table(name, spec, engine["backend"])
        elif bool(spec.get("path")) == bool(spec.get("url")):
            raise ConfigError(f"parameter {name!r} needs exactly one of `path` and `url`")
        columns = dict(spec.get("columns") or {})
        bad = set(columns) - set(SCHEMAS[name])
        if bad:
            raise ConfigError(
                f"parameter '{name}.columns' maps unknown canonical column(s) "
                f"{', '.join(sorted(map(str, bad)))}"
                f"{did_you_mean(sorted(map(str, bad))[0], SCHEMAS[name])}; "
                f"allowed: {', '.join(SCHEMAS[name])}"
            )
        entry = {k: spec[k] for k in TABLE_KEYS if spec.get(k) is not None}
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
        if "path" in entry and not _is_uri(str(entry["path"])):
            entry["path"] = _absolute(entry["path"], project)
        out[name] = entry
    return out


def _engine(raw: Any) -> dict[str, Any]:
    """The checked ``engine:`` section (``backend`` duckdb by default)."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"backend": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"parameter 'engine' must be a mapping; got {type(raw).__name__}")
    extra = set(raw) - set(ENGINE_KEYS)
    if extra:
        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(map(str, extra)))} for 'engine'; "
            f"allowed: {', '.join(ENGINE_KEYS)}"
        )
    backend = raw.get("backend") or "duckdb"
    if backend not in BACKENDS:
        raise ConfigError(
            f"parameter 'engine.backend' must be one of {', '.join(BACKENDS)}; got {backend!r}"
        )
    limit = raw.get("quarantine_limit", 100_000)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigError(
            f"parameter 'engine.quarantine_limit' must be a whole number >= 0; got {limit!r}"
        )
    out: dict[str, Any] = {"backend": backend, "quarantine_limit": limit}
    if backend != "spark" and (raw.get("master") or raw.get("conf")):
        raise ConfigError(
            "parameters 'engine.master' and 'engine.conf' are for backend spark; "
            f"got backend {backend}"
        )
    if backend == "spark":
        if raw.get("url"):
            raise ConfigError(
                "parameter 'engine.url' is for backend postgres; Spark is reached by "
                "'engine.master' (local[*], spark://host:7077, yarn …)"
            )
        master = raw.get("master") or "local[*]"
        conf = raw.get("conf") or {}
        if not isinstance(master, str):
            raise ConfigError(f"parameter 'engine.master' must be text; got {master!r}")
        if not isinstance(conf, Mapping) or any(
            isinstance(v, Mapping | list) for v in conf.values()
        ):
            raise ConfigError(
                "parameter 'engine.conf' must map Spark settings to values "
                f"(spark.executor.memory: 4g); got {conf!r}"
            )
        out.update(master=master, conf={str(k): str(v) for k, v in conf.items()})
        return out
    if backend == "duckdb":
        if raw.get("url"):
            raise ConfigError(
                "parameter 'engine.url' is for a database engine (backend: postgres); the "
                "duckdb engine reads each table's `path` or `url`"
            )
        return out
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(
            "parameter 'engine.url' is required for backend postgres: "
            "postgresql://user@host:port/database"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ConfigError(
            "parameter 'engine.url' must look like postgresql://user@host:port/database; "
            f"got {_without_password(url)!r}"
        )
    if parts.password is not None:
        raise ConfigError(
            "parameter 'engine.url' must not hold a password (it would be stored with the "
            f"params and printed in reports); set {PASSWORD_VARIABLE} in the environment or in "
            f"the project's .env instead; got {_without_password(url)!r}"
        )
    out["url"] = url
    return out


def _without_password(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _check_database_table(name: str, spec: Mapping[str, Any], backend: str) -> None:
    """A table on a database engine is named by exactly one of `table` and `query`."""
    files = [k for k in ("path", "url", "encoding", "delimiter") if spec.get(k)]
    if files:
        raise ConfigError(
            f"parameter {name!r} sets {', '.join(files)}, which the {backend} engine does not "
            "read: name the table on the server with `table:` or `query:` (files are read by "
            "engine backend duckdb)"
        )
    if bool(spec.get("table")) == bool(spec.get("query")):
        raise ConfigError(
            f"parameter {name!r} needs exactly one of `table` and `query` on the {backend} engine"
        )


def _is_uri(path: str) -> bool:
    """Whether ``path`` is a URI (``hdfs://…``, ``s3a://…``) rather than a local path."""
    scheme = urlsplit(path).scheme
    return len(scheme) > 1 and "://" in path


def _check_spark_table(name: str, spec: Mapping[str, Any]) -> None:
    """A table on the spark engine is named by exactly one of `path`, `table` and `query`."""
    if spec.get("url"):
        raise ConfigError(
            f"parameter {name!r} sets url, which the spark engine does not read: use `path:` "
            "(a file or URI Spark reads), `table:` (Spark's catalog) or `query:`"
        )
    named = [k for k in ("path", "table", "query") if spec.get(k)]
    if len(named) != 1:
        raise ConfigError(
            f"parameter {name!r} needs exactly one of `path`, `table` and `query` on the "
            f"spark engine; got {', '.join(named) or 'none'}"
        )


def source_files(resolved: Mapping[str, Any]) -> list[Path]:
    """Files the resolved params read: the channels file and each table's file or database."""
    files = [Path(resolved["cleaning"]["channels_file"])]
    for name in SCHEMAS:
        entry = resolved.get(name)
        if not entry:
            continue
        if "path" in entry and not _is_uri(str(entry["path"])):
            files.append(Path(entry["path"]))
        elif "url" in entry:
            rest = str(entry["url"]).partition("://")[2]
            db = Path(rest[1:] if rest.startswith("/") else rest)
            files.append(db if db.is_absolute() else Path.cwd() / db)
    return files


def fingerprint(params: str | Path | Mapping[str, Any] = DATA_PARAMS) -> str:
    """Hash of the resolved params and the size and modification time of every source file.

    When ``cleaning.max_date`` is empty (future dates are judged against the load time), the
    load date is part of the hash, so a cache is reused within the day it was built.
    """
    return fingerprint_of(resolve_params(params))


def fingerprint_of(resolved: Mapping[str, Any]) -> str:
    """:func:`fingerprint` of params already resolved by :func:`resolve_params`."""
    stats = []
    for path in source_files(resolved):
        st = path.stat() if path.exists() else None
        stats.append([str(path), st.st_size if st else None, st.st_mtime_ns if st else None])
    tz = resolved["transactions"].get("timezone", "Asia/Shanghai")
    day = "" if resolved["cleaning"]["max_date"] else str(future_cutoff("", timezone=tz).date())
    # where files go, and how money is written, do not change the cleaned tables
    skip = ("quarantine_dir", "cache_dir", "currency")
    content = {k: v for k, v in resolved.items() if k not in skip}
    payload = json.dumps(
        {"params": content, "files": stats, "day": day, "version": CLEANING_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
