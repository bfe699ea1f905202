"""crmlib.clv on the demo retailer: planted BG/NBD parameters are recovered.

The demo's members buy on a BG/NBD clock (``truth.json`` → ``bgnbd``, time unit days, running in
the demo's seasonal "operational time"); campaigns and cross-sell follow-ups then add orders off
that clock (about a tenth of repeat orders). So recovery is checked twice:

- on the BG/NBD orders alone, drawn by the simulator's own ``draw_members`` with the demo's
  configuration and seed, turned into transactions and passed through ``summary`` and ``fit``:
  the planted parameters must lie in the 95% joint confidence region of the estimates (Wald test
  with the covariance from the Hessian of the likelihood) and each in its 99% interval;
- on the full demo data: r and a (the purchase-rate shape and the dropout shape) in their 95%
  intervals, and P(alive) ranking customers the truth says are still active above those who
  dropped out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from crmlib import clv
from crmlib.data import load_dataset

NAMES = ("r", "alpha", "a", "b")


def test_bgnbd_clock_recovers_planted_parameters() -> None:
    from crmlib.simulate import purchases
    from crmlib.simulate.assumptions import load_assumptions
    from crmlib.simulate.calendar import build_calendar

    cfg = load_assumptions(Path(__file__).parents[2] / "params" / "simulate.yaml")
    cal = build_calendar(cfg)
    _, orders = purchases.draw_members(np.random.default_rng(7), 3000, cfg, cal)
    tx = pd.DataFrame(
        {
            "customer_id": np.char.add("M", orders.customer.astype(str)),
            "order_id": np.arange(len(orders.t)).astype(str),
            "ordered_at": (cal.start + pd.to_timedelta(orders.t, unit="D")).floor("s"),
            "amount": 1.0,
        }
    )
    data = clv.summary(tx, as_of=cfg["period"]["end"], time_unit="D")
    model = clv.fit(data)
    planted = np.array([float(cfg["bgnbd"][k]) for k in NAMES])
    estimate = np.array([model.params_[k] for k in NAMES])
    diff = estimate - planted
    wald = diff @ np.linalg.solve(model.covariance_.to_numpy(), diff)
    assert wald < chi2.ppf(0.95, df=4)
    se = np.array([model.standard_errors_[k] for k in NAMES])
    assert np.all(np.abs(diff) <= 2.576 * se)


@pytest.fixture(scope="module")
def demo_fit(demo_params: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    data = load_dataset(
        demo_params, quarantine_dir=tmp_path_factory.mktemp("quarantine"), cache=False
    )
    return data, clv.summary(data.transactions, as_of="2026-09-30", time_unit="D")


def test_demo_rate_and_dropout_shapes_recovered(demo_fit: tuple, demo_truth: dict) -> None:
    _, data = demo_fit
    assert demo_truth["time_unit"] == "days"
    model = clv.fit(data)
    table = model.parameters().set_index("parameter")
    for name in ("r", "a"):
        planted = demo_truth["bgnbd"][name]
        assert table.loc[name, "lower_95"] <= planted <= table.loc[name, "upper_95"], name
    # the same parameters in weeks: alpha scales by 1/7, the shapes do not change
    weeks = data.assign(recency=data["recency"] / 7, T=data["T"] / 7)
    weekly = clv.fit(weeks)
    assert weekly.params_["alpha"] == pytest.approx(model.params_["alpha"] / 7, rel=1e-4)
    assert weekly.params_["r"] == pytest.approx(model.params_["r"], rel=1e-4)


def test_demo_p_alive_ranks_planted_activity(demo_fit: tuple, demo_dir: Path) -> None:
    _, data = demo_fit
    model = clv.fit(data)
    truth = pd.read_parquet(demo_dir / "truth_customers.parquet")
    scored = clv.predict(data, model=model, horizon=30.0).merge(
        truth[["customer_id", "alive_at_end"]], on="customer_id"
    )
    repeat = scored[data["frequency"].to_numpy() > 0]
    alive = repeat.loc[repeat["alive_at_end"], "p_alive"].to_numpy()
    gone = repeat.loc[~repeat["alive_at_end"], "p_alive"].to_numpy()
    # probability that a random active customer gets a higher P(alive) than a dropped one (AUC)
    auc = (alive[:, None] > gone[None, :]).mean() + 0.5 * (alive[:, None] == gone[None, :]).mean()
    assert auc > 0.6
