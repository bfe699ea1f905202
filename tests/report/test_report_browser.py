"""A published report opens in a real browser: it renders, shows its chart and hides the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crmlib.report import runner
from crmlib.report.packs import build_pack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"

pytestmark = pytest.mark.slow


def _find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = _find_chromium()
#: CI sets CRMWB_REQUIRE_BROWSER=1 after installing Chromium, so a failed install fails the run
#: instead of quietly skipping these tests.
REQUIRED = bool(os.environ.get("CRMWB_REQUIRE_BROWSER"))
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED,
    reason="Chromium not installed: apt-get install chromium",
)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with this machine's flags (no background networking) and ``args``."""
    assert CHROMIUM, "CRMWB_REQUIRE_BROWSER is set but Chromium is not installed"
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
        *args,
    ]
    return subprocess.run(command, capture_output=True, timeout=180)


def _screenshot(page: Path, png: Path, profile: Path, *, size: str = "1200,2000") -> None:
    proc = _chromium(
        profile, f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()
    )
    assert png.is_file(), proc.stderr.decode(errors="replace")[-2000:]


@pytest.fixture(scope="module")
def published_run(tmp_path_factory):
    """One run of the small fixture pack: its full HTML report and its email digest."""
    pack = build_pack(
        "browser",
        {"notebooks": ["ok"], "period": "day", "parameters": {"ok": {"bars": 6}}},
        notebooks_dir=FIXTURES,
        root=ROOT,
    )
    reports = tmp_path_factory.mktemp("reports")
    result = runner.run_pack(pack, reports_dir=reports, as_of="2026-11-22", progress=False)
    [nb] = result.run["notebooks"]
    assert nb["status"] == "ok", nb["error"]
    return result


@needs_browser
def test_report_html_renders_with_charts_and_no_code(tmp_path, published_run):
    from PIL import Image, ImageStat

    [nb] = published_run.run["notebooks"]
    page = published_run.run_dir / nb["html"]
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


@needs_browser
def test_email_digest_renders_with_its_inline_charts(tmp_path, published_run):
    """The email body as a mail client shows it: cid: images resolved to the attached PNGs."""
    from PIL import Image, ImageStat

    result = published_run
    run = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    html = (result.run_dir / run["email"]["html"]).read_text(encoding="utf-8")
    assert "data:" not in html and "<script" not in html.lower()
    images = run["email"]["images"]
    assert images, "the digest carries no chart"
    for image in images:  # what a mail client does with the related parts
        assert f"cid:{image['cid']}" in html
        html = html.replace(f"cid:{image['cid']}", (result.run_dir / image["file"]).as_uri())
    view = tmp_path / "email-view.html"
    view.write_text(html, encoding="utf-8")

    png = tmp_path / "email.png"
    _screenshot(view, png, tmp_path / "profile", size="760,1600")
    shot = Image.open(png).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 10

    # every chart really loads: the browser reports each image's decoded width (this probe
    # script is added to the test's copy only; the email itself carries no script)
    probe = view.with_name("email-probe.html")
    probe.write_text(
        html.replace(
            "</body>",
            "<script>window.addEventListener('load', () => document.body.setAttribute("
            "'data-widths', Array.from(document.images).map(i => i.naturalWidth).join(',')))"
            "</script></body>",
        ),
        encoding="utf-8",
    )
    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", probe.as_uri()).stdout.decode(
        errors="replace"
    )
    widths = re.search(r'data-widths="([^"]*)"', dom)
    assert widths, dom[-2000:]
    loaded = [int(w) for w in widths.group(1).split(",") if w]
    assert len(loaded) >= len(images) and all(w > 0 for w in loaded), loaded


