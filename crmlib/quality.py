"""Deprecated: the counts of a load are :mod:`crmlib.data.quality`, their words
:mod:`crmlib.present.quality`."""

from crmlib.compat import moved

__all__: list[str] = []

__getattr__ = moved(
    __name__,
    {
        "STATUSES": "crmlib.data.quality",
        "TableQuality": "crmlib.data.quality",
        "QualityReport": "crmlib.data.quality",
        "kind_label": "crmlib.present.quality",
    },
)
