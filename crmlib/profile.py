"""One customer in one place: the 360° profile behind notebook 08 and the profile export.

:func:`customer_profile` gathers what the workbook knows of one customer as of a day: identity
(personal fields masked unless asked), orders and spend over time, categories and channels,
RFM scores and segment, lifecycle stage and its history, lifetime value with its interval and
P(active) beside the hiatus rule, next-product suggestions, campaigns, touchpoints and the order
milestones reached. Each part is a tidy frame; a part the data cannot give is empty and says
why (:mod:`crmlib.measure`: ``attrs["not_measured"]``).

What it reads: the customer's own rows (filtered on the engine), plus three things that need
the whole base and are computed once per :class:`ProfileBase` (so an export of many profiles
pays for them once): the RFM scores (quantiles of the base), the CLV model (fitted on a
deterministic sample of at most ``clv_sample`` customers; all of them when the base is
smaller) and, for suggestions, how many customers bought each product.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from crmlib import clv, lifecycle
from crmlib.basket.names import item_names
from crmlib.campaigns import member_responses
from crmlib.clv.settings import load_params as load_clv_params
from crmlib.data import as_table, execute, resolve_as_of
from crmlib.data.orders import orders
from crmlib.data.privacy import mask_personal, spreadsheet_safe
from crmlib.data.schema import PERSONAL_FIELDS
from crmlib.errors import DataError
from crmlib.kpi_coverage import dataset_tables
from crmlib.measure import NotMeasured, mark_column, mark_frame, not_measured
from crmlib.membership import isin
from crmlib.rfm import rfm_table
from crmlib.segments import segment_rfm

__all__ = [
    "BASE_VERSION",
    "MILESTONES",
    "Profile",
    "ProfileBase",
    "customer_profile",
    "default_customer",
    "export_profiles",
    "find_customer",
    "profile_base",
]

#: Order numbers reported as milestones (the 2nd order, the 3rd …), as in report 04.
MILESTONES: tuple[int, ...] = (2, 3, 4, 5, 10)
#: Version of the cached profile base: raise it when what :func:`profile_base` computes changes.
BASE_VERSION = 1
#: Identity fields shown besides the personal ones.
_IDENTITY = ("member_level", "points", "source_channel", "signup_at")


@dataclasses.dataclass
class ProfileBase:
    """What a profile needs from the whole base, computed once (:func:`profile_base`)."""

    as_of: pd.Timestamp
    segments: pd.DataFrame
    scheme: str
    model: Any
    spend_model: Any
    clv_settings: dict[str, Any]
    clv_customers: int
    pairs: pd.DataFrame  # customer_id, sku: who bought what, in the sample
    sample_customers: int
    customers_total: int
    names: dict[str, str]
    clv_reason: Any = None  # why no CLV model could be fitted (a NotMeasured), else None


@dataclasses.dataclass
class Profile:
    """One customer's profile; every part is a tidy frame (see :func:`customer_profile`)."""

    customer_id: str
    as_of: pd.Timestamp
    identity: pd.DataFrame
    overview: pd.DataFrame
    monthly: pd.DataFrame
    categories: pd.DataFrame
    channels: pd.DataFrame
    rfm: pd.DataFrame
    stages: pd.DataFrame
    value: pd.DataFrame
    suggestions: pd.DataFrame
    campaigns: pd.DataFrame
    touchpoints: pd.DataFrame
    milestones: pd.DataFrame

    def records(self) -> pd.DataFrame:
        """The profile as one long table: ``customer_id, section, field, value`` (text), the
        form of :func:`export_profiles`. Multi-row parts keep their first 20 rows."""
        rows = []
        for section in ("identity", "overview", "rfm", "value"):
            frame = getattr(self, section)
            if section == "identity":
                rows += [
                    (section, f, v) for f, v in zip(frame["field"], frame["value"], strict=True)
                ]
            elif len(frame):
                rows += [(section, c, frame[c].iloc[0]) for c in frame.columns]
        for section in ("stages", "suggestions", "campaigns", "milestones"):
            frame = getattr(self, section).head(20)
            for i, row in enumerate(frame.to_dict("records"), 1):
                rows += [(section, f"{i}.{c}", v) for c, v in row.items()]
        out = pd.DataFrame(rows, columns=["section", "field", "value"])
        out["value"] = [_text(v) for v in out["value"]]
        out.insert(0, "customer_id", self.customer_id)
        return out


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def find_customer(transactions: Any, customer_id: str, *, as_of: Any = None) -> str:
    """``customer_id`` when some order of it falls on or before ``as_of``; else a DataError
    with the closest ids ("did you mean …", by edit distance on the engine).

    Raises
    ------
    DataError
        Naming the id and up to three ids that differ by at most two characters.
    """
    tx = as_table(transactions)
    day = resolve_as_of(tx, as_of)
    tx = tx.filter(tx.ordered_at < _end(day))
    cid = str(customer_id).strip()
    hit = execute(tx.filter(tx.customer_id == cid).aggregate(n=ibis._.count()))["n"].iloc[0]
    if int(hit):
        return cid
    ids = tx.select("customer_id").distinct()
    ids = ids.filter(ids.customer_id.notnull()).mutate(d=ids.customer_id.levenshtein(cid))
    try:
        close = execute(ids.filter(ids.d <= 2).order_by(["d", "customer_id"]).limit(3))
        hint = ", ".join(repr(c) for c in close["customer_id"])
    except Exception:  # an engine without edit distance: the message goes without hints
        hint = ""
    raise DataError(
        f"customer {cid!r} has no order in the data up to {day.date()}"
        + (f"; did you mean {hint}?" if hint else "")
    )


