"""The run cache (crmlib.data.results): reuse, invalidation, what is never cached, parallel runs."""

from __future__ import annotations

import gzip
import multiprocessing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from crmlib import lifecycle, rfm
from crmlib.data import load_dataset, results
from crmlib.data.results import cached

CALLS: list[str] = []


@cached("test.count_orders")
def count_orders(transactions: Any, *, as_of: str = "", params: Any = None) -> pd.DataFrame:
    """A cached analysis that records each time it really runs."""
    CALLS.append(as_of)
    frame = transactions.group_by("customer_id").aggregate(n=transactions.count()).execute()
    frame = frame.sort_values("customer_id", ignore_index=True)
    frame.attrs["as_of"] = as_of
    return frame


@cached("test.raw_table")
def raw_table(transactions: Any) -> Any:
    """Returns an Ibis expression: never cached, it names one process's tables."""
    CALLS.append("raw")
    return transactions.limit(5)


class Labelled(pd.DataFrame):
    """A DataFrame subclass with an attribute of its own, as some analyses return."""

    _metadata = ["label"]

    @property
    def _constructor(self) -> type:
        return Labelled


@cached("test.labelled")
def labelled(transactions: Any) -> Labelled:
    CALLS.append("labelled")
    out = Labelled({"a": [1, 2]})
    out.label = "kept"
    return out


class Fitted:
    """An object that no hash of its content describes, such as a fitted model."""

    def __init__(self, n: int) -> None:
        self.n = n


@cached("test.fit")
def fit_model(transactions: Any) -> Fitted:
    CALLS.append("fit")
    return Fitted(int(transactions.count().execute()))


@cached("test.flagged")
def flagged(transactions: Any) -> pd.DataFrame:
    """A frame carrying another cached result in its attrs, as the value at risk carries its
    CLV analysis."""
    CALLS.append("flagged")
    out = pd.DataFrame({"a": [1]})
    out.attrs["model"] = fit_model(transactions)
    return out


@cached("test.use_model")
def use_model(transactions: Any, model: Fitted) -> int:
    CALLS.append("use")
    return model.n + 1


