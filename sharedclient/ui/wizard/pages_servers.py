"""Wizard pages up to a working login: who you are, finding the servers, manual settings, connection test."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from sharedclient.core.autodiscover import Discovery
from sharedclient.core.diagnose import AccountReport, check_account
from sharedclient.core.errors import SharedClientError, UsageError
from sharedclient.core.mime.addresses import check_text
from sharedclient.core.model import validate_address

if TYPE_CHECKING:
    from sharedclient.ui.wizard.wizard import AccountWizard


def error_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828; font-weight: bold;")
    label.hide()
    return label


def show_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


_CLI_WORDS = (
    ("pass its certificate with --ca-file", "choose its certificate as “Extra CA certificate” in the server settings"),
    ("(--imap-security tls)", "(SSL/TLS in the server settings)"),
    ("(--smtp-security tls)", "(SSL/TLS in the server settings)"),
)


def gui_words(text: str) -> str:
    """Core messages name the CLI's options; in the window, name the field instead."""
    for cli, gui in _CLI_WORDS:
        text = text.replace(cli, gui)
    return text


class IntroPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("introPage")
        self.setTitle(self.tr("Your mail account"))
        self.setSubTitle(self.tr("SharedClient finds your mail servers from your address."))
        self.name = QLineEdit()
        self.name.setObjectName("yourName")
        self.name.setAccessibleName(self.tr("Your name"))
        self.name.setPlaceholderText(self.tr("as others see it, e.g. Alice Example"))
        self.email = QLineEdit()
        self.email.setObjectName("emailAddress")
        self.email.setAccessibleName(self.tr("E-mail address"))
        self.email.setPlaceholderText("you@example.com")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setAccessibleName(self.tr("Password"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.manual = QCheckBox(self.tr("Skip the search and enter the server settings myself"))
        self.manual.setObjectName("configureManually")
        self.note = QLabel(wizard.password_note())
        self.note.setWordWrap(True)
        self.error = error_label("introError")
        form = QFormLayout(self)
        form.addRow(self.tr("Your name:"), self.name)
        form.addRow(self.tr("E-mail address:"), self.email)
        form.addRow(self.tr("Password:"), self.password)
        form.addRow(self.manual)
        form.addRow(self.note)
        form.addRow(self.error)
        for field in (self.name, self.email, self.password):
            field.textEdited.connect(lambda _text: show_error(self.error, ""))
        self._filled_for = ""

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        try:
            check_text(self.name.text(), "Your name", max_len=200)
            email = validate_address(self.email.text())
            if not self.password.text():
                raise UsageError("Please enter the password of this mail account.")
        except UsageError as exc:
            show_error(self.error, exc.user_message)
            return False
        show_error(self.error, "")
        form = self.w.server_form
        if self._filled_for != email:  # a new address (also after Back): fresh suggestions
            from sharedclient.ui.wizard.wizard import account_name_for

            form.name.setText(account_name_for(email, self.w.taken_account_names()))
            form.username.setText(email)
            self._filled_for = email
        return True

    def nextId(self) -> int:  # noqa: N802 - Qt override
        from sharedclient.ui.wizard.wizard import DISCOVER, MANUAL

        return MANUAL if self.manual.isChecked() else DISCOVER


class DiscoverPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("discoverPage")
        self.setTitle(self.tr("Finding your mail servers"))
        self.setSubTitle(self.tr("DNS records, then the provider's configuration file, then the usual server names."))
        self.status = QLabel()
        self.status.setObjectName("discoverStatus")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("discoverProgress")
        self.progress.setRange(0, 0)  # busy: the steps take as long as the network does
        self.cancel_button = QPushButton(self.tr("Stop searching"))
        self.cancel_button.setObjectName("cancelDiscovery")
        self.cancel_button.clicked.connect(self.cancel)
        self.notes = QListWidget()
        self.notes.setObjectName("discoverNotes")
        self.notes.setAccessibleName(self.tr("What was tried"))
        self.summary = QLabel()
        self.summary.setObjectName("discoverSummary")
        self.summary.setWordWrap(True)
        self.edit = QCheckBox(self.tr("Review or change these settings before testing them"))
        self.edit.setObjectName("editFound")
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel(self.tr("What was tried:")))
        layout.addWidget(self.notes, 1)
        layout.addWidget(self.edit)
        self._cancel: threading.Event | None = None
        self.result: Discovery | None = None
        self.finished = False

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        self.cancel()
        self.notes.clear()
        self.summary.clear()
        self.result, self.finished = None, False
        self.progress.show()
        self.cancel_button.show()
        self.status.setText(self.tr("Searching…"))
        cancel = self._cancel = threading.Event()
        email, bridge = self.w.email(), self.w.bridge

        def progress(text: str) -> None:  # worker thread
            bridge.post(lambda: self._progress(text, cancel))

        self.w.run(lambda: self.w.context.discoverer.discover(email, progress=progress, cancel=cancel),
                   lambda found: self._found(found, cancel), lambda err: self._failed(err, cancel))  # fmt: skip
        self.completeChanged.emit()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override: Back
        self.cancel()
        super().cleanupPage()

    def cancel(self) -> None:
        if self._cancel is not None and not self.finished:
            self._cancel.set()
            self._finish(self.tr("Search stopped. Enter the server settings on the next page."))

    def _progress(self, text: str, cancel: threading.Event) -> None:
        if cancel is self._cancel and not cancel.is_set():
            self.status.setText(text)
            if not text.endswith("…"):
                self.notes.addItem(text)

    def _finish(self, status: str) -> None:
        self.finished = True
        self.progress.hide()
        self.cancel_button.hide()
        self.status.setText(status)
        self.completeChanged.emit()

    def _found(self, found: Discovery, cancel: threading.Event) -> None:
        if cancel is not self._cancel or cancel.is_set():
            return
        self.result = found
        form = self.w.server_form
        lines = []
        for service, row in (("imap", form.imap), ("smtp", form.smtp)):
            server = getattr(found, service)
            if server is not None:
                row.set_endpoint(server.endpoint)
                line = f"<b>{service.upper()}</b> {server.endpoint} ({server.endpoint.security.value}) — from {server.source}"
                host, domain = server.endpoint.host, found.email.rpartition("@")[2].lower()
                if server.source.startswith("DNS SRV") and host != domain and not host.endswith("." + domain):
                    line += f" <i>(outside {domain}: unsigned DNS can be forged, so make sure this is your provider)</i>"  # RFC 6186 §6
                lines.append(line)
        if found.imap is not None:
            form.username.setText(found.imap.username)
        if found.ca_file and not form.ca_file.text():
            form.ca_file.setText(found.ca_file)
        self.summary.setText("<br>".join(lines) or self.tr("Nothing was found."))
        self.edit.setVisible(found.complete)
        done = self.tr("Found your servers; the next step tests them with your password.") if found.complete \
            else self.tr("Not everything was found: please complete the settings on the next page.")  # fmt: skip
        self._finish(done)

    def _failed(self, err: SharedClientError, cancel: threading.Event) -> None:
        if cancel is self._cancel and not cancel.is_set():
            self._finish(err.user_message)

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.finished

    def nextId(self) -> int:  # noqa: N802 - Qt override
        from sharedclient.ui.wizard.wizard import MANUAL, TEST

        if self.result is not None and self.result.complete and not self.edit.isChecked():
            return TEST
        return MANUAL


class ManualPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("manualPage")
        self.setTitle(self.tr("Server settings"))
        self.setSubTitle(self.tr("As given by your provider or IT department. Connections are always encrypted."))
        layout = QVBoxLayout(self)
        layout.addWidget(wizard.server_form)
        layout.addStretch(1)

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        form = self.w.server_form
        try:
            form.account(self.w.email())
        except SharedClientError as exc:
            form.show_error(exc.user_message)
            return False
        form.show_error("")
        return True

    def nextId(self) -> int:  # noqa: N802 - Qt override
        from sharedclient.ui.wizard.wizard import TEST

        return TEST


class TestPage(QWizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setObjectName("testPage")
        self.setTitle(self.tr("Connection test"))
        self.setSubTitle(self.tr("Logging in to both servers over TLS; nothing is sent."))
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.imap_line = QLabel()
        self.imap_line.setObjectName("imapResult")
        self.smtp_line = QLabel()
        self.smtp_line.setObjectName("smtpResult")
        self.verdict = QLabel()
        self.verdict.setObjectName("testVerdict")
        self.verdict.setWordWrap(True)
        self.change = QPushButton(self.tr("Change server settings"))
        self.change.setObjectName("changeSettings")
        self.change.clicked.connect(self._change_settings)
        layout = QVBoxLayout(self)
        for widget in (self.progress, self.imap_line, self.smtp_line, self.verdict, self.change):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.report: AccountReport | None = None
        self._generation = 0

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        self._generation += 1
        generation = self._generation
        self.report, self.w.account = None, None
        for label in (self.imap_line, self.smtp_line):
            label.clear()
        self.change.hide()
        try:
            account = self.w.server_form.account(self.w.email())
        except SharedClientError as exc:
            self._show_failure(exc.user_message)
            return
        self.progress.show()
        self.verdict.setText(self.tr("Connecting to %1 and %2…").replace("%1", str(account.imap)).replace("%2", str(account.smtp)))
        password = self.w.password()
        self.w.run(lambda: check_account(account, password, password),
                   lambda report: self._tested(report, account, generation),
                   lambda err: generation == self._generation and self._show_failure(err.user_message))  # fmt: skip
        self.completeChanged.emit()

    def _tested(self, report: AccountReport, account, generation: int) -> None:  # type: ignore[no-untyped-def]
        if generation != self._generation:
            return
        self.report = report
        for label, service in ((self.imap_line, report.imap), (self.smtp_line, report.smtp)):
            mark = "✔" if service.ok else "✘"
            detail = f"logged in, {service.tls_version}" if service.ok else gui_words(service.error)
            label.setText(f"{mark} {service.service} {service.where} ({service.security}): {detail}")
            label.setWordWrap(True)
        if report.ok:
            self.w.account = account
            self.progress.hide()
            self.verdict.setText(report.verdict)
            self.completeChanged.emit()
        else:
            self._show_failure(self.tr("The settings do not work yet: change them and test again."))

    def _show_failure(self, text: str) -> None:
        self.progress.hide()
        self.verdict.setText(gui_words(text))
        self.change.show()
        self.completeChanged.emit()

    def _change_settings(self) -> None:
        from sharedclient.ui.wizard.wizard import DISCOVER

        self.w.back()
        if self.w.currentId() == DISCOVER:  # came straight from discovery: go on to the manual page
            self.w.discover_page.edit.setChecked(True)
            self.w.next()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.w.account is not None
