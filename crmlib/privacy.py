"""Deprecated: masking of personal data is :mod:`crmlib.data.privacy`."""

from crmlib.compat import moved

__all__: list[str] = []

__getattr__ = moved(
    __name__,
    {
        "mask_text": "crmlib.data.privacy",
        "mask_delimited": "crmlib.data.privacy",
    },
)
