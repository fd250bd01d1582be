"""DLP findings in the composer, the justification dialog, and the Activity view — in the real window,
sending through Postfix, with the profile's audit trail on disk."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.dlp import CustomRule
from sharedclient.core.dlp_policy import DlpPolicy
from sharedclient.core.errors import StorageError
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.ui.activity import ActivityView
from sharedclient.ui.dlpbar import JustificationDialog
from sharedclient.ui.launch import build_window
from tests.integration.test_send_path import parse, wait_for

if TYPE_CHECKING:
    from tests.conftest import MailServers

SHOTS = Path("/tmp/dlp-shots")


def dlp_window(servers: MailServers, tmp_path: Path):  # type: ignore[no-untyped-def]
    d, p = servers.dovecot, servers.postfix
    account = Account(
        "work", "alice@example.test", Endpoint("127.0.0.1", d.imap_tls_port, Security.TLS),
        Endpoint("127.0.0.1", p.submission_port, Security.STARTTLS), "alice@example.test",
        ca_file=str(servers.certs.ca_pem),
    )  # fmt: skip
    support = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS,
                       mailbox_owner="support@example.test")  # fmt: skip
    policy = DlpPolicy(rules=(CustomRule("falcon", r"project\s+falcon", "Code name"),))
    settings = Settings(accounts=(account,), identities=(support,), dlp=policy)
    creds = SessionCredentials()
    creds.set("work", "imap", "alice-secret-pw")
    creds.set("work", "smtp", "alice-secret-pw")
    return build_window([account], creds, "test", tmp_path, lambda: settings)


def shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / name))


def test_composer_highlights_blocks_and_asks_for_a_justification(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path
) -> None:
    window = dlp_window(mail_servers, tmp_path)
    qtbot.addWidget(window)
    window.show()
    composer = window.sending.new_message(window)
    qtbot.addWidget(composer)
    composer.from_picker.setCurrentIndex(composer.from_picker.findData("support@example.test"))
    composer.to_field.setText("carol@example.test")
    qtbot.keyClicks(composer.subject, "Project Falcon refund")
    composer.body.setPlainText("Hello Carol,\n\nwe refunded card 4111 1111 1111 1111 and\nIBAN DE89 3704 0044 0532 0130 00.\n")
    bar = composer.dlp_bar
    qtbot.waitUntil(lambda: bar.isVisible() and len(bar.items) == 3, timeout=3000)  # debounced live scan
    assert [(i.rule, i.action, i.where) for i in bar.items] == [
        ("falcon", "warn", "subject"), ("card", "block", "body"), ("iban", "warn", "body")
    ]
    text = bar.label.text()
    assert "Blocked" in text and "•••• •••• •••• 1111" in text and "DE89 •••• 3000" in text and "4111 1111" not in text
    selections = composer.body.extraSelections()
    assert [s.cursor.selectedText() for s in selections] == ["4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"]
    shot(composer, "composer-findings.png")

    # Send: the block is refused with its reason; nothing is queued, no dialog.
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert composer.status.text().startswith("Not sent: Payment card number in the body (•••• •••• •••• 1111).")
    assert composer.send_button.isEnabled() and bar.dialog is None
    assert window.sending.worker.outbox.items() == []
    shot(composer, "composer-blocked.png")

    # Without the card only warnings remain: sending asks for a typed justification.
    composer.body.setPlainText("Hello Carol,\n\nyour IBAN DE89 3704 0044 0532 0130 00 is on file.\n")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    dialog = bar.dialog
    assert isinstance(dialog, JustificationDialog) and dialog.isVisible()
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.reason, "ok")
    assert not dialog.ok_button.isEnabled()  # a real sentence, not a click-through
    qtbot.keyClicks(dialog.reason, " - Carol asked which account we pay into (ticket 4471)")
    assert dialog.ok_button.isEnabled()
    shot(dialog, "justification-dialog.png")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.sending.composers, timeout=20000)
    [entry] = window.sending.worker.history.query()
    assert entry.status == "sent" and entry.justification == "ok - Carol asked which account we pay into (ticket 4471)"
    delivered = parse(wait_for(mail_servers, "carol", "INBOX", entry.message_id))
    assert delivered["Subject"] == "Project Falcon refund"

    window.audit.flush()
    with AuditLog(audit_path(tmp_path), "test") as log:
        actions = [(e.action, e.result) for e in log.entries()]
        override = log.entries(action="dlp.override")[0]
        assert log.verify().ok
    assert actions[0] == ("profile.open", "ok")
    assert ("dlp.blocked", "refused") in actions and ("dlp.warned", "refused") in actions
    assert actions.index(("dlp.override", "ok")) < actions.index(("send.attempt", "ok")) < actions.index(("send.accepted", "ok"))
    assert override.details["justification"] == entry.justification
    window.close()


def test_activity_view_filters_and_exports(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    window = dlp_window(mail_servers, tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("work")), timeout=10000)
    window.folder_pane.select_folder("work", "shared/support@example.test/INBOX")
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10000)
    window.list_view.selectRow(0)
    qtbot.waitUntil(lambda: window.view.rendered is not None, timeout=10000)
    action = window.findChild(type(window.menu("view").actions()[0]), "activityAction")
    assert action is not None and action in window.menu("view").actions()
    action.trigger()
    view: ActivityView = window.activity_view
    qtbot.addWidget(view)
    actions = [e.action for e in view.model.entries]
    for expected in ("profile.open", "login", "mailbox.open", "message.read"):
        assert expected in actions, (expected, actions)
    read = next(e for e in view.model.entries if e.action == "message.read")
    assert read.target["mailbox"] == "shared/support@example.test/INBOX" and read.target["message_id"].startswith("<")
    shot(view, "activity.png")

    view.action.setCurrentText("mailbox")
    assert {e.action for e in view.model.entries} == {"mailbox.open"}
    view.action.setCurrentText("")
    view.text.setText("support@example.test/INBOX")
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    assert view.model.entries and all("support@example.test/INBOX" in str(e.target) for e in view.model.entries)
    view.since.setText("tomorrow")
    qtbot.keyClick(view.since, Qt.Key.Key_Return)
    assert "is not a date" in view.status.text()
    view.since.setText("2000-01-01")
    qtbot.keyClick(view.since, Qt.Key.Key_Return)
    shown = len(view.model.entries)

    target = tmp_path / "activity.csv"
    view.choose_export_path = lambda: str(target)  # type: ignore[method-assign]
    assert view.export() == target
    rows = list(csv.reader(target.read_text(encoding="utf-8").splitlines()))
    assert rows[0][:6] == ["seq", "time", "profile", "account", "user", "action"] and len(rows) == shown + 1
    view.text.clear()
    view.action.setCurrentText("audit")
    [export] = view.model.entries
    assert export.details["path"] == str(target) and export.details["entries"] == shown
    qtbot.mouseClick(view.verify_button, Qt.MouseButton.LeftButton)
    assert view.status.text().startswith("The audit trail is intact")
    view.close()
    window.close()


def test_a_damaged_audit_trail_refuses_the_window_and_is_left_alone(qtbot: QtBot, tmp_path: Path) -> None:
    garbage = b"not an audit trail, but the only copy\n" * 200
    audit_path(tmp_path).write_bytes(garbage)
    with pytest.raises(StorageError) as info:
        build_window([], SessionCredentials(), "test", tmp_path, lambda: Settings())
    assert str(audit_path(tmp_path)) in info.value.user_message
    assert "will not write to it or replace it" in info.value.user_message
    assert audit_path(tmp_path).read_bytes() == garbage
