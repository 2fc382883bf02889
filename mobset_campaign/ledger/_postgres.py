"""The PostgreSQL backend of the ledger: connecting, its SQL dialect, its errors.

The ledger's SQL is written once, in the dialect both engines understand (``INSERT … ON
CONFLICT DO NOTHING``, ``RETURNING id``, ``NULLS LAST``), with ``?`` placeholders. This
module is the whole difference on the PostgreSQL side:

* :func:`connect` opens a psycopg 3 connection (autocommit, so the ledger's explicit
  ``BEGIN``/``COMMIT`` mean what they mean on SQLite) and wraps it in :class:`Connection`,
  whose cursors turn ``?`` into ``%s``;
* :func:`begin` starts a write transaction. SQLite's ``BEGIN IMMEDIATE`` makes writers take
  turns; here a *serial* transaction takes one transaction-scoped advisory lock per ledger
  (the same effect, between every process and host using the database), while claims run
  without it and take their rows with ``FOR UPDATE SKIP LOCKED`` instead, so that several
  senders share a campaign's pending rows without waiting for each other. Answers take the
  lock *shared* (``serial="shared"``): the answers of several senders run beside each other
  (each changes only its own batch's rows), yet never beside a serial transaction such as a
  collector's, which matches reports to SmsIds an answer is writing. ``durable``
  transactions commit with ``synchronous_commit = on``, the others with ``off`` (as
  SQLite's ``synchronous=NORMAL``: a crash may lose the last commits, never corrupt);
* :func:`reason` reads an error's SQLSTATE as the ledger's error reasons.

psycopg is an optional dependency (``pip install 'mobset-campaign[postgres]'``); without it
opening a PostgreSQL ledger is one clear :class:`~mobset_campaign.errors.LedgerError`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .._i18n import gettext as _
from ..errors import LedgerError

__all__ = [
    "SHARED",
    "TEXT_BYTES",
    "Connection",
    "begin",
    "connect",
    "is_url",
    "reason",
    "shown",
    "side_name",
    "translate",
    "without_secret",
]

#: ``serial=SHARED``: a transaction that takes the serial lock shared (see :func:`begin`).
SHARED = "shared"
#: The advisory lock key that makes serial transactions take turns (one per database: the
#: ledger's tables are the database's).
_SERIAL_KEY = 0x6D6F6273  # "mobs"
_SCHEMES = ("postgresql://", "postgres://")
#: SQL for a text column (``{0}``) as its UTF-8 bytes, empty where NULL (SQLite: a cast to
#: BLOB); the status frame reads its times so, to parse them with numpy
TEXT_BYTES = "COALESCE(convert_to({0}, 'UTF8'), ''::bytea)"


def is_url(path: object) -> bool:
    """Whether ``path`` names a PostgreSQL ledger (``postgresql://…`` or ``postgres://…``)."""
    return isinstance(path, str) and path.strip().lower().startswith(_SCHEMES)


def shown(url: str) -> str:
    """The URL as it may be shown: its password replaced by ``***`` (never logged), in the
    address or as a ``password=`` parameter.

    >>> shown("postgresql://ann:s3cret@db:5432/sms"), shown("postgres://db/sms?password=s3cret")
    ('postgresql://ann:***@db:5432/sms', 'postgres://db/sms?password=***')
    """
    masked = _without_address_secret(url)
    parts = urlsplit(masked)
    if "password" not in parts.query.lower():
        return masked
    query = _QUERY_PASSWORD.sub(r"\1***", parts.query)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


def _without_address_secret(url: str) -> str:
    """The URL with the password of its address (``user:password@``) replaced by ``***``."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url.strip()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def side_name(url: str) -> str:
    """A file name for this database's side files (answers kept aside), without secrets."""
    parts = urlsplit(url.strip())
    label = f"{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.strip('/') or 'db'}"
    # the address without its password, as side files have always been named
    digest = hashlib.sha256(_without_address_secret(url).encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", label) + f"-{digest}"


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """The ledger's SQL for psycopg: ``?`` → ``%s`` and a literal ``%`` doubled.

    >>> translate("SELECT id FROM t WHERE a = ? AND b LIKE '5%'")
    "SELECT id FROM t WHERE a = %s AND b LIKE '5%%'"
    """
    return sql.replace("%", "%%").replace("?", "%s")


class Cursor:
    """A psycopg cursor that takes the ledger's ``?`` SQL (the rest is psycopg's own)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            self._raw.execute(translate(sql), tuple(params) or None)
        except BaseException:
            settle(self._raw.connection)
            raise
        return self

    def executemany(self, sql: str, seq: Any) -> Cursor:
        try:
            self._raw.executemany(translate(sql), [tuple(p) for p in seq])
        except BaseException:
            settle(self._raw.connection)
            raise
        return self

    def fetchone(self) -> Any:
        return self._raw.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._raw.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._raw)

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)

    @property
    def description(self) -> Any:
        return self._raw.description

    def close(self) -> None:
        self._raw.close()


class Connection:
    """A psycopg connection shaped like the ``sqlite3`` one the ledger uses."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def cursor(self) -> Cursor:
        return Cursor(self._raw.cursor())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._raw.info.transaction_status != TransactionStatus.IDLE)

    def rollback(self) -> None:
        if self.in_transaction and not self._raw.closed:
            self._raw.execute("ROLLBACK")

    def close(self) -> None:
        self._raw.close()


def connect(
    url: str, *, read_only: bool = False
) -> tuple[Connection, tuple[type[BaseException], ...]]:
    """Open the database; returns the connection and the exception class(es) it raises.

    Raises:
        LedgerError: psycopg is not installed, or the server cannot be reached (the URL is
            shown without its password).
    """
    try:
        import psycopg
    except ImportError as exc:
        raise LedgerError(
            _(
                "The ledger {url} is on PostgreSQL, which needs the psycopg driver: "
                "pip install 'mobset-campaign[postgres]' (or psycopg[binary])."
            ).format(url=shown(url))
        ) from exc
    # durable commits are the session's default (a server may default to off)
    options = "-c lock_timeout=30000 -c statement_timeout=0 -c synchronous_commit=on"
    if read_only:
        options += " -c default_transaction_read_only=on"
    try:
        raw = psycopg.connect(
            url.strip(), autocommit=True, options=options, connect_timeout=15,
            application_name="mobset-campaign",
        )  # fmt: skip
    except psycopg.Error as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LedgerError(
            _(
                "Cannot open the ledger {url}: {error}. Check that the server runs and the URL's "
                "host, port, user, password and database are right."
            ).format(url=shown(url), error=without_secret(text, url)),
            reason="io",
        ) from None
    return Connection(raw), (psycopg.Error,)


def settle(raw: Any) -> None:
    """Make a connection whose statement failed or was interrupted usable again.

    psycopg cancels a statement that Ctrl-C (or SIGTERM/SIGHUP, see
    :mod:`mobset_campaign._signals`) interrupts while it waits for the server; a signal that
    lands just after the statement was sent, before that wait, leaves the connection busy
    with it, and every later statement fails with "another command is already in progress"
    — among them those of the run's clean stop. Here the statement is cancelled and its
    results read; a connection that cannot be settled is closed (its next use says so).
    """
    from psycopg import pq

    pgconn = raw.pgconn
    if raw.closed or pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
        return
    try:
        raw.cancel_safe(timeout=5.0)
        while pgconn.get_result() is not None:  # the cancelled statement's results
            pass
    except BaseException:  # interrupted again, or the server is gone
        raw.close()


def without_secret(text: str, url: str) -> str:
    """``text`` (a driver's error) with every password ``url`` holds replaced by ``***``: in
    its address or a ``password=`` parameter, as written or percent-decoded.

    >>> without_secret("bad password s3cr@t for ann", "postgresql://ann:s3cr%40t@db/sms")
    'bad password *** for ann'
    """
    parts = urlsplit(url.strip())
    found = [parts.password or ""]
    found += [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(parts.query)]
    secrets = {s for p in found if p for s in (p, unquote(p))}
    for secret in sorted(secrets, key=len, reverse=True):  # the longest first
        text = text.replace(secret, "***")
    return text


def begin(cur: Cursor, *, durable: bool, serial: bool | str) -> None:
    """Start a write transaction (see the module docstring) in one round trip: the
    statements go as one simple query (the session's own ``synchronous_commit`` is ``on``,
    set by :func:`connect` whatever the server's default)."""
    statements = ["BEGIN"]
    if not durable:
        statements.append("SET LOCAL synchronous_commit TO off")
    if serial == SHARED:
        statements.append(f"SELECT pg_advisory_xact_lock_shared({_SERIAL_KEY:d})")
    elif serial:
        statements.append(f"SELECT pg_advisory_xact_lock({_SERIAL_KEY:d})")
    cur.execute("; ".join(statements))


def serial_lock(cur: Cursor) -> None:
    """Make the running transaction serial after all (see :func:`begin`)."""
    cur.execute(f"SELECT pg_advisory_xact_lock({_SERIAL_KEY:d})")


def reason(exc: BaseException) -> str | None:
    """The ledger's reason for a psycopg error, by SQLSTATE (None: not a PostgreSQL error
    with a known class)."""
    state = getattr(exc, "sqlstate", None)
    if state is None:
        if type(exc).__module__.startswith("psycopg") and (
            "closed" in str(exc) or "connection" in str(exc).lower()
        ):
            return "connection"
        return None
    if state == "53100":
        return "full"
    if state in ("55P03", "40001", "40P01"):
        return "locked"
    if state == "25006":
        return "readonly"
    if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        return "connection"
    if state.startswith("58"):
        return "io"
    return ""
