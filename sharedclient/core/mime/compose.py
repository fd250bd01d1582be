"""Building the bytes that go on the wire, and proving they say what the person wrote.

Send As: ``From: Support Team <support@…>``, no ``Sender``, envelope ``MAIL FROM:<support@…>`` (bounces
reach the team). On Behalf: same From, ``Sender: Alice <alice@…>``, envelope = Alice's own address (the
submission server checks only the envelope, so it is Alice's permission that counts there). Own: From and
envelope are the person's address.

Safety, because the message is assembled from text typed by a person or taken from a received message:

* every header text is checked up front (:func:`~sharedclient.core.mime.addresses.check_text`): no control
  characters, no line breaks, no RFC 2047 encoded words — Python 3.11.7 decodes those and writes a decoded
  CR/LF out as a new header line (CVE-2024-6923);
* every address passes a strict grammar (:mod:`sharedclient.core.mime.addresses`, CVE-2023-27043);
* after serialising, :func:`verify_wire` parses the bytes back and requires the same header names in the
  same order, the same From/Sender/Subject, To+Cc+Bcc equal to the RCPT list, and no Bcc address anywhere
  in the bytes. On any difference the message is refused (:class:`UnsafeMessageError`), never "fixed".

The wire bytes are pure ASCII with CRLF line ends (7bit transfer encodings), so no server needs 8BITMIME or
SMTPUTF8.
"""

from __future__ import annotations

import email.parser
import email.policy
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sharedclient.core.errors import UnsafeMessageError, UsageError
from sharedclient.core.mime.addresses import check_text, format_address, make_address, strict_addr_spec
from sharedclient.core.model import Identity, SendMode

#: Header folding at 78, 7bit transfer encodings, CRLF; values we folded ourselves (set_raw) stay as they are.
WIRE_POLICY = email.policy.SMTP.clone(cte_type="7bit", refold_source="none")
MAX_RECIPIENTS = 500
MAX_REFERENCES = 20
SENT_BY_HEADER = "X-SharedClient-Sent-By"
_MSGID = re.compile(r"^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\[\]:-]{1,200}>\Z")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


@dataclass(frozen=True)
class AttachmentFile:
    """One file to attach: its name as the recipient will see it, its bytes, its MIME type."""

    filename: str
    data: bytes
    content_type: str = ""  # guessed from the file name when empty

    @classmethod
    def from_path(cls, path: str | Path) -> AttachmentFile:
        path = Path(path).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"The attachment {path} cannot be read ({exc.strerror or exc}).") from exc
        return cls(path.name, data)

    def mime_type(self) -> tuple[str, str]:
        ctype = self.content_type or mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        return (maintype, subtype) if maintype and subtype else ("application", "octet-stream")


@dataclass(frozen=True)
class OutgoingMessage:
    """What a person wants to send, before any encoding. The GUI composer and the CLI both fill this in.

    ``quote`` is the attribution line plus the quoted original (reply) or the forwarded text; it goes
    below the signature, as desk workers answer on top.
    """

    identity: Identity
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    body: str = ""
    attachments: tuple[AttachmentFile, ...] = ()
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    quote: str = ""
    request_dsn: bool | None = None  # None: as the identity says
    request_receipt: bool = False  # Disposition-Notification-To (RFC 8098) with the identity's address


@dataclass(frozen=True)
class ComposedMessage:
    """The verified result: the exact wire bytes plus the envelope they must go with."""

    raw: bytes  # what the recipients get: no Bcc, no X-SharedClient-Sent-By
    envelope_from: str
    recipients: tuple[str, ...]  # RCPT TO, in order To, Cc, Bcc, without duplicates
    bcc: tuple[str, ...]
    message_id: str
    identity: Identity
    user: Identity
    from_header: str  # human form, for logs and the history
    sender_header: str  # "" without Sender
    subject: str
    request_dsn: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return len(self.raw)


def envelope_sender(identity: Identity, user: Identity) -> str:
    """MAIL FROM: the person's own address for On Behalf, else the identity's address."""
    return user.address if identity.mode is SendMode.ON_BEHALF else identity.address


def recipient_view(identity: Identity, user: Identity) -> str:
    """How the recipient's mail program shows the sender ("Alice on behalf of Support Team <support@…>")."""
    shown = f"{identity.name} <{identity.address}>" if identity.name else identity.address
    if identity.mode is SendMode.ON_BEHALF and user.address.lower() != identity.address.lower():
        return f"{user.name or user.address} on behalf of {shown}"
    return shown


def clean_msgids(values: Sequence[str]) -> tuple[str, ...]:
    """Message-IDs from a received message, reduced to strictly well-formed ones (the rest is dropped)."""
    ids: list[str] = []
    for value in values:
        for token in re.findall(r"<[^<>\s]*>", value or ""):
            if _MSGID.match(token) and "=?" not in token and token not in ids:
                ids.append(token)
    if len(ids) > MAX_REFERENCES:  # keep the thread root and the most recent ones
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return tuple(ids)


