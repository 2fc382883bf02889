"""Charts of a campaign: funnel, delivery statuses, time to delivery, replies.

Every function takes ``data``, a merged frame (``merge_status``) or a ledger with
``campaign=``; ``campaign`` is the campaign's name (shown in the title; required with a
ledger); it draws on ``ax`` when given and returns the :class:`~matplotlib.axes.Axes` it
drew on (``ax.figure`` is the figure to save). Without ``ax`` each chart gets its own
:class:`~matplotlib.figure.Figure` that pyplot never sees: nothing leaks between calls, no
window opens, any backend (Agg included) works, and in Jupyter the returned Axes shows
itself as a picture. A frame with nothing to show yet (no reports, no replies) draws a
readable "no data yet" chart instead of failing. ``labels`` chooses the language of the
titles, axes and legends: ``None`` (the language of messages, see
:func:`mobset_campaign.set_language`), ``"zh"``, ``"en"`` or ``"bilingual"`` (``回执状态
Delivery status``, as the workbook's charts).

Chinese labels use a CJK font registered with matplotlib (Noto Sans CJK SC from ``mplfonts``;
see :mod:`mobset_campaign._figures`) without changing ``rcParams``; call
:func:`use_cjk_font` to get the same fallback in your own charts. What each row means (sendable,
accepted, delivered …) comes from :mod:`mobset_campaign.outcomes`, as in the workbook.

>>> import pandas as pd
>>> df = pd.DataFrame({"phone": ["13800138000"], "sendable": [True],
...                    "send_state": ["delivered"], "status": [12]})
>>> plot_status(df).get_title(loc="left"), plot_status(df, labels="zh").get_title(loc="left")
('Delivery status', '回执状态')
>>> plot_status(df, labels="bilingual").get_title(loc="left")
'回执状态 Delivery status'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ._figures import (
    AMBER,
    BLUE,
    CJK_FONT,
    DARK,
    GREEN,
    GREY,
    LIGHT_BLUE,
    LIGHT_GREY,
    PINK,
    PURPLE,
    RED,
    ClockFormatter,
    cjk_font_properties,
    legend,
    new_axes,
    no_data,
    pct,
    root_figure,
    set_labels,
    set_title,
    use_cjk_font,
    wrap_label,
)
from ._files import replace_atomically
from ._i18n import N_
from ._i18n import gettext as _
from ._labels import chart_labels, in_parentheses, label, label_format
from .codes import STATUS_CODES, is_final_status
from .errors import InputError
from .outcomes import (
    accepted_mask,
    delivered_mask,
    failed_mask,
    replies_data,
    reply_times,
    sendable_mask,
    status_data,
    undetermined_mask,
)

__all__ = [
    "CJK_FONT",
    "cjk_font_properties",
    "draw_all",
    "plot_delivery_time",
    "plot_funnel",
    "plot_replies",
    "plot_status",
    "root_figure",
    "save_plots",
    "use_cjk_font",
]

# --------------------------------------------------------------------------------------
# the charts


def plot_funnel(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    ax: Axes | None = None,
    labels: str | None = None,
) -> Axes:
    """Rows → sendable → accepted by the gateway → delivered, with the losses beside
    each step (skipped; rejected, unknown, not sent yet, cancelled; failed, undetermined
    (status 15), awaiting a report). Each bar is as long as the step before it, so the losses add up visibly.

    ``data``, ``campaign``, ``ax`` and ``labels`` as in the module docstring; returns the
    Axes drawn on.
    """
    lang = chart_labels(labels)
    df = status_data(data, campaign)
    ax = new_axes(ax)
    title = label(N_("Delivery funnel"), lang)
    if len(df) == 0:
        hint = N_("The frame has no rows: read contacts first.")
        return no_data(ax, title, campaign, label(hint, lang), lang)
    n = len(df)
    sendable = sendable_mask(df)
    accepted = accepted_mask(df)
    delivered = delivered_mask(df)
    state = (
        df["send_state"].astype("string").str.strip().str.lower()
        if "send_state" in df.columns
        else pd.Series(pd.NA, index=df.index, dtype="string")
    )

    def count(mask: pd.Series) -> int:
        return int(mask.fillna(False).astype(bool).sum())

    n_send, n_acc, n_del = count(sendable), count(accepted), count(delivered)
    not_sent = sendable & ~accepted
    gateway_losses = [
        (label(N_("rejected"), lang), count(not_sent & (state == "rejected")), RED),
        (label(N_("unknown"), lang), count(not_sent & (state == "unknown")), AMBER),
        (label(N_("cancelled"), lang), count(not_sent & (state == "cancelled")), PURPLE),
    ]
    waiting = n_send - n_acc - sum(loss[1] for loss in gateway_losses)
    gateway_losses.append((label(N_("not sent yet"), lang), max(waiting, 0), LIGHT_GREY))
    failed, undetermined = (
        count(accepted & failed_mask(df)),
        count(accepted & undetermined_mask(df)),
    )
    steps = [
        (label(N_("Rows"), lang, sep="\n"), n, DARK, []),
        (
            label(N_("Sendable"), lang, sep="\n"),
            n_send,
            "#37474f",
            [(label(N_("skipped"), lang), n - n_send, GREY)],
        ),
        (label(N_("Accepted"), lang, sep="\n"), n_acc, BLUE, gateway_losses),
        (
            label(N_("Delivered"), lang, sep="\n"),
            n_del,
            GREEN,
            [
                (label(N_("failed"), lang), failed, PINK),
                (label(N_("undetermined (15)"), lang), undetermined, AMBER),
                (
                    label(N_("awaiting report"), lang),
                    max(n_acc - n_del - failed - undetermined, 0),
                    LIGHT_BLUE,
                ),
            ],
        ),
    ]
    positions = np.arange(len(steps))[::-1]
    seen: set[str] = set()
    props = cjk_font_properties(9)
    for y, (_step, value, colour, losses) in zip(positions, steps, strict=True):
        ax.barh(y, value, color=colour, height=0.62)
        inside = value >= n * 0.18
        ax.text(
            value - n * 0.01 if inside else value + n * 0.01,
            y,
            f"{value:,} ({pct(value, n)})",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else DARK,
            fontproperties=cjk_font_properties(10),
        )
        left = value
        for name, lost, loss_colour in losses:
            if lost <= 0:
                continue
            ax.barh(
                y,
                lost,
                left=left,
                color=loss_colour,
                height=0.62,
                label=None if name in seen else name,
                edgecolor="white",
                linewidth=0.8,
            )
            seen.add(name)
            if lost >= n * 0.035:
                ax.text(
                    left + lost / 2,
                    y,
                    f"{lost:,}",
                    ha="center",
                    va="center",
                    color=DARK,
                    fontproperties=props,
                )
            left += lost
    ax.set_yticks(positions, [s[0] for s in steps], fontproperties=cjk_font_properties(10))
    ax.set_xlim(0, n * 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    set_labels(ax, x=label(N_("numbers"), lang))
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    set_title(ax, title, campaign)
    return ax


def _status_colour(code: int) -> str:
    if code == 12:
        return GREEN
    if code == 15:
        return AMBER
    if code == 7:
        return "#8e24aa"
    if is_final_status(code):
        return RED
    return LIGHT_BLUE


def plot_status(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    ax: Axes | None = None,
    labels: str | None = None,
) -> Axes:
    """Delivery statuses reported by the gateway, labelled with the vendor's own texts
    (e.g. "12 接收成功"), plus accepted messages with no report yet. Interim statuses
    (0, 1, 10) are drawn light and marked "interim".

    ``data``, ``campaign``, ``ax`` and ``labels`` as in the module docstring; returns the
    Axes drawn on.
    """
    lang = chart_labels(labels)
    df = status_data(data, campaign)
    ax = new_axes(ax)
    title = label(N_("Delivery status"), lang)
    status = (
        pd.to_numeric(df["status"], errors="coerce")
        if "status" in df.columns
        else pd.Series(np.nan, index=df.index)
    )
    counts = status.dropna().astype(int).value_counts().sort_index()
    waiting = int((accepted_mask(df) & status.isna()).sum())
    if counts.empty and not waiting:
        hint = N_("No delivery reports yet: send, then collect() the reports.")
        return no_data(ax, title, campaign, label(hint, lang), lang)
    names, values, colours = [], [], []
    for code, value in zip(counts.index.tolist(), counts.tolist(), strict=True):
        info = STATUS_CODES.get(code)
        text = f"{code} {info.text}" if info else f"{code}"
        if not info:
            text += in_parentheses(label(N_("unlisted"), lang), lang)
        elif not is_final_status(code):
            text += in_parentheses(label(N_("interim"), lang), lang)
        names.append(wrap_label(text))
        values.append(int(value))
        colours.append(_status_colour(code))
    if waiting:
        names.append(label(N_("no report yet"), lang))
        values.append(waiting)
        colours.append(LIGHT_GREY)
    total = sum(values)
    positions = np.arange(len(values))[::-1]
    ax.barh(positions, values, color=colours, height=0.6)
    for y, value in zip(positions, values, strict=True):
        ax.text(
            value + total * 0.01,
            y,
            f"{value:,} ({pct(value, total)})",
            va="center",
            color=DARK,
            fontproperties=cjk_font_properties(9),
        )
    ax.set_yticks(positions, names, fontproperties=cjk_font_properties(10))
    ax.set_xlim(0, max(values) * 1.22)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    set_labels(ax, x=label(N_("numbers"), lang))
    set_title(ax, title, campaign)
    return ax


def _delay_unit(seconds: np.ndarray) -> tuple[float, str]:
    """The unit of the delays' axis: its length in seconds and its message id."""
    median = float(np.median(seconds))
    if median < 120:
        return 1.0, N_("s")
    if median < 2 * 3600:
        return 60.0, N_("min")
    return 3600.0, N_("h")


