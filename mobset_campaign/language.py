"""Choose the language of messages, summaries, errors and the command line's help.

Chinese or English: :func:`set_language` in a notebook, else ``MOBSET_LANG=zh|en``, else the
locale (``LANG=zh_CN.UTF-8`` → Chinese), else English. The workbook's labels have a third
choice, ``"bilingual"`` (``发送状态 send_state``), its default; see
:func:`mobset_campaign.export_excel`.

>>> set_language("zh"); get_language()
'zh'
>>> set_language(None)  # back to MOBSET_LANG / the locale
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._i18n import (
    LANGUAGES,
    current_language,
    language_override,
    normal_language,
    set_process_language,
)
from ._i18n import gettext as _
from .errors import InputError

__all__ = ["LABEL_LANGUAGES", "LANGUAGES", "get_language", "label_language", "set_language",
           "using_language"]

#: The languages of the workbook's and the charts' labels: one of the two, or both.
LABEL_LANGUAGES = ("bilingual", *LANGUAGES)


def _checked(language: str) -> str:
    found = normal_language(language) if isinstance(language, str) else None
    if found is None:
        raise InputError(
            _("language={value!r} is not a language of mobset_campaign: use 'zh' or 'en'.").format(
                value=language
            )
        )
    return found


def set_language(language: str | None) -> None:
    """Messages in ``"zh"`` (Chinese) or ``"en"`` (English) from now on, in this process;
    ``None`` goes back to ``MOBSET_LANG`` and the locale."""
    set_process_language(None if language is None else _checked(language))


def get_language() -> str:
    """The language of the next message: ``"zh"`` or ``"en"``."""
    return current_language()


@contextmanager
def using_language(language: str) -> Iterator[None]:
    """Messages in ``language`` inside a ``with`` block (this thread only).

    >>> with using_language("en"):
    ...     get_language()
    'en'
    """
    with language_override(_checked(language)):
        yield


def label_language(labels: str | None) -> str:
    """The workbook's label choice checked: ``"bilingual"``, ``"zh"`` or ``"en"``
    (``None``: bilingual, the workbook's default)."""
    if labels is None:
        return "bilingual"
    if isinstance(labels, str) and labels.strip().lower() in ("bilingual", "both"):
        return "bilingual"
    found = normal_language(labels) if isinstance(labels, str) else None
    if found is None:
        raise InputError(
            _("labels={value!r} is not a label language: use 'bilingual', 'zh' or 'en'.").format(
                value=labels
            )
        )
    return found
