"""What the report says about the CLV forecast and its range (:func:`crmlib.clv.intervals`):
the executive sentence and the table of value per horizon and segment, in English or Chinese.
"""

from __future__ import annotations

import pandas as pd

from crmlib.clv.forecast import ALL, Uncertainty
from crmlib.clv.workflow import rfm_segments
from crmlib.i18n import check_language, t
from crmlib.present.clv import segment_names
from crmlib.present.format import MISSING, money, why_not

__all__ = [
    "forecast_text",
    "horizon_table",
    "method_note",
    "named_segments",
    "track_record_table",
    "track_record_text",
]


def _signed_percent(value: float) -> str:
    """``+3.2%`` / ``-5.0%``; "–" when missing."""
    return MISSING if pd.isna(value) else f"{float(value) * 100:+.1f}%"


def _range(lower: float, upper: float) -> str:
    return f"{money(lower)} – {money(upper)}"


def forecast_text(bands: Uncertainty, *, language: str = "en", unidentified: bool = False) -> str:
    """The value of the base over the CLV horizon with its two ranges, then what later horizons
    add; with ``unidentified`` (a model parameter the data cannot pin down, see
    :func:`crmlib.present.clv.identifiability_note`) a sentence to read the range, not the
    centre. "–" and the reason when the ranges could not be computed."""
    check_language(language)
    if not bands.measured:
        return t("clv.forecast_not_measured", language, reason=why_not(bands.why_not, language))
    horizon = int(bands.settings["horizon_months"])
    table = bands.horizons[bands.horizons["segment"] == ALL]
    first = table[(table["first_month"] == 1) & (table["last_month"] == horizon)].iloc[0]
    customers = int(bands.forecast.loc[bands.forecast["segment"] == ALL, "customers"].iloc[0])
    parts = [
        t(
            "clv.forecast_text",
            language,
            months=horizon,
            customers=customers,
            value=money(first["value"]),
            rate=bands.settings["monthly_discount_rate"],
            level=bands.level,
            lower=money(first["value_lower"]),
            upper=money(first["value_upper"]),
            outcome_lower=money(first["value_outcome_lower"]),
            outcome_upper=money(first["value_outcome_upper"]),
        )
    ]
    for _, row in table[table["first_month"] > 1].iterrows():
        parts.append(
            t(
                "clv.forecast_later",
                language,
                first=int(row["first_month"]),
                last=int(row["last_month"]),
                value=money(row["value"]),
                lower=money(row["value_lower"]),
                upper=money(row["value_upper"]),
            )
        )
    if unidentified:
        parts.append(t("clv.forecast_wide", language))
    return " ".join(parts)


def method_note(bands: Uncertainty, *, language: str = "en") -> str:
    """How the ranges were made, and that they are a model's estimate."""
    check_language(language)
    return t("clv.forecast_method", language, draws=bands.draws)


def horizon_table(bands: Uncertainty, *, language: str = "en") -> pd.DataFrame:
    """Per segment and horizon: months, discounted value, its range and the range of actual
    revenue, with headings in ``language`` (empty when not measured)."""
    check_language(language)
    table = bands.horizons
    if table.empty:
        return pd.DataFrame()
    level = bands.level
    return pd.DataFrame(
        {
            t("clv.col_segment", language): [
                t("clv.segment_all", language) if s == ALL else s for s in table["segment"]
            ],
            t("clv.col_months", language): [
                f"{a}–{b}" for a, b in zip(table["first_month"], table["last_month"], strict=True)
            ],
            t("clv.col_value", language): [money(v) for v in table["value"]],
            t("clv.col_value_range", language, level=level): [
                _range(lo, hi)
                for lo, hi in zip(table["value_lower"], table["value_upper"], strict=True)
            ],
            t("clv.col_outcome_range", language, level=level): [
                _range(lo, hi)
                for lo, hi in zip(
                    table["value_outcome_lower"], table["value_outcome_upper"], strict=True
                )
            ],
        }
    )


def named_segments(
    transactions: object, *, as_of: object, scheme: str, language: str = "en"
) -> pd.DataFrame | None:
    """``customer_id, segment`` with the RFM segment of ``scheme`` named in ``language``, for
    the forecast per segment; None when ``scheme`` is empty (the base only)."""
    if not scheme:
        return None
    keys = rfm_segments(transactions, as_of=as_of, scheme=scheme)
    return segment_names(keys, scheme=scheme, language=language)


def track_record_text(record: pd.DataFrame, *, language: str = "en") -> str:
    """The latest earlier forecast against what happened, and how many landed in their range;
    the record's start when there is none yet."""
    check_language(language)
    if record.empty:
        return t("clv.track_record_none", language)
    latest = record.iloc[0]
    return t(
        "clv.track_record_text",
        language,
        made_on=latest["made_on"].date().isoformat(),
        forecast=money(latest["forecast"]),
        customers=int(latest["customers"]),
        months=int(latest["months"]),
        actual=money(latest["actual"]),
        error=_signed_percent(latest["error"]),
        where=t(
            "clv.track_record_inside" if latest["inside"] else "clv.track_record_outside", language
        ),  # fmt: skip
        level=record.attrs.get("level", 0.95),
        lower=money(latest["lower"]),
        upper=money(latest["upper"]),
        hits=int(record["inside"].sum()),
        count=len(record),
    )


def track_record_table(record: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """The record with headings in ``language`` (empty when there is none)."""
    check_language(language)
    if record.empty:
        return pd.DataFrame()
    level = record.attrs.get("level", 0.95)
    return pd.DataFrame(
        {
            t("clv.col_made_on", language): [d.date().isoformat() for d in record["made_on"]],
            t("clv.col_months_since", language): record["months"].astype(int).to_numpy(),
            t("clv.col_forecast", language): [money(v) for v in record["forecast"]],
            t("clv.col_range", language, level=level): [
                _range(lo, hi) for lo, hi in zip(record["lower"], record["upper"], strict=True)
            ],
            t("clv.col_actual", language): [money(v) for v in record["actual"]],
            t("clv.col_error", language): [_signed_percent(e) for e in record["error"]],
            t("clv.col_inside", language): [
                t("clv.mark_inside" if inside else "clv.mark_outside", language)
                for inside in record["inside"]
            ],
        }
    )
