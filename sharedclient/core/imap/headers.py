"""Fast, forgiving parsing of the header fields the message list needs.

The list of a 50,000-message mailbox is built from ``BODY.PEEK[HEADER.FIELDS (...)]`` blocks. The full
``email`` parser with ``policy.default`` is ~10x slower per message than needed there, so this module
unfolds and splits header lines itself and hands only the hard parts to the standard library:
encoded words (``email.header``), address lists and dates (``email.utils``). Anything broken degrades to
the raw text; nothing here raises on bad input. The message on screen is parsed fully elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses, mktime_tz, parsedate_tz

#: The fields fetched for the list, in the order sent to the server.
LIST_FIELDS = (
    "DATE",
    "FROM",
    "SENDER",
    "TO",
    "CC",
    "REPLY-TO",
    "SUBJECT",
    "MESSAGE-ID",
    "IN-REPLY-TO",
    "REFERENCES",
    "DELIVERED-TO",
    "X-ORIGINAL-TO",
    "CONTENT-TYPE",
)

_FOLD = re.compile(r"\r?\n[ \t]+")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_FIELD = 4096  # a 1 MB header line must not become a 1 MB cell in the list


@dataclass(frozen=True, slots=True)
class HeaderSummary:
    date: float | None
    from_name: str
    from_addr: str
    sender: str
    to: str
    cc: str
    reply_to: str
    subject: str
    message_id: str
    in_reply_to: str
    references: str
    delivered_to: str
    has_attachment: bool


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_fields(raw: bytes) -> dict[str, str]:
    """Unfolded fields by lower-case name; the first occurrence wins (the newest Delivered-To)."""
    fields: dict[str, str] = {}
    text = _text(raw)
    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name and " " not in name:
            fields.setdefault(name.lower(), value.strip()[:MAX_FIELD])
    return fields


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; broken ones stay as they were. Control characters are removed."""
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (ValueError, LookupError, UnicodeError, AssertionError):
            pass
    return _CTRL.sub("", value).replace("\r", "").replace("\n", " ")


_ANGLE = re.compile(r"^\s*([^<>]*?)\s*<([^<>\s]+)>\s*$")
_BARE = re.compile(r"^\s*([^\s<>]+@[^\s<>]+)\s*$")


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """The common forms (``a@b``, ``Name <a@b>``, lists of them) without the slow general parser."""
    pairs = []
    for part in value.split(","):
        m = _ANGLE.match(part)
        if m:
            pairs.append((decode_words(m.group(1)), m.group(2)))
            continue
        m = _BARE.match(part)
        if not m:
            return None
        pairs.append(("", m.group(1)))
    return pairs


def _addresses(value: str) -> list[tuple[str, str]]:
    if not value:
        return []
    if '"' not in value and "(" not in value and ";" not in value and "\\" not in value:
        simple = _simple_addresses(value)
        if simple is not None:
            return simple
    try:
        pairs = getaddresses([value])
    except (ValueError, IndexError, TypeError):
        return [("", decode_words(value))]
    return [(decode_words(name), addr) for name, addr in pairs if name or addr]


def format_addresses(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name} <{addr}>" if name and addr else (name or addr) for name, addr in pairs)


def parse_date(value: str) -> float | None:
    if not value:
        return None
    try:
        parsed = parsedate_tz(value)
        return float(mktime_tz(parsed)) if parsed else None
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


def summarise(raw: bytes) -> HeaderSummary:
    f = split_fields(raw)
    from_pairs = _addresses(f.get("from", ""))
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    ctype = f.get("content-type", "").lower()
    return HeaderSummary(
        date=parse_date(f.get("date", "")),
        from_name=from_name,
        from_addr=from_addr,
        sender=format_addresses(_addresses(f.get("sender", ""))),
        to=format_addresses(_addresses(f.get("to", ""))),
        cc=format_addresses(_addresses(f.get("cc", ""))),
        reply_to=format_addresses(_addresses(f.get("reply-to", ""))),
        subject=decode_words(f.get("subject", "")),
        message_id=f.get("message-id", ""),
        in_reply_to=f.get("in-reply-to", ""),
        references=f.get("references", ""),
        delivered_to=f.get("delivered-to") or f.get("x-original-to", ""),
        has_attachment=ctype.startswith(("multipart/mixed", "application/", "multipart/related"))
        and "multipart/alternative" not in ctype,
    )
