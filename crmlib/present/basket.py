"""What the cross-sell report says: findings in plain language and display tables.

Takes the results of :mod:`crmlib.basket` (association rules, "A then B" rules, bundle
candidates, segment recommendations) and writes them in Chinese or English with the labels of
``crmlib/labels/basket.yaml``. Product and segment names go through
:func:`crmlib.present.page.md_escape`, so a name holding HTML or Markdown shows as text.
"""

from __future__ import annotations

import pandas as pd

from crmlib.basket.names import named
from crmlib.basket.params import ITEM_JOIN
from crmlib.basket.recommendations import match_segment
from crmlib.config import check_range
from crmlib.i18n import check_language, t
from crmlib.measure import frame_reason
from crmlib.present.format import MISSING, p_value, percent, times, why_not
from crmlib.present.page import EMPTY_TEXT, md_escape
from crmlib.segments import load_scheme

__all__ = [
    "named",
    "not_measured_text",
    "describe_rules",
    "describe_sequential",
    "summary_text",
    "describe_recommend",
    "rules_table",
    "sequential_table",
    "bundles_table",
    "recommend_table",
]


def not_measured_text(result: pd.DataFrame, language: str, *, short: bool = False) -> str:
    """Why a cross-sell result could not be measured, in words, or ``""`` when it was.

    ``short`` gives "– (reason)" for a table or a chart; otherwise a sentence that also says
    what to map.
    """
    reason = frame_reason(result)
    if reason is None:
        return ""
    key = "basket.not_measured_short" if short else "basket.not_measured"
    return t(key, language, why=why_not(reason, language))


def _headings(table: pd.DataFrame, columns: list[str], language: str) -> pd.DataFrame:
    """``table`` with the label ``basket.col_<column>`` as heading, without its row index."""
    names = {c: t(f"basket.col_{c}", language) for c in columns}
    out = table.rename(columns=names).reset_index(drop=True)
    if out.empty:  # shown as this line, never as a header without rows
        out.attrs[EMPTY_TEXT] = not_measured_text(table, language, short=True) or MISSING
    return out


def describe_rules(rules: pd.DataFrame, *, language: str = "en", top: int = 5) -> str:
    """The strongest association rules as a markdown list in plain language.

    "Customers who buy X also buy Y 3.2× more often than average (in 35% of their baskets)."

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.association_rules`, strongest first.
    language
        ``"en"`` or ``"zh"``.
    top
        Rules listed.

    Returns
    -------
    str
        An introduction and one bullet per rule, or a note that no rule was found.
    """
    check_language(language)
    check_range("top", top, low=1)
    if rules.empty:
        return not_measured_text(rules, language) or t("basket.no_rules", language)
    rules = named(rules)
    lines = [t("basket.rules_intro", language, n=len(rules), baskets=rules["n_baskets"].iloc[0])]
    for row in rules.head(top).itertuples(index=False):
        lines.append(
            "- "
            + t(
                "basket.rule_sentence",
                language,
                x=ITEM_JOIN.join(map(md_escape, row.antecedents)),
                y=ITEM_JOIN.join(map(md_escape, row.consequents)),
                lift=times(row.lift),
                confidence=percent(row.confidence, digits=0),
            )
        )
    return "\n".join(lines)


def describe_sequential(rules: pd.DataFrame, *, language: str = "en", top: int = 5) -> str:
    """The strongest "A then B" rules as a markdown list in plain language.

    "Buyers of X buy Y within 30 days 4.1× as often as the average customer (median 12 days)."

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.sequential_rules`, strongest first.
    language
        ``"en"`` or ``"zh"``.
    top
        Rules listed.

    Returns
    -------
    str
        An introduction and one bullet per rule, or a note that no rule was found.
    """
    check_language(language)
    check_range("top", top, low=1)
    if rules.empty:
        return not_measured_text(rules, language) or t("basket.no_sequential", language)
    rules = named(rules)
    lines = [t("basket.sequential_intro", language, n=len(rules))]
    for row in rules.head(top).itertuples(index=False):
        lines.append(
            "- "
            + t(
                "basket.sequential_sentence",
                language,
                x=md_escape(row.antecedent),
                y=md_escape(row.consequent),
                days=int(row.within_days),
                lift=times(row.lift),
                median=f"{row.median_days:g}",
                share=percent(row.share, digits=0),
            )
        )
    return "\n".join(lines)


