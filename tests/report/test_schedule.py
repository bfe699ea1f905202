"""The scheduler: cron fire times in the pack's time zone (day-of-week 0 = Sunday), no overlapping
runs of a pack, crontab lines, --once, and a clean stop on SIGTERM."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import nbformat
import pytest
from croniter import croniter

from crmlib.errors import ConfigError
from crmlib.report import runner, schedule
from crmlib.report.archive import LOCKS_DIR, pack_lock
from crmlib.report.packs import load_packs
from crmlib.report.schedule import (
    EXIT_SKIPPED,
    ScheduledPack,
    Scheduler,
    next_fire,
    run_scheduler,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def weekly_by_hand(
    minute: int, hour: int, cron_dow: int, after: datetime, zone: ZoneInfo
) -> datetime:
    """First `minute hour * * cron_dow` strictly after `after`, by walking the calendar
    (cron counts Sunday as 0: Python's isoweekday() % 7)."""
    day = after.astimezone(zone).date()
    while True:
        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if day.isoweekday() % 7 == cron_dow % 7 and at > after:
            return at
        day += timedelta(days=1)


class FakeClock:
    """A clock that only moves when the scheduler waits."""

    def __init__(self, start: datetime, *, pause: float = 0.0) -> None:
        self.now = start
        self.pause = pause  # real seconds per wait, to let run threads get going
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def wait(self, seconds: float) -> bool:
        with self.lock:
            self.now += timedelta(seconds=seconds)
        time.sleep(self.pause)
        return False


# -- fire times ----------------------------------------------------------------------------------


def test_day_of_week_zero_is_sunday_in_the_pack_time_zone():
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    sunday = next_fire("0 7 * * 0", after=wednesday, timezone="Asia/Shanghai")
    assert sunday == datetime(2026, 3, 8, 7, 0, tzinfo=SHANGHAI)
    assert sunday.strftime("%A") == "Sunday" and sunday.utcoffset() == timedelta(hours=8)
    assert next_fire("0 7 * * 7", after=wednesday, timezone="Asia/Shanghai") == sunday
    assert (
        next_fire("0 7 * * 1", after=wednesday, timezone="Asia/Shanghai").strftime("%A") == "Monday"
    )

    # 23:30 UTC on Saturday is already 07:30 on Sunday in Shanghai: this Sunday's run has passed
    late_saturday = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    assert next_fire("0 7 * * 0", after=late_saturday, timezone="Asia/Shanghai") == datetime(
        2026, 3, 15, 7, 0, tzinfo=SHANGHAI
    )
    assert next_fire("0 7 * * 0", after=late_saturday, timezone="UTC") == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("cron_dow", range(8))
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_weekly_fire_times_match_a_calendar_walk(cron_dow, zone):
    tz = ZoneInfo(zone)
    for start in (
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 22, 15, tzinfo=UTC),
    ):
        got = next_fire(f"15 6 * * {cron_dow}", after=start, timezone=zone)
        assert got == weekly_by_hand(15, 6, cron_dow, start, tz)
        assert got.tzinfo is not None and got.utcoffset() == tz.utcoffset(got.replace(tzinfo=None))


def test_naive_start_is_read_in_the_pack_time_zone_and_bad_input_is_named():
    assert next_fire("0 7 * * *", after=datetime(2026, 3, 4, 6, 59), timezone="Asia/Shanghai") == (
        datetime(2026, 3, 4, 7, 0, tzinfo=SHANGHAI)
    )
    with pytest.raises(ConfigError, match="schedule.*'0 7 \\* \\*'"):
        next_fire("0 7 * *", after=datetime.now(UTC))
    with pytest.raises(ConfigError, match="timezone.*'Mars/Olympus'"):
        next_fire("0 7 * * *", after=datetime.now(UTC), timezone="Mars/Olympus")


