"""Run folders and email subjects carry the data's period, not the day of the run."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from crmlib.report import runner
from crmlib.report.email.parts import common_context
from crmlib.report.settings import period_name


def _project(tmp_path, last_stamp: str):
    project = tmp_path / "project"
    (project / "params").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "tx.csv").write_text(
        "cust,order,at,value\n"
        "C1,O1,2017-12-02 10:00:00,12.5\n"
        "C2,O2,2017-12-31 18:30:00,8.0\n"
        f"C1,O3,{last_stamp},4.0\n",
        encoding="utf-8",
    )
    (project / "params" / "data.yaml").write_text(
        "transactions:\n  path: data/tx.csv\n  columns:\n"
        "    customer_id: cust\n    order_id: order\n    ordered_at: at\n    amount: value\n",
        encoding="utf-8",
    )
    return project


def test_an_export_ending_at_0401_on_the_first_is_named_after_the_month_before(
    tmp_path, monkeypatch
):
    """Last order 2018-01-01 04:01: that day is partial, so the data's day is 2017-12-31.

    A monthly run is then ``2017-12`` and a weekly one ISO week 52 of 2017 (Monday
    2017-12-25 to Sunday 2017-12-31), whatever day the run is made.
    """
    project = _project(tmp_path, "2018-01-01 04:01:00")
    monkeypatch.delenv("CRMWB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(project)
    day = runner.data_as_of("params/data.yaml", root=project)
    assert day == dt.date(2017, 12, 31)
    assert period_name("month", day) == "2017-12"
    assert period_name("week", day) == "2017-W52"


def test_a_complete_last_day_keeps_its_month(tmp_path, monkeypatch):
    """Last order 2018-01-01 23:15 (after the 23:00 cut-off): 1 January is complete."""
    project = _project(tmp_path, "2018-01-01 23:15:00")
    monkeypatch.delenv("CRMWB_PROJECT_DIR", raising=False)
    monkeypatch.chdir(project)
    day = runner.data_as_of("params/data.yaml", root=project)
    assert day == dt.date(2018, 1, 1) and period_name("month", day) == "2018-01"


def test_the_run_process_reads_the_day_without_importing_the_data_layer(tmp_path):
    """The day is read in a child process, and the notebooks' parameters without pyarrow: the
    process that runs the notebooks imports neither pandas, the engine nor pyarrow, which would
    stay resident beside the kernels for the whole run."""
    project = _project(tmp_path, "2018-01-01 04:01:00")
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "07_benchmarks.ipynb"
    code = (
        "import sys; from crmlib.report import runner; "
        "from crmlib.report.parameters import inspect_parameters; "
        "day = runner.data_as_of('params/data.yaml', root=sys.argv[1]); "
        "assert 'as_of' in inspect_parameters(sys.argv[2]); "
        "print(day, sorted(m for m in ('pandas', 'ibis', 'duckdb', 'pyarrow', 'crmlib.data') "
        "if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CRMWB_PROJECT_DIR"}
    done = subprocess.run([sys.executable, "-c", code, str(project), str(notebook)],
                          cwd=project, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "2017-12-31 []"


def test_unreadable_data_gives_no_period(tmp_path):
    """No data: None, and the runner falls back to the day of the run."""
    assert runner.data_as_of(None) is None
    assert runner.data_as_of(tmp_path / "missing.yaml", root=tmp_path) is None


def test_the_subject_carries_the_run_period():
    """The subject is built from run.json's period (the data's), never from started_at."""
    run = {
        "pack": "monthly",
        "title": "Monthly review",
        "period": "2017-12",
        "run_id": "2017-12",
        "status": "ok",
        "started_at": "2026-12-03T18:00:00+00:00",
    }
    for language in ("en", "zh"):
        subject = common_context(run, "unused", language)["subject"]
        assert "2017-12" in subject and "2026" not in subject
