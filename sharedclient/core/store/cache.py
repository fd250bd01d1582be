"""The header cache: one SQLite database per account, keyed by (mailbox, UIDVALIDITY, UID).

Only a cache: everything in it can be fetched again, so it runs with ``synchronous=NORMAL`` and a
damaged file is moved aside and rebuilt. The message list reads it page by page, sorting and
filtering in SQL (FTS5 for sender/recipient/subject search).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sharedclient.core.errors import StorageError
from sharedclient.core.imap.headers import HeaderSummary
from sharedclient.core.store.db import open_database

log = logging.getLogger(__name__)

MIGRATIONS = [
    """
    CREATE TABLE mailbox(
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        uidvalidity INTEGER,
        highestmodseq INTEGER,
        synced_at REAL
    );
    CREATE TABLE message(
        id INTEGER PRIMARY KEY,
        mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        flags TEXT NOT NULL DEFAULT '',
        seen INTEGER NOT NULL DEFAULT 0,
        modseq INTEGER,
        internaldate REAL,
        size INTEGER NOT NULL DEFAULT 0,
        date REAL,
        from_name TEXT NOT NULL DEFAULT '',
        from_addr TEXT NOT NULL DEFAULT '',
        sender TEXT NOT NULL DEFAULT '',
        to_addrs TEXT NOT NULL DEFAULT '',
        cc_addrs TEXT NOT NULL DEFAULT '',
        reply_to TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        in_reply_to TEXT NOT NULL DEFAULT '',
        refs TEXT NOT NULL DEFAULT '',
        delivered_to TEXT NOT NULL DEFAULT '',
        has_attachment INTEGER NOT NULL DEFAULT 0,
        UNIQUE(mailbox_id, uid)
    );
    CREATE INDEX message_by_date ON message(mailbox_id, date);
    CREATE INDEX message_by_from ON message(mailbox_id, from_name COLLATE NOCASE, from_addr);
    CREATE INDEX message_by_subject ON message(mailbox_id, subject COLLATE NOCASE);
    CREATE INDEX message_by_size ON message(mailbox_id, size);
    CREATE INDEX message_by_msgid ON message(message_id);
    CREATE VIRTUAL TABLE message_fts USING fts5(
        from_name, from_addr, sender, to_addrs, cc_addrs, subject,
        content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER message_ai AFTER INSERT ON message BEGIN
        INSERT INTO message_fts(rowid, from_name, from_addr, sender, to_addrs, cc_addrs, subject)
        VALUES (new.id, new.from_name, new.from_addr, new.sender, new.to_addrs, new.cc_addrs, new.subject);
    END;
    CREATE TRIGGER message_ad AFTER DELETE ON message BEGIN
        INSERT INTO message_fts(message_fts, rowid, from_name, from_addr, sender, to_addrs, cc_addrs, subject)
        VALUES ('delete', old.id, old.from_name, old.from_addr, old.sender, old.to_addrs, old.cc_addrs, old.subject);
    END;
    CREATE TABLE body(
        message_id INTEGER PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
        raw BLOB NOT NULL
    );
    """,
    # The FTS rows of new messages are written by ``insert_messages``, one INSERT ... SELECT per batch:
    # through this per-row trigger FTS5 needed ~4x the CPU (measured on 50k rows: 2.3 s against 0.6 s),
    # a third of an initial sync's SQLite time. The delete trigger stays.
    """
    DROP TRIGGER message_ai;
    """,
    # Every index is paid for by every row a sync inserts: with all five, inserting cost ~33 µs a row,
    # with only (mailbox, date) ~14 µs — the largest single saving in an initial sync. The date order is
    # what the list opens with; the other orders get their index the first time somebody sorts by them
    # (``ensure_index``, ~0.1 s for 100k rows, once). Nothing looks messages up by Message-ID here.
    """
    DROP INDEX message_by_from;
    DROP INDEX message_by_subject;
    DROP INDEX message_by_size;
    DROP INDEX message_by_msgid;
    """,
]

#: Indexes built on first use, by name: sort orders other than date.
ON_DEMAND_INDEXES = {
    "message_by_from": "message(mailbox_id, from_name COLLATE NOCASE, from_addr)",
    "message_by_subject": "message(mailbox_id, subject COLLATE NOCASE)",
    "message_by_size": "message(mailbox_id, size)",
}


class FetchedMessage(NamedTuple):
    """One message as the sync fetched it (a named tuple for the same reason as HeaderSummary)."""

    uid: int
    flags: tuple[str, ...]
    internaldate: float | None
    size: int
    modseq: int | None
    headers: HeaderSummary


@dataclass(frozen=True)
class MailboxState:
    id: int
    path: str
    uidvalidity: int | None
    highestmodseq: int | None
    synced_at: float | None


def flags_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))


class HeaderCache:
    """Thread-safe access (one lock) to one account's header cache."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = open_database(path, MIGRATIONS, what="header cache")
            self._db.execute("SELECT count(*) FROM mailbox").fetchone()
        except (StorageError, sqlite3.DatabaseError) as exc:
            if path == ":memory:" or (isinstance(exc, StorageError) and "newer SharedClient" in exc.user_message):
                raise
            self.rebuilt_notice = self._move_aside_and_recreate(Path(path), exc)
        else:
            self.rebuilt_notice = ""
        # 16 MiB of page cache (SQLite's default is 2 MiB): a sync's inserts touch pages all over five
        # indexes, and with the small cache every batch re-read and re-wrote many of them (-0.3 s sys time
        # per 50k messages). Only filled as far as used.
        self._db.execute("PRAGMA cache_size=-16384")

    def _move_aside_and_recreate(self, path: Path, exc: Exception) -> str:
        aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
        path.rename(aside)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        log.warning("header cache %s was damaged (%s); moved to %s and rebuilt", path, exc, aside)
        self._db = open_database(path, MIGRATIONS, what="header cache")
        return f"The local mail cache was damaged and is being rebuilt from the server (the old file is kept as {aside.name})."

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- mailboxes -------------------------------------------------------------------------------

    def mailbox(self, path: str) -> MailboxState:
        with self._lock:
            row = self._db.execute(
                "SELECT id, path, uidvalidity, highestmodseq, synced_at FROM mailbox WHERE path=?", (path,)
            ).fetchone()
            if row is None:
                cur = self._db.execute("INSERT INTO mailbox(path) VALUES (?)", (path,))
                row = (cur.lastrowid, path, None, None, None)
            return MailboxState(*row)

    def reset_mailbox(self, path: str, uidvalidity: int) -> MailboxState:
        """UIDVALIDITY changed: every cached UID is meaningless now. Drop them all."""
        with self._lock:
            state = self.mailbox(path)
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM message WHERE mailbox_id=?", (state.id,))
            self._db.execute(
                "UPDATE mailbox SET uidvalidity=?, highestmodseq=NULL, synced_at=NULL WHERE id=?", (uidvalidity, state.id)
            )
            self._db.execute("COMMIT")
            return self.mailbox(path)

    def mark_synced(self, mailbox_id: int, uidvalidity: int, highestmodseq: int | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE mailbox SET uidvalidity=?, highestmodseq=?, synced_at=? WHERE id=?",
                (uidvalidity, highestmodseq, time.time(), mailbox_id),
            )

    def forget_mailboxes_except(self, paths: Iterable[str]) -> None:
        """Mailboxes that vanished from LIST (deleted, or access revoked) leave the cache."""
        keep = set(paths)
        with self._lock:
            for (path,) in self._db.execute("SELECT path FROM mailbox").fetchall():
                if path not in keep:
                    self._db.execute("DELETE FROM mailbox WHERE path=?", (path,))

    # -- messages --------------------------------------------------------------------------------

    def uids(self, mailbox_id: int) -> list[int]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT uid FROM message WHERE mailbox_id=? ORDER BY uid", (mailbox_id,))]

    def max_uid(self, mailbox_id: int) -> int:
        with self._lock:
            return self._db.execute("SELECT coalesce(max(uid), 0) FROM message WHERE mailbox_id=?", (mailbox_id,)).fetchone()[0]

    def count(self, mailbox_id: int) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM message WHERE mailbox_id=?", (mailbox_id,)).fetchone()[0]

    def insert_messages(self, mailbox_id: int, messages: Sequence[FetchedMessage]) -> None:
        rows = []
        for m in messages:
            h = m.headers
            rows.append((
                mailbox_id, m.uid, flags_text(m.flags), int("\\Seen" in m.flags), m.modseq, m.internaldate, m.size,
                h.date if h.date is not None else m.internaldate, h.from_name, h.from_addr, h.sender, h.to, h.cc,
                h.reply_to, h.subject, h.message_id, h.in_reply_to, h.references, h.delivered_to,
                int(h.has_attachment),
            ))
        if not rows:
            return
        # One row per UID (the last wins, as INSERT OR REPLACE did), so the INSERT below cannot conflict.
        rows = list({r[1]: r for r in rows}.values())
        uids = [r[1] for r in rows]
        with self._lock:
            self._db.execute("BEGIN")
            # UIDs cached already are replaced; deleting them first (delete trigger) keeps the FTS index exact.
            if self._db.execute(
                "SELECT 1 FROM message WHERE mailbox_id=? AND uid BETWEEN ? AND ? LIMIT 1",
                (mailbox_id, min(uids), max(uids)),
            ).fetchone():
                self._db.executemany("DELETE FROM message WHERE mailbox_id=? AND uid=?", [(mailbox_id, u) for u in uids])
            first_new = self._db.execute("SELECT coalesce(max(id), 0) FROM message").fetchone()[0]
            # A plain INSERT touching one table needs no statement journal; INSERT OR REPLACE (it may delete,
            # cascading to body) made SQLite journal every page each row touched: 18 page writes per row.
            self._db.executemany(
                "INSERT INTO message(mailbox_id, uid, flags, seen, modseq, internaldate, size, date,"
                " from_name, from_addr, sender, to_addrs, cc_addrs, reply_to, subject, message_id, in_reply_to,"
                " refs, delivered_to, has_attachment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            # New rows get ids above the old maximum (INTEGER PRIMARY KEY without AUTOINCREMENT).
            self._db.execute(
                "INSERT INTO message_fts(rowid, from_name, from_addr, sender, to_addrs, cc_addrs, subject)"
                " SELECT id, from_name, from_addr, sender, to_addrs, cc_addrs, subject FROM message WHERE id > ?",
                (first_new,),
            )
            self._db.execute("COMMIT")

    def update_flags(self, mailbox_id: int, changes: Iterable[tuple[int, tuple[str, ...], int | None]]) -> int:
        """Apply (uid, flags, modseq) changes; return how many rows really changed."""
        rows = [(flags_text(f), int("\\Seen" in f), modseq, mailbox_id, uid) for uid, f, modseq in changes]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE message SET flags=?1, seen=?2, modseq=coalesce(?3, modseq)"
                " WHERE mailbox_id=?4 AND uid=?5 AND flags IS NOT ?1",
                rows,
            )
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def delete_uids(self, mailbox_id: int, uids: Iterable[int]) -> int:
        rows = [(mailbox_id, uid) for uid in uids]
        with self._lock:
            before = self.count(mailbox_id)
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM message WHERE mailbox_id=? AND uid=?", rows)
            self._db.execute("COMMIT")
            return before - self.count(mailbox_id)

    def ensure_index(self, name: str) -> None:
        """Create one of ``ON_DEMAND_INDEXES`` if it does not exist yet (see the migration that dropped them)."""
        with self._lock:
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {ON_DEMAND_INDEXES[name]}")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Read-only queries for the message list model (kept in one place: ``core.store.listing``)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- bodies (fetched on demand) ----------------------------------------------------------------

    def body(self, mailbox_id: int, uid: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT b.raw FROM body b JOIN message m ON m.id=b.message_id WHERE m.mailbox_id=? AND m.uid=?",
                (mailbox_id, uid),
            ).fetchone()
            return bytes(row[0]) if row else None

    def store_body(self, mailbox_id: int, uid: int, raw: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO body(message_id, raw) SELECT id, ? FROM message WHERE mailbox_id=? AND uid=?",
                (raw, mailbox_id, uid),
            )

    def flags(self, mailbox_id: int, uids: Sequence[int]) -> list[tuple[int, tuple[str, ...]]]:
        marks = ",".join("?" * len(uids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT uid, flags FROM message WHERE mailbox_id=? AND uid IN ({marks})", (mailbox_id, *uids)
            ).fetchall()
        return [(uid, tuple(flags.split())) for uid, flags in rows]
