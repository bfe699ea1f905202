"""The data's report day: the day a run without ``as_of`` reports on and is named after.

:func:`report_day` loads the dataset (cleaning it when its cache is cold) and takes its last
complete day (:func:`crmlib.data.resolve_as_of`). For data on the embedded engine it does so in
a child process. The run process then never imports pandas and the engine, and does not keep
them resident beside the notebooks' kernels for the whole run: it holds 64 MB instead of
180-240 MB while the monthly pack for 3M customers runs. Data on a database or Spark is read
in the run process, which the run's engine probe (``crmwb run``) has already connected: a
second connection, or a second Spark session, would cost more than it saves.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from crmlib.config import read_yaml
from crmlib.errors import CrmError

__all__ = ["engine_backend", "report_day"]

#: What the child process runs: ``python -c CODE <params>``.
_CODE = "import sys; from crmlib.report.data_day import _child; sys.exit(_child(sys.argv[1]))"


def engine_backend(params: str | Path) -> str:
    """The engine a data params file names (``engine:`` or ``engine: {backend: ...}``);
    ``"duckdb"``, the embedded engine, when it names none or cannot be read (the notebooks then
    report what is wrong with it)."""
    try:
        raw = read_yaml(params)
    except CrmError:
        return "duckdb"
    engine = raw.get("engine") if isinstance(raw, dict) else None
    backend = engine.get("backend") if isinstance(engine, dict) else engine
    return str(backend or "duckdb")


def report_day(params: str | Path) -> dt.date:
    """The last complete day of the data that ``params`` describes.

    Raises
    ------
    CrmError
        The data cannot be read (the message says why).
    OSError
        A file the params name cannot be opened.
    """
    params = Path(params)
    if engine_backend(params) != "duckdb":
        # in a copy of the context: loading makes the data's currency current, and the process
        # that runs the packs (a scheduler, several projects) must not keep it
        return contextvars.copy_context().run(_read_day, params)
    done = subprocess.run(
        [sys.executable, "-c", _CODE, str(params)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # the answer; progress bars of a cleaning go to stderr
        check=False,
    )
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise CrmError(f"reading the data stopped with exit status {done.returncode}") from None
    if "error" in answer:
        raise CrmError(answer["error"])
    return dt.date.fromisoformat(answer["day"])


def _read_day(params: Path) -> dt.date:
    from crmlib.data import load_dataset, resolve_as_of

    return resolve_as_of(load_dataset(str(params)).transactions).date()


def _child(params: str) -> int:
    """The child process: print ``{"day": ISO}`` or ``{"error": reason}`` as the last line."""
    try:
        answer = {"day": _read_day(Path(params)).isoformat()}
    except CrmError as exc:
        answer = {"error": str(exc)}
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        answer = {"error": f"{exc.strerror or exc}{where}"}
    except Exception as exc:  # noqa: BLE001 - said in one line; the notebooks report it in full
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
    return 0
