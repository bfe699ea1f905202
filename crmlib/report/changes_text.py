"""The words of :mod:`crmlib.report.changes`: what the email and the index say changed since
the last run of a pack, in the run's or the page's language (labels ``email.change_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mistune
from bs4 import BeautifulSoup

from crmlib.i18n import labels

__all__ = ["change_lines"]


def _plain(text: str) -> str:
    """A recommendation as text: its Markdown (bold, escapes such as ``双11\\_狂欢``) rendered
    and the tags dropped; the template escapes it again for the email."""
    return BeautifulSoup(mistune.html(str(text)), "html.parser").get_text().strip()


def change_lines(
    changes: Mapping[str, Any] | None, *, language: str = "en"
) -> dict[str, Any] | None:
    """The heading and the lines the email and the index show for ``changes`` (None: nothing
    to show). No change at all is one line saying so, with the run compared with."""
    if not changes:
        return None
    text = labels("email", language)
    lines = [text["change_new"].format(text=_plain(x)) for x in changes.get("new", [])]
    lines += [text["change_resolved"].format(text=_plain(x)) for x in changes.get("resolved", [])]
    for kind in ("worse", "better"):
        for k in changes.get(kind, []):
            lines.append(
                text[f"change_{kind}"].format(
                    name=k["name"], value=k["value"], previous=k["previous"],
                    against=text[f"change_{k['verdict']}"],
                )
            )  # fmt: skip
    title = text["changes_title"].format(run=changes.get("previous_run", ""))
    count = {k: len(changes.get(k, [])) for k in ("new", "resolved", "worse", "better")}
    summary = text["changes_count"].format(**count) if lines else text["changes_none"]
    return {"title": title, "lines": lines or [text["changes_none"]], "summary": summary}
