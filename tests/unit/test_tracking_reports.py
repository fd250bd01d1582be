"""Parsing RFC 3464 delivery reports and RFC 8098 read receipts, and matching them to the history."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from pathlib import Path

from sharedclient.core.store.history import HistoryEntry, SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.matcher import DeliveryTracker, summary
from sharedclient.core.tracking.reports import describe, parse_report

DSN = b"""From: MAILER-DAEMON@mail.example.test (Mail Delivery System)\r
To: support@example.test\r
Subject: Undelivered Mail Returned to Sender\r
Message-ID: <report-1@mail.example.test>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
\r
--B\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mail.example.test\r
Original-Envelope-Id: sc7\r
Arrival-Date: Mon,  3 Jun 2024 08:30:00 +0000 (UTC)\r
\r
Final-Recipient: rfc822; former@example.test\r
Original-Recipient: rfc822;former@example.test\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <former@example.test> User doesn't exist:\r
    former@example.test\r
\r
Final-Recipient: rfc822; dana@customer.test\r
Action: delayed\r
Status: 4.4.1\r
\r
--B\r
Content-Type: text/rfc822-headers\r
\r
From: Support <support@example.test>\r
Message-ID: <orig-7@example.test>\r
Subject: Your refund\r
--B--\r
"""

MDN = b"""From: dana@customer.test\r
To: support@example.test\r
Subject: Read: Your refund\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=disposition-notification; boundary="M"\r
\r
--M\r
Content-Type: text/plain\r
\r
Your message was displayed.\r
--M\r
Content-Type: message/disposition-notification\r
\r
Reporting-UA: customer.test; Thunderbird\r
Final-Recipient: rfc822;dana@customer.test\r
Original-Message-ID: <orig-7@example.test>\r
Disposition: manual-action/MDN-sent-manually; displayed\r
--M--\r
"""


def test_dsn_fields_per_recipient() -> None:
    report = parse_report(DSN)
    assert report is not None and report.kind == "dsn"
    assert (report.envid, report.original_message_id, report.reporter) == ("sc7", "<orig-7@example.test>", "mail.example.test")
    failed, delayed = report.results
    assert (failed.recipient, failed.state, failed.status) == ("former@example.test", "failed", "5.1.1")
    assert failed.diagnostic == "550 5.1.1 <former@example.test> User doesn't exist: former@example.test"
    assert (delayed.recipient, delayed.state) == ("dana@customer.test", "delayed")
    assert describe(report).startswith("Delivery report: former@example.test: failed (550 5.1.1")


def test_mdn_and_non_reports() -> None:
    report = parse_report(MDN)
    assert report is not None and report.kind == "mdn"
    assert report.results[0].recipient == "dana@customer.test" and report.results[0].state == "displayed"
    assert describe(report) == "Read receipt: dana@customer.test — displayed."
    assert parse_report(b"Subject: hi\r\n\r\nhello\r\n") is None
    assert parse_report(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x--\r\n") is None
    assert parse_report(b"\xff\xfe garbage") is None


def entry(msgid: str) -> HistoryEntry:
    return HistoryEntry(0, 1.0, "p", "work", "support@example.test", "send-as", "alice@example.test",
                        "support@example.test", "Support <support@example.test>", "",
                        ("former@example.test", "dana@customer.test"), "Your refund", msgid, 10, "", "sent", "", None)  # fmt: skip


def test_match_by_envid_then_message_id_and_final_states_win(tmp_path: Path) -> None:
    with ProfileDb(tmp_path / "p.sqlite") as db:
        history = SendHistory(db)
        other = history.record(entry("<other@example.test>"))
        ours = history.record(entry("<orig-7@example.test>"))
        tracker = DeliveryTracker(db, clock=lambda: 100.0)
        # A teammate's report whose ENVID happens to be one of our numbers is not taken for ours.
        foreign = parse_report(DSN.replace(b"sc7", f"sc{other}".encode()).replace(b"<orig-7@", b"<theirs@"))
        assert foreign is not None and tracker.match(foreign) is None
        strangers = parse_report(DSN.replace(b"sc7", f"sc{other}".encode()).replace(b"<orig-7@example.test>", b"")
                                 .replace(b"former@example.test", b"x@elsewhere.test").replace(b"dana@", b"y@"))  # fmt: skip
        assert strangers is not None and tracker.match(strangers) is None
        dsn = parse_report(DSN.replace(b"sc7", f"sc{other}".encode()).replace(b"<orig-7@", b"<other@"))
        assert dsn is not None and tracker.record(dsn) == other  # by ENVID
        without_envid = parse_report(DSN.replace(b"Original-Envelope-Id: sc7\r\n", b""))
        assert without_envid is not None and tracker.record(without_envid) == ours
        # The delayed recipient is delivered later; a late "delayed" does not undo it.
        later = DSN.replace(b"sc7", f"sc{other}".encode()).replace(b"<orig-7@", b"<other@")
        delivered = parse_report(later.replace(b"Action: delayed", b"Action: delivered").replace(b"Status: 4.4.1", b"Status: 2.0.0"))
        assert delivered is not None and tracker.record(delivered) == other
        assert tracker.record(dsn) == other
        states = {s.recipient: s.state for s in tracker.states(other)}
        assert states == {"former@example.test": "failed", "dana@customer.test": "delivered"}
        mdn = parse_report(MDN)
        assert mdn is not None and tracker.record(mdn) == ours
        text = summary(tracker.states(other), 2)
        assert text == "1 delivered, 1 failed (5.1.1)"
        assert summary(tracker.states(ours), 2) == "1 delayed (4.4.1), 1 failed (5.1.1), read by 1"
        unknown = parse_report(DSN.replace(b"sc7", b"sc99999").replace(b"<orig-7@", b"<nobody@"))
        assert unknown is not None and tracker.record(unknown) is None
        assert set(tracker.states_for([other, ours])) == {other, ours}


ASKING = (b"Return-Path: <dana@customer.test>\r\nFrom: Dana <dana@customer.test>\r\nTo: support@example.test\r\n"
          b"Subject: =?utf-8?q?R=C3=BCckfrage?=\r\nMessage-ID: <ask-1@customer.test>\r\n"
          b"Disposition-Notification-To: Dana <dana@customer.test>\r\n\r\nHello\r\n")  # fmt: skip


def test_receipt_request_and_the_receipt_we_would_send(tmp_path: Path) -> None:
    from sharedclient.core.model import Identity, SendMode
    from sharedclient.core.tracking.mdn import build_receipt, load_policy, receipt_request, save_policy

    request = receipt_request(ASKING)
    assert request is not None
    assert (request.address, request.message_id, request.subject, request.suspicious) == (
        "dana@customer.test", "<ask-1@customer.test>", "Rückfrage", False)
    harvest = receipt_request(ASKING.replace(b"Disposition-Notification-To: Dana <dana@customer.test>",
                                             b"Disposition-Notification-To: list@collector.test"))  # fmt: skip
    assert harvest is not None and harvest.suspicious
    assert receipt_request(b"Subject: x\r\n\r\nbody") is None
    assert receipt_request(ASKING.replace(b"Dana <dana@customer.test>\r\n\r\n", b"not an address\r\n\r\n")) is None

    support = Identity("support@example.test", "Support", "work", SendMode.SEND_AS)
    alice = Identity("alice@example.test", "Alice", "work")
    composed = build_receipt(ASKING, support, alice)
    assert composed.recipients == ("dana@customer.test",) and composed.envelope_from == "support@example.test"
    assert composed.raw.isascii() and b"\r\n" in composed.raw and b"\n" not in composed.raw.replace(b"\r\n", b"")
    report = parse_report(composed.raw)  # what the customer's client (and our own matcher) reads back
    assert report is not None and report.kind == "mdn"
    assert report.original_message_id == "<ask-1@customer.test>"
    assert report.results[0].recipient == "support@example.test" and report.results[0].state == "displayed"
    parsed = email.message_from_bytes(composed.raw, policy=email.policy.default)
    assert parsed["Subject"] == "Read: Rückfrage" and parsed["In-Reply-To"] == "<ask-1@customer.test>"

    assert load_policy(tmp_path) == "ask"
    save_policy(tmp_path, "never")
    assert load_policy(tmp_path) == "never"


def test_asking_for_a_receipt_puts_the_identity_in_disposition_notification_to() -> None:
    from sharedclient.core.mime.addresses import make_address
    from sharedclient.core.mime.compose import OutgoingMessage, compose
    from sharedclient.core.model import Identity, SendMode

    support = Identity("support@example.test", "Support", "work", SendMode.SEND_AS)
    alice = Identity("alice@example.test", "Alice", "work")
    message = OutgoingMessage(support, to=(make_address("", "dana@customer.test"),), subject="Hi", body="x")
    assert b"Disposition-Notification-To" not in compose(message, alice).raw
    raw = compose(replace(message, request_receipt=True), alice).raw
    assert b"\r\nDisposition-Notification-To: support@example.test\r\n" in raw
