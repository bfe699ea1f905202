"""Run report packs: every notebook in its own process, in parallel, each with a time limit.

Each notebook runs in a worker process of its own (:mod:`crmlib.report.worker`) whose working
directory is the project folder; a notebook that fails, times out or loses its kernel is marked
so with a readable reason and the other notebooks still run.

A run is assembled in a hidden staging folder and published as ``reports/<pack>/<period>/`` only
when complete (see :mod:`crmlib.report.archive` for the folder layout and ``run.json``). Its email
is written into the run before it is published (:func:`crmlib.report.email.write_email`) and sent
after (:func:`crmlib.report.email.delivery.send_run`) when asked.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from filelock import Timeout as LockTimeout
from tqdm.auto import tqdm

from crmlib.compat import moved
from crmlib.config import THREADS_ENV
from crmlib.errors import CrmError, ReportError
from crmlib.i18n import check_language
from crmlib.report import archive, changes
from crmlib.report.data_day import report_day
from crmlib.report.packs import Pack, default_pack, load_packs, resolve_targets
from crmlib.report.parameters import check_date, inspect_parameters
from crmlib.report.project import REPORTS_YAML, notebooks_dir_of, packs_file, project_root
from crmlib.report.settings import period_name
from crmlib.report.worker import (
    GRACE,
    NotebookResult,
    execute_notebook,
    short_error,
    stop_workers,
)

#: A notebook that declares this parameter is given the run's folder (while it is written) to
#: keep files that belong to the run, such as the daily alerts' customer states.
RUN_DIR_PARAMETER = "run_dir"
#: Set for a notebook that declares it: the notebooks of this run, comma-separated (a summary
#: points only to reports the reader receives).
PACK_NOTEBOOKS_PARAMETER = "pack_notebooks"

__all__ = [
    "RUN_DIR_PARAMETER",
    "PackBusyError",
    "RunResult",
    "RunStopped",
    "data_fingerprint",
    "data_as_of",
    "BLAS_THREADS_ENV",
    "engine_threads",
    "notebook_environment",
    "ARROW_POOL_ENV",
    "run",
    "run_pack",
]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """A finished run of one pack.

    Attributes
    ----------
    pack
        Pack name.
    run_dir
        The published run folder.
    run
        The run's ``run.json`` content.
    delivery_error
        Why sending the email failed, when it did.
    """

    pack: str
    run_dir: Path
    run: dict[str, Any]
    delivery_error: str | None = None
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every notebook ran without error (delivery aside)."""
        return self.run.get("status") == "ok"


class PackBusyError(ReportError):
    """A run of the pack is already going (started by hand, by cron or by the scheduler).

    Attributes
    ----------
    packs
        Names of the packs that were not started.
    results
        The runs of the other packs, which went ahead.
    """

    def __init__(self, message: str, *, packs: list[str], results: list[RunResult]) -> None:
        super().__init__(message)
        self.packs = packs
        self.results = results


class RunStopped(KeyboardInterrupt):
    """The run was told to stop (SIGTERM, SIGHUP): its workers and kernels were stopped, the
    partial run was not published, and the pack's lock is released.

    Attributes
    ----------
    signum
        The signal that stopped it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def data_fingerprint(
    data_params: str | Path | None, *, root: str | Path | None = None
) -> str | None:
    """:func:`crmlib.data.fingerprint` of the run's data params, None when it cannot be taken."""
    from crmlib.data import fingerprint  # called after the notebooks: the run process stays light

    if not data_params:
        return None
    root = project_root(root)
    path = Path(data_params) if Path(data_params).is_absolute() else root / data_params
    try:
        return str(fingerprint(str(path)))
    except (CrmError, OSError) as exc:
        log.warning("no data fingerprint for %s: %s", path, exc)
        return None


