"""One model per segment, where segments differ: separate BG/NBD and Gamma-Gamma fits per
segment, a test of whether their parameters are equal, and the models for a rolled-up forecast.

Fitting one model over very different segments (new members and loyal regulars, a wholesale
channel and a web shop) is a known bias; the usual remedy is a fit per segment. Whether it is
needed is a likelihood-ratio test: twice the gain of the separate fits' summed log-likelihood
over one fit on the same customers, against a chi-squared law with 4 (BG/NBD) or 3
(Gamma-Gamma) degrees of freedom per extra segment. Segments too small to fit on their own keep
the pooled models.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2

from crmlib.clv.bgnbd import BetaGeoModel
from crmlib.clv.forecast import segment_codes
from crmlib.clv.gamma_gamma import GammaGammaModel
from crmlib.clv.likelihoods import PARAM_NAMES
from crmlib.clv.models import fit, fit_spend
from crmlib.config import check_range
from crmlib.errors import CrmError, CrmWarning
from crmlib.measure import NotMeasured, not_measured

__all__ = ["SegmentFits", "fit_by_segment"]


@dataclass
class SegmentFits:
    """Result of :func:`fit_by_segment`."""

    table: pd.DataFrame
    """Per segment: ``segment, customers, repeaters, own_fit`` and the parameters it is
    forecast with (``r, alpha, a, b, p, q, v``: its own, or the pooled ones)."""
    tests: pd.DataFrame
    """Per model (``purchase``, ``spend``): ``statistic, df, p_value, differ, segments``."""
    models: dict[str, tuple[BetaGeoModel, GammaGammaModel]]
    """Each segment fitted on its own, by name (for :func:`crmlib.clv.intervals`)."""
    significance: float
    by: str = "segment"
    """The segmentation: the name of the segment column."""
    why_not: NotMeasured | None = None
    pooled: tuple[BetaGeoModel, GammaGammaModel] | None = field(default=None, repr=False)

    @property
    def differ(self) -> bool:
        """Whether the segments' parameters differ significantly (either model)."""
        return self.why_not is None and bool(self.tests["differ"].any())


def fit_by_segment(
    summary: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    segment: str = "segment",
    min_customers: int = 500,
    min_repeaters: int = 100,
    significance: float = 0.05,
) -> SegmentFits:
    """Fit BG/NBD and Gamma-Gamma per segment and test whether the segments differ.

    Parameters
    ----------
    summary
        Customer summary (:func:`crmlib.clv.summary`).
    segments
        ``customer_id`` and the ``segment`` column; customers it does not list form the segment
        ``"unassigned"``.
    min_customers, min_repeaters
        A segment is fitted on its own only with at least this many customers, of whom at least
        ``min_repeaters`` bought again.
    significance
        Level of the likelihood-ratio tests.

    Returns
    -------
    SegmentFits
        ``why_not`` = ``small_base`` when fewer than two segments are large enough to compare.
    """
    check_range("min_customers", min_customers, low=1)
    check_range("min_repeaters", min_repeaters, low=10)
    check_range("significance", significance, low=0.0, high=1.0, low_inclusive=False)
    codes, names = segment_codes(summary, segments, segment)
    frequency = pd.to_numeric(summary["frequency"], errors="coerce").fillna(0).to_numpy()
    sizes = np.bincount(codes, minlength=len(names))
    repeaters = np.bincount(codes, weights=frequency > 0, minlength=len(names)).astype(int)
    eligible = [s for s in range(len(names)) if sizes[s] >= min_customers
                and repeaters[s] >= min_repeaters]  # fmt: skip
    models: dict[str, tuple[BetaGeoModel, GammaGammaModel]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CrmWarning)
        pooled = (fit(summary), fit_spend(summary, min_repeaters=0))
        for s in eligible:
            part = summary[codes == s]
            try:
                models[names[s]] = (fit(part), fit_spend(part, min_repeaters=0))
            except CrmError:  # a segment the models cannot be fitted on keeps the pooled ones
                continue
    rows = []
    for s, name in enumerate(names):
        purchase, spend = models.get(name, pooled)
        params = {**purchase.params_, **spend.params_}
        rows.append({"segment": name, "customers": int(sizes[s]), "repeaters": int(repeaters[s]),
                     "own_fit": name in models, **params})  # fmt: skip
    table = pd.DataFrame(rows).sort_values("customers", ascending=False, ignore_index=True)
    result = SegmentFits(table, pd.DataFrame(), models, significance, by=segment, pooled=pooled)
    if len(models) < 2:
        result.why_not = not_measured("small_base", base=len(models), minimum=2)
        return result
    fitted = np.isin(codes, [names.index(n) for n in models])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CrmWarning)
        together = summary[fitted]
        joint = (fit(together), fit_spend(together, min_repeaters=0))
    tests = []
    for kind, index in (("purchase", 0), ("spend", 1)):
        separate = sum(pair[index].log_likelihood_ for pair in models.values())
        statistic = max(0.0, 2 * (separate - joint[index].log_likelihood_))
        names_ = PARAM_NAMES["bgnbd" if index == 0 else "gamma_gamma"]
        df = len(names_) * (len(models) - 1)
        p_value = float(chi2.sf(statistic, df))
        tests.append({"model": kind, "statistic": statistic, "df": df, "p_value": p_value,
                      "differ": p_value < significance, "segments": len(models)})  # fmt: skip
    result.tests = pd.DataFrame(tests)
    return result
