"""Data-loss prevention: find payment card numbers, US Social Security numbers, IBANs and the profile's
own patterns in what is about to be sent.

Detectors are strict on purpose, so a desk worker is not trained to click warnings away: a card number
must pass Luhn, an SSN must be a number the SSA can issue, an IBAN must have its country's length and pass
mod-97. Scanned: the subject, the body (HTML through html2text) and text-like attachments (``text/*``,
CSV, HTML, ``message/rfc822`` / ``.eml`` with their own text parts). Binary attachments are not read.

A :class:`Finding` never carries the full secret outside this process: ``excerpt`` is masked (the last
four digits of a card, for instance), so findings can go to the audit trail and the screen.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import html2text

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.headers import decode_words

#: Built-in rule names (also the keys used in the settings).
CARD, SSN, IBAN = "card", "ssn", "iban"
BUILTIN_LABELS = {CARD: "Payment card number", SSN: "US Social Security number", IBAN: "IBAN"}
#: At most this many bytes of one attachment are read (a huge log file must not stall sending).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_PATTERN_LENGTH = 500

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])(?!-\d)")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d])(?!-\d)")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}")

#: IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


@dataclass(frozen=True)
class CustomRule:
    """A regular expression from the profile's settings (``name`` is how findings and actions refer to it)."""

    name: str
    pattern: str
    label: str = ""
    ignore_case: bool = True

    def compiled(self) -> re.Pattern[str]:
        return compile_rule(self.name, self.pattern, self.ignore_case)


@dataclass(frozen=True)
class Finding:
    """One match. ``start``/``end`` index into the scanned text of ``where`` (for highlighting)."""

    rule: str
    label: str
    where: str  # "subject", "body" or "attachment NAME"
    start: int
    end: int
    excerpt: str  # masked: safe to show and to log

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "label": self.label, "where": self.where, "excerpt": self.excerpt}


def compile_rule(name: str, pattern: str, ignore_case: bool = True) -> re.Pattern[str]:
    """Compile a custom rule's pattern, or say in one sentence what is wrong with it."""
    if not name.strip():
        raise UsageError("A DLP rule needs a name.")
    if name in BUILTIN_LABELS:
        raise UsageError(f"“{name}” is the name of a built-in DLP rule; choose another name.")
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise UsageError(f"The DLP rule “{name}” needs a pattern of 1 to {MAX_PATTERN_LENGTH} characters.")
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise UsageError(f"The DLP rule “{name}” has an invalid regular expression: {exc.msg}{where}.") from None
    if compiled.match(""):
        raise UsageError(f"The DLP rule “{name}” matches empty text, so it would match every message.")
    return compiled


# -- the checks ------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    return digits.isdigit() and 13 <= len(digits) <= 19 and luhn_valid(digits) and digits.strip("0") != ""


def is_ssn(area: str, group: str, serial: str) -> bool:
    return area != "000" and area != "666" and not area.startswith("9") and group != "00" and serial != "0000"


def iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _iban_end(text: str, start: int) -> int | None:
    """Where a valid IBAN starting at ``start`` ends: its country's length in letters and digits, single
    spaces allowed between them, not running on into more letters or digits."""
    length = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None
    count, pos = 0, start
    while pos < len(text) and count < length:
        ch = text[pos]
        if ch.isascii() and ch.isalnum():
            count += 1
        elif not (ch == " " and count and pos + 1 < len(text) and text[pos + 1] != " "):
            return None
        pos += 1
    if count < length or (pos < len(text) and text[pos].isascii() and text[pos].isalnum()):
        return None
    return pos if iban_valid(text[start:pos]) else None


def _mask_digits(text: str, keep: int = 4) -> str:
    """Every digit but the last ``keep`` becomes •; separators stay so the shape is recognisable."""
    total = sum(ch.isdigit() for ch in text)
    seen, out = 0, []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "•")
        else:
            out.append(ch)
    return "".join(out)


def _mask_iban(text: str) -> str:
    compact = text.replace(" ", "").upper()
    return f"{compact[:4]} •••• {compact[-4:]}"


