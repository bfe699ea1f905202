"""What changed since the last run of a pack: in run.json, the email and the index."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from crmlib.report import archive, changes, runner, worker
from crmlib.report.changes_text import change_lines
from crmlib.report.packs import build_pack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def _record(recs: dict[str, str], **kpis) -> dict:
    return {
        "period": "P",
        "kpis": {
            k: {
                "name": k.title(),
                "value": v[0],
                "shown": f"{v[0]:.0%}",
                "vs_last_year": v[1],
                "vs_benchmark": v[2] if len(v) > 2 else None,
            }
            for k, v in kpis.items()
        },  # fmt: skip
        "recommendations": recs,
    }


def test_new_and_resolved_actions_and_verdicts_that_turned():
    before = _record(
        {"churn_rising": "Churn rose", "aov_falling": "AOV fell"},
        retention=(0.31, "good", "bad"), churn=(0.68, "bad"), aov=(0.5, "bad"), new=(0.1, "good"),
    )  # fmt: skip
    after = _record(
        {"churn_rising": "Churn rose again", "value_at_risk": "**12** customers drift"},
        retention=(0.29, "bad", "bad"), churn=(0.66, "good"), aov=(0.5, "bad"), extra=(1.0, "bad"),
    )  # fmt: skip
    found = changes.compare_summaries(after, before, previous_run="2026-W39")
    assert found["new"] == ["**12** customers drift"]
    assert found["resolved"] == ["AOV fell"]
    assert found["worse"] == [
        {"kpi": "retention", "name": "Retention", "verdict": "vs_last_year",
         "value": "29%", "previous": "31%"}
    ]  # fmt: skip
    assert [k["kpi"] for k in found["better"]] == ["churn"]
    # a KPI the last run did not measure (extra) and one that kept its verdict (aov): nothing
    lines = change_lines(found, language="en")
    assert lines["title"] == "Since the last run (2026-W39)"
    assert lines["lines"] == [
        "New action: 12 customers drift",
        "No longer needed: AOV fell",
        "Worse: Retention 29% (was 31%): now worse than last year",
        "Better: Churn 66% (was 68%): now at least as good as last year",
    ]
    assert lines["summary"] == "1 new, 1 resolved, 1 worse, 1 better"
    zh = change_lines(found, language="zh")
    assert (
        zh["title"] == "与上次运行（2026-W39）相比"
        and zh["lines"][0] == "新增建议：12 customers drift"
    )


def test_nothing_changed_says_so_and_no_predecessor_says_nothing():
    same = _record({"a": "A"}, retention=(0.3, "good"))
    found = changes.compare_summaries(same, same, previous_run="2026-10")
    assert change_lines(found, language="en")["lines"] == [
        "No new or resolved actions, and no KPI turned better or worse."
    ]
    assert change_lines(None) is None


def _publish(pack_dir: Path, run_id: str, status: str, record: dict | None) -> None:
    run_dir = pack_dir / run_id
    run_dir.mkdir(parents=True)
    archive.write_json(
        run_dir / archive.RUN_JSON, {"pack": "p", "run_id": run_id, "status": status}
    )
    if record is not None:
        changes.save_summary(record, run_dir)


def test_the_previous_run_is_the_latest_earlier_one_that_finished_with_a_summary(tmp_path):
    pack_dir = tmp_path / "p"
    _publish(pack_dir, "2026-W37", "ok", _record({"x": "X"}))
    _publish(pack_dir, "2026-W38", "ok", _record({"y": "Y"}))
    _publish(pack_dir, "2026-W39", "failed", _record({"z": "Z"}))
    _publish(pack_dir, "2026-W40", "ok", None)  # finished without a summary
    _publish(pack_dir, "2026-W41", "ok", _record({"later": "L"}))  # after the run compared
    run_id, record = changes.previous_summary(pack_dir, "2026-W41")
    assert run_id == "2026-W38" and record["recommendations"] == {"y": "Y"}
    assert changes.previous_summary(pack_dir, "2026-W37") == (None, None)
    assert changes.previous_summary(tmp_path / "nothing", "2026-W41") == (None, None)


def _fake_summary_execute(
    notebook, output, *, parameters, **options
):  # the runner's other options unused
    """Stands in for papermill: the summary it 'computes' depends on the run's as_of."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.read(notebook, as_version=4), output)
    page = output.with_suffix(".html")
    page.write_text("<html><body>summary</body></html>", encoding="utf-8")
    if parameters["as_of"] == "2026-10-31":
        record = _record({"churn_rising": "Churn rose"}, retention=(0.31, "good"))
    else:
        record = _record({"aov_falling": "AOV fell"}, retention=(0.29, "bad"))
    changes.save_summary(record, output.parent)
    return worker.NotebookResult(
        Path(notebook).stem, "ok", 0.1, None, dict(parameters), str(output), str(page)
    )