def summary_text(
    rules: pd.DataFrame,
    sequential: pd.DataFrame,
    bundles: pd.DataFrame,
    *,
    language: str = "en",
) -> str:
    """One sentence with what was analysed and found (for the top of the report).

    Parameters
    ----------
    rules, sequential, bundles
        Outputs of :func:`crmlib.basket.association_rules`,
        :func:`crmlib.basket.sequential_rules` and :func:`crmlib.basket.bundle_candidates`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if not_measured_text(rules, language):
        return not_measured_text(rules, language)
    level = rules.attrs.get("level", "sku")
    kind = rules.attrs.get("basket", "order")
    return t(
        "basket.summary",
        language,
        baskets=int(rules.attrs.get("n_baskets", 0)),
        basket_kind=t(f"basket.basket_{kind}", language),
        members=int(sequential.attrs.get("n_customers", 0)),
        level=t(f"basket.level_{level}", language),
        rules=len(rules),
        sequential=len(sequential),
        bundles=len(bundles),
    )


def describe_recommend(segment: str | None, *, language: str = "en", scheme: str = "cn8") -> str:
    """The explanation above the recommendation table, naming the segment when there is one.

    Parameters
    ----------
    segment
        The segment recommended for (key or name, as given to
        :func:`crmlib.basket.segment_members`); ``None`` or ``""`` means every member.
    language
        ``"en"`` or ``"zh"``.
    scheme
        RFM scheme of the segment (``"cn8"`` or ``"en11"``); an unknown segment is named as
        given.
    """
    check_language(language)
    if segment is None or not str(segment).strip():
        who = t("basket.all_members", language)
    else:
        match = match_segment(load_scheme(scheme).segments, segment)
        name = str(match[f"name_{language}"].iloc[0]) if len(match) else str(segment).strip()
        who = t("basket.segment_members", language, name=md_escape(name))
    return t("basket.explain_recommend", language, who=who)


def rules_table(rules: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """The top association rules as a display table with headings in ``language``.

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.association_rules`.
    language
        ``"en"`` or ``"zh"``.
    top
        Rows shown.
    """
    check_language(language)
    cols = ["rule", "n_both", "support", "confidence", "lift", "q_value"]
    out = named(rules.head(top))[cols].copy()
    out["support"] = out["support"].map(lambda v: percent(v, digits=2))
    out["confidence"] = out["confidence"].map(percent)
    out["lift"] = out["lift"].map(lambda v: times(v, digits=2))
    out["q_value"] = out["q_value"].map(p_value)
    return _headings(out, cols, language)


def sequential_table(rules: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """The top "A then B" rules as a display table with headings in ``language``.

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.sequential_rules`.
    language
        ``"en"`` or ``"zh"``.
    top
        Rows shown.
    """
    check_language(language)
    cols = [
        "antecedent",
        "consequent",
        "n_antecedent",
        "n_both",
        "share",
        "baseline_share",
        "lift",
        "median_days",
    ]
    out = named(rules.head(top))[cols].copy()
    for c in ("share", "baseline_share"):
        out[c] = out[c].map(percent)
    out["lift"] = out["lift"].map(lambda v: times(v, digits=2))
    return _headings(out, cols, language)


def bundles_table(bundles: pd.DataFrame, *, language: str = "en", top: int = 20) -> pd.DataFrame:
    """Bundle candidates as a display table with headings in ``language``.

    Parameters
    ----------
    bundles
        Output of :func:`crmlib.basket.bundle_candidates`. A direction whose rule did not pass
        the thresholds has no confidence and shows "–".
    language
        ``"en"`` or ``"zh"``.
    top
        Rows shown.
    """
    check_language(language)
    cols = ["item_a", "item_b", "n_both", "support", "lift", "confidence_ab", "confidence_ba"]
    out = named(bundles.head(top))[cols].copy()
    out["support"] = out["support"].map(lambda v: percent(v, digits=2))
    for c in ("confidence_ab", "confidence_ba"):
        out[c] = out[c].map(percent)
    out["lift"] = out["lift"].map(lambda v: times(v, digits=2))
    return _headings(out, cols, language)


def recommend_table(recs: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """Segment-level recommendations (:func:`crmlib.basket.recommend` with ``segment``) for
    display.

    Parameters
    ----------
    recs
        ``rank``, ``item``, ``n_customers``, ``share`` and ``mean_score`` per product.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    cols = ["rank", "item", "n_customers", "share", "mean_score"]
    out = named(recs)[cols].copy()
    out["share"] = out["share"].map(percent)
    out["mean_score"] = out["mean_score"].map(lambda v: times(v, digits=2))
    out = _headings(out, [c for c in cols if c != "share"], language)
    return out.rename(columns={"share": t("common.share_customers", language)})
