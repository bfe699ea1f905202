"""The executive email: digest content, email safety (CID images, no data:/script/svg), size limits,
personal-data masking, languages, attachments versus links, and the failure notice."""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crmlib.errors import ConfigError, ReportError
from crmlib.i18n import t
from crmlib.report import email as report_email

# -- building run folders without the runner -----------------------------------------------------


def chart_png(title: str = "Revenue by month", *, width_in: float = 8.0) -> bytes:
    """A real matplotlib chart as PNG bytes (no pyplot, no global state)."""
    fig = Figure(figsize=(width_in, 3.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(["Jan", "Feb", "Mar", "Apr"], [120, 135, 128, 150], color="#1f5f8b")
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def kpi_frame(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": [f"Segment {i:02d}" for i in range(rows)],
            "customers": [1000 + 37 * i for i in range(rows)],
            "revenue": [f"{(250_000 + 1_234 * i):,}" for i in range(rows)],
            "share": [f"{(i + 1) / rows:.1%}" for i in range(rows)],
        }
    )


def digest_notebook(
    *, language: str = "en", table_rows: int = 40, charts: int = 2
) -> nbformat.NotebookNode:
    """An executed digest notebook as papermill leaves it: parameters, markdown, tables, charts."""
    v4 = nbformat.v4
    png = base64.b64encode(chart_png()).decode("ascii")
    heading = "本月概览" if language == "zh" else "This month at a glance"
    cells = [
        v4.new_code_cell("language = 'en'", metadata={"tags": ["parameters"]}),
        v4.new_code_cell(
            f"language = {language!r}",
            metadata={"tags": ["injected-parameters"]},
            outputs=[v4.new_output("stream", name="stdout", text="injected secret 13800138000\n")],
        ),
        v4.new_markdown_cell(
            f"# {heading}\n\nRevenue grew **12%** against last month. "
            "Questions: call 13800138000 or write to vip.customer@example.com."
        ),
        v4.new_code_cell(
            "display(kpis)",
            metadata={"tags": ["hide-input"]},
            outputs=[
                v4.new_output(
                    "display_data",
                    data={
                        "text/html": kpi_frame(table_rows).to_html(index=False),
                        "text/plain": "frame",
                    },
                )
            ],
        ),
        v4.new_markdown_cell("## Revenue trend\n\nThe bars show monthly revenue."),
    ]
    for i in range(charts):
        cells.append(
            v4.new_code_cell(
                "plot()",
                metadata={"tags": ["hide-input"]},
                outputs=[
                    v4.new_output(
                        "execute_result",
                        data={"text/plain": "<Axes: >"},
                        execution_count=i + 3,
                    ),
                    v4.new_output(
                        "display_data", data={"image/png": png, "text/plain": "<Figure>"}
                    ),
                ],
            )
        )
    cells += [
        v4.new_code_cell(
            "show_unsafe()",
            outputs=[
                v4.new_output(
                    "display_data",
                    data={
                        "text/html": (
                            "<div><script>alert(1)</script><p>Safe text</p>"
                            "<svg><circle r='4'/></svg>"
                            f"<img src='data:image/png;base64,{png}' alt='Embedded chart'>"
                            "<img src='https://tracker.example.com/pixel.gif'>"
                            "<a href='javascript:alert(1)'>bad link</a></div>"
                        )
                    },
                ),
                v4.new_output("display_data", data={"image/svg+xml": "<svg></svg>"}),
            ],
        ),
        v4.new_code_cell(
            "skip()",
            metadata={"tags": ["email-skip"]},
            outputs=[v4.new_output("display_data", data={"text/html": "<p>Not for email</p>"})],
        ),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def make_run(
    root: Path,
    *,
    pack: str = "monthly_exec",
    period: str = "2026-09",
    status: str = "ok",
    language: str = "en",
    settings: dict | None = None,
    success: list[str] | None = None,
    failure: list[str] | None = None,
    notebook: nbformat.NotebookNode | None = None,
    report_bytes: int = 20_000,
    folder: str | None = None,
) -> Path:
    """A run folder ``root/reports/<pack>/<period>/`` as the runner leaves it.

    ``folder`` names the folder differently, e.g. like the runner's staging folder.
    """
    run_dir = root / "reports" / pack / (folder or period)
    run_dir.mkdir(parents=True)
    nbformat.write(notebook or digest_notebook(language=language), run_dir / "digest.ipynb")
    (run_dir / "digest.html").write_text(
        "<html><body>" + "x" * report_bytes + "</body></html>", encoding="utf-8"
    )
    (run_dir / "rfm.html").write_text(
        "<html><body>" + "y" * report_bytes + "</body></html>", encoding="utf-8"
    )
    nbformat.write(nbformat.v4.new_notebook(), run_dir / "rfm.ipynb")
    (run_dir / "logs").mkdir()
    for name in ("digest", "rfm"):
        (run_dir / "logs" / f"{name}.log").write_text(f"{name} console\n", encoding="utf-8")
    failed = status == "failed"
    run = {
        "pack": pack,
        "run_id": period,
        "period": period,
        "started_at": "2026-10-01T07:00:00+08:00",
        "finished_at": "2026-10-01T07:03:10+08:00",
        "status": status,
        "language": language,
        "digest": "digest",
        "as_of": "2026-09-30",
        "data_fingerprint": "9f2c1e0b7a44d3e1c2b3",
        "recipients": {
            "success": success if success is not None else ["ceo@example.com", "cfo@example.com"],
            "failure": failure if failure is not None else ["analyst@example.com"],
        },
        "notebooks": [
            {
                "name": "digest",
                "status": "ok",
                "seconds": 41.2,
                "error": None,
                "parameters": {"language": language},
                "ipynb": "digest.ipynb",
                "html": "digest.html",
                "log": "logs/digest.log",
            },
            {
                "name": "rfm",
                "status": "failed" if failed else "ok",
                "seconds": 12.9,
                "error": (
                    "\x1b[0;31mPapermillExecutionError\x1b[0m: KeyError: 'amount'\n"
                    "customer 13912345678 row 17"
                )
                if failed
                else None,
                "parameters": {"language": language},
                "ipynb": "rfm.ipynb",
                "html": "rfm.html",
                "log": "logs/rfm.log",
            },
        ],
    }
    if settings is not None:
        run["settings"] = settings
    (run_dir / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    return run_dir


def html_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def cids_of(msg: email.message.EmailMessage) -> set[str]:
    return {
        part["Content-ID"].strip("<>")
        for part in msg.walk()
        if part.get_content_maintype() == "image" and part["Content-ID"]
    }


def assert_email_safe(html: str) -> None:
    low = html.lower()
    assert "data:" not in low
    assert "<script" not in low
    assert "<svg" not in low
    assert "javascript:" not in low
    assert "@font-face" not in low and "fonts.googleapis" not in low
    assert len(html.encode("utf-8")) < 100_000


# -- tests ---------------------------------------------------------------------------------------


def test_write_email_files_and_run_record(tmp_path):
    run_dir = make_run(tmp_path)
    path = report_email.write_email(run_dir)
    assert path == run_dir / "email.html"
    html = path.read_text(encoding="utf-8")
    text = (run_dir / "email.txt").read_text(encoding="utf-8")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["email"]

    assert_email_safe(html)
    # two chart outputs plus one PNG embedded as data: in an HTML output, each became a CID image
    assert len(record["images"]) == 3
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert referenced == {img["cid"] for img in record["images"]}
    for img in record["images"]:
        assert (run_dir / img["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # markdown rendered, header with pack / period / status, unsafe bits dropped, skipped cell gone
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("strong").get_text() == "12%"
    assert "monthly_exec" in html and "2026-09" in html and "Completed" in html
    assert "Safe text" in html and "bad link" in html and "javascript" not in html
    assert "tracker.example.com" not in html and "Not for email" not in html
    assert "injected secret" not in html and "&lt;Axes" not in html
    # CSS inlined, only the @media rule left in <style>
    assert 'style="' in soup.find("table", attrs={"role": "presentation"}).decode()
    style = soup.find("style").get_text()
    assert "@media" in style and len(style) < 1000
    # plain text alternative carries the key text
    assert "Revenue grew" in text and "Segment 00" in text and "monthly_exec" in text
    assert record["html"] == "email.html" and record["text"] == "email.txt"
    assert record["html_bytes"] == len(html.encode("utf-8"))


def test_tables_are_cut_to_the_configured_rows_and_say_so(tmp_path):
    run_dir = make_run(tmp_path, settings={"max_table_rows": 5})
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    data_tables = [
        tb
        for tb in soup.find_all("table")
        if "Segment 00" in tb.get_text() and tb.get("role") != "presentation"
    ]
    assert len(data_tables) == 1
    body_rows = [tr for tr in data_tables[0].find_all("tr") if tr.find("td")]
    assert [tr.find("td").get_text() for tr in body_rows] == [f"Segment {i:02d}" for i in range(5)]
    assert t("email.rows_shown", "en", shown=5, total=40) in html
    # numbers and their headers are right-aligned, text columns left-aligned
    assert "text-align: right" in body_rows[0].find_all("td")[1].get("style", "")
    headers = {th.get_text(): th.get("style", "") for th in data_tables[0].find_all("th")}
    assert "text-align: right" in headers["customers"]
    assert "text-align: left" in headers["segment"]


def test_pandas_notebook_table_loses_row_numbers_and_its_own_alignment(tmp_path):
    frame = pd.DataFrame({"channel": ["store", "web", "wechat"], "orders": [120, 80, 45]})
    # what a notebook shows for a DataFrame: pandas' scoped CSS right-aligns the headers
    shown = (
        "<div><style scoped>.dataframe thead th { text-align: right; }</style>"
        + frame.to_html()
        + "</div>"
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "frame",
                outputs=[
                    nbformat.v4.new_output(
                        "execute_result", data={"text/html": shown}, execution_count=1
                    )
                ],
            )
        ]
    )
    html = report_email.write_email(make_run(tmp_path, notebook=nb)).read_text(encoding="utf-8")
    table = next(
        tb
        for tb in BeautifulSoup(html, "html.parser").find_all("table")
        if "wechat" in tb.get_text() and tb.get("role") != "presentation"
    )
    rows = [[c.get_text() for c in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]
    assert rows == [["channel", "orders"], ["store", "120"], ["web", "80"], ["wechat", "45"]]
    assert "text-align: left" in table.find("th").get("style", "")


def test_personal_data_is_masked_unless_allowed(tmp_path):
    run_dir = make_run(tmp_path)
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    text = (run_dir / "email.txt").read_text(encoding="utf-8")
    for body in (html, text):
        assert "13800138000" not in body and "vip.customer@example.com" not in body
        assert "*********00" in body and "v***@***" in body
    assert t("email.masked", "en", count=2) in html

    allowed = make_run(tmp_path / "allowed", settings={"allow_personal_data": True})
    html = report_email.write_email(allowed).read_text(encoding="utf-8")
    assert "13800138000" in html and "vip.customer@example.com" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 13800138000 now", "call *********00 now"),
        ("+86 138 0013 8000", "+** *** **** **00"),
        ("office 010-12345678.", "office ***-******78."),
        ("(555) 123-4567", "(***) ***-**67"),
        ("mail a.b+c@shop.example.cn today", "mail a***@*** today"),
        # not personal data: amounts, dates, ids, decimals, percentages
        ("revenue 12,345,678 on 2026-09-30", "revenue 12,345,678 on 2026-09-30"),
        ("order 1234567890 and pi 3.14159265359", "order 1234567890 and pi 3.14159265359"),
        ("share 13.8%, customers 138001", "share 13.8%, customers 138001"),
    ],
)
def test_mask_personal_cases(text, expected):
    assert report_email.mask_personal(text)[0] == expected


def test_chinese_email_uses_chinese_labels(tmp_path):
    run_dir = make_run(tmp_path, language="zh")
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    text = (run_dir / "email.txt").read_text(encoding="utf-8")
    for key in ("pack", "period", "status_ok", "full_reports"):
        assert t(f"email.{key}", "zh") in html
    assert "本月概览" in html and "本月概览" in text
    assert 'lang="zh-CN"' in html
    # unlike the full reports, the email embeds no font: mail clients block data: fonts
    assert_email_safe(html)
    assert "font-family" in html and "PingFang SC" in html
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["email"]
    assert record["subject"] == t("email.subject_ok", "zh", title="monthly_exec", period="2026-09")


def test_reports_attached_only_on_request_and_under_the_limit_else_listed(tmp_path):
    plain = make_run(tmp_path / "plain", report_bytes=1_000)  # nobody asked for attachments
    msg = report_email.build_message(plain, to="ceo@example.com", sender="crm@example.com")
    assert list(msg.iter_attachments()) == []
    assert t("email.in_archive", "en") in html_of(msg)
    small = make_run(tmp_path / "small", report_bytes=1_000, settings={"attach_limit_mb": 8})
    msg = report_email.build_message(small, to="ceo@example.com", sender="crm@example.com")
    names = sorted(p.get_filename() for p in msg.iter_attachments())
    assert names == ["digest.html", "rfm.html"]

    # 0.03 MB allows one 20 KB report but not both: the second is listed by name
    tight = make_run(tmp_path / "tight", settings={"attach_limit_mb": 0.03})
    msg = report_email.build_message(tight, to="ceo@example.com", sender="crm@example.com")
    assert [p.get_filename() for p in msg.iter_attachments()] == ["digest.html"]
    html = html_of(msg)
    assert t("email.in_archive", "en") in html and "rfm" in html
    record = json.loads((tight / "run.json").read_text(encoding="utf-8"))["email"]
    assert record["attachments"] == ["digest.html"] and record["archived"] == ["rfm.html"]
    lines = msg.get_body(preferencelist=("plain",)).get_content().splitlines()
    assert "- rfm: " + t("email.in_archive", "en") in lines
    assert "- digest: " + t("email.attached", "en", size="20.0 KB") in lines


def _with_personal_pages(run_dir: Path) -> Path:
    """The run's full reports hold a campaign name with a phone number and an email address,
    and member ids that are mobile numbers (as a summary and a lifetime-value page would)."""
    (run_dir / "digest.html").write_text(
        "<html><body><p>Best campaign: 会员日 咨询13912345678 vip@evil.example</p>"
        "<table><tr><td>13800000001</td><td>¥1,234.50</td></tr></table>"
        '<img src="data:image/png;base64,QUJD"></body></html>',
        encoding="utf-8",
    )
    (run_dir / "rfm.html").write_text(
        "<html><body><table><tr><th>customer_id</th></tr><tr><td>13800000002</td></tr>"
        "<tr><td>１３８０００００００３</td></tr></table></body></html>",
        encoding="utf-8",
    )
    return run_dir


def test_attached_reports_are_masked_unless_allowed(tmp_path):
    raw = (
        "13912345678",
        "vip@evil.example",
        "13800000001",
        "13800000002",
        "１３８０００００００３",
    )
    run_dir = _with_personal_pages(make_run(tmp_path, settings={"attach_limit_mb": 8}))
    msg = report_email.build_message(run_dir, to="ceo@example.com", sender="crm@example.com")
    pages = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert sorted(pages) == ["digest.html", "rfm.html"]
    for page in pages.values():
        assert not [value for value in raw if value in page], page
    # the rest of the page is as it was: amounts, images, markup
    assert "<td>¥1,234.50</td>" in pages["digest.html"]
    assert 'src="data:image/png;base64,QUJD"' in pages["digest.html"]
    assert "<td>*********02</td>" in pages["rfm.html"]

    allowed = _with_personal_pages(
        make_run(tmp_path / "allowed", settings={"allow_personal_data": True, "attach_limit_mb": 8})
    )
    msg = report_email.build_message(allowed, to="ceo@example.com", sender="crm@example.com")
    pages = "".join(p.get_content() for p in msg.iter_attachments())
    assert all(value in pages for value in raw)


def test_reports_linked_when_a_base_url_is_set(tmp_path):
    run_dir = make_run(tmp_path, settings={"report_base_url": "https://bi.example.com/crm/"})
    msg = report_email.build_message(run_dir, to="ceo@example.com", sender="crm@example.com")
    assert list(msg.iter_attachments()) == []
    hrefs = [a["href"] for a in BeautifulSoup(html_of(msg), "html.parser").find_all("a")]
    assert "https://bi.example.com/crm/monthly_exec/2026-09/rfm.html" in hrefs
    assert "https://bi.example.com/crm/monthly_exec/2026-09/digest.html" in hrefs


def test_message_structure_round_trips_through_bytes(tmp_path):
    run_dir = make_run(tmp_path)
    report_email.write_email(run_dir)
    msg = report_email.build_message(
        run_dir, to=["ceo@example.com"], sender="CRM Reports <crm@example.com>"
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    html = html_of(parsed)
    # the body sent is exactly email.html
    assert html.strip() == (run_dir / "email.html").read_text(encoding="utf-8").strip()
    assert set(re.findall(r'src="cid:([^"]+)"', html)) == cids_of(parsed)
    assert parsed.get_body(preferencelist=("plain",)) is not None
    assert parsed["Message-ID"].endswith("@example.com>")
    assert parsed["X-CRMWB-Kind"] == "digest"
    related = next(p for p in parsed.walk() if p.get_content_type() == "multipart/related")
    assert related.get_payload()[0].get_content_type() == "text/html"


def test_oversized_digest_is_shrunk_under_the_limit(tmp_path):
    nb = digest_notebook(table_rows=40)
    wide = pd.DataFrame(
        {f"column {c}": [f"value {r}-{c} " * 3 for r in range(60)] for c in range(14)}
    )
    for _ in range(12):
        nb.cells.append(
            nbformat.v4.new_code_cell(
                "display(big)",
                outputs=[
                    nbformat.v4.new_output("display_data", data={"text/html": wide.to_html()})
                ],
            )
        )
    run_dir = make_run(tmp_path, notebook=nb)
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["email"]
    assert len(html.encode("utf-8")) <= 100_000
    assert record["table_rows"] < 15
    # every kept table shows at most the final row limit and at most 10 columns
    soup = BeautifulSoup(html, "html.parser")
    for table in soup.find_all("table"):
        if "value 0-0" in table.get_text() and table.get("role") != "presentation":
            body = [tr for tr in table.find_all("tr") if tr.find("td")]
            assert len(body) <= max(record["table_rows"], 1)
            assert max(len(tr.find_all(["td", "th"])) for tr in table.find_all("tr")) <= 10
    assert "value 0-13" not in html  # the 14th column was cut
    # pandas' row numbers (0, 1, 2, ...) are dropped: 14 data columns remain, 10 are shown
    assert t("email.columns_shown", "en", shown=10, total=14) in html


def test_charts_over_the_limit_are_left_out_with_a_note(tmp_path):
    run_dir = make_run(tmp_path, notebook=digest_notebook(charts=5), settings={"max_charts": 2})
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    assert len(re.findall(r'src="cid:', html)) == 2
    assert t("email.charts_left_out", "en", count=4) in html  # 3 chart outputs + 1 embedded


def test_failure_notice_names_failed_notebooks_and_logs(tmp_path):
    run_dir = make_run(tmp_path, status="failed")
    (run_dir / "stray.log").write_text("not a notebook log", encoding="utf-8")
    msg = report_email.failure_notice(run_dir, to="analyst@example.com", sender="crm@example.com")
    assert list(msg.iter_attachments()) == []
    assert not any(p.get_content_maintype() == "image" for p in msg.walk())
    html = html_of(msg)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    for body in (html, text):
        assert (
            "rfm" in body and "KeyError: &#39;amount&#39;" in body or "KeyError: 'amount'" in body
        )
        assert str(run_dir.resolve()) in body and "rfm.ipynb" in body
        # the failed notebook's log as the runner records it; not every *.log lying around
        assert "logs/rfm.log" in body and "stray.log" not in body and "digest.log" not in body
        assert "\x1b[" not in body and "13912345678" not in body
        assert "crmwb run monthly_exec --send" in body
    assert "Segment 00" not in html  # never the report itself
    assert msg["Subject"] == t("email.subject_failed", "en", title="monthly_exec", period="2026-09")
    assert_email_safe(html)
    # build_message on a failed run gives the same notice; write_email records it as such
    assert (
        report_email.build_message(run_dir, to="a@example.com", sender="crm@example.com")[
            "X-CRMWB-Kind"
        ]
        == "failure"
    )
    report_email.write_email(run_dir)
    assert json.loads((run_dir / "run.json").read_text())["email"]["kind"] == "failure"


def test_failure_notice_refuses_a_successful_run(tmp_path):
    with pytest.raises(ReportError, match="did not fail"):
        report_email.failure_notice(make_run(tmp_path), to="a@example.com", sender="b@example.com")


def test_bad_settings_and_missing_pieces_are_named(tmp_path):
    with pytest.raises(ConfigError, match="max_table_rows"):
        report_email.write_email(make_run(tmp_path / "a", settings={"max_table_rows": 0}))
    with pytest.raises(ReportError, match="run.json"):
        report_email.write_email(tmp_path / "nowhere")
    run_dir = make_run(tmp_path / "b")
    (run_dir / "digest.ipynb").unlink()
    with pytest.raises(ReportError, match="digest.ipynb"):
        report_email.write_email(run_dir)
    with pytest.raises(ReportError, match="sender"):
        report_email.build_message(make_run(tmp_path / "c"), to="a@example.com", sender="nobody")


@pytest.mark.slow
def test_really_executed_notebook(tmp_path):
    """A digest notebook executed by a real kernel (pandas display, matplotlib inline PNG)."""
    from nbclient import NotebookClient

    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Quarterly summary\n\n- Customers up\n- Revenue flat"),
            v4.new_code_cell(
                "import pandas as pd\n"
                "pd.DataFrame({'channel': list('abcdefghijklmnopqrst'), 'revenue': range(20)})"
            ),
            v4.new_code_cell(
                "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                "fig, ax = plt.subplots(figsize=(6, 3)); ax.plot([1, 3, 2]); plt.show()"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    run_dir = make_run(tmp_path, notebook=nb)
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    assert_email_safe(html)
    assert "Quarterly summary" in html and "Revenue flat" in html
    assert t("email.rows_shown", "en", shown=15, total=20) in html
    assert len(re.findall(r'src="cid:', html)) == 1


@pytest.mark.parametrize("status", ["ok", "failed"])
def test_write_email_in_the_runners_staging_folder(tmp_path, status):
    """The runner writes the email before renaming .tmp-<period>-<pid>-<tag> into place: pack,
    period and folder come from run.json, never from the staging folder's name."""
    staging = make_run(
        tmp_path,
        pack="weekly",
        period="2026-W47",
        status=status,
        folder=".tmp-2026-W47-4242-0a1b2c3d",
    )
    run = json.loads((staging / "run.json").read_text(encoding="utf-8"))
    run["title"] = "Weekly overview"
    (staging / "run.json").write_text(json.dumps(run), encoding="utf-8")
    html = report_email.write_email(staging).read_text(encoding="utf-8")
    text = (staging / "email.txt").read_text(encoding="utf-8")
    record = json.loads((staging / "run.json").read_text(encoding="utf-8"))["email"]
    key = "subject_ok" if status == "ok" else "subject_failed"
    assert record["subject"] == t(f"email.{key}", "en", title="Weekly overview", period="2026-W47")
    soup = BeautifulSoup(html, "html.parser")
    heading = soup.find("div", string=re.compile("Weekly overview"))
    assert heading is not None
    for body in (html, text):
        assert ".tmp-" not in body and "4242" not in body
        assert "2026-W47" in body and "weekly" in body
    if status == "failed":
        final = (tmp_path / "reports" / "weekly" / "2026-W47").resolve()
        for body in (html, text):
            assert str(final) in body and "logs/rfm.log" in body
            assert t("email.failure_title", "en", title="Weekly overview") in body
    else:
        # the chart ids do not depend on the folder, so the published run sends the same files
        moved = tmp_path / "reports" / "weekly" / "2026-W47"
        staging.rename(moved)
        msg = report_email.build_message(moved, to="a@example.com", sender="crm@example.com")
        assert cids_of(msg) == {img["cid"] for img in record["images"]}
        rebuilt = report_email.build_digest(moved)
        assert {cid for cid, *_ in rebuilt.images} == cids_of(msg)


def test_subject_and_inbox_preview_carry_the_first_finding(tmp_path):
    """The first bullet of the digest becomes the subject's end and the hidden preview line,
    masked like the body; a digest without bullets keeps "report ready"."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        "# Monthly\n\n- Revenue **$13,561** (+8.0% on last month), call 13800138000\n- second"
    )]  # fmt: skip
    run_dir = make_run(tmp_path, notebook=nb)
    html = report_email.write_email(run_dir).read_text(encoding="utf-8")
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["email"]
    headline = "Revenue $13,561 (+8.0% on last month), call *********00"
    assert record["subject"] == f"monthly_exec · 2026-09: {headline}"
    preview = BeautifulSoup(html, "html.parser").body.find("div")  # first in the body
    assert preview.get_text() == headline and "display:none" in preview["style"].replace(" ", "")
    assert "13800138000" not in html
    plain = make_run(tmp_path / "plain")
    report_email.write_email(plain)
    record = json.loads((plain / "run.json").read_text(encoding="utf-8"))["email"]
    assert record["subject"] == t("email.subject_ok", "en", title="monthly_exec", period="2026-09")