def _end(day: pd.Timestamp) -> Any:
    return ibis.literal((day + pd.Timedelta(days=1)).to_pydatetime(), type="timestamp")


def profile_base(
    data: Any,
    *,
    as_of: Any = None,
    scheme: str = "cn8",
    clv_sample: int = 50_000,
    clv_params: Mapping[str, Any] | str | Path | None = None,
    cache: bool = True,
) -> ProfileBase:
    """The base-wide parts of profiles as of ``as_of`` (see the module text).

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset`, or canonical transactions.
    as_of
        The day of the profiles; empty: the last complete day of the data.
    scheme
        RFM segment scheme (``cn8``, ``en11`` or a scheme file).
    clv_sample
        Most customers the CLV model is fitted on: a deterministic sample by a hash of the id
        when the base is larger (the parameters of a random sample estimate the base's).
    clv_params
        Overrides of ``params/clv.yaml``.
    cache
        Keep the result under the dataset's cache folder (``<cache_dir>/profile/<key>/``,
        keyed by the data's fingerprint, the day, the scheme, the sample size, the CLV settings
        and :data:`BASE_VERSION`) and reuse it: the next profile of the same data and day
        starts in about a second instead of reading the whole base again.
    """
    tx = as_table(dataset_tables(data)["transactions"])
    day = resolve_as_of(tx, as_of)
    settings = load_clv_params(clv_params)
    folder = _cache_folder(data, day, scheme, clv_sample, settings) if cache else None
    if folder is not None and (folder / "base.pkl").exists():
        return pd.read_pickle(folder / "base.pkl")
    base = _build_base(tx, day, scheme=scheme, clv_sample=clv_sample, settings=settings)
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        tmp.mkdir(exist_ok=True)
        pd.to_pickle(base, tmp / "base.pkl")
        try:
            tmp.rename(folder)  # atomic: a parallel notebook reads a whole base or none
        except OSError:  # another process published the same key first
            shutil.rmtree(tmp, ignore_errors=True)
    return base


def _cache_folder(
    data: Any, day: pd.Timestamp, scheme: Any, clv_sample: int, settings: Mapping[str, Any]
) -> Path | None:
    """Where a base is cached, or None for data without a fingerprint and cache folder."""
    fingerprint = getattr(data, "fingerprint", "")
    root = (getattr(data, "source", None) or {}).get("cache_dir")
    if not fingerprint or not root or not isinstance(scheme, str):
        return None
    seed = json.dumps([BASE_VERSION, fingerprint, str(day.date()), scheme, clv_sample,
                       settings], sort_keys=True, default=str)  # fmt: skip
    return Path(root) / "profile" / hashlib.sha256(seed.encode()).hexdigest()[:20]


