"""The sent-as history: one row per send attempt, kept after the outbox row is gone.

Who sent what as whom is the question a team lead asks ("did anyone answer this customer from support@?"),
so the history is queryable: filters (identity, mode, status, account, date range), full-text search
(FTS5 over identity, From, Sender, recipients, subject, Message-ID), sorting, paging and CSV export.
Indexes make the usual queries (newest first, per identity/status/mode, word search) cheap at a million
rows (``tests/benchmarks/history_metrics.py``).

Status of an attempt: ``sending`` (in progress), ``sent``, ``retrying`` (4xx or network: the outbox tries
again), ``failed`` (refused), ``uncertain`` (connection lost after the whole message was handed over).
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from sharedclient.core.errors import UsageError
from sharedclient.core.store.profile_db import ProfileDb

STATUSES = ("sending", "sent", "retrying", "failed", "uncertain")
SORT_KEYS = {
    "time": "time",
    "identity": "identity",
    "subject": "subject COLLATE NOCASE",
    "status": "status",
    "mode": "mode",
    "account": "account",
    "size": "size",
}
JSON_KEYS = (
    "id", "time", "account", "identity", "mode", "user", "envelope_from", "from", "sender", "recipients",
    "subject", "message_id", "status", "smtp_reply", "copy_mailbox", "dlp_justification",
)  # fmt: skip


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    time: float
    profile: str
    account: str
    identity: str
    mode: str
    user: str
    envelope_from: str
    from_header: str
    sender_header: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    size: int
    smtp_reply: str
    status: str
    copy_mailbox: str
    outbox_id: int | None
    justification: str = ""  # typed to send past a DLP/volume warning (core.send_guard)

    def to_json(self) -> dict[str, Any]:
        """The documented ``sharedclient log --json`` object (time as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="seconds"),
            "account": self.account,
            "identity": self.identity,
            "mode": self.mode,
            "user": self.user,
            "envelope_from": self.envelope_from,
            "from": self.from_header,
            "sender": self.sender_header,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "message_id": self.message_id,
            "status": self.status,
            "smtp_reply": self.smtp_reply,
            "copy_mailbox": self.copy_mailbox,
            "dlp_justification": self.justification,
        }


@dataclass(frozen=True)
class HistoryQuery:
    """Filters, order and page. ``limit=0`` means everything; ``text`` is a full-text search (word prefixes)."""

    identity: str | None = None
    mode: str | None = None
    status: str | None = None
    account: str | None = None
    since: float | None = None  # inclusive, Unix time
    until: float | None = None  # exclusive
    text: str = ""
    sort: str = "time"
    descending: bool = True
    limit: int = 100
    offset: int = 0


def fts_query(text: str) -> str | None:
    """User text → an FTS5 query of quoted word prefixes (no FTS syntax from the user gets through)."""
    words = re.findall(r"\w+", text)
    return " ".join(f'"{w}"*' for w in words) or None


_COLUMNS = (
    "id, time, profile, account, identity, mode, user, envelope_from, from_header, sender_header, recipients, "
    "subject, message_id, size, smtp_reply, status, copy_mailbox, outbox_id, justification"
)
_INSERT = (
    "INSERT INTO history(time, profile, account, identity, mode, user, envelope_from, from_header, sender_header, "
    "recipients, subject, message_id, size, smtp_reply, status, copy_mailbox, outbox_id, justification) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=row[0], time=row[1], profile=row[2], account=row[3], identity=row[4], mode=row[5], user=row[6],
        envelope_from=row[7], from_header=row[8], sender_header=row[9], recipients=tuple(json.loads(row[10])),
        subject=row[11], message_id=row[12], size=row[13], smtp_reply=row[14], status=row[15],
        copy_mailbox=row[16], outbox_id=row[17], justification=row[18],
    )  # fmt: skip


