"""What the campaigns and channels report says: findings, notes, section headings, display tables.

Takes the results of :mod:`crmlib.campaigns` (campaign response and uplift) and
:mod:`crmlib.channels` (channels, touchpoints, member services, funnel) and writes them in
Chinese or English, with the labels of ``crmlib/labels/campaigns.yaml``. Data values (campaign,
channel and step names) go through :func:`crmlib.present.page.md_escape`, so a name holding
HTML or Markdown shows as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from crmlib.campaigns import best_campaign
from crmlib.channels import FUNNEL_MODELS, FUNNEL_STEPS
from crmlib.config import check_choice
from crmlib.i18n import check_language, has, labels, t
from crmlib.measure import WHY_NOT, column_reason, not_measured, row_reasons
from crmlib.present import page
from crmlib.present.format import day, money, number, percent, pp, times, why_not
from crmlib.present.quality import channel_label

__all__ = [
    "MEMBER_NOTES",
    "SECTIONS",
    "campaign_columns",
    "campaign_findings",
    "channels_measured",
    "has_uplift",
    "channel_findings",
    "display_table",
    "funnel_findings",
    "funnel_labels",
    "member_notes",
    "missing_note",
    "section",
    "service_findings",
]

#: Sections of the campaigns report (label ``campaigns.h_<name>``, explanation ``md_<name>``).
SECTIONS: tuple[str, ...] = (
    "campaigns", "segments", "partners", "channels", "multichannel", "touchpoints", "complaints",
    "services", "funnel",
)  # fmt: skip

#: Member counts of :func:`crmlib.campaigns.member_responses` and
#: :func:`crmlib.campaigns.campaign_response` that the findings report whenever they are not zero.
MEMBER_NOTES: tuple[str, ...] = (
    "group_defaulted",
    "sent_at_from_campaign",
    "dropped_no_send_date",
    "dropped_missing_customer",
    "dropped_unknown_group",
    "dropped_unknown_campaign",
    "dropped_sent_after_as_of",
)


def _label(key: str, fallback: str, language: str) -> str:
    """The text of label ``key`` when the catalogue holds it, else ``fallback``."""
    return t(key, language) if has(key) else fallback


def funnel_labels(
    steps: Sequence[str] = FUNNEL_STEPS, *, model: str = "steps", language: str = "en"
) -> dict[str, str]:
    """Display names of the funnel steps in a practitioner model (AIDMA, AISAS, AARRR).

    Parameters
    ----------
    steps
        Event names of the funnel steps (the ``step`` column of :func:`crmlib.channels.funnel`).
    model
        One of :data:`crmlib.channels.FUNNEL_MODELS`. The mapping of steps onto model stages is
        in ``crmlib/labels/campaigns.yaml`` (``funnel_<model>_<step>``); a step without a
        mapping keeps its plain name.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    dict
        Step -> display name.
    """
    check_choice("model", model, FUNNEL_MODELS)
    check_language(language)
    names = labels("campaigns", language)
    out = {}
    for step in steps:
        plain = names.get(f"funnel_steps_{step}", step)
        out[step] = names.get(f"funnel_{model}_{step}", plain)
    return out


def section(
    name: str,
    *,
    language: str = "en",
    response: pd.DataFrame | None = None,
    missing: bool = False,
    heading: bool = True,
) -> str:
    """Markdown heading and explanation of a section of the campaigns report.

    Parameters
    ----------
    name
        One of :data:`SECTIONS`.
    language
        ``"en"`` or ``"zh"``.
    response
        For ``"campaigns"``: the campaigns shown. When none of them held back a control group,
        the explanation says so (and what is compared instead) rather than describing uplift.
    missing
        The data lacks what the section needs: the heading alone (the note saying what is
        missing follows), never an explanation of figures that are not there.
    heading
        False leaves the Markdown heading out: the notebook shows it as a heading cell
        (:mod:`crmlib.report.headings`).
    """
    check_choice("section", name, SECTIONS)
    title = f"## {t(f'campaigns.h_{name}', language)}" if heading else ""
    if missing:
        return title
    observational = (
        name == "campaigns"
        and response is not None
        and "method" in response
        and len(response) > 0
        and not (response["method"] == "control_group").any()
    )
    if observational:
        note = t("campaigns.md_campaigns_observational", language)
        return f"{title}\n\n{note}" if title else note
    return page.section("campaigns", name, language=language, heading=heading)


def missing_note(table: str, *, language: str = "en") -> str:
    """The note (a Markdown quote) shown instead of a section whose table the data source lacks.

    Parameters
    ----------
    table
        Name of the missing table (``"campaigns"``, ``"touchpoints"``, ``"events"`` ...).
    language
        ``"en"`` or ``"zh"``.
    """
    return "> " + t("common.missing_table", language, table=table)


def campaign_findings(response: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language findings on the campaigns: best campaign, how many worked, partners.

    Parameters
    ----------
    response
        Output of :func:`crmlib.campaigns.campaign_response`.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        A Markdown list. Campaign names and ids are escaped (:func:`crmlib.present.page.md_escape`).
        Only complete campaigns (response window closed by ``as_of``: column ``complete``) enter
        the findings; a sentence says how many were left out because their window is still open.
    """
    check_language(language)
    if response.empty:
        return t("campaigns.no_campaigns", language)
    days = f"{response.attrs.get('response_days', 14):g}"
    everything = response
    reason = everything[WHY_NOT] if WHY_NOT in everything else pd.Series("", index=everything.index)
    before = everything[reason == "before_data"]
    if "complete" in response.columns:
        response = response[response["complete"].astype(bool)]
    response = response[reason.reindex(response.index) != "before_data"]
    n_open = int((~everything["complete"].astype(bool)).sum()) if "complete" in everything else 0
    lines = []
    if n_open:
        lines.append(
            t(
                "campaigns.f_open",
                language,
                n=n_open,
                total=len(everything),
                days=days,
                as_of=day(everything.attrs.get("as_of")),
            )
        )
    if len(before):
        names = ", ".join(page.md_escape(n) for n in before["name"].head(5))
        lines.append(t("campaigns.f_before_data", language, n=len(before), names=names))
    observed = response[response["method"] == "observational"] if "method" in response else None
    if observed is not None:
        response = response[response["method"] == "control_group"]
    if response.empty and (observed is None or observed.empty):
        lines += member_notes(everything.attrs.get("members") or {}, language=language)
        return "\n".join(f"- {line}" for line in lines)
    if len(response):
        lines[:0] = _control_group_lines(response, days=days, language=language)
    if observed is not None and len(observed):
        lines.append(_observational_line(observed, language=language))
    lines.append(_coupon_line(everything, language=language))
    lines += member_notes(everything.attrs.get("members") or {}, language=language)
    return "\n".join(f"- {line}" for line in lines)


