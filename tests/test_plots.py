"""Charts render Chinese labels as glyphs on a fresh machine, with the bundled font."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")  # tests draw off-screen

import matplotlib.pyplot as plt
from fontTools.ttLib import TTFont
from matplotlib import font_manager

from crmlib import i18n, plots


def _font_chars(path) -> set[int]:
    font = TTFont(str(path), fontNumber=0, lazy=True)
    return set(font.getBestCmap())


def test_chinese_chart_uses_a_font_that_covers_every_glyph(tmp_path):
    plots.use_theme()
    try:
        zh_texts = [texts["zh"] for texts in i18n.catalogue().values()]
        title = "客群概览：重要价值客户与一般挽留客户"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ax = plots.get_ax()
            ax.bar(["销售额", "订单数", "客单价"], [3, 2, 1])
            ax.set_title(title)
            ax.set_xlabel(i18n.t("common.month", "zh"))
            ax.figure.canvas.draw()
            out = plots.save_png(ax, tmp_path / "zh.png")
        missing = [w for w in caught if "missing from" in str(w.message)]
        assert not missing, [str(w.message) for w in missing]
        assert out.stat().st_size > 5_000

        used = font_manager.findfont(ax.title.get_fontproperties(), fallback_to_default=False)
        assert used == str(plots.font_path())
        # matplotlib falls back glyph by glyph along the family list (symbols such as ✓ come
        # from DejaVu Sans), so every character must be in one of the listed fonts.
        covered = set()
        for family in matplotlib.rcParams["font.sans-serif"]:
            path = font_manager.findfont(family, fallback_to_default=False)
            covered |= _font_chars(path)
        needed = {ord(c) for text in [title, *zh_texts] for c in text if not c.isspace()}
        assert not needed - covered, "".join(sorted(chr(c) for c in needed - covered))
    finally:
        plt.close("all")
        matplotlib.rcdefaults()


def test_charts_render_chinese_without_use_theme():
    matplotlib.rcdefaults()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ax = plots.get_ax()
            ax.set_title("重要价值客户")
            ax.figure.canvas.draw()
        assert not [w for w in caught if "missing from" in str(w.message)]
    finally:
        plt.close("all")
        matplotlib.rcdefaults()


def test_importing_plots_changes_no_global_state():
    import importlib

    before = dict(matplotlib.rcParams)
    importlib.reload(plots)
    assert dict(matplotlib.rcParams) == before
