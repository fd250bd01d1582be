"""The template picker in a real composer, with templates on the real Dovecot.

A teammate with ``lrswipkxte`` stores templates in the shared mailbox; a read-only teammate opens a
reply, presses Ctrl+T, types to filter, sees the preview with the customer's data, and inserts it.
"""

from __future__ import annotations

import email
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit
from pytestqt.qtbot import QtBot

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import open_imap
from sharedclient.core.mime.compose import AttachmentFile
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.core.teamdesk.service import author_address
from sharedclient.core.teamdesk.templates import add_template
from sharedclient.devservers.dovecot import MailUser
from sharedclient.ui.launch import build_window
from sharedclient.ui.mainwindow import MainWindow
from sharedclient.ui.templatepicker import UNFILLED_BACKGROUND
from tests.integration.readpath import message
from tests.integration.test_teamdesk import Team, make_team

if TYPE_CHECKING:
    from tests.conftest import ImapServer

REFUND = "Dear {customer_name},\n\nwe refunded the double charge for “{original_subject}”.\nTicket: {ticket_no}\n\n{agent_name}\n"


def account_for(server: ImapServer, user: MailUser) -> Account:
    imap = Endpoint("127.0.0.1", server.dovecot.imap_tls_port, Security.TLS)
    smtp = Endpoint("127.0.0.1", 587, Security.STARTTLS)  # never used: these tests send nothing
    return Account("work", user.login, imap, smtp, user.login, ca_file=str(server.certs.ca_pem))


def window_for(server: ImapServer, user: MailUser, name: str, data_dir: Path,
               *extra: Identity) -> MainWindow:  # fmt: skip
    account = account_for(server, user)
    settings = Settings(accounts=(account,), identities=(Identity(user.login, name, "work"), *extra))
    creds = SessionCredentials()
    creds.set("work", "imap", user.password)
    creds.set("work", "smtp", user.password)
    data_dir.mkdir()
    return build_window([account], creds, "test", data_dir, lambda: settings)


def store_template(server: ImapServer, user: MailUser, mailbox: str, name: str, body: str,
                   attachments: tuple[AttachmentFile, ...] = ()) -> None:  # fmt: skip
    account = account_for(server, user)
    conn = ImapConnection(open_imap(account, user.password))
    try:
        add_template(conn, account, mailbox, name, body, author_address("Kim Agent", user.login), attachments)
    finally:
        conn.close()


def open_message(qtbot: QtBot, window: MainWindow, path: str, subject: str) -> None:
    window.show()
    qtbot.waitUntil(lambda: any(f.path == path for f in window.controller.folders.get("work", [])), timeout=10000)
    window.folder_pane.select_folder("work", path)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10000)
    for row in range(window.model.rowCount()):
        window.list_view.selectRow(row)
        qtbot.waitUntil(lambda: window.view.rendered is not None, timeout=10000)
        if window.view.rendered.headers.get("Subject") == subject:
            return
    raise AssertionError(f"no message “{subject}” in {path}")


def deliver(server: ImapServer, team: Team, subject: str) -> None:
    raw = message(subject, sender="Dana Whitfield <dana@customer.example.test>")
    server.dovecot.deliver(team.owner.login, raw)
    assert email.message_from_bytes(raw)["Subject"] == subject


def highlighted(editor: QPlainTextEdit | QTextEdit, start: int, end: int) -> bool:
    """Every character in [start, end) has the unfilled-placeholder background."""
    cursor = QTextCursor(editor.document())
    for pos in range(start + 1, end + 1):
        cursor.setPosition(pos)
        if cursor.charFormat().background().color() != UNFILLED_BACKGROUND:
            return False
    return True


