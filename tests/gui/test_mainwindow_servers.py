"""The main window against the real Dovecot: personal folders, shared mailboxes by owner, status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytestqt.qtbot import QtBot

from sharedclient.core.model import Account, Endpoint, Section, Security
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.folderpane import FOLDER_ROLE
from sharedclient.ui.launch import build_window

if TYPE_CHECKING:
    from tests.conftest import ImapServer


def account_for(server: ImapServer, user: str, password: str | None = None) -> tuple[Account, SessionCredentials]:
    login = f"{user}@example.test"
    imap = Endpoint("127.0.0.1", server.dovecot.imap_tls_port, Security.TLS)
    acct = Account(user, login, imap, imap, login, ca_file=str(server.certs.ca_pem))
    creds = SessionCredentials()
    creds.set(user, "imap", password or f"{user}-secret-pw")
    return acct, creds


def headers_and_children(window) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    model = window.folder_pane.model()
    tree: dict[str, list[str]] = {}
    for row in range(model.rowCount()):
        header = model.item(row, 0)
        tree[header.text()] = [header.child(r, 0).text() for r in range(header.rowCount())]
    return tree


def test_alice_sees_personal_and_shared_mailboxes(qtbot: QtBot, imap_server: ImapServer) -> None:
    acct, creds = account_for(imap_server, "alice")
    window = build_window([acct], creds, "test")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("alice")), timeout=10000)
    assert window.status_labels["alice"].state is ConnectionState.ONLINE
    tree = headers_and_children(window)
    assert list(tree) == ["Personal — alice@example.test", "Shared mailboxes", "Public folders"]
    assert tree["Personal — alice@example.test"][0] == "Inbox"
    assert tree["Shared mailboxes"] == ["sales@example.test", "support@example.test"]
    items = window.folder_pane.folder_items()
    support_inbox = items[("alice", "shared/support@example.test/INBOX")].data(FOLDER_ROLE)
    assert support_inbox.section is Section.SHARED and "t" in support_inbox.rights and "a" in support_inbox.rights
    sales_item = items[("alice", "shared/sales@example.test/INBOX")]
    assert "[read-only]" in sales_item.text()
    assert "cannot delete" in sales_item.toolTip()
    window.folder_pane.select_folder("alice", "shared/support@example.test/INBOX")
    assert "support@example.test" in window.folder_banner.text()
    window.close()


def test_carol_sees_no_shared_mailbox(qtbot: QtBot, imap_server: ImapServer) -> None:
    acct, creds = account_for(imap_server, "carol")
    window = build_window([acct], creds, "test")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("carol")), timeout=10000)
    assert "Shared mailboxes" not in headers_and_children(window)
    window.close()


def test_wrong_password_shows_authentication_failed(qtbot: QtBot, imap_server: ImapServer) -> None:
    acct, creds = account_for(imap_server, "bob", password="wrong")
    window = build_window([acct], creds, "test")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.status_labels["bob"].state is ConnectionState.AUTH_FAILED, timeout=10000)
    assert "rejected the user name or password" in window.status_labels["bob"].toolTip()
    window.close()
