"""What a customer profile says: the headline, each section's sentence and its table, in English
or Chinese (labels in ``crmlib/labels/profile.yaml``).

Takes a :class:`crmlib.profile.Profile`; numbers stay in the profile, words are made here.
Customer ids and data values go through :func:`crmlib.present.page.md_escape`.
"""

from __future__ import annotations

import pandas as pd

from crmlib.i18n import check_language, has, labels, t
from crmlib.measure import column_reason, frame_reason
from crmlib.present.format import MISSING, day, money, number, percent, why_not
from crmlib.present.page import EMPTY_TEXT, md_escape
from crmlib.present.quality import channel_label
from crmlib.profile import Profile
from crmlib.segments import load_scheme

__all__ = [
    "activity_text",
    "campaigns_text",
    "heading",
    "headline",
    "masked_note",
    "milestones_text",
    "stages_text",
    "suggestions_text",
    "table",
    "title",
    "touchpoints_text",
    "value_text",
]

#: Rows shown of the long sections (the profile keeps them all).
SHOWN = 20


def title(profile: Profile, *, language: str = "en", heading: bool = True) -> str:
    """``# Customer profile`` and the line naming the customer and the day (that line alone
    with ``heading=False``)."""
    check_language(language)
    subtitle = t("profile.subtitle", language, customer=md_escape(profile.customer_id),
                 day=day(profile.as_of))  # fmt: skip
    return f"# {t('profile.title', language)}\n\n{subtitle}" if heading else subtitle


def heading(name: str, *, language: str = "en") -> str:
    """``## <section heading>`` (``identity``, ``history``, ``mix``, ``value``, ``stages``,
    ``suggestions``, ``campaigns``, ``touchpoints``, ``milestones``)."""
    check_language(language)
    return f"## {t(f'profile.heading_{name}', language)}"


def masked_note(*, language: str = "en") -> str:
    """The line saying personal fields are masked and how to show them."""
    return t("profile.masked", language)


def _segment(profile: Profile, scheme: str, language: str) -> tuple[str, str]:
    if profile.rfm.empty:
        return MISSING, MISSING
    segs = load_scheme(scheme).segments.set_index("segment")
    key = profile.rfm["segment"].iloc[0]
    if key not in segs.index:
        return str(key), MISSING
    return str(segs.loc[key, f"name_{language}"]), str(segs.loc[key, f"action_{language}"])


def headline(profile: Profile, *, scheme: str = "cn8", language: str = "en") -> str:
    """Orders, spend, first and last purchase, RFM segment with its action, lifecycle stage."""
    check_language(language)
    o = profile.overview.iloc[0]
    name, action = _segment(profile, scheme, language)
    r = profile.rfm.iloc[0] if len(profile.rfm) else pd.Series(dtype=object)
    stage = (t(f"lifecycle.stage_{profile.stages['stage'].iloc[-1]}", language)
             if len(profile.stages) else MISSING)  # fmt: skip
    return t(
        "profile.headline", language, orders=int(o["orders"]), revenue=money(o["monetary"]),
        first=day(o["first_purchase"]), last=day(o["last_purchase"]),
        days=int(o["recency_days"]), segment=name, action=action, stage=stage,
        r=r.get("r_score", MISSING), f=r.get("f_score", MISSING), m=r.get("m_score", MISSING),
    )  # fmt: skip


def _reason(frame: pd.DataFrame, language: str) -> str | None:
    why = frame_reason(frame)
    return None if why is None else t("profile.not_measured", language, why=why_not(why, language))


def value_text(profile: Profile, *, language: str = "en") -> str:
    """Lifetime value with its interval, or the interval's reason when the model is not pinned."""
    check_language(language)
    v = profile.value.iloc[0]
    months = int(profile.value.attrs.get("horizon_months", 12))
    why = column_reason(profile.value, "clv_low")
    if why is not None and why.reason in ("not_identifiable", "small_base"):  # no figure at all
        return t("profile.value_unidentified", language, why=why_not(why, language))
    low = money(v["clv_low"]) if why is None else t("profile.not_measured", language,
                                                     why=why_not(why, language))  # fmt: skip
    return t(
        "profile.value_text", language, clv=money(v["clv"]), months=months,
        purchases=number(round(float(v["expected_purchases"]), 1)),
        spend=money(v["expected_spend"]), low=low,
        high=money(v["clv_high"]) if why is None else MISSING,
        fitted=int(v["model_customers"]),
    )  # fmt: skip


def activity_text(profile: Profile, *, language: str = "en") -> str:
    """P(active) by the model beside the hiatus rule."""
    check_language(language)
    v = profile.value.iloc[0]
    hiatus_weeks = float(profile.value.attrs.get("hiatus_weeks", 26.0))
    pinned = column_reason(profile.value, "clv_low") is None
    state = "profile.hiatus_active" if bool(v["hiatus_active"]) else "profile.hiatus_inactive"
    return t("profile.activity_text", language, p_alive=percent(v["p_alive"], digits=0) if pinned else MISSING,
             weeks=hiatus_weeks, hiatus=t(state, language))  # fmt: skip