def _control_group_lines(response: pd.DataFrame, *, days: str, language: str) -> list[str]:
    """Findings on the campaigns measured against a control group."""
    best = best_campaign(response)
    n_sig = int((response["significant"] & (response["uplift"] > 0)).sum())
    lines = [
        t(
            "campaigns.f_overview",
            language,
            n=len(response),
            sig=n_sig,
            method=t(f"campaigns.method_{response.attrs.get('method', 'newcombe')}", language),
            days=days,
        )
    ]
    if best is not None:
        lines.append(
            t(
                "campaigns.f_best",
                language,
                name=page.md_escape(best["name"]),
                id=page.md_escape(best["campaign_id"]),
                uplift=pp(best["uplift"]),
                low=pp(best["uplift_low"]),
                high=pp(best["uplift_high"]),
                rel=percent(best["relative_uplift"], digits=0),
                revenue=money(best["incremental_revenue"]),
            )
        )
    partners = response[response["is_partner"]]
    if len(partners):
        lines.append(
            t(
                "campaigns.f_partners",
                language,
                n=len(partners),
                uplift=pp(float(partners["uplift"].mean())),
                own=pp(float(response.loc[~response["is_partner"], "uplift"].mean())),
            )
        )
    return lines


def _observational_line(observed: pd.DataFrame, *, language: str) -> str:
    """The campaigns without a control group: compared with similar customers, as an estimate."""
    known = observed.dropna(subset=["estimate"])
    if known.empty:
        return t("campaigns.f_observational_none", language, n=len(observed))
    top = known.loc[known["estimate"].idxmax()]
    return t(
        "campaigns.f_observational",
        language,
        n=len(observed),
        above=int((known["estimate_low"] > 0).sum()),
        below=int((known["estimate_high"] < 0).sum()),
        name=page.md_escape(top["name"]),
        diff=pp(top["estimate"], sign=True),
        low=pp(top["estimate_low"], sign=True),
        high=pp(top["estimate_high"], sign=True),
        rate=percent(top["recipient_rate"]),
        targets=number(int(top["recipients_compared"])),
        comparison=percent(top["comparison_rate"]),
    )


