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
from crmlib.membership import positions

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


@dataclass(frozen=True)
class _Coded:
    """One customer column as a code per customer into the rows of a small block of design
    columns: the column's part of the design matrix is ``block[codes]``."""

    codes: np.ndarray
    block: np.ndarray
    names: list[str]
    reference: str | None = None

    def rows(self, codes: np.ndarray | None = None) -> np.ndarray:
        """The design columns of the customers ``codes`` (default: every customer)."""
        return self.block[self.codes if codes is None else codes]


def _code_column(
    values: pd.Series, column: str, *, at: np.ndarray | None, min_customers: int
) -> _Coded:
    """:class:`_Coded` for one column of :func:`design_matrix`; ``at`` gives each customer's
    row of ``values`` (-1: no row, a missing value), None when ``values`` has one per customer.

    The column's values are coded once (``pandas.factorize``), so a text column of millions of
    customers is never turned into as many Python strings or indicator columns."""
    codes, uniques = pd.factorize(values)
    if at is not None:
        codes = np.where(at >= 0, codes[np.maximum(at, 0)], -1)
    missing = codes < 0
    present = uniques.take(np.unique(codes[~missing])) if len(uniques) else uniques
    if pd.api.types.is_bool_dtype(values) or set(present) == {0, 1}:
        if missing.any():
            raise ConfigError(f"covariate {column!r} has missing values")
        block = np.asarray(uniques, dtype=float)[:, None]  # an indicator, used as it is
        return _Coded(codes, block, [column])
    if pd.api.types.is_numeric_dtype(values):
        numbers = np.asarray(uniques, dtype=float)
        series = pd.Series(numbers[codes] if len(numbers) else np.full(len(codes), np.nan))
        spread = series.std()
        if not np.isfinite(spread) or spread == 0 or missing.any():
            raise ConfigError(f"covariate {column!r} is constant or has missing values")
        return _Coded(codes, ((numbers - series.mean()) / spread)[:, None], [column])
    # text: one level per distinct text ("(missing)" for no value), numbered as they appear
    seen = pd.unique(codes)
    labels = ["(missing)" if c < 0 else str(uniques[c]) for c in seen]
    level_codes, names = pd.factorize(pd.Series(labels, dtype=object))  # equal texts merge
    level_of = np.empty(len(uniques) + 1, dtype=np.intp)  # by code + 1 (-1: missing)
    level_of[seen + 1] = level_codes
    levels = level_of[codes + 1]
    counts = pd.Series(np.bincount(levels, minlength=len(names)), index=names)
    rare = counts.index[counts < min_customers]
    if len(rare):
        pooled, names = pd.factorize(
            pd.Series(names, dtype=object).where(~pd.Index(names).isin(rare), "(other)")
        )
        levels = pooled[levels]
        counts = pd.Series(np.bincount(levels, minlength=len(names)), index=names)
    if len(counts) < 2:
        raise ConfigError(f"covariate {column!r} takes a single value ({counts.index[0]!r})")
    # the most common level is the reference (ties: the first seen, as Series.value_counts)
    reference = str(counts.sort_values(ascending=False, kind="stable").index[0])
    kept = sorted(name for name in counts.index if name != reference)
    block = np.asarray(names, dtype=object)[:, None] == np.asarray(kept, dtype=object)[None, :]
    return _Coded(levels, block.astype(float), [f"{column}={level}" for level in kept], reference)


def _coded_columns(
    table: pd.DataFrame,
    columns: Sequence[str],
    *,
    at: np.ndarray | None = None,
    min_customers: int = DEFAULT_MIN_BASE,
) -> list[_Coded]:
    for column in columns:
        if column not in table.columns:
            raise ConfigError(
                f"covariate {column!r} is not a customer column; available: {list(table.columns)}"
            )
    return [_code_column(table[c], c, at=at, min_customers=min_customers) for c in columns]


def _references(columns: Sequence[str], coded: list[_Coded]) -> dict[str, str]:
    """The reference level of each text column."""
    return {col: c.reference for col, c in zip(columns, coded, strict=True) if c.reference}


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
    coded = _coded_columns(table, columns, min_customers=min_customers)
    out = pd.DataFrame(
        np.hstack([c.rows() for c in coded]),
        columns=[name for c in coded for name in c.names],
        index=table.index,
    )
    out.attrs["references"] = _references(columns, coded)
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
        coded = _coded_columns(summary, columns)  # codes are by position, whatever the index
    else:
        missing = [c for c in columns if c not in customers.columns]
        if missing:
            raise ConfigError(f"covariates {missing} are not customer columns")
        # each summary customer's row of the table (the first where an id repeats); ids compare
        # as text, and a customer without a row has missing values
        ids = customers["customer_id"]
        ids = ids if pd.api.types.is_string_dtype(ids.dtype) else ids.astype(str)
        at = positions(summary["customer_id"].astype(str), ids)
        coded = _coded_columns(customers, columns, at=at)
    names = [name for c in coded for name in c.names]
    k = len(names)

    plain = fit(summary, model="bgnbd")
    # unique rows over the codes, not the design's float columns: the same rows, in the same
    # order (each code stands for one row of its block), without a design matrix per customer
    unique, w, _ = compress(x, tx, T, *[c.codes for c in coded])
    ux, utx, uT = unique[:3]
    uz = np.hstack([c.rows(u) for c, u in zip(coded, unique[3:], strict=True)])

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
    sx, sm = x[keep], m[keep]
    sz = np.hstack([c.rows(c.codes[keep]) for c in coded])

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
                        references=_references(columns, coded))  # fmt: skip


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
