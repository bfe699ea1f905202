"""Notebook 08 as a reader gets it: the profile page of a customer whose id is a mobile number
shows neither the number nor personal fields, and an unknown id gets a message, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from crmlib.report import runner

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13812345678"

pytestmark = pytest.mark.slow


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    (project / "params").mkdir(parents=True)
    (project / "data").mkdir()
    lines = ["customer_id,order_id,ordered_at,amount,sku"]
    lines += [f"{PHONE},A{i},2024-0{i}-10 12:00,{100 * i},P{i % 2}" for i in range(1, 6)]
    lines += [f"C{c:03d},B{c}{i},2024-0{i}-15 12:00,40,P{(c + i) % 3}"
              for c in range(60) for i in range(1, 4)]  # fmt: skip
    (project / "data" / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (project / "data" / "members.csv").write_text(
        f"customer_id,name,email\n{PHONE},王小明,xiaoming@example.com\n", encoding="utf-8"
    )
    data = {
        "transactions": {"path": "data/orders.csv"},
        "customers": {"path": "data/members.csv"},
    }
    (project / "params" / "data.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    packs = {
        "notebooks_dir": str(ROOT / "notebooks"),
        "packs": {
            name: {
                "notebooks": ["08_customer_profile"],
                "parameters": {"defaults": {"data_params": "params/data.yaml", "customer_id": cid}},
                "language": "zh",
                "period": "day",
            }
            for name, cid in (("known", PHONE), ("unknown", "C0O1"))
        },
    }
    (project / "params" / "reports.yaml").write_text(yaml.safe_dump(packs), encoding="utf-8")
    return project


@pytest.mark.timeout(600)
def test_profile_page_masks_and_explains(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv("CRMWB_PROJECT_DIR", str(project))
    results = runner.run(
        ["known", "unknown"],
        reports_yaml=project / "params" / "reports.yaml",
        root=project,
        reports_dir=project / "reports",
        progress=False,
    )
    pages = {}
    for result in results:
        assert result.run["status"] == "ok", result.run["notebooks"]
        html = (result.run_dir / "08_customer_profile.html").read_text(encoding="utf-8")
        pages[result.run["pack"]] = BeautifulSoup(html, "html.parser").get_text(" ", strip=True)
    known = pages["known"]
    # the export ends at 12:00 on 10 May, so the profile is of 9 May: four orders, not five
    assert "截至 2024-05-09" in known and "4 笔订单" in known and "¥1,000" in known
    assert "transactions 表的 category 列未映射" in known  # the mix says what to map
    for secret in (PHONE, "王小明", "xiaoming@example.com"):
        assert secret not in known
    assert "个人信息已脱敏" in known
    unknown = pages["unknown"]
    assert "'C0O1' has no order" in unknown and "did you mean 'C001'" in unknown
    assert "Traceback" not in unknown
