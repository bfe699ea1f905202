"""Parameter checks and YAML configuration shared by every module.

Business rules (segment schemes, lifecycle thresholds, benchmarks, labels) live in YAML files
under ``params/``; this module reads them and offers the one validation helper whose error names
the parameter, what is allowed and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from crmlib.errors import ConfigError

#: Folder of the shipped default params files, relative to the project root.
PARAMS_DIR = Path("params")


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ConfigError`.

    Parameters
    ----------
    name
        The parameter's name as the user wrote it, e.g. ``"time_unit"``.
    value
        What the user gave.
    allowed
        The values that are accepted.
    """
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"parameter {name!r} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )
    return value


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """Return ``value`` if it is a number within the bounds, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"parameter {name!r} must be a number; got {value!r}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>=' if low_inclusive else '>'} {low}"
        hi = "" if high is None else f"{'<=' if high_inclusive else '<'} {high}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise ConfigError(f"parameter {name!r} must be {bounds}; got {value!r}")
    return value


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, raising :class:`ConfigError` that names the file on any problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"params file {str(path)!r} does not exist")
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {str(path)!r} is not valid YAML: {exc}") from exc


def merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def params_path(name: str, params_dir: str | Path | None = None) -> Path:
    """Path of a params file (``"segments.yaml"``) in ``params_dir`` or the default ``params/``."""
    return Path(params_dir or PARAMS_DIR) / name
