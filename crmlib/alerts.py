"""Daily state alerts: which customers changed state since the last run, in ways a person acts on.

Each run of the ``daily`` pack takes a snapshot of every customer's state as of its day
(:func:`customer_states`: lifecycle stage, orders to date, spend to date, whether they are high
value, complaints to date), saves it in its run folder (:func:`save_states`), and compares it
with the snapshot of the last earlier run in the archive (:func:`previous_states`), so a missed
day still compares with the last run that happened. :func:`state_changes` lists the changes the
rules of ``params/alerts.yaml`` ask for:

- ``high_value_at_risk``: a high-value customer moved into an alert stage (at risk, churned);
- ``reactivated``: a customer in a lost stage (churned) bought again;
- ``milestone``: a customer just placed a milestone order (e.g. the 3rd, after which
  relationships stabilise);
- ``complaint``: a high-value customer complained since the last run.

Numbers only: the words are :mod:`crmlib.present.alerts`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.config import check_range, load_params
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.errors import ConfigError
from crmlib.lifecycle import STAGES, latest_stages, stage_summary
from crmlib.rfm import rfm_table

__all__ = [
    "DailyAlerts",
    "daily_alerts",
    "CHANGES",
    "STATES_FILE",
    "CHANGES_FILE",
    "load_alert_rules",
    "customer_states",
    "state_changes",
    "save_states",
    "previous_states",
    "change_counts",
]

#: The kinds of change an alert can be about, in the order they are listed.
CHANGES: tuple[str, ...] = ("high_value_at_risk", "complaint", "reactivated", "milestone")

#: Where a run keeps its snapshot and its counts, inside the run folder.
STATES_FILE = "alerts/states.parquet"
CHANGES_FILE = "alerts/changes.json"

_STATE_COLUMNS = [
    "customer_id",
    "stage",
    "orders",
    "monetary",
    "value_rank",
    "high_value",
    "complaints",
    "as_of",
]


def load_alert_rules(params: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The alert rules of ``params/alerts.yaml``, checked; ``params`` overrides them key by key.

    Raises
    ------
    ConfigError
        Naming the key and the value that is not allowed.
    """
    cfg = load_params("alerts.yaml", params)
    high = dict(cfg.get("high_value") or {})
    check_range("high_value.top_share", high.get("top_share"), low=0, high=1, low_inclusive=False)
    high["min_spend"] = float(check_range("high_value.min_spend", high.get("min_spend", 0), low=0))
    alerts = dict(cfg.get("alerts") or {})
    unknown = set(alerts) - set(CHANGES)
    if unknown:
        raise ConfigError(
            f"alerts: unknown change(s) {', '.join(sorted(unknown))}; allowed: {', '.join(CHANGES)}"
        )
    for kind in CHANGES:
        rule = dict(alerts.get(kind) or {})
        rule["enabled"] = bool(rule.get("enabled", True))
        for key in ("stages", "from_stages"):
            if key in rule:
                bad = [s for s in rule[key] if s not in STAGES]
                if bad:
                    raise ConfigError(
                        f"alerts.{kind}.{key}: unknown stage(s) {bad}; allowed: {', '.join(STAGES)}"
                    )
        if kind == "milestone":
            orders = rule.get("orders") or []
            if not orders or any(not isinstance(k, int) or k < 2 for k in orders):
                raise ConfigError(
                    f"alerts.milestone.orders must list order numbers of 2 or more; got {orders!r}"
                )
        alerts[kind] = rule
    cfg["high_value"], cfg["alerts"] = high, alerts
    return cfg


