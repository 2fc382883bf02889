"""The figure plumbing of the charts: a CJK font for the Chinese labels, a new figure that
pyplot never sees, titles, labels, legends, an empty "no data yet" chart, and the colours.

At import this module registers a CJK font with matplotlib's font manager — Noto Sans CJK SC
shipped by ``mplfonts`` (SimHei from the same package, then any installed CJK font, as
fallbacks). It does **not** change ``rcParams``: the charts ask for ``[<your font.family>,
<the CJK font>]`` on each text, so Latin text keeps your font and Chinese glyphs fall back
to the CJK font. :func:`use_cjk_font` gives the same fallback to your own charts.
"""

from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .errors import InputError

__all__ = [
    "CJK_FONT",
    "cjk_font_properties",
    "legend",
    "new_axes",
    "no_data",
    "pct",
    "root_figure",
    "set_labels",
    "set_title",
    "use_cjk_font",
]

_log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# fonts

_BUNDLED = ("NotoSansCJKsc-Regular.otf", "SimHei.ttf")
_KNOWN_CJK = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)


def _register_cjk_font() -> str | None:
    """Add the bundled CJK font to matplotlib's font manager; return its family name."""
    spec = importlib.util.find_spec("mplfonts")  # locate only: importing it is not needed
    folders = list(spec.submodule_search_locations or []) if spec else []
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for folder in folders:
        for filename in _BUNDLED:
            path = Path(folder) / "fonts" / filename
            if not path.is_file():
                continue
            try:
                if str(path) not in known:
                    font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
            except (OSError, RuntimeError, ValueError) as exc:  # a damaged font file
                _log.warning("cannot load the CJK font %s: %s", path, exc)
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for name in _KNOWN_CJK:
        if name in installed:
            return name
    _log.warning(
        "No CJK font found (mplfonts missing?): Chinese labels in charts will show as boxes. "
        "Install mplfonts or a CJK font such as Noto Sans CJK SC."
    )
    return None


#: The family name of the CJK font the charts use (``None`` when none was found).
CJK_FONT: str | None = _register_cjk_font()


def _families() -> list[str]:
    family = mpl.rcParams["font.family"]
    families = [family] if isinstance(family, str) else list(family)
    if CJK_FONT is not None and CJK_FONT not in families:
        families.append(CJK_FONT)
    return families


def cjk_font_properties(
    size: float | str | None = None, **kwargs: Any
) -> font_manager.FontProperties:
    """Font properties for text that mixes Latin and Chinese: your ``font.family`` first,
    the CJK font as the fallback for glyphs it lacks.

    >>> cjk_font_properties(12).get_size()
    12.0
    """
    return font_manager.FontProperties(family=_families(), size=size, **kwargs)


def use_cjk_font() -> None:
    """Opt in globally: append the CJK font to ``rcParams["font.family"]`` so your own
    matplotlib charts render Chinese too (matplotlib falls back along that list per glyph).
    """
    mpl.rcParams["font.family"] = _families()


# --------------------------------------------------------------------------------------
# figure plumbing


def root_figure(ax: Axes) -> Figure:
    """The top-level Figure holding ``ax`` (the one to save)."""
    figure = ax.get_figure(root=True)
    if not isinstance(figure, Figure):
        raise InputError("This Axes belongs to no figure: draw it on a Figure first.")
    return figure


class _ChartAxes(Axes):
    """An Axes that shows itself as a PNG in Jupyter (its figure is not pyplot's)."""

    name = "mobset_chart"

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        root_figure(self).savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


SIZE = (8.0, 4.6)
GREEN, RED, PINK, AMBER = "#2e7d32", "#c62828", "#ef9a9a", "#f9a825"
BLUE, LIGHT_BLUE, GREY, LIGHT_GREY = "#1565c0", "#90caf9", "#9e9e9e", "#d6d6d6"
PURPLE, DARK = "#7e57c2", "#263238"


def new_axes(ax: Axes | None, size: tuple[float, float] = SIZE) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise InputError(f"ax= must be a matplotlib Axes, got {type(ax).__name__}.")
        return ax
    figure = Figure(figsize=size, layout="constrained")
    return figure.add_subplot(axes_class=_ChartAxes)


def set_title(ax: Axes, title: str, campaign: str | None) -> None:
    text = f"{title} · {campaign}" if campaign else title
    ax.set_title(text, fontproperties=cjk_font_properties(13), loc="left")


def set_labels(ax: Axes, *, x: str | None = None, y: str | None = None) -> None:
    if x is not None:
        ax.set_xlabel(x, fontproperties=cjk_font_properties(10))
    if y is not None:
        ax.set_ylabel(y, fontproperties=cjk_font_properties(10))


def no_data(ax: Axes, title: str, campaign: str | None, hint: str) -> Axes:
    """A readable empty chart instead of an error."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor("#fafafa")
    set_title(ax, title, campaign)
    ax.text(
        0.5,
        0.58,
        "暂无数据 No data yet",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#607d8b",
        fontproperties=cjk_font_properties(18),
    )
    ax.text(
        0.5,
        0.40,
        hint,
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#78909c",
        fontproperties=cjk_font_properties(10),
        wrap=True,
    )
    return ax


def legend(ax: Axes, **kwargs: Any) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(prop=cjk_font_properties(9), frameon=False, **kwargs)


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"
