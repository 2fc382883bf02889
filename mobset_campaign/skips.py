"""Why a row is not sent, in words: the skip reasons :mod:`mobset_campaign.rows` writes into a
frame (a merged frame's ``send_error``), in the language of messages, and read back in either
language.

The kinds (:class:`Skip`) are English ids whatever the language: summaries, the estimate and
the workbook count rows by them. The words are written in the language of messages, as
:mod:`mobset_campaign.phones` writes its ``phone_problem`` texts (a duplicate row is worded by
it: ``duplicate of row 7``, ``重复号码，同第 7 行``); :func:`skip_kind` tells the kind of a text
in either language, so a frame merged in Chinese and one merged in English count alike.

>>> words = SkipWords()
>>> words.of(Skip.NO_PHONE), words.not_sendable("too long"), words.duplicates([7])
('no phone number', 'not sendable: too long', ['duplicate of row 7'])
>>> skip_kind("not sendable: too long"), skip_kind("duplicate of row 7"), skip_kind("bounced")
('not sendable', 'duplicate', None)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import cache

from ._i18n import LANGUAGES, N_, language_override
from ._i18n import gettext as _
from .phones import DUPLICATE, OPTED_OUT, problem_parts, problem_text

__all__ = ["NOT_REGISTERED", "Skip", "SkipWords", "not_registered", "skip_kind"]


class Skip(StrEnum):
    """Why a row is not sent, in the order the checks are made."""

    PHONE = "phone problem"  #: the row's ``phone_problem`` (read_contacts' check)
    NO_PHONE = "no phone number"
    OPTED_OUT = "opted out"  #: the number is on the suppression list
    EMPTY_MESSAGE = "empty message"
    TOO_LONG = "too long"  #: longer than the rules allow (``sendable`` is false)
    NOT_SENDABLE = "not sendable"  #: ``sendable`` is false for another reason
    DUPLICATE = "duplicate"  #: another row of the number has the message
    ALREADY_MESSAGED = "already messaged in this campaign"  #: the ledger refused a second one


#: The kind of a row that could be sent but has no message in the ledger (merge_status).
NOT_REGISTERED = "not registered"

#: The words of each kind (message ids); a phone problem is worded by phones, and so are
#: "opted out" and a duplicate.
_TEXTS = {
    Skip.NO_PHONE: N_("no phone number"),
    Skip.EMPTY_MESSAGE: N_("empty message"),
    Skip.TOO_LONG: N_("too long"),
    Skip.NOT_SENDABLE: N_("not sendable"),
    Skip.ALREADY_MESSAGED: N_("already messaged in this campaign"),
}
_NOT_SENDABLE_SAID = N_("not sendable: {warnings}")
_NOT_REGISTERED_IN = N_(
    "not registered in campaign {campaign!r} (send() has not been run with this row, or it "
    "was a dry run)"
)
_NOT_REGISTERED_HERE = N_(
    "not registered in the campaign (send() has not been run with this row, or it was a dry run)"
)


class SkipWords:
    """The skip reasons in the language of messages, each looked up once (one per call of
    :func:`mobset_campaign.rows.skip_reasons`, however many rows)."""

    def __init__(self) -> None:
        self._kinds = {kind: _(text) for kind, text in _TEXTS.items()}
        self._kinds[Skip.OPTED_OUT] = problem_text(OPTED_OUT)
        self._said = _(_NOT_SENDABLE_SAID)
        self._duplicate = problem_parts(DUPLICATE)

    def of(self, kind: Skip) -> str:
        """The words of ``kind`` (its own name for a kind without words)."""
        return self._kinds.get(kind, str(kind))

    def not_sendable(self, warnings: str) -> str:
        """``not sendable: <warnings>``, or ``not sendable`` without any."""
        return self._said.format(warnings=warnings) if warnings else self._kinds[Skip.NOT_SENDABLE]

    def duplicates(self, rows: Iterable[object]) -> list[str]:
        """``duplicate of row N`` for each row number N (the row that has the message)."""
        head, tail = self._duplicate
        return [f"{head}{row}{tail}" for row in rows]


def not_registered(campaign: str | None) -> str:
    """Why a row that could be sent has no message in the ledger.

    >>> not_registered("spring")
    "not registered in campaign 'spring' (send() has not been run with this row, or it was a dry run)"
    """
    if campaign is None:
        return _(_NOT_REGISTERED_HERE)
    return _(_NOT_REGISTERED_IN).format(campaign=campaign)


@cache
def _starts(language: str) -> tuple[tuple[str, str], ...]:
    """(the start of a reason's words, its kind) in ``language``, the longest starts first
    (read once per process: a summary asks for every row)."""
    with language_override(language):
        found = [(_(text), str(kind)) for kind, text in _TEXTS.items()]
        found.append((problem_text(OPTED_OUT), str(Skip.OPTED_OUT)))
        found.append((problem_parts(DUPLICATE)[0], str(Skip.DUPLICATE)))
        found.append((_(_NOT_SENDABLE_SAID).partition("{")[0], str(Skip.NOT_SENDABLE)))
        for text in (_NOT_REGISTERED_IN, _NOT_REGISTERED_HERE):
            found.append((_(text).partition("{")[0], NOT_REGISTERED))
    return tuple(sorted({p for p in found if p[0].strip()}, key=lambda p: -len(p[0])))


def skip_kind(text: str) -> str | None:
    """The kind of a skip reason this module wrote, in any language (a :class:`Skip` value,
    or :data:`NOT_REGISTERED`); None for any other text (a phone problem, a user's own).

    >>> skip_kind("no phone number"), skip_kind("opted out"), skip_kind("not registered in x")
    ('no phone number', 'opted out', None)
    """
    text = str(text).strip()
    for language in LANGUAGES:
        for start, kind in _starts(language):
            if text.startswith(start):
                return kind
    return None
