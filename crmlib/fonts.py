"""Where the bundled CJK-capable font lives (Noto Sans SC, SIL OFL).

Charts register it with matplotlib (:func:`crmlib.plots.font_path`); report pages embed a subset
of it (:mod:`crmlib.report.export`). Finding the file needs neither matplotlib nor seaborn, which
take about two seconds to import in a process that draws nothing.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["cjk_font_file"]


def cjk_font_file() -> Path:
    """Path of the bundled CJK font file."""
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.sans_path())
