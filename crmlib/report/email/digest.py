"""The body of a run's email: the executive digest of a successful run, or its failure notice.

The digest is built from the executed *digest* notebook named in ``run.json``: its markdown
cells, its HTML tables (cut to a few rows) and its charts (PNG outputs, sent as inline CID
images). The full HTML reports are linked when the run's settings give a ``report_base_url``,
else attached while their total stays under a limit, else listed by name.

The HTML survives mail clients (see :mod:`crmlib.report.email.mailsafe`): a table-based 640 px
layout, CSS inlined, no scripts, SVG, ``data:`` URIs or web fonts, and a body kept under Gmail's
~100 KB clipping size (tables are cut further, then trailing sections dropped, with a visible
note). A plain-text alternative carries the same text. Anything that looks like a phone number
or an email address is masked unless the run allows personal data
(``allow_personal_data: true`` in its settings).

A failed run never mails the broken report: its body says which notebooks failed, why, and
where the executed notebooks and logs are.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mistune
import nbformat
from bs4 import BeautifulSoup

from crmlib.errors import ReportError
from crmlib.i18n import labels
from crmlib.report.archive import read_run
from crmlib.report.changes_text import change_lines
from crmlib.report.email.mailsafe import (
    Chart,
    cut_tables,
    decode_image,
    html_to_text,
    mask_personal,
    prepare_chart,
    pretrim,
    sanitize,
)
from crmlib.report.email.parts import (
    Digest,
    cid_token,
    common_context,
    email_settings,
    published_dir,
    render,
    run_language,
    run_period,
    run_title,
)

__all__ = ["SKIP_TAGS", "build_digest", "failure_digest"]

log = logging.getLogger(__name__)

#: Cell tags whose cells never reach the email.
SKIP_TAGS = frozenset(
    {"parameters", "injected-parameters", "remove-cell", "remove_cell", "email-skip", "no-email"}
)
_SKIP_OUTPUT_TAGS = frozenset({"remove-output", "remove_output"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class _Block:
    kind: str  # "html" or "chart"
    html: str = ""
    chart: Chart | None = None
    tables: int = 0


@dataclass
class _Content:
    blocks: list[_Block] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    masked: int = 0
    charts_left_out: int = 0


def build_digest(run_dir: Path, *, settings: Mapping[str, Any] | None = None) -> Digest:
    """Build the executive digest of a successful run (a failure notice for a failed run).

    Parameters
    ----------
    run_dir
        The run folder ``reports/<pack>/<period>/`` holding ``run.json``.
    settings
        Overrides of the run's email settings (see :data:`EMAIL_DEFAULTS`).

    Returns
    -------
    Digest
        Subject, HTML body, plain text, inline images and attachments.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    if settings:
        run = {**run, "settings": {**(run.get("settings") or {}), **settings}}
    cfg = email_settings(run)
    language = run_language(run)
    if run["status"] != "ok":
        return failure_digest(run, run_dir, settings=cfg)
    text = labels("email", language)
    digest_name, nb_path = _digest_notebook(run, run_dir)
    base = cfg["report_base_url"].rstrip("/")
    content = _extract(nb_path, language=language, token=cid_token(run, run_dir), settings=cfg,
                       link_base=f"{base}/{run['pack']}/{run_period(run, run_dir)}/" if base else "")  # fmt: skip
    reports, report_notes = _plan_reports(run, run_dir, cfg, language)
    context = common_context(run, run_dir, language)
    context["changes"] = change_lines(run.get("changes"), language=language)
    headline = _headline(content)
    if headline:  # the subject and inbox preview say what happened, not only "report ready"
        context["subject"] = text["subject_headline"].format(
            title=context["title"], period=context["period"], headline=headline
        )
        context["preheader"] = headline
    limit = int(cfg["max_html_kb"]) * 1000
    blocks = list(content.blocks)
    steps = sorted({cfg["max_table_rows"], 8, 4, 2, 0}, reverse=True)
    steps = [s for s in steps if s <= cfg["max_table_rows"]]
    shortened = False
    while True:
        for rows in steps:
            html, rendered = _render_blocks(
                context, blocks, content, reports, report_notes, rows, cfg, shortened, language
            )
            if len(html.encode("utf-8")) <= limit:
                break
        else:
            # even without tables it is too long: keep small tables, drop sections from the end
            if not blocks:
                raise ReportError(
                    f"the email of {run_dir} is over {cfg['max_html_kb']} KB even without content"
                )
            steps = [min(2, cfg["max_table_rows"])]
            blocks.pop()
            shortened = True
            continue
        break
    for block in rendered["blocks"]:
        if block["kind"] == "html":
            block["text"] = html_to_text(block["html"])
    if not content.blocks:
        log.warning("digest notebook %s of %s has no output to show", digest_name, run_dir)
    kept = [c for c in content.charts if f'src="cid:{c.cid}"' in html]
    plain = render("email.txt.j2", rendered)
    return Digest(
        kind="digest",
        subject=context["subject"],
        html=html,
        text=plain,
        images=[(c.cid, c.subtype, c.data, c.file) for c in kept],
        attachments=[Path(run_dir) / r["file"] for r in reports if r["attach"]],
        info={
            "kind": "digest",
            "digest": digest_name,
            "language": language,
            "subject": context["subject"],
            "html_bytes": len(html.encode("utf-8")),
            "table_rows": rows,
            "shortened": shortened,
            "masked": content.masked,
            "charts_left_out": content.charts_left_out,
            "attachments": [r["file"] for r in reports if r["attach"]],
            "links": {r["name"]: r["url"] for r in reports if r["url"]},
            "archived": [r["file"] for r in reports if r["access"] == text["in_archive"]],
        },
    )


