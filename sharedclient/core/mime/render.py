"""Reading one message for the screen: headers, a text and a sanitized HTML view, attachments.

Parsed once with ``compat32``: it never raises on malformed input, where ``policy.default`` does (the
``Content-Type: text/plain; name*`` and ``<[…]@…>`` Message-ID crashes on this Python) and is 15x slower
(its header parser runs for every part while parsing: 3 s for the 3,000-part "endless enclosure"
torture message). Only the address headers shown on screen go through ``policy.default``'s parser, and
only when short. Everything is bounded -- parts walked, attachments listed, header and body lengths, the
HTML converted to text -- so a hostile message costs at most a fraction of a second; what was cut is said
in ``problems``, and View source always has all of it.
"""

from __future__ import annotations

import codecs
import email
import email.parser
import email.policy
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses

import html2text

from sharedclient.core.imap.headers import decode_words, format_addresses
from sharedclient.core.mime.addresses import read_address_header
from sharedclient.core.mime.sanitize import sanitize_html

log = logging.getLogger(__name__)

DISPLAY_HEADERS = ("From", "Sender", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID")
ADDRESS_HEADERS = frozenset({"From", "Sender", "To", "Cc", "Reply-To"})
DEFAULT_DISPLAY_LIMIT_MB = 8


def display_limit(environ: Mapping[str, str] = os.environ) -> int | None:
    """Bytes of a message fetched for the reading pane (the rest on request), from
    ``SHAREDCLIENT_DISPLAY_LIMIT_MB`` (whole megabytes; 0 means no limit; default 8)."""
    text = environ.get("SHAREDCLIENT_DISPLAY_LIMIT_MB", "").strip()
    try:
        mb = int(text) if text else DEFAULT_DISPLAY_LIMIT_MB
    except ValueError:
        log.warning("SHAREDCLIENT_DISPLAY_LIMIT_MB=%r is not a whole number; using %d", text, DEFAULT_DISPLAY_LIMIT_MB)
        mb = DEFAULT_DISPLAY_LIMIT_MB
    return mb * 1024 * 1024 if mb > 0 else None


DISPLAY_LIMIT = display_limit()
MAX_TEXT = 2_000_000  # characters of a body shown; bigger bodies are cut with a notice
MAX_HTML = 1_000_000  # characters of HTML sanitized and shown (nh3 needs ~0.3 s per MB)
MAX_HTML_TO_TEXT = 60_000  # html2text needs ~5 s per MB: an HTML-only body beyond this is cut for the text view
MAX_NESTING = 300  # multipart boundaries + enclosed messages: the parser recurses once per level
MAX_PARTS = 1000  # MIME parts looked at; the rest is reported, not shown
MAX_ATTACHMENTS = 300
MAX_HEADER = 4096  # characters of one header shown (View source has all of it)
MAX_PARSED_ADDRESSES = 8192  # longer address lists are shown as sent: the full parser needs ~13 ms per KB


@dataclass(frozen=True)
class Attachment:
    index: int  # position in walk_parts(), to fetch its payload later
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
    shown_as_sent: set[str] = field(default_factory=set)  # address headers too odd to parse safely

    @property
    def sender_view(self) -> str:
        """What the recipient sees: "Alice on behalf of Support <support@…>" when Sender differs."""
        if {"From", "Sender"} & self.shown_as_sent:  # no guessing: a misparse is how spoofs hide
            sender = self.headers.get("Sender", "")
            return f"{sender} on behalf of {self.headers.get('From', '')}" if sender else self.headers.get("From", "")
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


def _unescape(text: str) -> str:
    """compat32 keeps 8-bit header bytes as surrogates: read them as UTF-8, else Latin-1; drop NULs."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("ascii", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text.replace("\x00", "")


def _cut(text: str, limit: int = MAX_HEADER) -> str:
    return text if len(text) <= limit else f"{text[:limit]} … ({len(text) - limit:,} more characters; see View source)"


def _raw_header(msg: Message, name: str) -> str | None:
    """The first ``name`` header as stored (compat32's ``get`` turns 8-bit bytes into U+FFFD)."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _header(msg: Message, name: str, problems: list[str], shown_as_sent: set[str]) -> str:
    value = _raw_header(msg, name)
    if value is None:
        return ""
    text = _unescape("".join(value.splitlines()))
    if name in ADDRESS_HEADERS and len(text) <= MAX_PARSED_ADDRESSES:
        # The strict parser, because getaddresses/parseaddr on 3.11.7 silently drop or invent addresses
        # (CVE-2023-27043): "alice@example.org)<bob@evil.test>" must not be shown as just "alice@…".
        read = read_address_header(name, text)
        if read is not None and read.exact:
            return _cut(read.shown)
        problems.append(f"The {name} header is unusual or malformed; it is shown exactly as sent.")
        shown_as_sent.add(name)
    return _cut(decode_words(text))


def walk_parts(msg: Message, limit: int = MAX_PARTS) -> Iterator[Message]:
    """``msg.walk()`` order (depth first), without recursion and at most ``limit`` parts."""
    stack = [msg]
    count = 0
    while stack and count < limit:
        part = stack.pop()
        count += 1
        yield part
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _decode(payload: bytes, charset: str | None, problems: list[str]) -> str:
    if charset:
        try:
            if codecs.lookup(charset).name in ("utf-8", "ascii") or charset.lower() in ("us-ascii", "utf8"):
                return payload.decode("utf-8", "replace")  # us-ascii labels on UTF-8 text are common
            return payload.decode(charset, "replace")
        except (LookupError, ValueError, TypeError, UnicodeError):
            problems.append(f"A text part names an unknown character set ({_cut(_unescape(charset), 40)}); shown as UTF-8.")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def _part_text(part: Message, problems: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            try:
                charset = part.get_content_charset()
            except Exception:  # noqa: BLE001
                charset = None
            return _decode(payload, charset, problems).replace("\x00", "\ufffd")
        return str(part.get_payload() or "").replace("\x00", "\ufffd")
    except Exception as exc:  # noqa: BLE001 - broken transfer encoding...
        problems.append(f"A text part could not be decoded ({type(exc).__name__}).")
        return ""


def _filename(part: Message, problems: list[str]) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        problems.append("An attachment's name is malformed.")
        name = None
    return _cut(decode_words(_unescape(str(name))), 1000) if name else ""


def html_to_text(html: str) -> str:
    conv = html2text.HTML2Text()
    conv.body_width = 0
    conv.ignore_images = True
    conv.protect_links = True
    return conv.handle(html)


_NESTING = re.compile(rb'(?i)boundary\s*=\s*"?([^";\s]*)|message/rfc822')


def _parse(raw: bytes, problems: list[str]) -> Message | None:
    levels = set()
    for match in _NESTING.finditer(raw):  # a cheap look before the parser recurses into it
        levels.add(match.group(1) if match.group(1) is not None else match.start())
        if len(levels) > MAX_NESTING:
            problems.append(f"The message nests more than {MAX_NESTING} parts inside each other; showing its raw text.")
            return None
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # noqa: BLE001 - RecursionError on absurd nesting, MemoryError...
        problems.append(f"The message structure is broken ({type(exc).__name__}); showing its raw text.")
        return None


def render_message(raw: bytes, *, allow_remote_images: bool = False) -> RenderedMessage:
    """Never raises on malformed mail: what cannot be read is listed in ``problems``."""
    problems: list[str] = []
    msg = _parse(raw, problems)
    shown_as_sent: set[str] = set()
    if msg is None:  # the header block alone still parses without recursion
        fallback = raw_fallback(raw, problems[0])
        head = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        fallback.headers = {name: _header(head, name, fallback.problems, shown_as_sent) for name in DISPLAY_HEADERS}
        fallback.shown_as_sent = shown_as_sent
        return fallback
    headers = {name: _header(msg, name, problems, shown_as_sent) for name in DISPLAY_HEADERS}
    for defect in getattr(msg, "defects", [])[:5]:
        problems.append(f"MIME problem: {type(defect).__name__}.")

    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    inline: dict[str, tuple[str, bytes]] = {}
    extra_attachments = 0
    count = 0
    for index, part in enumerate(walk_parts(msg)):
        count += 1
        try:
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            if ctype.startswith("multipart/"):  # no usable boundary: the body is one piece of text
                ctype = "text/plain"
            disposition = (part.get_content_disposition() or "").lower()
            filename = _filename(part, problems)
            cid = _unescape(_raw_header(part, "Content-ID") or "").strip().strip("<>")
            if ctype == "text/plain" and disposition != "attachment" and not filename and plain is None:
                plain = _part_text(part, problems)
            elif ctype == "text/html" and disposition != "attachment" and not filename and html is None:
                html = _part_text(part, problems)
            else:
                payload = part.get_payload(decode=True) or b""
                if cid and ctype.startswith("image/"):
                    inline[cid] = (ctype, payload)
                if disposition == "attachment" or filename or not cid:
                    if len(attachments) < MAX_ATTACHMENTS:
                        attachments.append(Attachment(index, filename or f"part-{index}", ctype, len(payload), cid))
                    else:
                        extra_attachments += 1
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
            problems.append(f"Part {index} could not be read ({type(exc).__name__}).")
    if count >= MAX_PARTS:
        problems.append(f"The message has more than {MAX_PARTS} parts; only the first {MAX_PARTS} are shown.")
    if extra_attachments:
        problems.append(f"{extra_attachments} more parts are not listed as attachments.")

    rendered = RenderedMessage(headers, "", attachments=attachments, inline_parts=inline, problems=problems,
                               shown_as_sent=shown_as_sent)
    if html is not None:
        if len(html) > MAX_HTML:
            problems.append(f"The HTML part is very long; only its first {MAX_HTML:,} characters are shown.")
        clean = sanitize_html(html[:MAX_HTML], allow_remote_images=allow_remote_images)
        rendered.html = clean.html
        rendered.remote_images = clean.remote_images
    if plain is not None:
        rendered.text = plain
    elif html is not None:
        source = rendered.html or ""
        rendered.text = html_to_text(source[:MAX_HTML_TO_TEXT])
        if len(source) > MAX_HTML_TO_TEXT:
            rendered.text += "\n\n[… cut here: the rest is in Show HTML and View source]"
    elif not attachments and not msg.is_multipart():
        rendered.text = _part_text(msg, problems)
    if len(rendered.text) > MAX_TEXT:
        rendered.text = rendered.text[:MAX_TEXT] + "\n\n[… message cut here: too long to show in full; see View source]"
    return rendered


def raw_fallback(raw: bytes, reason: str) -> RenderedMessage:
    """The message as its source text, for when rendering itself failed."""
    text = raw[: MAX_TEXT * 2].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return RenderedMessage(dict.fromkeys(DISPLAY_HEADERS, ""), text, problems=[reason])


def attachment_payload(raw: bytes, index: int) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for i, part in enumerate(walk_parts(msg)):
        if i == index:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    raise IndexError(index)


__all__ = [
    "DISPLAY_LIMIT", "Attachment", "RenderedMessage", "render_message", "raw_fallback", "attachment_payload", "sender_view",
    "walk_parts", "EmailMessage",
]  # fmt: skip