def _coupon_line(response: pd.DataFrame, *, language: str) -> str:
    """Coupon redemption with its base, or why it is not measured."""
    why = column_reason(response, "coupon_redemption_rate")
    if why is not None:
        return t("campaigns.f_coupons_unmeasured", language, why=why_not(why, language))
    sent = int(response["targets"].sum())
    rate = response["coupon_orders"].sum() / sent if sent else float("nan")
    return t("campaigns.f_coupons", language, rate=percent(rate, digits=2), n=number(sent))


def campaign_columns(response: pd.DataFrame) -> list[str]:
    """The columns of the campaign table: uplift columns for campaigns with a control group,
    comparison columns for those without, both when the report has both kinds."""
    lead = ["campaign_id", "name", "channel", "partner", "sent_at", "method", "targets"]
    control = ["controls", "response_rate", "control_rate", "uplift", "uplift_low", "uplift_high",
               "relative_uplift", "revenue_per_recipient", "incremental_revenue"]  # fmt: skip
    observed = ["response_rate", "comparison_rate", "estimate", "estimate_low", "estimate_high",
                "revenue_per_recipient"]  # fmt: skip
    methods = set(response["method"]) if "method" in response else {"control_group"}
    cols = lead + (control if "control_group" in methods else [])
    if "observational" in methods:
        cols += [c for c in observed if c not in cols]
    return [*cols, "coupon_redemption_rate"]


def channels_measured(trends: pd.DataFrame) -> bool:
    """Whether the data says through which channel anyone bought (some channel other than
    ``unknown``): without it, the channel chart and the multichannel table are not shown."""
    if trends.empty:
        return False
    named = trends["channel"].astype("string").fillna("unknown").str.strip()
    return bool((~named.isin(["unknown", ""])).any())


def has_uplift(response: pd.DataFrame) -> bool:
    """Whether any campaign has a measured uplift (a control group and a closed window): the
    uplift chart is drawn only then; otherwise the section's text says what it would need."""
    done = response[response["complete"].astype(bool)] if "complete" in response else response
    return bool(len(done)) and bool(done["uplift"].notna().any())


