"""Nothing personal leaks and nothing from the data becomes markup, a link or a formula.

The fast tests cover each path on its own (fatal load errors, quarantine files, the pack's
report_base_url, a run folder's pages). The slow test runs every report notebook as one pack on a
demo retailer seeded with hostile values and scans every HTML page, CSV export and .eml it wrote.
"""

from __future__ import annotations

import csv
import email
import email.policy
import gzip
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from crmlib import data
from crmlib.errors import ConfigError, DataError
from crmlib.report import runner
from crmlib.report.email.mailsafe import mask_run_folder
from crmlib.report.packs import build_pack, load_packs
from crmlib.report.settings import check_email_settings
from crmlib.report.worker import short_error

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
CHANNELS = ROOT / "params" / "channels.yaml"

# Independent detectors (not the masking code under test): a mainland mobile number not glued
# to other digits, in ASCII or full-width digits, and an email address.
MOBILE = re.compile(
    r"(?<![0-9０-９])[1１][3-9３-９](?:[0-9０-９][\s.-]?){8}[0-9０-９](?![0-9０-９])"
)
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def personal_in(text: str) -> list[str]:
    """Phone numbers and email addresses in ``text`` (embedded data: URIs left out)."""
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)
    return MOBILE.findall(text) + [m for m in ADDRESS.findall(text) if "***" not in m]


# -- a fatal load error ----------------------------------------------------------------------


def _customers_params(tmp_path: Path, customers_body: str) -> dict:
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,order_id,ordered_at,amount,channel\nC1,O1,2024-01-05,10,store\n")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name,phone,address\n" + customers_body, encoding="utf-8")
    return {
        "transactions": {"path": str(tx)},
        "customers": {"path": str(customers)},
        "cleaning": {"channels_file": str(CHANNELS)},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


@pytest.mark.parametrize(
    "line",
    [
        "M0000001,张伟,手机13812345678,上海市浦东新区,extra,x\n",  # too many fields
        '"M0000001,张伟,手机13812345678,上海市浦东新区\n',  # a quote never closed
    ],
)
def test_fatal_load_error_quotes_no_customer_line(tmp_path, line):
    with pytest.raises(DataError) as caught:
        data.load_dataset(_customers_params(tmp_path, line), cache=False)
    message = str(caught.value)
    # the error still names the file and the row, but none of the line's content
    assert "customers.csv" in message and "row 1" in message
    for raw in ("13812345678", "张伟", "上海市", "M0000001"):
        assert raw not in message, message


def test_error_recorded_for_a_run_is_masked():
    # what a notebook raised, as the worker records it for run.json, the index and the email
    recorded = short_error("ValueError: campaign 咨询13912345678 or vip@evil.example failed")
    assert "13912345678" not in recorded and "vip@evil.example" not in recorded
    assert recorded.startswith("ValueError: campaign 咨询*********78 or v***@***")


# -- quarantine files --------------------------------------------------------------------------


def test_quarantine_file_neutralises_formulas_and_keeps_numbers(tmp_path):
    tx = tmp_path / "tx.csv"
    tx.write_text(
        "customer_id,order_id,ordered_at,amount,channel\n"
        "C1,O1,2024-01-05,10,store\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",O2,2024-01-05,=1+2,store\n'  # bad amount
        "@SUM(A1),O3,=NOW(),-5,+cmd\n"  # unparseable date; -5 is a return, a number
        "C4,O4,not a date,12,store\n",
        encoding="utf-8",
    )
    params = {
        "transactions": {"path": str(tx)},
        "cleaning": {"channels_file": str(CHANNELS)},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }
    ds = data.load_dataset(params, cache=False)
    q = ds.quality["transactions"]
    assert q.rows_read == q.kept + sum(q.rejected.values()) == 4
    with open(q.quarantine_file, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_order = {r["order_id"]: r for r in rows}
    assert by_order["O2"]["customer_id"] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_order["O2"]["amount"] == "'=1+2"
    assert by_order["O3"]["customer_id"] == "'@SUM(A1)" and by_order["O3"]["channel"] == "'+cmd"
    assert by_order["O3"]["ordered_at"] == "'=NOW()"
    assert by_order["O3"]["amount"] == "-5"  # a number, not a formula
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(FORMULA) or NUMBER.fullmatch(cell), cell


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JAVASCRIPT:alert(1)",
        "file:///etc/passwd",
        "data:,x",
        "//evil.example",
        "https://",
        "https://evil.example/ a",
        "https://user@evil.example",
    ],
)
def test_report_base_url_must_be_http(url):
    with pytest.raises(ConfigError, match="report_base_url"):
        check_email_settings({"report_base_url": url}, pack="weekly")
    with pytest.raises(ConfigError, match="report_base_url"):
        build_pack(
            "weekly",
            {"notebooks": ["ok"], "email": {"report_base_url": url}},
            notebooks_dir=FIXTURES,
            root=ROOT,
        )


