"""Running report packs on their cron schedule: a foreground scheduler, or lines for crontab.

Each pack in ``params/reports.yaml`` with a ``schedule`` (a cron expression) fires at the times
:mod:`croniter` computes in the pack's ``timezone``. Day-of-week follows cron: 0 and 7 are Sunday,
1 is Monday (APScheduler 3 reads 0 as Monday; this module does not use it). Times that do not
exist on a daylight-saving change run when the clock jumps, as cron does.

``crmwb schedule`` stays in the foreground: it sleeps until the next fire time, runs the pack and
emails it (:func:`crmlib.report.runner.run_pack` with ``send=True``), and logs every run to stderr
and ``reports/schedule.log``. Two runs of the same pack never overlap: each holds a lock file in
``reports/.locks/<pack>.lock`` (shared with other schedulers and ``--once`` on the same machine),
and a run that finds it taken is skipped and logged as such. SIGINT or SIGTERM stops the
scheduler cleanly: no new runs start, the running ones finish. ``crmwb schedule --crontab`` prints
equivalent crontab lines instead; ``crmwb schedule --once PACK`` runs one pack now.
"""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from filelock import FileLock
from filelock import Timeout as LockTimeout

from crmlib.compat import moved
from crmlib.config import PARAMS_FOLDER
from crmlib.errors import ConfigError
from crmlib.report import runner
from crmlib.report.archive import pack_lock
from crmlib.report.packs import load_packs
from crmlib.report.project import PACKAGED_REPORTS_YAML, packs_file, project_root
from crmlib.report.worker import stop_workers

__all__ = [
    "EXIT_SKIPPED",
    "LOG_NAME",
    "MAX_NAP",
    "ScheduledPack",
    "Scheduler",
    "crontab_lines",
    "next_fire",
    "run_scheduler",
    "scheduled_packs",
]

log = logging.getLogger(__name__)

#: Exit status of ``--once`` when the pack was skipped because its previous run is still active
#: (``EX_TEMPFAIL`` of sysexits.h: try again later).
EXIT_SKIPPED = 75
#: The scheduler wakes up at least this often (seconds) to notice clock changes and signals.
MAX_NAP = 60.0
#: The scheduler's log file, inside the reports folder.
LOG_NAME = "schedule.log"


@dataclass(frozen=True)
class ScheduledPack:
    """A pack with a schedule: its name, cron expression and IANA time zone."""

    name: str
    schedule: str
    timezone: str = "UTC"


def next_fire(schedule: str, *, after: datetime, timezone: str = "UTC") -> datetime:
    """The first time strictly after ``after`` at which a cron ``schedule`` fires.

    Parameters
    ----------
    schedule
        Cron expression ``minute hour day-of-month month day-of-week``; day-of-week 0 and 7
        are Sunday, as in cron.
    after
        The moment to start from; a naive datetime is taken to be in ``timezone``.
    timezone
        IANA name of the time zone the expression is read in, e.g. ``"Asia/Shanghai"``.

    Returns
    -------
    datetime
        Aware, in ``timezone``.

    Raises
    ------
    ConfigError
        For an invalid expression or time zone.
    """
    zone = _zone(timezone)
    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        raise ConfigError(
            f"parameter 'schedule' must be a cron expression such as '0 7 * * 1'; got {schedule!r}"
        )
    start = after.replace(tzinfo=zone) if after.tzinfo is None else after.astimezone(zone)
    return croniter(schedule, start).get_next(datetime).astimezone(zone)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"parameter 'timezone' must be an IANA time zone such as 'Asia/Shanghai'; got {timezone!r}"
        ) from None


def scheduled_packs(packs: Mapping[str, Any]) -> list[ScheduledPack]:
    """The packs that have a ``schedule``, from :func:`crmlib.report.packs.load_packs` output
    (or any mapping of name to an object or mapping with ``schedule`` and ``timezone``)."""
    out = []
    for name, pack in packs.items():
        get = pack.get if isinstance(pack, Mapping) else lambda key, p=pack: getattr(p, key, None)
        if get("schedule"):
            timezone = str(get("timezone") or "UTC")
            next_fire(str(get("schedule")), after=datetime.now(UTC), timezone=timezone)  # check
            out.append(ScheduledPack(str(name), str(get("schedule")), timezone))
    return out


