"""Cross-sell: what is bought together, and what is bought next.

Two kinds of rules:

* **Association rules** (:func:`association_rules`, :mod:`crmlib.basket.associations`): items
  found in the same basket (one order, or one member's purchases on one day) more often than
  chance, with mlxtend's metrics, a one-sided Fisher exact p-value and a Benjamini–Hochberg
  q-value per rule.
* **Sequential rules** (:func:`sequential_rules`, :mod:`crmlib.basket.sequences`): among members
  who bought A, the share who bought B on a *later* day at most ``within_days`` days after *an*
  A purchase, compared with the share of all members who bought B at all.

Both feed :func:`recommend` (next products per member or per segment) and
:func:`bundle_candidates` (:mod:`crmlib.basket.recommendations`); :func:`export_rules` writes
them as CSV. Defaults come from ``params/basket.yaml`` (:func:`defaults`). The findings text and
display tables are in :mod:`crmlib.present.basket`.
"""

from __future__ import annotations

from crmlib.basket.associations import association_rules, baskets, rule_metrics
from crmlib.basket.export import export_rules
from crmlib.basket.params import BASKETS, LEVELS, defaults
from crmlib.basket.recommendations import bundle_candidates, recommend, segment_members
from crmlib.basket.sequences import sequential_gaps, sequential_rules
from crmlib.basket.significance import fisher_p_values
from crmlib.compat import moved

__all__ = [
    "LEVELS",
    "BASKETS",
    "defaults",
    "baskets",
    "association_rules",
    "sequential_rules",
    "sequential_gaps",
    "recommend",
    "segment_members",
    "export_rules",
    "bundle_candidates",
    "fisher_p_values",
    "rule_metrics",
]

__getattr__ = moved(
    __name__,
    {
        "describe_rules": "crmlib.present.basket",
        "describe_sequential": "crmlib.present.basket",
        "rules_table": "crmlib.present.basket",
        "sequential_table": "crmlib.present.basket",
        "bundles_table": "crmlib.present.basket",
        "summary_text": "crmlib.present.basket",
        "describe_recommend": "crmlib.present.basket",
        "recommend_table": "crmlib.present.basket",
        "_as_of_bound": "crmlib.basket.purchases:as_of_bound",
    },
)
