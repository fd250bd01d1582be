"""Actions follow rights, delete works where allowed, and IDLE brings new mail in without a click."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from pytestqt.qtbot import QtBot

from sharedclient.devservers.dovecot import MailUser
from sharedclient.ui.launch import build_window
from sharedclient.ui.messagelist import ROW_ROLE
from tests.gui.test_mainwindow_servers import account_for

if TYPE_CHECKING:
    from tests.conftest import ImapServer


def mail(to: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Customer <customer@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("hello")
    return msg.as_bytes()


def open_folder(qtbot: QtBot, server: ImapServer, user: str, path: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    acct, creds = account_for(server, user)
    window = build_window([acct], creds, "test", tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get(user)), timeout=10000)
    assert window.folder_pane.select_folder(user, path)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10000)
    window.list_view.selectRow(0)
    return window


def test_read_only_mailbox_disables_write_actions_with_reasons(qtbot: QtBot, imap_server: ImapServer, tmp_path: Path) -> None:
    window = open_folder(qtbot, imap_server, "bob", "shared/support@example.test/INBOX", tmp_path)
    assert window.read_action.isEnabled()  # bob has "s": he may mark read
    assert not window.flag_action.isEnabled() and "missing right “w”" in window.flag_action.toolTip()
    assert not window.delete_action.isEnabled() and "missing right “t”" in window.delete_action.toolTip()
    assert "read-only" in window.folder_banner.text()
    window.close()


def test_delete_and_idle(qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, tmp_path: Path) -> None:
    name = fresh_user.login.split("@")[0]
    for i in range(3):
        imap_server.dovecot.deliver(fresh_user.login, mail(fresh_user.login, f"Message {i}"))
    window = open_folder(qtbot, imap_server, name, "INBOX", tmp_path)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10000)
    assert window.delete_action.isEnabled()
    # opening the message marks it read; let that finish so it cannot race with the delete
    qtbot.waitUntil(lambda: window.list_view.currentIndex().data(ROW_ROLE).seen, timeout=10000)
    window.delete_action.trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=10000)
    status = window.statusBar().currentMessage()
    assert "moved to Trash" in status or "deleted for good" in status, status
    # a message arriving while the window is open appears without any click (IDLE)
    imap_server.dovecot.deliver(fresh_user.login, mail(fresh_user.login, "Arrived while watching"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=15000)
    subjects = [window.model.index(r, 2).data() for r in range(3)]
    assert "Arrived while watching" in subjects
    window.close()


def test_move_to_a_folder_one_may_file_into(qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, tmp_path: Path) -> None:
    name = fresh_user.login.split("@")[0]
    imap_server.dovecot.deliver(fresh_user.login, mail(fresh_user.login, "File me"))
    window = open_folder(qtbot, imap_server, name, "INBOX", tmp_path)
    qtbot.waitUntil(lambda: window.list_view.currentIndex().data(ROW_ROLE).seen, timeout=10000)
    targets = [f.path for f in window.filing_targets()]
    assert "Archive" in targets and "INBOX" not in targets
    window.choose_target = lambda folders, copy: next(f for f in folders if f.path == "Archive")  # type: ignore[method-assign]
    window.move_action.trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10000)
    with imap_server.imap(name) as client:
        client.select_folder("Archive", readonly=True)
        assert len(client.search(["SUBJECT", "File me"])) == 1
    window.close()
