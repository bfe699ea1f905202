"""The one set of number formats: every missing or infinite value is "–", never 0 or "nan"."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crmlib.present import format as fmt


@pytest.mark.parametrize("value", [None, float("nan"), math.inf, -math.inf, pd.NA, np.nan])
def test_unmeasured_is_a_dash_everywhere(value: object) -> None:
    for write in (fmt.number, fmt.percent, fmt.pp, fmt.money, fmt.times):
        assert write(value) == fmt.MISSING


def test_numbers() -> None:
    assert fmt.number(1600784) == "1,600,784"
    assert fmt.number(np.int64(1600784)) == "1,600,784"
    assert fmt.number(np.float32(0.5)) == "0.500"
    assert fmt.number(246.584) == "246.58"
    assert fmt.number(0.0421) == "0.042"
    assert fmt.number(3.14e-9) == "3.1e-09"
    assert fmt.number("text") == "text"


def test_percent_pp_money_times_day() -> None:
    assert fmt.percent(0.12345) == "12.3%"
    assert fmt.percent(0.12345, digits=0) == "12%"
    assert fmt.pp(0.082) == "8.2"
    assert fmt.pp(0.082, sign=True) == "+8.2"
    assert fmt.pp(-0.082, sign=True) == "-8.2"
    assert fmt.money(12345.6) == "¥12,346"
    assert fmt.money(-1647.2) == "-¥1,647"
    assert fmt.money(-0.3) == "¥0"
    assert fmt.money(12.5, symbol="$", digits=2) == "$12.50"
    assert fmt.times(2.345) == "2.3"
    assert fmt.day("2026-03-05 17:30") == "2026-03-05"
