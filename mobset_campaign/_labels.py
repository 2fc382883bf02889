"""Labels of the workbook and the charts in Chinese, English or both.

Each label is written once, as its English message id (marked with ``N_`` where it is
defined); its Chinese comes from the catalog. A label language is ``"zh"``, ``"en"`` or
``"bilingual"`` (``<Chinese> <English>``, the workbook's default: ``发送状态 send_state``).

>>> label("Details", "bilingual"), label("Details", "zh"), label("Details", "en")
('明细 Details', '明细', 'Details')
>>> label("Send state", "bilingual", english="send_state")
'发送状态 send_state'
"""

from __future__ import annotations

from typing import Any

from ._i18n import current_language, language_override
from ._i18n import gettext as _
from .language import label_language

__all__ = ["chart_labels", "chinese", "in_parentheses", "label", "label_format"]


def chinese(message: str) -> str:
    """The Chinese of ``message`` (an English message id), whatever the current language."""
    with language_override("zh"):
        return _(message)


def label(
    message: str,
    labels: str,
    *,
    english: str | None = None,
    short: str | None = None,
    sep: str = " ",
) -> str:
    """``message`` as the ``labels`` language shows it: its Chinese, its English
    (``english`` when given, e.g. a field name, else the message id itself), or both,
    Chinese first, joined by ``sep`` (one of them when they are the same text). ``short``
    is a shorter message whose Chinese heads the bilingual form instead (``图表数据 Chart
    data (the charts on the right …)``)."""
    return label_format(message, labels, english=english, short=short, sep=sep)


def label_format(
    message: str,
    labels: str,
    *,
    english: str | None = None,
    short: str | None = None,
    sep: str = " ",
    **values: Any,
) -> str:
    """:func:`label` of a message with ``{placeholders}``, each language filled in with
    ``values``."""
    en = (message if english is None else english).format(**values)
    if labels == "en":
        return en
    if labels == "bilingual" and short is not None:
        return f"{chinese(short)}{sep}{en}"
    zh = chinese(message).format(**values)
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
