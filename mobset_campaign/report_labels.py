"""The words of the campaign summary: its sections, its items, the kinds of skip reasons —
in Chinese, in English, or both side by side (``已送达 Delivered``, the workbook's default).

:func:`mobset_campaign.summarize` and the workbook's summary sheet name things through these
functions, so both read the same; :func:`summary_labels` says which language a ``labels=``
choice (or the language of messages) gives.
"""

from __future__ import annotations

import re

from ._i18n import current_language
from .language import label_language
from .phones import DIGITS_LOST, EMPTY, NOT_MOBILE, SEVERAL, problem_kind
from .rows import Skip
from .skips import NOT_REGISTERED, skip_kind

__all__ = [
    "SECTION_BASES",
    "SKIP_KIND_LABELS",
    "pick_label",
    "reason_kind",
    "section_bases",
    "section_label",
    "skip_kind_label",
    "summary_labels",
]

#: The sections of the summary (Chinese, English) and what their ``share`` is a part of.
_SECTIONS: dict[str, tuple[str, str, str]] = {
    "overview": ("概况", "Overview", "rows"),
    "state": ("发送状态", "By send state", "rows"),
    "status": ("回执状态", "By delivery status", "accepted"),
    "carrier": ("运营商代码", "By carrier code (ExStatus)", "accepted"),
    "skipped": ("跳过原因", "Skipped by reason", "rows"),
}
_BASES: dict[str, tuple[str, str]] = {
    "rows": ("占总行数", "of rows"),
    "accepted": ("占已提交", "of accepted"),
}


def summary_labels(labels: str | None = None) -> str:
    """The label language of the summary: ``labels`` checked (``"bilingual"``, ``"zh"``,
    ``"en"``), or for ``None`` the language of messages — Chinese labels in Chinese; in
    English the bilingual labels (``已送达 Delivered``) the summary has always shown.

    >>> summary_labels("zh"), summary_labels("both")
    ('zh', 'bilingual')
    """
    if labels is None:
        return "zh" if current_language() == "zh" else "bilingual"
    return label_language(labels)


def pick_label(zh: str, en: str, labels: str, alone: str | None = None) -> str:
    """A label in ``labels`` (already checked); ``alone`` is the Chinese when it stands
    without the English (a fuller wording), else ``zh``."""
    if labels == "en":
        return en
    if labels == "zh":
        return alone or zh
    return f"{zh} {en}"


def section_label(key: str, labels: str) -> str:
    zh, en, _base = _SECTIONS[key]
    return pick_label(zh, en, labels)


def section_bases(labels: str | None = None) -> dict[str, str]:
    """``{section: what its share is a part of}`` in a label language (see
    :func:`summary_labels`): the heading of each section's share column.

    >>> section_bases("zh")["回执状态"], section_bases("en")["Overview"]
    ('占已提交', 'of rows')
    """
    chosen = summary_labels(labels)
    return {
        pick_label(zh, en, chosen): pick_label(*_BASES[base], chosen)
        for zh, en, base in _SECTIONS.values()
    }


#: What the ``share`` column of each summary section is a fraction of (bilingual labels,
#: the workbook's; :func:`section_bases` for the others).
SECTION_BASES: dict[str, str] = section_bases("bilingual")


# --------------------------------------------------------------------------------------
# why rows were skipped, by kind

#: Each kind of skip reason as the summary names it: ``{kind: (Chinese, English)}``, the
#: English being the words :mod:`mobset_campaign.rows` and :mod:`mobset_campaign.phones`
#: use for it (the key).
SKIP_KIND_LABELS: dict[str, tuple[str, str]] = {
    kind: (words, kind)
    for kind, words in (
        (problem_kind(NOT_MOBILE), "不是手机号"),
        (problem_kind(EMPTY), "号码为空"),
        (problem_kind(DIGITS_LOST), "号码位数丢失"),
        (problem_kind(SEVERAL), "一格多个号码"),
        (str(Skip.DUPLICATE), "重复号码"),
        (str(Skip.OPTED_OUT), "已退订"),
        (str(Skip.NO_PHONE), "没有号码"),
        (str(Skip.EMPTY_MESSAGE), "短信为空"),
        (str(Skip.TOO_LONG), "超长"),
        (str(Skip.NOT_SENDABLE), "不可发送"),
        (str(Skip.ALREADY_MESSAGED), "本活动已发过"),
    )
}
_NOT_REGISTERED = NOT_REGISTERED
_NOT_REGISTERED_LABEL = (
    "未登记",
    "not registered (not sent yet, or only a dry run)",
    "未登记（尚未发送，或只做了试运行）",
)


def skip_kind_label(kind: str, labels: str | None = None) -> str:
    """A kind of skip reason (``duplicate``, ``not a mainland mobile`` …: the keys of
    :data:`SKIP_KIND_LABELS`, as ``SendSummary.skipped`` and ``Estimate.not_sendable``
    count rows) in a label language (:func:`summary_labels`); a kind the package did not
    write is shown as it is.

    >>> skip_kind_label("duplicate", "zh"), skip_kind_label("duplicate", "bilingual")
    ('重复号码', '重复号码 duplicate')
    """
    pair = SKIP_KIND_LABELS.get(str(kind))
    return pick_label(*pair, summary_labels(labels)) if pair else str(kind)


#: Skip reasons that are texts of their own (the rest are phone problems).
_SKIP_TEXTS = tuple(str(k) for k in Skip if k is not Skip.PHONE)
_CJK_PREFIX = re.compile(r"^[^\x00-\x7f]+\s+(?=[\x00-\x7f])")


def _english_kind(text: str) -> str | None:
    """The kind of a reason in :mod:`rows`' / :mod:`phones`' words, None if unknown."""
    for skip in _SKIP_TEXTS:
        if text.startswith(skip):
            return skip
    if text.startswith(_NOT_REGISTERED):
        return _NOT_REGISTERED
    found = skip_kind(text)  # the words of another language (rows writes them translated)
    if found is not None:
        return found
    kind = problem_kind(text)
    return kind if kind in SKIP_KIND_LABELS else None


def reason_kind(reason: str, labels: str | None = None) -> str:
    """The kind of a skip reason, as the summary counts rows by it: ``不是手机号 not a
    mainland mobile`` for ``not a mainland mobile: 020-1234567 (a landline)``. The reason
    itself (with its example) stays in the details' ``send_error``.

    A reason that starts with Chinese words (``空号码 empty``) is read by its English part; a
    reason the package did not write counts under its part before a colon. ``labels``: see
    :func:`summary_labels`.

    >>> reason_kind("not a mainland mobile: 020-1234567 (a landline)")
    '不是手机号 not a mainland mobile'
    >>> reason_kind("duplicate of row 7"), reason_kind("bounced: last month")
    ('重复号码 duplicate', 'bounced')
    """
    text = str(reason).strip()
    kind = _english_kind(text) or _english_kind(_CJK_PREFIX.sub("", text))
    if kind == _NOT_REGISTERED:
        zh, en, alone = _NOT_REGISTERED_LABEL
        return pick_label(zh, en, summary_labels(labels), alone)
    if kind is None:
        return problem_kind(text)
    return skip_kind_label(kind, labels)  # a reason added to rows.Skip without words: as is
