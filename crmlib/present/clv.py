"""What a CLV report says: executive text in English or Chinese and translated tables, built
from the results of :mod:`crmlib.clv`.

Every function takes a CLV result first and ``language`` keyword-only, and returns markdown (or
a table with translated headings); the wording lives in ``crmlib/labels/clv.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.fitted import TransactionModel
from crmlib.clv.forecast import Uncertainty
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.scoring import by_segment, deciles, export_list
from crmlib.clv.validation import Backtest
from crmlib.clv.workflow import Analysis, rfm_segments
from crmlib.i18n import check_language, labels, t
from crmlib.measure import row_reasons
from crmlib.present.format import money, percent, why_not
from crmlib.present.page import md_escape
from crmlib.present.rfm import segment_name
from crmlib.segments import Scheme, load_scheme

__all__ = [
    "BACKTEST_TOLERANCE",
    "at_risk_text",
    "backtest_text",
    "classification_table",
    "clv_text",
    "export_note",
    "export_text",
    "future_text",
    "localise",
    "model_text",
    "parameter_table",
    "identifiability_note",
    "segment_names",
    "value_by_segment",
]

#: A backtest whose total is within this share of the actual count is called good.
BACKTEST_TOLERANCE = 0.15


#: Money columns of CLV tables and their decimals (written with the data's currency).
_MONEY = {"clv": 0, "clv_if_active": 0, "historical_value": 0, "clv_total": 0, "clv_mean": 0,
          "clv_median": 0, "total": 0, "mean": 0, "expected_spend": 2, "clv_lower": 0,
          "clv_upper": 0, "clv_total_lower": 0, "clv_total_upper": 0}  # fmt: skip
#: Shares and probabilities of CLV tables (written as percents).
_PERCENT = ("p_alive", "p_alive_lower", "p_alive_upper", "p_alive_mean", "share_clv", "share", "accuracy", "precision", "recall",
            "share_active", "error", "relative_error")  # fmt: skip


def localise(table: pd.DataFrame, *, language: str = "en", digits: int = 3) -> pd.DataFrame:
    """``table`` for reading: money with the currency symbol, shares and probabilities as
    percents, other numbers rounded to ``digits`` decimals, columns (and the backtest's method
    names) in ``language``."""
    check_language(language)
    names = {
        k.removeprefix("col_"): v
        for k, v in labels("clv", language).items()
        if k.startswith("col_")
    }
    out = table.round(digits)
    for col in out.columns:
        if col in _MONEY:
            out[col] = [money(v, digits=_MONEY[col]) for v in table[col]]
        elif col in _PERCENT:
            out[col] = [percent(v) for v in table[col]]
    if "method" in out.columns:
        out["method"] = out["method"].map(lambda m: t(f"clv.method_{m}", language))
    unit = table.attrs.get("time_unit")
    if unit in ("W", "D") and "time_since_last_purchase" in out.columns:  # every figure its unit
        since = names.get("time_since_last_purchase", "time_since_last_purchase")
        names["time_since_last_purchase"] = f"{since} ({t(f'clv.unit_{unit}', language)})"
    return out.rename(columns=names)


def backtest_text(check: Backtest, *, language: str = "en") -> str:
    """What the backtest says, with a verdict: totals, error, baseline and classification."""
    check_language(language)
    metrics = check.metrics.set_index("method")
    model, naive = metrics.loc["model"], metrics.loc["naive"]
    weeks = float(check.customers["duration_holdout"].iloc[0]) * (
        1.0 if check.time_unit == "W" else 1 / 7
    )
    text = t(
        "clv.backtest_text",
        language,
        customers=len(check.customers),
        calibration_end=check.calibration_end.date().isoformat(),
        weeks=weeks,
        predicted=model["total_predicted"],
        actual=model["total_actual"],
        error=_finite(model["error"]),
        naive=naive["total_predicted"],
        naive_error=_finite(naive["error"]),
        correlation=_finite(model["correlation"]),
        naive_correlation=_finite(naive["correlation"]),
    )
    good = abs(_finite(model["error"])) <= BACKTEST_TOLERANCE
    # a close total from parameters the data cannot pin down is luck over one holdout, not a
    # model to plan with (see identifiability_note)
    pinned = bool(check.model.parameters()["identifiable"].all())
    verdict = t(
        "clv.backtest_verdict_weak" if not good
        else "clv.backtest_verdict_good" if pinned else "clv.backtest_verdict_unidentified",
        language,
        tolerance=BACKTEST_TOLERANCE,
    )  # fmt: skip
    acc = check.classification.set_index("rule")["accuracy"]
    classes = t("clv.classification_text", language, p_alive=acc["p_alive"], hiatus=acc["hiatus"])
    return f"{text} {verdict}\n\n{classes}"


def classification_table(check: Backtest, *, language: str = "en") -> pd.DataFrame:
    """The backtest's active/inactive classification with readable rule names."""
    check_language(language)
    out = check.classification.copy()
    names = {
        "p_alive": t(
            "clv.rule_p_alive", language, threshold=check.settings.get("p_alive_threshold", 0.5)
        ),
        "hiatus": t("clv.rule_hiatus", language, weeks=check.settings.get("hiatus_weeks", 26)),
    }
    out["rule"] = out["rule"].map(names)
    return localise(out, language=language)