#: A page shown in a 390 px wide frame (headless Chromium's window is at least 500 px wide): once
#: loaded, the framed page's width and its smallest text size (over visible elements holding
#: text of their own) are written into the wrapper's body for --dump-dom.
_PHONE_WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="phone" src="{src}" style="width:390px;height:844px;border:0"></iframe>
<script>document.getElementById('phone').addEventListener('load', () => {{
  const doc = document.getElementById('phone').contentDocument;
  const sizes = Array.from(doc.body.querySelectorAll('*'))
    .filter(e => Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
    .filter(e => e.getClientRects().length)
    .map(e => parseFloat(doc.defaultView.getComputedStyle(e).fontSize));
  document.body.setAttribute('data-probe', [doc.documentElement.scrollWidth,
    doc.defaultView.innerWidth, Math.min(...sizes)].join(','));
}});</script></body></html>"""


def _phone_metrics(page: Path, folder: Path, name: str) -> tuple[int, int, float]:
    """(page width, frame width, smallest text size in px) of ``page`` on a 390 px screen."""
    wrapper = page.with_name(f".{name}-phone.html")
    wrapper.write_text(_PHONE_WRAPPER.format(src=page.name), encoding="utf-8")
    dom = _chromium(
        folder / f"profile-{name}",
        "--allow-file-access-from-files",
        "--window-size=800,900",
        "--dump-dom",
        wrapper.as_uri(),
    ).stdout.decode(errors="replace")
    wrapper.unlink()
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-2000:]
    width, viewport, smallest = found.group(1).split(",")
    return int(width), int(viewport), float(smallest)


@needs_browser
def test_index_reads_on_a_phone(tmp_path, published_run):
    """At 390 px the index does not overflow sideways and no text is below 14 px; the latest run
    of each pack comes first, with its report titles and the data's day."""
    reports = published_run.run_dir.parents[1]
    page = (reports / "index.html").read_text(encoding="utf-8")
    assert page.index("Latest run of each pack") < page.index("All runs")
    width, viewport, smallest = _phone_metrics(reports / "index.html", tmp_path, "index")
    assert viewport == 390 and width <= viewport, (width, viewport)
    assert smallest >= 14, smallest
    png = tmp_path / "index-phone.png"
    _screenshot(reports / "index.html", png, tmp_path / "profile-shot", size="390,844")


@needs_browser
def test_report_page_links_back_to_the_index(published_run):
    [nb] = published_run.run["notebooks"]
    page = (published_run.run_dir / nb["html"]).read_text(encoding="utf-8")
    assert '<nav class="crmwb-back"><a href="../../index.html">' in page


def _email_of_fixture(notebook: str, tmp_path: Path) -> Path:
    """The email HTML of a one-notebook pack run on fixture ``notebook``."""
    pack = build_pack(notebook, {"notebooks": [notebook], "period": "day"},
                      notebooks_dir=FIXTURES, root=ROOT)  # fmt: skip
    result = runner.run_pack(pack, reports_dir=tmp_path / "reports", as_of="2026-11-22",
                             progress=False)  # fmt: skip
    run = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    return result.run_dir / run["email"]["html"]


@needs_browser
def test_email_reads_on_a_phone(tmp_path):
    """A digest with a six-column KPI table: at 390 px nothing runs off the side and no text is
    below 14 px (the @media rules keep the classes they need after the CSS is inlined)."""
    email = _email_of_fixture("wide_table", tmp_path)
    html = email.read_text(encoding="utf-8")
    assert 'class="card"' in html and "Average order value" in html
    width, viewport, smallest = _phone_metrics(email, tmp_path, "email")
    assert viewport == 390 and width <= viewport, (width, viewport)
    assert smallest >= 14, smallest


@needs_browser
def test_email_with_blocked_images_still_fits_a_phone(tmp_path):
    """Outlook and many phones block images until asked: the chart's placeholder must not push
    the card wider than the screen (the 600 px width attribute is for Outlook on a desktop)."""
    email = _email_of_fixture("ok", tmp_path)
    assert 'src="cid:chart-' in email.read_text(encoding="utf-8")  # blocked: nothing loads it
    width, viewport, _ = _phone_metrics(email, tmp_path, "email-blocked")
    assert viewport == 390 and width <= viewport, (width, viewport)
