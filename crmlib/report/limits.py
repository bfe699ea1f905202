"""Per-notebook resource limits of a report pack: run time and memory.

``timeout`` (seconds) and ``memory_limit`` (a size such as ``4GB``) are each given in
``params/reports.yaml`` as one value for every notebook of a pack or as a mapping
``{default: ..., <notebook>: ...}``. A time limit must be a finite number of seconds, above 0
and at most :data:`MAX_TIMEOUT`; a memory limit a size of at least :data:`MIN_MEMORY`, or
``none`` for no limit. Every problem raises :class:`~crmlib.errors.ConfigError` naming the pack,
the notebook and the setting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from crmlib.errors import ConfigError
from crmlib.report.parameters import error_prefix

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MAX_TIMEOUT",
    "MIN_MEMORY",
    "check_memory_limits",
    "check_timeout",
    "format_size",
    "parse_size",
]

#: Memory a notebook (its worker and kernel together) may hold unless its pack says otherwise.
DEFAULT_MEMORY_LIMIT: str = "4GB"
#: The smallest memory limit accepted: a kernel needs about 150 MB to start.
MIN_MEMORY: int = 256 * 1024**2
#: The longest time limit accepted, in seconds (7 days); longer waits are not representable
#: by the kernel client's timers.
MAX_TIMEOUT: float = 7 * 24 * 3600.0

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(value: Any, *, name: str = "memory_limit") -> int | None:
    """Bytes in a size: ``4GB``, ``4 GiB``, ``512MB``, ``1.5G`` or a number of bytes.

    Units are binary (1 GB = 1024³ bytes, as ``free -h`` shows them). ``None``, ``"none"`` and
    ``"off"`` mean no limit and give None.

    Raises
    ------
    ConfigError
        Naming ``name`` for anything else, a value that is not finite, or below
        :data:`MIN_MEMORY`.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"parameter {name!r} must be a size such as '4GB' or none; got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ConfigError(f"parameter {name!r} must be a finite size; got {value!r}")
        size = int(value)
    else:
        match = _SIZE.fullmatch(str(value))
        if match is None:
            raise ConfigError(
                f"parameter {name!r} must be a size such as '4GB', '512MB' or none; got {value!r}"
            )
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size < MIN_MEMORY:
        raise ConfigError(
            f"parameter {name!r} must be at least {format_size(MIN_MEMORY)} (a kernel needs "
            f"about 150 MB to start); got {value!r}"
        )
    return size


def format_size(size: float) -> str:
    """``size`` bytes as ``4 GB`` or ``512 MB`` (binary units, as :func:`parse_size` reads)."""
    if size >= 1024**3:
        return f"{size / 1024**3:.3g} GB"
    return f"{size / 1024**2:.0f} MB"


def check_timeout(value: Any, *, name: str = "timeout") -> float:
    """``value`` as seconds: a finite number above 0 and at most :data:`MAX_TIMEOUT`.

    ``.inf``, ``.nan``, 0 and negative numbers raise :class:`ConfigError` naming ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"parameter {name!r} must be a number of seconds; got {value!r}")
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise ConfigError(
            f"parameter {name!r} must be a finite number of seconds above 0 and at most "
            f"{MAX_TIMEOUT:g} (7 days); got {value!r}"
        )
    return float(value)


def check_memory_limits(
    value: Any, notebooks: Sequence[str], pack: str, *, default: Any = DEFAULT_MEMORY_LIMIT
) -> dict[str, int | None]:
    """Per-notebook memory limits in bytes (None: no limit) from a pack's ``memory_limit``.

    Parameters
    ----------
    value
        One size for every notebook, or ``{default: size, <notebook>: size}``; None for the
        default.
    notebooks
        The pack's notebook names.
    pack
        Pack name, for error messages.
    default
        The limit of notebooks the value leaves out (:data:`DEFAULT_MEMORY_LIMIT`).

    Raises
    ------
    ConfigError
        Naming the pack and notebook for an unknown notebook or an invalid size.
    """
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        value = {"default": value}
    unknown = sorted(str(k) for k in set(value) - {"default", *notebooks})
    if unknown:
        raise ConfigError(
            f"{error_prefix(pack)}memory_limit names {unknown}, which are not notebooks of the pack"
        )
    out = {}
    for nb in notebooks:
        given = value[nb] if nb in value else value.get("default", default)
        try:
            out[nb] = parse_size(given)
        except ConfigError as exc:
            raise ConfigError(f"{error_prefix(pack, nb)}{exc}") from None
    return out
