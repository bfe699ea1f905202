"""Every public analysis gives the same numbers on the embedded DuckDB, PostgreSQL and Spark.

The demo subset (the session's demo retailer, cleaned once on DuckDB) is copied into a real
PostgreSQL server and read by a local Spark session (conftest); each case runs one analysis on
the DuckDB tables and on the other engine's tables and compares: counts and labels exact, floats to 1e-9 relative, rule sets
identical (:mod:`compare`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from compare import assert_same

from crmlib import (
    basket,
    campaigns,
    channels,
    clv,
    cohorts,
    executive,
    kpis,
    lifecycle,
    rfm,
    segments,
    trends,
    value,
)
from crmlib.benchmark import compare_benchmarks
from crmlib.data.load import Dataset

#: a real database server is started: part of the slow suite
pytestmark = pytest.mark.slow


def _tx(ds: Dataset) -> Any:
    return ds.transactions


def _rfm(ds: Dataset) -> Any:
    return rfm.rfm_table(ds.transactions)


def _campaign_response(ds: Dataset) -> Any:
    return campaigns.campaign_response(ds.campaigns, ds.campaign_members, ds.transactions)


def _kpis(ds: Dataset) -> Any:
    period = kpis.period_bounds(_last_day(ds), period="month")
    return kpis.kpi_values(ds, period=period)


def _last_day(ds: Dataset) -> Any:
    from crmlib.data import resolve_as_of

    return resolve_as_of(ds.transactions, None)


def _trend_frame(ds: Dataset) -> Any:
    return trends.period_trends(ds.transactions)


#: name -> the analysis, run on a Dataset whose tables live on one engine
CASES: dict[str, Callable[[Dataset], Any]] = {
    "rfm.rfm_table": _rfm,
    "rfm.member_share": lambda ds: rfm.member_share(ds.transactions),
    "segments.segment_rfm": lambda ds: segments.segment_rfm(_rfm(ds)),
    "value.pareto": lambda ds: value.pareto(_rfm(ds)),
    "value.value_matrix": lambda ds: value.value_matrix(_rfm(ds)),
    "lifecycle.customer_stages": lambda ds: lifecycle.customer_stages(ds.transactions),
    # in chunks of customers picked by each engine's own hash: the same stages whatever the chunks
    "lifecycle.stage_summary": lambda ds: lifecycle.stage_summary(
        ds.transactions, customers_per_chunk=1000
    ),
    "lifecycle.stage_summary.percentile": lambda ds: lifecycle.stage_summary(
        ds.transactions, rule="percentile", customers_per_chunk=700
    ),
    "lifecycle.base_gap_percentiles": lambda ds: lifecycle.base_gap_percentiles(ds.transactions),
    "cohorts.cohort_retention": lambda ds: cohorts.cohort_retention(ds.transactions),
    "cohorts.order_milestones": lambda ds: cohorts.order_milestones(ds.transactions),
    "cohorts.purchase_intervals": lambda ds: cohorts.purchase_intervals(ds.transactions),
    "cohorts.acquisition_segments": lambda ds: cohorts.acquisition_segments(ds.transactions),
    # orders whose lines differ in category: every engine picks the same line
    "cohorts.acquisition_segments.category": lambda ds: cohorts.acquisition_segments(
        ds.transactions, column="category"
    ),
    "trends.period_trends": _trend_frame,
    "trends.category_mix": lambda ds: trends.category_mix(ds.transactions),
    "trends.decompose_revenue": lambda ds: trends.decompose_revenue(_trend_frame(ds)),
    "clv.summary": lambda ds: clv.summary(ds.transactions, as_of=_last_day(ds)),
    "basket.association_rules": lambda ds: basket.association_rules(ds.transactions),
    "basket.association_rules.category": lambda ds: basket.association_rules(
        ds.transactions, level="category"
    ),
    "basket.sequential_rules": lambda ds: basket.sequential_rules(ds.transactions),
    "campaigns.campaign_response": _campaign_response,
    "channels.channel_trends": lambda ds: channels.channel_trends(ds.transactions),
    "channels.multichannel": lambda ds: channels.multichannel(ds.transactions),
    "channels.touchpoint_counts": lambda ds: channels.touchpoint_counts(ds.touchpoints),
    "channels.touchpoint_effects": lambda ds: channels.touchpoint_effects(
        ds.touchpoints, ds.transactions
    ),
    "channels.complaint_churn": lambda ds: channels.complaint_churn(
        ds.touchpoints, ds.transactions
    ),
    "channels.service_usage": lambda ds: channels.service_usage(ds.customers, ds.transactions),
    "channels.funnel": lambda ds: channels.funnel(ds.events),
    "kpis.kpi_values": _kpis,
    "kpis.compare_periods": lambda ds: kpis.compare_periods(ds),
    "benchmark.compare_benchmarks": lambda ds: compare_benchmarks(kpis.compare_periods(ds)),
    "executive.value_at_risk": lambda ds: executive.value_at_risk(ds.transactions),
    "executive.segment_movements": lambda ds: executive.segment_movements(ds.transactions),
    "executive.top_cross_sell": lambda ds: executive.top_cross_sell(ds.transactions),
    "executive.executive_summary": lambda ds: executive.executive_summary(ds),
}

#: the engines compared with the embedded DuckDB one, and the fixture holding the demo on each
ENGINES: dict[str, str] = {"postgres": "pg_demo", "spark": "spark_demo"}

#: (engine, case) pairs that genuinely differ, with the reason (strict: they must fail)
XFAIL: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def duck_ds(duck_demo: dict[str, Any]) -> Dataset:
    return Dataset(**duck_demo)


@pytest.fixture(scope="module")
def expected(duck_ds: Dataset) -> dict[str, Any]:
    """Each case's result on DuckDB, computed once for every engine compared with it."""
    return {}


@pytest.mark.parametrize(
    ("engine", "case"),
    [
        pytest.param(
            engine,
            name,
            marks=pytest.mark.xfail(reason=XFAIL[engine, name], strict=True)
            if (engine, name) in XFAIL
            else (),
            id=f"{engine}-{name}",
        )
        for engine in ENGINES
        for name in CASES
    ],
)
def test_same_result_as_duckdb(
    engine: str,
    case: str,
    duck_ds: Dataset,
    expected: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    run = CASES[case]
    other = Dataset(**request.getfixturevalue(ENGINES[engine]))
    if case not in expected:
        expected[case] = run(duck_ds)
    got = run(other)
    assert_same(expected[case], got, f"{engine}: {case}")
