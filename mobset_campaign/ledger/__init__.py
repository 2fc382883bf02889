"""The campaign ledger: one SQLite file that remembers everything sent and fetched.

The ledger is what makes a campaign safe to interrupt. It holds

* **campaigns** and their **messages** (one per spreadsheet row: a stable row key, phone,
  content, parts, state, batch, SmsId, the gateway's code and text, timestamps);
* **batches**: one row per SmsSend request (who claimed it, when the gateway answered, its
  code, the TimerSend/AddNum used);
* the **inbox**: the raw body of every SmsGetReport/SmsGetRecv answer, committed before it
  is parsed, because the gateway hands out each report and reply once only;
* parsed **reports** and **replies** (unique per body and position, so parsing a body again
  changes nothing), including reports for SmsIds this ledger never sent;
* the **suppression** (opt-out) list, which spans campaigns.

The message states are in :mod:`mobset_campaign.states`. One :class:`Ledger` is made of
parts, one module each:

==================  ========================================================================
``_store``          the connection: WAL, ``BEGIN IMMEDIATE`` transactions, migrations
``_schema``         the numbered migrations
``sending``         registration, recovery after a crash, scheduled messages, counts
``claims``          claims: a request's messages, taken durably before it goes out
``recording``       the gateway's answers, and answers kept aside when the ledger refused them
``inbox``           raw bodies before parsing, reports and replies, kept bodies
``locks``           leases: senders share a campaign, resend_unknown and cancel hold it alone
``_group``          group commit: concurrent claims and answers share one transaction
``_postgres``       the PostgreSQL dialect: placeholders, errors, serial transactions
``copying``         ``ledger copy``: a whole ledger from one backend to the other
``optout``          the opt-out reply words and the suppression list
``frames``          the DataFrame views
==================  ========================================================================

SQLite details: WAL mode, explicit ``BEGIN IMMEDIATE`` transactions, ``synchronous=FULL`` for
claims, answers and inbox bodies (``NORMAL`` elsewhere), the claims and answers of concurrent
workers grouped into one commit; numbered migrations recorded in the ``migrations`` table
(the same numbers on PostgreSQL).

>>> with Ledger(":memory:") as ledger:
...     ledger.ensure_campaign("spring")
...     ledger.register("spring", [("13512346789", "13512346789", "hi", 1)]).new
...     ledger.counts("spring")["pending"]
1
1
"""

from __future__ import annotations

from typing import Any

from ._store import default_ledger_path, ledger_exists, shown_location
from .claims import Claim, Claimed
from .copying import CopyReport, copy_ledger
from .frames import STATUS_FRAME_COLUMNS, Frames
from .inbox import Applied, Inbox
from .locks import Holder
from .optout import Suppression, is_opt_out
from .recording import Outcome
from .sending import CancelOutcome, PendingMessage, Registered, Sending

# The records other modules pass to and get from a Ledger; the rest of each part's names
# are imported from the part itself (``mobset_campaign.ledger.sending`` …).
__all__ = [
    "STATUS_FRAME_COLUMNS",
    "Applied",
    "CancelOutcome",
    "Claim",
    "Claimed",
    "CopyReport",
    "Holder",
    "Ledger",
    "Outcome",
    "PendingMessage",
    "Registered",
    "account_key",
    "copy_ledger",
    "default_ledger_path",
    "is_opt_out",
    "ledger_exists",
    "shown_location",
]


class Ledger(Sending, Inbox, Suppression, Frames):
    """The ledger of one or more accounts: a SQLite file, or a shared PostgreSQL database.

    Args:
        path: the database file (created with its folder's permission), ``":memory:"``
            for a throw-away ledger, or a ``postgresql://user@host:5432/db`` URL (the
            ``postgres`` extra; the password is never shown in messages or reprs). By default
            :func:`default_ledger_path`: ``MOBSET_LEDGER``, else ``ledger.sqlite`` in the
            user's data folder — the same ledger whatever the working folder. ``created`` says
            whether opening it created the file (or the tables).
        read_only: open an existing ledger for reading only (nothing is created, upgraded or
            written; a write raises :class:`~mobset_campaign.errors.LedgerError`). This
            reads a ledger on read-only media; ``status`` and ``export`` open ledgers so.

    Raises:
        LedgerError: the file cannot be opened, is not a ledger, or was written by a newer
            version of mobset_campaign (read-only: or an older one, which needs upgrading).

    A ledger may be shared between threads and opened by several processes at once (SQLite
    WAL); a PostgreSQL ledger by any number of processes on any hosts, several senders of one
    campaign included (row locks with ``SKIP LOCKED``; see :mod:`mobset_campaign.ledger.locks`). Use it as a context manager or call
    :meth:`close`. The campaign's status at a glance is
    :func:`mobset_campaign.campaign_status`.
    """


def account_key(client: Any) -> str:
    """The account a client sends and fetches for, as the ledger records it
    (``"<CorpID>:<LoginName>"``): reports and replies are matched within one account."""
    return f"{getattr(client, 'corp_id', '')}:{getattr(client, 'login_name', '')}"
