"""Labels of the workbook and the charts in Chinese, English or both.

Each label is written once, as its English message id (marked with ``N_`` where it is
defined); its Chinese comes from the catalog. A label language is ``"zh"``, ``"en"`` or
``"bilingual"`` (``<Chinese> <English>``, the workbook's default: ``发送状态 send_state``).

>>> label("Details", "bilingual"), label("Details", "zh"), label("Details", "en")
('明细 Details', '明细', 'Details')
>>> label("Send state", "bilingual", english="send_state")
'发送状态 send_state'

The same English with another Chinese elsewhere is told apart by a ``context`` (marked
``NC_(context, message)``, translated with ``pgettext``): ``label("skipped", "zh",
context="send state")`` is ``已跳过``. A table of labels keyed by code (a state, a kind of
skip reason) is a :class:`LabelTable`: its values are worked out from the catalog when read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ._i18n import current_language, language_override, pgettext
from ._i18n import gettext as _
from .language import label_language

__all__ = ["LabelTable", "chart_labels", "chinese", "in_parentheses", "label", "label_format"]

V = TypeVar("V")


def chinese(message: str, context: str | None = None) -> str:
    """The Chinese of ``message`` (an English message id; in ``context`` when given: a
    ``pgettext`` message), whatever the current language."""
    with language_override("zh"):
        return _(message) if context is None else pgettext(context, message)


def label(
    message: str,
    labels: str,
    *,
    english: str | None = None,
    short: str | None = None,
    sep: str = " ",
    context: str | None = None,
) -> str:
    """``message`` as the ``labels`` language shows it: its Chinese, its English
    (``english`` when given, e.g. a field name, else the message id itself), or both,
    Chinese first, joined by ``sep`` (one of them when they are the same text). ``short``
    is a shorter message whose Chinese heads the bilingual form instead (``图表数据 Chart
    data (the charts on the right …)``). ``context``: the message's ``pgettext`` context."""
    return label_format(message, labels, english=english, short=short, sep=sep, context=context)


def label_format(
    message: str,
    labels: str,
    *,
    english: str | None = None,
    short: str | None = None,
    sep: str = " ",
    context: str | None = None,
    **values: Any,
) -> str:
    """:func:`label` of a message with ``{placeholders}``, each language filled in with
    ``values``."""
    en = (message if english is None else english).format(**values)
    if labels == "en":
        return en
    if labels == "bilingual" and short is not None:
        return f"{chinese(short)}{sep}{en}"
    zh = chinese(message, context).format(**values)
    if labels == "zh":
        return zh
    return en if zh == en else f"{zh}{sep}{en}"


def in_parentheses(text: str, labels: str) -> str:
    """`` (text)`` after a label, full-width in Chinese: ``（text）``."""
    return f"（{text}）" if labels == "zh" else f" ({text})"


def chart_labels(labels: str | None) -> str:
    """The charts' label language: ``None`` is the current message language; else
    ``"bilingual"``, ``"zh"`` or ``"en"`` (checked: an InputError names the choices)."""
    return current_language() if labels is None else label_language(labels)


class LabelTable(Mapping[str, V]):
    """A read-only ``{key: label}`` whose labels are worked out when read, in the language
    chosen then: ``show(message id)`` for each key's message id (a table defined at import
    time, when the language is not chosen yet).

    >>> table = LabelTable({"a": "Details"}, chinese)
    >>> table["a"], list(table), "a" in table, dict(table)
    ('明细', ['a'], True, {'a': '明细'})
    """

    def __init__(self, messages: Mapping[str, str], show: Callable[[str], V]) -> None:
        self._messages = dict(messages)
        self._show = show

    def __getitem__(self, key: str) -> V:
        return self._show(self._messages[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, key: object) -> bool:
        return key in self._messages

    def message(self, key: str) -> str:
        """The message id behind ``key``'s label."""
        return self._messages[key]

    def __repr__(self) -> str:
        return repr(dict(self))
