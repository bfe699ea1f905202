"""Next products per member or per RFM segment, and bundle candidates, from cross-sell rules.

Both work on the output of :func:`crmlib.basket.association_rules` (and :func:`recommend` also
on that of :func:`crmlib.basket.sequential_rules`); segments come from :mod:`crmlib.segments`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crmlib.basket.names import ITEM_NAMES
from crmlib.basket.params import ITEM_JOIN, pick
from crmlib.basket.purchases import Transactions, known_customer, purchase_lines
from crmlib.config import check_choice, check_range
from crmlib.data import execute
from crmlib.errors import ConfigError, DataError
from crmlib.membership import isin
from crmlib.rfm import rfm_table
from crmlib.segments import segment_rfm

__all__ = ["match_segment", "segment_members", "recommend", "bundle_candidates"]


def match_segment(segments: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rows of an RFM scheme's segment table whose key or English or Chinese name is ``name``.

    Parameters
    ----------
    segments
        ``Scheme.segments`` of :func:`crmlib.segments.load_scheme`: ``segment``, ``name_en``,
        ``name_zh`` ...
    name
        A segment key (``"important_value"``) or name (``"重要价值客户"``); surrounding spaces
        are ignored.

    Returns
    -------
    pandas.DataFrame
        The matching rows (none when the name is unknown).
    """
    wanted = str(name).strip()
    return segments[
        (segments["segment"] == wanted)
        | (segments["name_en"] == wanted)
        | (segments["name_zh"] == wanted)
    ]


def _rule_items(rules: pd.DataFrame) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    if {"antecedents", "consequents"} <= set(rules.columns):
        return [tuple(v) for v in rules["antecedents"]], [tuple(v) for v in rules["consequents"]]
    if {"antecedent", "consequent"} <= set(rules.columns):
        return [(str(v),) for v in rules["antecedent"]], [(str(v),) for v in rules["consequent"]]
    raise DataError(
        "rules need antecedents/consequents (association_rules) or antecedent/consequent "
        "(sequential_rules) columns",
        column="antecedents",
    )


def _customer_filter(
    customers: pd.DataFrame | Iterable[str] | None, segment: str | None
) -> list[str] | None:
    if customers is None:
        return None
    if isinstance(customers, pd.DataFrame):
        if "customer_id" not in customers.columns:
            raise DataError("customers table lacks customer_id", column="customer_id")
        frame = customers
        if "segment" in frame.columns and (frame["segment"].astype(str) == str(segment)).any():
            frame = frame[frame["segment"].astype(str) == str(segment)]
        return frame["customer_id"].astype(str).tolist()
    if isinstance(customers, str):
        return [customers]
    return [str(c) for c in customers]