def test_serve_fires_each_pack_at_its_times(tmp_path):
    clock = FakeClock(datetime(2026, 3, 4, 0, 0, tzinfo=UTC))  # a Wednesday
    fired: list[tuple[str, datetime]] = []

    def run(name: str) -> bool:
        fired.append((name, clock()))
        return True

    packs = [
        ScheduledPack("weekly", "0 7 * * 0", "Asia/Shanghai"),  # Sundays 07:00 in Shanghai
        ScheduledPack("midweek", "30 6 * * 3", "UTC"),  # Wednesdays 06:30 UTC
    ]
    scheduler = Scheduler(
        packs, run=run, reports_dir=tmp_path, clock=clock, wait=clock.wait, max_nap=3600
    )
    scheduler.serve(max_fires=3)
    scheduler.join()
    assert sorted(fired, key=lambda f: f[1]) == [
        ("midweek", datetime(2026, 3, 4, 6, 30, tzinfo=UTC)),
        ("weekly", datetime(2026, 3, 7, 23, 0, tzinfo=UTC)),  # Sunday 07:00 +08:00
        ("midweek", datetime(2026, 3, 11, 6, 30, tzinfo=UTC)),
    ]


# -- no overlap ----------------------------------------------------------------------------------


def test_a_second_fire_is_skipped_while_the_first_run_holds_the_lock(tmp_path, caplog):
    clock = FakeClock(datetime(2026, 3, 4, 6, 59, 30, tzinfo=UTC), pause=0.01)
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_run(name: str) -> bool:
        calls.append(name)
        started.set()
        assert release.wait(30)
        return True

    scheduler = Scheduler(
        [ScheduledPack("weekly", "* * * * *", "UTC")],  # every minute: the run outlasts it
        run=slow_run,
        reports_dir=tmp_path,
        clock=clock,
        wait=clock.wait,
    )
    caplog.set_level(logging.INFO, logger="crmlib.report.schedule")
    serving = threading.Thread(target=scheduler.serve, kwargs={"max_fires": 3})
    serving.start()
    try:
        assert started.wait(10)
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and sum("skipped: previous run still active" in r.getMessage() for r in caplog.records)
            < 2
        ):
            time.sleep(0.01)
    finally:
        release.set()
        serving.join(30)
    assert not serving.is_alive()
    skipped = [r for r in caplog.records if "skipped: previous run still active" in r.getMessage()]
    assert len(skipped) == 2 and calls == ["weekly"]
    # once the first run is over, the lock is free again
    assert scheduler.start("weekly", background=False) == "ok" and calls == ["weekly", "weekly"]


def test_the_lock_also_keeps_out_a_run_from_another_process(tmp_path):
    lock_path = tmp_path / "reports" / ".locks" / "weekly.lock"
    lock_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from filelock import FileLock
                with FileLock({str(lock_path)!r}):
                    print("locked", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    calls: list[str] = []
    packs = {"weekly": {"schedule": "0 7 * * 1", "timezone": "Asia/Shanghai"}}
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = run_scheduler(
            tmp_path / "params" / "reports.yaml",
            once="weekly",
            root=tmp_path,
            packs=packs,
            run=lambda name: calls.append(name) or True,
        )
        assert code == EXIT_SKIPPED and calls == []
    finally:
        holder.communicate("done\n", timeout=30)
    assert (
        run_scheduler(
            tmp_path / "params" / "reports.yaml",
            once="weekly",
            root=tmp_path,
            packs=packs,
            run=lambda name: calls.append(name) or True,
        )
        == 0
    )
    assert calls == ["weekly"]
    log_text = (tmp_path / "reports" / "schedule.log").read_text(encoding="utf-8")
    assert "weekly: skipped: previous run still active" in log_text
    assert "weekly: run finished: ok" in log_text


def test_once_reports_failures_and_unknown_packs(tmp_path):
    packs = {"weekly": {"schedule": None}, "monthly": {"schedule": "30 6 1 * *"}}
    yaml_path = tmp_path / "params" / "reports.yaml"
    assert (
        run_scheduler(yaml_path, once="weekly", root=tmp_path, packs=packs, run=lambda n: False)
        == 1
    )

    def boom(name: str) -> bool:
        raise RuntimeError("kernel exploded")

    assert run_scheduler(yaml_path, once="monthly", root=tmp_path, packs=packs, run=boom) == 1
    assert "kernel exploded" in (tmp_path / "reports" / "schedule.log").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="no pack 'yearly'.*weekly, monthly"):
        run_scheduler(yaml_path, once="yearly", root=tmp_path, packs=packs, run=lambda n: True)
    # the lock of a finished run is free
    lock = pack_lock("monthly", reports_dir=tmp_path / "reports")
    lock.acquire(blocking=False)
    lock.release()


