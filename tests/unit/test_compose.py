"""What goes on the wire: Send As / On Behalf headers, encoding, threading, attachments, safety checks."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from email.headerregistry import Address

import pytest

from sharedclient.core.errors import UnsafeMessageError, UsageError
from sharedclient.core.mime import compose as compose_mod
from sharedclient.core.mime.addresses import parse_mailbox, parse_mailbox_list, split_list, strict_addr_spec
from sharedclient.core.mime.compose import (
    AttachmentFile,
    OutgoingMessage,
    clean_msgids,
    compose,
    recipient_view,
    team_copy,
)
from sharedclient.core.model import Identity, SendMode

ALICE = Identity("alice@example.test", "Alice Archer", "work")
SUPPORT_AS = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS, reply_to="help@example.test",
                      signature="Support team\nexample.test", mailbox_owner="support@example.test")
SUPPORT_OB = Identity("support@example.test", "Support Team", "work", SendMode.ON_BEHALF)
WHEN = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def outgoing(identity: Identity = SUPPORT_AS, **kw: object) -> OutgoingMessage:
    base: dict[str, object] = {"to": tuple(parse_mailbox_list("Carol <carol@example.test>")), "subject": "Hello", "body": "Hi."}
    base.update(kw)
    return OutgoingMessage(identity, **base)  # type: ignore[arg-type]


def test_send_as_headers_and_envelope() -> None:
    c = compose(outgoing(), ALICE, now=WHEN)
    msg = parse(c.raw)
    assert msg["From"] == "Support Team <support@example.test>"
    assert msg["Sender"] is None
    assert msg["Reply-To"] == "Support Team <help@example.test>"
    assert msg["Date"] == "Mon, 03 Jun 2024 10:00:00 +0000"
    assert msg["MIME-Version"] == "1.0"
    assert c.message_id.endswith("@example.test>") and msg["Message-ID"] == c.message_id
    assert c.envelope_from == "support@example.test"
    assert c.recipients == ("carol@example.test",)
    assert msg.get_content().replace("\r\n", "\n") == "Hi.\n\n-- \nSupport team\nexample.test\n"
    assert recipient_view(SUPPORT_AS, ALICE) == "Support Team <support@example.test>"


def test_on_behalf_has_sender_and_uses_the_persons_envelope() -> None:
    c = compose(outgoing(SUPPORT_OB), ALICE)
    msg = parse(c.raw)
    assert msg["From"] == "Support Team <support@example.test>"
    assert msg["Sender"] == "Alice Archer <alice@example.test>"
    assert c.envelope_from == "alice@example.test"
    assert c.sender_header == "Alice Archer <alice@example.test>"
    assert recipient_view(SUPPORT_OB, ALICE) == "Alice Archer on behalf of Support Team <support@example.test>"


def test_own_identity() -> None:
    c = compose(outgoing(ALICE), ALICE)
    assert parse(c.raw)["From"] == "Alice Archer <alice@example.test>" and c.envelope_from == "alice@example.test"


def test_non_ascii_names_and_subject_are_encoded_words_and_bytes_are_ascii() -> None:
    ident = Identity("support@example.test", "Équipe Support, Zürich", "work", SendMode.SEND_AS)
    to = (Address("Jana Nováková", "jana", "firma.test"),)
    c = compose(outgoing(ident, to=to, subject="Přihlášení nefunguje – " * 5, body="Grüße\n"), ALICE)
    assert c.raw.isascii() and b"=?utf-8?" in c.raw
    msg = parse(c.raw)
    assert str(msg["From"]) == '"Équipe Support, Zürich" <support@example.test>'
    assert msg["To"].addresses[0].display_name == "Jana Nováková"
    assert msg["Subject"] == ("Přihlášení nefunguje – " * 5).strip() or msg["Subject"].startswith("Přihlášení")
    assert msg.get_content().startswith("Grüße")
    assert all(len(line) <= 78 for line in c.raw.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_reply_threading_headers_and_quote_after_signature() -> None:
    c = compose(
        outgoing(in_reply_to="<b@x.test>", references=("<a@x.test> <b@x.test> garbage <=?utf-8?q?x?=@y>",),
                 quote="On Mon, Dana wrote:\n> Help\n"),
        ALICE,
    )
    msg = parse(c.raw)
    assert msg["In-Reply-To"] == "<b@x.test>"
    assert msg["References"] == "<a@x.test> <b@x.test>"
    assert msg.get_content().replace("\r\n", "\n").endswith("-- \nSupport team\nexample.test\n\nOn Mon, Dana wrote:\n> Help\n")


def test_references_are_capped_keeping_the_root() -> None:
    ids = [f"<{n}@x.test>" for n in range(50)]
    kept = clean_msgids([" ".join(ids)])
    assert len(kept) == 20 and kept[0] == "<0@x.test>" and kept[-1] == "<49@x.test>"


def test_attachments_with_guessed_types_and_non_ascii_names() -> None:
    files = (AttachmentFile("Rechnung März.pdf", b"%PDF-1.4"), AttachmentFile("notes.txt", b"a\nb"), AttachmentFile("x", b"\0"))
    msg = parse(compose(outgoing(attachments=files), ALICE).raw)
    parts = list(msg.iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("Rechnung März.pdf", "application/pdf"),
        ("notes.txt", "application/octet-stream"),  # text kept byte for byte
        ("x", "application/octet-stream"),
    ]
    assert parts[1].get_content() == b"a\nb"
    assert all(p["MIME-Version"] is None for p in parts)


def test_bcc_is_in_the_envelope_never_in_the_bytes_but_in_the_team_copy() -> None:
    c = compose(outgoing(bcc=tuple(parse_mailbox_list("boss@example.test, Carol <CAROL@example.test>"))), ALICE)
    assert c.recipients == ("carol@example.test", "boss@example.test")  # duplicates collapse, case-insensitively
    assert c.bcc == ("boss@example.test",)
    assert b"boss" not in c.raw and parse(c.raw)["Bcc"] is None
    copy = parse(team_copy(c.raw, "alice@example.test", c.bcc))
    assert copy["X-SharedClient-Sent-By"] == "alice@example.test"
    assert copy["Bcc"] == "boss@example.test"
    assert b"X-SharedClient" not in c.raw


def test_only_bcc_gets_undisclosed_recipients() -> None:
    c = compose(outgoing(to=(), bcc=tuple(parse_mailbox_list("boss@example.test"))), ALICE)
    assert parse(c.raw)["To"] == "undisclosed-recipients:;"
    assert c.recipients == ("boss@example.test",)


def test_no_recipients_is_refused() -> None:
    with pytest.raises(UsageError, match="no recipients"):
        compose(outgoing(to=()), ALICE)


@pytest.mark.parametrize(
    "subject",
    [
        "hello\r\nBcc: evil@x.test",
        "hello\nX-Injected: 1",
        "=?utf-8?q?hello=0D=0AX-Injected:_yes?=",
        "tab\there",
        "line\u2028separator",
    ],
)
def test_header_injection_through_the_subject_is_refused(subject: str) -> None:
    with pytest.raises(UsageError):
        compose(outgoing(subject=subject), ALICE)


def test_encoded_newline_in_a_display_name_is_refused() -> None:
    """CVE-2024-6923 on this Python: the encoded CR/LF would be written out as a new Bcc header line."""
    evil = Identity("support@example.test", "=?utf-8?q?Eve=0D=0ABcc:_x@evil.test?=", "work", SendMode.SEND_AS)
    with pytest.raises(UsageError, match="=\\?…\\?="):
        compose(outgoing(evil), ALICE)
    with pytest.raises(UsageError):
        compose(outgoing(to=(Address("=?utf-8?q?a=0A?=", "c", "x.test"),)), ALICE)


def test_verify_wire_catches_what_the_up_front_checks_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence works on the bytes alone: simulate a serializer that injects a header."""
    real = compose_mod.EmailMessage.as_bytes

    def injecting(self: compose_mod.EmailMessage, *a: object, **kw: object) -> bytes:
        return real(self, *a, **kw).replace(b"Subject: Hello\r\n", b"Subject: Hello\r\nBcc: evil@x.test\r\n")  # type: ignore[arg-type]

    monkeypatch.setattr(compose_mod.EmailMessage, "as_bytes", injecting)
    with pytest.raises(UnsafeMessageError, match="failed a safety check"):
        compose(outgoing(), ALICE)


