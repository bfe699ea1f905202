"""Run report packs: every notebook in its own process, in parallel, each with a time limit.

papermill executes a notebook in a worker process of its own (papermill changes the working
directory process-wide) whose working directory is the project root. A cell that fails, a cell
that outlives the notebook's ``timeout`` (nbclient ``CellTimeoutError``), a kernel that dies and a
worker still running ``grace`` seconds after the limit (killed with its process group) each mark
that notebook failed with a readable reason; the other notebooks still run. The executed notebook
with the error is kept and exported to HTML like any other.

A run is assembled in a hidden staging folder and published as ``reports/<pack>/<period>/`` only
when complete (see :mod:`crmlib.report.archive` for the folder layout and ``run.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crmlib.errors import CrmError, ReportError
from crmlib.i18n import check_language
from crmlib.report import archive
from crmlib.report.packs import (
    REPORTS_YAML,
    Pack,
    check_date,
    default_pack,
    load_packs,
    notebooks_dir_of,
    period_name,
    resolve_targets,
)

log = logging.getLogger(__name__)

#: Status of a notebook in a run.
STATUSES: tuple[str, ...] = ("ok", "failed", "timeout", "dead_kernel")
#: Seconds a worker may run past its notebook's timeout (kernel start-up, export) before it is killed.
GRACE: float = 30.0
#: Longest error text kept in run.json.
MAX_ERROR = 400

# worker processes still running, so an interrupted run can stop them (they run in own sessions)
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


@dataclass
class NotebookResult:
    """How one notebook of a run went; paths are relative to the run folder.

    Attributes
    ----------
    name
        Notebook name.
    status
        One of :data:`STATUSES`.
    seconds
        Wall-clock seconds from start to the end of the export.
    error
        Short readable reason when the status is not ``ok``.
    parameters
        What the notebook received.
    ipynb, html
        The executed notebook and its HTML page (None when they could not be produced).
    log
        The worker's console output (kernel messages, warnings).
    """

    name: str
    status: str
    seconds: float
    error: str | None
    parameters: dict[str, Any]
    ipynb: str | None
    html: str | None
    log: str | None = None


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


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _execute_here(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Execute and export one notebook in this process (the worker side)."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from crmlib.report.export import export_html

    timeout = float(spec["timeout"])
    status, error = "ok", None
    try:
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=dict(spec["parameters"]),
            execution_timeout=timeout,
            cwd=spec["cwd"],
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as exc:
        status, error = "failed", f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    except CellTimeoutError:
        status = "timeout"
        error = f"a cell ran longer than the notebook's {timeout:g} s limit and was stopped"
    except DeadKernelError:
        status = "dead_kernel"
        error = "the notebook's kernel died (it crashed, ran out of memory or was killed)"
    except Exception as exc:  # anything else papermill or the kernel manager raises
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    html = None
    if Path(spec["output"]).is_file():
        try:
            html = str(export_html(spec["output"], spec["html"]))
        except CrmError as exc:
            error = f"{error + '; ' if error else ''}HTML export failed: {exc}"
            status = "failed" if status == "ok" else status
    return {"status": status, "error": _short(error) if error else None, "html": html}


def _worker(spec_file: str) -> int:
    """Entry point of a worker process: run the spec in ``spec_file``, write its result file."""
    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    archive.write_json(spec["result"], _execute_here(spec))
    return 0


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = 600.0,
    cwd: str | Path | None = None,
    html: str | Path | None = None,
    grace: float = GRACE,
    log_file: str | Path | None = None,
) -> NotebookResult:
    """Execute ``notebook`` into ``output`` in a worker process and export it to HTML.

    Parameters
    ----------
    notebook
        The notebook to run.
    output
        Where the executed notebook goes.
    parameters
        Values for the parameters cell (validate them first: :func:`crmlib.report.packs.check_parameters`).
    timeout
        Seconds any cell may run; the worker is killed ``grace`` seconds later if still alive.
    cwd
        Working directory of the notebook (the project root); default the current directory.
    html
        Where the HTML page goes; default next to ``output``.
    grace
        Extra seconds for kernel start-up and export before the hard kill.
    log_file
        Where the worker's console output goes; default ``output`` with ``.log``.

    Returns
    -------
    NotebookResult
        Never raises for a notebook problem: the status and error say what happened. Paths in
        the result are absolute here; :func:`run_pack` makes them relative to the run folder.
    """
    notebook, output = Path(notebook).resolve(), Path(output).resolve()
    html = Path(html).resolve() if html is not None else output.with_suffix(".html")
    log_file = Path(log_file) if log_file is not None else output.with_suffix(".log")
    cwd = Path(cwd).resolve() if cwd is not None else Path.cwd()
    output.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    result_file = output.with_name(f".{output.stem}.result.json")
    spec_file = output.with_name(f".{output.stem}.spec.json")
    spec = {
        "input": str(notebook),
        "output": str(output),
        "html": str(html),
        "parameters": dict(parameters or {}),
        "timeout": float(timeout),
        "cwd": str(cwd),
        "result": str(result_file),
    }
    archive.write_json(spec_file, spec)
    limit = float(timeout) + float(grace)
    code = "import sys; from crmlib.report.runner import _worker; sys.exit(_worker(sys.argv[1]))"
    start = time.monotonic()
    with log_file.open("ab") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(spec_file)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            proc.wait(timeout=limit)
            killed = False
        except subprocess.TimeoutExpired:
            _kill(proc)
            killed = True
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    if killed:
        outcome = {
            "status": "timeout",
            "error": f"still running {limit:g} s after the start (limit {timeout:g} s); stopped",
            "html": None,
        }
    elif result_file.is_file():
        outcome = json.loads(result_file.read_text(encoding="utf-8"))
    else:
        rc = proc.returncode
        how = f"signal {-rc}" if rc < 0 else f"exit code {rc}"
        outcome = {
            "status": "dead_kernel",
            "error": f"the notebook's worker process died ({how}); see {log_file.name}",
            "html": None,
        }
    if outcome.get("html") is None and output.is_file():
        from crmlib.report.export import export_html

        try:
            outcome["html"] = str(export_html(output, html))
        except CrmError as exc:
            log.warning("cannot export %s: %s", output, exc)
    for path in (spec_file, result_file):
        path.unlink(missing_ok=True)
    return NotebookResult(
        name=notebook.stem,
        status=outcome["status"],
        seconds=round(time.monotonic() - start, 2),
        error=outcome.get("error"),
        parameters=dict(parameters or {}),
        ipynb=str(output) if output.is_file() else None,
        html=outcome.get("html"),
        log=str(log_file),
    )


def stop_workers() -> None:
    """Kill every worker process (and its kernel) still running; used when a run is interrupted."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _kill(proc)


