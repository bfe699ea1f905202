"""Running packs: failures are contained, outputs are complete, publishing is atomic."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from kpi_pages import assert_one_number_per_kpi

from crmlib.errors import ReportError
from crmlib.report import archive, runner, worker
from crmlib.report import email as email_package
from crmlib.report.email import delivery
from crmlib.report.packs import build_pack, load_packs

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"

pytestmark = pytest.mark.slow


def _packs_file(tmp_path: Path, packs: dict, notebooks_dir: Path = FIXTURES) -> Path:
    path = tmp_path / "reports.yaml"
    path.write_text(
        yaml.safe_dump({"notebooks_dir": str(notebooks_dir), "packs": packs}), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One run of four notebooks: one fine, one failing cell, one over its 5 s limit, one whose
    kernel dies. Two run at a time."""
    tmp = tmp_path_factory.mktemp("mixed")
    packs = {
        "mixed": {
            "notebooks": ["ok", "failing", "slow", "dead_kernel"],
            "parameters": {
                "defaults": {"data_params": "params/data.yaml"},
                "ok": {"customer_id": "007", "title": "<Revenue & 收入>"},
                "slow": {"pause": 60.0},
            },
            "timeout": {"default": 300, "slow": 5},
            "recipients": {"success": ["boss@example.com"], "failure": ["team@example.com"]},
            "language": "zh",
            "period": "month",
        }
    }
    started = time.monotonic()
    [result] = runner.run(
        ["mixed"],
        reports_yaml=_packs_file(tmp, packs),
        root=ROOT,
        reports_dir=tmp / "reports",
        as_of="2026-11-22",
        jobs=2,
        progress=False,
    )
    return result, tmp / "reports", time.monotonic() - started


def test_failures_are_contained_with_readable_reasons(mixed):
    result, _, _ = mixed
    by_name = {nb["name"]: nb for nb in result.run["notebooks"]}
    assert [nb["name"] for nb in result.run["notebooks"]] == [
        "ok",
        "failing",
        "slow",
        "dead_kernel",
    ]
    assert {k: v["status"] for k, v in by_name.items()} == {
        "ok": "ok",
        "failing": "failed",
        "slow": "timeout",
        "dead_kernel": "dead_kernel",
    }
    assert by_name["ok"]["error"] is None
    assert "ValueError" in by_name["failing"]["error"]
    assert "planted failure" in by_name["failing"]["error"]
    assert "5 s" in by_name["slow"]["error"]
    assert "kernel died" in by_name["dead_kernel"]["error"]
    # the 60 s sleep was cut off by the 5 s limit, not waited out
    assert by_name["slow"]["seconds"] < 55
    assert result.run["status"] == "failed"
    assert not result.ok


