"""Templates and notes as jobs on an account's worker: the surface the CLI and the window share.

Every method returns a ``Future`` and runs on the account's worker thread, which owns the IMAP
connection, so the GUI thread never waits on the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from email.headerregistry import Address

from sharedclient.core.account_session import AccountSession
from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.mime.addresses import make_address
from sharedclient.core.mime.compose import AttachmentFile
from sharedclient.core.teamdesk import notes, templates
from sharedclient.core.teamdesk.folders import NOTES, DeskFolder, locate
from sharedclient.core.teamdesk.notes import Conversation, Note, NoteList
from sharedclient.core.teamdesk.templates import Template, TemplateList


#: How long a located Notes folder (path and rights) is reused for *reading*; adding always looks again.
DESK_TTL = 60.0


class TeamDesk:
    def __init__(self, session: AccountSession, *, desk_ttl: float = DESK_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.session = session
        self.account = session.account
        self._ttl = desk_ttl
        self._clock = clock
        self._desks: dict[str, tuple[float, DeskFolder]] = {}  # mailbox -> (when, Notes folder); worker thread only

    def _notes_desk(self, conn: ImapConnection, mailbox: str) -> DeskFolder:
        hit = self._desks.get(mailbox)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        desk = locate(conn, self.account, mailbox, NOTES)
        self._desks[mailbox] = (self._clock(), desk)
        return desk

    def templates(self, mailboxes: Sequence[str]) -> Future[list[TemplateList | SharedClientError]]:
        """Templates of each mailbox in turn (shared first, then personal, as given).

        One mailbox failing (rights revoked, folder gone) does not hide the others: its entry is the error.
        """

        def job(conn: ImapConnection) -> list[TemplateList | SharedClientError]:
            out: list[TemplateList | SharedClientError] = []
            for mailbox in dict.fromkeys(mailboxes):
                try:
                    out.append(templates.list_templates(conn, self.account, mailbox))
                except SharedClientError as exc:
                    out.append(exc)
            return out

        return self.session.worker.submit(job)

    def add_template(
        self, mailbox: str, name: str, body: str, author: Address, attachments: tuple[AttachmentFile, ...] = ()
    ) -> Future[tuple[Template, str]]:
        return self.session.worker.submit(
            lambda conn: templates.add_template(conn, self.account, mailbox, name, body, author, attachments)
        )

    def notes(self, mailbox: str, about: Conversation) -> Future[NoteList]:
        """The conversation's notes; the Notes folder's place is reused for a minute (one SEARCH + FETCH then)."""

        def job(conn: ImapConnection) -> NoteList:
            try:
                return notes.notes_for(conn, self.account, mailbox, about, self._notes_desk(conn, mailbox))
            except SharedClientError:
                self._desks.pop(mailbox, None)  # gone or rights changed: look again next time
                raise

        return self.session.worker.submit(job)

    def add_note(self, mailbox: str, about: Conversation, text: str, author: Address) -> Future[Note]:
        """Add a note; rights are read now, and the next read sees the (maybe new) Notes folder."""

        def job(conn: ImapConnection) -> Note:
            self._desks.pop(mailbox, None)
            return notes.add_note(conn, self.account, mailbox, about, text, author)

        return self.session.worker.submit(job)


def author_address(name: str, address: str) -> Address:
    """The From of a template or note: the person's own identity (a name with odd characters is dropped)."""
    try:
        return make_address(name, address)
    except SharedClientError:
        return make_address("", address)