def _build_base(
    tx: Any, day: pd.Timestamp, *, scheme: Any, clv_sample: int, settings: Mapping[str, Any]
) -> ProfileBase:
    table = rfm_table(tx, as_of=day)
    seg = segment_rfm(table, scheme=scheme).customers
    seg = seg[["customer_id", "monetary", "r_score", "f_score", "m_score", "cell", "segment"]]
    end = clv.observation_end(tx, as_of=day)
    sample = tx.filter(tx.customer_id.notnull(), tx.ordered_at < _end(day))
    if len(table) > clv_sample:
        share = clv_sample / len(table)
        sample = sample.filter((sample.customer_id.hash() % 1_000_000).abs() < int(share * 1e6))
    sample = execute(sample)  # the sample's lines, once: the CLV fit and the suggestions
    summary = clv.summary(sample, as_of=end, time_unit=settings["time_unit"])
    try:
        model = clv.fit(summary, model=settings["model"], penalizer=settings["penalizer"])
        spend = clv.fit_spend(summary, penalizer=settings["penalizer"])
        clv_reason = None
    except DataError:  # too few repeat buyers to fit: profiles say so instead of a value
        model = spend = None
        repeaters = int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())
        clv_reason = not_measured("small_base", base=repeaters,
                                  minimum=settings["warnings"]["min_repeaters_error"])  # fmt: skip
    pairs = sample.loc[sample["sku"].notna(), ["customer_id", "sku"]].drop_duplicates()
    return ProfileBase(
        as_of=day, segments=seg, scheme=scheme if isinstance(scheme, str) else "custom",
        model=model, spend_model=spend, clv_settings=settings, clv_customers=len(summary),
        clv_reason=clv_reason, pairs=pairs.reset_index(drop=True),
        sample_customers=int(sample["customer_id"].nunique()), customers_total=len(table),
        names=item_names(tx),
    )  # fmt: skip


def default_customer(base: ProfileBase) -> str:
    """The customer of highest spend to date: what a profile opened without an id shows."""
    seg = base.segments.sort_values(["monetary", "customer_id"], ascending=[False, True])
    if seg.empty:
        raise DataError("no identified customer has an order in the data")
    return str(seg["customer_id"].iloc[0])


def customer_profile(
    data: Any,
    customer_id: str,
    *,
    as_of: Any = None,
    base: ProfileBase | None = None,
    scheme: str = "cn8",
    personal: bool = False,
    clv_sample: int = 50_000,
    clv_params: Mapping[str, Any] | str | Path | None = None,
    lifecycle_params: Mapping[str, Any] | str | Path | None = None,
    response_days: float = 14.0,
    top: int = 5,
    min_customers: int = 30,
    draws: int = 300,
) -> Profile:
    """Everything the workbook knows of one customer as of ``as_of``.

    Parameters
    ----------
    data
        A :class:`crmlib.data.Dataset` (customers, campaigns and touchpoints are used when it
        has them), or canonical transactions alone.
    customer_id
        The customer; an id without orders raises a DataError with the closest ids.
    as_of
        The day of the profile; empty: the last complete day of the data.
    base
        :func:`profile_base` of the same data and day, to reuse over many profiles.
    scheme, clv_sample, clv_params
        See :func:`profile_base` (used when ``base`` is None).
    personal
        Show personal fields (name, phone, email, address, postcode, birthday) unmasked.
    lifecycle_params
        Stage rules (:func:`crmlib.lifecycle.customer_stages`).
    response_days
        Campaign response window in days.
    top
        Most product suggestions.
    min_customers
        Fewest customers who bought both products for a suggestion (a smaller base is noise).
    draws
        Parameter draws for the lifetime-value interval.

    Returns
    -------
    Profile
        ``identity`` (``field, value``), ``overview`` (one row: first and last purchase,
        orders, revenue, AOV, days since the last purchase), ``monthly`` (``month, orders,
        revenue``), ``categories`` and ``channels`` (``orders, revenue, share``), ``rfm`` (one
        row: scores, cell, segment), ``stages`` (``period, stage, recency_days``), ``value``
        (one row: expected purchases, P(active) and the hiatus rule, expected spend, CLV with a
        95% interval), ``suggestions`` (``sku, name, together, confidence, lift``), ``campaigns``
        (``campaign_id, name, sent_at, group, responded, orders, revenue``), ``touchpoints`` and
        ``milestones`` (``order_number, ordered_at``).
    """
    tabs = dataset_tables(data)
    tx = as_table(tabs["transactions"])
    day = resolve_as_of(tx, as_of if base is None else base.as_of)
    cid = str(customer_id).strip()
    mine = tx.filter(tx.customer_id == cid, tx.ordered_at < _end(day))
    lines = execute(mine)
    if lines.empty:
        find_customer(tx, cid, as_of=day)  # raises, with the closest ids
    if base is None:
        base = profile_base(data, as_of=day, scheme=scheme, clv_sample=clv_sample,
                            clv_params=clv_params)  # fmt: skip
    overview = rfm_table(lines, as_of=day)
    bought = _purchase_orders(lines, day)
    seg = base.segments[base.segments["customer_id"] == cid]
    return Profile(
        customer_id=cid,
        as_of=day,
        identity=_identity(tabs.get("customers"), cid, personal=personal),
        overview=overview.drop(columns=["customer_id", "as_of"]),
        monthly=_monthly(lines, bought),
        categories=_split(lines, "category"),
        channels=_split(lines, "channel"),
        rfm=seg[
            [c for c in ("r_score", "f_score", "m_score", "cell", "segment") if c in seg]
        ].reset_index(drop=True),
        stages=_stages(lines, day, lifecycle_params),
        value=_value(lines, bought, base, day, draws=draws),
        suggestions=_suggestions(lines, base, top=top, min_customers=min_customers),
        campaigns=_campaigns(tabs, mine, cid, day, response_days=response_days),
        touchpoints=_touchpoints(tabs.get("touchpoints"), cid, day),
        milestones=_milestones(bought),
    )


