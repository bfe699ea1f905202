"""What changed since the last run of the same pack: new and resolved actions, KPIs that turned.

The summary notebook saves its headline figures as ``summary.json`` in the run folder
(:func:`save_summary`, from :func:`crmlib.present.executive.summary_record`). When a run is
published, :func:`since_previous` compares them with the latest earlier run of the same pack
in the archive that has them, and the run keeps the result in ``run.json`` (``"changes"``):

* **new** and **resolved** actions: recommendations this run makes that the last did not, and
  the reverse (in the wording each run used);
* **worse** and **better**: KPIs whose verdict against last year or against the benchmark
  turned from good to bad, or from bad to good, with both values.

The email shows them after the summary and the index beside the latest run, in the words of
:mod:`crmlib.report.changes_text`. The first run of
a pack, or one whose predecessor has no ``summary.json``, has no changes (None), never an
empty "nothing changed".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmlib.errors import ReportError
from crmlib.report import archive

__all__ = [
    "SUMMARY_JSON",
    "compare_summaries",
    "previous_summary",
    "save_summary",
    "since_previous",
]

log = logging.getLogger(__name__)

#: File of a run folder holding the summary's headline figures.
SUMMARY_JSON = "summary.json"
#: Verdicts compared between runs, in the order the email lists their changes.
VERDICTS: tuple[str, ...] = ("vs_last_year", "vs_benchmark")


def save_summary(record: Mapping[str, Any], run_dir: str | Path) -> Path:
    """Write ``record`` (:func:`crmlib.present.executive.summary_record`) into ``run_dir``."""
    return archive.write_json(Path(run_dir) / SUMMARY_JSON, dict(record))


def _read(path: Path) -> dict[str, Any] | None:
    """The summary record at ``path``; None when there is none, with a warning when there is
    one that cannot be read (the comparison then skips that run, and the log says why)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s, so no run is compared with it: %s", path, exc)
        return None


def previous_summary(
    pack_dir: str | Path, run_id: str
) -> tuple[str, dict[str, Any]] | tuple[None, None]:
    """The run id and summary of the latest run in ``pack_dir`` before ``run_id`` (run ids of
    one pack sort in time: ``2026-W39`` < ``2026-W40``) that finished and saved a summary."""
    pack_dir = Path(pack_dir)
    if not pack_dir.is_dir():
        return None, None
    for run_dir in sorted(pack_dir.iterdir(), key=lambda p: p.name, reverse=True):
        if run_dir.name >= run_id or not archive.is_run(run_dir):
            continue
        try:
            run = archive.read_run(run_dir, check=False)
        except ReportError:
            continue
        record = _read(run_dir / SUMMARY_JSON) if run.get("status") == "ok" else None
        if record is not None:
            return run_dir.name, record
    return None, None


def compare_summaries(
    current: Mapping[str, Any], previous: Mapping[str, Any], *, previous_run: str
) -> dict[str, Any]:
    """The changes from ``previous`` to ``current`` summary records.

    Returns
    -------
    dict
        ``previous_run``, ``previous_period``; ``new`` and ``resolved``: action texts;
        ``worse`` and ``better``: ``{kpi, name, verdict, value, previous}`` (values as shown).
    """
    now_recs = dict(current.get("recommendations") or {})
    old_recs = dict(previous.get("recommendations") or {})
    out: dict[str, Any] = {
        "previous_run": previous_run,
        "previous_period": previous.get("period"),
        "new": [text for rid, text in now_recs.items() if rid not in old_recs],
        "resolved": [text for rid, text in old_recs.items() if rid not in now_recs],
        "worse": [],
        "better": [],
    }
    old_kpis = previous.get("kpis") or {}
    for kpi, now in (current.get("kpis") or {}).items():
        old = old_kpis.get(kpi)
        if not old:
            continue
        for verdict in VERDICTS:
            before, after = old.get(verdict), now.get(verdict)
            turned = {("good", "bad"): "worse", ("bad", "good"): "better"}.get((before, after))
            if turned:
                out[turned].append({
                    "kpi": kpi, "name": now.get("name", kpi), "verdict": verdict,
                    "value": now.get("shown"), "previous": old.get("shown"),
                })  # fmt: skip
                break
    return out


def since_previous(run_dir: str | Path, pack_dir: str | Path, run_id: str) -> dict[str, Any] | None:
    """:func:`compare_summaries` of the summary in ``run_dir`` and the previous run's in
    ``pack_dir``; None when either has none (the first run of a pack)."""
    current = _read(Path(run_dir) / SUMMARY_JSON)
    if current is None:
        return None
    previous_run, previous = previous_summary(pack_dir, run_id)
    if previous is None:
        return None
    return compare_summaries(current, previous, previous_run=previous_run)
