"""Internal notes: messages in the mailbox's ``Notes`` folder, threaded onto a conversation.

A note is ``From`` its author, has ``In-Reply-To``/``References`` pointing at the message it is about
(so any mail client threads it there), the ``$SharedClientNote`` keyword and an ``X-SharedClient-Note``
header. It is only ever APPENDed to IMAP — nothing here talks SMTP — and replying to or forwarding a
note is refused (``mime.reply.read_original``), so its text cannot reach a customer by quoting either.

A conversation's notes are found by the server: SEARCH for notes whose References contain the
Message-ID of the message or any it refers to, so a note on the first mail shows on every reply too.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.mime.compose import WIRE_POLICY, clean_msgids
from sharedclient.core.mime.reply import clean_subject, prefixed
from sharedclient.core.imap.headers import decode_words
from sharedclient.core.mime.render import render_message
from sharedclient.core.model import Account
from sharedclient.core.teamdesk import NOTE_HEADER
from sharedclient.core.teamdesk.folders import NOTES, DeskFolder, append_message, ensure, fetch_messages, locate

NOTE_KEYWORD = "$SharedClientNote"
MAX_NOTE = 20_000  # characters; a note is a remark, not a document


@dataclass(frozen=True)
class Conversation:
    """What a note needs from the message it is about."""

    message_id: str
    references: tuple[str, ...]  # the message's own References/In-Reply-To, oldest first
    subject: str

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Every Message-ID that identifies the conversation (the message's and its ancestors')."""
        return tuple(dict.fromkeys((*self.references, self.message_id)))


@dataclass(frozen=True)
class Note:
    uid: int
    author: str  # "Alice <alice@…>"
    date: datetime | None
    text: str
    message_id: str
    about: str  # the In-Reply-To: Message-ID of the message the note was written on


@dataclass(frozen=True)
class NoteList:
    desk: DeskFolder
    notes: tuple[Note, ...]


def _headers(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n\r\n",
                                    policy=email.policy.compat32)


def is_note(raw: bytes) -> bool:
    """True for a SharedClient note (by its header; the keyword may have been dropped by the server)."""
    return _headers(raw).get(NOTE_HEADER) is not None


def conversation_of(raw: bytes) -> Conversation:
    """The Message-ID, References and subject of a received message; UsageError when it has no Message-ID."""
    headers = _headers(raw)
    ids = clean_msgids([str(headers.get("Message-ID", ""))])
    if not ids:
        raise UsageError(
            "This message has no usable Message-ID, so a note cannot be attached to its conversation."
        )
    refs = clean_msgids([str(headers.get("References", "")), str(headers.get("In-Reply-To", ""))])
    subject = clean_subject(decode_words(str(headers.get("Subject", ""))))
    return Conversation(ids[0], tuple(r for r in refs if r != ids[0]), subject)


def build_note(text: str, author: Address, about: Conversation, *, now: datetime | None = None) -> bytes:
    """The note message (CRLF, ready to APPEND). Never meant for SMTP: it has no recipients at all."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip("\n")
    if not text.strip():
        raise UsageError("The note is empty; write something first.")
    if len(text) > MAX_NOTE:
        raise UsageError(f"The note is {len(text)} characters long; at most {MAX_NOTE} are allowed.")
    msg = EmailMessage(policy=WIRE_POLICY)
    msg["From"] = author
    msg["Subject"] = prefixed(about.subject, "Note:")
    msg["Date"] = format_datetime(now or datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=author.domain or "sharedclient.invalid")
    msg["In-Reply-To"] = about.message_id
    msg["References"] = " ".join(clean_msgids([*about.references, about.message_id]))
    msg[NOTE_HEADER] = "internal note, never sent to customers"
    msg.set_content(text + "\n", charset="utf-8")
    return msg.as_bytes()


def parse_note(uid: int, raw: bytes) -> Note:
    rendered = render_message(raw)
    headers = rendered.headers
    try:
        when = parsedate_to_datetime(headers["Date"]) if headers.get("Date") else None
    except (TypeError, ValueError):
        when = None
    about = clean_msgids([str(_headers(raw).get("In-Reply-To", ""))])
    return Note(
        uid=uid,
        author=headers.get("From", ""),
        date=when,
        text=rendered.text.replace("\r\n", "\n").replace("\r", "\n").strip("\n"),
        message_id=headers.get("Message-ID", ""),
        about=about[0] if about else "",
    )


def _search(ids: tuple[str, ...]) -> list[object]:
    """HEADER X-SharedClient-Note "" AND (References contains any of ``ids``), in IMAP prefix notation."""
    criteria: list[object] = ["HEADER", NOTE_HEADER, ""]
    for msgid in ids[:-1]:
        criteria += ["OR", "HEADER", "References", msgid]
    criteria += ["HEADER", "References", ids[-1]]
    return criteria


def notes_for(
    conn: ImapConnection, account: Account, mailbox: str, about: Conversation, desk: DeskFolder | None = None
) -> NoteList:
    """The notes on ``about``'s conversation in ``mailbox``'s Notes folder, oldest first.

    ``desk``: where that folder is, when the caller located it recently (saves the LIST/MYRIGHTS round trips).
    """
    desk = desk or locate(conn, account, mailbox, NOTES)
    if desk.folder is None or "r" not in desk.folder.rights:
        return NoteList(desk, ())
    found = [parse_note(uid, raw) for uid, raw in fetch_messages(conn, desk.folder, _search(about.thread_ids))]
    found.sort(key=lambda n: (n.date.timestamp() if n.date else 0.0, n.uid))
    return NoteList(desk, tuple(found))


def add_note(
    conn: ImapConnection, account: Account, mailbox: str, about: Conversation, text: str, author: Address
) -> Note:
    """Append a note on ``about`` to ``mailbox``'s Notes folder (created when allowed)."""
    raw = build_note(text, author, about)
    desk = locate(conn, account, mailbox, NOTES)
    folder = ensure(conn, account, desk)
    uid = append_message(conn, folder, raw, NOTE_KEYWORD)
    return parse_note(uid or 0, raw)
