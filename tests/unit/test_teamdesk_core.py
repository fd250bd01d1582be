"""Templates and notes without a server: placeholders, the stored messages, the reply guard."""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime, timezone
from email.headerregistry import Address

import pytest

from sharedclient.core.errors import UsageError
from sharedclient.core.mime.compose import AttachmentFile
from sharedclient.core.mime.reply import read_original
from sharedclient.core.model import Identity, SendMode
from sharedclient.core.teamdesk.notes import (
    Conversation,
    _search,
    build_note,
    conversation_of,
    is_note,
    parse_note,
)
from sharedclient.core.teamdesk.placeholders import context_for, fill, format_date
from sharedclient.core.teamdesk.templates import build_template, parse_template

CUSTOMER_MAIL = (
    b"From: =?utf-8?q?Jana_Nov=C3=A1kov=C3=A1?= <jana@firma.test>\r\n"
    b"To: support@example.test\r\nSubject: Login not working\r\n"
    b"Message-ID: <m2@firma.test>\r\nReferences: <m0@firma.test> <m1@example.test>\r\n"
    b"In-Reply-To: <m1@example.test>\r\nDate: Mon, 03 Jun 2024 08:30:00 +0000\r\n\r\nHelp!\r\n"
)
SUPPORT = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS)
ALICE = Identity("alice@example.test", "Alice Adams", "work")
KIM = Address("Kim Agent", "kim", "example.test")


def test_known_placeholders_are_filled_from_the_original() -> None:
    values = context_for(read_original(CUSTOMER_MAIL), SUPPORT, ALICE, date(2026, 1, 5))
    filled = fill("{customer_name} <{customer_email}> / {original_subject} / {agent_name} / {identity_name} / {date}", values)
    assert filled.text == "Jana Nováková <jana@firma.test> / Login not working / Alice Adams / Support Team / 5 January 2026"
    assert filled.unfilled == () and filled.summary() == ""


def test_unknown_and_unfillable_placeholders_stay_visible_with_positions() -> None:
    values = context_for(None, SUPPORT, Identity("bob@example.test", "", "work"), date(2026, 1, 5))
    filled = fill("Hi {customer_name}, {Order_No} and {agent_name}; {not a placeholder} {date}", values)
    assert filled.text == "Hi {customer_name}, {Order_No} and {agent_name}; {not a placeholder} 5 January 2026"
    assert [(u.name, filled.text[u.start : u.end]) for u in filled.unfilled] == [
        ("customer_name", "{customer_name}"), ("Order_No", "{Order_No}"), ("agent_name", "{agent_name}"),
    ]  # fmt: skip
    reasons = {u.name: u.reason for u in filled.unfilled}
    assert reasons["Order_No"] == "unknown placeholder"
    assert reasons["customer_name"] == "no message is being answered"
    assert "{Order_No} (unknown placeholder)" in filled.summary()


def test_offsets_account_for_replacements_of_other_lengths() -> None:
    filled = fill("{date}{x}{date}{y}", {"date": "1 May 2026"})
    assert [filled.text[u.start : u.end] for u in filled.unfilled] == ["{x}", "{y}"]


def test_customer_of_our_own_sent_mail_is_its_recipient() -> None:
    sent = b"From: Support Team <support@example.test>\r\nTo: Dana <dana@customer.test>\r\nSubject: Re: x\r\n\r\nok\r\n"
    values = context_for(read_original(sent), SUPPORT, ALICE, date(2026, 1, 5))
    assert (values["customer_name"], values["customer_email"]) == ("Dana", "dana@customer.test")


def test_date_format_is_unambiguous() -> None:
    assert format_date(date(2026, 11, 27)) == "27 November 2026"


def test_template_round_trip_with_attachment_and_non_ascii_name() -> None:
    raw = build_template("Rückerstattung – doppelt", "Hallo {customer_name}\r\nGrüße\n", KIM,
                         (AttachmentFile("policy.pdf", b"%PDF"),), now=datetime(2026, 1, 5, tzinfo=timezone.utc))  # fmt: skip
    assert raw.isascii() and b"\r\n" in raw and b"X-SharedClient-Template:" in raw
    template = parse_template(7, raw, "Templates", "your mailbox")
    assert (template.name, template.body) == ("Rückerstattung – doppelt", "Hallo {customer_name}\nGrüße\n")
    assert template.attachments == ("policy.pdf",) and template.author == "Kim Agent <kim@example.test>"
    assert template.attachment_files()[0].data == b"%PDF"
    assert template.matches("grüsse".replace("ss", "ß")) and template.matches("RÜCK hallo")
    assert not template.matches("refund")


@pytest.mark.parametrize("name", ["", "   ", "x=?utf-8?q?a?=", "a\x07b"])
def test_template_names_are_checked(name: str) -> None:
    with pytest.raises(UsageError):
        build_template(name, "text", KIM)


def test_empty_template_is_refused() -> None:
    with pytest.raises(UsageError, match="has no text"):
        build_template("Name", " \n", KIM)


def test_a_message_filed_by_another_client_is_still_a_template() -> None:
    template = parse_template(3, b"Subject: Shipping delay\r\n\r\nSorry for the wait.\r\n", "Templates", "x")
    assert (template.name, template.body) == ("Shipping delay", "Sorry for the wait.\n")
    untitled = parse_template(4, b"\r\n\r\n", "Templates", "x")
    assert untitled.name == "(untitled template 4)" and untitled.body == ""


def test_note_threads_onto_the_conversation_and_has_no_recipients() -> None:
    about = conversation_of(CUSTOMER_MAIL)
    assert about == Conversation("<m2@firma.test>", ("<m0@firma.test>", "<m1@example.test>"), "Login not working")
    raw = build_note("Called her back,\r\nfixed.", KIM, about)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["In-Reply-To"] == "<m2@firma.test>"
    assert msg["References"] == "<m0@firma.test> <m1@example.test> <m2@firma.test>"
    assert msg["Subject"] == "Note: Login not working"
    assert msg["To"] is None and msg["Cc"] is None and msg["Bcc"] is None
    assert is_note(raw) and not is_note(CUSTOMER_MAIL)
    note = parse_note(9, raw)
    assert (note.text, note.about, note.author) == ("Called her back,\nfixed.", "<m2@firma.test>", "Kim Agent <kim@example.test>")


def test_notes_are_never_replied_to_or_forwarded() -> None:
    raw = build_note("internal", KIM, conversation_of(CUSTOMER_MAIL))
    with pytest.raises(UsageError, match="internal note"):
        read_original(raw)


@pytest.mark.parametrize("text", ["", "  \n ", "x" * 20_001])
def test_bad_notes_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        build_note(text, KIM, conversation_of(CUSTOMER_MAIL))


def test_message_without_message_id_cannot_take_a_note() -> None:
    with pytest.raises(UsageError, match="no usable Message-ID"):
        conversation_of(b"Subject: x\r\n\r\nbody\r\n")


def test_search_matches_any_message_of_the_thread() -> None:
    assert _search(("<a@x>",)) == ["HEADER", "X-SharedClient-Note", "", "HEADER", "References", "<a@x>"]
    assert _search(("<a@x>", "<b@x>", "<c@x>")) == [
        "HEADER", "X-SharedClient-Note", "",
        "OR", "HEADER", "References", "<a@x>", "OR", "HEADER", "References", "<b@x>", "HEADER", "References", "<c@x>",
    ]  # fmt: skip
