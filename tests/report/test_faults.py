"""Faults and hostile settings: an `error:` line and exit 2 instead of a traceback, workers that
die with their run, memory and time limits, and names, recipients and email text that cannot be
used to smuggle anything in."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import yaml
from test_email import make_run

from crmlib.errors import ConfigError
from crmlib.report import runner, worker
from crmlib.report.cli import main
from crmlib.report.email.bidi import BIDI_CONTROLS, strip_bidi
from crmlib.report.email.message import build_message, write_email
from crmlib.report.limits import check_memory_limits, parse_size
from crmlib.report.packs import build_pack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
CRMWB = [sys.executable, "-c", "import sys; from crmlib.report.cli import main; sys.exit(main())"]

CSV = "customer_id,order_id,ordered_at,amount,quantity,sku\nC1,O1,2024-01-02,10.5,1,S1\n"


def _data_params(tmp_path: Path, path: Path, **extra) -> Path:
    params = {
        "transactions": {"path": str(path)},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
        **extra,
    }
    out = tmp_path / "data.yaml"
    out.write_text(yaml.safe_dump(params), encoding="utf-8")
    return out


# -- 12: errors, not tracebacks ------------------------------------------------------------------


def test_a_csv_gz_that_is_not_gzip_is_an_error_line_and_exit_2(tmp_path):
    source = tmp_path / "orders.csv.gz"
    source.write_text(CSV, encoding="utf-8")  # plain text under a .gz name
    params = _data_params(tmp_path, source)
    done = subprocess.run(
        [*CRMWB, "validate", "--params", str(params)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("error: ")
    assert "not a gzip file" in done.stdout and str(source) in done.stdout


def test_a_gzip_cut_short_in_its_first_lines_is_an_error_line_and_exit_2(tmp_path, capsys):
    whole = gzip.compress((CSV + "C2,O2,2024-01-03,7.0,2,S2\n" * 3000).encode())
    source = tmp_path / "orders.csv.gz"
    source.write_bytes(whole[:200])  # the header and a few lines, then nothing
    code = main(["validate", "--params", str(_data_params(tmp_path, source))])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.startswith("error: ")
    assert "truncated" in captured.out and str(source) in captured.out


def test_an_impossible_date_in_a_params_file_names_the_file(tmp_path, capsys):
    source = tmp_path / "orders.csv"
    source.write_text(CSV, encoding="utf-8")
    params = tmp_path / "data.yaml"
    params.write_text(
        f"as_of: 2024-13-45\ntransactions:\n  path: {source}\n"
        f"quarantine_dir: {tmp_path / 'q'}\ncache_dir: {tmp_path / 'c'}\n",
        encoding="utf-8",
    )
    code = main(["validate", "--params", str(params)])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.startswith("error: ")
    assert "data.yaml" in captured.out and "month must be in 1..12" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_an_unforeseen_fault_is_one_line_never_a_bare_exception_name(monkeypatch, capsys):
    from crmlib.report import cli

    def boom(args):
        raise StopIteration

    monkeypatch.setitem(cli.COMMANDS, "index", boom)
    assert main(["index"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: unexpected StopIteration: (no message) (run with -v for the traceback)"
    )
    assert main(["-v", "index"]) == 1  # -v shows where it came from
    assert "Traceback" in capsys.readouterr().err


def _notebook(tmp_path: Path, name: str, code: str) -> Path:
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_code_cell(
                'language = "en"\nas_of = ""\nsize_mb = 0', metadata={"tags": ["parameters"]}
            ),
            v4.new_code_cell(code),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_a_cell_raising_stopiteration_says_where(tmp_path):
    source = _notebook(
        tmp_path, "empty_next", "def first(xs):\n    return next(iter(xs))\n\nfirst([])"
    )
    result = worker.execute_notebook(source, tmp_path / "out" / "empty_next.ipynb", timeout=60)
    assert result.status == "failed"
    assert result.error.startswith("cell [2] raised StopIteration (no message) in first (")
    assert "an empty (or all-missing) series" in result.error


# -- 13: workers die with their run --------------------------------------------------------------


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def _start_slow_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    packs = tmp_path / "reports.yaml"
    packs.write_text(
        yaml.safe_dump(
            {
                "notebooks_dir": str(FIXTURES),
                "packs": {
                    "slow": {
                        "notebooks": ["slow", "ok"],
                        "parameters": {"slow": {"pause": 120.0}, "ok": {}},
                        "period": "day",
                    }
                },
            }
        ),
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [*CRMWB, "run", "slow", "--packs", str(packs), "--reports-dir", str(reports)]
        + ["--no-progress", "--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait until the slow notebook's kernel runs: the run's process tree holds a kernel
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        tree = _descendants(proc.pid)
        if any("ipykernel" in " ".join(p.cmdline()) for p in _alive(tree)):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"no kernel started: {proc.communicate()}")
    return proc, reports


def _wait_gone(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(procs)


@pytest.mark.slow
def test_sigterm_stops_workers_and_kernels_and_releases_the_lock(tmp_path):
    proc, reports = _start_slow_run(tmp_path)
    tree = _descendants(proc.pid)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in tree)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM == 143
    assert "error: run stopped by SIGTERM" in err and "Traceback" not in err
    assert _wait_gone(tree, 10) == []  # no worker, kernel or anything they started is left
    # nothing half-done is published and no staging folder is left behind
    pack_dir = reports / "slow"
    assert [p.name for p in pack_dir.iterdir() if not p.name.startswith(".publish")] == []
    # the lock is free: a run of the same pack can start at once (it would exit 75 otherwise)
    from crmlib.report import archive

    lock = archive.pack_lock("slow", reports_dir=reports)
    lock.acquire(blocking=False)
    lock.release()


@pytest.mark.slow
def test_sigkill_of_the_run_takes_its_workers_and_kernels_with_it(tmp_path):
    proc, reports = _start_slow_run(tmp_path)
    tree = _descendants(proc.pid)
    workers = [p for p in tree if "run_spec" in " ".join(p.cmdline())]
    assert len(workers) == 2
    proc.kill()  # SIGKILL: no handler runs in the runner
    proc.communicate(timeout=30)
    left = _wait_gone(tree, 15)
    assert left == [], [" ".join(p.cmdline()) for p in left]
    # a new run of the pack starts and finds no live run to overlap: lock free, staging stale
    from crmlib.report import archive

    lock = archive.pack_lock("slow", reports_dir=reports)
    lock.acquire(blocking=False)
    lock.release()
    stale = [p for p in (reports / "slow").iterdir() if p.name.startswith(".tmp-")]
    assert archive.remove_stale(reports / "slow") == stale  # its runner and workers are gone


# -- 16: limits, names, recipients, bidi ---------------------------------------------------------


@pytest.mark.slow
def test_a_notebook_over_its_memory_limit_is_stopped_with_a_clear_message(tmp_path):
    source = _notebook(
        tmp_path,
        "hungry",
        "import time\nblob = b'x' * (size_mb * 1024 * 1024)\ntime.sleep(60)",
    )
    started = time.monotonic()
    result = worker.execute_notebook(
        source,
        tmp_path / "out" / "hungry.ipynb",
        parameters={"size_mb": 900},
        timeout=120,
        memory_limit=parse_size("512MB"),
    )
    assert time.monotonic() - started < 50  # stopped, not left to sleep its 60 s
    assert result.status == "failed"
    assert "notebook 'hungry'" in result.error and "memory_limit of 512 MB" in result.error
    # worker and kernel held at least the limit (512 MB) when stopped
    assert result.peak_mb is not None and result.peak_mb > 512


@pytest.mark.parametrize(
    ("timeout", "says"),
    [
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        (-5, "'timeout' must be"),
        (0, "'timeout' must be"),
        ({"default": 60, "ok": float("inf")}, "notebook 'ok'"),
    ],
)
def test_timeouts_that_cannot_work_are_refused(timeout, says):
    with pytest.raises(ConfigError, match=says):
        build_pack("weekly", {"notebooks": ["ok"], "timeout": timeout}, notebooks_dir=FIXTURES)


def test_inf_timeout_in_yaml_is_refused_before_anything_runs(tmp_path, capsys):
    packs = tmp_path / "reports.yaml"
    packs.write_text(
        f"notebooks_dir: {FIXTURES}\npacks:\n  weekly:\n    notebooks: [ok]\n    timeout: .inf\n",
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    code = main(["run", "weekly", "--packs", str(packs), "--reports-dir", str(reports)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "'timeout'" in err
    assert not reports.exists()


@pytest.mark.parametrize("name", ["weekly\n", "weekly\r", "weekly/x", "../weekly", "\nweekly"])
def test_a_pack_name_with_a_line_break_or_path_is_refused(name, tmp_path):
    with pytest.raises(ConfigError, match="pack name"):
        build_pack(name, {"notebooks": ["ok"]}, notebooks_dir=FIXTURES)


def test_a_pack_name_with_a_trailing_newline_creates_no_folder(tmp_path, capsys):
    packs = tmp_path / "reports.yaml"
    packs.write_text(
        yaml.safe_dump(
            {"notebooks_dir": str(FIXTURES), "packs": {"weekly\n": {"notebooks": ["ok"]}}}
        ),
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    assert main(["run", "--all", "--packs", str(packs), "--reports-dir", str(reports)]) == 2
    assert "pack name 'weekly\\n'" in capsys.readouterr().err
    assert not reports.exists()


def test_recipients_written_with_a_name_are_accepted_one_address_each():
    pack = build_pack(
        "weekly",
        {
            "notebooks": ["ok"],
            "recipients": {"success": ["Wang Wei <wang.wei@example.com>", "cfo@example.com"]},
        },
        notebooks_dir=FIXTURES,
    )
    assert pack.recipients["success"] == ["Wang Wei <wang.wei@example.com>", "cfo@example.com"]
    for bad in ["a@example.com, b@example.com", "ceo@example.com\nBcc: x@evil.example", "Boss"]:
        with pytest.raises(ConfigError, match="not an email address"):
            build_pack(
                "weekly",
                {"notebooks": ["ok"], "recipients": {"failure": [bad]}},
                notebooks_dir=FIXTURES,
            )


def test_memory_limits_per_pack_and_notebook():
    gib = 1024**3
    pack = build_pack(
        "weekly",
        {"notebooks": ["ok", "slow"], "memory_limit": {"default": "2GB", "slow": "none"}},
        notebooks_dir=FIXTURES,
    )
    assert [nb.memory_limit for nb in pack.notebooks] == [2 * gib, None]
    default = build_pack("weekly", {"notebooks": ["ok"]}, notebooks_dir=FIXTURES)
    assert default.notebooks[0].memory_limit == 4 * gib  # the documented default, 4GB
    assert parse_size("1.5G") == int(1.5 * gib) and parse_size("512 MiB") == 512 * 1024**2
    assert check_memory_limits(3 * gib, ["a"], "p") == {"a": 3 * gib}
    for bad, says in [
        ("lots", "size such as"),
        ("1MB", "at least 256 MB"),
        (float("inf"), "finite"),
        (True, "size such as"),
    ]:
        with pytest.raises(ConfigError, match=says):
            build_pack("weekly", {"notebooks": ["ok"], "memory_limit": bad}, notebooks_dir=FIXTURES)
    with pytest.raises(ConfigError, match="not notebooks of the pack"):
        check_memory_limits({"nope": "1GB"}, ["a"], "p")


def test_reports_yaml_documents_the_memory_limit():
    text = (ROOT / "params" / "reports.yaml").read_text(encoding="utf-8")
    assert "memory_limit" in text and "4GB" in text


RLO = "\u202e"


def test_bidi_controls_never_reach_email_text(tmp_path):
    assert strip_bidi(f"invoice{RLO}fdp.exe\u2066x\u2069") == "invoicefdp.exex"
    for status in ("ok", "failed"):
        run_dir = make_run(tmp_path / status, status=status)
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        run["title"] = f"Weekly {RLO}gnp.exe\u200f report"
        run["notebooks"][1]["error"] = f"KeyError: 'sku {RLO}evil\u2067x\u2069'"
        (run_dir / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
        write_email(run_dir)
        msg = build_message(run_dir, to="Wang Wei <ceo@example.com>", sender="crm@example.com")
        texts = [str(msg["Subject"]), (run_dir / "email.txt").read_text(encoding="utf-8")]
        texts.append((run_dir / "email.html").read_text(encoding="utf-8"))
        texts += [
            part.get_content() for part in msg.walk() if part.get_content_type().startswith("text/")
        ]
        assert "gnp.exe" in texts[0]  # the words stay, only the controls go
        for text in texts:
            assert not set(text) & BIDI_CONTROLS, text[:200]


def test_runner_passes_the_memory_limit_to_each_worker(tmp_path, monkeypatch):
    seen = {}

    def fake_execute(notebook, output, **options):
        seen[Path(notebook).stem] = options["memory_limit"]
        raise KeyboardInterrupt  # the run is stopped at once: nothing is published

    monkeypatch.setattr(runner, "execute_notebook", fake_execute)
    pack = build_pack(
        "weekly",
        {"notebooks": ["ok"], "memory_limit": "1GB", "period": "day"},
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    with pytest.raises(KeyboardInterrupt):
        runner.run_pack(pack, reports_dir=tmp_path / "reports", progress=False)
    assert seen == {"ok": 1024**3}
    assert [p.name for p in (tmp_path / "reports" / "weekly").iterdir() if p.is_dir()] == []


def test_worker_error_helper_keeps_messages_that_have_one():
    from papermill.exceptions import PapermillExecutionError

    plain = PapermillExecutionError(0, 3, "x", "KeyError", "'amount'", [])
    assert worker.cell_error(plain) == "cell [3] raised KeyError: 'amount'"
    ipython_frames = [
        "\x1b[0;31m---------\x1b[0m",
        "File \x1b[0;32m~/venv/lib/python3.11/site-packages/matplotlib/cbook.py:1749\x1b[0m, "
        "in \x1b[0;36m_safe_first_finite\x1b[0;34m(obj)\x1b[0m",
        "\x1b[0;31mStopIteration\x1b[0m: ",
    ]
    empty = PapermillExecutionError(0, 7, "x", "StopIteration", "", ipython_frames)
    assert worker.cell_error(empty).startswith(
        "cell [7] raised StopIteration (no message) in _safe_first_finite (matplotlib/cbook.py:1749)"
    )


def _kernel_that_fails_to_start(times: int):
    """A stand-in for ``papermill.execute_notebook`` whose kernel dies before its first reply
    ``times`` times (nbclient's message when a port it picked was taken), then runs."""
    calls = []

    def execute(source, output, **options):
        calls.append(output)
        if len(calls) <= times:
            raise RuntimeError(worker.KERNEL_START_FAILED)
        nbformat.write(nbformat.read(source, as_version=4), output)

    return execute, calls


@pytest.mark.parametrize(
    ("failures", "status"), [(1, "ok"), (worker.KERNEL_START_ATTEMPTS, "failed")]
)
def test_a_kernel_that_dies_before_its_first_reply_is_started_again(
    tmp_path, monkeypatch, failures, status
):
    import papermill

    execute, calls = _kernel_that_fails_to_start(failures)
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    # the worker marks its process as a report run; this test runs it in pytest's own process,
    # and notebooks that later tests run must not inherit the mark
    monkeypatch.setenv(worker.REPORT_RUN_ENV, "")  # restored (unset) after the test
    spec = {"input": str(FIXTURES / "ok.ipynb"), "output": str(tmp_path / "ok.ipynb"),
            "html": str(tmp_path / "ok.html"), "parameters": {}, "timeout": 60,
            "cwd": str(tmp_path)}  # fmt: skip
    result = worker._execute_here(spec)
    assert result["status"] == status
    assert len(calls) == min(failures + 1, worker.KERNEL_START_ATTEMPTS)
    if status == "ok":
        assert result["error"] is None and Path(result["html"]).is_file()
    else:  # no more attempts: the run says why
        assert worker.KERNEL_START_FAILED in result["error"]


def test_a_worker_imports_papermill_without_pyarrow_and_can_still_import_it_later():
    """papermill pulls pyarrow in only for HDFS paths; a worker (a fresh process) leaves it out,
    about 40 MB beside every kernel, yet its error path can still import the data layer."""
    code = (
        "import sys\nfrom crmlib.report import worker\n"
        "from crmlib.report.imports import import_papermill\npapermill = import_papermill()\n"
        "print(sys.modules.get('pyarrow') is not None)\n"
        "import crmlib.data\nprint(sys.modules['pyarrow'].__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert done.stdout.split() == ["False", "pyarrow"], done.stderr