def _statistic(name: str, value: float, unit: str, labels: str) -> str:
    """A marked statistic: ``中位数 median 3.2 s`` (bilingual), ``中位数 3.2 秒``,
    ``median 3.2 s``."""
    number = f"{value:.3g}"
    if labels == "en":
        return f"{name} {number} {unit}"
    if labels == "zh":
        return f"{label(name, labels)} {number} {label(unit, labels)}"
    return f"{label(name, labels)} {number} {unit}"


def plot_delivery_time(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    ax: Axes | None = None,
    bins: int = 30,
    labels: str | None = None,
) -> Axes:
    """How long reports took: ``report_time − sent_time`` as a histogram (delivered,
    failed, undetermined and interim stacked), with the median and the 90th percentile marked. A long tail
    switches the x axis to a log scale; negative delays (clock skew) count as 0.

    ``data``, ``campaign``, ``ax`` and ``labels`` as in the module docstring; ``bins`` is
    the number of histogram bins. Returns the Axes drawn on.
    """
    lang = chart_labels(labels)
    df = status_data(data, campaign)
    ax = new_axes(ax)
    title = label(N_("Time from send to report"), lang)
    if not {"sent_time", "report_time"} <= set(df.columns):
        hint = N_("The frame has no sent_time/report_time columns.")
        return no_data(ax, title, campaign, label(hint, lang), lang)
    sent = pd.to_datetime(df["sent_time"], errors="coerce", utc=True)
    report = pd.to_datetime(df["report_time"], errors="coerce", utc=True)
    delay = (report - sent).dt.total_seconds()
    known = delay.notna()
    if not known.any():
        hint = N_("No delivery reports yet: collect() fetches them as they arrive.")
        return no_data(ax, title, campaign, label(hint, lang), lang)
    seconds = delay[known].clip(lower=0).to_numpy(dtype=float)
    groups = [
        (label(N_("delivered"), lang), delivered_mask(df), GREEN),
        (label(N_("failed"), lang), failed_mask(df), RED),
        (label(N_("undetermined (15)"), lang), undetermined_mask(df), AMBER),
    ]
    final = np.zeros(int(known.sum()), dtype=bool)
    stacks = []
    for name, mask, colour in groups:
        picked = mask[known].to_numpy(dtype=bool)
        final |= picked
        stacks.append((name, picked, colour))
    stacks.append((label(N_("interim"), lang), ~final, LIGHT_BLUE))
    stacks = [s for s in stacks if s[1].any()]
    scale, unit = _delay_unit(seconds)
    values = seconds / scale
    positive = values[values > 0]
    log = (
        positive.size > 0
        and values.max() > 30 * max(float(np.median(values)), 1e-9)
        and positive.min() > 0
    )
    # the gateway reports whole seconds: bin edges between integers, or the bars get gaps
    whole = scale == 1.0 and bool(np.allclose(values, np.round(values)))
    if log:
        low = 0.5 if whole else max(positive.min(), values.max() / 1e5)
        edges = np.geomspace(low, values.max() * 1.0001, bins + 1)
        if whole:
            edges = np.unique(np.maximum(np.round(edges - 0.5) + 0.5, 0.5))
        values = np.clip(values, low, None)
        ax.set_xscale("log")
        # plain numbers (1, 10, 100), not matplotlib's math-text powers of ten: those read
        # badly to a marketer and need the STIX fonts, whose absence prints to stderr
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif whole:
        step = max(1, int(np.ceil((values.max() + 1) / bins)))
        edges = np.arange(-0.5, values.max() + step, step)
    else:
        edges = np.linspace(0, max(values.max(), 1e-9) * 1.0001, bins + 1)
    ax.hist(
        [values[stack[1]] for stack in stacks],
        bins=edges.tolist(),
        stacked=True,
        color=[stack[2] for stack in stacks],
        label=[stack[0] for stack in stacks],
        edgecolor="white",
        linewidth=0.5,
    )
    median, p90 = float(np.median(seconds)) / scale, float(np.percentile(seconds, 90)) / scale
    ax.axvline(
        median,
        color=DARK,
        linestyle="--",
        linewidth=1.4,
        label=_statistic(N_("median"), median, unit, lang),
    )
    ax.axvline(
        p90,
        color=DARK,
        linestyle=":",
        linewidth=1.2,
        label=_statistic(N_("90th pct"), p90, unit, lang),
    )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    axis = label(N_("send → report"), lang) + in_parentheses(label(unit, lang), lang)
    set_labels(ax, x=axis, y=label(N_("numbers"), lang))
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    skew = int((delay[known] < 0).sum())
    note = f"n = {int(known.sum()):,}"
    if skew:
        clock = N_("{n:,} negative (clock skew) counted as 0")
        note += "; " + label_format(clock, lang, sep="; ", n=skew)
    set_title(ax, title, campaign, note=note)
    return ax


