"""The data layer: everything between a raw export or table and the canonical tables.

Every analysis works on the canonical tables of the data contract (see README): users map their
own column names in ``params/data.yaml``; nothing downstream sees the source names.

============================  ==================================================================
:mod:`~crmlib.data.schema`    the canonical tables and fields (:data:`SCHEMAS`, personal fields)
:mod:`~crmlib.data.engine`    the engines (embedded DuckDB, PostgreSQL, Spark); :func:`as_table` in, :func:`execute` out
:mod:`~crmlib.data.spark`     Spark's own miners (MLlib FP-Growth: :func:`frequent_itemsets`)
:mod:`~crmlib.data.dates`     the one ``as_of`` rule (:func:`resolve_as_of`, :func:`parse_day`)
:mod:`~crmlib.data.params`    reading and checking ``params/data.yaml``; its fingerprint
:mod:`~crmlib.data.sources`   reading a CSV, Parquet file or database table as it is
:mod:`~crmlib.data.csvfiles`  how a CSV file splits into fields (dialect, header, blank lines)
:mod:`~crmlib.data.rules`     the cleaning rules and their defaults
:mod:`~crmlib.data.parsing`   SQL that parses amounts, dates, channels and identifiers
:mod:`~crmlib.data.cleaning`  one pass from a raw table to its canonical table and quarantine
:mod:`~crmlib.data.quality`   the counts of a load (read = kept + rejected)
:mod:`~crmlib.data.privacy`   masking personal data for display
:mod:`~crmlib.data.load`      :func:`load_dataset`: params to cleaned tables (cached)
:mod:`~crmlib.data.summary`   per-customer and per-period summaries of the transactions
============================  ==================================================================

Public functions accept a pandas DataFrame, a file path or an Ibis table (:func:`as_table`) and
return pandas (:func:`execute`). The words about a load (translated tables, the text of
``crmwb validate``) are in :mod:`crmlib.present.quality`.
"""

from __future__ import annotations

from crmlib.compat import moved
from crmlib.data.dates import future_cutoff, parse_day, resolve_as_of
from crmlib.data.engine import (
    as_table,
    backend_of,
    connect_engine,
    connection,
    execute,
    spark_session,
    temporary,
)
from crmlib.data.load import Dataset, check_source, load_dataset
from crmlib.data.params import fingerprint
from crmlib.data.privacy import mask_delimited, mask_personal, mask_text, mask_value
from crmlib.data.quality import QualityReport, TableQuality
from crmlib.data.rules import CLEANING_VERSION
from crmlib.data.schema import (
    PERSONAL_FIELDS,
    REPORT_HIDDEN_FIELDS,
    REQUIRED,
    SCHEMAS,
)
from crmlib.data.summary import coverage, customer_summary

__all__ = [
    "SCHEMAS",
    "backend_of",
    "connect_engine",
    "temporary",
    "spark_session",
    "REQUIRED",
    "PERSONAL_FIELDS",
    "REPORT_HIDDEN_FIELDS",
    "CLEANING_VERSION",
    "connection",
    "execute",
    "as_table",
    "parse_day",
    "resolve_as_of",
    "future_cutoff",
    "Dataset",
    "load_dataset",
    "check_source",
    "fingerprint",
    "QualityReport",
    "TableQuality",
    "mask_value",
    "mask_personal",
    "mask_text",
    "mask_delimited",
    "customer_summary",
    "coverage",
]

__getattr__ = moved(__name__, {"validate": "crmlib.present.quality:validate_source"})