def _body_text(message: OutgoingMessage) -> str:
    text = message.body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    signature = message.identity.signature.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip("\n")
    if signature:
        text = text.rstrip("\n") + "\n\n-- \n" + signature
    if message.quote:
        text = text.rstrip("\n") + "\n\n" + message.quote.replace("\r\n", "\n").replace("\x00", "")
    return text if text.endswith("\n") else text + "\n"


def _text_cte(text: str) -> str:
    ascii_ok = text.isascii() and all(len(line) <= 998 for line in text.split("\n"))
    return "7bit" if ascii_ok else "quoted-printable"


def address_list_value(addresses: Sequence[Address]) -> str:
    """A folded To/Cc value with each address on its own line.

    Why not ``msg["To"] = addresses``: Python 3.11's folder, when it must break an address list right after
    an encoded display name, can emit the separating comma as an encoded word (``=?utf-8?q?=2C?=``) — the
    next address then vanishes into the previous one for every reader, while the envelope still has it
    (found by the property tests). Folding each address alone never puts a comma at a fold point.
    """
    folded = []
    for addr in addresses:
        line = WIRE_POLICY.header_factory("To", [addr]).fold(policy=WIRE_POLICY)
        folded.append(line[len("To:") :].strip(" \r\n"))  # the folder may break right after "To:"
    return ",\r\n ".join(folded)


def _dedupe(addresses: Sequence[str], seen: set[str]) -> list[str]:
    out = []
    for addr in addresses:
        if addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out


def compose(
    message: OutgoingMessage,
    user: Identity,
    *,
    now: datetime | None = None,
    message_id: str | None = None,
) -> ComposedMessage:
    """Build and verify the message; raise UsageError/UnsafeMessageError instead of sending something else.

    ``user`` is the person sending (the own identity of the identity's account): it is the Sender of an
    On Behalf message and its address is the envelope sender then.
    """
    ident = message.identity
    from_addr = make_address(ident.name, ident.address)
    user_addr = make_address(user.name, user.address)
    subject = check_text(message.subject, "The subject")
    to = [make_address(a.display_name, a.addr_spec) for a in message.to]
    cc = [make_address(a.display_name, a.addr_spec) for a in message.cc]
    bcc = [strict_addr_spec(a.addr_spec) for a in message.bcc]
    seen: set[str] = set()
    visible = _dedupe([a.addr_spec for a in to + cc], seen)
    hidden = _dedupe(bcc, seen)
    recipients = tuple(visible + hidden)
    if not recipients:
        raise UsageError("The message has no recipients; add at least one address in To, Cc or Bcc.")
    if len(recipients) > MAX_RECIPIENTS:
        raise UsageError(f"The message has {len(recipients)} recipients; at most {MAX_RECIPIENTS} are allowed.")
    in_reply_to = clean_msgids([message.in_reply_to])[:1]
    references = clean_msgids([*message.references, *in_reply_to])
    if message_id is None:
        message_id = make_msgid(domain=ident.address.rpartition("@")[2])
    if not _MSGID.match(message_id):
        raise UnsafeMessageError(f"The Message-ID {message_id!r} is malformed.")

    msg = EmailMessage(policy=WIRE_POLICY)
    msg["From"] = from_addr
    on_behalf = ident.mode is SendMode.ON_BEHALF and user.address.lower() != ident.address.lower()
    if on_behalf:
        msg["Sender"] = user_addr
    if ident.reply_to:
        msg["Reply-To"] = make_address(ident.name, ident.reply_to)
    if to:
        msg.set_raw("To", address_list_value(to))
    elif not cc:
        msg["To"] = "undisclosed-recipients:;"
    if cc:
        msg.set_raw("Cc", address_list_value(cc))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now().astimezone())
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to[0]
    if references:
        msg["References"] = " ".join(references)
    if message.request_receipt:  # receipts come back to the identity (for Send As: the team's INBOX)
        msg["Disposition-Notification-To"] = strict_addr_spec(ident.address)
    text = _body_text(message)
    msg.set_content(text, subtype="plain", charset="utf-8", cte=_text_cte(text))
    for attachment in message.attachments:
        name = check_text(attachment.filename, f"The attachment name “{attachment.filename}”", max_len=255)
        maintype, subtype = attachment.mime_type()
        if maintype == "text":  # keep the bytes exactly: no charset guessing or line-end rewriting
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=name)
    for part in msg.iter_parts():
        del part["MIME-Version"]  # only the top level carries it

    raw = msg.as_bytes()
    expected = [name for name in msg.keys()]
    verify_wire(
        raw,
        expected_headers=expected,
        recipients=recipients,
        bcc=hidden,
        from_addr=from_addr,
        sender_addr=user_addr if on_behalf else None,
        subject=subject,
    )
    return ComposedMessage(
        raw=raw,
        envelope_from=envelope_sender(ident, user) if on_behalf else ident.address,
        recipients=recipients,
        bcc=tuple(hidden),
        message_id=message_id,
        identity=ident,
        user=user,
        from_header=format_address(from_addr),
        sender_header=format_address(user_addr) if on_behalf else "",
        subject=subject,
        request_dsn=ident.dsn if message.request_dsn is None else message.request_dsn,
    )


