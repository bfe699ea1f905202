"""Words of the customer-value report: findings, notes and display tables in Chinese or English.

The numbers come from :mod:`crmlib.rfm` (RFM table, scores, member share), :mod:`crmlib.segments`
(schemes and segments) and :mod:`crmlib.value` (per-segment summaries, value matrix, revenue
concentration). This module adds the segment and quadrant names, writes the executive findings
and turns result tables into tables for reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib import value
from crmlib.config import load_params
from crmlib.errors import ConfigError
from crmlib.i18n import check_language, labels, t
from crmlib.present.format import money, number, percent, times
from crmlib.present.page import md_escape
from crmlib.segments import PARAMS_FILE, Scheme, Segmentation, export_segments

__all__ = [
    "segment_name",
    "segment_overview",
    "segment_grid",
    "value_matrix",
    "display_table",
    "headline_findings",
    "scoring_note",
    "value_matrix_findings",
    "pareto_findings",
    "member_share_findings",
    "export_lists",
]

#: Result columns holding shares, shown as percentages by :func:`display_table`.
_PERCENT_COLUMNS = ("share_customers", "share_revenue", "share_orders", "top_share")
#: Money columns and their decimals (shown with the data's currency symbol).
_MONEY_COLUMNS = {"revenue": 0, "aov": 2, "aov_split": 2}


def _bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


# --------------------------------------------------------------------------------------------
# Tables with names
# --------------------------------------------------------------------------------------------


def segment_name(scheme: Scheme, segment: str, *, language: str = "en") -> str:
    """Display name of segment key ``segment`` of ``scheme`` in ``language``.

    Parameters
    ----------
    scheme
        Output of :func:`crmlib.segments.load_scheme` (or ``Segmentation.scheme``).
    segment
        A segment key, e.g. ``"important_value"``.
    language
        ``"en"`` or ``"zh"``.

    Raises
    ------
    ConfigError
        When the scheme has no such segment (the message lists the segments it has).
    """
    check_language(language)
    row = scheme.segments.loc[scheme.segments["segment"] == segment]
    if row.empty:
        raise ConfigError(
            f"scheme {scheme.key!r} has no segment {segment!r}; "
            f"segments: {', '.join(scheme.segments['segment'])}"
        )
    return str(row[f"name_{language}"].iloc[0])


def segment_overview(segmentation: Segmentation, *, language: str = "en") -> pd.DataFrame:
    """:func:`crmlib.value.segment_overview` with each segment's name and suggested action.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (key), ``name``, ``customers``, ``share_customers``, ``orders``, ``revenue``,
        ``share_revenue``, ``aov``, ``mean_recency`` (days), ``action``, ``colour``.
    """
    check_language(language)
    out = value.segment_overview(segmentation)
    segs = segmentation.scheme.segments.set_index("segment")
    out.insert(1, "name", out["segment"].map(segs[f"name_{language}"]).to_numpy())
    action = out["segment"].map(segs[f"action_{language}"]).to_numpy()
    out.insert(out.columns.get_loc("colour"), "action", action)
    return out


def segment_grid(segmentation: Segmentation, *, language: str = "en") -> pd.DataFrame:
    """:func:`crmlib.value.segment_grid` with each cell's segment name, for
    :func:`crmlib.plots.rfm.score_heatmap`.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        ``row``, ``column``, ``cell``, ``customers``, ``segment``, ``name``.
    """
    check_language(language)
    out = value.segment_grid(segmentation)
    segs = segmentation.scheme.segments
    names = dict(zip(segs["segment"], segs[f"name_{language}"], strict=True))
    out["name"] = [names[s] for s in out["segment"]]
    return out


def value_matrix(table: pd.DataFrame, *, split: str = "mean", language: str = "en") -> pd.DataFrame:
    """:func:`crmlib.value.value_matrix` of ``table`` with each quadrant's name in ``language``.

    Parameters
    ----------
    table
        Output of :func:`crmlib.rfm.rfm_table`.
    split
        ``"mean"`` or ``"median"`` of the base (see :func:`crmlib.value.value_quadrants`).
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        ``quadrant``, ``name``, ``orders_level``, ``aov_level``, ``customers``,
        ``share_customers``, ``revenue``, ``share_revenue``, ``orders_split``, ``aov_split``,
        ``colour``.
    """
    check_language(language)
    out = value.value_matrix(table, split=split)
    spec = value.value_matrix_spec()
    out.insert(1, "name", [spec[k]["name"][language] for k in out["quadrant"]])
    return out


def display_table(
    df: pd.DataFrame,
    *,
    language: str = "en",
    drop: Iterable[str] = ("colour", "segment", "quadrant"),
) -> pd.DataFrame:
    """A copy of a result table for reading.

    Shares become percentages with one decimal ("–" when not measured), money carries the
    data's currency symbol, days are rounded, metric and level keys are translated and headers are in ``language``
    (``col_<column>`` in ``crmlib/labels/rfm.yaml``); segment and quadrant keys and colours are
    dropped by default.

    Parameters
    ----------
    df
        A result table: segment overview, bin edges, value matrix, Pareto table, member share.
    language
        ``"en"`` or ``"zh"``.
    drop
        Columns left out.
    """
    check_language(language)
    out = df.drop(columns=[c for c in drop if c in df]).copy()
    for col in ("metric", "buyer", "orders_level", "aov_level"):
        if col in out and out[col].dtype != float:
            out[col] = out[col].map(lambda v: t(f"rfm.{v}", language) if isinstance(v, str) else v)
    for col in out.columns:
        if col in _PERCENT_COLUMNS:
            out[col] = out[col].map(lambda v: percent(v, digits=1))
        elif col in _MONEY_COLUMNS:
            out[col] = [money(v, digits=_MONEY_COLUMNS[col]) for v in out[col]]
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(1 if col in ("mean_recency", "lower", "upper") else 2)
    names = labels("rfm", language)
    return out.rename(columns={c: names[f"col_{c}"] for c in out.columns if f"col_{c}" in names})


# --------------------------------------------------------------------------------------------
# Executive text
# --------------------------------------------------------------------------------------------


def headline_findings(segmentation: Segmentation, *, language: str = "en") -> str:
    """Three to four markdown bullet points for executives.

    Example (en): "Top 20% of customers bring 58% of revenue; 重要价值客户 are 9% of customers
    and 41% of revenue."

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    cust = segmentation.customers
    if cust.empty:
        return "- " + t("rfm.no_customers", language)
    overview = segment_overview(segmentation, language=language)
    p20 = value.pareto(cust, tops=(0.2,))["share_revenue"].iloc[0]
    top = overview.sort_values("share_revenue", ascending=False).iloc[0]
    first = overview.iloc[0]
    lines = [
        t(
            "rfm.finding_base",
            language,
            customers=number(len(cust)),
            as_of=pd.Timestamp(cust["as_of"].iloc[0]).date().isoformat(),
            revenue=money(cust["monetary"].sum()),
        ),
        t(
            "rfm.finding_pareto",
            language,
            share=percent(p20, digits=0),
            segment=md_escape(first["name"]),
            seg_customers=percent(first["share_customers"], digits=0),
            seg_revenue=percent(first["share_revenue"], digits=0),
        ),
    ]
    if top["segment"] != first["segment"]:
        lines.append(
            t(
                "rfm.finding_top_segment",
                language,
                segment=md_escape(top["name"]),
                seg_customers=percent(top["share_customers"], digits=0),
                seg_revenue=percent(top["share_revenue"], digits=0),
            )
        )
    one = float((cust["orders"] == 1).mean())
    lines.append(t("rfm.finding_one_timers", language, share=percent(one, digits=0)))
    return _bullets(lines)