def crontab_lines(
    packs: Iterable[ScheduledPack],
    *,
    root: Path,
    now: datetime | None = None,
    unscheduled: Iterable[str] = (),
) -> list[str]:
    """Crontab lines that run the packs on their schedules, like the foreground scheduler.

    Each entry is preceded by a comment naming its time zone and next fire time and by a
    ``CRON_TZ=<zone>`` line (honoured by cronie and systemd-cron; Debian's cron ignores it and
    uses the system time zone, which the comment lets you check). The command is
    ``cd <root> && .venv/bin/crmwb run <pack> --send``, its output appended to
    ``reports/schedule.log``.

    Parameters
    ----------
    packs
        The scheduled packs.
    root
        The project root the command changes to.
    now
        The moment the shown next fire times are computed from (default: now).
    unscheduled
        Names of packs without a schedule, listed in a comment.
    """
    now = now or datetime.now(UTC)
    folder = shlex.quote(str(Path(root).resolve())).replace("%", r"\%")
    lines = [
        "# CRM Workbook report packs: install with `crontab -e`.",
        "# CRON_TZ sets the time zone of the line after it (cronie, systemd-cron). Cron versions",
        "# without CRON_TZ (Debian/Ubuntu cron) read the times in the system time zone.",
    ]
    for pack in packs:
        when = next_fire(pack.schedule, after=now, timezone=pack.timezone)
        lines += [
            "",
            f"# {pack.name}: '{pack.schedule}' in time zone {pack.timezone}; "
            f"next run {when.isoformat(timespec='minutes')}",
            f"CRON_TZ={pack.timezone}",
            f"{pack.schedule} cd {folder} && .venv/bin/crmwb run {shlex.quote(pack.name)} --send "
            f">> reports/{LOG_NAME} 2>&1",
        ]
    names = list(unscheduled)
    if names:
        lines += ["", f"# without a schedule (run by hand): {', '.join(names)}"]
    return lines


