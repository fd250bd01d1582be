"""Server settings form (hosts, ports, security, login, custom CA): the wizard's manual page and the
Settings window's account editor. Validation is the CLI's (``account add``), so both say the same."""

from __future__ import annotations

import argparse

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from sharedclient.cli.account_cmds import account_from_args
from sharedclient.core.model import Account, Endpoint, Security

SECURITY_LABELS = {Security.TLS: "SSL/TLS (implicit)", Security.STARTTLS: "STARTTLS"}
DEFAULT_PORTS = {("imap", Security.TLS): 993, ("imap", Security.STARTTLS): 143,
                 ("smtp", Security.TLS): 465, ("smtp", Security.STARTTLS): 587}  # fmt: skip


class EndpointRow(QWidget):
    """host [port] [security]; switching security moves a default port along (993 <-> 143)."""

    def __init__(self, service: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.host = QLineEdit()
        self.host.setObjectName(f"{service}Host")
        self.host.setAccessibleName(self.tr("%1 server").replace("%1", service.upper()))
        self.host.setPlaceholderText(f"{service}.example.com")
        self.port = QSpinBox()
        self.port.setObjectName(f"{service}Port")
        self.port.setAccessibleName(self.tr("%1 port").replace("%1", service.upper()))
        self.port.setRange(1, 65535)
        self.security = QComboBox()
        self.security.setObjectName(f"{service}Security")
        self.security.setAccessibleName(self.tr("%1 connection security").replace("%1", service.upper()))
        for sec, label in SECURITY_LABELS.items():
            self.security.addItem(self.tr(label), sec)
        self.port.setValue(DEFAULT_PORTS[(service, Security.TLS)])
        self.security.currentIndexChanged.connect(self._security_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.host, 1)
        layout.addWidget(self.port)
        layout.addWidget(self.security)

    def security_value(self) -> Security:
        return Security(self.security.currentData())  # Qt hands str-enums back as plain str

    def _security_changed(self) -> None:
        new = self.security_value()
        other = Security.STARTTLS if new is Security.TLS else Security.TLS
        if self.port.value() == DEFAULT_PORTS[(self.service, other)]:
            self.port.setValue(DEFAULT_PORTS[(self.service, new)])

    def set_endpoint(self, endpoint: Endpoint) -> None:
        self.host.setText(endpoint.host)
        self.security.setCurrentIndex(self.security.findData(endpoint.security))
        self.port.setValue(endpoint.port)

    def address(self) -> str:
        host = self.host.text().strip()
        return f"[{host}]:{self.port.value()}" if ":" in host else f"{host}:{self.port.value()}"


class ServerForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.name.setObjectName("accountName")
        self.name.setAccessibleName(self.tr("Account name"))
        self.name.setToolTip(self.tr("A short name for this account (letters, digits, dots, dashes)."))
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setAccessibleName(self.tr("User name"))
        self.imap = EndpointRow("imap")
        self.smtp = EndpointRow("smtp")
        self.ca_file = QLineEdit()
        self.ca_file.setObjectName("caFile")
        self.ca_file.setAccessibleName(self.tr("Extra CA certificate file"))
        self.ca_file.setPlaceholderText(self.tr("only for servers with a private certificate authority"))
        browse = QPushButton(self.tr("Browse…"))
        browse.setObjectName("browseCa")
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: white; background: #b3261e; padding: 4px;")
        self.error.hide()
        for field in (self.name, self.username, self.imap.host, self.smtp.host, self.ca_file):
            field.textEdited.connect(lambda _text: self.show_error(""))
        form = QFormLayout(self)
        form.addRow(self.tr("Account name:"), self.name)
        form.addRow(self.tr("User name:"), self.username)
        form.addRow(self.tr("Incoming (IMAP):"), self.imap)
        form.addRow(self.tr("Outgoing (SMTP):"), self.smtp)
        form.addRow(self.tr("Extra CA certificate:"), ca_row)
        form.addRow(self.error)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("CA certificate (PEM)"), "", "PEM (*.pem *.crt);;*")
        if path:
            self.ca_file.setText(path)

    def set_account(self, account: Account) -> None:
        self.name.setText(account.name)
        self.username.setText(account.username)
        self.imap.set_endpoint(account.imap)
        self.smtp.set_endpoint(account.smtp)
        self.ca_file.setText(account.ca_file or "")

    def account(self, email: str, *, kind: str = "personal") -> Account:
        """The account these fields describe; UsageError/TlsError with one sentence when something is wrong."""
        args = argparse.Namespace(
            name=self.name.text().strip(), email=email, imap=self.imap.address(), smtp=self.smtp.address(),
            imap_security=self.imap.security_value().value, smtp_security=self.smtp.security_value().value,
            username=self.username.text().strip() or None, ca_file=self.ca_file.text().strip() or None,
            shared=kind == "shared",
        )  # fmt: skip
        return account_from_args(args)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