def scoring_note(segmentation: Segmentation, *, language: str = "en") -> str:
    """One markdown paragraph saying how scores were given and how ties were treated.

    When ties made quantile bins unequal (``Segmentation.unequal``), the paragraph says so and
    names the metrics; the bin table (``Segmentation.edges``) gives the actual sizes.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    sch = segmentation.scheme
    key = f"rfm.scoring_{segmentation.scoring}"
    note = t(key, language, scheme=md_escape(sch.name[language]), levels=len(sch.levels))
    if segmentation.unequal:
        names = [t(f"rfm.metric_list_{m}", language) for m in segmentation.unequal]
        metrics = names[-1]
        if len(names) > 1:
            head = t("rfm.metric_list_sep", language).join(names[:-1])
            metrics = head + t("rfm.metric_list_and", language) + metrics
        note += (" " if language == "en" else "") + t(
            "rfm.scoring_unequal", language, metrics=metrics
        )
    return note


def value_matrix_findings(summary: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown bullets on the value matrix.

    Parameters
    ----------
    summary
        Output of :func:`value_matrix` (its ``name`` column is shown), or of
        :func:`crmlib.value.value_matrix` (names then come from ``params/segments.yaml``).
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if "name" in summary:
        names = summary["name"].tolist()
    else:
        spec = value.value_matrix_spec()
        names = [spec[k]["name"][language] for k in summary["quadrant"]]
    lines = [
        t(
            "rfm.finding_value_split",
            language,
            orders=times(summary["orders_split"].iloc[0], digits=2),
            aov=money(summary["aov_split"].iloc[0], digits=2),
        )
    ]
    for name, (_, row) in zip(names, summary.iterrows(), strict=True):
        lines.append(
            t(
                "rfm.finding_quadrant",
                language,
                name=md_escape(name),
                customers=percent(row["share_customers"], digits=0),
                revenue=percent(row["share_revenue"], digits=0),
            )
        )
    return _bullets(lines)


def pareto_findings(
    table: pd.DataFrame,
    *,
    language: str = "en",
    params: str | Path | Mapping[str, Any] | None = None,
) -> str:
    """Markdown on revenue concentration, with the published norms from ``params/segments.yaml``.

    Parameters
    ----------
    table
        Per-customer table with ``monetary`` (output of :func:`crmlib.rfm.rfm_table`).
    language
        ``"en"`` or ``"zh"``.
    params
        Overrides merged over ``segments.yaml`` (a mapping, or the path of a YAML file), e.g.
        other ``pareto_norms``.
    """
    check_language(language)
    shares = value.pareto(table).set_index("top_share")["share_revenue"]
    lines = [
        t(
            "rfm.finding_concentration",
            language,
            top1=percent(shares.get(0.01), digits=0),
            top5=percent(shares.get(0.05), digits=0),
            top20=percent(shares.get(0.2), digits=0),
            top50=percent(shares.get(0.5), digits=0),
            gini=times(value.gini(table), digits=2),
        )
    ]
    norms = []
    for norm in load_params(PARAMS_FILE, params).get("pareto_norms") or []:
        share = norm["revenue_share"]
        if isinstance(share, list):
            text = f"{percent(share[0], digits=0)}–{percent(share[1], digits=0)}"
        else:
            text = percent(float(share), digits=0)
        norms.append(f"{text} ({md_escape(norm['scope'][language])}; {md_escape(norm['source'])})")
    if norms:
        lines.append(t("rfm.finding_norms", language, norms="; ".join(norms)))
    return _bullets(lines)


def member_share_findings(share: pd.DataFrame, *, language: str = "en") -> str:
    """Markdown sentence on the share of sales from identified members.

    Parameters
    ----------
    share
        Output of :func:`crmlib.rfm.member_share`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    rows = share.set_index("buyer")
    return "- " + t(
        "rfm.finding_members",
        language,
        revenue=percent(rows.loc["member", "share_revenue"], digits=0),
        orders=percent(rows.loc["member", "share_orders"], digits=0),
        anonymous=percent(rows.loc["anonymous", "share_revenue"], digits=0),
    )


