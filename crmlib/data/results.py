"""The run cache: results of shared analyses kept as files, so that each is computed once.

The notebooks of one run (and of later runs, and an analyst's session in JupyterLab) ask for the
same intermediates: the per-customer summary, RFM scores, lifecycle stages, the CLV fit, the
rules. A function decorated with :func:`cached` looks its result up under the data's cache
folder before computing it::

    <cache_dir>/<fingerprint>/results/<name>-<key>.parquet   (a DataFrame)
    <cache_dir>/<fingerprint>/results/<name>-<key>.pkl       (anything else)

beside the cleaned tables of :func:`crmlib.data.load_dataset`. The key hashes

* the data: a table of a loaded :class:`~crmlib.data.Dataset` counts by the dataset's
  fingerprint (its params, and the size and time of every source file); a pandas frame passed
  as an argument by a hash of its content;
* every other argument, bound to the function's signature with its defaults; a params file
  named by an argument by its content; an object that another cached analysis returned in
  this process (a fitted model, say) by that call's key, and so is one that a result read
  back from the cache holds in its ``attrs`` (the CLV analysis a value at risk carries), as
  it was named when computed (analyses do not modify their inputs;
  a notebook that changed such an object before passing it on would get the result for the
  unchanged one);
* the project's params folder (the analyses read their defaults from it), the code (the
  source of the ``crmlib`` package) and the versions of Python, numpy, pandas, pyarrow, scipy
  and DuckDB.

Any change to one of these gives a new key, so nothing stale is read; old entries stay until
the cache folder is cleared. A DataFrame is stored as Parquet when it reads back identical
(values, types, index and ``attrs``), otherwise pickled. Notebooks running in parallel take a
file lock per key: the second waits for the first's result instead of computing it again.

Only tables loaded on the embedded engine are cached (a database or Spark table may change
without any local file changing). Set ``CRMWB_RUN_CACHE=0`` to turn the cache off; the results
are the same either way (tested on the rendered reports).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import pickle
import platform
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from filelock import FileLock, Timeout

from crmlib.config import PARAMS_FOLDER, project_dir
from crmlib.data.dates import resolve_as_of
from crmlib.data.memory import release_memory
from crmlib.data.schema import SCHEMAS

__all__ = ["ENV", "LOG_ENV", "cached", "enabled", "register", "code_version", "statistics"]

#: Environment variable that turns the cache off when set to ``0``, ``false`` or ``no``.
ENV = "CRMWB_RUN_CACHE"
#: Environment variable naming a file that gets one JSON line per cached call (hit or computed).
LOG_ENV = "CRMWB_RUN_CACHE_LOG"
#: Seconds a notebook waits for another one computing the same result before computing it too.
LOCK_TIMEOUT = 3600.0

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Source:
    table: Any  # held, so that its id() is not reused while registered
    fingerprint: str
    name: str
    root: Path


#: id(table) -> where it came from, for the tables of loaded datasets
_TABLES: dict[int, _Source] = {}
#: id(result) -> (weak reference, name, key, data folder) of what cached calls returned in this
#: process
_RESULTS: dict[int, tuple[Any, str, str, Path]] = {}
#: per cached name: calls, hits, seconds computing, seconds reading
_STATS: dict[str, dict[str, float]] = {}


class _Unkeyable(Exception):
    """An argument the cache cannot identify: the call is computed, not cached."""


def enabled() -> bool:
    """Whether the run cache is on (``CRMWB_RUN_CACHE`` is not ``0``, ``false`` or ``no``)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def register(dataset: Any) -> None:
    """Let the cache identify the tables of ``dataset`` (a loaded Dataset on the embedded
    engine, with a fingerprint and a cache folder) by that fingerprint."""
    source = getattr(dataset, "source", None) or {}
    fingerprint = getattr(dataset, "fingerprint", "")
    root = source.get("cache_dir")
    if not fingerprint or not root or (source.get("engine") or {}).get("backend") != "duckdb":
        return
    for name in SCHEMAS:
        table = getattr(dataset, name, None)
        if table is not None:
            _TABLES[id(table)] = _Source(table, fingerprint, name, Path(root) / fingerprint)


