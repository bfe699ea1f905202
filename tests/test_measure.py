"""Measured, or why not: the one mechanism by which a figure is reported as not measured."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crmlib.errors import ConfigError
from crmlib.i18n import LANGUAGES, t
from crmlib.measure import (
    REASONS,
    WHY_NOT,
    NotMeasured,
    column_reason,
    is_measured,
    mark_column,
    mark_rows,
    not_measured,
    row_reasons,
    small_base,
)
from crmlib.present.format import MISSING, figure, money, number, percent, why_not


def test_every_reason_has_a_text_in_every_language() -> None:
    for reason in REASONS:
        for language in LANGUAGES:
            assert t(f"measure.{reason}", language)


def test_an_unknown_reason_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown reason 'typo'"):
        not_measured("typo")


def test_not_measured_reads_as_missing_never_as_zero() -> None:
    figure_ = not_measured("no_control_group")
    assert math.isnan(float(figure_))
    assert not figure_
    assert not is_measured(figure_)
    assert not is_measured(float("inf"))
    assert not is_measured(None)
    assert is_measured(0) and is_measured(0.0)
    for fmt in (number, percent, money):
        assert fmt(figure_) == MISSING
    assert figure(0.0, "en", fmt=percent) == "0.0%"


def test_figure_writes_dash_and_reason_in_both_languages() -> None:
    base = not_measured("small_base", base=3, minimum=30)
    assert figure(base, "en", fmt=percent) == "– (base of 3, below the minimum of 30)"
    assert figure(base, "zh", fmt=percent) == "– (基数 3，低于最低要求 30)"
    unmapped = not_measured("column_not_mapped", table="transactions", column="coupon_code")
    assert figure(np.nan, "en", why=unmapped) == (
        "– (column coupon_code of transactions is not mapped)"
    )
    # a measured value is written even when a reason is passed for the NaN case
    assert figure(0.25, "en", fmt=percent, why=unmapped) == "25.0%"


def test_why_not_writes_thousands_and_tolerates_missing_details() -> None:
    assert why_not("small_base", "en", base=1234, minimum=5000) == (
        "base of 1,234, below the minimum of 5,000"
    )
    assert why_not("partial_period", "en") == "– is not complete in the data"


@pytest.mark.parametrize(("base", "minimum", "measured"), [(3, 30, False), (29, 30, False),
                         (30, 30, True), (None, 1, False), (np.int64(31), 30, True)])  # fmt: skip
def test_small_base_rule(base: object, minimum: int, measured: bool) -> None:
    result = small_base(base, minimum=minimum)
    assert (result is None) is measured
    if result is not None:
        assert result.reason == "small_base" and result.detail["minimum"] == minimum


@pytest.mark.parametrize("minimum", [0, -1, 2.5, True, "30"])
def test_small_base_minimum_must_be_a_positive_whole_number(minimum: object) -> None:
    with pytest.raises(ConfigError, match="min_base"):
        small_base(10, minimum=minimum)  # type: ignore[arg-type]


def test_mark_rows_blanks_the_figures_and_names_the_reason() -> None:
    frame = pd.DataFrame({"campaign": ["a", "b", "c"], "rate": [0.5, 0.9, 0.1], "n": [10, 2, 40]})
    out = mark_rows(frame, frame["n"] < 5, "small_base", columns=["rate"], detail={"minimum": 5})
    assert out["rate"].isna().tolist() == [False, True, False]
    assert out[WHY_NOT].tolist() == ["", "small_base", ""]
    again = mark_rows(out, out["campaign"] != "c", "no_control_group", columns=["rate"])
    # the first reason of a row stays; the new one marks only rows not yet marked
    assert again[WHY_NOT].tolist() == ["no_control_group", "small_base", ""]
    reasons = row_reasons(again)
    assert reasons.iloc[1] == NotMeasured("small_base", {"minimum": 5})
    assert reasons.iloc[2] is None
    assert frame["rate"].notna().all()  # the input is not changed


def test_mark_column_is_kept_in_attrs() -> None:
    frame = pd.DataFrame({"redemption": [np.nan, np.nan]})
    mark_column(
        frame, "redemption", not_measured("column_not_mapped", table="orders", column="coupon_code")
    )
    assert column_reason(frame, "redemption") == NotMeasured(
        "column_not_mapped", {"table": "orders", "column": "coupon_code"}
    )
    assert column_reason(frame, "other") is None
