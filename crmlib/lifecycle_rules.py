"""Lifecycle rules: the at-risk and churn thresholds, the period and the reactivation meaning.

The rules are business rules kept in ``params/lifecycle.yaml`` (packaged defaults, the project's
file, then per-call overrides); :func:`load_rules` merges and checks them, and
:mod:`crmlib.lifecycle` applies them. The three ways to set the thresholds (``window``,
``percentile``, ``own_gap``) are described in :mod:`crmlib.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crmlib.config import check_choice, check_range, load_params, merge
from crmlib.errors import ConfigError
from crmlib.periods import PERIODS

__all__ = [
    "STAGES",
    "NOT_YET",
    "RULES",
    "REACTIVATION",
    "FLAT_RULES",
    "load_rules",
    "validate_rules",
]

#: Lifecycle stages in display order.
STAGES: tuple[str, ...] = ("new", "active", "reactivated", "at_risk", "churned")
#: Stage of a customer who had not bought yet in the earlier period of a transition.
NOT_YET: str = "not_yet"
#: Ways to set the at-risk and churn thresholds.
RULES: tuple[str, ...] = ("window", "percentile", "own_gap")
#: Meanings of "inactive last period" for reactivation.
REACTIVATION: tuple[str, ...] = ("lapsed", "period")

#: Flat keyword names accepted by :func:`load_rules` and where they live in the rules mapping.
FLAT_RULES: dict[str, tuple[str, ...]] = {
    "period": ("period",),
    "rule": ("rule",),
    "reactivation": ("reactivation",),
    "at_risk_days": ("window", "at_risk_days"),
    "churned_days": ("window", "churned_days"),
    "one_time_at_risk_days": ("window", "one_time_at_risk_days"),
    "one_time_churned_days": ("window", "one_time_churned_days"),
    "at_risk_percentile": ("percentile", "at_risk"),
    "churned_percentile": ("percentile", "churned"),
    "k_at_risk": ("own_gap", "k_at_risk"),
    "k_churned": ("own_gap", "k_churned"),
    "min_gaps": ("own_gap", "min_gaps"),
    "max_order": ("milestones", "max_order"),
    "window_days": ("milestones", "window_days"),
    "confidence": ("milestones", "confidence"),
    "min_customers": ("milestones", "min_customers"),
    "plateau_tolerance": ("milestones", "plateau_tolerance"),
    "plateau_run": ("milestones", "plateau_run"),
    "years": ("trends", "years"),
    "top_categories": ("trends", "top_categories"),
}

_PARAMS_FILE = "lifecycle.yaml"


def load_rules(
    params: str | Path | Mapping[str, Any] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    zero_means_default: bool = False,
    **flat: Any,
) -> dict[str, Any]:
    """Lifecycle rules: packaged defaults < the project's ``params/lifecycle.yaml`` < ``params``.

    Parameters
    ----------
    params
        Overrides for this call: a params file, a (partial or already loaded) mapping, or None
        for the project's file alone (see :func:`crmlib.config.load_params`).
    overrides
        A nested mapping deep-merged onto the result (``{"window": {"at_risk_days": 60}}``).
    zero_means_default
        Also ignore flat values equal to 0 (notebook parameters use 0 for "as in the params
        file"; no threshold can be 0).
    **flat
        Single values by their flat name (see :data:`FLAT_RULES`, e.g. ``at_risk_days=60``,
        ``rule="percentile"``, ``period="quarter"``). ``None`` and empty strings are ignored, so a
        notebook can pass its optional parameters straight through.

    Returns
    -------
    dict
        The validated rules.

    Raises
    ------
    ConfigError
        Unknown names, values out of range, or thresholds in the wrong order.
    """
    rules = merge(load_params(_PARAMS_FILE, params), overrides)
    for name, value in flat.items():
        if name not in FLAT_RULES:
            raise ConfigError(
                f"unknown lifecycle parameter {name!r}; expected one of {', '.join(FLAT_RULES)}"
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if zero_means_default and not isinstance(value, bool | str) and value == 0:
            continue
        *parents, leaf = FLAT_RULES[name]
        node = rules
        for key in parents:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[leaf] = value
    return validate_rules(rules)


def validate_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Check a rules mapping (see ``params/lifecycle.yaml``) and return it as a dict.

    Parameters
    ----------
    rules
        The complete rules, as :func:`load_rules` builds them.

    Raises
    ------
    ConfigError
        When a value is missing, of the wrong kind or out of range, naming the parameter.
    """
    rules = dict(rules)

    def section(name: str) -> dict[str, Any]:
        value = rules.get(name)
        if not isinstance(value, Mapping):
            raise ConfigError(f"lifecycle params need a {name!r} section; got {value!r}")
        return dict(value)

    check_choice("period", rules.get("period"), PERIODS)
    check_choice("rule", rules.get("rule"), RULES)
    check_choice("reactivation", rules.get("reactivation"), REACTIVATION)
    win = section("window")
    for key in ("at_risk_days", "churned_days", "one_time_at_risk_days", "one_time_churned_days"):
        check_range(f"window.{key}", win.get(key), low=0, low_inclusive=False)
    for lo, hi in (
        ("at_risk_days", "churned_days"),
        ("one_time_at_risk_days", "one_time_churned_days"),
    ):
        if win[hi] <= win[lo]:
            raise ConfigError(f"window.{hi} must be > window.{lo}; got {win[hi]!r} <= {win[lo]!r}")
    pct = section("percentile")
    for key in ("at_risk", "churned"):
        check_range(f"percentile.{key}", pct.get(key), low=0, high=1, low_inclusive=False)
    if pct["churned"] <= pct["at_risk"]:
        raise ConfigError(
            f"percentile.churned must be > percentile.at_risk; got {pct['churned']!r} "
            f"<= {pct['at_risk']!r}"
        )
    own = section("own_gap")
    for key in ("k_at_risk", "k_churned"):
        check_range(f"own_gap.{key}", own.get(key), low=0, low_inclusive=False)
    if own["k_churned"] <= own["k_at_risk"]:
        raise ConfigError(
            f"own_gap.k_churned must be > own_gap.k_at_risk; got {own['k_churned']!r} "
            f"<= {own['k_at_risk']!r}"
        )
    _check_int("own_gap.min_gaps", own.get("min_gaps"), low=1)
    ms = section("milestones")
    _check_int("milestones.max_order", ms.get("max_order"), low=1)
    check_range("milestones.window_days", ms.get("window_days"), low=0, low_inclusive=False)
    check_range(
        "milestones.confidence",
        ms.get("confidence"),
        low=0,
        high=1,
        low_inclusive=False,
        high_inclusive=False,
    )
    _check_int("milestones.min_customers", ms.get("min_customers"), low=1)
    check_range("milestones.plateau_tolerance", ms.get("plateau_tolerance"), low=0)
    _check_int("milestones.plateau_run", ms.get("plateau_run"), low=1)
    tr = section("trends")
    _check_int("trends.years", tr.get("years"), low=1)
    _check_int("trends.top_categories", tr.get("top_categories"), low=1)
    return rules


def _check_int(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"parameter {name!r} must be a whole number; got {value!r}")
    check_range(name, int(value), low=low)
    return int(value)
