"""The ``crmwb`` command: build demo data, check data, run report packs, index, send, schedule.

Run ``crmwb --help`` or ``crmwb <command> --help``. Problems in data or parameters print
``error: <message>`` and exit with status 2 (``crmwb validate`` too, when a table cannot be
used); a run in which a notebook failed exits with 1; ``crmwb run`` of a pack whose previous run
is still going exits with 75 (:data:`EXIT_BUSY`). No command shows a traceback unless ``-v``
asks for it: a fault nobody foresaw is one ``error:`` line and exit status 1. When a pack's data
params name a database or Spark engine, ``crmwb run`` first reaches it and reads one row of each
table: an unreachable server, a refused login, a missing table or a failing query exits with 2
before any notebook starts, and no run folder is written.

``crmwb run`` stopped by SIGTERM or SIGHUP (``kill``, systemd, a closed terminal) stops its
notebook workers and kernels, publishes nothing, releases the pack's lock and exits with
128 + the signal number (143 for SIGTERM); workers die with it even when it is killed with
SIGKILL (see :mod:`crmlib.report.worker`).

Relative paths (``--packs``, ``--reports-dir``) start at the project folder
(:func:`crmlib.config.project_dir`); a project without ``params/reports.yaml`` runs the packs
packaged with crmlib. Each command imports the pipeline parts it needs when it runs, so
``crmwb --help`` answers at once.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

from crmlib.config import project_dir
from crmlib.errors import CrmError, ReportError
from crmlib.i18n import LANGUAGES

__all__ = ["DATA_PARAMS", "EXIT_BUSY", "main"]

log = logging.getLogger("crmlib")

EPILOG = """\
examples:
  crmwb demo-data                      build the demo retailer in data/demo
  crmwb validate                       check params/data.yaml and the data it points at
  crmwb validate --params my.yaml      the same for another data params file
  crmwb run                            run the default pack of params/reports.yaml
  crmwb run --all                      run every pack of params/reports.yaml into reports/
  crmwb run weekly --as-of 2026-11-22  run one pack for the week of that date
  crmwb run 01_data_quality            run one notebook alone (folder named by day)
  crmwb index                          rebuild reports/index.html
  crmwb send weekly --dry-run          build the latest weekly email without sending it
  crmwb send --retry                   send what failed sends left in any run's outbox
  crmwb schedule --crontab             print crontab lines for every pack's schedule

exit status: 0 all fine, 1 a report notebook failed (or email not sent, or an unexpected
  fault), 2 bad data or params (also from `validate`),
  75 a pack was not run because a run of it is already going (started by hand, by cron or by
  `crmwb schedule`; the other packs named still ran): try again when it has finished,
  143 `run` stopped by SIGTERM (its notebooks stopped with it, nothing published).
