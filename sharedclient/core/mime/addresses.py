"""Strict recipient parsing for outgoing mail.

Why not ``email.utils.parseaddr``/``getaddresses``: before Python 3.11.10 (this is 3.11.7) they misparse
addresses such as ``"a@b"@c`` or ones with specials and return a *different* address than a person sees
(CVE-2023-27043) — an outgoing message could go to someone else than the To line shows. So every address
we send to is checked here against a deliberately small grammar: a dot-atom local part, a host-name domain,
ASCII only (no SMTPUTF8), optionally with a display name. Anything else is refused with a sentence;
nothing is "repaired". Addresses are then built with ``email.headerregistry.Address`` so quoting and
encoding of display names is done by the standard library.
"""

from __future__ import annotations

import email.policy
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.headers import decode_words

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
#: RFC 2047 encoded-word syntax. The email package decodes it even inside text we hand it, and the
#: decoded text (which may hold CR/LF) is written out unfolded: CVE-2024-6923. We never pass it through.
_ENCODED_WORD = re.compile(r"=\?.*?\?=", re.DOTALL)
_LINE_BREAKS = {"\u0085", "\u2028", "\u2029"}  # str.splitlines() breaks lines there too
#: What a reader takes for an address in a header: local@domain without specials around it.
_ADDR_TOKEN = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


def strict_addr_spec(text: str) -> str:
    """Return ``text`` if it is a plain ``local@domain`` we can send to safely, else raise UsageError."""
    if not isinstance(text, str) or not text:
        raise UsageError("An e-mail address is empty.")
    local, at, domain = text.rpartition("@")
    ok = (
        bool(at)
        and len(text) <= 254
        and 0 < len(local) <= 64
        and bool(_LOCAL.match(local))
        and 0 < len(domain) <= 253
        and "." in domain
        and all(_LABEL.match(label) for label in domain.split("."))
    )
    if not ok:
        shown = "".join(ch if ch.isprintable() else "?" for ch in text)
        raise UsageError(
            f"“{shown}” is not an address SharedClient can send to (expected name@example.com, "
            "without quotes, spaces or special characters)."
        )
    return text


def check_text(value: str, what: str, *, max_len: int = 998) -> str:
    """Reject control characters, line breaks and encoded words in a header text typed by a person.

    ``what`` names the field in the error ("The subject", "The display name “…”").
    """
    if len(value) > max_len:
        raise UsageError(f"{what} is too long ({len(value)} characters, at most {max_len}).")
    for ch in value:
        if ch in _LINE_BREAKS or unicodedata.category(ch) in ("Cc", "Cs"):
            raise UsageError(
                f"{what} contains a control character or line break (U+{ord(ch):04X}); "
                "header fields must be a single line."
            )
    if _ENCODED_WORD.search(value):
        raise UsageError(
            f"{what} contains “=?…?=”, which mail programs read as encoded text (and which can hide "
            "extra header lines); please write it differently."
        )
    return value


def make_address(display_name: str, addr_spec: str) -> Address:
    """An ``Address`` from parts that passed :func:`check_text` and :func:`strict_addr_spec`."""
    addr_spec = strict_addr_spec(addr_spec.strip())
    display_name = " ".join(check_text(display_name, f"The name “{display_name}”", max_len=200).split())
    local, _, domain = addr_spec.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def parse_mailbox(text: str) -> Address:
    """``a@b``, ``Name <a@b>`` or ``"Doe, Jane" <a@b>`` → Address; anything else raises UsageError."""
    text = text.strip()
    check_text(text, f"The address “{text}”", max_len=500)
    if not text.endswith(">"):
        return make_address("", text)
    open_at = text.rfind("<")
    if open_at < 0:
        raise UsageError(f"“{text}” is not a valid address: “>” without “<”.")
    name, spec = text[:open_at].strip(), text[open_at + 1 : -1].strip()
    if name.startswith('"'):
        name = _unquote(name, text)
    elif any(ch in name for ch in '"<>\\@,;'):
        # Unquoted "a@x <b@y>" reads like an address that is not the one mail goes to: demand quotes.
        raise UsageError(f"“{text}” is not a valid address: put a name with special characters in quotes.")
    return make_address(name, spec)


def _unquote(quoted: str, whole: str) -> str:
    if len(quoted) < 2 or not quoted.endswith('"'):
        raise UsageError(f"“{whole}” is not a valid address: unbalanced quotes in the name.")
    out, escaped = [], False
    for ch in quoted[1:-1]:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            raise UsageError(f"“{whole}” is not a valid address: a quote inside the name must be escaped (\\\").")
        else:
            out.append(ch)
    if escaped:
        raise UsageError(f"“{whole}” is not a valid address: the name ends with a lone backslash.")
    return "".join(out)


def split_list(text: str) -> list[str]:
    """Split a typed recipient list on commas and semicolons outside double quotes."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in ",;" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise UsageError(f"“{text.strip()}” has an unclosed quote.")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_mailbox_list(texts: str | Iterable[str]) -> list[Address]:
    """Every address of one or more typed fields (each may hold several, comma-separated)."""
    if isinstance(texts, str):
        texts = [texts]
    return [parse_mailbox(part) for text in texts for part in split_list(text)]


def format_address(addr: Address) -> str:
    """Human form (not an encoded header): ``Name <a@b>`` or ``a@b``."""
    return f"{addr.display_name} <{addr.addr_spec}>" if addr.display_name else addr.addr_spec




@dataclass(frozen=True)
class ReadHeader:
    """A received address header as parsed, checked against what a person reads in it."""

    shown: str  # the parser's rendering, decoded
    visible: list[Address]  # parsed addresses that also appear as such in the text
    hidden: list[str]  # parsed addresses a reader does not see (the parser invented or merged them)
    exact: bool  # parser and reader agree on every address


def read_address_header(name: str, value: str) -> ReadHeader | None:
    """Parse a received address header (unfolded, encoded words and all); None when unparseable.

    Parsers disagree on odd address lists and on this Python may drop or invent addresses
    (CVE-2023-27043: ``alice@example.org)<bob@evil.test>``, ``"support@bank.test"@evil.test``). So the
    result says which parsed addresses a person actually sees in the decoded text, and whether parser and
    reader agree exactly (same addresses, each "@" accounted for). Callers show a header that is not
    exact as sent, and never take a hidden address.
    """
    text = decode_words(value)  # what a person reads: encoded words decoded, control characters gone
    unfolded = value.replace("\r", "").replace("\n", " ")
    # Second try when an encoded display name hides a line break (the parser refuses to build that Address):
    # encoded words made neutral, so they still cannot add structure (as RFC 2047 says) -- never the decoded text.
    for attempt in (unfolded, _ENCODED_WORD.sub('"encoded name"', unfolded)):
        try:
            header = email.policy.default.header_factory(name, attempt)
            parsed = list(header.addresses)  # type: ignore[attr-defined]
            shown = decode_words(str(header))
            break
        except Exception:  # noqa: BLE001 - the parser raises several types on hostile input
            continue
    else:
        return None
    tokens = {t.lower() for t in _ADDR_TOKEN.findall(text)}
    visible = [a for a in parsed if a.addr_spec.lower() in tokens]
    hidden = [a.addr_spec for a in parsed if a.addr_spec.lower() not in tokens]
    exact = not hidden and {a.addr_spec.lower() for a in parsed} == tokens and text.count("@") == len(parsed)
    return ReadHeader(shown, visible, hidden, exact)
