"""Deprecated: the CLV report text moved to :mod:`crmlib.present.clv`.

``crmlib.clv.text.backtest_text`` and the other old names still work, with a
:class:`DeprecationWarning` naming the new home.
"""

from __future__ import annotations

from crmlib.compat import moved

__all__: list[str] = []

__getattr__ = moved(
    __name__,
    {
        name: "crmlib.present.clv"
        for name in (
            "BACKTEST_TOLERANCE",
            "at_risk_text",
            "backtest_text",
            "classification_table",
            "clv_text",
            "export_text",
            "future_text",
            "localise",
            "model_text",
            "parameter_table",
        )
    },
)
