"""Reading one message for the screen: headers, a text and a sanitized HTML view, attachments.

Parsed with ``policy.default`` for correct decoding; any part of that which raises on a malformed
message (bad charsets, broken encoded words, the ``name*`` parameter crash) falls back to ``compat32``
or to the raw bytes, and the problem is listed. A broken message is shown as best it can be.
"""

from __future__ import annotations

import email
import functools
import email.policy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses

import html2text

from sharedclient.core.imap.headers import decode_words, format_addresses
from sharedclient.core.mime.sanitize import sanitize_html

log = logging.getLogger(__name__)

DISPLAY_HEADERS = ("From", "Sender", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID")
MAX_TEXT = 2_000_000  # characters of a body shown; bigger bodies are cut with a notice


@dataclass(frozen=True)
class Attachment:
    index: int  # position in msg.walk(), to fetch its payload later
    filename: str  # as the sender named it (decoded); sanitized only when saving
    content_type: str
    size: int
    content_id: str = ""


@dataclass
class RenderedMessage:
    headers: dict[str, str]
    text: str
    html: str | None = None
    remote_images: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    inline_parts: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # content-id -> (type, bytes)
    problems: list[str] = field(default_factory=list)

    @property
    def sender_view(self) -> str:
        """What the recipient sees: "Alice on behalf of Support <support@…>" when Sender differs."""
        return sender_view(self.headers.get("From", ""), self.headers.get("Sender", ""))


def sender_view(from_value: str, sender_value: str) -> str:
    from_pairs = getaddresses([from_value]) if from_value else []
    sender_pairs = getaddresses([sender_value]) if sender_value else []
    if not from_pairs:
        return from_value
    if sender_pairs and sender_pairs[0][1] and sender_pairs[0][1].lower() != from_pairs[0][1].lower():
        sender_name = sender_pairs[0][0] or sender_pairs[0][1]
        return f"{sender_name} on behalf of {format_addresses(from_pairs[:1])}"
    return format_addresses(from_pairs)


def _header(msg: Message, compat: Callable[[], Message], name: str, problems: list[str]) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else decode_words(str(value))
    except Exception as exc:  # noqa: BLE001 - policy.default raises many types on malformed headers
        problems.append(f"The {name} header is malformed ({type(exc).__name__}); shown as sent.")
        raw = compat().get(name)
        return decode_words(str(raw)) if raw is not None else ""


def _part_text(part: Message, problems: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception as exc:  # noqa: BLE001 - unknown charset, bad transfer encoding...
        problems.append(f"A text part could not be decoded cleanly ({type(exc).__name__}).")
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    return str(part.get_payload() or "")


def _filename(part: Message, problems: list[str]) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        problems.append("An attachment's name is malformed.")
        name = None
    return decode_words(name) if name else ""


def html_to_text(html: str) -> str:
    conv = html2text.HTML2Text()
    conv.body_width = 0
    conv.ignore_images = True
    conv.protect_links = True
    return conv.handle(html)


def render_message(raw: bytes, *, allow_remote_images: bool = False) -> RenderedMessage:
    problems: list[str] = []
    compat = functools.cache(lambda: email.message_from_bytes(raw, policy=email.policy.compat32))
    try:
        msg: Message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"The message structure is broken ({type(exc).__name__}); showing what could be read.")
        msg = compat()
    headers = {name: _header(msg, compat, name, problems) for name in DISPLAY_HEADERS}
    for defect in getattr(msg, "defects", [])[:5]:
        problems.append(f"MIME problem: {type(defect).__name__}.")

    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    inline: dict[str, tuple[str, bytes]] = {}
    try:
        parts = list(msg.walk())
    except Exception as exc:  # noqa: BLE001
        problems.append(f"The MIME tree could not be walked ({type(exc).__name__}).")
        parts = [msg]
    for index, part in enumerate(parts):
        try:
            ctype = part.get_content_type()
            if part.is_multipart():
                continue
            disposition = (part.get_content_disposition() or "").lower()
            filename = _filename(part, problems)
            cid = (part.get("Content-ID") or "").strip().strip("<>")
            if ctype == "text/plain" and disposition != "attachment" and not filename and plain is None:
                plain = _part_text(part, problems)
            elif ctype == "text/html" and disposition != "attachment" and not filename and html is None:
                html = _part_text(part, problems)
            else:
                payload = part.get_payload(decode=True) or b""
                if cid and ctype.startswith("image/"):
                    inline[cid] = (ctype, payload)
                if disposition == "attachment" or filename or not cid:
                    attachments.append(Attachment(index, filename or f"part-{index}", ctype, len(payload), cid))
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
            problems.append(f"Part {index} could not be read ({type(exc).__name__}).")

    rendered = RenderedMessage(headers, "", attachments=attachments, inline_parts=inline, problems=problems)
    if html is not None:
        clean = sanitize_html(html[:MAX_TEXT], allow_remote_images=allow_remote_images)
        rendered.html = clean.html
        rendered.remote_images = clean.remote_images
    if plain is not None:
        rendered.text = plain
    elif html is not None:
        rendered.text = html_to_text(rendered.html or "")
    elif not attachments:
        rendered.text = _part_text(compat(), problems) if not compat().is_multipart() else ""
    if len(rendered.text) > MAX_TEXT:
        rendered.text = rendered.text[:MAX_TEXT] + "\n\n[… message cut here: too long to show in full; see View source]"
    return rendered


def attachment_payload(raw: bytes, index: int) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for i, part in enumerate(msg.walk()):
        if i == index:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    raise IndexError(index)


__all__ = ["Attachment", "RenderedMessage", "render_message", "attachment_payload", "sender_view", "EmailMessage"]
