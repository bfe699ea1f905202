"""Daily state alerts: exactly the planted changes, once each; nothing when nothing changed."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from crmlib import alerts
from crmlib.errors import ConfigError
from crmlib.present.alerts import alerts_summary, changes_table

RULES = {"high_value": {"top_share": 0.5}}  # 6 customers: the top 3 by spend are high value


def _orders(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [f"O{i}" for i in range(len(rows))],
            "ordered_at": pd.to_datetime([r[1] + " 12:00" for r in rows]),
            "amount": [r[2] for r in rows],
        }
    )


#: A: high value, last order 10 Jan (82 days before 1 Apr, 101 before 20 Apr: drifts to at risk)
#: B: bought twice in June 2023 (churned by April), buys a 3rd time on 10 Apr
#: C: 2 orders in March, the 3rd on 5 Apr (the milestone order)
#: D: high value and active (2 orders in March); complains on 15 Apr
#: E: low value, last order 12 Jan: drifts to at risk too, but is not high value
#: F: one small order
LINES = _orders(
    [
        ("A", "2024-01-01", 600.0),
        ("A", "2024-01-10", 400.0),
        ("B", "2023-06-01", 250.0),
        ("B", "2023-06-15", 250.0),
        ("B", "2024-04-10", 100.0),
        ("C", "2024-03-20", 20.0),
        ("C", "2024-03-25", 20.0),
        ("C", "2024-04-05", 10.0),
        ("D", "2024-03-01", 500.0),
        ("D", "2024-03-28", 400.0),
        ("E", "2024-01-05", 10.0),
        ("E", "2024-01-12", 10.0),
        ("F", "2024-03-30", 10.0),
    ]
)
TOUCHPOINTS = pd.DataFrame(
    {
        "customer_id": ["D", "E", "D"],
        "occurred_at": pd.to_datetime(["2024-04-15 09:00", "2024-04-16 10:00", "2024-02-01 08:00"]),
        "channel": ["phone"] * 3,
        "kind": ["complaint", "complaint", "inquiry"],
        "content": ["late delivery", "rude", "where is my parcel"],
    }
)
DATA = SimpleNamespace(transactions=LINES, touchpoints=TOUCHPOINTS)


def _states(day: str) -> pd.DataFrame:
    return alerts.customer_states(DATA, as_of=day, params=RULES)


def test_states_hand_checked():
    april_1 = _states("2024-04-01").set_index("customer_id")
    # spend to date: A 1000, D 900, B 500 (C 40, E 20, F 10): the top half is A, D, B
    assert april_1["monetary"].to_dict() == {
        "A": 1000.0, "B": 500.0, "C": 40.0, "D": 900.0, "E": 20.0, "F": 10.0
    }  # fmt: skip
    assert april_1.index[april_1["high_value"]].tolist() == ["A", "B", "D"]
    assert april_1.loc["C", "orders"] == 2 and april_1.loc["B", "stage"] == "churned"
    assert april_1["complaints"].sum() == 0  # the inquiry of 1 Feb is not a complaint
    april_20 = _states("2024-04-20").set_index("customer_id")
    assert april_20.loc[["D", "E"], "complaints"].tolist() == [1.0, 1.0]
    assert april_20.loc["A", "stage"] == "at_risk" and april_1.loc["A", "stage"] != "at_risk"


def test_exactly_the_planted_changes_once_each(tmp_path):
    """Day 1 (1 Apr) -> day 2 (20 Apr): the planted changes; day 2 -> day 3: nothing new."""
    day1, day2, day3 = _states("2024-04-01"), _states("2024-04-20"), _states("2024-04-21")
    changes = alerts.state_changes(day1, day2, params=RULES)
    got = sorted(zip(changes["change"], changes["customer_id"], strict=True))
    assert got == [
        ("complaint", "D"),  # E complained too, but E is not high value
        ("high_value_at_risk", "A"),  # E drifted to at risk too, but is not high value
        ("milestone", "B"),
        ("milestone", "C"),
        ("reactivated", "B"),
    ]
    milestone = changes[changes["change"] == "milestone"].set_index("customer_id")
    assert milestone[["before", "after"]].astype(int).values.tolist() == [[2, 3], [2, 3]]
    assert alerts.change_counts(changes) == {
        "high_value_at_risk": 1, "complaint": 1, "reactivated": 1, "milestone": 2
    }  # fmt: skip
    assert alerts.state_changes(day2, day3, params=RULES).empty
    assert alerts.state_changes(None, day1, params=RULES).empty  # first run: a baseline only


def test_the_archive_gives_the_last_earlier_snapshot(tmp_path):
    """A missed day compares with the last run that happened; hidden folders are skipped."""
    history = tmp_path / "reports" / "daily"
    day1, day2 = _states("2024-04-01"), _states("2024-04-20")
    none = alerts.state_changes(None, day1, params=RULES)
    alerts.save_states(day1, none, history / "2024-04-01")
    alerts.save_states(day2, none, history / ".tmp-2024-04-20-1-x")  # a run being written
    assert alerts.previous_states(history, before="2024-04-01") is None
    got = alerts.previous_states(history, before="2024-04-20")
    assert got is not None and got["as_of"].iloc[0] == pd.Timestamp("2024-04-01")
    changes = alerts.state_changes(got, day2, params=RULES)
    path = alerts.save_states(day2, changes, history / "2024-04-20", compared_with=got["as_of"][0])
    summary = pd.read_json(path, typ="series")
    assert (summary["total"], summary["compared_with"]) == (5, "2024-04-01")


def test_rules_can_leave_changes_out_and_are_checked():
    day1, day2 = _states("2024-04-01"), _states("2024-04-20")
    rules = {**RULES, "alerts": {"milestone": {"enabled": False}}}
    kinds = set(alerts.state_changes(day1, day2, params=rules)["change"])
    assert kinds == {"complaint", "high_value_at_risk", "reactivated"}
    with pytest.raises(ConfigError, match="unknown stage.*lost"):
        alerts.load_alert_rules({"alerts": {"reactivated": {"from_stages": ["lost"]}}})
    with pytest.raises(ConfigError, match="unknown change.*birthday"):
        alerts.load_alert_rules({"alerts": {"birthday": {}}})
    with pytest.raises(ConfigError, match="top_share"):
        alerts.load_alert_rules({"high_value": {"top_share": 0}})


def test_words_in_both_languages():
    day1, day2 = _states("2024-04-01"), _states("2024-04-20")
    changes = alerts.state_changes(day1, day2, params=RULES)
    counts = alerts.change_counts(changes)
    first = alerts_summary(counts, as_of=day2["as_of"][0], compared_with=None, language="en")
    assert "First run" in first and "baseline" in first
    en = alerts_summary(
        counts, as_of=day2["as_of"][0], compared_with=day1["as_of"][0], states=day2,
        top_share=0.5, language="en",
    )  # fmt: skip
    assert "as of 2024-04-20" in en and "run of 2024-04-01 (19 day(s) earlier)" in en
    assert "5 customer change(s) need a person" in en
    assert "**2** — Customers who just reached the milestone order" in en
    assert "top 50% of customers by spend to date (3 customers)" in en
    zh = alerts_summary(
        counts, as_of=day2["as_of"][0], compared_with=day1["as_of"][0], language="zh"
    )
    assert "共 5 项客户变化" in zh and "**1** — 流失客户重新购买" in zh
    table = changes_table(changes, language="zh", top=1)
    assert table.attrs == {"shown": 4, "total": 5, "customer_ids": ["A", "D", "B", "B"]}
    first_row = table.iloc[0].tolist()
    assert first_row[:4] == ["高价值客户转为预警或流失", "A", "活跃", "预警"]
    nothing = alerts_summary(
        alerts.change_counts(changes[:0]), as_of=day2["as_of"][0],
        compared_with=day1["as_of"][0], language="en",
    )  # fmt: skip
    assert "Nothing changed that needs a person." in nothing


def test_complaints_without_a_touchpoints_table_are_not_measured():
    states = alerts.customer_states(LINES, as_of="2024-04-20", params=RULES)
    assert states["complaints"].isna().all()
    text = alerts_summary(
        {}, as_of=states["as_of"][0], compared_with=pd.Timestamp("2024-04-19"), states=states,
        top_share=0.5, language="en",
    )  # fmt: skip
    assert "Complaints: – (no touchpoints table" in text


def test_stage_chart_counts_every_customer_once():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlib.plots.alerts import stage_chart

    states = _states("2024-04-20")
    ax = stage_chart(states, language="en")
    widths = [bar.get_width() for bar in ax.patches]
    assert sum(widths) == len(states) == 6
    assert ax.get_xlabel() == "Customers (count)"
    assert ax.get_title() == "Customers by lifecycle stage on 2024-04-20"
    plt.close(ax.figure)
