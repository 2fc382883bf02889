"""The ledger's connection: opening the database, transactions, reads and migrations.

Every other part of the ledger talks to the database through :class:`Store`: ``_tx()`` for a
write transaction (``BEGIN IMMEDIATE``; ``durable=True`` commits with ``synchronous=FULL``),
``_grouped()`` for the claims and answers of concurrent workers, which share one transaction
and one commit (:mod:`mobset_campaign.ledger._group`), ``_read()`` and ``_frame()`` for
queries. One connection guarded by a lock makes a ledger
safe to share between threads; other processes may open the same file (WAL, busy timeout).

A path opens a SQLite file; a ``postgresql://`` URL opens a PostgreSQL database through
:mod:`mobset_campaign.ledger._postgres`, with the same SQL and the same guarantees (writers
take turns through an advisory lock where SQLite has ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import pandas as pd
import platformdirs

from .._files import Reserve
from .._i18n import N_
from .._i18n import gettext as _
from .._protocol import BEIJING
from ..errors import InputError, LedgerError
from . import _postgres
from ._group import GroupCommit
from ._schema import MIGRATIONS, POSTGRES_MIGRATIONS, REBUILDS

__all__ = [
    "Store",
    "campaign_name",
    "default_ledger_path",
    "iso",
    "ledger_exists",
    "now",
    "shown_location",
]

T = TypeVar("T")

#: What to do about a SQLite ledger that could not be written, by the error's reason.
_FILE_ADVICE = {
    "full": N_("free space on the disk that holds it, then run the command again"),
    "locked": N_("another program is writing it; try again when it has finished"),
    "io": N_("the disk failed to read or write; check it and run the command again"),
    "": N_("check the file (is it a mobset_campaign ledger?) and run the command again"),
}
_OPENED_READ_ONLY = N_("it was opened read-only (read-only media, or a command that only reads)")
_NOT_WRITABLE = N_("the file or its folder cannot be written; check their permissions")
#: The same for a PostgreSQL ledger.
_POSTGRES_ADVICE = {
    "full": N_("the database server's disk is full; free space there, then run the command again"),
    "locked": N_("another program holds what this needed; try again when it has finished"),
    "readonly": N_("it was opened read-only (a command that only reads)"),
    "connection": N_(
        "the connection to the database server was lost; check the server and the network, "
        "then run the command again"
    ),
    "io": N_("the database server failed to read or write; check it"),
}
_POSTGRES_OTHER = N_("check the database and run the command again")
_NEWER = N_(
    "The ledger {path} was written by a newer mobset_campaign (migration {number}); upgrade "
    "mobset_campaign to use it."
)


def default_ledger_path() -> str:
    """Where the ledger is when none is named: ``MOBSET_LEDGER`` when set, else
    ``ledger.sqlite`` in the user's data folder (``~/.local/share/mobset-campaign`` on Linux,
    ``~/Library/Application Support/mobset-campaign`` on macOS, ``%LOCALAPPDATA%`` on
    Windows) — the same file whatever folder a command runs from."""
    named = os.environ.get("MOBSET_LEDGER", "").strip()
    if named:
        return named
    return str(platformdirs.user_data_path("mobset-campaign", appauthor=False) / "ledger.sqlite")


def shown_location(path: str | os.PathLike[str]) -> str:
    """A ledger's path or URL as it may be printed: a URL's password is hidden."""
    return _postgres.shown(str(path)) if _postgres.is_url(path) else str(path)


def ledger_exists(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (a file, ``:memory:`` or a PostgreSQL URL) holds a ledger already,
    without creating one: commands that only read, and dry runs, check this first.

    Raises:
        LedgerError: a PostgreSQL server that cannot be reached (the URL without password).
    """
    if str(path) == ":memory:":
        return True
    if not _postgres.is_url(path):
        return Path(path).is_file()
    try:
        Store(path, read_only=True).close()
    except LedgerError as exc:
        if exc.reason == "missing":
            return False
        raise
    return True


def campaign_name(name: str) -> str:
    """A campaign's name as the ledger compares it: NFKC (full-width letters and digits become
    plain ones) without surrounding whitespace — ``积分１２月 `` is ``积分12月``.

    Raises:
        InputError: the name is empty.
    """
    text = unicodedata.normalize("NFKC", str(name)).strip()
    if not text:
        raise InputError(_("A campaign needs a name, e.g. campaign='2024-spring-promo'."))
    return text