def data_as_of(data_params: str | Path | None, *, root: str | Path | None = None) -> dt.date | None:
    """The data's report day (:func:`crmlib.data.resolve_as_of`: its last complete day).

    A run without ``as_of`` is named after the period of this day, not after the day the run
    was made (which stays in ``run.json`` as ``started_at``). None when the data cannot be
    read here; the notebooks then report the error themselves. Data on the embedded engine is
    read in a child process (:func:`crmlib.report.data_day.report_day`).
    """
    if not data_params:
        return None
    root = project_root(root)
    path = Path(data_params) if Path(data_params).is_absolute() else root / data_params
    try:
        return report_day(path)
    except (CrmError, OSError) as exc:
        log.warning("no data period for %s: %s", path, exc)
        return None


def _write_email(run_dir: Path) -> dict[str, Any] | None:
    """Write the run's email into its folder; what ``run.json["email"]`` should then hold."""
    from crmlib.report.email import write_email  # with the data layer, for masking: after the run

    try:
        html = write_email(run_dir)
    except Exception as exc:  # the reports stand without their digest; say why it is missing
        log.error("no email digest for %s: %s", run_dir.name, exc)
        return {
            "html": None,
            "error": short_error(f"{type(exc).__name__}: {str(exc) or '(no message)'}"),
        }
    run = archive.read_run(run_dir)
    email = dict(run.get("email") or {})
    email["html"] = Path(html).resolve().relative_to(run_dir.resolve()).as_posix()
    return email


def _send(run_dir: Path, *, dry_run: bool) -> str | None:
    from crmlib.report.email.delivery import send_run

    try:
        result = send_run(run_dir, dry_run=dry_run)
    except CrmError as exc:
        return str(exc)
    if not getattr(result, "ok", True):
        return str(getattr(result, "error", None) or result)
    return None


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _relative(path: str | None, run_dir: Path) -> str | None:
    if path is None:
        return None
    return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()