def statistics() -> pd.DataFrame:
    """Per cached name in this process: ``calls``, ``hits``, ``compute_s`` and ``read_s``."""
    rows = [{"name": name, **values} for name, values in sorted(_STATS.items())]
    return pd.DataFrame(rows, columns=["name", "calls", "hits", "compute_s", "read_s"])


@functools.cache
def code_version() -> str:
    """Hash of the ``crmlib`` package's source and packaged defaults."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: The versions a stored result depends on besides the code (pickles of another pandas may
#: not load, and results may differ): part of every key.
_LIBRARIES = [
    platform.python_version(),
    *(f"{m}={metadata.version(m)}" for m in ("numpy", "pandas", "pyarrow", "scipy", "duckdb")),
]


def _params_version() -> str:
    folder = project_dir() / PARAMS_FOLDER
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(folder)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _frame_token(frame: pd.DataFrame | pd.Series) -> list[Any]:
    columns = list(frame.items()) if isinstance(frame, pd.DataFrame) else [(frame.name, frame)]
    digest = hashlib.sha256()
    index = frame.index
    if isinstance(index, pd.RangeIndex):
        digest.update(repr(("range", index.start, index.stop, index.step)).encode())
    else:
        digest.update(pd.util.hash_pandas_object(index).to_numpy().tobytes())
    for _, column in columns:  # one column at a time: millions of rows stay cheap
        for part in _column_parts(column):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return [
        "frame",
        digest.hexdigest(),
        [str(name) for name, _ in columns],
        [str(column.dtype) for _, column in columns],
        _token(dict(frame.attrs), []),
    ]


def _column_parts(column: pd.Series) -> list[bytes | memoryview]:
    """What identifies a column's values: Arrow's text buffers as they are (turning millions
    of strings into Python objects to hash them would take seconds and gigabytes), else pandas'
    hash of each value."""
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        text = pa.array(column, from_pandas=True).cast(pa.large_string())  # no copy if Arrow
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        missing = np.asarray(text.is_null(), dtype=bool)
        text = pc.fill_null(text, "")
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
        offsets = offsets[text.offset : text.offset + len(text) + 1]
        start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
        data = text.buffers()[2]
        body = memoryview(data)[start:end] if data is not None else b""
        return [b"text", missing.tobytes(), (offsets - start).tobytes(), body]
    return [b"values", pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()]


def _token(value: Any, roots: list[Path]) -> Any:
    """A JSON-ready stand-in of ``value`` that changes whenever ``value`` does."""
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, str) and value.endswith((".yaml", ".yml", ".json", ".csv")):
            path = Path(value) if Path(value).is_absolute() else project_dir() / value
            if path.is_file():
                return ["file", value, hashlib.sha256(path.read_bytes()).hexdigest()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return _token(str(value), roots)
    if isinstance(value, pd.Timestamp | pd.Period | pd.Timedelta):
        return [type(value).__name__, str(value)]
    if isinstance(value, pd.DataFrame | pd.Series):
        return _frame_token(value)
    if isinstance(value, Mapping):
        return ["map", sorted(([str(k), _token(v, roots)] for k, v in value.items()))]
    if isinstance(value, list | tuple):
        return [_token(v, roots) for v in value]
    source = _TABLES.get(id(value))
    if source is not None and source.table is value:
        roots.append(source.root)
        return ["table", source.fingerprint, source.name]
    if hasattr(value, "fingerprint") and getattr(value, "transactions", None) is not None:
        source = _TABLES.get(id(value.transactions))
        if source is None or source.table is not value.transactions:
            raise _Unkeyable("a dataset that was not loaded on the embedded engine")
        roots.append(source.root)
        tables = [n for n in SCHEMAS if getattr(value, n, None) is not None]
        return ["dataset", source.fingerprint, tables]
    made = _RESULTS.get(id(value))
    if made is not None and made[0]() is value:  # e.g. a fitted analysis handed to the next step
        roots.append(made[3])  # kept beside the data it was computed from
        return ["result", made[1], made[2]]
    raise _Unkeyable(type(value).__name__)


def _remember(value: Any, name: str, key: str, root: Path) -> None:
    """Note that ``value`` is the result of cached call ``name``/``key`` stored under the data
    folder ``root``, so that a later cached call taking it as an argument can name it (objects
    that no hash of their content describes, such as fitted models) and store its own result
    beside it."""
    ident = id(value)
    try:
        ref = weakref.ref(value, lambda _: _RESULTS.pop(ident, None))
    except TypeError:
        return
    _RESULTS[ident] = (ref, name, key, root)


def _held(value: Any) -> dict[str, tuple[str, str]]:
    """The results of other cached calls that ``value`` holds in its ``attrs`` (a value at
    risk carries its CLV analysis, say): attribute name -> (name, key) of that call."""
    attrs = getattr(value, "attrs", None)
    held = {}
    for attr, item in attrs.items() if isinstance(attrs, dict) else ():
        made = _RESULTS.get(id(item))
        if made is not None and made[0]() is item:
            held[str(attr)] = (made[1], made[2])
    return held


def _key(name: str, arguments: Mapping[str, Any]) -> tuple[Path, str]:
    roots: list[Path] = []
    token = _token(dict(arguments), roots)
    if not roots:
        raise _Unkeyable("no table of a loaded dataset nor cached result among the arguments")
    payload = json.dumps([name, token, code_version(), _LIBRARIES, _params_version()],
                         sort_keys=True)  # fmt: skip
    return roots[0] / "results", hashlib.sha256(payload.encode()).hexdigest()[:24]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        return (
            a.equals(b)
            and list(a.dtypes.astype(str)) == list(b.dtypes.astype(str))
            and a.index.equals(b.index)
            and type(a.index) is type(b.index)
            and list(a.columns) == list(b.columns)
            and json.dumps(a.attrs, sort_keys=True, default=repr)
            == json.dumps(b.attrs, sort_keys=True, default=repr)
        )
    except (TypeError, ValueError):
        return False


def _file(base: Path, suffix: str) -> Path:
    """``base`` with ``suffix`` added (names hold dots, so not ``with_suffix``)."""
    return base.with_name(base.name + suffix)


def _write(base: Path, value: Any) -> None:
    """Store ``value`` atomically as ``base.parquet`` (a frame that reads back identical) or
    ``base.pkl``; a value that cannot be stored is left uncached."""
    base.parent.mkdir(parents=True, exist_ok=True)
    tmp = base.with_name(f".{base.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if type(value) is pd.DataFrame and _parquet_round_trip(value, tmp):
            os.replace(tmp, _file(base, ".parquet"))
            return
        with tmp.open("wb") as fh:  # with the names of the results it holds (see _read)
            _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump((value, _held(value)))
        os.replace(tmp, _file(base, ".pkl"))
    except (pickle.PicklingError, TypeError, AttributeError, OSError):
        return  # e.g. a result holding a database connection: computed every time
    finally:
        tmp.unlink(missing_ok=True)


def _parquet_round_trip(frame: pd.DataFrame, path: Path) -> bool:
    """Write ``frame`` to ``path`` as Parquet; whether it reads back identical (values, types,
    index and ``attrs``, which Parquet keeps as JSON). A subclass, attrs that are not JSON or a
    column type Parquet cannot hold answer False, and the frame is pickled instead."""
    try:
        json.dumps(frame.attrs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame.to_parquet(path)
        return _same(pd.read_parquet(path), frame)
    except Exception:  # noqa: BLE001 - any type Parquet cannot hold
        return False


class _Pickler(pickle.Pickler):
    """Refuses Ibis expressions: they name tables of one process's connection, so a result
    holding one cannot be read back in another."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj).__module__.startswith("ibis."):
            raise pickle.PicklingError(f"an Ibis object ({type(obj).__name__}) is not cached")
        return NotImplemented