def data_fingerprint(
    data_params: str | Path | None, *, root: str | Path | None = None
) -> str | None:
    """:func:`crmlib.data.fingerprint` of the run's data params, None when it cannot be taken."""
    if not data_params:
        return None
    from crmlib.data import fingerprint

    root = Path(root) if root is not None else Path.cwd()
    path = Path(data_params) if Path(data_params).is_absolute() else root / data_params
    try:
        return str(fingerprint(str(path)))
    except (CrmError, OSError) as exc:
        log.warning("no data fingerprint for %s: %s", path, exc)
        return None


def _write_email(run_dir: Path) -> dict[str, Any] | None:
    """Build the email parts with crmlib.report.email when that module is present."""
    try:
        from crmlib.report.email import write_email
    except ImportError:
        log.info("crmlib.report.email is not available; the run has no email digest")
        return None
    try:
        html = write_email(run_dir)
    except Exception as exc:  # the reports stand without their digest; say why it is missing
        log.error("no email digest for %s: %s", run_dir.name, exc)
        return {"html": None, "error": _short(f"{type(exc).__name__}: {exc}")}
    run = archive.read_run(run_dir)
    email = dict(run.get("email") or {})
    email["html"] = Path(html).resolve().relative_to(run_dir.resolve()).as_posix()
    return email


def _send(run_dir: Path, *, dry_run: bool) -> str | None:
    try:
        from crmlib.report.delivery import send_run
    except ImportError:
        return "crmlib.report.delivery is not available; nothing was sent"
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
        After publishing, send the email (:func:`crmlib.report.delivery.send_run`); with
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
    # a pack may fix as_of in its parameters; the run folder is then named by that date
    shown_as_of = as_of or pack.notebook(pack.digest).parameters.get("as_of") or ""
    day = (
        dt.date.fromisoformat(shown_as_of)
        if shown_as_of
        else dt.datetime.now(ZoneInfo(pack.timezone)).date()
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
        }
        archive.write_json(staging / archive.RUN_JSON, run)
        email = _write_email(staging)
        if email is not None:
            run = archive.read_run(staging)
            run["email"] = email
            archive.write_json(staging / archive.RUN_JSON, run)
        archive.publish(staging, final)
    except BaseException:
        stop_workers()
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
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
    from tqdm.auto import tqdm

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(pack.notebooks)))
    running: list[str] = []
    lock = threading.Lock()

    def one(spec) -> NotebookResult:
        params = dict(spec.parameters, language=language)
        if as_of:
            params["as_of"] = as_of
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
        pending: set[Future] = {pool.submit(one, spec) for spec in pack.notebooks}
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
    return [results[spec.name] for spec in pack.notebooks]


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
        The packs file.
    root
        Project root; default the current directory.
    **options
        Passed to :func:`run_pack` (``reports_dir``, ``jobs``, ``as_of``, ``language``,
        ``progress``, ``send``, ``dry_run_email``, ``index_language``).

    Each pack runs holding the scheduler's lock of that pack
    (:func:`crmlib.report.schedule.pack_lock`, ``<reports_dir>/.locks/<pack>.lock``), so two
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
    root = Path(root).resolve() if root is not None else Path.cwd()
    path = Path(reports_yaml) if Path(reports_yaml).is_absolute() else root / reports_yaml
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
    from filelock import Timeout as LockTimeout

    from crmlib.report.schedule import pack_lock

    results, busy = [], []
    for pack in chosen:
        reports_dir = Path(options.get("reports_dir") or "reports")
        if not reports_dir.is_absolute():
            reports_dir = pack.root / reports_dir
        # the scheduler's lock: a run by hand or by cron never overlaps a scheduled one
        lock = pack_lock(pack.name, reports_dir=reports_dir)
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
