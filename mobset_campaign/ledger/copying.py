"""Copy a whole ledger into a new one: SQLite → PostgreSQL and back, or to the same kind.

:func:`copy_ledger` (``mobset-campaign ledger copy SRC DST``) copies every campaign,
message, batch, inbox body, report, reply, suppression entry and campaign lock row, keeping
the ids, so a report still points at its message and a batch keeps its number. Both backends
hold the same tables at the same migration version (:mod:`._schema`), so the copy is row by
row, column by column:

* the source is opened read-only and read in one read transaction (one moment of it, even if
  it is being written meanwhile), a table at a time in primary-key order, in chunks of
  :data:`COPY_CHUNK` rows (keyset pages), so a million messages never sit in memory at once;
* the destination must hold no data: a SQLite file that does not exist yet, or a PostgreSQL
  database without a ledger or with an empty one — two ledgers are never merged;
* everything is written in one transaction of the destination, in the order the foreign keys
  need (:data:`TABLES`); a failure leaves it without any copied row (a new SQLite file is
  removed again). On PostgreSQL the identity sequences are then moved past the largest id, so
  the next message, batch or body gets a new id;
* before it commits, the number of rows of every table is compared with the source's, and
  again once committed: :class:`CopyReport` says so.

The side files of a ledger (answers and bodies kept beside it when it could not take them)
are not copied: a source that has any is refused until a ``collect`` has recorded them.

The command line's ``ledger`` command is here too (:func:`add_ledger_command`, which
:func:`mobset_campaign.cli.build_parser` calls): ``cli.py`` is at its 700-line limit.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import kept_files
from .._i18n import N_, ngettext
from .._i18n import gettext as _
from ..errors import InputError, LedgerError, MobsetError
from . import _postgres
from ._store import Store, ledger_exists, shown_location
from .inbox import Inbox
from .recording import Recording

__all__ = ["COPY_CHUNK", "TABLES", "CopyReport", "copy_ledger"]

#: The ledger's tables in the order their references allow: a row's campaign, batch, message
#: or inbox body is copied before it. Each is read in the order of its primary key, as the
#: source's schema has it (``campaign_locks``: campaign and holder, since migration 4).
TABLES: tuple[str, ...] = (
    "campaigns",
    "batches",
    "messages",
    "inbox",
    "reports",
    "replies",
    "suppression",
    "campaign_locks",
)
#: Rows read and written at a time.
COPY_CHUNK = 5000

_NO_SOURCE = N_("ledger copy needs a file or a postgresql:// URL as its source, not {value!r}.")
_NO_DESTINATION = N_(
    "ledger copy needs a file or a postgresql:// URL as its destination, not {value!r}."
)


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_ledger` copied: the rows of each table (the same in both ledgers,
    checked), the migration version, where from and to (a URL without its password), and how
    long it took."""

    source: str
    destination: str
    version: int
    counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        """Rows copied, every table together."""
        return sum(self.counts.values())

    def __str__(self) -> str:
        total = _("total")
        width = max(len(name) for name in [*self.counts, total])
        digits = len(f"{self.rows:,}")
        lines = [
            _("Copied the ledger {source}").format(source=self.source),
            "  "
            + _("into {destination} (migration {version}) in {seconds:.1f} s:").format(
                destination=self.destination, version=self.version, seconds=self.seconds
            ),
        ]
        lines += [f"  {name:<{width}}  {n:>{digits},}" for name, n in self.counts.items()]
        lines.append(
            "  "
            + ngettext("{label}  {n} row", "{label}  {n} rows", self.rows).format(
                label=f"{total:<{width}}", n=f"{self.rows:>{digits},}"
            )
        )
        lines.append(_("verified: every table has the same number of rows in both ledgers"))
        return "\n".join(lines)


class _Opened(Recording, Inbox):
    """What a copy needs of a ledger: its connection and what is kept beside it. (The
    package's ``Ledger`` is these parts and more, opened the same way; this module cannot
    import it, as the package imports this module.)"""