def _summary_pack(period: str, monkeypatch):
    """A one-notebook pack whose runs 'compute' the summaries of :func:`_fake_summary_execute`."""
    monkeypatch.setattr(runner, "execute_notebook", _fake_summary_execute)
    recipients = {"success": ["ceo@example.com"]}
    return build_pack(
        f"{period}_like",
        {"notebooks": ["ok"], "period": period, "recipients": recipients},
        notebooks_dir=FIXTURES,
        root=ROOT,
    )


@pytest.mark.slow
def test_a_run_compares_with_the_last_one_in_run_json_email_and_index(tmp_path, monkeypatch):
    pack = _summary_pack("month", monkeypatch)
    reports = tmp_path / "reports"
    first = runner.run_pack(pack, as_of="2026-10-31", reports_dir=reports, progress=False)
    assert first.run["changes"] is None, "the first run has nothing to compare with"
    second = runner.run_pack(pack, as_of="2026-11-30", reports_dir=reports, progress=False)
    run = json.loads((second.run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["changes"]["previous_run"] == "2026-10"
    assert run["changes"]["new"] == ["AOV fell"] and run["changes"]["resolved"] == ["Churn rose"]
    email = (second.run_dir / run["email"]["html"]).read_text(encoding="utf-8")
    assert "Since the last run (2026-10)" in email
    assert "No longer needed: Churn rose" in email
    assert "Worse: Retention 29% (was 31%): now worse than last year" in email
    text = (second.run_dir / run["email"]["html"]).with_suffix(".txt").read_text(encoding="utf-8")
    assert "- New action: AOV fell" in text
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "Since the last run (2026-10): 1 new, 1 resolved, 1 worse, 0 better" in index


@pytest.mark.slow
def test_a_run_before_its_period_ends_says_it_is_in_progress(tmp_path, monkeypatch):
    """A weekly pack run on a Wednesday is named after that week, which is not over: the email
    and the index say so (its summary reports the last complete week)."""
    pack = _summary_pack("week", monkeypatch)
    reports = tmp_path / "reports"
    wednesday = runner.run_pack(pack, as_of="2026-11-18", reports_dir=reports, progress=False)
    assert wednesday.run_dir.name == "2026-W47" and wednesday.run["period_complete"] is False
    run = json.loads((wednesday.run_dir / "run.json").read_text(encoding="utf-8"))
    email = (wednesday.run_dir / run["email"]["html"]).read_text(encoding="utf-8")
    assert "2026-W47 (in progress: the summary reports the last complete period)" in email
    assert "2026-W47 (in progress)" in (reports / "index.html").read_text(encoding="utf-8")
    sunday = runner.run_pack(pack, as_of="2026-11-22", reports_dir=reports, progress=False)
    assert sunday.run_dir.name == "2026-W47" and sunday.run["period_complete"] is True
    run = json.loads((sunday.run_dir / "run.json").read_text(encoding="utf-8"))
    assert "in progress" not in (sunday.run_dir / run["email"]["html"]).read_text(encoding="utf-8")


def test_action_texts_read_as_text_in_the_change_lines():
    """Actions are Markdown with escaped data values; the change lines carry the words, not the
    Markdown: no asterisks, no backslashes, and markup in a campaign name stays text."""
    from crmlib.present.page import md_escape

    name = md_escape("双11*狂欢_ <img src=x>")
    found = {"previous_run": "2026-10", "new": [f"Repeat **{name}** now"]}
    assert change_lines(found)["lines"] == ["New action: Repeat 双11*狂欢_ <img src=x> now"]