def _render_blocks(
    context: Mapping[str, Any],
    blocks: Sequence[_Block],
    content: _Content,
    reports: list[dict[str, Any]],
    report_notes: list[str],
    rows: int,
    cfg: Mapping[str, Any],
    shortened: bool,
    language: str,
) -> tuple[str, dict[str, Any]]:
    text = labels("email", language)
    shown = []
    for block in blocks:
        if block.kind == "chart" and block.chart is not None:
            chart = block.chart
            shown.append(
                {
                    "kind": "chart",
                    "cid": chart.cid,
                    "width": chart.width,
                    "alt": chart.alt,
                    "text": text["chart_text"].format(title=chart.alt),
                }
            )
        else:
            html = block.html
            if block.tables:
                html = cut_tables(
                    html, max_rows=rows, max_cols=cfg["max_table_columns"], language=language
                )
            shown.append({"kind": "html", "html": html})
    notes = []
    if not blocks and not shortened:
        notes.append(text["no_digest"].format(name=context["title"]))
    if shortened:
        notes.append(text["body_shortened"])
    if content.charts_left_out:
        notes.append(text["charts_left_out"].format(count=content.charts_left_out))
    if content.masked:
        notes.append(text["masked"].format(count=content.masked))
    rendered = {
        **context,
        "blocks": shown,
        "notes": notes,
        "reports": reports,
        "report_notes": report_notes,
    }
    return render("email.html.j2", rendered), rendered


# -- failure notice ------------------------------------------------------------------------------


def _short_error(error: Any, *, limit: int = 400) -> str:
    """The first lines of an error message, without terminal colour codes."""
    if not error:
        return ""
    text = _ANSI.sub("", error if isinstance(error, str) else json.dumps(error, ensure_ascii=False))
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and set(line.strip()) != {"-"}
    ]
    short = " · ".join(lines[:3])
    return short if len(short) <= limit else short[: limit - 1] + "…"


