"""Which association rules are real: one-sided Fisher exact p-values, and pruning of rules no
more confident than a rule with a smaller antecedent."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["fisher_p_values", "prune_mask"]


def fisher_p_values(
    n_both: np.ndarray,
    n_antecedent: np.ndarray,
    n_consequent: np.ndarray,
    n_baskets: int,
) -> np.ndarray:
    """One-sided Fisher exact p-values that A and C co-occur more often than chance.

    The hypergeometric survival function P(X >= n_both), X the number of baskets holding C
    among ``n_antecedent`` baskets drawn from ``n_baskets`` of which ``n_consequent`` hold C:
    the same figure as ``scipy.stats.fisher_exact(table, alternative="greater")`` on the 2×2
    table ``[[n_both, n_antecedent - n_both], [n_consequent - n_both, rest]]``, computed for all
    rules at once by ``scipy.stats.hypergeom.sf`` (Boost's hypergeometric distribution).

    Parameters
    ----------
    n_both, n_antecedent, n_consequent
        Per rule: baskets holding both sides, the antecedent, the consequent.
    n_baskets
        Number of baskets.

    Returns
    -------
    numpy.ndarray
        One p-value per rule, in [0, 1].
    """
    k = np.asarray(n_both, dtype=np.int64)
    n_a = np.asarray(n_antecedent, dtype=np.int64)
    n_c = np.asarray(n_consequent, dtype=np.int64)
    if not len(k):
        return np.empty(0, dtype=float)
    p = stats.hypergeom.sf(k - 1, int(n_baskets), n_c, n_a)
    return np.clip(np.asarray(p, dtype=float), 0.0, 1.0)


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
