"""What the report says about what drives value: the static covariates that change how
customers buy, stop and spend (:func:`crmlib.clv.covariate_effects`) and whether segments need
models of their own (:func:`crmlib.clv.fit_by_segment`), in English or Chinese."""

from __future__ import annotations

import pandas as pd

from crmlib.clv.covariates import CovariateFit
from crmlib.clv.segment_fits import SegmentFits
from crmlib.errors import ConfigError
from crmlib.i18n import check_language, t
from crmlib.measure import DEFAULT_MIN_BASE, NotMeasured
from crmlib.present.format import p_value, why_not

__all__ = ["drivers_table", "drivers_text", "segment_fits_text"]

#: Effects named in the sentence, largest first.
_SHOWN = 4


def _column(name: str, language: str) -> str:
    """A customer column as readers know it (the data labels' field name), else as it is."""
    try:
        return t(f"data.field_{name}", language)
    except ConfigError:
        return name


def _who(covariate: str, fit: CovariateFit, language: str) -> str:
    column, _, level = covariate.partition("=")
    reference = _level(fit.references.get(column, "–"), language)
    if level == "(other)":
        return t("clv.effect_who_other", language, column=_column(column, language),
                 minimum=DEFAULT_MIN_BASE, reference=reference)  # fmt: skip
    if level:
        return t("clv.effect_who_level", language, column=_column(column, language),
                 level=_level(level, language), reference=reference)  # fmt: skip
    return t("clv.effect_who_number", language, column=_column(column, language))


def _level(level: str, language: str) -> str:
    """A level as written in the data, or the missing level in words."""
    return t("clv.level_missing", language) if level == "(missing)" else level


def _p(value: float) -> str:
    """``p = 0.021``, or ``p < 1e-300`` where the value underflows."""
    text = p_value(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _clear(fit: CovariateFit) -> pd.DataFrame:
    """Effects whose 95% interval excludes no effect, in models the test kept, largest first."""
    kept = set(fit.tests.loc[fit.tests["helps"], "model"])
    models = fit.effects["behaviour"].map(lambda b: "spend" if b == "spend" else "purchase")
    effects = fit.effects[models.isin(kept)]
    clear = effects[(effects["lower_95"] > 0) | (effects["upper_95"] < 0)]
    return clear.reindex(clear["estimate"].abs().sort_values(ascending=False).index)


def drivers_text(fit: CovariateFit | NotMeasured, *, language: str = "en") -> str:
    """Whether the covariates matter, and the clearest effects as multipliers with ranges."""
    check_language(language)
    if isinstance(fit, NotMeasured):
        return t("clv.drivers_not_measured", language, reason=why_not(fit, language))
    tests = fit.tests.set_index("model")["p_value"]
    names = dict.fromkeys(_column(c.partition("=")[0], language) for c in fit.columns)
    columns = t("clv.column_separator", language).join(names)
    common = {"columns": columns, "p_purchase": _p(tests["purchase"]),
              "p_spend": _p(tests["spend"])}  # fmt: skip
    if not fit.helps:
        return t("clv.drivers_none", language, **common)
    phrases = [
        t(f"clv.effect_{row.behaviour}", language, who=_who(row.covariate, fit, language),
          multiplier=f"{row.multiplier:.2f}", lower=f"{row.multiplier_lower:.2f}",
          upper=f"{row.multiplier_upper:.2f}")
        for row in _clear(fit).head(_SHOWN).itertuples()
    ]  # fmt: skip
    effects = t("clv.effect_separator", language).join(phrases) or t(
        "clv.drivers_no_clear_effect", language
    )
    return t("clv.drivers_help", language, effects=effects, **common)


def drivers_table(fit: CovariateFit | NotMeasured, *, language: str = "en") -> pd.DataFrame:
    """The clear effects (95% range excluding none) with headings in ``language``; empty when
    the covariates do not help."""
    check_language(language)
    if isinstance(fit, NotMeasured) or not fit.helps:
        return pd.DataFrame()
    clear = _clear(fit)
    return pd.DataFrame(
        {
            t("clv.col_behaviour", language): [t(f"clv.behaviour_{b}", language)
                                               for b in clear["behaviour"]],
            t("clv.col_covariate", language): [_who(c, fit, language) for c in clear["covariate"]],
            t("clv.col_multiplier", language): [f"{m:.2f}×" for m in clear["multiplier"]],
            t("clv.col_multiplier_range", language): [
                f"{lo:.2f}–{hi:.2f}×"
                for lo, hi in zip(clear["multiplier_lower"], clear["multiplier_upper"], strict=True)
            ],
        }
    )  # fmt: skip


def segment_fits_text(fits: SegmentFits | NotMeasured, *, language: str = "en") -> str:
    """Whether groups of customers are forecast with models of their own, and why."""
    check_language(language)
    why = fits if isinstance(fits, NotMeasured) else fits.why_not
    if why is not None:
        return t("clv.segment_fits_not_measured", language, reason=why_not(why, language))
    tests = fits.tests.set_index("model")["p_value"]
    common = {"p_purchase": _p(tests["purchase"]), "p_spend": _p(tests["spend"]),
              "by": _column(fits.by, language)}  # fmt: skip
    if not fits.differ:
        return t("clv.segment_fits_same", language, **common)
    own = int(fits.table["own_fit"].sum())
    return t("clv.segment_fits_differ", language, count=own, pooled=len(fits.table) - own,
             **common)  # fmt: skip
