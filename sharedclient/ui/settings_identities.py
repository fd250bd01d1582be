"""Settings → Identities: every address you send from, its sending mode and the server's verdict.

The implicit identity of an account's own address is listed too; saving it (with a display name or a
signature) makes it explicit. Checks send nothing and are stored like the Identities window's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget

from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.identities import CheckResult, all_identities, check_key, own_identity, probe_identity
from sharedclient.core.mime.addresses import strict_addr_spec
from sharedclient.core.model import Identity, SendMode
from sharedclient.core.settings import Settings
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.ui.wizard.identityform import VERDICT_WORDS, IdentityForm
from sharedclient.ui.wizard.pages_servers import error_label, show_error

if TYPE_CHECKING:
    from sharedclient.ui.settingswindow import SettingsWindow


class IdentitiesTab(QWidget):
    def __init__(self, window: SettingsWindow) -> None:
        super().__init__()
        self.w = window
        self.list = QListWidget()
        self.list.setObjectName("settingsIdentityList")
        self.list.setAccessibleName(self.tr("Identities"))
        self.list.setMaximumWidth(300)
        self.form = IdentityForm()
        self.form.check_requested.connect(self.check)
        self.account = QComboBox()
        self.account.setObjectName("identityAccount")
        self.account.setAccessibleName(self.tr("Account that sends it"))
        self.mailbox = QLineEdit()
        self.mailbox.setObjectName("identityMailbox")
        self.mailbox.setAccessibleName(self.tr("Shared mailbox"))
        self.mailbox.setPlaceholderText(self.tr("the shared mailbox whose Sent folder gets the copy"))
        extra = QFormLayout()
        extra.addRow(self.tr("Sent through account:"), self.account)
        extra.addRow(self.tr("Shared mailbox:"), self.mailbox)
        self.new_button = QPushButton(self.tr("New identity"))
        self.new_button.setObjectName("newIdentity")
        self.save_button = QPushButton(self.tr("Save identity"))
        self.save_button.setObjectName("saveIdentity")
        self.remove_button = QPushButton(self.tr("Remove…"))
        self.remove_button.setObjectName("removeIdentity")
        self.new_button.clicked.connect(self.new)
        self.save_button.clicked.connect(self.save)
        self.remove_button.clicked.connect(self.remove)
        self.error = error_label("settingsIdentityError")
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.remove_button):
            buttons.addWidget(button)
        right = QVBoxLayout()
        right.addLayout(extra)
        right.addWidget(self.form)
        right.addLayout(buttons)
        right.addWidget(self.error)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(right, 1)
        self.identities: list[Identity] = []
        self.editing: Identity | None = None  # None: a new one
        self.list.currentRowChanged.connect(self._show)
        self.refresh()

    def _checks(self) -> dict[tuple[str, str, str], CheckResult]:
        try:
            with ProfileDb.for_data_dir(self.w.profile.data_dir) as db:
                return IdentityCheckStore(db).all()
        except SharedClientError:
            return {}

    def refresh(self, select: str | None = None) -> None:
        try:
            settings = self.w.settings()
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        self.explicit = {i.address.lower() for i in settings.identities}
        self.identities = all_identities(settings)
        self.results = self._checks()
        self.account.clear()
        for acct in settings.accounts:
            self.account.addItem(f"{acct.name} ({acct.username})", acct.name)
        self.list.clear()
        for ident in self.identities:
            result = self.results.get(check_key(ident))
            verdict = VERDICT_WORDS[result.status] if result else "not checked"
            self.list.addItem(f"{ident.address}\n{ident.mode.value} via {ident.account} — {verdict}")
        addresses = [i.address.lower() for i in self.identities]
        row = addresses.index(select.lower()) if select and select.lower() in addresses else (0 if addresses else -1)
        self.list.setCurrentRow(row)
        if row == -1:
            self._show(-1)
        self.new_button.setEnabled(bool(settings.accounts))

    def _show(self, row: int) -> None:
        show_error(self.error, "")
        if not 0 <= row < len(self.identities):
            self.editing = None
            self.form.setEnabled(False)
            self.remove_button.setEnabled(False)
            self.save_button.setEnabled(False)
            return
        ident = self.identities[row]
        self.editing = ident
        self.form.setEnabled(True)
        self.save_button.setEnabled(True)
        self.form.set_identity(ident, self.results.get(check_key(ident)))
        self.form.address.setReadOnly(False)
        self.account.setCurrentIndex(self.account.findData(ident.account))
        self.mailbox.setText(ident.mailbox_owner or "")
        self.remove_button.setEnabled(ident.address.lower() in self.explicit)

    def new(self) -> None:
        self.list.clearSelection()
        self.editing = None
        self.form.setEnabled(True)
        self.save_button.setEnabled(True)
        self.remove_button.setEnabled(False)
        self.form.set_identity(Identity("", "", self.account.currentData() or "", SendMode.SEND_AS))
        self.mailbox.clear()
        self.form.address.setFocus()

    def _from_form(self, settings: Settings) -> Identity:
        name = self.account.currentData()
        if not name:
            raise UsageError("Add an account first: an identity sends through an account's login.")
        account = settings.account(name)
        mailbox = self.mailbox.text().strip()
        template = Identity("", "", account.name, mailbox_owner=strict_addr_spec(mailbox) if mailbox else None,
                            sent_folder=self.editing.sent_folder if self.editing else None,
                            dsn=self.editing.dsn if self.editing else False)  # fmt: skip
        return self.form.identity(template, account.email)

    def save(self) -> None:
        try:  # always from the file: another tab (or the CLI) may have changed it meanwhile
            settings = self.w.settings()
            ident = self._from_form(settings)
            if self.editing is not None and self.editing.address.lower() in self.explicit:
                settings = settings.without_identity(self.editing.address)
            settings = settings.with_identity(ident)  # refuses a second identity for one address
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        record = ("identity.add", {"account": ident.account, "target": {"identity": ident.address},
                                   "details": {"mode": ident.mode.value}})  # fmt: skip
        if self.w.save(settings, self.error, record):
            show_error(self.error, "")
            self.refresh(ident.address)

    def remove(self) -> None:
        ident = self.editing
        if ident is None or ident.address.lower() not in self.explicit:
            return
        if not self.w.confirm(self.tr("Remove identity"), self.tr("Stop sending from %1? Mail already sent is not affected.")
                              .replace("%1", ident.address)):  # fmt: skip
            return
        try:
            settings = self.w.settings().without_identity(ident.address)
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        if self.w.save(settings, self.error, ("identity.remove", {"target": {"identity": ident.address}})):
            self.refresh()

    def check(self) -> None:
        try:
            settings = self.w.settings()
            ident = self._from_form(settings)
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        account = settings.account(ident.account)
        password = self.w.credentials.get(account.name, "smtp")
        if password is None:
            show_error(self.error, self.tr("No password is known for account “%1”: set it on the Accounts tab.")
                       .replace("%1", account.name))  # fmt: skip
            return
        user = own_identity(settings, account.name)
        self.form.verdict.setText(self.tr("Asking the server…"))
        self.w.run(lambda: probe_identity(account, password, ident, user), lambda result: self._checked(ident, result),
                   lambda err: show_error(self.error, err.user_message))  # fmt: skip

    def _checked(self, ident: Identity, result: CheckResult) -> None:
        try:
            with ProfileDb.for_data_dir(self.w.profile.data_dir) as db:
                IdentityCheckStore(db).record(ident, result)
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
        self.form.show_verdict(result)
        self.results[check_key(ident)] = result
