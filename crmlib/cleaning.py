"""Deprecated: the cleaning rules are :mod:`crmlib.data.rules`, the cleaning pass
:mod:`crmlib.data.cleaning` and the source readers :mod:`crmlib.data.sources`."""

from crmlib.compat import moved

__all__: list[str] = []

__getattr__ = moved(
    __name__,
    {
        "DEFAULTS": "crmlib.data.rules",
        "check_rules": "crmlib.data.rules",
        "read_channels": "crmlib.data.rules",
        "GROUPS": "crmlib.data.schema",
        "KEYS": "crmlib.data.schema",
        "EVENT_TIME": "crmlib.data.schema",
        "CSV_DELIMITERS": "crmlib.data.csvfiles",
        "CsvDialect": "crmlib.data.csvfiles",
        "sniff_csv": "crmlib.data.csvfiles",
        "Source": "crmlib.data.sources",
        "Cleaned": "crmlib.data.cleaning",
        "clean_table": "crmlib.data.cleaning",
    },
)
