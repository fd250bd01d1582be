"""Malformed MIME, generated here, plus the public torture corpus: every message opens in the real
message view within 2 s, without an exception, showing at least its text or raw source.

Also the CPython ``email`` defects still open on 3.11.7 that concern reading: ``policy.default`` crashing
on ``name*`` and ``<[…]@…>`` Message-IDs, and getaddresses/parseaddr misparses (CVE-2023-27043) that would
show or reply to another address than the one a reader sees.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from sharedclient.core.dlp import scan_attachment
from sharedclient.core.imap.headers import summarise
from sharedclient.core.mime.render import MAX_HEADER, render_message
from sharedclient.core.mime.reply import read_original
from sharedclient.ui.messageview import MessageView

LIMIT = 2.0  # seconds, from the issue: "each opens within 2 s"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
MARK = "BODY-MARKER-7f3a"


def _head(extra: str = "", subject: str = "Malformed") -> bytes:
    return (f"From: Dana <dana@customer.test>\r\nTo: support@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 03 Jun 2024 08:30:00 +0000\r\nMessage-ID: <m-1@customer.test>\r\n{extra}").encode()  # fmt: skip


def nested(depth: int) -> bytes:
    out = _head('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n')
    for i in range(1, depth):
        out += f'--b{i - 1}\r\nContent-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'.encode()
    out += f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\n{MARK}\r\n".encode()
    for i in reversed(range(depth)):
        out += f"--b{i}--\r\n".encode()
    return out


def nested_rfc822(depth: int) -> bytes:
    inner = f"Subject: innermost\r\n\r\n{MARK}\r\n".encode()
    for i in range(depth):
        inner = f"Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n".encode() + inner
    return _head("MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n") + inner


def many_parts(count: int) -> bytes:
    parts = b"".join(
        f'--b\r\nContent-Type: text/html\r\n\r\n<p>part {i} {MARK}</p>\r\n'.encode() for i in range(count)
    )
    return _head('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n') + parts + b"--b--\r\n"


def ten_thousand_recipients() -> bytes:
    to = ",\r\n ".join(f"Customer {i} <c{i}@customer.test>" for i in range(10_000))
    return (f"From: dana@customer.test\r\nTo: {to}\r\nSubject: Everyone\r\n\r\n{MARK}\r\n").encode()


#: name -> (message bytes, text that must be visible in the header pane or body)
CASES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "missing-boundary-parameter": lambda: (_head("Content-Type: multipart/mixed\r\n\r\n") + f"--x\r\n\r\n{MARK}\r\n--x--\r\n".encode(), MARK),
    "boundary-never-used": lambda: (_head('Content-Type: multipart/mixed; boundary="nope"\r\n\r\n') + MARK.encode(), MARK),
    "final-boundary-missing": lambda: (_head('Content-Type: multipart/alternative; boundary="b"\r\n\r\n')
                                       + f"--b\r\nContent-Type: text/plain\r\n\r\n{MARK}\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x".encode(), MARK),
    "empty-boundary": lambda: (_head('Content-Type: multipart/mixed; boundary=""\r\n\r\n') + f"--\r\n\r\n{MARK}\r\n".encode(), "Malformed"),
    "nested-100-multiparts": lambda: (nested(100), MARK),
    "nested-100-message-rfc822": lambda: (nested_rfc822(100), "Malformed"),
    "nested-3000-multiparts": lambda: (nested(3000), "Malformed"),
    "5000-parts": lambda: (many_parts(5000), MARK),
    "unknown-charset": lambda: (_head("Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n") + f"{MARK} caf\xe9".encode("latin-1"), MARK),
    "non-text-codec-charset": lambda: (_head("Content-Type: text/plain; charset=base64\r\n\r\n") + MARK.encode(), MARK),
    "charset-with-nul": lambda: (_head("Content-Type: text/plain; charset=\"utf\x00-8\"\r\n\r\n") + MARK.encode(), MARK),
    "charset-lies": lambda: (_head("Content-Type: text/plain; charset=utf-8\r\n\r\n") + f"{MARK} \xff\xfe\xe9".encode("latin-1"), MARK),
    "8bit-headers": lambda: (_head(subject="Gr\xfc\xdfe aus K\xf6ln").replace(b"Gr", b"Gr"), "Grüße aus Köln"),
    "broken-encoded-words": lambda: (_head(subject="=?utf-8?q?unterminated =?unknown?b?QUJD?= =?utf-8?b?!!!?= =?utf-8?q?ok?=")
                                     + f"\r\n{MARK}".encode(), "unterminated"),
    "encoded-word-with-newline": lambda: (_head(subject="=?utf-8?q?Hi=0D=0ABcc:_evil@evil.test?=") + f"\r\n{MARK}".encode(), "Bcc: evil@evil.test"),
    "nul-bytes": lambda: (_head("X-Nul: a\x00b\r\n", subject="nul\x00subject") + f"\r\nbody\x00{MARK}\x00".encode(), MARK),
    "1mb-subject-line": lambda: (_head(subject="S" * 1_000_000) + f"\r\n{MARK}".encode(), MARK),
    "1mb-other-header": lambda: (_head("X-Huge: " + "h" * 1_000_000 + "\r\n\r\n") + MARK.encode(), MARK),
    "1mb-folded-to": lambda: (_head().replace(b"To: support@example.test", b"To: " + b"\r\n ".join([b"x" * 998] * 1000)) + f"\r\n{MARK}".encode(), MARK),
    "10000-recipients": lambda: (ten_thousand_recipients(), MARK),
    "name-star-parameter": lambda: (_head("Content-Type: text/plain; name*\r\n\r\n") + MARK.encode(), MARK),
    "name-star-bad-rfc2231": lambda: (_head('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n')
                                      + b"--b\r\nContent-Type: text/plain\r\n\r\n" + MARK.encode()
                                      + b"\r\n--b\r\nContent-Type: application/pdf; name*=''%ZZ%\r\nContent-Disposition: attachment; filename*0*=utf-8''%E2%80; filename*1=x\r\n\r\nAAAA\r\n--b--\r\n", MARK),
    "ms-style-message-ids": lambda: (_head().replace(b"<m-1@customer.test>", b"<[1234-5678-9abc]@customer.test>")
                                     + b"In-Reply-To: <[a]@x>\r\nReferences: <[a]@x> <[b]@[127.0.0.1]>\r\n\r\n" + MARK.encode(), MARK),
    "no-header-body-separator": lambda: (b"Subject: only headers\r\nX-A: b", "only headers"),
    "no-headers-at-all": lambda: (f"{MARK}\r\njust text\r\n".encode(), MARK),
    "empty-message": lambda: (b"", ""),
    "broken-base64": lambda: (_head("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n") + b"!!!not base64 @@@ QUJD", "Malformed"),
    "unknown-transfer-encoding": lambda: (_head("Content-Transfer-Encoding: x-martian\r\n\r\n") + MARK.encode(), MARK),
    "3mb-html-only": lambda: (_head("Content-Type: text/html\r\n\r\n") + f"<p>{MARK}</p>".encode() + b"<p>filler <b>text</b></p>" * 120_000, MARK),
    "header-continuation-first": lambda: (b" continuation first\r\n" + _head() + f"\r\n{MARK}".encode(), MARK),
    "bare-lf-and-cr": lambda: (_head().replace(b"\r\n", b"\n").replace(b"Subject", b"\rSubject") + f"\n{MARK}\r".encode(), MARK),
}  # fmt: skip


def open_in_view(qtbot: QtBot, raw: bytes) -> tuple[MessageView, float]:
    view = MessageView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    started = time.perf_counter()
    view.show_message(raw)
    view.grab()  # lay out and paint, as on screen
    return view, time.perf_counter() - started


def assert_shows(view: MessageView, raw: bytes, visible: str) -> None:
    assert view.rendered is not None
    assert view.raw == raw and view.source_button.isEnabled()  # View source always has all of it
    shown = view.header_label.text() + view.browser.toPlainText()
    assert visible in shown
    if raw.strip():
        assert shown.strip(), "a non-empty message must show something"


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_message_opens_quickly_and_shows_its_content(qtbot: QtBot, name: str) -> None:
    raw, visible = CASES[name]()
    view, elapsed = open_in_view(qtbot, raw)
    assert elapsed < LIMIT, f"{name} took {elapsed:.2f} s"
    assert_shows(view, raw, visible)


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            raise AssertionError(f"{CORPUS} must exist under CI")
        return []
    return sorted(CORPUS.rglob("*.eml"))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_message_opens_quickly(qtbot: QtBot, path: Path) -> None:
    raw = path.read_bytes()
    view, elapsed = open_in_view(qtbot, raw)
    assert elapsed < LIMIT, f"{path.name} took {elapsed:.2f} s"
    assert_shows(view, raw, "")


def test_corpus_is_present() -> None:
    """The corpus cases above must not silently vanish where the corpus is expected."""
    if os.environ.get("CI", "").lower() == "true" or CORPUS.is_dir():
        assert len(corpus_files()) >= 40


def test_enclosed_endless_renders_in_well_under_a_second_of_parsing() -> None:
    """It took 4.6 s: policy.default parsed every part's Content-Type while parsing (3,000 parts)."""
    path = CORPUS / "flanker" / "enclosed-endless.eml"
    if not path.exists():
        assert os.environ.get("CI", "").lower() != "true"
        return
    started = time.perf_counter()
    rendered = render_message(path.read_bytes())
    assert time.perf_counter() - started < 1.5
    assert any("more than 1000 parts" in p for p in rendered.problems)


