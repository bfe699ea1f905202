"""The rendered reports are the same with and without the run cache (crmlib.data.results).

One pack of the notebooks that share the most intermediates (the executive summary reuses the
RFM scores, stages, CLV fit, rules and KPIs of the others) runs three times on the session's
demo: with the cache off, with it on and empty (results computed, stored and reused within the
run), and with it full (every shared result read back). The pages must say the same thing,
every word, figure and table, and every chart must have the same pixels. The embedded engine
runs on one thread here (``CRMWB_DUCKDB_THREADS=1``): with several, DuckDB adds floating-point
numbers in an order that varies between runs, so two runs without any cache may already differ
in the last bits of a sum (about 1e-13) and a chart line by a shade on a pixel; one thread
leaves the cache as the only difference between the runs.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from crmlib.report import runner

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = [
    "00_executive_summary",
    "03_lifetime_value",
    "04_lifecycle_retention",
    "05_cross_sell",
    "06_campaigns_channels",
]

pytestmark = pytest.mark.slow

_IMAGE = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
#: what differs between any two renderings: cell ids, table ids, the embedded font's bytes
_NOISE = [
    (re.compile(r"url\(data:font/[a-z0-9]+;base64,[A-Za-z0-9+/=]+\)"), "FONT"),
    (re.compile(r"cell-id=[0-9a-f-]+"), "cell-id"),
    (re.compile(r"T_[0-9a-f]{5}"), "T_"),
]


def _project(tmp_path: Path, demo_params: Path) -> Path:
    project = tmp_path / "shop"
    (project / "params").mkdir(parents=True)
    params = yaml.safe_load(demo_params.read_text(encoding="utf-8"))
    params["cache_dir"] = str(project / "cache")
    (project / "params" / "data.yaml").write_text(
        yaml.safe_dump(params, allow_unicode=True), encoding="utf-8"
    )
    packs = {
        "notebooks_dir": str(ROOT / "notebooks"),
        "packs": {
            "shared": {
                "notebooks": NOTEBOOKS,
                "parameters": {"defaults": {"data_params": "params/data.yaml"}},
                "language": "en",
                "period": "month",
            }
        },
    }
    (project / "params" / "reports.yaml").write_text(yaml.safe_dump(packs), encoding="utf-8")
    return project


def _run(project: Path, name: str, log: Path, monkeypatch: pytest.MonkeyPatch, on: bool) -> Path:
    monkeypatch.setenv("CRMWB_RUN_CACHE", "1" if on else "0")
    monkeypatch.setenv("CRMWB_DUCKDB_THREADS", "1")
    monkeypatch.setenv("CRMWB_RUN_CACHE_LOG", str(log))
    [result] = runner.run(
        ["shared"],
        reports_yaml=project / "params" / "reports.yaml",
        root=project,
        reports_dir=project / name,
        as_of="2026-09-30",
        progress=False,
    )
    assert result.run["status"] == "ok", result.run["notebooks"]
    return result.run_dir


def _page(path: Path) -> tuple[str, list[np.ndarray]]:
    text = path.read_text(encoding="utf-8")
    images = [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGBA"))
        for b in _IMAGE.findall(text)
    ]
    text = _IMAGE.sub("IMAGE", text)
    for pattern, stand_in in _NOISE:
        text = pattern.sub(stand_in, text)
    return text, images


def _calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.mark.timeout(1800)
def test_reports_are_the_same_with_and_without_the_run_cache(
    tmp_path: Path, demo_params: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, demo_params)
    monkeypatch.chdir(project)
    monkeypatch.setenv("CRMWB_PROJECT_DIR", str(project))
    logs = {name: tmp_path / f"{name}.log" for name in ("off", "cold", "warm")}
    runs = {
        "off": _run(project, "off", logs["off"], monkeypatch, on=False),
        "cold": _run(project, "cold", logs["cold"], monkeypatch, on=True),
        "warm": _run(project, "warm", logs["warm"], monkeypatch, on=True),
    }
    # the cache was used as claimed: off computes nothing through it; the empty cache shares
    # results between the notebooks of one run; the full one reads every result back
    assert _calls(logs["off"]) == []
    cold, warm = _calls(logs["cold"]), _calls(logs["warm"])
    assert any(c["hit"] for c in cold) and not all(c["hit"] for c in cold)
    assert warm and all(c["hit"] for c in warm)
    assert {c["key"] for c in warm} <= {c["key"] for c in cold}
    shared = {c["name"] for c in cold if c["hit"]}
    # clv.forecast: the executive summary's outlook and notebook 03 draw one forecast
    assert {"rfm_segments", "clv.analyse", "clv.forecast", "sequential_rules"} <= shared, shared

    for notebook in NOTEBOOKS:
        text, images = _page(runs["off"] / f"{notebook}.html")
        assert len(images) >= 1, notebook
        for name in ("cold", "warm"):
            other_text, other_images = _page(runs[name] / f"{notebook}.html")
            assert other_text == text, f"{notebook}: the page differs with the cache {name}"
            assert len(other_images) == len(images), notebook
            for i, (a, b) in enumerate(zip(images, other_images, strict=True)):
                assert a.shape == b.shape, f"{notebook} chart {i}: size differs ({name})"
                moved = int((a != b).any(axis=2).sum())
                assert moved == 0, f"{notebook} chart {i} ({name}): {moved} pixels differ"
    for name in ("cold", "warm"):
        email = (runs[name] / "email.txt").read_text(encoding="utf-8")
        expected = (runs["off"] / "email.txt").read_text(encoding="utf-8")
        timing = re.compile(r"\b\d+ s\b")
        assert timing.sub("N s", email) == timing.sub("N s", expected)