def run_pack(
    pack: Pack,
    *,
    reports_dir: str | Path = "reports",
    jobs: int | None = None,
    as_of: str | dt.date | None = None,
    language: str | None = None,
    progress: bool = True,
    send: bool = False,
    dry_run_email: bool = False,
    index_language: str | None = None,
    grace: float = GRACE,
) -> RunResult:
    """Run every notebook of ``pack`` and publish the run under ``reports_dir/<pack>/<period>/``.

    Parameters
    ----------
    pack
        A validated pack (:func:`crmlib.report.packs.load_packs`).
    reports_dir
        The archive folder.
    jobs
        Notebooks run at once; default the number of CPU cores.
    as_of
        ISO date passed to every notebook as ``as_of`` and naming the run folder; default: the
        ``as_of`` the pack's parameters give, else the notebooks use their own default (the last
        transaction date) and the folder is named by today's date in the pack's time zone.
    language
        ``"en"`` or ``"zh"``; default the pack's language.
    progress
        Show a progress bar (notebooks done/total, the ones running, elapsed time) on stderr.
    send, dry_run_email
        After publishing, send the email (:func:`crmlib.report.email.delivery.send_run`); with
        ``dry_run_email`` the message is built but not sent.
    index_language
        Language of ``reports/index.html``, rebuilt after the run; default the language the
        page already has (English for a new page).
    grace
        Seconds a worker may outlive its notebook's timeout before it is killed.

    Returns
    -------
    RunResult
        Failed notebooks do not raise: check :attr:`RunResult.ok`.

    Raises
    ------
    ConfigError
        For a bad ``as_of`` or ``language``.
    """
    language = check_language(language or pack.language)
    as_of = check_date("as_of", as_of) if as_of else ""
    # a pack may fix as_of in its parameters; the run folder is then named by that date;
    # else by the data's last complete day, and by today only when the data cannot be read
    digest_params = pack.notebook(pack.digest).parameters
    shown_as_of = as_of or digest_params.get("as_of") or ""
    data_day = (
        None
        if shown_as_of
        else data_as_of(digest_params.get("data_params", "params/data.yaml"), root=pack.root)
    )
    day = (
        dt.date.fromisoformat(shown_as_of)
        if shown_as_of
        else data_day or dt.datetime.now(ZoneInfo(pack.timezone)).date()
    )
    period = period_name(pack.period, day)
    reports_dir = Path(reports_dir)
    if not reports_dir.is_absolute():
        reports_dir = pack.root / reports_dir
    final = reports_dir / pack.name / period
    staging = archive.staging_dir(reports_dir, pack.name, period)
    try:
        started_at = _now()
        results = _run_notebooks(
            pack,
            staging,
            language=language,
            as_of=as_of,
            jobs=jobs,
            progress=progress,
            grace=grace,
            label=f"{pack.name} {period}",
        )
        if not pack.email.get("allow_personal_data", False):
            from crmlib.report.email.mailsafe import mask_run_folder  # imports the data layer

            mask_run_folder(staging)  # the pages the email attaches or links, notebooks, logs
        digest = pack.notebook(pack.digest)
        run = {
            "pack": pack.name,
            "title": pack.title(language),
            "run_id": period,
            "period": period,
            "started_at": started_at,
            "finished_at": _now(),
            "status": "ok" if all(r.status == "ok" for r in results) else "failed",
            "language": language,
            "digest": pack.digest,
            "as_of": shown_as_of,
            # the day the notebooks report on when no as_of was given (the data's last
            # complete day); None when as_of was given or the data could not be read
            "data_as_of": data_day.isoformat() if data_day else None,
            # False while the period runs past the data's day (a mid-week run of a weekly pack):
            # its pages say "in progress", and the summary reports the last complete period
            "period_complete": period_name(pack.period, day + dt.timedelta(days=1)) != period,
            "data_fingerprint": data_fingerprint(
                digest.parameters.get("data_params", "params/data.yaml"), root=pack.root
            ),
            "recipients": {k: list(v) for k, v in pack.recipients.items()},
            "settings": dict(pack.email),
            "notebooks": [
                {
                    **asdict(r),
                    "ipynb": _relative(r.ipynb, staging),
                    "html": _relative(r.html, staging),
                    "log": _relative(r.log, staging),
                }
                for r in results
            ],
            "email": None,
            # what changed since the last run of this pack (None for its first run)
            "changes": changes.since_previous(staging, reports_dir / pack.name, period),
        }
        archive.write_json(staging / archive.RUN_JSON, run)
        email = _write_email(staging)
        if email is not None:
            run = archive.read_run(staging)
            run["email"] = email
            archive.write_json(staging / archive.RUN_JSON, run)
        archive.publish(staging, final)
    except BaseException as exc:
        stop_workers()
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            log.error("%s %s: run aborted (%s); nothing published", pack.name, period, exc or "^C")
        raise
    archive.write_index(reports_dir, language=index_language)
    result = RunResult(pack=pack.name, run_dir=final, run=run, notebooks=results)
    if send or dry_run_email:
        result.delivery_error = _send(final, dry_run=dry_run_email)
        if result.delivery_error:
            log.error("%s: email not sent: %s", pack.name, result.delivery_error)
    return result


