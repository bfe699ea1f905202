"""The report archive: run folders, their ``run.json``, the locks that keep runs apart, the index.

This module is the only one that reads or writes ``run.json`` and the only one that makes locks;
every other part of the pipeline goes through it.

A run is built in a hidden staging folder ``reports/<pack>/.tmp-<period>-<pid>-<tag>/`` and renamed
into place when complete, so a crashed run never leaves a half-written report that looks done.
``run.json`` is written last, through a temporary file and :func:`os.replace`; a folder without
it is not a run. Re-running a period replaces the old folder: the old one is moved aside, the new
one renamed in, the old one removed.

``run.json`` (read by the index page, the email digest and delivery)::

    {"pack", "title" (the pack's description, the email heading), "run_id" and "period" (both
     the period folder name), "started_at", "finished_at" (ISO, with offset),
     "status": "ok" | "failed", "language", "digest" (notebook name), "as_of" (ISO date or ""),
     "data_fingerprint", "recipients": {"success": [...], "failure": [...]},
     "settings": the pack's email settings (``email:`` in params/reports.yaml),
     "notebooks": [{"name", "status": "ok" | "failed" | "timeout" | "dead_kernel", "seconds",
                    "error" (short text or null), "parameters", "ipynb", "html",
                    "log" (the worker's console output)}],
     "email": {"html", ...}}

Every path inside ``run.json`` is relative to the run folder.

Locks (all :class:`filelock.FileLock` files):

========================================  =======================================================
``reports/.locks/<pack>.lock``            one run of a pack at a time (:func:`pack_lock`), whoever
                                          starts it: by hand, cron or the scheduler
``reports/<pack>/.publish.lock``          runs of a pack publish one at a time (:func:`publish`)
``reports/<pack>/<period>/.send.lock``    one send of a run at a time (:func:`send_lock`)
========================================  =======================================================
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from html import unescape
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from filelock import FileLock

from crmlib.config import check_choice
from crmlib.errors import ReportError
from crmlib.i18n import check_language, labels
from crmlib.report.changes_text import change_lines
from crmlib.report.export import embed_cjk_font

__all__ = [
    "INDEX_HTML",
    "LOCKS_DIR",
    "RUN_JSON",
    "RUN_STATUSES",
    "find_run",
    "index_language",
    "is_run",
    "list_runs",
    "pack_lock",
    "publish",
    "read_run",
    "remove_stale",
    "render_index",
    "send_lock",
    "staging_dir",
    "update_run",
    "write_atomic",
    "write_index",
    "write_json",
]

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
INDEX_HTML = "index.html"
#: Folder of the pack locks inside the reports folder.
LOCKS_DIR = ".locks"
#: The status of a finished run.
RUN_STATUSES: tuple[str, ...] = ("ok", "failed")
_STAGING = re.compile(r"^\.(?:tmp|old)-.+-(\d+)-[0-9a-f]+$")


# -- files ---------------------------------------------------------------------------------------


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, fsync, :func:`os.replace`.

    A reader sees the old file or the new one, never a part of it. Text is written as UTF-8.
    The file gets the usual permissions (as by :func:`open`), so other users can read the archive.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (see :func:`write_atomic`)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    return write_atomic(path, text)


def read_run(run_dir: str | Path, *, check: bool = True) -> dict[str, Any]:
    """The ``run.json`` of a run folder.

    Parameters
    ----------
    run_dir
        The run folder (published or still staging).
    check
        Also require a ``"pack"`` and a ``"status"`` of ``"ok"`` or ``"failed"``.

    Raises
    ------
    ReportError
        When the folder holds no readable ``run.json`` (not a finished run), or with ``check``
        when it lacks the pack or status.
    ConfigError
        With ``check``, for a status other than ``"ok"`` or ``"failed"``.
    """
    path = Path(run_dir) / RUN_JSON
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ReportError(
            f"{str(run_dir)!r} is not a finished report run (no {RUN_JSON})"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{str(path)!r} does not hold a JSON object")
    if check:
        for key in ("pack", "status"):
            if key not in data:
                raise ReportError(f"{str(path)!r} has no {key!r}")
        check_choice("status", data["status"], RUN_STATUSES)
    return data


def update_run(run_dir: str | Path, key: str, value: Any) -> dict[str, Any]:
    """Set ``run.json[key] = value`` (written atomically) and return the updated run."""
    run = read_run(run_dir, check=False)
    run[key] = value
    write_json(Path(run_dir) / RUN_JSON, run)
    return run


# -- locks ---------------------------------------------------------------------------------------


def pack_lock(pack: str, *, reports_dir: str | Path) -> FileLock:
    """The lock that keeps two runs of ``pack`` apart (``<reports_dir>/.locks/<pack>.lock``).

    It is not tied to a thread: the scheduler takes it before starting a run and the run's
    thread releases it. Acquire with ``blocking=False`` to skip instead of waiting.
    """
    folder = Path(reports_dir) / LOCKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / f"{pack}.lock", thread_local=False)


def send_lock(run_dir: str | Path, *, timeout: float) -> FileLock:
    """The lock that keeps two sends of one run apart (``<run>/.send.lock``).

    Entering it waits up to ``timeout`` seconds, then raises :class:`filelock.Timeout`.
    """
    return FileLock(Path(run_dir) / ".send.lock", timeout=timeout)


def _publish_lock(pack_dir: Path) -> FileLock:
    return FileLock(str(pack_dir / ".publish.lock"))


# -- run folders ---------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(pack_dir: str | Path) -> list[Path]:
    """Remove staging folders left behind by runs whose process is gone; return them."""
    pack_dir = Path(pack_dir)
    removed = []
    if not pack_dir.is_dir():
        return removed
    for entry in pack_dir.iterdir():
        match = _STAGING.match(entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def staging_dir(reports_dir: str | Path, pack: str, period: str) -> Path:
    """Create and return a fresh hidden staging folder for a run of ``pack`` for ``period``."""
    pack_dir = Path(reports_dir) / pack
    pack_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(pack_dir)
    path = pack_dir / f".tmp-{period}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def publish(staging: str | Path, final: str | Path) -> Path:
    """Rename a complete staging folder to ``final``, replacing an earlier run of that period.

    Runs of the same pack publish one at a time (a lock file in the pack folder), so two runs
    for the same period never interleave their renames: the last to finish wins whole.

    Raises
    ------
    ReportError
        When the staging folder has no ``run.json`` (an incomplete run is never published).
    """
    staging, final = Path(staging), Path(final)
    if not (staging / RUN_JSON).is_file():
        raise ReportError(
            f"{str(staging)!r} has no {RUN_JSON}; refusing to publish an incomplete run"
        )
    with _publish_lock(final.parent):
        old = None
        if final.exists():
            old = final.with_name(f".old-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            os.replace(final, old)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return final


def is_run(path: str | Path) -> bool:
    """True for a published run folder: not hidden, holding ``run.json``."""
    path = Path(path)
    return path.is_dir() and not path.name.startswith(".") and (path / RUN_JSON).is_file()


def list_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Every published run under ``reports_dir``, newest first.

    Each item is the run's ``run.json`` plus ``"path"`` (the folder, relative to
    ``reports_dir``, with ``/``). Folders without ``run.json``, hidden staging folders and
    unreadable ``run.json`` files are skipped (the latter with a logged warning).
    """
    reports_dir = Path(reports_dir)
    runs = []
    if not reports_dir.is_dir():
        return runs
    for pack_dir in sorted(reports_dir.iterdir()):
        if not pack_dir.is_dir() or pack_dir.name.startswith("."):
            continue
        for run_dir in sorted(pack_dir.iterdir()):
            if not is_run(run_dir):
                continue
            try:
                run = read_run(run_dir, check=False)
            except ReportError as exc:
                log.warning("skipping %s: %s", run_dir, exc)
                continue
            run["path"] = run_dir.relative_to(reports_dir).as_posix()
            runs.append(run)
    runs.sort(key=lambda r: (str(r.get("started_at") or ""), r["path"]), reverse=True)
    return runs