@pytest.fixture()
def dataset(demo_params: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's demo loaded with its cache (cleaned tables and results) under tmp_path."""
    monkeypatch.setenv(results.ENV, "1")
    monkeypatch.setenv("CRMWB_PROJECT_DIR", str(tmp_path))
    (tmp_path / "params").mkdir()
    CALLS.clear()
    return load_dataset(_params(demo_params, tmp_path))


def _params(demo_params: Path, tmp_path: Path) -> dict[str, Any]:
    """The session's demo params (transactions only) with folders under tmp_path."""
    params = yaml.safe_load(demo_params.read_text(encoding="utf-8"))
    return {
        "transactions": params["transactions"],
        "cache_dir": str(tmp_path / "cache"),
        "quarantine_dir": str(tmp_path / "quarantine"),
    }


def _calls_and_hits(name: str) -> tuple[int, int]:
    """Calls and cache hits of cached analysis ``name`` so far in this process."""
    stats = results.statistics().set_index("name")
    if name not in stats.index:
        return 0, 0
    return int(stats.loc[name, "calls"]), int(stats.loc[name, "hits"])


def _files(dataset: Any, name: str) -> list[Path]:
    folder = Path(dataset.source["cache_dir"]) / dataset.fingerprint / "results"
    return sorted(p for p in folder.glob(f"{name}-*") if not p.name.endswith(".lock"))


def test_a_result_is_computed_once_and_read_back_identical(dataset: Any) -> None:
    first = count_orders(dataset.transactions, as_of="2026-01-31")
    again = count_orders(dataset.transactions, as_of="2026-01-31")
    assert CALLS == ["2026-01-31"]
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs == {"as_of": "2026-01-31"}
    [stored] = _files(dataset, "test.count_orders")
    assert stored.suffix == ".parquet"  # beside the cleaned tables, as Parquet
    assert stored.parent.parent == Path(dataset.source["cache_dir"]) / dataset.fingerprint
    stats = results.statistics().set_index("name").loc["test.count_orders"]
    assert (stats["calls"], stats["hits"]) == (2, 1)


def test_any_changed_input_gives_a_new_result(
    dataset: Any, demo_params: Path, tmp_path: Path
) -> None:
    count_orders(dataset.transactions, as_of="2026-01-31")
    count_orders(dataset.transactions, as_of="2026-02-28")  # another argument
    assert CALLS == ["2026-01-31", "2026-02-28"]
    # a params file named by an argument counts by its content
    rules = tmp_path / "rules.yaml"
    rules.write_text("a: 1\n", encoding="utf-8")
    count_orders(dataset.transactions, params=str(rules))
    count_orders(dataset.transactions, params=str(rules))
    rules.write_text("a: 2\n", encoding="utf-8")
    count_orders(dataset.transactions, params=str(rules))
    assert len(CALLS) == 4
    # the project's params folder: the analyses read their defaults from it
    (tmp_path / "params" / "lifecycle.yaml").write_text("period: month\n", encoding="utf-8")
    count_orders(dataset.transactions)
    assert len(CALLS) == 5
    # new data: the source file changes, so does the dataset's fingerprint
    params = _params(demo_params, tmp_path)
    moved = tmp_path / "tx.csv"
    with gzip.open(params["transactions"]["path"], "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    moved.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    params["transactions"]["path"] = str(moved)
    smaller = load_dataset(params)
    assert smaller.fingerprint != dataset.fingerprint
    count_orders(smaller.transactions)
    assert len(CALLS) == 6


def test_the_code_version_is_part_of_the_key(dataset: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    count_orders(dataset.transactions)
    monkeypatch.setattr(results, "code_version", lambda: "another release")
    count_orders(dataset.transactions)
    assert len(CALLS) == 2


def test_what_the_cache_cannot_identify_or_keep_is_computed_each_time(
    dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx = dataset.transactions
    count_orders(tx.filter(tx.amount > 0))  # an expression built in the notebook
    count_orders(tx.filter(tx.amount > 0))
    assert len(CALLS) == 2
    raw_table(tx)
    raw_table(tx)  # an Ibis result is not pickled
    assert CALLS[-2:] == ["raw", "raw"]
    assert _files(dataset, "test.raw_table") == []
    first = labelled(tx)
    again = labelled(tx)
    assert type(again) is Labelled and again.label == "kept" and first.equals(again)
    assert [p.suffix for p in _files(dataset, "test.labelled")] == [".pkl"]
    monkeypatch.setenv(results.ENV, "0")
    CALLS.clear()
    count_orders(tx)
    count_orders(tx)
    assert len(CALLS) == 2


def test_frames_passed_in_count_by_their_content(dataset: Any) -> None:
    table = rfm.rfm_table(dataset.transactions)
    again = rfm.rfm_table(dataset.transactions)
    pd.testing.assert_frame_equal(table, again)
    summary = lifecycle.stage_summary(dataset.transactions, customers_per_chunk=1000)
    again = lifecycle.stage_summary(dataset.transactions, customers_per_chunk=1000)
    pd.testing.assert_frame_equal(summary.latest, again.latest)
    assert len(_files(dataset, "rfm_table")) == 1 and len(_files(dataset, "stage_summary")) == 1
    token = results._token(table, [])
    changed = table.copy()
    changed.loc[0, "monetary"] += 0.01
    assert results._token(changed, []) != token


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(segment=f["segment"].where(f.index != 1, "zz")),  # one value
        lambda f: f.assign(segment=f["segment"].where(f.index != 1, None)),  # a value missing
        lambda f: f.assign(segment=f["segment"].where(f.index != 2, "")),  # missing vs empty
        lambda f: f.iloc[::-1].reset_index(drop=True),  # the order of the rows
        lambda f: f.iloc[1:],  # the index
        lambda f: f.rename(columns={"segment": "group"}),
        lambda f: f.astype({"segment": object}),  # the type
    ],
    ids=["value", "missing", "empty", "order", "index", "name", "type"],
)
def test_text_columns_count_by_their_content(change: Any) -> None:
    """Arrow-backed text is keyed by its buffers (fast at millions of rows), yet any change of
    content, position, type or name gives a new key; equal content gives the same one."""
    frame = pd.DataFrame(
        {"customer_id": pd.Series(["C1", "C2", "C3", None], dtype="str"),
         "segment": pd.Series(["a", "bc", None, "d"], dtype="str")}
    )  # fmt: skip
    token = results._token(frame, [])
    rebuilt = pd.DataFrame({c: pd.Series(list(frame[c]), dtype="str") for c in frame})
    assert results._token(rebuilt, []) == token
    # a slice of a longer array (offset buffers) keys as the same values built afresh
    longer = pd.concat([frame, frame], ignore_index=True).iloc[4:].reset_index(drop=True)
    assert results._token(longer, []) == token
    assert results._token(change(frame), []) != token
    moved = pd.DataFrame({"segment": pd.Series(["ab", "c"], dtype="str")})
    assert results._token(moved, []) != results._token(
        pd.DataFrame({"segment": pd.Series(["a", "bc"], dtype="str")}), []
    )


def _child(params: dict[str, Any], project: str, log: str) -> None:
    import os
    import time

    os.environ["CRMWB_PROJECT_DIR"] = project
    data = load_dataset(params)

    @cached("test.slow")
    def slow(transactions: Any) -> pd.DataFrame:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("computed\n")
        time.sleep(1.0)
        return pd.DataFrame({"n": [int(transactions.count().execute())]})

    slow(data.transactions)


def test_notebooks_in_parallel_compute_a_result_once(
    dataset: Any, demo_params: Path, tmp_path: Path
) -> None:
    log = tmp_path / "computed.log"
    ctx = multiprocessing.get_context("spawn")
    args = (_params(demo_params, tmp_path), str(tmp_path), str(log))
    workers = [ctx.Process(target=_child, args=args) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert log.read_text(encoding="utf-8").splitlines() == ["computed"]


def test_duckdb_threads_setting(tmp_path: Path) -> None:
    """CRMWB_DUCKDB_THREADS sets the embedded engine's threads (one makes sums repeatable)."""
    import os
    import subprocess
    import sys

    code = (
        "from crmlib.data.engine import connection\n"
        "print(connection().raw_sql(\"SELECT current_setting('threads')\").fetchone()[0])"
    )
    env = {**os.environ, "CRMWB_DUCKDB_THREADS": "1"}
    one = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert one.stdout.strip() == "1", one.stderr
    env["CRMWB_DUCKDB_THREADS"] = "many"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "CRMWB_DUCKDB_THREADS must be a whole number >= 1; got 'many'" in bad.stderr


def test_a_damaged_entry_is_computed_again(dataset: Any) -> None:
    first = count_orders(dataset.transactions, as_of="2026-03-31")
    [stored] = _files(dataset, "test.count_orders")
    stored.write_bytes(b"not parquet")
    again = count_orders(dataset.transactions, as_of="2026-03-31")
    assert CALLS == ["2026-03-31", "2026-03-31"]
    pd.testing.assert_frame_equal(first, again)
    [rewritten] = _files(dataset, "test.count_orders")
    assert rewritten.read_bytes() != b"not parquet"


def test_the_summary_and_the_lifecycle_notebook_stage_the_base_once(dataset: Any) -> None:
    """The executive summary's stage change and notebook 04 ask for the same stage summary (the
    rules resolved from the same files), so a run stages the customers once."""
    from crmlib import executive

    before = _calls_and_hits("stage_summary")
    day = pd.Timestamp("2024-06-30")
    executive.segment_movements(dataset.transactions, as_of=day, period="month")
    rules = lifecycle.load_rules("", zero_means_default=True, period="", rule="",
                                 at_risk_days=0.0, churned_days=0.0, years=3)  # fmt: skip
    lifecycle.stage_summary(dataset.transactions, as_of=day, params=rules)
    after = _calls_and_hits("stage_summary")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    assert len(_files(dataset, "stage_summary")) == 1


def test_the_summary_and_the_lifetime_value_notebook_share_one_backtest(dataset: Any) -> None:
    """The executive summary's risk rule and notebook 03 ask for the same backtest; 03 passes
    settings the backtest does not read (a horizon, a top share), which must not key it apart."""
    from crmlib import clv, executive

    before = _calls_and_hits("clv.backtest")
    tx = dataset.transactions
    executive.risk_rule(tx, as_of=pd.Timestamp("2024-06-30"))
    end = clv.observation_end(tx, as_of="2024-06-30")
    settings = {"model": "bgnbd", "time_unit": "W", "horizon_months": 12, "top_share": 0.1,
                "monthly_discount_rate": 0.01}  # fmt: skip
    check = clv.backtest(tx, calibration_end=clv.calibration_end(end, holdout_months=6),
                         as_of=end, model="bgnbd", time_unit="W", params=settings)  # fmt: skip
    after = _calls_and_hits("clv.backtest")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    assert clv.better_rule(check) in clv.RISK_RULES


def test_a_result_held_by_a_stored_frame_is_named_when_read_back(dataset: Any) -> None:
    first = flagged(dataset.transactions)
    use_model(dataset.transactions, first.attrs["model"])
    results._RESULTS.clear()  # a later process, which computed nothing yet
    again = flagged(dataset.transactions)
    assert again.attrs["model"] is not first.attrs["model"]  # read back from the file
    assert use_model(dataset.transactions, again.attrs["model"]) == first.attrs["model"].n + 1
    assert CALLS == ["flagged", "fit", "use"]  # the second use_model was found, not computed


def test_the_summary_and_the_cross_sell_notebook_share_the_sequential_rules(dataset: Any) -> None:
    """The summary asks for "A then B" rules at its resolved report date and any lift; notebook
    05 with an empty date and its own lift threshold. When the report date is the data's last
    day both read every line, so one computation serves both, each filtered to its lift."""
    from crmlib import basket, executive
    from crmlib.data import resolve_as_of

    tx = dataset.transactions
    last = pd.Timestamp(tx.aggregate(m=tx.ordered_at.max()).execute()["m"].iloc[0]).normalize()
    before = _calls_and_hits("sequential_rules")
    executive.top_cross_sell(tx, as_of=last, within_days=30)
    page = basket.sequential_rules(tx, within_days=30, level="sku", min_customers=20,
                                   min_lift=1.2, as_of="")  # fmt: skip
    after = _calls_and_hits("sequential_rules")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    assert (page["lift"] >= 1.2).all() and page.attrs["within_days"] == 30
    # a report date before the last day cuts lines: computed on its own
    basket.sequential_rules(tx, within_days=30, as_of=resolve_as_of(tx, "2024-06-30"))
    assert _calls_and_hits("sequential_rules")[1] - before[1] == 1
    assert len(_files(dataset, "sequential_rules")) == 2


def test_rules_of_different_windows_share_one_pass_over_the_lines(
    dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary's 30-day and the cross-sell page's 60-day rules read the members' purchase
    days once (``purchase_events``) and equal what each window gives with the cache off."""
    from crmlib import basket

    tx = dataset.transactions
    before = _calls_and_hits("purchase_events")
    shared = {w: basket.sequential_rules(tx, within_days=w, level="sku", min_customers=20)
              for w in (30, 60)}  # fmt: skip
    after = _calls_and_hits("purchase_events")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    assert len(_files(dataset, "purchase_events")) == 1
    monkeypatch.setenv(results.ENV, "0")
    for window, table in shared.items():
        alone = basket.sequential_rules(tx, within_days=window, level="sku", min_customers=20)
        assert len(alone) > 0
        pd.testing.assert_frame_equal(table, alone)
        assert table.attrs == alone.attrs


def test_default_and_spelled_out_settings_share_one_clv_fit(dataset: Any) -> None:
    """The summary fits the CLV models with the defaults, notebook 03 with its parameters
    spelled out (the same values) and the resolved date: one fit serves both; another
    setting is another fit."""
    from crmlib import clv
    from crmlib.data import resolve_as_of

    tx = dataset.transactions
    before = _calls_and_hits("clv.analyse")
    defaults = clv.analyse(tx)
    spelled = clv.analyse(tx, as_of=resolve_as_of(tx, ""),
                          params={"model": "bgnbd", "time_unit": "W", "horizon_months": 12})  # fmt: skip
    after = _calls_and_hits("clv.analyse")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    pd.testing.assert_frame_equal(defaults.scores, spelled.scores)
    other = clv.analyse(tx, params={"horizon_months": 6})
    assert _calls_and_hits("clv.analyse")[1] - before[1] == 1
    assert not other.scores["clv"].equals(defaults.scores["clv"])


def test_an_empty_report_date_and_the_same_day_share_one_result(dataset: Any) -> None:
    """Notebook 02 asks for the RFM table with an empty as_of, 03 with the day it resolved."""
    from crmlib.data import resolve_as_of

    tx = dataset.transactions
    before = _calls_and_hits("rfm_table")
    empty = rfm.rfm_table(tx, as_of="")
    resolved = rfm.rfm_table(tx, as_of=resolve_as_of(tx, ""))
    after = _calls_and_hits("rfm_table")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    pd.testing.assert_frame_equal(empty, resolved)
    rfm.rfm_table(tx, as_of="2024-06-30")  # another day: another result
    assert _calls_and_hits("rfm_table")[1] - before[1] == 1


def test_the_outlook_and_the_lifetime_value_notebook_share_one_forecast(dataset: Any) -> None:
    """Notebook 03 plans with drivers and customer intervals, the executive summary's outlook
    with neither: one draw of the forecast serves both (the data here has no customers table,
    so the analysis alone names where it is kept), and both quote the same base."""
    from crmlib import clv
    from crmlib.clv.workflow import rfm_segments

    tx = dataset.transactions
    analysis = clv.analyse(tx)
    segments = rfm_segments(tx, as_of=analysis.as_of)
    before = _calls_and_hits("clv.forecast")
    page = clv.plan(analysis, customers=None, segments=segments)
    outlook = clv.plan(analysis, customers=None, segments=segments, drivers=False,
                       customer_intervals=False)  # fmt: skip
    after = _calls_and_hits("clv.forecast")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    assert len(page.bands.customers) == len(analysis.summary)
    assert outlook.bands.customers.empty
    pd.testing.assert_frame_equal(outlook.bands.horizons, page.bands.horizons)
    pd.testing.assert_frame_equal(outlook.bands.forecast, page.bands.forecast)
    uncached = clv.intervals(analysis.summary, model=analysis.model,
                             spend_model=analysis.spend_model, params=analysis.settings,
                             segments=segments, as_of=analysis.as_of)  # fmt: skip
    pd.testing.assert_frame_equal(page.bands.forecast, uncached.forecast)
    pd.testing.assert_frame_equal(page.bands.customers, uncached.customers)
