"""The Settings window against the real servers: accounts, identities (with the server's verdict), DLP
rules and profiles; every change validated, saved at once and read back after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.dlp_policy import VolumeLimit
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.profiles import Profile, ProfileStore
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.ui.launch import build_window
from sharedclient.ui.settingsmenu import install_settings_menu
from sharedclient.ui.settingswindow import SettingsWindow
from sharedclient.ui.wizard import AccountWizard

if TYPE_CHECKING:
    from tests.conftest import MailServers

WAIT = 30000


def alice_profile(mail_servers: MailServers, home: Path) -> tuple[ProfileStore, Profile, SessionCredentials]:
    store = ProfileStore(home)
    profile = store.get("default")
    imap = Endpoint("127.0.0.1", mail_servers.dovecot.imap_tls_port, Security.TLS)
    smtp = Endpoint("127.0.0.1", mail_servers.postfix.submission_port, Security.STARTTLS)
    account = Account("alice", "alice@example.test", imap, smtp, "alice@example.test", ca_file=str(mail_servers.certs.ca_pem))
    profile.save(profile.load().with_account(account))
    creds = SessionCredentials()
    creds.set("alice", "imap", "alice-secret-pw")
    creds.set("alice", "smtp", "alice-secret-pw")
    return store, profile, creds


def open_settings(qtbot: QtBot, store: ProfileStore, profile: Profile, creds: SessionCredentials) -> SettingsWindow:
    window = SettingsWindow(profile, creds, store)
    qtbot.addWidget(window)
    window.show()
    return window


def test_settings_change_validate_and_survive_a_restart(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    store, profile, creds = alice_profile(mail_servers, tmp_path)
    win = open_settings(qtbot, store, profile, creds)
    accounts = win.accounts

    # Accounts: test with the stored password, a bad value is refused with a sentence, a good one saved.
    qtbot.mouseClick(accounts.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: accounts.result.text().count("✔") == 2, timeout=WAIT)
    win.grab().save("/tmp/wizard-settings-accounts.png")
    accounts.form.smtp.host.setText("not a host!")
    qtbot.mouseClick(accounts.save_button, Qt.MouseButton.LeftButton)
    assert "is not of the form HOST:PORT" in accounts.form.error.text()
    assert profile.load().accounts[0].smtp.host == "127.0.0.1"  # nothing written
    accounts.form.smtp.host.setText("localhost")
    qtbot.mouseClick(accounts.save_button, Qt.MouseButton.LeftButton)
    assert profile.load().accounts[0].smtp.host == "localhost"
    win.ask_text = lambda title, text, secret: ""
    accounts.change_password()
    assert "The password is empty" in accounts.error.text() and creds.get("alice", "imap") == "alice-secret-pw"
    win.ask_text = lambda title, text, secret: "alice-secret-pw"
    accounts.change_password()
    assert accounts.error.isHidden() and "this session only" in accounts.result.text()

    # Identities: a new Send As identity, validated, saved, checked right there.
    win.tabs.setCurrentWidget(win.identities)
    tab = win.identities
    assert tab.list.count() == 1 and tab.list.item(0).text().startswith("alice@example.test\nown via alice")
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    tab.form.address.setText("support@example.test")
    tab.form.display_name.setText("Support\nTeam")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert "control character or line break" in tab.error.text()
    tab.form.display_name.setText("Support Team")
    tab.mailbox.setText("support@example.test")
    tab.form.aliases.setText("help@example.test")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert tab.error.isHidden(), tab.error.text()
    assert [i.address for i in profile.load().identities] == ["support@example.test"]
    qtbot.mouseClick(tab.form.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.form.verdict.text().startswith("✔ allowed"), timeout=WAIT)
    qtbot.mouseClick(tab.new_button, Qt.MouseButton.LeftButton)
    tab.form.address.setText("support@example.test")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert "already exists" in tab.error.text()
    tab.form.address.setText("sales@example.test")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.form.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.form.verdict.text().startswith("✘ refused"), timeout=WAIT)
    tab.refresh("sales@example.test")
    assert "✘ refused" in tab.list.currentItem().text()
    win.grab().save("/tmp/wizard-settings-identities.png")

    # DLP rules: a broken pattern is refused with the reason; a good rule and limits are saved.
    win.tabs.setCurrentWidget(win.dlp)
    dlp = win.dlp
    assert dlp.table.rowCount() == 3  # the three built-in rules
    qtbot.mouseClick(dlp.add_button, Qt.MouseButton.LeftButton)
    dlp.table.item(3, 0).setText("codename")
    dlp.table.item(3, 1).setText("project (falcon")
    qtbot.mouseClick(dlp.save_button, Qt.MouseButton.LeftButton)
    assert "invalid regular expression" in dlp.error.text()
    dlp.table.item(3, 1).setText(r"project\s+falcon")
    dlp.table.item(3, 2).setText("Project code name")
    dlp.table.cellWidget(3, 4).setCurrentIndex(dlp.table.cellWidget(3, 4).findData("block"))
    dlp.table.cellWidget(2, 4).setCurrentIndex(dlp.table.cellWidget(2, 4).findData("off"))  # IBAN
    dlp.volume_messages.setValue(50)
    dlp.volume_minutes.setValue(30)
    dlp.volume_action.setCurrentIndex(dlp.volume_action.findData("block"))
    qtbot.mouseClick(dlp.save_button, Qt.MouseButton.LeftButton)
    assert dlp.error.isHidden(), dlp.error.text()
    win.grab().save("/tmp/wizard-settings-dlp.png")

    win.tabs.setCurrentIndex(3)
    assert win.profiles.list.item(0).text() == "default — 1 account (open now)"
    assert not win.profiles.delete_button.isEnabled()
    win.grab().save("/tmp/wizard-settings-profiles.png")
    win.close()

    # A restart: settings.json is read again from disk.
    data = json.loads(profile.settings_path.read_text(encoding="utf-8"))
    assert data["accounts"][0]["smtp"]["host"] == "localhost"
    assert data["dlp"]["rules"] == [{"name": "codename", "pattern": r"project\s+falcon", "label": "Project code name",
                                     "ignore_case": True}]  # fmt: skip
    again = open_settings(qtbot, store, ProfileStore(tmp_path).get("default"), creds)
    assert again.accounts.form.smtp.host.text() == "localhost"
    idents = again.identities
    idents.refresh("support@example.test")
    assert idents.form.display_name.text() == "Support Team" and idents.form.aliases.text() == "help@example.test"
    assert idents.mailbox.text() == "support@example.test"
    assert idents.form.verdict.text().startswith("✔ allowed")  # the stored verdict
    policy = again.dlp.policy
    assert policy.action_for("codename", "x@example.test") == "block" and policy.action_for("iban", "") == "off"
    assert policy.volume == VolumeLimit(50, 30, "block")
    assert again.dlp.table.item(3, 0).text() == "codename"

    # Removing an account removes its identities and its password, after a confirmation.
    again.confirm = lambda title, text: False
    again.accounts.remove_account()
    assert len(profile.load().accounts) == 1
    again.confirm = lambda title, text: True
    again.accounts.remove_account()
    assert profile.load().accounts == () and profile.load().identities == ()
    assert creds.get("alice", "imap") is None
    assert again.identities.list.count() == 0
    with AuditLog(audit_path(profile.data_dir), "default") as trail:  # the same entries the CLI writes
        actions = [(e.action, e.account) for e in trail.entries()]
    assert actions == [("identity.add", "alice"), ("identity.add", "alice"), ("account.remove", "alice")]


def test_main_window_menu_opens_settings_and_the_wizard(qtbot: QtBot, tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    profile = store.get("default")
    creds = SessionCredentials()
    window = build_window([], creds, "default")
    qtbot.addWidget(window)
    actions = install_settings_menu(window, profile, creds, store)
    file_texts = [a.text() for a in window.menu("file").actions()]
    assert file_texts.index("Add Mail &Account…") < file_texts.index("&Quit")
    assert "&Settings…" in [a.text() for a in window.menu("edit").actions()]
    actions["settings"].trigger()
    settings = window.settings_windows["window"]
    assert settings.isVisible() and settings.windowTitle() == "Settings — default"
    actions["add_account"].trigger()
    wizard = settings.accounts.wizard
    assert isinstance(wizard, AccountWizard) and wizard.isVisible()
    wizard.reject()
    settings.close()
    window.close()


def test_an_account_added_while_running_connects_at_once(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    store, profile, creds = alice_profile(mail_servers, tmp_path)
    account = profile.load().accounts[0]
    window = build_window([], creds, "default")
    qtbot.addWidget(window)
    window.show()
    actions = install_settings_menu(window, profile, creds, store)
    actions["settings"].trigger()
    settings = window.settings_windows["window"]
    settings.accounts_added.emit([account])  # what Finish in the wizard reports
    qtbot.waitUntil(lambda: bool(window.controller.folders.get("alice")), timeout=WAIT)
    assert window.status_labels["alice"].isVisible()
    assert any(f.owner == "support@example.test" for f in window.controller.folders["alice"])
    settings.accounts_added.emit([account])  # reported twice: started once
    assert list(window.controller.sessions) == ["alice"]
    settings.close()
    window.close()