def _log(name: str, key: str, hit: bool, seconds: float) -> None:
    """One JSON line per cached call into the file named by ``CRMWB_RUN_CACHE_LOG``, if set."""
    target = os.environ.get(LOG_ENV)
    if target:
        line = {"name": name, "key": key, "hit": hit, "seconds": round(seconds, 3),
                "pid": os.getpid(), "at": time.time()}  # fmt: skip
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


_MISSING = object()


def _read(base: Path) -> Any:
    """The stored result, or ``_MISSING`` when there is none or it cannot be read (it is then
    computed and stored again)."""
    parquet, pkl = _file(base, ".parquet"), _file(base, ".pkl")
    try:
        if parquet.exists():
            return pd.read_parquet(parquet)
        if pkl.exists():
            with pkl.open("rb") as fh:
                value, held = pickle.load(fh)  # noqa: S301 - written by this module into its folder
            # a result it holds is named as when it was computed, so that a cached call taking
            # it (the outlook's forecast from the value at risk's analysis) finds its entry
            for attr, (name, key) in held.items():
                _remember(value.attrs[attr], name, key, base.parent.parent)
            return value
    except Exception:  # noqa: BLE001 - a damaged or foreign file is recomputed, not fatal
        for path in (parquet, pkl):
            path.unlink(missing_ok=True)
    return _MISSING