def _clip(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def scan_text(text: str, where: str, custom: Sequence[CustomRule] = ()) -> list[Finding]:
    """All findings in one text, in order of position."""
    found: list[Finding] = []
    for m in _CARD.finditer(text):
        if is_card_number(m.group()):
            found.append(Finding(CARD, BUILTIN_LABELS[CARD], where, m.start(), m.end(), _mask_digits(m.group())))
    for m in _SSN.finditer(text):
        if is_ssn(m.group(1), m.group(3), m.group(4)):
            found.append(Finding(SSN, BUILTIN_LABELS[SSN], where, m.start(), m.end(), _mask_digits(m.group())))
    for start in _IBAN_START.finditer(text):
        end = _iban_end(text, start.start())
        if end is not None:
            candidate = text[start.start() : end]
            found.append(Finding(IBAN, BUILTIN_LABELS[IBAN], where, start.start(), end, _mask_iban(candidate)))
    ibans = [(f.start, f.end) for f in found if f.rule == IBAN]
    if ibans:  # the digits of an IBAN's account number can pass Luhn: one finding, the IBAN, is enough
        found = [f for f in found if f.rule != CARD or not any(s <= f.start and f.end <= e for s, e in ibans)]
    for rule in custom:
        for m in rule.compiled().finditer(text):
            if m.end() > m.start():
                found.append(Finding(rule.name, rule.label or rule.name, where, m.start(), m.end(), _clip(m.group())))
    found.sort(key=lambda f: (f.start, f.rule))
    return found


# -- attachments -----------------------------------------------------------------------------------

_TEXT_EXTENSIONS = (".txt", ".csv", ".tsv", ".htm", ".html", ".eml", ".md", ".log", ".json", ".xml")


def is_text_like(filename: str, content_type: str) -> bool:
    ctype = content_type.lower()
    return (
        ctype.startswith("text/")
        or ctype in ("message/rfc822", "application/csv", "application/xhtml+xml", "application/json")
        or filename.lower().endswith(_TEXT_EXTENSIONS)
    )


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True  # "**4111 1111** _1111 1111_" would hide the number from the rules
    return converter.handle(html)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def attachment_texts(filename: str, content_type: str, data: bytes) -> Iterator[str]:
    """The texts to scan in one attachment (none for binary files)."""
    if not is_text_like(filename, content_type):
        return
    data = data[:MAX_ATTACHMENT_BYTES]
    if content_type.lower() == "message/rfc822" or filename.lower().endswith(".eml"):
        try:  # compat32: policy.default raises on a "name*" parameter (CPython); a crash must not skip the scan
            texts = list(_message_texts(email.message_from_bytes(data, policy=email.policy.compat32)))
        except Exception:  # noqa: BLE001 - absurd nesting, broken structure: scan the text as it is
            texts = [_decode(data)]
        yield from texts
        return
    text = _decode(data)
    if "html" in content_type.lower() or filename.lower().endswith((".htm", ".html")):
        text = html_to_text(text)
    yield text


def _message_texts(message: EmailMessage) -> Iterator[str]:
    yield decode_words(str(message.get("Subject", "")))
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001 - a broken part of an attached message is skipped, not fatal
            continue
        if isinstance(payload, bytes):
            yield from attachment_texts(part.get_filename() or "", part.get_content_type(), payload)


def scan_attachment(filename: str, content_type: str, data: bytes, custom: Sequence[CustomRule] = ()) -> list[Finding]:
    where = f"attachment {filename}"
    return [f for text in attachment_texts(filename, content_type, data) for f in scan_text(text, where, custom)]


def scan_parts(
    subject: str, body: str, attachments: Iterable[tuple[str, str, bytes]] = (), custom: Sequence[CustomRule] = (),
    *, body_is_html: bool = False,
) -> list[Finding]:
    """Subject, body and (filename, content type, bytes) attachments."""
    findings = scan_text(subject, "subject", custom)
    findings += scan_text(html_to_text(body) if body_is_html else body, "body", custom)
    for filename, ctype, data in attachments:
        findings += scan_attachment(filename, ctype, data, custom)
    return findings
