"""The cleaning rules: their defaults, their checks and the channel codes they map onto.

Every rule is configured under ``cleaning:`` in ``params/data.yaml``; :data:`DEFAULTS` documents
the defaults and :func:`check_rules` merges a params file's rules onto them and checks them.
:mod:`crmlib.data.cleaning` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.config import check_choice, read_yaml
from crmlib.data.schema import GROUPS
from crmlib.errors import ConfigError

__all__ = ["CLEANING_VERSION", "DEFAULTS", "CHOICES", "check_rules", "read_channels"]

#: Bump when the cleaning rules change, so cached tables of an older version are not reused.
CLEANING_VERSION = "7"

#: Default cleaning rules (override any of them under ``cleaning:`` in ``params/data.yaml``).
DEFAULTS: dict[str, Any] = {
    # amounts: these symbols and the thousands separator are stripped; "(12.00)" means -12.00
    "currency_symbols": ["¥", "￥", "元", "RMB", "CNY", "US$", "$"],
    "thousands_separator": ",",
    "parentheses_negative": True,
    # an amount whose magnitude is above this is no sale (an overflow, a typo, a code pasted in
    # the amount column, 1e308): quarantined as implausible_amount. NaN and infinities are never
    # numbers (unparseable_amount)
    "max_amount": 1_000_000_000,
    # dates: ISO 8601 (with or without time, "T" or space) always parses; these formats are
    # tried next, in order (DuckDB strptime codes; %m and %d also accept 1-digit values)
    "date_formats": [
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日 %H:%M",
        "%Y年%m月%d日",
        "%Y%m%d",
        "%Y%m%d%H%M%S",
        "%Y.%m.%d",
        "%Y-%m-%d %H:%M",
    ],
    # exact duplicate lines (every column equal): drop the repeats (quarantined) or keep them
    "duplicates": "drop",
    # negative amounts are returns: net keeps them (revenue is net), drop quarantines them
    "returns": "net",
    # zero amounts: keep (counted) or quarantine
    "zero_amounts": "keep",
    # customer_id values that mean "no customer" (anonymous sale); compared after trimming,
    # case-insensitively
    "missing_customer_values": ["", "0", "NULL", "None", "-", "NA", "N/A", "NaN", "nil"],
    # rows dated after max_date (ISO date or date-time; empty = the load time) are future_date
    "max_date": "",
    # rows whose event time (order, sign-up, contact, send time …) is before min_date are
    # before_min_date (quarantined): placeholders such as 0001-01-01 or 1900-01-01; empty = no
    # lower bound
    "min_date": "1970-01-01",
    # future_date rows: quarantine or keep (counted)
    "future_dates": "quarantine",
    # channel values that match no code or alias of channels_file: map to "unknown" or quarantine
    "unknown_channels": "map",
    "channels_file": "params/channels.yaml",
    # campaign_members.group: the canonical values are target and control; these aliases map
    # onto them (compared after trimming, case-insensitively; each mapped row is counted as
    # group_alias); any other value is quarantined as unknown_group
    "group_aliases": {
        "target": ["treatment", "test", "目标组", "实验组"],
        "control": ["holdout", "对照组"],
    },
}


#: Allowed values of the rules that are a choice.
CHOICES: dict[str, tuple[str, ...]] = {
    "duplicates": ("drop", "keep"),
    "returns": ("net", "drop"),
    "zero_amounts": ("keep", "quarantine"),
    "future_dates": ("quarantine", "keep"),
    "unknown_channels": ("map", "quarantine"),
}


def check_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``rules`` onto :data:`DEFAULTS` and validate them (raises ConfigError)."""
    unknown = set(rules) - set(DEFAULTS)
    if unknown:
        raise ConfigError(
            f"unknown cleaning option(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(DEFAULTS)}"
        )
    out = {**DEFAULTS, **rules}
    for name, allowed in CHOICES.items():
        check_choice(f"cleaning.{name}", out[name], allowed)
    check_choice("cleaning.parentheses_negative", out["parentheses_negative"], (True, False))
    for name in ("currency_symbols", "date_formats", "missing_customer_values"):
        if not isinstance(out[name], list) or not all(isinstance(v, str) for v in out[name]):
            raise ConfigError(f"parameter 'cleaning.{name}' must be a list of strings")
    if not isinstance(out["thousands_separator"], str) or len(out["thousands_separator"]) > 1:
        raise ConfigError("parameter 'cleaning.thousands_separator' must be one character or ''")
    aliases = out["group_aliases"]
    if not isinstance(aliases, Mapping) or set(aliases) - set(GROUPS):
        raise ConfigError(
            "parameter 'cleaning.group_aliases' must map target and/or control to lists of "
            f"aliases; got {aliases!r}"
        )
    seen: dict[str, str] = {}
    for group, names in aliases.items():
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise ConfigError(
                f"parameter 'cleaning.group_aliases.{group}' must be a list of strings"
            )
        for name in names:
            key = name.strip().lower()
            if key in GROUPS or seen.get(key, group) != group:
                raise ConfigError(
                    f"parameter 'cleaning.group_aliases.{group}' lists {name!r}, which already "
                    "means another group"
                )
            seen[key] = group
    out["group_aliases"] = {g: list(aliases.get(g, [])) for g in GROUPS}
    for name in ("max_date", "min_date"):
        if out[name] not in ("", None):
            try:
                pd.Timestamp(str(out[name]))
            except (ValueError, OverflowError) as exc:
                raise ConfigError(
                    f"parameter 'cleaning.{name}' must be an ISO date; got {out[name]!r}"
                ) from exc
    amount = out["max_amount"]
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int | float)
        or not 0 < amount < float("inf")
    ):
        raise ConfigError(
            f"parameter 'cleaning.max_amount' must be a positive finite number; got {amount!r}"
        )
    return out


def read_channels(path: str | Path) -> dict[str, list[str]]:
    """Channel codes and their aliases from a channels YAML file (``params/channels.yaml``)."""
    data = read_yaml(path) or {}
    channels = data.get("channels") if isinstance(data, Mapping) else None
    if not isinstance(channels, Mapping) or not channels:
        raise ConfigError(f"params file {str(path)!r} must hold a non-empty 'channels' mapping")
    out: dict[str, list[str]] = {}
    for code, spec in channels.items():
        aliases = (spec or {}).get("aliases", []) if isinstance(spec, Mapping) else []
        if not isinstance(aliases, list):
            raise ConfigError(f"channels.{code}.aliases in {str(path)!r} must be a list")
        out[str(code)] = [str(a) for a in aliases]
    return out
