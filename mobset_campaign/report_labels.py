"""The words of the campaign summary: its sections, its items, the kinds of skip reasons —
in Chinese, in English, or both side by side (``已送达 Delivered``, the workbook's default).

:func:`mobset_campaign.summarize` and the workbook's summary sheet name things through these
functions, so both read the same; :func:`summary_labels` says which language a ``labels=``
choice (or the language of messages) gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._i18n import N_, NC_, current_language
from ._labels import LabelTable, chinese, label
from .language import label_language
from .phones import DIGITS_LOST, EMPTY, NOT_MOBILE, SEVERAL, problem_kind
from .rows import Skip
from .skips import NOT_REGISTERED, skip_kind

__all__ = [
    "SECTION_BASES",
    "SKIP_KIND_CONTEXT",
    "SKIP_KIND_LABELS",
    "bracketed",
    "item_label",
    "reason_kind",
    "section_bases",
    "section_label",
    "skip_kind_label",
    "summary_labels",
]

#: The sections of the summary (their labels' message ids) and what their ``share`` is a
#: part of.
_SECTIONS: dict[str, tuple[str, str]] = {
    "overview": (N_("Overview"), "rows"),
    "state": (N_("By send state"), "rows"),
    "status": (N_("By delivery status"), "accepted"),
    "carrier": (N_("By carrier code (ExStatus)"), "accepted"),
    "skipped": (N_("Skipped by reason"), "rows"),
}
_BASES: dict[str, str] = {"rows": N_("of rows"), "accepted": N_("of accepted")}


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


def item_label(
    message: str,
    labels: str,
    short: str | None = None,
    *,
    english: str | None = None,
    context: str | None = None,
) -> str:
    """A summary label in ``labels`` (already checked) from its English message id, the
    Chinese from the catalog (:func:`mobset_campaign._labels.label`): ``已送达 Delivered``,
    ``已送达``, ``Delivered``. ``short``: a message whose (shorter) Chinese stands beside
    the English, where the Chinese alone says more (``导出时间 Exported at (Beijing)``,
    ``导出时间（北京时间）``); ``english``: the English shown, when not the message id;
    ``context``: the ``pgettext`` context of ``message`` and ``short``.

    >>> item_label("Exported at (Beijing)", "bilingual", "Exported at")
    '导出时间 Exported at (Beijing)'
    >>> item_label("Exported at (Beijing)", "zh", "Exported at")
    '导出时间（北京时间）'
    """
    if labels == "bilingual" and short is not None:
        return f"{chinese(short, context)} {message if english is None else english}"
    return label(message, labels, english=english, context=context)


def bracketed(message: str, labels: str) -> str:
    """A summary item that is no value of its own, in brackets: ``(无状态 no state)``,
    ``（无状态）``, ``(no state)``.

    >>> bracketed("no report yet", "bilingual"), bracketed("no report yet", "zh")
    ('(未收到回执 no report yet)', '（未收到回执）')
    """
    if labels == "en":
        return f"({message})"
    if labels == "zh":
        return f"（{chinese(message)}）"
    return f"({label(message, labels)})"


def section_label(key: str, labels: str) -> str:
    return item_label(_SECTIONS[key][0], labels)


def section_bases(labels: str | None = None) -> dict[str, str]:
    """``{section: what its share is a part of}`` in a label language (see
    :func:`summary_labels`): the heading of each section's share column.

    >>> section_bases("zh")["回执状态"], section_bases("en")["Overview"]
    ('占已提交', 'of rows')
    """
    chosen = summary_labels(labels)
    return {
        item_label(message, chosen): item_label(_BASES[base], chosen)
        for message, base in _SECTIONS.values()
    }


#: What the ``share`` column of each summary section is a fraction of (bilingual labels,
#: the workbook's; :func:`section_bases` for the others).
SECTION_BASES: dict[str, str] = section_bases("bilingual")


# --------------------------------------------------------------------------------------
# why rows were skipped, by kind

#: The ``pgettext`` context of the labels of the kinds of skip reasons.
SKIP_KIND_CONTEXT = "kind of skip reason"

#: Each kind of skip reason with its label's message id: the words :mod:`mobset_campaign.rows`
#: and :mod:`mobset_campaign.phones` use for it (the key), in :data:`SKIP_KIND_CONTEXT`.
_SKIP_KIND_MESSAGES: dict[str, str] = {
    problem_kind(NOT_MOBILE): NC_("kind of skip reason", "not a mainland mobile"),
    problem_kind(EMPTY): NC_("kind of skip reason", "empty phone cell"),
    problem_kind(DIGITS_LOST): NC_("kind of skip reason", "digits lost in the spreadsheet"),
    problem_kind(SEVERAL): NC_("kind of skip reason", "several numbers in one cell"),
    str(Skip.DUPLICATE): NC_("kind of skip reason", "duplicate"),
    str(Skip.OPTED_OUT): NC_("kind of skip reason", "opted out"),
    str(Skip.NO_PHONE): NC_("kind of skip reason", "no phone number"),
    str(Skip.EMPTY_MESSAGE): NC_("kind of skip reason", "empty message"),
    str(Skip.TOO_LONG): NC_("kind of skip reason", "too long"),
    str(Skip.NOT_SENDABLE): NC_("kind of skip reason", "not sendable"),
    str(Skip.ALREADY_MESSAGED): NC_("kind of skip reason", "already messaged in this campaign"),
}


def _kind_pair(message: str) -> tuple[str, str]:
    return chinese(message, SKIP_KIND_CONTEXT), message


#: Each kind of skip reason as the summary names it: ``{kind: (Chinese, English)}``, the
#: English being the words :mod:`mobset_campaign.rows` and :mod:`mobset_campaign.phones`
#: use for it (the key); read-only, the Chinese from the catalog.
SKIP_KIND_LABELS: Mapping[str, tuple[str, str]] = LabelTable(_SKIP_KIND_MESSAGES, _kind_pair)
_NOT_REGISTERED = NOT_REGISTERED
#: Rows never registered in the campaign: the label, and its short Chinese beside the English.
_NOT_REGISTERED_LABEL = (
    NC_("kind of skip reason", "not registered (not sent yet, or only a dry run)"),
    NC_("kind of skip reason", "not registered"),
)


def skip_kind_label(kind: str, labels: str | None = None) -> str:
    """A kind of skip reason (``duplicate``, ``not a mainland mobile`` …: the keys of
    :data:`SKIP_KIND_LABELS`, as ``SendSummary.skipped`` and ``Estimate.not_sendable``
    count rows) in a label language (:func:`summary_labels`); a kind the package did not
    write is shown as it is.

    >>> skip_kind_label("duplicate", "zh"), skip_kind_label("duplicate", "bilingual")
    ('重复号码', '重复号码 duplicate')
    """
    message = _SKIP_KIND_MESSAGES.get(str(kind))
    if message is None:
        return str(kind)
    return item_label(message, summary_labels(labels), context=SKIP_KIND_CONTEXT)


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
        message, short = _NOT_REGISTERED_LABEL
        return item_label(message, summary_labels(labels), short, context=SKIP_KIND_CONTEXT)
    if kind is None:
        return problem_kind(text)
    return skip_kind_label(kind, labels)  # a reason added to rows.Skip without words: as is