def copy_ledger(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, chunk_size: int = COPY_CHUNK
) -> CopyReport:
    """Copy the ledger ``src`` into ``dst``, a new one, with every row and id; see the module.

    Args:
        src: an existing ledger: a SQLite file or a ``postgresql://`` URL (opened read-only).
        dst: a SQLite file that does not exist yet, or a ``postgresql://`` URL of a database
            without a ledger or with an empty one (its migrations are applied).
        chunk_size: rows read and written at a time.

    Raises:
        InputError: ``src`` holds no ledger, ``dst`` is ``src``, or ``dst`` holds data.
        LedgerError: either cannot be opened, ``src`` needs upgrading or has answers kept
            beside it, or the copy failed (then nothing of it is in ``dst``).
    """
    started = time.perf_counter()
    if int(chunk_size) < 1:
        raise InputError(
            _("chunk_size must be 1 or more, not {value!r}.").format(value=chunk_size)
        )
    src, dst = str(src).strip(), str(dst).strip()
    shown_src, shown_dst = shown_location(src), shown_location(dst)
    for path, unusable in ((src, _NO_SOURCE), (dst, _NO_DESTINATION)):
        if path in ("", ":memory:"):
            raise InputError(_(unusable).format(value=path))
    if _same_file(src, dst):
        raise InputError(
            _(
                "The source and the destination are the same ledger ({ledger}); copy it into a "
                "new file or another database."
            ).format(ledger=shown_src)
        )
    if not ledger_exists(src):
        raise InputError(
            _("There is no ledger at {ledger} to copy; check the path or URL.").format(
                ledger=shown_src
            )
        )
    if not _postgres.is_url(dst) and Path(dst).exists():
        raise InputError(
            _(
                "{path} already exists; a ledger is copied into a new file (or an empty "
                "PostgreSQL database), never merged into another: pass a new path or move it "
                "away."
            ).format(path=shown_dst)
        )
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(_open_source(src, shown_src))
        _refuse_kept_aside(source, shown_src)
        target = stack.enter_context(_Opened(dst))
        try:
            if source.is_postgres and target.is_postgres and _place(source) == _place(target):
                raise InputError(
                    _(
                        "The source and the destination are the same database ({ledger}); copy "
                        "it into another database."
                    ).format(ledger=shown_src)
                )
            version = _same_version(source, target)
            counts = _copy(source, target, shown_src, int(chunk_size))
            _check_committed(target, counts)
        except BaseException:
            if target.created and not target.is_postgres:
                target.close()
                _remove_new_file(Path(target.path))
            raise
    return CopyReport(shown_src, shown_dst, version, counts, time.perf_counter() - started)


# ------------------------------------------------------------------ checks


def _same_file(src: str, dst: str) -> bool:
    """Whether two SQLite paths name the same file (URLs are compared once open)."""
    if _postgres.is_url(src) or _postgres.is_url(dst):
        return False
    a, b = Path(src), Path(dst)
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


@contextmanager
def _open_source(src: str, shown: str) -> Iterator[_Opened]:
    try:
        store = _Opened(src, read_only=True)
    except LedgerError as exc:
        if exc.reason != "outdated":  # written by an older version: say what to do here
            raise
        raise LedgerError(
            _(
                "The ledger {ledger} was written by an older mobset_campaign; upgrade it before "
                "copying it: open it once for writing (any send or collect on it, or "
                "Ledger(path).close() in Python), then copy it."
            ).format(ledger=shown)
        ) from None
    with store:
        yield store


def _refuse_kept_aside(source: _Opened, shown: str) -> None:
    """LedgerError when answers or bodies wait beside the source to be recorded: they are
    not in its tables, so the copy would lack them."""
    kept = len(source.kept_answers())
    prefix = source._unsaved_prefix()
    if prefix is not None:
        kept += len(kept_files(prefix))
    reserve = source._reserve()
    if reserve is not None:
        with contextlib.suppress(OSError, ValueError):
            kept += sum(1 for r in reserve.records() if r.get("kind") == "body")
    if kept:
        raise LedgerError(
            ngettext(
                "The ledger {ledger} has {n} gateway answer kept beside it that it could not "
                "record yet, which a copy would lose: run `mobset-campaign collect --once` on it "
                "first (it records them), then copy it.",
                "The ledger {ledger} has {n} gateway answers kept beside it that it could not "
                "record yet, which a copy would lose: run `mobset-campaign collect --once` on it "
                "first (it records them), then copy it.",
                kept,
            ).format(ledger=shown, n=kept)
        )


