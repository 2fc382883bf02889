"""The language of every message: gettext catalogs, chosen per call.

The text in the code is English and is the message id; the Chinese is in the catalog
``locale/zh/LC_MESSAGES/mobset_campaign.po`` (edited by people, with Babel's tools), compiled
to ``.mo`` by the build (``setup.py``). When the ``.mo`` is missing or older than its ``.po``
(a checkout being worked on) the catalog is compiled in memory from the ``.po`` instead, so
a translation edited is a translation seen.

The language is looked up on every call, so a notebook's :func:`mobset_campaign.set_language`
or a ``MOBSET_LANG`` set in a test applies to the next message: the choice set in this
process, else ``MOBSET_LANG`` (``zh``/``en``), else the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG`` starting with ``zh``), else English. Use it as::

    from ._i18n import gettext as _, ngettext

    raise InputError(_("Row {row}: the phone is empty.").format(row=row))

A message defined at import time (a table of labels) is marked with :func:`N_` and
translated where it is shown: ``_(LABEL)`` (:func:`NC_` marks one of :func:`pgettext`'s). Placeholders are ``str.format`` names, the same
in both languages (a test walks the catalog).

>>> with language_override("zh"):
...     format_count(12680), format_day(date(2026, 12, 25)), gettext("no such message")
('12,680', '2026年12月25日', 'no such message')
>>> with language_override("en"):
...     format_day(date(2026, 12, 25))
'2026-12-25'
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from pathlib import Path

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "NC_",
    "N_",
    "current_language",
    "format_count",
    "format_day",
    "format_moment",
    "gettext",
    "language_override",
    "ngettext",
    "normal_language",
    "pgettext",
    "set_process_language",
]

#: The gettext domain: ``<LOCALE_DIR>/<lang>/LC_MESSAGES/mobset_campaign.mo``.
DOMAIN = "mobset_campaign"
#: Where the catalogs live, inside the package.
LOCALE_DIR = Path(__file__).with_name("locale")
#: The languages messages are written in: English (the message ids) and Chinese.
LANGUAGES = ("en", "zh")

_chosen: str | None = None  # set_language's choice for this process
_local = threading.local()  # language_override's choice for this thread


def normal_language(value: str | None) -> str | None:
    """``"zh"`` or ``"en"`` for a language name as users write it (``zh_CN.UTF-8``,
    ``zh-Hans``, ``Chinese``, ``中文``, ``EN``), ``None`` for anything else.

    >>> [normal_language(v) for v in ("zh_CN.UTF-8", "zh-Hant", "中文", "en_US", "C", "fr")]
    ['zh', 'zh', 'zh', 'en', None, None]
    """
    text = (value or "").strip().lower()
    if text.startswith(("zh", "chinese", "中文", "汉语", "cn")):
        return "zh"
    if text.startswith(("en", "english", "英文")):
        return "en"
    return None


def _from_locale() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:  # the first one set decides, as the C library does
            return "zh" if normal_language(value) == "zh" else "en"
    return "en"


def current_language() -> str:
    """The language of the next message: ``"zh"`` or ``"en"`` (see the module's text)."""
    override = getattr(_local, "language", None)
    if override is not None:
        return str(override)
    if _chosen is not None:
        return _chosen
    env = normal_language(os.environ.get("MOBSET_LANG"))
    return env if env is not None else _from_locale()


def set_process_language(language: str | None) -> None:
    """Fix the language for this process (``None``: back to the environment's choice).
    ``language`` must already be ``"zh"``, ``"en"`` or ``None``; the public
    :func:`mobset_campaign.set_language` checks what a user wrote."""
    global _chosen
    _chosen = language


@contextmanager
def language_override(language: str) -> Iterator[None]:
    """Messages in ``language`` inside the ``with`` block, in this thread only."""
    before = getattr(_local, "language", None)
    _local.language = language
    try:
        yield
    finally:
        _local.language = before


@cache
def _compiled(language: str, po_mtime_ns: int) -> _gettext.NullTranslations:
    """The catalog of ``language``: its ``.mo``, or the ``.po`` compiled in memory when the
    ``.mo`` is missing or older (``po_mtime_ns`` keys the cache: an edited ``.po`` reloads)."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    try:
        if mo.is_file() and (not po.is_file() or mo.stat().st_mtime_ns >= po_mtime_ns):
            with mo.open("rb") as handle:
                return _gettext.GNUTranslations(handle)
        if po.is_file():
            from babel.messages.mofile import write_mo
            from babel.messages.pofile import read_po

            with po.open("rb") as handle:
                catalog = read_po(handle, locale=language, domain=DOMAIN)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return _gettext.GNUTranslations(buffer)
    except (OSError, ValueError) as exc:  # a damaged catalog: English, and say why once
        import warnings

        warnings.warn(
            f"The {language} message catalog could not be read ({exc}); messages stay in English.",
            RuntimeWarning,
            stacklevel=3,
        )
    return _gettext.NullTranslations()


_NULL = _gettext.NullTranslations()
_RECHECK_SECONDS = 2.0  # how often an edited .po is looked for: a stat per message is slow
_stamps: dict[str, tuple[float, int]] = {}


def _translations() -> _gettext.NullTranslations:
    language = current_language()
    if language == "en":
        return _NULL
    now = time.monotonic()
    seen = _stamps.get(language)
    if seen is None or now - seen[0] > _RECHECK_SECONDS:
        try:
            stamp = (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").stat().st_mtime_ns
        except OSError:
            stamp = 0
        seen = _stamps[language] = (now, stamp)
    return _compiled(language, seen[1])


def gettext(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the current language."""
    return _translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, told apart by ``context`` from the same English
    with another meaning (``pgettext("summary", "Delivered")``)."""
    return _translations().pgettext(context, message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (a label defined at import
    time); translate it where it is shown with ``gettext(message)``."""
    return message


def NC_(context: str, message: str) -> str:
    """Mark ``message`` for the catalog in ``context`` (as :func:`pgettext` would), without
    translating it now; return the message. Translate it where it is shown with
    ``pgettext(context, message)``."""
    return message


def format_count(n: int | float) -> str:
    """A count with thousands separators, the same in both languages: ``12,680``."""
    return f"{n:,}"


def format_day(day: date | datetime) -> str:
    """A date: ``2026年12月25日`` in Chinese, ``2026-12-25`` in English."""
    if current_language() == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day:%Y-%m-%d}"


def format_moment(moment: datetime) -> str:
    """A date and time to the second: ``2026年12月25日 09:05:03`` / ``2026-12-25 09:05:03``."""
    return f"{format_day(moment)} {moment:%H:%M:%S}"