def customer_states(
    data: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    lifecycle_params: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every customer's state as of ``as_of``: the snapshot a daily run keeps.

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` (its touchpoints give the complaints), or transactions
        alone (then ``complaints`` is NaN: not measured).
    as_of
        The day of the snapshot; empty means the last complete day of the data.
    params
        Alert rules (:func:`load_alert_rules`); None reads ``params/alerts.yaml``.
    lifecycle_params
        Stage rules for :func:`crmlib.lifecycle.stage_summary`.

    Returns
    -------
    pandas.DataFrame
        One row per customer who bought by ``as_of``: ``customer_id``, ``stage`` (lifecycle
        stage of the period holding ``as_of``), ``orders`` and ``monetary`` (to date),
        ``value_rank`` (1 = highest spend), ``high_value`` (in the top ``top_share`` by spend and
        spending at least ``min_spend``), ``complaints`` (touchpoints of a complaint kind to
        date), ``as_of``.
    """
    rules = load_alert_rules(params)
    transactions = getattr(data, "transactions", data)
    transactions = as_table(transactions)
    day = resolve_as_of(transactions, as_of)
    value = rfm_table(transactions, as_of=day)[["customer_id", "orders", "monetary"]]
    stages = latest_stages(stage_summary(transactions, as_of=day, params=lifecycle_params))
    states = value.merge(stages[["customer_id", "stage"]], on="customer_id", how="left")
    states["stage"] = states["stage"].astype(str)
    states["value_rank"] = (
        states["monetary"].rank(method="min", ascending=False).astype(np.int64)
        if len(states)
        else pd.Series(dtype=np.int64)
    )
    high = rules["high_value"]
    cutoff = max(1, int(np.ceil(high["top_share"] * len(states))))
    states["high_value"] = (states["value_rank"] <= cutoff) & (
        states["monetary"] >= high["min_spend"]
    )
    counts = _complaints(data, day, rules)
    if counts is None:  # no touchpoints table: complaints are not measured
        states["complaints"] = np.nan
    else:
        states["complaints"] = states["customer_id"].map(counts).fillna(0).astype("float64")
    states["as_of"] = day
    return states[_STATE_COLUMNS].sort_values("customer_id", ignore_index=True)


def _complaints(data: Any, day: pd.Timestamp, rules: Mapping[str, Any]) -> Any:
    """Complaints per customer to ``day`` (a dict), or None when there is no touchpoints table."""
    touchpoints = getattr(data, "touchpoints", None)
    if touchpoints is None:
        return None
    kinds = list(rules["alerts"]["complaint"].get("kinds") or ["complaint"])
    tp = as_table(touchpoints, table="touchpoints")
    end = (day + pd.Timedelta(days=1)).to_pydatetime()
    hits = tp.filter(tp.kind.isin(kinds), tp.occurred_at < end, tp.customer_id.notnull())
    counts = execute(hits.group_by("customer_id").aggregate(n=hits.count()))
    return dict(zip(counts["customer_id"].astype(str), counts["n"].astype(int), strict=True))


def state_changes(
    previous: pd.DataFrame | None,
    current: pd.DataFrame,
    *,
    params: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The changes from ``previous`` to ``current`` that the alert rules ask a person to see.

    Parameters
    ----------
    previous
        The last earlier snapshot (:func:`customer_states`), or None on the first run: then
        nothing is compared and the result is empty.
    current
        Today's snapshot.
    params
        Alert rules (:func:`load_alert_rules`).

    Returns
    -------
    pandas.DataFrame
        One row per customer and change: ``change`` (one of :data:`CHANGES`), ``customer_id``,
        ``before`` and ``after`` (stages; order counts for a milestone; complaint counts),
        ``monetary`` and ``value_rank`` today. Ordered by :data:`CHANGES`, then by value.
        A customer new since the last run counts as having had no orders and no complaints.
    """
    rules = load_alert_rules(params)["alerts"]
    columns = ["change", "customer_id", "before", "after", "monetary", "value_rank"]
    if previous is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    both = current.merge(
        previous[["customer_id", "stage", "orders", "high_value", "complaints"]],
        on="customer_id",
        how="left",
        suffixes=("", "_before"),
    )
    was_known = both["stage_before"].notna()
    both["orders_before"] = both["orders_before"].fillna(0)
    both["high_value_before"] = both["high_value_before"].fillna(False).astype(bool)
    both["complaints_before"] = both["complaints_before"].fillna(0)
    found: list[pd.DataFrame] = []

    def add(kind: str, mask: pd.Series, before: str, after: str) -> None:
        rows = both[mask.fillna(False).astype(bool)]
        found.append(
            pd.DataFrame(
                {
                    "change": kind,
                    "customer_id": rows["customer_id"],
                    "before": rows[before].astype(object),
                    "after": rows[after].astype(object),
                    "monetary": rows["monetary"],
                    "value_rank": rows["value_rank"],
                }
            )
        )

    rule = rules["high_value_at_risk"]
    if rule["enabled"]:
        stages = list(rule.get("stages") or ["at_risk", "churned"])
        moved = was_known & ~both["stage_before"].isin(stages) & both["stage"].isin(stages)
        add(
            "high_value_at_risk",
            moved & (both["high_value"] | both["high_value_before"]),
            "stage_before",
            "stage",
        )
    rule = rules["complaint"]
    if rule["enabled"]:
        more = both["complaints"] > both["complaints_before"]
        add("complaint", more & both["high_value"], "complaints_before", "complaints")
    rule = rules["reactivated"]
    if rule["enabled"]:
        lost = list(rule.get("from_stages") or ["churned"])
        back = (
            was_known & both["stage_before"].isin(lost) & (both["orders"] > both["orders_before"])
        )
        add("reactivated", back, "stage_before", "stage")
    rule = rules["milestone"]
    if rule["enabled"]:
        reached = pd.Series(False, index=both.index)
        for k in rule["orders"]:
            reached |= (both["orders_before"] < k) & (both["orders"] >= k)
        add("milestone", reached, "orders_before", "orders")
    out = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)
    out["_order"] = out["change"].map({c: i for i, c in enumerate(CHANGES)})
    out = out.sort_values(["_order", "value_rank", "customer_id"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)[columns]


def change_counts(changes: pd.DataFrame) -> dict[str, int]:
    """Customers per kind of change (every kind of :data:`CHANGES`, 0 where none)."""
    counts = changes["change"].value_counts() if len(changes) else pd.Series(dtype=int)
    return {kind: int(counts.get(kind, 0)) for kind in CHANGES}


def save_states(
    states: pd.DataFrame,
    changes: pd.DataFrame,
    run_dir: str | Path,
    *,
    compared_with: pd.Timestamp | None = None,
) -> Path:
    """Keep a run's snapshot and its change counts in ``<run_dir>/alerts/``.

    ``changes.json`` holds ``as_of``, ``compared_with`` (the earlier snapshot's day, or null on
    a first run), ``total`` and the count per kind: what the email step reads to decide whether
    there is anything to send.
    """
    folder = Path(run_dir) / Path(STATES_FILE).parent
    folder.mkdir(parents=True, exist_ok=True)
    states.to_parquet(Path(run_dir) / STATES_FILE, index=False)
    counts = change_counts(changes)
    day = states["as_of"].iloc[0] if len(states) else None
    summary = {
        "as_of": None if day is None else pd.Timestamp(day).date().isoformat(),
        "compared_with": None if compared_with is None else compared_with.date().isoformat(),
        "total": int(sum(counts.values())),
        "counts": counts,
    }
    path = Path(run_dir) / CHANGES_FILE
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return path


def previous_states(history: str | Path, *, before: str | pd.Timestamp) -> pd.DataFrame | None:
    """The latest snapshot in the run archive ``history`` taken on a day before ``before``.

    ``history`` is the pack's folder of runs (``reports/daily``); hidden folders (runs still
    being written, or replaced) are skipped. None when there is no earlier snapshot.
    """
    day = pd.Timestamp(before).normalize()
    best: tuple[pd.Timestamp, Path] | None = None
    root = Path(history)
    for path in root.glob(f"*/{STATES_FILE}") if root.is_dir() else []:
        if path.parts[-3].startswith("."):
            continue
        try:
            taken = pd.Timestamp(pd.read_parquet(path, columns=["as_of"])["as_of"].max())
        except (OSError, ValueError, KeyError):
            continue  # an unreadable snapshot is not a baseline
        if pd.isna(taken) or taken >= day:
            continue
        if best is None or taken > best[0]:
            best = (taken, path)
    return None if best is None else pd.read_parquet(best[1])


@dataclasses.dataclass
class DailyAlerts:
    """One daily comparison: today's snapshot, the earlier one's day, and the changes.

    Attributes
    ----------
    states
        Today's snapshot (:func:`customer_states`).
    changes
        The changes to act on (:func:`state_changes`).
    counts
        Customers per kind of change.
    compared_with
        The day of the earlier snapshot, or None on a first run.
    saved
        The ``changes.json`` written into the run folder, or None when not saved.
    """

    states: pd.DataFrame
    changes: pd.DataFrame
    counts: dict[str, int]
    compared_with: pd.Timestamp | None
    saved: Path | None

    @property
    def as_of(self) -> pd.Timestamp:
        """The day of today's snapshot."""
        return pd.Timestamp(self.states["as_of"].iloc[0]) if len(self.states) else pd.NaT


def daily_alerts(
    data: Any,
    *,
    as_of: str | pd.Timestamp | None = None,
    params: str | Path | Mapping[str, Any] | None = None,
    history: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> DailyAlerts:
    """Take today's snapshot, compare it with the last earlier one in ``history``, keep it.

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` (or transactions alone: complaints are then not measured).
    as_of
        The day; empty means the last complete day of the data.
    params
        Alert rules (:func:`load_alert_rules`).
    history
        The folder of earlier runs of the daily pack; default the folder holding ``run_dir``
        (the pack's folder of runs), else ``reports/daily``.
    run_dir
        The folder of this run (a pack run passes it); the snapshot and the counts are saved
        there, so the next run compares with them. None or "" (a notebook opened by hand): the
        comparison is made, nothing is saved.
    """
    states = customer_states(data, as_of=as_of, params=params)
    day = resolve_as_of(getattr(data, "transactions", data), as_of)
    if not history:
        history = Path(run_dir).parent if run_dir else Path("reports/daily")
    previous = previous_states(history, before=day)
    changes = state_changes(previous, states, params=params)
    compared_with = None if previous is None else pd.Timestamp(previous["as_of"].iloc[0])
    saved = save_states(states, changes, run_dir, compared_with=compared_with) if run_dir else None
    return DailyAlerts(states, changes, change_counts(changes), compared_with, saved)
