"""The profile's own database (``outbox.sqlite`` in the profile's data dir): outbox, sent-as history,
identity check results, delivery/read tracking.

It is the only copy of unsent mail, so it runs with ``synchronous=FULL``: a committed "queued" message
survives a power cut. One connection is shared by the sending worker and the caller's thread, so every use
goes through :meth:`ProfileDb.transaction` / :meth:`ProfileDb.read`, which hold one lock (the sqlite3
module must not interleave two threads' BEGIN/COMMIT on a connection). A history view that wants to read
while the worker writes can open a second ``ProfileDb`` on the same file (WAL lets readers run alongside).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sharedclient.core.errors import StorageError
from sharedclient.core.store.db import open_database

FILENAME = "outbox.sqlite"

MIGRATIONS = [
    """
    CREATE TABLE outbox(
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
        phase TEXT NOT NULL DEFAULT '',
        account TEXT NOT NULL,
        identity TEXT NOT NULL,
        mode TEXT NOT NULL,
        user TEXT NOT NULL,
        envelope_from TEXT NOT NULL,
        recipients TEXT NOT NULL,
        bcc TEXT NOT NULL DEFAULT '[]',
        from_header TEXT NOT NULL DEFAULT '',
        sender_header TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL,
        raw BLOB NOT NULL,
        size INTEGER NOT NULL,
        dsn INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        smtp_reply TEXT NOT NULL DEFAULT '',
        sent_at REAL,
        copy_attempts INTEGER NOT NULL DEFAULT 0,
        copy_mailbox TEXT,
        warnings TEXT NOT NULL DEFAULT '[]',
        original TEXT,
        history_id INTEGER
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt);
    -- Indexes on one column each: SQLite appends the rowid, so "identity = ? ORDER BY id DESC" walks one index.
    CREATE TABLE history(
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        profile TEXT NOT NULL DEFAULT '',
        account TEXT NOT NULL DEFAULT '',
        identity TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL DEFAULT '',
        user TEXT NOT NULL DEFAULT '',
        envelope_from TEXT NOT NULL DEFAULT '',
        from_header TEXT NOT NULL DEFAULT '',
        sender_header TEXT NOT NULL DEFAULT '',
        recipients TEXT NOT NULL DEFAULT '[]',
        subject TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        smtp_reply TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        copy_mailbox TEXT NOT NULL DEFAULT '',
        outbox_id INTEGER
    );
    CREATE INDEX history_time ON history(time);
    CREATE INDEX history_identity ON history(identity);
    CREATE INDEX history_status ON history(status);
    CREATE INDEX history_mode ON history(mode);
    CREATE INDEX history_account ON history(account);
    CREATE INDEX history_subject ON history(subject COLLATE NOCASE);
    CREATE INDEX history_message_id ON history(message_id);
    CREATE VIRTUAL TABLE history_fts USING fts5(
        identity, from_header, sender_header, recipients, subject, message_id,
        content='history', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER history_ai AFTER INSERT ON history BEGIN
        INSERT INTO history_fts(rowid, identity, from_header, sender_header, recipients, subject, message_id)
        VALUES (new.id, new.identity, new.from_header, new.sender_header, new.recipients, new.subject, new.message_id);
    END;
    CREATE TRIGGER history_ad AFTER DELETE ON history BEGIN
        INSERT INTO history_fts(history_fts, rowid, identity, from_header, sender_header, recipients, subject,
                                message_id)
        VALUES ('delete', old.id, old.identity, old.from_header, old.sender_header, old.recipients, old.subject,
                old.message_id);
    END;
    CREATE TRIGGER history_au AFTER UPDATE OF identity, from_header, sender_header, recipients, subject, message_id
    ON history BEGIN
        INSERT INTO history_fts(history_fts, rowid, identity, from_header, sender_header, recipients, subject,
                                message_id)
        VALUES ('delete', old.id, old.identity, old.from_header, old.sender_header, old.recipients, old.subject,
                old.message_id);
        INSERT INTO history_fts(rowid, identity, from_header, sender_header, recipients, subject, message_id)
        VALUES (new.id, new.identity, new.from_header, new.sender_header, new.recipients, new.subject, new.message_id);
    END;
    CREATE TABLE identity_check(
        account TEXT NOT NULL,
        address TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('verified', 'denied', 'unknown')),
        reason TEXT NOT NULL DEFAULT '',
        checked_at REAL NOT NULL,
        PRIMARY KEY (account, address, mode)
    );
    """,
    # 2: (column, time) indexes, so "identity = ? ORDER BY time DESC LIMIT 100" reads 100 index entries and a
    # date range never scans the whole table (measured at 1M rows: 320 ms → 0.4 ms for an empty range).
    """
    DROP INDEX history_identity;
    DROP INDEX history_status;
    DROP INDEX history_mode;
    DROP INDEX history_account;
    CREATE INDEX history_identity ON history(identity, time);
    CREATE INDEX history_status ON history(status, time);
    CREATE INDEX history_mode ON history(mode, time);
    CREATE INDEX history_account ON history(account, time);
    """,
    # 3: delivery tracking (core/tracking): per-recipient state from delivery reports and read receipts, and
    # how far each mailbox was scanned for reports (UIDVALIDITY + last UID), so a report is read once.
    """
    CREATE TABLE delivery(
        history_id INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('dsn', 'mdn')),
        state TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        diagnostic TEXT NOT NULL DEFAULT '',
        reported_at REAL,
        recorded_at REAL NOT NULL,
        report_message_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (history_id, recipient, kind)
    );
    CREATE TABLE report_scan(
        account TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        PRIMARY KEY (account, mailbox)
    );
    """,
    # 4: the justification typed to send past a DLP or volume warning (core/send_guard), kept with the
    # queued message and with its sent-as history entry (the audit trail holds it too).
    """
    ALTER TABLE outbox ADD COLUMN justification TEXT NOT NULL DEFAULT '';
    ALTER TABLE history ADD COLUMN justification TEXT NOT NULL DEFAULT '';
    """,
]


def _damaged(path: Path | str, exc: Exception) -> str:
    return (
        f"The outbox database {path} is damaged ({exc}). SharedClient will not use or replace it, because it "
        "may hold unsent messages and the send history: keep the file (sqlite3 can often .recover it), and "
        "move it aside to start with an empty outbox."
    )


def _open_checked(path: Path | str) -> sqlite3.Connection:
    """Open, migrate, and check the outbox table; a damaged file is refused and left exactly as it is.

    Only the outbox table (small: unsent mail) is checked at start; damage elsewhere (the history, which
    can hold a million rows) is reported as the same sentence when a query meets it.
    """
    try:
        conn = open_database(path, MIGRATIONS, synchronous="FULL", what="outbox database")
    except StorageError as exc:
        if "newer SharedClient" in exc.user_message or exc.__cause__ is None:
            raise
        raise StorageError(_damaged(path, exc.__cause__)) from exc
    try:
        problem = conn.execute("PRAGMA quick_check(outbox)").fetchone()[0]
        if problem != "ok":
            raise sqlite3.DatabaseError(problem)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StorageError(_damaged(path, exc)) from exc
    return conn


class ProfileDb:
    """``outbox.sqlite`` with one lock around every use of its connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._conn = _open_checked(path)
        self._lock = threading.RLock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ProfileDb:
        return cls(Path(data_dir) / FILENAME)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); StorageError with a sentence if the disk refuses."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"The outbox database {self.path} cannot be written ({exc}).") from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                    raise StorageError(_damaged(self.path, exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"The outbox database {self.path} cannot be written ({exc}).") from exc
                raise

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
                cur.row_factory = sqlite3.Row
                return cur.fetchall()
            except sqlite3.DatabaseError as exc:
                raise StorageError(_damaged(self.path, exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ProfileDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