def _identity(customers: Any, cid: str, *, personal: bool) -> pd.DataFrame:
    empty = pd.DataFrame({"field": pd.Series(dtype=str), "value": pd.Series(dtype=object)})
    if customers is None:
        return mark_frame(empty, not_measured("table_missing", table="customers"))
    c = as_table(customers, table="customers")
    row = execute(c.filter(c.customer_id == cid).limit(1))
    if row.empty:
        return mark_frame(empty, not_measured("no_data"))
    if not personal:
        row = mask_personal(row)
    fields = [f for f in (*PERSONAL_FIELDS, *_IDENTITY) if f in row and pd.notna(row[f].iloc[0])]
    return pd.DataFrame({"field": fields, "value": [row[f].iloc[0] for f in fields]})


def _purchase_orders(lines: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The customer's purchases by the definition every analysis uses
    (:func:`crmlib.data.orders.orders`): a return, or an order its returns cancel out, is none."""
    placed = execute(orders(lines, as_of=day))
    return placed[placed["purchase"]].sort_values("ordered_at", kind="stable")


def _monthly(lines: pd.DataFrame, bought: pd.DataFrame) -> pd.DataFrame:
    month = pd.to_datetime(lines["ordered_at"]).dt.to_period("M")
    out = pd.DataFrame({
        "orders": bought.groupby(pd.to_datetime(bought["ordered_at"]).dt.to_period("M")).size(),
        "revenue": lines.groupby(month)["amount"].sum(),
    }).fillna({"orders": 0}).astype({"orders": "int64"})  # fmt: skip
    out.index.name = "month"
    return out.reset_index()


def _split(lines: pd.DataFrame, column: str) -> pd.DataFrame:
    """Orders, revenue and revenue share per value of ``column`` (empty and marked when the
    column is not mapped)."""
    if lines[column].isna().all():
        empty = pd.DataFrame(columns=[column, "orders", "revenue", "share"])
        return mark_frame(empty, not_measured("column_not_mapped", table="transactions",
                                              column=column))  # fmt: skip
    g = lines.groupby(lines[column].fillna("–"))
    out = pd.DataFrame({"orders": g["order_id"].nunique(), "revenue": g["amount"].sum()})
    total = out["revenue"].sum()
    out["share"] = out["revenue"] / total if total > 0 else np.nan
    out = out.sort_values("revenue", ascending=False, kind="stable")
    return out.rename_axis(column).reset_index()


def _stages(lines: pd.DataFrame, day: pd.Timestamp, params: Any) -> pd.DataFrame:
    rules = lifecycle.load_rules(params)
    if rules["rule"] == "percentile":  # thresholds from the whole base's gaps: not per customer
        return mark_frame(pd.DataFrame(columns=["period", "stage", "recency_days"]),
                          not_measured("no_data"))  # fmt: skip
    stages = lifecycle.customer_stages(lines, as_of=day, params=rules)
    return stages[["period", "stage", "recency_days"]].reset_index(drop=True)


def _value(
    lines: pd.DataFrame, bought: pd.DataFrame, base: ProfileBase, day: pd.Timestamp, *, draws: int
) -> pd.DataFrame:
    """Expected purchases, P(active), the hiatus rule and CLV with a 95% interval from the
    parameters' sampling distribution (normal on the log scale, as the parameter table)."""
    settings = base.clv_settings
    last = pd.to_datetime(bought["ordered_at"]).max() if len(bought) else pd.NaT
    weeks = float((day - last.normalize()).days) / 7 if pd.notna(last) else np.inf  # returns only
    figures = ["expected_purchases", "p_alive", "expected_spend", "clv", "clv_low", "clv_high"]
    if base.model is None:  # no model: every model figure says why; the hiatus rule stands
        out = pd.DataFrame({c: [np.nan] for c in figures})
        for col in figures:
            mark_column(out, col, base.clv_reason)
    else:
        end = clv.observation_end(lines, as_of=day)
        one = clv.summary(lines, as_of=end, time_unit=settings["time_unit"])
        scored = clv.score(one, model=base.model, spend_model=base.spend_model, params=settings)
        out = scored[figures[:4]].copy()
        interval = _interval(one, base, draws=draws)
        if isinstance(interval, NotMeasured):
            out["clv_low"] = out["clv_high"] = np.nan
            for col in ("clv_low", "clv_high"):
                mark_column(out, col, interval)
        else:
            out["clv_low"], out["clv_high"] = interval
    out["hiatus_active"] = weeks <= float(settings["hiatus_weeks"])
    out["model_customers"] = base.clv_customers
    out.attrs.update(hiatus_weeks=float(settings["hiatus_weeks"]),
                     horizon_months=int(settings["horizon_months"]))  # fmt: skip
    if base.model is None:
        return out
    fitted = pd.concat([base.model.parameters(), base.spend_model.parameters()])
    weak = fitted.loc[~fitted["identifiable"], "parameter"].tolist()
    if weak:  # an interval from parameters the data cannot pin down is no interval
        out[["clv_low", "clv_high"]] = np.nan
        why = not_measured("not_identifiable", parameter=", ".join(weak))
        for col in ("clv_low", "clv_high"):
            mark_column(out, col, why)
    return out.reset_index(drop=True)


def _interval(
    one: pd.DataFrame, base: ProfileBase, *, draws: int
) -> tuple[float, float] | NotMeasured:
    """The customer's 95% CLV range from :func:`crmlib.clv.intervals`, or why there is none."""
    settings = base.clv_settings
    horizon = int(settings["horizon_months"])
    params = {**settings, "intervals": {**settings["intervals"], "draws": draws,
              "forecast_months": horizon, "horizons": [[0, horizon]]}}  # fmt: skip
    bands = clv.intervals(one, model=base.model, spend_model=base.spend_model, params=params)
    if not bands.measured:
        return bands.why_not
    row = bands.customers.iloc[0]
    return float(row["clv_lower"]), float(row["clv_upper"])


def _suggestions(
    lines: pd.DataFrame, base: ProfileBase, *, top: int, min_customers: int
) -> pd.DataFrame:
    """Products this customer has not bought, most bought by the other customers who bought
    what they did (the peers): ``together`` (such peers), ``confidence`` (their share of the
    peers), ``lift`` (against the share of all customers buying it). Counted in the base's
    sample (:func:`profile_base`: every customer when the base is not larger than it)."""
    cols = ["sku", "name", "together", "confidence", "lift"]
    mine = set(lines["sku"].dropna())
    if not mine:
        return mark_frame(pd.DataFrame(columns=cols), not_measured(
            "column_not_mapped", table="transactions", column="sku"))  # fmt: skip
    pairs = base.pairs[base.pairs["customer_id"] != lines["customer_id"].iloc[0]]
    peers = pairs.loc[isin(pairs["sku"], mine), "customer_id"].unique()
    other = pairs[isin(pairs["customer_id"], peers) & ~isin(pairs["sku"], mine)]
    found = other.groupby("sku")["customer_id"].nunique().rename("together").reset_index()
    buyers = base.pairs.groupby("sku")["customer_id"].nunique().rename("buyers")
    found = found[found["together"] >= min_customers].merge(buyers, on="sku")
    found["confidence"] = found["together"] / max(len(peers), 1)
    found["lift"] = found["confidence"] / (found["buyers"] / max(base.sample_customers, 1))
    found = found[found["lift"] > 1.0]  # bought no more often than by anyone: no cross-sell
    found = found.sort_values(["lift", "together"], ascending=False, kind="stable").head(top)
    found["name"] = [base.names.get(s, s) for s in found["sku"]]
    out = found[cols].reset_index(drop=True)
    out.attrs.update(peers=len(peers), sample=base.sample_customers,
                     customers=base.customers_total)  # fmt: skip
    return out


def _campaigns(tabs: Mapping[str, Any], mine: Any, cid: str, day: pd.Timestamp, *,
               response_days: float) -> pd.DataFrame:  # fmt: skip
    cols = ["campaign_id", "name", "sent_at", "group", "responded", "orders", "revenue"]
    if tabs.get("campaign_members") is None:
        return mark_frame(pd.DataFrame(columns=cols),
                          not_measured("table_missing", table="campaign_members"))  # fmt: skip
    m = as_table(tabs["campaign_members"], table="campaign_members")
    m = m.filter(m.customer_id == cid)
    got = member_responses(m, mine, campaigns=tabs.get("campaigns"), response_days=response_days,
                           as_of=day, redemptions=tabs.get("coupon_redemptions"))  # fmt: skip
    if tabs.get("campaigns") is not None:
        names = execute(
            as_table(tabs["campaigns"], table="campaigns").select("campaign_id", "name")
        )
        got = got.merge(names, on="campaign_id", how="left")
    else:
        got["name"] = None
    if "complete" in got:  # a window still open: whether the customer responds is not known yet
        got["responded"] = got["responded"].astype(object).where(got["complete"], None)
    return got[cols].sort_values("sent_at", ascending=False, kind="stable").reset_index(drop=True)


def _touchpoints(touchpoints: Any, cid: str, day: pd.Timestamp) -> pd.DataFrame:
    cols = ["occurred_at", "channel", "kind"]
    if touchpoints is None:
        return mark_frame(pd.DataFrame(columns=cols),
                          not_measured("table_missing", table="touchpoints"))  # fmt: skip
    tp = as_table(touchpoints, table="touchpoints")
    tp = tp.filter(tp.customer_id == cid, tp.occurred_at < _end(day))
    return execute(tp.select(*cols).order_by(ibis.desc("occurred_at")))


def _milestones(bought: pd.DataFrame) -> pd.DataFrame:
    """The day of each milestone order reached (the 2nd order, the 3rd …), purchases only."""
    firsts = bought["ordered_at"].reset_index(drop=True)
    reached = [(n, firsts.iloc[n - 1]) for n in MILESTONES if len(firsts) >= n]
    return pd.DataFrame(reached, columns=["order_number", "ordered_at"])


def export_profiles(
    data: Any,
    customer_ids: Iterable[str],
    path: str | Path,
    *,
    as_of: Any = None,
    personal: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Write the profiles of ``customer_ids`` to one CSV (long form, :meth:`Profile.records`),
    safe to open in a spreadsheet (formula characters neutralised).

    An id without orders is not dropped: it gets one row, section ``not_found``, with the
    message. ``attrs["counts"]`` holds ``read``, ``written`` and ``not_found``
    (read = written + not_found). ``options`` go to :func:`customer_profile`.
    """
    tx = dataset_tables(data)["transactions"]
    day = resolve_as_of(as_table(tx), as_of)
    base = profile_base(data, as_of=day, **{k: options.pop(k) for k in
                                            ("scheme", "clv_sample", "clv_params") if k in options})  # fmt: skip
    parts, counts = [], {"read": 0, "written": 0, "not_found": 0}
    for cid in customer_ids:
        counts["read"] += 1
        try:
            parts.append(customer_profile(data, cid, base=base, personal=personal,
                                          **options).records())  # fmt: skip
            counts["written"] += 1
        except DataError as exc:
            counts["not_found"] += 1
            parts.append(pd.DataFrame({"customer_id": [str(cid)], "section": ["not_found"],
                                       "field": ["message"], "value": [str(exc)]}))  # fmt: skip
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["customer_id", "section", "field", "value"])  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(out).to_csv(path, index=False, encoding="utf-8-sig")
    out.attrs["counts"] = counts
    return out