def member_notes(counts: Mapping[str, int], *, language: str = "en") -> list[str]:
    """One sentence per non-zero member count (repairs and members left out of the analysis).

    Parameters
    ----------
    counts
        ``attrs["members"]`` of :func:`crmlib.campaigns.member_responses` or
        :func:`crmlib.campaigns.campaign_response`; the kinds in :data:`MEMBER_NOTES` are
        reported, with ``read`` as the total.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    read = int(counts.get("read", 0) or 0)
    return [
        t(
            f"campaigns.f_members_{kind}",
            language,
            n=number(int(counts[kind])),
            read=number(read),
        )
        for kind in MEMBER_NOTES
        if int(counts.get(kind, 0) or 0) > 0
    ]


def channel_findings(
    trends: pd.DataFrame,
    multi: pd.DataFrame,
    effects: pd.DataFrame | None = None,
    churn: pd.DataFrame | None = None,
    *,
    language: str = "en",
) -> str:
    """Plain-language findings on channels, multichannel customers, touchpoints, complaints.

    Parameters
    ----------
    trends, multi, effects, churn
        Outputs of :func:`crmlib.channels.channel_trends`, :func:`~crmlib.channels.multichannel`,
        :func:`~crmlib.channels.touchpoint_effects` and :func:`~crmlib.channels.complaint_churn`
        (the last two None when there are no touchpoints).
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str
        A Markdown list; channel and touchpoint names are escaped.
    """
    check_language(language)
    lines = []
    if not channels_measured(trends):
        why = not_measured("column_not_mapped", table="transactions", column="channel")
        lines.append(t("campaigns.f_channel_unmapped", language, why=why_not(why, language)))
    elif not trends.empty:
        last = trends["period"].max()
        year = trends[trends["period"] > last - pd.DateOffset(years=1)]
        by = year.groupby("channel")["revenue"].sum().sort_values(ascending=False)
        if by.sum() > 0:
            lines.append(
                t(
                    "campaigns.f_channel_top",
                    language,
                    channel=page.md_escape(
                        _label(f"data.channel_{by.index[0]}", by.index[0], language)
                    ),
                    share=percent(by.iloc[0] / by.sum()),
                )
            )
    m = multi.set_index("group")
    if not channels_measured(trends):
        pass  # one "unknown" channel: multichannel buying cannot be told either
    elif {"single", "multi"} <= set(m.index) and m.loc["multi", "customers"] > 0:
        lines.append(
            t(
                "campaigns.f_multi",
                language,
                share=percent(m.loc["multi", "share"]),
                times=times(
                    m.loc["multi", "revenue_per_customer"] / m.loc["single", "revenue_per_customer"]
                ),
                ret_multi=percent(m.loc["multi", "retention_rate"]),
                ret_single=percent(m.loc["single", "retention_rate"]),
            )
        )
    if effects is not None and not effects.empty:
        top = effects.sort_values("lift", ascending=False).iloc[0]
        lines.append(
            t(
                "campaigns.f_touch",
                language,
                kind=page.md_escape(_label(f"campaigns.kind_{top['kind']}", top["kind"], language)),
                rate=percent(top["purchase_rate"]),
                base=percent(top["base_rate"]),
                days=effects.attrs.get("window_days", 30),
            )
        )
    if churn is not None and len(churn) == 2 and churn["customers"].min() > 0:
        c = churn.set_index("group")
        lines.append(
            t(
                "campaigns.f_complaints",
                language,
                rate=percent(c.loc["with_kind", "churn_rate"]),
                other=percent(c.loc["others", "churn_rate"]),
                days=churn.attrs.get("churn_days", 180),
            )
        )
    return "\n".join(f"- {line}" for line in lines)


def service_findings(usage: pd.DataFrame, *, language: str = "en") -> str:
    """Plain-language comparison of service users and non-users (coupons, points, levels).

    Parameters
    ----------
    usage
        Output of :func:`crmlib.channels.service_usage`.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    if usage.empty:  # no member level, points or coupon code in the data: nothing to compare
        return f"- {t('campaigns.f_services_unmeasured', language)}"
    lines = []
    for service, yes, no in (("coupon", "coupon_user", "no_coupon"),
                             ("points", "with_points", "no_points")):  # fmt: skip
        rows = usage[usage["service"] == service].set_index("group")
        if {yes, no} <= set(rows.index):
            lines.append(
                t(
                    f"campaigns.f_{service}",
                    language,
                    share=percent(rows.loc[yes, "share"]),
                    spend=money(rows.loc[yes, "revenue_per_customer"]),
                    other=money(rows.loc[no, "revenue_per_customer"]),
                    ret=percent(rows.loc[yes, "retention_rate"]),
                    ret_other=percent(rows.loc[no, "retention_rate"]),
                )
            )
    if (usage["service"] == "member_level").any():
        lines.append(t("campaigns.f_levels_note", language))
    return "\n".join(f"- {line}" for line in lines)