def clv_text(
    scores: pd.DataFrame,
    *,
    language: str = "en",
    top_share: float = 0.1,
    monthly_discount_rate: float = 0.01,
) -> str:
    """Headline of the value of the base: total, concentration in the top share, median."""
    check_language(language)
    values = np.sort(scores["clv"].to_numpy(dtype=float))[::-1]
    total = float(values.sum())
    n_top = max(1, int(np.ceil(top_share * len(values))))
    return t(
        "clv.clv_text",
        language,
        months=scores.attrs.get("horizon_months", 12),
        customers=len(values),
        total=money(total),
        rate=monthly_discount_rate,
        top=top_share,
        top_share=float(values[:n_top].sum() / total) if total else 0.0,
        median=money(float(np.median(values))) if len(values) else money(None),
    )


def at_risk_text(
    risk: pd.DataFrame,
    *,
    language: str = "en",
    top_share: float = 0.1,
    p_alive_below: float = 0.5,
    hiatus_weeks: float = 26.0,
    backtest: Backtest | None = None,
) -> str:
    """How many valuable customers are slipping away, by which rule, and what they would be
    worth; with the ``backtest``, why that rule (its accuracy against the other's)."""
    check_language(language)
    rule = risk.attrs.get("rule", "p_alive")
    text = t(
        f"clv.at_risk_text{'_hiatus' if rule == 'hiatus' else ''}",
        language,
        count=len(risk),
        top=top_share,
        threshold=p_alive_below,
        weeks=hiatus_weeks,
        value=money(float(risk["clv_if_active"].sum())),
    )
    if backtest is None:
        return text
    acc = backtest.classification.set_index("rule")["accuracy"]
    return (
        text
        + " "
        + t(
            f"clv.at_risk_why_{rule}",
            language,
            model=percent(acc.get("p_alive", np.nan), digits=0),
            hiatus=percent(acc.get("hiatus", np.nan), digits=0),
        )
    )


def future_text(future: pd.DataFrame, *, language: str = "en", top_share: float = 0.1) -> str:
    """How many customers are predicted to become top customers."""
    check_language(language)
    count = int(future["future_high_value"].sum()) if "future_high_value" in future else len(future)
    return t("clv.future_text", language, count=count, top=top_share)


def model_text(model: TransactionModel, spend: GammaGammaModel, *, language: str = "en") -> str:
    """One sentence on which models were fitted on how many customers."""
    check_language(language)
    return t(
        "clv.model_text",
        language,
        model=t(f"clv.model_{model.kind}", language),
        customers=model.n_customers_,
        repeaters=spend.n_customers_,
        unit=t(f"clv.unit_{getattr(model, 'time_unit_', 'W')}", language),
    )


def parameter_table(
    model: TransactionModel, spend: GammaGammaModel, *, language: str = "en"
) -> pd.DataFrame:
    """Both models' parameters with standard errors and 95% intervals (log scale, never below
    zero) and, for a parameter the data cannot pin down, why (headings translated)."""
    table = pd.concat([model.parameters(), spend.parameters()], ignore_index=True)
    reasons = row_reasons(table)
    table["why_not"] = [why_not(r, language) if r is not None else "" for r in reasons]
    weak = np.array([r is not None for r in reasons], dtype=bool)
    # an interval the data cannot support (a standard error of 0, an upper bound of 10^21) is
    # no interval: "–", with the reason in the note
    table.loc[weak, ["std_error", "lower_95", "upper_95", "relative_error"]] = np.nan
    table = table.drop(columns=["identifiable", "why_not_detail"])
    if not table["why_not"].astype(bool).any():
        table = table.drop(columns="why_not")
    return localise(table, language=language)


#: Which behaviour each model parameter governs, for the executive's sentence.
_GOVERNS = {"a": "dropout", "b": "dropout", "s": "dropout", "beta": "dropout",
            "r": "purchase", "alpha": "purchase", "p": "spend", "q": "spend",
            "v": "spend"}  # fmt: skip


