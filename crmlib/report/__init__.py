"""Report packs: validate parameters, run notebooks, export HTML, archive, email, schedule.

=========================  ================================================================
:mod:`.project`            where the packs file and notebooks are (project, else packaged)
:mod:`.packs`              read and validate ``params/reports.yaml``
:mod:`.settings`           each setting of a pack checked (period, schedule, email, ...)
:mod:`.parameters`         notebook parameters checked against the ``parameters`` cell
:mod:`.runner`             run a pack (notebooks in parallel, published whole)
:mod:`.data_day`           the data's report day, which names a run
:mod:`.worker`             one notebook in its own process, with time limits
:mod:`.imports`            papermill and nbformat imported light in the run's processes
:mod:`.export`             executed notebook -> self-contained HTML without code
:mod:`.archive`            run folders, all ``run.json`` I/O, locks, ``reports/index.html``
:mod:`.email`              the email of a run: digest, mail-safe HTML, MIME, SMTP delivery
:mod:`.schedule`           cron scheduling
:mod:`.cli`                the ``crmwb`` command
=========================  ================================================================

The main entry points are importable from here (loaded on first use, so importing the package
stays cheap): :func:`load_packs`, :func:`run_pack`, :func:`run`, :func:`export_html`,
:func:`write_index`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_packs": "crmlib.report.packs",
    "Pack": "crmlib.report.packs",
    "run_pack": "crmlib.report.runner",
    "run": "crmlib.report.runner",
    "RunResult": "crmlib.report.runner",
    "export_html": "crmlib.report.export",
    "write_index": "crmlib.report.archive",
    "list_runs": "crmlib.report.archive",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'crmlib.report' has no attribute {name!r}")
