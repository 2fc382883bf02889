"""How a result reads: as text in a terminal, as HTML in JupyterLab — the frame every report
of :mod:`mobset_campaign.summaries` and :mod:`mobset_campaign.status` is built on.

A :class:`Report` gives its words through two methods, ``_title()`` and ``_lines()``, called
each time it is shown, so a report reads in the language of messages at that moment
(:func:`mobset_campaign.set_language`); ``str()``, ``repr()`` (the same text, so a terminal
IPython shows the report too) and ``_repr_html_()`` follow from them.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from ._advice import say
from ._i18n import current_language
from ._i18n import gettext as _
from .report_labels import skip_kind_label
from .states import state_label, state_meaning

__all__ = [
    "AMBER",
    "GREEN",
    "GREY",
    "RED",
    "Line",
    "Report",
    "counted",
    "ledger_lines",
    "listed",
    "state_cells",
]

#: The colours of a report's HTML: a stop or a shortfall, enough, a warning, small print.
RED, GREEN, AMBER, GREY = "#b00020", "#1b5e20", "#8a6d00", "#555"


def listed(items: Iterable[str], *, strong: bool = False) -> str:
    """Items joined as a list in the language of messages: ``a, b`` / ``a，b`` (``strong``:
    ``a; b`` / ``a；b``)."""
    if current_language() == "zh":
        return ("；" if strong else "，").join(items)
    return ("; " if strong else ", ").join(items)


def counted(counts: dict[str, int]) -> str:
    """``3 duplicate; 1 opted out`` (``重复号码 3 行；已退订 1 行`` in Chinese): the most common
    first; a kind of skip reason is named in the language of messages, any other key (a
    gateway's reason) as it is."""
    words = "zh" if current_language() == "zh" else "en"
    return listed(
        (
            _("{n:,} {what}").format(n=n, what=skip_kind_label(what, words))
            for what, n in sorted(counts.items(), key=lambda x: -x[1])
        ),
        strong=True,
    )


def state_cells(counts: dict[str, int]) -> str:
    """HTML cells of message counts by state, each state named in the language of messages
    with its meaning as a tooltip."""
    return "".join(
        f"<td style='padding:2px 8px' title='{html.escape(state_meaning(s), quote=True)}'>"
        f"{html.escape(state_label(s))}<br><b>{n:,}</b></td>"
        for s, n in counts.items()
    )


@dataclass(frozen=True)
class Line:
    """One line of a report: a sentence, or with ``label`` a row of a table. ``alert`` lines
    (a stop, an error) stand out in the notebook; ``hint`` is the row's tooltip in HTML."""

    text: str
    label: str = ""
    alert: bool = False
    hint: str = ""


class Report(ABC):
    """The text, repr and HTML of a result, from its ``_title()`` and ``_lines()``; a
    ``stopped_reason`` attribute, when set, ends the report as a ``Stopped:`` line."""

    @abstractmethod
    def _title(self) -> str:
        """The first line: what happened, in one sentence."""

    def _lines(self) -> list[Line]:
        return []

    def _html_banner(self) -> str:
        """HTML shown between the title and the lines (none by default)."""
        return ""

    def _html_footer(self) -> str:
        """HTML shown after the lines (none by default)."""
        return ""

    def _html_lines(self) -> list[Line]:
        """The lines the HTML shows (all of them, unless the banner already says one)."""
        return self._all_lines()

    def _all_lines(self) -> list[Line]:
        lines = self._lines()
        stopped = getattr(self, "stopped_reason", None)
        if stopped:
            lines.append(Line(_("Stopped: {reason}").format(reason=stopped), alert=True))
        return lines

    def __str__(self) -> str:
        return self._text(self._all_lines())

    def _text(self, lines: list[Line]) -> str:
        width = max((_width(line.label) for line in lines if line.label), default=0)
        body = [
            f"  {x.label}{' ' * (width - _width(x.label))}  {x.text}" if x.label else x.text
            for x in lines
        ]
        return "\n".join([self._title(), *body])

    def text_and_alerts(self) -> tuple[str, list[str]]:
        """The report without its alert lines (a stop, errors, warnings), and those lines:
        a command line prints the first on stdout and the second on stderr."""
        lines = self._all_lines()
        return (
            self._text([x for x in lines if not x.alert]),
            [x.text for x in lines if x.alert],
        )

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        lines = self._html_lines()
        rows = "".join(
            "<tr><th style='text-align:left;padding-right:1em'"
            + (f" title='{html.escape(x.hint, quote=True)}'" if x.hint else "")
            + f">{html.escape(x.label)}</th>"
            f"<td style='text-align:left'>{html.escape(x.text)}</td></tr>"
            for x in lines
            if x.label
        )
        items = "".join(
            f"<li style='color:{RED}'><b>{html.escape(x.text)}</b></li>"
            if x.alert
            else f"<li>{html.escape(x.text.strip())}</li>"
            for x in lines
            if not x.label
        )
        return (
            f"<div><p><b>{html.escape(self._title())}</b></p>{self._html_banner()}"
            + (f"<table>{rows}</table>" if rows else "")
            + (f"<ul>{items}</ul>" if items else "")
            + self._html_footer()
            + "</div>"
        )


def ledger_lines(path: str, created: bool) -> list[Line]:
    """The ledger's path as a report's line; a ledger this run created is an alert (a
    campaign sent before with another ledger would be sent again)."""
    if not path:
        return []
    if not created:
        return [Line(_("Ledger: {path}").format(path=path))]
    return [
        Line(
            _(
                "Ledger: {path} — a NEW ledger file: if this campaign was sent before, it was "
                "with another ledger; point at that one ({flag} or MOBSET_LEDGER)."
            ).format(path=path, flag=say("ledger")),
            alert=True,
        )
    ]


def _width(text: str) -> int:
    """Columns a label takes in a terminal: a Chinese character takes two."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)
