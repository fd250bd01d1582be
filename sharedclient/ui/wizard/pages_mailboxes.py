"""Wizard pages after a working login: shared mailboxes, identities with their verdicts, and done."""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from sharedclient.core.autodiscover.shared import SharedMailbox, shared_mailboxes
from sharedclient.core.diagnose import ServiceReport, check_imap
from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.identities import CheckResult, all_identities, check_key, probe_identity
from sharedclient.core.mime.addresses import strict_addr_spec
from sharedclient.core.model import Account, Identity, SendMode
from sharedclient.ui.wizard.identityform import MODE_LABELS, VERDICT_WORDS, IdentityForm
from sharedclient.ui.wizard.pages_servers import error_label, show_error

if TYPE_CHECKING:
    from sharedclient.ui.wizard.wizard import AccountWizard


def team_name(address: str) -> str:
    """``support@example.com`` -> ``Support`` (a starting point for the display name)."""
    return address.partition("@")[0].replace(".", " ").replace("_", " ").title()


class SharedPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("sharedPage")
        self.setTitle(self.tr("Shared mailboxes"))
        self.setSubTitle(self.tr("Tick the team mailboxes you answer from; each gets a sending identity next."))
        self.status = QLabel()
        self.status.setObjectName("sharedStatus")
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("sharedList")
        self.list.setAccessibleName(self.tr("Shared mailboxes you can open from your login"))
        self.own = QGroupBox(self.tr("A shared mailbox with its own login"))
        self.own.setObjectName("ownLoginGroup")
        self.own.setCheckable(True)
        self.own.setChecked(False)
        self.own_address = QLineEdit()
        self.own_address.setObjectName("ownLoginAddress")
        self.own_address.setAccessibleName(self.tr("Shared mailbox address"))
        self.own_address.setPlaceholderText("shared@example.com")
        self.own_login = QLineEdit()
        self.own_login.setObjectName("ownLoginUser")
        self.own_login.setAccessibleName(self.tr("Login name of the shared mailbox"))
        self.own_password = QLineEdit()
        self.own_password.setObjectName("ownLoginPassword")
        self.own_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.own_password.setPlaceholderText(self.tr("empty: the same as yours"))
        self.own_test = QPushButton(self.tr("Test login"))
        self.own_test.setObjectName("ownLoginTest")
        self.own_test.clicked.connect(self._test_own)
        self.own_result = QLabel()
        self.own_result.setObjectName("ownLoginResult")
        self.own_result.setWordWrap(True)
        self.own_address.textEdited.connect(self._suggest_login)
        own_form = QFormLayout(self.own)
        own_form.addRow(self.tr("Address:"), self.own_address)
        own_form.addRow(self.tr("Login:"), self.own_login)
        own_form.addRow(self.tr("Password:"), self.own_password)
        row = QHBoxLayout()
        row.addWidget(self.own_test)
        row.addWidget(self.own_result, 1)
        own_form.addRow(row)
        hint = QLabel(self.tr("Microsoft 365 opens a shared mailbox with your own password and the login "
                              "<i>you@domain\\shared@domain</i>; other servers give it a login of its own."))  # fmt: skip
        hint.setWordWrap(True)
        own_form.addRow(hint)
        self.error = error_label("sharedError")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.own)
        layout.addWidget(self.error)
        self.mailboxes: list[SharedMailbox] = []
        self.own_account: tuple[Account, str] | None = None  # tested

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        account = self.w.account
        assert account is not None
        self.list.clear()
        self.status.setText(self.tr("Asking %1 which shared mailboxes your login can open…").replace("%1", str(account.imap)))
        password = self.w.password()
        self.w.run(lambda: shared_mailboxes(account, password), self._listed,
                   lambda err: self.status.setText(err.user_message))  # fmt: skip

    def _listed(self, mailboxes: list[SharedMailbox]) -> None:
        self.mailboxes = mailboxes
        self.list.clear()
        for box in mailboxes:
            item = QListWidgetItem(f"{box.owner} — {', '.join(box.folders)} ({box.access})")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, box.owner)
            self.list.addItem(item)
        self.status.setText(
            self.tr("Your login can open these shared mailboxes (they also appear in the folder list):") if mailboxes
            else self.tr("Your login cannot open any shared mailbox on this server.")
        )  # fmt: skip

    def selected_owners(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]  # fmt: skip

    def _suggest_login(self, text: str) -> None:
        if not self.own_login.isModified():
            self.own_login.setText(f"{self.w.email()}\\{text.strip()}" if text.strip() else "")

    def _own_account(self) -> tuple[Account, str]:
        from sharedclient.ui.wizard.wizard import account_name_for

        personal = self.w.account
        assert personal is not None
        address = strict_addr_spec(self.own_address.text().strip())
        if address.lower() == personal.email.lower():
            raise UsageError(f"{address} is your own address, not a shared mailbox.")
        login = self.own_login.text().strip()
        if not login:
            raise UsageError("Please enter the login name of the shared mailbox.")
        name = account_name_for(address, self.w.taken_account_names() | {personal.name})
        account = replace(personal, name=name, email=address, username=login, kind="shared")
        return account, self.own_password.text() or self.w.password()

    def _test_own(self) -> None:
        self.own_account = None
        try:
            account, password = self._own_account()
        except SharedClientError as exc:
            self.own_result.setText(exc.user_message)
            return
        self.own_result.setText(self.tr("Logging in as %1…").replace("%1", account.username))
        self.w.run(lambda: check_imap(account, password), lambda report: self._own_tested(report, account, password),
                   lambda err: self.own_result.setText(err.user_message))  # fmt: skip

    def _own_tested(self, report: ServiceReport, account: Account, password: str) -> None:
        if report.ok:
            self.own_account = (account, password)
            show_error(self.error, "")
            self.own_result.setText(f"✔ {account.username} logged in to {report.where}.")
        else:
            self.own_result.setText(f"✘ {report.error}")

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        if self.own.isChecked():
            try:
                account, password = self._own_account()
            except SharedClientError as exc:
                show_error(self.error, exc.user_message)
                return False
            if self.own_account != (account, password):
                show_error(self.error, self.tr("Test the shared mailbox's login first (“Test login”)."))
                return False
        show_error(self.error, "")
        return True


