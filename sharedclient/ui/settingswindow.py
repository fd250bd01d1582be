"""The Settings window: accounts, identities, DLP rules and profiles, everything the CLI can configure.

Every change is validated before it is written (one sentence when something is wrong, nothing lost) and
saved at once to the profile's settings file (atomic write), so closing the window never discards work
and a restart reads the same values back. Passwords go to the keyring, or stay in memory for this session
when no secure keyring exists. Network checks run on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.auditing import NO_AUDIT, profile_audit
from sharedclient.core.autodiscover import Discoverer
from sharedclient.core.diagnose import AccountReport, check_account
from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.model import Account
from sharedclient.core.profiles import Profile, ProfileStore
from sharedclient.core.secrets import CredentialStore, KeyringCredentials, SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.profilechooser import CredentialsFactory, ProfileManager
from sharedclient.ui.wizard import AccountWizard, WizardContext
from sharedclient.ui.wizard.pages_servers import error_label, gui_words, show_error
from sharedclient.ui.wizard.serverform import ServerForm


class SettingsWindow(QWidget):
    accounts_added = Signal(list)  # [Account] saved by the wizard: the main window starts them

    def __init__(self, profile: Profile, credentials: CredentialStore, store: ProfileStore, *,
                 credentials_factory: CredentialsFactory = KeyringCredentials, discoverer: Discoverer | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        from sharedclient.ui.settings_dlp import DlpTab
        from sharedclient.ui.settings_identities import IdentitiesTab

        self.setObjectName("settingsWindow")
        self.setWindowFlag(Qt.WindowType.Window, True)  # its own window, even with the main window as parent
        self.setWindowTitle(self.tr("Settings — %1").replace("%1", profile.name))
        self.resize(900, 600)
        self.profile = profile
        self.credentials = credentials
        self.discoverer = discoverer
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="settings")
        self.bridge = MainThreadBridge(self)
        self.ask_text: Callable[[str, str, bool], str | None] = self._ask_text
        self.confirm: Callable[[str, str], bool] = self._confirm
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.accounts = AccountsTab(self)
        self.identities = IdentitiesTab(self)
        self.dlp = DlpTab(self)
        self.tabs.addTab(self.accounts, self.tr("&Accounts"))
        self.tabs.addTab(self.identities, self.tr("&Identities"))
        self.tabs.addTab(self.dlp, self.tr("&DLP rules"))
        self.profiles = ProfileManager(store, credentials_factory, current=profile.name)
        profiles_tab = QWidget()
        profiles_layout = QVBoxLayout(profiles_tab)
        profiles_layout.addWidget(self.profiles, 1)
        profiles_layout.addWidget(QLabel(self.tr("To open another profile, quit SharedClient and start it again: "
                                                 "it asks which one when there are several.")))  # fmt: skip
        self.tabs.addTab(profiles_tab, self.tr("&Profiles"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

    # -- shared by the tabs ---------------------------------------------------------------------------

    def settings(self) -> Settings:
        return self.profile.load()

    def save(self, settings: Settings, error: QLabel, *records: tuple[str, dict[str, Any]]) -> bool:
        """Write ``settings`` and audit ``records`` ((action, fields) as the CLI records them); the sentence
        goes to ``error`` when the file cannot be written or the audit trail is damaged (nothing changed then)."""
        try:
            audit = profile_audit(self.profile.data_dir, self.profile.name) if records else NO_AUDIT
        except SharedClientError as exc:
            show_error(error, exc.user_message)
            return False
        with audit:
            try:
                self.profile.save(settings)
            except SharedClientError as exc:
                show_error(error, exc.user_message)
                return False
            for action, fields in records:
                audit.record(action, **fields)
        return True

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[SharedClientError], None]) -> None:
        self.bridge.when_done(self.pool.submit(fn), on_done, on_error)

    def _ask_text(self, title: str, text: str, secret: bool) -> str | None:
        mode = QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal
        value, ok = QInputDialog.getText(self, title, text, mode)
        return value if ok else None

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.warning(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                     QMessageBox.StandardButton.Cancel)  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt override
        self.pool.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)


class AccountsTab(QWidget):
    def __init__(self, window: SettingsWindow) -> None:
        super().__init__()
        self.w = window
        self.list = QListWidget()
        self.list.setObjectName("accountList")
        self.list.setAccessibleName(self.tr("Accounts"))
        self.list.setMaximumWidth(280)
        self.email = QLabel()
        self.email.setObjectName("accountEmail")
        self.form = ServerForm()
        self.form.name.setReadOnly(True)  # it names the keyring entries and caches
        self.add_button = QPushButton(self.tr("Add account…"))
        self.add_button.setObjectName("addAccount")
        self.save_button = QPushButton(self.tr("Save changes"))
        self.save_button.setObjectName("saveAccount")
        self.test_button = QPushButton(self.tr("Test connection"))
        self.test_button.setObjectName("testAccount")
        self.password_button = QPushButton(self.tr("Change password…"))
        self.password_button.setObjectName("accountPassword")
        self.remove_button = QPushButton(self.tr("Remove…"))
        self.remove_button.setObjectName("removeAccount")
        self.result = QLabel()
        self.result.setObjectName("accountResult")
        self.result.setWordWrap(True)
        self.error = error_label("accountError")
        self.add_button.clicked.connect(self.add_account)
        self.save_button.clicked.connect(self.save_account)
        self.test_button.clicked.connect(self.test_account)
        self.password_button.clicked.connect(self.change_password)
        self.remove_button.clicked.connect(self.remove_account)
        self.list.currentRowChanged.connect(self._show)
        buttons = QHBoxLayout()
        for button in (self.save_button, self.test_button, self.password_button, self.remove_button):
            buttons.addWidget(button)
        right = QVBoxLayout()
        right.addWidget(self.email)
        right.addWidget(self.form)
        right.addLayout(buttons)
        right.addWidget(self.result)
        right.addWidget(self.error)
        right.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.add_button)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self.wizard: AccountWizard | None = None
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        try:
            self.accounts = list(self.w.settings().accounts)
        except SharedClientError as exc:
            self.accounts = []
            show_error(self.error, exc.user_message)
        self.list.clear()
        for account in self.accounts:
            kind = self.tr(" (shared login)") if account.kind == "shared" else ""
            self.list.addItem(f"{account.name} — {account.email}{kind}")
        names = [a.name for a in self.accounts]
        self.list.setCurrentRow(names.index(select) if select in names else (0 if names else -1))
        for button in (self.save_button, self.test_button, self.password_button, self.remove_button):
            button.setEnabled(bool(names))
        self.form.setEnabled(bool(names))

    def current(self) -> Account | None:
        row = self.list.currentRow()
        return self.accounts[row] if 0 <= row < len(self.accounts) else None

    def _show(self, _row: int) -> None:
        account = self.current()
        self.result.clear()
        show_error(self.error, "")
        self.form.show_error("")
        if account is not None:
            self.email.setText(self.tr("<b>%1</b> — address %2").replace("%1", account.name).replace("%2", account.email))
            self.form.set_account(account)

    def save_account(self) -> None:
        old = self.current()
        if old is None:
            return
        try:
            new = self.form.account(old.email, kind=old.kind)
        except SharedClientError as exc:
            self.form.show_error(exc.user_message)
            return
        self.form.show_error("")
        settings = self.w.settings()
        updated = replace(settings, accounts=tuple(new if a.name == old.name else a for a in settings.accounts))
        if self.w.save(updated, self.error):
            self.result.setText(self.tr("Saved. Changed server settings apply the next time SharedClient starts."))
            self.refresh(new.name)

    def test_account(self) -> None:
        account = self.current()
        if account is None:
            return
        try:
            account = self.form.account(account.email, kind=account.kind)  # what the form says now
        except SharedClientError as exc:
            self.form.show_error(exc.user_message)
            return
        password = self.w.credentials.get(account.name, "imap")
        if password is None:
            self.result.setText(self.tr("No password is known for this account yet: use “Change password…”."))
            return
        self.result.setText(self.tr("Testing %1 and %2…").replace("%1", str(account.imap)).replace("%2", str(account.smtp)))
        smtp_password = self.w.credentials.get(account.name, "smtp") or password
        self.w.run(lambda: check_account(account, password, smtp_password), self._tested,
                   lambda err: self.result.setText(err.user_message))  # fmt: skip

    def _tested(self, report: AccountReport) -> None:
        lines = [f"{'✔' if r.ok else '✘'} {r.service} {r.where}: {('logged in, ' + r.tls_version) if r.ok else gui_words(r.error)}"
                 for r in (report.imap, report.smtp)]  # fmt: skip
        self.result.setText("\n".join(lines))

    def change_password(self) -> None:
        account = self.current()
        if account is None:
            return
        where = self.tr("this session only") if isinstance(self.w.credentials, SessionCredentials) else self.tr("the keyring")
        password = self.w.ask_text(self.tr("Password"), self.tr("New password for %1 (kept in %2):")
                                   .replace("%1", account.username).replace("%2", where), True)  # fmt: skip
        if password is None:
            return
        if not password:
            show_error(self.error, UsageError("The password is empty; nothing was changed.").user_message)
            return
        try:
            self.w.credentials.set(account.name, "imap", password)
            self.w.credentials.set(account.name, "smtp", password)
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        show_error(self.error, "")
        self.result.setText(self.tr("Password saved in %1.").replace("%1", where))

    def remove_account(self) -> None:
        account = self.current()
        if account is None:
            return
        settings = self.w.settings()
        idents = [i.address for i in settings.identities if i.account == account.name]
        also = self.tr(" Its identities go too: %1.").replace("%1", ", ".join(idents)) if idents else ""
        question = self.tr("Remove the account “%1” (%2) and its stored password?%3 Mail on the server is not touched.")
        if not self.w.confirm(self.tr("Remove account"), question.replace("%1", account.name)
                              .replace("%2", account.email).replace("%3", also)):  # fmt: skip
            return
        try:
            updated = settings.without_account(account.name)
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        if self.w.save(updated, self.error, ("account.remove", {"account": account.name})):
            try:
                self.w.credentials.delete(account.name)
            except SharedClientError as exc:
                show_error(self.error, exc.user_message)
            self.refresh()
            self.w.identities.refresh()

    def add_account(self) -> None:
        context = WizardContext(self.w.profile, self.w.credentials)
        if self.w.discoverer is not None:
            context.discoverer = self.w.discoverer
        self.wizard = AccountWizard(context, self)
        self.wizard.finished.connect(self._wizard_closed)
        self.wizard.open()  # window-modal, and the event loop keeps running

    def _wizard_closed(self, _result: int) -> None:
        if self.wizard is not None and self.wizard.saved:
            added = [account for account, _password in self.wizard.result_data.accounts]
            self.refresh(added[0].name)
            self.w.identities.refresh()
            self.result.setText(self.tr("Account added."))
            self.w.accounts_added.emit(added)
