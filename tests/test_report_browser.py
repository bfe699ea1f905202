"""A published report opens in a real browser: it renders, shows its chart and hides the code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crmlib.report import runner
from crmlib.report.packs import build_pack

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"

pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = _chromium()


def _screenshot(page: Path, png: Path, profile: Path) -> None:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        "--window-size=1200,2000",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, timeout=180)
    assert png.is_file(), proc.stderr.decode(errors="replace")[-2000:]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: apt-get install chromium")
def test_report_html_renders_with_charts_and_no_code(tmp_path):
    from PIL import Image, ImageStat

    pack = build_pack(
        "browser",
        {"notebooks": ["ok"], "period": "day", "parameters": {"ok": {"bars": 6}}},
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    result = runner.run_pack(
        pack, reports_dir=tmp_path / "reports", as_of="2026-11-22", progress=False
    )
    [nb] = result.run["notebooks"]
    assert nb["status"] == "ok", nb["error"]
    page = result.run_dir / nb["html"]
    html = page.read_text(encoding="utf-8")

    # charts are embedded images; no code cell shows its source
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) >= 1
    assert 'class="jp-CodeMirrorEditor' not in html
    assert "plt.subplots" not in html and "fig, ax" not in html

    png = tmp_path / "report.png"
    _screenshot(page, png, tmp_path / "profile")
    image = Image.open(png).convert("L")
    assert image.size == (1200, 2000)
    # a blank page is one flat colour; a rendered report has text and a chart
    assert ImageStat.Stat(image).stddev[0] > 10
    # the chart's bars add thousands of dark pixels, far more than the text alone
    histogram = image.histogram()
    assert sum(histogram[:128]) > 40_000