def funnel_findings(table: pd.DataFrame, *, model: str = "steps", language: str = "en") -> str:
    """Where the funnel loses most people, in plain language.

    Parameters
    ----------
    table
        Output of :func:`crmlib.channels.funnel`.
    model
        Stage names to use (see :func:`funnel_labels`).
    language
        ``"en"`` or ``"zh"``.
    """
    names = funnel_labels(table["step"], model=model, language=language)
    inner = table.iloc[:-1]
    if inner.empty or inner["count"].iloc[0] == 0:
        return t("campaigns.funnel_empty", language)
    worst = inner.loc[inner["drop_share"].idxmax()]
    nxt = table.iloc[int(worst["position"])]
    return t(
        "campaigns.f_funnel",
        language,
        overall=percent(table["rate_from_first"].iloc[-1], digits=2),
        step=page.md_escape(names[worst["step"]]),
        next=page.md_escape(names[nxt["step"]]),
        drop=percent(worst["drop_share"]),
    )


_DISPLAY_PCT = ("response_rate", "control_rate", "uplift", "uplift_low", "uplift_high",
                "comparison_rate", "estimate", "estimate_low", "estimate_high",
                "relative_uplift", "coupon_redemption_rate", "share", "retention_rate",
                "purchase_rate", "base_rate", "churn_rate", "rate_from_previous",
                "rate_from_first", "drop_share", "low", "high")  # fmt: skip
_DISPLAY_MONEY = ("revenue_per_recipient", "control_revenue_per_recipient",
                  "incremental_revenue", "target_revenue", "revenue_per_customer", "aov",
                  "revenue")  # fmt: skip


def display_table(
    frame: pd.DataFrame, *, columns: Sequence[str] | None = None, language: str = "en"
) -> pd.DataFrame:
    """A copy of a campaigns or channels table for display.

    Parameters
    ----------
    frame
        A result of :mod:`crmlib.campaigns` or :mod:`crmlib.channels`.
    columns
        Columns to keep, in this order; default: all.
    language
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        Rates as percents, money with the currency symbol ("–" where not measured), dates as
        ISO days, groups, kinds, steps and services translated, and translated headers.
    """
    check_language(language)
    columns = [c for c in columns if c in frame] if columns else list(frame.columns)
    if WHY_NOT in frame and frame[WHY_NOT].fillna("").ne("").any() and WHY_NOT not in columns:
        columns.append(WHY_NOT)  # say why a row is not measured
    out = frame[columns].copy()
    if WHY_NOT in frame:  # partial or unmeasurable rows: their rates are not shown as figures
        unmeasured = frame[WHY_NOT].isin(["before_data", "beyond_data"]).to_numpy()
        for col in out.columns:
            if col in _DISPLAY_PCT or col in _DISPLAY_MONEY:
                out[col] = out[col].astype("float64").where(~unmeasured)
        reasons = row_reasons(frame)
        if WHY_NOT in out:
            out[WHY_NOT] = [why_not(r, language) if r is not None else "" for r in reasons]
    names = {**labels("common", language), **labels("campaigns", language)}
    for col in out.columns:
        if col in _DISPLAY_PCT:
            out[col] = [percent(v) for v in out[col]]
        elif col in _DISPLAY_MONEY:
            out[col] = [money(v) for v in out[col]]
        elif col in ("significant", "is_partner", "complete"):
            out[col] = [t("campaigns.yes" if v else "campaigns.no", language) for v in out[col]]
        elif col == "group":
            out[col] = [names.get(f"group_{v}", v) for v in out[col]]
        elif col == "method":
            out[col] = [names.get(f"method_{v}", v) for v in out[col]]
        elif col == "kind":
            out[col] = [names.get(f"kind_{v}", v) for v in out[col]]
        elif col == "step":
            out[col] = [names.get(f"funnel_steps_{v}", v) for v in out[col]]
        elif col == "service":
            out[col] = [names.get(f"service_{v}", v) for v in out[col]]
        elif col == "channel":  # a message channel (sms, app_push) or a sales channel (jd)
            out[col] = [channel_label(v, language=language) for v in out[col]]
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out.rename(columns=lambda c: names.get(f"col_{c}", names.get(c, c)))
