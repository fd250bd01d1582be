"""Canned responses: one message per template in the mailbox's ``Templates`` folder.

The template's name is the message's Subject, its body the text part, its attachments the message's
attachments; ``X-SharedClient-Template`` and the ``$SharedClientTemplate`` keyword mark it, but any
message a teammate files into Templates with another mail client (Thunderbird keeps its templates the
same way) is offered too. Templates are re-read every time the picker opens, so a teammate's new one is
there at the next look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import mailbox_label
from sharedclient.core.mime.addresses import check_text
from sharedclient.core.mime.compose import WIRE_POLICY, AttachmentFile
from sharedclient.core.mime.render import attachment_payload, render_message
from sharedclient.core.model import Account
from sharedclient.core.teamdesk.folders import TEMPLATES, DeskFolder, append_message, ensure, fetch_messages, locate

TEMPLATE_HEADER = "X-SharedClient-Template"
TEMPLATE_KEYWORD = "$SharedClientTemplate"
MAX_NAME = 200


@dataclass(frozen=True)
class Template:
    uid: int
    name: str
    body: str
    author: str  # "Alice <alice@…>" as stored
    date: datetime | None
    attachments: tuple[str, ...]  # file names
    folder: str  # the Templates folder's path
    where: str  # "support@example.test's mailbox" / "your mailbox"
    raw: bytes

    def matches(self, query: str) -> bool:
        """Every word of ``query`` occurs in the name or the text (case and accents as typed)."""
        haystack = f"{self.name}\n{self.body}".casefold()
        return all(word in haystack for word in query.casefold().split())

    def attachment_files(self) -> tuple[AttachmentFile, ...]:
        rendered = render_message(self.raw)
        return tuple(
            AttachmentFile(a.filename or f"attachment-{a.index}", attachment_payload(self.raw, a.index), a.content_type)
            for a in rendered.attachments
        )


@dataclass(frozen=True)
class TemplateList:
    """The templates of one mailbox and whether this user may add to them (``desk.reason`` if not)."""

    desk: DeskFolder
    templates: tuple[Template, ...]


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise UsageError("A template needs a name (it becomes the message's subject).")
    return check_text(name, "The template name", max_len=MAX_NAME)


def build_template(
    name: str, body: str, author: Address, attachments: tuple[AttachmentFile, ...] = (), *, now: datetime | None = None
) -> bytes:
    """The message that stores a template (CRLF line ends, ready to APPEND)."""
    name = check_name(name)
    if not body.strip():
        raise UsageError(f"The template “{name}” has no text.")
    msg = EmailMessage(policy=WIRE_POLICY)
    msg["From"] = author
    msg["Subject"] = name
    msg["Date"] = format_datetime(now or datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=author.domain or "sharedclient.invalid")
    msg[TEMPLATE_HEADER] = "canned response"
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")
    for attachment in attachments:
        maintype, subtype = attachment.mime_type()
        filename = check_text(attachment.filename, f"The attachment name “{attachment.filename}”", max_len=255)
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_template(uid: int, raw: bytes, folder: str, where: str) -> Template:
    """A stored message as a template; never raises on a malformed one (it is shown as best it can be)."""
    rendered = render_message(raw)
    headers = rendered.headers
    when = None
    try:
        when = parsedate_to_datetime(headers.get("Date", "")) if headers.get("Date") else None
    except (TypeError, ValueError):
        when = None
    name = " ".join((headers.get("Subject") or "").split()) or f"(untitled template {uid})"
    return Template(
        uid=uid,
        name=name,
        body=_lines(rendered.text).rstrip("\n") + "\n" if rendered.text.strip() else "",
        author=headers.get("From", ""),
        date=when,
        attachments=tuple(a.filename for a in rendered.attachments),
        folder=folder,
        where=where,
        raw=raw,
    )


def list_templates(conn: ImapConnection, account: Account, mailbox: str) -> TemplateList:
    """The templates belonging to ``mailbox`` (any folder of its owner), sorted by name."""
    desk = locate(conn, account, mailbox, TEMPLATES)
    if desk.folder is None:
        return TemplateList(desk, ())
    stored = fetch_messages(conn, desk.folder, [])
    found = [parse_template(uid, raw, desk.folder.path, desk.owner) for uid, raw in stored]
    return TemplateList(desk, tuple(sorted(found, key=lambda t: (t.name.casefold(), t.uid))))


def add_template(
    conn: ImapConnection,
    account: Account,
    mailbox: str,
    name: str,
    body: str,
    author: Address,
    attachments: tuple[AttachmentFile, ...] = (),
) -> tuple[Template, str]:
    """Store a new template; creates the Templates folder when allowed. Returns it and its folder's label.

    The message is built (and checked) before anything touches the server.
    """
    raw = build_template(name, body, author, attachments)
    desk = locate(conn, account, mailbox, TEMPLATES)
    folder = ensure(conn, account, desk)
    uid = append_message(conn, folder, raw, TEMPLATE_KEYWORD)
    return parse_template(uid or 0, raw, folder.path, desk.owner), mailbox_label(folder)