def find_run(reference: str | Path, *, reports_dir: str | Path = "reports") -> Path:
    """The run folder ``reference`` names: a folder path, ``<pack>/<period>`` or ``<pack>`` (latest).

    Raises
    ------
    ReportError
        When no published run matches.
    """
    reports_dir = Path(reports_dir)
    for candidate in (Path(reference), reports_dir / reference):
        if is_run(candidate):
            return candidate
    pack_dir = reports_dir / reference
    if pack_dir.is_dir():
        runs = [r for r in list_runs(reports_dir) if r["path"].split("/")[0] == str(reference)]
        if runs:
            return reports_dir / runs[0]["path"]
    raise ReportError(
        f"no finished report run {str(reference)!r}: give a run folder, <pack>/<period> or a pack "
        f"name under {str(reports_dir)!r}"
    )


# -- index page ----------------------------------------------------------------------------------


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def _page_title(path: Path) -> str | None:
    """The ``<title>`` of a report page (its first heading), or None when it cannot be read."""
    try:
        with path.open(encoding="utf-8", errors="replace") as page:
            head = page.read(20_000)
    except OSError:
        return None
    found = re.search(r"<title[^>]*>(.*?)</title\s*>", head, re.S | re.I)
    return (unescape(found.group(1)).strip() or None) if found else None


