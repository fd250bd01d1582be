"""Property tests, 10,000 examples: whatever is typed into (or replied from) subject, names and addresses,

* the serialized message never gains a header line (CVE-2024-6923: Python 3.11.7 writes a decoded
  ``=?UTF-8?Q?=0A?=`` out as a real line break), judged by our own line scan *and* two parsers, and
* the RCPT list equals the To/Cc addresses every parser reads from the bytes, plus Bcc, and no Bcc address
  appears in the bytes (CVE-2023-27043: addresses that parse differently than they read).

Inputs mix the pieces that broke mail software (CR, LF, NUL, U+2028, U+0085, encoded line breaks, quotes,
specials, "Bcc:" lines) into what a person types in the composer's fields, which go through the same
``parse_mailbox_list`` + ``compose`` as the GUI and CLI. Clean input must always be accepted; hostile input
may be refused with a UsageError but never produce unsafe bytes. Complements
tests/unit/test_compose_properties.py (fewer examples, Address objects instead of typed text).
"""

from __future__ import annotations

import base64
import email
import email.parser
import email.policy
import re
import string
from email.utils import getaddresses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedclient.core.errors import UsageError
from sharedclient.core.mime.addresses import parse_mailbox_list
from sharedclient.core.mime.compose import OutgoingMessage, compose
from sharedclient.core.mime.reply import read_original, reply_message
from sharedclient.core.model import Identity, SendMode