def test_limits_are_reported_not_silent() -> None:
    rendered = render_message(ten_thousand_recipients())
    assert len(rendered.headers["To"]) < MAX_HEADER + 100 and "more characters; see View source" in rendered.headers["To"]
    rendered = render_message(many_parts(5000))
    assert any("only the first 1000 are shown" in p for p in rendered.problems)
    assert any("more parts are not listed" in p for p in rendered.problems)


# ------------------------------------------------------------------------------------------ CPython email defects


def test_policy_default_crashes_are_not_ours() -> None:
    """These raise inside ``email`` with policy.default on 3.11.7; we parse with compat32 and read on."""
    for raw in (CASES["name-star-parameter"]()[0], CASES["ms-style-message-ids"]()[0]):
        rendered = render_message(raw)
        assert MARK in rendered.text
    assert render_message(CASES["ms-style-message-ids"]()[0]).headers["Message-ID"] == "<[1234-5678-9abc]@customer.test>"


def test_dlp_scans_an_attached_message_that_crashes_policy_default() -> None:
    """Sending with such an .eml attached must still be scanned (it raised IndexError inside ``email``)."""
    raw = _head("Content-Type: text/plain; name*\r\n\r\n") + b"card 4111 1111 1111 1111\r\n"
    findings = scan_attachment("forwarded.eml", "message/rfc822", raw)
    assert [f.rule for f in findings] == ["card"]