def _place(store: Store) -> tuple[Any, ...]:
    """Which server and database a PostgreSQL ledger is in (whatever URL reached it)."""
    rows = store._read(
        "SELECT current_database(), inet_server_addr()::text, inet_server_port(), "
        "pg_postmaster_start_time()::text, "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return tuple(rows[0])


def _same_version(source: Store, target: Store) -> int:
    """The migration version both ledgers have (LedgerError when they differ)."""
    have = {migration[0] for migration in source.migrations()}
    want = {migration[0] for migration in target.migrations()}
    if have != want:
        raise LedgerError(
            _(
                "The ledger {source} is at migration {source_version} and {target} at "
                "{target_version}; open the older one once for writing (any send or collect) to "
                "upgrade it, then copy."
            ).format(
                source=source.path,
                source_version=max(have, default=0),
                target=target.path,
                target_version=max(want, default=0),
            )
        )
    return max(want, default=0)


def _remove_new_file(path: Path) -> None:
    """Remove the SQLite file this copy created (and its WAL files) after a failure."""
    for side in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{side}").unlink()


# ------------------------------------------------------------------ the copy


class _Reader:
    """Reads of a ledger that all see one moment of it (inside :func:`_snapshot`)."""

    def __init__(self, store: Store, cur: Any) -> None:
        self._store = store
        self._cur = cur

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._cur.execute(sql, params).fetchall())
        except self._store._db_errors as exc:
            raise self._store._read_error(exc) from exc

    def columns(self, table: str) -> list[str]:
        """The table's columns, in its order."""
        try:
            return _columns(self._cur, table)
        except self._store._db_errors as exc:
            raise self._store._read_error(exc) from exc

    def key(self, table: str) -> list[str]:
        """The table's primary key columns, in the key's order."""
        sql = (
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = ?::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)"
            if self._store.is_postgres
            else "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk"
        )
        return [str(row[0]) for row in self.rows(sql, (table,))]


@contextmanager
def _snapshot(store: Store) -> Iterator[_Reader]:
    """A read transaction of ``store``: the copy reads the ledger as it was when it began,
    even while another program writes it."""
    with store._lock:
        store._check_open()
        cur = store._conn.cursor()
        try:
            try:
                cur.execute(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                    if store.is_postgres
                    else "BEGIN"
                )
            except store._db_errors as exc:
                raise store._read_error(exc) from exc
            yield _Reader(store, cur)
        finally:
            store._rollback_quietly()
            with contextlib.suppress(*store._db_errors):
                cur.close()


def _columns(cur: Any, table: str) -> list[str]:
    """A table's columns, in its order, from a query's description."""
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    names = [str(d[0]) for d in cur.description]
    cur.fetchall()
    return names


