"""Static covariates in BG/NBD and Gamma-Gamma: does the acquisition channel, the member level
or any other customer column change how often customers buy, how soon they stop, how much they
spend?

The models are those of CLVTools (Meierer et al.) for static covariates ``z`` of a customer:

- purchase rate: ``α_i = α · exp(−γ_purchase · z)``, so the rate's mean ``r / α_i`` is
  multiplied by ``exp(γ_purchase · z)``;
- dropout: ``a_i = a · exp(γ_dropout · z)``, so a positive effect means earlier dropout;
- spend: ``v_i = v · exp(γ_spend · z)``, so the mean spend per purchase is multiplied by
  ``exp(γ_spend · z)``.

Each model is fitted by maximum likelihood (L-BFGS-B with the analytic gradient) starting from
the fit without covariates, and compared with it by a likelihood-ratio test: twice the gain in
log-likelihood against a chi-squared law with as many degrees of freedom as effects. With no
covariate the likelihoods are exactly those of :mod:`crmlib.clv.likelihoods`. Effects describe
association in the data, not cause: customers choose their channel, and levels follow spend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import chi2

from crmlib.clv.covariate_likelihoods import (
    PurchaseLikelihood,
    SpendLikelihood,
    bgnbd_covariate_ll_grad,
    spend_covariate_ll_grad,
)
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.likelihoods import PARAM_NAMES
from crmlib.clv.models import fit, fit_spend
from crmlib.clv.rows import check_summary, compress
from crmlib.config import check_range
from crmlib.data import execute
from crmlib.errors import ConfigError, DataError
from crmlib.measure import DEFAULT_MIN_BASE, NotMeasured, not_measured

__all__ = [
    "BEHAVIOURS",
    "CovariateFit",
    "covariate_effects",
    "bgnbd_covariate_ll_grad",
    "design_matrix",
    "fit_covariates",
    "spend_covariate_ll_grad",
]

#: A total log-likelihood and its gradient as a function of the parameter vector.
LogLikelihood = Callable[[np.ndarray], tuple[float, np.ndarray]]

#: What an effect acts on, in the order of the effects table.
BEHAVIOURS: tuple[str, ...] = ("purchase", "dropout", "spend")


def design_matrix(
    table: pd.DataFrame, columns: Sequence[str], *, min_customers: int = DEFAULT_MIN_BASE
) -> pd.DataFrame:
    """Numeric covariates from customer columns.

    Boolean and 0/1 columns are indicators as they are; text and category columns become one
    indicator per level, leaving out the most common level (the reference the effects compare
    with; missing values form their own level, ``"(missing)"``); other numeric columns are
    standardised (mean 0, standard deviation 1), so an effect is per standard deviation.
    Levels held by fewer than ``min_customers`` customers are pooled as ``"(other)"``: an
    effect measured on a handful of customers is noise. Column names are ``column=level`` or
    ``column``; ``attrs["references"]`` maps each text column to its reference level.

    Raises
    ------
    ConfigError
        When a column is missing or takes a single value.
    """
    parts, references = [], {}
    for column in columns:
        if column not in table.columns:
            raise ConfigError(
                f"covariate {column!r} is not a customer column; available: {list(table.columns)}"
            )
        values = table[column]
        if pd.api.types.is_bool_dtype(values) or set(values.dropna().unique()) == {0, 1}:
            if values.isna().any():
                raise ConfigError(f"covariate {column!r} has missing values")
            parts.append(values.astype(float).rename(column))  # an indicator, used as it is
            continue
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.astype(float)
            spread = numbers.std()
            if not np.isfinite(spread) or spread == 0 or numbers.isna().any():
                raise ConfigError(f"covariate {column!r} is constant or has missing values")
            parts.append(((numbers - numbers.mean()) / spread).rename(column))
            continue
        levels = values.astype(object).where(values.notna(), "(missing)").astype(str)
        counts = levels.value_counts()
        rare = counts.index[counts < min_customers]
        if len(rare):
            levels = levels.where(~levels.isin(rare), "(other)")
            counts = levels.value_counts()
        if len(counts) < 2:
            raise ConfigError(f"covariate {column!r} takes a single value ({counts.index[0]!r})")
        references[column] = str(counts.index[0])  # the most common level is the reference
        for level in sorted(counts.index[1:]):
            parts.append((levels == level).astype(float).rename(f"{column}={level}"))
    out = pd.concat(parts, axis=1).set_axis(table.index)
    out.attrs["references"] = references
    return out


def _maximise(
    ll_grad: LogLikelihood, start: np.ndarray, total: float
) -> tuple[np.ndarray, float, bool]:
    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = ll_grad(phi)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(phi)
        return -value / total, -grad / total

    # 30 correction pairs rather than scipy's 10: with 20-odd parameters, r and α (and a and b)
    # strongly correlated, the short memory zigzags (a 1M-customer fit took 366 evaluations
    # and ended on a failed line search; with 30 it takes about 100 and ends higher)
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 30})  # fmt: skip
    converged = bool(result.success or np.max(np.abs(result.jac)) < 1e-5)
    return result.x, float(ll_grad(result.x)[0]), converged


def _covariance(ll_grad: LogLikelihood, phi: np.ndarray) -> np.ndarray:
    """Inverse observed information from central differences of the analytic gradient."""
    k, h = len(phi), 1e-5
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        hess[:, i] = (ll_grad(phi + step)[1] - ll_grad(phi - step)[1]) / (2 * h)
    try:
        return np.linalg.inv(-(hess + hess.T) / 2)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)


@dataclass
class CovariateFit:
    """Result of :func:`fit_covariates`."""

    effects: pd.DataFrame
    """Per behaviour and covariate: ``estimate`` (γ), ``std_error``, ``lower_95``,
    ``upper_95``, ``multiplier`` (``exp(γ)``: the factor on the purchase rate, the dropout
    parameter or the mean spend) with ``multiplier_lower`` / ``multiplier_upper``."""
    tests: pd.DataFrame
    """Per model (``purchase`` for BG/NBD, ``spend`` for Gamma-Gamma): ``log_likelihood``,
    ``log_likelihood_without``, ``statistic``, ``df``, ``p_value``, ``helps``
    (``p_value < significance``), ``customers``."""
    params: dict[str, float]
    """Base parameters of the covariate models (the reference customer's)."""
    columns: list[str]
    significance: float
    references: dict[str, str] = field(default_factory=dict)
    """The reference level of each text column (the most common)."""

    @property
    def helps(self) -> bool:
        """Whether the covariates improve either model significantly."""
        return bool(self.tests["helps"].any())


def _effect_rows(behaviour: str, names: list[str], est: np.ndarray, se: np.ndarray) -> list[dict]:
    low, high = est - 1.96 * se, est + 1.96 * se
    with np.errstate(over="ignore"):  # an effect the data cannot pin down: an infinite bound
        factor, factor_low, factor_high = np.exp(est), np.exp(low), np.exp(high)
    return [
        {"behaviour": behaviour, "covariate": name, "estimate": est[i], "std_error": se[i],
         "lower_95": low[i], "upper_95": high[i], "multiplier": factor[i],
         "multiplier_lower": factor_low[i], "multiplier_upper": factor_high[i]}
        for i, name in enumerate(names)
    ]  # fmt: skip


def fit_covariates(
    summary: pd.DataFrame,
    *,
    columns: Sequence[str],
    customers: pd.DataFrame | None = None,
    significance: float = 0.05,
) -> CovariateFit:
    """Fit BG/NBD and Gamma-Gamma with static covariates and test them against the models
    without.

    Parameters
    ----------
    summary
        Customer summary (:func:`crmlib.clv.summary`).
    columns
        Customer columns to use as covariates (see :func:`design_matrix`).
    customers
        ``customer_id`` and the ``columns``; the summary's own columns when None.
    significance
        Level of the likelihood-ratio tests: covariates *help* a model when its p-value is below.
    """
    check_range("significance", significance, low=0.0, high=1.0, low_inclusive=False)
    if not columns:
        raise ConfigError("parameter 'columns' names no covariate")
    x, tx, T = check_summary(summary)
    if customers is None:
        table = summary
    else:
        unique = customers.drop_duplicates("customer_id")
        lookup = unique.set_index(unique["customer_id"].astype(str).to_numpy())
        missing = [c for c in columns if c not in lookup.columns]
        if missing:
            raise ConfigError(f"covariates {missing} are not customer columns")
        table = lookup.reindex(summary["customer_id"].astype(str).to_numpy())[list(columns)]
    design = design_matrix(table.reset_index(drop=True), columns)
    z_all = design.to_numpy(float)
    names = list(design.columns)
    k = len(names)

    plain = fit(summary, model="bgnbd")
    cols = [x, tx, T] + [z_all[:, j] for j in range(k)]
    unique, w, _ = compress(*cols)
    ux, utx, uT = unique[:3]
    uz = np.column_stack(unique[3:]) if k else np.empty((len(ux), 0))

    ll_purchase = PurchaseLikelihood(ux, utx, uT, uz, w)

    base = np.log([plain.params_[n] for n in PARAM_NAMES["bgnbd"]])
    start = np.concatenate([base, np.zeros(2 * k)])
    ll_without = ll_purchase(start)[0]
    phi, ll_with, ok = _maximise(ll_purchase, start, w.sum())
    if not ok:
        raise DataError("the purchase model with covariates did not converge; use fewer covariates")
    se = np.sqrt(np.clip(np.diag(_covariance(ll_purchase, phi)), 0, None))
    rows = _effect_rows("purchase", names, phi[4 : 4 + k], se[4 : 4 + k])
    rows += _effect_rows("dropout", names, phi[4 + k :], se[4 + k :])
    tests = [_test("purchase", ll_with, ll_without, 2 * k, len(x), significance)]
    params = dict(zip(PARAM_NAMES["bgnbd"], np.exp(phi[:4]).tolist(), strict=True))

    m = pd.to_numeric(summary["monetary_value"], errors="coerce").fillna(0.0).to_numpy(float)
    keep = (x > 0) & (m > 0)
    spend: GammaGammaModel = fit_spend(summary, min_repeaters=0)
    sx, sm, sz = x[keep], m[keep], z_all[keep]

    ll_spend = SpendLikelihood(sx, sm, sz, np.ones(len(sx)))

    start_s = np.concatenate([np.log([spend.params_[n] for n in PARAM_NAMES["gamma_gamma"]]),
                              np.zeros(k)])  # fmt: skip
    ll_s_without = ll_spend(start_s)[0]
    phi_s, ll_s_with, ok = _maximise(ll_spend, start_s, len(sx))
    if not ok:
        raise DataError("the spend model with covariates did not converge; use fewer covariates")
    se_s = np.sqrt(np.clip(np.diag(_covariance(ll_spend, phi_s)), 0, None))
    rows += _effect_rows("spend", names, phi_s[3:], se_s[3:])
    tests.append(_test("spend", ll_s_with, ll_s_without, k, len(sx), significance))
    params.update(zip(PARAM_NAMES["gamma_gamma"], np.exp(phi_s[:3]).tolist(), strict=True))
    return CovariateFit(pd.DataFrame(rows), pd.DataFrame(tests), params, names, significance,
                        references=dict(design.attrs["references"]))  # fmt: skip


def _test(model: str, with_: float, without: float, df: int, n: int, level: float) -> dict:
    statistic = max(0.0, 2 * (with_ - without))
    p_value = float(chi2.sf(statistic, df))
    return {"model": model, "log_likelihood": with_, "log_likelihood_without": without,
            "statistic": statistic, "df": df, "p_value": p_value, "helps": p_value < level,
            "customers": n}  # fmt: skip


def covariate_effects(
    summary: pd.DataFrame,
    *,
    customers: Any,
    columns: Sequence[str],
    significance: float = 0.05,
) -> CovariateFit | NotMeasured:
    """:func:`fit_covariates` on the customer table (DataFrame or Ibis table), or why not:
    ``table_missing`` without a customer table, ``column_not_mapped`` for the first column it
    lacks or leaves empty, ``no_data`` when no column is named."""
    if not columns:
        return not_measured("no_data")
    if customers is None:
        return not_measured("table_missing", table="customers")
    names = list(customers.columns)
    for column in columns:
        if column not in names:
            return not_measured("column_not_mapped", table="customers", column=column)
    if not isinstance(customers, pd.DataFrame):
        customers = execute(customers.select("customer_id", *columns))
    for column in columns:
        if customers[column].isna().all():
            return not_measured("column_not_mapped", table="customers", column=column)
    return fit_covariates(summary, columns=columns, customers=customers, significance=significance)