"""

#: The data params file commands read unless told otherwise.
DATA_PARAMS = "params/data.yaml"

#: Exit status when a pack was not started because a run of it is already going (as
#: ``crmwb schedule --once``; ``EX_TEMPFAIL`` of sysexits.h: try again later).
EXIT_BUSY = 75


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmwb",
        description="CRM Workbook: run the customer-analytics notebooks as scheduled, archived "
        "and emailed reports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="run report packs or notebooks into the reports folder",
        description="Run packs from the packs file (or single notebooks) with papermill, each "
        "notebook in its own process and with its time limit, export HTML without code, and "
        "publish the run as <reports-dir>/<pack>/<period>/ with run.json and the email digest. "
        "Everything is validated before anything runs.",
    )
    run.add_argument(
        "targets",
        nargs="*",
        metavar="PACK|NOTEBOOK",
        help="pack names, or notebook names (01_data_quality or notebooks/01_data_quality.ipynb) "
        "to run a notebook alone; none: the default pack of the packs file (its default_pack, "
        "else its first pack)",
    )
    run.add_argument("--all", action="store_true", help="run every pack of the packs file")
    run.add_argument(
        "--packs",
        default="params/reports.yaml",
        metavar="YAML",
        help="the packs file (default: %(default)s, or the packaged one when the project has none)",
    )
    run.add_argument(
        "--reports-dir",
        default="reports",
        metavar="DIR",
        help="where runs are archived (default: %(default)s)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="notebooks run at once (default: the number of CPU cores)",
    )
    run.add_argument(
        "--as-of",
        default=None,
        metavar="DATE",
        help="ISO date the reports are as of; names the run folder (default: the data's last "
        "complete day, for the notebooks and the folder)",
    )
    run.add_argument(
        "--language",
        choices=LANGUAGES,
        default=None,
        help="report language (default: the pack's language)",
    )
    run.add_argument("--send", action="store_true", help="email each run when it is published")
    run.add_argument(
        "--dry-run-email",
        action="store_true",
        help="build each run's email and log what would be sent, without sending",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    index = sub.add_parser(
        "index",
        help="rebuild the index page of the reports folder",
        description="Rebuild <reports-dir>/index.html listing every finished run, newest first.",
    )
    index.add_argument("--reports-dir", default="reports", metavar="DIR")
    index.add_argument(
        "--language",
        choices=LANGUAGES,
        default=None,
        help="language of the page; it sticks for later rebuilds (default: the page's "
        "current language, else en)",
    )

    validate = sub.add_parser(
        "validate",
        help="check the data source (and optionally the report packs)",
        description="Load and clean every table the data params name and print what was read, "
        "repaired and rejected (rejected rows go to the quarantine folder). With --packs, "
        "also check every pack of the packs file against its notebooks.",
    )
    source = validate.add_mutually_exclusive_group()
    source.add_argument(
        "--params",
        dest="params",
        default=None,
        metavar="FILE",
        help=f"the data params file (default: {DATA_PARAMS})",
    )
    source.add_argument(
        "data_params",
        nargs="?",
        default=None,
        metavar="DATA_PARAMS",
        help="the same, given without --params",
    )
    validate.add_argument("--language", choices=LANGUAGES, default="en")
    validate.add_argument(
        "--packs",
        nargs="?",
        const="params/reports.yaml",
        default=None,
        metavar="YAML",
        help="also validate the packs file (default when given without a value: %(const)s)",
    )

    demo = sub.add_parser(
        "demo-data",
        help="build the synthetic demo retailer (or the CDNOW copy)",
        description="Write the demo retailer (transactions, customers, touchpoints, campaigns, "
        "events and the planted ground truth) or, with --cdnow, the CDNOW sample shipped with "
        "lifetimes.",
    )
    demo.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: data/demo, or data/cdnow with --cdnow)",
    )
    demo.add_argument("--customers", type=int, default=50_000, help="default: %(default)s")
    demo.add_argument("--seed", type=int, default=42, help="default: %(default)s")
    demo.add_argument("--cdnow", action="store_true", help="write the CDNOW data instead")

    send = sub.add_parser(
        "send",
        help="email a finished run",
        description="Send the email of a finished run to its recipients (success or failure "
        "list by the run's status).",
    )
    send.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        default=None,
        help="a run folder, <pack>/<period> under the reports folder, or a pack name (its "
        "latest run); may be left out with --retry",
    )
    send.add_argument("--reports-dir", default="reports", metavar="DIR")
    send.add_argument("--dry-run", action="store_true", help="build the message, do not send")
    send.add_argument(
        "--retry",
        action="store_true",
        help="send only what an earlier failed send left in the outbox (of RUN, or of every run "
        "when RUN is left out); recipients who already got it are never emailed again",
    )

    schedule = sub.add_parser(
        "schedule",
        help="run the packs on their cron schedules",
        description="Run each pack at the times its cron 'schedule' gives, in its time zone.",
    )
    schedule.add_argument("--packs", default="params/reports.yaml", metavar="YAML")
    schedule.add_argument(
        "--crontab", action="store_true", help="print crontab lines instead of running"
    )
    schedule.add_argument("--once", metavar="PACK", default=None, help="run PACK once now and exit")
    return parser


def _stop_on_signals(stopped: type[BaseException]) -> dict[int, object]:
    """SIGTERM and SIGHUP raise ``stopped(signum)`` in the main thread; returns the old handlers."""

    def handle(signum: int, frame: object) -> None:
        raise stopped(signum)

    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # handlers can only be set in the main thread
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, handle)
    return previous


def _data_params_of_run(args: argparse.Namespace) -> list[Path]:
    """The data params files the notebooks of the packs ``crmwb run`` was asked for read."""
    from crmlib.report.packs import default_pack, load_packs, resolve_targets
    from crmlib.report.project import notebooks_dir_of, packs_file, project_root

    root = project_root()
    path = packs_file(args.packs, root=root)
    packs = load_packs(path, root=root) if path.exists() else {}
    if not path.exists() and (args.all or not args.targets):
        return []  # the runner says that the packs file is missing
    chosen = resolve_targets(
        args.targets,
        packs=packs,
        all_packs=args.all,
        notebooks_dir=notebooks_dir_of(path, root=root),
        root=root,
        language=args.language or "en",
        default=default_pack(path, root=root, packs=packs) if packs else None,
    )
    files: list[Path] = []
    for pack in chosen:
        for spec in pack.notebooks:
            name = spec.parameters.get("data_params") or DATA_PARAMS
            file = Path(name) if Path(name).is_absolute() else pack.root / name
            if file not in files:
                files.append(file)
    return files


def _probe_engine(params: Path) -> None:
    """Reach the database or Spark engine that ``params`` names and read one row of each of its
    tables; nothing to do for the embedded engine (its files are read by the notebooks).

    Raises
    ------
    DataError
        The server cannot be reached or refuses the login, a table is missing or lacks a
        required column, or its query fails: named by engine, host and table, never with the
        password.
    """
    from crmlib.report.data_day import engine_backend

    # a file it cannot read is reported by the notebooks, as on the embedded engine; and the
    # process that runs the notebooks imports the data layer only for a remote engine
    if engine_backend(params) == "duckdb":
        return
    from crmlib.data import REQUIRED, connect_engine, execute
    from crmlib.data.dbclean import remote_sources
    from crmlib.data.params import resolve_params
    from crmlib.errors import DataError

    resolved = resolve_params(str(params))
    for source in remote_sources(resolved, connect_engine(resolved["engine"])):
        name = source.table
        table = source.read()
        columns = dict(source.columns or {})
        missing = [c for c in REQUIRED[name] if columns.get(c, c) not in table.columns]
        if missing:
            raise DataError(
                f"cannot read {name}: the {source.label} lacks required column(s) "
                f"{', '.join(columns.get(c, c) for c in missing)}",
                column=columns.get(missing[0], missing[0]),
            )
        try:
            execute(table.limit(1))
        except DataError as exc:
            reason = str(exc.__cause__ or exc).strip().splitlines()
            raise DataError(
                f"cannot read {name}: the {source.label} failed to run it: "
                f"{reason[0] if reason else type(exc).__name__}"
            ) from exc


def _cmd_run(args: argparse.Namespace) -> int:
    from crmlib.report.imports import without_iri_grammar

    without_iri_grammar()  # before the runner imports nbformat: a second sooner to the notebooks
    from crmlib.report.runner import PackBusyError, RunStopped, run

    # a data source on a database or Spark engine is reached before any notebook starts: an
    # unreachable server, a refused login, a missing table or a failing query stops the run
    # here (exit status 2) and no run folder is written
    for params in _data_params_of_run(args):
        if params.exists():
            _probe_engine(params)
    previous = _stop_on_signals(RunStopped)
    try:
        results = run(
            args.targets,
            all_packs=args.all,
            reports_yaml=args.packs,
            reports_dir=args.reports_dir,
            jobs=args.jobs,
            as_of=args.as_of,
            language=args.language,
            progress=not args.no_progress,
            send=args.send,
            dry_run_email=args.dry_run_email,
        )
    except PackBusyError as exc:
        _report_runs(exc.results)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except RunStopped as exc:
        name = signal.Signals(exc.signum).name
        print(
            f"error: run stopped by {name}: its notebooks were stopped, nothing was published "
            "and the pack's lock is released",
            file=sys.stderr,
        )
        return 128 + exc.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if _report_runs(results) else 0


def _report_runs(results) -> int:
    """Print one line per run (and its failures); return how many runs went wrong."""
    bad = 0
    for result in results:
        failed = [nb for nb in result.run["notebooks"] if nb["status"] != "ok"]
        print(f"{result.pack} {result.run['run_id']}: {result.run['status']} -> {result.run_dir}")
        for nb in failed:
            print(f"  {nb['name']}: {nb['status']}: {nb['error']}", file=sys.stderr)
        if result.delivery_error:
            print(f"  email not sent: {result.delivery_error}", file=sys.stderr)
        bad += bool(failed) or bool(result.delivery_error)
    return bad


def _reports_dir(value: str) -> Path:
    """The reports folder: relative to the project folder, as ``crmwb run`` writes it."""
    path = Path(value)
    return path if path.is_absolute() else project_dir() / path


def _cmd_index(args: argparse.Namespace) -> int:
    from crmlib.report.archive import write_index

    print(write_index(_reports_dir(args.reports_dir), language=args.language))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from crmlib.present.quality import validate_source

    text, code = validate_source(
        args.params or args.data_params or DATA_PARAMS, language=args.language
    )
    print(text)
    if args.packs:
        from crmlib.report.packs import load_packs

        packs = load_packs(args.packs)
        print(f"{args.packs}: {len(packs)} pack(s) valid: {', '.join(packs)}")
    if code:
        shown = args.params or args.data_params or DATA_PARAMS
        print(f"error: the data that {shown} names cannot be used (see above)", file=sys.stderr)
        return 2
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    if args.cdnow:
        from crmlib.datasets import write_cdnow

        print(write_cdnow(args.out or "data/cdnow"))
        return 0
    from crmlib.simulate import write_demo

    kwargs = {"customers": args.customers, "seed": args.seed}
    if "progress" in inspect.signature(write_demo).parameters:
        kwargs["progress"] = True
    print(write_demo(args.out or "data/demo", **kwargs))
    return 0


def _cmd_send(args: argparse.Namespace) -> int:
    from crmlib.report.archive import find_run
    from crmlib.report.email import delivery

    reports_dir = _reports_dir(args.reports_dir)
    if args.run is not None:
        run_dirs = [find_run(args.run, reports_dir=reports_dir)]
    elif args.retry:
        run_dirs = delivery.runs_with_outbox(reports_dir)
        if not run_dirs:
            print(f"nothing waits in an outbox under {args.reports_dir}")
    else:
        raise ReportError("name the run to send (or pass --retry to send every outbox)")
    failed = 0
    for run_dir in run_dirs:
        result = delivery.send_run(run_dir, dry_run=args.dry_run, retry=args.retry)
        if result is not None:
            print(result)
        failed += not getattr(result, "ok", True)
    return 1 if failed else 0


def _cmd_schedule(args: argparse.Namespace) -> int:
    from crmlib.report.imports import without_iri_grammar

    without_iri_grammar()
    from crmlib.report import schedule

    return int(schedule.run_scheduler(Path(args.packs), once=args.once, crontab=args.crontab) or 0)


COMMANDS = {
    "run": _cmd_run,
    "index": _cmd_index,
    "validate": _cmd_validate,
    "demo-data": _cmd_demo_data,
    "send": _cmd_send,
    "schedule": _cmd_schedule,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crmwb``; returns the exit status.

    Parameters
    ----------
    argv
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except CrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or folder the command needs: bad params or a full disk
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:  # a fault nobody foresaw: one line, the traceback only with -v
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        message = str(exc) or "(no message)"
        print(
            f"error: unexpected {type(exc).__name__}: {message}"
            + ("" if args.verbose else " (run with -v for the traceback)"),
            file=sys.stderr,
        )
        return 1
    finally:
        if args.verbose:
            log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