def test_report_base_url_http_and_https_pass():
    for url in ("https://reports.example.com/crm", "http://intranet:8080/reports/"):
        assert check_email_settings({"report_base_url": url}) == {"report_base_url": url}


# -- a run folder ------------------------------------------------------------------------------


def test_run_folder_pages_notebooks_and_logs_are_masked(tmp_path):
    page = (
        "<html><body><h1>Campaigns</h1><table><tr><td>春节 咨询13912345678</td>"
        "<td>¥12,345.60</td></tr><tr><td>vip@evil.example</td><td>2026-09-30</td></tr>"
        '</table><img src="data:image/png;base64,AAAA"></body></html>'
    )
    (tmp_path / "00_executive_summary.html").write_text(page, encoding="utf-8")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("Top member 13800001111"),
            nbformat.v4.new_code_cell(
                "x = 13800002222",
                outputs=[
                    nbformat.v4.new_output(
                        "execute_result", data={"text/plain": "'13800003333'"}, execution_count=1
                    ),
                    nbformat.v4.new_output("stream", name="stdout", text="mail a@b.example\n"),
                ],
            ),
        ]
    )
    nbformat.write(nb, tmp_path / "00_executive_summary.ipynb")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "00_executive_summary.log").write_text("member 13800004444\n")

    assert mask_run_folder(tmp_path) == 6  # 2 in the page, 3 in the notebook's outputs, 1 log
    html = (tmp_path / "00_executive_summary.html").read_text(encoding="utf-8")
    assert personal_in(html) == []
    assert "¥12,345.60" in html and "2026-09-30" in html and "base64,AAAA" in html
    masked_nb = nbformat.read(tmp_path / "00_executive_summary.ipynb", as_version=4)
    assert masked_nb.cells[1].source == "x = 13800002222"  # code is not changed
    text = nbformat.writes(masked_nb).replace("x = 13800002222", "")
    assert personal_in(text) == []
    assert personal_in((tmp_path / "logs" / "00_executive_summary.log").read_text()) == []


# -- a full pack on hostile data -----------------------------------------------------------------

PHONE_IN_NAME = "春节焕新季 咨询13912345678"
EMAIL_IN_NAME = "会员日 vip@evil.example"
FORMULA_SKU = '=HYPERLINK("http://evil.example/x","点我")'
URL_SKU = "http://evil.example/a**"
SCRIPT_STORE = "<script>alert(1)</script>南京新街口店"


