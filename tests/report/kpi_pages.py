"""Reading KPI values off rendered pages: one number per KPI across a run's pages and email."""

from __future__ import annotations

import json
from pathlib import Path

from bs4 import BeautifulSoup

from crmlib.i18n import t


def kpi_values(html: str, language: str) -> dict[str, set[str]]:
    """KPI name -> every value a KPI table of ``html`` shows for it ("This period" or "Ours")."""
    kpi = t("benchmark.col_kpi", language)
    value_heads = {t("benchmark.col_value", language), t("benchmark.col_ours", language)}
    found: dict[str, set[str]] = {}
    for table in BeautifulSoup(html, "html.parser").find_all("table"):
        if table.find("table"):  # an email layout table around the data tables
            continue
        rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
                for tr in table.find_all("tr")]  # fmt: skip
        if not rows or kpi not in rows[0] or not value_heads & set(rows[0]):
            continue
        at = rows[0].index(kpi)
        col = next(i for i, h in enumerate(rows[0]) if h in value_heads)
        for row in rows[1:]:
            if len(row) > max(at, col) and row[at] != "–":  # "–": a benchmark of no KPI of ours
                found.setdefault(row[at], set()).add(row[col])
    return found


def assert_one_number_per_kpi(run_dir: Path, language: str, *, min_shared: int = 5) -> None:
    """The summary, the benchmark page (its period and benchmark tables) and the email of the
    run in ``run_dir`` show each KPI with one value."""
    sources = {
        name: kpi_values((run_dir / f"{name}.html").read_text(encoding="utf-8"), language)
        for name in ("00_executive_summary", "07_benchmarks")
    }
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    email_html = (run_dir / run["email"]["html"]).read_text(encoding="utf-8")
    sources["email"] = kpi_values(email_html, language)
    assert all(sources.values()), {k: len(v) for k, v in sources.items()}
    names = set().union(*sources.values())
    shared = [n for n in names if sum(n in s for s in sources.values()) >= 2]
    assert len(shared) >= min_shared, shared
    for name in sorted(names):
        values = set().union(*(s.get(name, set()) for s in sources.values()))
        assert len(values) == 1, (name, {k: s.get(name) for k, s in sources.items()})
