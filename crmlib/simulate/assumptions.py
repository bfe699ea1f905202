"""Read and check the demo retailer's business assumptions (``params/simulate.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crmlib.config import check_range, params_path, read_yaml
from crmlib.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG",
    "config_path",
    "load_assumptions",
]


#: Params file of the demo, relative to the project root.
DEFAULT_CONFIG = "simulate.yaml"


def config_path(config: str | Path | None = None) -> Path:
    """Path of the assumptions file: ``config``, else ``params/simulate.yaml`` of the project."""
    if config is not None:
        return Path(config)
    local = params_path(DEFAULT_CONFIG)
    if local.exists():
        return local
    # outside the project root (e.g. a notebook in a sub-folder): the checkout's own params/
    return Path(__file__).resolve().parents[2] / "params" / DEFAULT_CONFIG


def _share(name: str, value: Any) -> float:
    return float(check_range(name, value, low=0.0, high=1.0))


def _positive(name: str, value: Any) -> float:
    return float(check_range(name, value, low=0.0, low_inclusive=False))


def load_assumptions(config: str | Path | None = None) -> dict[str, Any]:
    """Read the assumptions and check every figure the simulation relies on.

    Parameters
    ----------
    config
        Path of a YAML file shaped like ``params/simulate.yaml``; None for that file.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid YAML, lacks a section or holds an impossible value.
    """
    path = config_path(config)
    cfg = read_yaml(path)
    if not isinstance(cfg, dict):
        raise ConfigError(f"params file {str(path)!r} must hold a mapping of sections")
    sections = [
        "period",
        "acquisition",
        "bgnbd",
        "spend",
        "seasonality",
        "channels",
        "stores",
        "catalogue",
        "coupons",
        "anonymous",
        "returns",
        "cross_sell",
        "campaigns",
        "touchpoints",
        "funnel",
        "customers",
        "dirty",
        "export",
    ]
    missing = [s for s in sections if s not in cfg]
    if missing:
        raise ConfigError(
            f"params file {str(path)!r} lacks section(s) {', '.join(missing)}; "
            "see params/simulate.yaml"
        )
    for key in ("r", "alpha", "a", "b"):
        _positive(f"bgnbd.{key}", cfg["bgnbd"][key])
    for key in ("p", "q", "v"):
        _positive(f"spend.{key}", cfg["spend"][key])
    check_range("spend.q", cfg["spend"]["q"], low=1.0, low_inclusive=False)
    ch = cfg["channels"]
    unknown = set(ch["member_shares"]) - set(ch["codes"])
    if unknown:
        raise ConfigError(
            f"parameter 'channels.member_shares' names unknown channel(s) {sorted(unknown)}; "
            f"allowed: {ch['codes']}"
        )
    _share("channels.switch_share", ch["switch_share"])
    _share("anonymous.line_share", cfg["anonymous"]["line_share"])
    check_range("anonymous.line_share", cfg["anonymous"]["line_share"], high=0.5)
    _share("returns.line_share", cfg["returns"]["line_share"])
    _share("coupons.share", cfg["coupons"]["share"])
    check_range("catalogue.skus", cfg["catalogue"]["skus"], low=20)
    for pair in cfg["cross_sell"]["sequential"] + cfg["cross_sell"]["same_basket"]:
        _share("cross_sell probability", pair["probability"])
        check_range(
            "cross_sell first_rank", pair["first_rank"], low=1, high=cfg["catalogue"]["skus"]
        )
        check_range("cross_sell then_rank", pair["then_rank"], low=1, high=cfg["catalogue"]["skus"])
    _share("campaigns.control_share", cfg["campaigns"]["control_share"])
    for camp in cfg["campaigns"]["list"]:
        _share(f"campaigns {camp['id']} reach", camp["reach"])
        _share(f"campaigns {camp['id']} uplift", camp["uplift"])
    for key, value in cfg["funnel"]["conversion"].items():
        _positive(f"funnel.conversion.{key}", value)
        _share(f"funnel.conversion.{key}", value)
    for key in ("duplicate", "zero_amount", "future_date", "bad_amount", "unknown_channel"):
        _share(f"dirty.{key}", cfg["dirty"][key])
    return cfg