def test_ctrl_t_filters_previews_and_inserts_at_the_cursor(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    team = make_team(imap_server)
    store_template(imap_server, team.agent, team.inbox, "Refund – double charge", REFUND,
                   (AttachmentFile("refund-policy.pdf", b"%PDF-1.4"),))  # fmt: skip
    store_template(imap_server, team.agent, team.inbox, "Shipping delay", "Hi {customer_name}, it ships soon.\n")
    deliver(imap_server, team, "Invoice 2024-0117 charged twice")
    window = window_for(imap_server, team.reader, "Robin Reader", tmp_path / "reader")
    qtbot.addWidget(window)
    open_message(qtbot, window, team.inbox, "Invoice 2024-0117 charged twice")
    window.reply_action.trigger()
    [composer] = window.sending.composers
    composer.ask_on_close = composer_discard  # type: ignore[method-assign] - never a modal question in a test
    qtbot.addWidget(composer)
    assert composer.templates.templates_button.isVisible()
    composer.body.setFocus()
    composer.body.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClicks(composer.body, "Hello! ")

    qtbot.keyClick(composer.body, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    picker = composer.templates.picker
    assert picker is not None and picker.isVisible()
    qtbot.waitUntil(lambda: picker.list.count() == 2, timeout=10000)
    assert picker.list.item(0).text() == f"Refund – double charge\n{team.owner.login}"
    qtbot.keyClicks(picker.filter, "ships")
    assert [picker.list.item(i).text().split("\n")[0] for i in range(picker.list.count())] == ["Shipping delay"]
    picker.filter.clear()
    assert picker.list.count() == 2 and picker.list.currentRow() == 1  # the chosen one stays chosen
    qtbot.keyClick(picker.filter, Qt.Key.Key_Up)  # arrows move through the list while typing
    assert picker.list.currentRow() == 0 and picker.preview.toPlainText().startswith("Dear Dana Whitfield,")
    qtbot.keyClick(picker.filter, Qt.Key.Key_Down)
    assert picker.preview.toPlainText() == "Hi Dana Whitfield, it ships soon.\n" and picker.filter.hasFocus()
    qtbot.keyClicks(picker.filter, "REFUND")
    assert picker.list.count() == 1 and picker.insert_button.isEnabled()
    preview = picker.preview.toPlainText()
    assert preview.startswith("Dear Dana Whitfield,\n\nwe refunded the double charge for “Invoice 2024-0117 charged twice”.")
    assert preview.endswith("Ticket: {ticket_no}\n\nRobin Reader\n")
    start = preview.index("{ticket_no}")
    assert highlighted(picker.preview, start, start + len("{ticket_no}"))
    assert "{ticket_no} (unknown placeholder)" in picker.info.text() and "refund-policy.pdf" in picker.info.text()
    picker.grab().save(str(tmp_path / "template-picker.png"))
    picker.grab().save("/tmp/tmpl-picker.png")

    qtbot.keyClick(picker.filter, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not picker.isVisible(), timeout=3000)
    body = composer.body.toPlainText()
    assert body.startswith("Hello! Dear Dana Whitfield,\n\nwe refunded")  # at the cursor, not at the end
    assert "\n> I" not in body.split("Robin Reader\n", 1)[0] and "wrote:" in body  # the quote is still below
    start = body.index("{ticket_no}")
    assert highlighted(composer.body, start, start + len("{ticket_no}"))
    assert not highlighted(composer.body, 0, 5)
    assert "{ticket_no}" in composer.status.text()
    assert [composer.attachments.item(i).text().split("  (")[0] for i in range(composer.attachments.count())] == [
        "refund-policy.pdf"
    ]
    qtbot.keyClicks(composer.body, "x")  # typing after the insert is plain text again
    composer.grab().save("/tmp/tmpl-composer.png")
    composer.close()
    window.close()


def composer_discard():  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox  # noqa: PLC0415

    return QMessageBox.StandardButton.Discard


def test_save_as_template_offers_only_places_the_user_may_add_to(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    team = make_team(imap_server)
    deliver(imap_server, team, "Where is my parcel?")
    window = window_for(imap_server, team.reader, "Robin Reader", tmp_path / "reader")
    qtbot.addWidget(window)
    open_message(qtbot, window, team.inbox, "Where is my parcel?")
    window.reply_action.trigger()
    [composer] = window.sending.composers
    composer.ask_on_close = composer_discard  # type: ignore[method-assign] - never a modal question in a test
    qtbot.addWidget(composer)
    composer.body.moveCursor(QTextCursor.MoveOperation.Start)
    qtbot.keyClicks(composer.body, "Hi {customer_name}, your parcel left our warehouse today.")

    dialog = composer.templates.save_as_template()
    assert dialog.body.toPlainText() == "Hi {customer_name}, your parcel left our warehouse today.\n"  # no quote
    qtbot.waitUntil(lambda: dialog.destination.count() == 2, timeout=10000)
    assert dialog.destination.itemText(0) == f"{team.owner.login}'s mailbox (not allowed)"
    dialog.destination.setCurrentIndex(0)
    qtbot.keyClicks(dialog.name, "Parcel shipped")
    assert not dialog.save_button.isEnabled() and "“k” (create folders)" in dialog.reason.text()
    qtbot.wait(50)  # let the layout take the reason's height
    dialog.grab().save("/tmp/tmpl-save-dialog.png")
    dialog.destination.setCurrentIndex(1)
    assert dialog.destination.currentText() == "Your mailbox" and dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10000)
    assert composer.status.text() == "Saved the template “Parcel shipped” in your Templates."
    with imap_server.imap(team.reader.login.split("@")[0]) as client:
        client.select_folder("Templates", readonly=True)
        [uid] = client.search()
        stored = email.message_from_bytes(client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])
    assert stored["Subject"] == "Parcel shipped" and stored["X-SharedClient-Template"]
    payload = stored.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert payload == "Hi {customer_name}, your parcel left our warehouse today.\n"

    # The picker offers it at once (read fresh from the server each time).
    picker = composer.templates.open_picker()
    qtbot.waitUntil(lambda: picker.list.count() == 1, timeout=10000)
    assert picker.list.item(0).text() == "Parcel shipped\npersonal"
    picker.reject()
    composer.close()
    window.close()


def test_new_message_from_a_team_identity_offers_that_mailboxs_templates(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    team = make_team(imap_server)
    store_template(imap_server, team.agent, team.inbox, "Welcome", "Welcome aboard, {customer_name}! {date}\n")
    store_template(imap_server, team.agent, "INBOX", "My own", "Personal text.\n")
    desk = Identity(team.owner.login, "Team Desk", "work", SendMode.SEND_AS, mailbox_owner=team.owner.login)
    window = window_for(imap_server, team.agent, "Kim Agent", tmp_path / "agent", desk)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("work")), timeout=10000)
    window.new_action.trigger()
    [composer] = window.sending.composers
    composer.ask_on_close = composer_discard  # type: ignore[method-assign]
    qtbot.addWidget(composer)
    composer.from_picker.setCurrentIndex(composer.from_picker.findData(team.owner.login))
    picker = composer.templates.open_picker()
    qtbot.waitUntil(lambda: picker.list.count() == 2, timeout=10000)
    assert [picker.list.item(i).text() for i in range(2)] == [f"Welcome\n{team.owner.login}", "My own\npersonal"]
    preview = picker.preview.toPlainText()
    assert preview.startswith("Welcome aboard, {customer_name}! ")  # nobody is being answered: left, marked
    assert [u.reason for u in picker.filled.unfilled] == ["no message is being answered"]
    picker.accept()
    assert composer.body.toPlainText().startswith("Welcome aboard, {customer_name}!")
    assert "no message is being answered" in composer.status.text()
    composer.close()
    window.close()
