"""Fast, forgiving parsing of the header fields the message list needs.

The list of a 50,000-message mailbox is built from ``BODY.PEEK[HEADER.FIELDS (...)]`` blocks. The full
``email`` parser with ``policy.default`` is ~10x slower per message than needed there, so this module
unfolds and splits header lines itself and hands only the hard parts to the standard library:
encoded words (``email.header``), address lists and dates (``email.utils``). Anything broken degrades to
the raw text; nothing here raises on bad input. The message on screen is parsed fully elsewhere.
"""

from __future__ import annotations

import binascii
import calendar
import re
from typing import NamedTuple
from email import base64mime, quoprimime
from email.errors import HeaderParseError
from email.header import decode_header, ecre, make_header
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


class HeaderSummary(NamedTuple):
    """What the list shows of a message. A named tuple, not a frozen dataclass: one is made per message of
    every sync, and a frozen dataclass's ``__init__`` (a guarded setattr per field) cost ~10 µs of it."""

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
    """Unfolded fields by lower-case name; the first occurrence wins (the newest Delivered-To).

    Lines end at LF only, as in the email package: a U+2028, form feed or lone CR inside a value stays
    inside it, so it can never start a field of its own (a "From:" hidden after a U+2028 in a Subject
    would otherwise win over the real From).
    """
    fields: dict[str, str] = {}
    text = _text(raw)
    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name and " " not in name:
            fields.setdefault(name.lower(), value.strip()[:MAX_FIELD])
    return fields


