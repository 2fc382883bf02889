"""Who works on a campaign: the leases that ``send``, ``resend_unknown`` and ``cancel`` hold.

Each of those commands holds a lease on the campaign (a row in ``campaign_locks``) while it
runs, across threads, processes and (on a shared ledger) hosts:

* **several senders** may hold leases at once: they share the campaign's pending rows, a
  claim taking only rows still pending (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``), so
  none is taken twice — other processes, other hosts, other logins of the enterprise;
* ``resend_unknown`` and ``cancel`` need the campaign to themselves: one of them while a
  send (or the other) runs would turn live claims ``unknown`` and text those people again,
  or cancel under a sender's feet. Either gets a
  :class:`~mobset_campaign.errors.CampaignBusyError` naming a live holder (command, process,
  host, since), or waits when asked; a send waits for them likewise.

A holder is **alive** while its process runs: on the same host that is checked directly
(the process id, and its start time so a reused id is not mistaken for it); a holder on
another host must renew its heartbeat at least every :data:`LEASE` seconds. The lock of a
dead holder (a killed process, a host whose lease ran out) is removed when the next run
takes a lease, and only then may the claims it left turn ``unknown``; a live sender's claims
never do. Every claim checks, in its own transaction, that its run still holds its lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .._i18n import gettext as _
from .._protocol import BEIJING
from ..errors import CampaignBusyError, LedgerError
from ._store import Store, campaign_name

__all__ = [
    "HEARTBEAT",
    "LEASE",
    "LEASE_COLUMNS",
    "SHARED_COMMANDS",
    "Holder",
    "Locks",
    "holder_from_row",
]

_log = logging.getLogger(__name__)

#: The commands that may share a campaign with each other (and with nothing else).
SHARED_COMMANDS = frozenset({"send"})

#: Seconds after its last heartbeat that a holder on another host counts as dead.
LEASE = 90.0
#: Seconds between a holder's heartbeats.
HEARTBEAT = 15.0
_POLL = 0.5
#: The holders this process runs now: a lock row of this process that is not among them was
#: left by a run that could not give it back (its ledger refused the write), so it is dead.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def _process_start(pid: int) -> str | None:
    """When the process started (Linux: clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _running(pid: int, started: str | None) -> bool:
    """Whether the process ``pid`` of this host still runs (and is the same process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except OSError:
        return False
    if started is None:
        return True
    now = _process_start(pid)
    return now is None or now == started


@dataclass(frozen=True)
class Holder:
    """A run that holds a campaign."""

    campaign: str
    token: str
    command: str
    host: str
    pid: int
    started: str | None
    since: datetime
    heartbeat: datetime

    def alive(self, now: datetime | None = None) -> bool:
        """Whether the run is still going (see the module docstring)."""
        if self.host == socket.gethostname():
            if self.pid == os.getpid():
                with _ACTIVE_LOCK:
                    return self.token in _ACTIVE
            return _running(self.pid, self.started)
        now = now or datetime.now(UTC)
        return now - self.heartbeat < timedelta(seconds=LEASE)

    def busy_error(self) -> CampaignBusyError:
        since = self.since.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return CampaignBusyError(
            self.campaign, command=self.command, pid=self.pid, host=self.host, since=since
        )


class Locks(Store):
    """Campaign leases (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    def holders(self, campaign: str) -> list[Holder]:
        """Every run holding a lease on ``campaign`` (dead ones not yet removed included),
        oldest first."""
        campaign = campaign_name(campaign)
        rows = self._read(
            f"SELECT {LEASE_COLUMNS} FROM campaign_locks WHERE campaign = ? ORDER BY since, holder",
            (campaign,),
        )
        return [holder_from_row(r) for r in rows]

    def holder(self, campaign: str) -> Holder | None:
        """A live run holding ``campaign`` (else a dead one not yet removed), or None."""
        found = self.holders(campaign)
        return next((h for h in found if h.alive()), found[0] if found else None)

    def _try_lock(self, campaign: str, command: str) -> tuple[Holder | None, Holder | None]:
        """(our holder, None) when taken; (None, a live holder in the way) when busy. Dead
        holders' leases are removed (logged)."""
        me = Holder(
            campaign=campaign,
            token=secrets.token_hex(8),
            command=command,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=_process_start(os.getpid()),
            since=datetime.now(UTC),
            heartbeat=datetime.now(UTC),
        )
        # alive before its row can be seen: another thread of this process that takes a
        # lease meanwhile must not find the row without the token and remove it as dead
        with _ACTIVE_LOCK:
            _ACTIVE.add(me.token)
        taken = False
        other: Holder | None = None
        try:
            other = self._insert_lease(campaign, command, me)
            taken = other is None
        finally:
            if not taken:
                with _ACTIVE_LOCK:
                    _ACTIVE.discard(me.token)
        return (me, None) if taken else (None, other)

    def _insert_lease(self, campaign: str, command: str, me: Holder) -> Holder | None:
        """None when ``me`` now holds a lease, else the live holder in the way."""
        with self._tx(durable=True) as cur:
            rows = cur.execute(
                f"SELECT {LEASE_COLUMNS} FROM campaign_locks WHERE campaign = ? ORDER BY since, holder",
                (campaign,),
            ).fetchall()
            for other in map(holder_from_row, rows):
                if not other.alive():
                    _log.warning(
                        _(
                            "campaign {campaign!r}: removing the lease of {command} (process "
                            "{pid} on {host}), which is gone"
                        ).format(
                            campaign=campaign, command=other.command, pid=other.pid, host=other.host
                        )
                    )
                    cur.execute(
                        "DELETE FROM campaign_locks WHERE campaign = ? AND holder = ?",
                        (campaign, other.token),
                    )
                elif not (command in SHARED_COMMANDS and other.command in SHARED_COMMANDS):
                    return other
            cur.execute(
                "INSERT INTO campaign_locks (campaign, holder, command, host, pid, started, "
                "since, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign,
                    me.token,
                    command,
                    me.host,
                    me.pid,
                    me.started,
                    me.since.isoformat(),
                    me.heartbeat.isoformat(),
                ),
            )
        return None

    def lock_campaign(self, campaign: str, command: str, *, wait: float | None = 0) -> Holder:
        """Take the campaign for ``command``; wait up to ``wait`` seconds for a live holder
        (``None``: as long as it takes).

        Raises:
            CampaignBusyError: another live run holds it (after waiting, if asked).
        """
        campaign = campaign_name(campaign)
        deadline = None if wait is None else datetime.now(UTC) + timedelta(seconds=wait)
        while True:
            mine, other = self._try_lock(campaign, command)
            if mine is not None:
                return mine
            assert other is not None
            if deadline is not None and datetime.now(UTC) >= deadline:
                raise other.busy_error()
            time.sleep(_POLL)

    def unlock_campaign(self, holder: Holder) -> None:
        """Give the campaign back (only the run that holds it can)."""
        with _ACTIVE_LOCK:
            _ACTIVE.discard(holder.token)  # dead from now on, even if the row stays
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM campaign_locks WHERE campaign = ? AND holder = ?",
                (holder.campaign, holder.token),
            )

    def beat(self, holder: Holder) -> bool:
        """Renew the holder's heartbeat; False when it no longer holds the campaign."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE campaign_locks SET heartbeat = ? WHERE campaign = ? AND holder = ?",
                (datetime.now(UTC).isoformat(), holder.campaign, holder.token),
            )
            return cur.rowcount == 1

    @contextmanager
    def campaign_locked(
        self, campaign: str, command: str, *, wait: float | None = 0
    ) -> Iterator[Holder]:
        """Hold the campaign for the block, with a heartbeat, and give it back after."""
        holder = self.lock_campaign(campaign, command, wait=wait)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT):
                try:
                    if not self.beat(holder):
                        return
                except LedgerError as exc:  # the claims check the lock themselves
                    _log.warning(
                        _("campaign {campaign!r}: heartbeat failed: {error}").format(
                            campaign=campaign, error=exc
                        )
                    )

        thread = threading.Thread(target=beat, name="mobset-campaign-lock", daemon=True)
        thread.start()
        try:
            yield holder
        finally:
            stop.set()
            thread.join()
            with _ACTIVE_LOCK:
                _ACTIVE.discard(holder.token)
            with suppress(LedgerError):  # a lock we cannot give back is taken over later
                if not self.closed:
                    self.unlock_campaign(holder)


LEASE_COLUMNS = "campaign, holder, command, host, pid, started, since, heartbeat"


def holder_from_row(row: tuple[object, ...]) -> Holder:
    campaign, token, command, host, pid, started, since, heartbeat = row
    return Holder(
        campaign=str(campaign),
        token=str(token),
        command=str(command),
        host=str(host),
        pid=int(str(pid)),
        started=None if started is None else str(started),
        since=datetime.fromisoformat(str(since)),
        heartbeat=datetime.fromisoformat(str(heartbeat)),
    )
