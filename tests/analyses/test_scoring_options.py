"""Your own RFM bins and thresholds: every documented option works, and a wrong one stops
before any data is read, naming the parameter."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from crmlib import rfm, segments
from crmlib.data import load_dataset
from crmlib.errors import ConfigError
from crmlib.report import worker

ROOT = Path(__file__).resolve().parents[2]
CN8_EDGES = {"recency": [0, 90, 100000], "frequency": [1, 2, 1000], "monetary": [0, 500, 1e12]}


def _table() -> pd.DataFrame:
    # four customers: days since last purchase, orders, spend
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "recency_days": [10.0, 90.0, 91.0, 400.0],
            "frequency": [5, 1, 2, 1],
            "monetary": [800.0, 499.0, 500.0, 50.0],
            "aov": [160.0, 499.0, 250.0, 50.0],
        }
    )


def test_edges_give_the_scores_counted_by_hand():
    seg = segments.segment_rfm(_table(), scheme="cn8", scoring="edges", edges=CN8_EDGES)
    got = seg.customers.set_index("customer_id")[["r_score", "f_score", "m_score"]]
    # recency [0, 90) is recent (2), 90 and beyond is not; 2+ orders high; spend 500+ high
    assert got.loc["a"].tolist() == [2, 2, 2]
    assert got.loc["b"].tolist() == [1, 1, 1]
    assert got.loc["c"].tolist() == [1, 2, 2]
    assert got.loc["d"].tolist() == [1, 1, 1]


def test_thresholds_count_a_value_equal_to_the_threshold_as_high():
    thresholds = {"recency": 90, "frequency": 2, "monetary": 500}
    seg = segments.segment_rfm(_table(), scheme="cn8", scoring="highlow", split=thresholds)
    got = seg.customers.set_index("customer_id")[["r_score", "f_score", "m_score"]]
    assert got.loc["b"].tolist() == [2, 1, 1]  # 90 days is recent, 1 order low, 499 low
    assert got.loc["c"].tolist() == [1, 2, 2]  # 91 days is not; 2 orders and 500 are high


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scoring": "edges"}, "parameter 'edges' must map each of recency"),
        (
            {"scoring": "edges", "edges": {**CN8_EDGES, "monetary": [0, 500]}},
            "parameter 'edges' for monetary must be a list of at least 3",
        ),
        (
            {"scoring": "edges", "edges": {**CN8_EDGES, "recency": [0, 30, 90, 1000]}},
            "parameter 'edges' for recency gives 3 bins but scheme 'cn8' has 2 levels",
        ),
        (
            {"scoring": "edges", "edges": {**CN8_EDGES, "frequency": [1, 5, 2]}},
            "must be strictly increasing",
        ),
        ({"scoring": "highlow", "split": {"recency": 90}}, "must give recency, frequency"),
        (
            {"scoring": "highlow", "split": {"recency": 90, "frequency": 2, "monetary": "x"}},
            "split.monetary",
        ),
        ({"scoring": "quantile", "edges": CN8_EDGES}, "used only with scoring 'edges'"),
        (
            {"scoring": "quantile", "split": {"recency": 9, "frequency": 2, "monetary": 5}},
            "used only with scoring 'highlow'",
        ),
        ({"scoring": "ranks"}, "scoring"),
        ({"scoring": "quantile", "bins": 5}, "parameter 'bins' must be 2 for scheme 'cn8'"),
    ],
)
def test_a_wrong_option_is_named_before_any_data_is_read(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        segments.check_segmentation(scheme="cn8", **options)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        segments.segment_rfm(_table(), scheme="cn8", **options)


def test_check_scoring_accepts_every_documented_form():
    rfm.check_scoring("quantile", bins=5)
    rfm.check_scoring("edges", edges=CN8_EDGES)
    rfm.check_scoring("highlow", split="median")
    rfm.check_scoring("highlow", split={"recency": 90, "frequency": 2, "monetary": 500})


def _run(tmp_path: Path, demo_params: Path, **parameters):
    out = tmp_path / "02.ipynb"
    result = worker.execute_notebook(
        ROOT / "notebooks" / "02_customer_value.ipynb",
        out,
        parameters={"data_params": str(demo_params), **parameters},
        timeout=600,
        cwd=ROOT,
    )
    return result, nbformat.read(out, as_version=4)


@pytest.mark.slow
def test_the_notebook_scores_with_your_edges(tmp_path, demo_params):
    result, _ = _run(tmp_path, demo_params, scoring="edges", edges=CN8_EDGES)
    assert result.status == "ok", result.error
    page = BeautifulSoup(Path(result.html).read_text(encoding="utf-8"), "html.parser")
    heading = next(h for h in page.find_all("h2") if "Score bins used" in h.get_text())
    rows = [
        [c.get_text(strip=True) for c in tr.find_all("td")]
        for tr in heading.find_next("table").find_all("tr")[1:]
    ]
    assert [r[1:4] for r in rows] == [
        ["2", "0", "90"], ["1", "90", "100,000"],  # recency: recent first
        ["1", "1", "2"], ["2", "2", "1,000"],
        ["1", "0", "500"], ["2", "500", "1,000,000,000,000"],
    ]  # fmt: skip
    scored = len(rfm.rfm_table(load_dataset(demo_params).transactions))
    for metric in range(3):  # every scored customer has one score per metric
        counts = [int(r[4].replace(",", "")) for r in rows[2 * metric : 2 * metric + 2]]
        assert sum(counts) == scored


@pytest.mark.slow
def test_the_notebook_stops_on_missing_edges_before_loading_data(tmp_path, demo_params):
    result, nb = _run(tmp_path, demo_params, scoring="edges")
    assert result.status == "failed"
    assert "parameter 'edges' must map each of recency" in result.error
    failed = next(
        c for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", []))
    )
    first = failed.source.index("check_segmentation")
    assert first < failed.source.index("load_dataset("), "the check runs before the data is read"
