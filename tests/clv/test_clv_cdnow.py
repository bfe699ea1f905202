"""Golden tests of crmlib.clv on CDNOW against the published figures.

Source: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science
24(2) and the accompanying notes (http://brucehardie.com/notes/004/, /notes/025/), as collected
in REFERENCES.md: the 1/10 sample of 2,357 customers, calibration 1997-01-01..1997-09-30, holdout
to 1998-06-30, same-day purchases merged, time in weeks (days / 7). Figures are compared at the
published precision (three significant figures; log-likelihoods to one decimal).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from crmlib import clv

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


def _raw_sample() -> pd.DataFrame:
    """The raw CDNOW sample file (no header: master id, sample id, yyyymmdd, cds, dollars)."""
    path = resources.files("lifetimes").joinpath("datasets", "CDNOW_sample.txt")
    raw = pd.read_csv(
        str(path),
        sep=r"\s+",
        header=None,
        names=["master", "sample", "date", "cds", "dollars"],
        dtype={"master": str, "date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["master"],
            "sample_id": raw["sample"],
            "order_id": np.arange(len(raw)).astype(str),
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollars"].astype(float),
        }
    )


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return _raw_sample()


@pytest.fixture(scope="module")
def calibration(transactions: pd.DataFrame) -> pd.DataFrame:
    return clv.summary(transactions, as_of=OBS_END, calibration_end=CAL_END, time_unit="W")


def test_counts(calibration: pd.DataFrame) -> None:
    assert len(calibration) == 2357
    assert calibration["frequency"].sum() == 2457
    assert (calibration["frequency"] > 0).sum() == 946
    assert calibration["frequency_holdout"].sum() == 1882
    assert calibration["duration_holdout"].iloc[0] == 39.0


def test_summary_equals_published_summary(
    transactions: pd.DataFrame, calibration: pd.DataFrame
) -> None:
    """lifetimes ships Hardie's published CDNOW calibration summary (x, t_x, T to 2 decimals),
    one row per customer in the order of the sample id."""
    path = resources.files("lifetimes").joinpath("datasets", "cdnow_customers_summary.csv")
    published = pd.read_csv(str(path))
    sample_id = transactions.drop_duplicates("customer_id").set_index("customer_id")["sample_id"]
    ours = calibration.assign(order=calibration["customer_id"].map(sample_id)).sort_values("order")
    assert ours["order"].tolist() == published["ID"].tolist()
    assert (ours["frequency"].to_numpy() == published["frequency"].to_numpy()).all()
    np.testing.assert_allclose(ours["recency"].round(2), published["recency"], atol=1e-9)
    np.testing.assert_allclose(ours["T"].round(2), published["T"], atol=1e-9)


def test_same_through_the_dataset_loader(cdnow_sample: pd.DataFrame) -> None:
    via_loader = clv.summary(cdnow_sample, as_of=OBS_END, calibration_end=CAL_END)
    assert len(via_loader) == 2357 and via_loader["frequency"].sum() == 2457
    assert via_loader["frequency_holdout"].sum() == 1882


def _sig(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def test_bgnbd_published(calibration: pd.DataFrame) -> None:
    model = clv.fit(calibration)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert _sig(model.params_[name]) == _sig(value), name
    assert round(model.log_likelihood_, 1) == -9582.4


def test_pareto_nbd_published(calibration: pd.DataFrame) -> None:
    model = clv.fit(calibration, model="pnbd")
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, value in published.items():
        assert _sig(model.params_[name]) == _sig(value), name
    assert round(model.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_published(calibration: pd.DataFrame) -> None:
    spend = clv.fit_spend(calibration)
    assert spend.n_customers_ == 946
    published = {"p": 6.25, "q": 3.74, "v": 15.44}
    for name, value in published.items():
        assert _sig(spend.params_[name]) == _sig(value), name


def test_backtest_published(transactions: pd.DataFrame) -> None:
    check = clv.backtest(
        transactions,
        calibration_end=CAL_END,
        as_of=OBS_END,
        params={"non_repeater_p_alive": "model"},
    )
    model_row = check.metrics.set_index("method").loc["model"]
    # FHL 2005: BG/NBD predicts about 1,653 repeat purchases in weeks 40-78 against 1,882 actual
    assert _sig(model_row["total_predicted"]) == _sig(1653)
    assert model_row["total_actual"] == 1882
    # per-bucket tables add up to the customer and purchase counts
    buckets = check.by_frequency
    assert buckets["bucket"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert buckets["customers"].sum() == 2357
    assert (buckets["customers"] * buckets["actual"]).sum() == pytest.approx(1882)
    # the naive baseline recomputed by hand: calibration rate x 39 weeks
    c = check.customers
    naive = np.where(c["T"] > 0, c["frequency"] / c["T"], 0) * 39
    assert check.metrics.set_index("method").loc["naive", "total_predicted"] == pytest.approx(
        naive.sum()
    )
    # cumulative tracking: 2,457 repeat purchases by the end of week 39, 4,339 by week 78
    track = check.tracking.set_index("week")
    assert track.loc[39, "actual"] == 2457 and track.loc[78, "actual"] == 2457 + 1882
    assert track["predicted"].is_monotonic_increasing
    # classification accuracy recomputed from the per-customer table
    bought = c["frequency_holdout"] > 0
    acc = check.classification.set_index("rule")["accuracy"]
    assert acc["hiatus"] == pytest.approx(((c["T"] - c["recency"] <= 26) == bought).mean())
    assert acc["p_alive"] == pytest.approx(((c["p_alive"] >= 0.5) == bought).mean())