class Scheduler:
    """Fires scheduled packs at their times; one run per pack at a time.

    Parameters
    ----------
    packs
        The scheduled packs.
    run
        Runs one pack by name and returns True when it (and its email) succeeded.
    reports_dir
        The reports folder (locks live in ``<reports_dir>/.locks``).
    clock
        Returns the current time, aware (default: now in UTC).
    wait
        Waits up to the given seconds; returns True when the scheduler should stop. The
        default sleeps in short steps and returns early once :meth:`stop` was called.
    max_nap
        The longest single wait in seconds, so that clock jumps are noticed.
    """

    def __init__(
        self,
        packs: Iterable[ScheduledPack],
        *,
        run: Callable[[str], bool],
        reports_dir: Path,
        clock: Callable[[], datetime] | None = None,
        wait: Callable[[float], bool] | None = None,
        max_nap: float = MAX_NAP,
    ) -> None:
        self.packs = {p.name: p for p in packs}
        self.max_nap = max_nap
        self.run = run
        self.reports_dir = Path(reports_dir)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.wait = wait or self._nap
        self.active: dict[str, threading.Thread] = {}
        # a plain flag, not an Event: it is set from signal handlers, where taking a lock the
        # interrupted code may hold would deadlock
        self._stop = False

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop

    def stop(self) -> None:
        """Start no new runs; :meth:`serve` returns once the running ones finish."""
        self._stop = True

    def _nap(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while not self._stop:
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.5))
        return True

    def start(self, name: str, *, background: bool = True) -> str:
        """Run pack ``name`` now unless its previous run is still active.

        Returns ``"started"`` (background), ``"ok"`` or ``"failed"`` (foreground), or
        ``"skipped"``.
        """
        lock = pack_lock(name, reports_dir=self.reports_dir)
        try:
            lock.acquire(blocking=False)
        except LockTimeout:
            log.warning("%s: skipped: previous run still active", name)
            return "skipped"
        if not background:
            return self._run_locked(name, lock)
        thread = threading.Thread(
            target=self._run_locked, args=(name, lock), name=f"crmwb-{name}", daemon=True
        )
        self.active[name] = thread
        thread.start()
        return "started"

    def _run_locked(self, name: str, lock: FileLock) -> str:
        started = datetime.now(UTC)
        log.info("%s: run started", name)
        try:
            ok = bool(self.run(name))
        except Exception:  # a failing run is logged and must not stop the scheduler
            log.exception("%s: run raised an error", name)
            ok = False
        finally:
            lock.release()
        seconds = (datetime.now(UTC) - started).total_seconds()
        outcome = "ok" if ok else "failed"
        (log.info if ok else log.error)("%s: run finished: %s after %.0f s", name, outcome, seconds)
        return outcome

    def serve(self, *, max_fires: int | None = None) -> int:
        """Fire packs at their times until :meth:`stop` (or ``max_fires`` fires); returns 0."""
        if not self.packs:
            log.warning("no pack has a schedule; nothing to do")
            return 0
        now = self.clock()
        upcoming = {
            p.name: next_fire(p.schedule, after=now, timezone=p.timezone)
            for p in self.packs.values()
        }
        for name, when in upcoming.items():
            log.info("%s: next run %s", name, when.isoformat(timespec="minutes"))
        fires = 0
        while not self.stopping:
            now = self.clock()
            for name, when in sorted(upcoming.items(), key=lambda item: item[1]):
                if when > now:
                    continue
                late = (now - when).total_seconds()
                if late > self.max_nap * 2:
                    log.warning("%s: due at %s, starting %.0f s late", name, when, late)
                self.start(name)
                pack = self.packs[name]
                upcoming[name] = next_fire(pack.schedule, after=now, timezone=pack.timezone)
                log.info("%s: next run %s", name, upcoming[name].isoformat(timespec="minutes"))
                fires += 1
            if max_fires is not None and fires >= max_fires:
                break
            delay = (min(upcoming.values()) - self.clock()).total_seconds()
            if self.wait(min(max(delay, 0.0), self.max_nap)):
                break
        self.join()
        return 0

    def join(self) -> None:
        """Wait for the runs still going."""
        running = [t for t in self.active.values() if t.is_alive()]
        if running:
            log.info("waiting for %d active run(s) to finish", len(running))
        for thread in running:
            thread.join()


def _root_of(reports_yaml: Path) -> Path:
    """The project root for a packs file: the folder above its ``params/`` folder, else (and for
    the packaged packs file) the project folder."""
    if reports_yaml == PACKAGED_REPORTS_YAML:
        return project_root()
    folder = reports_yaml.resolve().parent
    return folder.parent if folder.name == PARAMS_FOLDER else project_root()


def _default_run(packs: Mapping[str, Any]) -> Callable[[str], bool]:
    def run(name: str) -> bool:
        result = runner.run_pack(packs[name], send=True, progress=False)
        failed = [nb.name for nb in result.notebooks if nb.status != "ok"]
        log.info(
            "%s: %s published to %s%s",
            name,
            "run" if result.ok else f"failed notebook(s) {', '.join(failed)};",
            result.run_dir,
            f"; email not sent: {result.delivery_error}" if result.delivery_error else "",
        )
        return bool(result.ok and not result.delivery_error)

    return run


class _Handlers:
    """Log to stderr and reports/schedule.log while the scheduler runs, then put things back."""

    def __init__(self, log_file: Path | None) -> None:
        self.log_file = log_file
        self.added: list[logging.Handler] = []

    def __enter__(self) -> _Handlers:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S%z")
        handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(self.log_file, encoding="utf-8"))
        for handler in handlers:
            handler.setFormatter(fmt)
            log.addHandler(handler)
        self.added = handlers
        self.level, self.propagate = log.level, log.propagate
        log.setLevel(logging.INFO)
        log.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in self.added:
            log.removeHandler(handler)
            handler.close()
        log.setLevel(self.level)
        log.propagate = self.propagate