def failure_digest(
    run: Mapping[str, Any], run_dir: str | Path, *, settings: Mapping[str, Any] | None = None
) -> Digest:
    """The failure notice of a failed run: which notebooks failed, why, where the logs are.

    Parameters
    ----------
    run
        The run's ``run.json``.
    run_dir
        The run folder (published or still staging).
    settings
        The run's email settings (default :func:`~crmlib.report.email.parts.email_settings`).
    """
    run_dir = Path(run_dir)
    cfg = settings if settings is not None else email_settings(run)
    language = run_language(run)
    text = labels("email", language)
    context = common_context(run, run_dir, language)
    masked = 0

    def clean(error: Any) -> str:
        nonlocal masked
        short = _short_error(error)
        if not cfg["allow_personal_data"]:
            short, n = mask_personal(short)
            masked += n
        return short or "-"

    failed, files = [], []
    for nb in run.get("notebooks") or []:
        status = str(nb.get("status", "ok"))
        if status == "ok":
            continue
        failed.append(
            {
                "name": str(nb.get("name", "?")),
                "status": text.get(f"status_{status}", status),
                "error": clean(nb.get("error")),
            }
        )
        if nb.get("ipynb") and (Path(run_dir) / str(nb["ipynb"])).exists():
            files.append(str(nb["ipynb"]))
    if run.get("error") or not failed:
        failed.append(
            {
                "name": str(run["pack"]),
                "status": text["status_failed"],
                "error": clean(run.get("error")),
            }
        )
    # the console logs the runner records per notebook (run.json "log", under logs/): those of
    # the failed notebooks, or all of them when the run failed outside any notebook
    notebooks = [nb for nb in run.get("notebooks") or [] if isinstance(nb, Mapping)]
    broken = [nb for nb in notebooks if str(nb.get("status", "ok")) != "ok"] or notebooks
    for nb in broken:
        log_file = nb.get("log")
        if log_file and (Path(run_dir) / str(log_file)).exists() and str(log_file) not in files:
            files.append(str(log_file))
    rendered = {
        **context,
        "title": text["failure_title"].format(title=run_title(run)),
        "intro": text["failure_intro"].format(pack=run["pack"], period=context["period"]),
        "failed": failed,
        "folder": str(published_dir(run, run_dir)),
        "files": files,
        "command": f".venv/bin/crmwb run {run['pack']} --send",
    }
    html = render("email_failure.html.j2", rendered)
    plain = render("email_failure.txt.j2", rendered)
    return Digest(
        kind="failure",
        subject=context["subject"],
        html=html,
        text=plain,
        info={
            "kind": "failure",
            "language": language,
            "subject": context["subject"],
            "html_bytes": len(html.encode("utf-8")),
            "failed": [nb["name"] for nb in failed],
            "masked": masked,
        },
    )


# -- digest content ------------------------------------------------------------------------------


def _digest_notebook(run: Mapping[str, Any], run_dir: Path) -> tuple[str, Path]:
    notebooks = [nb for nb in run.get("notebooks") or [] if isinstance(nb, Mapping)]
    wanted = str(run.get("digest") or "")
    stem = wanted.removesuffix(".ipynb")
    entry = next(
        (nb for nb in notebooks if str(nb.get("name", "")).removesuffix(".ipynb") == stem), None
    )
    if entry is None and not wanted and notebooks:
        entry = notebooks[0]
    if entry is None:
        raise ReportError(
            f"run.json in {run_dir} names digest notebook {wanted!r}, which is not among its "
            f"notebooks {[nb.get('name') for nb in notebooks]}"
        )
    name = str(entry.get("name"))
    path = Path(run_dir) / str(entry.get("ipynb") or f"{stem or name}.ipynb")
    if not path.exists():
        raise ReportError(f"the executed digest notebook {path} does not exist")
    return name, path


#: A link from a report page to a file of its own run (a customer's profile page).
_RUN_LINK = re.compile(r'href="(?![a-z][a-z0-9+.-]*:|/|#)([^"]+)"', re.I)