def _writable(path: Path) -> bool:
    """Can the ledger and the files SQLite keeps beside it be written?"""
    folder = path.resolve().parent
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def now() -> str:
    """The current Beijing time as the ledger stores times (ISO, milliseconds, offset)."""
    return datetime.now(BEIJING).isoformat(timespec="milliseconds")


def iso(when: datetime | None) -> str | None:
    """A time as the ledger stores it (a naive time is Beijing time)."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=BEIJING)
    return when.astimezone(BEIJING).isoformat(timespec="milliseconds")


class Store:
    """An open SQLite ledger file (see :class:`mobset_campaign.ledger.Ledger`)."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False
    ) -> None:
        default = path is None
        path = default_ledger_path() if path is None else path
        self._lock = threading.RLock()
        #: claims and answers of concurrent threads commit together (see ``_grouped``)
        self._group = GroupCommit(self._tx, self._lock)
        self._sync = ""
        self._closed = False
        self._location: str | None = None
        self._db_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        #: True for a PostgreSQL ledger (a ``postgresql://`` URL)
        self.is_postgres = _postgres.is_url(path)
        if self.is_postgres:
            self._url = str(path).strip()
            #: the file, or the URL without its password
            self.path = _postgres.shown(self._url)
            self.read_only = read_only
            # fixed at open, like a file ledger's folder: where this host keeps what the
            # database could not take (answers, bodies), named after the database
            self._side_folder = (
                platformdirs.user_data_path("mobset-campaign", appauthor=False) / "postgres"
            )
            with contextlib.suppress(OSError):
                self._side_folder.mkdir(parents=True, exist_ok=True)
            self._open_postgres()
            return
        self.path = str(path) if str(path) == ":memory:" else str(Path(path))
        #: True when the ledger was opened for reading only (nothing can be written to it)
        self.read_only = read_only and self.path != ":memory:"
        #: True when opening the ledger created its file (a new, empty ledger)
        self.created = self.path != ":memory:" and not Path(self.path).exists()
        if self.read_only:
            self._open_read_only()
            return
        if self.path != ":memory:":
            folder = Path(self.path).resolve().parent
            if default and not folder.exists():
                with contextlib.suppress(OSError):  # said below if it still is missing
                    folder.mkdir(parents=True)
            if not folder.is_dir():
                raise LedgerError(
                    _(
                        "Cannot create the ledger {path}: the folder {folder} does not exist. "
                        "Create it or pass another path to Ledger()."
                    ).format(path=self.path, folder=folder)
                )
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LedgerError(
                        _(
                            "The ledger {path} cannot use WAL mode (got {mode!r}); put it on "
                            "a local disk."
                        ).format(path=self.path, mode=mode)
                    )
            self._set_sync("FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            if self.path != ":memory:" and not _writable(Path(self.path)):
                raise LedgerError(
                    _(
                        "The ledger {path} cannot be written where it is (read-only media, or "
                        "a file or folder without write permission: {error}). Commands that "
                        "only read it (status, export; Ledger(path, read_only=True)) work; to "
                        "send or collect, copy it to a folder you can write and use the copy."
                    ).format(path=self.path, error=exc),
                    reason="readonly",
                ) from exc
            raise LedgerError(
                _(
                    "Cannot open the ledger {path}: {error}. Is it a mobset_campaign ledger? "
                    "Pass another path to Ledger() or move the file away."
                ).format(path=self.path, error=exc)
            ) from exc
        except LedgerError:
            self._close_quietly()
            raise

    def _open_postgres(self) -> None:
        conn, errors = _postgres.connect(self._url, read_only=self.read_only)
        self._conn = conn  # type: ignore[assignment]
        self._db_errors = (sqlite3.Error, *errors)
        try:
            found = conn.execute("SELECT to_regclass('migrations') IS NOT NULL").fetchone()
            self.created = not bool(found[0])
            if self.read_only:
                if self.created:
                    raise LedgerError(
                        _("There is no ledger in {path}; pass the one it was sent with.").format(
                            path=self.path
                        ),
                        reason="missing",
                    )
                done = {row[0] for row in conn.execute("SELECT id FROM migrations")}
                self._check_versions(done)
                return
            self._migrate()
        except self._db_errors as exc:
            self._close_quietly()
            raise LedgerError(
                _(
                    "Cannot open the ledger {path}: {error}. Is it a mobset_campaign ledger's "
                    "database?"
                ).format(path=self.path, error=_postgres_text(exc, self._url)),
                reason=_postgres.reason(exc) or "",
            ) from None
        except LedgerError:
            self._close_quietly()
            raise

    def _check_versions(self, done: set[int]) -> None:
        """LedgerError unless a read-only ledger has exactly this version's migrations."""
        known = {number for number, _name, _sql in MIGRATIONS}
        if done - known:
            self._close_quietly()
            raise LedgerError(
                _(
                    "The ledger {path} was written by a newer mobset_campaign (migration "
                    "{number}); upgrade mobset_campaign to read it."
                ).format(path=self.path, number=max(done - known))
            )
        if known - done:
            self._close_quietly()
            if self.is_postgres:
                said = _(
                    "The ledger {path} was written by an older mobset_campaign and must be "
                    "upgraded before it can be read, which cannot be done where it is (it is "
                    "opened read-only). Open it once for writing (any send or collect) first."
                )
            else:
                said = _(
                    "The ledger {path} was written by an older mobset_campaign and must be "
                    "upgraded before it can be read, which cannot be done where it is (it is "
                    "opened read-only). Copy it to a folder you can write and use the copy."
                )
            # "outdated": ledger.copying tells this case by its reason, in any language
            raise LedgerError(said.format(path=self.path), reason="outdated")

    def _open_read_only(self) -> None:
        """Open for reading only: nothing is created, migrated or written, so a ledger on
        read-only media (a CD, a read-only share, a snapshot) can be read. SQLite's WAL
        mode needs a writable ``-shm`` file beside the ledger; where there is none and none
        can be made, the file is read as immutable (nobody can be writing it there)."""
        if not Path(self.path).is_file():
            raise LedgerError(
                _("There is no ledger at {path}; pass the file it was sent with.").format(
                    path=self.path
                ),
                reason="missing",
            )
        uri = Path(self.path).resolve().as_uri()
        last: sqlite3.Error | None = None
        for flags in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                self._conn = sqlite3.connect(
                    uri + flags, uri=True, timeout=30.0, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
                self._conn.execute("PRAGMA query_only = ON")
                done = {row[0] for row in self._conn.execute("SELECT id FROM migrations")}
                break
            except sqlite3.Error as exc:
                self._close_quietly()
                last = exc
        else:
            raise LedgerError(
                _(
                    "Cannot read the ledger {path} ({error}). Is it a mobset_campaign ledger?"
                ).format(path=self.path, error=last)
            ) from last
        self._check_versions(done)

    # -- life ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def _close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    @property
    def location(self) -> str:
        """Where the ledger is, as side files record it: the absolute file, the URL without
        its password, or ``:memory:``."""
        if self.is_postgres or self.path == ":memory:":
            return self.path
        if self._location is None:  # resolved once: record_answer asks for it every time
            self._location = str(Path(self.path).resolve())
        return self._location

    def _beside(self, suffix: str) -> Path | None:
        """``<ledger file><suffix>``: where a file that belongs with the ledger goes (answers
        kept aside, the reserve). A PostgreSQL ledger keeps them in this user's data folder,
        named after the database (never its password); a ``:memory:`` ledger has none."""
        if self.is_postgres:
            return self._side_folder / (_postgres.side_name(self._url) + suffix)
        if self.path == ":memory:":
            return None
        path = Path(self.path).resolve()
        return path.with_name(path.name + suffix)

    def _reserve(self) -> Reserve | None:
        """The room kept beside the ledger for what it cannot take on a full disk (None for
        a memory ledger)."""
        path = self._beside(".reserve")
        return None if path is None else Reserve(path)

    def reserve_room(self) -> None:
        """Set aside room beside the ledger for answers and bodies it may not be able to
        take later (a full disk): a send and a collect call it before their first request.

        Raises:
            LedgerError: the disk has no room for it now; better not to start sending.
        """
        reserve = self._reserve()
        if reserve is None:
            return
        try:
            reserve.ensure()
        except OSError as exc:
            raise LedgerError(
                _(
                    "There is no room on the disk beside the ledger {path} to set aside {kib} KiB "
                    "for the gateway's answers ({error}), so nothing was sent or fetched. Free "
                    "some space and run the command again."
                ).format(path=self.path, kib=Reserve.SIZE // 1024, error=exc.strerror or exc)
            ) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(
                _("The ledger {path} is closed; open a new Ledger().").format(path=self.path)
            )

    # -- transactions and reads ---------------------------------------------------------

    def _set_sync(self, level: str) -> None:
        if self._sync != level:
            self._conn.execute(f"PRAGMA synchronous = {level}")
            self._sync = level

    @contextmanager
    def _tx(self, *, durable: bool = False, serial: bool | str = True) -> Iterator[Any]:
        """One write transaction (``BEGIN IMMEDIATE``); ``durable`` = synchronous FULL.

        ``serial=False`` (PostgreSQL only; SQLite writers always take turns) lets the
        transaction run beside others: it must lock the rows it changes itself (claims take
        theirs with ``FOR UPDATE SKIP LOCKED``); ``serial="shared"`` runs beside other
        shared ones but not beside a serial one (answers: see :mod:`._postgres`).

        Raises:
            LedgerError: the transaction could not begin, run or commit (one readable line:
                what failed and what to do); nothing of it was written.
        """
        with self._lock:
            self._check_open()
            try:
                cur = self._conn.cursor()
            except self._db_errors as exc:  # e.g. a PostgreSQL connection that was lost
                raise self._error(exc) from exc
            try:
                if self.is_postgres:
                    _postgres.begin(cur, durable=durable, serial=serial)  # type: ignore[arg-type]
                else:
                    self._set_sync("FULL" if durable else "NORMAL")
                    cur.execute("BEGIN IMMEDIATE")
            except self._db_errors as exc:
                self._rollback_quietly()
                cur.close()
                raise self._error(exc) from exc
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                self._rollback_quietly()
                if isinstance(exc, self._db_errors):
                    raise self._error(exc) from exc
                raise
            finally:
                with contextlib.suppress(*self._db_errors):
                    cur.close()

    def _grouped(
        self, work: Callable[[Any], T], *, durable: bool, serial: bool | str = True
    ) -> T:
        """``work(cursor)`` in a write transaction shared with the works other threads
        bring meanwhile: one commit (one fsync) for all of them, and the result only once
        that commit returned (see :mod:`mobset_campaign.ledger._group`). The transaction is
        ``durable`` or ``serial`` when any of its works asked for it. ``work`` may run twice
        (once in a group that was rolled back), so it touches nothing but the cursor.

        Raises:
            the work's own exception, or LedgerError (see :meth:`_tx`); nothing of the work
            was written then.
        """
        return self._group.run(work, durable=durable, serial=serial)

    def _rollback_quietly(self) -> None:
        """Roll back what is open (a lost connection has nothing left to roll back)."""
        with contextlib.suppress(*self._db_errors):
            if self._conn.in_transaction:
                self._conn.rollback()

    def _error(self, exc: BaseException) -> LedgerError:
        """A database error as one sentence a user can act on."""
        if self.is_postgres:
            return self._postgres_error(exc)
        text = str(exc).rstrip(".")
        lowered = text.lower()
        if "full" in lowered:
            reason = "full"
        elif "locked" in lowered or "busy" in lowered:
            reason = "locked"
        elif self.read_only or "readonly" in lowered or "read-only" in lowered:
            reason = "readonly"
        elif "i/o" in lowered or "disk" in lowered:
            reason = "io"
        else:
            reason = ""
        if reason == "readonly":
            advice = _OPENED_READ_ONLY if self.read_only else _NOT_WRITABLE
        else:
            advice = _FILE_ADVICE[reason]
        return LedgerError(
            _("The ledger {path} could not be written ({error}): {advice}.").format(
                path=self.path, error=text, advice=_(advice)
            ),
            reason=reason,
        )

    def _postgres_error(self, exc: BaseException) -> LedgerError:
        reason = _postgres.reason(exc) or ""
        advice = _POSTGRES_ADVICE.get(reason, _POSTGRES_OTHER)
        return LedgerError(
            _("The ledger {path} could not be written ({error}): {advice}.").format(
                path=self.path, error=_postgres_text(exc, self._url), advice=_(advice)
            ),
            reason=reason,
        )

    def check_writable(self) -> None:
        """Take and release the write lock, durably: a ledger that another process holds
        fails here, before anything is fetched.

        Raises:
            LedgerError: the ledger cannot be written now.
        """
        with self._tx(durable=True):
            pass

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._check_open()
            try:
                return self._conn.execute(sql, params).fetchall()
            except self._db_errors as exc:
                self._rollback_quietly()
                raise self._read_error(exc) from exc

    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._lock:
            self._check_open()
            try:
                cur = self._conn.execute(sql, params)
                cols = [d[0] for d in cur.description]
                rows = cur.fetchall()
            except self._db_errors as exc:
                self._rollback_quietly()
                raise self._read_error(exc) from exc
        return pd.DataFrame.from_records(rows, columns=cols)

    def _read_error(self, exc: BaseException) -> LedgerError:
        if self.is_postgres:
            said = _(
                "The ledger {path} could not be read ({error}); check the database and run the "
                "command again."
            )
            text, reason = _postgres_text(exc, self._url), _postgres.reason(exc) or ""
        else:
            said = _(
                "The ledger {path} could not be read ({error}); check the file and run the "
                "command again."
            )
            text, reason = str(exc).rstrip("."), ""
        return LedgerError(said.format(path=self.path, error=text), reason=reason)

    # -- migrations ---------------------------------------------------------------------

    def _migrate(self) -> None:
        if self.is_postgres:
            self._migrate_postgres()
            return
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations ("
                "id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in self._conn.execute("SELECT id FROM migrations")}
            newer = sorted(done - {number for number, _name, _sql in MIGRATIONS})
            if newer:
                raise LedgerError(_(_NEWER).format(path=self.path, number=newer[-1]))
            for number, name, sql in MIGRATIONS:
                if number in done:
                    continue
                rebuild = number in REBUILDS
                if rebuild:  # only outside a transaction; see REBUILDS
                    self._conn.execute("PRAGMA foreign_keys = OFF")
                cur = self._conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    if cur.execute("SELECT 1 FROM migrations WHERE id = ?", (number,)).fetchone():
                        cur.execute("ROLLBACK")
                        continue  # another process applied it meanwhile
                    for statement in sql.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                    if rebuild and cur.execute("PRAGMA foreign_key_check").fetchone():
                        raise LedgerError(
                            _(
                                "The ledger {path} has references to missing rows, so migration "
                                "{number} ({name}) was not applied; nothing changed."
                            ).format(path=self.path, number=number, name=name)
                        )
                    cur.execute(
                        "INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, now()),
                    )
                    cur.execute("COMMIT")
                except BaseException:
                    self._conn.rollback()
                    raise
                finally:
                    if rebuild:
                        self._conn.execute("PRAGMA foreign_keys = ON")

    def _migrate_postgres(self) -> None:
        """The numbered migrations, in one transaction that holds the serial lock, so two
        processes opening a new database at once apply each migration once."""
        with self._lock:
            cur = self._conn.cursor()
            _postgres.begin(cur, durable=True, serial=True)  # type: ignore[arg-type]
            try:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS migrations ("
                    "id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                done = {row[0] for row in cur.execute("SELECT id FROM migrations").fetchall()}
                newer = sorted(done - {number for number, _name, _sql in POSTGRES_MIGRATIONS})
                if newer:
                    raise LedgerError(_(_NEWER).format(path=self.path, number=newer[-1]))
                for number, name, sql in POSTGRES_MIGRATIONS:
                    if number in done:
                        continue
                    for statement in sql.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                    cur.execute(
                        "INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, now()),
                    )
                cur.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                raise
            finally:
                cur.close()

    def migrations(self) -> list[tuple[int, str, str]]:
        """The applied migrations: (number, name, applied_at)."""
        rows = self._read("SELECT id, name, applied_at FROM migrations ORDER BY id")
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _postgres_text(exc: BaseException, url: str) -> str:
    """A psycopg error's first line, without the URL's password."""
    lines = str(exc).strip().splitlines()
    text = (lines[0] if lines else type(exc).__name__).rstrip(".")
    return _postgres.without_secret(text, url)