def _unsafe(reason: str) -> UnsafeMessageError:
    return UnsafeMessageError(f"The message was not sent because it failed a safety check: {reason}.")


def _normal(text: str) -> str:
    return " ".join(text.split())


def verify_wire(
    raw: bytes,
    *,
    expected_headers: Sequence[str],
    recipients: Sequence[str],
    bcc: Sequence[str],
    from_addr: Address,
    sender_addr: Address | None,
    subject: str,
) -> None:
    """Parse ``raw`` back and compare it with what was meant; raise UnsafeMessageError on any difference."""
    if not raw.isascii():
        raise _unsafe("it contains non-ASCII bytes")
    if re.search(rb"\r(?!\n)|(?<!\r)\n", raw):
        raise _unsafe("it contains a bare CR or LF")
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        raise _unsafe("it has no end of header")
    names = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not line.strip():
                raise _unsafe("a header line is blank")
            continue
        if not _HEADER_LINE.match(line):
            raise _unsafe(f"a header line is malformed ({line[:40]!r})")
        names.append(line.split(b":", 1)[0].decode("ascii").lower())
    if names != [n.lower() for n in expected_headers]:
        raise _unsafe(f"the header fields changed when written out ({', '.join(names)})")

    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    if "bcc" in names:
        raise _unsafe("a Bcc header would be visible to the recipients")
    # Each msg[name] access re-parses the header: fetch every one once.
    fields = {name: parsed[name] for name in ("From", "Sender", "To", "Cc", "Subject", "Reply-To")}
    for name, header in fields.items():
        if header is not None and getattr(header, "defects", None):
            raise _unsafe(f"the {name} header does not parse cleanly")
    from_parsed = fields["From"].addresses if fields["From"] is not None else ()
    if len(from_parsed) != 1 or from_parsed[0].addr_spec.lower() != from_addr.addr_spec.lower():
        raise _unsafe("the From address changed when written out")
    if _normal(from_parsed[0].display_name) != _normal(from_addr.display_name):
        raise _unsafe("the From name changed when written out")
    sender_parsed = fields["Sender"].addresses if fields["Sender"] is not None else ()
    if sender_addr is None:
        if sender_parsed:
            raise _unsafe("an unexpected Sender header appeared")
    elif len(sender_parsed) != 1 or sender_parsed[0].addr_spec.lower() != sender_addr.addr_spec.lower():
        raise _unsafe("the Sender address changed when written out")
    if _normal(str(fields["Subject"] or "")) != _normal(subject):
        raise _unsafe("the subject changed when written out")

    shown = [a.addr_spec.lower() for name in ("To", "Cc") if fields[name] is not None for a in fields[name].addresses]
    rcpt = [r.lower() for r in recipients]
    if len(set(rcpt)) != len(rcpt):
        raise _unsafe("a recipient is listed twice in the envelope")
    if set(shown) | {b.lower() for b in bcc} != set(rcpt) or set(shown) & {b.lower() for b in bcc}:
        raise _unsafe("the recipients in the header differ from the addresses the message would be sent to")
    lowered = raw.lower()
    for hidden in bcc:
        # Whole address only: "0@0.0" inside "x0.0@0.0" is another address, not a leak.
        pattern = rb"(?<![a-z0-9.!#$%&'*+/=?^_`{|}~-])" + re.escape(hidden.lower().encode("ascii")) + rb"(?![a-z0-9.-])"
        if re.search(pattern, lowered):
            raise _unsafe(f"the Bcc address {hidden} would be visible to the recipients")


def team_copy(raw: bytes, sent_by: str, bcc: Sequence[str] = ()) -> bytes:
    """The copy for the team's Sent folder: who really sent it, and the Bcc list (the recipients never see these)."""
    sent_by = strict_addr_spec(sent_by)
    lines = WIRE_POLICY.fold(SENT_BY_HEADER, sent_by)
    if bcc:
        lines += WIRE_POLICY.fold("Bcc", ", ".join(strict_addr_spec(b) for b in bcc))
    return lines.encode("ascii") + raw
