"""The demo's seed mail: parseable, reproducible, realistic in the ways the client cares about."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from sharedclient.core.errors import UsageError
from sharedclient.devservers.seed import MAILBOXES, demo_messages

DOMAIN = "example.com"  # the demo's own domain: no customer may live there
NOW = datetime(2024, 5, 20, 12, 0, tzinfo=timezone.utc)
RESERVED = re.compile(r"@(example\.(com|org|net)|[a-z0-9.-]+\.test)\Z")


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.fixture(scope="module")
def mail() -> dict[str, list[EmailMessage]]:
    return {mb: [parse(raw) for raw in demo_messages(DOMAIN, mb, 40, now=NOW)] for mb in MAILBOXES}


@pytest.mark.parametrize("mailbox", MAILBOXES)
def test_messages_parse_cleanly_as_7bit_crlf(mailbox: str) -> None:
    raws = demo_messages(DOMAIN, mailbox, 40, now=NOW)
    assert len(raws) == 40
    for raw in raws:
        assert raw.isascii()  # encoded words, QP and base64: safe over any transport
        assert b"\n" not in raw.replace(b"\r\n", b"")
        msg = parse(raw)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
            assert msg[header], header
        for part in msg.walk():
            assert not part.defects, (msg["Subject"], part.defects)
            if not part.is_multipart():
                part.get_content()  # decodes (charset, transfer encoding)


@pytest.mark.parametrize("mailbox", MAILBOXES)
def test_deterministic_for_a_seed(mailbox: str) -> None:
    state = random.getstate()
    first = demo_messages(DOMAIN, mailbox, 25, seed=7, now=NOW)
    assert random.getstate() == state  # the global RNG is neither used nor reseeded
    assert demo_messages(DOMAIN, mailbox, 25, seed=7, now=NOW) == first
    assert demo_messages(DOMAIN, mailbox, 25, seed=8, now=NOW) != first


def test_naive_now_is_utc() -> None:
    assert demo_messages(DOMAIN, "sales", 5, now=NOW.replace(tzinfo=None)) == demo_messages(DOMAIN, "sales", 5, now=NOW)


@pytest.mark.parametrize("mailbox", MAILBOXES)
def test_dates_in_the_last_30_days_oldest_first(mail: dict[str, list[EmailMessage]], mailbox: str) -> None:
    dates = [msg["Date"].datetime for msg in mail[mailbox]]
    assert all(NOW - timedelta(days=30) <= d <= NOW for d in dates)
    assert dates == sorted(dates)
    assert dates[-1] - dates[0] > timedelta(days=14)  # spread out, not bunched
    assert len({d.utcoffset() for d in dates}) > 1  # senders in several time zones


def test_non_ascii_names_round_trip(mail: dict[str, list[EmailMessage]]) -> None:
    names = {msg["From"].addresses[0].display_name for msg in mail["support"] + mail["sales"]}
    assert {"Zoë Müller", "José Álvarez", "李雷", "Дмитрий Иванов", "Carter, Ben"} <= names
    raw = demo_messages(DOMAIN, "support", 40, now=NOW)
    assert any(b"=?utf-8?" in r.split(b"\r\n\r\n")[0] for r in raw)  # really sent as encoded words
    subjects = {msg["Subject"] for msg in mail["support"]}
    assert any("Rückerstattung" in s for s in subjects)


def test_message_ids_unique_and_in_the_senders_domain(mail: dict[str, list[EmailMessage]]) -> None:
    ids = [msg["Message-ID"] for mb in MAILBOXES for msg in mail[mb]]
    assert len(ids) == len(set(ids))
    for mb in MAILBOXES:
        for msg in mail[mb]:
            sender_domain = msg["From"].addresses[0].domain
            assert re.fullmatch(r"<[^<>@\s]+@" + re.escape(sender_domain) + ">", msg["Message-ID"])


def test_outsiders_use_reserved_domains_never_ours(mail: dict[str, list[EmailMessage]]) -> None:
    for msg in mail["support"] + mail["sales"]:
        for header in ("From", "Cc"):
            for addr in msg[header].addresses if msg[header] else ():
                assert RESERVED.search(addr.addr_spec), addr
                assert addr.domain != DOMAIN
    for msg in mail["personal"]:  # colleagues
        assert msg["From"].addresses[0].domain == DOMAIN


@pytest.mark.parametrize("mailbox", MAILBOXES)
def test_html_alternatives_and_attachments(mail: dict[str, list[EmailMessage]], mailbox: str) -> None:
    msgs = mail[mailbox]
    assert any(part.get_content_type() == "multipart/alternative" for m in msgs for part in m.walk())
    attachments = [a for m in msgs for a in m.iter_attachments()]
    assert attachments and all(len(a.get_content()) < 4096 for a in attachments)
    assert 0 < sum(1 for m in msgs if any(m.iter_attachments())) < len(msgs) / 2


def test_small_counts_still_get_an_html_part_and_an_attachment() -> None:
    for seed in range(20):
        msgs = [parse(r) for r in demo_messages(DOMAIN, "sales", 3, seed=seed, now=NOW)]
        assert any(m.get_body(("html",)) is not None for m in msgs)
        assert any(any(m.iter_attachments()) for m in msgs)


def test_pdf_attachments_are_real_pdfs(mail: dict[str, list[EmailMessage]]) -> None:
    pdfs = [a for m in mail["support"] for a in m.iter_attachments() if a.get_content_type() == "application/pdf"]
    names = {a.get_filename() for a in pdfs}
    assert "Rechnung_März.pdf" in names  # RFC 2231 file name round trip
    for pdf in pdfs:
        data = pdf.get_content()
        assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
        xref = int(data.rsplit(b"startxref\n", 1)[1].split()[0])
        assert data[xref:].startswith(b"xref\n")


def test_threads_reference_earlier_messages(mail: dict[str, list[EmailMessage]]) -> None:
    for mb in MAILBOXES:
        seen: dict[str, EmailMessage] = {}
        replies = 0
        for msg in mail[mb]:
            if msg["In-Reply-To"]:
                replies += 1
                refs = msg["References"].split()
                assert refs[-1] == msg["In-Reply-To"]
                original = seen[refs[0]]  # the thread starts with a message already in the mailbox
                assert msg["Subject"] == f"Re: {original['Subject']}"
                assert msg["From"].addresses[0] == original["From"].addresses[0]
                assert "wrote:\n> " in msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            seen[msg["Message-ID"]] = msg
        assert replies >= 2, mb


def test_addressing_and_aliases(mail: dict[str, list[EmailMessage]]) -> None:
    support_to = {str(m["To"]) for m in mail["support"]}
    assert support_to == {f"support@{DOMAIN}", f"help@{DOMAIN}"}
    via_alias = [m for m in mail["support"] if m["X-Original-To"]]
    assert via_alias and all(m["X-Original-To"] == m["To"] == f"help@{DOMAIN}" for m in via_alias)
    assert {str(m["To"]) for m in mail["sales"]} == {f"sales@{DOMAIN}", f"quotes@{DOMAIN}"}
    assert {str(m["To"]) for m in mail["personal"]} == {f"alice@{DOMAIN}"}
    assert any(m["Cc"] for m in mail["support"])
    for mb in MAILBOXES:  # the delivery agent adds these
        assert not any(m["Delivered-To"] or m["Return-Path"] for m in mail[mb])
    personal = demo_messages(DOMAIN, "personal", 3, now=NOW, to=f"bob@{DOMAIN}")
    assert all(parse(r)["To"] == f"bob@{DOMAIN}" for r in personal)


def test_exactly_one_remote_image_in_support(mail: dict[str, list[EmailMessage]]) -> None:
    def remote(msg: EmailMessage) -> bool:
        body = msg.get_body(("html",))
        return body is not None and '<img src="http://127.0.0.1:9/track.png"' in body.get_content()

    assert sum(remote(m) for m in mail["support"]) == 1
    assert not any(remote(m) for m in mail["sales"] + mail["personal"])


def test_bad_arguments() -> None:
    assert demo_messages(DOMAIN, "support", 0, now=NOW) == []
    with pytest.raises(UsageError):
        demo_messages(DOMAIN, "billing", 3)
    with pytest.raises(UsageError):
        demo_messages(DOMAIN, "support", -1)
