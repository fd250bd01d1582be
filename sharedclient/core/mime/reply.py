"""Replies and forwards: recipients, subject, threading headers and the quoted original.

Everything taken from the received message is untrusted: addresses go through the strict grammar
(unusable ones are left out and listed in ``skipped``), display names that would not pass the composer's
checks are dropped (the bare address stays), Message-IDs are reduced to well-formed ones, the subject loses
control characters and encoded-word markers. HTML-only originals are quoted as text via html2text.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.utils import parsedate_to_datetime

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.headers import decode_words
from sharedclient.core.mime.addresses import (
    check_text,
    format_address,
    make_address,
    read_address_header,
    strict_addr_spec,
)
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage, clean_msgids
from sharedclient.core.mime.render import attachment_payload, render_message
from sharedclient.core.model import Identity
from sharedclient.core.teamdesk import NOTE_HEADER

_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|wg|fwd?)\s*:\s*", re.IGNORECASE)
_CTRL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


@dataclass(frozen=True)
class Original:
    """The parts of a received message a reply or forward needs."""

    raw: bytes
    headers: dict[str, list[str]]  # lower-case name → every value as sent (undecoded), in order
    from_: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: str
    message_id: str
    references: tuple[str, ...]
    text: str
    skipped: tuple[str, ...] = field(default=())  # addresses we could not use, as written

    @property
    def author(self) -> str:
        if not self.from_:
            return "someone"
        first = self.from_[0]
        return first.display_name or first.addr_spec


def _safe_address(addr: Address, skipped: list[str]) -> Address | None:
    try:
        spec = strict_addr_spec(addr.addr_spec)
    except UsageError:
        skipped.append(str(addr.addr_spec or addr))
        return None
    try:
        return make_address(addr.display_name, spec)
    except UsageError:
        return make_address("", spec)  # a hostile or odd name is dropped, the address stays


def _address_list(values: Sequence[str], skipped: list[str]) -> tuple[Address, ...]:
    out: list[Address] = []
    for value in values:
        read = read_address_header("to", "".join(value.splitlines()))
        if read is None:  # unparseable: nothing usable in it
            skipped.append(value)
            continue
        skipped.extend(read.hidden)  # parsed but not what a reader sees (CVE-2023-27043): never used
        parsed = read.visible
        for addr in parsed:
            safe = _safe_address(addr, skipped)
            if safe is not None:
                out.append(safe)
    return tuple(out)


def clean_subject(subject: str) -> str:
    """A received subject made safe to send again: one line, no encoded-word markers, not too long."""
    subject = _CTRL.sub(" ", subject).replace("=?", "= ?")
    return " ".join(subject.split())[:900]


def read_original(raw: bytes) -> Original:
    """Parse a received message for replying or forwarding (never raises on a malformed message).

    An internal note (``X-SharedClient-Note``) is refused: its text must never reach a customer.
    """
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get(NOTE_HEADER) is not None:
        raise UsageError("This is an internal note of your team; notes are never replied to, forwarded or sent.")
    headers: dict[str, list[str]] = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
    skipped: list[str] = []
    rendered = render_message(raw)
    date_text = ""
    if headers.get("date"):
        try:
            date_text = parsedate_to_datetime(headers["date"][0]).astimezone().strftime("%a, %d %b %Y at %H:%M")
        except (TypeError, ValueError, IndexError):
            date_text = decode_words(headers["date"][0])
    msgids = clean_msgids(headers.get("message-id", [])[:1])
    return Original(
        raw=raw,
        headers=headers,
        from_=_address_list(headers.get("from", []), skipped),
        reply_to=_address_list(headers.get("reply-to", []), skipped),
        to=_address_list(headers.get("to", []), skipped),
        cc=_address_list(headers.get("cc", []), skipped),
        subject=clean_subject(decode_words(headers.get("subject", [""])[0])),
        date=date_text,
        message_id=msgids[0] if msgids else "",
        references=clean_msgids(headers.get("references", [])[:1]),
        text=rendered.text,
        skipped=tuple(skipped),
    )


def quote_lines(text: str) -> str:
    """``> `` before every line (``>`` before already quoted and empty lines)."""
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    return "\n".join((">" + line) if line.startswith(">") or not line else ("> " + line) for line in lines) + "\n"


def attribution(original: Original) -> str:
    author = _CTRL.sub(" ", original.author)
    return f"On {original.date}, {author} wrote:" if original.date else f"{author} wrote:"


def prefixed(subject: str, prefix: str) -> str:
    """``Re: x`` — without stacking ``Re: Re: AW: x``."""
    while _PREFIX.match(subject):
        subject = _PREFIX.sub("", subject, count=1)
    return f"{prefix} {subject}".strip()


def _without(addresses: Iterable[Address], exclude: set[str], seen: set[str]) -> tuple[Address, ...]:
    out = []
    for addr in addresses:
        key = addr.addr_spec.lower()
        if key in exclude or key in seen:
            continue
        seen.add(key)
        out.append(addr)
    return tuple(out)


def reply_message(
    original: Original,
    identity: Identity,
    *,
    reply_all: bool = False,
    body: str = "",
    also_exclude: Iterable[str] = (),
) -> OutgoingMessage:
    """A reply from ``identity``: recipients, ``Re:`` subject, In-Reply-To/References, quoted original.

    Reply All never includes the identity's own address or aliases (nor ``also_exclude``). A reply to a
    message this identity sent itself goes to that message's recipients.
    """
    own = {identity.address.lower(), *(a.lower() for a in identity.aliases), *(a.lower() for a in also_exclude)}
    from_is_own = bool(original.from_) and original.from_[0].addr_spec.lower() in own
    if from_is_own:
        primary, rest = original.to, original.cc
    else:
        primary, rest = (original.reply_to or original.from_), (*original.to, *original.cc)
    seen: set[str] = set()
    to = _without(primary, own, seen)
    cc = _without(rest, own, seen) if reply_all else ()
    if from_is_own and not reply_all:
        cc = ()
    quote = f"{attribution(original)}\n{quote_lines(original.text)}" if original.text.strip() else ""
    return OutgoingMessage(
        identity=identity,
        to=to,
        cc=cc,
        subject=prefixed(original.subject, "Re:"),
        body=body,
        in_reply_to=original.message_id,
        references=(*original.references, *((original.message_id,) if original.message_id else ())),
        quote=quote,
    )


def original_attachments(original: Original) -> tuple[AttachmentFile, ...]:
    """The original's attachments as files to attach again (names cleaned of control characters)."""
    files = []
    for att in render_message(original.raw).attachments:
        name = _CTRL.sub("", att.filename).replace("=?", "= ?") or f"attachment-{att.index}"
        try:
            check_text(name, "name", max_len=255)
        except UsageError:
            name = f"attachment-{att.index}"
        files.append(AttachmentFile(name, attachment_payload(original.raw, att.index), att.content_type))
    return tuple(files)


def forward_message(
    original: Original, identity: Identity, *, to: Sequence[Address] = (), body: str = ""
) -> OutgoingMessage:
    """A forward: ``Fwd:`` subject, the original's headers and text below, its attachments kept."""
    header_block = [
        "-------- Forwarded message --------",
        f"From: {', '.join(format_address(a) for a in original.from_)}",
        f"Date: {original.date}",
        f"Subject: {original.subject}",
        f"To: {', '.join(format_address(a) for a in original.to)}",
    ]
    if original.cc:
        header_block.append(f"Cc: {', '.join(format_address(a) for a in original.cc)}")
    quote = "\n".join(header_block) + "\n\n" + original.text
    return OutgoingMessage(
        identity=identity,
        to=tuple(to),
        subject=prefixed(original.subject, "Fwd:"),
        body=body,
        quote=quote,
        attachments=original_attachments(original),
    )


def with_identity(message: OutgoingMessage, identity: Identity) -> OutgoingMessage:
    """The same message from another identity (the person changed the From-picker)."""
    return replace(message, identity=identity)