@pytest.mark.parametrize(
    ("from_value", "reply_to"),
    [
        ('"support@bank.test"@evil.test', []),  # getaddresses on 3.11.7 and readers disagree
        ("alice@example.org)<bob@evil.test>", ["alice@example.org"]),  # policy.default keeps alice, drops bob
        ("Bank <support@bank.test>@evil.test", ["support@bank.test"]),
        ('"support@bank.test" <x@evil.test>', ["x@evil.test"]),  # display name posing as an address
        ("=?utf-8?q?support@bank.test?= <x@evil.test>", ["x@evil.test"]),
    ],
)
def test_misleading_from_is_shown_as_sent_and_only_visible_addresses_are_replied_to(
    qtbot: QtBot, from_value: str, reply_to: list[str]
) -> None:
    raw = f"From: {from_value}\r\nTo: support@example.test\r\nSubject: Pay now\r\n\r\n{MARK}\r\n".encode()
    view, _ = open_in_view(qtbot, raw)
    rendered = view.rendered
    assert rendered is not None
    assert rendered.sender_view == from_value.replace("=?utf-8?q?support@bank.test?=", "support@bank.test")
    assert any("From header is unusual or malformed" in p for p in rendered.problems)
    assert view.problem_label.isVisible()
    original = read_original(raw)
    assert [a.addr_spec for a in original.from_] == reply_to
    assert not {a.addr_spec for a in original.from_} - {t for t in reply_to if t in from_value}


@pytest.mark.parametrize(
    "from_value",
    ['"support@bank.test"@evil.test', "alice@example.org)<bob@evil.test>", "support@bank.test <x@evil.test>",
     "=?utf-8?q?support@bank.test?= <x@evil.test>", '"support@bank.test" <x@evil.test>'],
)  # fmt: skip
def test_message_list_shows_misleading_senders_as_sent(from_value: str) -> None:
    """The list's fast header path used getaddresses, which names support@bank.test as the sender here."""
    summary = summarise(f"From: {from_value}\r\nSubject: x\r\n\r\n".encode())
    assert summary.from_name == "" and summary.from_addr == from_value.replace("=?utf-8?q?support@bank.test?=",
                                                                                "support@bank.test")  # as sent


def test_message_list_still_parses_ordinary_lists() -> None:
    summary = summarise(b'From: "Doe, Jane" <jane@customer.test>\r\nTo: a@x.test, "Smith, Jo" <jo@x.test>\r\n\r\n')
    assert (summary.from_name, summary.from_addr) == ("Doe, Jane", "jane@customer.test")
    assert summary.to == "a@x.test, Smith, Jo <jo@x.test>"


def test_ordinary_address_headers_are_not_flagged() -> None:
    raw = (b'From: "Doe, Jane" <jane@customer.test>\r\nTo: =?utf-8?q?Zo=C3=AB?= <zoe@x.test>, b@x.test (Bee)\r\n'
           b"Cc: Team: a@x.test, c@x.test;\r\nSubject: ok\r\n\r\nhi\r\n")  # fmt: skip
    rendered = render_message(raw)
    assert rendered.problems == []
    assert rendered.headers["From"] == '"Doe, Jane" <jane@customer.test>'
    assert rendered.headers["To"] == "Zoë <zoe@x.test>, b@x.test"
