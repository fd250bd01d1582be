"""The durable outbox: raw message bytes are committed before any network action.

States::

    queued ──claim──▶ sending ──250──▶ sent ──copy saved (or given up, with a warning)──▶ (row removed;
      ▲  ▲              │                                                                  history keeps it)
      │  └──4xx/network─┤ (retry with backoff: "queued, retrying")
      │                 ├──5xx / refused / uncertain──▶ failed ──retry──┐
      └─────────────────┴───────────────────────────────────────────────┘
    queued ──cancel──▶ cancelled ──retry──▶ queued

At most once: the server's 250 is committed as ``sent`` before anything else happens, and just before the
final "." of DATA the row records ``phase='final-dot'``. A row found in ``sending`` at startup (crash) is
therefore either safe to send again (no final dot: the server discarded it when the connection dropped) or
*uncertain* (it may have been delivered): uncertain rows become ``failed`` with a sentence saying so and are
only resent when the person asks (``outbox retry``). We prefer asking over ever sending twice.

The guarantee, then (``tests/faults/test_kill_send.py`` kills a real sending process at each point):
exactly once for a crash anywhere except between the final dot and the committed 250; there, at most
once, never silent (history ``uncertain``, outbox ``failed`` with :data:`UNCERTAIN_AFTER_CRASH`). Closing
that window would need the server to say whether it has the message, which SMTP cannot; the Sent copy
does not help, since we append it only after the 250. A crash after the 250 resends nothing: the copy is
saved later (``append_copy`` looks for the Message-ID first, so it is not saved twice).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sharedclient.core.errors import NotFoundError, UsageError
from sharedclient.core.mime.compose import ComposedMessage
from sharedclient.core.store.profile_db import ProfileDb

FINAL_DOT = "final-dot"
UNCERTAIN_AFTER_CRASH = (
    "SharedClient stopped while the server was confirming this message, so it may or may not have been "
    "delivered. Check with a recipient or the Sent folder before sending it again (outbox retry)."
)


class OutboxState(str, Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"  # accepted by the server; the team copy is still to be saved
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OriginalRef:
    """The message a reply or forward answers, to flag it \\Answered / $Forwarded after sending."""

    account: str
    path: str
    uid: int
    kind: str = "reply"  # "reply" or "forward"

    @classmethod
    def parse(cls, text: str, kind: str = "reply") -> OriginalRef:
        """``ACCOUNT:PATH:UID`` (the path may itself contain colons)."""
        account, sep, rest = text.partition(":")
        path, sep2, uid = rest.rpartition(":")
        if not (sep and sep2 and account and path and uid.isdigit()):
            raise UsageError(f"“{text}” is not of the form ACCOUNT:MAILBOX:UID (for example work:INBOX:42).")
        return cls(account, path, int(uid), kind)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    created: float
    state: OutboxState
    phase: str
    account: str
    identity: str
    mode: str
    user: str
    envelope_from: str
    recipients: tuple[str, ...]
    bcc: tuple[str, ...]
    from_header: str
    sender_header: str
    subject: str
    message_id: str
    size: int
    dsn: bool
    attempts: int
    next_attempt: float
    last_error: str
    smtp_reply: str
    sent_at: float | None
    copy_attempts: int
    copy_mailbox: str | None
    warnings: tuple[str, ...] = field(default=())
    original: OriginalRef | None = None
    history_id: int | None = None
    justification: str = ""  # typed to send past a DLP/volume warning

    @property
    def status_text(self) -> str:
        """What the outbox list shows."""
        if self.state is OutboxState.QUEUED and self.attempts:
            return "queued, retrying"
        if self.state is OutboxState.SENT:
            return "sent, saving copy"
        return self.state.value

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.state.value,
            "status_text": self.status_text,
            "identity": self.identity,
            "subject": self.subject,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "recipients": list(self.recipients),
            "message_id": self.message_id,
            "created": self.created,
            "next_attempt": self.next_attempt if self.state is OutboxState.QUEUED else None,
            "smtp_reply": self.smtp_reply,
        }


_COLUMNS = (
    "id, created, state, phase, account, identity, mode, user, envelope_from, recipients, bcc, from_header, "
    "sender_header, subject, message_id, size, dsn, attempts, next_attempt, last_error, smtp_reply, sent_at, "
    "copy_attempts, copy_mailbox, warnings, original, history_id, justification"
)


def _item(row: Any) -> OutboxItem:
    original = json.loads(row["original"]) if row["original"] else None
    return OutboxItem(
        id=row["id"],
        created=row["created"],
        state=OutboxState(row["state"]),
        phase=row["phase"],
        account=row["account"],
        identity=row["identity"],
        mode=row["mode"],
        user=row["user"],
        envelope_from=row["envelope_from"],
        recipients=tuple(json.loads(row["recipients"])),
        bcc=tuple(json.loads(row["bcc"])),
        from_header=row["from_header"],
        sender_header=row["sender_header"],
        subject=row["subject"],
        message_id=row["message_id"],
        size=row["size"],
        dsn=bool(row["dsn"]),
        attempts=row["attempts"],
        next_attempt=row["next_attempt"],
        last_error=row["last_error"],
        smtp_reply=row["smtp_reply"],
        sent_at=row["sent_at"],
        copy_attempts=row["copy_attempts"],
        copy_mailbox=row["copy_mailbox"],
        warnings=tuple(json.loads(row["warnings"])),
        original=OriginalRef(**original) if original else None,
        history_id=row["history_id"],
        justification=row["justification"],
    )


class OutboxStore:
    """Rows of ``outbox``; every state change is one committed transaction."""

    def __init__(self, db: ProfileDb, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock

    # -- adding and reading ----------------------------------------------------------------------

    def add(
        self, composed: ComposedMessage, *, original: OriginalRef | None = None, justification: str = ""
    ) -> OutboxItem:
        """Store the message as ``queued``; once this returns, it survives a crash."""
        now = self._clock()
        ident = composed.identity
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO outbox(created, updated, state, account, identity, mode, user, envelope_from, "
                "recipients, bcc, from_header, sender_header, subject, message_id, raw, size, dsn, next_attempt, "
                "original, justification) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now, now, ident.account, ident.address.lower(), ident.mode.value, composed.user.address,
                    composed.envelope_from, json.dumps(list(composed.recipients)), json.dumps(list(composed.bcc)),
                    composed.from_header, composed.sender_header, composed.subject, composed.message_id,
                    composed.raw, composed.size, int(composed.request_dsn), now,
                    json.dumps(original.__dict__) if original else None, justification,
                ),
            )
            item_id = int(cur.lastrowid or 0)
        return self.get(item_id)

    def get(self, item_id: int) -> OutboxItem:
        rows = self.db.read(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        if not rows:
            raise NotFoundError(f"There is no message {item_id} in the outbox (already sent, or removed).")
        return _item(rows[0])

    def raw(self, item_id: int) -> bytes:
        rows = self.db.read("SELECT raw FROM outbox WHERE id = ?", (item_id,))
        if not rows:
            raise NotFoundError(f"There is no message {item_id} in the outbox (already sent, or removed).")
        return bytes(rows[0]["raw"])

    def items(self, states: tuple[OutboxState, ...] | None = None) -> list[OutboxItem]:
        """Everything still in the outbox (oldest first), optionally only some states."""
        if states:
            marks = ",".join("?" * len(states))
            rows = self.db.read(
                f"SELECT {_COLUMNS} FROM outbox WHERE state IN ({marks}) ORDER BY id", [s.value for s in states]
            )
        else:
            rows = self.db.read(f"SELECT {_COLUMNS} FROM outbox ORDER BY id")
        return [_item(r) for r in rows]

    def due(self, now: float | None = None) -> list[int]:
        """Queued messages whose retry time has come (all queued ones with ``now=inf``)."""
        now = self._clock() if now is None else now
        rows = self.db.read(
            "SELECT id FROM outbox WHERE state = 'queued' AND next_attempt <= ? ORDER BY next_attempt, id", (now,)
        )
        return [r["id"] for r in rows]

    def copies_due(self, now: float | None = None) -> list[int]:
        now = self._clock() if now is None else now
        rows = self.db.read(
            "SELECT id FROM outbox WHERE state = 'sent' AND next_attempt <= ? ORDER BY id", (now,)
        )
        return [r["id"] for r in rows]

    def next_wakeup(self) -> float | None:
        rows = self.db.read("SELECT min(next_attempt) AS t FROM outbox WHERE state IN ('queued', 'sent')")
        return rows[0]["t"] if rows else None

    # -- state changes ---------------------------------------------------------------------------

    def _update(self, item_id: int, sql: str, params: tuple[Any, ...], *, where_state: str | None = None) -> bool:
        cond = " AND state = ?" if where_state else ""
        with self.db.transaction() as conn:
            cur = conn.execute(
                f"UPDATE outbox SET updated = ?, {sql} WHERE id = ?{cond}",
                (self._clock(), *params, item_id, *((where_state,) if where_state else ())),
            )
            return cur.rowcount == 1

    def claim(self, item_id: int, history_id: int | None = None) -> bool:
        """queued → sending (atomic: False if someone else took it or it was cancelled)."""
        return self._update(
            item_id, "state = 'sending', phase = '', attempts = attempts + 1, history_id = ?", (history_id,),
            where_state="queued",
        )

    def set_history(self, item_id: int, history_id: int) -> None:
        self._update(item_id, "history_id = ?", (history_id,))

    def mark_final_dot(self, item_id: int) -> None:
        """Committed just before the final "." leaves: from here on the outcome may be unknown after a crash."""
        self._update(item_id, "phase = ?", (FINAL_DOT,), where_state="sending")

    def mark_sent(self, item_id: int, smtp_reply: str) -> None:
        """The server said 250: commit this first, so nothing can ever send it again."""
        now = self._clock()
        self._update(
            item_id, "state = 'sent', phase = '', smtp_reply = ?, sent_at = ?, last_error = '', next_attempt = ?",
            (smtp_reply, now, now),
        )

    def mark_retry(self, item_id: int, error: str, smtp_reply: str, next_attempt: float) -> None:
        self._update(
            item_id, "state = 'queued', phase = '', last_error = ?, smtp_reply = ?, next_attempt = ?",
            (error, smtp_reply, next_attempt), where_state="sending",
        )

    def mark_failed(self, item_id: int, error: str, smtp_reply: str = "") -> None:
        self._update(item_id, "state = 'failed', phase = '', last_error = ?, smtp_reply = ?", (error, smtp_reply))

    def cancel(self, item_id: int) -> bool:
        """queued → cancelled (kept, can be sent later with :meth:`requeue`); False if it is no longer queued."""
        self.get(item_id)
        return self._update(item_id, "state = 'cancelled'", (), where_state="queued")

    def requeue(self, item_id: int) -> OutboxItem:
        """failed/cancelled → queued, due now (``outbox retry``)."""
        item = self.get(item_id)
        if item.state not in (OutboxState.FAILED, OutboxState.CANCELLED, OutboxState.QUEUED):
            raise UsageError(
                f"Message {item_id} is {item.status_text}; only failed, cancelled or queued messages can be retried."
            )
        self._update(item_id, "state = 'queued', phase = '', next_attempt = ?", (self._clock(),))
        return self.get(item_id)

    def replace_message(self, item_id: int, composed: ComposedMessage) -> OutboxItem:
        """Put edited bytes into a failed or cancelled message (it stays there until retried)."""
        item = self.get(item_id)
        if item.state not in (OutboxState.FAILED, OutboxState.CANCELLED):
            raise UsageError(f"Message {item_id} is {item.status_text}; only failed or cancelled messages can be edited.")
        ident = composed.identity
        self._update(
            item_id,
            "account = ?, identity = ?, mode = ?, user = ?, envelope_from = ?, recipients = ?, bcc = ?, "
            "from_header = ?, sender_header = ?, subject = ?, message_id = ?, raw = ?, size = ?, dsn = ?",
            (
                ident.account, ident.address.lower(), ident.mode.value, composed.user.address, composed.envelope_from,
                json.dumps(list(composed.recipients)), json.dumps(list(composed.bcc)), composed.from_header,
                composed.sender_header, composed.subject, composed.message_id, composed.raw, composed.size,
                int(composed.request_dsn),
            ),
        )
        return self.get(item_id)

    def copy_retry(self, item_id: int, warning: str, next_attempt: float) -> None:
        self._update(
            item_id, "copy_attempts = copy_attempts + 1, next_attempt = ?, last_error = ?", (next_attempt, warning)
        )

    def remove(self, item_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    def delete(self, item_id: int) -> None:
        """Throw away a message the person no longer wants to send (never one in the middle of sending)."""
        item = self.get(item_id)
        if item.state is OutboxState.SENDING:
            raise UsageError(f"Message {item_id} is being sent right now; wait for the result first.")
        self.remove(item_id)

    def recover(self) -> list[OutboxItem]:
        """After a crash: ``sending`` rows become queued (no final dot) or failed (uncertain). Returns them."""
        changed = []
        for item in self.items((OutboxState.SENDING,)):
            if item.phase == FINAL_DOT:
                self.mark_failed(item.id, UNCERTAIN_AFTER_CRASH)
            else:
                self._update(item.id, "state = 'queued', phase = '', next_attempt = ?", (self._clock(),))
            changed.append(self.get(item.id))
        return changed