def _span(width: pd.Timedelta) -> str:
    """A bin width in words of the current label language's units: ``5 分钟``, ``1 小时``."""
    seconds = int(width.total_seconds())
    for size, unit in ((86_400, N_("d")), (3600, N_("h")), (60, N_("min")), (1, N_("s"))):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {label(unit, 'zh')}"
    return str(width)


_FREQS = ("10s", "30s", "1min", "5min", "10min", "30min", "1h", "3h", "6h", "12h", "1D", "7D")


def _replies_source(
    data: pd.DataFrame | Any, campaign: str | None, replies: pd.DataFrame | None
) -> pd.DataFrame:
    """(time, opt_out) of every reply we can see, times in Beijing, naive."""
    frame = replies if replies is not None else replies_data(data, campaign)
    return reply_times(frame if frame is not None else status_data(data, campaign))


def plot_replies(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    ax: Axes | None = None,
    replies: pd.DataFrame | None = None,
    freq: str | None = None,
    labels: str | None = None,
) -> Axes:
    """Replies over time (Beijing time), with opt-outs (退订) stacked in red.

    The replies come from ``replies`` when given, else from the ledger
    (``replies_frame``), else from a replies frame passed as ``data`` (``recv_time``), else
    from the merged frame's latest reply per row (``reply_time``, ``opted_out``).

    ``data`` may also be a replies frame; ``campaign``, ``ax`` and ``labels`` as in the
    module docstring.

    Args:
        replies: a replies frame to plot instead.
        freq: the bin width as a pandas frequency ("10min", "1h", "1D"); by default the
            smallest of 10 s … 7 days that gives at most 60 bins.

    Returns:
        The Axes drawn on.
    """
    lang = chart_labels(labels)
    source = _replies_source(data, campaign, replies)
    ax = new_axes(ax)
    title = label(N_("Replies"), lang)
    if source.empty:
        hint = N_("No replies yet: collect() fetches them as they arrive.")
        return no_data(ax, title, campaign, label(hint, lang), lang)
    start, end = source["time"].min(), source["time"].max()
    if freq is None:
        span = max(end - start, pd.Timedelta(seconds=1))
        freq = next((f for f in _FREQS if span / pd.Timedelta(f) <= 60), _FREQS[-1])
    try:
        width = pd.Timedelta(freq)
    except ValueError as exc:
        raise InputError(
            _("freq={value!r} is not a time span like '10min', '1h' or '1D'.").format(value=freq)
        ) from exc
    bins = source.assign(bin=source["time"].dt.floor(width))
    table = bins.groupby("bin")["opt_out"].agg(total="size", opted="sum")
    table["other"] = table["total"] - table["opted"]
    x = mdates.date2num(pd.DatetimeIndex(table.index).to_pydatetime())
    days = width / pd.Timedelta(days=1)
    ax.bar(
        x,
        table["other"],
        width=days * 0.9,
        align="edge",
        color=BLUE,
        label=label(N_("replies"), lang),
    )
    ax.bar(
        x,
        table["opted"],
        width=days * 0.9,
        align="edge",
        bottom=table["other"],
        color=RED,
        label=label(N_("opt-outs"), lang),
    )
    ax.xaxis_date()
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(ClockFormatter())  # 21:10 in one day, dates across days
    low, high = x.min() - days * 0.5, x.max() + days * 1.5
    if start.date() == (end + width - pd.Timedelta(microseconds=1)).date():
        midnight = mdates.date2num(start.normalize().to_pydatetime())
        low, high = max(low, midnight), min(high, midnight + 1)  # one day: stay inside it
    ax.set_xlim(low, high)
    ax.set_ylim(0, max(int(table["total"].max()), 1) * 1.3)  # headroom for the legend
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    total, opted = len(source), int(source["opt_out"].sum())
    first, last = (mdates.num2date(v).replace(tzinfo=None) for v in (low, high))
    beijing = N_("Beijing time")
    span = _span(width) if lang == "zh" else freq  # "5 分钟" in Chinese, else "5min" as given
    if first.date() == last.date():
        axis = label_format(
            N_("Beijing time, {day} (bins of {freq})"),
            lang,
            short=beijing,
            day=f"{first:%Y-%m-%d}",
            freq=span,
        )
    else:
        axis = label_format(N_("Beijing time (bins of {freq})"), lang, short=beijing, freq=span)
    set_labels(ax, x=axis, y=label(N_("replies"), lang))
    legend(ax, loc="upper right")
    counts = f"{title} {total:,} · {label(N_('opt-outs'), lang)} {opted:,} ({pct(opted, total)})"
    set_title(ax, counts, campaign)
    return ax