def _copy(source: Store, target: Store, shown_src: str, chunk: int) -> dict[str, int]:
    """Every table of ``source`` into the empty ``target`` in one transaction; the rows of
    each (checked equal in both before it commits)."""
    counts: dict[str, int] = {}
    table = TABLES[0]
    try:
        with _snapshot(source) as reader, target._tx(durable=True) as cur:
            _refuse_data(cur, target)
            for table in TABLES:
                counts[table] = _copy_table(reader, cur, table, chunk)
            if target.is_postgres:
                _move_sequences(cur)
            for table in TABLES:
                have = int(cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                if have != counts[table]:
                    raise LedgerError(
                        _("{ledger} would hold {have:,} rows of {table} instead of {want:,}").format(
                            ledger=target.path, have=have, table=table, want=counts[table]
                        )
                    )
    except InputError:
        raise
    except MobsetError as exc:
        new = target.created and not target.is_postgres
        failed = (
            _(
                "Copying the ledger {source} into {target} failed at the table {table} "
                "({error}); nothing was copied: the new file was removed. Fix what it says and "
                "copy again."
            )
            if new
            else _(
                "Copying the ledger {source} into {target} failed at the table {table} "
                "({error}); nothing was copied: the copy runs in one transaction, which was "
                "rolled back. Fix what it says and copy again."
            )
        )
        raise LedgerError(
            failed.format(
                source=shown_src, target=target.path, table=table, error=str(exc).rstrip(".。")
            ),
            reason=getattr(exc, "reason", ""),
        ) from exc
    return counts


def _refuse_data(cur: Any, target: Store) -> None:
    """InputError unless every table of the destination is empty (inside the copy's
    transaction, so nothing can be written there between this check and the copy)."""
    full = [
        f"{table} {n:,}"
        for table in TABLES
        if (n := int(cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))
    ]
    if full:
        raise InputError(
            _(
                "The ledger {ledger} already holds data (rows: {rows}); a ledger is copied only "
                "into a new file or an empty database, never merged into another."
            ).format(ledger=target.path, rows=", ".join(full))
        )


def _copy_table(reader: _Reader, cur: Any, table: str, chunk: int) -> int:
    """One table, in primary-key order, ``chunk`` rows at a time (each page starts after the
    last key of the one before); rows copied."""
    names = reader.columns(table)
    key = reader.key(table)
    have = _columns(cur, table)
    missing = [n for n in names if n not in have]
    if missing or not key or not set(key) <= set(names):
        raise LedgerError(
            _("the destination's {table} lacks the columns {columns}").format(
                table=table, columns=", ".join(missing)
            )
            if missing
            else _("the source's {table} has no primary key to read it by").format(table=table)
        )
    listed = ", ".join(f'"{n}"' for n in names)
    order = ", ".join(f'"{k}"' for k in key)
    insert = f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' * len(names))})"
    first = f"SELECT {listed} FROM {table} ORDER BY {order} LIMIT ?"
    after = (
        f"SELECT {listed} FROM {table} WHERE ({order}) > ({', '.join('?' * len(key))}) "
        f"ORDER BY {order} LIMIT ?"
    )
    at = [names.index(k) for k in key]
    copied, last = 0, None
    while True:
        rows = reader.rows(first, (chunk,)) if last is None else reader.rows(after, (*last, chunk))
        if rows:
            cur.executemany(insert, rows)
            copied += len(rows)
            last = [rows[-1][i] for i in at]
        if len(rows) < chunk:
            break
    expected = int(reader.rows(f"SELECT COUNT(*) FROM {table}")[0][0])
    if copied != expected:
        raise LedgerError(
            _("read {copied:,} rows of {table} where the source counts {expected:,}").format(
                copied=copied, table=table, expected=expected
            )
        )
    return copied


def _move_sequences(cur: Any) -> None:
    """PostgreSQL: move each identity column's sequence past the largest id copied, so the
    next row inserted gets a new id (an empty table's sequence is left as it is)."""
    identity = cur.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    ours = set(TABLES)
    for table, column in identity:
        if table in ours:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), m) "
                f"FROM (SELECT max({column}) AS m FROM {table}) AS t WHERE m IS NOT NULL",
                (table, column),
            )
            cur.fetchall()


def _check_committed(target: Store, counts: dict[str, int]) -> None:
    """Count the committed copy's rows again (LedgerError when they differ now)."""
    for table in TABLES:
        have = int(target._read(f"SELECT COUNT(*) FROM {table}")[0][0])
        if have != counts[table]:
            raise LedgerError(
                _(
                    "The copy in {ledger} was committed, but its table {table} now holds "
                    "{have:,} rows instead of {want:,}: did something else write into it "
                    "meanwhile? Check it before using it."
                ).format(ledger=target.path, table=table, have=have, want=counts[table])
            )
