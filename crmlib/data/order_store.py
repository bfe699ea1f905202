"""Tables formed once from a loaded dataset's lines and kept as Parquet beside its cleaned tables.

Every analysis builds on the orders (:func:`crmlib.data.orders.orders`). Forming them groups
every line by customer and order key: about 2 s for 10 million lines on two cores, and a
monthly pack formed them dozens of times (each notebook, each ``as_of``). For a dataset that
:func:`~crmlib.data.load_dataset` cached on the embedded engine, such tables are formed once
and written beside its cleaned tables::

    <cache_dir>/<fingerprint>/orders.parquet          (crmlib.data.orders)
    <cache_dir>/<fingerprint>/order_parts.parquet     (crmlib.data.orders)
    <cache_dir>/<fingerprint>/customer_days.parquet   (crmlib.clv.summaries)
    <cache_dir>/<fingerprint>/purchase_days_<YYYYMMDD>.parquet   (crmlib.clv.summaries, one
                                                      per analysis day)

The module that defines a table also forms it (:meth:`OrderStore.tables` calls its writer);
this one keeps the files: written under a file lock, so notebooks running in parallel form
them once, and read back as tables of the dataset's engine. The fingerprint changes with any
change of the source files or params, so nothing stale is read. Lines that are not a loaded
dataset's own transactions (a DataFrame, a filtered table, a database or Spark table) have no
store: their analyses form what they need from the lines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from filelock import FileLock

from crmlib.data.engine import as_table, backend_of

__all__ = ["OrderStore", "find", "register"]

#: Seconds a process waits for another one writing the same tables.
LOCK_TIMEOUT = 3600.0

#: writer(lines, {file name: path to write}) forms the tables from the dataset's lines
Writer = Callable[[ir.Table, Mapping[str, Path]], None]


@dataclass
class OrderStore:
    """Where the tables formed from one loaded dataset's transactions are kept."""

    lines: ir.Table  # the dataset's cleaned transactions, as ``as_table`` returns them
    folder: Path
    fingerprint: str
    _opened: dict[str, ir.Table] = field(default_factory=dict)  # this process's views

    def tables(self, names: tuple[str, ...], write: Writer) -> tuple[ir.Table, ...]:
        """The stored tables ``names`` (Parquet file names); when one is missing, ``write``
        forms them all from :attr:`lines` first, once across processes."""
        if any(name not in self._opened for name in names):
            self._write(names, write)
            con = backend_of(self.lines)
            for name in names:
                self._opened[name] = con.read_parquet(
                    str(self.folder / name),
                    table_name=f"crm_{name.removesuffix('.parquet')}_{self.fingerprint}",
                )
        return tuple(self._opened[name] for name in names)

    def _write(self, names: tuple[str, ...], write: Writer) -> None:
        lock = self.folder / f"{names[0].removesuffix('.parquet')}.lock"
        with FileLock(str(lock), timeout=LOCK_TIMEOUT):
            if all((self.folder / name).exists() for name in names):
                return
            tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
            paths = {name: self.folder / f".{name}.{tag}" for name in names}
            try:
                write(self.lines, paths)
                for name, path in paths.items():
                    os.replace(path, self.folder / name)
            finally:
                for path in paths.values():
                    path.unlink(missing_ok=True)


#: op of a loaded dataset's transactions (as ``as_table`` returns them) -> its store
_STORES: dict[Any, OrderStore] = {}


def register(dataset: Any) -> None:
    """Keep tables formed from ``dataset``'s transactions beside its cleaned tables (a dataset
    loaded with its cache on the embedded engine; any other is left alone)."""
    source = getattr(dataset, "source", None) or {}
    lines = getattr(dataset, "transactions", None)
    root = source.get("cache_dir")
    if lines is None or not getattr(dataset, "fingerprint", "") or not root:
        return
    if (source.get("engine") or {}).get("backend") != "duckdb":
        return
    lines = as_table(lines)  # what the analyses are given: the lines with their ids checked
    folder = Path(root) / dataset.fingerprint
    _STORES[lines.op()] = OrderStore(lines, folder, dataset.fingerprint)


def find(lines: ir.Table) -> OrderStore | None:
    """The store of ``lines`` if they are a registered dataset's transactions, else None."""
    return _STORES.get(lines.op())  # only datasets on the embedded engine are registered