def _run_notebooks(
    pack: Pack,
    run_dir: Path,
    *,
    language: str,
    as_of: str,
    jobs: int | None,
    progress: bool,
    grace: float,
    label: str,
) -> list[NotebookResult]:
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(pack.notebooks)))
    env = notebook_environment(jobs)
    running: list[str] = []
    lock = threading.Lock()

    stopping = threading.Event()

    def one(spec) -> NotebookResult:
        if stopping.is_set():
            return NotebookResult(spec.name, "failed", 0.0, "run stopped", {}, None, None)
        params = dict(spec.parameters, language=language)
        if as_of:
            params["as_of"] = as_of
        declared = inspect_parameters(spec.path)
        if RUN_DIR_PARAMETER in declared:
            params[RUN_DIR_PARAMETER] = str(run_dir)  # e.g. the daily alerts keep their states
        if PACK_NOTEBOOKS_PARAMETER in declared:
            params[PACK_NOTEBOOKS_PARAMETER] = ",".join(n.name for n in pack.notebooks)
        with lock:
            running.append(spec.name)
        try:
            return execute_notebook(
                spec.path,
                run_dir / f"{spec.name}.ipynb",
                parameters=params,
                timeout=spec.timeout,
                cwd=pack.root,
                grace=grace,
                log_file=run_dir / "logs" / f"{spec.name}.log",
                memory_limit=spec.memory_limit,
                env=env,
            )
        finally:
            with lock:
                running.remove(spec.name)

    results: dict[str, NotebookResult] = {}
    interactive = progress and sys.stderr.isatty()
    with (
        tqdm(
            total=len(pack.notebooks),
            desc=label,
            unit="notebook",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
            # a terminal sees the clock tick; a log file (cron) gets a line a minute
            mininterval=0.1 if interactive else 60,
        ) as bar,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="crmwb") as pool,
    ):
        # submitted in start order: the pool starts them as workers come free
        pending: set[Future] = {pool.submit(one, spec) for spec in pack.start_order()}
        try:
            _collect(
                pending, results, bar, label=label, progress=progress, lock=lock, running=running
            )
        except BaseException:
            # stop the workers before the pool waits for its threads, which wait for them
            stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            while not all(f.done() for f in pending):
                stop_workers()
                wait(pending, timeout=0.5)
            raise
    return [results[spec.name] for spec in pack.notebooks]


#: The numerical libraries' thread settings (OpenBLAS, OpenMP, MKL) given the same share.
BLAS_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


#: Arrow's setting of the memory pool it allocates from (``system``: the C library's malloc).
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def notebook_environment(jobs: int) -> dict[str, str]:
    """The environment a run gives its notebooks' kernels: :func:`engine_threads`, and Arrow
    allocating from the C library's allocator (:data:`ARROW_POOL_ENV`) unless set already.

    Arrow's own pool (mimalloc) keeps memory it freed for reuse, so a kernel's resident memory
    stays near its peaks; with the C allocator, large freed buffers go back to the system at
    once and the rest when a cached analysis ends (:func:`crmlib.data.memory.release_memory`).
    Notebook 03's covariate fit at 3M customers peaked at 1,387 MB instead of 1,735 MB."""
    env = engine_threads(jobs)
    if not os.environ.get(ARROW_POOL_ENV, "").strip():
        env[ARROW_POOL_ENV] = "system"
    return env


def engine_threads(jobs: int) -> dict[str, str]:
    """The environment that gives each of ``jobs`` notebooks running at once its share of the
    cores (at least 1) for the embedded engine (``CRMWB_DUCKDB_THREADS``) and for numpy's
    linear algebra (:data:`BLAS_THREADS_ENV`); empty when one notebook runs at a time. A
    variable already set is left as it is.

    Each DuckDB connection otherwise starts a thread per core, and two notebooks' queries on
    two cores then compete: the monthly pack at 3M customers took 226 s with every kernel on
    two threads and 206 s with one each (``tests/benchmarks/bench_pack.py``, cold cache).
    OpenBLAS likewise splits every long dot product over all cores and spins while it waits:
    beside another notebook, notebook 03 took 88.7 s with two BLAS threads and 62.8 s with
    one (its covariate fit 42.5 s and 19.5 s)."""
    if jobs <= 1:
        return {}
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    names = (THREADS_ENV, *BLAS_THREADS_ENV)
    return {name: share for name in names if not os.environ.get(name, "").strip()}


