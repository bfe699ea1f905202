"""Charts of the workbook: one theme, a CJK-capable font, and helpers shared by topic modules.

Plotting is separate from computation: functions in the topic modules (``crmlib.plots.rfm`` …)
take tidy DataFrames produced by the analysis modules, draw on ``ax`` (a new one when ``None``)
and return the Axes. Call :func:`use_theme` once in a notebook; nothing changes at import.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib import font_manager
from matplotlib.axes import Axes

from crmlib.fonts import cjk_font_file

__all__ = [
    "PALETTE",
    "font_path",
    "font_name",
    "use_theme",
    "ensure_cjk_font",
    "get_ax",
    "save_png",
]


#: Colours of the workbook, first used first.
PALETTE: tuple[str, ...] = (
    "#1f5f8b",
    "#e07b39",
    "#3b9c6e",
    "#c8453b",
    "#7a5ea8",
    "#8c6d46",
    "#d07fb0",
    "#6b6b6b",
    "#b5b83a",
    "#2ea6b8",
)


@cache
def font_path() -> Path:
    """Path of the bundled CJK-capable font (Noto Sans SC, SIL OFL), registered with matplotlib."""
    path = cjk_font_file()
    font_manager.fontManager.addfont(str(path))
    return path


@cache
def font_name() -> str:
    """Family name of the bundled CJK font as matplotlib knows it."""
    return font_manager.FontProperties(fname=str(font_path())).get_name()


def use_theme(*, context: str = "notebook", font_scale: float = 1.0) -> None:
    """Apply the workbook's seaborn theme and CJK font to matplotlib (call once per notebook)."""
    sns.set_theme(
        context=context,
        style="whitegrid",
        palette=list(PALETTE),
        font=font_name(),
        font_scale=font_scale,
        rc={
            "axes.unicode_minus": False,
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "normal",
            "axes.titlesize": "large",
            "axes.titlelocation": "left",
            "font.sans-serif": [font_name(), "DejaVu Sans"],
        },
    )


def ensure_cjk_font() -> None:
    """Put the bundled CJK font first in matplotlib's sans-serif list if it is not there yet.

    Charts with Chinese labels drawn without :func:`use_theme` would otherwise show empty boxes.
    Every chart of the workbook calls this through :func:`get_ax`; other fonts stay as fallbacks.
    """
    name = font_name()
    families = list(matplotlib.rcParams["font.sans-serif"])
    if families[:1] != [name]:
        matplotlib.rcParams["font.sans-serif"] = [name, *(f for f in families if f != name)]
    if matplotlib.rcParams["font.family"] != ["sans-serif"]:
        matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["axes.unicode_minus"] = False


def get_ax(ax: Axes | None = None, *, figsize: tuple[float, float] = (8, 4.5)) -> Axes:
    """Return ``ax``, or the Axes of a new figure of ``figsize`` when ``ax`` is None.

    Also makes sure Chinese text renders (:func:`ensure_cjk_font`).
    """
    ensure_cjk_font()
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def save_png(ax_or_fig: Axes | matplotlib.figure.Figure, path: str | Path) -> Path:
    """Save the figure of ``ax_or_fig`` as PNG at ``path`` and return the path."""
    fig = ax_or_fig.figure if isinstance(ax_or_fig, Axes) else ax_or_fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
