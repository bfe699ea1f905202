"""The daily pack end to end: runs compare with the archive, alert once, stay quiet otherwise."""

from __future__ import annotations

import email
import json
import re
from email import policy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from crmlib.report import runner
from crmlib.report.email.delivery import send_run
from crmlib.report.profile_page import profile_file

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

#: The hand-checked customers of tests/analyses/test_alerts.py; D's id is a mobile number.
PHONE = "13812345678"
ORDERS = [
    ("A", "2024-01-01", 600.0), ("A", "2024-01-10", 400.0),
    ("B", "2023-06-01", 250.0), ("B", "2023-06-15", 250.0), ("B", "2024-04-10", 100.0),
    ("C", "2024-03-20", 20.0), ("C", "2024-03-25", 20.0), ("C", "2024-04-05", 10.0),
    (PHONE, "2024-03-01", 500.0), (PHONE, "2024-03-28", 400.0),
    ("E", "2024-01-05", 10.0), ("E", "2024-01-12", 10.0),
    ("F", "2024-03-30", 10.0),
]  # fmt: skip


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    (project / "params").mkdir(parents=True)
    (project / "data").mkdir()
    lines = ["customer_id,order_id,ordered_at,amount"] + [
        f"{c},O{i},{day} 12:00,{amount}" for i, (c, day, amount) in enumerate(ORDERS)
    ]
    (project / "data" / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (project / "data" / "contacts.csv").write_text(
        "customer_id,occurred_at,kind\n"
        f"{PHONE},2024-04-15 09:00,complaint\nE,2024-04-16 10:00,complaint\n",
        encoding="utf-8",
    )
    data = {
        "transactions": {"path": "data/orders.csv"},
        "touchpoints": {"path": "data/contacts.csv"},
    }
    (project / "params" / "data.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (project / "params" / "alerts.yaml").write_text(
        "high_value: {top_share: 0.5}\n", encoding="utf-8"
    )
    packs = {
        "notebooks_dir": str(ROOT / "notebooks"),
        "packs": {
            "daily": {
                "notebooks": ["09_daily_alerts"],
                "parameters": {"defaults": {"data_params": "params/data.yaml"}},
                "recipients": {"success": ["crm@example.com"]},
                "language": "en",
                "period": "day",
                "email": {
                    "send_when_nothing_changed": False,
                    "report_base_url": "https://reports.example.com/crm",
                },
            }
        },
    }
    (project / "params" / "reports.yaml").write_text(yaml.safe_dump(packs), encoding="utf-8")
    return project


def _run(project: Path, day: str):
    [result] = runner.run(
        ["daily"],
        reports_yaml=project / "params" / "reports.yaml",
        root=project,
        reports_dir=project / "reports",
        as_of=day,
        progress=False,
    )
    assert result.run["status"] == "ok", result.run["notebooks"]
    counts = json.loads((result.run_dir / "alerts" / "changes.json").read_text(encoding="utf-8"))
    return result, counts


@pytest.mark.timeout(900)
def test_daily_pack_alerts_each_planted_change_once(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.setenv("CRMWB_PROJECT_DIR", str(project))

    first, counts = _run(project, "2024-04-01")
    assert (counts["compared_with"], counts["total"]) == (None, 0)
    skipped = send_run(first.run_dir, dry_run=True)
    assert "first run" in skipped.skipped and not skipped.written

    second, counts = _run(project, "2024-04-20")  # 19 days later: a missed day is no problem
    assert counts["compared_with"] == "2024-04-01"
    assert counts["counts"] == {
        "high_value_at_risk": 1, "complaint": 1, "reactivated": 1, "milestone": 2
    }  # fmt: skip
    page = (second.run_dir / "09_daily_alerts.html").read_text(encoding="utf-8")
    assert "5 customer change(s) need a person" in page
    assert PHONE not in page  # a member id that is a mobile number is masked in the page
    # every listed customer has a profile page, named by a hash, linked from the list
    profiles = sorted((second.run_dir / "profiles").glob("*.html"))
    # 5 changes of 4 customers: A at risk, D complained, B reactivated with the 3rd order
    # (a milestone too), C placed the 3rd order
    assert len(profiles) == 4
    assert all(PHONE not in p.name for p in profiles)
    links = re.findall(r'href="(profiles/[0-9a-f]{16}\.html)"', page)
    assert sorted(set(links)) == sorted(f"profiles/{p.name}" for p in profiles)
    for path in profiles:
        text = path.read_text(encoding="utf-8")
        assert PHONE not in text and ("Customer profile" in text)
    phone_page = (second.run_dir / "profiles" / profile_file(PHONE)).read_text(encoding="utf-8")
    shown = BeautifulSoup(phone_page, "html.parser").get_text(" ", strip=True)
    assert "2 orders and ¥900 since 2024-03-01" in shown  # D's two March orders, id masked
    sent = send_run(second.run_dir, dry_run=True)
    assert not sent.skipped and len(sent.written) == 1
    mail = sent.written[0].read_text(encoding="utf-8", errors="replace")
    assert PHONE not in mail
    # in the email the links point at the published run
    body = email.message_from_bytes(sent.written[0].read_bytes(), policy=policy.default)
    html_body = body.get_body(preferencelist=("html",)).get_content()
    assert f"https://reports.example.com/crm/daily/{second.run_dir.name}/profiles/" in html_body

    third, counts = _run(project, "2024-04-21")
    assert (counts["compared_with"], counts["total"]) == ("2024-04-20", 0)
    quiet = send_run(third.run_dir, dry_run=True)
    assert quiet.skipped.startswith("nothing changed since 2024-04-20") and not quiet.written
    saved = pd.read_parquet(third.run_dir / "alerts" / "states.parquet")
    assert sorted(saved["customer_id"]) == sorted({c for c, _, _ in ORDERS})
