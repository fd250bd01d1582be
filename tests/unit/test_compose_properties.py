"""Property tests: whatever a person (or a hostile original) puts into names, subjects and addresses,

* no header line appears that we did not put there (CVE-2024-6923: encoded newlines on this Python), and
* the RCPT list equals the To/Cc addresses a mail program parses from the bytes, plus Bcc — and Bcc never
  shows (CVE-2023-27043: addresses that parse differently than they read).

compose() may refuse input (UsageError); it must never produce bytes that break either rule.
"""

from __future__ import annotations

import email
import email.policy
import re
import string
from email.headerregistry import Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedclient.core.errors import UsageError
from sharedclient.core.mime.addresses import parse_mailbox, strict_addr_spec
from sharedclient.core.mime.compose import OutgoingMessage, compose
from sharedclient.core.model import Identity, SendMode

#: A few thousand examples in all: the email package needs ~5-10 ms per message, so this is ~30 s.
PROPERTY = settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
USER = Identity("alice@example.test", "Alice", "work")

# Strategies built from sampled alphabets: from_regex and category-filtered characters cost ~10x more to
# generate than compose() costs to run.
_atom = st.text(string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8)
_local = st.lists(_atom, min_size=1, max_size=3).map(".".join)
_alnum = string.ascii_lowercase + string.digits
_label = st.builds(lambda a, b: f"{a}-{b}" if b else a, st.text(_alnum, min_size=1, max_size=5), st.text(_alnum, max_size=3))
addresses = st.builds(lambda local, labels: f"{local}@{'.'.join(labels)}", _local, st.lists(_label, min_size=2, max_size=3))

#: Pieces that have broken mail software: line breaks raw and encoded, quotes, specials, non-ASCII.
_nasty = st.sampled_from([
    "\r\n", "\n", "\r", "\x00", "\t", "\u2028", "\u0085", " ", "Bcc: evil@evil.test", "X-Evil: 1",
    "=?utf-8?q?a=0D=0AX-Evil:_1?=", "=?utf-8?b?DQpYLUV2aWw6IDE=?=", "=?", "?=", '"', "\\", ",", ";", ":", "<", ">",
    "@", "(", ")", "[", "]", "é", "中文", "\u202e", "evil@evil.test", '"a@b"@c.test',
])  # fmt: skip
hostile_text = st.lists(st.one_of(st.text(max_size=6), _nasty), max_size=8).map("".join)
#: Names that are fine to type: no control characters, line separators or encoded words.
_NAME_CHARS = (
    string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    + "\u00a0äöüßÄÖÜéèçñÆØÅłŁžŽ€ΩΑαβγЖжЯ中文字日本語한국어\u202e\u200b𐀀😀"
)
plain_names = st.text(st.sampled_from(_NAME_CHARS), max_size=24).filter(lambda s: "=?" not in s)


def _headers(raw: bytes) -> list[str]:
    """Header names as a *different* parser (compat32) sees them."""
    return [name.lower() for name in email.message_from_bytes(raw, policy=email.policy.compat32).keys()]


def _mailbox(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


@PROPERTY
@given(
    from_name=hostile_text,
    subject=hostile_text,
    to=st.lists(st.tuples(hostile_text, addresses), min_size=1, max_size=3),
    reply_to=st.none() | addresses,
    on_behalf=st.booleans(),
)
def test_no_header_injection(
    from_name: str, subject: str, to: list[tuple[str, str]], reply_to: str | None, on_behalf: bool
) -> None:
    mode = SendMode.ON_BEHALF if on_behalf else SendMode.SEND_AS
    ident = Identity("support@example.test", from_name, "work", mode, reply_to=reply_to)
    try:
        recipients = tuple(_mailbox(n, a) for n, a in to)
    except ValueError:  # the standard library itself refuses CR/LF in Address parts
        return
    try:
        composed = compose(OutgoingMessage(ident, to=recipients, subject=subject, body=subject), USER)
    except UsageError:
        return
    expected = ["from", *(["sender"] if on_behalf else []), *(["reply-to"] if reply_to else []), "to", "subject",
                "date", "message-id", "content-type", "content-transfer-encoding", "mime-version"]  # fmt: skip
    assert _headers(composed.raw) == expected
    head = composed.raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\nx-evil" not in head and b"\nbcc" not in head
    parsed = email.message_from_bytes(composed.raw, policy=email.policy.default)
    assert " ".join(str(parsed["Subject"]).split()) == " ".join(subject.split())


@settings(PROPERTY, max_examples=1000)
@given(
    to=st.lists(st.tuples(plain_names, addresses), max_size=4),
    cc=st.lists(st.tuples(plain_names, addresses), max_size=3),
    bcc=st.lists(addresses, max_size=3),
)
def test_rcpt_equals_the_parsed_to_cc_and_bcc(
    to: list[tuple[str, str]], cc: list[tuple[str, str]], bcc: list[str]
) -> None:
    if not (to or cc or bcc):
        return
    composed = compose(
        OutgoingMessage(
            Identity("support@example.test", "Support", "work", SendMode.SEND_AS),
            to=tuple(_mailbox(n, a) for n, a in to),
            cc=tuple(_mailbox(n, a) for n, a in cc),
            bcc=tuple(_mailbox("", a) for a in bcc),
            subject="s",
        ),
        USER,
    )
    parsed = email.message_from_bytes(composed.raw, policy=email.policy.default)
    shown = {a.addr_spec.lower() for h in ("To", "Cc") if parsed[h] is not None for a in parsed[h].addresses}
    assert {r.lower() for r in composed.recipients} == shown | {b.lower() for b in bcc}
    assert len(composed.recipients) == len({r.lower() for r in composed.recipients})
    for hidden in composed.bcc:  # as a whole address ("0@0.0" is part of the visible "x.0@0.0")
        assert not re.search(rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-]){re.escape(hidden)}(?![\w.-])", composed.raw.decode(), re.I)
    assert parsed["Bcc"] is None


@settings(PROPERTY, max_examples=1000)
@given(text=st.one_of(hostile_text, st.builds(lambda n, a: f"{n} <{a}>", hostile_text, addresses)))
def test_parse_mailbox_accepts_only_what_reads_as_it_sends(text: str) -> None:
    try:
        addr = parse_mailbox(text)
    except UsageError:
        return
    assert strict_addr_spec(addr.addr_spec) == addr.addr_spec
    reparsed = email.message_from_string(f"To: {addr}\n\n", policy=email.policy.default)["To"].addresses
    assert [a.addr_spec for a in reparsed] == [addr.addr_spec]
