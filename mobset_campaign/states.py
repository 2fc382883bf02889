"""Every state a campaign's message can be in — the only list of them — with the sets the
rest of the package asks about, the Chinese labels, what each state means in a line a
marketer understands (:data:`STATE_MEANINGS`, Chinese and English) and the colours they are
shown in.

A sendable row becomes a *message* in the ledger and moves through these states::

    pending ──claim──▶ claimed ──answer──▶ sent ──report──▶ delivered / failed / undetermined
       ▲                  │                  └──cancel──▶ cancelled
       └──nothing accepted┤──SmsId 0 / code──▶ rejected
                          └──no answer / crash──▶ unknown  (never re-sent automatically)

A final report moves a message to its outcome (:func:`outcome_state`): Status 12 is
``delivered``; 2–7, 11 and 13 are ``failed``; 15 (未知状态) is ``undetermined`` — final, so
nobody waits for it, but neither delivered nor failed, and counted apart in every rate.

A row that never became a message (no valid number, opted out, an empty text …) is
``skipped`` in :func:`mobset_campaign.merge_status`; it has no state in the ledger.

>>> ACCEPTED_STATES
('sent', 'delivered', 'failed', 'undetermined')
>>> sql_list(REPORTED_STATES)
"'delivered', 'failed', 'undetermined'"
>>> [outcome_state(s) for s in (10, 12, 13, 15)]
['sent', 'delivered', 'failed', 'undetermined']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._i18n import N_, NC_, current_language
from ._labels import LabelTable, chinese
from .codes import is_final_status

__all__ = [
    "ACCEPTED_STATES",
    "ANSWERABLE_STATES",
    "MESSAGE_STATES",
    "REPORTED_STATES",
    "ROW_STATES",
    "SKIPPED",
    "STATE_COLOURS",
    "STATE_CONTEXT",
    "STATE_LABELS",
    "STATE_MEANINGS",
    "UNANSWERED_STATES",
    "UNSENT_STATES",
    "outcome_state",
    "sql_list",
    "state_label",
    "state_meaning",
]

#: Every state of a message in the ledger, in the order of the diagram above.
MESSAGE_STATES: tuple[str, ...] = (
    "pending",
    "claimed",
    "sent",
    "delivered",
    "failed",
    "undetermined",
    "rejected",
    "unknown",
    "cancelled",
)
#: The state of a row that never became a message.
SKIPPED = "skipped"
#: Every ``send_state`` a merged row can show.
ROW_STATES: tuple[str, ...] = (*MESSAGE_STATES, SKIPPED)

#: The gateway accepted the message: it has an SmsId and it is billed.
ACCEPTED_STATES: tuple[str, ...] = ("sent", "delivered", "failed", "undetermined")
#: Accepted, and a final report came: the message's outcome is known (or known to be unknown).
REPORTED_STATES: tuple[str, ...] = ("delivered", "failed", "undetermined")
#: A request went out for the message and its answer may still be recorded onto it.
ANSWERABLE_STATES: tuple[str, ...] = ("claimed", "unknown")
#: Not sent yet: waiting, or claimed by a run whose request has not been answered.
UNSENT_STATES: tuple[str, ...] = ("pending", "claimed")
#: What a request's messages become when it got no answer per number: refused as a whole,
#: outcome unknown, or back to pending (nothing was accepted).
UNANSWERED_STATES: tuple[str, ...] = ("rejected", "unknown", "pending")

#: The ``pgettext`` context of a state's label (``skipped`` is 已跳过 here, 跳过 elsewhere).
STATE_CONTEXT = "send state"

#: Each row state with its label's message id (the state itself, in :data:`STATE_CONTEXT`),
#: in the order a report lists them (outcome first).
_STATE_MESSAGES: dict[str, str] = {
    "delivered": NC_("send state", "delivered"),
    "sent": NC_("send state", "sent"),
    "failed": NC_("send state", "failed"),
    "undetermined": NC_("send state", "undetermined"),
    "rejected": NC_("send state", "rejected"),
    "unknown": NC_("send state", "unknown"),
    "cancelled": NC_("send state", "cancelled"),
    "claimed": NC_("send state", "claimed"),
    "pending": NC_("send state", "pending"),
    SKIPPED: NC_("send state", "skipped"),
}


def _chinese_state(message: str) -> str:
    return chinese(message, STATE_CONTEXT)


#: Each row state with its Chinese label (``已送达``), in the order a report lists them
#: (outcome first); read-only, the Chinese from the catalog.
STATE_LABELS: Mapping[str, str] = LabelTable(_STATE_MESSAGES, _chinese_state)

#: What each row state means, in a line a marketer understands: ``(Chinese, English)``
#: (the English is the message id; read-only, the Chinese from the catalog).
STATE_MEANINGS: Mapping[str, tuple[str, str]] = LabelTable(
    {
        "delivered": N_("the carrier's report says it reached the phone"),
        "sent": N_("the gateway accepted (and billed) it; waiting for the carrier's report"),
        "failed": N_(
            "the carrier's report says it did not reach the phone (no such number, switched "
            "off, blocked …)"
        ),
        "undetermined": N_(
            "the final report is 'unknown' (status 15): neither delivered nor failed"
        ),
        "rejected": N_(
            "the gateway refused it: not sent and not billed (text, signature, number or account)"
        ),
        "unknown": N_(
            "the request went out but no answer came back: it may have been sent; never "
            "re-sent automatically"
        ),
        "cancelled": N_("a scheduled message cancelled before it went out"),
        "claimed": N_("handed to the gateway, waiting for its answer"),
        "pending": N_("registered, not sent yet"),
        SKIPPED: N_(
            "this row was not sent (a bad or duplicate number, opted out, an empty or too "
            "long text)"
        ),
    },
    lambda message: (chinese(message), message),
)

#: (fill, font colour) of each row state: Excel's own Good / Bad / Neutral palette.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "delivered": ("C6EFCE", "006100"),
    "sent": ("DDEBF7", "1F4E78"),
    "failed": ("FFC7CE", "9C0006"),
    "undetermined": ("FCE4D6", "833C0B"),
    "rejected": ("FFC7CE", "9C0006"),
    "unknown": ("FFEB9C", "9C5700"),
    "cancelled": ("E4DFEC", "5B3E83"),
    "claimed": ("D9D9D9", "404040"),
    "pending": ("D9D9D9", "404040"),
    SKIPPED: ("F2F2F2", "7F7F7F"),
}


def sql_list(states: Iterable[str]) -> str:
    """States as the inside of an SQL ``IN (…)``: quoted literals, comma-separated."""
    return ", ".join(f"'{state}'" for state in states)


def outcome_state(status: int) -> str:
    """The state a message takes on a report with this vendor ``Status``: ``delivered``
    (12), ``undetermined`` (15, final but neither), ``failed`` (any other final status), or
    ``sent`` while the status is interim (0, 1, 10)."""
    if status == 12:
        return "delivered"
    if status == 15:
        return "undetermined"
    return "failed" if is_final_status(status) else "sent"


def _language(language: str | None) -> str:
    return current_language() if language is None else language


def state_label(state: str, labels: str | None = None) -> str:
    """A row state as a report names it: ``已送达`` (``"zh"``), ``delivered`` (``"en"``: the
    state itself) or ``delivered 已送达`` (``"bilingual"``); ``None``: the language of
    messages. A state this module does not know is shown as it is.

    >>> state_label("unknown", "zh"), state_label("unknown", "en"), state_label("sent", "bilingual")
    ('结果未知', 'unknown', 'sent 已提交待回执')
    """
    if state not in STATE_LABELS:
        return str(state)
    language = _language(labels)
    if language == "en":
        return state
    zh = STATE_LABELS[state]
    return zh if language == "zh" else f"{state} {zh}"


def state_meaning(state: str, language: str | None = None) -> str:
    """What a row state means, in one line (:data:`STATE_MEANINGS`), in ``language``
    (``"zh"``/``"en"``; ``None``: the language of messages; ``"bilingual"``: both);
    ``""`` for a state this module does not know.

    >>> state_meaning("cancelled", "zh")
    '定时短信在发送前被取消'
    """
    if state not in STATE_MEANINGS:
        return ""
    zh, en = STATE_MEANINGS[state]
    language = _language(language)
    if language == "bilingual":
        return f"{zh} {en}"
    return zh if language == "zh" else en