def _plain_outputs(notebook: Path) -> str:
    """The plain-text outputs of an executed notebook's code cells, joined."""
    nb = nbformat.read(notebook, as_version=4)
    return "".join(
        out.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def test_notebooks_run_side_by_side_share_the_cores(mixed, monkeypatch):
    """Two notebooks at a time: each kernel's embedded engine and linear algebra get half the
    cores (at least one thread), except where the user set the variable; one at a time keeps
    every core."""
    result, _, _ = mixed
    outputs = _plain_outputs(result.run_dir / "ok.ipynb")
    share = max(1, (os.cpu_count() or 1) // 2)
    for name, shown in (("CRMWB_DUCKDB_THREADS", "engine"), ("OPENBLAS_NUM_THREADS", "blas")):
        if not os.environ.get(name):  # what the kernel received
            assert re.search(rf"{shown} threads\s+{share}\s+env", outputs), outputs
    names = ("CRMWB_DUCKDB_THREADS", *runner.BLAS_THREADS_ENV)
    for name in names:
        monkeypatch.delenv(name, raising=False)
    assert runner.engine_threads(2) == dict.fromkeys(names, str(share))
    assert runner.engine_threads(1) == {}
    monkeypatch.setenv("CRMWB_DUCKDB_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runner.engine_threads(2) == {"OPENBLAS_NUM_THREADS": str(share),
                                        "MKL_NUM_THREADS": str(share)}  # fmt: skip


def test_kernels_allocate_arrow_memory_from_the_c_allocator(mixed, monkeypatch):
    """Arrow's own pool keeps what it freed; a run's kernels use the C allocator, which gives
    large buffers back at once, unless the user chose a pool."""
    result, _, _ = mixed
    if not os.environ.get(runner.ARROW_POOL_ENV):  # what the kernel received
        assert re.search(r"arrow pool\s+system\s+env", _plain_outputs(result.run_dir / "ok.ipynb"))
    monkeypatch.delenv(runner.ARROW_POOL_ENV, raising=False)
    for name in ("CRMWB_DUCKDB_THREADS", *runner.BLAS_THREADS_ENV):
        monkeypatch.delenv(name, raising=False)
    assert runner.notebook_environment(1) == {runner.ARROW_POOL_ENV: "system"}
    assert runner.notebook_environment(2) == {**runner.engine_threads(2),
                                              runner.ARROW_POOL_ENV: "system"}  # fmt: skip
    monkeypatch.setenv(runner.ARROW_POOL_ENV, "jemalloc")
    assert runner.ARROW_POOL_ENV not in runner.notebook_environment(2)


def test_every_notebook_keeps_its_executed_copy_and_html(mixed):
    result, _, _ = mixed
    for nb in result.run["notebooks"]:
        ipynb, html = result.run_dir / nb["ipynb"], result.run_dir / nb["html"]
        assert ipynb.is_file() and html.is_file(), nb["name"]
        page = html.read_text(encoding="utf-8")
        # code is hidden: no code editor blocks, no prompts, nothing loaded from the network
        assert 'class="jp-CodeMirrorEditor' not in page
        assert "<script src=" not in page
    failing = (result.run_dir / "failing.html").read_text(encoding="utf-8")
    assert "planted failure in the fixture notebook" in failing
    ok = (result.run_dir / "ok.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="data:image/png;base64,', ok)


def test_parameters_reach_the_notebook_with_their_types(mixed):
    result, _, _ = mixed
    outputs = _plain_outputs(result.run_dir / "ok.ipynb")
    # the id stayed the text "007" (papermill's -p would have made it the number 7)
    assert re.search(r"customer_id\s+007\s+str", outputs)
    assert re.search(r"language\s+zh\s+str", outputs)
    assert re.search(r"as_of\s+2026-11-22\s+str", outputs)


def test_run_json_describes_the_published_run(mixed):
    result, reports, _ = mixed
    assert result.run_dir == reports / "mixed" / "2026-11"
    run = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    assert run == result.run
    assert run["pack"] == "mixed" and run["run_id"] == "2026-11"
    assert run["language"] == "zh" and run["as_of"] == "2026-11-22" and run["digest"] == "ok"
    assert run["recipients"] == {"success": ["boss@example.com"], "failure": ["team@example.com"]}
    assert run["started_at"] <= run["finished_at"]
    assert run["data_fingerprint"] is None or isinstance(run["data_fingerprint"], str)
    ok = run["notebooks"][0]
    assert ok["parameters"] == {
        "data_params": "params/data.yaml",
        "customer_id": "007",
        "title": "<Revenue & 收入>",
        "language": "zh",
        "as_of": "2026-11-22",
    }
    for nb in run["notebooks"]:
        assert set(nb) == {
            "name", "status", "seconds", "error", "parameters", "ipynb", "html", "log", "peak_mb"
        }  # fmt: skip
        # a notebook kernel holds tens of MB at least; the default limit is 4 GB
        assert nb["peak_mb"] is None or 20 < nb["peak_mb"] < 4096
        assert nb["log"] == f"logs/{nb['name']}.log"
        assert (result.run_dir / nb["log"]).is_file()
        assert not Path(nb["html"]).is_absolute()
    if run.get("email"):
        assert (result.run_dir / run["email"]["html"]).is_file()
    # nothing of the staging area is left behind
    assert [p.name for p in (reports / "mixed").iterdir() if p.name.startswith(".tmp")] == []


def test_index_lists_the_run_with_links(mixed):
    result, reports, _ = mixed
    page = (reports / "index.html").read_text(encoding="utf-8")
    for name in ("ok", "failing", "slow", "dead_kernel"):
        assert f'href="mixed/2026-11/{name}.html"' in page
    assert "2026-11" in page and "badge failed" in page


def test_worker_outliving_its_limit_is_killed(tmp_path):
    # every cell stays under the 2 s cell limit, but four 1.5 s cells outlast 2 s + 1 s grace
    started = time.monotonic()
    result = worker.execute_notebook(
        FIXTURES / "slow.ipynb",
        tmp_path / "slow.ipynb",
        parameters={"pause": 1.5, "cells": 4},
        timeout=2,
        grace=1,
        cwd=ROOT,
    )
    assert result.status == "timeout"
    assert "stopped" in result.error
    assert time.monotonic() - started < 30


def test_worker_killed_from_outside_is_reported_and_its_notebook_kept(tmp_path):
    # the notebook kills the process running it (as the OOM killer or an operator would)
    result = worker.execute_notebook(
        FIXTURES / "dead_kernel.ipynb",
        tmp_path / "dead_kernel.ipynb",
        parameters={"how": "kill_worker"},
        timeout=120,
        cwd=ROOT,
    )
    assert result.status == "dead_kernel"
    assert "signal 9" in result.error
    # what papermill saved before the kill is still exported for reading
    assert Path(result.ipynb).is_file() and Path(result.html).is_file()


# --- publishing: a fake executor stands in for papermill so these tests take no kernel time ---


def _fake_execute(notebook, output, *, parameters, **options):  # the runner's other options unused
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["fake_parameters"] = dict(parameters)
    nbformat.write(nb, output)
    page = output.with_suffix(".html")
    page.write_text(f"<html><body>{output.stem} as of {parameters.get('as_of')}</body></html>")
    time.sleep(0.2)
    return worker.NotebookResult(
        Path(notebook).stem, "ok", 0.2, None, dict(parameters), str(output), str(page)
    )


@pytest.fixture
def fake_pack(monkeypatch):
    monkeypatch.setattr(runner, "execute_notebook", _fake_execute)
    monkeypatch.setattr(runner, "_write_email", lambda run_dir: None)
    return build_pack(
        "fake", {"notebooks": ["ok", "failing"], "period": "day"}, notebooks_dir=FIXTURES, root=ROOT
    )


def _options(reports: Path) -> dict:
    return {"reports_dir": reports, "progress": False}


def test_rerun_replaces_the_period_and_a_crash_keeps_the_old_run(tmp_path, fake_pack, monkeypatch):
    reports = tmp_path / "reports"
    first = runner.run_pack(fake_pack, as_of="2026-11-20", **_options(reports))
    second = runner.run_pack(fake_pack, as_of="2026-11-20", **_options(reports))
    assert first.run_dir == second.run_dir
    assert archive.read_run(second.run_dir)["started_at"] == second.run["started_at"]

    def crash(staging, final):
        raise RuntimeError("disk full")

    monkeypatch.setattr(archive, "publish", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        runner.run_pack(fake_pack, as_of="2026-11-20", **_options(reports))
    # the earlier run is intact and still the one listed; the crashed one left nothing behind
    assert archive.read_run(second.run_dir) == second.run
    assert sorted(p.name for p in (reports / "fake").iterdir()) == [".publish.lock", "2026-11-20"]
    assert [r["path"] for r in archive.list_runs(reports)] == ["fake/2026-11-20"]


def test_the_runner_starts_notebooks_in_start_order_and_lists_them_in_reading_order(
    tmp_path, monkeypatch
):
    started = []

    def record(notebook, output, **options):
        started.append(Path(notebook).stem)
        return _fake_execute(notebook, output, **options)

    monkeypatch.setattr(runner, "execute_notebook", record)
    monkeypatch.setattr(runner, "_write_email", lambda run_dir: None)
    pack = build_pack(
        "fake", {"notebooks": ["ok", "failing", "slow"], "start_first": ["slow", "failing"],
                 "period": "day"}, notebooks_dir=FIXTURES, root=ROOT,
    )  # fmt: skip
    result = runner.run_pack(pack, as_of="2026-11-20", jobs=1, **_options(tmp_path / "reports"))
    assert started == ["slow", "failing", "ok"]
    assert [nb["name"] for nb in result.run["notebooks"]] == ["ok", "failing", "slow"]


KILLED_RUN = """
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_report_runner import _fake_execute
from crmlib.report import archive, runner
from crmlib.report.packs import build_pack

runner.execute_notebook = _fake_execute
runner._write_email = lambda run_dir: None
archive.publish = lambda staging, final: os._exit(9)  # the process dies before the rename
pack = build_pack("fake", {{"notebooks": ["ok"], "period": "day"}},
                  notebooks_dir={fixtures!r}, root={root!r})
runner.run_pack(pack, as_of="2026-11-21", reports_dir={reports!r}, progress=False)
"""


def test_killed_run_never_looks_complete(tmp_path):
    reports = tmp_path / "reports"
    script = KILLED_RUN.format(
        tests=str(Path(__file__).parent),
        fixtures=str(FIXTURES),
        root=str(ROOT),
        reports=str(reports),
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120
    )
    assert proc.returncode == 9, proc.stderr.decode()
    left = [p for p in (reports / "fake").iterdir() if p.is_dir()]
    # the half-built run stays in its hidden staging folder, even with its run.json written
    assert len(left) == 1 and left[0].name.startswith(".tmp-2026-11-21-")
    assert not (reports / "fake" / "2026-11-21").exists()
    assert archive.list_runs(reports) == []
    index = archive.write_index(reports).read_text(encoding="utf-8")
    assert ".tmp-" not in index and "2026-11-21" not in index
    # the next run of the pack clears what the dead process left
    archive.staging_dir(reports, "fake", "2026-11-22")
    assert not left[0].exists()


def test_overlapping_runs_of_one_period_publish_whole(tmp_path, fake_pack):
    reports = tmp_path / "reports"
    results, errors = [], []

    def go(as_of):
        try:
            results.append(runner.run_pack(fake_pack, as_of=as_of, **_options(reports)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=("2026-11-19",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 3 and len({r.run_dir for r in results}) == 1
    run_dir = results[0].run_dir
    published = archive.read_run(run_dir)
    # the folder is one run's output, whole: its run.json is one of the three and its files exist
    assert published in [r.run for r in results]
    for nb in published["notebooks"]:
        assert (run_dir / nb["ipynb"]).is_file() and (run_dir / nb["html"]).is_file()
    assert sorted(p.name for p in (reports / "fake").iterdir()) == [".publish.lock", "2026-11-19"]


def test_email_digest_is_built_in_the_run_and_its_failure_does_not_lose_it(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "execute_notebook", _fake_execute)
    pack = build_pack(
        "fake", {"notebooks": ["ok"], "period": "day"}, notebooks_dir=FIXTURES, root=ROOT
    )

    def write_email(run_dir):
        # what the digest builder is promised: a finished run.json beside the executed notebooks
        run = archive.read_run(run_dir)
        assert (run_dir / run["notebooks"][0]["html"]).is_file()
        (run_dir / "email.html").write_text(f"<p>{run['pack']} {run['run_id']}</p>")
        archive.write_json(run_dir / "run.json", {**run, "email": {"subject": "Weekly"}})
        return run_dir / "email.html"

    monkeypatch.setattr(email_package, "write_email", write_email)
    done = runner.run_pack(pack, as_of="2026-11-20", reports_dir=tmp_path, progress=False)
    assert done.run["email"] == {"subject": "Weekly", "html": "email.html"}
    assert (done.run_dir / "email.html").read_text() == "<p>fake 2026-11-20</p>"
    assert 'href="fake/2026-11-20/email.html"' in (tmp_path / "index.html").read_text()

    def broken(run_dir):
        raise RuntimeError("template missing")

    monkeypatch.setattr(email_package, "write_email", broken)
    kept = runner.run_pack(pack, as_of="2026-11-21", reports_dir=tmp_path, progress=False)
    assert kept.run["email"] == {"html": None, "error": "RuntimeError: template missing"}
    assert archive.read_run(kept.run_dir) == kept.run


def test_fixed_as_of_names_the_folder_and_send_follows_publishing(tmp_path, fake_pack, monkeypatch):
    pack = build_pack(
        "fixed",
        {"notebooks": ["ok"], "period": "month", "parameters": {"ok": {"as_of": "2026-10-31"}}},
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    sent = []

    def send_run(run_dir, *, dry_run=False, retry=False):
        sent.append((archive.read_run(run_dir)["run_id"], dry_run))  # published before sending
        return types.SimpleNamespace(ok=False, error="smtp refused")

    monkeypatch.setattr(delivery, "send_run", send_run)
    result = runner.run_pack(pack, reports_dir=tmp_path, progress=False, dry_run_email=True)
    assert result.run_dir == tmp_path / "fixed" / "2026-10"
    assert result.run["as_of"] == "2026-10-31"
    assert sent == [("2026-10", True)]
    assert result.delivery_error == "smtp refused"


def test_publish_refuses_a_staging_folder_without_run_json(tmp_path):
    staging = archive.staging_dir(tmp_path, "pack", "2026-W47")
    with pytest.raises(ReportError, match="incomplete"):
        archive.publish(staging, tmp_path / "pack" / "2026-W47")
    assert not (tmp_path / "pack" / "2026-W47").exists()


def test_index_escapes_what_it_shows(tmp_path):
    run_dir = tmp_path / "p" / "2026-11"
    run_dir.mkdir(parents=True)
    archive.write_json(
        run_dir / "run.json",
        {
            "pack": "p",
            "run_id": "2026-11",
            "status": "failed",
            "started_at": "2026-11-22T07:00:00+08:00",
            "finished_at": "2026-11-22T07:03:05+08:00",
            "notebooks": [
                {
                    "name": "x",
                    "status": "failed",
                    "error": '<script>alert("x")</script>',
                    "html": "x.html",
                }
            ],
        },
    )
    (tmp_path / "p" / "no-run-json").mkdir()
    page = archive.write_index(tmp_path, language="zh").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    assert "3:05" in page and "失败" in page
    assert "no-run-json" not in page


#: What no page may show a reader: (pattern in the page's text, what it is).
_UNREADABLE = (
    (r"\d\.\d+e[+-]00\b", "a number in scientific notation that rounds to zero (0.0e+00)"),
    (r"[¥$]-", "a currency sign before a minus (¥-0)"),
    (r"&#x27;|&amp;#", "an HTML entity as text"),
    (r"\b(call_centre|app_push|key_account|activity_query)\b", "a raw key instead of its label"),
)


@pytest.mark.timeout(1800)
def test_every_report_notebook_runs_on_demo_data(tmp_path, request, tmp_path_factory):
    """All shipped notebooks, run as one pack the way `make reports` runs them, in Chinese."""
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "01_data_quality" in notebooks and len(notebooks) >= 8
    demo_params = request.getfixturevalue("demo_params")
    packs = load_packs(
        _packs_file(
            tmp_path,
            {
                "all": {
                    "notebooks": notebooks,
                    "parameters": {"defaults": {"data_params": str(demo_params)}},
                    "language": "zh",
                    "period": "day",
                    "timeout": 900,
                }
            },
            notebooks_dir=ROOT / "notebooks",
        ),
        root=ROOT,
    )
    result = runner.run_pack(packs["all"], reports_dir=tmp_path / "reports", progress=False)
    failed = {nb["name"]: nb["error"] for nb in result.run["notebooks"] if nb["status"] != "ok"}
    assert not failed, failed
    for nb in result.run["notebooks"]:
        executed = nbformat.read(result.run_dir / nb["ipynb"], as_version=4)
        stderr = [
            "".join(out.get("text", ""))
            for cell in executed.cells
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stderr"
        ]
        assert not stderr, f"{nb['name']} prints to stderr in the report: {stderr}"
        page = (result.run_dir / nb["html"]).read_text(encoding="utf-8")
        assert "<img" in page, f"{nb['name']} shows no chart"
        assert 'class="jp-CodeMirrorEditor' not in page, f"{nb['name']} shows code"
        for folder in (str(ROOT), str(tmp_path_factory.getbasetemp())):
            assert folder not in page, f"{nb['name']} names a folder of this machine: {folder}"
        assert "Data behind this table" not in page, f"{nb['name']} shows the analyst's frames"
        text = BeautifulSoup(page, "html.parser").get_text(" ")
        for pattern, what in _UNREADABLE:
            found = re.search(pattern, text)
            assert not found, (
                f"{nb['name']} shows {what}: {text[found.start() - 60 : found.end() + 20]!r}"
            )
    assert (result.run_dir / "email.html").exists()
    assert_one_number_per_kpi(result.run_dir, "zh")


def test_one_number_per_kpi_on_the_demo_in_english(tmp_path, request):
    """The summary, the benchmark page and the email of a demo run in English agree on every
    KPI (the run above checks Chinese)."""
    demo_params = request.getfixturevalue("demo_params")
    packs = load_packs(
        _packs_file(
            tmp_path,
            {
                "kpis_en": {
                    "notebooks": ["00_executive_summary", "07_benchmarks"],
                    "parameters": {"defaults": {"data_params": str(demo_params)}},
                    "recipients": {"success": ["ceo@example.com"]},
                    "language": "en",
                    "period": "month",
                }
            },
            notebooks_dir=ROOT / "notebooks",
        ),
        root=ROOT,
    )
    result = runner.run_pack(packs["kpis_en"], reports_dir=tmp_path / "reports", progress=False)
    assert result.run["status"] == "ok", result.run["notebooks"]
    assert_one_number_per_kpi(result.run_dir, "en")


def test_pack_title_and_email_settings_reach_run_json_and_the_email(tmp_path, monkeypatch):
    """run.json carries the pack's description as "title" and its email: settings as "settings",
    which the real digest builder reads (here: links instead of attachments, and the heading)."""
    monkeypatch.setattr(runner, "execute_notebook", _fake_execute)
    pack = build_pack(
        "fake",
        {
            "notebooks": ["ok"],
            "period": "day",
            "description": "Daily check.",
            "email": {"report_base_url": "https://reports.example.com/crm", "max_charts": 2},
        },
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    done = runner.run_pack(pack, as_of="2026-11-20", reports_dir=tmp_path, progress=False)
    run = archive.read_run(done.run_dir)
    assert run["title"] == "Daily check"
    assert run["settings"] == {
        "report_base_url": "https://reports.example.com/crm",
        "max_charts": 2,
    }
    assert run["email"]["kind"] == "digest", run["email"]
    html = (done.run_dir / run["email"]["html"]).read_text(encoding="utf-8")
    assert "https://reports.example.com/crm/fake/2026-11-20/ok.html" in html
    assert run["email"]["attachments"] == []
    assert run["email"]["subject"].startswith("Daily check · 2026-11-20")
    assert ">Daily check<" in html and ".tmp-" not in html


def test_old_names_in_runner_still_work_and_warn():
    assert runner.execute_notebook is worker.execute_notebook  # the name the runner calls
    with pytest.warns(DeprecationWarning, match="crmlib.report.worker"):
        assert runner.STATUSES == worker.STATUSES


def test_a_summary_learns_which_reports_its_run_holds(tmp_path, monkeypatch):
    """The weekly pack has no reports 06 and 07: its summary's footer must not point to them."""
    monkeypatch.setattr(runner, "execute_notebook", _fake_execute)
    monkeypatch.setattr(runner, "_write_email", lambda run_dir: None)
    notebooks = ["00_executive_summary", "01_data_quality", "04_lifecycle_retention"]
    pack = build_pack(
        "weekly_like",
        {"notebooks": notebooks, "period": "week"},
        notebooks_dir=ROOT / "notebooks",
        root=ROOT,
    )
    result = runner.run_pack(pack, as_of="2026-11-22", **_options(tmp_path / "reports"))
    received = {
        nb["name"]: nbformat.read(result.run_dir / f"{nb['name']}.ipynb", as_version=4).metadata[
            "fake_parameters"
        ]
        for nb in result.run["notebooks"]
    }
    assert received["00_executive_summary"]["pack_notebooks"] == ",".join(notebooks)
    assert "pack_notebooks" not in received["01_data_quality"], "only where it is declared"