def segment_members(
    transactions: Transactions,
    *,
    segment: str | None,
    scheme: str = "cn8",
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame | None:
    """Members of one RFM segment (:func:`crmlib.segments.segment_rfm`), for :func:`recommend`.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    segment
        Segment key (``"important_value"``) or its English or Chinese name; ``None`` or ``""``
        means every member (returns ``None``).
    scheme
        RFM scheme name of ``params/segments.yaml`` (``"cn8"`` or ``"en11"``).
    as_of
        Reference date of the RFM scores (ISO date).

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` and ``segment`` (the key) of the segment's members.
    """
    if segment is None or not str(segment).strip():
        return None
    seg = segment_rfm(rfm_table(transactions, as_of=as_of), scheme=scheme)
    table = seg.scheme.segments
    match = match_segment(table, segment)
    if match.empty:
        raise ConfigError(
            f"parameter 'segment' must be one of {', '.join(map(repr, table['segment']))} "
            f"(or their names); got {segment!r}"
        )
    key = str(match["segment"].iloc[0])
    members = seg.customers.loc[seg.customers["segment"] == key, ["customer_id", "segment"]]
    return members.reset_index(drop=True)


def recommend(
    transactions: Transactions,
    rules: pd.DataFrame,
    *,
    customers: pd.DataFrame | Iterable[str] | None = None,
    segment: str | None = None,
    top_n: int | None = None,
    level: str | None = None,
    score: str | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Top next products per member (or for a segment) by cross-sell rules.

    A rule applies to a member who has bought every item of its antecedent; each consequent
    item the member has not bought yet becomes a candidate, scored by the strongest applicable
    rule.

    Parameters
    ----------
    transactions
        Order lines in the canonical schema (what each member already bought).
    rules
        Output of :func:`crmlib.basket.association_rules` or
        :func:`crmlib.basket.sequential_rules`.
    customers
        Members to recommend for: customer ids, or a per-member frame with ``customer_id`` (and
        ``segment``, used with ``segment``). ``None``: every member with a purchase.
    segment
        A segment name. With a frame in ``customers`` whose ``segment`` column holds this
        value, only those rows are used; either way the result is one list for the group.
    top_n
        Products per member or for the segment (``None``: ``params/basket.yaml``).
    level
        Item level of the rules (``None``: ``rules.attrs["level"]``, else ``"sku"``).
    score
        ``"lift"`` or ``"confidence"`` (sequential rules: ``"lift"`` or ``"share"``).
    as_of
        Last day of purchase history used (ISO date).

    Returns
    -------
    pandas.DataFrame
        Per member: ``customer_id``, ``rank``, ``item``, ``score``, ``because`` (the rule's
        antecedent). For a segment: ``segment``, ``rank``, ``item``, ``n_customers`` (members
        for whom the item is in their top list), ``share`` of the segment's members,
        ``mean_score``.
    """
    top_n = int(pick(top_n, "recommend", "top_n"))
    check_range("top_n", top_n, low=1)
    score = pick(score, "recommend", "score")
    if score == "confidence" and "confidence" not in rules.columns and "share" in rules.columns:
        score = "share"
    check_choice("score", score, [c for c in ("lift", "confidence", "share") if c in rules.columns])
    level = level or rules.attrs.get("level", "sku")
    if rules.empty:  # nothing to recommend from (and nothing to merge)
        columns = ["customer_id", "rank", "item", "score", "because"]
        if segment is not None:
            columns = ["segment", "rank", "item", "n_customers", "share", "mean_score"]
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        empty.attrs = {k: v for k, v in rules.attrs.items() if k in (ITEM_NAMES, "not_measured")}
        return empty
    wanted = _customer_filter(customers, segment)
    ante, cons = _rule_items(rules)
    tx, item = purchase_lines(transactions, level=level, as_of=as_of)
    tx = tx.filter(known_customer(tx))
    lines = tx.select(customer_id=tx.customer_id, item=item)
    # only the items of some rule matter (to match an antecedent, or to be owned already): the
    # rest of the members' purchases never leave the engine
    in_rules = sorted({i for items in ante + cons for i in items})
    bought = execute(lines.filter(lines.item.isin(in_rules)).distinct())
    if wanted is not None:
        bought = bought[isin(bought["customer_id"], set(wanted))]
    rule_tab = pd.DataFrame(
        {
            "rule_id": np.arange(len(rules)),
            "ante": ante,
            "cons": cons,
            "score": rules[score].to_numpy(dtype=float),
        }
    )
    sides = rule_tab.explode("ante")[["rule_id", "ante"]].rename(columns={"ante": "item"})
    size = rule_tab["ante"].map(len)
    hits = bought.merge(sides, on="item")
    matched = hits.groupby(["customer_id", "rule_id"], sort=False).size().rename("n").reset_index()
    matched = matched[matched["n"].to_numpy() == size.to_numpy()[matched["rule_id"].to_numpy()]]
    cand = matched[["customer_id", "rule_id"]].merge(rule_tab, on="rule_id").explode("cons")
    cand = cand.rename(columns={"cons": "item"})
    owned = bought.assign(_owned=True)
    cand = cand.merge(owned, on=["customer_id", "item"], how="left")
    cand = cand[cand["_owned"].isna()]
    cand["because"] = cand["ante"].map(ITEM_JOIN.join)
    cand = cand.sort_values(["customer_id", "score", "item"], ascending=[True, False, True])
    cand = cand.drop_duplicates(["customer_id", "item"])
    cand["rank"] = cand.groupby("customer_id").cumcount() + 1
    per = cand[cand["rank"] <= top_n][["customer_id", "rank", "item", "score", "because"]]
    per = per.reset_index(drop=True)
    per.attrs[ITEM_NAMES] = dict(rules.attrs.get(ITEM_NAMES) or {})
    if segment is None:
        return per
    n_members = (
        len(set(wanted)) if wanted is not None
        else int(execute(lines.aggregate(n=lines.customer_id.nunique()))["n"].iloc[0])
    )  # fmt: skip
    grp = per.groupby("item").agg(n_customers=("customer_id", "size"), mean_score=("score", "mean"))
    grp = grp.reset_index().sort_values(
        ["n_customers", "mean_score", "item"], ascending=[False, False, True]
    )
    grp = grp.head(top_n).reset_index(drop=True)
    grp.insert(0, "segment", str(segment))
    grp.insert(1, "rank", np.arange(1, len(grp) + 1))
    grp["share"] = grp["n_customers"] / n_members if n_members else np.nan
    grp = grp[["segment", "rank", "item", "n_customers", "share", "mean_score"]]
    grp.attrs[ITEM_NAMES] = per.attrs[ITEM_NAMES]
    return grp


def bundle_candidates(
    rules: pd.DataFrame,
    *,
    min_lift: float | None = None,
    min_support: float | None = None,
) -> pd.DataFrame:
    """Item pairs bought together far more often than chance and often enough to bundle.

    Parameters
    ----------
    rules
        Output of :func:`crmlib.basket.association_rules` (pair rules are used; both directions
        of a pair merge into one row).
    min_lift
        Minimum lift of the pair (``None``: ``params/basket.yaml``).
    min_support
        Minimum share of baskets holding both items.

    Returns
    -------
    pandas.DataFrame
        ``item_a``, ``item_b`` (alphabetical), ``n_both``, ``support``, ``lift``,
        ``confidence_ab`` (share of item_a baskets holding item_b), ``confidence_ba``; highest
        lift first.
    """
    min_lift = check_range("min_lift", pick(min_lift, "bundles", "min_lift"), low=0)
    min_support = check_range(
        "min_support", pick(min_support, "bundles", "min_support"), low=0, high=1
    )
    cols = ["item_a", "item_b", "n_both", "support", "lift", "confidence_ab", "confidence_ba"]
    if rules.empty:
        empty = pd.DataFrame({c: [] for c in cols})
        empty.attrs = {k: v for k, v in rules.attrs.items() if k in (ITEM_NAMES, "not_measured")}
        return empty
    ante, cons = _rule_items(rules)
    single = np.array([len(a) == 1 and len(c) == 1 for a, c in zip(ante, cons, strict=True)])
    r = rules[single].copy()
    r["x"] = [a[0] for a, s in zip(ante, single, strict=True) if s]
    r["y"] = [c[0] for c, s in zip(cons, single, strict=True) if s]
    r = r[(r["lift"] >= min_lift) & (r["support"] >= min_support)]
    if r.empty:
        return pd.DataFrame({c: [] for c in cols})
    fwd = r[r["x"] < r["y"]].set_index(["x", "y"])
    bwd = r[r["x"] > r["y"]].set_index(["y", "x"])
    bwd.index.names = ["x", "y"]
    keys = fwd.index.union(bwd.index)
    first = fwd.reindex(keys).combine_first(bwd.reindex(keys))
    out = pd.DataFrame(
        {
            "item_a": keys.get_level_values(0),
            "item_b": keys.get_level_values(1),
            "n_both": first["n_both"].to_numpy().astype(np.int64),
            "support": first["support"].to_numpy(),
            "lift": first["lift"].to_numpy(),
            "confidence_ab": fwd["confidence"].reindex(keys).to_numpy(),
            "confidence_ba": bwd["confidence"].reindex(keys).to_numpy(),
        }
    )
    out = out.sort_values(["lift", "support"], ascending=False).reset_index(drop=True)
    out.attrs[ITEM_NAMES] = dict(rules.attrs.get(ITEM_NAMES) or {})
    return out