def _extract(
    nb_path: Path, *, language: str, token: str, settings: Mapping[str, Any], link_base: str = ""
) -> _Content:
    """Turn the executed digest notebook into email blocks (sanitized, masked, tables uncut).

    A link to a file of the run (``profiles/….html``) points at the published run under
    ``link_base`` (the ``report_base_url``); without one it is not a link in the email (the
    mail has no folder to open it from), and its text stays."""
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(f"the executed digest notebook {nb_path} cannot be read: {exc}") from exc
    content = _Content()
    allow = bool(settings["allow_personal_data"])
    heading = ""
    charts = content.charts

    def add_image(data: bytes, subtype: str, alt: str) -> Chart | None:
        if len(charts) >= settings["max_charts"]:
            content.charts_left_out += 1
            return None
        number = len(charts) + 1
        chart = prepare_chart(
            data,
            subtype,
            alt=alt or heading or labels("email", language)["chart_alt"].format(number=number),
        )
        if chart is None:
            return None
        chart.cid = f"chart-{number:02d}.{token}@crmwb"
        chart.file = f"chart-{number:02d}.{chart.subtype}"
        charts.append(chart)
        return chart

    def add_html(fragment: str, attachments: Mapping[str, Any] | None = None) -> None:
        if link_base:
            fragment = _RUN_LINK.sub(lambda m: f'href="{link_base}{m[1]}"', fragment)
        soup, masked = sanitize(
            fragment, add_image=add_image, attachments=attachments, allow_personal_data=allow
        )
        content.masked += masked
        nonlocal heading
        titles = soup.find_all(["h1", "h2", "h3", "h4"])
        heading = " ".join(titles[-1].get_text(" ").split()) if titles else heading
        if soup.get_text(strip=True) or soup.find("img"):
            content.blocks.append(
                _Block("html", html=str(soup), tables=len(soup.find_all("table")))
            )

    markdown = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & SKIP_TAGS:
            continue
        if cell.cell_type == "markdown":
            if cell.source.strip():
                add_html(str(markdown(cell.source)), cell.get("attachments"))
            continue
        if cell.cell_type != "code" or tags & _SKIP_OUTPUT_TAGS:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data", {})
            image = next((m for m in ("image/png", "image/jpeg") if m in data), None)
            if image is not None:
                decoded = decode_image(f"data:{image};base64,{data[image]}")
                alt = str(output.get("metadata", {}).get("alt", "") or "")
                chart = add_image(*decoded, alt) if decoded else None
                if chart is not None:
                    content.blocks.append(_Block("chart", chart=chart))
            elif "text/html" in data:
                add_html(pretrim(_text(data["text/html"]), settings["max_table_rows"]))
            elif "text/markdown" in data:
                add_html(str(markdown(_text(data["text/markdown"]))))
    return content


#: Spaces before punctuation and inside CJK brackets, left where tags were.
_TIGHT = re.compile(r"\s+(?=[,.;:)，。；：（）、])|(?<=[(（])\s+")
#: Longest headline in a subject line (mail clients show about this much).
HEADLINE_CHARS = 90


def _headline(content: _Content) -> str:
    """The first bullet of the digest (already sanitized and masked), shortened for a subject
    line; "" when the digest has none."""
    for block in content.blocks:
        if block.kind == "html" and "<li" in block.html:
            item = BeautifulSoup(block.html, "html.parser").find("li")
            line = " ".join(item.get_text(" ").split()) if item else ""
            line = _TIGHT.sub("", line).rstrip("。.")  # the spaces get_text put at tag edges
            if line:
                return line if len(line) <= HEADLINE_CHARS else line[: HEADLINE_CHARS - 1] + "…"
    return ""


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} MB"


def _plan_reports(
    run: Mapping[str, Any], run_dir: Path, settings: Mapping[str, Any], language: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """How each full report reaches the reader: a link, an attachment, or the archive."""
    text = labels("email", language)
    base = settings["report_base_url"].rstrip("/")
    limit = float(settings["attach_limit_mb"]) * 1_000_000
    period = run_period(run, run_dir)
    used = 0
    plan: list[dict[str, Any]] = []
    kinds = set()
    for nb in run.get("notebooks") or []:
        name = str(nb.get("name", ""))
        html_name = str(nb.get("html") or f"{name}.html")
        path = Path(run_dir) / html_name
        seconds = nb.get("seconds")
        row = {
            "name": name,
            "seconds": "" if seconds is None else text["seconds"].format(seconds=round(seconds)),
            "file": html_name,
            "url": "",
            "attach": False,
        }
        if nb.get("status", "ok") != "ok" or not path.exists():
            row["access"] = text["not_produced"]
        elif base:
            row["url"] = f"{base}/{run['pack']}/{period}/{html_name}"
            row["access"] = text["open_online"]
            kinds.add("linked")
        elif used + path.stat().st_size <= limit:
            used += path.stat().st_size
            row["attach"] = True
            row["access"] = text["attached"].format(size=_human_size(path.stat().st_size))
            kinds.add("attached")
        else:
            row["access"] = text["in_archive"]
            kinds.add("listed")
        plan.append(row)
    notes = []
    if "linked" in kinds:
        notes.append(text["reports_linked"])
    if "attached" in kinds:
        notes.append(text["reports_attached"])
    if "listed" in kinds:
        folder = f"reports/{run['pack']}/{period}/"
        notes.append(
            text["reports_listed"].format(limit=_human_size(limit), folder=folder)
            if limit > 0
            else text["reports_archived"].format(folder=folder)  # attachments not asked for
        )
    return plan, notes
