"""Sequential rules: what members buy on a later day, at most N days after buying A.

Among members who bought A, the share who bought B on a *later* day at most ``within_days``
days after *an* A purchase, compared with the share of all members who bought B at all.
Purchase histories are built through Ibis; anonymous sales and return lines are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.basket.arrays import distinct, item_codes, runs
from crmlib.basket.names import ITEM_NAMES, item_names
from crmlib.basket.params import pick
from crmlib.basket.purchases import Transactions, known_customer, purchase_lines, unmapped_item
from crmlib.config import check_range
from crmlib.data import execute, parse_day, resolve_as_of
from crmlib.data.results import cached
from crmlib.errors import ConfigError, DataError
from crmlib.measure import mark_frame

__all__ = ["sequential_rules", "sequential_gaps"]


@dataclass(frozen=True)
class _Events:
    """Members' distinct purchase days per item, as integer arrays sorted by (member, day)."""

    cust: np.ndarray  # dense member code
    day: np.ndarray  # days since 1970-01-01
    code: np.ndarray  # index into items
    items: np.ndarray  # item names, sorted
    buyers: np.ndarray  # members who bought each item
    n_customers: int  # members with any purchase
    ids: np.ndarray | None = None  # customer_id per member code (when asked for)


def _events(
    transactions: Transactions,
    level: str,
    as_of: str | pd.Timestamp | None,
    *,
    only: Sequence[str] | None = None,
    with_ids: bool = False,
) -> _Events:
    """Distinct (member, item, purchase day) of members' purchases, built in the database.

    One query: members travel as 64-bit hashes (two members share a hash with probability
    about n² / 2⁶⁵, 3e-8 for a million members), items as their names, coded in Python
    (:func:`~crmlib.basket.arrays.item_codes`).
    """
    tx, item = purchase_lines(transactions, level=level, as_of=as_of)
    tx = tx.filter(known_customer(tx))
    if only is not None:
        tx = tx.filter(item.isin(list(only)))
    base = tx.select(customer_id=tx.customer_id, item=item, day=tx.ordered_at.date().epoch_days())
    member = base.customer_id if with_ids else base.customer_id.hash()
    ev = execute(base.select(c=member, i=base.item, d=base.day))
    code, items = item_codes(ev["i"])
    n_items = len(items)
    if ev.empty:
        empty = np.empty(0, dtype=np.int64)
        return _Events(empty, empty, empty, items, np.zeros(n_items, dtype=np.int64), 0, None)
    if with_ids:
        cust, ids = pd.factorize(ev["c"], sort=True)
        ids = np.asarray(ids, dtype=object)
    else:
        cust, _ = pd.factorize(ev["c"].to_numpy(dtype=np.int64))
        ids = None
    day = ev["d"].to_numpy(dtype=np.int64)
    del ev
    cust = cust.astype(np.int64)
    n_customers = int(cust.max()) + 1
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    if n_customers * span * n_items < 2**62:
        # one int64 key per line: sorting it orders by (member, day, item) and drops repeats
        key = distinct((cust * span + (day - first_day)) * n_items + code)
        code = key % n_items
        rest = key // n_items
        day, cust = rest % span + first_day, rest // span
    else:
        o = np.lexsort((code, day, cust))
        cust, day, code = cust[o], day[o], code[o]
        new = np.ones(len(cust), dtype=bool)
        new[1:] = (cust[1:] != cust[:-1]) | (day[1:] != day[:-1]) | (code[1:] != code[:-1])
        cust, day, code = cust[new], day[new], code[new]
    # cust ascends here: the (member, item) keys are ordered but within each member's rows
    buyers = np.bincount(
        distinct(cust * n_items + code, nearly_sorted=True) % n_items, minlength=n_items
    )
    return _Events(
        cust=cust,
        day=day,
        code=code,
        items=items,
        buyers=buyers.astype(np.int64),
        n_customers=n_customers,
        ids=ids,
    )


