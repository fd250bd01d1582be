from hypothesis import given, settings
from hypothesis import strategies as st

from sharedclient.core.imap.headers import MAX_FIELD, decode_words, split_fields, summarise


def test_summary_of_an_ordinary_message() -> None:
    raw = (
        b"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n"
        b"From: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@example.org>\r\n"
        b"Sender: Alice <alice@example.com>\r\n"
        b'To: support@example.com, "Smith, Jo" <jo@example.com>\r\n'
        b"Subject: =?utf-8?b?T3JkZXIgIzQ4MjEz?=\r\n arrived damaged\r\n"
        b"Message-ID: <abc@example.org>\r\n"
        b"Delivered-To: help@example.com\r\nDelivered-To: support@example.com\r\n"
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
    )
    s = summarise(raw)
    assert (s.from_name, s.from_addr) == ("Zoë Müller", "zoe@example.org")
    assert s.sender == "Alice <alice@example.com>"
    assert s.to == "support@example.com, Smith, Jo <jo@example.com>"
    assert s.subject == "Order #48213 arrived damaged"
    assert s.date == 1793696400.0
    assert s.delivered_to == "help@example.com"
    assert s.has_attachment


def test_broken_input_degrades_without_raising() -> None:
    s = summarise(b"From: <<<\r\nSubject: =?bogus-charset?q?x?=\r\nDate: yesterday\r\nTo: a@b.c, , ,\r\n\r\n")
    assert s.date is None
    assert "x" in s.subject or "bogus" in s.subject
    assert summarise(b"").subject == ""
    assert summarise(b"\xff\xfe Subject: \x00\r\n").subject == ""


def test_huge_header_is_capped() -> None:
    s = summarise(b"Subject: " + b"A" * 1_000_000 + b"\r\n\r\n")
    assert len(s.subject) == MAX_FIELD


def test_encoded_newline_cannot_reach_the_list() -> None:
    assert "\n" not in decode_words("=?UTF-8?Q?a=0Ab?=") and "\r" not in decode_words("=?UTF-8?Q?a=0Db?=")


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_any_bytes_parse(raw: bytes) -> None:
    summarise(raw)
    split_fields(raw)
