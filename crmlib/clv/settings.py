"""The CLV settings: ``clv.yaml`` (model, time unit, horizon, discounting, thresholds), checked.

Read through :func:`crmlib.config.load_params`: the packaged defaults, then the project's
``params/clv.yaml``, then what a report passes, each overriding the one before key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmlib.clv.models import MODELS
from crmlib.clv.summaries import TIME_UNITS
from crmlib.config import check_choice, check_range
from crmlib.config import load_params as load_topic_params
from crmlib.errors import ConfigError

__all__ = ["NON_REPEATER_RULES", "load_params"]

#: Rules for the P(alive) of customers without a repeat purchase under BG/NBD.
NON_REPEATER_RULES: tuple[str, ...] = ("first_purchase_dropout", "hiatus", "model")


def load_params(params: Mapping[str, Any] | str | Path | None = None) -> dict[str, Any]:
    """The CLV settings: ``clv.yaml`` overridden by ``params``, checked.

    Parameters
    ----------
    params
        None (the defaults), a mapping of overrides, or the path of a YAML file whose keys
        override the defaults.

    Raises
    ------
    ConfigError
        When a value is outside its allowed range or choices (the message names the CLV params,
        the key and the value given), or ``params`` is neither a mapping nor a path.
    """
    if params is not None and not isinstance(params, Mapping | str | Path):
        raise ConfigError(f"parameter 'params' must be a mapping or a YAML path; got {params!r}")
    out = load_topic_params("clv.yaml", params)
    try:
        _check(out)
    except ConfigError as exc:
        where = "clv.yaml" if params is None else f"clv.yaml with overrides {params!r}"
        raise ConfigError(f"CLV params ({where}): {exc}") from None
    return out


def _check(out: Mapping[str, Any]) -> None:
    check_choice("model", out.get("model"), MODELS)
    check_choice("time_unit", out.get("time_unit"), TIME_UNITS)
    check_choice("non_repeater_p_alive", out.get("non_repeater_p_alive"), NON_REPEATER_RULES)
    check_range("horizon_months", out.get("horizon_months"), low=1, high=600)
    check_range("monthly_discount_rate", out.get("monthly_discount_rate"), low=0.0, high=1.0)
    check_range("days_per_month", out.get("days_per_month"), low=28.0, high=31.0)
    check_range("penalizer", out.get("penalizer"), low=0.0)
    check_range("p_alive_threshold", out.get("p_alive_threshold"), low=0.0, high=1.0)
    check_range("hiatus_weeks", out.get("hiatus_weeks"), low=0.0, low_inclusive=False)
    check_range("frequency_buckets", out.get("frequency_buckets"), low=1, high=100)
    check_range("top_share", out.get("top_share"), low=0.0, high=1.0, low_inclusive=False)
    check_range("at_risk_p_alive", out.get("at_risk_p_alive"), low=0.0, high=1.0)
    warn = out.get("warnings")
    if not isinstance(warn, Mapping):
        raise ConfigError(f"parameter 'warnings' must be a mapping of thresholds; got {warn!r}")
    for key in ("min_repeaters", "min_repeaters_error"):
        check_range(f"warnings.{key}", warn.get(key), low=0)
    check_range("warnings.max_spend_correlation", warn.get("max_spend_correlation"), low=0, high=1)
    _check_intervals(out.get("intervals"))
    covariates = out.get("covariates")
    if not isinstance(covariates, list) or not all(isinstance(c, str) for c in covariates):
        raise ConfigError(
            f"parameter 'covariates' must be a list of column names; got {covariates!r}"
        )
    check_range("significance", out.get("significance"), low=0.0, high=0.5, low_inclusive=False)
    fits = out.get("segment_fits")
    if not isinstance(fits, Mapping) or not isinstance(fits.get("enabled"), bool):
        raise ConfigError(
            f"parameter 'segment_fits' must be a mapping with 'enabled'; got {fits!r}"
        )
    if not isinstance(fits.get("by"), str) or not fits["by"]:
        raise ConfigError(
            f"parameter 'segment_fits.by' must name a customer column; got {fits.get('by')!r}"
        )
    check_range("segment_fits.min_customers", fits.get("min_customers"), low=1)
    check_range("segment_fits.min_repeaters", fits.get("min_repeaters"), low=10)


def _check_intervals(opts: Any) -> None:
    if not isinstance(opts, Mapping):
        raise ConfigError(f"parameter 'intervals' must be a mapping; got {opts!r}")
    check_range("intervals.draws", opts.get("draws"), low=20, high=100_000)
    check_range("intervals.level", opts.get("level"), low=0.5, high=1.0, high_inclusive=False)
    bands = opts.get("bands")
    if not isinstance(bands, list) or not bands:
        raise ConfigError(f"parameter 'intervals.bands' must be a list of levels; got {bands!r}")
    for band in bands:
        check_range("intervals.bands", band, low=0.0, high=1.0, low_inclusive=False,
                    high_inclusive=False)  # fmt: skip
    check_range("intervals.forecast_months", opts.get("forecast_months"), low=1, high=600)
    horizons = opts.get("horizons")
    ok = isinstance(horizons, list) and all(
        isinstance(h, list | tuple) and len(h) == 2 and 0 <= int(h[0]) < int(h[1]) <= 600
        for h in horizons
    )
    if not ok:
        raise ConfigError(
            "parameter 'intervals.horizons' must be a list of [first, last) month pairs with "
            f"0 <= first < last <= 600, e.g. [[0, 12], [12, 36]]; got {horizons!r}"
        )
    check_range("intervals.sample_customers", opts.get("sample_customers"), low=100)
    check_range("intervals.seed", opts.get("seed"), low=0)