def _collect(
    pending: set[Future],
    results: dict[str, NotebookResult],
    bar: Any,
    *,
    label: str,
    progress: bool,
    lock: threading.Lock,
    running: list[str],
) -> None:
    """Wait for the notebooks of a run, reporting each as it ends (progress bar or log)."""
    interactive = progress and sys.stderr.isatty()
    while pending:
        done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
        for future in done:
            result = future.result()
            results[result.name] = result
            if result.status != "ok":
                message = f"{label}: {result.name} {result.status}: {result.error}"
                if progress:
                    bar.write(message, file=sys.stderr)
                else:
                    log.warning(message)
            bar.update(1)
        with lock:
            bar.set_postfix_str(", ".join(running), refresh=False)
        if interactive:
            bar.refresh()


def run(
    targets: Iterable[str] = (),
    *,
    all_packs: bool = False,
    reports_yaml: str | Path = REPORTS_YAML,
    root: str | Path | None = None,
    **options: Any,
) -> list[RunResult]:
    """Run packs or single notebooks by name, one pack after another.

    Parameters
    ----------
    targets
        Pack names from ``reports_yaml`` or notebook names (a notebook alone runs as a
        one-notebook pack of its name, its folder named by day). None: the packs file's
        default pack (:func:`crmlib.report.packs.default_pack`).
    all_packs
        Run every pack of ``reports_yaml``.
    reports_yaml
        The packs file (relative to ``root``; the packaged one when the project has no
        ``params/reports.yaml``, see :func:`crmlib.report.project.packs_file`).
    root
        Project root; default :func:`crmlib.config.project_dir`.
    **options
        Passed to :func:`run_pack` (``reports_dir``, ``jobs``, ``as_of``, ``language``,
        ``progress``, ``send``, ``dry_run_email``, ``index_language``).

    Each pack runs holding the scheduler's lock of that pack
    (:func:`crmlib.report.archive.pack_lock`, ``<reports_dir>/.locks/<pack>.lock``), so two
    runs of one pack never overlap, whoever started them.

    Raises
    ------
    ConfigError
        Before anything runs, for any invalid pack, notebook or parameter.
    PackBusyError
        After the other packs ran, when a pack was not started because a run of it is
        already going.
    """
    if options.get("as_of"):
        options["as_of"] = check_date("as_of", options["as_of"])
    if options.get("language"):
        check_language(options["language"])
    root = project_root(root)
    path = packs_file(reports_yaml, root=root)
    packs = load_packs(path, root=root) if path.exists() else {}
    if not path.exists() and (all_packs or not targets):
        raise ReportError(f"no packs file {str(path)!r}")
    chosen = resolve_targets(
        targets,
        packs=packs,
        all_packs=all_packs,
        notebooks_dir=notebooks_dir_of(path, root=root),
        root=root,
        language=options.get("language") or "en",
        default=default_pack(path, root=root, packs=packs) if packs else None,
    )
    results, busy = [], []
    for pack in chosen:
        reports_dir = Path(options.get("reports_dir") or "reports")
        if not reports_dir.is_absolute():
            reports_dir = pack.root / reports_dir
        # the scheduler's lock: a run by hand or by cron never overlaps a scheduled one
        lock = archive.pack_lock(pack.name, reports_dir=reports_dir)
        try:
            lock.acquire(blocking=False)
        except LockTimeout:
            log.warning("%s: not started: a run of this pack is already going", pack.name)
            busy.append((pack.name, lock.lock_file))
            continue
        try:
            results.append(run_pack(pack, **options))
        finally:
            lock.release()
    if busy:
        names = ", ".join(repr(name) for name, _ in busy)
        files = ", ".join(str(path) for _, path in busy)
        raise PackBusyError(
            f"pack {names} not started: a run of it is already going (by hand, cron or "
            f"'crmwb schedule'; lock {files}); try again when it has finished",
            packs=[name for name, _ in busy],
            results=results,
        )
    return results


__getattr__ = moved(
    __name__, {"STATUSES": "crmlib.report.worker", "MAX_ERROR": "crmlib.report.worker"}
)