def stages_text(profile: Profile, *, language: str = "en") -> str:
    """How often the stage changed, or why there is no history."""
    check_language(language)
    if (reason := _reason(profile.stages, language)) is not None:
        return reason
    stages = profile.stages["stage"].astype(str)
    return t("profile.stages_text", language, n=int((stages != stages.shift()).sum() - 1))


def suggestions_text(profile: Profile, *, min_customers: int = 30, language: str = "en") -> str:
    """What the suggestions rest on, or why there are none."""
    check_language(language)
    if (reason := _reason(profile.suggestions, language)) is not None:
        return reason
    if profile.suggestions.empty:
        return t("profile.no_suggestions", language, minimum=min_customers)
    attrs = profile.suggestions.attrs
    text = t("profile.suggestions_text", language, minimum=min_customers,
             peers=int(attrs.get("peers", 0)))  # fmt: skip
    if attrs.get("sample", 0) < attrs.get("customers", 0):
        text += " " + t("profile.sampled", language, n=attrs["sample"], total=attrs["customers"])
    return text


def campaigns_text(profile: Profile, *, response_days: float = 14.0, language: str = "en") -> str:
    """Campaigns received and responded to, or why not known."""
    check_language(language)
    if (reason := _reason(profile.campaigns, language)) is not None:
        return reason
    c = profile.campaigns
    sent = c[c["group"] != "control"]  # a control group got no message: nothing to respond to
    known = sent["responded"].dropna()
    text = t("profile.campaigns_text", language, n=len(sent), responded=int(known.astype(bool).sum()),
             days=response_days)  # fmt: skip
    if len(known) < len(sent):
        text += " " + t("profile.campaigns_open", language, n=len(sent) - len(known))
    if len(sent) < len(c):
        text += " " + t("profile.campaigns_control", language, n=len(c) - len(sent))
    return text


def touchpoints_text(profile: Profile, *, language: str = "en") -> str:
    """Touchpoints and complaints, or why not known."""
    check_language(language)
    if (reason := _reason(profile.touchpoints, language)) is not None:
        return reason
    tp = profile.touchpoints
    complaints = int(tp["kind"].astype(str).str.contains("complaint").sum())
    return t("profile.touchpoints_text", language, n=len(tp), complaints=complaints,
             shown=min(len(tp), SHOWN))  # fmt: skip


def milestones_text(profile: Profile, *, language: str = "en") -> str:
    """The milestone orders reached, with their days."""
    check_language(language)
    m = profile.milestones
    if m.empty:
        return t("profile.milestones_none", language)
    reached = "; ".join(t("profile.nth_order", language, n=int(n), day=day(d))
                        for n, d in zip(m["order_number"], m["ordered_at"], strict=True))  # fmt: skip
    return t("profile.milestones_text", language, reached=reached)


#: How each column of a profile table is written.
_MONEY = ("revenue",)
_PERCENT = ("share", "confidence")


def _label(key: str, value: object, language: str) -> str:
    """The label ``key`` in ``language``; ``value`` itself when there is none (a code the data
    brings that the workbook does not know)."""
    return t(key, language) if has(key) else str(value)


def table(profile: Profile, section: str, *, language: str = "en") -> pd.DataFrame:
    """A section of ``profile`` for reading (at most :data:`SHOWN` rows, latest first where
    dated), headings in ``language``; an empty section carries the line to show instead."""
    check_language(language)
    frame = getattr(profile, section).copy()
    if section == "stages":
        frame = frame.iloc[::-1]
        frame["stage"] = [t(f"lifecycle.stage_{s}", language) for s in frame["stage"].astype(str)]
        frame["period"] = frame["period"].astype(str)
    frame = frame.head(SHOWN)
    if section == "campaigns":  # a campaign's name, not a product's
        frame = frame.rename(columns={"name": "campaign_name"})
    if section == "suggestions" and (frame["name"] == frame["sku"]).all():
        frame = frame.drop(columns="name")  # no product names mapped: the code says it all
    for col in frame.columns:
        if col in _MONEY:
            frame[col] = [money(v) for v in frame[col]]
        elif col in _PERCENT:
            frame[col] = [percent(v) for v in frame[col]]
        elif col == "responded":  # None: the response window is still open
            frame[col] = [
                MISSING if v is None else t(f"profile.answer_{'yes' if v else 'no'}", language)
                for v in frame[col]
            ]
        elif col in ("sent_at", "occurred_at"):
            frame[col] = [day(v) for v in frame[col]]
        elif col == "lift":
            frame[col] = [f"{v:.2f}" for v in frame[col]]
        elif col == "kind" and section == "touchpoints":
            frame[col] = [_label(f"campaigns.kind_{v}", v, language) for v in frame[col]]
        elif col == "channel":
            frame[col] = [channel_label(v, language=language) for v in frame[col]]
    if section == "identity":
        names = labels("data", language)
        frame["field"] = [names.get(f"field_{f}", f) for f in frame["field"]]
    names = labels("profile", language)
    frame = frame.rename(columns={c: names[f"col_{c}"] for c in frame.columns
                                  if f"col_{c}" in names})  # fmt: skip
    frame.attrs[EMPTY_TEXT] = _reason(getattr(profile, section), language) or MISSING
    return frame
