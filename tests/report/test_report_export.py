"""Full HTML reports and the index page carry the CJK glyphs they use; the email never does."""

from __future__ import annotations

import base64
import io
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from fontTools.ttLib import TTFont

from crmlib.report import archive, export
from crmlib.report.export import CJK_FONT_FAMILY, export_html

# CJK punctuation, kana, unified ideographs (and extension A), fullwidth forms: written out here
# rather than taken from the module under test
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _zh_notebook() -> nbformat.NotebookNode:
    v4 = nbformat.v4
    table = (
        "<table><thead><tr><th>客户分群</th><th>人数</th></tr></thead>"
        "<tbody><tr><td>重要价值客户</td><td>1,204</td></tr>"
        "<tr><td>一般挽留客户</td><td>3,310</td></tr></tbody></table>"
    )
    return v4.new_notebook(
        cells=[
            v4.new_markdown_cell(
                "# 客户价值周报\n\n本周新增客户 **12%**，复购率（30 天）保持稳定。"
            ),
            v4.new_code_cell(
                "display(table)",
                outputs=[v4.new_output("display_data", data={"text/html": table})],
            ),
            v4.new_markdown_cell("## 生命周期\n\n流失预警：请关注“重要保持客户”。Revenue up."),
        ]
    )


def _embedded_font(html: str) -> tuple[TTFont, str, bytes]:
    soup = BeautifulSoup(html, "html.parser")
    rules = [s.get_text() for s in soup.find_all("style") if "@font-face" in s.get_text()]
    assert len(rules) == 1, "exactly one embedded font"
    rule = rules[0]
    assert f'font-family: "{CJK_FONT_FAMILY}"' in rule
    data = base64.b64decode(re.search(r"data:font/woff;base64,([A-Za-z0-9+/=]+)", rule).group(1))
    return TTFont(io.BytesIO(data)), rule, data


def _page_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(["style", "script"]):
        tag.decompose()
    return soup.body.get_text()


def test_zh_report_embeds_a_font_covering_every_cjk_character(tmp_path):
    notebook = tmp_path / "zh.ipynb"
    nbformat.write(_zh_notebook(), notebook)
    html = export_html(notebook).read_text(encoding="utf-8")
    font, rule, data = _embedded_font(html)
    used = set(_CJK.findall(_page_text(html)))
    assert {"客", "周", "（", "。"} <= used
    cmap = font.getBestCmap()
    assert not [ch for ch in used if ord(ch) not in cmap]
    # a subset: the characters of the page (and nothing of the 30,000 others), a few KB
    assert len(cmap) <= len(used) + 5
    assert len(font.getGlyphOrder()) <= len(used) + 5
    assert len(data) < 30_000
    # the family comes first in the page's font stack, and is used for those characters only
    assert re.search(r'--jp-content-font-family:\s*"' + CJK_FONT_FAMILY, html)
    ranges = re.search(r"unicode-range:([^;}]+)", rule).group(1)
    covered = set()
    for part in ranges.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        covered.update(chr(c) for c in range(int(low, 16), int(high or low, 16) + 1))
    assert used <= covered and " " not in covered and "R" not in covered


def test_english_report_without_cjk_embeds_no_font(tmp_path):
    v4 = nbformat.v4
    notebook = tmp_path / "en.ipynb"
    nbformat.write(
        v4.new_notebook(cells=[v4.new_markdown_cell("# Weekly value\n\nUp 12%.")]), notebook
    )
    html = export_html(notebook).read_text(encoding="utf-8")
    assert "@font-face" not in html and "data:font" not in html


@pytest.mark.parametrize("language", ["zh", "en"])
def test_index_page_embeds_only_its_own_characters(tmp_path, language):
    run_dir = tmp_path / "weekly" / "2026-W47"
    run_dir.mkdir(parents=True)
    archive.write_json(
        run_dir / "run.json",
        {"pack": "weekly", "run_id": "2026-W47", "status": "failed", "notebooks": []},
    )
    html = archive.write_index(tmp_path, language=language).read_text(encoding="utf-8")
    if language == "en":
        assert "@font-face" not in html
        return
    font, _, data = _embedded_font(html)
    used = set(_CJK.findall(_page_text(html)))
    assert {"报", "告"} <= used
    cmap = font.getBestCmap()
    assert not [ch for ch in used if ord(ch) not in cmap]
    assert len(cmap) <= len(used) + 5 and len(data) < 20_000
    assert re.search(r'font-family:\s*"' + CJK_FONT_FAMILY, html)


def test_dollar_amounts_in_markdown_are_money_not_formulas(tmp_path):
    """US-dollar findings: two $ in one paragraph once became a formula showing the asterisks."""
    import nbformat

    from crmlib.report.export import export_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(Markdown(text))")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"text/markdown": "They held **$23,153** of value, of which $9,364 is gone."},
        )
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Summary in $ and ¥"), cell]
    path = tmp_path / "usd.ipynb"
    nbformat.write(nb, path)
    page = export_html(path).read_text(encoding="utf-8")
    assert "<strong>$23,153</strong>" in page and "of which $9,364 is gone" in page
    assert "**$23,153**" not in page and "Summary in $ and ¥" in page


def test_warnings_reach_the_page_as_a_reader_line_without_paths():
    """A workbook warning keeps its message, without file path or source line; other
    libraries' warnings stay in the executed notebook, not on the page."""
    stderr = (
        "/srv/crmlib/clv/models.py:64: CrmWarning: the bgnbd fit did not converge\n"
        "  return cls(penalizer=penalizer).fit(summary)\n"
        "/srv/pandas/core/frame.py:12: FutureWarning: a default will change\n"
        "  out = frame.groupby(key)\n"
        "loading 3 tables\n"
    )
    shown = export.reader_warnings(stderr)
    assert shown == "⚠ the bgnbd fit did not converge\nloading 3 tables\n"