TEN_THOUSAND = settings(
    max_examples=10_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
USER = Identity("alice@example.test", "Alice", "work")

NASTY = [
    "\r\n", "\n", "\r", "\x00", "\t", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c",
    "=?UTF-8?Q?=0A?=", "=?UTF-8?Q?=0D=0ABcc:_evil@evil.test?=", "=?utf-8?b?DQpYLUV2aWw6IDE=?=",
    "\r\nBcc: evil@evil.test", "\nX-Evil: 1", "Bcc: evil@evil.test", "=?", "?=",
    '"', "\\", ",", ";", ":", "<", ">", "@", "(", ")", "[", "]", "\u202e", "evil@evil.test",
]  # fmt: skip
_SAFE_NAME = string.ascii_letters + string.digits + " .'-!#$%&*+/=?^_`{|}~äöüéÆ中文😀\u202e\u200b"
#: Valid addresses from sampled parts: cheap to draw (generation, not compose, was half the run time);
#: the grammar itself is explored in tests/unit/test_compose_properties.py.
_LOCALS = ["a", "dana", "a.b", "o'neil", "x+tag", "first.last", "!#$%&'*+/=?^_`{|}~-", "UPPER", "0", "a-b"]
_LABELS = ["customer", "example", "x", "mail-1", "0a", "sub.domain"]
clean_address = st.builds(lambda loc, dom, tld: f"{loc}@{dom}.{tld}",
                          st.sampled_from(_LOCALS), st.sampled_from(_LABELS), st.sampled_from(["test", "org", "co"]))  # fmt: skip
clean_name = st.text(st.sampled_from(_SAFE_NAME), max_size=12).filter(lambda s: "=?" not in s)


def _spiked(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``base`` with one nasty piece spliced in somewhere."""
    return st.builds(lambda s, piece, at: s[: at % (len(s) + 1)] + piece + s[at % (len(s) + 1) :],
                     base, st.sampled_from(NASTY), st.integers(0, 40))  # fmt: skip


def _entry(name: st.SearchStrategy[str], address: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        address,
        st.builds(lambda n, a: f"{n} <{a}>" if n.strip() else a, name, address),
        st.builds(lambda n, a: '"{}" <{}>'.format(n.replace("\\", "\\\\").replace('"', '\\"'), a), name, address),
    )


def field(hostile: bool) -> st.SearchStrategy[str]:
    if hostile:
        entry = _entry(st.one_of(clean_name, _spiked(clean_name)), st.one_of(clean_address, _spiked(clean_address)))
    else:
        entry = _entry(clean_name, clean_address)
    return st.lists(entry, max_size=3).map(", ".join)


#: Built once: constructing strategies inside every example costs more than composing the message.
_FIELDS = {True: field(True), False: field(False)}
_TEXT = {True: st.one_of(clean_name, _spiked(clean_name)), False: clean_name}
_MODES = st.sampled_from(list(SendMode))


@st.composite
def typed_message(draw: st.DrawFn) -> tuple[bool, dict[str, str], SendMode]:
    hostile = draw(st.booleans())
    text, fld = _TEXT[hostile], _FIELDS[hostile]
    fields = {
        "subject": draw(text), "from_name": draw(text),
        "to": draw(fld), "cc": draw(fld), "bcc": _bare(draw(fld)),
    }  # fmt: skip
    return hostile, fields, draw(_MODES)


def _bare(text: str) -> str:
    """Bcc as typed: addresses only (names are never sent for Bcc anyway)."""
    return ", ".join(re.findall(r"<([^<>]*)>", text)) or text


def header_names(raw: bytes) -> list[str]:
    """Our own scan: every line of the header block is a new field or a folded continuation."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        assert colon and re.fullmatch(rb"[!-9;-~]+", name), line
        names.append(name.decode().lower())
    return names


def check_wire(raw: bytes, expected_headers: list[str], recipients: tuple[str, ...], bcc: set[str]) -> None:
    assert raw.isascii() and b"\x00" not in raw
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", raw), "bare CR or LF"
    assert header_names(raw) == expected_headers
    compat = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    assert [k.lower() for k in compat.keys()] == expected_headers
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    shown = {a.addr_spec.lower() for h in ("To", "Cc") if parsed[h] is not None for a in parsed[h].addresses}
    legacy = {a.lower() for _, a in getaddresses(compat.get_all("To", []) + compat.get_all("Cc", [])) if "@" in a}
    assert legacy == shown, "the two parsers read different recipients"
    assert {r.lower() for r in recipients} == shown | bcc
    assert parsed["Bcc"] is None
    for hidden in bcc - shown:
        assert not re.search(rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-]){re.escape(hidden)}(?![\w.-])", raw.decode(), re.I)


@TEN_THOUSAND
@given(typed_message())
def test_typed_fields_never_add_a_header_and_rcpt_equals_what_is_shown(case: tuple[bool, dict[str, str], SendMode]) -> None:
    hostile, f, mode = case
    try:
        to, cc, bcc = (tuple(parse_mailbox_list(f[k])) for k in ("to", "cc", "bcc"))
        ident = Identity("support@example.test", f["from_name"], "work", mode)
        composed = compose(OutgoingMessage(ident, to=to, cc=cc, bcc=bcc, subject=f["subject"], body=f["subject"]), USER)
    except UsageError as exc:
        assert hostile or not (f["to"] or f["cc"] or f["bcc"]), f"clean input refused: {exc.user_message}"
        return
    on_behalf = mode is SendMode.ON_BEHALF
    expected = ["from", *(["sender"] if on_behalf else []), *(["to"] if to or not cc else []), *(["cc"] if cc else []), "subject", "date",
                "message-id", "content-type", "content-transfer-encoding", "mime-version"]  # fmt: skip
    check_wire(composed.raw, expected, composed.recipients, {b.addr_spec.lower() for b in bcc})
    subject = email.parser.BytesParser(policy=email.policy.default).parsebytes(composed.raw, headersonly=True)["Subject"]
    assert " ".join(str(subject).split()) == " ".join(f["subject"].split())


@settings(TEN_THOUSAND, max_examples=2_000)
@given(subject=st.one_of(clean_name, _spiked(clean_name)), name=st.one_of(clean_name, _spiked(clean_name)),
       extra=st.lists(st.one_of(clean_address, _spiked(clean_address)), max_size=3))  # fmt: skip
def test_replying_to_a_hostile_message_never_adds_a_header(subject: str, name: str, extra: list[str]) -> None:
    """The received message is the attacker's: encoded CR/LF in its subject and names, odd addresses."""

    def enc(text: str) -> str:
        return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode() + "?="

    raw = (f"From: {enc(name)} <dana@customer.test>\r\nTo: support@example.test\r\n"
           f"Cc: {', '.join(e.replace(chr(13), '').replace(chr(10), '') for e in extra) or 'x@y.test'}\r\n"
           f"Subject: {enc(subject)}\r\nMessage-ID: <a@customer.test>\r\n\r\nHello\r\n").encode("utf-8", "surrogateescape")  # fmt: skip
    support = Identity("support@example.test", "Support", "work", SendMode.SEND_AS)
    reply = reply_message(read_original(raw), support, reply_all=True)
    composed = compose(reply, USER)
    expected = ["from", "to", *(["cc"] if reply.cc else []), "subject", "date", "message-id", "in-reply-to",
                "references", "content-type", "content-transfer-encoding", "mime-version"]  # fmt: skip
    check_wire(composed.raw, expected, composed.recipients, set())
    assert composed.recipients[0] == "dana@customer.test"
