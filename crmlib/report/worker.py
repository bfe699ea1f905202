"""One notebook run in a worker process of its own, with time and memory limits it cannot outlive.

papermill changes the working directory process-wide, so each notebook runs in a fresh Python
process (:func:`execute_notebook` starts it; :func:`run_spec` is what it runs) whose working
directory is the project folder. A cell that fails, a cell that outlives the notebook's
``timeout`` (nbclient ``CellTimeoutError``), a kernel that dies, a worker still running
``grace`` seconds after the limit and a worker and kernel holding more memory together than the
notebook's ``memory_limit`` (both killed with everything they started) each give a readable
reason in :class:`NotebookResult`. The executed notebook with the error is kept and exported to
HTML like any other.

Workers never outlive the process that started them: on Linux the kernel sends a worker
SIGTERM the moment its parent dies (``PR_SET_PDEATHSIG``, even after SIGKILL), elsewhere a
watchdog thread notices within a second; a worker told to stop (SIGTERM) first stops its
notebook kernel and anything that started. :func:`stop_workers` stops every worker of this
process, as an interrupted run does.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmlib.config import REPORT_RUN_ENV
from crmlib.errors import CrmError
from crmlib.report import archive
from crmlib.report.export import export_html, tidy_executed
from crmlib.report.imports import import_papermill, without_iri_grammar
from crmlib.report.limits import format_size

__all__ = [
    "GRACE",
    "KERNEL_START_ATTEMPTS",
    "KERNEL_START_FAILED",
    "MAX_ERROR",
    "POLL",
    "STATUSES",
    "NotebookResult",
    "cell_error",
    "execute_notebook",
    "kill_tree",
    "run_spec",
    "short_error",
    "stop_workers",
]

log = logging.getLogger(__name__)

#: Status of a notebook in a run.
STATUSES: tuple[str, ...] = ("ok", "failed", "timeout", "dead_kernel")
#: Seconds a worker may run past its notebook's timeout (kernel start-up, export) before it is killed.
GRACE: float = 30.0
#: Longest error text kept in run.json.
MAX_ERROR = 400
#: Seconds between two looks at a worker's memory.
POLL = 0.25
_PR_SET_PDEATHSIG = 1  # prctl(2) option, from <linux/prctl.h>

# worker processes still running, so an interrupted run can stop them (they run in own sessions)
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# where an exception was raised, in IPython's and in Python's traceback formats
_FRAME = re.compile(
    r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>[^\s(]+)'
    r"|File (?P<file2>\S+?):(?P<line2>\d+), in (?P<func2>[^\s(]+)"
    r"|Cell (?P<cell>In ?\[\d+\]), line (?P<line3>\d+)(?:, in (?P<func3>[^\s(]+))?"
)


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
    peak_mb
        The most memory the worker and its kernel held together, in MB (as sampled every
        :data:`POLL` seconds); None when not measured.
    """

    name: str
    status: str
    seconds: float
    error: str | None
    parameters: dict[str, Any]
    ipynb: str | None
    html: str | None
    log: str | None = None
    peak_mb: float | None = None


def short_error(text: str, *, limit: int = MAX_ERROR) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "…") for ``run.json``; phone
    numbers and email addresses in it masked (it reaches the index page, logs and emails)."""
    from crmlib.data.privacy import mask_text  # the data layer's engines: a second to import

    text = mask_text(" ".join(str(text).split()))[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: How many times a worker starts a notebook's kernel that dies before its first reply.
KERNEL_START_ATTEMPTS = 3
#: nbclient's message for a kernel that died before replying to its first request.
KERNEL_START_FAILED = "Kernel died before replying to kernel_info"


def _execute_here(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Execute and export one notebook in this process (the worker side)."""
    without_iri_grammar()
    papermill = import_papermill()  # slow to import, and only the worker process needs it
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    timeout = float(spec["timeout"])
    status, error = "ok", None
    os.environ[REPORT_RUN_ENV] = "1"  # the kernel inherits it: pages leave out analyst extras
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
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
                break
            except RuntimeError as exc:
                # the kernel died before its first reply, so no cell ran: typically a port the
                # kernel manager picked was taken by another process before the kernel bound it
                if KERNEL_START_FAILED not in str(exc) or attempt == KERNEL_START_ATTEMPTS:
                    raise
                print(f"kernel failed to start ({exc}); starting it again", file=sys.stderr)
    except PapermillExecutionError as exc:
        status, error = "failed", cell_error(exc)
    except CellTimeoutError:
        status = "timeout"
        error = f"a cell ran longer than the notebook's {timeout:g} s limit and was stopped"
    except DeadKernelError:
        status = "dead_kernel"
        error = "the notebook's kernel died (it crashed, ran out of memory or was killed)"
    except Exception as exc:  # anything else papermill or the kernel manager raises
        status, error = "failed", f"{type(exc).__name__}: {str(exc) or '(no message)'}"
    html = None
    if Path(spec["output"]).is_file():
        try:
            tidy_executed(spec["output"])  # the digest reads the notebook as the page shows it
            html = str(export_html(spec["output"], spec["html"]))
        except CrmError as exc:
            error = f"{error + '; ' if error else ''}HTML export failed: {exc}"
            status = "failed" if status == "ok" else status
    return {"status": status, "error": short_error(error) if error else None, "html": html}