@cached("purchase_events")
def _event_table(transactions: Transactions, *, level: str, as_of: Any) -> pd.DataFrame:
    """:func:`_events` of every item as a frame of 32-bit columns ``cust``, ``day``, ``code``
    (items, buyers and the member count in ``attrs``), kept in the run cache: the rules of
    different windows (the executive summary's 30 days, the cross-sell page's 60) share this
    pass over the order lines, which is most of their time."""
    ev = _events(transactions, level, as_of)
    table = pd.DataFrame({"cust": ev.cust.astype(np.int32), "day": ev.day.astype(np.int32),
                          "code": ev.code.astype(np.int32)})  # fmt: skip
    table.attrs = {"items": [str(i) for i in ev.items], "buyers": ev.buyers.tolist(),
                   "n_customers": ev.n_customers}  # fmt: skip
    return table


def _all_events(transactions: Transactions, level: str, as_of: Any) -> _Events:
    """The :class:`_Events` of every item, through the run cache (:func:`_event_table`)."""
    table = _event_table(transactions, level=level, as_of=as_of)
    items = np.asarray(table.attrs["items"], dtype=object)
    return _Events(
        cust=table["cust"].to_numpy(np.int64),
        day=table["day"].to_numpy(np.int64),
        code=table["code"].to_numpy(np.int64),
        items=items,
        buyers=np.asarray(table.attrs["buyers"], dtype=np.int64).reshape(len(items)),
        n_customers=int(table.attrs["n_customers"]),
    )


