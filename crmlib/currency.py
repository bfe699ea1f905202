"""The currency of the data's amounts: its code, symbol and name, and how large sums are scaled.

The amounts in an export are in one currency, so the currency belongs to the data params
(``currency: USD`` or ``currency: {code: USD, symbol: US$}``). :func:`crmlib.data.load_dataset`
makes it the current one (:func:`use_currency`), so every table, chart, finding and KPI that
writes money after the load writes it in that currency, in the notebook's process. Without a
setting the currency is :data:`DEFAULT_CODE` (CNY, ¥), as before the setting existed.

Large sums are scaled the way readers of each language count: 万 and 亿 (10⁴, 10⁸) in Chinese,
k, M and B (10³, 10⁶, 10⁹) in English (:func:`scale`).
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from crmlib.errors import ConfigError

__all__ = [
    "Currency",
    "CURRENCIES",
    "DEFAULT_CODE",
    "currency",
    "use_currency",
    "current_currency",
    "scale",
    "axis_unit",
]


@dataclasses.dataclass(frozen=True)
class Currency:
    """A currency as reports write it.

    Attributes
    ----------
    code
        ISO 4217 code, e.g. ``"USD"``.
    symbol
        What precedes an amount: ``"$"``, ``"¥"``, ``"€"``.
    name_en, name_zh
        The unit in words, used in axis labels ("revenue (US dollars)", "收入（美元）").
    """

    code: str
    symbol: str
    name_en: str
    name_zh: str

    def name(self, language: str) -> str:
        """The unit in words in ``language`` (``zh`` or anything else for English)."""
        return self.name_zh if language == "zh" else self.name_en


#: Currencies known by code. Any other ISO code may be given with its ``symbol``.
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", "¥", "yuan", "元"),
        Currency("USD", "$", "US dollars", "美元"),
        Currency("EUR", "€", "euros", "欧元"),
        Currency("GBP", "£", "pounds", "英镑"),
        Currency("JPY", "¥", "yen", "日元"),
        Currency("HKD", "HK$", "Hong Kong dollars", "港元"),
        Currency("TWD", "NT$", "New Taiwan dollars", "新台币"),
        Currency("SGD", "S$", "Singapore dollars", "新加坡元"),
        Currency("AUD", "A$", "Australian dollars", "澳元"),
        Currency("CAD", "C$", "Canadian dollars", "加元"),
        Currency("KRW", "₩", "won", "韩元"),
        Currency("INR", "₹", "rupees", "卢比"),
        Currency("CHF", "CHF ", "Swiss francs", "瑞士法郎"),
    )
}

#: The currency when the data params name none.
DEFAULT_CODE = "CNY"

_CURRENT: contextvars.ContextVar[Currency] = contextvars.ContextVar(
    "crmlib_currency", default=CURRENCIES[DEFAULT_CODE]
)


def currency(setting: str | Mapping[str, Any] | Currency | None) -> Currency:
    """The :class:`Currency` a ``currency:`` setting names.

    Parameters
    ----------
    setting
        An ISO code (``"USD"``; case-insensitive), a mapping ``{code: ..., symbol: ..., name:
        {en: ..., zh: ...}}`` (symbol and name default to the known currency's, and are
        required for a code not in :data:`CURRENCIES`), a :class:`Currency`, or None for the
        default.

    Raises
    ------
    ConfigError
        An unknown code without a symbol, or a setting of another shape.
    """
    if setting is None or setting == "":
        return CURRENCIES[DEFAULT_CODE]
    if isinstance(setting, Currency):
        return setting
    if isinstance(setting, str):
        setting = {"code": setting}
    if not isinstance(setting, Mapping):
        raise ConfigError(
            f"currency must be an ISO code such as USD or a mapping {{code, symbol}}; "
            f"got {setting!r}"
        )
    extra = set(setting) - {"code", "symbol", "name"}
    if extra:
        raise ConfigError(
            f"currency has unknown key(s) {', '.join(sorted(map(str, extra)))}; "
            "allowed: code, symbol, name"
        )
    code = str(setting.get("code") or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ConfigError(
            f"currency code must be three letters (ISO 4217) such as USD; got {code!r}"
        )
    known = CURRENCIES.get(code)
    symbol = setting.get("symbol", known.symbol if known else None)
    if symbol is None or not isinstance(symbol, str) or not symbol.strip():
        raise ConfigError(
            f"currency {code} is not one of {', '.join(CURRENCIES)}: give its symbol, "
            f"e.g. currency: {{code: {code}, symbol: ...}}"
        )
    name = setting.get("name") or {}
    if isinstance(name, str):
        name = {"en": name, "zh": name}
    if not isinstance(name, Mapping):
        raise ConfigError(f"currency name must be text or {{en: ..., zh: ...}}; got {name!r}")
    return Currency(
        code,
        symbol,
        str(name.get("en") or (known.name_en if known else code)),
        str(name.get("zh") or (known.name_zh if known else code)),
    )


def use_currency(setting: str | Mapping[str, Any] | Currency | None) -> Currency:
    """Make the currency ``setting`` names the current one; returns it (see :func:`currency`)."""
    chosen = currency(setting)
    _CURRENT.set(chosen)
    return chosen


def current_currency() -> Currency:
    """The currency money is written in now (the last loaded data's, else CNY)."""
    return _CURRENT.get()


#: Scale steps per language, largest first: (factor, suffix).
_STEPS: dict[str, tuple[tuple[float, str], ...]] = {
    "zh": ((1e8, "亿"), (1e4, "万")),
    "en": ((1e9, "B"), (1e6, "M"), (1e3, "k")),
}


def scale(value: float, language: str) -> tuple[float, str]:
    """``value`` divided by the largest step it reaches in ``language``, and that step's suffix.

    ``scale(123456, "zh")`` is ``(12.3456, "万")``, ``scale(123456, "en")`` is
    ``(123.456, "k")``; a value below the first step (or not finite) comes back unscaled with
    suffix ``""``.
    """
    if not math.isfinite(value):
        return value, ""
    for factor, suffix in _STEPS["zh" if language == "zh" else "en"]:
        if abs(value) >= factor:
            return value / factor, suffix
    return value, ""


def axis_unit(language: str) -> tuple[float, str]:
    """(divisor, unit) for a chart axis of money in the current currency.

    Chinese counts in 万: ``(1e4, "万元")`` (``"万美元"`` for USD data); English in thousands:
    ``(1e3, "¥ thousands")`` (``"$ thousands"``).
    """
    cur = current_currency()
    if language == "zh":
        return 1e4, f"万{cur.name_zh}"
    return 1e3, f"{cur.symbol.strip()} thousands"
