"""Imports that the processes of a run make light: papermill without pyarrow, nbformat without
the IRI grammar.

The ``crmwb`` command and its workers only read, run and export notebooks. They would otherwise
hold pyarrow and numpy (which papermill imports for HDFS paths, about 40 MB each) beside the
notebooks' kernels, and each would compile jsonschema's IRI grammar (about 1 s).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import ModuleType

__all__ = ["import_papermill", "without_iri_grammar"]


@contextlib.contextmanager
def _without(module: str) -> Iterator[None]:
    """Imports within make ``module`` look not installed, unless this process has it already.
    Later imports find it again (a worker's error path masks data with :mod:`crmlib.data`, which
    needs pyarrow)."""
    blocked = module not in sys.modules
    if blocked:
        sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if blocked and sys.modules.get(module, ...) is None:
            del sys.modules[module]


def import_papermill() -> ModuleType:
    """papermill, imported without pyarrow where this process has not imported it yet.

    papermill imports pyarrow (and numpy with it) only for HDFS paths, which runs never use:
    about 40 MB that the processes of a run (the ``crmwb`` command, which reads the notebooks'
    parameters, and each worker) would hold beside the kernels (:func:`_without`)."""
    with _without("pyarrow"):
        import papermill
    return papermill


def without_iri_grammar() -> None:
    """Let this process import nbformat without the IRI grammar.

    jsonschema (imported by nbformat) loads rfc3987_syntax when it is installed, which compiles
    an IRI grammar at import: about 1 s in every process that reads or writes a notebook. No
    notebook schema checks an IRI format, so the processes of a run (the ``crmwb`` command and
    its workers, which only run, read and export notebooks) do without it. Called before
    nbformat is imported; a library user's process is left alone.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