# --------------------------------------------------------------------------------------
# all of them

_CHARTS: dict[str, Callable[..., Axes]] = {
    "funnel": plot_funnel,
    "status": plot_status,
    "delivery_time": plot_delivery_time,
    "replies": plot_replies,
}


def draw_all(
    data: pd.DataFrame | Any,
    campaign: str | None = None,
    *,
    replies: pd.DataFrame | None = None,
    labels: str | None = None,
) -> dict[str, Axes]:
    """Every chart of the campaign, by name: ``funnel``, ``status``, ``delivery_time``,
    ``replies`` (what :func:`save_plots` writes and the workbook embeds), labelled in
    ``labels`` (see the module docstring)."""
    lang = chart_labels(labels)
    frame = status_data(data, campaign)
    if replies is None:
        replies = replies_data(data, campaign)
    drawn = {}
    for name, chart in _CHARTS.items():
        if name == "replies":
            drawn[name] = plot_replies(frame, campaign, replies=replies, labels=lang)
        else:
            drawn[name] = chart(frame, campaign, labels=lang)
    return drawn


def save_plots(
    data: pd.DataFrame | Any,
    folder: str | os.PathLike[str],
    campaign: str | None = None,
    *,
    replies: pd.DataFrame | None = None,
    dpi: int = 150,
    prefix: str = "",
    labels: str | None = None,
) -> list[Path]:
    """Draw every chart and write them as PNGs: ``funnel.png``, ``status.png``,
    ``delivery_time.png``, ``replies.png`` (each name after ``prefix``), creating the
    folder. Each file is written to a temporary name and moved into place. ``labels``:
    the language of the charts' texts (``None``: the language of messages; ``"zh"``,
    ``"en"`` or ``"bilingual"``).

    Returns:
        The paths written, in that order.

    Raises:
        InputError: the folder cannot be created or written, or ``labels`` is not a label
            language.
    """
    lang = chart_labels(labels)
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            _(
                "Cannot create the folder {folder!r} for the charts: {reason}. "
                "Choose a folder you can write to."
            ).format(folder=str(target), reason=exc.strerror or exc)
        ) from exc
    written = []
    for name, axes in draw_all(data, campaign, replies=replies, labels=lang).items():
        path = target / f"{prefix}{name}.png"
        save = partial(root_figure(axes).savefig, format="png", dpi=dpi)
        try:
            replace_atomically(path, save)
        except OSError as exc:
            raise InputError(
                _(
                    "Cannot write the chart {path!r}: {reason}. Check the folder's "
                    "permissions and free space."
                ).format(path=str(path), reason=exc.strerror or exc)
            ) from exc
        written.append(path)
    return written
