"""The crmwb command: every subcommand wired, readable errors, meaningful exit codes."""

from __future__ import annotations

import datetime as dt
import sys
import types
from pathlib import Path

import pytest
import yaml

from crmlib.report import archive, runner, schedule
from crmlib.report.cli import EXIT_BUSY, main
from crmlib.report.email import delivery

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def _packs(tmp_path: Path, packs: dict) -> Path:
    path = tmp_path / "reports.yaml"
    path.write_text(yaml.safe_dump({"notebooks_dir": str(FIXTURES), "packs": packs}))
    return path


def _published_run(reports: Path, status: str = "ok", period: str = "2026-W47") -> Path:
    run_dir = reports / "weekly" / period
    run_dir.mkdir(parents=True)
    archive.write_json(
        run_dir / "run.json",
        {"pack": "weekly", "run_id": period, "status": status, "notebooks": []},
    )
    return run_dir


def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "index", "validate", "demo-data", "send", "schedule"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for option in ("--all", "--reports-dir", "--jobs", "--as-of", "--language", "--send"):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "no_such_pack_or_notebook"], "neither a pack"),
        (["run", "ok", "--as-of", "22/11/2026"], "ISO date"),
        (["send", "weekly/2019-W01", "--reports-dir", "nowhere"], "no finished report run"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, says, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    packs = _packs(tmp_path, {"weekly": {"notebooks": ["ok"]}})
    code = main([*argv, "--packs", str(packs)] if argv[0] == "run" else argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert says in err


def test_invalid_pack_stops_before_anything_runs(tmp_path, capsys):
    packs = _packs(tmp_path, {"weekly": {"notebooks": ["ok"], "schedule": "0 25 * * *"}})
    reports = tmp_path / "reports"
    code = main(["run", "--all", "--packs", str(packs), "--reports-dir", str(reports)])
    assert code == 2
    assert "'weekly'" in capsys.readouterr().err
    assert not reports.exists()


@pytest.mark.slow
def test_failed_notebook_exits_1_and_names_the_cell(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # notebooks run from the project root
    reports = tmp_path / "reports"
    code = main(
        ["run", "failing", "--packs", str(_packs(tmp_path, {})), "--reports-dir", str(reports),
         "--no-progress"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "ValueError" in captured.err and "planted failure" in captured.err
    # a notebook run alone is a one-notebook pack named after it, its folder named by day
    [run] = archive.list_runs(reports)
    assert run["pack"] == "failing" and run["status"] == "failed"
    dt.date.fromisoformat(run["run_id"])
    assert (reports / "index.html").is_file()


def test_index_rebuilds_the_page(tmp_path, capsys):
    reports = tmp_path / "reports"
    _published_run(reports)
    assert main(["index", "--reports-dir", str(reports), "--language", "zh"]) == 0
    page = (reports / "index.html").read_text(encoding="utf-8")
    assert "2026-W47" in page and "报告" in page
    # the language sticks when the page is rebuilt without one (as every run does)
    assert main(["index", "--reports-dir", str(reports)]) == 0
    assert "报告" in (reports / "index.html").read_text(encoding="utf-8")
    assert main(["index", "--reports-dir", str(reports), "--language", "en"]) == 0
    assert "CRM Workbook reports" in (reports / "index.html").read_text(encoding="utf-8")


def test_send_resolves_the_run_and_calls_delivery(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    run_dir = _published_run(reports)
    calls = []

    def send_run(path, *, dry_run=False, retry=False):
        calls.append((Path(path), dry_run, retry))
        return types.SimpleNamespace(ok=True)

    monkeypatch.setattr(delivery, "send_run", send_run)
    assert main(["send", "weekly", "--reports-dir", str(reports), "--dry-run"]) == 0
    assert main(["send", str(run_dir), "--retry"]) == 0
    assert calls == [(run_dir, True, False), (run_dir, False, True)]


def test_schedule_passes_its_options(monkeypatch):
    calls = []

    def run_scheduler(reports_yaml, *, once=None, crontab=False):
        calls.append((Path(reports_yaml), once, crontab))
        return 0

    monkeypatch.setattr(schedule, "run_scheduler", run_scheduler)
    assert main(["schedule", "--crontab"]) == 0
    assert main(["schedule", "--once", "weekly", "--packs", "p.yaml"]) == 0
    assert calls == [
        (Path("params/reports.yaml"), None, True),
        (Path("p.yaml"), "weekly", False),
    ]


def test_validate_prints_the_report_and_returns_its_code(monkeypatch, capsys):
    import crmlib.present.quality

    seen = []

    def validate(params, *, language="en"):
        seen.append((params, language))
        return "transactions: 10 rows read, 1 rejected", 1

    monkeypatch.setattr(crmlib.present.quality, "validate_source", validate)
    # a data problem is exit status 2, as the README promises ("2 bad data or params")
    assert main(["validate", "--params", "my.yaml", "--language", "zh"]) == 2
    assert main(["validate", "other.yaml"]) == 2
    assert main(["validate"]) == 2
    assert seen == [("my.yaml", "zh"), ("other.yaml", "en"), ("params/data.yaml", "en")]
    captured = capsys.readouterr()
    assert "1 rejected" in captured.out
    assert captured.err.startswith("error: the data that my.yaml names cannot be used")
    with pytest.raises(SystemExit):  # one file or the other, not both
        main(["validate", "--params", "a.yaml", "b.yaml"])


def test_demo_data_builds_demo_or_cdnow(monkeypatch, tmp_path, capsys):
    import crmlib.datasets
    import crmlib.simulate

    calls = []

    def write_demo(out_dir="data/demo", *, customers=50_000, seed=42, progress=False):
        calls.append(("demo", out_dir, customers, seed, progress))
        return Path(out_dir)

    def write_cdnow(out_dir="data/cdnow"):
        calls.append(("cdnow", out_dir))
        return Path(out_dir)

    monkeypatch.setattr(crmlib.simulate, "write_demo", write_demo)
    monkeypatch.setattr(crmlib.datasets, "write_cdnow", write_cdnow)
    assert main(["demo-data", "--customers", "500", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert main(["demo-data", "--cdnow"]) == 0
    assert calls == [("demo", str(tmp_path), 500, 3, True), ("cdnow", "data/cdnow")]


HOLD_LOCK = """
import sys, time
from pathlib import Path
from crmlib.report.archive import pack_lock
lock = pack_lock(sys.argv[1], reports_dir=Path(sys.argv[2]))
lock.acquire(blocking=False)
print("held", flush=True)
time.sleep(120)
"""


def test_run_never_overlaps_a_run_of_the_same_pack(tmp_path, capsys, monkeypatch):
    """Another process (the scheduler, cron, a colleague) holds the pack's lock: `crmwb run` of
    that pack does not start it, says why and exits 75; the other packs named still run."""
    import subprocess

    reports = tmp_path / "reports"
    packs = _packs(tmp_path, {"weekly": {"notebooks": ["ok"]}, "monthly": {"notebooks": ["ok"]}})
    started = []

    def fake_run_pack(pack, **options):
        started.append(pack.name)
        run = {"pack": pack.name, "run_id": "2026-11", "status": "ok", "notebooks": []}
        return runner.RunResult(pack=pack.name, run_dir=reports / pack.name / "2026-11", run=run)

    monkeypatch.setattr(runner, "run_pack", fake_run_pack)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, "weekly", str(reports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["run", "--packs", str(packs), "--reports-dir", str(reports), "--no-progress"]
        assert main([*argv, "weekly"]) == EXIT_BUSY == 75
        captured = capsys.readouterr()
        assert "'weekly' not started" in captured.err and "already going" in captured.err
        assert started == []
        assert main([*argv, "--all"]) == EXIT_BUSY
        captured = capsys.readouterr()
        assert started == ["monthly"] and "monthly 2026-11: ok" in captured.out
        assert "'weekly' not started" in captured.err
    finally:
        holder.kill()
        holder.wait()
    # once the other run is over, the pack runs (and releases the lock again)
    assert main([*argv, "weekly"]) == 0
    assert main([*argv, "weekly"]) == 0
    assert started == ["monthly", "weekly", "weekly"]


def test_help_documents_the_busy_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "75 a pack was not run because a run of it is already going" in capsys.readouterr().out


def test_send_retry_without_a_run_sends_every_outbox(tmp_path, monkeypatch, capsys):
    reports = tmp_path / "reports"
    waiting = _published_run(reports, period="2026-W46")
    done = _published_run(reports, period="2026-W47")
    (waiting / delivery.OUTBOX).mkdir()
    (waiting / delivery.OUTBOX / "digest--boss@example.com.eml").write_bytes(b"Subject: x\n\nx")
    (done / delivery.OUTBOX).mkdir()  # emptied by an earlier retry
    assert delivery.runs_with_outbox(reports) == [waiting]

    calls = []

    def send_run(path, *, dry_run=False, retry=False):
        calls.append((Path(path), retry))
        return types.SimpleNamespace(ok=False)  # SMTP still down: the exit status says so

    monkeypatch.setattr(delivery, "send_run", send_run)
    assert main(["send", "--retry", "--reports-dir", str(reports)]) == 1
    assert calls == [(waiting, True)]
    assert main(["send", "--reports-dir", str(reports)]) == 2  # no run, no --retry
    assert "--retry" in capsys.readouterr().err
    (waiting / delivery.OUTBOX / "digest--boss@example.com.eml").unlink()
    assert main(["send", "--retry", "--reports-dir", str(reports)]) == 0
    assert "nothing waits" in capsys.readouterr().out
