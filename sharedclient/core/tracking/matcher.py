"""Matching reports to the sent-as history and keeping the per-recipient state (table ``delivery``).

A DSN is matched by its ENVID (``sc<history id>``, written by the outbox worker; checked against the
report's Original-Message-ID and recipients, since another teammate's profile numbers its history the same
way) and, when a server drops the ENVID, by Original-Message-ID (the newest history entry with it). An MDN has no ENVID, so
only the Message-ID. Reports can arrive out of order (a "delayed" after the "delivered"), so a final state
(delivered, failed, relayed) is never overwritten by a "delayed".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.reports import Report

_ENVID = re.compile(r"^sc(\d{1,18})$")
_RANK = {"delayed": 0, "relayed": 1, "delivered": 2, "failed": 2}


@dataclass(frozen=True)
class DeliveryState:
    history_id: int
    recipient: str
    kind: str  # "dsn" or "mdn"
    state: str
    status: str
    diagnostic: str
    reported_at: float | None
    recorded_at: float


def summary(states: Sequence[DeliveryState], recipients: int) -> str:
    """The history view's one cell: "2 delivered, 1 failed (5.1.1), read"; "" when nothing came yet."""
    parts = []
    for state in ("delivered", "relayed", "delayed", "failed"):
        group = [s for s in states if s.kind == "dsn" and s.state == state]
        if not group:
            continue
        text = state if recipients <= 1 else f"{len(group)} {state}"
        why = group[0].status or group[0].diagnostic  # the short code; the full diagnostic is in states()
        if state in ("failed", "delayed") and why:
            text += f" ({why})"
        parts.append(text)
    read = [s for s in states if s.kind == "mdn" and s.state == "displayed"]
    if read:
        parts.append("read" if recipients <= 1 else f"read by {len(read)}")
    return ", ".join(parts)


class DeliveryTracker:
    """Reads and writes the ``delivery`` table of the profile database."""

    def __init__(self, db: ProfileDb, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    def match(self, report: Report) -> int | None:
        """The history id the report belongs to, or None (not ours, or the history entry was removed).

        An ENVID is only a number in *this* profile's history, and a shared INBOX holds the reports of every
        teammate's messages: so an ENVID match must also agree with the report's Original-Message-ID (when
        the report carries it) and name one of the entry's recipients.
        """
        msgid = report.original_message_id.strip()
        m = _ENVID.match(report.envid.strip())
        if m:
            rows = self.db.read("SELECT id, message_id, recipients FROM history WHERE id = ?", (int(m.group(1)),))
            if rows:
                entry_id, entry_msgid, recipients = rows[0]
                named = {r.lower() for r in json.loads(recipients)}
                if (not msgid or msgid == entry_msgid) and any(r.recipient in named for r in report.results):
                    return int(entry_id)
        if msgid:
            rows = self.db.read("SELECT id FROM history WHERE message_id = ? ORDER BY id DESC LIMIT 1", (msgid,))
            if rows:
                return int(rows[0][0])
        return None

    def record(self, report: Report) -> int | None:
        """Match and store ``report``; returns the history id it was stored under (None: unmatched)."""
        history_id = self.match(report)
        if history_id is None:
            return None
        now = self._clock()
        with self.db.transaction() as conn:
            for r in report.results:
                old = conn.execute(
                    "SELECT state FROM delivery WHERE history_id = ? AND recipient = ? AND kind = ?",
                    (history_id, r.recipient, report.kind),
                ).fetchone()
                if old is not None and report.kind == "dsn" and _RANK.get(r.state, 0) < _RANK.get(old[0], 0):
                    continue  # a late "delayed" after the final word
                conn.execute(
                    "INSERT OR REPLACE INTO delivery(history_id, recipient, kind, state, status, diagnostic, "
                    "reported_at, recorded_at, report_message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (history_id, r.recipient, report.kind, r.state, r.status, r.diagnostic, report.time, now,
                     report.message_id),
                )  # fmt: skip
        return history_id

    def states(self, history_id: int) -> list[DeliveryState]:
        rows = self.db.read(
            "SELECT history_id, recipient, kind, state, status, diagnostic, reported_at, recorded_at FROM delivery "
            "WHERE history_id = ? ORDER BY kind, recipient",
            (history_id,),
        )
        return [DeliveryState(*tuple(r)) for r in rows]

    def states_for(self, history_ids: Sequence[int]) -> dict[int, list[DeliveryState]]:
        """States of many entries in one query (the history view's page)."""
        out: dict[int, list[DeliveryState]] = {}
        if not history_ids:
            return out
        marks = ",".join("?" * len(history_ids))
        rows = self.db.read(
            "SELECT history_id, recipient, kind, state, status, diagnostic, reported_at, recorded_at FROM delivery "
            f"WHERE history_id IN ({marks}) ORDER BY kind, recipient",
            list(history_ids),
        )
        for r in rows:
            out.setdefault(int(r[0]), []).append(DeliveryState(*tuple(r)))
        return out

    # -- how far a mailbox was scanned ------------------------------------------------------------

    def scanned_up_to(self, account: str, mailbox: str, uidvalidity: int) -> int:
        rows = self.db.read("SELECT uidvalidity, last_uid FROM report_scan WHERE account = ? AND mailbox = ?", (account, mailbox))
        if not rows or int(rows[0][0]) != uidvalidity:
            return 0
        return int(rows[0][1])

    def set_scanned(self, account: str, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO report_scan(account, mailbox, uidvalidity, last_uid) VALUES (?, ?, ?, ?)",
                (account, mailbox, uidvalidity, last_uid),
            )
