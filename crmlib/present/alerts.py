"""What the daily alert report says: the counts of changes in words, and the list to act on.

Takes the frames of :mod:`crmlib.alerts` and writes them in Chinese or English with the labels
of ``crmlib/labels/alerts.yaml``. Customer ids go through
:func:`crmlib.present.page.md_escape`, so an id holding HTML or Markdown shows as text.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from crmlib.alerts import CHANGES
from crmlib.config import check_range
from crmlib.i18n import check_language, t
from crmlib.lifecycle import STAGES
from crmlib.present.format import day, money, percent
from crmlib.present.page import md_escape

__all__ = ["STAGES", "alerts_summary", "changes_table", "profile_links"]


def alerts_summary(
    counts: Mapping[str, int],
    *,
    as_of: pd.Timestamp,
    compared_with: pd.Timestamp | None,
    states: pd.DataFrame | None = None,
    top_share: float | None = None,
    language: str = "en",
) -> str:
    """The top of the alert report: the day, what it is compared with, and counts per change.

    Parameters
    ----------
    counts
        Customers per kind of change (:func:`crmlib.alerts.change_counts`).
    as_of, compared_with
        The snapshot's day and the earlier snapshot's (None on a first run).
    states
        Today's snapshot: says how many customers are high value, and whether complaints were
        measured.
    top_share
        The high-value share of the alert rules, for the sentence that defines high value.
    language
        ``"en"`` or ``"zh"``.
    """
    check_language(language)
    lines = [t("alerts.as_of", language, day=day(as_of))]
    if states is not None and top_share is not None:
        lines.append(
            t(
                "alerts.high_value_rule",
                language,
                share=percent(top_share, digits=0),
                n=int(states["high_value"].sum()),
            )
        )
    if compared_with is None:
        lines.append("")
        lines.append(t("alerts.first_run", language))
        return "\n".join(lines)
    days = int((pd.Timestamp(as_of) - pd.Timestamp(compared_with)).days)
    lines.append(t("alerts.compared", language, day=day(compared_with), days=days))
    lines.append("")
    total = sum(int(counts.get(k, 0)) for k in CHANGES)
    if total == 0:
        lines.append(t("alerts.nothing", language))
    else:
        lines.append(t("alerts.total", language, n=total))
        lines.append("")
        for kind in CHANGES:
            n = int(counts.get(kind, 0))
            lines.append(
                "- "
                + t("alerts.count_line", language, n=n, kind=t(f"alerts.kind_{kind}", language))
            )
    if states is not None and states["complaints"].isna().all():
        lines.append("")
        lines.append(t("alerts.not_measured_complaints", language))
    return "\n".join(lines)


def changes_table(
    changes: pd.DataFrame, *, language: str = "en", top: int | None = None
) -> pd.DataFrame:
    """The changes as a display table, highest value first within each kind.

    Parameters
    ----------
    changes
        Output of :func:`crmlib.alerts.state_changes`.
    language
        ``"en"`` or ``"zh"``.
    top
        Rows kept per kind of change (None: all); ``attrs["shown"]`` and ``attrs["total"]``
        say how many of how many.
    """
    check_language(language)
    if top is not None:
        check_range("top", top, low=1)
        kept = changes.groupby("change", sort=False, group_keys=False).head(top)
    else:
        kept = changes

    def state(kind: str, value: object) -> str:
        if kind == "milestone":
            return t("alerts.orders_n", language, n=int(value))
        if kind == "complaint":
            return t("alerts.complaints_n", language, n=int(value))
        return t(f"lifecycle.stage_{value}", language)

    out = pd.DataFrame(
        {
            t("alerts.col_change", language): [
                t(f"alerts.kind_{k}", language) for k in kept["change"]
            ],
            t("alerts.col_customer", language): [md_escape(str(c)) for c in kept["customer_id"]],
            t("alerts.col_before", language): [
                state(k, v) for k, v in zip(kept["change"], kept["before"], strict=True)
            ],
            t("alerts.col_after", language): [
                state(k, v) for k, v in zip(kept["change"], kept["after"], strict=True)
            ],
            t("alerts.col_spend", language): [money(v) for v in kept["monetary"]],
            t("alerts.col_rank", language): [f"{int(r):,}" for r in kept["value_rank"]],
        }
    )
    out.attrs.update({"shown": len(kept), "total": len(changes),
                      "customer_ids": [str(c) for c in kept["customer_id"]]})  # fmt: skip
    return out


def profile_links(
    pages: Mapping[str, str], *, folder: str = "profiles", language: str = "en"
) -> str:
    """One line linking each listed customer to their profile page (``{id: file name}`` of
    :func:`crmlib.report.profile_page.write_profile_pages`), or "" when there is none.

    The link is made here, from a file name the workbook chose (a hash), never from a data
    value; the id is the link's text, escaped."""
    check_language(language)
    if not pages:
        return ""
    links = [f"[{md_escape(cid)}]({folder}/{name})" for cid, name in pages.items()]
    return t("alerts.profiles", language, links=" · ".join(links))