class SendHistory:
    def __init__(self, db: ProfileDb, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock

    # -- writing ---------------------------------------------------------------------------------

    def record(self, entry: HistoryEntry) -> int:
        """Insert one attempt (``entry.id`` is ignored); returns its id."""
        return self.record_many([entry])[0]

    def record_many(self, entries: Iterable[HistoryEntry]) -> list[int]:
        ids = []
        with self.db.transaction() as conn:
            for e in entries:
                cur = conn.execute(_INSERT, self._values(e))
                ids.append(int(cur.lastrowid or 0))
        return ids

    @staticmethod
    def _values(e: HistoryEntry) -> tuple[Any, ...]:
        return (
            e.time, e.profile, e.account, e.identity.lower(), e.mode, e.user, e.envelope_from, e.from_header,
            e.sender_header, json.dumps(list(e.recipients)), e.subject, e.message_id, e.size, e.smtp_reply,
            e.status, e.copy_mailbox, e.outbox_id, e.justification,
        )  # fmt: skip

    def finish(self, entry_id: int, status: str, smtp_reply: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(status)
        with self.db.transaction() as conn:
            conn.execute("UPDATE history SET status = ?, smtp_reply = ? WHERE id = ?", (status, smtp_reply, entry_id))

    def finish_interrupted(self, outbox_id: int, status: str, smtp_reply: str = "") -> None:
        """After a crash: the attempts of ``outbox_id`` still marked ``sending`` get what became of them."""
        if status not in STATUSES:
            raise ValueError(status)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE history SET status = ?, smtp_reply = CASE WHEN ? = '' THEN smtp_reply ELSE ? END "
                "WHERE outbox_id = ? AND status = 'sending'",
                (status, smtp_reply, smtp_reply, outbox_id),
            )

    def set_copy_mailbox(self, entry_id: int, mailbox: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE history SET copy_mailbox = ? WHERE id = ?", (mailbox, entry_id))

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _where(q: HistoryQuery) -> tuple[str, str, list[Any]]:
        """(FROM clause, WHERE clause, parameters). A text search drives the query from the FTS index."""
        clauses: list[str] = []
        params: list[Any] = []
        match = fts_query(q.text) if q.text else None
        source = "history h"
        if match:
            source = "history_fts JOIN history h ON h.id = history_fts.rowid"
            clauses.append("history_fts MATCH ?")
            params.append(match)
        for column, value in (("identity", q.identity), ("mode", q.mode), ("status", q.status), ("account", q.account)):
            if value:
                clauses.append(f"h.{column} = ?")
                params.append(value.lower() if column == "identity" else value)
        if q.since is not None:
            clauses.append("h.time >= ?")
            params.append(q.since)
        if q.until is not None:
            clauses.append("h.time < ?")
            params.append(q.until)
        return source, (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _sql(self, q: HistoryQuery) -> tuple[str, list[Any]]:
        if q.sort not in SORT_KEYS:
            raise UsageError(f"Cannot sort the history by “{q.sort}” (choose from {', '.join(SORT_KEYS)}).")
        source, where, params = self._where(q)
        direction = "DESC" if q.descending else "ASC"
        # Every order is one an index delivers, so SQLite stops after one page instead of sorting all matches:
        # (column, time) indexes for the filters, and for a word search FTS5's own rowid order (rows are
        # appended as attempts happen, so that is time order unless the system clock jumped back).
        text = bool(q.text and fts_query(q.text))
        rowid = "history_fts.rowid" if text else "h.id"
        if q.sort == "time":
            order = f"{rowid} {direction}" if text else f"h.time {direction}, h.id {direction}"
        else:
            order = f"h.{SORT_KEYS[q.sort]} {direction}, {rowid} {direction}"
        columns = ", ".join(f"h.{c.strip()}" for c in _COLUMNS.split(","))
        sql = f"SELECT {columns} FROM {source}{where} ORDER BY {order}"
        if q.limit:
            sql += " LIMIT ? OFFSET ?"
            params += [q.limit, q.offset]
        return sql, params

    def query(self, q: HistoryQuery = HistoryQuery()) -> list[HistoryEntry]:
        sql, params = self._sql(q)
        return [_entry(tuple(r)) for r in self.db.read(sql, params)]

    def count(self, q: HistoryQuery = HistoryQuery()) -> int:
        source, where, params = self._where(q)
        return int(self.db.read(f"SELECT count(*) FROM {source}{where}", params)[0][0])

    def get(self, entry_id: int) -> HistoryEntry | None:
        rows = self.db.read(f"SELECT {_COLUMNS} FROM history WHERE id = ?", (entry_id,))
        return _entry(tuple(rows[0])) if rows else None

    def export_csv(self, q: HistoryQuery, out: TextIO, *, page: int = 5000) -> int:
        """Write the matching rows as CSV (header row = the JSON keys); returns the number of rows.

        Pages through the result so a million rows never sit in memory at once.
        """
        writer = csv.writer(out)
        writer.writerow(JSON_KEYS)
        written = 0
        total = q.limit or None
        offset = q.offset
        while total is None or written < total:
            size = page if total is None else min(page, total - written)
            rows = self.query(HistoryQuery(**{**q.__dict__, "limit": size, "offset": offset}))
            for entry in rows:
                data = entry.to_json()
                data["recipients"] = ", ".join(entry.recipients)
                writer.writerow([data[k] for k in JSON_KEYS])
            written += len(rows)
            offset += len(rows)
            if len(rows) < size:
                break
        return written


def parse_since(text: str) -> float:
    """``2024-06-03`` (local midnight) or an ISO 8601 time → Unix time, with a sentence on bad input."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"“{text}” is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM).") from None
    if value.tzinfo is None:
        value = value.astimezone()  # local time, as the person meant it
    return value.timestamp()


__all__: Sequence[str] = (
    "HistoryEntry", "HistoryQuery", "SendHistory", "STATUSES", "SORT_KEYS", "JSON_KEYS", "fts_query", "parse_since",
)  # fmt: skip
