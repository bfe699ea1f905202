"""Which association rules are real: one-sided Fisher exact p-values, and pruning of rules no
more confident than a rule with a smaller antecedent."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["fisher_p_values", "prune_mask"]


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


def fisher_p_values(
    n_both: np.ndarray,
    n_antecedent: np.ndarray,
    n_consequent: np.ndarray,
    n_baskets: int,
    *,
    chunk_terms: int = 4_000_000,
) -> np.ndarray:
    """One-sided Fisher exact p-values that A and C co-occur more often than chance.

    The hypergeometric survival function P(X >= n_both), X the number of baskets holding C
    among ``n_antecedent`` baskets drawn from ``n_baskets`` of which ``n_consequent`` hold C:
    the same figure as ``scipy.stats.fisher_exact(table, alternative="greater")`` on the 2×2
    table ``[[n_both, n_antecedent - n_both], [n_consequent - n_both, rest]]``.

    Vectorised over rules. Each sum starts at the tail term nearest the mode and walks away
    from it (upper tail from n_both when n_both is above the mode, else one minus the lower
    tail from n_both - 1), so terms only shrink: the first comes from log-gamma, the next from
    the ratio of successive hypergeometric probabilities, and the walk stops after
    15 standard deviations + 100 terms, where the remaining terms are below double precision.

    Parameters
    ----------
    n_both, n_antecedent, n_consequent
        Per rule: baskets holding both sides, the antecedent, the consequent.
    n_baskets
        Number of baskets.
    chunk_terms
        Bound on the terms held in memory at once.

    Returns
    -------
    numpy.ndarray
        One p-value per rule, in [0, 1].
    """
    k = np.asarray(n_both, dtype=np.int64)
    n_a = np.asarray(n_antecedent, dtype=np.int64)
    n_c = np.asarray(n_consequent, dtype=np.int64)
    n = int(n_baskets)
    lo = np.maximum(0, n_a + n_c - n)
    hi = np.minimum(n_a, n_c)
    mode = ((n_a + 1) * (n_c + 1)) // (n + 2)
    upper = k > mode
    start = np.where(upper, k, k - 1)
    end = np.where(upper, hi, lo)
    sd = np.sqrt(n_a * (n_c / n) * (1 - n_c / n) * np.maximum(n - n_a, 0) / max(n - 1, 1))
    cap = np.ceil(15 * sd).astype(np.int64) + 100
    length = np.where(upper, end - start + 1, start - end + 1)
    length = np.clip(np.minimum(length, cap), 0, None)
    total = np.zeros(len(k), dtype=float)
    live = np.flatnonzero(length > 0)
    if len(live):
        cum = np.cumsum(length[live])
        cuts = np.unique(np.searchsorted(cum, np.arange(chunk_terms, cum[-1], chunk_terms)))
        for part in np.split(live, cuts):
            if len(part):
                total[part] = _tail_sums(
                    start[part], upper[part], length[part], n_a[part], n_c[part], n
                )
    p = np.where(upper, total, 1.0 - total)
    return np.clip(p, 0.0, 1.0)


def _tail_sums(
    start: np.ndarray,
    upper: np.ndarray,
    length: np.ndarray,
    n_a: np.ndarray,
    n_c: np.ndarray,
    n: int,
) -> np.ndarray:
    """Sum of ``length`` hypergeometric probabilities from ``start`` away from the mode."""
    first = (
        _log_comb(n_c, start)
        + _log_comb(n - n_c, n_a - start)
        - _log_comb(np.full(len(start), n), n_a)
    )
    heads = np.r_[0, np.cumsum(length)[:-1]]
    owner = np.repeat(np.arange(len(start)), length)
    offset = np.arange(int(length.sum())) - heads[owner]
    up = upper[owner]
    prev = (start[owner] + np.where(up, offset - 1, 1 - offset)).astype(float)
    a, c = n_a[owner].astype(float), n_c[owner].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(
            up,
            np.log((c - prev) * (a - prev)) - np.log((prev + 1.0) * (n - c - a + prev + 1.0)),
            np.log(prev * (n - c - a + prev)) - np.log((c - prev + 1.0) * (a - prev + 1.0)),
        )
    step[heads] = 0.0
    rel = np.cumsum(step)
    rel -= np.repeat(rel[heads], length)
    return np.exp(first) * np.add.reduceat(np.exp(rel), heads)


def prune_mask(rules: pd.DataFrame) -> np.ndarray:
    """True for rules whose confidence is not above that of a rule with a smaller antecedent.

    Compared with every non-empty proper subset X' of the antecedent X for the same consequent Y
    (X' ∪ Y is frequent whenever X ∪ Y is, so the general rule is always a candidate); ratios are
    compared on integer counts, so ties are exact.

    Parameters
    ----------
    rules
        Every candidate rule (:func:`crmlib.basket.itemsets.candidate_rules`): ``ante`` and
        ``cons`` (tuples of item codes), ``n_both`` and ``n_antecedent``.

    Returns
    -------
    numpy.ndarray
        One boolean per rule, True where the rule is pruned.
    """
    pruned = np.zeros(len(rules), dtype=bool)
    long = np.flatnonzero(rules["ante"].map(len).to_numpy() >= 2)
    if not len(long):
        return pruned
    general = {
        (x, y): (int(nb), int(na))
        for x, y, nb, na in zip(
            rules["ante"], rules["cons"], rules["n_both"], rules["n_antecedent"], strict=True
        )
    }
    antes, conss = rules["ante"].to_numpy(), rules["cons"].to_numpy()
    n_b, n_a = rules["n_both"].to_numpy(), rules["n_antecedent"].to_numpy()
    for i in long:
        x, y = antes[i], conss[i]
        for r in range(1, len(x)):
            for sub in combinations(x, r):
                nb_s, na_s = general[(sub, y)]
                # conf(X→Y) <= conf(X'→Y)  <=>  n_b(X) * n_a(X') <= n_b(X') * n_a(X)
                if int(n_b[i]) * na_s <= nb_s * int(n_a[i]):
                    pruned[i] = True
                    break
            if pruned[i]:
                break
    return pruned