def export_lists(
    segmentation: Segmentation,
    export_dir: str | Path | None,
    *,
    include_personal: bool = False,
    customers: Any = None,
    language: str = "en",
) -> str:
    """Write one CSV per segment to ``export_dir`` (if given) and describe the result.

    Parameters
    ----------
    segmentation
        Output of :func:`crmlib.segments.segment_rfm`.
    export_dir
        Target folder; ``None`` or ``""`` writes nothing.
    include_personal, customers
        As in :func:`crmlib.segments.export_segments`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        Markdown: a table of the files written with their customer counts, or a note that
        nothing was exported.
    """
    check_language(language)
    if export_dir is None or not str(export_dir).strip():
        return t("rfm.no_export", language)
    files = export_segments(
        segmentation.customers,
        Path(export_dir),
        include_personal=include_personal,
        customers=customers,
    )
    counts = segmentation.customers["segment"].value_counts()
    head = [t(f"rfm.col_{c}", language) for c in ("name", "customers", "file")]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|---|"]
    for f in files:
        name = segment_name(segmentation.scheme, f.stem, language=language)
        customers_in = number(int(counts.get(f.stem, 0)))
        lines.append(f"| {md_escape(name)} | {customers_in} | {md_escape(f)} |")
    note = t("rfm.personal_included" if include_personal else "rfm.personal_excluded", language)
    return "\n".join(lines) + "\n\n" + note