def _index_rows(
    runs: list[dict[str, Any]], reports_dir: Path | None = None
) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        started, finished = _parse_time(run.get("started_at")), _parse_time(run.get("finished_at"))
        seconds = (finished - started).total_seconds() if started and finished else None
        notebooks = []
        for nb in run.get("notebooks") or []:
            html = nb.get("html")
            notebooks.append(
                {
                    "name": nb.get("name", ""),
                    "title": (
                        _page_title(reports_dir / run["path"] / html)
                        if html and reports_dir is not None
                        else None
                    )
                    or nb.get("name", ""),
                    "status": nb.get("status", ""),
                    "error": nb.get("error") or "",
                    "href": f"{run['path']}/{html}" if html else None,
                }
            )
        email = (run.get("email") or {}).get("html")
        digest = next((n for n in notebooks if n["name"] == run.get("digest")), None)
        rows.append(
            {
                "pack": run.get("pack", run["path"].split("/")[0]),
                "title": run.get("title") or run.get("pack", ""),
                "headline": (run.get("email") or {}).get("subject") or "",
                "digest_href": digest["href"] if digest else None,
                "data_as_of": run.get("data_as_of") or "",
                "run_id": run.get("run_id", run["path"].split("/")[-1]),
                "status": run.get("status", ""),
                "started": started.strftime("%Y-%m-%d %H:%M") if started else "",
                "duration": _duration(seconds),
                "as_of": run.get("as_of") or "",
                "language": run.get("language", ""),
                "notebooks": notebooks,
                "email": f"{run['path']}/{email}" if email else None,
                "changes": run.get("changes"),
                "period_complete": run.get("period_complete"),
            }
        )
    return rows


def index_language(reports_dir: str | Path = "reports") -> str:
    """The language of the existing index page (``"en"`` when there is none)."""
    try:
        head = (Path(reports_dir) / INDEX_HTML).read_text(encoding="utf-8")[:300]
    except OSError:
        return "en"
    return "zh" if '<html lang="zh' in head else "en"


def render_index(reports_dir: str | Path = "reports", *, language: str | None = None) -> str:
    """The HTML of the index page listing every run under ``reports_dir``, newest first.

    ``language`` defaults to the language of the existing page, so a page built once in
    Chinese stays Chinese when runs rebuild it. A page with Chinese text embeds the subset
    of the bundled CJK font it needs (:func:`crmlib.report.export.embed_cjk_font`).
    """
    language = check_language(language or index_language(reports_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("crmlib.report").joinpath("templates"))),
        autoescape=True,
    )
    template = env.get_template("index.html.j2")
    rows = _index_rows(list_runs(reports_dir), Path(reports_dir))
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:  # newest first: the first row of a pack is its latest run
        if row["pack"] not in latest:
            latest[row["pack"]] = {
                **row,
                "changes": change_lines(row["changes"], language=language),
            }
    page = template.render(
        runs=rows,
        latest=list(latest.values()),
        text=labels("report", language),
        language=language,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    # a Chinese page carries the few glyphs it uses, so it reads the same without CJK fonts
    return embed_cjk_font(page)


def write_index(reports_dir: str | Path = "reports", *, language: str | None = None) -> Path:
    """Rebuild ``reports_dir/index.html`` (atomically) and return its path.

    ``language`` (``"en"`` or ``"zh"``) defaults to the language of the existing page.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(reports_dir / INDEX_HTML, render_index(reports_dir, language=language))
