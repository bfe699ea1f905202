"""A partial last period: left out by the default as_of, marked when a date asks for it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from crmlib import cohorts  # noqa: E402
from crmlib.plots.cohorts import cohort_heatmap  # noqa: E402

TX = pd.DataFrame(
    {
        "customer_id": ["A", "A", "B", "C"],
        "order_id": ["o1", "o2", "o3", "o4"],
        "ordered_at": pd.to_datetime(
            ["2024-01-10 10:00", "2024-02-05 11:00", "2024-02-03 09:00", "2024-03-01 04:01"]
        ),
        "amount": [10.0, 20.0, 30.0, 5.0],
    }
)


def _jan_feb_mar():
    return [pd.Period("2024-01", "M"), pd.Period("2024-02", "M"), pd.Period("2024-03", "M")]


def test_default_as_of_leaves_out_the_four_hours_of_march():
    """The export ends 2024-03-01 04:01, so as_of is 29 February (a leap year).

    Cohorts: January = {A} (A buys again in February), February = {B}; C's first order is
    after as_of. Every cell is complete: no 0% last cell from four hours of data.
    """
    ret = cohorts.cohort_retention(TX)
    wide = cohorts.cohort_matrix(ret)
    jan, feb, _ = _jan_feb_mar()
    assert wide.index.tolist() == [jan, feb]
    assert wide.loc[jan, ["cohort_size", "0", "1"]].tolist() == [1, 1.0, 1.0]
    assert wide.loc[feb, "0"] == 1.0 and pd.isna(wide.loc[feb, "1"])
    assert bool(ret["complete"].all())
    assert wide.attrs["partial_cells"] == [] and wide.attrs["partial_period"] == ""


def test_a_given_as_of_in_the_partial_month_marks_its_cells():
    """as_of 2024-03-01 wins: March shows, and its cells (Jan k=2, Feb k=1, Mar k=0) are
    partial; the heatmap's share view (k >= 1) hatches Jan k=2 and Feb k=1 and names March."""
    ret = cohorts.cohort_retention(TX, as_of="2024-03-01")
    wide = cohorts.cohort_matrix(ret)
    jan, feb, mar = _jan_feb_mar()
    assert wide.attrs["partial_cells"] == [(jan, "2"), (feb, "1"), (mar, "0")]
    assert wide.attrs["partial_period"] == "2024-03"
    assert wide.loc[jan, "2"] == 0.0  # would read as a collapse without its mark

    for language, words in (("en", "2024-03 is not complete"), ("zh", "2024-03 在数据中不完整")):
        ax = cohort_heatmap(ret, language=language)
        hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() == "///"]
        # rows: Jan (0), Feb (1), Mar (2); columns k = 1, 2 at x = 0, 1
        assert sorted(p.get_xy() for p in hatched) == [(0, 1), (1, 0)]
        legend = ax.get_legend()
        assert legend is not None and words in legend.get_texts()[0].get_text()
        plt.close(ax.figure)


def test_a_complete_heatmap_has_no_mark():
    ax = cohort_heatmap(cohorts.cohort_retention(TX))
    assert ax.get_legend() is None
    assert not [p for p in ax.patches if getattr(p, "get_hatch", lambda: None)() == "///"]
    plt.close(ax.figure)
