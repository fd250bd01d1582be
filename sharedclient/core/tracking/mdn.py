"""Read receipts (RFC 8098): asking for one, and answering a request only with the person's consent.

Asking: ``Disposition-Notification-To`` with the identity's own address (so receipts for support@ come
back to the team's INBOX, where the sync records them). Answering: never automatic. The policy is "ask"
(the reading pane offers Send receipt / Ignore) or "never"; either answer sets ``$MDNSent`` on the message
(RFC 3503) so nobody on the team is asked again. A request whose address differs from the Return-Path is
flagged: RFC 8098 §2.1 warns that it may be used to harvest addresses.
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header, make_header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path

from sharedclient.core.errors import StorageError, UsageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.mime.addresses import strict_addr_spec
from sharedclient.core.mime.compose import ComposedMessage
from sharedclient.core.model import Identity

MDN_SENT = "$MDNSent"
POLICIES = ("ask", "never")
FILE_NAME = "tracking.json"


@dataclass(frozen=True)
class ReceiptRequest:
    address: str  # where the receipt would go
    message_id: str
    subject: str
    suspicious: bool  # the address differs from the Return-Path


def _headers(raw: bytes) -> Message:
    return email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n\r\n",
                                    policy=email.policy.compat32)  # fmt: skip


def receipt_request(raw: bytes) -> ReceiptRequest | None:
    """The read-receipt request in ``raw``, or None (none, or an address we would not write to)."""
    head = _headers(raw)
    value = head.get("Disposition-Notification-To")
    if not value:
        return None
    address = parseaddr(str(value))[1]
    try:
        address = strict_addr_spec(address)
    except (UsageError, ValueError):
        return None
    return_path = parseaddr(str(head.get("Return-Path") or ""))[1]
    try:
        subject = str(make_header(decode_header(str(head.get("Subject") or ""))))
    except (ValueError, LookupError, UnicodeError):
        subject = str(head.get("Subject") or "")
    return ReceiptRequest(address, str(head.get("Message-ID") or "").strip(), subject,
                          suspicious=bool(return_path) and return_path.lower() != address.lower())  # fmt: skip


def build_receipt(raw: bytes, identity: Identity, user: Identity, *, now: datetime | None = None) -> ComposedMessage:
    """A "displayed" MDN for ``raw`` from ``identity`` (sent manually: the person clicked Send receipt)."""
    request = receipt_request(raw)
    if request is None:
        raise UsageError("This message does not ask for a read receipt.")
    outer = MIMEMultipart("report", report_type="disposition-notification")
    human = (f"Your message\n\n  Subject: {request.subject}\n\nwas displayed by {identity.address}.\n"
             "This is no guarantee that the message was read or understood.\n")  # fmt: skip
    outer.attach(MIMEText(human, "plain", "utf-8"))
    fields = MIMEBase("message", "disposition-notification")
    fields.set_payload(
        f"Reporting-UA: SharedClient\r\nFinal-Recipient: rfc822;{identity.address}\r\n"
        + (f"Original-Message-ID: {request.message_id}\r\n" if request.message_id else "")
        + "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
    )
    outer.attach(fields)
    outer["From"] = formataddr((identity.name, identity.address), charset="utf-8")
    outer["To"] = request.address
    outer["Subject"] = Header("Read: " + " ".join(request.subject.split()), "utf-8")
    outer["Date"] = format_datetime(now or datetime.now().astimezone())
    message_id = make_msgid(domain=identity.address.rpartition("@")[2])
    outer["Message-ID"] = message_id
    if request.message_id:
        outer["In-Reply-To"] = request.message_id
        outer["References"] = request.message_id
    data = outer.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n", max_line_length=78))
    return ComposedMessage(
        raw=data, envelope_from=identity.address, recipients=(request.address,), bcc=(), message_id=message_id,
        identity=identity, user=user, from_header=formataddr((identity.name, identity.address)), sender_header="",
        subject="Read: " + " ".join(request.subject.split()),
    )  # fmt: skip


def load_policy(data_dir: Path | None) -> str:
    """"ask" (default) or "never", from ``tracking.json`` in the profile's data directory."""
    if data_dir is None:
        return "ask"
    try:
        value = json.loads((data_dir / FILE_NAME).read_text()).get("receipts", "ask")
    except FileNotFoundError:
        return "ask"
    except (OSError, ValueError, AttributeError) as exc:
        raise StorageError(f"The tracking setting {data_dir / FILE_NAME} cannot be read ({exc}).") from exc
    return value if value in POLICIES else "ask"


def save_policy(data_dir: Path, policy: str) -> None:
    if policy not in POLICIES:
        raise UsageError(f"The read-receipt policy must be one of: {', '.join(POLICIES)}.")
    atomic_write(data_dir / FILE_NAME, json.dumps({"receipts": policy}).encode())