def run_scheduler(
    reports_yaml: Path,
    *,
    once: str | None = None,
    crontab: bool = False,
    root: Path | None = None,
    packs: Mapping[str, Any] | None = None,
    run: Callable[[str], bool] | None = None,
    clock: Callable[[], datetime] | None = None,
    wait: Callable[[float], bool] | None = None,
    out: TextIO | None = None,
    max_fires: int | None = None,
) -> int:
    """Run the report packs of ``reports_yaml`` on their schedules (``crmwb schedule``).

    Parameters
    ----------
    reports_yaml
        The packs file, e.g. ``params/reports.yaml`` (relative to ``root``, else to the project
        folder; the packaged one when the project has none, see
        :func:`crmlib.report.project.packs_file`).
    once
        Run this pack now, once (whether or not it has a schedule), then return.
    crontab
        Write equivalent crontab lines to ``out`` instead of scheduling.
    root
        The project root (default: the folder above the packs file's ``params/`` folder, else
        :func:`crmlib.config.project_dir`); reports go to ``<root>/reports``.
    packs
        Pack definitions by name (default: :func:`crmlib.report.packs.load_packs`).
    run
        Runs one pack by name, True on success (default: run it and send its email).
    clock, wait
        The current time and the wait between checks (replaceable in tests; see
        :class:`Scheduler`).
    out
        Where the crontab lines go (default ``sys.stdout``).
    max_fires
        Return after this many scheduled fires (default: run until SIGINT/SIGTERM).

    Returns
    -------
    int
        Exit status: 0 done (or stopped by a signal); with ``once``, 1 when the run failed and
        :data:`EXIT_SKIPPED` (75) when its previous run was still active.
    """
    reports_yaml = packs_file(reports_yaml, root=root)
    root = Path(root).resolve() if root is not None else _root_of(reports_yaml)
    if packs is None:
        packs = load_packs(reports_yaml, root=root)
    scheduled = scheduled_packs(packs)
    if crontab:
        unscheduled = [name for name in packs if name not in {p.name for p in scheduled}]
        lines = crontab_lines(
            scheduled, root=root, now=clock() if clock else None, unscheduled=unscheduled
        )
        (out or sys.stdout).write("\n".join(lines) + "\n")
        return 0
    reports_dir = root / "reports"
    if once is not None and once not in packs:
        raise ConfigError(
            f"no pack {once!r} in {reports_yaml}; packs: {', '.join(packs) or 'none'}"
        )
    scheduler = Scheduler(
        scheduled,
        run=run or _default_run(packs),
        reports_dir=reports_dir,
        clock=clock,
        wait=wait,
    )
    with _Handlers(reports_dir / LOG_NAME):
        if once is not None:
            outcome = scheduler.start(once, background=False)
            return {"ok": 0, "failed": 1}.get(outcome, EXIT_SKIPPED)
        previous = _install_signal_handlers(scheduler)
        try:
            log.info("scheduler started for %s", ", ".join(scheduler.packs) or "no packs")
            code = scheduler.serve(max_fires=max_fires)
            log.info("scheduler stopped")
            return code
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _install_signal_handlers(scheduler: Scheduler) -> dict[int, Any]:
    """SIGINT/SIGTERM stop the scheduler (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: object) -> None:
        if scheduler.stopping:
            # a second signal: stop the active runs' notebooks (their runs end failed) and go
            log.warning("received %s again; stopping the active runs", signal.Signals(signum).name)
            stop_workers()
            raise KeyboardInterrupt
        log.info("received %s; stopping after the active runs", signal.Signals(signum).name)
        scheduler.stop()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    return previous


__getattr__ = moved(__name__, {"LOCKS_DIR": "crmlib.report.archive"})