def cached(name: str, *, report_date: tuple[str, str] | None = None) -> Callable[[F], F]:
    """Decorator: keep the results of the decorated analysis in the run cache (module text).

    Calls whose arguments hold neither a table of a loaded dataset nor a result of another
    cached call (which is stored beside its data), or hold something the cache cannot identify
    (an Ibis expression built in the notebook, an open connection), are computed as without
    the cache.

    Parameters
    ----------
    name
        The result's name in the cache folder (``"rfm_table"``).
    report_date
        ``(date parameter, transactions parameter)`` of an analysis that reads an empty date as
        the report date (:func:`crmlib.data.resolve_as_of`): the date is resolved before the
        call, so that ``as_of=""`` and the same day given explicitly (one notebook passes
        the empty parameter, another the day it resolved) share one result.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not enabled():
                return function(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                if report_date is not None:
                    date, table = report_date
                    bound.arguments[date] = resolve_as_of(bound.arguments[table],
                                                          bound.arguments[date])  # fmt: skip
                    args, kwargs = bound.args, bound.kwargs
                folder, key = _key(name, bound.arguments)
            except (_Unkeyable, TypeError):
                return function(*args, **kwargs)
            stats = _STATS.setdefault(
                name, dict.fromkeys(("calls", "hits", "compute_s", "read_s"), 0)
            )
            stats["calls"] += 1
            base = folder / f"{name}-{key}"
            folder.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(base) + ".lock", timeout=LOCK_TIMEOUT):
                    started = time.perf_counter()
                    value = _read(base)
                    if value is not _MISSING:
                        stats["hits"] += 1
                        stats["read_s"] += time.perf_counter() - started
                        _log(name, key, True, time.perf_counter() - started)
                        _remember(value, name, key, folder.parent)
                        return value
                    value = function(*args, **kwargs)
                    stats["compute_s"] += time.perf_counter() - started
                    _write(base, value)
                    release_memory()  # the computation's freed temporaries, back to the system
                    _log(name, key, False, time.perf_counter() - started)
                    _remember(value, name, key, folder.parent)
                    return value
            except Timeout:
                return function(*args, **kwargs)

        wrapper.uncached = function  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
