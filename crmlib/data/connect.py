"""Connecting to the engines a retailer's data lives on: a database server that Ibis reaches
(PostgreSQL, or any Ibis URL) and Spark, on the process's one SparkSession.

:func:`connect_engine` turns the ``engine:`` settings of ``params/data.yaml`` into an Ibis
backend, one per URL and password in a process; the password comes only from
``CRMWB_DATABASE_PASSWORD`` (the environment or the project's git-ignored ``.env``).
:mod:`crmlib.data.engine` re-exports these names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import ibis
from dotenv import dotenv_values

from crmlib.config import project_dir
from crmlib.errors import DataError

__all__ = ["PASSWORD_HINT", "SPARK_DEFAULTS", "connect_engine", "engine_label", "spark_session"]

#: Spark settings the workbook sets unless ``engine.conf`` says otherwise: naive timestamps
#: are read and written as they are (UTC session zone), and small shuffles stay small.
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}

_SPARK: dict[str, Any] = {}


def spark_session(master: str = "local[*]", conf: Mapping[str, Any] | None = None) -> Any:
    """The process's one SparkSession, created on first use and reused.

    Parameters
    ----------
    master
        Where Spark runs: ``local[*]`` (this machine, every core), ``spark://host:7077``,
        ``yarn`` …
    conf
        Spark settings (``spark.executor.memory`` …) over :data:`SPARK_DEFAULTS`.

    Raises
    ------
    DataError
        PySpark is not installed, Java is missing, a standalone master (``spark://``) does not
        answer, or the session cannot start; or a session with another master is already
        running in this process.
    """
    settings = {**SPARK_DEFAULTS, **{str(k): str(v) for k, v in (conf or {}).items()}}
    if "session" in _SPARK:
        if _SPARK["master"] != master:
            raise DataError(
                f"a Spark session with master {_SPARK['master']} is already running in this "
                f"process; one process runs one Spark session (asked for {master})"
            )
        return _SPARK["session"]
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise DataError(
            f"the spark engine needs PySpark: pip install 'crm-workbook[spark]' ({exc})"
        ) from exc
    _reach_master(master)
    builder = SparkSession.builder.master(master).appName("crmwb")
    for key, val in settings.items():
        builder = builder.config(key, val)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Java missing, a master that refused the application …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            first += "; Spark needs a Java runtime (apt-get install default-jre-headless)"
        elif master.startswith("spark://"):
            first += "; the master refused or dropped the application (see its log)"
        raise DataError(f"cannot start the spark engine at {master}: {first}") from exc
    _SPARK.update(session=session, master=master)
    return session


def _reach_master(master: str, *, timeout: float = 10.0) -> None:
    """For a standalone master (``spark://host:port[,host2:port2]``), DataError unless one of
    its addresses accepts a connection: Spark itself retries an unreachable master for about
    a minute and then names no host."""
    if not master.startswith("spark://"):
        return
    tried = []
    for address in master[len("spark://") :].split(","):
        parts = urlsplit(f"spark://{address}")
        try:
            host, port = parts.hostname or "localhost", parts.port or 7077
        except ValueError:
            raise DataError(f"the spark engine's master {master!r} has an invalid port") from None
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except OSError as exc:
            tried.append(f"{host}:{port} ({exc.strerror or exc})")
    raise DataError(
        f"cannot reach the spark engine at {master}: no master answers at {', '.join(tried)}"
    )


_ENGINES: dict[tuple[str, str], Any] = {}


def connect_engine(settings: Mapping[str, Any], *, password: str | None = None) -> Any:
    """The Ibis backend of a database engine (the ``engine:`` section of the data params).

    Parameters
    ----------
    settings
        The checked section (:func:`crmlib.data.params.resolve_params`): ``backend`` and ``url``
        (``postgresql://user@host:port/database``), or ``backend: spark`` with ``master`` and
        ``conf`` (:func:`spark_session`).
    password
        The password; default ``CRMWB_DATABASE_PASSWORD`` from the environment, else from the
        ``.env`` file of the project folder (:func:`crmlib.config.project_dir`), else none.

    Returns
    -------
    ibis backend
        One connection per url and password in a process, reused by later loads.

    Raises
    ------
    DataError
        The server cannot be reached or refuses the login; the message names the engine, host,
        port, database and user, never the password.
    """
    backend = settings["backend"]
    if backend == "spark":
        key = ("spark", str(settings.get("master", "local[*]")))
        if key not in _ENGINES:
            session = spark_session(key[1], settings.get("conf") or {})
            _ENGINES[key] = ibis.pyspark.connect(session=session)
        return _ENGINES[key]
    url = str(settings["url"])
    parts = urlsplit(url)
    if password is None:
        password = os.environ.get("CRMWB_DATABASE_PASSWORD")
    if password is None:
        env = project_dir() / ".env"
        if env.exists():
            password = dotenv_values(env).get("CRMWB_DATABASE_PASSWORD")
    key = (url, hashlib.sha256((password or "").encode()).hexdigest())
    if key in _ENGINES:
        return _ENGINES[key]
    host, port = parts.hostname or "localhost", parts.port or 5432
    database = unquote(parts.path.lstrip("/")) or None
    user = unquote(parts.username) if parts.username else None
    where = f"{backend} engine at {host}:{port}/{database or ''} as user {user or '(default)'}"
    try:
        con = ibis.postgres.connect(
            host=host, port=port, user=user, password=password, database=database,
            connect_timeout=10,
        )  # fmt: skip
    except ImportError as exc:
        raise DataError(
            f"the {backend} engine needs psycopg: pip install 'crm-workbook[postgres]' ({exc})"
        ) from exc
    except Exception as exc:  # psycopg's OperationalError and its kin
        text = str(exc).strip().splitlines()
        reason = next((t for t in text if "FATAL" in t or "failed" in t), text[0] if text else "")
        if password:
            reason = reason.replace(password, "***")
        hint = (
            f"; check {PASSWORD_HINT}"
            if "password" in reason.lower() or "authentication" in reason.lower()
            else ""
        )
        raise DataError(f"cannot connect to the {where}: {reason}{hint}") from exc
    _ENGINES[key] = con
    return con


def engine_label(settings: Mapping[str, Any]) -> str:
    """How errors name an engine: ``postgres engine at host:port/database``, ``spark engine at
    local[2]``; never with a password (a url holding one is refused by the params check).

    Parameters
    ----------
    settings
        The checked ``engine:`` section (:func:`crmlib.data.params.resolve_params`).
    """
    backend = str(settings.get("backend", "duckdb"))
    if backend == "spark":
        return f"spark engine at {settings.get('master', 'local[*]')}"
    if backend == "duckdb":
        return "duckdb engine (embedded)"
    parts = urlsplit(str(settings.get("url", "")))
    host, port = parts.hostname or "localhost", parts.port or 5432
    return f"{backend} engine at {host}:{port}{parts.path or ''}"


#: Where a database password is read from, for error messages.
PASSWORD_HINT = "CRMWB_DATABASE_PASSWORD (environment or the project's .env)"