def _follow_pairs(
    cust: np.ndarray,
    day: np.ndarray,
    code: np.ndarray,
    n_items: int,
    within_days: int,
    *,
    chunk_pairs: int = 8_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every member and ordered item pair (A, B) where B followed an A purchase on a later day
    within ``within_days`` days: the member, the pair code ``A * n_items + B`` and the shortest gap
    in days. Inputs sorted by (cust, day, code)."""
    empty = np.empty(0, dtype=np.int64)
    if len(cust) < 2:
        return empty, empty, empty
    span = int(day.max() - day.min()) + within_days + 2
    key = cust * span + (day - day.min())
    start = np.searchsorted(key, key, side="right")  # first purchase on a later day
    stop = np.searchsorted(key, key + within_days, side="right")
    n_follow = stop - start
    # split at member boundaries so that each chunk holds whole members
    total = np.cumsum(n_follow)
    bounds = [0]
    while bounds[-1] < len(cust):
        lo = bounds[-1]
        base = total[lo - 1] if lo else 0
        hi = int(np.searchsorted(total, base + chunk_pairs, side="right"))
        hi = max(hi, lo + 1)
        if hi < len(cust):
            hi = int(np.searchsorted(cust, cust[hi - 1], side="right"))
        bounds.append(min(hi, len(cust)))
    out_c, out_p, out_g = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        counts = n_follow[lo:hi]
        m = int(counts.sum())
        if m == 0:
            continue
        i = np.repeat(np.arange(lo, hi, dtype=np.int64), counts)
        offset = np.arange(m, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        j = start[i] + offset
        a, b = code[i], code[j]
        ok = a != b
        i, j, a, b = i[ok], j[ok], a[ok], b[ok]
        gap = day[j] - day[i]
        pair = a * n_items + b
        c = cust[i]
        # keep the shortest gap per (member, pair)
        width = n_items * n_items * (within_days + 1)
        if (int(c.max()) + 1) * width < 2**62:
            # ordered by member already (c ascends): timsort merges the members' runs
            key = (c * n_items * n_items + pair) * (within_days + 1) + gap
            key = np.sort(key, kind="stable")
            c, rest = key // width, key % width
            pair, gap = rest // (within_days + 1), rest % (within_days + 1)
        else:
            order = np.lexsort((gap, pair, c))
            c, pair, gap = c[order], pair[order], gap[order]
        first = np.ones(len(c), dtype=bool)
        first[1:] = (c[1:] != c[:-1]) | (pair[1:] != pair[:-1])
        out_c.append(c[first])
        out_p.append(pair[first])
        out_g.append(gap[first])
    if not out_c:
        return empty, empty, empty
    return np.concatenate(out_c), np.concatenate(out_p), np.concatenate(out_g)


def _sequential_core(ev: _Events, within_days: int, min_customers: int) -> pd.DataFrame:
    """Per-pair table of the "A then B" rules."""
    items, buyers, n_customers = ev.items, ev.buyers, ev.n_customers
    n_items = len(items)
    eligible = buyers >= min_customers
    keep = eligible[ev.code] if n_items else np.zeros(0, dtype=bool)
    _, p, g = _follow_pairs(ev.cust[keep], ev.day[keep], ev.code[keep], n_items, within_days)
    # sort by (pair, gap) through one int64 key: pair * (window + 1) + gap
    key = np.sort(p * (within_days + 1) + g)
    p, g = key // (within_days + 1), key % (within_days + 1)
    uniq, first, n_both = runs(p)
    big = n_both >= min_customers
    lo, n = first[big], n_both[big]
    median = (g[lo + (n - 1) // 2] + g[lo + n // 2]) / 2.0
    a, b = uniq[big] // max(n_items, 1), uniq[big] % max(n_items, 1)
    n_a, n_b = buyers[a], buyers[b]
    share = n / n_a if len(n) else np.empty(0)
    baseline = n_b / n_customers if n_customers else np.empty(0)
    table = pd.DataFrame(
        {
            "antecedent": items[a].astype(str) if len(a) else np.empty(0, dtype=object),
            "consequent": items[b].astype(str) if len(b) else np.empty(0, dtype=object),
            "n_antecedent": n_a.astype(np.int64),
            "n_both": n.astype(np.int64),
            "n_consequent": n_b.astype(np.int64),
            "n_customers": np.full(len(n), n_customers, dtype=np.int64),
            "share": share,
            "baseline_share": baseline,
            "lift": share / baseline if len(n) else np.empty(0),
            "median_days": median,
            "within_days": np.full(len(n), within_days, dtype=np.int64),
        }
    )
    return table


def sequential_rules(
    transactions: Transactions,
    *,
    within_days: int | None = None,
    level: str | None = None,
    min_customers: int | None = None,
    min_lift: float | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rules "A then B within N days" from each member's dated purchases.

    A member *bought B within N days after A* when some purchase of B falls on a later calendar
    day than some purchase of A and at most ``within_days`` days after it (same-day purchases
    are basket behaviour, see :func:`crmlib.basket.association_rules`; B bought only before A
    does not count). The member's gap is the shortest such A-to-B distance in days.

    Parameters
    ----------
    transactions
        Order lines (DataFrame, file or Ibis table in the canonical schema). Anonymous sales and
        return lines are left out.
    within_days
        The window N in days (``None``: ``params/basket.yaml``).
    level
        ``"sku"`` or a category level (:data:`~crmlib.basket.LEVELS`).
    min_customers
        Minimum number of members who bought A and then B within the window; items with fewer
        buyers than this are skipped before pairing.
    min_lift
        Minimum lift (``share / baseline_share``) of a rule (``None``: ``params/basket.yaml``).
    as_of
        Last day of data used (ISO date); ``None`` or ``""`` uses everything.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair (A, B), strongest lift first: ``antecedent`` (A),
        ``consequent`` (B), ``n_antecedent`` (members who bought A), ``n_both`` (of those, who
        bought B within the window after A), ``n_consequent`` (members who bought B at all),
        ``n_customers`` (members with any purchase), ``share`` = n_both / n_antecedent,
        ``baseline_share`` = n_consequent / n_customers, ``lift`` = share / baseline_share,
        ``median_days`` (median of the members' gaps) and ``within_days``.

    Notes
    -----
    A purchases made less than N days before the end of the data have a shorter window to be
    followed; the share is therefore a lower bound for recent buyers. Vectorised on sorted
    numpy arrays (one binary search per purchase for its window), so 10 million order lines
    take seconds.
    """
    within_days = pick(within_days, "sequential", "within_days")
    level = pick(level, "sequential", "level")
    min_customers = pick(min_customers, "sequential", "min_customers")
    for name, value in (("within_days", within_days), ("min_customers", min_customers)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise ConfigError(f"parameter {name!r} must be a whole number; got {value!r}")
    check_range("within_days", int(within_days), low=1)
    check_range("min_customers", int(min_customers), low=1)
    min_lift = check_range("min_lift", pick(min_lift, "sequential", "min_lift"), low=0)
    table = _rules_table(transactions, level=level, within_days=int(within_days),
                         min_customers=int(min_customers),
                         as_of=None if _keeps_every_line(transactions, as_of) else as_of)  # fmt: skip
    table = table[table["lift"] >= min_lift].reset_index(drop=True)
    if table.empty and (why := unmapped_item(transactions, level=level, as_of=as_of)) is not None:
        mark_frame(table, why)
    return table


@cached("sequential_rules")
def _rules_table(
    transactions: Transactions,
    *,
    level: str,
    within_days: int,
    min_customers: int,
    as_of: str | pd.Timestamp | None,
) -> pd.DataFrame:
    """Every rule of :func:`sequential_rules` at any lift, strongest lift first, with its
    ``attrs``; the lift threshold is applied by the caller, so that the executive summary
    (any lift above 1) and the cross-sell page (its own threshold) share one computation."""
    ev = _all_events(transactions, level, as_of)
    table = _sequential_core(ev, within_days, min_customers)
    table = table.sort_values(
        ["lift", "n_both", "antecedent", "consequent"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    table.attrs.update(
        {
            "level": level,
            "within_days": within_days,
            "n_customers": ev.n_customers,
            ITEM_NAMES: item_names(transactions, level=level),
        }
    )
    return table


def _keeps_every_line(transactions: Transactions, as_of: str | pd.Timestamp | None) -> bool:
    """Whether cutting at ``as_of`` keeps every line: empty, or a day on or after the last
    order's (the summary passes its resolved report date, the page an empty one)."""
    day = parse_day(as_of)
    if day is None:
        return True
    try:  # the last order's day, whole
        return day >= resolve_as_of(transactions, "", last_day_complete=True)
    except DataError:  # no dated line: nothing to cut
        return True


def sequential_gaps(
    transactions: Transactions,
    *,
    pairs: pd.DataFrame | Sequence[tuple[str, str]],
    within_days: int | None = None,
    level: str | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Days from A to B per member for chosen pairs (the data behind the timing chart).

    Parameters
    ----------
    transactions
        Order lines in the canonical schema.
    pairs
        The (A, B) pairs: a frame with ``antecedent`` and ``consequent`` columns (such as the
        top rows of :func:`sequential_rules`) or a sequence of tuples.
    within_days, level, as_of
        As in :func:`sequential_rules`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``antecedent``, ``consequent``, ``days`` (the member's shortest gap
        from an A purchase to a later B purchase within the window), in the order of ``pairs``.
    """
    within_days = int(pick(within_days, "sequential", "within_days"))
    check_range("within_days", within_days, low=1)
    level = pick(level, "sequential", "level")
    if isinstance(pairs, pd.DataFrame):
        wanted = list(
            zip(pairs["antecedent"].astype(str), pairs["consequent"].astype(str), strict=True)
        )
    else:
        wanted = [(str(a), str(b)) for a, b in pairs]
    out = pd.DataFrame({"customer_id": [], "antecedent": [], "consequent": [], "days": []})
    if isinstance(pairs, pd.DataFrame):  # names and a "not measured" reason follow the rules
        out.attrs = {k: v for k, v in pairs.attrs.items() if k in (ITEM_NAMES, "not_measured")}
    if not wanted:
        return out.astype({"days": np.int64})
    names = sorted({a for a, _ in wanted} | {b for _, b in wanted})
    ev = _events(transactions, level, as_of, only=names, with_ids=True)
    if not len(ev.cust) or ev.ids is None:
        return out.astype({"days": np.int64})
    items, n_items = ev.items, len(ev.items)
    index = {name: i for i, name in enumerate(items)}
    c, p, g = _follow_pairs(ev.cust, ev.day, ev.code, n_items, within_days)
    rank = {
        index[a] * n_items + index[b]: i
        for i, (a, b) in enumerate(wanted)
        if a in index and b in index
    }
    sel = np.isin(p, np.fromiter(rank, dtype=np.int64, count=len(rank)))
    res = pd.DataFrame(
        {
            "_rank": pd.Series(p[sel]).map(rank).to_numpy(),
            "customer_id": ev.ids[c[sel]],
            "antecedent": items[p[sel] // n_items].astype(str),
            "consequent": items[p[sel] % n_items].astype(str),
            "days": g[sel].astype(np.int64),
        }
    )
    res = res.sort_values(["_rank", "customer_id"], kind="stable")
    res = res.drop(columns="_rank").reset_index(drop=True)
    if isinstance(pairs, pd.DataFrame):
        res.attrs[ITEM_NAMES] = dict(pairs.attrs.get(ITEM_NAMES) or {})
    return res
