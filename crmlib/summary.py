"""Deprecated: the executive summary moved.

The numbers are in :mod:`crmlib.executive`, the words in :mod:`crmlib.present.executive`. The
old names keep working for a release with a :class:`DeprecationWarning`; the two functions that
took ``language`` keep their old call form here.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pandas as pd

from crmlib import executive
from crmlib.compat import moved
from crmlib.i18n import check_language

__all__ = ["build_facts", "executive_summary"]


def executive_summary(data: Any, *, language: str = "en", **kwargs: Any) -> executive.Summary:
    """Deprecated: :func:`crmlib.executive.executive_summary` (which takes no ``language``; the
    words are written by :mod:`crmlib.present.executive`)."""
    warnings.warn(
        "crmlib.summary.executive_summary moved to crmlib.executive.executive_summary, which "
        "takes no language; the old name will be removed",
        DeprecationWarning,
        stacklevel=2,
    )
    check_language(language)
    return executive.executive_summary(data, **kwargs)


def build_facts(
    comparison: pd.DataFrame,
    status: pd.DataFrame | None = None,
    *,
    language: str = "en",
    **kwargs: Any,
) -> dict[str, Any]:
    """Deprecated: :func:`crmlib.executive.build_facts`, with the campaign channel written in
    ``language`` (:func:`crmlib.present.executive.localized_facts`)."""
    warnings.warn(
        "crmlib.summary.build_facts moved to crmlib.executive.build_facts, which takes no "
        "language; the old name will be removed",
        DeprecationWarning,
        stacklevel=2,
    )
    facts = executive.build_facts(comparison, status, **kwargs)
    words = importlib.import_module("crmlib.present.executive")
    return words.localized_facts(facts, language=language)


__getattr__ = moved(
    __name__,
    {
        name: "crmlib.executive"
        for name in ("Summary", "value_at_risk", "segment_movements", "top_cross_sell")
    }
    | {
        name: "crmlib.present.executive"
        for name in (
            "HEADLINE_KPIS",
            "title",
            "headline",
            "kpi_tiles",
            "findings",
            "recommendations_markdown",
            "section",
            "footer",
        )
    }
    | {"recommend": "crmlib.present.executive:recommendations"},
)
