"""Tracking in the window against the real servers: the report line, answering a read-receipt request
with consent, the composer's toggles, and the "a teammate answered meanwhile" dialog."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from sharedclient.core.mime.compose import SENT_BY_HEADER
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.ui.messagelist import ROW_ROLE
from tests.gui.test_claims_view import INBOX, open_inbox
from tests.gui.test_send_from_window import window_for
from tests.integration.test_send_path import parse, wait_for
from tests.integration.test_tracking import support_inbox_restored  # noqa: F401 - fixture
from tests.unit.test_tracking_reports import DSN, entry

if TYPE_CHECKING:
    from tests.conftest import MailServers


def deliver(servers: MailServers, raw: bytes) -> None:
    servers.dovecot.deliver("support@example.test", raw)


def select_subject(qtbot: QtBot, window, subject: str) -> int:  # type: ignore[no-untyped-def]
    """Sync until a message with ``subject`` is listed, select it and wait for the pane; returns its UID."""
    def row() -> int | None:
        for r in range(window.model.rowCount()):
            if subject in (window.model.index(r, 0).data(ROW_ROLE).subject or ""):
                return r
        return None

    deadline = time.monotonic() + 15
    while row() is None:
        assert time.monotonic() < deadline, f"{subject} not listed"
        window.refresh()
        qtbot.wait(300)
    window.list_view.selectRow(row())
    uid = window.list_view.currentIndex().data(ROW_ROLE).uid
    qtbot.waitUntil(lambda: window.view.rendered is not None and subject in window.view.header_label.text(), timeout=10000)
    return int(uid)


def test_report_line_and_read_receipt_with_consent(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path, support_inbox_restored: None
) -> None:
    window = window_for(mail_servers, "alice", tmp_path)
    try:
        history = window.sending.worker.history
        refund = f"<refund-{uuid.uuid4().hex}@example.test>"
        history_id = history.record(entry(refund))
        tag = uuid.uuid4().hex[:8]
        deliver(mail_servers, DSN.replace(b"sc7", f"sc{history_id}".encode()).replace(b"<orig-7@example.test>", refund.encode())
                .replace(b"Undelivered Mail Returned to Sender", f"Undelivered Mail {tag}".encode()))  # fmt: skip
        open_inbox(qtbot, window)
        select_subject(qtbot, window, f"Undelivered Mail {tag}")
        bar = window.tracking.bar
        assert bar.isVisible() and not bar.send_button.isVisible()
        text = bar.label.text()
        assert text.startswith("Delivery report: former@example.test: failed (550 5.1.1")
        assert "It is about “Your refund”, sent as support@example.test on " in text and f"(history #{history_id})" in text
        # The window's own sync recorded the report in the history.
        states = {s.recipient: s.state for s in DeliveryTracker(history.db).states(history_id)}
        assert states == {"former@example.test": "failed", "dana@customer.test": "delayed"}
        window.grab().save("/tmp/track-report-line.png")

        subject = f"Please confirm {tag}"
        deliver(mail_servers, (
            f"Return-Path: <dana@customer.test>\r\nFrom: Dana <dana@customer.test>\r\nTo: support@example.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <ask-{tag}@customer.test>\r\n"
            f"Disposition-Notification-To: dana@customer.test\r\n\r\nDid you get this?\r\n").encode())  # fmt: skip
        uid = select_subject(qtbot, window, subject)
        assert bar.isVisible() and bar.send_button.isVisible() and bar.ignore_button.isVisible()
        assert bar.label.text() == "The sender asks for a read receipt (to dana@customer.test)."
        window.grab().save("/tmp/track-receipt-question.png")
        window.tracking.policy_action.setChecked(False)  # Message → Offer to Send Read Receipts, off
        assert bar.isVisible() and not bar.send_button.isVisible() and "never to send read receipts" in bar.label.text()
        assert (tmp_path / "tracking.json").read_text() == '{"receipts": "never"}'
        window.tracking.policy_action.setChecked(True)
        assert bar.send_button.isVisible()
        time.sleep(0.5)
        with mail_servers.imap("sink") as sink:  # nothing was sent just by opening the message
            sink.select_folder("INBOX", readonly=True)
            assert not sink.search(["SUBJECT", f"Read: {subject}"])
        bar.send_button.click()
        qtbot.waitUntil(lambda: not bar.isVisible(), timeout=20000)
        with mail_servers.imap("alice") as client:
            client.select_folder(INBOX, readonly=True)
            assert b"$MDNSent" in client.get_flags([uid])[uid]
        deadline = time.monotonic() + 15
        with mail_servers.imap("sink") as sink:
            sink.select_folder("INBOX", readonly=True)
            while not (found := sink.search(["SUBJECT", f"Read: {subject}"])):
                assert time.monotonic() < deadline, "no receipt arrived"
                time.sleep(0.3)
                sink.noop()
            raw = sink.fetch(found, ["BODY.PEEK[]"])[found[0]][b"BODY[]"]
        receipt = parse(raw)
        assert receipt.get_content_type() == "multipart/report" and receipt["From"].endswith("<support@example.test>")
        assert b"Original-Message-ID: <ask-" in raw and b"displayed" in raw
        select_subject(qtbot, window, f"Undelivered Mail {tag}")
        select_subject(qtbot, window, subject)  # answered once: the team is not asked again
        assert not bar.isVisible()
    finally:
        window.close()


def test_reply_collision_dialog_and_receipt_toggle(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path, support_inbox_restored: None
) -> None:
    tag = uuid.uuid4().hex[:8]
    msgid = f"<late-{tag}@customer.test>"
    deliver(mail_servers, (f"From: Olga <olga@customer.test>\r\nTo: support@example.test\r\nSubject: Late {tag}\r\n"
                           f"Message-ID: {msgid}\r\n\r\nWhere is it?\r\n").encode())  # fmt: skip
    window = window_for(mail_servers, "alice", tmp_path)
    try:
        open_inbox(qtbot, window)
        uid = select_subject(qtbot, window, f"Late {tag}")
        window.reply_action.trigger()
        [composer] = window.sending.composers
        qtbot.addWidget(composer)
        dsn, receipt = composer.tracking_options
        assert not dsn.isChecked() and not receipt.isChecked()  # the identity does not ask for DSN by default
        receipt.click()
        dsn.click()
        assert composer.current_draft().request_receipt and composer.current_draft().request_dsn is True
        composer.grab().save("/tmp/track-composer-toggles.png")
        qtbot.waitUntil(lambda: window.collisions._baselines[id(composer)][2].done(), timeout=10000)  # noqa: SLF001

        time.sleep(1.1)  # the teammate's copy is newer than the composer (INTERNALDATE has whole seconds)
        with mail_servers.imap("support") as teammate:  # bob answers from another desk meanwhile
            teammate.append("Sent", (f"{SENT_BY_HEADER}: bob@example.test\r\nFrom: support@example.test\r\n"
                                     f"Subject: Re: Late {tag}\r\nIn-Reply-To: {msgid}\r\n\r\nOn its way.\r\n").encode())  # fmt: skip
            teammate.select_folder("INBOX")
            teammate.add_flags([uid], [b"\\Answered"])

        composer.send_button.click()
        qtbot.waitUntil(lambda: window.collisions.dialog is not None, timeout=10000)
        dialog = window.collisions.dialog
        assert dialog.informativeText().startswith("bob@example.test already answered this message at ")
        dialog.grab().save("/tmp/track-collision-dialog.png")
        dont = next(b for b in dialog.buttons() if dialog.buttonRole(b) == QMessageBox.ButtonRole.RejectRole)
        dont.click()
        assert composer.isVisible() and composer.status.text().startswith("Not sent. bob@example.test already answered")
        assert window.sending.worker.history.query() == []

        composer.send_button.click()
        qtbot.waitUntil(lambda: window.collisions.dialog is not None, timeout=10000)
        anyway = next(b for b in window.collisions.dialog.buttons()
                      if window.collisions.dialog.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)  # fmt: skip
        anyway.click()
        qtbot.waitUntil(lambda: not window.sending.composers, timeout=20000)
        [sent] = window.sending.worker.history.query()
        delivered = parse(wait_for(mail_servers, "sink", "INBOX", sent.message_id))
        assert delivered["Disposition-Notification-To"] == "support@example.test"
        # The Delivery report toggle asked for a DSN: the success report reaches support@ and the window's
        # own sync turns the history entry to "delivered".
        tracker = DeliveryTracker(window.sending.worker.history.db)
        deadline = time.monotonic() + 20
        while not tracker.states(sent.id):
            assert time.monotonic() < deadline, mail_servers.postfix.log_tail()
            window.refresh()
            qtbot.wait(400)
        assert [(s.recipient, s.state) for s in tracker.states(sent.id)] == [("olga@customer.test", "delivered")]
    finally:
        window.close()
