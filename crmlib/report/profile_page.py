"""Customer profile pages written beside a run, so an alert can link to the customer it names.

Notebook 08 is the analyst's profile; a daily run alerting on a dozen customers needs their
profiles too, without a kernel per customer. :func:`write_profile_pages` renders the same words,
tables and chart (:mod:`crmlib.present.profile`, :mod:`crmlib.plots.profile`) into one
self-contained HTML file per customer. The file is named by a hash of the id, never by the id
(an id may be a mobile number, and file names travel in links); personal data in the page is
masked unless the run allows it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mistune

from crmlib.data.privacy import mask_html
from crmlib.errors import CrmWarning, DataError
from crmlib.i18n import check_language
from crmlib.plots import profile as charts
from crmlib.present import page
from crmlib.present import profile as words
from crmlib.profile import Profile, customer_profile, profile_base
from crmlib.report.export import CJK_FONT_FAMILY, embed_cjk_font

__all__ = ["PROFILES_DIR", "profile_file", "profile_html", "write_profile_pages"]

#: Folder of a run holding its profile pages.
PROFILES_DIR = "profiles"

_STYLE = f"""
body {{ font-family: "{CJK_FONT_FAMILY}", system-ui, -apple-system, "Segoe UI", sans-serif;
       max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; line-height: 1.5; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }}
th, td {{ padding: 0.25rem 0.6rem; text-align: right; border-bottom: 1px solid #ddd; }}
th {{ font-weight: 600; }}
img {{ max-width: 100%; height: auto; }}
"""


def profile_file(customer_id: str) -> str:
    """The page's file name: a hash of the id (ids may be personal data)."""
    return hashlib.sha256(str(customer_id).encode("utf-8")).hexdigest()[:16] + ".html"


def _chart(profile: Profile, language: str) -> str:
    ax = charts.history_chart(profile.monthly, language=language)
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(words.heading("history", language=language)[3:])}" ' \
           f'src="data:image/png;base64,{data}">'  # fmt: skip


def profile_html(
    profile: Profile, *, language: str = "en", scheme: str = "cn8", personal: bool = False,
    min_customers: int = 30, response_days: float = 14.0,
) -> str:  # fmt: skip
    """One customer's profile as a self-contained HTML page (masked unless ``personal``)."""
    check_language(language)
    md = mistune.create_markdown(escape=True, plugins=["table"])

    def table(section: str) -> str:
        return page.show(words.table(profile, section, language=language))._repr_html_()

    parts = [
        md(words.title(profile, language=language) + "\n\n"
           + words.headline(profile, scheme=scheme, language=language)),
        md(words.heading("identity", language=language)
           + ("" if personal else "\n\n" + words.masked_note(language=language))),
        table("identity"),
        md(words.heading("history", language=language)), _chart(profile, language),
        md(words.heading("mix", language=language)), table("categories"), table("channels"),
        md(words.heading("value", language=language) + "\n\n"
           + words.value_text(profile, language=language) + "\n\n"
           + words.activity_text(profile, language=language)),
        md(words.heading("stages", language=language) + "\n\n"
           + words.stages_text(profile, language=language)), table("stages"),
        md(words.heading("suggestions", language=language) + "\n\n"
           + words.suggestions_text(profile, min_customers=min_customers, language=language)),
        table("suggestions") if len(profile.suggestions) else "",
        md(words.heading("campaigns", language=language) + "\n\n"
           + words.campaigns_text(profile, response_days=response_days, language=language)),
        table("campaigns") if len(profile.campaigns) else "",
        md(words.heading("touchpoints", language=language) + "\n\n"
           + words.touchpoints_text(profile, language=language)),
        table("touchpoints") if len(profile.touchpoints) else "",
        md(words.heading("milestones", language=language) + "\n\n"
           + words.milestones_text(profile, language=language)),
    ]  # fmt: skip
    title = html.escape(words.title(profile, language=language).splitlines()[0].lstrip("# "))
    document = (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts) + "</body></html>"
    )  # fmt: skip
    if not personal:
        document, _ = mask_html(document)
    return embed_cjk_font(document)


def write_profile_pages(
    data: Any,
    customer_ids: Iterable[str],
    folder: str | Path,
    *,
    language: str = "en",
    as_of: Any = None,
    scheme: str = "cn8",
    personal: bool = False,
) -> dict[str, str]:
    """Write the profile page of each customer into ``folder``; returns ``{id: file name}``.

    The base-wide parts are computed once (:func:`crmlib.profile.profile_base`). An id without
    orders by ``as_of`` gets no page and is left out of the result (the alert that named it
    still lists it).
    """
    check_language(language)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = list(dict.fromkeys(str(c) for c in customer_ids))
    if not ids:
        return {}
    with warnings.catch_warnings():  # each page says itself what its figures cannot support
        warnings.simplefilter("ignore", CrmWarning)
        base = profile_base(data, as_of=as_of, scheme=scheme)
    written = {}
    for cid in ids:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CrmWarning)
                found = customer_profile(data, cid, base=base, personal=personal)
        except DataError:
            continue
        name = profile_file(cid)
        (folder / name).write_text(
            profile_html(found, language=language, scheme=scheme, personal=personal),
            encoding="utf-8",
        )
        written[cid] = name
    return written
