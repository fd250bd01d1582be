"""Bounded resources: a message bigger than the display limit is never fetched whole just to be read.

Against the real Dovecot through a counting proxy: selecting a 6 MB message with a 256 KiB limit moves
well under 1 MB over the wire, the pane shows its start with a notice, hides the (cut-off) attachments and
refuses to reply from the partial copy; "Load whole message" then fetches all of it, and "Save message
as…" streams it into a new file in pieces without overwriting anything.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.mime.render import DISPLAY_LIMIT, display_limit
from sharedclient.core.model import Endpoint, Security
from sharedclient.devservers.dovecot import MailUser
from sharedclient.ui.launch import build_window
from sharedclient.ui.messageview import MessageView
from tests.gui.test_mainwindow_servers import account_for
from tests.servers.proxy import RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import ImapServer

LIMIT = 256 * 1024


def big_message(size: int) -> bytes:
    blob = base64.encodebytes(os.urandom(size * 3 // 4))
    return (b"From: Dana <dana@customer.test>\r\nTo: support@example.test\r\nSubject: Huge scan\r\n"
            b"Message-ID: <huge-1@customer.test>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
            b"Please find the scan attached.\r\n--b\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + blob.replace(b"\n", b"\r\n") + b"--b--\r\n")  # fmt: skip


def test_display_limit_is_configurable(qtbot: QtBot) -> None:
    assert display_limit({}) == 8 * 1024 * 1024
    assert display_limit({"SHAREDCLIENT_DISPLAY_LIMIT_MB": "2"}) == 2 * 1024 * 1024
    assert display_limit({"SHAREDCLIENT_DISPLAY_LIMIT_MB": "0"}) is None  # no limit
    view = MessageView()
    qtbot.addWidget(view)
    assert view.display_limit == DISPLAY_LIMIT == display_limit()


def test_partial_message_in_the_view(qtbot: QtBot) -> None:
    raw = big_message(2_000_000)
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(raw[:LIMIT], total=len(raw))
    assert view.partial and not view.partial_bar.isHidden()
    assert "only its first 256.0 KB are shown" in view.partial_label.text()
    assert "Please find the scan attached." in view.browser.toPlainText()
    assert view.attachments.isHidden()  # a cut-off attachment is never offered for saving
    view.show_message(raw)
    assert not view.partial and view.partial_bar.isHidden() and not view.attachments.isHidden()


def test_big_message_is_fetched_in_part_then_whole_or_streamed_to_a_file(
    qtbot: QtBot, imap_server: ImapServer, fresh_user: MailUser, tmp_path: Path
) -> None:
    imap_server.dovecot.deliver(fresh_user.login, big_message(6_000_000))
    name = fresh_user.login.split("@")[0]
    with imap_server.imap(name) as client:
        client.select_folder("INBOX", readonly=True)
        stored = client.fetch([client.search()[0]], [b"BODY.PEEK[]"]).popitem()[1][b"BODY[]"]
    received: list[int] = []
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port, lambda d: received.append(len(d)) or d) as proxy:
        acct, creds = account_for(imap_server, name)
        acct = dataclasses.replace(acct, imap=Endpoint("127.0.0.1", proxy.port, Security.TLS))
        window = build_window([acct], creds, "test", tmp_path / "profile")
        qtbot.addWidget(window)
        window.view.display_limit = LIMIT
        window.show()
        qtbot.waitUntil(lambda: bool(window.controller.folders.get(name)), timeout=10000)
        window.folder_pane.select_folder(name, "INBOX")
        qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10000)
        before = sum(received)
        window.list_view.selectRow(0)
        qtbot.waitUntil(lambda: window.view.rendered is not None and window.view.partial, timeout=10000)
        assert sum(received) - before < 1_000_000, "the whole message went over the wire"
        assert len(window.view.raw) == LIMIT and window.view.total == len(stored)
        assert window.view.partial_bar.isVisible() and not window.view.attachments.isVisible()
        assert "Please find the scan attached." in window.view.browser.toPlainText()
        window.grab().save("/tmp/hostile-partial.png")

        window._reply()  # noqa: SLF001 - what Reply does: refused from a partial copy, with a reason
        assert "shown only in part" in window.statusBar().currentMessage()

        target = tmp_path / "saved"
        target.mkdir()
        (target / "Huge scan.eml").write_bytes(b"keep me")
        window.choose_save_path = lambda suggested: str(target / suggested)
        qtbot.mouseClick(window.view.save_message_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Saved as"), timeout=20000)
        assert (target / "Huge scan.eml").read_bytes() == b"keep me"
        assert (target / "Huge scan (2).eml").read_bytes() == stored
        assert window.view.partial  # saving did not load it into the pane

        qtbot.mouseClick(window.view.load_whole_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.view.partial, timeout=20000)
        assert window.view.raw == stored and window.view.attachments.isVisible()
        assert not window.view.partial_bar.isVisible()
        window.close()