def test_sigterm_stops_the_scheduler_cleanly(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    packs = {"weekly": {"schedule": "0 7 * * 0", "timezone": "Asia/Shanghai"}}
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        code = run_scheduler(
            tmp_path / "params" / "reports.yaml", root=tmp_path, packs=packs, run=lambda n: True
        )
    finally:
        timer.cancel()
    assert code == 0 and time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGTERM) is before
    log_text = (tmp_path / "reports" / "schedule.log").read_text(encoding="utf-8")
    assert "weekly: next run" in log_text
    assert "received SIGTERM" in log_text and "scheduler stopped" in log_text


def test_default_run_calls_the_runner_with_send(monkeypatch, tmp_path):
    seen = {}

    def fake_run_pack(pack, **kwargs):
        seen["pack"], seen["kwargs"] = pack, kwargs
        return SimpleNamespace(
            ok=pack == "good-pack", run_dir=tmp_path, notebooks=[], delivery_error=None
        )

    monkeypatch.setattr(runner, "run_pack", fake_run_pack)
    run = schedule._default_run({"weekly": "good-pack", "other": "bad-pack"})
    assert run("weekly") is True
    assert seen == {"pack": "good-pack", "kwargs": {"send": True, "progress": False}}
    assert run("other") is False


# -- crontab -------------------------------------------------------------------------------------


def write_project(root):
    """A project with one notebook and a packs file, loaded by crmlib.report.packs."""
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'language: str = "en"  # report language\nas_of: str = ""  # ISO date',
                metadata={"tags": ["parameters"]},
            )
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "notebooks" / "summary.ipynb")
    (root / "params" / "reports.yaml").write_text(
        textwrap.dedent(
            """
            packs:
              weekly:
                notebooks: [summary]
                schedule: "0 7 * * 0"
                timezone: Asia/Shanghai
                recipients: {success: [boss@example.com], failure: [analyst@example.com]}
              monthly:
                notebooks: [summary]
                schedule: "30 6 1 * *"
              adhoc:
                notebooks: [summary]
            """
        ),
        encoding="utf-8",
    )
    return root / "params" / "reports.yaml"


def test_crontab_lines_for_the_packs_file(tmp_path):
    reports_yaml = write_project(tmp_path / "proj")
    out = io.StringIO()
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert run_scheduler(reports_yaml, crontab=True, out=out, clock=lambda: wednesday) == 0
    lines = out.getvalue().splitlines()
    root = (tmp_path / "proj").resolve()
    weekly = (
        f"0 7 * * 0 cd {root} && .venv/bin/crmwb run weekly --send >> reports/schedule.log 2>&1"
    )
    monthly = (
        f"30 6 1 * * cd {root} && .venv/bin/crmwb run monthly --send >> reports/schedule.log 2>&1"
    )
    assert lines.index(weekly) == lines.index("CRON_TZ=Asia/Shanghai") + 1
    assert lines.index(monthly) == lines.index("CRON_TZ=UTC") + 1
    comment = lines[lines.index("CRON_TZ=Asia/Shanghai") - 1]
    assert "time zone Asia/Shanghai" in comment and "2026-03-08T07:00+08:00" in comment
    assert "2026-04-01T06:30+00:00" in lines[lines.index("CRON_TZ=UTC") - 1]
    assert "# without a schedule (run by hand): adhoc" in lines
    for line in lines:
        if line and not line.startswith(("#", "CRON_TZ=")):
            assert croniter.is_valid(" ".join(line.split()[:5])), line
    assert not (tmp_path / "proj" / "reports").exists()  # printing crontab runs nothing


def test_packs_file_loaded_and_scheduled_packs_picked(tmp_path):
    reports_yaml = write_project(tmp_path / "proj")
    packs = load_packs(reports_yaml, root=tmp_path / "proj")
    assert schedule.scheduled_packs(packs) == [
        ScheduledPack("weekly", "0 7 * * 0", "Asia/Shanghai"),
        ScheduledPack("monthly", "30 6 1 * *", "UTC"),
    ]
    assert date(2026, 3, 8).isoweekday() % 7 == 0  # the calendar fact the tests rely on


def test_old_names_in_schedule_still_work_and_warn():
    assert schedule.pack_lock is pack_lock  # the lock the scheduler takes, from the archive
    with pytest.warns(DeprecationWarning, match="crmlib.report.archive"):
        assert schedule.LOCKS_DIR == LOCKS_DIR == ".locks"
