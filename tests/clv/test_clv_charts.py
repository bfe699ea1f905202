"""Charts of crmlib.clv (crmlib.plots.clv) draw the tables they are given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from crmlib import clv
from crmlib.plots import clv as clv_plots

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def check(cdnow_sample: pd.DataFrame) -> clv.Backtest:
    return clv.backtest(cdnow_sample, calibration_end=CAL_END, as_of=OBS_END)


@pytest.fixture(scope="module")
def analysis(cdnow_sample: pd.DataFrame) -> clv.Analysis:
    return clv.analyse(cdnow_sample, as_of="")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_charts_draw_their_data(check: clv.Backtest, analysis: clv.Analysis, language: str) -> None:
    ax = clv_plots.backtest_by_frequency(check, language=language)
    assert isinstance(ax, Axes) and len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[0].get_ydata(), check.by_frequency["actual"])
    ax = clv_plots.tracking_plot(check, language=language)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), check.tracking["actual"])
    ax = clv_plots.clv_distribution(analysis.scores, language=language)
    assert sum(p.get_height() for p in ax.patches) == (analysis.scores["clv"] > 0).sum()
    table = clv.deciles(analysis.scores)
    ax = clv_plots.clv_by_segment(table, language=language)
    assert len(ax.patches) == 10
    ax = clv_plots.p_alive_by_recency(analysis.scores, language=language)
    assert 1 <= len(ax.lines) <= 4
    assert all(0 <= y <= 1 for line in ax.lines for y in line.get_ydata())
    plt.close("all")
