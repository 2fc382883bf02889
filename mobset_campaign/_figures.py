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
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import Formatter

from ._i18n import N_
from ._i18n import gettext as _
from ._labels import label
from .errors import InputError

__all__ = [
    "CJK_FONT",
    "ClockFormatter",
    "cjk_font_properties",
    "legend",
    "new_axes",
    "no_data",
    "pct",
    "root_figure",
    "set_labels",
    "set_title",
    "use_cjk_font",
    "wrap_label",
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
        raise InputError(_("This Axes belongs to no figure: draw it on a Figure first."))
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
            raise InputError(
                _("ax= must be a matplotlib Axes, got {kind}.").format(kind=type(ax).__name__)
            )
        return ax
    figure = Figure(figsize=size, layout="constrained")
    return figure.add_subplot(axes_class=_ChartAxes)


TITLE_SIZE, NOTE_SIZE = 13.0, 8.5
NOTE_COLOUR = "#607d8b"
_MIN_TITLE_SIZE = 8.0


def set_title(ax: Axes, title: str, campaign: str | None, *, note: str | None = None) -> Text:
    """The chart's title on the left, ``<title> · <campaign>``, and under it, on a line of its
    own just above the plot, an optional ``note`` (counts, caveats). Call it last: a title
    too wide for the figure moves the campaign to a second line, then gets smaller, so it
    never runs off the figure or into the note."""
    text = f"{title} · {campaign}" if campaign else title
    pad = 6.0
    if note:
        ax.annotate(
            note,
            xy=(0, 1),
            xycoords="axes fraction",
            xytext=(0, 4),
            textcoords="offset points",
            ha="left",
            va="bottom",
            color=NOTE_COLOUR,
            fontproperties=cjk_font_properties(NOTE_SIZE),
            gid="mobset-note",
            parse_math=False,
        )
        pad = 4 + NOTE_SIZE * 1.3 + 5  # the note's line, and a gap above it
    artist = ax.set_title(  # parse_math off: a campaign called "$5 off $20" is text
        text,
        fontproperties=cjk_font_properties(TITLE_SIZE),
        loc="left",
        pad=pad,
        va="bottom",
        parse_math=False,
    )
    _fit_title(ax, artist, f"{title}\n{campaign}" if campaign else title)
    return artist


def _fit_title(ax: Axes, artist: Text, two_lines: str) -> None:
    """Make a title that runs past the figure's right edge fit: two lines, then smaller."""
    figure = root_figure(ax)

    def fits() -> bool:
        figure.draw_without_rendering()  # lays the figure out as it will be saved
        box = artist.get_window_extent()
        return bool(box.x1 <= figure.bbox.x1 - 2)

    if fits():
        return
    artist.set_text(two_lines)
    size = TITLE_SIZE
    while not fits() and size > _MIN_TITLE_SIZE:
        size -= 1
        artist.set_fontsize(size)


def wrap_label(text: str, width: int = 24) -> str:
    """``text`` on lines of at most ``width`` columns (a Chinese character takes two),
    broken after a space or a comma where there is one.

    >>> print(wrap_label("7 含有过滤词，需要审核，审核不能通过"))
    7 含有过滤词，需要审核，
    审核不能通过
    """
    lines: list[str] = []
    line = ""
    for ch in text:
        if _columns(line + ch) > width and line.strip():
            cut = max(line.rfind(sep) for sep in (" ", "，", ",", "、", "；"))
            head, line = (line[: cut + 1], line[cut + 1 :]) if cut > 0 else (line, "")
            lines.append(head.rstrip())
        line += ch
    lines.append(line.strip())
    return "\n".join(x for x in lines if x)


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class ClockFormatter(Formatter):
    """Time-axis labels that read on their own (times naive, Beijing): clock times ``21:10``
    when the axis shows one day (``21:10:30`` when a tick falls between minutes), dates
    ``2026-12-03`` across days (``12-03 21:00`` when a tick falls between midnights).
    Never ConciseDateFormatter's bare minutes ("45 50 55 21:10 05")."""

    def __init__(self) -> None:
        super().__init__()
        self.fmt = "%H:%M"

    def _choose(self, values: Sequence[float]) -> str:
        seconds = [round(v * 86_400) for v in values]  # matplotlib dates count days
        low, high = self.axis.get_view_interval() if self.axis is not None else (0.0, 0.0)
        first, last = sorted((low, high))
        if first <= 0 or int(first) == int(last):  # the view shows one day
            return "%H:%M:%S" if any(s % 60 for s in seconds) else "%H:%M"
        if not any(s % 86_400 for s in seconds):
            return "%Y-%m-%d"
        return "%m-%d %H:%M"

    def format_ticks(self, values: Any) -> list[str]:
        values = [float(v) for v in values]
        if values:
            self.fmt = self._choose(values)
        return [self(v) for v in values]

    def __call__(self, x: float, pos: int | None = None) -> str:
        return mdates.num2date(x).strftime(self.fmt)


def set_labels(ax: Axes, *, x: str | None = None, y: str | None = None) -> None:
    if x is not None:
        ax.set_xlabel(x, fontproperties=cjk_font_properties(10))
    if y is not None:
        ax.set_ylabel(y, fontproperties=cjk_font_properties(10))


def no_data(
    ax: Axes, title: str, campaign: str | None, hint: str, labels: str = "bilingual"
) -> Axes:
    """A readable empty chart instead of an error: "no data yet" in ``labels``, and the
    ``hint`` (already in ``labels``)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor("#fafafa")
    ax.text(
        0.5,
        0.58,
        label(N_("No data yet"), labels),
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
    set_title(ax, title, campaign)
    return ax


def legend(ax: Axes, **kwargs: Any) -> None:
    handles, _names = ax.get_legend_handles_labels()
    if handles:
        ax.legend(prop=cjk_font_properties(9), frameon=False, **kwargs)


def pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"
