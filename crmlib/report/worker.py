"""One notebook run in a worker process of its own, with a time limit it cannot outlive.

papermill changes the working directory process-wide, so each notebook runs in a fresh Python
process (:func:`execute_notebook` starts it; :func:`run_spec` is what it runs) whose working
directory is the project folder. A cell that fails, a cell that outlives the notebook's
``timeout`` (nbclient ``CellTimeoutError``), a kernel that dies and a worker still running
``grace`` seconds after the limit (killed with its process group) each give a readable reason
in :class:`NotebookResult`. The executed notebook with the error is kept and exported to HTML
like any other.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmlib.errors import CrmError
from crmlib.report import archive
from crmlib.report.export import export_html

__all__ = [
    "GRACE",
    "MAX_ERROR",
    "STATUSES",
    "NotebookResult",
    "execute_notebook",
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


def short_error(text: str, *, limit: int = MAX_ERROR) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "…") for ``run.json``."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _execute_here(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Execute and export one notebook in this process (the worker side)."""
    # slow to import, and only the worker process needs them
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

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
    return {"status": status, "error": short_error(error) if error else None, "html": html}


def run_spec(spec_file: str | Path) -> int:
    """Entry point of a worker process: run the spec in ``spec_file``, write its result file.

    The spec is the JSON :func:`execute_notebook` writes (input, output, html, parameters,
    timeout, cwd, result); returns the process's exit status.
    """
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