def _seed(demo_dir: Path, out: Path) -> None:
    """Copy the demo retailer to ``out`` with hostile values planted in it.

    Member ids become mobile numbers (M0000001 -> 13800000001) in every table; two campaign
    names carry a phone number and an email address; the two best-selling SKUs become a formula
    and a URL; one store's name holds a script tag.
    """
    out.mkdir(parents=True)

    def member(value):
        if isinstance(value, str) and re.fullmatch(r"M\d{7}", value):
            return "1380" + value[1:]
        return value

    tx = pd.read_csv(demo_dir / "transactions.csv.gz", dtype=str, keep_default_na=False)
    tx["会员ID"] = tx["会员ID"].map(member)
    top = tx["商品编码"].value_counts().index[:2]
    tx["商品编码"] = tx["商品编码"].replace({top[0]: FORMULA_SKU, top[1]: URL_SKU})
    tx["门店"] = tx["门店"].replace({"南京新街口店": SCRIPT_STORE})
    with gzip.open(out / "transactions.csv.gz", "wt", encoding="utf-8", newline="") as fh:
        tx.to_csv(fh, index=False)
    customers = pd.read_csv(demo_dir / "customers.csv.gz", dtype=str, keep_default_na=False)
    customers["会员ID"] = customers["会员ID"].map(member)
    with gzip.open(out / "customers.csv.gz", "wt", encoding="utf-8", newline="") as fh:
        customers.to_csv(fh, index=False)
    for name in ("campaign_members", "touchpoints", "events"):
        frame = pd.read_parquet(demo_dir / f"{name}.parquet")
        frame["customer_id"] = frame["customer_id"].map(member)
        frame.to_parquet(out / f"{name}.parquet", index=False)
    campaigns = pd.read_parquet(demo_dir / "campaigns.parquet")
    campaigns.loc[0, "name"] = PHONE_IN_NAME
    campaigns.loc[1, "name"] = EMAIL_IN_NAME
    campaigns.to_parquet(out / "campaigns.parquet", index=False)
    assert (tx["商品编码"] == FORMULA_SKU).any() and (tx["门店"] == SCRIPT_STORE).any()


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_full_pack_on_hostile_data_leaks_nothing(tmp_path, request):
    demo_dir = request.getfixturevalue("demo_dir")
    seeded = tmp_path / "data"
    _seed(demo_dir, seeded)
    with (ROOT / "params" / "data.yaml").open(encoding="utf-8") as fh:
        params = yaml.safe_load(fh)
    for section in params.values():
        if isinstance(section, dict) and "path" in section:
            section["path"] = str(seeded / Path(section["path"]).name)
    params["quarantine_dir"] = str(tmp_path / "quarantine")
    params["cache_dir"] = str(tmp_path / "cache")
    data_params = tmp_path / "data.yaml"
    data_params.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    exports = tmp_path / "exports"
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    packs_file = tmp_path / "reports.yaml"
    packs_file.write_text(
        yaml.safe_dump(
            {
                "notebooks_dir": str(ROOT / "notebooks"),
                "packs": {
                    "hostile": {
                        "notebooks": notebooks,
                        "parameters": {
                            "defaults": {"data_params": str(data_params)},
                            **{
                                nb: {"export_dir": str(exports / nb)}
                                for nb in notebooks
                                if nb.startswith(("02_", "03_", "04_", "05_"))
                            },
                        },
                        "language": "zh",
                        "period": "day",
                        "timeout": 900,
                        "recipients": {
                            "success": ["ceo@example.com"],
                            "failure": ["a@example.com"],
                        },
                        "email": {"attach_limit_mb": 50},
                    }
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    packs = load_packs(packs_file, root=ROOT)
    result = runner.run_pack(
        packs["hostile"],
        reports_dir=tmp_path / "reports",
        progress=False,
        dry_run_email=True,
    )
    failed = {nb["name"]: nb["error"] for nb in result.run["notebooks"] if nb["status"] != "ok"}
    assert not failed, failed
    assert result.delivery_error is None, result.delivery_error

    # every HTML page of the run and the index
    pages = sorted(result.run_dir.glob("*.html")) + [tmp_path / "reports" / "index.html"]
    assert len(pages) >= len(notebooks) + 2
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert "<script>alert(1)" not in html, path.name  # the store name stays text
        soup = BeautifulSoup(html, "html.parser")
        links = [a.get("href", "") for a in soup.find_all("a")]
        assert not [h for h in links if "evil.example" in h], (path.name, links)
        assert personal_in(html) == [], (path.name, personal_in(html)[:5])

    # every .eml: the body, its alternatives and every attachment, decoded
    emls = sorted(result.run_dir.glob("outbox-dry-run/*.eml"))
    assert emls, "no .eml written"
    attached = 0
    for path in emls:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_maintype() != "text":
                continue
            text = part.get_content()
            attached += part.get_filename() is not None
            assert "<script>alert(1)" not in text, (path.name, part.get_filename())
            links = [a.get("href", "") for a in BeautifulSoup(text, "html.parser").find_all("a")]
            assert not [h for h in links if "evil.example" in h], (path.name, links)
            assert personal_in(text) == [], (path.name, part.get_filename(), personal_in(text)[:5])
    assert attached >= 2  # the full reports went with the email and were scanned

    # every CSV export and quarantine file: no cell a spreadsheet would run; the contact lists
    # hold member ids by design (here mobile numbers), no other phone number or address
    csvs = sorted(exports.rglob("*.csv")) + sorted((tmp_path / "quarantine").glob("*.csv"))
    assert any("quarantine" in p.name for p in csvs) and len(csvs) > 4, csvs
    seen_formula = False
    for path in csvs:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        for row in rows:
            for column, cell in zip(header, row, strict=False):
                assert not cell.startswith(FORMULA) or NUMBER.fullmatch(cell), (path, cell)
                seen_formula |= cell.startswith("'=HYPERLINK")
                if "quarantine" not in path.name and column != "customer_id":
                    assert personal_in(cell) == [], (path.name, column, cell)
    assert seen_formula, "the planted formula SKU reached no export (the test proves nothing)"
