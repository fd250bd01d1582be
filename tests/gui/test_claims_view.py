"""Claim / Release in the window against the real Dovecot: the list shows who holds each message."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytestqt.qtbot import QtBot

from sharedclient.ui.messagelist import ROW_ROLE
from tests.gui.test_send_from_window import window_for

if TYPE_CHECKING:
    from tests.conftest import MailServers

INBOX = "shared/support@example.test/INBOX"


def open_inbox(qtbot: QtBot, window) -> None:  # type: ignore[no-untyped-def]
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("work")), timeout=10000)
    window.folder_pane.select_folder("work", INBOX)
    qtbot.waitUntil(lambda: window.model.rowCount() > 1, timeout=10000)


def row_of(window, uid: int) -> int:  # type: ignore[no-untyped-def]
    return next(r for r in range(window.model.rowCount()) if window.model.index(r, 0).data(ROW_ROLE).uid == uid)


def test_claim_shows_the_holder_and_a_teammates_claim_is_respected(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path
) -> None:
    with mail_servers.imap("support") as owner:  # carol (say, on the phone desk) holds the oldest message
        owner.select_folder("INBOX")
        first = min(owner.search(["ALL"]))
        owner.add_flags([first], [b"$Claimed-carol"])
    window = window_for(mail_servers, "alice", tmp_path)
    try:
        open_inbox(qtbot, window)
        held = row_of(window, first)
        assert window.model.index(held, 2).data().startswith("[held by carol] ")
        window.list_view.selectRow(held)
        assert window.claims.claim_action.isEnabled()
        window.claims.claim_action.trigger()
        qtbot.waitUntil(lambda: "carol already holds this message" in window.statusBar().currentMessage(), timeout=10000)
        assert not window.claims.last_result.won

        window.list_view.selectRow(0)
        mine = window.list_view.currentIndex().data(ROW_ROLE).uid
        window.claims.claim_action.trigger()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("You hold this message now"), timeout=10000)
        assert window.model.index(row_of(window, mine), 2).data().startswith("[held by alice] ")
        window.grab().save("/tmp/track-claims.png")
        with mail_servers.imap("bob") as bob:  # the teammate sees it too (keywords are shared)
            bob.select_folder(INBOX, readonly=True)
            assert b"$Claimed-alice" in bob.get_flags([mine])[mine]

        window.list_view.selectRow(row_of(window, mine))
        window.claims.release_action.trigger()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Claim released.", timeout=10000)
        assert "held by" not in window.model.index(row_of(window, mine), 2).data()
    finally:
        window.close()
        with mail_servers.imap("support") as owner:
            owner.select_folder("INBOX")
            owner.remove_flags(owner.search(["ALL"]), [b"$Claimed-carol", b"$Claimed-alice"])


def test_claim_is_disabled_with_the_reason_without_the_w_right(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path
) -> None:
    window = window_for(mail_servers, "bob", tmp_path)  # bob has lrs on support@
    try:
        open_inbox(qtbot, window)
        window.list_view.selectRow(0)
        assert not window.claims.claim_action.isEnabled()
        assert "no “w” right" in window.claims.claim_action.toolTip()
        assert not window.claims.release_action.isEnabled()
    finally:
        window.close()
