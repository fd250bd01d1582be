"""Mailbox → Export in the window against the real Dovecot: the whole mailbox, or only the search result."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import TYPE_CHECKING

from pytestqt.qtbot import QtBot

from tests.gui.test_claims_view import INBOX, open_inbox
from tests.gui.test_send_from_window import window_for

if TYPE_CHECKING:
    from tests.conftest import MailServers


def server_bytes(servers: MailServers, criteria: list[str]) -> set[bytes]:
    with servers.imap("alice") as client:
        client.select_folder(INBOX, readonly=True)
        uids = client.search(criteria)
        return {bytes(d[b"BODY[]"]) for d in client.fetch(uids, ["BODY.PEEK[]"]).values()}


def test_export_search_result_as_eml_and_mailbox_as_mbox(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    window = window_for(mail_servers, "alice", tmp_path / "profile")
    try:
        open_inbox(qtbot, window)
        total = window.model.rowCount()
        qtbot.keyClicks(window.search, "Invoice")
        qtbot.waitUntil(lambda: 0 < window.model.rowCount() < total, timeout=5000)
        shown = window.model.rowCount()
        window.exporter.choose_folder = lambda: str(tmp_path)
        window.exporter.eml_action.trigger()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Exported"), timeout=10000)
        [folder] = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "profile"]
        assert folder.name.startswith("support@example.test INBOX ")
        files = sorted(folder.glob("*.eml"))
        assert len(files) == shown >= 2
        assert {f.read_bytes() for f in files} <= server_bytes(mail_servers, ["ALL"])
        assert all(b"Invoice" in f.read_bytes() for f in files)

        window.search.clear()
        qtbot.waitUntil(lambda: window.model.rowCount() == total, timeout=5000)
        target = tmp_path / "all.mbox"
        window.exporter.choose_file = lambda name: str(target)
        window.exporter.mbox_action.trigger()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Exported"), timeout=10000)
        assert window.statusBar().currentMessage() == f"Exported {total} message(s) to {target}."
        box = mailbox.mbox(str(target))
        try:
            assert len(box) == total
        finally:
            box.close()
        window.exporter.mbox_action.trigger()  # the same name again: refused, nothing overwritten
        assert "already exists" in window.statusBar().currentMessage()
    finally:
        window.close()
