"""Reply from the shared mailbox in the window: support@ is preselected, the mail goes out as support@,
and the team copy lands in the shared Sent folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.ui.launch import build_window
from tests.integration.test_send_path import parse, wait_for

if TYPE_CHECKING:
    from tests.conftest import MailServers


def window_for(servers: MailServers, user: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A window for ``user`` with IMAP on Dovecot, SMTP on Postfix, and a Send As support@ identity."""
    d, p = servers.dovecot, servers.postfix
    login = f"{user}@example.test"
    account = Account(
        "work", login, Endpoint("127.0.0.1", d.imap_tls_port, Security.TLS),
        Endpoint("127.0.0.1", p.submission_port, Security.STARTTLS), login, ca_file=str(servers.certs.ca_pem),
    )  # fmt: skip
    support = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS,
                       mailbox_owner="support@example.test")
    settings = Settings(accounts=(account,), identities=(support,))
    creds = SessionCredentials()
    creds.set("work", "imap", f"{user}-secret-pw")
    creds.set("work", "smtp", f"{user}-secret-pw")
    return build_window([account], creds, "test", tmp_path, lambda: settings)


def test_reply_as_support_from_the_window(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    window = window_for(mail_servers, "alice", tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("work")), timeout=10000)
    window.folder_pane.select_folder("work", "shared/support@example.test/INBOX")
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10000)
    window.list_view.selectRow(0)
    qtbot.waitUntil(lambda: window.view.rendered is not None, timeout=10000)
    assert window.reply_action.isEnabled()
    window.reply_action.trigger()
    [composer] = window.sending.composers
    qtbot.addWidget(composer)
    assert composer.current_identity().address == "support@example.test"
    assert "shared mailbox support@example.test" in composer.reason_label.text()
    assert composer.recipient_view_label.text() == "Recipients will see: Support Team <support@example.test>"
    assert composer.subject.text().startswith("Re:")
    composer.body.moveCursor(composer.body.textCursor().MoveOperation.Start)
    qtbot.keyClicks(composer.body, "Thanks, we are on it.")
    composer.grab().save(str(tmp_path / "reply-composer.png"))
    qtbot.keyClick(composer.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.sending.composers, timeout=20000)
    [entry] = window.sending.worker.history.query()
    assert entry.status == "sent" and entry.identity == "support@example.test" and entry.mode == "send-as"
    delivered = parse(wait_for(mail_servers, "sink", "INBOX", entry.message_id))
    assert delivered["From"] == "Support Team <support@example.test>" and delivered["Sender"] is None
    assert delivered["X-SharedClient-Sent-By"] is None
    assert "Thanks, we are on it." in delivered.get_body(("plain",)).get_content()
    copy = parse(wait_for(mail_servers, "alice", "shared/support@example.test/Sent", entry.message_id))
    assert copy["X-SharedClient-Sent-By"] == "alice@example.test"
    window.history_action.trigger()
    qtbot.waitUntil(lambda: window.sending._history_view.model.rowCount() == 1, timeout=5000)  # noqa: SLF001
    window.sending._history_view.grab().save(str(tmp_path / "history.png"))  # noqa: SLF001
    window.sending._history_view.close()  # noqa: SLF001
    window.close()


def test_identities_window_shows_a_denied_identity_with_the_servers_words(
    qtbot: QtBot, mail_servers: MailServers, tmp_path: Path
) -> None:
    window = window_for(mail_servers, "bob", tmp_path)
    qtbot.addWidget(window)
    assert "support@example.test" in [i.address for i in window.sending.identities()]  # not checked yet
    window.identities_action.trigger()
    ids = window.identities_window
    qtbot.addWidget(ids)
    ids.check_button.click()
    qtbot.waitUntil(lambda: any(o.status.value == "denied" for o in ids.options), timeout=15000)
    row = next(i for i, o in enumerate(ids.options) if o.identity.address == "support@example.test")
    assert ids.table.item(row, 4).text() == "denied" and "553" in ids.table.item(row, 5).text()
    assert "support@example.test" not in [i.address for i in window.sending.identities()]  # never in the picker
    ids.grab().save(str(tmp_path / "identities.png"))
    ids.close()
    window.close()
