"""The notes panel under the message, with two teammates' windows on the real Dovecot.

The agent (``lrswipkxte``) adds a note from the panel; the read-only teammate sees it on the same
conversation, cannot add (the box says why), and a later note appears in its open window by itself
(IDLE on the Notes folder) without clicking anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.idle import WatchState
from sharedclient.core.imap.session import open_imap
from sharedclient.core.teamdesk.notes import add_note, conversation_of
from sharedclient.core.teamdesk.service import author_address
from tests.gui.test_templates_gui import account_for, composer_discard, deliver, open_message, window_for
from tests.integration.test_teamdesk import make_team

if TYPE_CHECKING:
    from tests.conftest import ImapServer

SUBJECT = "Order #4471 has not arrived"


def test_notes_are_shared_read_only_teammates_cannot_add_and_new_ones_arrive_by_themselves(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    team = make_team(imap_server)
    deliver(imap_server, team, SUBJECT)
    agent = window_for(imap_server, team.agent, "Kim Agent", tmp_path / "agent")
    qtbot.addWidget(agent)
    open_message(qtbot, agent, team.inbox, SUBJECT)
    panel = agent.notes.panel
    qtbot.waitUntil(lambda: panel.isVisible() and "No notes on this conversation yet." in panel.view.toPlainText(),
                    timeout=10000)  # fmt: skip
    assert panel.input.isEnabled() and not panel.add_button.isEnabled()  # nothing typed yet
    qtbot.keyClicks(panel.input, "Called Marco: parcel is stuck in customs.")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "stuck in customs" in panel.view.toPlainText(), timeout=10000)
    assert panel.input.toPlainText() == "" and f"Kim Agent <{team.agent.login}>" in panel.view.toPlainText()
    qtbot.keyClicks(panel.input, "Second: refund if not there by Friday.")
    qtbot.keyClick(panel.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter adds too
    qtbot.waitUntil(lambda: "by Friday" in panel.view.toPlainText(), timeout=10000)
    agent.view.grab().save("/tmp/tmpl-notes-agent.png")

    reader = window_for(imap_server, team.reader, "Robin Reader", tmp_path / "reader")
    qtbot.addWidget(reader)
    open_message(qtbot, reader, team.inbox, SUBJECT)
    rpanel = reader.notes.panel
    qtbot.waitUntil(lambda: "by Friday" in rpanel.view.toPlainText(), timeout=10000)
    shown = rpanel.view.toPlainText()
    assert shown.index("stuck in customs") < shown.index("by Friday")  # oldest first
    assert not rpanel.input.isEnabled() and not rpanel.add_button.isEnabled()
    assert f"You may not add notes to {team.owner.login}'s INBOX/Notes" in rpanel.status.text()
    assert "read-only access" in rpanel.add_button.toolTip()

    # The reply's quote holds the customer's text, never a note.
    reader.reply_action.trigger()
    [composer] = reader.sending.composers
    composer.ask_on_close = composer_discard  # type: ignore[method-assign]
    qtbot.addWidget(composer)
    assert "please help" in composer.body.toPlainText() and "customs" not in composer.body.toPlainText()
    composer.close()

    # A teammate adds a note elsewhere (another program, another window): it shows up by itself.
    watchers = reader.controller._watchers  # noqa: SLF001 - wait for IDLE on the Notes folder to be up
    key = ("work", f"{team.inbox}/Notes")
    qtbot.waitUntil(lambda: key in watchers and watchers[key].state is WatchState.WATCHING, timeout=10000)
    account = account_for(imap_server, team.agent)
    conn = ImapConnection(open_imap(account, team.agent.password))
    try:
        add_note(conn, account, team.inbox, conversation_of(reader.view.raw), "Customs cleared it, arrives Thursday.",
                 author_address("Kim Agent", team.agent.login))  # fmt: skip
    finally:
        conn.close()
    qtbot.waitUntil(lambda: "arrives Thursday" in rpanel.view.toPlainText(), timeout=15000)
    assert reader.view.raw  # the message stays open while the folders and the Notes folder resync
    reader.view.grab().save("/tmp/tmpl-notes-reader.png")
    reader.close()
    agent.close()


def test_message_without_message_id_says_why_no_note_can_be_added(
    qtbot: QtBot, imap_server: ImapServer, tmp_path: Path
) -> None:
    team = make_team(imap_server)
    imap_server.dovecot.deliver(
        team.owner.login, b"From: x@customer.test\r\nTo: team@example.test\r\nSubject: No id\r\n\r\nhello\r\n"
    )
    window = window_for(imap_server, team.agent, "Kim Agent", tmp_path / "agent")
    qtbot.addWidget(window)
    open_message(qtbot, window, team.inbox, "No id")
    panel = window.notes.panel
    assert b"message-id" not in window.view.raw.lower()
    assert not panel.input.isEnabled() and "no usable Message-ID" in panel.status.text()
    window.close()
