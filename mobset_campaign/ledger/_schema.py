"""The ledger's schema, as numbered migrations applied in order when a ledger is opened.

A migration is history: once released its text never changes (ledgers in the field ran it);
a new column or table is a new numbered migration. Each is recorded in the ``migrations``
table, so a ledger written by a newer mobset_campaign is recognised and refused.

A PostgreSQL ledger runs :data:`POSTGRES_MIGRATIONS`: the same numbers and names, the same
tables and columns, written in PostgreSQL's types (an identity column for SQLite's ``INTEGER
PRIMARY KEY``, ``BIGINT`` for ids, ``DOUBLE PRECISION`` for ``REAL``), so both backends
agree on what a ledger of version N holds and ``ledger copy`` can move one to the other.
Times stay ISO text in both (Beijing time with its offset), compared as text.

The ``CHECK`` of ``messages.state`` lists :data:`mobset_campaign.states.MESSAGE_STATES`; a
test keeps the two equal.
"""

from __future__ import annotations

import re

__all__ = ["MIGRATIONS", "POSTGRES_MIGRATIONS", "REBUILDS"]

#: (number, name, SQL statements separated by ``;`` — so never a ``;`` inside a comment)
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "initial schema",
        """
        CREATE TABLE campaigns (
            name        TEXT PRIMARY KEY,
            created     TEXT NOT NULL,
            updated     TEXT NOT NULL,
            add_num     TEXT,
            timer_send  TEXT,
            long_sms    INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE batches (
            id          INTEGER PRIMARY KEY,
            campaign    TEXT NOT NULL REFERENCES campaigns(name),
            account     TEXT NOT NULL DEFAULT '',
            size        INTEGER NOT NULL,
            state       TEXT NOT NULL,   -- claimed, answered, rejected, unknown, released, empty
            claimed_at  TEXT NOT NULL,
            answered_at TEXT,
            elapsed     REAL,
            code        INTEGER,
            message     TEXT,
            error       TEXT,
            timer_send  TEXT,
            add_num     TEXT,
            long_sms    INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE messages (
            id            INTEGER PRIMARY KEY,
            campaign      TEXT NOT NULL REFERENCES campaigns(name),
            row_key       TEXT NOT NULL,
            phone         TEXT NOT NULL,
            content       TEXT NOT NULL,
            parts         INTEGER NOT NULL,
            state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                          ('pending','claimed','sent','delivered','failed','rejected',
                           'unknown','cancelled')),
            batch_id      INTEGER REFERENCES batches(id),
            account       TEXT,
            sms_id        INTEGER,
            send_code     INTEGER,
            send_error    TEXT,
            registered_at TEXT NOT NULL,
            claimed_at    TEXT,
            sent_at       TEXT,
            status        INTEGER,
            report_time   TEXT,
            ex_status     TEXT,
            cancel_status INTEGER,
            cancel_error  TEXT,
            cancel_time   TEXT,
            resends       INTEGER NOT NULL DEFAULT 0,
            UNIQUE (campaign, row_key)
        );
        CREATE INDEX messages_state ON messages (campaign, state);
        CREATE INDEX messages_sms_id ON messages (sms_id) WHERE sms_id IS NOT NULL;
        CREATE INDEX messages_phone ON messages (phone, sent_at);
        CREATE INDEX messages_batch ON messages (batch_id);
        CREATE TABLE inbox (
            id          INTEGER PRIMARY KEY,
            method      TEXT NOT NULL,
            account     TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL,
            received_at TEXT NOT NULL,
            parsed_at   TEXT,
            items       INTEGER,
            error_code  INTEGER,
            error       TEXT
        );
        CREATE INDEX inbox_unparsed ON inbox (id) WHERE parsed_at IS NULL;
        CREATE TABLE reports (
            id          INTEGER PRIMARY KEY,
            inbox_id    INTEGER NOT NULL REFERENCES inbox(id),
            seq         INTEGER NOT NULL,
            sms_id      INTEGER NOT NULL,
            status      INTEGER NOT NULL,
            report_time TEXT,
            ex_status   TEXT,
            message_id  INTEGER REFERENCES messages(id),
            UNIQUE (inbox_id, seq)
        );
        CREATE INDEX reports_sms_id ON reports (sms_id);
        CREATE TABLE replies (
            id          INTEGER PRIMARY KEY,
            inbox_id    INTEGER NOT NULL REFERENCES inbox(id),
            seq         INTEGER NOT NULL,
            phone       TEXT NOT NULL,
            recv_number TEXT,
            add_num     TEXT,
            recv_time   TEXT,
            content     TEXT,
            opt_out     INTEGER NOT NULL DEFAULT 0,
            message_id  INTEGER REFERENCES messages(id),
            UNIQUE (inbox_id, seq)
        );
        CREATE INDEX replies_message ON replies (message_id);
        CREATE TABLE suppression (
            phone     TEXT PRIMARY KEY,
            reason    TEXT NOT NULL,
            source    TEXT,
            added_at  TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "campaign locks, one message per number, the last send's skipped rows",
        """
        CREATE TABLE campaign_locks (
            campaign    TEXT PRIMARY KEY,
            holder      TEXT NOT NULL,   -- a token for one run of send/resend_unknown/cancel
            command     TEXT NOT NULL,
            host        TEXT NOT NULL,
            pid         INTEGER NOT NULL,
            started     TEXT,            -- the process's start, to tell a reused pid apart
            since       TEXT NOT NULL,
            heartbeat   TEXT NOT NULL    -- UTC: a holder on another host lives while it beats
        );
        ALTER TABLE batches ADD COLUMN holder TEXT;
        ALTER TABLE campaigns ADD COLUMN one_per_number INTEGER;
        ALTER TABLE campaigns ADD COLUMN last_skipped TEXT
        """,
    ),
    (
        3,
        "status 15 is its own outcome: the undetermined state",
        """
        CREATE TABLE messages_new (
            id            INTEGER PRIMARY KEY,
            campaign      TEXT NOT NULL REFERENCES campaigns(name),
            row_key       TEXT NOT NULL,
            phone         TEXT NOT NULL,
            content       TEXT NOT NULL,
            parts         INTEGER NOT NULL,
            state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                          ('pending','claimed','sent','delivered','failed','undetermined',
                           'rejected','unknown','cancelled')),
            batch_id      INTEGER REFERENCES batches(id),
            account       TEXT,
            sms_id        INTEGER,
            send_code     INTEGER,
            send_error    TEXT,
            registered_at TEXT NOT NULL,
            claimed_at    TEXT,
            sent_at       TEXT,
            status        INTEGER,
            report_time   TEXT,
            ex_status     TEXT,
            cancel_status INTEGER,
            cancel_error  TEXT,
            cancel_time   TEXT,
            resends       INTEGER NOT NULL DEFAULT 0,
            UNIQUE (campaign, row_key)
        );
        INSERT INTO messages_new (id, campaign, row_key, phone, content, parts, state, batch_id,
            account, sms_id, send_code, send_error, registered_at, claimed_at, sent_at, status,
            report_time, ex_status, cancel_status, cancel_error, cancel_time, resends)
        SELECT id, campaign, row_key, phone, content, parts,
            CASE WHEN state = 'failed' AND status = 15 THEN 'undetermined' ELSE state END,
            batch_id, account, sms_id, send_code, send_error, registered_at, claimed_at,
            sent_at, status, report_time, ex_status, cancel_status, cancel_error, cancel_time,
            resends
        FROM messages;
        DROP TABLE messages;
        ALTER TABLE messages_new RENAME TO messages;
        CREATE INDEX messages_state ON messages (campaign, state);
        CREATE INDEX messages_sms_id ON messages (sms_id) WHERE sms_id IS NOT NULL;
        CREATE INDEX messages_phone ON messages (phone, sent_at);
        CREATE INDEX messages_batch ON messages (batch_id)
        """,
    ),
)

MIGRATIONS += (
    (
        4,
        "campaign leases: several senders of one campaign at once",
        """
        CREATE TABLE campaign_locks_new (
            campaign    TEXT NOT NULL,
            holder      TEXT NOT NULL,   -- a token for one run of send/resend_unknown/cancel
            command     TEXT NOT NULL,
            host        TEXT NOT NULL,
            pid         INTEGER NOT NULL,
            started     TEXT,            -- the process's start, to tell a reused pid apart
            since       TEXT NOT NULL,
            heartbeat   TEXT NOT NULL,   -- UTC: a holder on another host lives while it beats
            PRIMARY KEY (campaign, holder)
        );
        INSERT INTO campaign_locks_new
            SELECT campaign, holder, command, host, pid, started, since, heartbeat
            FROM campaign_locks;
        DROP TABLE campaign_locks;
        ALTER TABLE campaign_locks_new RENAME TO campaign_locks
        """,
    ),
)

#: Migrations that rebuild a table others refer to: they run with foreign keys off (SQLite
#: cannot change a CHECK in place), and the references are checked before they commit.
REBUILDS: frozenset[int] = frozenset({3})


def _postgres(sql: str) -> str:
    """A migration of :data:`MIGRATIONS` in PostgreSQL's types (the statements are
    otherwise the same SQL)."""
    sql = sql.replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    sql = sql.replace(" REAL", " DOUBLE PRECISION")
    return re.sub(r"\b(batch_id|sms_id|inbox_id|message_id)(\s+)INTEGER", r"\1\2BIGINT", sql)


#: The same migrations for a PostgreSQL ledger. Migration 3 changes the ``CHECK`` in place
#: (PostgreSQL can; SQLite had to rebuild the table).
POSTGRES_MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, MIGRATIONS[0][1], _postgres(MIGRATIONS[0][2])),
    (2, MIGRATIONS[1][1], _postgres(MIGRATIONS[1][2])),
    (
        3,
        MIGRATIONS[2][1],
        """
        ALTER TABLE messages DROP CONSTRAINT messages_state_check;
        ALTER TABLE messages ADD CONSTRAINT messages_state_check CHECK (state IN
            ('pending','claimed','sent','delivered','failed','undetermined',
             'rejected','unknown','cancelled'));
        UPDATE messages SET state = 'undetermined' WHERE state = 'failed' AND status = 15
        """,
    ),
    (
        4,
        MIGRATIONS[3][1],
        """
        ALTER TABLE campaign_locks DROP CONSTRAINT campaign_locks_pkey;
        ALTER TABLE campaign_locks ADD PRIMARY KEY (campaign, holder)
        """,
    ),
)
