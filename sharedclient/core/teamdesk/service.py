"""Templates and notes as jobs on an account's worker: the surface the CLI and the window share.

Every method returns a ``Future`` and runs on the account's worker thread, which owns the IMAP
connection, so the GUI thread never waits on the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from email.headerregistry import Address

from sharedclient.core.account_session import AccountSession
from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.mime.addresses import make_address
from sharedclient.core.mime.compose import AttachmentFile
from sharedclient.core.teamdesk import notes, templates
from sharedclient.core.teamdesk.notes import Conversation, Note, NoteList
from sharedclient.core.teamdesk.templates import Template, TemplateList


class TeamDesk:
    def __init__(self, session: AccountSession) -> None:
        self.session = session
        self.account = session.account

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
        return self.session.worker.submit(lambda conn: notes.notes_for(conn, self.account, mailbox, about))

    def add_note(self, mailbox: str, about: Conversation, text: str, author: Address) -> Future[Note]:
        return self.session.worker.submit(lambda conn: notes.add_note(conn, self.account, mailbox, about, text, author))


def author_address(name: str, address: str) -> Address:
    """The From of a template or note: the person's own identity (a name with odd characters is dropped)."""
    try:
        return make_address(name, address)
    except SharedClientError:
        return make_address("", address)
