"""Quality report, load cache, the validate command and the quality charts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests draw off-screen

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from crmlib import data
from crmlib.data.quality import QualityReport, TableQuality
from crmlib.errors import DataError
from crmlib.plots import quality as qplots
from crmlib.present import quality as words
from crmlib.present.page import show

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ROOT / "params" / "channels.yaml"


def source(tmp_path: Path, body: str) -> dict:
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount,channel,phone\n" + body, encoding="utf-8"
    )
    return {
        "transactions": {"path": str(path)},
        "cleaning": {"channels_file": str(CHANNELS), "max_date": "2030-01-01"},
        "quarantine_dir": str(tmp_path / "quarantine"),
        "cache_dir": str(tmp_path / "cache"),
    }


BODY = (
    "C1,O1,2024-01-05,10,门店,13812341234\n"
    "C1,O1,2024-01-05,10,门店,13812341234\n"
    "C2,O2,2024-02-05,¥20,web,13900001111\n"
    "C3,O3,bad-date,5,web,13700002222\n"
)


def test_counts_must_add_up():
    with pytest.raises(DataError, match="rows read"):
        TableQuality("transactions", "x.csv", rows_read=5, kept=3, rejected={"return": 1})


def test_report_frame_text_and_round_trip(tmp_path):
    ds = data.load_dataset(source(tmp_path, BODY), cache=False)
    report = ds.quality
    frame = report.to_frame()
    read = frame.query("status == 'read'")["rows"].sum()
    kept = frame.query("status == 'kept'")["rows"].sum()
    rejected = frame.query("status == 'rejected'")["rows"].sum()
    assert (read, kept, rejected) == (4, 2, 2)
    assert report.ok == ["transactions"] and report.fatal == []
    zh = words.quality_table(report, language="zh")
    assert "行数" in zh.columns and "完全重复行" in set(zh["规则"])
    text = words.quality_text(report, language="en")
    assert "4 rows read, 2 kept, 2 rejected" in text and "Exact duplicate line: 1" in text
    assert "读取 4 行" in words.quality_text(report, language="zh")
    assert QualityReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert report.summary().values.tolist() == [["transactions", 4, 2, 1, 0, 2]]  # ¥20


def test_quarantined_rows_are_masked(tmp_path):
    ds = data.load_dataset(source(tmp_path, BODY), cache=False)
    sample = ds.quarantined("transactions")
    assert sample[["source_row", "reason"]].values.tolist() == [
        [2, "duplicate_line"],
        [4, "unparseable_ordered_at"],
    ]
    assert sample["phone"].tolist() == ["138****1234", "137****2222"]
    assert ds.quarantined("transactions", mask=False)["phone"].tolist()[0] == "13812341234"


def test_report_sample_shows_only_mapped_columns_and_escapes_html(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    tx = tmp_path / "orders.csv"
    tx.write_text(
        "会员ID,订单号,下单时间,实付金额,销售代表,收货地址,phone\n"
        f"C1,O1,not a date,5,Wang Wei,上海市浦东新区世纪大道100号,13812341234\n"
        f"C2,{hostile},2024-01-02,x,Li Na,北京市朝阳区,13900001111\n"
        "C3,O3,2024-01-03,7,Li Na,北京市,13700002222\n",
        encoding="utf-8",
    )
    touch = tmp_path / "touch.csv"
    touch.write_text(
        "customer_id,occurred_at,kind,content\nC1,bad,complaint,my phone is 13812341234\n"
        "C1,2024-01-01,inquiry,ok\n",
        encoding="utf-8",
    )
    cust = tmp_path / "cust.csv"
    cust.write_text(
        "customer_id,姓名,手机,signup_at\nC1,张三,13812341234,2023-01-01\nC1,张三,13812341235,x\n",
        encoding="utf-8",
    )
    p = source(tmp_path, "C1,O1,2024-01-05,10,门店,13812341234\n")
    p["transactions"] = {
        "path": str(tx),
        "columns": {"customer_id": "会员ID", "order_id": "订单号", "ordered_at": "下单时间",
                    "amount": "实付金额", "sales_rep": "销售代表"},
    }  # fmt: skip
    p["touchpoints"] = {"path": str(touch)}
    p["customers"] = {"path": str(cust), "columns": {"name": "姓名", "phone": "手机"}}
    ds = data.load_dataset(p, cache=False)

    sample = ds.quarantined("transactions", unmapped=False)
    # unmapped source columns (address, phone) and the sales rep stay out of the report
    assert list(sample.columns) == [
        "source_row", "reason", "customer_id", "order_id", "ordered_at", "amount",
    ]  # fmt: skip
    assert sample["order_id"].tolist() == ["O1", hostile]
    html = show(sample)._repr_html_()
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "13812341234" not in html and "Wang Wei" not in html and "浦东" not in html
    # the full file, for the data owner, still has every column (phone masked by its name)
    everything = ds.quarantined("transactions")
    assert {"销售代表", "收货地址", "phone"} <= set(everything.columns)
    assert everything["phone"].tolist() == ["138****1234", "139****1111"]

    touch_sample = ds.quarantined("touchpoints", unmapped=False)
    assert "content" not in touch_sample.columns and touch_sample["kind"].tolist() == ["complaint"]
    assert "content" in ds.quarantined("touchpoints").columns

    # personal fields of customers are masked under their canonical names
    cust_sample = words.quarantine_table(ds.quarantined("customers", unmapped=False), language="zh")
    # ... and the report names those fields in its language (姓名, 手机号), not name and phone
    assert cust_sample[["姓名", "手机号"]].values.tolist() == [["张**", "138****1235"]]
    assert list(cust_sample.columns[:2]) == ["源文件行号", "原因"]


def test_cache_is_reused_and_invalidated(tmp_path):
    p = source(tmp_path, BODY)
    first = data.load_dataset(p)
    cached = tmp_path / "cache" / first.fingerprint
    assert (cached / "transactions.parquet").exists() and (cached / "quality.json").exists()
    stamp = (cached / "quality.json").stat().st_mtime_ns
    second = data.load_dataset(p)
    assert second.fingerprint == first.fingerprint == data.fingerprint(p)
    assert (cached / "quality.json").stat().st_mtime_ns == stamp  # not rebuilt
    assert second.quality == first.quality
    pd.testing.assert_frame_equal(
        data.execute(second.transactions), data.execute(first.transactions)
    )
    assert Path(second.quality["transactions"].quarantine_file).parent == tmp_path / "quarantine"

    path = Path(p["transactions"]["path"])
    path.write_text(path.read_text(encoding="utf-8") + "C4,O4,2024-03-01,1,jd,\n", encoding="utf-8")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    third = data.load_dataset(p)
    assert third.fingerprint != first.fingerprint
    assert third.quality["transactions"].rows_read == 5
    changed = {**p, "cleaning": {**p["cleaning"], "duplicates": "keep"}}
    assert data.fingerprint(changed) != third.fingerprint


def test_parallel_processes_share_one_cache(tmp_path):
    p = source(tmp_path, BODY)
    (tmp_path / "p.json").write_text(json.dumps(p), encoding="utf-8")
    code = (
        "import json, sys; from crmlib import data; "
        f"ds = data.load_dataset(json.load(open({str(tmp_path / 'p.json')!r}))); "
        "print(ds.fingerprint, ds.quality['transactions'].kept)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(3)
    ]
    outs = [proc.communicate(timeout=240)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert {tuple(o) for o in outs} == {(data.fingerprint(p), "2")}
    entries = [e.name for e in (tmp_path / "cache").iterdir() if not e.name.endswith(".lock")]
    assert entries == [data.fingerprint(p)]  # no leftover temporary folders


def test_validate_exit_codes(tmp_path):
    p = source(tmp_path, BODY)
    text, code = words.validate_source(p, language="en")
    assert code == 0 and "4 rows read" in text
    bad = {**p, "customers": {"path": str(tmp_path / "missing.csv")}}
    text, code = words.validate_source(bad, language="zh")
    assert code == 1 and "missing.csv" in text and "失败" in text
    text, code = words.validate_source({**p, "cleaning": {"returns": "maybe"}})
    assert code == 2 and "returns" in text


def test_quality_charts_draw(tmp_path):
    ds = data.load_dataset(source(tmp_path, BODY), cache=False)
    cov = data.coverage(ds.transactions)
    for language in ("en", "zh"):
        ax = qplots.coverage_plot(cov, metric="orders", language=language)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [words.channel_label(c, language=language) for c in ("store", "web")]
        heights = sorted(round(p.get_height()) for p in ax.patches)
        assert heights == [0, 0, 1, 1]  # Jan: store 1, web 0; Feb: store 0, web 1
        plt.close(ax.figure)
        ax = qplots.cleaning_plot(ds.quality, language=language)
        assert len(ax.get_yticklabels()) == len(
            ds.quality.to_frame().query("status in ['repaired', 'flagged', 'rejected']")
        )
        plt.close(ax.figure)


def test_crmwb_validate_params_end_to_end(tmp_path):
    """The installed command, as the README tells a user to run it on their own data."""
    import subprocess
    import sys

    import yaml

    params = tmp_path / "my_data.yaml"
    params.write_text(yaml.safe_dump(source(tmp_path, BODY), allow_unicode=True), "utf-8")
    crmwb = Path(sys.executable).with_name("crmwb")
    done = subprocess.run(
        [str(crmwb), "validate", "--params", str(params)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "4 rows read" in done.stdout
    assert (tmp_path / "quarantine" / "transactions.quarantine.csv").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"transactions:\n  path: {tmp_path / 'nowhere.csv'}\n", "utf-8")
    done = subprocess.run(
        [str(crmwb), "validate", "--params", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "nowhere.csv" in done.stdout + done.stderr


def test_reasons_name_the_field_in_the_report_language():
    from crmlib.i18n import has
    from crmlib.present.quality import kind_label

    assert kind_label("unparseable_amount", language="zh") == "金额无法解析"
    assert kind_label("missing_customer_id", language="en") == "Missing customer ID"
    assert (
        kind_label("unparseable_my_column", language="en") == "Unreadable my_column"
    )  # no label: as is
    unlabelled = [c for s in data.SCHEMAS.values() for c in s if not has(f"data.field_{c}")]
    assert not unlabelled, f"canonical fields without a data.field_ label: {unlabelled}"