#: Charsets whose encoded words ``_decode_words_fast`` handles (their Charset input and output codecs are the
#: name itself, so ``make_header`` can neither alias nor re-encode them differently).
_FAST_CHARSETS = frozenset({"utf-8", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r"})
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # what str.splitlines() splits on


_ONE_QWORD = re.compile(r"=\?([^?*\s]+)\?[qQ]\?([^?\s]*)\?=")


def _nonctext(ch: str) -> bool:
    return ch.isspace() or ch in ("(", ")", "\\")


def _decode_words_fast(value: str) -> str | None:
    """``str(make_header(decode_header(value)))`` without the email package's object machinery.

    The same steps as the standard library (Python 3.11): split on ``ecre``, drop whitespace between
    encoded words, collapse runs of one charset, then the spacing rules of ``Header.__str__``. Only for
    the common shapes (one line, ASCII outside encoded words, charsets in ``_FAST_CHARSETS``); None means
    "ask the standard library", which also handles (or raises on) everything broken. ~10x faster.
    """
    if _LINE_BREAKS.search(value):
        return None
    one = _ONE_QWORD.fullmatch(value)
    if one is not None and one[1].lower() in _FAST_CHARSETS:  # the commonest shape: a single Q word
        try:
            return quoprimime.header_decode(one[2]).encode("raw-unicode-escape").decode(one[1].lower())
        except UnicodeError:
            return None
    parts = ecre.split(value)
    if len(parts) == 1:
        return value  # no encoded word after all: decode_header returns the text unchanged
    words: list[tuple[str, str | None, str | None]] = []
    for i in range(0, len(parts), 4):
        unencoded = parts[i].lstrip() if i == 0 else parts[i]
        if unencoded:
            if not unencoded.isascii():
                return None
            words.append((unencoded, None, None))
        if i + 3 < len(parts):
            charset = parts[i + 1].lower()
            if charset not in _FAST_CHARSETS:
                return None
            words.append((parts[i + 3], parts[i + 2].lower(), charset))
    drop = [n - 1 for n, w in enumerate(words) if n > 1 and w[1] and words[n - 2][1] and words[n - 1][0].isspace()]
    for n in reversed(drop):
        del words[n]
    collapsed: list[tuple[bytes, str | None]] = []
    last_word: bytes | None = None
    last_charset: str | None = None
    for text, encoding, charset in words:
        if encoding is None:
            word = text.encode("ascii")
        elif encoding == "q":
            word = quoprimime.header_decode(text).encode("raw-unicode-escape")
        else:
            padding = len(text) % 4
            try:
                word = base64mime.decode(text + "==="[: 4 - padding] if padding else text)
            except binascii.Error:
                return None
        if last_word is None:
            last_word, last_charset = word, charset
        elif charset != last_charset:
            collapsed.append((last_word, last_charset))
            last_word, last_charset = word, charset
        elif last_charset is None:
            last_word += b" " + word
        else:
            last_word += word
    if last_word is not None:
        collapsed.append((last_word, last_charset))
    out: list[str] = []
    last_cs: str | None = None
    last_space = False
    for word, charset in collapsed:
        try:
            text = word.decode(charset or "ascii")
        except UnicodeDecodeError:
            return None
        next_cs = charset
        if out:
            has_space = bool(text) and _nonctext(text[0])
            if last_cs is not None:
                if next_cs is None and not has_space:
                    out.append(" ")
            elif next_cs is not None and not last_space:
                out.append(" ")
        last_space = bool(text) and _nonctext(text[-1])
        last_cs = next_cs
        out.append(text)
    return "".join(out)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; broken ones stay as they were. Control characters are removed."""
    if "=?" in value:
        fast = _decode_words_fast(value)
        if fast is not None:
            value = fast
        else:
            try:
                value = str(make_header(decode_header(value)))
            except (ValueError, LookupError, UnicodeError, AssertionError, HeaderParseError):
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


def _top_level_items(text: str) -> list[str]:
    """Comma-separated items outside quotes, angle brackets and comments."""
    items, current, quoted, depth, escaped = [], [], False, 0, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch in "<(":
            depth += 1
        elif not quoted and ch in ">)" and depth:
            depth -= 1
        elif ch == "," and not quoted and not depth:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [item for item in items if item.strip()]


def _misleading(text: str, pairs: list[tuple[str, str]]) -> bool:
    """True when a parser's reading of an address list differs from what a person sees in it
    (getaddresses on 3.11.7, CVE-2023-27043; or a display name posing as an address)."""
    if any("@" in name for name, _ in pairs):
        return True
    if text.count("@") > text.count("<"):  # bare addresses: each must be a list item of its own
        items = [item for item in _top_level_items(text) if "@" in item]
        return len(items) != sum(1 for _, addr in pairs if "@" in addr) or text.count("@") != len(items)
    return False


def _addresses(value: str) -> list[tuple[str, str]]:
    if not value:
        return []
    if '"' not in value and "(" not in value and ";" not in value and "\\" not in value:
        simple = _simple_addresses(value)
        if simple is not None:
            if any("@" in name for name, _ in simple):  # "support@bank.test <x@evil.test>"
                return [("", decode_words(value))]
            return simple
    try:
        pairs = getaddresses([value])
    except (ValueError, IndexError, TypeError):
        return [("", decode_words(value))]
    found = [(decode_words(name), addr) for name, addr in pairs if name or addr]
    if "@" in value and _misleading(decode_words(value), found):
        return [("", decode_words(value))]  # shown as sent rather than as a guess
    return found


def format_addresses(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name} <{addr}>" if name and addr else (name or addr) for name, addr in pairs)


def address_text(value: str) -> str:
    """An address list as the list shows and searches it: a list without encoded words, quotes, comments,
    groups or escapes (most of them) already is that text; the rest is parsed and formatted."""
    if not value:
        return ""
    if "=?" not in value and '"' not in value and "(" not in value and ";" not in value and "\\" not in value:
        return _CTRL.sub("", value)
    return format_addresses(_addresses(value))


_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
)
_MONTH = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def parse_date(value: str) -> float | None:
    if not value:
        return None
    m = _DATE.fullmatch(value)
    # The RFC 5322 form nearly every mailer writes, with the arithmetic of parsedate_tz + mktime_tz; they
    # handle the rest ("-0000" means "zone unknown", two-digit years, obsolete forms).
    if m is not None and not (m[7] == "-" and m[8] == m[9] == "00") and m[3] >= "0100":
        offset = (int(m[8]) * 3600 + int(m[9]) * 60) * (-1 if m[7] == "-" else 1)
        return float(calendar.timegm((int(m[3]), _MONTH[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6]))) - offset)
    try:
        parsed = parsedate_tz(value)
        return float(mktime_tz(parsed)) if parsed else None
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


def summary_row(raw: bytes) -> tuple[object, ...]:
    """``summarise`` as a plain tuple in HeaderSummary's field order (cheap to pickle and to build)."""
    f = split_fields(raw)
    from_pairs = _addresses(f.get("from", ""))
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    ctype = f.get("content-type", "").lower()
    return (
        parse_date(f.get("date", "")),
        from_name,
        from_addr,
        address_text(f.get("sender", "")),
        address_text(f.get("to", "")),
        address_text(f.get("cc", "")),
        address_text(f.get("reply-to", "")),
        decode_words(f.get("subject", "")),
        f.get("message-id", ""),
        f.get("in-reply-to", ""),
        f.get("references", ""),
        f.get("delivered-to") or f.get("x-original-to", ""),
        ctype.startswith(("multipart/mixed", "application/", "multipart/related")) and "multipart/alternative" not in ctype,
    )


def summarise(raw: bytes) -> HeaderSummary:
    return HeaderSummary(*summary_row(raw))  # type: ignore[arg-type]