def test_verify_wire_catches_a_recipient_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compose_mod.EmailMessage.as_bytes

    def swapping(self: compose_mod.EmailMessage, *a: object, **kw: object) -> bytes:
        return real(self, *a, **kw).replace(b"carol@example.test", b"mallory@example.test")  # type: ignore[arg-type]

    monkeypatch.setattr(compose_mod.EmailMessage, "as_bytes", swapping)
    with pytest.raises(UnsafeMessageError, match="recipients in the header differ"):
        compose(outgoing(), ALICE)


@pytest.mark.parametrize(
    "text",
    ['"a@b"@c.test', "a b@c.test", "a@b", "a..b@c.test", ".a@c.test", "a@-c.test", "a@c_d.test", "ä@c.test",
     "a@c.test>", "<a@c.test", "a@c.test\r\n", "a@[127.0.0.1]", "a@b@c.test", "(comment)a@c.test", "a\\@c.test"],
)  # fmt: skip
def test_strict_addresses_refuse_the_cve_2023_27043_shapes(text: str) -> None:
    with pytest.raises(UsageError):
        strict_addr_spec(text)


@pytest.mark.parametrize(
    ("text", "name", "spec"),
    [
        ("carol@example.test", "", "carol@example.test"),
        ("Carol Chen <carol@example.test>", "Carol Chen", "carol@example.test"),
        ('"Doe, Jane" <jane+tag@x.test>', "Doe, Jane", "jane+tag@x.test"),
        ('"Say \\"hi\\"" <a@x.test>', 'Say "hi"', "a@x.test"),
        ("Jana Nováková <jana@firma.test>", "Jana Nováková", "jana@firma.test"),
    ],
)
def test_parse_mailbox(text: str, name: str, spec: str) -> None:
    addr = parse_mailbox(text)
    assert (addr.display_name, addr.addr_spec) == (name, spec)


@pytest.mark.parametrize("text", ['Eve "x" <a@x.test>', '"unclosed <a@x.test>', "Eve <a@x.test", 'a@x.test <b@x.test>'])
def test_parse_mailbox_refuses_ambiguous_forms(text: str) -> None:
    with pytest.raises(UsageError):
        parse_mailbox(text)


def test_split_list_respects_quotes() -> None:
    assert split_list('"Doe, Jane" <j@x.test>; bob@x.test,carol@x.test') == ['"Doe, Jane" <j@x.test>', "bob@x.test", "carol@x.test"]