def cell_error(exc: Any) -> str:
    """One line saying which cell raised what, for a :class:`PapermillExecutionError`.

    An exception without a message (``StopIteration``, ``KeyError()``, ``AssertionError``) is
    named with the file, line and function that raised it, so the reason is never just
    ``StopIteration:``.
    """
    head = f"cell [{exc.exec_count}] raised {exc.ename}"
    value = str(exc.evalue or "").strip()
    if value:
        return f"{head}: {value}"
    frames = list(_FRAME.finditer(_ANSI.sub("", "\n".join(exc.traceback or []))))
    if not frames:
        return f"{head} (no message)"
    found = frames[-1].groupdict()
    if found["cell"]:
        where = f"cell {found['cell']} line {found['line3']}"
    else:
        path, line = found["file"] or found["file2"], found["line"] or found["line2"]
        where = f"{'/'.join(Path(path).parts[-2:])}:{line}"
    function = found["func"] or found["func2"] or found["func3"] or "<cell>"
    hint = ""
    if exc.ename == "StopIteration":
        hint = "; an empty (or all-missing) series reached code that needs at least one value"
    return f"{head} (no message) in {function} ({where}){hint}"


def _die_with_parent(parent: int) -> None:
    """Make this worker stop when ``parent`` (the process that started it) is gone."""
    if sys.platform.startswith("linux"):
        # the kernel sends SIGTERM at the parent's death, even when it was SIGKILLed; on a
        # system without glibc/musl prctl is missing and the watcher below covers it
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:  # also where prctl is missing, and for a parent gone before prctl
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    if os.getppid() != parent:
        _stop_here(signal.SIGTERM, None)
    threading.Thread(target=watch, name="crmwb-watchdog", daemon=True).start()


def _stop_here(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: stop the notebook's kernel (and what it started), then exit."""
    kill_tree(os.getpid(), include_root=False)
    os._exit(128 + signum)


def run_spec(spec_file: str | Path) -> int:
    """Entry point of a worker process: run the spec in ``spec_file``, write its result file.

    The spec is the JSON :func:`execute_notebook` writes (input, output, html, parameters,
    timeout, cwd, result, parent); returns the process's exit status. The worker stops, with its
    kernel, when told to (SIGTERM) and when the process that started it (``parent``) dies.
    """
    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    signal.signal(signal.SIGTERM, _stop_here)
    if spec.get("parent"):
        _die_with_parent(int(spec["parent"]))
    archive.write_json(spec["result"], _execute_here(spec))
    return 0


def kill_tree(pid: int, *, include_root: bool = True, grace: float = 3.0) -> None:
    """Stop process ``pid``'s descendants (and ``pid`` itself when ``include_root``).

    Descendants are found before anything is signalled (a notebook kernel runs in a session of
    its own, so its process group is not the worker's); each gets SIGTERM, and SIGKILL after
    ``grace`` seconds.
    """
    import psutil  # only a stopping run needs it

    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True)
    except psutil.Error:
        return
    if include_root:
        procs.insert(0, root)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def _kill(proc: subprocess.Popen) -> None:
    kill_tree(proc.pid, grace=1.0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tree_rss(pid: int) -> int:
    """Bytes of memory ``pid`` and its descendants hold (resident set size)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


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
    memory_limit: int | None = None,
    env: Mapping[str, str] | None = None,
) -> NotebookResult:
    """Execute ``notebook`` into ``output`` in a worker process and export it to HTML.

    Parameters
    ----------
    notebook
        The notebook to run.
    output
        Where the executed notebook goes.
    parameters
        Values for the parameters cell (validate them first:
        :func:`crmlib.report.parameters.check_parameters`).
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
    memory_limit
        Bytes the worker and its kernel may hold together (resident memory, sampled every
        :data:`POLL` seconds); both are stopped when they hold more, and the notebook is marked
        failed with the limit in its error. None: no limit.
    env
        Environment variables for the worker and its kernel, on top of this process's (the
        runner gives each notebook its share of the cores: ``CRMWB_DUCKDB_THREADS`` and the
        linear-algebra libraries' thread counts).

    Returns
    -------
    NotebookResult
        Never raises for a notebook problem: the status and error say what happened. Paths in
        the result are absolute here; :func:`crmlib.report.runner.run_pack` makes them
        relative to the run folder.
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
        "parent": os.getpid(),
    }
    archive.write_json(spec_file, spec)
    limit = float(timeout) + float(grace)
    code = "import sys; from crmlib.report.worker import run_spec; sys.exit(run_spec(sys.argv[1]))"
    start = time.monotonic()
    with log_file.open("ab") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(spec_file)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            killed, peak = _watch(proc, start + limit, memory_limit)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    if killed == "timeout":
        outcome = {
            "status": "timeout",
            "error": f"still running {limit:g} s after the start (limit {timeout:g} s); stopped",
            "html": None,
        }
    elif killed == "memory":
        outcome = {
            "status": "failed",
            "error": f"notebook {notebook.stem!r} used {format_size(peak)} of memory, over its "
            f"memory_limit of {format_size(memory_limit or 0)} (params/reports.yaml); stopped",
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
        peak_mb=round(peak / 1024**2, 1) if peak else None,
    )


def _watch(
    proc: subprocess.Popen, deadline: float, memory_limit: int | None
) -> tuple[str | None, int]:
    """Wait for ``proc``; kill it at ``deadline`` or above ``memory_limit``.

    Returns why it was killed (``"timeout"``, ``"memory"`` or None) and the peak memory seen.
    """
    peak = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill(proc)
            return "timeout", peak
        with contextlib.suppress(subprocess.TimeoutExpired):  # still running: measure it
            proc.wait(timeout=min(POLL, left))
            return None, peak
        used = _tree_rss(proc.pid)
        peak = max(peak, used)
        if memory_limit is not None and used > memory_limit:
            _kill(proc)
            return "memory", peak


def stop_workers() -> None:
    """Kill every worker process (and its kernel) still running; used when a run is interrupted."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _kill(proc)