def identifiability_note(
    model: TransactionModel, spend: GammaGammaModel, *, language: str = "en"
) -> str:
    """A warning for an executive when the data cannot pin down a model parameter, or "".

    "The history is too short to tell how quickly customers stop buying (the data cannot pin
    down a, b): lifetime values rest on a guess about it; read them as a ranking of customers,
    not as money to plan with." One sentence per behaviour affected (dropout, purchase rate,
    spend).
    """
    check_language(language)
    table = pd.concat([model.parameters(), spend.parameters()], ignore_index=True)
    weak = table.loc[~table["identifiable"], "parameter"].tolist()
    kinds: dict[str, list[str]] = {}
    for name in weak:
        kinds.setdefault(_GOVERNS.get(name, "purchase"), []).append(name)
    return " ".join(
        t(f"clv.unidentified_{kind}", language, parameters=", ".join(names))
        for kind, names in kinds.items()
    )


def export_text(path: str | Path, *, language: str = "en") -> str:
    """Where an exported list was written."""
    return t("clv.export_text", language, path=str(path))


def segment_names(
    segments: pd.DataFrame,
    *,
    scheme: str | Path | Mapping[str, Any] | Scheme = "cn8",
    language: str = "en",
) -> pd.DataFrame:
    """``segments`` with each segment key replaced by its display name in ``language``.

    Parameters
    ----------
    segments
        Per customer ``customer_id, segment`` (keys of ``scheme``), e.g. from
        :func:`crmlib.clv.workflow.rfm_segments`.
    scheme
        The segment scheme the keys belong to (name, file, mapping or
        :class:`crmlib.segments.Scheme`).
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    sch = load_scheme(scheme)
    names = {key: segment_name(sch, key, language=language) for key in sch.segments["segment"]}
    out = segments.copy(deep=False)  # copy-on-write: ``segments`` keeps its keys
    # name each distinct key once: a map per customer turns millions of keys into objects
    codes, keys = pd.factorize(out["segment"])
    shown = np.asarray([names.get(k, np.nan) for k in keys] + [np.nan], dtype=object)
    out["segment"] = shown[codes]
    return out


def value_by_segment(
    analysis: Analysis,
    transactions: Any,
    *,
    scheme: str = "cn8",
    language: str = "en",
    bands: Uncertainty | None = None,
) -> tuple[pd.DataFrame, str]:
    """CLV by RFM segment of ``scheme`` (named in ``language``), or by CLV decile when ``scheme``
    is empty, and a note saying which segmentation was used. With ``bands``
    (:func:`crmlib.clv.intervals` broken down by the same segments) each segment's total
    carries its 95% range (``clv_total_lower``, ``clv_total_upper``).

    Parameters
    ----------
    analysis
        Output of :func:`crmlib.clv.analyse`.
    transactions
        The canonical transactions the analysis ran on (for the RFM segments).
    scheme
        Segment scheme of ``params/segments.yaml``; empty for CLV deciles.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    (pandas.DataFrame, str)
        The table (for :func:`crmlib.plots.clv.clv_by_segment`) and the note (markdown).
    """
    if not scheme:
        return deciles(analysis.scores), t("clv.segment_source_deciles", language)
    keys = rfm_segments(transactions, as_of=analysis.as_of, scheme=scheme)
    segments = segment_names(keys, scheme=scheme, language=language)
    note = t("clv.segment_source_rfm", language, scheme=md_escape(scheme))
    table = by_segment(analysis.scores, segments)
    if bands is None or bands.horizons.empty:
        return table, note
    horizon = int(analysis.settings["horizon_months"])
    ranges = bands.horizons[(bands.horizons["first_month"] == 1)
                            & (bands.horizons["last_month"] == horizon)]  # fmt: skip
    ranges = ranges.set_index("segment")[["value_lower", "value_upper"]]
    if not set(table["segment"]) <= set(ranges.index):  # the forecast is broken down otherwise
        return table, note
    at = table.columns.get_loc("clv_total") + 1
    table.insert(at, "clv_total_lower", table["segment"].map(ranges["value_lower"]).to_numpy())
    table.insert(at + 1, "clv_total_upper", table["segment"].map(ranges["value_upper"]).to_numpy())
    return table, note


def export_note(
    table: pd.DataFrame, export_dir: str | Path, *, name: str, language: str = "en"
) -> str:
    """Write ``table`` (ids and scores only, :func:`crmlib.clv.scoring.export_list`) to
    ``<export_dir>/<name>.csv`` and return a sentence saying where; nothing is written and ""
    returned when ``export_dir`` is empty."""
    if not export_dir:
        return ""
    path = export_list(table, Path(export_dir) / f"{name}.csv")
    return export_text(path, language=language)


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0