@dataclass
class Entry:
    identity: Identity
    account: Account
    password: str
    user: Identity  # whose own address is the envelope of On Behalf mail
    item: QListWidgetItem | None = None


class IdentitiesPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("identitiesPage")
        self.setTitle(self.tr("Addresses you send from"))
        self.setSubTitle(self.tr("Your mail server decides whether you may send as an address; the check sends nothing."))
        self.list = QListWidget()
        self.list.setObjectName("identityList")
        self.list.setAccessibleName(self.tr("Identities"))
        self.list.setMaximumWidth(300)
        self.form = IdentityForm()
        self.form.check_requested.connect(self.check_current)
        self.error = error_label("identityError")
        row = QHBoxLayout()
        row.addWidget(self.list)
        row.addWidget(self.form, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(self.error)
        self.entries: list[Entry] = []
        self._row = -1
        self.list.currentRowChanged.connect(self._row_changed)
        for field in (self.form.display_name, self.form.aliases, self.form.reply_to):
            field.textEdited.connect(lambda _text: show_error(self.error, ""))

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        personal = self.w.account
        assert personal is not None
        me = Identity(personal.email, self.w.display_name(), personal.name, SendMode.OWN)
        password = self.w.password()
        self.entries = [Entry(me, personal, password, me)]
        own = self.w.shared.own_account if self.w.shared.own.isChecked() else None
        try:  # addresses that already have an identity in this profile are not proposed twice
            taken = {i.address.lower() for i in all_identities(self.w.context.profile.load())}
        except SharedClientError:
            taken = set()
        if own is not None:
            taken.add(own[0].email.lower())  # its own login's entry below stands for it
        for owner in self.w.shared.selected_owners():
            try:
                address = strict_addr_spec(owner)
            except UsageError:
                continue  # an owner that is not an address (a Cyrus user name): no identity to propose
            if address.lower() in taken:
                continue
            ident = Identity(address, team_name(address), personal.name, SendMode.SEND_AS, mailbox_owner=address)
            self.entries.append(Entry(ident, personal, password, me))
        if own is not None:
            account, own_password = own
            if "\\" in account.username:  # Microsoft 365: SMTP still authenticates as you
                ident = Identity(account.email, team_name(account.email), personal.name, SendMode.SEND_AS,
                                 mailbox_owner=account.email)  # fmt: skip
                self.entries.append(Entry(ident, personal, password, me))
            else:
                ident = Identity(account.email, team_name(account.email), account.name, SendMode.OWN)
                self.entries.append(Entry(ident, account, own_password, ident))
        self.list.clear()
        self._row = -1
        for entry in self.entries:
            entry.item = QListWidgetItem()
            entry.item.setFlags(entry.item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(entry.item)
            self._label(entry)
        self.list.setCurrentRow(0)
        for entry in self.entries:
            self._check(entry)

    def _label(self, entry: Entry) -> None:
        result = self.w.checks.get(check_key(entry.identity))
        verdict = VERDICT_WORDS[result.status] if result else "checking…"
        mode = {SendMode.OWN: "own", SendMode.SEND_AS: "Send As", SendMode.ON_BEHALF: "On Behalf"}[entry.identity.mode]
        assert entry.item is not None
        entry.item.setText(f"{entry.identity.address}\n{mode} — {verdict}")

    def _row_changed(self, row: int) -> None:
        if self._row == row:
            return
        if 0 <= self._row < len(self.entries) and not self._save(self._row):
            self.list.blockSignals(True)
            self.list.setCurrentRow(self._row)
            self.list.blockSignals(False)
            return
        self._row = row
        if 0 <= row < len(self.entries):
            entry = self.entries[row]
            self.form.set_identity(entry.identity, self.w.checks.get(check_key(entry.identity)))
            self.form.address.setReadOnly(True)  # proposed from the mailbox; other addresses: Settings

    def _save(self, row: int) -> bool:
        entry = self.entries[row]
        try:
            entry.identity = self.form.identity(entry.identity, entry.account.email)
        except UsageError as exc:
            show_error(self.error, exc.user_message)
            return False
        show_error(self.error, "")
        self._label(entry)
        return True

    def check_current(self) -> None:
        if 0 <= self._row < len(self.entries) and self._save(self._row):
            self._check(self.entries[self._row])

    def _check(self, entry: Entry) -> None:
        ident, account, password, user = entry.identity, entry.account, entry.password, entry.user
        if 0 <= self._row < len(self.entries) and entry is self.entries[self._row]:
            self.form.verdict.setText(self.tr("Asking the server…"))
        self.w.run(lambda: probe_identity(account, password, ident, user), lambda result: self._checked(entry, ident, result),
                   lambda err: show_error(self.error, err.user_message))  # fmt: skip

    def _checked(self, entry: Entry, identity: Identity, result: CheckResult) -> None:
        self.w.checks[check_key(identity)] = result
        self._label(entry)
        if 0 <= self._row < len(self.entries) and self.entries[self._row] is entry and entry.identity == identity:
            self.form.show_verdict(result)

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        if 0 <= self._row < len(self.entries) and not self._save(self._row):
            return False
        data = self.w.result_data
        personal = self.w.account
        assert personal is not None
        data.accounts = [(personal, self.w.password())]
        own = self.w.shared.own_account if self.w.shared.own.isChecked() else None
        if own is not None:
            data.accounts.append(own)
        chosen = [e.identity for e in self.entries if e.item and e.item.checkState() == Qt.CheckState.Checked]
        data.checked = chosen
        data.identities = [i for i in chosen if i.mode is not SendMode.OWN or i.name or i.signature or i.aliases or i.reply_to]
        return True


class DonePage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("donePage")
        self.setTitle(self.tr("Ready"))
        self.setFinalPage(True)
        self.summary = QLabel()
        self.summary.setObjectName("doneSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.error = error_label("doneError")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.error)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        data = self.w.result_data
        lines = ["<p>" + self.tr("Finish saves this to the profile “%1”:").replace("%1", escape(self.w.context.profile.name)) + "</p><ul>"]
        for account, _pw in data.accounts:
            lines.append(f"<li>Account <b>{escape(account.name)}</b>: {escape(account.username)} — IMAP {account.imap}, "
                         f"SMTP {account.smtp}</li>")  # fmt: skip
        for ident in data.checked:
            result = self.w.checks.get(check_key(ident))
            verdict = VERDICT_WORDS[result.status] if result else "not checked"
            shown = f"{escape(ident.name)} &lt;{escape(ident.address)}&gt;" if ident.name else escape(ident.address)
            lines.append(f"<li>Send from {shown}: {escape(MODE_LABELS[ident.mode])}, {verdict}</li>")
        lines.append("</ul><p>" + escape(self.w.password_note()) + "</p>")
        self.summary.setText("".join(lines))

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        try:
            self.w.commit()
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return False
        return True

    def nextId(self) -> int:  # noqa: N802 - Qt override
        return -1
